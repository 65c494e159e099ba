/**
 * Rotary position embeddings (RoFormer; the rotate-half layout of lucidrains' code, which MOCA
 * uses): the last axis of x, of even size h, is two halves x1, x2, and at position p
 *   out1 = x1 ⊙ cos(p·θ) − x2 ⊙ sin(p·θ),   out2 = x2 ⊙ cos(p·θ) + x1 ⊙ sin(p·θ),
 * with θ_i = base^(−2i/h), i < h/2. A rotation: norms are kept, and ⟨rot_p q, rot_s k⟩ depends
 * on p − s only. Backward: the rotation by −p·θ.
 */
import { floats } from '../memory.js';
import { needsGrad, record } from '../autograd.js';
import { Tensor } from '../tensor.js';

/** x [..., h] with one position per row of the last axis (positions.length = x.size / h). */
export function rotary(x: Tensor, positions: Int32Array, base = 10000): Tensor {
  const h = x.shape[x.rank - 1];
  if (h % 2 !== 0) throw new RangeError(`rotary: the last axis must have an even size, got ${h}`);
  const rows = x.size / h;
  if (positions.length !== rows)
    throw new RangeError(`rotary: ${positions.length} positions for ${rows} rows of [${x.shape.join(', ')}]`);
  const half = h / 2;
  const cos = new Float64Array(rows * half);
  const sin = new Float64Array(rows * half);
  for (let r = 0; r < rows; r++)
    for (let i = 0; i < half; i++) {
      const angle = positions[r] * base ** (-(2 * i) / h);
      cos[r * half + i] = Math.cos(angle);
      sin[r * half + i] = Math.sin(angle);
    }
  const out = new Tensor(floats(x.size), x.shape);
  rotate(x.data, out.data, cos, sin, rows, half, 1);
  if (!needsGrad(x)) return out;
  return record(out, () => {
    const gx = floats(x.size);
    rotate(out.grad!, gx, cos, sin, rows, half, -1);
    const into = x.gradBuffer();
    for (let k = 0; k < gx.length; k++) into[k] += gx[k];
  });
}

/** dst = the rotation of src by sign·angle, row by row. */
function rotate(
  src: Float32Array,
  dst: Float32Array,
  cos: Float64Array,
  sin: Float64Array,
  rows: number,
  half: number,
  sign: 1 | -1,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * 2 * half;
    for (let i = 0; i < half; i++) {
      const c = cos[r * half + i];
      const s = sign * sin[r * half + i];
      const a = src[o + i];
      const b = src[o + half + i];
      dst[o + i] = a * c - b * s;
      dst[o + half + i] = b * c + a * s;
    }
  }
}
