/** MOCA: its batch layout, its losses by hand, padding invariance, its configuration, and that it learns. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { resolveConfig } from '../src/config/index.js';
import { inferenceBatch, prefixBatch } from '../src/models/batch.js';
import { Moca, type MocaConfig } from '../src/models/moca.js';
import type { ModelData } from '../src/models/model.js';
import { denseGrid, sequenceGrid, tokenGrid } from '../src/models/token-grid.js';
import { prepareDataset } from '../src/data/prepare.js';
import { createModel } from '../src/train/create-model.js';
import { learningRate, loadRun, train } from '../src/train/trainer.js';
import { tempDir } from './temp.js';
import { overfitLastPrefixes, toyData } from './toy-data.js';

const small = (over: Partial<MocaConfig> = {}): MocaConfig => ({
  items: 30,
  maxLen: 8,
  dim: 8,
  heads: 2,
  featureTransformer: 'conditional',
  itemTransformer: 'conditional',
  featureLayers: 1,
  itemLayers: 1,
  experts: 2,
  featureRouted: 4,
  itemRouted: 3,
  attnDropout: 0,
  ffDropout: 0,
  labelGamma: 0.5,
  alignWeight: 1,
  alignTau: 0.5,
  initStd: 0.2,
  seed: 3,
  ...over,
});

test('sequenceGrid and tokenGrid by hand: left-padded slots, packed rows, positions', () => {
  const b = inferenceBatch([Int32Array.of(4, 5, 6), Int32Array.of(9)], 10);
  const g = sequenceGrid(b, 4);
  assert.deepEqual(Array.from(g.rowOf), [-1, 0, 1, 2, -1, -1, -1, 3]);
  assert.deepEqual(Array.from(g.valid), [0, 1, 1, 1, 0, 0, 0, 1]);
  assert.deepEqual(Array.from(g.positions), [0, 1, 2, 3, 0, 1, 2, 3]);
  assert.deepEqual(Array.from(g.slotOf), [1, 2, 3, 7]);
  // Positions as in a row padded to 10: the last item at 9.
  assert.deepEqual(Array.from(sequenceGrid(b, 4, 10).positions), [6, 7, 8, 9, 6, 7, 8, 9]);
  assert.throws(() => sequenceGrid(b, 2), /a sequence of 3 items does not fit 2/);
  assert.throws(() => sequenceGrid(b, 4, 3), /a window of 3 is shorter than the length 4/);
  // Two tokens per position: blocks of 4 packed rows, slots t·n + j.
  const t = tokenGrid(g, 2);
  assert.equal(t.width, 8);
  assert.deepEqual(Array.from(t.rowOf), [-1, 0, 1, 2, -1, 4, 5, 6, -1, -1, -1, 3, -1, -1, -1, 7]);
  assert.deepEqual(Array.from(t.slotOf), [1, 2, 3, 11, 5, 6, 7, 15]);
  assert.deepEqual(Array.from(t.positions.subarray(0, 8)), [0, 1, 2, 3, 0, 1, 2, 3]);
  assert.deepEqual(Array.from(denseGrid(1, 3).rowOf), [0, 1, 2]);
});

test('prefixBatch carries the items after each prefix, nearest first', () => {
  const s = Int32Array.of(7, 3, 9, 4, 2);
  const b = prefixBatch([s, s], Int32Array.of(1, 4), 3);
  assert.deepEqual(Array.from(b.future!.offsets), [0, 4, 5]);
  assert.deepEqual(Array.from(b.future!.items), [3, 9, 4, 2, 2]);
});

test('a sequence’s state does not depend on the other sequences of its batch (padding)', () => {
  const { data } = toyData();
  const model = new Moca(small(), data);
  model.eval();
  const short = Int32Array.of(3, 8, 1);
  const long = Int32Array.of(2, 4, 6, 8, 10, 12, 14, 16);
  const alone = model.forward(inferenceBatch([short], 8)).data;
  const together = model.forward(inferenceBatch([long, short], 8)).data.subarray(8, 16);
  alone.forEach((v, i) => assert.ok(Math.abs(v - together[i]) < 1e-5, `${i}: ${v} vs ${together[i]}`));
});

/** log softmax of row `h` against every row of `table` [N + 1, d], in float64. */
function logSoftmaxRow(h: Float32Array, table: Float32Array, d: number): number[] {
  const logits = Array.from({ length: table.length / d }, (_, j) => {
    let s = 0;
    for (let e = 0; e < d; e++) s += h[e] * table[j * d + e];
    return s;
  });
  const max = Math.max(...logits);
  const lse = max + Math.log(logits.reduce((a, x) => a + Math.exp(x - max), 0));
  return logits.map((x) => x - lse);
}

test('the soft-target loss by hand: −Σ_j 0.5^j log p(item j after the prefix), averaged over prefixes', () => {
  const { data } = toyData();
  const model = new Moca(small({ alignWeight: 0 }), data);
  model.eval(); // no dropout: the loss and the forward pass see the same states
  const s = Int32Array.of(5, 9, 12, 9, 20);
  const batch = prefixBatch([s, s], Int32Array.of(2, 4), 8);
  const h = model.forward(batch).data;
  const table = model.idEmb.weight.data;
  let expected = 0;
  for (const [b, later] of [
    [0, [12, 9, 20]],
    [1, [20]],
  ] as const) {
    const lp = logSoftmaxRow(h.subarray(b * 8, b * 8 + 8), table, 8);
    later.forEach((item, j) => (expected -= 0.5 ** j * lp[item]));
  }
  expected /= 2;
  const { total, terms } = model.loss(batch);
  assert.ok(Math.abs(total.item() - expected) < 1e-4, `${total.item()} vs ${expected}`);
  assert.deepEqual(Object.keys(terms), ['sr']);
});

