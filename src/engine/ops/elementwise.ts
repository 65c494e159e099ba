/** Element-wise arithmetic with broadcasting, and scalar scaling. */
import { kernels } from '../../kernels/select.js';
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
  // Fast paths: both operands laid out like the output, or the second one cycling (a bias), or
  // one value of it per run of outputs (gates, modality weights).
  if (la.kind === 'same' && (lb.kind === 'same' || lb.kind === 'cycle'))
    return kernels().binaryCycle(kind, a, b, out, n, lb.kind === 'cycle' ? lb.size : n);
  if (la.kind === 'same' && lb.kind === 'repeat') return kernels().binaryRepeat(kind, a, b, out, n, lb.each);
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
      else if (kind === 'mul') productGrad(a, la, g, b.data, lb);
      else {
        const eb = expand(lb, b.data, n);
        const inv = floats(n);
        for (let i = 0; i < n; i++) inv[i] = 1 / eb[i];
        reduceInto(la, g, a.gradBuffer(), inv);
      }
    }
    if (b.requiresGrad) {
      // b comes last, so it may take out's gradient buffer as its own (takeGradOf).
      if (kind === 'add' && whole(lb)) b.takeGradOf(out);
      else if (kind === 'sub' && whole(lb)) b.takeGradOf(out, -1);
      else if (kind === 'add') reduceInto(lb, g, b.gradBuffer());
      else if (kind === 'sub') {
        const neg = floats(n);
        for (let i = 0; i < n; i++) neg[i] = -g[i];
        reduceInto(lb, neg, b.gradBuffer());
      } else if (kind === 'mul') productGrad(b, lb, g, a.data, la);
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

/**
 * Adds g ⊙ other (other laid out as `otherLayout`) to the gradient of an operand of a product.
 * An operand shaped like the output whose gradient this is the first of takes the product
 * written straight into a fresh buffer: no zero fill and no read of it (the same floats as
 * adding them to zeros, but for the sign of a zero).
 */
function productGrad(
  t: Tensor,
  layout: Layout,
  g: Float32Array,
  other: Float32Array,
  otherLayout: Layout,
): void {
  const n = g.length;
  if (t.grad === null && layout.kind === 'same' && otherLayout.kind !== 'map') {
    const { buf } = t.gradTarget();
    if (otherLayout.kind === 'repeat') kernels().binaryRepeat('mul', g, other, buf, n, otherLayout.each);
    else kernels().binaryCycle('mul', g, other, buf, n, otherLayout.kind === 'cycle' ? otherLayout.size : n);
    return;
  }
  reduceProductInto(layout, g, t.gradBuffer(), other, otherLayout);
}

export const add = (a: Tensor, b: Tensor): Tensor => binary('add', a, b);
export const sub = (a: Tensor, b: Tensor): Tensor => binary('sub', a, b);
export const mul = (a: Tensor, b: Tensor): Tensor => binary('mul', a, b);
export const div = (a: Tensor, b: Tensor): Tensor => binary('div', a, b);

/** s · x for a plain number s. */
export function scale(x: Tensor, s: number): Tensor {
  const out = new Tensor(scratch(x.size), x.shape);
  kernels().axpy(x.size, s, x.data, out.data, 0);
  if (!needsGrad(x)) return out;
  return record(out, () => x.takeGradOf(out, s));
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
  for (let k = 1; k < xs.length; k++) kernels().axpy(out.size, 1, xs[k].data, out.data, 1);
  if (!needsGrad(...xs)) return out;
  return record(out, () => {
    // The last input may take out's buffer (takeGradOf), so it goes after every other has read it.
    const needing = xs.filter((x) => x.requiresGrad);
    for (let k = 0; k < needing.length - 1; k++) needing[k].addGrad(out.grad!);
    needing[needing.length - 1].takeGradOf(out);
  });
}
