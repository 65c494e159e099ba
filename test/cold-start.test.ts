/** The cold-start protocol: which items are held out, the split around them, warm and cold targets apart. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { prepareDataset } from '../src/data/prepare.js';
import { Dataset, writeDataset } from '../src/data/dataset.js';
import { selectColdItems } from '../src/data/cold-items.js';
import { leaveOneOut } from '../src/data/split.js';
import { Module } from '../src/engine/nn/module.js';
import { evaluate, evaluateSplit } from '../src/eval/evaluate.js';
import { rankAmong } from '../src/eval/metrics.js';
import type { LossResult, Scorer, SequenceBatch, SequentialRecommender } from '../src/models/model.js';
import { testManifest } from './manifest-fixture.js';
import { tempDir } from './temp.js';

/**
 * 5 users, 6 items. First interactions: item 1 at 10, 2 at 11, 3 at 30, 6 at 31, 5 at 40, 4 at
 * 50: the newest third (2 items) are 4 and 5.
 */
const SEQUENCES = [
  { items: [1, 2, 3, 5, 4], times: [10, 20, 30, 40, 50] },
  { items: [2, 1, 6, 3], times: [11, 21, 31, 41] },
  { items: [1, 5, 6], times: [12, 60, 70] },
  { items: [5, 1, 2, 3], times: [45, 46, 47, 48] },
  { items: [4, 5, 1], times: [80, 81, 82] },
];

function dataset(timed: boolean): Dataset {
  const dir = join(tempDir('cold'), 'ds');
  const offsets = [0];
  for (const s of SEQUENCES) offsets.push(offsets[offsets.length - 1] + s.items.length);
  const manifest = testManifest({
    name: 'cold',
    counts: { users: 5, items: 6, interactions: offsets[5], categories: 0 },
    timestamps: timed,
  });

  writeDataset(
    dir,
    {
      userIds: SEQUENCES.map((_, u) => `u${u + 1}`),
      items: Array.from({ length: 6 }, (_, i) => ({ id: `i${i + 1}` })),
      offsets: Int32Array.from(offsets),
      sequenceItems: Int32Array.from(SEQUENCES.flatMap((s) => s.items)),
      times: timed ? Float64Array.from(SEQUENCES.flatMap((s) => s.times)) : null,
      categoryOffsets: new Int32Array(8),
      categoryLabels: new Int32Array(0),
      features: {},
    },
    manifest,
  );
  return Dataset.load(dir);
}

const ids = (mask: Uint8Array) => Array.from(mask.keys()).filter((i) => mask[i] === 1);

test('held-out items: the newest by first interaction; without timestamps a seeded random set', () => {
  assert.deepEqual(ids(selectColdItems(dataset(true), 0.34, 1)), [4, 5]);
  assert.deepEqual(
    ids(selectColdItems(dataset(true), 0.5, 9)),
    [4, 5, 6],
    'the seed does not matter with times',
  );
  const untimed = dataset(false);
  const a = ids(selectColdItems(untimed, 0.5, 1));
  assert.equal(a.length, 3);
  assert.deepEqual(ids(selectColdItems(untimed, 0.5, 1)), a, 'same seed, same set');
  const seeds = new Set([1, 2, 3, 4, 5, 6].map((s) => ids(selectColdItems(untimed, 0.5, s)).join()));
  assert.ok(seeds.size > 1, 'the seed changes the set');
  assert.throws(() => selectColdItems(untimed, 0.6, 1), /coldItems must be in \(0, 0\.5\]/);
  assert.throws(() => selectColdItems(untimed, 0.01, 1), /holds out no item/);
});

