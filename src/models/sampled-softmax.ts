/**
 * Sampled softmax for the next-item loss: instead of every item, each training step ranks a
 * shared set of candidates — the targets of the batch (in-batch negatives for the other rows)
 * and `negatives` draws from a proposal over the items, popularity^alpha (alpha 0 = uniform).
 * The logQ correction makes it an estimate of the full softmax: every candidate's logit gets
 * −log p_j, where p_j is the probability that item j is among the candidates of a step
 *   p_j = 1 − (1 − q_j)^K · (1 − f_j)^R,
 * with q_j the proposal, K the draws, f_j the item's share of training interactions (how often
 * it is a target) and R the batch's target rows. Padding and held-out items are never drawn.
 */
import { firstAbove, type Rng } from '../engine/rng.js';

export interface SampledSoftmaxConfig {
  /** Draws from the proposal per training step (duplicates and targets collapse into one candidate). */
  negatives: number;
  /** Exponent of the popularity proposal q_j ∝ (count_j + 1)^alpha; 0 draws uniformly. */
  alpha: number;
}

export interface StepCandidates {
  /** Candidate item ids, ascending and distinct: every target and every drawn item. */
  ids: Int32Array;
  /** Each target row's position in `ids`. */
  positions: Int32Array;
  /** −log p_j per candidate: added to its logits. */
  offsets: Float32Array;
}

export class NegativeSampler {
  /** Cumulative proposal over `pool` (last entry 1). */
  private readonly cdf: Float64Array;
  /** The items that can be drawn: not padding, not held out. */
  private readonly pool: Int32Array;
  /** 1 for the items a step may rank (not padding, not held out). */
  private readonly inPool: Uint8Array;
  /** log(1 − q_j) and log(1 − f_j) by item id (0 for items never drawn / never a target). */
  private readonly logMissQ: Float64Array;
  private readonly logMissF: Float64Array;

  constructor(
    readonly config: SampledSoftmaxConfig,
    items: number,
    counts: ArrayLike<number> | undefined,
    heldOut: Uint8Array | undefined,
  ) {
    if (!(Number.isInteger(config.negatives) && config.negatives >= 1))
      throw new RangeError(`sampled softmax: negatives must be a positive integer, got ${config.negatives}`);
    if (!(config.alpha >= 0)) throw new RangeError(`sampled softmax: alpha must be ≥ 0, got ${config.alpha}`);
    const pool: number[] = [];
    for (let i = 1; i <= items; i++) if (heldOut?.[i] !== 1) pool.push(i);
    if (pool.length === 0) throw new RangeError('sampled softmax: no item to draw');
    this.pool = Int32Array.from(pool);
    this.inPool = new Uint8Array(items + 1);
    for (const i of pool) this.inPool[i] = 1;
    const count = (i: number) => (counts ? counts[i] : 0);
    const weight = this.pool.map((i) => (count(i) + 1) ** config.alpha);
    const totalWeight = weight.reduce((a, b) => a + b, 0);
    const totalCount = pool.reduce((a, i) => a + count(i), 0);
    this.cdf = new Float64Array(pool.length);
    this.logMissQ = new Float64Array(items + 1);
    this.logMissF = new Float64Array(items + 1);
    let acc = 0;
    this.pool.forEach((i, k) => {
      const q = weight[k] / totalWeight;
      acc += q;
      this.cdf[k] = acc;
      this.logMissQ[i] = Math.log1p(-Math.min(q, 1 - 1e-12));
      const f = totalCount > 0 ? count(i) / totalCount : 1 / pool.length;
      this.logMissF[i] = Math.log1p(-Math.min(f, 1 - 1e-12));
    });
    this.cdf[pool.length - 1] = 1;
  }

  /** The sampler of a model's data, or null for the full softmax (no configuration). */
  static of(
    config: SampledSoftmaxConfig | null | undefined,
    data: { items: number; popularity?: ArrayLike<number>; heldOut?: Uint8Array },
  ): NegativeSampler | null {
    return config ? new NegativeSampler(config, data.items, data.popularity, data.heldOut) : null;
  }

  /** One step's candidates for the given (non-padding) targets. */
  draw(targets: Int32Array, rng: Rng): StepCandidates {
    // A target outside the pool would get p_j = 0 (an infinite logit): a bug upstream, said plainly.
    for (const t of targets)
      if (this.inPool[t] !== 1)
        throw new RangeError(`item ${t} is held out of training (or padding) but is a training target`);
    const chosen = new Set<number>(targets);
    for (let k = 0; k < this.config.negatives; k++)
      chosen.add(this.pool[firstAbove(this.cdf, rng.uniform())]);
    const ids = Int32Array.from(chosen).sort();
    const at = new Map<number, number>();
    ids.forEach((id, k) => at.set(id, k));
    const K = this.config.negatives;
    const R = targets.length;
    const offsets = Float32Array.from(ids, (j) => {
      const logMiss = K * this.logMissQ[j] + R * this.logMissF[j];
      // p_j = 1 − exp(logMiss), computed without cancellation when p_j is small.
      return -Math.log(-Math.expm1(logMiss));
    });
    return { ids, positions: targets.map((t) => at.get(t)!), offsets };
  }
}
