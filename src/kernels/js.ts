/**
 * Plain TypeScript reference kernels. Written for clarity first (they are the ground truth
 * that the native and wasm backends are tested against) and with loop orders that keep them
 * usable as a last-resort backend.
 */
import type { AdamStep, BinaryOp, GatedBlockArgs, Kernels, RowBlock } from './kernels.js';

/** erf(x) by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, below float32 resolution near 1). */
export function erf(x: number): number {
  const sign = x < 0 ? -1 : 1;
  const ax = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * ax);
  const poly =
    t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign * (1 - poly * Math.exp(-ax * ax));
}

const INV_SQRT2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** Copies op(X) (rows×cols after the optional transpose) into a dense row-major array. */
function packed(x: Float32Array, ld: number, rows: number, cols: number, trans: boolean): Float32Array {
  const out = new Float32Array(rows * cols);
  if (trans) {
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = x[c * ld + r];
  } else {
    for (let r = 0; r < rows; r++) out.set(x.subarray(r * ld, r * ld + cols), r * cols);
  }
  return out;
}

function sgemm(
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array,
  lda: number,
  b: Float32Array,
  ldb: number,
  beta: number,
  c: Float32Array,
  ldc: number,
): void {
  // Scale (or clear) C first, so that beta = 0 ignores whatever C held, NaN included.
  for (let i = 0; i < m; i++) {
    const row = i * ldc;
    if (beta === 0) c.fill(0, row, row + n);
    else if (beta !== 1) for (let j = 0; j < n; j++) c[row + j] *= beta;
  }
  if (m === 0 || n === 0 || k === 0 || alpha === 0) return;
  const A = packed(a, lda, m, k, transA);
  const B = packed(b, ldb, k, n, transB);
  // i-k-j order: the inner loop runs along contiguous rows of B and C.
  const acc = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    acc.fill(0);
    for (let p = 0; p < k; p++) {
      const aip = A[i * k + p];
      if (aip === 0) continue;
      const bRow = p * n;
      for (let j = 0; j < n; j++) acc[j] += aip * B[bRow + j];
    }
    const row = i * ldc;
    for (let j = 0; j < n; j++) c[row + j] += alpha * acc[j];
  }
}

/** Whether an optional array (null: not asked for) has fewer than `need` elements. */
const tooShort = (a: Float32Array | null, need: number) => a !== null && a.length < need;

/** softTargetCrossEntropyRows' arguments: the logits' length, offsets rising within items, every item a column. */
function checkSoftTargets(...args: Parameters<Kernels['softTargetCrossEntropyRows']>): void {
  const [logits, rows, cols, offsets, items, weights, first] = args;
  const what = 'softTargetCrossEntropyRows';
  if (logits.length < rows * cols)
    throw new RangeError(`${what}: ${logits.length} logits for ${rows} rows of ${cols}`);
  if (first < 0 || first + rows + 1 > offsets.length)
    throw new RangeError(
      `${what}: rows ${first}..${first + rows} need ${first + rows + 1} offsets, got ${offsets.length}`,
    );
  if (weights.length < items.length)
    throw new RangeError(`${what}: ${weights.length} weights for ${items.length} items`);
  for (let r = first; r < first + rows; r++) {
    if (!(offsets[r] >= 0 && offsets[r] <= offsets[r + 1] && offsets[r + 1] <= items.length))
      throw new RangeError(`${what}: offsets of row ${r - first} must rise within ${items.length} items`);
    for (let q = offsets[r]; q < offsets[r + 1]; q++)
      if (!(items[q] >= 0 && items[q] < cols))
        throw new RangeError(`${what}: target ${items[q]} of row ${r - first} not in [0, ${cols})`);
  }
}

