/**
 * How much do a dataset's content features alone say about the next item? Training-free
 * rankers, evaluated with the same full ranking and pessimistic ties as the models
 * (src/eval/evaluate.ts), so that their NDCG@10 sits on the models' scale:
 *
 * - `popularity`: training interaction counts.
 * - `transitions`: how often the candidate followed the user's last item in the training
 *   sequences (popularity breaks ties): the ID signal a model can learn without any content.
 * - `<modality>, last item`: cosine similarity of each candidate's features to the last item's.
 * - `<modality>, history`: cosine similarity to the mean of the history's unit feature vectors.
 *
 * Candidates without the modality score -∞ (ranked last); a query without it gives every
 * candidate 0 (the target ties with everything: the worst rank). Together with the mean cosine
 * of consecutive training pairs against random pairs, this separates "the model cannot use the
 * content" from "the content does not predict the next item".
 */
import type { EvalCase } from '../../src/data/split.js';
import type { FeatureMatrix } from '../../src/data/dataset.js';
import { Rng } from '../../src/engine/rng.js';
import { kernels } from '../../src/kernels/select.js';
import { METRIC_KS, metricsFromRanks, rankInRow } from '../../src/eval/metrics.js';
import { writeUnitRows } from '../../src/models/content-knn.js';

export interface SignalRow {
  /** e.g. "popularity", "transitions", "text, last item", "image, history". */
  ranker: string;
  metrics: Record<string, number>;
  /** 1-based rank of each case's target, in the order of the cases. */
  ranks: Int32Array;
  /**
   * Fraction of cases this ranker has in its top `hitsAt` and `transitions` does not: what it
   * could add to the ID signal (0 for transitions itself).
   */
  beyondTransitions: number;
}

export interface ContentSignalInput {
  /** Number of items N (ids 1..N). */
  items: number;
  /** Training sequences (oldest first): popularity, transitions and the pair statistics. */
  train: readonly Int32Array[];
  /** The cases to rank (a leave-one-out split's validation or test cases). */
  cases: readonly EvalCase[];
  /** Content features by modality name. */
  features: Readonly<Record<string, FeatureMatrix>>;
}

export interface ContentSignalOptions {
  /** Remove each user's history (except the target) from the ranking, as evaluate() does. */
  maskHistory?: boolean;
  /** Most recent history items the `history` ranker averages (a model's maxLen). Default 50. */
  historyLength?: number;
  /** Cases scored per GEMM. Default 256. */
  batchSize?: number;
  /** Random pairs drawn for the pair statistics. Default 100,000. */
  randomPairs?: number;
  /** Seed of the random pairs. Default 1. */
  seed?: number;
  /** The cut-off of `beyondTransitions`. Default 10. */
  hitsAt?: number;
}

export interface PairCosines {
  modality: string;
  /** Mean cosine of (item, next item) over consecutive training pairs where both have the modality. */
  consecutive: number;
  /** Mean cosine of random item pairs (both with the modality). */
  random: number;
  /** Pairs the consecutive mean is over. */
  pairs: number;
}

export interface ContentSignal {
  rows: SignalRow[];
  cosines: PairCosines[];
  cases: number;
}

/** Rows scaled to unit length (rows of zeros stay zero); row 0 and featureless rows are 0. */
function unitRows(f: FeatureMatrix, items: number, modality: string): Float32Array {
  const { dim, matrix, mask } = f;
  if (matrix.length !== (items + 1) * dim)
    throw new RangeError(
      `content signal: the ${modality} features have ${matrix.length} values, expected (${items} + 1) × ${dim}`,
    );
  const out = new Float32Array(matrix.length);
  writeUnitRows({ dim, matrix, mask }, items, out, dim, 0);
  return out;
}

function dot(a: Float32Array, i: number, j: number, dim: number): number {
  let s = 0;
  for (let d = 0; d < dim; d++) s += a[i * dim + d] * a[j * dim + d];
  return s;
}

