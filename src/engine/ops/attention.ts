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
import { floats } from '../memory.js';
import { probabilities, probabilityArgs, type Probabilities } from './attention-probabilities.js';
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
  return attention(q, k, v, offsets, heads, dropoutP, rng, training, false);
}

/**
 * The same attention computed for the LAST position of each sequence only: q is [B, d], one
 * query row per sequence (its last position's query); k and v are [R, d] packed as above.
 * Row b of the [B, d] output equals row offsets[b+1]-1 of causalAttention's output. A
 * transformer's last layer needs nothing else when only the final user state is read (the
 * contrastive loss, scoring), which saves the other positions' queries, feed-forward and norms.
 */
export function lastQueryAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  offsets: Int32Array,
  heads: number,
  dropoutP = 0,
  rng?: Rng,
  training = false,
): Tensor {
  return attention(q, k, v, offsets, heads, dropoutP, rng, training, true);
}

/**
 * Shared implementation. Sequence b has n keys; its nq query rows (n, or 1 with `lastOnly`)
 * are the positions n − nq .. n − 1, and query t sees keys 0 .. n − nq + t.
 */
function attention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  offsets: Int32Array,
  heads: number,
  dropoutP: number,
  rng: Rng | undefined,
  training: boolean,
  lastOnly: boolean,
): Tensor {
  const what = lastOnly ? 'lastQueryAttention' : 'causalAttention';
  if (q.rank !== 2 || k.rank !== 2 || k.shape.join() !== v.shape.join() || q.shape[1] !== k.shape[1]) {
    throw new RangeError(
      `${what}: q, k, v must be [rows, d] with one width (k and v alike), got [${q.shape}], [${k.shape}], [${v.shape}]`,
    );
  }
  const [R, d] = k.shape;
  if (d % heads !== 0) throw new RangeError(`${what}: width ${d} is not a multiple of ${heads} heads`);
  const B = offsets.length - 1;
  if (B < 0 || offsets[0] !== 0 || offsets[B] !== R) {
    throw new RangeError(`${what}: offsets must run from 0 to the row count ${R}`);
  }
  const Rq = lastOnly ? B : R;
  if (q.shape[0] !== Rq) {
    throw new RangeError(
      `${what}: q has ${q.shape[0]} rows, expected ${Rq}${lastOnly ? ' (one per sequence)' : ''}`,
    );
  }
  const K = kernels();

  // Where each (sequence, head) block of probabilities [nq, n] starts.
  const pOff = new Int32Array(B * heads + 1);
  for (let b = 0; b < B; b++) {
    const n = offsets[b + 1] - offsets[b];
    if (n < 0) throw new RangeError(`${what}: offsets decrease at sequence ${b}`);
    if (lastOnly && n === 0) throw new RangeError(`${what}: sequence ${b} is empty`);
    const nq = lastOnly ? 1 : n;
    for (let h = 0; h < heads; h++) pOff[b * heads + h + 1] = pOff[b * heads + h] + nq * n;
  }
  const c: Blocks = {
    q,
    k,
    v,
    offsets,
    heads,
    lastOnly,
    pOff,
    ...probabilities(pOff[B * heads], 1 / Math.sqrt(d / heads), dropoutP, rng, training, what),
  };
  const out = new Tensor(floats(Rq * d), [Rq, d]);
  if (K.causalAttention) K.causalAttention(...fusedArgs(c), out.data);
  else forwardBlocks(c, out.data);
  if (!needsGrad(q, k, v)) return out;
  return record(out, () => {
    const gO = out.grad!;
    const gQ = q.requiresGrad ? q.gradBuffer() : null;
    const gK = k.requiresGrad ? k.gradBuffer() : null;
    const gV = v.requiresGrad ? v.gradBuffer() : null;
    if (K.causalAttentionBackward) K.causalAttentionBackward(...fusedArgs(c), gO, gQ, gK, gV);
    else backwardBlocks(c, gO, gQ, gK, gV);
  });
}

/** The op's inputs and its probability blocks, as both paths read them. */
interface Blocks extends Probabilities {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  offsets: Int32Array;
  heads: number;
  lastOnly: boolean;
  /** Where each (sequence, head) block of probabilities [nq, n] starts. */
  pOff: Int32Array;
}

