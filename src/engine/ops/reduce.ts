/** Reductions: sum and mean, over everything or along one axis. */
import { floats } from '../memory.js';
import { needsGrad, record } from '../autograd.js';
import { Tensor } from '../tensor.js';

function reduce(x: Tensor, axis: number | undefined, mean: boolean): Tensor {
  if (axis === undefined) {
    let s = 0;
    for (let i = 0; i < x.size; i++) s += x.data[i];
    const f = mean ? 1 / x.size : 1;
    const out = new Tensor(Float32Array.of(s * f), [1]);
    if (!needsGrad(x)) return out;
    return record(out, () => {
      const g = out.grad![0] * f;
      const gx = x.gradBuffer();
      for (let i = 0; i < gx.length; i++) gx[i] += g;
    });
  }
  const ax = axis < 0 ? x.rank + axis : axis;
  if (ax < 0 || ax >= x.rank) throw new RangeError(`axis ${axis} out of range for rank ${x.rank}`);
  const outer = x.shape.slice(0, ax).reduce((p, d) => p * d, 1);
  const len = x.shape[ax];
  const inner = x.shape.slice(ax + 1).reduce((p, d) => p * d, 1);
  const f = mean ? 1 / len : 1;
  const outShape = x.shape.filter((_, i) => i !== ax);
  const out = new Tensor(floats(outer * inner), outShape.length ? outShape : [1]);
  for (let o = 0; o < outer; o++) {
    for (let l = 0; l < len; l++) {
      const src = (o * len + l) * inner;
      for (let j = 0; j < inner; j++) out.data[o * inner + j] += x.data[src + j];
    }
  }
  if (f !== 1) for (let i = 0; i < out.size; i++) out.data[i] *= f;
  if (!needsGrad(x)) return out;
  return record(out, () => {
    const g = out.grad!;
    const gx = x.gradBuffer();
    for (let o = 0; o < outer; o++) {
      for (let l = 0; l < len; l++) {
        const dst = (o * len + l) * inner;
        for (let j = 0; j < inner; j++) gx[dst + j] += g[o * inner + j] * f;
      }
    }
  });
}

/** Sum of all elements (shape [1]) or along `axis` (that axis removed). */
export const sum = (x: Tensor, axis?: number): Tensor => reduce(x, axis, false);
/** Mean of all elements (shape [1]) or along `axis` (that axis removed). */
export const mean = (x: Tensor, axis?: number): Tensor => reduce(x, axis, true);