/** Ranks every case by scores written into a [B, N + 1] buffer per batch. */
function rankBy(
  input: ContentSignalInput,
  opts: ContentSignalOptions,
  fill: (batch: readonly EvalCase[], out: Float32Array) => void,
): Int32Array {
  const { items, cases } = input;
  const batchSize = opts.batchSize ?? 256;
  const width = items + 1;
  const ranks = new Int32Array(cases.length);
  const out = new Float32Array(Math.min(batchSize, cases.length) * width);
  for (let start = 0; start < cases.length; start += batchSize) {
    const batch = cases.slice(start, start + batchSize);
    const view = out.subarray(0, batch.length * width);
    fill(batch, view);
    batch.forEach((c, b) => {
      ranks[start + b] = rankInRow(view, b * width, items, c.target, opts.maskHistory ? c.history : null);
    });
  }
  return ranks;
}

/** Runs every ranker and the pair statistics (see the file comment). */
export function contentSignal(input: ContentSignalInput, opts: ContentSignalOptions = {}): ContentSignal {
  const historyLength = checkInput(input, opts);
  const counts = trainingCounts(input);
  const transitions = transitionRanks(input, opts, counts);
  const ranked = [
    { ranker: 'popularity', ranks: popularityRanks(input, opts, counts.popularity) },
    { ranker: 'transitions', ranks: transitions },
  ];
  const cosines: PairCosines[] = [];
  for (const [modality, f] of Object.entries(input.features)) {
    const unit = unitRows(f, input.items, modality);
    ranked.push(...featureRanks(input, opts, { modality, f, unit, historyLength }));
    cosines.push(pairCosines(input, { modality, f, unit }, opts));
  }
  const k = opts.hitsAt ?? 10;
  const rows = ranked.map(({ ranker, ranks }): SignalRow => {
    let beyond = 0;
    for (let i = 0; i < ranks.length; i++) if (ranks[i] <= k && transitions[i] > k) beyond++;
    return {
      ranker,
      metrics: metricsFromRanks(ranks, METRIC_KS),
      ranks,
      beyondTransitions: beyond / ranks.length,
    };
  });
  return { rows, cosines, cases: input.cases.length };
}

/** Rejects input no ranker can score; returns the history ranker's length. */
function checkInput(input: ContentSignalInput, opts: ContentSignalOptions): number {
  const { items, cases } = input;
  if (!Number.isInteger(items) || items < 1)
    throw new RangeError(`content signal: items must be >= 1, got ${items}`);
  if (cases.length === 0) throw new RangeError('content signal: no cases to rank');
  for (const c of cases)
    if (c.history.length === 0) throw new RangeError(`content signal: user ${c.user} has an empty history`);
  const historyLength = opts.historyLength ?? 50;
  if (!Number.isInteger(historyLength) || historyLength < 1)
    throw new RangeError(`content signal: historyLength must be a positive integer, got ${historyLength}`);
  return historyLength;
}

interface TrainingCounts {
  /** Training interactions of each item (index = item id). */
  popularity: Float64Array;
  /** How often each item followed each other one: a sparse row per item. */
  successors: Map<number, Map<number, number>>;
}

function trainingCounts({ items, train }: ContentSignalInput): TrainingCounts {
  const popularity = new Float64Array(items + 1);
  const successors = new Map<number, Map<number, number>>();
  for (const s of train)
    for (let k = 0; k < s.length; k++) {
      popularity[s[k]]++;
      if (k + 1 < s.length) {
        let row = successors.get(s[k]);
        if (!row) successors.set(s[k], (row = new Map()));
        row.set(s[k + 1], (row.get(s[k + 1]) ?? 0) + 1);
      }
    }
  return { popularity, successors };
}

function popularityRanks(
  input: ContentSignalInput,
  opts: ContentSignalOptions,
  popularity: Float64Array,
): Int32Array {
  const width = input.items + 1;
  return rankBy(input, opts, (batch, out) => {
    batch.forEach((_, b) => out.set(popularity, b * width));
  });
}

