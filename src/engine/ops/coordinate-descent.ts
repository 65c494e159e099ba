/**
 * CoLT5's soft top-k by coordinate descent (`colt5_attention/coor_descent.py`), fused: the
 * iterations run in one loop per row, and the backward pass goes back through them with what
 * the forward pass kept (each iteration's softmax and ReLU pattern), instead of a tape of some
 * two hundred element-wise ops per router. Per row, over its valid entries:
 *
 *   a ← 0;  b ← −s;  ε ← max(epsInit, eps)
 *   repeat: z = (s + b)/ε;  a = ε·(log kEff − logsumexp z);  b = −relu(s + a);  ε ← max(ε·decay, eps)
 *   p = exp((s + a + b)/ε)        (0 at masked entries)
 *
 * Backward, iteration t in reverse (σ_t = softmax z_t, m_t = [s + a_t > 0]):
 *   from b_t = −relu(s + a_t):       g = −db_t ⊙ m_t;  ds += g;  da_t += Σ g
 *   from a_t = ε_t(log k − lse z_t): dz = −ε_t·da_t·σ_t
 *   from z_t = (s + b_{t−1})/ε_t:    ds += dz/ε_t;  db_{t−1} = dz/ε_t      (b_{−1} = −s)
 */
import { floats, scratch } from '../memory.js';
import { needsGrad, record } from '../autograd.js';
import { kernels } from '../../kernels/select.js';
import type { CoordinateDescentArgs } from '../../kernels/kernels.js';
import { Tensor } from '../tensor.js';

export interface CoordinateDescentOptions {
  iterations: number;
  /** The final temperature ε (it decays from epsInit by epsDecay per iteration, down to eps). */
  eps: number;
  epsInit: number;
  epsDecay: number;
}

/**
 * p [B, n] for scores s [B, n] with kEff entries to keep per row; `mask` [B·n] marks valid
 * entries with 1 (null: all valid); masked entries get p = 0 and no gradient.
 */
export function coordinateDescent(
  s: Tensor,
  kEff: number,
  mask: Float32Array | null,
  o: CoordinateDescentOptions,
): Tensor {
  if (s.rank !== 2)
    throw new RangeError(`coordinateDescent expects scores [B, n], got [${s.shape.join(', ')}]`);
  const [B, n] = s.shape;
  if (mask && mask.length !== B * n)
    throw new RangeError(`coordinateDescent: a mask of ${mask.length} for ${B}×${n} scores`);
  if (!(kEff > 0)) throw new RangeError(`coordinateDescent: kEff must be positive, got ${kEff}`);
  const T = o.iterations;
  const eps = temperatures(o);
  const logK = Math.log(kEff);
  // Each row's valid entries, packed: the iterations run over those only (padding is most of a
  // short prefix's slots), and what backward needs is kept for those only.
  const { index, start } = validEntries(B, n, mask);
  const V = start[B];
  const sm = scratch(T * V); // σ_t per row and iteration: row r's at T·start[r] + t·m_r
  const active = new Uint8Array(T * V); // m_t, laid out the same
  const out = new Tensor(floats(B * n), [B, n]);
  const packed: Packed = { n, index, start, eps, sm, active };
  const K = kernels();
  if (K.coordinateDescent) K.coordinateDescent(...packedArgs(packed), s.data, logK, out.data);
  else descentRows(packed, s.data, logK, out.data);
  if (!needsGrad(s)) return out;
  return record(out, () => {
    const gs = s.gradBuffer();
    if (K.coordinateDescentBackward)
      K.coordinateDescentBackward(...packedArgs(packed), out.data, out.grad!, gs);
    else descentRowsBackward(packed, out.data, out.grad!, gs);
  });
}

/** What both directions read: the packed valid entries, the temperatures, and what forward kept. */
interface Packed {
  n: number;
  index: Int32Array;
  start: Int32Array;
  eps: Float64Array;
  sm: Float32Array;
  active: Uint8Array;
}

/** Packed as the kernels take it first (CoordinateDescentArgs). */
const packedArgs = (c: Packed): CoordinateDescentArgs => [c.n, c.index, c.start, c.eps, c.sm, c.active];

