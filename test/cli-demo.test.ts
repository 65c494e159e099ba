/** The README's main job in its quick form: new items, three models, three seeds, warm and cold targets. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './temp.js';

test('cammsr demo --quick prints a table per target group and keeps its runs', () => {
  const out = join(tempDir('demo'), 'demo');
  const r = spawnSync(process.execPath, ['dist/src/cli/main.js', 'demo', '--quick', '--out', out, '--json'], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /run 9\/9 done/);
  for (const title of [
    'Warm targets',
    'Cold targets',
    'All targets',
    'Cold targets ranked among the new items',
  ])
    assert.match(r.stdout, new RegExp(`^${title}`, 'm'));
  assert.match(r.stdout, /^NDCG@10\s/m);
  assert.match(r.stdout, /SASRec's cold HR is 0 by construction/);
  assert.match(r.stdout, new RegExp(`Runs kept in ${out} \\(\\d+\\.\\d MB\\)`));
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.equal(j.dataset.users, 300);
  assert.equal(j.runs.length, 9);
  for (const run of j.runs) assert.ok(existsSync(join(run.dir, 'metrics.json')), run.dir);
  const cold = j.summary.groups.find((g: { key: string }) => g.key === 'cold');
  assert.deepEqual(cold.rows[0].cells.sasrec.values, [0, 0, 0]);
  assert.match(j.reportCommand, /^npx cammsr report --run /);
});
