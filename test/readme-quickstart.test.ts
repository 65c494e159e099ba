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
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { quickstartSteps, runStep } from '../bench/readme-quickstart.js';
import { catalogEntry } from '../src/data/download/catalog.js';
import { Rng } from '../src/engine/rng.js';
import { fileServer } from './file-server.js';
import { tempDir } from './temp.js';

/** A small ml-100k in GroupLens' own layout: u.data (tab-separated), u.item (`|`), u.genre. */
function writeSmallMl100k(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const genres = ['unknown', 'Action', 'Adventure', 'Comedy', 'Drama', 'Sci-Fi'];
  writeFileSync(join(dir, 'u.genre'), genres.map((g, i) => `${g}|${i}`).join('\n') + '\n\n');
  const items = 60;
  const titles: Record<number, string> = { 50: 'Star Wars (1977)', 17: 'From Dusk Till Dawn (1996)' };
  const item = (i: number) => {
    const flags = genres.map((_, g) => (g === 1 + (i % 5) ? 1 : 0));
    return `${i}|${titles[i] ?? `Film ${i} (199${i % 10})`}|01-Jan-1995||http://example.invalid/${i}|${flags.join('|')}`;
  };
  // The ids the README's recommend line uses (50, 172, 181) are items here too.
  const ids = [...Array.from({ length: items }, (_, k) => k + 1), 172, 181];
  writeFileSync(join(dir, 'u.item'), ids.map(item).join('\n') + '\n');
  const rng = new Rng(3);
  const rows: string[] = [];
  for (let u = 1; u <= 80; u++)
    for (let t = 0; t < 12; t++) {
      const i = ids[(u * 7 + t * (1 + (u % 4)) + rng.int(3)) % ids.length];
      rows.push(`${u}\t${i}\t${1 + rng.int(5)}\t${880000000 + u * 1000 + t * 60}`);
    }
  writeFileSync(join(dir, 'u.data'), rows.join('\n') + '\n');
}

test('the README quick start runs as written, from prepare to serve', async () => {
  const steps = quickstartSteps();
  const commands = steps.map((s) => s.args[0]);
  for (const c of ['download', 'prepare', 'train', 'eval', 'recommend', 'report', 'export', 'serve'])
    assert.ok(commands.includes(c), `the quick start has a ${c} line`);
  const cwd = tempDir('quickstart');
  const download = steps.find((s) => s.args[0] === 'download')!;
  const dirFlag = download.args.indexOf('--dir');
  assert.ok(dirFlag > 0, 'the download line names its folder (--dir)');
  const name = download.args[1];
  // Where `download` extracts, as the catalogue's own prepare command reads it.
  const printed = catalogEntry(name)!.prepare({ dir: join(download.args[dirFlag + 1], name) });
  const extracted = printed[printed.indexOf('--input') + 1];
  const served = catalogEntry(name)!.files[0].fileName;
  const server = await fileServer({ [served]: { body: Buffer.from('not the GroupLens zip') } });
  try {
    const r = await runStep(download.args, cwd, { CAMMSR_DOWNLOAD_BASE_URL: server.url });
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stderr, /sha256/);
    assert.deepEqual(
      server.requests.map((q) => q.path),
      [served],
      'the download asked the mirror for the zip',
    );
  } finally {
    await server.close();
  }
  writeSmallMl100k(join(cwd, extracted));
  for (const step of steps) {
    if (step.args[0] === 'download' || step.args[0] === 'demo') continue;
    if (step.args[0] === 'prepare')
      assert.equal(
        step.args[step.args.indexOf('--input') + 1],
        extracted,
        'prepare reads what download extracts',
      );
    if (step.args[0] !== 'serve') {
      const r = await runStep(step.args, cwd);
      assert.equal(r.status, 0, `${step.line}\n${r.stderr}`);
      continue;
    }
    let answered = false;
    const r = await runStep([...step.args, '--port', '0', '--quiet'], cwd, {}, async (url) => {
      const res = await fetch(`${url}/v1/recommendations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ history: ['50', '172'], k: 3 }),
      });
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { items: unknown[] }).items.length, 3);
      answered = true;
    });
    assert.ok(answered, `${step.line}: the service answered (${r.stderr})`);
  }
  assert.ok(existsSync(join(cwd, 'runs', 'report.html')));
});