/** The arguments the fused kernels take first, in their order. */
const fusedArgs = (c: Blocks) =>
  [
    c.q.data,
    c.k.data,
    c.v.data,
    c.offsets,
    c.heads,
    c.k.shape[1],
    c.lastOnly,
    ...probabilityArgs(c),
  ] as const;

/** Sequence b's key count n, query count nq and first query row. */
function queriesOf(c: Blocks, b: number) {
  const n = c.offsets[b + 1] - c.offsets[b];
  return { n, nq: c.lastOnly ? Math.min(n, 1) : n, qRow: c.lastOnly ? b : c.offsets[b] };
}

/**
 * The forward pass with two GEMMs per sequence and head (backends without a fused
 * causalAttention kernel; the reference the fused kernel is tested against).
 */
function forwardBlocks(c: Blocks, out: Float32Array): void {
  const { q, k, v, offsets, heads, scale, bits, threshold, keep, probs, kept, pOff } = c;
  const K = kernels();
  const d = k.shape[1];
  const dh = d / heads;
  const B = offsets.length - 1;
  for (let b = 0; b < B; b++) {
    const { n, nq, qRow } = queriesOf(c, b);
    if (n === 0) continue;
    for (let h = 0; h < heads; h++) {
      const kBase = offsets[b] * d + h * dh;
      const qBase = qRow * d + h * dh;
      const po = pOff[b * heads + h];
      const P = probs.subarray(po, po + nq * n);
      K.sgemm(false, true, nq, n, dh, scale, q.data.subarray(qBase), d, k.data.subarray(kBase), d, 0, P, n);
      for (let t = 0; t < nq; t++) {
        // causal softmax of query t over keys 0..i
        const i = n - nq + t;
        const r = t * n;
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
        for (let t = 0; t < nq * n; t++) kept[po + t] = bits[po + t] >= threshold ? P[t] * keep : 0;
      }
      const Pk = kept.subarray(po, po + nq * n);
      K.sgemm(false, false, nq, dh, n, 1, Pk, n, v.data.subarray(kBase), d, 0, out.subarray(qBase), d);
    }
  }
}

/** The backward pass to match forwardBlocks: gradients added to gQ, gK, gV. */
function backwardBlocks(
  c: Blocks,
  gO: Float32Array,
  gQ: Float32Array | null,
  gK: Float32Array | null,
  gV: Float32Array | null,
): void {
  const { q, k, v, offsets, heads, scale, bits, threshold, keep, probs, kept, pOff } = c;
  const K = kernels();
  const d = k.shape[1];
  const dh = d / heads;
  const B = offsets.length - 1;
  let maxBlock = 0;
  for (let b = 0; b < B; b++) {
    const { n, nq } = queriesOf(c, b);
    maxBlock = Math.max(maxBlock, nq * n);
  }
  const dP = floats(maxBlock);
  for (let b = 0; b < B; b++) {
    const { n, nq, qRow } = queriesOf(c, b);
    if (n === 0) continue;
    for (let h = 0; h < heads; h++) {
      const kBase = offsets[b] * d + h * dh;
      const qBase = qRow * d + h * dh;
      const po = pOff[b * heads + h];
      const P = probs.subarray(po, po + nq * n);
      const Pk = kept.subarray(po, po + nq * n);
      const gOb = gO.subarray(qBase);
      if (gV) K.sgemm(true, false, n, dh, nq, 1, Pk, n, gOb, d, 1, gV.subarray(kBase), d);
      if (!gQ && !gK) continue;
      // dP' = dO·vᵀ, back through dropout, then through the softmax: dS = P ⊙ (dP − Σ dP⊙P)
      K.sgemm(false, true, nq, n, dh, 1, gOb, d, v.data.subarray(kBase), d, 0, dP, n);
      for (let t = 0; t < nq; t++) {
        const i = n - nq + t;
        const r = t * n;
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
        K.sgemm(false, false, nq, dh, n, scale, dP, n, k.data.subarray(kBase), d, 1, gQ.subarray(qBase), d);
      if (gK)
        K.sgemm(true, false, n, dh, nq, scale, dP, n, q.data.subarray(qBase), d, 1, gK.subarray(kBase), d);
    }
  }
}