/** The forward iterations in JS (backends without the kernel; the kernel's reference). */
function descentRows(c: Packed, s: Float32Array, logK: number, out: Float32Array): void {
  const { n, index, start, eps, sm, active } = c;
  const B = start.length - 1;
  const T = eps.length - 1;
  const sv = new Float64Array(n);
  const b = new Float64Array(n);
  const z = new Float64Array(n);
  for (let r = 0; r < B; r++) {
    const m = start[r + 1] - start[r];
    if (m === 0) continue; // nothing to keep: p = 0
    for (let j = 0; j < m; j++) {
      sv[j] = s[r * n + index[start[r] + j]];
      b[j] = -sv[j];
    }
    let ar = 0;
    for (let t = 0; t < T; t++) {
      const inv = 1 / eps[t];
      let max = -Infinity;
      for (let j = 0; j < m; j++) {
        z[j] = (sv[j] + b[j]) * inv;
        if (z[j] > max) max = z[j];
      }
      // One exp per entry: z becomes exp(z − max), which the softmax then scales.
      let total = 0;
      for (let j = 0; j < m; j++) {
        z[j] = Math.exp(z[j] - max);
        total += z[j];
      }
      ar = eps[t] * (logK - max - Math.log(total));
      const at = T * start[r] + t * m;
      const norm = 1 / total;
      for (let j = 0; j < m; j++) {
        sm[at + j] = z[j] * norm;
        const x = sv[j] + ar;
        active[at + j] = x > 0 ? 1 : 0;
        b[j] = x > 0 ? -x : 0;
      }
    }
    for (let j = 0; j < m; j++) out[r * n + index[start[r] + j]] = Math.exp((sv[j] + ar + b[j]) / eps[T]);
  }
}

/** The backward pass to match descentRows: the gradient added to gs at the valid entries. */
function descentRowsBackward(c: Packed, out: Float32Array, dOut: Float32Array, gs: Float32Array): void {
  const { n, index, start, eps, sm, active } = c;
  const B = start.length - 1;
  const T = eps.length - 1;
  const db = new Float64Array(n);
  const g = new Float64Array(n); // the row's gradient, packed
  for (let r = 0; r < B; r++) {
    const m = start[r + 1] - start[r];
    const cols = index.subarray(start[r], start[r + 1]);
    // p = exp(u), u = (s + a + b)/ε_final.
    let da = 0;
    for (let j = 0; j < m; j++) {
      const du = (dOut[r * n + cols[j]] * out[r * n + cols[j]]) / eps[T];
      db[j] = du;
      da += du;
      g[j] = du;
    }
    for (let t = T - 1; t >= 0; t--) {
      const at = T * start[r] + t * m;
      for (let j = 0; j < m; j++) {
        const gb = active[at + j] ? -db[j] : 0;
        g[j] += gb;
        da += gb;
      }
      for (let j = 0; j < m; j++) {
        const dz = -eps[t] * da * sm[at + j];
        g[j] += dz / eps[t];
        db[j] = dz / eps[t];
      }
      da = 0;
    }
    for (let j = 0; j < m; j++) gs[r * n + cols[j]] += g[j] - db[j]; // b_{−1} = −s
  }
}

/** The valid entries' columns, row by row (row r's at index[start[r] .. start[r + 1])). */
function validEntries(
  B: number,
  n: number,
  mask: Float32Array | null,
): { index: Int32Array; start: Int32Array } {
  const start = new Int32Array(B + 1);
  let valid = B * n;
  if (mask) {
    valid = 0;
    for (let i = 0; i < B * n; i++) if (mask[i] === 1) valid++;
  }
  const index = new Int32Array(valid);
  let at = 0;
  for (let r = 0; r < B; r++) {
    for (let j = 0; j < n; j++) if (!mask || mask[r * n + j] === 1) index[at++] = j;
    start[r + 1] = at;
  }
  return { index, start };
}

/** ε at each iteration, then the final one (index `iterations`). */
function temperatures(o: CoordinateDescentOptions): Float64Array {
  const eps = new Float64Array(o.iterations + 1);
  eps[0] = Math.max(o.epsInit, o.eps);
  for (let t = 1; t <= o.iterations; t++) eps[t] = Math.max(eps[t - 1] * o.epsDecay, o.eps);
  return eps;
}
