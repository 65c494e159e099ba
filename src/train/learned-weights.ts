/**
 * What a CAMMSR run learned, as logged at its best epoch: the modality weights per category and
 * the gate usage (for reports, and for the explanations a model bundle carries).
 */
import type { EpochLog } from './run-dir.js';

/** Mean modality weights of one category over an epoch's training positions. */
export interface CategoryWeights {
  category: string;
  positions: number;
  weights: Record<string, number>;
}

/** CAMMSR's diagnostics of one epoch: weights per category (index = category id) and gate usage. */
export interface LearnedWeights {
  /** null for categories that no training position had. */
  categoryWeights: (CategoryWeights | null)[];
  gates: Record<string, number[]>;
}

/**
 * The learned weights logged at `bestEpoch` (the last epoch when it is not given), with category
 * names; empty for models that log none.
 */
export function learnedWeights(
  epochs: readonly EpochLog[],
  bestEpoch: number | null | undefined,
  names: readonly string[],
): LearnedWeights {
  const d = (epochs.find((e) => e.epoch === bestEpoch) ?? epochs[epochs.length - 1])?.diagnostics as
    | {
        categoryWeights?: (({ positions: number } & Record<string, number>) | null)[];
        gates?: Record<string, number[]>;
      }
    | undefined;
  return {
    categoryWeights: (d?.categoryWeights ?? []).map((w, c) => {
      if (!w) return null;
      const { positions, ...weights } = w;
      return { category: names[c] ?? String(c), positions, weights };
    }),
    gates: d?.gates ?? {},
  };
}
