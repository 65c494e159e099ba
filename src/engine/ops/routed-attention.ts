/**
 * Fused non-causal multi-head attention of routed tokens (MOCA's conditional-attention experts):
 * sequence b has the query rows [qo_b, qo_{b+1}) and the key/value rows [ko_b, ko_{b+1}) (ragged:
 * only the real tokens a sequence routed), plus one learned null key and value per head that
 * every query sees. For each sequence and head: softmax([q·k_null, q·k_j]/√dh) · [v_null; v_j],
 * with optional dropout on the probabilities. The same as the padded formulation (split heads,
 * pad, prepend the null rows, bmm, masked softmax, dropout, bmm, merge heads) without the
 * padding, transposes and concatenations, and with one tape entry instead of a dozen. A backend
 * with the routedAttention kernel (native) runs every sequence and head in one call; otherwise
 * the products run as one small GEMM per sequence and head (forwardBlocks, backwardBlocks: the
 * reference the kernel is tested against), as in the causal attention (attention.ts).
 *
 * Backward, per sequence and head, with P the probabilities and D the dropout's scaled mask:
 *   dV = (P⊙D)ᵀ·dO;  dP = (dO·Vᵀ)⊙D;  dS = P⊙(dP − rowsum(P⊙dP));  dQ = dS·K/√dh;  dK = dSᵀ·Q/√dh
 * where row 0 of K and V is the null key and value (their gradients go to nullKv).
 */
import { scratch } from '../memory.js';
import { probabilities, probabilityArgs, type Probabilities } from './attention-probabilities.js';
import { needsGrad, record } from '../autograd.js';
import { kernels } from '../../kernels/select.js';
import type { Rng } from '../rng.js';
import { Tensor } from '../tensor.js';

export interface RoutedAttentionOptions {
  heads: number;
  /** [B + 1] non-decreasing, from 0 to the query rows: sequence b's queries. */
  queryOffsets: Int32Array;
  /** [B + 1] non-decreasing, from 0 to the key rows: sequence b's keys and values. */
  keyOffsets: Int32Array;
  dropout: number;
  rng?: Rng;
  training: boolean;
}

/** One sequence and head: its rows and where its block of scores starts. */
interface Block {
  qBase: number;
  kBase: number;
  nq: number;
  nk: number;
  /** Offset of its nq × (nk + 1) scores (column 0: the null key). */
  po: number;
}

/**
 * q [Q, H·dh], k and v [K, H·dh], nullKv [2, H, dh] (null keys, then null values);
 * returns [Q, H·dh], heads side by side.
 */
export function routedAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  nullKv: Tensor,
  o: RoutedAttentionOptions,
): Tensor {
  const H = o.heads;
  const width = q.shape[1];
  const dh = width / H;
  checkOffsets(o.queryOffsets, q.shape[0], 'query');
  checkOffsets(o.keyOffsets, k.shape[0], 'key');
  if (o.queryOffsets.length !== o.keyOffsets.length)
    throw new RangeError(
      `routedAttention: ${o.queryOffsets.length - 1} sequences of queries, ${o.keyOffsets.length - 1} of keys`,
    );
  if (
    !Number.isInteger(dh) ||
    k.shape[1] !== width ||
    v.shape[0] !== k.shape[0] ||
    v.shape[1] !== width ||
    nullKv.size !== 2 * width
  )
    throw new RangeError(
      `routedAttention: q [${q.shape.join(', ')}], k [${k.shape.join(', ')}], v [${v.shape.join(', ')}], nullKv [${nullKv.shape.join(', ')}] for ${H} heads (nullKv: [2, heads, width / heads])`,
    );
  const blocks = blocksOf(o, H, dh, width);
  const last = blocks[blocks.length - 1];
  const total = last ? last.po + last.nq * (last.nk + 1) : 0;
  const c: Routed = {
    q,
    k,
    v,
    nullKv,
    o,
    blocks,
    width,
    dh,
    ...probabilities(total, 1 / Math.sqrt(dh), o.dropout, o.rng, o.training, 'routedAttention'),
  };
  const K = kernels();
  // Every row is written: each query belongs to one sequence, and each head writes its columns.
  const out = new Tensor(scratch(q.size), q.shape);
  if (K.routedAttention) K.routedAttention(...fusedArgs(c), out.data);
  else forwardBlocks(c, out.data);
  if (![q, k, v, nullKv].some((t) => needsGrad(t))) return out;
  return record(out, () => {
    const fused = K.routedAttentionBackward;
    // The kernel zeroes a first gradient's rows block by block itself, in cache, instead of the
    // arena filling the whole buffer first (not when one tensor is two of q, k and v: the blocks
    // of its two roles would zero each other's sums).
    const blockZeroing = fused !== undefined && q !== k && q !== v && k !== v;
    let fresh = 0;
    const target = (t: Tensor, bit: number) => {
      if (!needsGrad(t)) return null;
      if (!blockZeroing) return t.gradBuffer();
      const { buf, beta } = t.gradTarget();
      if (beta === 0) fresh |= bit;
      return buf;
    };
    const gNull = needsGrad(nullKv) ? nullKv.gradBuffer() : null; // the kernel only adds to it
    const grads = [out.grad!, target(q, 1), target(k, 2), target(v, 4), gNull] as const;
    if (!fused) return backwardBlocks(c, ...grads);
    try {
      fused(...fusedArgs(c), ...grads, fresh);
    } catch (e) {
      // An unfilled buffer must not stay behind as a gradient that later ones add to.
      [q, k, v].forEach((t, i) => {
        if (fresh & (1 << i)) t.grad = null;
      });
      throw e;
    }
  });
}

