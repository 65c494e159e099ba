/** Finite-difference gradient checks for every differentiable op of the engine. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gradCheck, randomTensor } from './gradcheck.js';
import { Rng } from '../src/engine/rng.js';
import { parameter, Tensor } from '../src/engine/tensor.js';
import { add, addN, div, mul, scale, sub } from '../src/engine/ops/elementwise.js';
import { bmm, linear, matmul } from '../src/engine/ops/matmul.js';
import {
  concat,
  embedding,
  indexRows,
  permute,
  reshape,
  scatterRows,
  addToRows,
  selectRows,
  slice,
  transpose,
} from '../src/engine/ops/shape.js';
import { mean, sum } from '../src/engine/ops/reduce.js';
import { exp, gelu, leakyRelu, relu, sigmoid, tanh } from '../src/engine/ops/activation.js';
import {
  causalPaddingMask,
  logSoftmax,
  logSumExp,
  maskedSoftmax,
  softmax,
} from '../src/engine/ops/softmax.js';
import { dyt, l2Normalize, layerNorm, rmsNorm } from '../src/engine/ops/norm.js';
import { dropout } from '../src/engine/ops/dropout.js';
import {
  bceWithLogits,
  crossEntropy,
  linearCrossEntropy,
  linearSoftTargetCrossEntropy,
} from '../src/engine/ops/loss.js';
import {
  MultiHeadSelfAttention,
  TransformerBlock,
  TransformerEncoder,
} from '../src/engine/nn/transformer.js';
import { causalAttention, lastQueryAttention } from '../src/engine/ops/attention.js';
import { blockGatedSum } from '../src/engine/ops/mixture.js';
import { rotary } from '../src/engine/ops/rotary.js';
import { routedAttention } from '../src/engine/ops/routed-attention.js';
import { relationScores } from '../src/engine/ops/relation-scores.js';
import { RmsNorm } from '../src/engine/nn/layers.js';

const rng = new Rng(42);
const r = (shape: number[], s = 1) => randomTensor(shape, rng, s);

test('broadcast add/sub/mul/div: same shape, bias, scalar and general broadcasting', () => {
  gradCheck(add, [r([3, 4]), r([3, 4])]);
  gradCheck(sub, [r([2, 3, 4]), r([4])]);
  gradCheck(mul, [r([3, 4]), r([1])]);
  gradCheck(mul, [r([3, 1, 4]), r([2, 1])]);
  // per-row scalars ([R, 1] against [R, d], and [B, 1, 1] against [B, L, d]): the 'repeat' layout
  gradCheck(mul, [r([3, 4]), r([3, 1])]);
  gradCheck(sub, [r([2, 3, 4]), r([2, 1, 1])]);
  gradCheck(add, [r([2, 3]), r([2, 1])]);
  const denom = r([3, 1]);
  denom.data.forEach((v, i) => (denom.data[i] = Math.sign(v || 1) * (1 + Math.abs(v))));
  gradCheck(div, [r([3, 4]), denom]);
  gradCheck((a, b) => div(a, b), [r([2, 4]), new Tensor(Float32Array.of(1.5, -2, 3, 0.7), [4], true)]);
  gradCheck((a, b) => div(a, b), [r([2, 3]), new Tensor(Float32Array.of(1.5, -2), [2, 1], true)]);
  // the same values as a general broadcast computed element by element
  const x = r([3, 4]);
  const y = r([3, 1]);
  const z = mul(x, y);
  z.data.forEach((v, i) => assert.equal(v, Math.fround(x.data[i] * y.data[Math.floor(i / 4)])));
});

test('scale and addN', () => {
  gradCheck((a) => scale(a, -1.7), [r([5])]);
  gradCheck((a, b, c) => addN(a, b, c), [r([2, 3]), r([2, 3]), r([2, 3])]);
});

test('matmul with every transpose combination', () => {
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      const a = r(transA ? [4, 3] : [3, 4]);
      const b = r(transB ? [5, 4] : [4, 5]);
      gradCheck((x, y) => matmul(x, y, { transA, transB }), [a, b]);
    }
  }
});

test('batched matmul (attention shapes) with transposes', () => {
  gradCheck((x, y) => bmm(x, y, { transB: true }), [r([2, 2, 3, 4]), r([2, 2, 5, 4])]);
  gradCheck((x, y) => bmm(x, y, { transA: true }), [r([3, 4, 2]), r([3, 4, 5])]);
  gradCheck((x, y) => bmm(x, y), [r([2, 3, 4]), r([2, 4, 2])]);
});

test('linear with and without bias, over a 3-D input', () => {
  gradCheck((x, w, b) => linear(x, w, b), [r([2, 3, 4]), r([5, 4]), r([5])]);
  gradCheck((x, w) => linear(x, w), [r([3, 4]), r([2, 4])]);
});

test('reshape, permute, transpose, concat, slice, indexRows', () => {
  gradCheck((x) => reshape(x, [3, -1]), [r([2, 3, 2])]);
  gradCheck((x) => permute(x, [2, 0, 1]), [r([2, 3, 4])]);
  gradCheck((x) => transpose(x, 1, 2), [r([2, 3, 4, 2])]);
  gradCheck((a, b) => concat([a, b], 1), [r([2, 3, 2]), r([2, 1, 2])]);
  gradCheck((a, b) => concat([a, b], -1), [r([3, 2]), r([3, 4])]);
  gradCheck((x) => slice(x, 1, 1, 3), [r([2, 4, 3])]);
  gradCheck((x) => indexRows(x, Int32Array.of(2, 0, 2, 1)), [r([3, 4])]);
  gradCheck((a, b) => selectRows(a, b, Uint8Array.of(1, 0, 0, 1)), [r([4, 3]), r([4, 3])]);
});

test('embedding gather: sparse scatter-add gradient sums duplicates and touches only used rows', () => {
  const table = r([6, 3]);
  const ids = Int32Array.of(1, 4, 1, 0, 4, 4);
  gradCheck((t) => embedding(t, ids, [2, 3]), [table]);
  table.zeroGrad();
  const out = embedding(table, ids, [2, 3]);
  out.backward(new Float32Array(out.size).fill(1));
  assert.equal(table.grad, null, 'the embedding must not produce a dense gradient');
  assert.deepEqual([...table.rowGrad!.rows].sort(), [0, 1, 4]);
  const g = new Float32Array(table.size);
  table.rowGrad!.addTo(g);
  assert.deepEqual(Array.from(g.subarray(4 * 3, 5 * 3)), [3, 3, 3]);
  assert.deepEqual(Array.from(g.subarray(1 * 3, 2 * 3)), [2, 2, 2]);
  assert.deepEqual(Array.from(g.subarray(2 * 3, 4 * 3)), [0, 0, 0, 0, 0, 0]);
  // Lookups of the padding id contribute no gradient (PyTorch's padding_idx).
  table.zeroGrad();
  const padded = embedding(table, ids, [6], 4);
  padded.backward(new Float32Array(padded.size).fill(1));
  assert.deepEqual([...table.rowGrad!.rows].sort(), [0, 1]);
  assert.throws(() => embedding(table, Int32Array.of(6)), /id 6 \(at 0\) out of range \[0, 6\)/);
});

test('sum and mean, total and along an axis', () => {
  gradCheck((x) => sum(x), [r([3, 4])]);
  gradCheck((x) => mean(x), [r([3, 4])]);
  gradCheck((x) => sum(x, 1), [r([2, 3, 4])]);
  gradCheck((x) => mean(x, 0), [r([3, 4])]);
  gradCheck((x) => mean(x, -1), [r([3, 4])]);
});

test('ReLU and leaky ReLU (away from the kink), GELU, tanh, sigmoid, exp', () => {
  const x = r([4, 5]);
  x.data.forEach((v, i) => (x.data[i] = Math.abs(v) < 0.05 ? v + 0.2 : v));
  gradCheck(relu, [x]);
  gradCheck(gelu, [r([4, 5], 2)]);
  gradCheck(tanh, [r([4, 5])]);
  gradCheck(sigmoid, [r([4, 5], 3)]);
  gradCheck(exp, [r([4, 5])]);
  const y = r([4, 5]);
  y.data.forEach((v, i) => (y.data[i] = Math.abs(v) < 0.05 ? v - 0.2 : v));
  gradCheck((t) => leakyRelu(t, 0.1), [y]);
  assert.deepEqual(Array.from(leakyRelu(new Tensor(Float32Array.of(-2, 3), [2]), 0.1).data), [
    Math.fround(-0.2),
    3,
  ]);
  // ReLU is max(x, 0) (NaN and −∞ give 0); a leaky slope of 0 is slope·x (NaN stays NaN).
  const odd = new Tensor(Float32Array.of(NaN, -Infinity, -1), [3]);
  assert.deepEqual(Array.from(relu(odd).data), [0, 0, 0]);
  assert.deepEqual(Array.from(leakyRelu(odd, 0).data), [NaN, NaN, -0]);
});

test('softmax, masked softmax (incl. a fully masked row) and log-softmax', () => {
  gradCheck((x) => softmax(x), [r([3, 5])]);
  const mask = Uint8Array.of(1, 0, 1, 1, 0, 0, 0, 0, 1, 1);
  gradCheck((x) => softmax(x, mask), [r([2, 2, 5])]);
  const p = softmax(new Tensor(new Float32Array(10), [2, 5]), Uint8Array.of(1, 0, 1, 1, 0, 0, 0, 0, 0, 0));
  assert.deepEqual(Array.from(p.data.subarray(5)), [0, 0, 0, 0, 0], 'a fully masked row must be all zeros');
  assert.ok(Math.abs(p.data[0] - 1 / 3) < 1e-6 && p.data[1] === 0);
  const am = causalPaddingMask(Int32Array.of(3, 1), 3);
  gradCheck((x) => maskedSoftmax(x, am), [r([2, 2, 3, 3])]);
  gradCheck(logSoftmax, [r([3, 6], 2)]);
});

test('LayerNorm, DyT (incl. its scalar alpha) and L2-normalise', () => {
  gradCheck((x, g, b) => layerNorm(x, g, b, 1e-5), [r([3, 6]), r([6]), r([6])]);
  gradCheck(
    (x, a, g, b) => dyt(x, a, g, b),
    [r([3, 4]), new Tensor(Float32Array.of(0.5), [1], true), r([4]), r([4])],
  );
  gradCheck((x) => l2Normalize(x), [r([3, 5])]);
});

test('dropout: train mode is a fixed mask with 1/(1-p) scaling; eval mode is the identity', () => {
  const x = r([4, 50]);
  const seed = 3;
  gradCheck((t) => dropout(t, 0.3, new Rng(seed), true), [x]);
  const y = dropout(x, 0.3, new Rng(seed), true);
  let zeros = 0;
  y.data.forEach((v, i) => {
    if (v === 0) zeros++;
    else assert.ok(Math.abs(v - x.data[i] / 0.7) < 1e-5);
  });
  assert.ok(zeros > 30 && zeros < 90, `about 30% dropped, got ${zeros}/200`);
  assert.equal(dropout(x, 0.3, new Rng(seed), false), x);
  // x's gradient from another use first, then dropout's added to it (over the kernels' native
  // cut-over): 1 + 1/(1 − p) where kept, 1 where dropped.
  const big = parameter(new Float32Array(600).fill(1), [600]);
  const dropped = sum(dropout(big, 0.5, new Rng(seed), true));
  add(dropped, sum(big)).backward();
  const kept = Array.from(big.grad!).filter((g) => g === 3).length;
  assert.ok(
    Array.from(big.grad!).every((g) => g === 1 || g === 3),
    'each element 1 or 3',
  );
  assert.ok(kept > 240 && kept < 360, `about half kept, got ${kept}/600`);
});

test('cross-entropy over selected rows, fused linear cross-entropy, BCE with logits', () => {
  const targets = Int32Array.of(2, 0, 4);
  gradCheck((l) => crossEntropy(l, targets), [r([3, 5], 2)]);
  gradCheck((l) => crossEntropy(l, Int32Array.of(1, 3), Int32Array.of(2, 0)), [r([4, 5], 2)]);
  gradCheck((h, w) => linearCrossEntropy(h, w, Int32Array.of(1, 6, 0, 3, 3)), [r([5, 4]), r([7, 4])]);
  const offsets = Float32Array.of(0.5, -1, 2, 0, 0.25, -0.3, 1.5);
  gradCheck(
    (h, w) => linearCrossEntropy(h, w, Int32Array.of(1, 6, 0, 3, 3), offsets),
    [r([5, 4]), r([7, 4])],
  );
  const y = Float32Array.of(1, 0, 1, 0, 0, 1, 1, 1, 0, 0, 0, 1);
  gradCheck((l) => bceWithLogits(l, y), [r([3, 4], 2)]);
  gradCheck((l) => bceWithLogits(l, y, Int32Array.of(0, 2)), [r([3, 4], 2)]);
});

test('fused linear cross-entropy equals matmul + cross-entropy', () => {
  const h = r([70, 8]);
  const w = r([300, 8]);
  const t = Int32Array.from({ length: 70 }, (_, i) => (i * 37) % 300);
  const a = linearCrossEntropy(h, w, t);
  const b = crossEntropy(matmul(h, w, { transB: true }), t);
  assert.ok(Math.abs(a.item() - b.item()) < 1e-4, `${a.item()} vs ${b.item()}`);
  // Column offsets are constants added to every row's logits.
  const offsets = Float32Array.from({ length: 300 }, (_, j) => Math.sin(j));
  const row = new Tensor(
    Float32Array.from({ length: 70 * 300 }, (_, i) => offsets[i % 300]),
    [70, 300],
  );
  const c = linearCrossEntropy(h, w, t, offsets);
  const e = crossEntropy(add(matmul(h, w, { transB: true }), row), t);
  assert.ok(Math.abs(c.item() - e.item()) < 1e-4, `${c.item()} vs ${e.item()}`);
  assert.throws(
    () => linearCrossEntropy(h, w, t, new Float32Array(299)),
    /299 column offsets for 300 columns/,
  );
});

test('fused linear cross-entropy over several chunks of rows: the same loss and gradients as one', () => {
  // 70 rows in chunks of at most 32 (32 · 300 logits): 32, 32 and 6 rows.
  const t = Int32Array.from({ length: 70 }, (_, i) => (i * 37) % 300);
  const [h0, w0] = [r([70, 8]), r([300, 8])];
  const run = (chunkLogits: number) => {
    const [h, w] = [h0, w0].map((x) => parameter(x.data.slice(), x.shape));
    const loss = linearCrossEntropy(h, w, t, undefined, chunkLogits);
    loss.backward();
    return { loss: loss.item(), grads: [h.grad!, w.grad!] };
  };
  const whole = run(70 * 300);
  const chunked = run(32 * 300);
  assert.ok(Math.abs(whole.loss - chunked.loss) < 1e-6, `${whole.loss} vs ${chunked.loss}`);
  whole.grads.forEach((g, k) => {
    assert.ok(g.some((v) => v !== 0));
    for (let i = 0; i < g.length; i++)
      assert.ok(
        Math.abs(g[i] - chunked.grads[k][i]) < 1e-6,
        `grad ${k} [${i}] ${chunked.grads[k][i]} vs ${g[i]}`,
      );
  });
});

test('fused causal attention over packed sequences: gradients, with and without dropout', () => {
  const offsets = Int32Array.of(0, 3, 4, 4, 9); // lengths 3, 1, 0, 5
  gradCheck((q, k, v) => causalAttention(q, k, v, offsets, 2), [r([9, 4]), r([9, 4]), r([9, 4])]);
  gradCheck(
    (q, k, v) => causalAttention(q, k, v, offsets, 1, 0.3, new Rng(4), true),
    [r([9, 4]), r([9, 4]), r([9, 4])],
  );
});

test('fused causal attention equals the padded formulation (bmm + masked softmax + bmm) at valid positions', () => {
  const lengths = Int32Array.of(3, 1, 5);
  const offsets = Int32Array.of(0, 3, 4, 9);
  const [B, L, H, dh] = [3, 5, 2, 3];
  const d = H * dh;
  const q = r([9, d]);
  const k = r([9, d]);
  const v = r([9, d]);
  const fused = causalAttention(q, k, v, offsets, H);
  // Padded [B, L, d] copies, then [B, H, L, dh] by permutation.
  const pad = (t: Tensor) => {
    const p = new Tensor(new Float32Array(B * L * d), [B, L, d]);
    for (let b = 0; b < B; b++) p.data.set(t.data.subarray(offsets[b] * d, offsets[b + 1] * d), b * L * d);
    return permute(reshape(p, [B, L, H, dh]), [0, 2, 1, 3]);
  };
  const scores = scale(bmm(pad(q), pad(k), { transB: true }), 1 / Math.sqrt(dh));
  const ctx = reshape(
    permute(bmm(maskedSoftmax(scores, causalPaddingMask(lengths, L)), pad(v)), [0, 2, 1, 3]),
    [B, L, d],
  );
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < lengths[b]; i++) {
      for (let j = 0; j < d; j++) {
        const a = fused.data[(offsets[b] + i) * d + j];
        const e = ctx.data[(b * L + i) * d + j];
        assert.ok(Math.abs(a - e) < 1e-5, `seq ${b} pos ${i} col ${j}: ${a} vs ${e}`);
      }
    }
  }
});

test('last-query attention: equals causal attention at each last row; gradients with and without dropout', () => {
  const offsets = Int32Array.of(0, 3, 4, 9); // lengths 3, 1, 5
  const last = Int32Array.of(2, 3, 8);
  const q = r([9, 6]);
  const k = r([9, 6]);
  const v = r([9, 6]);
  const full = causalAttention(q, k, v, offsets, 2);
  const only = lastQueryAttention(indexRows(q, last), k, v, offsets, 2);
  assert.deepEqual(only.shape, [3, 6]);
  last.forEach((row, b) => {
    for (let j = 0; j < 6; j++) {
      const a = only.data[b * 6 + j];
      const e = full.data[row * 6 + j];
      assert.ok(Math.abs(a - e) < 1e-6, `seq ${b} col ${j}: ${a} vs ${e}`);
    }
  });
  gradCheck((qq, kk, vv) => lastQueryAttention(qq, kk, vv, offsets, 2), [r([3, 6]), r([9, 6]), r([9, 6])]);
  gradCheck(
    (qq, kk, vv) => lastQueryAttention(qq, kk, vv, offsets, 1, 0.3, new Rng(4), true),
    [r([3, 6]), r([9, 6]), r([9, 6])],
  );
  assert.throws(() => lastQueryAttention(r([2, 6]), k, v, offsets, 2), /one per sequence/);
  assert.throws(() => lastQueryAttention(r([3, 6]), k, v, Int32Array.of(0, 3, 3, 9), 2), /is empty/);
});

test('a transformer encoder run for the last positions only gives the same final states', () => {
  const opts = { dim: 4, heads: 2, ffnDim: 8, hiddenDropout: 0, attnDropout: 0, eps: 1e-5, layers: 2 };
  const enc = new TransformerEncoder(opts, new Rng(5));
  const offsets = Int32Array.of(0, 3, 4, 9);
  const last = Int32Array.of(2, 3, 8);
  const x = r([9, 4]);
  const full = enc.forward(x, offsets, new Rng(0));
  const only = enc.forward(x, offsets, new Rng(0), last);
  assert.deepEqual(only.shape, [3, 4]);
  last.forEach((row, b) => {
    for (let j = 0; j < 4; j++) assert.ok(Math.abs(only.data[b * 4 + j] - full.data[row * 4 + j]) < 1e-5);
  });
  gradCheck((xx) => enc.forward(xx, offsets, new Rng(0), last), [r([9, 4]), ...enc.parameters()], {
    maxChecks: 8,
  });
});

test('blockGatedSum: hand-computed mixture, gradients, shape errors', () => {
  // K = 2 experts, M = 2 blocks of width 1, R = 1: out[m] = Σ_k g_m[k]·y_k[m]
  const y0 = new Tensor(Float32Array.of(1, 2), [1, 2]);
  const y1 = new Tensor(Float32Array.of(10, 20), [1, 2]);
  const g0 = new Tensor(Float32Array.of(0.25, 0.75), [1, 2]);
  const g1 = new Tensor(Float32Array.of(1, 0), [1, 2]);
  assert.deepEqual(Array.from(blockGatedSum([y0, y1], [g0, g1]).data), [0.25 + 7.5, 2]);
  gradCheck(
    (a, b, c, g, h) => blockGatedSum([a, b, c], [g, h]),
    [r([4, 6]), r([4, 6]), r([4, 6]), r([4, 3]), r([4, 3])],
  );
  assert.throws(() => blockGatedSum([r([4, 6])], [r([4, 2])]), /gates must all be/);
  assert.throws(() => blockGatedSum([r([4, 5])], [r([4, 1]), r([4, 1])]), /not a multiple/);
});

test('multi-head causal self-attention and a transformer block', () => {
  const opts = { dim: 4, heads: 2, ffnDim: 8, hiddenDropout: 0, attnDropout: 0, eps: 1e-5 };
  const attn = new MultiHeadSelfAttention(opts, new Rng(1));
  attn.namedParameters().forEach(([, p]) => p.data.forEach((_, i) => (p.data[i] = rng.normal() * 0.5)));
  const offsets = Int32Array.of(0, 3, 5);
  gradCheck((x) => attn.forward(x, offsets, new Rng(0)), [r([5, 4]), ...attn.parameters()], {
    maxChecks: 12,
  });
  const block = new TransformerBlock(opts, new Rng(2));
  block.namedParameters().forEach(([n, p]) => {
    if (n.includes('weight') && p.rank === 2) p.data.forEach((_, i) => (p.data[i] = rng.normal() * 0.5));
  });
  gradCheck((x) => block.forward(x, offsets, new Rng(0)), [r([5, 4]), ...block.parameters()], {
    maxChecks: 8,
  });
});

test('a position never depends on later positions of its sequence or on other sequences', () => {
  const opts = { dim: 4, heads: 2, ffnDim: 8, hiddenDropout: 0, attnDropout: 0 };
  const block = new TransformerBlock(opts, new Rng(5));
  const offsets = Int32Array.of(0, 4, 6);
  const x = r([6, 4]);
  const y1 = block.forward(x, offsets, new Rng(0));
  const x2 = new Tensor(Float32Array.from(x.data), x.shape);
  for (let i = 8; i < 24; i++) x2.data[i] = 100; // positions 2, 3 of sequence 0 and all of sequence 1
  const y2 = block.forward(x2, offsets, new Rng(0));
  for (let i = 0; i < 8; i++) assert.ok(Math.abs(y1.data[i] - y2.data[i]) < 1e-6);
});

test('logSumExp along the last axis: gradients, the value by hand, a row of −∞', () => {
  gradCheck((x) => logSumExp(x), [r([3, 5], 2)]);
  gradCheck((x) => logSumExp(x), [r([2, 3, 4])]);
  const x = new Tensor(Float32Array.of(0, Math.log(3), 1000, 1000, -Infinity, -Infinity), [3, 2], true);
  const y = logSumExp(x);
  assert.deepEqual(y.shape, [3, 1]);
  assert.ok(Math.abs(y.data[0] - Math.log(4)) < 1e-6); // log(1 + 3)
  assert.ok(Math.abs(y.data[1] - (1000 + Math.log(2))) < 1e-3); // no overflow
  assert.equal(y.data[2], -Infinity);
  sum(y).backward(); // the −∞ row gets no gradient (not NaN)
  assert.deepEqual(Array.from(x.grad!.subarray(4)), [0, 0]);
  assert.ok(Math.abs(x.grad![0] - 0.25) < 1e-6 && Math.abs(x.grad![1] - 0.75) < 1e-6);
});

test('scatterRows: gradients with repeated rows, the inverse of indexRows', () => {
  const rows = Int32Array.of(4, 0, 4, 2);
  gradCheck((x) => scatterRows(x, rows, 6), [r([4, 3])]);
  gradCheck((x) => scatterRows(x, Int32Array.of(1, 0), 2), [r([2, 2, 3])]);
  const x = r([3, 2]);
  const back = indexRows(scatterRows(x, Int32Array.of(5, 1, 3), 7), Int32Array.of(5, 1, 3));
  assert.deepEqual(back.data, x.data);
  const twice = scatterRows(new Tensor(Float32Array.of(1, 2, 3, 4), [2, 2]), Int32Array.of(1, 1), 3);
  assert.deepEqual(Array.from(twice.data), [0, 0, 4, 6, 0, 0]);
  assert.throws(() => scatterRows(x, Int32Array.of(0, 1, 7), 7), /row 7 \(at 2\) out of range \[0, 7\)/);
  assert.throws(() => scatterRows(x, Int32Array.of(0, 1), 7), /2 row indices for \[3, 2\]/);
});

test('addToRows: x plus values scattered onto rows (repeats add up), by hand and gradients', () => {
  const x = new Tensor(Float32Array.of(1, 1, 2, 2, 3, 3), [3, 2]);
  const values = new Tensor(Float32Array.of(10, 20, 30, 40, 50, 60), [3, 2]);
  const y = addToRows(x, Int32Array.of(2, 0, 2), values);
  assert.deepEqual(Array.from(y.data), [31, 41, 2, 2, 63, 83]);
  const rows = Int32Array.of(4, 0, 4, 2);
  gradCheck((a, b) => addToRows(a, rows, b), [r([6, 3]), r([4, 3])]);
  // The same as x + scatterRows(values, rows, R).
  const a = r([6, 3]);
  const b = r([4, 3]);
  const want = add(a, scatterRows(b, rows, 6));
  addToRows(a, rows, b).data.forEach((v, i) => assert.ok(Math.abs(v - want.data[i]) < 1e-6));
  assert.throws(() => addToRows(x, Int32Array.of(0, 3, 1), values), /row 3 \(at 1\) out of range \[0, 3\)/);
  assert.throws(() => addToRows(x, Int32Array.of(0, 1), values), /2 row indices and values \[3, 2\]/);
});

test('row gathers and scatters at widths the native kernel takes: gradients are the row sums, in order; empty x', () => {
  const rng = new Rng(3);
  const [R, w] = [30, 64];
  const rows = Int32Array.from({ length: 50 }, () => rng.int(R)); // 3,200 floats, repeats
  const x = parameter(randomTensor([R, w], rng).data, [R, w]);
  const g = randomTensor([rows.length, w], rng).data;
  const expected = new Float32Array(R * w);
  for (let i = 0; i < rows.length; i++) for (let j = 0; j < w; j++) expected[rows[i] * w + j] += g[i * w + j];
  sum(mul(indexRows(x, rows), new Tensor(g, [rows.length, w]))).backward();
  assert.deepEqual(x.grad, expected, 'indexRows: each row gets its picks, in order');
  const v = parameter(g.slice(), [rows.length, w]);
  const up = randomTensor([R, w], rng);
  sum(mul(scatterRows(v, rows, R), up)).backward();
  const gathered = new Float32Array(rows.length * w);
  for (let i = 0; i < rows.length; i++) gathered.set(up.data.subarray(rows[i] * w, (rows[i] + 1) * w), i * w);
  assert.deepEqual(v.grad, gathered, 'scatterRows: each value row gets its target row');
  const scattered = addToRows(
    new Tensor(new Float32Array(R * w), [R, w]),
    rows,
    new Tensor(g, [rows.length, w]),
  );
  assert.deepEqual(scattered.data, expected, 'addToRows onto zeros is the scatter');
  const empty = parameter(new Float32Array(0), [0, 4]);
  sum(indexRows(empty, new Int32Array(0))).backward();
  assert.equal(empty.grad!.length, 0);
});

test('rotary position embeddings: gradients, norms kept, scores depend on the position difference only', () => {
  const positions = Int32Array.of(0, 3, 7, 1, 2, 40);
  gradCheck((x) => rotary(x, positions), [r([6, 8])]);
  gradCheck((x) => rotary(x, Int32Array.of(5, 0, 2), 100), [r([3, 4])]);
  const q = r([1, 8]);
  const k = r([1, 8]);
  const dot = (a: Tensor, b: Tensor) => a.data.reduce((s, x, i) => s + x * b.data[i], 0);
  const at = (x: Tensor, p: number) => rotary(x, Int32Array.of(p));
  assert.ok(Math.abs(dot(at(q, 5), at(q, 5)) - dot(q, q)) < 1e-4, 'the norm is kept');
  assert.ok(Math.abs(dot(at(q, 9), at(k, 4)) - dot(at(q, 105), at(k, 100))) < 1e-4, 'p − s only');
  assert.deepEqual(at(q, 0).data, q.data, 'position 0 is the identity');
  assert.throws(() => rotary(r([2, 3]), Int32Array.of(0, 1)), /even size, got 3/);
  assert.throws(() => rotary(r([2, 4]), Int32Array.of(0)), /1 positions for 2 rows/);
});

test('routed attention (MOCA): the padded formulation by hand, ragged sequences, gradients and dropout', () => {
  // 3 sequences, 2 heads of 2: sequence 0 has 2 queries and 3 keys, sequence 1 one query and 2
  // keys, sequence 2 one query and no key (it sees only the null key and value).
  const queryOffsets = Int32Array.of(0, 2, 3, 4);
  const keyOffsets = Int32Array.of(0, 3, 5, 5);
  const opts = { heads: 2, queryOffsets, keyOffsets, dropout: 0, training: false };
  const q = r([4, 4]);
  const k = r([5, 4]);
  const v = r([5, 4]);
  const nullKv = r([2, 2, 2]);
  const y = routedAttention(q, k, v, nullKv, opts);
  for (let b = 0; b < 3; b++)
    for (let h = 0; h < 2; h++)
      for (let i = queryOffsets[b]; i < queryOffsets[b + 1]; i++) {
        const qi = Array.from(q.data.subarray(i * 4 + h * 2, i * 4 + h * 2 + 2));
        const rows: [Float32Array, number, Float32Array, number][] = [
          [nullKv.data, h * 2, nullKv.data, (2 + h) * 2],
        ];
        for (let j = keyOffsets[b]; j < keyOffsets[b + 1]; j++)
          rows.push([k.data, j * 4 + h * 2, v.data, j * 4 + h * 2]);
        const scores = rows.map(([d, o]) => (qi[0] * d[o] + qi[1] * d[o + 1]) / Math.SQRT2);
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const z = e.reduce((a, x) => a + x, 0);
        for (let c = 0; c < 2; c++) {
          const want = rows.reduce((a, [, , vd, vo], j) => a + (e[j] / z) * vd[vo + c], 0);
          const got = y.data[i * 4 + h * 2 + c];
          assert.ok(Math.abs(got - want) < 1e-5, `b${b} h${h} q${i}: ${got} vs ${want}`);
        }
      }
  gradCheck((a, b, c, d) => routedAttention(a, b, c, d, opts), [q, k, v, nullKv]);
  // Dropout: the same mask for the value and the gradient (a seeded stream per evaluation).
  gradCheck(
    (a, b, c, d) => routedAttention(a, b, c, d, { ...opts, dropout: 0.3, rng: new Rng(4), training: true }),
    [q, k, v, nullKv],
  );
  assert.throws(
    () => routedAttention(q, k, v, nullKv, { ...opts, keyOffsets: Int32Array.of(0, 3, 4, 4) }),
    /key offsets must rise from 0 to 5 rows/,
  );
  assert.throws(
    () => routedAttention(q, k, v, nullKv, { ...opts, queryOffsets: Int32Array.of(0, 4) }),
    /1 sequences of queries, 3 of keys/,
  );
  assert.throws(() => routedAttention(q, k, v, r([1, 2, 2]), opts), /nullKv \[1, 2, 2\] for 2 heads/);
});

test('relation scores (MMSR): the masked bilinear products summed over relations, and gradients', () => {
  // 2 graphs of 3 nodes, d 4, 2 relations; pairs without a relation (−1) score 0.
  const [B, N, d, R] = [2, 3, 4, 2];
  const x = r([B, N, d]);
  const relations = r([R, d]);
  const kinds = Int32Array.of(0, 1, -1, -1, 0, 1, 1, -1, 0, /* graph 2 */ -1, -1, -1, 0, 1, 0, 1, 1, -1);
  const y = relationScores(x, relations, kinds);
  // The dense formulation it replaces: Σ_r bmm(x ⊙ a_r, xᵀ) ⊙ [kind = r].
  for (let p = 0; p < kinds.length; p++) {
    const [b, i, j] = [Math.floor(p / (N * N)), Math.floor(p / N) % N, p % N];
    let want = 0;
    for (let rel = 0; rel < R; rel++) {
      let e = 0;
      for (let k = 0; k < d; k++)
        e += x.data[(b * N + i) * d + k] * relations.data[rel * d + k] * x.data[(b * N + j) * d + k];
      want += kinds[p] === rel ? e : 0;
    }
    assert.ok(Math.abs(y.data[p] - want) < 1e-5, `pair ${p}: ${y.data[p]} vs ${want}`);
  }
  gradCheck((a, b) => relationScores(a, b, kinds), [x, relations]);
  assert.throws(() => relationScores(x, relations, kinds.subarray(1)), /17 relation kinds for 2×3×3 pairs/);
  assert.throws(
    () =>
      relationScores(
        x,
        relations,
        Int32Array.from(kinds, (k) => (k === 1 ? 2 : k)),
      ),
    /kind 2 at pair 1/,
  );
  assert.throws(() => relationScores(x, r([R, 3]), kinds), /x \[B, N, d\] and relations \[R, d\]/);
});

