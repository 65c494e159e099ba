/** Element-wise arithmetic with broadcasting, and scalar scaling. */
import { floats, scratch } from '../memory.js';
import { needsGrad, record } from '../autograd.js';
import { Tensor } from '../tensor.js';
import {
  broadcastShape,
  expand,
  layoutFor,
  reduceInto,
  reduceProductInto,
  type Layout,
} from './broadcast.js';

type BinaryKind = 'add' | 'sub' | 'mul' | 'div';

function compute(
  kind: BinaryKind,
  a: Float32Array,
  la: Layout,
  b: Float32Array,
  lb: Layout,
  out: Float32Array,
): void {
  const n = out.length;
  // Fast paths: both operands laid out like the output, or the second one cycling (a bias).
  if (la.kind === 'same' && (lb.kind === 'same' || lb.kind === 'cycle')) {
    const m = lb.kind === 'cycle' ? lb.size : n;
    for (let base = 0; base < n; base += m) {
      switch (kind) {
        case 'add':
          for (let j = 0; j < m; j++) out[base + j] = a[base + j] + b[j];
          break;
        case 'sub':
          for (let j = 0; j < m; j++) out[base + j] = a[base + j] - b[j];
          break;
        case 'mul':
          for (let j = 0; j < m; j++) out[base + j] = a[base + j] * b[j];
          break;
        case 'div':
          for (let j = 0; j < m; j++) out[base + j] = a[base + j] / b[j];
          break;
      }
    }
    return;
  }
  if (la.kind === 'same' && lb.kind === 'repeat') {
    // A per-row scalar (gates, modality weights): one value of b per run of `each` outputs.
    const e = lb.each;
    for (let r = 0, base = 0; base < n; r++, base += e) {
      const y = b[r];
      for (let j = base; j < base + e; j++) {
        const x = a[j];
        out[j] = kind === 'add' ? x + y : kind === 'sub' ? x - y : kind === 'mul' ? x * y : x / y;
      }
    }
    return;
  }
  const ea = expand(la, a, n);
  const eb = expand(lb, b, n);
  for (let i = 0; i < n; i++) {
    const x = ea[i];
    const y = eb[i];
    out[i] = kind === 'add' ? x + y : kind === 'sub' ? x - y : kind === 'mul' ? x * y : x / y;
  }
}

function binary(kind: BinaryKind, a: Tensor, b: Tensor): Tensor {
  const shape = broadcastShape(a.shape, b.shape);
  const out = new Tensor(scratch(shape.reduce((p, d) => p * d, 1)), shape); // compute writes it all
  const la = layoutFor(a.shape, shape);
  const lb = layoutFor(b.shape, shape);
  compute(kind, a.data, la, b.data, lb, out.data);
  if (!needsGrad(a, b)) return out;
  return record(out, () => {
    const g = out.grad!;
    const n = g.length;
    // An operand shaped like the output takes the gradient as it is (addGrad: no zero fill).
    const whole = (l: Layout) => l.kind === 'same';
    if (a.requiresGrad) {
      if ((kind === 'add' || kind === 'sub') && whole(la)) a.addGrad(g);
      else if (kind === 'add' || kind === 'sub') reduceInto(la, g, a.gradBuffer());
      else if (kind === 'mul') reduceProductInto(la, g, a.gradBuffer(), b.data, lb);
      else {
        const eb = expand(lb, b.data, n);
        const inv = floats(n);
        for (let i = 0; i < n; i++) inv[i] = 1 / eb[i];
        reduceInto(la, g, a.gradBuffer(), inv);
      }
    }
    if (b.requiresGrad) {
      if (kind === 'add' && whole(lb)) b.addGrad(g);
      else if (kind === 'sub' && whole(lb)) b.addGrad(g, -1);
      else if (kind === 'add') reduceInto(lb, g, b.gradBuffer());
      else if (kind === 'sub') {
        const neg = floats(n);
        for (let i = 0; i < n; i++) neg[i] = -g[i];
        reduceInto(lb, neg, b.gradBuffer());
      } else if (kind === 'mul') reduceProductInto(lb, g, b.gradBuffer(), a.data, la);
      else {
        // d(a/b)/db = -a/b² = -out/b
        const eb = expand(lb, b.data, n);
        const f = floats(n);
        for (let i = 0; i < n; i++) f[i] = -out.data[i] / eb[i];
        reduceInto(lb, g, b.gradBuffer(), f);
      }
    }
  });
}

export const add = (a: Tensor, b: Tensor): Tensor => binary('add', a, b);
export const sub = (a: Tensor, b: Tensor): Tensor => binary('sub', a, b);
export const mul = (a: Tensor, b: Tensor): Tensor => binary('mul', a, b);
export const div = (a: Tensor, b: Tensor): Tensor => binary('div', a, b);

/** s · x for a plain number s. */
export function scale(x: Tensor, s: number): Tensor {
  const out = new Tensor(scratch(x.size), x.shape);
  for (let i = 0; i < x.size; i++) out.data[i] = x.data[i] * s;
  if (!needsGrad(x)) return out;
  return record(out, () => {
    x.addGrad(out.grad!, s);
  });
}

/** Sum of several same-shaped tensors in one pass (residual sums, per-modality scores). */
export function addN(...xs: Tensor[]): Tensor {
  if (xs.length === 0) throw new Error('addN needs at least one tensor');
  const shape = xs[0].shape;
  for (const x of xs) {
    if (x.size !== xs[0].size)
      throw new RangeError(`addN: shape [${x.shape.join(', ')}] differs from [${shape.join(', ')}]`);
  }
  const out = new Tensor(scratch(xs[0].size), shape);
  out.data.set(xs[0].data);
  for (let k = 1; k < xs.length; k++) {
    const d = xs[k].data;
    for (let i = 0; i < d.length; i++) out.data[i] += d[i];
  }
  if (!needsGrad(...xs)) return out;
  return record(out, () => {
    const g = out.grad!;
    for (const x of xs) if (x.requiresGrad) x.addGrad(g);
  });
}
