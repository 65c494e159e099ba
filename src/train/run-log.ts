/**
 * Reading a run's epoch log (log.jsonl) back: for reports, and for the explanations a model
 * bundle carries (what the model learned, as logged at its best epoch).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EpochLog } from './trainer.js';

/** The epochs of a run's log.jsonl (none when the run has no log yet). */
export function readEpochLog(runDir: string): EpochLog[] {
  const path = join(runDir, 'log.jsonl');
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l, i) => {
      try {
        return JSON.parse(l) as EpochLog;
      } catch (e) {
        throw new Error(`${path}, line ${i + 1}: not valid JSON (${(e as Error).message})`);
      }
    });
}

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
