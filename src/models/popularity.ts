/**
 * Popularity: every user gets the items most often interacted with in the training data.
 * The floor any personalised model must clear.
 */
import { Module } from '../engine/nn/module.js';
import type { LossResult, SequenceBatch, SequentialRecommender } from './model.js';

export class Popularity extends Module implements SequentialRecommender {
  readonly kind = 'popularity';
  readonly trainable = false;
  private readonly scores: Float32Array;

  /** counts[i] = training interactions of item i (index 0 = padding, never recommended). */
  constructor(
    counts: Float64Array,
    readonly maxLen = 50,
  ) {
    super();
    this.scores = Float32Array.from(counts);
    this.scores[0] = -Infinity;
  }

  loss(_batch: SequenceBatch): LossResult {
    throw new Error('the popularity baseline has nothing to train');
  }

  scoreLast(batch: SequenceBatch): Float32Array {
    const n = this.scores.length;
    const out = new Float32Array(batch.size * n);
    for (let b = 0; b < batch.size; b++) out.set(this.scores, b * n);
    return out;
  }
}