test('the split: held-out items leave training and the validation histories; test histories keep the validation item', () => {
  const split = leaveOneOut(dataset(true), { coldItems: 0.34 });
  assert.deepEqual(ids(split.coldItems!), [4, 5]);
  assert.deepEqual(
    split.train.map((s) => Array.from(s)),
    [[1, 2, 3], [2, 1], [1], [1], []],
  );
  assert.deepEqual(
    split.trainTimes!.map((t) => Array.from(t)),
    [[10, 20, 30], [11, 21], [12], [46], []],
  );
  const show = (c: {
    user: number;
    history: Int32Array;
    times?: Float64Array;
    target: number;
    cold?: boolean;
  }) => [c.user, Array.from(c.history), Array.from(c.times!), c.target, c.cold];
  assert.deepEqual(split.validation.map(show), [
    [1, [1, 2, 3], [10, 20, 30], 5, true],
    [2, [2, 1], [11, 21], 6, false],
    [3, [1], [12], 5, true],
    [4, [1], [46], 2, false],
    // user 5's history before the validation target is all held-out items: no case
  ]);
  assert.deepEqual(split.test.map(show), [
    [1, [1, 2, 3, 5], [10, 20, 30, 40], 4, true],
    [2, [2, 1, 6], [11, 21, 31], 3, false],
    [3, [1, 5], [12, 60], 6, false],
    [4, [1, 2], [46, 47], 3, false],
    [5, [5], [81], 1, false],
  ]);
  // What history masking removes: everything before the target, held-out items included.
  assert.deepEqual(Array.from(split.validation[3].seen!), [5, 1]);
  assert.deepEqual(Array.from(split.test[3].seen!), [5, 1, 2]);
  // The warm protocol is the plain leave-one-out split, without cold flags.
  const warm = leaveOneOut(dataset(true));
  assert.equal(warm.coldItems, undefined);
  assert.deepEqual(Array.from(warm.train[3]), [5, 1]);
  assert.ok(warm.test.every((c) => c.cold === undefined));
});

test('rankAmong: the rank among the given candidates only, ties pessimistic, exclusions honoured', () => {
  const scores = Float32Array.of(0, 5, 3, 3, 9, 1);
  assert.equal(rankAmong(scores, 0, 2, Int32Array.of(2, 3, 5)), 2, 'tie with 3 counts above');
  assert.equal(rankAmong(scores, 0, 4, Int32Array.of(1, 4)), 1);
  assert.equal(rankAmong(scores, 0, 5, Int32Array.of(1, 2, 5), Int32Array.of(1)), 2);
  assert.equal(rankAmong(Float32Array.of(0, NaN, 1), 0, 1, Int32Array.of(1, 2)), 2, 'a NaN target is last');
});

/** Every user gets the same scores: item j scores j (item 6 first). */
class ByIdModel extends Module implements SequentialRecommender {
  readonly kind = 'by-id';
  readonly trainable = false;
  readonly maxLen = 10;
  constructor(readonly ranksUnseenItems: boolean) {
    super();
  }
  loss(): LossResult {
    throw new Error('not trained');
  }
  scorer(): Scorer {
    throw new Error('not used');
  }

  lastScorer() {
    return (batch: SequenceBatch) => this.scoreLast(batch);
  }
  scoreLast(batch: SequenceBatch): Float32Array {
    const out = new Float32Array(batch.size * 7);
    for (let b = 0; b < batch.size; b++) for (let j = 0; j <= 6; j++) out[b * 7 + j] = j;
    return out;
  }
}

