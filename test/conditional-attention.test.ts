/** One MOCA conditional-attention expert: against a direct computation, routing, gradients. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sum } from '../src/engine/ops/reduce.js';
import { Rng } from '../src/engine/rng.js';
import { concat, reshape, slice } from '../src/engine/ops/shape.js';
import { matmul } from '../src/engine/ops/matmul.js';
import { ConditionalAttention } from '../src/models/conditional-attention.js';
import { denseGrid } from '../src/models/token-grid.js';
import { gradCheck, randomTensor } from './gradcheck.js';

const cfg = { dim: 8, heads: 2, headDim: 4, queries: 16, keyValues: 16, attnDropout: 0, initStd: 0.3 };

/** The expert with every token routed, written out in float64 (RMSNorm, rotary, null key/value). */
function reference(
  ca: ConditionalAttention,
  x: Float32Array,
  B: number,
  n: number,
  valid: Float32Array,
  pos: Int32Array,
): number[] {
  const { dim: d, heads: H, headDim: dh } = cfg;
  const W = (t: Float32Array, rows: number, cols: number) => (r: number, c: number) => t[r * cols + c];
  const wq = W(ca.toQ.weight.data, H * dh, d);
  const wkv = W(ca.toKv.weight.data, 2 * H * dh, d);
  const wo = W(ca.toOut.weight.data, d, H * dh);
  const g = ca.norm.gamma.data;
  const out: number[] = new Array(B * n * d).fill(0);
  const rot = (vec: number[], p: number) => {
    const half = dh / 2;
    return vec.map((_, i) => {
      const f = i % half;
      const a = p * 10000 ** (-(2 * f) / dh);
      return i < half
        ? vec[i] * Math.cos(a) - vec[i + half] * Math.sin(a)
        : vec[i] * Math.cos(a) + vec[i - half] * Math.sin(a);
    });
  };
  for (let b = 0; b < B; b++) {
    const tok = (t: number) => {
      const row = Array.from({ length: d }, (_, e) => x[(b * n + t) * d + e]);
      const norm = Math.sqrt(row.reduce((s, v) => s + v * v, 0));
      return row.map((v, e) => (v / Math.max(norm, 1e-12)) * Math.sqrt(d) * g[e]);
    };
    const xs = Array.from({ length: n }, (_, t) => tok(t));
    const proj = (w: (r: number, c: number) => number, r0: number, t: number) =>
      Array.from({ length: H * dh }, (_, o) => xs[t].reduce((s, v, e) => s + v * w(r0 + o, e), 0));
    const q = xs.map((_, t) => proj(wq, 0, t));
    const k = xs.map((_, t) => proj(wkv, 0, t));
    const v = xs.map((_, t) => proj(wkv, H * dh, t).map((z) => z * valid[b * n + t]));
    for (let t = 0; t < n; t++) {
      const merged: number[] = [];
      for (let h = 0; h < H; h++) {
        const head = (vec: number[]) => vec.slice(h * dh, (h + 1) * dh);
        const qh = rot(head(q[t]), pos[b * n + t]);
        const keys = [Array.from(ca.nullKv.data.subarray(h * dh, (h + 1) * dh))];
        const vals = [Array.from(ca.nullKv.data.subarray((H + h) * dh, (H + h + 1) * dh))];
        for (let j = 0; j < n; j++) {
          if (valid[b * n + j] !== 1) continue;
          keys.push(rot(head(k[j]), pos[b * n + j]));
          vals.push(head(v[j]));
        }
        const sc = keys.map((kk) => kk.reduce((s, z, i) => s + z * qh[i], 0) / Math.sqrt(dh));
        const m = Math.max(...sc);
        const e = sc.map((s) => Math.exp(s - m));
        const z = e.reduce((s, w) => s + w, 0);
        merged.push(
          ...Array.from({ length: dh }, (_, i) => vals.reduce((s, vv, j) => s + (e[j] / z) * vv[i], 0)),
        );
      }
      for (let o = 0; o < d; o++)
        out[(b * n + t) * d + o] = merged.reduce((s, m, i) => s + m * wo(o, i), 0) * valid[b * n + t];
    }
  }
  return out;
}

test('with every token routed it is non-causal attention with rotary positions and a null key/value', () => {
  const rng = new Rng(4);
  const ca = new ConditionalAttention(cfg, rng);
  const B = 2;
  const n = 5;
  const x = randomTensor([B, n, 8], rng);
  const valid = Float32Array.of(1, 1, 1, 1, 1, 1, 1, 1, 0, 0);
  const pos = Int32Array.of(0, 1, 2, 3, 4, 0, 1, 2, 3, 4);
  const y = ca.forward(reshape(x, [B * n, 8]), denseGrid(B, n, valid, pos), rng, false);
  assert.deepEqual(y.shape, [B * n, 8]);
  const ref = reference(ca, x.data, B, n, valid, pos);
  ref.forEach((r, i) => assert.ok(Math.abs(y.data[i] - r) < 1e-4, `${i}: ${y.data[i]} vs ${r}`));
});

test('routing: only the routed query tokens get an output, and the routers receive gradients', () => {
  const rng = new Rng(6);
  const ca = new ConditionalAttention({ ...cfg, queries: 3, keyValues: 4 }, rng);
  const n = 12;
  const x = randomTensor([2, n, 8], rng);
  const y = ca.forward(reshape(x, [2 * n, 8]), denseGrid(2, n), rng, true);
  for (let b = 0; b < 2; b++) {
    const written = Array.from({ length: n }, (_, t) =>
      y.data.subarray((b * n + t) * 8, (b * n + t + 1) * 8).some((v) => v !== 0),
    );
    assert.equal(written.filter(Boolean).length, 3, `sequence ${b}: three query tokens answered`);
  }
  sum(y).backward();
  assert.ok(
    ca.queryRouter.grad!.some((g) => g !== 0),
    'the query router learns',
  );
  assert.ok(
    ca.kvRouter.grad!.some((g) => g !== 0),
    'the key/value router learns',
  );
});

test("a layer's shared router product gives an expert the same answers as its own scores", () => {
  const rng = new Rng(9);
  const [first, second] = [0, 1].map(
    () => new ConditionalAttention({ ...cfg, queries: 3, keyValues: 4 }, rng),
  );
  const n = 12;
  const x = randomTensor([2 * n, 8], rng);
  const grid = denseGrid(2, n);
  // As ConditionalLayer: every expert's two routers in one product, the second expert's columns 2-3.
  const routers = concat([...first.routers(), ...second.routers()], 1);
  const shared = second.answers(x, grid, rng, false, slice(matmul(x, routers), 1, 2, 4));
  const own = second.answers(x, grid, rng, false);
  assert.deepEqual(Array.from(shared.rows), Array.from(own.rows));
  assert.deepEqual(bits(shared.values.data), bits(own.values.data));
  sum(shared.values).backward();
  for (const router of second.routers())
    assert.ok(
      router.grad!.some((g) => g !== 0),
      'its routers learn',
    );
  for (const router of first.routers())
    assert.ok(!router.grad?.some((g) => g !== 0), "not the other expert's");
});

test('gradients with respect to the tokens (every token routed, so the routing does not jump)', () => {
  const rng = new Rng(8);
  const ca = new ConditionalAttention({ ...cfg, queries: 4, keyValues: 4 }, rng);
  const valid = Float32Array.of(1, 1, 1, 0);
  const pos = Int32Array.of(0, 1, 2, 3);
  const grid = denseGrid(1, 4, valid, pos);
  gradCheck((x) => ca.forward(x, grid, rng, false), [randomTensor([4, 8], rng)]);
});

function bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}
