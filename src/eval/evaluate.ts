/**
 * Full-ranking evaluation of a sequential recommender on leave-one-out cases: every case's
 * target is ranked against ALL items (no sampled negatives), ties pessimistic (metrics.ts).
 *
 * History masking is off by default, as in RecBole for sequential models (and HM4SR): items
 * the user has already interacted with stay rankable. With `maskHistory`, every item of the
 * user's FULL history (EvalCase.history, not only the last maxLen items the model reads) is
 * removed from the ranking, except the target itself: when the target re-occurs in the
 * history it stays rankable, otherwise masking would make a repeat purchase unrankable.
 */
import { noGrad } from '../engine/autograd.js';
import { StepArena } from '../engine/memory.js';
import type { EvalCase, EvalCases } from '../data/split.js';
import type { SequenceBatch, SequentialRecommender } from '../models/model.js';
import { inferenceBatch } from '../models/batch.js';
import { METRIC_KS, metricsFromRanks, rankAmong, rankInRow } from './metrics.js';

export interface EvaluateOptions {
  /** Remove the user's history items (except the target) from the ranking. Default false. */
  maskHistory?: boolean;
  /** Cases scored per model call. Default 256. */
  batchSize?: number;
  /** Cut-offs K. Default METRIC_KS = [5, 10, 20]. */
  ks?: readonly number[];
  /** Called after each batch with the number of cases done so far. */
  progress?: (done: number, total: number) => void;
  /**
   * The scores to rank, [B, N + 1] per batch. Default: model.scoreLast, its item side computed
   * once (lastScorer). E.g. one modality's share of CAMMSR's scores (Cammsr.scoreLastByModality),
   * to see what that tower alone ranks.
   */
  scores?: (batch: SequenceBatch) => Float32Array;
  /**
   * The cold-start protocol's held-out items (1 = held out, index = item id): cold targets are
   * also ranked among these items only (EvaluationResult.targets.coldAmongCold).
   */
  coldItems?: Uint8Array;
}

/** One group of targets: how many, and their metrics. */
export interface TargetGroup {
  users: number;
  metrics: Record<string, number>;
}

/**
 * The cold-start protocol's breakdown. Every rank is against the whole catalog (warm and cold
 * items) except coldAmongCold's, against the held-out items only. A model that cannot rank
 * unseen items (ranksUnseenItems false) has its cold targets ranked last, by construction.
 */
export interface TargetBreakdown {
  warm: TargetGroup;
  cold: TargetGroup;
  coldAmongCold: TargetGroup;
  coldRankable: boolean;
}

export interface EvaluationResult {
  /** HR@K, NDCG@K, MRR@K for every K (see metricsFromRanks). */
  metrics: Record<string, number>;
  /** 1-based rank of each case's target, in the order of `cases`. */
  ranks: Int32Array;
  /** Number of evaluated users (cases). */
  users: number;
  /** When the cases carry cold flags (the cold-start protocol): warm and cold targets apart. */
  targets?: TargetBreakdown;
}

/**
 * Ranks each case's target. The cases are read a batch at a time (`cases.slice`), so they need
 * not all be in memory (an array is fine too); each batch is checked (no empty history, cold
 * targets only with `coldItems`) before it is scored, so a bad case stops the evaluation there.
 */
