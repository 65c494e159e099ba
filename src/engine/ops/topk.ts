/**
 * Top-k indices along the last axis: which positions a router keeps. Not an op (no gradient):
 * gather the chosen rows with indexRows, whose backward carries the gradient.
 */

/**
 * For each of the `rows` contiguous rows of length `cols` in `values`, the indices of its
 * min(k, cols) largest entries, best first; ties go to the lower index and NaN ranks below
 * every number. Returns [rows × min(k, cols)] indices.
 */
export function topkIndices(values: Float32Array, rows: number, cols: number, k: number): Int32Array {
  if (!(Number.isInteger(k) && k >= 0))
    throw new RangeError(`topkIndices: k must be a non-negative integer, got ${k}`);
  if (values.length !== rows * cols)
    throw new RangeError(`topkIndices: ${values.length} values for ${rows} rows of ${cols}`);
  const kk = Math.min(k, cols);
  const out = new Int32Array(rows * kk);
  if (kk === 0) return out;
  for (let r = 0; r < rows; r++) keepBest(values, r * cols, cols, out, r * kk, kk);
  return out;
}

/**
 * The kk best of values[o, o + cols) into out[at, at + kk), best first: an insertion into the
 * kept list, scanning the row once. The routers keep 8-16 of up to a few hundred tokens, where
 * sorting every row with a comparator took most of the routing time. The index scan is in
 * increasing order, so a token displaces a kept one only when strictly better: ties stay with
 * the lower index, as in a stable sort. O(cols · k) at worst: meant for small k.
 */
function keepBest(
  values: Float32Array,
  o: number,
  cols: number,
  out: Int32Array,
  at: number,
  kk: number,
): void {
  let kept = 0;
  for (let j = 0; j < cols; j++) {
    const v = values[o + j];
    if (kept === kk && !beats(v, values[o + out[at + kk - 1]])) continue;
    let slot = kept < kk ? kept++ : kk - 1;
    while (slot > 0 && beats(v, values[o + out[at + slot - 1]])) {
      out[at + slot] = out[at + slot - 1];
      slot--;
    }
    out[at + slot] = j;
  }
}

/** Whether a ranks above b: the larger number, and any number above NaN. */
function beats(a: number, b: number): boolean {
  return a > b || (b !== b && a === a);
}
