/**
 * Seeded pseudo-random numbers: xoshiro128** (fast, 32-bit state words, good statistical
 * quality), seeded through splitmix32 so that nearby seeds give unrelated streams.
 * Same seed -> same sequence on every platform: everything is 32-bit integer arithmetic.
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare: number | null = null;
  /** False for a generator that draws nothing (NoDrawRng): initialisers then leave zeros as they are. */
  readonly draws: boolean = true;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new TypeError(`Rng seed must be a finite number, got ${seed}`);
    let x = (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
    const next = (): number => {
      // splitmix32
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /**
   * Fills `out` with uniform 32-bit words: the same stream as repeated nextU32(), generated
   * with the state in locals (several times faster for dropout masks).
   */
  fillU32(out: Uint32Array): void {
    let s0 = this.s0;
    let s1 = this.s1;
    let s2 = this.s2;
    let s3 = this.s3;
    for (let i = 0; i < out.length; i++) {
      const m = Math.imul(s1, 5);
      out[i] = Math.imul((m << 7) | (m >>> 25), 9);
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
    }
    this.s0 = s0;
    this.s1 = s1;
    this.s2 = s2;
    this.s3 = s3;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal (Box-Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** In-place Fisher-Yates shuffle. */
  shuffle<T>(a: T[] | Int32Array): void {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
  }

  /** The generator's state (for checkpoints): restoring it continues the exact same stream. */
  getState(): number[] {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0, this.spare ?? NaN];
  }

  setState(state: readonly number[]): void {
    if (state.length !== 5 || !state.slice(0, 4).every((v) => Number.isInteger(v) && v >= 0 && v < 2 ** 32)) {
      throw new RangeError('Rng.setState: expected four 32-bit words and the spare normal');
    }
    [this.s0, this.s1, this.s2, this.s3] = state.map((v) => v | 0);
    this.spare = Number.isNaN(state[4]) ? null : state[4];
  }

  /** A new generator whose stream is determined by this one (for independent sub-streams). */
  fork(): Rng {
    return new Rng(this.nextU32());
  }
}

/**
 * A generator that draws nothing: every value is 0 (uniform: 0.5, the centre, so that a
 * uniform initialiser also gives 0). For building a model whose every parameter is about to be
 * overwritten by loaded weights, which then costs no random values; never for training.
 */
export class NoDrawRng extends Rng {
  override readonly draws: boolean = false;

  constructor() {
    super(0);
  }
  override nextU32(): number {
    return 0;
  }
  override uniform(): number {
    return 0.5;
  }
  override normal(): number {
    return 0;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * Inverse-CDF sampling's search: the first index whose cumulative weight exceeds u (cum is
 * non-decreasing; u in [0, cum's last)). Draw with `firstAbove(cum, rng.uniform() * total)`.
 */
export function firstAbove(cum: ArrayLike<number>, u: number): number {
  let lo = 0;
  let hi = cum.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cum[mid] > u) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
