/** MOCA's routers: CoLT5's coordinate-descent soft top-k and the straight-through routing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/engine/rng.js';
import { mul } from '../src/engine/ops/elementwise.js';
import { sum } from '../src/engine/ops/reduce.js';
import { Tensor } from '../src/engine/tensor.js';
import { coordinateDescent as fused } from '../src/engine/ops/coordinate-descent.js';
import { COORDINATE_DESCENT, routeTopK } from '../src/models/soft-top-k.js';
import { gradCheck, randomTensor } from './gradcheck.js';

const rng = new Rng(21);

const coordinateDescent = (
  s: Tensor,
  kEff: number,
  mask: Float32Array | null = null,
  o = COORDINATE_DESCENT,
) => fused(s, kEff, mask, o);

/** CoLT5's coor_descent written out in float64 on one row, as the reference. */
function reference(s: number[], valid: boolean[], kEff: number): number[] {
  let a = 0;
  let b = s.map((x) => -x);
  let eps = 4;
  for (let t = 0; t < 20; t++) {
    const z = s.map((x, j) => (valid[j] ? (x + b[j]) / eps : -Infinity));
    const m = Math.max(...z);
    a = eps * (Math.log(kEff) - (m + Math.log(z.reduce((acc, v) => acc + Math.exp(v - m), 0))));
    b = s.map((x) => -Math.max(0, x + a));
    eps = Math.max(eps * 0.7, 0.03);
  }
  return s.map((x, j) => (valid[j] ? Math.exp((x + a + b[j]) / eps) : 0));
}

test("coordinate descent: CoLT5's algorithm (float64 reference), p in [0, 1], Σp ≤ k_eff, non-decreasing in the score, 0 at masked tokens", () => {
  const B = 4;
  const n = 30;
  const s = randomTensor([B, n], rng, 1, false);
  const mask = Float32Array.from({ length: B * n }, (_, i) => (i < n || i % n < 25 ? 1 : 0));
  for (const kEff of [1, 4.5, 18]) {
    const p = coordinateDescent(s, kEff, mask);
    for (let b = 0; b < B; b++) {
      const at = (j: number) => b * n + j;
      const ref = reference(
        Array.from({ length: n }, (_, j) => s.data[at(j)]),
        Array.from({ length: n }, (_, j) => mask[at(j)] === 1),
        kEff,
      );
      ref.forEach((r, j) =>
        assert.ok(Math.abs(p.data[at(j)] - r) < 1e-4, `row ${b}, token ${j}: ${p.data[at(j)]} vs ${r}`),
      );
      const row = Array.from({ length: n }, (_, j) => ({
        s: s.data[at(j)],
        p: p.data[at(j)],
        ok: mask[at(j)] === 1,
      }));
      const valid = row.filter((x) => x.ok);
      // In exact arithmetic p > 0; in float32 the far tail underflows to 0.
      assert.ok(
        valid.every((x) => x.p >= 0 && x.p <= 1 + 1e-6),
        `row ${b}: p in [0, 1]`,
      );
      assert.ok(
        row.filter((x) => !x.ok).every((x) => x.p === 0),
        `row ${b}: masked tokens get 0`,
      );
      // 20 iterations approach Σp = k_eff from below (3.66 for k_eff 4.5 on such rows).
      const total = valid.reduce((acc, x) => acc + x.p, 0);
      assert.ok(total <= kEff * 1.001 && total > 0.6 * kEff, `row ${b}, k_eff ${kEff}: Σp = ${total}`);
      valid.sort((x, y) => x.s - y.s);
      valid.forEach((x, i) => i === 0 || assert.ok(x.p >= valid[i - 1].p - 1e-6, `row ${b}: monotone in s`));
    }
  }
});

test('routing: k ≥ n keeps every token with weight 1; otherwise the k best-scored tokens, straight-through weights 1', () => {
  const s = randomTensor([2, 6], rng, 1, true);
  const all = routeTopK(s, 6, Float32Array.of(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0));
  assert.deepEqual(Array.from(all.indices), [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5]);
  assert.deepEqual(Array.from(all.weights.data), [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
  const x = randomTensor([3, 40], rng, 2, true);
  const r = routeTopK(x, 8);
  assert.deepEqual(r.weights.shape, [3, 8]);
  assert.ok(
    r.weights.data.every((w) => Math.abs(w - 1) < 1e-6),
    'value 1',
  );
  for (let b = 0; b < 3; b++) {
    // The chosen tokens lie among the top ⌈k·9/8⌉ by score (p is 1 or close to it there).
    const byScore = Array.from({ length: 40 }, (_, j) => j).sort(
      (i, j) => x.data[b * 40 + j] - x.data[b * 40 + i],
    );
    const top = new Set(byScore.slice(0, 9));
    for (const j of r.indices.subarray(b * 8, (b + 1) * 8)) assert.ok(top.has(j), `row ${b}: token ${j}`);
  }
});

test('gradients: through the unrolled descent, and the routing weights carry p’s gradient', () => {
  const smooth = { iterations: 5, eps: 0.5, epsInit: 2, epsDecay: 0.7 };
  gradCheck(
    (s) => coordinateDescent(s, 2.5, Float32Array.of(1, 1, 1, 1, 0, 1, 1, 1, 1, 1), smooth),
    [randomTensor([2, 5], rng)],
  );
  // Straight-through: the weights' gradient is the gathered p's, although their value is 1.
  const s = randomTensor([2, 12], rng, 1, true);
  const r = routeTopK(s, 3);
  sum(r.weights).backward();
  const viaRoute = Float32Array.from(s.grad!);
  const s2 = new Tensor(Float32Array.from(s.data), [2, 12], true);
  const p = coordinateDescent(s2, (3 * 9) / 8);
  const picked = Array.from(r.indices, (j, i) => Math.floor(i / 3) * 12 + j);
  const seed = new Float32Array(24);
  for (const f of picked) seed[f] = 1;
  sum(mulConst(p, seed)).backward();
  viaRoute.forEach((g, i) => assert.ok(Math.abs(g - s2.grad![i]) < 1e-5, `${i}: ${g} vs ${s2.grad![i]}`));
});

/** x ⊙ c for a constant c. */
function mulConst(x: Tensor, c: Float32Array): Tensor {
  return mul(x, new Tensor(c, x.shape));
}

test('a row with nothing valid keeps nothing: p = 0 and a zero gradient, no NaN', () => {
  const s = randomTensor([2, 4], rng, 1, true);
  const p = coordinateDescent(s, 2, Float32Array.of(0, 0, 0, 0, 1, 1, 0, 1));
  assert.deepEqual(Array.from(p.data.subarray(0, 4)), [0, 0, 0, 0]);
  sum(p).backward();
  assert.ok(s.grad!.every(Number.isFinite));
  assert.deepEqual(Array.from(s.grad!.subarray(0, 4)), [0, 0, 0, 0]);
  assert.equal(s.grad![6], 0); // masked in a valid row
});