/** The op's inputs and its probability blocks, as both paths read them. */
interface Routed extends Probabilities {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  nullKv: Tensor;
  o: RoutedAttentionOptions;
  blocks: Block[];
  /** Row width (heads side by side) and one head's. */
  width: number;
  dh: number;
}

/** The arguments the fused kernels take first, in their order. */
const fusedArgs = (c: Routed) =>
  [
    c.q.data,
    c.k.data,
    c.v.data,
    c.nullKv.data,
    c.o.queryOffsets,
    c.o.keyOffsets,
    c.o.heads,
    c.width,
    ...probabilityArgs(c),
  ] as const;

/**
 * The forward pass with two GEMMs per sequence and head (backends without a routedAttention
 * kernel; the reference the kernel is tested against).
 */
function forwardBlocks(c: Routed, out: Float32Array): void {
  const { q, k, v, blocks, width, dh, scale, bits, threshold, keep, probs, kept } = c;
  const [H, nk, K] = [c.o.heads, c.nullKv.data, kernels()];
  blocks.forEach(({ qBase, kBase, nq, nk: m, po }, bh) => {
    const h = bh % H;
    const n = m + 1;
    const P = probs.subarray(po, po + nq * n);
    // Routed keys into columns 1.., the null key into column 0.
    if (m > 0)
      K.sgemm(
        false,
        true,
        nq,
        m,
        dh,
        scale,
        q.data.subarray(qBase),
        width,
        k.data.subarray(kBase),
        width,
        0,
        P.subarray(1),
        n,
      );
    for (let i = 0; i < nq; i++) {
      let s = 0;
      for (let e = 0; e < dh; e++) s += q.data[qBase + i * width + e] * nk[h * dh + e];
      P[i * n] = s * scale;
      softmaxRow(P, i * n, n);
    }
    if (bits) for (let t = 0; t < nq * n; t++) kept[po + t] = bits[po + t] >= threshold ? P[t] * keep : 0;
    const Pk = kept.subarray(po, po + nq * n);
    const O = out.subarray(qBase);
    if (m > 0)
      K.sgemm(false, false, nq, dh, m, 1, Pk.subarray(1), n, v.data.subarray(kBase), width, 0, O, width);
    for (let i = 0; i < nq; i++) {
      const w = Pk[i * n];
      // Without routed keys the GEMM above did not run: the row is the null value's alone.
      for (let e = 0; e < dh; e++)
        O[i * width + e] = (m > 0 ? O[i * width + e] : 0) + w * nk[(H + h) * dh + e];
    }
  });
}

