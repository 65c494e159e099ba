/** Seed statistics, and the verdict whether a model beats its baselines by more than the seed noise. */
import { meanStd } from '../../src/eval/metrics.js';

export interface Summary {
  mean: number;
  std: number;
  n: number;
}

export function summarize(values: readonly number[]): Summary | null {
  if (values.length === 0) return null;
  return { ...meanStd(values), n: values.length };
}

export interface Comparison {
  baseline: string;
  /** mean(ours) − mean(baseline). */
  diff: number;
  /** The larger of the two seed standard deviations. */
  threshold: number;
  seeds: [number, number];
  /** null: fewer than minSeeds runs on either side (no std to compare with). */
  beats: boolean | null;
}

/**
 * Does `ours` beat every baseline by more than the seed noise? A baseline is beaten when the
 * mean difference exceeds the larger of the two seed standard deviations; that needs at least
 * `minSeeds` runs on both sides. "no" as soon as one baseline with enough runs is not beaten.
 */
export function beatsVerdict(
  ours: readonly number[],
  baselines: readonly { name: string; values: readonly number[] }[],
  minSeeds = 2,
): { verdict: 'yes' | 'no' | 'not enough runs'; comparisons: Comparison[] } {
  const a = summarize(ours);
  const comparisons = baselines.map(({ name, values }): Comparison => {
    const b = summarize(values);
    if (!a || !b)
      return { baseline: name, diff: NaN, threshold: NaN, seeds: [a?.n ?? 0, b?.n ?? 0], beats: null };
    const diff = a.mean - b.mean;
    const threshold = Math.max(a.std, b.std);
    const enough = a.n >= minSeeds && b.n >= minSeeds;
    return { baseline: name, diff, threshold, seeds: [a.n, b.n], beats: enough ? diff > threshold : null };
  });
  const verdict = comparisons.some((c) => c.beats === false)
    ? 'no'
    : comparisons.some((c) => c.beats === null)
      ? 'not enough runs'
      : 'yes';
  return { verdict, comparisons };
}