export const jsKernels: Kernels = {
  name: 'js',

  sgemm,

  sgemmStridedBatched(
    transA,
    transB,
    m,
    n,
    k,
    alpha,
    a,
    lda,
    strideA,
    b,
    ldb,
    strideB,
    beta,
    c,
    ldc,
    strideC,
    batch,
  ) {
    for (let i = 0; i < batch; i++) {
      sgemm(
        transA,
        transB,
        m,
        n,
        k,
        alpha,
        a.subarray(i * strideA),
        lda,
        b.subarray(i * strideB),
        ldb,
        beta,
        c.subarray(i * strideC),
        ldc,
      );
    }
  },

  softmaxRows(x, rows, cols) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let max = -Infinity;
      for (let j = 0; j < cols; j++) if (x[o + j] > max) max = x[o + j];
      if (max === -Infinity) {
        x.fill(0, o, o + cols);
        continue;
      }
      let sum = 0;
      for (let j = 0; j < cols; j++) {
        const e = Math.exp(x[o + j] - max);
        x[o + j] = e;
        sum += e;
      }
      const inv = 1 / sum;
      for (let j = 0; j < cols; j++) x[o + j] *= inv;
    }
  },

  crossEntropyRows(logits, rows, cols, targets, gradScale) {
    let total = 0;
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      const t = targets[r];
      if (!(t >= 0 && t < cols))
        throw new RangeError(`crossEntropyRows: target ${t} of row ${r} not in [0, ${cols})`);
      let max = -Infinity;
      for (let j = 0; j < cols; j++) if (logits[o + j] > max) max = logits[o + j];
      let sum = 0;
      for (let j = 0; j < cols; j++) sum += Math.exp(logits[o + j] - max);
      const logZ = max + Math.log(sum);
      total += logZ - logits[o + t];
      for (let j = 0; j < cols; j++) logits[o + j] = gradScale * Math.exp(logits[o + j] - logZ);
      logits[o + t] -= gradScale;
    }
    return total;
  },

  softTargetCrossEntropyRows(...args) {
    checkSoftTargets(...args);
    const [logits, rows, cols, offsets, items, weights, first, gradScale] = args;
    let total = 0;
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let max = -Infinity;
      for (let j = 0; j < cols; j++) if (logits[o + j] > max) max = logits[o + j];
      let z = 0;
      for (let j = 0; j < cols; j++) z += Math.exp(logits[o + j] - max);
      const lse = max + Math.log(z);
      let mass = 0;
      const [q0, q1] = [offsets[first + r], offsets[first + r + 1]];
      for (let q = q0; q < q1; q++) {
        total += weights[q] * (lse - logits[o + items[q]]);
        mass += weights[q];
      }
      for (let j = 0; j < cols; j++) logits[o + j] = gradScale * mass * Math.exp(logits[o + j] - lse);
      for (let q = q0; q < q1; q++) logits[o + items[q]] -= gradScale * weights[q];
    }
    return total;
  },

  bceWithLogits(x, y, diff, n) {
    if (x.length < n || y.length < n || diff.length < n)
      throw new RangeError(`bceWithLogits: arrays shorter than n = ${n}`);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const v = x[i];
      const e = Math.exp(-Math.abs(v));
      total += Math.max(v, 0) - v * y[i] + Math.log1p(e);
      diff[i] = (v >= 0 ? 1 / (1 + e) : e / (1 + e)) - y[i];
    }
    return total;
  },

  scoreInt8Rows(users, B, codes, scales, n, dim, out) {
    if (users.length < B * dim || codes.length < n * dim || scales.length < n || out.length < B * n)
      throw new RangeError(`scoreInt8Rows: arrays shorter than ${B} users × ${n} rows of ${dim}`);
    for (let i = 0; i < n; i++) {
      const row = i * dim;
      for (let b = 0; b < B; b++) {
        let dot = 0;
        for (let j = 0; j < dim; j++) dot += users[b * dim + j] * codes[row + j];
        out[b * n + i] = scales[i] * Math.fround(dot);
      }
    }
  },

  gelu(x, y, n) {
    for (let i = 0; i < n; i++) {
      const v = x[i];
      y[i] = 0.5 * v * (1 + erf(v * INV_SQRT2));
    }
  },

  geluBackward(x, dy, dx, n) {
    for (let i = 0; i < n; i++) {
      const v = x[i];
      const cdf = 0.5 * (1 + erf(v * INV_SQRT2));
      const pdf = INV_SQRT_2PI * Math.exp(-0.5 * v * v);
      dx[i] = dy[i] * (cdf + v * pdf);
    }
  },

  tanh(x, y, n) {
    if (x.length < n || y.length < n) throw new RangeError(`tanh: arrays shorter than n = ${n}`);
    for (let i = 0; i < n; i++) y[i] = Math.tanh(x[i]);
  },

  layerNorm(x, gamma, beta, eps, rows, d, out, xhat, rstd) {
    const n = rows * d;
    if (
      x.length < n ||
      out.length < n ||
      xhat.length < n ||
      gamma.length < d ||
      beta.length < d ||
      rstd.length < rows
    )
      throw new RangeError(`layerNorm: arrays shorter than ${rows} rows of ${d}`);
    for (let r = 0; r < rows; r++) {
      const o = r * d;
      let mu = 0;
      for (let j = 0; j < d; j++) mu += x[o + j];
      mu /= d;
      let v = 0;
      for (let j = 0; j < d; j++) v += (x[o + j] - mu) * (x[o + j] - mu);
      const rs = 1 / Math.sqrt(v / d + eps);
      rstd[r] = rs;
      for (let j = 0; j < d; j++) {
        const h = (x[o + j] - mu) * rs;
        xhat[o + j] = h;
        out[o + j] = h * gamma[j] + beta[j];
      }
    }
  },

  layerNormBackward(dy, xhat, rstd, gamma, rows, d, gx, accumulate, gGamma, gBeta) {
    const n = rows * d;
    if (
      tooShort(dy, n) ||
      tooShort(xhat, n) ||
      tooShort(gx, n) ||
      tooShort(rstd, rows) ||
      tooShort(gamma, d) ||
      tooShort(gGamma, d) ||
      tooShort(gBeta, d)
    )
      throw new RangeError(`layerNormBackward: arrays shorter than ${rows} rows of ${d}`);
    for (let r = 0; r < rows; r++) {
      const o = r * d;
      let sumG = 0;
      let sumGX = 0;
      for (let j = 0; j < d; j++) {
        const gh = dy[o + j] * gamma[j];
        sumG += gh;
        sumGX += gh * xhat[o + j];
        if (gGamma) gGamma[j] += dy[o + j] * xhat[o + j];
        if (gBeta) gBeta[j] += dy[o + j];
      }
      if (!gx) continue;
      const f = rstd[r] / d;
      for (let j = 0; j < d; j++) {
        const v = f * (d * dy[o + j] * gamma[j] - sumG - xhat[o + j] * sumGX);
        gx[o + j] = accumulate ? gx[o + j] + v : v;
      }
    }
  },

  rmsNorm(x, gamma, eps, rows, d, out, norms) {
    const n = rows * d;
    if (x.length < n || out.length < n || gamma.length < d || norms.length < rows)
      throw new RangeError(`rmsNorm: arrays shorter than ${rows} rows of ${d}`);
    const c = Math.sqrt(d);
    for (let r = 0; r < rows; r++) {
      const o = r * d;
      let s = 0;
      for (let j = 0; j < d; j++) s += x[o + j] * x[o + j];
      const norm = Math.max(Math.sqrt(s), eps);
      norms[r] = norm;
      const k = c / norm;
      for (let j = 0; j < d; j++) out[o + j] = x[o + j] * k * gamma[j];
    }
  },

  rmsNormBackward(dy, x, norms, gamma, eps, rows, d, gx, accumulate, gGamma) {
    const n = rows * d;
    if (
      tooShort(dy, n) ||
      tooShort(x, n) ||
      tooShort(gx, n) ||
      tooShort(norms, rows) ||
      tooShort(gamma, d) ||
      tooShort(gGamma, d)
    )
      throw new RangeError(`rmsNormBackward: arrays shorter than ${rows} rows of ${d}`);
    const c = Math.sqrt(d);
    for (let r = 0; r < rows; r++) {
      const o = r * d;
      const inv = 1 / norms[r];
      const k = c * inv;
      // x̂ · u with u = dy ⊙ γ · √d; γ's gradient is Σ dy ⊙ x̂ · √d.
      let dot = 0;
      for (let j = 0; j < d; j++) {
        const t = dy[o + j] * x[o + j] * k;
        if (gGamma) gGamma[j] += t;
        dot += t * gamma[j];
      }
      if (!gx) continue;
      // Clamped to eps (the norm holds eps rounded to float32): x / eps has no projection term.
      const back = norms[r] <= Math.fround(eps) ? 0 : dot * inv;
      for (let j = 0; j < d; j++) {
        const v = (dy[o + j] * gamma[j] * c - x[o + j] * back) * inv;
        gx[o + j] = accumulate ? gx[o + j] + v : v;
      }
    }
  },

  dyt(x, alpha, gamma, beta, rows, d, out, t) {
    const n = rows * d;
    if (x.length < n || out.length < n || t.length < n || gamma.length < d || beta.length < d)
      throw new RangeError(`dyt: arrays shorter than ${rows} rows of ${d}`);
    for (let r = 0; r < rows; r++) {
      const o = r * d;
      for (let j = 0; j < d; j++) {
        const th = Math.tanh(alpha * x[o + j]);
        t[o + j] = th;
        out[o + j] = gamma[j] * th + beta[j];
      }
    }
  },

  dytBackward(dy, x, t, alpha, gamma, rows, d, gx, accumulate, gGamma, gBeta) {
    const n = rows * d;
    if (
      tooShort(dy, n) ||
      tooShort(x, n) ||
      tooShort(t, n) ||
      tooShort(gx, n) ||
      tooShort(gamma, d) ||
      tooShort(gGamma, d) ||
      tooShort(gBeta, d)
    )
      throw new RangeError(`dytBackward: arrays shorter than ${rows} rows of ${d}`);
    let gAlpha = 0;
    for (let r = 0; r < rows; r++) {
      const o = r * d;
      for (let j = 0; j < d; j++) {
        const th = t[o + j];
        const pre = dy[o + j] * gamma[j] * (1 - th * th);
        if (gx) gx[o + j] = accumulate ? gx[o + j] + pre * alpha : pre * alpha;
        gAlpha += pre * x[o + j];
        if (gGamma) gGamma[j] += dy[o + j] * th;
        if (gBeta) gBeta[j] += dy[o + j];
      }
    }
    return gAlpha;
  },

  dropout(x, bits, threshold, keep, n, out, scale) {
    if (x.length < n || bits.length < n || out.length < n || scale.length < n)
      throw new RangeError(`dropout: arrays shorter than n = ${n}`);
    for (let i = 0; i < n; i++) {
      const s = bits[i] >= threshold ? keep : 0;
      scale[i] = s;
      out[i] = s === 0 ? 0 : x[i] * s;
    }
  },

  axpy(n, alpha, x, y, beta) {
    if (x.length < n || y.length < n) throw new RangeError(`axpy: arrays shorter than n = ${n}`);
    if (beta !== 0 && beta !== 1) throw new RangeError(`axpy: beta must be 0 or 1, got ${beta}`);
    if (beta === 0) for (let i = 0; i < n; i++) y[i] = alpha * x[i];
    else if (alpha === 1) for (let i = 0; i < n; i++) y[i] += x[i];
    else for (let i = 0; i < n; i++) y[i] += alpha * x[i];
  },

  binaryCycle(op, a, b, out, n, m) {
    checkPeriod('binaryCycle', 'm', n, m);
    if (a.length < n || out.length < n || b.length < m)
      throw new RangeError(`binaryCycle: arrays shorter than n = ${n} (b: m = ${m})`);
    for (let base = 0; base < n; base += m) {
      switch (op) {
        case 'add':
          for (let j = 0; j < m; j++) out[base + j] = a[base + j] + b[j];
          break;
        case 'sub':
          for (let j = 0; j < m; j++) out[base + j] = a[base + j] - b[j];
          break;
        case 'mul':
          for (let j = 0; j < m; j++) out[base + j] = a[base + j] * b[j];
          break;
        case 'div':
          for (let j = 0; j < m; j++) out[base + j] = a[base + j] / b[j];
          break;
      }
    }
  },

  binaryRepeat(op, a, b, out, n, each) {
    checkPeriod('binaryRepeat', 'each', n, each);
    if (a.length < n || out.length < n || b.length < (each === 0 ? 0 : n / each))
      throw new RangeError(`binaryRepeat: arrays shorter than n = ${n} (b: n / each = ${n / each})`);
    for (let r = 0, base = 0; base < n; r++, base += each) {
      const y = b[r];
      for (let j = base; j < base + each; j++) out[j] = apply(op, a[j], y);
    }
  },

  xoshiroWords(state, out, n) {
    if (!Number.isSafeInteger(n) || n < 0 || state.length < 4 || out.length < n)
      throw new RangeError(
        `xoshiroWords: state has ${state.length} words (needs 4), out ${out.length} (needs ${n})`,
      );
    // The state in locals: several times faster than stepping the generator's fields.
    let [s0, s1, s2, s3] = state;
    for (let i = 0; i < n; i++) {
      const m = Math.imul(s1, 5);
      out[i] = Math.imul((m << 7) | (m >>> 25), 9);
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
    }
    state[0] = s0;
    state[1] = s1;
    state[2] = s2;
    state[3] = s3;
  },

  addProductRepeat(g, y, into, n, each) {
    checkPeriod('addProductRepeat', 'each', n, each);
    if (g.length < n || into.length < n || y.length < (each === 0 ? 0 : n / each))
      throw new RangeError(`addProductRepeat: arrays shorter than n = ${n} (y: n / each = ${n / each})`);
    for (let r = 0, base = 0; base < n; r++, base += each) {
      const yr = y[r];
      for (let j = base; j < base + each; j++) into[j] += g[j] * yr;
    }
  },

  addRowDots(g, y, into, n, each) {
    checkPeriod('addRowDots', 'each', n, each);
    if (g.length < n || y.length < n || into.length < (each === 0 ? 0 : n / each))
      throw new RangeError(`addRowDots: arrays shorter than n = ${n} (into: n / each = ${n / each})`);
    for (let r = 0, base = 0; base < n; r++, base += each) {
      let acc = 0;
      for (let j = base; j < base + each; j++) acc += g[j] * y[j];
      into[r] += acc;
    }
  },

  indexedAddRows(src, rows, dst, width, scatter) {
    checkIndexedRows('indexedAddRows', src, rows, dst, width, scatter);
    for (let i = 0; i < rows.length; i++) {
      const s = (scatter ? i : rows[i]) * width;
      const d = (scatter ? rows[i] : i) * width;
      for (let j = 0; j < width; j++) dst[d + j] += src[s + j];
    }
  },

  gatherRows(src, rows, dst, width) {
    checkIndexedRows('gatherRows', src, rows, dst, width, false);
    for (let i = 0; i < rows.length; i++) {
      const s = rows[i] * width;
      // A subarray is an object: for short rows a loop is far cheaper.
      if (width < 16) for (let j = 0; j < width; j++) dst[i * width + j] = src[s + j];
      else dst.set(src.subarray(s, s + width), i * width);
    }
  },

  gatedBlockAdd(y, gates, experts, expert, rows, width, column, d, out) {
    checkGatedBlock('gatedBlockAdd', [y, gates, experts, expert, rows, width, column, d], [out]);
    for (let r = 0; r < rows; r++) {
      const gk = gates[r * experts + expert];
      const base = r * width + column;
      for (let j = base; j < base + d; j++) out[j] += gk * y[j];
    }
  },

  gatedBlockBackward(y, gates, experts, expert, rows, width, column, d, gOut, gy, gGates) {
    const args: GatedBlockArgs = [y, gates, experts, expert, rows, width, column, d];
    checkGatedBlock('gatedBlockBackward', args, gy ? [gOut, gy] : [gOut]);
    if (gGates && gGates.length < rows * experts)
      throw new RangeError(`gatedBlockBackward: gGates shorter than ${rows} rows of ${experts}`);
    for (let r = 0; r < rows; r++) {
      const gk = gates[r * experts + expert];
      const base = r * width + column;
      let dot = 0;
      for (let j = base; j < base + d; j++) {
        if (gy) gy[j] += gk * gOut[j];
        dot += y[j] * gOut[j];
      }
      if (gGates) gGates[r * experts + expert] += dot;
    }
  },

  copyRows(src, dst, rows, width) {
    checkRowBlock('copyRows', 'src', src, rows, width);
    checkRowBlock('copyRows', 'dst', dst, rows, width);
    const [from, s0, ss] = src;
    const [to, d0, ds] = dst;
    for (let r = 0; r < rows; r++) to.set(from.subarray(s0 + r * ss, s0 + r * ss + width), d0 + r * ds);
  },

  addRows(src, dst, rows, width) {
    checkRowBlock('addRows', 'src', src, rows, width);
    checkRowBlock('addRows', 'dst', dst, rows, width);
    const [from, s0, ss] = src;
    const [to, d0, ds] = dst;
    for (let r = 0; r < rows; r++) {
      const a = s0 + r * ss;
      const b = d0 + r * ds;
      for (let j = 0; j < width; j++) to[b + j] += from[a + j];
    }
  },

  adamUpdate(w, g, m, v, n, h) {
    if (w.length < n || g.length < n || m.length < n || v.length < n)
      throw new RangeError(`adamUpdate: arrays shorter than n = ${n}`);
    adamRange(w, g, m, v, 0, 0, n, h);
  },

  threads: () => 1,
  setThreads: () => {},
  describe: () => ({ backend: 'js', simd: false }),
};

