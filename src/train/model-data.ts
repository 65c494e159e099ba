/** What a model gets from a prepared dataset: features, categories (optionally noised), popularity. */
import type { Dataset } from '../data/dataset.js';
import { trainPopularity, type TrainingSplit } from '../data/training-split.js';
import { Rng } from '../engine/rng.js';
import type { ModelData } from '../models/model.js';

/**
 * `categoryNoise` = fraction r of items whose labels are replaced by as many random labels
 * (the robustness experiment of the spec); seeded, so the same items are corrupted per seed.
 */
export function modelData(
  ds: Dataset,
  split: TrainingSplit,
  opts: { categoryNoise?: number; seed?: number } = {},
): ModelData {
  const c = ds.content;
  const N = ds.items;
  const popularity = trainPopularity(split, N);
  const C = ds.manifest.categories.names.length;
  let offsets = c.categoryOffsets;
  let labels = c.categoryLabels;
  const r = opts.categoryNoise ?? 0;
  if (r > 0 && C > 1) {
    const rng = new Rng((opts.seed ?? 1) * 7919 + 13);
    labels = Int32Array.from(labels);
    for (let i = 1; i <= N; i++) {
      if (rng.uniform() >= r) continue;
      // Same number of labels, drawn at random (distinct within the item).
      const n = offsets[i + 1] - offsets[i];
      const chosen = new Set<number>();
      while (chosen.size < Math.min(n, C)) chosen.add(rng.int(C));
      [...chosen].sort((a, b) => a - b).forEach((l, k) => (labels[offsets[i] + k] = l));
    }
    offsets = Int32Array.from(offsets);
  }
  return {
    items: N,
    text: c.features.text,
    image: c.features.image,
    categories: C > 0 ? { count: C, offsets, labels } : undefined,
    timestamps: ds.manifest.timestamps,
    popularity,
    ...(split.coldItems ? { heldOut: split.coldItems } : {}),
  };
}
