/** Shape manipulation: reshape (a view), permute/transpose, concat, slice, row gathers. */
import { copyOf, floats, scratch } from '../memory.js';
import { needsGrad, record } from '../autograd.js';
import { sizeOf, Tensor, type Shape } from '../tensor.js';
import { stridedIndex } from './broadcast.js';
import { kernels } from '../../kernels/select.js';
import type { RowBlock } from '../../kernels/kernels.js';

function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? rank + axis : axis;
  if (a < 0 || a >= rank) throw new RangeError(`axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Same data, new shape (one dimension may be -1). Shares storage with x. */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const s = [...shape];
  const free = s.indexOf(-1);
  if (free >= 0) {
    const known = s.reduce((p, d, i) => (i === free ? p : p * d), 1);
    s[free] = known === 0 ? 0 : x.size / known;
  }
  if (sizeOf(s) !== x.size)
    throw new RangeError(`cannot reshape [${x.shape.join(', ')}] to [${shape.join(', ')}]`);
  const out = new Tensor(x.data, s);
  if (!needsGrad(x)) return out;
  return record(out, () => x.takeGradOf(out));
}

/** Moves axes: out.shape[i] = x.shape[perm[i]]. Copies. */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  const r = x.rank;
  if (perm.length !== r || [...perm].sort((p, q) => p - q).some((v, i) => v !== i)) {
    throw new RangeError(`permute: [${perm.join(', ')}] is not a permutation of ${r} axes`);
  }
  const outShape = perm.map((p) => x.shape[p]);
  const inStrides = new Array<number>(r);
  let s = 1;
  for (let d = r - 1; d >= 0; d--) {
    inStrides[d] = s;
    s *= x.shape[d];
  }
  const strides = perm.map((p) => inStrides[p]);
  const n = x.size;
  // index[i] = offset in x of output element i; used by both directions.
  const index = stridedIndex(outShape, strides);
  const out = new Tensor(scratch(n), outShape);
  for (let i = 0; i < n; i++) out.data[i] = x.data[index[i]];
  if (!needsGrad(x)) return out;
  return record(out, () => {
    const g = out.grad!;
    const gx = x.gradBuffer();
    for (let i = 0; i < n; i++) gx[index[i]] += g[i];
  });
}

/** Swaps two axes. */
export function transpose(x: Tensor, a0: number, a1: number): Tensor {
  const perm = x.shape.map((_, i) => i);
  const p = normAxis(a0, x.rank);
  const q = normAxis(a1, x.rank);
  perm[p] = q;
  perm[q] = p;
  return permute(x, perm);
}

/** Joins tensors along an axis; all other dims must agree. */
export function concat(xs: readonly Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new Error('concat needs at least one tensor');
  const r = xs[0].rank;
  const ax = normAxis(axis, r);
  for (const x of xs) {
    if (x.rank !== r || x.shape.some((d, i) => i !== ax && d !== xs[0].shape[i])) {
      throw new RangeError(
        `concat along ${axis}: shapes [${xs.map((t) => t.shape.join('x')).join('], [')}] differ`,
      );
    }
  }
  const outer = xs[0].shape.slice(0, ax).reduce((p, d) => p * d, 1);
  const inner = xs[0].shape.slice(ax + 1).reduce((p, d) => p * d, 1);
  const widths = xs.map((x) => x.shape[ax] * inner);
  const total = widths.reduce((p, w) => p + w, 0);
  const outShape = [...xs[0].shape];
  outShape[ax] = total / inner;
  const out = new Tensor(scratch(outer * total), outShape); // every part is copied in
  let col = 0;
  xs.forEach((x, t) => {
    const w = widths[t];
    kernels().copyRows([x.data, 0, w], [out.data, col, total], outer, w);
    col += w;
  });
  if (!needsGrad(...xs)) return out;
  return record(out, () => {
    const g = out.grad!;
    let c = 0;
    xs.forEach((x, t) => {
      const w = widths[t];
      if (x.requiresGrad) {
        // A first contribution covers all of x's gradient: copied, not added to zeros.
        const { buf: gx, beta } = x.gradTarget();
        if (beta === 0) kernels().copyRows([g, c, total], [gx, 0, w], outer, w);
        else kernels().addRows([g, c, total], [gx, 0, w], outer, w);
      }
      c += w;
    });
  });
}

/** x[..., start:end, ...] along one axis. Copies. */
export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  const ax = normAxis(axis, x.rank);
  const len = x.shape[ax];
  if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= len)) {
    throw new RangeError(`slice [${start}, ${end}) out of range for axis ${axis} of size ${len}`);
  }
  const outer = x.shape.slice(0, ax).reduce((p, d) => p * d, 1);
  const inner = x.shape.slice(ax + 1).reduce((p, d) => p * d, 1);
  const w = (end - start) * inner;
  const rowIn = len * inner;
  const outShape = [...x.shape];
  outShape[ax] = end - start;
  const out = new Tensor(scratch(outer * w), outShape);
  kernels().copyRows([x.data, start * inner, rowIn], [out.data, 0, w], outer, w);
  if (!needsGrad(x)) return out;
  return record(out, () => {
    const { buf: gx, beta } = x.gradTarget();
    const into: RowBlock = [gx, start * inner, rowIn];
    if (beta === 1) return kernels().addRows([out.grad!, 0, w], into, outer, w);
    // A first contribution: the slice's part copied in, zeros around it.
    if (w < rowIn && outer === 1) {
      gx.fill(0, 0, start * inner);
      gx.fill(0, start * inner + w);
    } else if (w < rowIn) gx.fill(0);
    kernels().copyRows([out.grad!, 0, w], into, outer, w);
  });
}

/**
 * Rows of a matrix view of x (x [R, ...] seen as R rows): out[i] = x[rows[i]]. Backward adds
 * each output row's gradient to the row it came from (duplicates add up).
 */
export function indexRows(x: Tensor, rows: Int32Array): Tensor {
  const R = x.shape[0];
  const w = sizeOf(x.shape.slice(1)); // also for an empty x (x.size / R would be 0 / 0)
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    if (!(r >= 0 && r < R)) throw new RangeError(`indexRows: row ${r} (at ${i}) out of range [0, ${R})`);
  }
  const out = new Tensor(scratch(rows.length * w), [rows.length, ...x.shape.slice(1)]);
  kernels().gatherRows(x.data, rows, out.data, w);
  if (!needsGrad(x)) return out;
  return record(out, () => kernels().indexedAddRows(out.grad!, rows, x.gradBuffer(), w, true));
}

/**
 * The inverse of indexRows: a [count, ...] tensor of zeros with row rows[i] += x[i] (rows that
 * repeat add up). Backward: each x row gets its target row's gradient (a gather).
 */
export function scatterRows(x: Tensor, rows: Int32Array, count: number): Tensor {
  if (x.rank < 1 || x.shape[0] !== rows.length)
    throw new RangeError(`scatterRows: ${rows.length} row indices for [${x.shape.join(', ')}]`);
  const w = sizeOf(x.shape.slice(1));
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    if (!(r >= 0 && r < count))
      throw new RangeError(`scatterRows: row ${r} (at ${i}) out of range [0, ${count})`);
  }
  const out = new Tensor(floats(count * w), [count, ...x.shape.slice(1)]);
  kernels().indexedAddRows(x.data, rows, out.data, w, true);
  if (!needsGrad(x)) return out;
  return record(out, () => kernels().indexedAddRows(out.grad!, rows, x.gradBuffer(), w, false));
}

/**
 * x with values[i] added to row rows[i] (rows that repeat add up): x + scatterRows(values, rows,
 * R) in one pass, without the zero [R, ...] tensor. Backward: x gets the gradient as it is, each
 * values row its target row's gradient.
 */
export function addToRows(x: Tensor, rows: Int32Array, values: Tensor): Tensor {
  const R = x.shape[0];
  const w = sizeOf(x.shape.slice(1)); // also for an empty x (x.size / R would be 0 / 0)
  if (values.shape[0] !== rows.length || values.size !== rows.length * w)
    throw new RangeError(
      `addToRows: ${rows.length} row indices and values [${values.shape.join(', ')}] for rows of ${w}`,
    );
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    if (!(r >= 0 && r < R)) throw new RangeError(`addToRows: row ${r} (at ${i}) out of range [0, ${R})`);
  }
  const out = new Tensor(copyOf(x.data), x.shape);
  kernels().indexedAddRows(values.data, rows, out.data, w, true);
  if (!needsGrad(x, values)) return out;
  return record(out, () => {
    const g = out.grad!;
    if (x.requiresGrad) x.addGrad(g);
    if (values.requiresGrad) kernels().indexedAddRows(g, rows, values.gradBuffer(), w, false);
  });
}

/**
 * Embedding lookup: out[..., :] = table[ids[...], :]. The backward pass is a sparse
 * scatter-add into the table's row gradient: it touches only the looked-up rows. Lookups of
 * `paddingIdx` get no gradient (as PyTorch's padding_idx), which also skips the padding
 * positions of right-padded batches.
 */
export function embedding(
  table: Tensor,
  ids: Int32Array,
  idsShape: Shape = [ids.length],
  paddingIdx: number | null = null,
): Tensor {
  if (table.rank !== 2) throw new RangeError(`embedding table must be 2-D, got [${table.shape.join(', ')}]`);
  if (sizeOf(idsShape) !== ids.length)
    throw new RangeError(`embedding: ids shape [${idsShape.join(', ')}] does not match ${ids.length} ids`);
  const [N, d] = table.shape;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!(id >= 0 && id < N)) throw new RangeError(`embedding: id ${id} (at ${i}) out of range [0, ${N})`);
  }
  const out = new Tensor(scratch(ids.length * d), [...idsShape, d]);
  kernels().gatherRows(table.data, ids, out.data, d);
  if (!needsGrad(table)) return out;
  return record(out, () => {
    const g = out.grad!;
    const rg = table.rowGradBuffer();
    for (let i = 0; i < ids.length; i++) if (ids[i] !== paddingIdx) rg.add(ids[i], g, i * d);
  });
}

/**
 * Row-wise choice between two same-shaped tensors: out row r = takeB[r] ? b[r] : a[r]
 * (rows = first dimension). The modality-swap augmentation of CAMMSR is two of these.
 */
export function selectRows(a: Tensor, b: Tensor, takeB: Uint8Array): Tensor {
  if (a.shape.join() !== b.shape.join()) {
    throw new RangeError(`selectRows: shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}] differ`);
  }
  const R = a.shape[0];
  if (takeB.length !== R) throw new RangeError(`selectRows: ${takeB.length} choices for ${R} rows`);
  const w = a.size / R;
  const out = new Tensor(scratch(a.size), a.shape);
  for (let r = 0; r < R; r++) out.data.set((takeB[r] ? b : a).data.subarray(r * w, (r + 1) * w), r * w);
  if (!needsGrad(a, b)) return out;
  return record(out, () => {
    const g = out.grad!;
    for (let r = 0; r < R; r++) {
      const src = takeB[r] ? b : a;
      if (!src.requiresGrad) continue;
      const gs = src.gradBuffer();
      for (let j = r * w; j < (r + 1) * w; j++) gs[j] += g[j];
    }
  });
}

/** The same values with no gradient path back to x (PyTorch's x.detach()). Shares storage. */
export function detach(x: Tensor): Tensor {
  return new Tensor(x.data, x.shape);
}
