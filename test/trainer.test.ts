/** Training runs end to end on a small synthetic dataset: run directory, resume, early stop, baselines, CLI. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { prepareDataset } from '../src/data/prepare.js';
import { resolveConfig } from '../src/config/index.js';
import { loadRun, train } from '../src/train/trainer.js';
import type { Cammsr } from '../src/models/cammsr.js';
import { tempDir } from './temp.js';

const root = tempDir('train');
const data = join(root, 'synth');
const ready = prepareDataset({ format: 'synth', out: data, synth: { users: 160, items: 64 }, seed: 2 });
/** An epoch is a new best when its NDCG@10 beats every earlier one. */
const isRecord = (log: { epoch: number; validation: Record<string, number> }[], e: (typeof log)[number]) =>
  log.filter((x) => x.epoch < e.epoch).every((x) => x.validation['NDCG@10'] < e.validation['NDCG@10']);
const cli = (...args: string[]) =>
  spawnSync(process.execPath, ['dist/src/cli/main.js', ...args], { encoding: 'utf8' });
const last = (s: string) => JSON.parse(s.trim().split('\n').pop()!);
const cfg = (model: string, sets: string[] = []) =>
  resolveConfig({
    cli: { model: model as 'cammsr', seed: 3 },
    overrides: [
      'dim=16',
      'ffnDim=32',
      'layers=1',
      'maxLen=20',
      'train.batchSize=64',
      'train.patience=0',
      ...sets,
    ],
  });

