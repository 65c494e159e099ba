/**
 * The README's library example, run as written: its TypeScript block is copied into a module
 * inside the package (so that `from 'cammsr'` resolves to this build, as it does for a user)
 * with only the dataset and run paths and the epoch count replaced, and run on a small
 * synthetic dataset. A README example that no longer runs fails here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareDataset } from '../src/data/prepare.js';
import { tempDir } from './temp.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function libraryExample(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.split('## Using it as a library')[1];
  assert.ok(section, 'README has a "Using it as a library" section');
  const block = /```ts\n([\s\S]*?)```/.exec(section);
  assert.ok(block, 'the section has a ```ts block');
  return block[1];
}

test("README's library example trains, evaluates and takes a hand-driven step", async () => {
  const dir = tempDir('readme');
  const data = join(dir, 'synth');
  const run = join(dir, 'run');
  await prepareDataset({ format: 'synth', out: data, synth: { users: 150, items: 60 }, seed: 1 });

  const example = libraryExample();
  // The three places a user changes for their own data; each must be there to be replaced.
  const replaced = [
    ["'data/ml100k'", JSON.stringify(data)],
    ["'runs/cammsr'", JSON.stringify(run)],
    ["'train.epochs=50'", "'train.epochs=2'"],
  ].reduce((code, [from, to]) => {
    assert.ok(code.includes(from), `the example mentions ${from}`);
    return code.split(from).join(to);
  }, example);
  // The block is TypeScript without type annotations, so it runs as a JavaScript module.
  const module = join(ROOT, 'dist', `readme-example-${process.pid}.mjs`);
  writeFileSync(module, replaced);
  try {
    const r = spawnSync(process.execPath, [module], {
      encoding: 'utf8',
      env: { ...process.env, CI: 'true' },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(join(run, 'metrics.json')), 'train() wrote the run directory');
    // The printed loss terms of the hand-driven step are finite numbers.
    const terms = /\{[^{}]*\bsr:[^{}]*\}\s*$/.exec(r.stdout);
    assert.ok(terms, `the step's loss terms are printed last:\n${r.stdout}`);
    for (const m of terms[0].matchAll(/(\w+): ([^,\s}]+)/g)) assert.ok(Number.isFinite(Number(m[2])), m[0]);
  } finally {
    rmSync(module, { force: true });
  }
});
