/**
 * Content k-NN: no training; the next item is the one whose content is most like the last
 * item's. The score of candidate j is the sum, over the chosen content modalities, of the cosine
 * similarity between j's features and the last item's (with one modality, that modality's
 * cosine: the neighbours `bench:content-signal` measures). A candidate without a modality adds
 * 0 for it. The last item is not its own neighbour (its score is -Infinity). It ranks new items
 * exactly as known ones: the baseline a multimodal model must beat on cold targets.
 */
import type { ContentModality } from '../config/names.js';
import {
  SequentialModel,
  lastRows,
  type ItemFeatures,
  type LossResult,
  type ModelData,
  type Scorer,
  type SequenceBatch,
} from './model.js';

export class ContentKnn extends SequentialModel {
  readonly kind = 'content-knn';
  readonly trainable = false;
  readonly ranksUnseenItems = true;
  /** [N + 1, D]: each item's unit feature vectors of the chosen modalities, side by side. */
  private readonly table: Float32Array;
  private readonly dim: number;

  constructor(
    readonly modalities: readonly ContentModality[],
    data: ModelData,
    readonly maxLen = 50,
  ) {
    super();
    if (modalities.length === 0) throw new Error('content-knn: the dataset has no text or image features');
    const features = modalities.map((m) => {
      const f = data[m];
      if (!f) throw new Error(`content-knn: the dataset has no ${m} features`);
      return f;
    });
    this.dim = features.reduce((s, f) => s + f.dim, 0);
    this.table = new Float32Array((data.items + 1) * this.dim);
    let at = 0;
    for (const f of features) {
      writeUnitRows(f, data.items, this.table, this.dim, at);
      at += f.dim;
    }
  }

  loss(_batch: SequenceBatch): LossResult {
    throw new Error('content-knn has nothing to train');
  }

  /** The scorer's products, with each sequence's last item taken out of its own ranking. */
  override lastScorer(): (batch: SequenceBatch) => Float32Array {
    const score = super.lastScorer();
    return (batch) => {
      const scores = score(batch);
      const width = scores.length / batch.size;
      lastRows(batch).forEach((r, b) => (scores[b * width + batch.items[r]] = -Infinity));
      return scores;
    };
  }

  /** Users: the last item's row; items: every item's row (the service excludes seen items itself). */
  scorer(): Scorer {
    const D = this.dim;
    return {
      dim: D,
      items: this.table,
      users: (batch) => {
        const out = new Float32Array(batch.size * D);
        lastRows(batch).forEach((r, b) => {
          const item = batch.items[r];
          out.set(this.table.subarray(item * D, (item + 1) * D), b * D);
        });
        return out;
      },
    };
  }
}

/** Writes each item's features scaled to unit length into columns at..at+dim of `out` (zero rows stay zero). */
export function writeUnitRows(
  f: ItemFeatures,
  items: number,
  out: Float32Array,
  width: number,
  at: number,
): void {
  const { dim, matrix, mask } = f;
  for (let i = 1; i <= items; i++) {
    if (!mask[i]) continue;
    let s = 0;
    for (let d = 0; d < dim; d++) s += matrix[i * dim + d] ** 2;
    if (s === 0) continue;
    const inv = 1 / Math.sqrt(s);
    for (let d = 0; d < dim; d++) out[i * width + at + d] = matrix[i * dim + d] * inv;
  }
}
