/** Softmax and log-softmax over the last axis, with an optional mask (0 = excluded). */
import { copyOf, floats } from '../memory.js';
import { needsGrad, record } from '../autograd.js';
import { kernels } from '../../kernels/select.js';
import { Tensor } from '../tensor.js';

/**
 * softmax over the last axis. `mask`, when given, has one byte per element of a block of
 * the input's trailing dims and is repeated over the leading ones (for attention scores
 * [B, H, L, L] with a mask of [B, 1, L, L] use `maskedSoftmax`). Masked entries get
 * probability 0; a fully masked row is all 0.
 */
export function softmax(x: Tensor, mask?: Uint8Array): Tensor {
  const cols = x.shape[x.rank - 1];
  const rows = x.size / cols;
  const out = new Tensor(copyOf(x.data), x.shape);
  if (mask) {
    if (x.size % mask.length !== 0)
      throw new RangeError(`softmax: mask of ${mask.length} does not tile ${x.size} elements`);
    applyMask(out.data, mask, 1, mask.length);
  }
  kernels().softmaxRows(out.data, rows, cols);
  return softmaxNode(x, out, rows, cols);
}

/**
 * Attention softmax: scores [B, H, Lq, Lk] with mask [B, Lq, Lk] shared by the H heads.
 */
export function maskedSoftmax(scores: Tensor, mask: Uint8Array): Tensor {
  if (scores.rank !== 4)
    throw new RangeError(`maskedSoftmax expects [B, H, Lq, Lk], got [${scores.shape.join(', ')}]`);
  const [B, H, Lq, Lk] = scores.shape;
  if (mask.length !== B * Lq * Lk)
    throw new RangeError(`maskedSoftmax: mask has ${mask.length} entries, expected B·Lq·Lk = ${B * Lq * Lk}`);
  const out = new Tensor(copyOf(scores.data), scores.shape);
  applyMask(out.data, mask, H, Lq * Lk);
  kernels().softmaxRows(out.data, B * H * Lq, Lk);
  return softmaxNode(scores, out, B * H * Lq, Lk);
}

/** Sets masked entries to -Infinity. Mask block b covers `repeat` consecutive blocks of x. */
function applyMask(x: Float32Array, mask: Uint8Array, repeat: number, block: number): void {
  const blocks = x.length / block;
  for (let t = 0; t < blocks; t++) {
    const m = Math.floor(t / repeat) % (mask.length / block);
    const xo = t * block;
    const mo = m * block;
    for (let j = 0; j < block; j++) if (mask[mo + j] === 0) x[xo + j] = -Infinity;
  }
}

function softmaxNode(x: Tensor, out: Tensor, rows: number, cols: number): Tensor {
  if (!needsGrad(x)) return out;
  return record(out, () => {
    // dx = y ⊙ (dy − Σ dy⊙y), row by row
    const g = out.grad!;
    const y = out.data;
    const gx = x.gradBuffer();
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let dot = 0;
      for (let j = 0; j < cols; j++) dot += g[o + j] * y[o + j];
      for (let j = 0; j < cols; j++) gx[o + j] += y[o + j] * (g[o + j] - dot);
    }
  });
}

/** log-softmax over the last axis (numerically stable). */
export function logSoftmax(x: Tensor): Tensor {
  const cols = x.shape[x.rank - 1];
  const rows = x.size / cols;
  const out = new Tensor(floats(x.size), x.shape);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let max = -Infinity;
    for (let j = 0; j < cols; j++) if (x.data[o + j] > max) max = x.data[o + j];
    let s = 0;
    for (let j = 0; j < cols; j++) s += Math.exp(x.data[o + j] - max);
    const lse = max + Math.log(s);
    for (let j = 0; j < cols; j++) out.data[o + j] = x.data[o + j] - lse;
  }
  if (!needsGrad(x)) return out;
  return record(out, () => {
    // dx = dy − softmax · Σ dy
    const g = out.grad!;
    const gx = x.gradBuffer();
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let s = 0;
      for (let j = 0; j < cols; j++) s += g[o + j];
      for (let j = 0; j < cols; j++) gx[o + j] += g[o + j] - Math.exp(out.data[o + j]) * s;
    }
  });
}

/**
 * log Σ_j exp(x[..., j]) along the last axis, kept as an axis of size 1 ([..., 1]) so that it
 * broadcasts against x. Stable (the row's maximum is factored out); a row of −∞ gives −∞ and no
 * gradient. Backward: dx = dy · softmax(x).
 */
export function logSumExp(x: Tensor): Tensor {
  const cols = x.shape[x.rank - 1];
  const rows = x.size / cols;
  const out = new Tensor(floats(rows), [...x.shape.slice(0, -1), 1]);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let max = -Infinity;
    for (let j = 0; j < cols; j++) if (x.data[o + j] > max) max = x.data[o + j];
    if (max === -Infinity) {
      out.data[r] = -Infinity;
      continue;
    }
    let s = 0;
    for (let j = 0; j < cols; j++) s += Math.exp(x.data[o + j] - max);
    out.data[r] = max + Math.log(s);
  }
  if (!needsGrad(x)) return out;
  return record(out, () => {
    const g = out.grad!;
    const gx = x.gradBuffer();
    for (let r = 0; r < rows; r++) {
      const lse = out.data[r];
      if (lse === -Infinity) continue;
      const o = r * cols;
      for (let j = 0; j < cols; j++) gx[o + j] += g[r] * Math.exp(x.data[o + j] - lse);
    }
  });
}

/**
 * The mask for maskedSoftmax over right-padded sequences: mask[b, i, j] = 1 when query i of
 * sequence b may attend to key j, i.e. j <= i and j < length_b.
 */
export function causalPaddingMask(lengths: Int32Array, maxLen: number): Uint8Array {
  const B = lengths.length;
  const mask = new Uint8Array(B * maxLen * maxLen);
  for (let b = 0; b < B; b++) {
    const len = lengths[b];
    if (!(len >= 0 && len <= maxLen))
      throw new RangeError(`sequence ${b} has length ${len}, outside [0, ${maxLen}]`);
    for (let i = 0; i < maxLen; i++) {
      const o = (b * maxLen + i) * maxLen;
      const upto = Math.min(i + 1, len);
      for (let j = 0; j < upto; j++) mask[o + j] = 1;
    }
  }
  return mask;
}
