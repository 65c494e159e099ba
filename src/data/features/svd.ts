/**
 * Truncated SVD of an implicit matrix by randomized subspace iteration (Halko, Martinsson &
 * Tropp 2011, algorithms 4.4 and 5.1). Used by the content encoders: LSA on TF-IDF and PCA
 * on image thumbnails.
 *
 * Precision plan: the tall factors (rows×r, cols×r, r = k + oversample) stay float32 and
 * every product with them runs through `kernels().sgemm` (OpenBLAS on the native backend);
 * the small r×r factors (Cholesky factors, B·Bᵀ, its eigenvectors) are float64.
 * Orthonormalisation is CholeskyQR2 with rank detection: columns that turn out to be
 * (numerically) dependent are replaced by random directions orthogonal to the rest, so Q is
 * always a full orthonormal basis, even for rank-deficient or all-zero inputs.
 *
 * Deterministic: same operator, k, options and seed -> bit-identical result on one backend.
 * OpenBLAS partitions its sums by thread, so the products run on one thread whatever
 * CAMMSR_THREADS says: a prepared dataset's checksum must not depend on the thread count.
 */
import { Rng } from '../../engine/rng.js';
import { kernels } from '../../kernels/select.js';
import type { ProgressFn } from '../types.js';

/** A matrix known only by its products with blocks of vectors (all row-major float32). */
export interface LinearOperator {
  rows: number;
  cols: number;
  /** A·X: X is cols×k row-major -> rows×k. */
  mul(x: Float32Array, k: number): Float32Array;
  /** Aᵀ·Y: Y is rows×k row-major -> cols×k. */
  mulT(y: Float32Array, k: number): Float32Array;
}

/** Compressed sparse rows: row i holds indices/values[indptr[i] .. indptr[i+1]). */
export interface CsrMatrix {
  rows: number;
  cols: number;
  indptr: Int32Array;
  indices: Int32Array;
  values: Float32Array;
}

export interface SvdOptions {
  /** Extra sketch columns beyond k (default 10). */
  oversample?: number;
  /** Power (subspace) iterations; more sharpens slowly decaying spectra (default 4). */
  powerIters?: number;
  seed: number;
  /** Called after each power iteration, with `stage` (default "svd"). */
  progress?: ProgressFn;
  stage?: string;
}

export interface SvdResult {
  /** rows×k, orthonormal columns. */
  u: Float32Array;
  /** k singular values, descending; values at or below the rank tolerance are exactly 0. */
  s: Float64Array;
  /** cols×k, orthonormal columns. */
  v: Float32Array;
  /** Number of triplets returned: min(requested k, rows, cols). */
  k: number;
  requestedK: number;
  /** True when the requested k exceeded min(rows, cols) and was reduced. */
  clamped: boolean;
  /**
   * Numerical rank among the k triplets: singular values above s₀·max(rows, cols)·ε(float32)
   * (numpy's matrix_rank rule). Columns past the rank are arbitrary orthonormal completions.
   */
  rank: number;
}

const F32_EPS = 2 ** -23;
// A column whose residual (after removing the previous ones) keeps less than this fraction of
// its squared norm, or less than TOL_ABS of the largest squared norm, is treated as dependent:
// the float32 Gram matrix cannot resolve it, so it is dropped and later refilled at random.
const TOL_REL = 1e-6;
const TOL_ABS = 1e-12;

/** Dense row-major rows×cols matrix as an operator (products by sgemm). */
export function denseOperator(a: Float32Array, rows: number, cols: number): LinearOperator {
  checkDims(rows, cols);
  if (a.length !== rows * cols) {
    throw new RangeError(`denseOperator: expected ${rows}×${cols} = ${rows * cols} values, got ${a.length}`);
  }
  return {
    rows,
    cols,
    mul(x, k) {
      checkBlock('mul', x, cols, k);
      const out = new Float32Array(rows * k);
      if (rows > 0 && k > 0) kernels().sgemm(false, false, rows, k, cols, 1, a, cols, x, k, 0, out, k);
      return out;
    },
    mulT(y, k) {
      checkBlock('mulT', y, rows, k);
      const out = new Float32Array(cols * k);
      if (cols > 0 && k > 0) kernels().sgemm(true, false, cols, k, rows, 1, a, cols, y, k, 0, out, k);
      return out;
    },
  };
}

