/**
 * Fused causal multi-head attention over packed variable-length sequences.
 *
 * Rows of q, k, v ([R, d], d = heads·dh) hold the valid positions of every sequence, one
 * after another: sequence b occupies rows offsets[b] .. offsets[b+1]-1, oldest first. For
 * each sequence and head this computes softmax(q·kᵀ/√dh, causal) · v with optional dropout
 * on the probabilities. Equivalent at every valid position to the padded formulation
 * (reshape, transpose, bmm, masked softmax, bmm, transpose), but it never computes or stores
 * padding rows, needs no transposes (heads are read in place with a leading dimension of d),
 * and keeps only Σ len² probabilities per head instead of B·L².
 */
import { needsGrad, record } from '../autograd.js';
import { kernels } from '../../kernels/select.js';
import type { Rng } from '../rng.js';
import { Tensor } from '../tensor.js';

export function causalAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  offsets: Int32Array,
  heads: number,
  dropoutP = 0,
  rng?: Rng,
  training = false,
): Tensor {
  if (q.rank !== 2 || k.shape.join() !== q.shape.join() || v.shape.join() !== q.shape.join()) {
    throw new RangeError(
      `causalAttention: q, k, v must share one [R, d] shape, got [${q.shape}], [${k.shape}], [${v.shape}]`,
    );
  }
  const [R, d] = q.shape;
  if (d % heads !== 0)
    throw new RangeError(`causalAttention: width ${d} is not a multiple of ${heads} heads`);
  const B = offsets.length - 1;
  if (B < 0 || offsets[0] !== 0 || offsets[B] !== R) {
    throw new RangeError(`causalAttention: offsets must run from 0 to the row count ${R}`);
  }
  const drop = training && dropoutP > 0;
  if (drop && !rng) throw new Error('causalAttention: dropout in training mode needs an Rng');
  const dh = d / heads;
  const scale = 1 / Math.sqrt(dh);
  const K = kernels();

  // Where each (sequence, head) block of probabilities starts.
  const pOff = new Int32Array(B * heads + 1);
  for (let b = 0; b < B; b++) {
    const n = offsets[b + 1] - offsets[b];
    if (n < 0) throw new RangeError(`causalAttention: offsets decrease at sequence ${b}`);
    for (let h = 0; h < heads; h++) pOff[b * heads + h + 1] = pOff[b * heads + h] + n * n;
  }
  const probs = new Float32Array(pOff[B * heads]); // softmax output (before dropout)
  const kept = drop ? new Float32Array(probs.length) : probs; // after dropout
  const keep = drop ? 1 / (1 - dropoutP) : 1;
  const bits = drop ? new Uint32Array(probs.length) : null;
  if (bits) rng!.fillU32(bits);
  const threshold = Math.floor(dropoutP * 4294967296);
  const out = new Tensor(new Float32Array(R * d), [R, d]);

  for (let b = 0; b < B; b++) {
    const o = offsets[b];
    const n = offsets[b + 1] - o;
    if (n === 0) continue;
    for (let h = 0; h < heads; h++) {
      const base = o * d + h * dh;
      const po = pOff[b * heads + h];
      const P = probs.subarray(po, po + n * n);
      K.sgemm(false, true, n, n, dh, scale, q.data.subarray(base), d, k.data.subarray(base), d, 0, P, n);
      for (let i = 0; i < n; i++) {
        // causal softmax of row i over keys 0..i
        const r = i * n;
        let max = -Infinity;
        for (let j = 0; j <= i; j++) if (P[r + j] > max) max = P[r + j];
        let sum = 0;
        for (let j = 0; j <= i; j++) {
          const e = Math.exp(P[r + j] - max);
          P[r + j] = e;
          sum += e;
        }
        const inv = 1 / sum;
        for (let j = 0; j <= i; j++) P[r + j] *= inv;
        for (let j = i + 1; j < n; j++) P[r + j] = 0;
      }
      if (bits) {
        for (let t = 0; t < n * n; t++) kept[po + t] = bits[po + t] >= threshold ? P[t] * keep : 0;
      }
      const Pk = kept.subarray(po, po + n * n);
      K.sgemm(false, false, n, dh, n, 1, Pk, n, v.data.subarray(base), d, 0, out.data.subarray(base), d);
    }
  }
  if (!needsGrad(q, k, v)) return out;
  return record(out, () => {
    const gO = out.grad!;
    const gQ = q.requiresGrad ? q.gradBuffer() : null;
    const gK = k.requiresGrad ? k.gradBuffer() : null;
    const gV = v.requiresGrad ? v.gradBuffer() : null;
    let maxN = 0;
    for (let b = 0; b < B; b++) maxN = Math.max(maxN, offsets[b + 1] - offsets[b]);
    const dP = new Float32Array(maxN * maxN);
    for (let b = 0; b < B; b++) {
      const o = offsets[b];
      const n = offsets[b + 1] - o;
      if (n === 0) continue;
      for (let h = 0; h < heads; h++) {
        const base = o * d + h * dh;
        const po = pOff[b * heads + h];
        const P = probs.subarray(po, po + n * n);
        const Pk = kept.subarray(po, po + n * n);
        const gOb = gO.subarray(base);
        if (gV) K.sgemm(true, false, n, dh, n, 1, Pk, n, gOb, d, 1, gV.subarray(base), d);
        if (!gQ && !gK) continue;
        // dP' = dO·vᵀ, back through dropout, then through the softmax: dS = P ⊙ (dP − Σ dP⊙P)
        K.sgemm(false, true, n, n, dh, 1, gOb, d, v.data.subarray(base), d, 0, dP, n);
        for (let i = 0; i < n; i++) {
          const r = i * n;
          let dot = 0;
          for (let j = 0; j <= i; j++) {
            const g = bits ? (bits[po + r + j] >= threshold ? dP[r + j] * keep : 0) : dP[r + j];
            dP[r + j] = g;
            dot += g * P[r + j];
          }
          for (let j = 0; j <= i; j++) dP[r + j] = P[r + j] * (dP[r + j] - dot);
          for (let j = i + 1; j < n; j++) dP[r + j] = 0;
        }
        if (gQ)
          K.sgemm(false, false, n, dh, n, scale, dP, n, k.data.subarray(base), d, 1, gQ.subarray(base), d);
        if (gK)
          K.sgemm(true, false, n, dh, n, scale, dP, n, q.data.subarray(base), d, 1, gK.subarray(base), d);
      }
    }
  });
}
