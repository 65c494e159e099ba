/** The top-k index helper (routers keep the k best tokens of a row). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { topkIndices } from '../src/engine/ops/topk.js';
import { Rng } from '../src/engine/rng.js';

test('topkIndices by hand: best first, ties to the lower index, NaN last, k beyond the row', () => {
  //                                 0  1  2    3  4     5   | row 2: 0  1     2  3    4  5
  const v = Float32Array.of(3, 5, NaN, 5, -1, Infinity, 0, -Infinity, 2, 2, 1, NaN);
  assert.deepEqual(Array.from(topkIndices(v, 2, 6, 3)), [5, 1, 3, 2, 3, 4]);
  assert.deepEqual(Array.from(topkIndices(v, 2, 6, 10)), [5, 1, 3, 0, 4, 2, 2, 3, 4, 0, 1, 5]);
  assert.deepEqual(Array.from(topkIndices(v, 2, 6, 0)), []);
  assert.throws(() => topkIndices(v, 2, 5, 1), /12 values for 2 rows of 5/);
  assert.throws(() => topkIndices(v, 2, 6, 1.5), /non-negative integer/);
});

/** The reference: a stable sort of each row, NaN below every number. */
function sortedIndices(v: Float32Array, o: number, cols: number): number[] {
  const key = (j: number) => (Number.isNaN(v[o + j]) ? -Infinity : v[o + j]);
  const nan = (j: number) => (Number.isNaN(v[o + j]) ? 1 : 0);
  return Array.from({ length: cols }, (_, j) => j).sort(
    (a, b) => nan(a) - nan(b) || key(b) - key(a) || a - b,
  );
}

test('topkIndices equals sorting each row (random rows with ties, NaN, infinities and signed zeros)', () => {
  const rng = new Rng(8);
  const special = [NaN, Infinity, -Infinity, 0, -0];
  for (let t = 0; t < 400; t++) {
    const rows = 1 + rng.int(4);
    const cols = 1 + rng.int(t < 200 ? 12 : 200);
    const k = rng.int(t < 200 ? cols + 3 : 24);
    const v = Float32Array.from({ length: rows * cols }, () =>
      rng.int(8) === 0 ? special[rng.int(special.length)] : rng.int(5),
    );
    const got = topkIndices(v, rows, cols, k);
    const kk = Math.min(k, cols);
    for (let r = 0; r < rows; r++) {
      const expected = sortedIndices(v, r * cols, cols).slice(0, kk);
      assert.deepEqual(Array.from(got.subarray(r * kk, (r + 1) * kk)), expected, `row ${r} of trial ${t}`);
    }
  }
});
