/** A small multimodal catalog for model tests (CAMMSR's and the step arena's). */
import { Rng } from '../src/engine/rng.js';
import { resolveConfig } from '../src/config/index.js';
import type { CammsrConfig } from '../src/models/cammsr.js';
import type { ModelData, SequentialRecommender } from '../src/models/model.js';
import { inferenceBatch, prefixBatch } from '../src/models/batch.js';
import { Adam } from '../src/engine/optim/adam.js';
import type { Tensor } from '../src/engine/tensor.js';
import { cammsrConfig } from '../src/train/create-model.js';

export const TOY_ITEMS = 30;
export const TOY_CATEGORIES = 5;

/** Items with text (all but item 7) and image features, categories, and sequences with times. */
export function toyData(): { data: ModelData; seqs: Int32Array[]; times: Float64Array[] } {
  const N = TOY_ITEMS;
  const C = TOY_CATEGORIES;
  const rng = new Rng(3);
  const feat = (dim: number, missing: number[]) => {
    const matrix = new Float32Array((N + 1) * dim);
    const mask = new Uint8Array(N + 1);
    for (let i = 1; i <= N; i++) {
      if (missing.includes(i)) continue;
      mask[i] = 1;
      for (let j = 0; j < dim; j++) matrix[i * dim + j] = rng.normal() * 0.3;
    }
    return { matrix, dim, mask };
  };
  const offsets = new Int32Array(N + 2);
  const labels: number[] = [];
  for (let i = 1; i <= N; i++) {
    labels.push(i % C);
    if (i % 3 === 0) labels.push((i + 1) % C);
    offsets[i + 1] = labels.length;
  }
  const seqs = Array.from({ length: 12 }, (_, u) =>
    Int32Array.from({ length: 6 + (u % 4) }, (_, k) => 1 + ((u * 7 + k * 3) % N)),
  );
  const times = seqs.map((s) => Float64Array.from(s, (_, k) => 1000 + k * k * 3600));
  return {
    data: {
      items: N,
      text: feat(6, [7]),
      image: feat(5, []),
      categories: { count: C, offsets, labels: Int32Array.from(labels) },
      timestamps: true,
    },
    seqs,
    times,
  };
}

/** CAMMSR's options as the config schema defaults them for the toy catalog (id, text, image; time on). */
export function toyCammsrConfig(over: Partial<CammsrConfig> = {}): CammsrConfig {
  return { ...cammsrConfig(resolveConfig(), toyData().data), ...over };
}

/**
 * Trains a per-prefix model (MOCA, MMSR) on each toy sequence's last prefix for `steps` Adam
 * steps at `lr`: its first and last loss, and how many of those prefixes then rank their next
 * item first.
 */
export function overfitLastPrefixes(
  model: SequentialRecommender & { parameters(): Tensor[]; eval(): unknown },
  seqs: Int32Array[],
  items: number,
  steps: number,
  lr: number,
): { first: number; last: number; hits: number } {
  const opt = new Adam(model.parameters(), { lr });
  const ends = Int32Array.from(seqs, (s) => s.length - 1);
  const batch = prefixBatch(seqs, ends, 8);
  let first = 0;
  let last = 0;
  for (let step = 0; step < steps; step++) {
    const { total } = model.loss(batch);
    total.backward();
    opt.step();
    opt.zeroGrad();
    if (step === 0) first = total.item();
    last = total.item();
  }
  model.eval();
  const scores = model.scoreLast(
    inferenceBatch(
      seqs.map((s, k) => s.subarray(0, ends[k])),
      8,
    ),
  );
  const hits = seqs.filter((s, k) => {
    const row = scores.subarray(k * (items + 1), (k + 1) * (items + 1));
    const target = row[s[ends[k]]];
    return row.filter((v, j) => j > 0 && v > target).length === 0;
  }).length;
  return { first, last, hits };
}