test('RMSNorm (MOCA): x / ‖x‖ · √d · γ, with gradients through γ', () => {
  const norm = new RmsNorm(4);
  norm.gamma.data.set([1, 2, 0.5, 1]);
  const x = new Tensor(Float32Array.of(1, 1, 1, 1, 3, 0, 4, 0), [2, 4]);
  const y = norm.forward(x);
  // Row 1: ‖x‖ = 2, √d = 2 → x · γ; row 2: ‖x‖ = 5 → x · 2/5 · γ.
  const expected = [1, 2, 0.5, 1, 1.2, 0, 0.8, 0];
  y.data.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-6, `${i}: ${v}`));
  // γ is the module's own parameter, perturbed in place by the check.
  gradCheck((a) => norm.forward(a), [r([3, 4]), norm.gamma]);
  // The fused op against its composition (a zero row included: it stays 0), values and gradients.
  const z = r([3, 4]);
  z.data.fill(0, 4, 8);
  const gamma = r([4]);
  const weights = r([3, 4]);
  const run = (f: (x: Tensor, g: Tensor) => Tensor) => {
    const [xc, gc] = [z, gamma].map((t) => new Tensor(Float32Array.from(t.data), t.shape, true));
    const out = f(xc, gc);
    sum(mul(out, weights)).backward();
    return [out.data, xc.grad!, gc.grad!];
  };
  const fused = run((x, g) => rmsNorm(x, g));
  const composed = run((x, g) => mul(scale(l2Normalize(x), 2), g));
  fused.forEach((a, k) =>
    a.forEach((v, i) => {
      const want = composed[k][i];
      // Relative: the zero row's gradient is u / eps, about 1e12.
      assert.ok(Math.abs(v - want) <= 1e-5 * Math.max(1, Math.abs(want)), `${k}[${i}]: ${v} vs ${want}`);
    }),
  );
  assert.ok(
    fused[0].subarray(4, 8).every((v) => v === 0),
    'the zero row stays 0',
  );
  assert.throws(() => rmsNorm(z, r([3])), /gamma must be \[4\], got \[3\]/);
});