/** A CSR matrix as an operator. Aᵀ products use a transposed copy built once here. */
export function csrOperator(csr: CsrMatrix): LinearOperator {
  const { rows, cols, indptr, indices, values } = csr;
  checkDims(rows, cols);
  if (indptr.length !== rows + 1) {
    throw new RangeError(`csrOperator: indptr has ${indptr.length} entries, expected rows + 1 = ${rows + 1}`);
  }
  const nnz = indptr[rows];
  if (indptr[0] !== 0 || indices.length < nnz || values.length < nnz) {
    throw new RangeError(
      `csrOperator: indptr must start at 0 and indices/values must hold indptr[rows] = ${nnz} entries`,
    );
  }
  for (let i = 0; i < rows; i++) {
    if (indptr[i + 1] < indptr[i]) throw new RangeError(`csrOperator: indptr decreases at row ${i}`);
  }
  // Transpose (CSC) by counting sort: entries of each column stay in row order.
  const tptr = new Int32Array(cols + 1);
  for (let p = 0; p < nnz; p++) {
    const j = indices[p];
    if (!(j >= 0 && j < cols)) throw new RangeError(`csrOperator: column index ${j} out of [0, ${cols})`);
    tptr[j + 1]++;
  }
  for (let j = 0; j < cols; j++) tptr[j + 1] += tptr[j];
  const tind = new Int32Array(nnz);
  const tval = new Float32Array(nnz);
  const fill = tptr.slice(0, cols);
  for (let i = 0; i < rows; i++) {
    for (let p = indptr[i]; p < indptr[i + 1]; p++) {
      const q = fill[indices[p]]++;
      tind[q] = i;
      tval[q] = values[p];
    }
  }
  return {
    rows,
    cols,
    mul(x, k) {
      checkBlock('mul', x, cols, k);
      return spmm(rows, indptr, indices, values, x, k);
    },
    mulT(y, k) {
      checkBlock('mulT', y, rows, k);
      return spmm(cols, tptr, tind, tval, y, k);
    },
  };
}

/** out (n×k) = S·X for sparse S given by ptr/ind/val; float64 accumulation per output row. */
function spmm(
  n: number,
  ptr: Int32Array,
  ind: Int32Array,
  val: Float32Array,
  x: Float32Array,
  k: number,
): Float32Array {
  const out = new Float32Array(n * k);
  const acc = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    const p0 = ptr[i];
    const p1 = ptr[i + 1];
    if (p0 === p1) continue;
    acc.fill(0);
    for (let p = p0; p < p1; p++) {
      const a = val[p];
      const off = ind[p] * k;
      for (let c = 0; c < k; c++) acc[c] += a * x[off + c];
    }
    out.set(acc, i * k);
  }
  return out;
}

function checkDims(rows: number, cols: number): void {
  if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(cols) || cols < 0) {
    throw new RangeError(`matrix dimensions must be non-negative integers, got ${rows}×${cols}`);
  }
}

function checkBlock(what: string, x: Float32Array, n: number, k: number): void {
  if (x.length !== n * k) throw new RangeError(`${what}: expected a ${n}×${k} block, got ${x.length} values`);
}

/**
 * Rank-k truncated SVD A ≈ u·diag(s)·vᵀ. k is clamped to min(rows, cols) (see `clamped`).
 * Signs are fixed so that the largest-magnitude entry of each column of u is positive.
 */
export function truncatedSvd(op: LinearOperator, k: number, options: SvdOptions): SvdResult {
  const K = kernels();
  const threads = K.threads();
  K.setThreads(1);
  try {
    return truncatedSvdOnOneThread(op, k, options);
  } finally {
    K.setThreads(threads);
  }
}

