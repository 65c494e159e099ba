/**
 * Losses. Cross-entropy runs on the kernel backend and produces its gradient in the same pass
 * (softmax − onehot), so the backward pass is a scale and a scatter.
 */
import { floats, scratch } from '../memory.js';
import { needsGrad, record } from '../autograd.js';
import { kernels } from '../../kernels/select.js';
import { Tensor } from '../tensor.js';

function checkTargets(targets: Int32Array, cols: number, what: string): void {
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i];
    if (!(t >= 0 && t < cols))
      throw new RangeError(`${what}: target ${t} at row ${i} is not a class in [0, ${cols})`);
  }
}

/**
 * Mean softmax cross-entropy of logits [R, N] against integer targets. With `rows`, only
 * those rows of logits take part (targets[i] belongs to rows[i]); the others get no gradient.
 */
export function crossEntropy(logits: Tensor, targets: Int32Array, rows?: Int32Array): Tensor {
  if (logits.rank !== 2)
    throw new RangeError(`crossEntropy expects logits [R, N], got [${logits.shape.join(', ')}]`);
  const [R, N] = logits.shape;
  const count = rows ? rows.length : R;
  if (targets.length !== count)
    throw new RangeError(`crossEntropy: ${targets.length} targets for ${count} rows`);
  if (count === 0) throw new RangeError('crossEntropy: no rows selected');
  checkTargets(targets, N, 'crossEntropy');
  const work = floats(count * N);
  if (rows) {
    for (let i = 0; i < count; i++) {
      const r = rows[i];
      if (!(r >= 0 && r < R)) throw new RangeError(`crossEntropy: row ${r} out of range [0, ${R})`);
      work.set(logits.data.subarray(r * N, (r + 1) * N), i * N);
    }
  } else work.set(logits.data);
  const total = kernels().crossEntropyRows(work, count, N, targets, 1 / count);
  const out = new Tensor(Float32Array.of(total / count), [1]);
  if (!needsGrad(logits)) return out;
  return record(out, () => {
    const g = out.grad![0];
    const gl = logits.gradBuffer();
    for (let i = 0; i < count; i++) {
      const dst = (rows ? rows[i] : i) * N;
      const src = i * N;
      for (let j = 0; j < N; j++) gl[dst + j] += g * work[src + j];
    }
  });
}

/**
 * Mean cross-entropy of softmax(h · Wᵀ) against integer targets, for h [R, d] and W [N, d]:
 * the full-softmax next-item loss, fused. It never materialises all R×N logits at once:
 * it runs over chunks of rows, and computes both gradients in the same pass, so memory is one
 * chunk of logits instead of two full R×N matrices. `columnOffsets` [N], when given, are
 * constants added to every row's logits (a sampled softmax's log-probability correction);
 * `chunkLogits` bounds a chunk's logits (at least 32 rows a chunk).
 */
export function linearCrossEntropy(
  h: Tensor,
  weight: Tensor,
  targets: Int32Array,
  columnOffsets?: Float32Array,
  chunkLogits = CHUNK_LOGITS,
): Tensor {
  const { R, N } = checkLinear(h, weight, 'linearCrossEntropy');
  if (targets.length !== R)
    throw new RangeError(`linearCrossEntropy: ${targets.length} targets for ${R} rows`);
  checkTargets(targets, N, 'linearCrossEntropy');
  if (!(chunkLogits >= 1))
    throw new RangeError(`linearCrossEntropy: chunkLogits must be at least 1, got ${chunkLogits}`);
  if (columnOffsets && columnOffsets.length !== N)
    throw new RangeError(`linearCrossEntropy: ${columnOffsets.length} column offsets for ${N} columns`);
  return fusedLinearLoss(
    h,
    weight,
    (logits, r0, c) => {
      if (columnOffsets) addToRows(logits, c, columnOffsets);
      return kernels().crossEntropyRows(logits, c, N, targets.subarray(r0, r0 + c), 1 / R);
    },
    chunkLogits,
  );
}

/** Several weighted targets per row: row r's are items[offsets[r]..offsets[r + 1]) with their weights. */
export interface SoftTargets {
  offsets: Int32Array;
  items: Int32Array;
  weights: Float32Array;
}

/**
 * Mean over rows of −Σ_j w_j log softmax(h · Wᵀ)[t_j]: cross-entropy against unnormalised soft
 * targets (MOCA's decayed labels: weights 0.5^j over a prefix's later items), fused like
 * linearCrossEntropy (chunks of rows, both gradients in the same pass).
 */
export function linearSoftTargetCrossEntropy(h: Tensor, weight: Tensor, targets: SoftTargets): Tensor {
  const { R, N } = checkLinear(h, weight, 'linearSoftTargetCrossEntropy');
  const { offsets, items, weights } = targets;
  const ordered = offsets.every((o, r) => (r === 0 ? o === 0 : o >= offsets[r - 1]));
  if (offsets.length !== R + 1 || !ordered || offsets[R] !== items.length || weights.length !== items.length)
    throw new RangeError(
      `linearSoftTargetCrossEntropy: ${offsets.length} offsets (from 0, non-decreasing), ${items.length} targets and ${weights.length} weights for ${R} rows`,
    );
  checkTargets(items, N, 'linearSoftTargetCrossEntropy');
  return fusedLinearLoss(h, weight, (logits, r0, c) =>
    kernels().softTargetCrossEntropyRows(logits, c, N, offsets, items, weights, r0, 1 / R),
  );
}

