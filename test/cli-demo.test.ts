/** The README's main job in its quick form: prepare synthetic data, train CAMMSR and SASRec, compare. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './temp.js';

test('cammsr demo --quick prints both models side by side and keeps its runs', () => {
  const out = join(tempDir('demo'), 'demo');
  const r = spawnSync(process.execPath, ['dist/src/cli/main.js', 'demo', '--quick', '--out', out, '--json'], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^sasrec\s/m);
  assert.match(r.stdout, /^cammsr\s/m);
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!);
  for (const m of ['sasrec', 'cammsr']) {
    assert.ok(j.results[m]['NDCG@10'] > 0, m);
    assert.ok(existsSync(join(out, m, 'metrics.json')));
  }
  assert.equal(j.dataset.users, 400);
});
