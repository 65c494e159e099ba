/**
 * Tensors: a contiguous row-major Float32Array plus a shape. Views that only change the shape
 * share storage; everything else allocates. Gradients are dense Float32Arrays, except that an
 * embedding table may also receive a sparse row gradient (`rowGrad`), so that a step that
 * touches 500 of 12,000 rows never loops over all rows.
 */
import { isBackwardRoot, runBackward } from './autograd.js';
import { kernels } from '../kernels/select.js';
import { floats, scratch } from './memory.js';
import { RowGrad } from './row-grad.js';

export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0)
      throw new RangeError(`invalid dimension ${d} in shape [${shape.join(', ')}]`);
    n *= d;
  }
  return n;
}

export class Tensor {
  readonly data: Float32Array;
  readonly shape: Shape;
  /** Dense gradient, allocated on first use during backward. */
  grad: Float32Array | null = null;
  /** Sparse gradient over rows of a 2-D table (embedding lookups). */
  rowGrad: RowGrad | null = null;
  requiresGrad: boolean;
  /** Optional label used in error messages and when saving parameters. */
  name: string | undefined;

  constructor(data: Float32Array, shape: Shape, requiresGrad = false, name?: string) {
    const n = sizeOf(shape);
    if (data.length !== n) {
      throw new RangeError(
        `tensor data has ${data.length} elements but shape [${shape.join(', ')}] needs ${n}`,
      );
    }
    this.data = data;
    this.shape = Object.freeze([...shape]);
    this.requiresGrad = requiresGrad;
    this.name = name;
  }

  get size(): number {
    return this.data.length;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** Size of dimension `axis` (negative counts from the end). */
  dim(axis: number): number {
    const a = axis < 0 ? this.shape.length + axis : axis;
    if (a < 0 || a >= this.shape.length)
      throw new RangeError(`axis ${axis} out of range for rank ${this.rank}`);
    return this.shape[a];
  }

  /** The dense gradient buffer, allocated (zero) if needed. */
  gradBuffer(): Float32Array {
    if (this.grad === null) this.grad = floats(this.data.length);
    return this.grad;
  }

  /**
   * Adds s·src to the dense gradient. The first contribution is written straight into a fresh
   * buffer: no zero fill, and no read of it.
   */
  addGrad(src: Float32Array, s = 1): void {
    if (src.length !== this.data.length)
      throw new RangeError(`addGrad: ${src.length} values for a tensor of ${this.data.length}`);
    const { buf: g, beta } = this.gradTarget();
    if (beta === 0 && s === 1) g.set(src);
    else kernels().axpy(src.length, s, src, g, beta);
  }

  /**
   * addGrad for a buffer the caller gives up (an op's own scratch, never read again): when it is
   * the first contribution it becomes the gradient, scaled in place, instead of being copied
   * (the fused loss's item-table gradient is 1.5M floats).
   */
  giveGrad(buf: Float32Array, s = 1): void {
    if (this.grad !== null || buf.length !== this.data.length) return this.addGrad(buf, s);
    if (s !== 1) kernels().axpy(buf.length, s, buf, buf, 0);
    this.grad = buf;
  }

  /**
   * Adds s·out.grad, from the backward of the op that made `out`, for its last input to take that
   * gradient. When this has no gradient yet, out's buffer becomes this one's (scaled in place)
   * instead of being copied: out's gradient is spent by then (the backward pass drops an
   * intermediate's right after its op), unless out is the pass's root, which keeps its own.
   */
  takeGradOf(out: Tensor, s = 1): void {
    const g = out.grad!;
    if (this.grad !== null || g.length !== this.data.length || isBackwardRoot(out)) return this.addGrad(g, s);
    out.grad = null;
    this.giveGrad(g, s);
  }

  /**
   * The dense gradient buffer for a kernel to write a contribution into, and how: beta 0 when it
   * is the first (the buffer's contents are unspecified and must be overwritten, as a GEMM with
   * beta 0 does), 1 to add to the earlier ones.
   */
  gradTarget(): { buf: Float32Array; beta: 0 | 1 } {
    if (this.grad !== null) return { buf: this.grad, beta: 1 };
    this.grad = scratch(this.data.length);
    return { buf: this.grad, beta: 0 };
  }

  /** The sparse row-gradient accumulator of a 2-D table, created if needed. */
  rowGradBuffer(): RowGrad {
    if (this.rank !== 2)
      throw new Error(`row gradients need a 2-D table, got shape [${this.shape.join(', ')}]`);
    if (this.rowGrad === null) this.rowGrad = new RowGrad(this.shape[0], this.shape[1]);
    return this.rowGrad;
  }

  zeroGrad(): void {
    this.grad = null;
    this.rowGrad?.clear();
  }

  /**
   * Back-propagates from this scalar (or from `seed` for a non-scalar output) through every op
   * recorded since the previous backward() (the tape works like a GradientTape): build one
   * loss per backward, summing several losses with addN first.
   */
  backward(seed?: Float32Array): void {
    runBackward(this, seed);
  }

  /** A scalar's value as a number. */
  item(): number {
    if (this.size !== 1)
      throw new Error(`item() needs a single-element tensor, got shape [${this.shape.join(', ')}]`);
    return this.data[0];
  }

  toArray(): number[] {
    return Array.from(this.data);
  }

  toString(): string {
    return `Tensor(${this.name ?? ''}[${this.shape.join('x')}]${this.requiresGrad ? ', grad' : ''})`;
  }
}

/** A constant tensor (no gradient). */
export function tensor(values: ArrayLike<number>, shape?: Shape): Tensor {
  const data = Float32Array.from(values);
  return new Tensor(data, shape ?? [data.length]);
}

export function zeros(shape: Shape): Tensor {
  return new Tensor(floats(sizeOf(shape)), shape);
}

export function full(shape: Shape, value: number): Tensor {
  return new Tensor(floats(sizeOf(shape)).fill(value), shape);
}

/** A trainable parameter: requires a gradient. */
export function parameter(data: Float32Array, shape: Shape, name?: string): Tensor {
  return new Tensor(data, shape, true, name);
}