/**
 * Logits a chunk of the fused losses holds at most (32 MB, a step arena's slab). Fewer, larger
 * chunks pack W and read and write gW fewer times: on Beauty (12,101 items, 2,304 rows) 4 chunks
 * instead of 7 (at 2^22) made the loss 4% faster, 171 -> 164 ms (alternating runs).
 */
export const CHUNK_LOGITS = 1 << 23;

function checkLinear(h: Tensor, weight: Tensor, what: string): { R: number; N: number } {
  if (h.rank !== 2 || weight.rank !== 2 || h.shape[1] !== weight.shape[1]) {
    throw new RangeError(`${what}: h [${h.shape.join(', ')}] and W [${weight.shape.join(', ')}] do not fit`);
  }
  if (h.shape[0] === 0) throw new RangeError(`${what}: no rows`);
  return { R: h.shape[0], N: weight.shape[0] };
}

/**
 * The fused loss over logits h · Wᵀ, a chunk of rows at a time: `rows(logits, r0, c)` returns the
 * chunk's summed loss and leaves the logits' gradient (already divided by R) in their place.
 */
function fusedLinearLoss(
  h: Tensor,
  weight: Tensor,
  rows: (logits: Float32Array, r0: number, count: number) => number,
  chunkLogits = CHUNK_LOGITS,
): Tensor {
  const [R, d] = h.shape;
  const N = weight.shape[0];
  const K = kernels();
  const grad = needsGrad(h, weight);
  // Written before read: gh chunk by chunk (beta 0), gw by the first chunk (beta 0), logits by each.
  const gh = grad && h.requiresGrad ? scratch(R * d) : null;
  const gw = grad && weight.requiresGrad ? scratch(N * d) : null;
  // At most chunkLogits logits a chunk, or 32 rows. Every chunk but the last of the same size, so
  // that the logits buffer is one size from batch to batch and the step arena reuses it (chunks
  // of equal size, varying with R, took twice the memory over a Beauty epoch).
  const chunk = Math.min(R, Math.max(32, Math.floor(chunkLogits / N)));
  const logits = scratch(Math.min(chunk, R) * N);
  let total = 0;
  for (let r0 = 0; r0 < R; r0 += chunk) {
    const c = Math.min(chunk, R - r0);
    const hc = h.data.subarray(r0 * d, (r0 + c) * d);
    K.sgemm(false, true, c, N, d, 1, hc, d, weight.data, d, 0, logits, N);
    total += rows(logits.subarray(0, c * N), r0, c);
    if (gh)
      K.sgemm(false, false, c, d, N, 1, logits, N, weight.data, d, 0, gh.subarray(r0 * d, (r0 + c) * d), d);
    if (gw) K.sgemm(true, false, N, d, c, 1, logits, N, hc, d, r0 === 0 ? 0 : 1, gw, d);
  }
  const out = new Tensor(Float32Array.of(total / R), [1]);
  if (!grad) return out;
  return record(out, () => {
    const g = out.grad![0];
    if (gh) h.giveGrad(gh, g);
    if (gw) weight.giveGrad(gw, g);
  });
}

/** x[r, j] += b[j] for each of `rows` contiguous rows of length b.length. */
function addToRows(x: Float32Array, rows: number, b: Float32Array): void {
  const n = b.length;
  for (let r = 0; r < rows; r++) for (let j = 0; j < n; j++) x[r * n + j] += b[j];
}

/**
 * Binary cross-entropy with logits for multi-hot targets (same shape as logits), averaged
 * over all elements of the selected rows (all rows when `rows` is omitted).
 */
export function bceWithLogits(logits: Tensor, targets: Float32Array, rows?: Int32Array): Tensor {
  if (targets.length !== logits.size)
    throw new RangeError(`bceWithLogits: ${targets.length} targets for ${logits.size} logits`);
  const C = logits.shape[logits.rank - 1];
  const R = logits.size / C;
  if (rows && rows.length === 0) throw new RangeError('bceWithLogits: no rows selected');
  // The selected rows, contiguous (no copy when every row is selected).
  let x = logits.data;
  let y = targets;
  if (rows) {
    x = scratch(rows.length * C); // every row set below
    y = scratch(rows.length * C);
    rows.forEach((r, k) => {
      if (!(r >= 0 && r < R)) throw new RangeError(`bceWithLogits: row ${r} out of range [0, ${R})`);
      x.set(logits.data.subarray(r * C, (r + 1) * C), k * C);
      y.set(targets.subarray(r * C, (r + 1) * C), k * C);
    });
  }
  const n = x.length;
  if (n === 0) throw new RangeError('bceWithLogits: no elements');
  // σ(x) − y per selected element (the kernel writes each), kept for the backward pass.
  const diff = scratch(n);
  const total = kernels().bceWithLogits(x, y, diff, n);
  const out = new Tensor(Float32Array.of(total / n), [1]);
  if (!needsGrad(logits)) return out;
  return record(out, () => {
    const g = out.grad![0] / n;
    if (!rows) {
      // Every logit's gradient: written straight into a fresh buffer when it is the first.
      const { buf, beta } = logits.gradTarget();
      kernels().axpy(diff.length, g, diff, buf, beta);
      return;
    }
    const gl = logits.gradBuffer();
    rows.forEach((r, k) =>
      kernels().axpy(C, g, diff.subarray(k * C, (k + 1) * C), gl.subarray(r * C, (r + 1) * C), 1),
    );
  });
}