test('the alignment InfoNCE by hand: ID rows against each modality’s projected features, cosine / τ', () => {
  const { data } = toyData();
  const cfg = small({ alignWeight: 1 });
  const model = new Moca(cfg, data);
  model.eval();
  const seqs = [Int32Array.of(5, 9), Int32Array.of(2, 11), Int32Array.of(4, 8)];
  const batch = prefixBatch(seqs, Int32Array.of(1, 1, 1), 8);
  const next = [9, 11, 8]; // item 7 has no text: its zero row has no direction
  const unit = (v: ArrayLike<number>) => {
    const n = Math.hypot(...Array.from(v));
    return Array.from(v, (x) => x / n);
  };
  const ids = next.map((i) => unit(model.idEmb.weight.data.subarray(i * 8, i * 8 + 8)));
  let expected = 0;
  for (const f of model.features.items) {
    const feats = Array.from(f.forward(Int32Array.from(next)).data);
    const rows = next.map((_, k) => unit(feats.slice(k * 8, k * 8 + 8)));
    for (let a = 0; a < 3; a++) {
      const logits = rows.map((r) => r.reduce((acc, x, e) => acc + x * ids[a][e], 0) / cfg.alignTau);
      const lse = Math.log(logits.reduce((acc, x) => acc + Math.exp(x), 0));
      expected += (lse - logits[a]) / 3;
    }
  }
  const { terms } = model.loss(batch);
  assert.equal(model.features.items.length, 2); // image and text
  assert.ok(Math.abs(terms.align - expected) < 1e-4, `${terms.align} vs ${expected}`);
});

test('MOCA overfits a tiny dataset: its training prefixes’ next items rise to the top', () => {
  const { data, seqs } = toyData();
  const { first, last, hits } = overfitLastPrefixes(
    new Moca(small({ dim: 16, alignWeight: 0.1 }), data),
    seqs,
    data.items,
    120,
    1e-2,
  );
  assert.ok(last < first / 4, `loss ${first} → ${last}`);
  assert.ok(hits >= seqs.length - 1, `${hits} of ${seqs.length} next items ranked first`);
});

test('the full and none variants build and score', () => {
  const { data } = toyData();
  const batch = inferenceBatch([Int32Array.of(1, 2, 3)], 8);
  for (const kind of ['full', 'none'] as const) {
    const model = new Moca(small({ featureTransformer: kind, itemTransformer: kind }), data);
    model.eval();
    const s = model.scoreLast(batch);
    assert.equal(s.length, data.items + 1);
    assert.ok(s.every(Number.isFinite), kind);
  }
});

test("MOCA's preset: its code's defaults under whatever the user sets; what it refuses", () => {
  const c = resolveConfig({ cli: { model: 'moca' } });
  assert.deepEqual(
    [c.dim, c.heads, c.train.weightDecay, c.train.warmupEpochs, c.train.samples],
    [128, 4, 1e-3, 4, 'prefixes'],
  );
  assert.equal(resolveConfig({ cli: { model: 'moca' }, overrides: ['dim=64'] }).dim, 64);
  assert.equal(resolveConfig({ cli: { model: 'sasrec' } }).dim, 64); // other models keep the schema's
  assert.throws(
    () => resolveConfig({ cli: { model: 'moca' }, overrides: ['train.samples=sequences'] }),
    /train\.samples.*moca trains on prefixes/s,
  );
  assert.throws(
    () => resolveConfig({ cli: { model: 'moca' }, overrides: ['train.softmax=sampled'] }),
    /train\.softmax.*full softmax/s,
  );
  const data: ModelData = toyData().data;
  assert.throws(
    () => createModel(resolveConfig({ cli: { model: 'moca' }, overrides: ['idMask=0.2'] }), data),
    /idMask: moca has no ID view to mask/,
  );
  assert.ok(createModel(resolveConfig({ cli: { model: 'moca' } }), data) instanceof Moca);
});

test('learning-rate warm-up: epoch e trains at lr·min(1, e / warmupEpochs)', () => {
  const c = resolveConfig({ overrides: ['train.lr=0.004', 'train.warmupEpochs=4'] });
  assert.deepEqual(
    [1, 2, 3, 4, 5, 9].map((e) => learningRate(c, e)),
    [0.001, 0.002, 0.003, 0.004, 0.004, 0.004],
  );
  assert.equal(learningRate(resolveConfig(), 1), 1e-3);
});

test('MOCA trains, evaluates and reloads through the same trainer as every model', async () => {
  const root = tempDir('moca');
  const data = join(root, 'synth');
  await prepareDataset({ format: 'synth', out: data, synth: { users: 80, items: 40 }, seed: 5 });
  const config = resolveConfig({
    cli: { model: 'moca', seed: 2 },
    overrides: ['dim=16', 'heads=2', 'maxLen=10', 'train.epochs=2', 'train.batchSize=64', 'moca.experts=2'],
  });
  const m = await train({ data, out: join(root, 'run'), config });
  assert.equal(m.epochs, 2);
  assert.ok(Number.isFinite(m.test['NDCG@10']));
  const { model } = loadRun(join(root, 'run'));
  assert.equal(model.kind, 'moca');
});