/**
 * Transitions score count · levels + popularity level: counts first, popularity (its dense
 * rank, fewer distinct values than the counts themselves) breaks ties. Float32 holds the
 * scores exactly only below 2^24: larger catalogs get an error, not silently merged ties.
 */
function transitionRanks(
  input: ContentSignalInput,
  opts: ContentSignalOptions,
  { popularity, successors }: TrainingCounts,
): Int32Array {
  const width = input.items + 1;
  const levels = [...new Set(popularity)].sort((a, b) => a - b);
  const levelOf = new Map(levels.map((p, i) => [p, i]));
  const popularityLevel = Float32Array.from(popularity, (p) => levelOf.get(p)!);
  let maxCount = 0;
  for (const row of successors.values()) for (const n of row.values()) maxCount = Math.max(maxCount, n);
  if ((maxCount + 1) * levels.length >= 2 ** 24)
    throw new RangeError(
      `content signal: transition counts up to ${maxCount} with ${levels.length} popularity levels do not fit float32 scores exactly`,
    );
  return rankBy(input, opts, (batch, out) => {
    batch.forEach((c, b) => {
      out.set(popularityLevel, b * width);
      const row = successors.get(c.history[c.history.length - 1]);
      if (row) for (const [j, n] of row) out[b * width + j] += n * levels.length;
    });
  });
}

/** One modality's features, scaled to unit rows (unitRows). */
interface UnitFeatures {
  modality: string;
  f: FeatureMatrix;
  unit: Float32Array;
}

/** The `<modality>, last item` and `<modality>, history` rankers. */
function featureRanks(
  input: ContentSignalInput,
  opts: ContentSignalOptions,
  { modality, f, unit, historyLength }: UnitFeatures & { historyLength: number },
): { ranker: string; ranks: Int32Array }[] {
  const { items, cases } = input;
  const width = items + 1;
  const dim = f.dim;
  const queries = new Float32Array(Math.min(opts.batchSize ?? 256, cases.length) * dim);
  const gemm = kernels();
  const score = (B: number, out: Float32Array) => {
    gemm.sgemm(false, true, B, width, dim, 1, queries, dim, unit, dim, 0, out, width);
    // Candidates without the modality rank last.
    for (let i = 1; i <= items; i++)
      if (!f.mask[i]) for (let b = 0; b < B; b++) out[b * width + i] = -Infinity;
  };
  const lastItem = rankBy(input, opts, (batch, out) => {
    queries.fill(0);
    batch.forEach((c, b) => {
      const last = c.history[c.history.length - 1];
      queries.set(unit.subarray(last * dim, (last + 1) * dim), b * dim);
    });
    score(batch.length, out);
  });
  const history = rankBy(input, opts, (batch, out) => {
    queries.fill(0);
    batch.forEach((c, b) => {
      const h = c.history;
      for (let k = Math.max(0, h.length - historyLength); k < h.length; k++)
        for (let d = 0; d < dim; d++) queries[b * dim + d] += unit[h[k] * dim + d];
    });
    // The mean's length does not change a row's ranking: no division needed.
    score(batch.length, out);
  });
  return [
    { ranker: `${modality}, last item`, ranks: lastItem },
    { ranker: `${modality}, history`, ranks: history },
  ];
}