function truncatedSvdOnOneThread(op: LinearOperator, k: number, options: SvdOptions): SvdResult {
  const { oversample = 10, powerIters = 4, seed, progress, stage = 'svd' } = options;
  if (!Number.isInteger(k) || k < 0)
    throw new RangeError(`truncatedSvd: k must be an integer >= 0, got ${k}`);
  if (!Number.isInteger(oversample) || oversample < 0) {
    throw new RangeError(`truncatedSvd: oversample must be an integer >= 0, got ${oversample}`);
  }
  if (!Number.isInteger(powerIters) || powerIters < 0) {
    throw new RangeError(`truncatedSvd: powerIters must be an integer >= 0, got ${powerIters}`);
  }
  const { rows, cols } = op;
  const minDim = Math.min(rows, cols);
  const kk = Math.min(k, minDim);
  const base = { k: kk, requestedK: k, clamped: kk < k };
  if (kk === 0) {
    return { u: new Float32Array(0), s: new Float64Array(0), v: new Float32Array(0), rank: 0, ...base };
  }
  const r = Math.min(kk + oversample, minDim);
  const rng = new Rng(seed);
  const steps = powerIters + 2;

  // Range finder with subspace iteration: Q spans A·(AᵀA)^q·Ω, re-orthonormalised at each step.
  const omega = gaussian(rng, cols * r);
  let q = orthonormalize(finite(op.mul(omega, r)), rows, r, rng);
  progress?.(stage, 1, steps);
  for (let it = 0; it < powerIters; it++) {
    const z = orthonormalize(op.mulT(q, r), cols, r, rng);
    q = orthonormalize(op.mul(z, r), rows, r, rng);
    progress?.(stage, it + 2, steps);
  }

  // B = Qᵀ·A = Wᵀ with W = Aᵀ·Q (cols×r). B·Bᵀ = WᵀW = Ũ Λ Ũᵀ gives s = √λ, u = Q·Ũ, and
  // v = W·Ũ / s, which is orthonormalised (not divided) so that v stays orthonormal when
  // some s are ~0; its Cholesky factor is then ~diag(s), so the directions are unchanged.
  const w = op.mulT(q, r);
  const { values, vectors } = symmetricEigen(gramF64(w, cols, r), r);
  const ut = new Float32Array(r * kk);
  for (let i = 0; i < r; i++) for (let j = 0; j < kk; j++) ut[i * kk + j] = vectors[i * r + j];
  const u = new Float32Array(rows * kk);
  kernels().sgemm(false, false, rows, kk, r, 1, q, r, ut, kk, 0, u, kk);
  const vw = new Float32Array(cols * kk);
  kernels().sgemm(false, false, cols, kk, r, 1, w, r, ut, kk, 0, vw, kk);
  const v = orthonormalize(vw, cols, kk, rng);

  const s = new Float64Array(kk);
  for (let j = 0; j < kk; j++) s[j] = Math.sqrt(Math.max(values[j], 0));
  const tol = s[0] * Math.max(rows, cols) * F32_EPS;
  let rank = 0;
  for (let j = 0; j < kk; j++) {
    if (s[j] > tol) rank = j + 1;
    else s[j] = 0;
  }

  // Deterministic signs: the largest-|.| entry (first on ties) of each column of u is positive.
  for (let j = 0; j < kk; j++) {
    let best = 0;
    let at = 0;
    for (let i = 0; i < rows; i++) {
      const a = Math.abs(u[i * kk + j]);
      if (a > best) {
        best = a;
        at = i;
      }
    }
    if (u[at * kk + j] < 0) {
      for (let i = 0; i < rows; i++) u[i * kk + j] = -u[i * kk + j];
      for (let i = 0; i < cols; i++) v[i * kk + j] = -v[i * kk + j];
    }
  }
  progress?.(stage, steps, steps);
  return { u, s, v, rank, ...base };
}

/** NaN or ±Infinity in the matrix would silently turn every factor into garbage. */
function finite(y: Float32Array): Float32Array {
  for (let i = 0; i < y.length; i++) {
    if (!Number.isFinite(y[i])) throw new RangeError('truncatedSvd: the matrix has NaN or infinite entries');
  }
  return y;
}

function gaussian(rng: Rng, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal();
  return out;
}

/** YᵀY (r×r, float64) of an n×r float32 matrix, accumulated in float64. */
function gramF64(y: Float32Array, n: number, r: number): Float64Array {
  const g = new Float64Array(r * r);
  const row = new Float64Array(r);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < r; a++) row[a] = y[i * r + a];
    for (let a = 0; a < r; a++) {
      const ya = row[a];
      if (ya === 0) continue;
      const ga = a * r;
      for (let b = a; b < r; b++) g[ga + b] += ya * row[b];
    }
  }
  for (let a = 0; a < r; a++) for (let b = a + 1; b < r; b++) g[b * r + a] = g[a * r + b];
  return g;
}

/** YᵀY by sgemm (float32), symmetrised, as float64. */
function gramF32(y: Float32Array, n: number, r: number): Float64Array {
  const c = new Float32Array(r * r);
  kernels().sgemm(true, false, r, r, n, 1, y, r, y, r, 0, c, r);
  const g = new Float64Array(r * r);
  for (let a = 0; a < r; a++) {
    g[a * r + a] = c[a * r + a];
    for (let b = a + 1; b < r; b++) g[a * r + b] = g[b * r + a] = 0.5 * (c[a * r + b] + c[b * r + a]);
  }
  return g;
}

/**
 * An n×r matrix with orthonormal columns spanning (as far as float32 resolves it) the columns
 * of y, which is consumed. Requires n >= r. Dependent columns are replaced by random unit
 * vectors orthogonal to all others.
 */