/** The backward pass of forwardBlocks: adds to the gradients that are not null. */
function backwardBlocks(
  c: Routed,
  gO: Float32Array,
  gQ: Float32Array | null,
  gK: Float32Array | null,
  gV: Float32Array | null,
  gN: Float32Array | null,
): void {
  const { q, k, v, blocks, width, dh, scale, bits, threshold, keep, probs, kept } = c;
  const [H, nk, K] = [c.o.heads, c.nullKv.data, kernels()];
  const largest = blocks.reduce((a, b) => Math.max(a, b.nq * (b.nk + 1)), 0);
  const dS = scratch(largest);
  blocks.forEach(({ qBase, kBase, nq, nk: m, po }, bh) => {
    const h = bh % H;
    const n = m + 1;
    const P = probs.subarray(po, po + nq * n);
    const Pk = kept.subarray(po, po + nq * n);
    const dO = gO.subarray(qBase);
    if (gV && m > 0)
      K.sgemm(true, false, m, dh, nq, 1, Pk.subarray(1), n, dO, width, 1, gV.subarray(kBase), width);
    // dP = dO·Vᵀ (the null value in column 0), back through dropout and the softmax.
    if (m > 0)
      K.sgemm(false, true, nq, m, dh, 1, dO, width, v.data.subarray(kBase), width, 0, dS.subarray(1), n);
    for (let i = 0; i < nq; i++) {
      const r = i * n;
      let s = 0;
      for (let e = 0; e < dh; e++) {
        s += dO[i * width + e] * nk[(H + h) * dh + e];
        if (gN) gN[(H + h) * dh + e] += Pk[r] * dO[i * width + e];
      }
      dS[r] = s;
      let dot = 0;
      for (let j = 0; j < n; j++) {
        const g = bits ? (bits[po + r + j] >= threshold ? dS[r + j] * keep : 0) : dS[r + j];
        dS[r + j] = g;
        dot += g * P[r + j];
      }
      for (let j = 0; j < n; j++) dS[r + j] = P[r + j] * (dS[r + j] - dot) * scale;
      if (gQ) for (let e = 0; e < dh; e++) gQ[qBase + i * width + e] += dS[r] * nk[h * dh + e];
      if (gN) for (let e = 0; e < dh; e++) gN[h * dh + e] += dS[r] * q.data[qBase + i * width + e];
    }
    if (m === 0) return;
    if (gQ)
      K.sgemm(
        false,
        false,
        nq,
        dh,
        m,
        1,
        dS.subarray(1),
        n,
        k.data.subarray(kBase),
        width,
        1,
        gQ.subarray(qBase),
        width,
      );
    if (gK)
      K.sgemm(
        true,
        false,
        m,
        dh,
        nq,
        1,
        dS.subarray(1),
        n,
        q.data.subarray(qBase),
        width,
        1,
        gK.subarray(kBase),
        width,
      );
  });
}

/** The (sequence, head) blocks in order b·H + h, with their score offsets. */
function blocksOf(o: RoutedAttentionOptions, H: number, dh: number, width: number): Block[] {
  const blocks: Block[] = [];
  let po = 0;
  for (let b = 0; b + 1 < o.queryOffsets.length; b++) {
    const nq = o.queryOffsets[b + 1] - o.queryOffsets[b];
    const nk = o.keyOffsets[b + 1] - o.keyOffsets[b];
    for (let h = 0; h < H; h++) {
      blocks.push({
        qBase: o.queryOffsets[b] * width + h * dh,
        kBase: o.keyOffsets[b] * width + h * dh,
        nq,
        nk,
        po,
      });
      po += nq * (nk + 1);
    }
  }
  return blocks;
}

function checkOffsets(offsets: Int32Array, rows: number, what: string): void {
  const ordered = offsets.every((x, i) => (i === 0 ? x === 0 : x >= offsets[i - 1]));
  if (offsets.length < 1 || !ordered || offsets[offsets.length - 1] !== rows)
    throw new RangeError(
      `routedAttention: ${what} offsets must rise from 0 to ${rows} rows, got [${offsets.join(', ')}]`,
    );
}

/** Softmax of P[r .. r + n) in place (column 0: the null key). */
function softmaxRow(P: Float32Array, r: number, n: number): void {
  let max = -Infinity;
  for (let j = 0; j < n; j++) if (P[r + j] > max) max = P[r + j];
  let total = 0;
  for (let j = 0; j < n; j++) {
    const e = Math.exp(P[r + j] - max);
    P[r + j] = e;
    total += e;
  }
  for (let j = 0; j < n; j++) P[r + j] /= total;
}
