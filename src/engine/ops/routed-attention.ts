/**
 * Fused non-causal multi-head attention of routed tokens (MOCA's conditional-attention experts):
 * each of B sequences has kq query rows and kkv key/value rows, plus one learned null key and
 * value per head that every query sees. Keys and queries can be masked (padding that was
 * routed: a masked query gets 0 and costs nothing). For each
 * sequence and head: softmax([q·k_null, q·k_j]/√dh over unmasked j) · [v_null; v_j], with
 * optional dropout on the probabilities. The same as the padded formulation (split heads,
 * prepend the null rows, bmm, masked softmax, dropout, bmm, merge heads) without the
 * transposes and concatenations, and with one tape entry instead of a dozen; the products run
 * as one small GEMM per sequence and head (as the causal attention kernel, attention.ts).
 *
 * Backward, per sequence and head, with P the probabilities and D the dropout's scaled mask:
 *   dV = (P⊙D)ᵀ·dO;  dP = (dO·Vᵀ)⊙D;  dS = P⊙(dP − rowsum(P⊙dP));  dQ = dS·K/√dh;  dK = dSᵀ·Q/√dh
 * where row 0 of K and V is the null key and value (their gradients go to nullKv).
 */
import { floats } from '../memory.js';
import { needsGrad, record } from '../autograd.js';
import { kernels } from '../../kernels/select.js';
import type { Rng } from '../rng.js';
import { Tensor } from '../tensor.js';

export interface RoutedAttentionOptions {
  heads: number;
  /** [B·kkv] 1 where the key/value row is a real token. */
  keyMask: Uint8Array;
  /** [B·kq] 1 where the query row is a real token; a masked query's output is 0 (default: all real). */
  queryMask?: Uint8Array;
  dropout: number;
  rng?: Rng;
  training: boolean;
}

/**
 * q [B·kq, H·dh], k and v [B·kkv, H·dh], nullKv [2, H, dh] (null keys, then null values);
 * returns [B·kq, H·dh], heads side by side. B is keyMask.length / kkv.
 */
export function routedAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  nullKv: Tensor,
  sequences: number,
  o: RoutedAttentionOptions,
): Tensor {
  const H = o.heads;
  const width = q.shape[1];
  const dh = width / H;
  const B = sequences;
  const kq = q.shape[0] / B;
  const kkv = k.shape[0] / B;
  if (!Number.isInteger(kq) || !Number.isInteger(kkv) || !Number.isInteger(dh))
    throw new RangeError(`routedAttention: ${q.shape[0]} queries and ${k.shape[0]} keys for ${B} sequences`);
  if (o.keyMask.length !== B * kkv)
    throw new RangeError(`routedAttention: a key mask of ${o.keyMask.length}`);
  if (o.queryMask && o.queryMask.length !== B * kq)
    throw new RangeError(`routedAttention: a query mask of ${o.queryMask.length}`);
  const drop = o.training && o.dropout > 0;
  if (drop && !o.rng) throw new Error('routedAttention: dropout in training mode needs an Rng');
  const K = kernels();
  const n = kkv + 1; // the null key first: column 0 of each block of scores
  const scale = 1 / Math.sqrt(dh);
  const block = kq * n;
  const probs = floats(B * H * block); // softmax output (before dropout)
  const kept = drop ? floats(probs.length) : probs; // after dropout
  const bits = drop ? new Uint32Array(probs.length) : null;
  if (bits) o.rng!.fillU32(bits);
  const threshold = Math.floor(o.dropout * 4294967296);
  const keep = drop ? 1 / (1 - o.dropout) : 1;
  const out = new Tensor(floats(q.size), q.shape);
  const nk = nullKv.data;
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const qBase = b * kq * width + h * dh;
      const kBase = b * kkv * width + h * dh;
      const po = (b * H + h) * block;
      const P = probs.subarray(po, po + block);
      // Routed keys into columns 1.., the null key into column 0.
      K.sgemm(
        false,
        true,
        kq,
        kkv,
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
      for (let i = 0; i < kq; i++) {
        const r = i * n;
        if (o.queryMask && o.queryMask[b * kq + i] !== 1) {
          P.fill(0, r, r + n); // a masked query: no output, no gradient
          continue;
        }
        let s = 0;
        for (let e = 0; e < dh; e++) s += q.data[qBase + i * width + e] * nk[h * dh + e];
        P[r] = s * scale;
        softmaxRow(P, r, n, o.keyMask, b * kkv);
      }
      if (bits) for (let t = 0; t < block; t++) kept[po + t] = bits[po + t] >= threshold ? P[t] * keep : 0;
      const Pk = kept.subarray(po, po + block);
      const O = out.data.subarray(qBase);
      K.sgemm(false, false, kq, dh, kkv, 1, Pk.subarray(1), n, v.data.subarray(kBase), width, 0, O, width);
      for (let i = 0; i < kq; i++) {
        const w = Pk[i * n];
        if (w !== 0) for (let e = 0; e < dh; e++) O[i * width + e] += w * nk[(H + h) * dh + e];
      }
    }
  if (![q, k, v, nullKv].some((t) => needsGrad(t))) return out;
  return record(out, () => {
    const gO = out.grad!;
    const gQ = needsGrad(q) ? q.gradBuffer() : null;
    const gK = needsGrad(k) ? k.gradBuffer() : null;
    const gV = needsGrad(v) ? v.gradBuffer() : null;
    const gN = needsGrad(nullKv) ? nullKv.gradBuffer() : null;
    const dS = floats(block);
    for (let b = 0; b < B; b++)
      for (let h = 0; h < H; h++) {
        const qBase = b * kq * width + h * dh;
        const kBase = b * kkv * width + h * dh;
        const po = (b * H + h) * block;
        const P = probs.subarray(po, po + block);
        const Pk = kept.subarray(po, po + block);
        const dO = gO.subarray(qBase);
        if (gV)
          K.sgemm(true, false, kkv, dh, kq, 1, Pk.subarray(1), n, dO, width, 1, gV.subarray(kBase), width);
        // dP = dO·Vᵀ (the null value in column 0), back through dropout and the softmax.
        K.sgemm(false, true, kq, kkv, dh, 1, dO, width, v.data.subarray(kBase), width, 0, dS.subarray(1), n);
        for (let i = 0; i < kq; i++) {
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
        if (gQ)
          K.sgemm(
            false,
            false,
            kq,
            dh,
            kkv,
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
            kkv,
            dh,
            kq,
            1,
            dS.subarray(1),
            n,
            q.data.subarray(qBase),
            width,
            1,
            gK.subarray(kBase),
            width,
          );
      }
  });
}

/** Softmax of P[r .. r + n) in place over column 0 (the null key) and the unmasked keys. */
function softmaxRow(P: Float32Array, r: number, n: number, keyMask: Uint8Array, m0: number): void {
  let max = P[r];
  for (let j = 1; j < n; j++) if (keyMask[m0 + j - 1] === 1 && P[r + j] > max) max = P[r + j];
  let total = 0;
  for (let j = 0; j < n; j++) {
    const e = j === 0 || keyMask[m0 + j - 1] === 1 ? Math.exp(P[r + j] - max) : 0;
    P[r + j] = e;
    total += e;
  }
  for (let j = 0; j < n; j++) P[r + j] /= total;
}