/** A row block inside its array, with rows that do not overlap. */
function checkRowBlock(
  fn: string,
  name: string,
  [data, start, stride]: RowBlock,
  rows: number,
  width: number,
): void {
  const ints = [start, stride, rows, width].every((v) => Number.isSafeInteger(v) && v >= 0);
  if (!ints || width > stride)
    throw new RangeError(
      `${fn}: ${name} needs non-negative integers with width <= stride, got start ${start}, stride ${stride}, rows ${rows}, width ${width}`,
    );
  if (rows > 0 && start + (rows - 1) * stride + width > data.length)
    throw new RangeError(
      `${fn}: ${name} has ${data.length} elements, ${rows} rows of ${width} from ${start} every ${stride} need ${start + (rows - 1) * stride + width}`,
    );
}

/** The block lies inside the rows, the expert among the gates, and every array is long enough. */
function checkGatedBlock(fn: string, args: GatedBlockArgs, outputs: Float32Array[]): void {
  const [y, gates, experts, expert, rows, width, column, d] = args;
  if (!(expert >= 0 && expert < experts && column >= 0 && column + d <= width))
    throw new RangeError(
      `${fn}: expert ${expert} of ${experts}, columns [${column}, ${column + d}) of ${width}`,
    );
  if (gates.length < rows * experts || [y, ...outputs].some((a) => a.length < rows * width))
    throw new RangeError(
      `${fn}: arrays shorter than ${rows} rows (gates of ${experts}, the rest of ${width})`,
    );
}

