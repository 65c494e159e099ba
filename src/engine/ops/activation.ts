/** Element-wise nonlinearities. GELU runs on the kernel backend (it is the FFN's hot spot). */
import { scratch } from '../memory.js';
import { needsGrad, record } from '../autograd.js';
import { kernels } from '../../kernels/select.js';
import { Tensor } from '../tensor.js';

/** y = f(x) element-wise, with dy/dx expressed through x and y. */
function unary(x: Tensor, f: (v: number) => number, df: (x: number, y: number) => number): Tensor {
  const out = new Tensor(scratch(x.size), x.shape);
  const xd = x.data;
  const yd = out.data;
  for (let i = 0; i < xd.length; i++) yd[i] = f(xd[i]);
  if (!needsGrad(x)) return out;
  return record(out, () => {
    const g = out.grad!;
    const { buf: gx, beta } = x.gradTarget();
    if (beta === 0) for (let i = 0; i < g.length; i++) gx[i] = g[i] * df(xd[i], yd[i]);
    else for (let i = 0; i < g.length; i++) gx[i] += g[i] * df(xd[i], yd[i]);
  });
}

/** max(x, 0) element-wise. */
export const relu = (x: Tensor): Tensor => rectifier(x, 0, true);

/**
 * tanh element-wise, on the kernel backend (native: a vectorised tanh in float64, where
 * Math.tanh cost about 20 ns an element, 5 ms of a CAMMSR step in its category scorer).
 */
export function tanh(x: Tensor): Tensor {
  const out = new Tensor(scratch(x.size), x.shape);
  kernels().tanh(x.data, out.data, x.size);
  if (!needsGrad(x)) return out;
  const y = out.data;
  return record(out, () => {
    const g = out.grad!;
    const { buf: gx, beta } = x.gradTarget();
    if (beta === 0) for (let i = 0; i < g.length; i++) gx[i] = g[i] * (1 - y[i] * y[i]);
    else for (let i = 0; i < g.length; i++) gx[i] += g[i] * (1 - y[i] * y[i]);
  });
}

/** max(x, slope·x) element-wise (MMSR's attention logits use slope 0.1). */
export const leakyRelu = (x: Tensor, slope = 0.01): Tensor => rectifier(x, slope, false);

/**
 * x where x > 0, else slope·x, or else exactly 0 for ReLU (`zero`: NaN and −∞ give 0, as
 * max(x, 0) in the former loops; leakyRelu with slope 0 keeps slope·x, NaN for NaN). Its own loops rather than `unary`'s calls
 * of f and df: those calls are shared by every activation, so V8 inlines none of them, and they
 * were most of a ReLU (12% of an MMSR step).
 */
function rectifier(x: Tensor, slope: number, zero: boolean): Tensor {
  const out = new Tensor(scratch(x.size), x.shape);
  const xd = x.data;
  const yd = out.data;
  if (zero) for (let i = 0; i < xd.length; i++) yd[i] = xd[i] > 0 ? xd[i] : 0;
  else for (let i = 0; i < xd.length; i++) yd[i] = xd[i] > 0 ? xd[i] : slope * xd[i];
  if (!needsGrad(x)) return out;
  return record(out, () => {
    const g = out.grad!;
    const { buf: gx, beta } = x.gradTarget();
    if (beta === 0) for (let i = 0; i < g.length; i++) gx[i] = xd[i] > 0 ? g[i] : g[i] * slope;
    else for (let i = 0; i < g.length; i++) gx[i] += xd[i] > 0 ? g[i] : g[i] * slope;
  });
}

/** e^x element-wise (dy/dx = y). */
export const exp = (x: Tensor): Tensor => unary(x, Math.exp, (_, y) => y);

export const sigmoid = (x: Tensor): Tensor =>
  unary(
    x,
    (v) => (v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v))),
    (_, y) => y * (1 - y),
  );

/** Exact (erf) GELU, as in BERT/RecBole. */
export function gelu(x: Tensor): Tensor {
  const out = new Tensor(scratch(x.size), x.shape);
  kernels().gelu(x.data, out.data, x.size);
  if (!needsGrad(x)) return out;
  return record(out, () => {
    // The first contribution is written by the kernel in place; a later one through a buffer.
    const { buf, beta } = x.gradTarget();
    if (beta === 0) return kernels().geluBackward(x.data, out.grad!, buf, x.size);
    const dx = scratch(x.size);
    kernels().geluBackward(x.data, out.grad!, dx, x.size);
    for (let i = 0; i < dx.length; i++) buf[i] += dx[i];
  });
}
