/** Normalisations over the last axis: LayerNorm, DyT (its drop-in replacement), RMSNorm and L2-normalise. */
import { scratch } from '../memory.js';
import { needsGrad, record } from '../autograd.js';
import { kernels } from '../../kernels/select.js';
import { Tensor } from '../tensor.js';

/** LayerNorm(x) = γ ⊙ (x − μ) / sqrt(σ² + eps) + β over the last axis (biased variance). */
export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-12): Tensor {
  const d = x.shape[x.rank - 1];
  if (gamma.size !== d || beta.size !== d) throw new RangeError(`layerNorm: γ/β must have ${d} elements`);
  const rows = x.size / d;
  // Every element of these is written by the kernel.
  const out = new Tensor(scratch(x.size), x.shape);
  const xhat = scratch(x.size);
  const rstd = scratch(rows);
  kernels().layerNorm(x.data, gamma.data, beta.data, eps, rows, d, out.data, xhat, rstd);
  if (!needsGrad(x, gamma, beta)) return out;
  return record(out, () => {
    kernels().layerNormBackward(out.grad!, xhat, rstd, gamma.data, rows, d, ...affineTargets(x, gamma, beta));
  });
}

/** Dynamic Tanh: DyT(x) = γ ⊙ tanh(α·x) + β, α a learned scalar (shape [1]). */
export function dyt(x: Tensor, alpha: Tensor, gamma: Tensor, beta: Tensor): Tensor {
  const d = x.shape[x.rank - 1];
  if (alpha.size !== 1) throw new RangeError('dyt: α must be a scalar tensor');
  if (gamma.size !== d || beta.size !== d) throw new RangeError(`dyt: γ/β must have ${d} elements`);
  const a = alpha.data[0];
  const rows = x.size / d;
  const t = scratch(x.size);
  const out = new Tensor(scratch(x.size), x.shape);
  kernels().dyt(x.data, a, gamma.data, beta.data, rows, d, out.data, t);
  if (!needsGrad(x, alpha, gamma, beta)) return out;
  return record(out, () => {
    const targets = affineTargets(x, gamma, beta);
    const ga = kernels().dytBackward(out.grad!, x.data, t, a, gamma.data, rows, d, ...targets);
    if (alpha.requiresGrad) alpha.gradBuffer()[0] += ga;
  });
}

/**
 * Where the backward kernel of a normalisation with affine γ, β writes: x's gradient (written
 * when it is the first contribution, else added), then γ's and β's; null where none is needed.
 */
function affineTargets(x: Tensor, gamma: Tensor, beta: Tensor) {
  return [
    ...inputTarget(x),
    gamma.requiresGrad ? gamma.gradBuffer() : null,
    beta.requiresGrad ? beta.gradBuffer() : null,
  ] as const;
}

/** Where a normalisation kernel writes x's gradient, and whether it adds to it (a later contribution); null when x needs none. */
function inputTarget(x: Tensor) {
  const gx = x.requiresGrad ? x.gradTarget() : null;
  return [gx ? gx.buf : null, gx?.beta === 1] as const;
}

/**
 * RMSNorm as MOCA's code writes it, x / max(‖x‖₂, eps) · √d · γ over the last axis (γ [d]), in
 * one op: composed of l2Normalize, scale and a broadcast product it was three passes and three
 * buffers forward, and γ's gradient a broadcast reduction. With x̂ = x / n, n = max(‖x‖, eps):
 *   dγ += Σ_rows dy ⊙ x̂ · √d;   u = dy ⊙ γ · √d;   dx = (u − x̂ (x̂ · u)) / n   (u / n when n ≤ eps).
 */
export function rmsNorm(x: Tensor, gamma: Tensor, eps = 1e-12): Tensor {
  const d = x.shape[x.rank - 1];
  if (gamma.rank !== 1 || gamma.shape[0] !== d)
    throw new RangeError(`rmsNorm: gamma must be [${d}], got [${gamma.shape.join(', ')}]`);
  const rows = x.size / d;
  // Every element of these is written by the kernel.
  const out = new Tensor(scratch(x.size), x.shape);
  const norms = scratch(rows);
  kernels().rmsNorm(x.data, gamma.data, eps, rows, d, out.data, norms);
  if (!needsGrad(x, gamma)) return out;
  return record(out, () => {
    const gg = gamma.requiresGrad ? gamma.gradBuffer() : null;
    kernels().rmsNormBackward(out.grad!, x.data, norms, gamma.data, eps, rows, d, ...inputTarget(x), gg);
  });
}

/** x / max(‖x‖₂, eps) over the last axis. */
export function l2Normalize(x: Tensor, eps = 1e-12): Tensor {
  const d = x.shape[x.rank - 1];
  const rows = x.size / d;
  // Both written in full below.
  const out = new Tensor(scratch(x.size), x.shape);
  const norms = scratch(rows);
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    let s = 0;
    for (let j = 0; j < d; j++) s += x.data[o + j] ** 2;
    const n = Math.max(Math.sqrt(s), eps);
    norms[r] = n;
    for (let j = 0; j < d; j++) out.data[o + j] = x.data[o + j] / n;
  }
  if (!needsGrad(x)) return out;
  return record(out, () => {
    const g = out.grad!;
    const gx = x.gradBuffer();
    for (let r = 0; r < rows; r++) {
      const o = r * d;
      const n = norms[r];
      if (n <= eps) {
        for (let j = 0; j < d; j++) gx[o + j] += g[o + j] / n;
        continue;
      }
      // dx = (dy − y·(y·dy)) / ‖x‖
      let dot = 0;
      for (let j = 0; j < d; j++) dot += out.data[o + j] * g[o + j];
      for (let j = 0; j < d; j++) gx[o + j] += (g[o + j] - out.data[o + j] * dot) / n;
    }
  });
}
