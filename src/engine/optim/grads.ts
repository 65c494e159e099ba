/** Helpers over parameter gradients that are shared by optimizers and clipping. */
import type { Tensor } from '../tensor.js';

/**
 * When a table got both a dense gradient (e.g. as the output layer) and a sparse row gradient
 * (as an input embedding), folds the rows into the dense one, so each parameter has one.
 */
export function consolidateGrad(p: Tensor): void {
  if (p.grad !== null && p.rowGrad !== null && p.rowGrad.count > 0) {
    p.rowGrad.addTo(p.grad);
    p.rowGrad.clear();
  }
}

/** L2 norm of all gradients (dense and sparse) of the given parameters. */
export function gradNorm(params: readonly Tensor[]): number {
  let s = 0;
  for (const p of params) {
    consolidateGrad(p);
    if (p.grad) for (let i = 0; i < p.grad.length; i++) s += p.grad[i] * p.grad[i];
    if (p.rowGrad) {
      const v = p.rowGrad.values;
      for (let i = 0; i < v.length; i++) s += v[i] * v[i];
    }
  }
  return Math.sqrt(s);
}

/**
 * Scales all gradients so that their joint L2 norm is at most maxNorm (PyTorch's
 * clip_grad_norm_). Returns the norm before clipping.
 */
export function clipGradNorm(params: readonly Tensor[], maxNorm: number): number {
  if (!(maxNorm > 0)) throw new RangeError(`clipGradNorm: maxNorm must be > 0, got ${maxNorm}`);
  const norm = gradNorm(params);
  const f = maxNorm / (norm + 1e-6);
  if (f < 1) {
    for (const p of params) {
      if (p.grad) for (let i = 0; i < p.grad.length; i++) p.grad[i] *= f;
      p.rowGrad?.scale(f);
    }
  }
  return norm;
}
