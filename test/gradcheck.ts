/**
 * Finite-difference gradient checking. The scalar checked is L = Σ w ⊙ f(inputs) for fixed
 * random weights w (so every output element matters), accumulated in float64. Each checked
 * input element is perturbed by ±eps and the central difference compared with the gradient
 * from backward(). The engine computes in float32, so eps is chosen large enough (1e-2 by
 * default) that rounding stays well below the tolerance, and small enough that curvature does.
 */
import assert from 'node:assert/strict';
import { noGrad } from '../src/engine/autograd.js';
import { Rng } from '../src/engine/rng.js';
import { Tensor } from '../src/engine/tensor.js';

export interface GradCheckOptions {
  eps?: number;
  rtol?: number;
  atol?: number;
  /** Check at most this many elements per input (chosen at random). */
  maxChecks?: number;
  seed?: number;
}

export function randomTensor(shape: number[], rng: Rng, scale = 1, requiresGrad = true): Tensor {
  const n = shape.reduce((p, d) => p * d, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = rng.normal() * scale;
  return new Tensor(data, shape, requiresGrad);
}

function weightedSum(out: Tensor, w: Float64Array): number {
  let s = 0;
  for (let i = 0; i < out.size; i++) s += w[i] * out.data[i];
  return s;
}

/** Dense view of an input's gradient, merging a sparse row gradient if there is one. */
function denseGrad(t: Tensor): Float32Array {
  const g = new Float32Array(t.size);
  if (t.grad) g.set(t.grad);
  t.rowGrad?.addTo(g);
  return g;
}

export function gradCheck(
  fn: (...xs: Tensor[]) => Tensor,
  inputs: Tensor[],
  opts: GradCheckOptions = {},
): void {
  const eps = opts.eps ?? 1e-2;
  const rtol = opts.rtol ?? 2e-2;
  const atol = opts.atol ?? 2e-3;
  const rng = new Rng(opts.seed ?? 7);
  for (const x of inputs) x.zeroGrad();
  const out = fn(...inputs);
  const w = new Float64Array(out.size);
  for (let i = 0; i < w.length; i++) w[i] = rng.normal();
  out.backward(Float32Array.from(w));
  let checked = 0;
  inputs.forEach((x, xi) => {
    if (!x.requiresGrad) return;
    const analytic = denseGrad(x);
    const idx = Array.from({ length: x.size }, (_, i) => i);
    rng.shuffle(idx);
    for (const i of idx.slice(0, opts.maxChecks ?? 40)) {
      const orig = x.data[i];
      x.data[i] = orig + eps;
      const up = noGrad(() => weightedSum(fn(...inputs), w));
      x.data[i] = orig - eps;
      const down = noGrad(() => weightedSum(fn(...inputs), w));
      x.data[i] = orig;
      const numeric = (up - down) / (2 * eps);
      const a = analytic[i];
      const ok = Math.abs(a - numeric) <= atol + rtol * Math.max(Math.abs(a), Math.abs(numeric));
      assert.ok(ok, `input ${xi} element ${i}: analytic ${a} vs numeric ${numeric}`);
      checked++;
    }
  });
  assert.ok(checked > 0, 'gradCheck checked no element: no input requires a gradient');
}