export function evaluate(
  model: SequentialRecommender,
  cases: EvalCases,
  opts: EvaluateOptions = {},
): EvaluationResult {
  const batchSize = opts.batchSize ?? 256;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new RangeError(`evaluate: batchSize must be a positive integer, got ${batchSize}`);
  if (cases.length === 0) throw new RangeError('evaluate: no evaluation cases');
  const maxLen = model.maxLen;
  if (!Number.isInteger(maxLen) || maxLen < 1)
    throw new RangeError(`evaluate: model ${model.kind} has an invalid maxLen ${maxLen}`);
  const ks = opts.ks ?? METRIC_KS;
  const mask = opts.maskHistory ?? false;
  const ranks = new Int32Array(cases.length);
  const coldRanks = new Int32Array(cases.length);
  // Per case: -1 no cold flag (the warm protocol), 0 a warm target, 1 a cold one.
  const coldness = new Int8Array(cases.length);
  const coldCandidates = opts.coldItems ? itemsOf(opts.coldItems) : null;
  let catalog = 0; // N, known from the first scores
  const wasTraining = model.training;
  model.eval(); // no dropout while scoring
  // Each batch's activations and scores live in an arena reused by the next batch.
  const arena = new StepArena();
  try {
    // The item side once for every batch (outside the arena: it outlives each batch's run).
    const score = opts.scores ?? noGrad(() => model.lastScorer());
    for (let start = 0; start < cases.length; start += batchSize) {
      const end = Math.min(cases.length, start + batchSize);
      const batchCases = checkedCases(cases.slice(start, end), coldCandidates !== null);
      const B = end - start;
      // inferenceBatch keeps the most recent maxLen items of each history (and their time gaps).
      const times = batchCases[0].times ? batchCases.map((c) => c.times ?? null) : undefined;
      const batch = inferenceBatch(
        batchCases.map((c) => c.history),
        maxLen,
        times,
      );
      arena.run(() => {
        const scores = noGrad(() => score(batch));
        const width = scores.length / B;
        if (!Number.isInteger(width) || width < 2)
          throw new RangeError(
            `evaluate: model ${model.kind} returned ${scores.length} scores for ${B} sequences (expected B x (N + 1))`,
          );
        const items = width - 1;
        catalog = items;
        for (let b = 0; b < B; b++) {
          const c = batchCases[b];
          const exclude = mask ? (c.seen ?? c.history) : null;
          ranks[start + b] = rankInRow(scores, b * width, items, c.target, exclude);
          coldness[start + b] = c.cold === undefined ? -1 : c.cold ? 1 : 0;
          if (c.cold && coldCandidates)
            coldRanks[start + b] = rankAmong(scores, b * width, c.target, coldCandidates, exclude);
        }
      });
      opts.progress?.(end, cases.length);
    }
  } finally {
    model.train(wasTraining);
  }
  const targets = coldness.some((c) => c !== -1)
    ? breakdown(model, coldness, ranks, coldRanks, ks, catalog, coldCandidates?.length ?? 0)
    : undefined;
  return {
    metrics: metricsFromRanks(ranks, ks),
    ranks,
    users: cases.length,
    ...(targets ? { targets } : {}),
  };
}

/** A batch's cases, checked before any is scored. */
function checkedCases(cases: EvalCase[], coldItemsGiven: boolean): EvalCase[] {
  for (const c of cases) {
    // An empty sequence has no last position to score from; fail loudly rather than let a
    // model read a neighbour's row.
    if (c.history.length === 0) throw new RangeError(`evaluate: user ${c.user} has an empty history`);
    // Without the held-out set the cold targets' ranks among it would be left at 0.
    if (c.cold && !coldItemsGiven)
      throw new RangeError(
        "evaluate: the cases have cold targets (the cold-start protocol): pass opts.coldItems, the split's held-out items (evaluateSplit does)",
      );
  }
  return cases;
}

function itemsOf(mask: Uint8Array): Int32Array {
  const out: number[] = [];
  for (let i = 1; i < mask.length; i++) if (mask[i] === 1) out.push(i);
  return Int32Array.from(out);
}

/**
 * Warm and cold targets apart. For a model that cannot rank unseen items the cold targets take
 * the last rank (of the catalog, and of the cold items), so that their metrics are 0 by
 * construction rather than an accident of untrained rows; `ranks` is updated the same way.
 */
function breakdown(
  model: SequentialRecommender,
  coldness: Int8Array,
  ranks: Int32Array,
  coldRanks: Int32Array,
  ks: readonly number[],
  items: number,
  coldCount: number,
): TargetBreakdown {
  const warm: number[] = [];
  const cold: number[] = [];
  const amongCold: number[] = [];
  coldness.forEach((c, i) => {
    if (c !== 1) return void warm.push(ranks[i]);
    if (!model.ranksUnseenItems) {
      ranks[i] = items;
      coldRanks[i] = Math.max(1, coldCount);
    }
    cold.push(ranks[i]);
    amongCold.push(coldRanks[i]);
  });
  const group = (r: number[]): TargetGroup => ({
    users: r.length,
    // No target in the group: no metrics (rather than 0, which would read as a measured miss).
    metrics: r.length > 0 ? metricsFromRanks(Int32Array.from(r), ks) : {},
  });
  return {
    warm: group(warm),
    cold: group(cold),
    coldAmongCold: group(amongCold),
    coldRankable: model.ranksUnseenItems,
  };
}

/** The evaluation cases of a leave-one-out split (a LeaveOneOutSplit or a TrainingSplit). */
export interface EvaluationSplit {
  readonly validation: EvalCases;
  readonly test: EvalCases;
  readonly coldItems?: Uint8Array;
}

/** evaluate() on the validation or test cases of a leave-one-out split. */
export function evaluateSplit(
  model: SequentialRecommender,
  split: EvaluationSplit,
  which: 'validation' | 'test',
  opts: EvaluateOptions = {},
): EvaluationResult {
  if (which !== 'validation' && which !== 'test')
    throw new RangeError(`evaluateSplit: which must be "validation" or "test", got ${JSON.stringify(which)}`);
  return evaluate(model, split[which], { coldItems: split.coldItems, ...opts });
}
