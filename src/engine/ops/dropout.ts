/** Inverted dropout: in training, zero each element with probability p and scale the rest by 1/(1−p). */
import { scratch } from '../memory.js';
import { needsGrad, record } from '../autograd.js';
import type { Rng } from '../rng.js';
import { kernels } from '../../kernels/select.js';
import { Tensor } from '../tensor.js';

export function dropout(x: Tensor, p: number, rng: Rng, training: boolean): Tensor {
  if (!(p >= 0 && p < 1)) throw new RangeError(`dropout probability must be in [0, 1), got ${p}`);
  if (!training || p === 0) return x;
  const keep = 1 / (1 - p);
  // Compare 32-bit integers: one random word per element, no float conversion.
  const threshold = Math.floor(p * 4294967296);
  const scale = scratch(x.size);
  const out = new Tensor(scratch(x.size), x.shape);
  // The random words go in the scale buffer's bytes (from the arena, not a fresh array each
  // call): element i's word is read before its scale overwrites it, and never read again.
  const bits = new Uint32Array(scale.buffer, scale.byteOffset, x.size);
  rng.fillU32(bits);
  kernels().dropout(x.data, bits, threshold, keep, x.size, out.data, scale);
  if (!needsGrad(x)) return out;
  return record(out, () => {
    const g = out.grad!;
    const { buf: gx, beta } = x.gradTarget();
    // What the loops computed: a float32 product, or the exact product added in float64 and
    // stored as float32.
    if (beta === 0) kernels().binaryCycle('mul', g, scale, gx, g.length, g.length);
    else kernels().addProductRepeat(g, scale, gx, g.length, 1);
  });
}
