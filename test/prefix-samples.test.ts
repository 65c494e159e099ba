/** Per-prefix training samples (train.samples 'prefixes'): the batch and the epoch. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { resolveConfig } from '../src/config/index.js';
import { Dataset } from '../src/data/dataset.js';
import { leaveOneOut } from '../src/data/split.js';
import { prepareDataset } from '../src/data/prepare.js';
import { prefixBatch } from '../src/models/batch.js';
import { train } from '../src/train/trainer.js';
import { tempDir } from './temp.js';

test('prefixBatch by hand: the items before each end, one target at the last position, truncated to maxLen', () => {
  const s = Int32Array.of(7, 3, 9, 4, 2);
  const b = prefixBatch([s, s, Int32Array.of(5, 6)], Int32Array.of(1, 4, 1), 2);
  assert.deepEqual(Array.from(b.offsets), [0, 1, 3, 4]);
  assert.deepEqual(Array.from(b.items), [7, 9, 4, 5]); // [7] | [9, 4] (maxLen 2) | [5]
  assert.deepEqual(Array.from(b.targets), [3, 0, 2, 6]);
  assert.deepEqual(Array.from(b.positions), [0, 0, 1, 0]);
  // Time gaps: the one before a truncated window counts, as for whole sequences.
  const t = Float64Array.of(0, 10, 20, 1000, 1001);
  const timed = prefixBatch([s], Int32Array.of(4), 2, [t]);
  assert.ok(timed.gaps && timed.gaps[0] > 0 && timed.gaps[1] > 0);
  assert.throws(() => prefixBatch([s], Int32Array.of(5), 2), /end 5 of sample 0 is not in \[1, 4\]/);
  assert.throws(() => prefixBatch([s], Int32Array.of(0), 2), /end 0 of sample 0/);
});

test("an epoch of train.samples 'prefixes' visits every prefix of every training sequence once", async () => {
  const root = tempDir('prefixes');
  const data = join(root, 'synth');
  await prepareDataset({ format: 'synth', out: data, synth: { users: 60, items: 32 }, seed: 4 });
  const overrides = ['dim=8', 'ffnDim=16', 'layers=1', 'maxLen=10', 'train.batchSize=32', 'train.epochs=1'];
  const config = resolveConfig({
    cli: { model: 'sasrec', seed: 1 },
    overrides: [...overrides, 'train.samples=prefixes'],
  });
  const split = leaveOneOut(Dataset.load(data), config.split);
  const prefixes = split.train.reduce((n, s) => n + Math.max(0, s.length - 1), 0);
  const totals = new Set<number>();
  const m = await train({
    data,
    out: join(root, 'run'),
    config,
    events: { batch: (e) => totals.add(e.total) },
  });
  assert.deepEqual([...totals], [Math.ceil(prefixes / 32)]);
  assert.ok(Number.isFinite(m.test['NDCG@10']));
  // Whole sequences: one sample per user with two or more training items.
  const seqTotals = new Set<number>();
  const sequences = split.train.filter((s) => s.length >= 2).length;
  await train({
    data,
    out: join(root, 'run-seq'),
    config: resolveConfig({ cli: { model: 'sasrec', seed: 1 }, overrides }),
    events: { batch: (e) => seqTotals.add(e.total) },
  });
  assert.deepEqual([...seqTotals], [Math.ceil(sequences / 32)]);
});
