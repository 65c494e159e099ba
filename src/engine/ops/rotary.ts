/**
 * Rotary position embeddings (RoFormer; the rotate-half layout of lucidrains' code, which MOCA
 * uses): the last axis of x, of even size h, is two halves x1, x2, and at position p
 *   out1 = x1 ⊙ cos(p·θ) − x2 ⊙ sin(p·θ),   out2 = x2 ⊙ cos(p·θ) + x1 ⊙ sin(p·θ),
 * with θ_i = base^(−2i/h), i < h/2. A rotation: norms are kept, and ⟨rot_p q, rot_s k⟩ depends
 * on p − s only. Backward: the rotation by −p·θ.
 */
import { scratch } from '../memory.js';
import { needsGrad, record } from '../autograd.js';
import { kernels } from '../../kernels/select.js';
import type { Kernels } from '../../kernels/kernels.js';
import { Tensor } from '../tensor.js';

/** x [..., h] with one position per row of the last axis (positions.length = x.size / h). */
export function rotary(x: Tensor, positions: Int32Array, base = 10000): Tensor {
  const h = x.shape[x.rank - 1];
  if (h % 2 !== 0) throw new RangeError(`rotary: the last axis must have an even size, got ${h}`);
  const rows = x.size / h;
  if (positions.length !== rows)
    throw new RangeError(`rotary: ${positions.length} positions for ${rows} rows of [${x.shape.join(', ')}]`);
  const half = h / 2;
  const table = angles(h, base, positions);
  // rotate writes every element.
  const out = new Tensor(scratch(x.size), x.shape);
  rotate(x.data, out.data, table.cos, table.sin, positions, rows, half, 1, false);
  if (!needsGrad(x)) return out;
  // Written into a fresh gradient, else added to it, each rotated value rounded to float32 first,
  // as when it was rotated into a buffer of its own and then added.
  return record(out, () => {
    const { buf, beta } = x.gradTarget();
    rotate(out.grad!, buf, table.cos, table.sin, positions, rows, half, -1, beta === 1);
  });
}

/** cos and sin of p·θ_i for every position p up to the largest asked, i < h/2. */
interface AngleTable {
  cos: Float64Array;
  sin: Float64Array;
}

/** Tables per (h, base), grown to the largest position seen: positions are few and repeat. */
const TABLES = new Map<string, AngleTable>();

function angles(h: number, base: number, positions: Int32Array): AngleTable {
  let top = 0;
  for (let r = 0; r < positions.length; r++) {
    const p = positions[r];
    if (!(p >= 0)) throw new RangeError(`rotary: positions must be non-negative integers, got ${p}`);
    if (p > top) top = p;
  }
  const key = `${h}:${base}`;
  const half = h / 2;
  const have = TABLES.get(key);
  if (have && have.cos.length > top * half) return have;
  const count = Math.max(top + 1, 2 * ((have?.cos.length ?? 0) / half));
  const table = { cos: new Float64Array(count * half), sin: new Float64Array(count * half) };
  for (let p = 0; p < count; p++)
    for (let i = 0; i < half; i++) {
      const angle = p * base ** (-(2 * i) / h);
      table.cos[p * half + i] = Math.cos(angle);
      table.sin[p * half + i] = Math.sin(angle);
    }
  TABLES.set(key, table);
  return table;
}

/**
 * dst = the rotation of src by sign·angle (dst += it, with `add`), row r at positions[r]: the
 * backend's rotary kernel where it has one, else rotateRows.
 */
function rotate(...args: Parameters<typeof rotateRows>): void {
  (kernels().rotary ?? rotateRows)(...args);
}

/** The rotation in JavaScript: the reference the rotary kernels are tested against. */
export const rotateRows: NonNullable<Kernels['rotary']> = (
  src,
  dst,
  cos,
  sin,
  positions,
  rows,
  half,
  sign,
  add,
) => {
  for (let r = 0; r < rows; r++) {
    const o = r * 2 * half;
    const at = positions[r] * half;
    for (let i = 0; i < half; i++) {
      const c = cos[at + i];
      const s = sign * sin[at + i];
      const a = src[o + i];
      const b = src[o + half + i];
      const u = a * c - b * s;
      const v = b * c + a * s;
      dst[o + i] = add ? dst[o + i] + Math.fround(u) : u;
      dst[o + half + i] = add ? dst[o + half + i] + Math.fround(v) : v;
    }
  }
};
