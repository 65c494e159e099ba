/**
 * Popularity: every user gets the items most often interacted with in the training data.
 * The floor any personalised model must clear.
 */
import { SequentialModel, type LossResult, type Scorer, type SequenceBatch } from './model.js';

export class Popularity extends SequentialModel {
  readonly kind = 'popularity';
  readonly trainable = false;
  readonly ranksUnseenItems = false;
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

  /** One dimension: every user is [1], every item its count. */
  scorer(): Scorer {
    return { dim: 1, items: this.scores, users: (batch) => new Float32Array(batch.size).fill(1) };
  }
}
