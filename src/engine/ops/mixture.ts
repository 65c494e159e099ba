/**
 * Gated mixture of expert outputs by blocks, fused into one op: with K expert outputs
 * ys[k] of shape [R, M·d] and M gates gates[m] of shape [R, K],
 *
 *   out[r, m·d + j] = Σ_k gates[m][r, k] · ys[k][r, m·d + j]
 *
 * i.e. each of the M column blocks of width d is mixed by its own gate (CAMoE: one attentive
 * gate per modality over K experts that each read every modality). Written out with slices,
 * broadcast products and sums it is 3·K·M + M ops and as many temporary [R, d] arrays.
 */
import { kernels } from '../../kernels/select.js';
import { floats } from '../memory.js';
import { needsGrad, record } from '../autograd.js';
import { Tensor } from '../tensor.js';

export function blockGatedSum(ys: readonly Tensor[], gates: readonly Tensor[]): Tensor {
  const K = ys.length;
  const M = gates.length;
  if (K === 0 || M === 0)
    throw new RangeError('blockGatedSum: needs at least one expert output and one gate');
  const [R, width] = ys[0].shape;
  if (ys.some((y) => y.rank !== 2 || y.shape[0] !== R || y.shape[1] !== width)) {
    throw new RangeError(`blockGatedSum: expert outputs must all be [${R}, ${width}]`);
  }
  if (width % M !== 0) throw new RangeError(`blockGatedSum: width ${width} is not a multiple of ${M} gates`);
  if (gates.some((g) => g.rank !== 2 || g.shape[0] !== R || g.shape[1] !== K)) {
    throw new RangeError(`blockGatedSum: gates must all be [${R}, ${K}]`);
  }
  const d = width / M;
  const kern = kernels();
  const out = new Tensor(floats(R * width), [R, width]);
  // Expert by expert, block by block: each output element takes its K terms in expert order.
  for (let k = 0; k < K; k++)
    for (let m = 0; m < M; m++)
      kern.gatedBlockAdd(ys[k].data, gates[m].data, K, k, R, width, m * d, d, out.data);
  if (!needsGrad(...ys, ...gates)) return out;
  return record(out, () => {
    const go = out.grad!;
    for (let k = 0; k < K; k++) {
      const gy = ys[k].requiresGrad ? ys[k].gradBuffer() : null;
      for (let m = 0; m < M; m++) {
        const gg = gates[m].requiresGrad ? gates[m].gradBuffer() : null;
        kern.gatedBlockBackward(ys[k].data, gates[m].data, K, k, R, width, m * d, d, go, gy, gg);
      }
    }
  });
}
