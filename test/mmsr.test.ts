/**
 * MMSR as a model: the node inputs and the two fusion orders by hand on a one-sample graph,
 * independence from the batch, clusters that a served bundle rebuilds identically (and that a
 * grown catalog only links to), overfitting a tiny dataset, its preset, and the trainer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { resolveConfig } from '../src/config/index.js';
import { inferenceBatch, prefixBatch } from '../src/models/batch.js';
import { Mmsr, type MmsrConfig } from '../src/models/mmsr.js';
import type { ModelData } from '../src/models/model.js';
import { prepareDataset } from '../src/data/prepare.js';
import { createModel } from '../src/train/create-model.js';
import { loadRun, train } from '../src/train/trainer.js';
import { tempDir } from './temp.js';
import { overfitLastPrefixes, toyData } from './toy-data.js';

const small = (over: Partial<MmsrConfig> = {}): MmsrConfig => ({
  items: 30,
  maxLen: 8,
  dim: 8,
  clusters: 4,
  linkK: 1,
  strictEdges: true,
  separateKV: false,
  attentionDropout: 0,
  outputDropout: 0,
  clusteredItems: 30,
  seed: 3,
  ...over,
});

test('a sequence’s state does not depend on the other sequences of its batch (padding nodes)', () => {
  const { data } = toyData();
  const model = new Mmsr(small(), data).eval();
  const short = Int32Array.of(3, 8, 3);
  const long = Int32Array.of(2, 4, 6, 8, 10, 12, 14, 16);
  const alone = model.forward(inferenceBatch([short], 8)).data;
  const together = model.forward(inferenceBatch([long, short], 8)).data.subarray(8, 16);
  alone.forEach((v, i) => assert.ok(Math.abs(v - together[i]) < 1e-5, `${i}: ${v} vs ${together[i]}`));
});

test('one item alone: its node attends only to itself, so the state is the gate’s mix of V twice, V = h0 · W_Q[item]', () => {
  // A dataset without content: the graph of [5] is one item node with its self-loop; both
  // attentions give weight 1 to it, so AB = BA = V and the gate's mix is V whatever g is.
  const data: ModelData = { items: 30, timestamps: false };
  const model = new Mmsr(small(), data).eval();
  const d = 8;
  const h = model.forward(inferenceBatch([Int32Array.of(5)], 8)).data;
  // h0 = [E_5 ; T_1 ; P_0] · W_pt; V = h0 · W_Q[1].
  const x = [
    ...model.itemEmb.data.subarray(5 * d, 6 * d),
    ...model.typeEmb.data.subarray(d, 2 * d),
    ...model.positionEmb.data.subarray(0, d),
  ];
  const h0 = Array.from({ length: d }, (_, j) =>
    x.reduce((s, xi, i) => s + xi * model.wPt.data[i * d + j], 0),
  );
  const v = Array.from({ length: d }, (_, j) =>
    h0.reduce((s, hi, i) => s + hi * model.wQ.data[d * d + i * d + j], 0),
  );
  v.forEach((want, j) => assert.ok(Math.abs(h[j] - want) < 1e-5, `${j}: ${h[j]} vs ${want}`));
});

test('two items, no content: both fusion orders and the gate by hand', () => {
  // Graph of [1, 2]: nodes 1 and 2 (items), self-loops, 1 → 2 "out" and 2 → 1 "in". With no
  // content, the heterogeneous attention has only self-loops (β = I), so AB = V and
  // BA = softmax_j LeakyReLU(a_{adj}ᵀ(v_i ⊙ v_j)) · V; the state of node 2 is the gate's mix.
  const data: ModelData = { items: 30, timestamps: false };
  const model = new Mmsr(small(), data).eval();
  const d = 8;
  const row = (t: Float32Array, r: number) => Array.from(t.subarray(r * d, (r + 1) * d));
  const times = (x: number[], w: Float32Array, offset = 0, cols = d) =>
    Array.from({ length: cols }, (_, j) => x.reduce((s, xi, i) => s + xi * w[offset + i * cols + j], 0));
  const v = [1, 2].map((item, pos) => {
    const h0 = times(
      [...row(model.itemEmb.data, item), ...row(model.typeEmb.data, 1), ...row(model.positionEmb.data, pos)],
      model.wPt.data,
    );
    return times(h0, model.wQ.data, d * d);
  });
  const leaky = (x: number) => (x > 0 ? x : 0.1 * x);
  const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i], 0);
  // Node 2 aggregates from node 1 by "in" (relation 3, row 2 of a) and from itself (row 0).
  const a = (r: number) => row(model.relations.data, r);
  const e = [
    leaky(
      dot(
        a(2),
        v[1].map((x, i) => x * v[0][i]),
      ),
    ),
    leaky(
      dot(
        a(0),
        v[1].map((x, i) => x * v[1][i]),
      ),
    ),
  ];
  const m = Math.max(...e);
  const w = e.map((x) => Math.exp(x - m));
  const alpha = w.map((x) => x / (w[0] + w[1]));
  const ba = v[0].map((x, i) => alpha[0] * x + alpha[1] * v[1][i]);
  const ab = v[1];
  const { w1, b1, w2, b2 } = model.gate;
  const mlp = (x: number[]) => {
    const hidden = Array.from({ length: d }, (_, j) => Math.max(0, b1.data[j] + dot(x, row(w1.data, j))));
    return b2.data[0] + dot(hidden, Array.from(w2.data));
  };
  const [sAb, sBa] = [mlp(ab), mlp(ba)];
  const g = 1 / (1 + Math.exp(sBa - sAb));
  const want = ab.map((x, i) => g * x + (1 - g) * ba[i]);
  const h = model.forward(inferenceBatch([Int32Array.of(1, 2)], 8)).data;
  want.forEach((x, i) => assert.ok(Math.abs(h[i] - x) < 1e-5, `${i}: ${h[i]} vs ${x}`));
});

test('clusters: rebuilt identically from the seed (a served bundle), a grown catalog links its new items without refitting', () => {
  const { data } = toyData();
  const a = new Mmsr(small(), data);
  const b = new Mmsr(small({ loadsWeights: true }), data);
  assert.deepEqual(Array.from(b.clusterEmb!.data), Array.from(a.clusterEmb!.data), 'same centroids');
  // Image and text clusters: 4 each; their rows start in the uniform range of the other weights.
  assert.equal(a.clusterEmb!.shape[0], 8);
  assert.ok(a.clusterEmb!.data.every((x) => Math.abs(x) <= 1 / Math.sqrt(8) + 1e-6));
  // The same catalog with two items appended (a copy of items 1 and 2): the clusters stay.
  const grow = (f: NonNullable<ModelData['text']>) => {
    const matrix = new Float32Array(33 * f.dim);
    matrix.set(f.matrix);
    matrix.set(f.matrix.subarray(f.dim, 3 * f.dim), 31 * f.dim);
    return {
      dim: f.dim,
      matrix,
      mask: Uint8Array.from({ length: 33 }, (_, i) => (i > 30 ? f.mask[i - 30] : f.mask[i])),
    };
  };
  const grown: ModelData = {
    ...data,
    items: 32,
    trainedItems: 30,
    text: grow(data.text!),
    image: grow(data.image!),
  };
  const c = new Mmsr(small({ items: 32 }), grown);
  assert.deepEqual(Array.from(c.clusterEmb!.data), Array.from(a.clusterEmb!.data));
  // Item 31 has item 1's content: its history reads like item 1's except for the ID row.
  c.itemEmb.data.set(a.itemEmb.data.subarray(8, 16), 31 * 8);
  for (const [name, p] of a.namedParameters())
    if (name !== 'item_embedding')
      c.namedParameters()
        .find(([n]) => n === name)![1]
        .data.set(p.data);
  c.itemEmb.data.set(a.itemEmb.data, 0);
  c.itemEmb.data.set(a.itemEmb.data.subarray(8, 16), 31 * 8);
  a.eval();
  c.eval();
  const ha = a.forward(inferenceBatch([Int32Array.of(4, 1)], 8)).data;
  const hc = c.forward(inferenceBatch([Int32Array.of(4, 31)], 8)).data;
  ha.forEach((v, i) => assert.ok(Math.abs(v - hc[i]) < 1e-5, `${i}`));
});

test('MMSR overfits a tiny dataset: its training prefixes’ next items rise to the top', () => {
  const { data, seqs } = toyData();
  const { first, last, hits } = overfitLastPrefixes(
    new Mmsr(small({ dim: 16 }), data),
    seqs,
    data.items,
    150,
    2e-2,
  );
  assert.ok(last < first / 4, `loss ${first} → ${last}`);
  assert.ok(hits >= seqs.length - 1, `${hits} of ${seqs.length} next items ranked first`);
});

test('separate keys and values, and training-mode dropout, build and give finite losses', () => {
  const { data, seqs } = toyData();
  const batch = prefixBatch(
    seqs,
    Int32Array.from(seqs, (s) => s.length - 1),
    8,
  );
  const model = new Mmsr(small({ separateKV: true, attentionDropout: 0.2, outputDropout: 0.4 }), data);
  assert.ok(model.namedParameters().some(([n]) => n === 'w_k'));
  assert.ok(Number.isFinite(model.loss(batch).total.item()));
});

test("MMSR's preset: its code's defaults under whatever the user sets; what it refuses", () => {
  const c = resolveConfig({ cli: { model: 'mmsr' } });
  assert.deepEqual(
    [
      c.dim,
      c.train.lr,
      c.train.weightDecay,
      c.train.batchSize,
      c.train.samples,
      c.mmsr.clusters,
      c.mmsr.linkK,
    ],
    [128, 0.002, 0, 128, 'prefixes', 20, 1],
  );
  assert.throws(
    () => resolveConfig({ cli: { model: 'mmsr' }, overrides: ['train.samples=sequences'] }),
    /train\.samples.*mmsr trains on prefixes/s,
  );
  const data: ModelData = toyData().data;
  assert.throws(
    () => createModel(resolveConfig({ cli: { model: 'mmsr' }, overrides: ['idMask=0.2'] }), data),
    /idMask: mmsr has no ID view to mask/,
  );
  assert.ok(createModel(resolveConfig({ cli: { model: 'mmsr' } }), data) instanceof Mmsr);
});

test('MMSR trains, evaluates and reloads through the same trainer as every model', async () => {
  const root = tempDir('mmsr');
  const data = join(root, 'synth');
  await prepareDataset({ format: 'synth', out: data, synth: { users: 80, items: 40 }, seed: 5 });
  const config = resolveConfig({
    cli: { model: 'mmsr', seed: 2 },
    overrides: ['dim=16', 'maxLen=10', 'train.epochs=2', 'train.batchSize=64', 'mmsr.clusters=4'],
  });
  const m = await train({ data, out: join(root, 'run'), config });
  assert.equal(m.epochs, 2);
  assert.ok(Number.isFinite(m.test['NDCG@10']));
  const { model } = loadRun(join(root, 'run'));
  assert.equal(model.kind, 'mmsr');
});
