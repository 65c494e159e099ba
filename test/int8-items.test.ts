/**
 * The 8-bit item table: its codes by hand, its error bound on random tables, and that its top k
 * is the float32 table's exact top k (ties, skipped ids, NaN, several blocks, k beyond the catalog).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/engine/rng.js';
import { jsKernels } from '../src/kernels/js.js';
import { probeBackends, useBackend, kernels } from '../src/kernels/select.js';
import {
  Int8TopK,
  quantizeItems,
  quantizeItemsSteps,
  scoreUsersInt8Blocks,
  type Int8Items,
} from '../src/serve/int8-items.js';

const rng = new Rng(29);
const gaussian = (n: number) => Float32Array.from({ length: n }, () => rng.normal());

/** The exact top k of users[b] over rows 1..N: float64 dots rounded to float32, ties to the lower id. */
function exactTopK(items: Float32Array, dim: number, user: Float32Array, k: number, skip: Set<number>) {
  const rows: { id: number; score: number }[] = [];
  for (let i = 1; i < items.length / dim; i++) {
    if (skip.has(i)) continue;
    let dot = 0;
    for (let j = 0; j < dim; j++) dot += user[j] * items[i * dim + j];
    if (!Number.isNaN(dot)) rows.push({ id: i, score: Math.fround(dot) });
  }
  rows.sort((a, b) => b.score - a.score || a.id - b.id);
  return rows.slice(0, k).map((r) => r.id);
}

/** Each user's top k through the 8-bit table, all users in one blocked product. */
function int8TopK(t: Int8Items, users: Float32Array, B: number, k: number, skips: Set<number>[]) {
  const tops = Array.from(
    { length: B },
    (_, b) => new Int8TopK(k, skips[b], users.subarray(b * t.dim, (b + 1) * t.dim), t),
  );
  scoreUsersInt8Blocks(t, users, B, null, (scores, first, count) =>
    tops.forEach((top, b) => top.scan(scores, b * count, first, count)),
  );
  return tops;
}

test('quantizeItems: codes round v / (max|v| / 127), a zero row stays zero (hand-computed)', () => {
  const t = quantizeItems(Float32Array.of(0, 0, 0, 0.5, -1, 0.25), 3);
  assert.deepEqual(Array.from(t.codes), [0, 0, 0, 64, -127, 32]);
  assert.deepEqual(Array.from(t.scales), [0, Math.fround(1 / 127)]);
  // The residual of row 1: 0.5 − 64/127 and 0.25 − 32/127 (−1 is exact), plus rounding slack.
  const residual = Math.hypot(0.5 - 64 / 127, 0.25 - 32 / 127);
  assert.ok(t.maxError >= residual && t.maxError < residual * 1.01, String(t.maxError));
});

