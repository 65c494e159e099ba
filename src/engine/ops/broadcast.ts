/**
 * NumPy-style broadcasting for binary ops. The common cases (same shape, a trailing-dims
 * operand such as a bias, a scalar) take fast paths; anything else goes through an index map.
 */
import { kernels } from '../../kernels/select.js';
import { scratch } from '../memory.js';
import type { Shape } from '../tensor.js';
import { sizeOf } from '../tensor.js';

export function broadcastShape(a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new RangeError(`shapes [${a.join(', ')}] and [${b.join(', ')}] cannot be broadcast together`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/**
 * How operand elements map onto output elements:
 *   'same'   - index i of the output is index i of the operand
 *   'cycle'  - the operand equals the output's trailing dims: index i % size
 *   'repeat' - the operand equals the output's leading dims (trailing dims 1, e.g. a per-row
 *              scale [R, 1] against [R, d]): index floor(i / each)
 *   'map'    - an explicit index map (general broadcasting)
 */
export type Layout =
  | { kind: 'same' }
  | { kind: 'cycle'; size: number }
  | { kind: 'repeat'; each: number }
  | { kind: 'map'; index: Int32Array };

export function layoutFor(inShape: Shape, outShape: Shape): Layout {
  const n = sizeOf(inShape);
  const outN = sizeOf(outShape);
  if (n === outN) return { kind: 'same' };
  const strip = [...inShape];
  while (strip.length > 0 && strip[0] === 1) strip.shift();
  const tail = outShape.slice(outShape.length - strip.length);
  if (strip.every((d, i) => d === tail[i])) return { kind: 'cycle', size: n };
  const rank = outShape.length;
  const padded = Array(rank - inShape.length)
    .fill(1)
    .concat(inShape);
  let k = 0;
  while (k < rank && padded[k] === outShape[k]) k++;
  if (padded.slice(k).every((d) => d === 1)) return { kind: 'repeat', each: outN / n };
  // General case: walk the output with an odometer and track the operand's offset.
  const strides = new Array<number>(rank);
  let s = 1;
  for (let d = rank - 1; d >= 0; d--) {
    strides[d] = padded[d] === 1 ? 0 : s;
    s *= padded[d];
  }
  const index = stridedIndex(outShape, strides);
  return { kind: 'map', index };
}

/**
 * For each element of a row-major array of shape `shape`, its offset in another array that
 * steps `strides[d]` per unit of dimension d (an odometer walk; no division per element).
 * Shared by broadcasting (stride 0 on broadcast dims) and permute (permuted strides).
 */
export function stridedIndex(shape: readonly number[], strides: readonly number[]): Int32Array {
  const rank = shape.length;
  const n = shape.reduce((p, d) => p * d, 1);
  const index = new Int32Array(n);
  const counter = new Array<number>(rank).fill(0);
  let off = 0;
  for (let i = 0; i < n; i++) {
    index[i] = off;
    for (let d = rank - 1; d >= 0; d--) {
      counter[d]++;
      off += strides[d];
      if (counter[d] < shape[d]) break;
      off -= strides[d] * counter[d];
      counter[d] = 0;
    }
  }
  return index;
}

export function indexOf(layout: Layout, i: number): number {
  switch (layout.kind) {
    case 'same':
      return i;
    case 'cycle':
      return i % layout.size;
    case 'repeat':
      return Math.floor(i / layout.each);
    case 'map':
      return layout.index[i];
  }
}

/** Sums an output-shaped gradient back onto an operand laid out as `layout`. */
export function reduceInto(layout: Layout, g: Float32Array, into: Float32Array, scale?: Float32Array): void {
  const n = g.length;
  if (layout.kind === 'same') {
    if (scale) for (let i = 0; i < n; i++) into[i] += g[i] * scale[i];
    else for (let i = 0; i < n; i++) into[i] += g[i];
  } else if (layout.kind === 'cycle') {
    const m = layout.size;
    for (let base = 0; base < n; base += m) {
      if (scale) for (let j = 0; j < m; j++) into[j] += g[base + j] * scale[base + j];
      else for (let j = 0; j < m; j++) into[j] += g[base + j];
    }
  } else if (layout.kind === 'repeat') {
    const e = layout.each;
    for (let r = 0, base = 0; base < n; r++, base += e) {
      let acc = 0;
      if (scale) for (let j = base; j < base + e; j++) acc += g[j] * scale[j];
      else for (let j = base; j < base + e; j++) acc += g[j];
      into[r] += acc;
    }
  } else {
    const idx = layout.index;
    if (scale) for (let i = 0; i < n; i++) into[idx[i]] += g[i] * scale[i];
    else for (let i = 0; i < n; i++) into[idx[i]] += g[i];
  }
}

/**
 * reduceInto with the scale g ⊙ other, `other` laid out as `otherLayout` (a product's backward),
 * without materialising `other` when one side is a per-row scalar (gates, routing weights): the
 * same sums in the same order as with the expanded array.
 */
export function reduceProductInto(
  layout: Layout,
  g: Float32Array,
  into: Float32Array,
  other: Float32Array,
  otherLayout: Layout,
): void {
  const n = g.length;
  if (layout.kind === 'same' && otherLayout.kind === 'repeat')
    kernels().addProductRepeat(g, other, into, n, otherLayout.each);
  else if (layout.kind === 'repeat' && otherLayout.kind === 'same')
    kernels().addRowDots(g, other, into, n, layout.each);
  else reduceInto(layout, g, into, expand(otherLayout, other, n));
}

/** Materialises an operand at the output's shape (used by backward passes that need it). */
export function expand(layout: Layout, x: Float32Array, n: number): Float32Array {
  if (layout.kind === 'same') return x;
  const out = scratch(n);
  for (let i = 0; i < n; i++) out[i] = x[indexOf(layout, i)];
  return out;
}