test('a run writes config, log, checkpoints and metrics; the same seed reproduces it; resume continues it exactly', async () => {
  await ready;
  const a = await train({ data, out: join(root, 'a'), config: cfg('cammsr', ['train.epochs=3']) });
  for (const f of [
    'config.json',
    'run.json',
    'log.jsonl',
    'best.safetensors',
    'last.safetensors',
    'optimizer.safetensors',
    'state.json',
    'metrics.json',
  ]) {
    assert.ok(existsSync(join(root, 'a', f)), f);
  }
  const log = readFileSync(join(root, 'a', 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(log.length, 3);
  assert.ok(log[0].loss.sr > 0 && log[0].loss.cp > 0 && log[0].loss.mscl > 0);
  assert.equal(log[0].lr, 1e-3);
  assert.ok(log.every((e) => e.seconds > 0));
  assert.ok(
    Math.abs(log.reduce((t, e) => t + e.seconds, 0) - a.trainSeconds) < 1e-9,
    'trainSeconds sums the epochs',
  );
  // The best epoch is the logged maximum of the validation metric, and the final validation
  // metrics are those of its checkpoint (the same protocol: history not masked).
  const best = log.reduce((b, e) => (e.validation['NDCG@10'] > b.validation['NDCG@10'] ? e : b));
  assert.equal(a.bestEpoch, best.epoch);
  assert.deepEqual(
    log.map((e) => e.best),
    log.map((e) => isRecord(log, e)),
  );
  assert.equal(a.selection.value, best.validation['NDCG@10']);
  assert.deepEqual(a.validation, best.validation);
  assert.ok(log[0].diagnostics.modalityWeights.text > 0);
  assert.equal(JSON.parse(readFileSync(join(root, 'a', 'run.json'), 'utf8')).status, 'finished');
  assert.ok(a.test['HR@10'] >= a.test['NDCG@10'] && a.test['NDCG@10'] >= a.test['MRR@10']);

  // Two epochs, then resume to three: identical to the uninterrupted run.
  await train({ data, out: join(root, 'b'), config: cfg('cammsr', ['train.epochs=2']) });
  const b = await train({
    data,
    out: join(root, 'b'),
    config: cfg('cammsr', ['train.epochs=3']),
    resume: true,
  });
  assert.deepEqual(b.test, a.test);
  const logB = readFileSync(join(root, 'b', 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    logB.map((l) => l.loss),
    log.map((l) => l.loss),
  );

  await assert.rejects(
    train({ data, out: join(root, 'a'), config: cfg('cammsr') }),
    /already exists and is not empty/,
  );
  // A run from before an option existed (its config.json lacks it) resumes when the option is
  // at its default; the rewritten config.json then has it.
  const bConfig = join(root, 'b', 'config.json');
  const old = JSON.parse(readFileSync(bConfig, 'utf8'));
  delete old.cammsr.sharedEncoder;
  writeFileSync(bConfig, JSON.stringify(old));
  await train({ data, out: join(root, 'b'), config: cfg('cammsr', ['train.epochs=4']), resume: true });
  assert.equal(JSON.parse(readFileSync(bConfig, 'utf8')).cammsr.sharedEncoder, false);
  await assert.rejects(
    train({
      data,
      out: join(root, 'b'),
      config: cfg('cammsr', ['train.epochs=4', 'train.lr=0.01']),
      resume: true,
    }),
    /only train\.epochs may change/,
  );
  await assert.rejects(
    train({ data, out: join(root, 'none'), config: cfg('cammsr'), resume: true }),
    /no resumable state/,
  );
});

test('early stopping: no improvement for `patience` evaluations ends the run', async () => {
  await ready;
  // A learning rate this small cannot move the validation metric.
  const m = await train({
    data,
    out: join(root, 'es'),
    config: cfg('sasrec', ['train.epochs=30', 'train.patience=2', 'train.lr=1e-12']),
  });
  assert.equal(m.stoppedEarly, true);
  assert.equal(m.epochs, 3);
  assert.equal(m.bestEpoch, 1);
  // Resumed after its stop (as when killed before its test metrics): no epoch more, same result.
  const again = await train({
    data,
    out: join(root, 'es'),
    config: cfg('sasrec', ['train.epochs=30', 'train.patience=2', 'train.lr=1e-12']),
    resume: true,
  });
  assert.equal(again.stoppedEarly, true);
  assert.equal(again.epochs, 3);
  assert.equal(again.bestEpoch, 1);
  assert.deepEqual(again.test, m.test);
  assert.equal(
    readFileSync(join(root, 'es', 'log.jsonl'), 'utf8')
      .trim()
      .split('\n').length,
    3,
  );
});

test('baselines train through the same loop: popularity, fusion-sum, fusion-concat, hm4sr', async () => {
  await ready;
  const pop = await train({ data, out: join(root, 'pop'), config: cfg('popularity') });
  assert.equal(pop.epochs, 0);
  assert.ok(pop.test['HR@20'] > 0);
  for (const model of ['fusion-sum', 'fusion-concat', 'hm4sr']) {
    const m = await train({ data, out: join(root, model), config: cfg(model, ['train.epochs=1']) });
    assert.equal(m.epochs, 1, model);
    const { model: loaded } = loadRun(join(root, model));
    assert.equal(loaded.kind, model);
    if (model === 'hm4sr') {
      // HM4SR learns its static modality scalars (initialised [0, 1, 1]): they must have moved.
      const w = (loaded as Cammsr).camoe!.staticWeights!.data;
      assert.notDeepEqual(Array.from(w), [0, 1, 1]);
    }
  }
});

test('the train, eval and recommend commands (tables, --json, clear errors)', async () => {
  await ready;
  const run = join(root, 'cli');
  const t = cli(
    'train',
    '--data',
    data,
    '--model',
    'sasrec',
    '--out',
    run,
    '--set',
    'train.epochs=2',
    '--set',
    'dim=16',
    '--json',
  );
  assert.equal(t.status, 0, t.stderr);
  assert.match(t.stdout, /test \(history masked\)/);
  const tm = last(t.stdout);
  const e = cli('eval', '--run', run, '--json');
  assert.equal(e.status, 0, e.stderr);
  assert.equal(last(e.stdout)['NDCG@10'], tm.test['NDCG@10']);
  const ev = cli('eval', '--run', run, '--split', 'validation', '--mask-history', '--json');
  assert.equal(last(ev.stdout)['HR@10'], tm.validationMasked['HR@10']);
  const r = cli('recommend', '--run', run, '--history', 'i0001,i0002', '-k', '5', '--json');
  assert.equal(r.status, 0, r.stderr);
  const recs = last(r.stdout).recommendations;
  assert.equal(recs.length, 5);
  assert.ok(recs.every((x: { item: string; title: string }) => x.item !== 'i0001' && x.title.length > 0));
  const bad = cli('recommend', '--run', run, '--history', 'i0001,nope');
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /unknown item id nope/);
  const badSet = cli('train', '--data', data, '--out', join(root, 'x'), '--set', 'train.lrr=1');
  assert.notEqual(badSet.status, 0);
  assert.match(badSet.stderr, /unknown key "lrr"/);
});

test("cammsr train --resume keeps the run's epoch budget unless --set changes it, and says so", async () => {
  await ready;
  const run = join(root, 'cli-resume');
  const base = ['--data', data, '--model', 'sasrec', '--out', run, '--set', 'dim=16', '--json'];
  const first = cli('train', ...base, '--set', 'train.epochs=2');
  assert.equal(first.status, 0, first.stderr);
  const before = readFileSync(join(run, 'best.safetensors'));
  // Without --set train.epochs: the run's own budget (2), nothing more to train, nothing overwritten.
  const again = cli('train', ...base, '--resume');
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stderr, /resuming with the run's epoch budget: 2/);
  assert.equal(last(again.stdout).epochs, 2);
  assert.deepEqual(readFileSync(join(run, 'best.safetensors')), before);
  // With it: one more epoch, and the change is printed.
  const longer = cli('train', ...base, '--resume', '--set', 'train.epochs=3');
  assert.equal(longer.status, 0, longer.stderr);
  assert.match(longer.stderr, /the epoch budget changes from 2 to 3/);
  assert.equal(last(longer.stdout).epochs, 3);
});
