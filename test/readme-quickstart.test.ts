/**
 * The README's quick start, run as written in a fresh folder: every `npx cammsr` line, in
 * order. `download` runs against a file server on loopback (the mirror hook) serving another
 * file than GroupLens' zip, so it must fetch it and refuse it by its pinned sha256; the folder
 * it would have extracted (the GroupLens ml-100k layout) is then written here, small, holding
 * the items the `recommend` line names. `demo --quick` is run by test/cli-demo.test.ts.
 * `serve` runs until it listens and answers a request, then stops (on a free port, not 8080).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { quickstartSteps } from '../bench/readme-steps.js';
import { catalogEntry } from '../src/data/download/catalog.js';
import { writeGroupLens100k } from './dataset-layouts.js';
import { flagValue, refusedDownload, runOk, serveOnce } from './readme-run.js';
import { tempDir } from './temp.js';

test('the README quick start runs as written, from prepare to serve', async () => {
  const steps = quickstartSteps();
  const commands = steps.map((s) => s.args[0]);
  for (const c of ['download', 'prepare', 'train', 'eval', 'recommend', 'report', 'export', 'serve'])
    assert.ok(commands.includes(c), `the quick start has a ${c} line`);
  const cwd = tempDir('quickstart');
  const download = steps.find((s) => s.args[0] === 'download')!;
  const name = download.args[1];
  // Where `download` extracts, as the catalogue's own prepare command reads it.
  const printed = catalogEntry(name)!.prepare({ dir: join(flagValue(download, '--dir'), name) });
  const extracted = printed[printed.indexOf('--input') + 1];
  await refusedDownload(download, cwd);
  writeGroupLens100k(join(cwd, extracted));
  for (const step of steps) {
    if (step.args[0] === 'download' || step.args[0] === 'demo') continue;
    if (step.args[0] === 'prepare')
      assert.equal(flagValue(step, '--input'), extracted, 'prepare reads what download extracts');
    if (step.args[0] === 'serve') await serveOnce(step, cwd, ['50', '172']);
    else await runOk(step, cwd);
  }
});
