/**
 * Relation-aware pair scores over a batch of small graphs (MMSR's homogeneous attention logits):
 * with node states x [B, N, d], one weight vector per relation, relations [R, d], and each node
 * pair's relation kinds [B·N·N] (an index into relations, or −1 for a pair without one),
 *
 *   out[b, i, j] = relations[kind[b,i,j]] · (x[b,i] ⊙ x[b,j])   (0 where kind is −1)
 *
 * Written with dense ops it is, per relation, a bilinear batch product over every pair and a
 * mask multiplied in; this runs over the related pairs only. Backward, with g = dOut[b,i,j] and
 * a = relations[kind[b,i,j]]:  dx[b,i] += g·a⊙x[b,j];  dx[b,j] += g·a⊙x[b,i];  da += g·x[b,i]⊙x[b,j].
 */
import { floats } from '../memory.js';
import { needsGrad, record } from '../autograd.js';
import { Tensor } from '../tensor.js';

export function relationScores(x: Tensor, relations: Tensor, kinds: Int32Array): Tensor {
  if (x.rank !== 3 || relations.rank !== 2 || relations.shape[1] !== x.shape[2])
    throw new RangeError(
      `relationScores: x [B, N, d] and relations [R, d], got [${x.shape.join(', ')}] and [${relations.shape.join(', ')}]`,
    );
  const [B, N, d] = x.shape;
  const R = relations.shape[0];
  if (kinds.length !== B * N * N)
    throw new RangeError(`relationScores: ${kinds.length} relation kinds for ${B}×${N}×${N} pairs`);
  const bad = kinds.findIndex((k) => k < -1 || k >= R);
  if (bad >= 0)
    throw new RangeError(`relationScores: kind ${kinds[bad]} at pair ${bad} is not in [-1, ${R})`);
  const xs = x.data;
  const a = relations.data;
  const out = new Tensor(floats(B * N * N), [B, N, N]); // unrelated pairs stay 0
  const o = out.data;
  eachPair(kinds, N, (p, xi, xj, r) => {
    let s = 0;
    for (let k = 0; k < d; k++) s += a[r * d + k] * xs[xi * d + k] * xs[xj * d + k];
    o[p] = s;
  });
  if (!needsGrad(x, relations)) return out;
  return record(out, () => {
    const g = out.grad!;
    const gx = needsGrad(x) ? x.gradBuffer() : null;
    const ga = needsGrad(relations) ? relations.gradBuffer() : null;
    eachPair(kinds, N, (p, xi, xj, r) => {
      const gp = g[p];
      for (let k = 0; k < d; k++) {
        const ak = gp * a[r * d + k];
        const vi = xs[xi * d + k];
        const vj = xs[xj * d + k];
        if (gx) {
          gx[xi * d + k] += ak * vj;
          gx[xj * d + k] += ak * vi;
        }
        if (ga) ga[r * d + k] += gp * vi * vj;
      }
    });
  });
}

/** visit(pair, row of node i, row of node j, relation) for every pair with a relation. */
function eachPair(
  kinds: Int32Array,
  N: number,
  visit: (pair: number, xi: number, xj: number, r: number) => void,
): void {
  for (let p = 0; p < kinds.length; p++) {
    const r = kinds[p];
    if (r < 0) continue;
    const b = Math.floor(p / (N * N));
    const i = Math.floor(p / N) % N;
    visit(p, b * N + i, b * N + (p % N), r);
  }
}