/** Mean cosine of consecutive training pairs against seeded random pairs. */
function pairCosines(
  { items, train }: ContentSignalInput,
  { modality, f, unit }: UnitFeatures,
  opts: ContentSignalOptions,
): PairCosines {
  const dim = f.dim;
  let consecutive = 0;
  let pairs = 0;
  for (const s of train)
    for (let k = 0; k + 1 < s.length; k++)
      if (f.mask[s[k]] && f.mask[s[k + 1]]) {
        consecutive += dot(unit, s[k], s[k + 1], dim);
        pairs++;
      }
  const withModality: number[] = [];
  for (let i = 1; i <= items; i++) if (f.mask[i]) withModality.push(i);
  let random = 0;
  let drawn = 0;
  if (withModality.length > 1) {
    // Seeded: the pair statistic must not depend on Math.random.
    const rng = new Rng(opts.seed ?? 1);
    const n = opts.randomPairs ?? 100_000;
    while (drawn < n) {
      const a = withModality[rng.int(withModality.length)];
      const b = withModality[rng.int(withModality.length)];
      if (a === b) continue;
      random += dot(unit, a, b, dim);
      drawn++;
    }
  }
  return {
    modality,
    consecutive: pairs ? consecutive / pairs : 0,
    random: drawn ? random / drawn : 0,
    pairs,
  };
}

export interface CategoryHits {
  /** Category index (as in the dataset's categories). */
  category: number;
  /** Cases whose target has this category. */
  cases: number;
  /** HR@hitsAt of each ranker over those cases, by ranker name. */
  hits: Record<string, number>;
}

/**
 * HR@k of every ranker per category of the cases' targets (a case counts once in each of its
 * target's categories), for the categories with at least `minCases` cases, most cases first:
 * whether a modality's neighbours predict the next item in some categories and not in others,
 * which is what category-guided modality weights can exploit.
 */
export function hitsByCategory(
  rows: readonly Pick<SignalRow, 'ranker' | 'ranks'>[],
  targetCategories: readonly Int32Array[],
  opts: { k?: number; minCases?: number } = {},
): CategoryHits[] {
  const k = opts.k ?? 10;
  const minCases = opts.minCases ?? 1;
  for (const r of rows)
    if (r.ranks.length !== targetCategories.length)
      throw new RangeError(
        `hitsByCategory: ${r.ranker} has ${r.ranks.length} ranks for ${targetCategories.length} cases`,
      );
  const cases = new Map<number, number[]>();
  targetCategories.forEach((cats, i) => {
    for (const c of new Set(cats)) {
      let list = cases.get(c);
      if (!list) cases.set(c, (list = []));
      list.push(i);
    }
  });
  return [...cases]
    .filter(([, list]) => list.length >= minCases)
    .sort((a, b) => b[1].length - a[1].length || a[0] - b[0])
    .map(([category, list]) => ({
      category,
      cases: list.length,
      hits: Object.fromEntries(
        rows.map((r) => [r.ranker, list.filter((i) => r.ranks[i] <= k).length / list.length]),
      ),
    }));
}

/** Ranks 0..n-1 of `xs`, ties sharing their average rank. */
function averageRanks(xs: readonly number[]): number[] {
  const order = xs.map((_, i) => i).sort((a, b) => xs[a] - xs[b]);
  const ranks = new Array<number>(xs.length);
  for (let k = 0; k < order.length;) {
    let end = k;
    while (end + 1 < order.length && xs[order[end + 1]] === xs[order[k]]) end++;
    for (let t = k; t <= end; t++) ranks[order[t]] = (k + end) / 2;
    k = end + 1;
  }
  return ranks;
}

/**
 * Spearman's rank correlation of two equally long samples (average ranks for ties): do a
 * model's per-category modality weights order the categories as the data's per-category
 * content signal does? NaN when a side is constant (no order to agree with).
 */
export function spearman(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) throw new RangeError(`spearman: ${a.length} values against ${b.length}`);
  if (a.length < 2) throw new RangeError('spearman: needs at least two pairs');
  const ra = averageRanks(a);
  const rb = averageRanks(b);
  const mean = (a.length - 1) / 2;
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += (ra[i] - mean) * (rb[i] - mean);
    aa += (ra[i] - mean) ** 2;
    bb += (rb[i] - mean) ** 2;
  }
  return aa === 0 || bb === 0 ? NaN : ab / Math.sqrt(aa * bb);
}