test('soft-target cross-entropy (MOCA): gradients, one target of weight 1 is cross-entropy, decayed labels by hand', () => {
  const targets = {
    offsets: Int32Array.of(0, 2, 3, 6),
    items: Int32Array.of(1, 4, 0, 6, 2, 6),
    weights: Float32Array.of(1, 0.5, 1, 1, 0.5, 0.25),
  };
  gradCheck((h, w) => linearSoftTargetCrossEntropy(h, w, targets), [r([3, 4]), r([7, 4])]);
  const h = r([5, 3]);
  const w = r([9, 3]);
  const t = Int32Array.of(2, 8, 0, 2, 5);
  const one = { offsets: Int32Array.of(0, 1, 2, 3, 4, 5), items: t, weights: new Float32Array(5).fill(1) };
  assert.ok(
    Math.abs(linearSoftTargetCrossEntropy(h, w, one).item() - linearCrossEntropy(h, w, t).item()) < 1e-5,
  );
  // One row, logits [0, ln 2, 0]: p = [1/4, 1/2, 1/4]; targets 1 (weight 1) and 2 (weight 0.5).
  const row = linearSoftTargetCrossEntropy(
    new Tensor(Float32Array.of(1), [1, 1]),
    new Tensor(Float32Array.of(0, Math.log(2), 0), [3, 1]),
    { offsets: Int32Array.of(0, 2), items: Int32Array.of(1, 2), weights: Float32Array.of(1, 0.5) },
  );
  assert.ok(Math.abs(row.item() - (Math.log(2) + 0.5 * Math.log(4))) < 1e-6);
  assert.throws(
    () =>
      linearSoftTargetCrossEntropy(h, w, { offsets: Int32Array.of(0, 1), items: t, weights: one.weights }),
    /2 offsets \(from 0, non-decreasing\), 5 targets and 5 weights for 5 rows/,
  );
  const unordered = { offsets: Int32Array.of(0, 3, 2, 3, 4, 5), items: t, weights: one.weights };
  assert.throws(() => linearSoftTargetCrossEntropy(h, w, unordered), /non-decreasing/);
});