/** indexedAddRows' and gatherRows' arguments: the plain side holds rows.length rows, every index a row of the indexed side. */
function checkIndexedRows(
  fn: string,
  src: Float32Array,
  rows: Int32Array,
  dst: Float32Array,
  width: number,
  scatter: boolean,
): void {
  if (!(Number.isSafeInteger(width) && width >= 0))
    throw new RangeError(`${fn}: width must be a non-negative integer, got ${width}`);
  const [plain, indexed] = scatter ? [src, dst] : [dst, src];
  if (plain.length < rows.length * width)
    throw new RangeError(
      `${fn}: ${scatter ? 'src' : 'dst'} has ${plain.length} elements, ${rows.length} rows of ${width} need ${rows.length * width}`,
    );
  if (width === 0) return;
  const count = Math.floor(indexed.length / width);
  for (let i = 0; i < rows.length; i++)
    if (!(rows[i] >= 0 && rows[i] < count))
      throw new RangeError(`${fn}: row ${rows[i]} (at ${i}) out of range [0, ${count})`);
}

/** `period` (a cycle's length, or a run's) must divide n: a partial last period is a caller's bug. */
function checkPeriod(fn: string, name: string, n: number, period: number): void {
  if (period === 0 ? n !== 0 : n % period !== 0)
    throw new RangeError(`${fn}: ${name} = ${period} does not divide n = ${n}`);
}

function apply(op: BinaryOp, x: number, y: number): number {
  return op === 'add' ? x + y : op === 'sub' ? x - y : op === 'mul' ? x * y : x / y;
}

/**
 * Adam over weights off .. off + n − 1 with gradients from goff (the optimizer's lazy row
 * updates call this directly for each touched row).
 */
export function adamRange(
  w: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  off: number,
  goff: number,
  n: number,
  h: AdamStep,
): void {
  const { beta1: b1, beta2: b2, eps, lr, weightDecay: wd, decoupled, stepSize, rbc2 } = h;
  for (let i = 0; i < n; i++) {
    const j = off + i;
    let gi = g[goff + i];
    if (wd !== 0) {
      if (decoupled) w[j] -= lr * wd * w[j];
      else gi += wd * w[j];
    }
    const mi = b1 * m[j] + (1 - b1) * gi;
    const vi = b2 * v[j] + (1 - b2) * gi * gi;
    m[j] = mi;
    v[j] = vi;
    w[j] -= (stepSize * mi) / (Math.sqrt(vi) * rbc2 + eps);
  }
}