for (const backend of ['js', 'native'] as const) {
  const probe = probeBackends().find((p) => p.name === backend);
  const skip = backend === 'js' || probe?.available ? false : `unavailable: ${probe?.reason}`;

  test(`${backend}: |exact − approximate| ≤ ‖u‖ · maxError on every item of random tables`, { skip }, () => {
    useBackend(backend);
    for (const dim of [8, 64, 130]) {
      const n = 500;
      const items = gaussian((n + 1) * dim);
      for (let j = 0; j < dim; j++) items[7 * dim + j] *= 1e-3; // a row far smaller than the rest
      const t = quantizeItems(items, dim);
      const B = 3;
      const users = gaussian(B * dim);
      const approx = new Float32Array(B * n);
      kernels().scoreInt8Rows(users, B, t.codes.subarray(dim), t.scales.subarray(1), n, dim, approx);
      for (let b = 0; b < B; b++) {
        const u = users.subarray(b * dim, (b + 1) * dim);
        const norm = Math.hypot(...u);
        for (let i = 1; i <= n; i++) {
          let exact = 0;
          for (let j = 0; j < dim; j++) exact += u[j] * items[i * dim + j];
          const gap = Math.abs(exact - approx[b * n + i - 1]);
          assert.ok(
            gap <= norm * t.maxError,
            `dim ${dim}, user ${b}, item ${i}: ${gap} > ${norm * t.maxError}`,
          );
        }
      }
    }
  });

  test(`${backend}: the 8-bit top k is the exact top k, over several blocks, skipping ids`, { skip }, () => {
    useBackend(backend);
    const dim = 8;
    const n = 20_000;
    const B = 64; // 2^20 / 64 = 16,384 items a block: two blocks
    const items = gaussian((n + 1) * dim);
    // Duplicate rows (exact ties) and near-duplicates (closer than the codes can tell apart).
    for (let j = 0; j < dim; j++) {
      items[200 * dim + j] = items[100 * dim + j];
      items[19_999 * dim + j] = items[100 * dim + j] * (1 + 1e-6);
    }
    const t = quantizeItems(items, dim);
    const users = gaussian(B * dim);
    for (let j = 0; j < dim; j++) users[j] = items[100 * dim + j] * 10; // user 0 prefers 100, 200, 19,999
    const skips = Array.from({ length: B }, (_, b) => new Set(b % 3 === 0 ? [1, 2, 3, 200] : []));
    for (const k of [1, 10, 100]) {
      const tops = int8TopK(t, users, B, k, skips);
      for (let b = 0; b < B; b++) {
        const u = users.subarray(b * dim, (b + 1) * dim);
        const got = tops[b].finish();
        assert.deepEqual(got.ids, exactTopK(items, dim, u, k, skips[b]), `k ${k}, user ${b}`);
        assert.ok(tops[b].rescored < n / 20, `user ${b} rescored ${tops[b].rescored} items`);
      }
    }
  });
}

test('quantizeItemsSteps yields between blocks of rows and makes the same table as quantizeItems', () => {
  const dim = 16;
  const items = gaussian(10_000 * dim); // 2^16 / 16 = 4,096 rows a step: three steps
  const steps = quantizeItemsSteps(items, dim);
  let yields = 0;
  let r = steps.next();
  for (; !r.done; r = steps.next()) yields++;
  assert.equal(yields, 2);
  const whole = quantizeItems(items, dim);
  assert.deepEqual(r.value.codes, whole.codes);
  assert.deepEqual(r.value.scales, whole.scales);
  assert.equal(r.value.maxError, whole.maxError);
});

test('k beyond the catalog, NaN users and a catalog of zeros: the same as the exact ranking', () => {
  useBackend('js');
  const dim = 4;
  const items = gaussian(6 * dim);
  const t = quantizeItems(items, dim);
  const users = Float32Array.of(1, -1, 0.5, 2, NaN, 1, 1, 1);
  const [a, nan] = int8TopK(t, users, 2, 50, [new Set([2]), new Set()]);
  assert.deepEqual(a.finish().ids, exactTopK(items, dim, users.subarray(0, 4), 50, new Set([2])));
  assert.deepEqual(nan.finish().ids, []);
  const zeros = quantizeItems(new Float32Array(6 * dim), dim);
  assert.deepEqual(int8TopK(zeros, users.subarray(0, 4), 1, 3, [new Set()])[0].finish().ids, [1, 2, 3]);
});

test('the js reference kernel scores like the float product of the dequantized table', () => {
  const dim = 5;
  const t = quantizeItems(gaussian(4 * dim), dim);
  const u = gaussian(dim);
  const out = new Float32Array(3);
  jsKernels.scoreInt8Rows(u, 1, t.codes.subarray(dim), t.scales.subarray(1), 3, dim, out);
  for (let i = 1; i <= 3; i++) {
    let dot = 0;
    for (let j = 0; j < dim; j++) dot += u[j] * t.scales[i] * t.codes[i * dim + j];
    assert.ok(Math.abs(out[i - 1] - dot) <= 1e-5 * Math.abs(dot) + 1e-6, `${out[i - 1]} vs ${dot}`);
  }
});