function orthonormalize(y: Float32Array, n: number, r: number, rng: Rng, depth = 0): Float32Array {
  const dep = new Uint8Array(r);
  let q = y;
  // CholeskyQR repeated until the pass started from an almost orthonormal basis (usually 2).
  for (let pass = 0; pass < 4; pass++) {
    const g = gramF32(q, n, r);
    let dev = 0;
    for (let a = 0; a < r; a++) {
      if (dep[a]) continue;
      for (let b = 0; b < r; b++) {
        if (!dep[b]) dev = Math.max(dev, Math.abs(g[a * r + b] - (a === b ? 1 : 0)));
      }
    }
    const t = inverseCholeskyFactor(g, r, dep);
    const next = new Float32Array(n * r);
    kernels().sgemm(false, false, n, r, r, 1, q, r, t, r, 0, next, r);
    q = next;
    if (dev < 1e-2) break;
  }
  let missing = 0;
  for (let j = 0; j < r; j++) missing += dep[j];
  if (missing === 0) return q;
  if (depth >= 3) throw new Error('truncatedSvd: could not complete an orthonormal basis (internal error)');

  // Fill: random block, projected out of span(q) twice, orthonormalised, projected once more.
  const d = missing;
  let x = gaussian(rng, n * d);
  const c = new Float32Array(r * d);
  for (let rep = 0; rep < 2; rep++) {
    kernels().sgemm(true, false, r, d, n, 1, q, r, x, d, 0, c, d);
    kernels().sgemm(false, false, n, d, r, -1, q, r, c, d, 1, x, d);
  }
  x = orthonormalize(x, n, d, rng, depth + 1);
  let col = 0;
  for (let j = 0; j < r; j++) {
    if (!dep[j]) continue;
    for (let i = 0; i < n; i++) q[i * r + j] = x[i * d + col];
    col++;
  }
  return q;
}

/**
 * Cholesky G = RᵀR over the columns not yet marked in `dep` (marking new dependent ones), and
 * returns T = R⁻¹ as float32 r×r, with zero rows and columns at dependent indices, so that
 * Y·T has orthonormal columns where Y's are independent and zero columns elsewhere.
 */
function inverseCholeskyFactor(g: Float64Array, r: number, dep: Uint8Array): Float32Array {
  let maxDiag = 0;
  for (let j = 0; j < r; j++) if (!dep[j]) maxDiag = Math.max(maxDiag, g[j * r + j]);
  const R = new Float64Array(r * r);
  for (let j = 0; j < r; j++) {
    if (dep[j]) continue;
    let d = g[j * r + j];
    for (let i = 0; i < j; i++) if (!dep[i]) d -= R[i * r + j] * R[i * r + j];
    // Negated comparisons also catch NaN.
    if (!(d > TOL_REL * g[j * r + j]) || !(d > TOL_ABS * maxDiag)) {
      dep[j] = 1;
      continue;
    }
    const rjj = Math.sqrt(d);
    R[j * r + j] = rjj;
    for (let c = j + 1; c < r; c++) {
      let x = g[j * r + c];
      for (let i = 0; i < j; i++) if (!dep[i]) x -= R[i * r + j] * R[i * r + c];
      R[j * r + c] = x / rjj;
    }
  }
  // Back substitution, column by column: R·T = I on the kept indices.
  const T = new Float64Array(r * r);
  for (let c = 0; c < r; c++) {
    if (dep[c]) continue;
    T[c * r + c] = 1 / R[c * r + c];
    for (let i = c - 1; i >= 0; i--) {
      if (dep[i]) continue;
      let x = 0;
      for (let l = i + 1; l <= c; l++) if (!dep[l]) x += R[i * r + l] * T[l * r + c];
      T[i * r + c] = -x / R[i * r + i];
    }
  }
  return Float32Array.from(T);
}

/**
 * Eigen-decomposition of a symmetric n×n float64 matrix by cyclic Jacobi rotations.
 * Returns eigenvalues descending (ties keep index order) and eigenvectors as the columns of
 * a row-major n×n matrix. `a` is overwritten.
 */
export function symmetricEigen(a: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  let frob = 0;
  for (let i = 0; i < n * n; i++) frob += a[i] * a[i];
  // Off-diagonal entries this small against the whole matrix are noise (and would underflow).
  const floor = 1e-30 * Math.sqrt(frob);
  for (let sweep = 0; sweep < 60; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (Math.abs(apq) <= floor) {
          a[p * n + q] = a[q * n + p] = 0;
          continue;
        }
        const app = a[p * n + p];
        const aqq = a[q * n + q];
        // Negligible against both diagonal entries: rotating would not change them in float64.
        if (Math.abs(apq) < 1e-18 * Math.abs(app) && Math.abs(apq) < 1e-18 * Math.abs(aqq)) {
          a[p * n + q] = a[q * n + p] = 0;
          continue;
        }
        rotated = true;
        const theta = (aqq - app) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        a[p * n + q] = a[q * n + p] = 0;
        a[p * n + p] = app - t * apq;
        a[q * n + q] = aqq + t * apq;
        for (let k = 0; k < n; k++) {
          const vkp = V[k * n + p];
          const vkq = V[k * n + q];
          V[k * n + p] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
    if (!rotated) break;
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => a[j * n + j] - a[i * n + i] || i - j);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    values[dst] = a[src * n + src];
    for (let k = 0; k < n; k++) vectors[k * n + dst] = V[k * n + src];
  });
  return { values, vectors };
}