test('evaluation: warm and cold targets apart, cold ones also among the held-out items; ID-only models rank them last', () => {
  const split = leaveOneOut(dataset(true), { coldItems: 0.34 });
  // Validation targets 5 (cold), 6, 5 (cold), 2: ranks 2, 1, 2, 5 of 6; among {4, 5} item 5 is first.
  const r = evaluateSplit(new ByIdModel(true), split, 'validation');
  assert.deepEqual(Array.from(r.ranks), [2, 1, 2, 5]);
  const t = r.targets!;
  assert.equal(t.coldRankable, true);
  assert.deepEqual([t.warm.users, t.cold.users, t.coldAmongCold.users], [2, 2, 2]);
  assert.equal(t.warm.metrics['HR@5'], 1);
  assert.equal(t.warm.metrics['NDCG@5'], (1 + 1 / Math.log2(6)) / 2);
  assert.equal(t.cold.metrics['NDCG@5'], 1 / Math.log2(3));
  assert.equal(t.coldAmongCold.metrics['NDCG@5'], 1);
  assert.equal(r.metrics['HR@5'], 1);
  // Cold targets cannot be ranked among the held-out items without knowing them.
  assert.throws(() => evaluate(new ByIdModel(true), split.validation), /pass opts\.coldItems/);

  const idOnly = evaluateSplit(new ByIdModel(false), split, 'validation');
  assert.deepEqual(Array.from(idOnly.ranks), [6, 1, 6, 5], 'cold targets last, by construction');
  assert.equal(idOnly.targets!.coldRankable, false);
  assert.equal(idOnly.targets!.cold.metrics['HR@5'], 0, 'rank 6 of 6');
  assert.equal(
    idOnly.targets!.coldAmongCold.metrics['HR@1'] ?? idOnly.targets!.coldAmongCold.metrics['MRR@5'],
    0.5,
  );
  assert.deepEqual(idOnly.targets!.warm, t.warm, 'warm targets are unaffected');
  // Masking removes held-out items the user had too: user 4's test target 3 has 4, 5, 6 above it,
  // and 5 is in what they saw before (not in the history the model reads).
  const masked = evaluateSplit(new ByIdModel(true), split, 'test', { maskHistory: true });
  assert.equal(masked.ranks[3], 3);
  // The warm protocol has no breakdown.
  assert.equal(
    evaluateSplit(new ByIdModel(true), leaveOneOut(dataset(true)), 'validation').targets,
    undefined,
  );
});

test('end to end: train and eval under the cold-start protocol print warm and cold targets apart', async () => {
  const root = tempDir('cold-cli');
  const data = join(root, 'synth');
  await prepareDataset({
    format: 'synth',
    out: data,
    synth: { users: 120, items: 50 },
    seed: 3,
    image: 'none',
  });
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, ['dist/src/cli/main.js', ...args], { encoding: 'utf8' });
  const small = ['dim=8', 'ffnDim=16', 'layers=1', 'maxLen=10', 'train.epochs=1', 'split.coldItems=0.2'];
  const sets = (extra: string[] = []) => [...small, ...extra].flatMap((s) => ['--set', s]);
  for (const [model, extra] of [
    ['fusion-sum', ['idMask=0.3']],
    ['sasrec', []],
    ['moca', []],
    ['mmsr', []],
  ] as const) {
    const run = join(root, model);
    const t = cli('train', '--data', data, '--model', model, '--out', run, ...sets([...extra]), '--json');
    assert.equal(t.status, 0, t.stderr);
    assert.match(t.stdout, /warm targets \(\d+\)/);
    const metrics = JSON.parse(t.stdout.trim().split('\n').pop()!);
    const { warm, cold } = metrics.targets.test;
    assert.equal(warm.users + cold.users, metrics.targets.test.coldAmongCold.users + warm.users);
    assert.ok(cold.users > 0, 'some test targets are held-out items');
    const e = cli('eval', '--run', run, '--json');
    assert.equal(e.status, 0, e.stderr);
    assert.match(e.stdout, /cold among held-out \(\d+\)/);
    const r = JSON.parse(e.stdout.trim().split('\n').pop()!);
    assert.deepEqual(
      r.targets,
      metrics.targets.test,
      "eval of the best checkpoint = the run's final metrics",
    );
    // The report ranks the run's targets again (by category, by history length).
    const rep = cli('report', '--run', run, '--out', join(root, `${model}.html`));
    assert.equal(rep.status, 0, rep.stderr);
    if (model !== 'fusion-sum') {
      // ID-only scoring (SASRec; MOCA and MMSR as their code): held-out items ranked last.
      assert.match(e.stdout, new RegExp(`${model} cannot rank items it never saw in training`));
      assert.equal(r.targets.cold.metrics['HR@20'], 0);
    } else {
      assert.equal(r.targets.coldRankable, true);
      assert.doesNotMatch(e.stdout, /cannot rank/);
    }
  }
});
