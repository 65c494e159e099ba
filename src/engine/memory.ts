/**
 * Where the engine's float buffers come from. Every op output, gradient and temporary is a
 * zero-filled Float32Array from `floats(n)`. Outside an arena that is `new Float32Array(n)`.
 * Inside `StepArena.run` it is a view into large slabs that are reused by the next step.
 *
 * Why: a training step allocates a few hundred megabytes of short-lived typed arrays. V8
 * counts them as external memory and starts a full mark-compact each time about 64 MB more
 * is outstanding, several times per step: a fifth of the training time went to the collector
 * (docs/performance.md). Views into reused slabs allocate no external memory at all.
 *
 * The contract: nothing allocated inside `run` may be read after the next `run` of the same
 * arena starts. The trainer holds that by construction (each step's tensors, gradients
 * included, are dropped before the next step); parameters, optimizer state and anything
 * created outside `run` are ordinary arrays.
 */

/** Default slab size in floats (32 MiB); a larger request gets a slab of its own size. */
const SLAB_FLOATS = 8 << 20;

let active: StepArena | null = null;

/** A zero-filled float buffer of n elements, from the active arena if there is one. */
export function floats(n: number): Float32Array {
  return active === null ? new Float32Array(n) : active.take(n);
}

/**
 * A float buffer of n elements whose contents are unspecified (inside an arena, whatever an
 * earlier step left there): for a caller that writes every element before reading any. It saves
 * the zero fill, an eighth of a CAMMSR step when every buffer was filled.
 */
export function scratch(n: number): Float32Array {
  return active === null ? new Float32Array(n) : active.take(n, false);
}

/** n 32-bit words with unspecified contents, from the active arena if there is one (dropout's random words). */
export function scratchWords(n: number): Uint32Array {
  const f = scratch(n);
  return new Uint32Array(f.buffer, f.byteOffset, n);
}

/**
 * Hands a buffer that nothing will read again back to the active arena, which serves it to
 * the next `floats` call of the same length (backward frees each intermediate gradient once
 * it is propagated). Buffers not from the active arena are left to the collector.
 */
export function recycle(buf: Float32Array): void {
  if (active !== null) active.give(buf);
}

export class StepArena {
  /** `slabFloats`: the size of each slab (smaller for a short forward pass, such as a request's). */
  constructor(private readonly slabFloats = SLAB_FLOATS) {}

  private readonly slabs: Float32Array[] = [];
  /** Recycled views of this run, by length. */
  private readonly free = new Map<number, Float32Array[]>();
  private slab = 0;
  private offset = 0;
  private peak = 0;
  private used = 0;

  /**
   * Runs one step with `floats` served from this arena; the buffers of the previous `run`
   * are reused, so nothing from it may still be in use. Runs do not nest.
   */
  run<T>(fn: () => T): T {
    if (active !== null) throw new Error('StepArena.run: an arena is already active (runs do not nest)');
    this.slab = 0;
    this.offset = 0;
    this.used = 0;
    this.free.clear();
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- floats() serves from the active arena
    active = this;
    try {
      return fn();
    } finally {
      active = null;
      this.peak = Math.max(this.peak, this.used);
    }
  }

  /** Floats handed out by the largest run so far, and floats held in slabs. */
  stats(): { peakFloats: number; heldFloats: number } {
    return { peakFloats: this.peak, heldFloats: this.slabs.reduce((s, b) => s + b.length, 0) };
  }

  /** Drops the slabs (the next run allocates afresh). */
  release(): void {
    if (active === this) throw new Error('StepArena.release: called inside run');
    this.slabs.length = 0;
    this.free.clear();
  }

  /** What `floats` (zero: true) and `scratch` (zero: false) call while this arena is active. */
  take(n: number, zero = true): Float32Array {
    const reused = this.free.get(n)?.pop();
    if (reused !== undefined) {
      if (zero) reused.fill(0);
      return reused;
    }
    // Keep every view 16-byte aligned so that SIMD kernels see aligned rows.
    const size = (n + 3) & ~3;
    while (this.slab < this.slabs.length && this.offset + size > this.slabs[this.slab].length) {
      this.slab++;
      this.offset = 0;
    }
    if (this.slab === this.slabs.length) {
      this.slabs.push(new Float32Array(Math.max(this.slabFloats, size)));
      this.offset = 0;
    }
    const view = this.slabs[this.slab].subarray(this.offset, this.offset + n);
    this.offset += size;
    this.used += size;
    if (zero) view.fill(0);
    return view;
  }

  /** What `recycle` calls while this arena is active; buffers from elsewhere are ignored. */
  give(buf: Float32Array): void {
    if (!this.slabs.some((s) => s.buffer === buf.buffer)) return;
    const list = this.free.get(buf.length);
    if (list === undefined) this.free.set(buf.length, [buf]);
    else list.push(buf);
  }
}

/** A copy of `src` in a buffer from the arena (when one is active). */
export function copyOf(src: Float32Array): Float32Array {
  const out = scratch(src.length);
  out.set(src);
  return out;
}
