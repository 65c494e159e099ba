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
  const order = new Int32Array(cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < cols; j++) order[j] = j;
    // A full sort of the row: rows are short (tokens of one sequence), and the order is exact.
    order.sort((a, b) => {
      const va = values[o + a];
      const vb = values[o + b];
      if (Number.isNaN(va) || Number.isNaN(vb))
        return Number.isNaN(va) === Number.isNaN(vb) ? a - b : Number.isNaN(va) ? 1 : -1;
      return vb - va || a - b;
    });
    out.set(order.subarray(0, kk), r * kk);
  }
  return out;
}
