/** MOCA's transformer: the residual structure, the expert mean, and its full / none variants. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mul } from '../src/engine/ops/elementwise.js';
import { layerNorm } from '../src/engine/ops/norm.js';
import { sum } from '../src/engine/ops/reduce.js';
import { Rng } from '../src/engine/rng.js';
import { Tensor } from '../src/engine/tensor.js';
import { ConditionalTransformer, type TransformerKind } from '../src/models/conditional-transformer.js';
import { denseGrid } from '../src/models/token-grid.js';
import { randomTensor } from './gradcheck.js';

const make = (kind: TransformerKind, rng: Rng) =>
  new ConditionalTransformer(
    {
      kind,
      layers: 2,
      experts: 3,
      dim: 8,
      heads: 2,
      headDim: 4,
      queries: 3,
      keyValues: 4,
      attnDropout: 0,
      ffDropout: 0,
      initStd: 0.3,
    },
    rng,
  );
const n = 10;
const grid = denseGrid(2, n);

test("'none' leaves the tokens as they are; 'full' has one expert per layer, 'conditional' the configured count", () => {
  const rng = new Rng(1);
  const x = randomTensor([2 * n, 8], rng);
  assert.equal(make('none', rng).forward(x, grid, rng, false), x);
  assert.equal(make('full', rng).layers.items[0].experts.items.length, 1);
  assert.equal(make('conditional', rng).layers.items[1].experts.items.length, 3);
});

test('each layer adds the experts’ mean and a feed-forward to the tokens; a LayerNorm ends the stack', () => {
  const rng = new Rng(2);
  const t = make('conditional', rng);
  // Silence every expert and feed-forward: what is left is the final LayerNorm of the input.
  for (const layer of t.layers.items) {
    for (const e of layer.experts.items) e.toOut.weight.data.fill(0);
    layer.ff.outer.weight.data.fill(0);
    layer.ff.outer.bias!.data.fill(0);
  }
  const x = randomTensor([2 * n, 8], rng, 1, false);
  const y = t.forward(x, grid, rng, false);
  const expected = layerNorm(x, t.final!.gamma, t.final!.beta, 1e-5);
  y.data.forEach((v, i) => assert.ok(Math.abs(v - expected.data[i]) < 1e-5, `${i}`));
});

test('gradients reach every expert’s routers and the feed-forwards', () => {
  const rng = new Rng(3);
  const t = make('conditional', rng);
  const x = new Tensor(randomTensor([2 * n, 8], rng).data, [2 * n, 8], true);
  // Random weights on the outputs: a plain sum of a LayerNorm's outputs does not depend on its
  // input (Σ x̂ = 0), so its true gradient is zero and only rounding would reach the routers.
  const weights = randomTensor([2 * n, 8], rng, 1, false);
  // Routers whose scores are far apart saturate the soft top-k (p at 0 or 1 after 20 iterations
  // down to temperature 0.03), and its true gradient vanishes; scores close together keep every
  // expert's router on the gradient path this test is about.
  for (const layer of t.layers.items)
    for (const e of layer.experts.items)
      for (const r of [e.queryRouter, e.kvRouter]) r.data.forEach((v, i) => (r.data[i] = v * 0.01));
  sum(mul(t.forward(x, grid, rng, true), weights)).backward();
  const reached = (g: Float32Array | null) => g !== null && g.some((v) => Math.abs(v) > 1e-6);
  for (const layer of t.layers.items) {
    for (const e of layer.experts.items) {
      assert.ok(reached(e.queryRouter.grad), 'query router');
      assert.ok(reached(e.kvRouter.grad), 'key/value router');
    }
    assert.ok(layer.ff.inner.weight.grad!.some((g) => g !== 0));
  }
  assert.ok(x.grad!.some((g) => g !== 0));
});
