/**
 * The routers of MOCA's conditional attention (CoLT5's, `colt5_attention/coor_descent.py`):
 * a soft top-k by coordinate descent gives every token a weight p ∈ (0, 1], about 1 for the
 * k_eff best-scored tokens and falling off below; the k tokens with the largest p are routed,
 * with straight-through weights (value 1, gradient of p). The coordinate descent is one fused
 * engine op (engine/ops/coordinate-descent.ts), its gradient through the 20 iterations.
 */
import { coordinateDescent, type CoordinateDescentOptions } from '../engine/ops/coordinate-descent.js';
import { add, mul, sub } from '../engine/ops/elementwise.js';
import { detach, indexRows, reshape } from '../engine/ops/shape.js';
import { topkIndices } from '../engine/ops/topk.js';
import { Tensor } from '../engine/tensor.js';

/** CoLT5's defaults, which MOCA keeps. */
export const COORDINATE_DESCENT: CoordinateDescentOptions = {
  iterations: 20,
  eps: 0.03,
  epsInit: 4,
  epsDecay: 0.7,
};

export interface Routed {
  /** [B·k] token index within its row, best first. */
  indices: Int32Array;
  /** [B, k] straight-through weights: 1 in value (0 for a masked token), p's gradient. */
  weights: Tensor;
}

/**
 * Routes k tokens per row: with k ≥ n every token, weight 1 (CoLT5's shortcut); otherwise the
 * k largest p of the coordinate descent with k_eff = min(k·9/8, n).
 */
export function routeTopK(s: Tensor, k: number, mask: Float32Array | null = null): Routed {
  const [B, n] = s.shape;
  const valid = mask ?? new Float32Array(B * n).fill(1);
  if (k >= n) {
    const indices = new Int32Array(B * n);
    for (let i = 0; i < indices.length; i++) indices[i] = i % n;
    return { indices, weights: new Tensor(Float32Array.from(valid), [B, n]) };
  }
  const p = coordinateDescent(s, Math.min((k * 9) / 8, n), mask, COORDINATE_DESCENT);
  const indices = topkIndices(p.data, B, n, k);
  const flat = flatRows(indices, k, n);
  const pk = reshape(indexRows(reshape(p, [B * n, 1]), flat), [B, k]);
  const ones = new Tensor(new Float32Array(flat.length), [B, k]);
  for (let i = 0; i < flat.length; i++) ones.data[i] = valid[flat[i]];
  // w = p + stopgrad(1 − p) where the token is valid: the value is exactly 1, the gradient p's.
  const weights = mul(add(pk, detach(sub(ones, pk))), ones);
  return { indices, weights };
}

/** Rows of the flattened [B·n] tokens for each sequence's k routed token indices ([B·k]). */
export function flatRows(indices: Int32Array, k: number, n: number): Int32Array {
  // Plain loops: Int32Array.from with a mapping function took 3-4% of a MOCA epoch.
  const flat = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) flat[i] = Math.floor(i / k) * n + indices[i];
  return flat;
}
