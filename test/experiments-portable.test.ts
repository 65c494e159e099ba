/** Committed results carry no absolute path of the machine that made them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { portableCommand, portablePath, portableRecord } from '../experiments/harness/portable.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

test('portable paths: repository folders become relative, other absolute paths their file name', () => {
  assert.equal(portablePath('/srv/a/cammsr/experiments/work/datasets/ml'), 'experiments/work/datasets/ml');
  assert.equal(
    portablePath('/x/native/build/Release/cammsr_native.node'),
    'native/build/Release/cammsr_native.node',
  );
  assert.equal(portablePath('/tmp/exp-report.md'), 'exp-report.md');
  assert.equal(portablePath('experiments/work/x'), 'experiments/work/x');
  assert.equal(
    portableCommand(
      'npm run experiments -- --results /w/m/experiments/results --datasets a --report /tmp/r.md',
    ),
    'npm run experiments -- --datasets a --report r.md',
  );
  assert.equal(portableCommand('npm run experiments -- --seeds 1'), 'npm run experiments -- --seeds 1');
  const run = { model: 'sasrec', dataset: { dir: '/w/m/experiments/work/datasets/d', name: 'd' } };
  assert.deepEqual(portableRecord('run.json', run), {
    model: 'sasrec',
    dataset: { dir: 'experiments/work/datasets/d', name: 'd' },
  });
  assert.equal(run.dataset.dir, '/w/m/experiments/work/datasets/d', 'the input is not modified');
});

test('the committed results have no absolute paths', () => {
  const bad: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (/["\s]\/(?:work|tmp|home|root|srv|Users)\//.test(readFileSync(path, 'utf8'))) bad.push(path);
    }
  };
  walk(join(ROOT, 'experiments', 'results'));
  assert.deepEqual(bad.slice(0, 5), []);
});
