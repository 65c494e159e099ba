/**
 * What a run report shows, gathered from a run directory: the epoch log, final metrics, the
 * resolved config, dataset statistics, the modality weights and gate usage the model learned,
 * and NDCG@10 broken down by the target's category and by history length (computed here by
 * evaluating the best checkpoint). Plain data: src/report/html.ts renders it.
 */
import { basename, relative, resolve } from 'node:path';
import { datasetStats, type DatasetStats } from '../data/stats.js';
import { evaluate } from '../eval/evaluate.js';
import { metricsFromRanks } from '../eval/metrics.js';
import type { RunConfig } from '../config/index.js';
import { learnedWeights, type CategoryWeights } from '../train/learned-weights.js';
import { loadRun, type EpochLog, type RunMetrics } from '../train/trainer.js';

export type { CategoryWeights } from '../train/learned-weights.js';

export interface Breakdown {
  label: string;
  cases: number;
  ndcg10: number;
  hr10: number;
}

export interface RunReport {
  name: string;
  dir: string;
  model: string;
  config: RunConfig;
  epochs: EpochLog[];
  /** The epoch whose checkpoint is evaluated (the early-stop point). */
  bestEpoch: number | null;
  metrics: RunMetrics | null;
  dataset: DatasetStats;
  /** Mean modality weights per category over the best epoch's training positions, most frequent first. */
  categoryWeights: CategoryWeights[];
  /** Mean gate probability per expert, per modality (best epoch). */
  gates: Record<string, number[]>;
  split: 'test' | 'validation';
  byCategory: Breakdown[];
  byHistoryLength: Breakdown[];
}

/** History-length buckets: [lo, hi) in items. */
export const LENGTH_BUCKETS: readonly [number, number][] = [
  [1, 5],
  [5, 10],
  [10, 20],
  [20, 50],
  [50, Infinity],
];

function breakdown(label: string, ranks: Int32Array): Breakdown {
  const m = metricsFromRanks(ranks, [10]);
  return { label, cases: ranks.length, ndcg10: m['NDCG@10'], hr10: m['HR@10'] };
}

export interface CollectOptions {
  split?: 'test' | 'validation';
  /** How many of the most frequent categories the per-category views keep. */
  topCategories?: number;
}

/** Evaluation cases read at once for the breakdowns. */
const CASES_PER_READ = 1024;

export function collectRunReport(runDir: string, opts: CollectOptions = {}): RunReport {
  const dir = resolve(runDir);
  const splitName = opts.split ?? 'test';
  const top = opts.topCategories ?? 30;
  const { config, ds, split, model, run } = loadRun(dir);
  const epochs = run.readLog();
  const metrics = run.readMetrics();
  const best = metrics?.bestEpoch ?? [...epochs].reverse().find((e) => e.best)?.epoch ?? null;
  const names = ds.manifest.categories.names;

  // Weights and gates as logged for the best epoch (the checkpoint the metrics come from).
  const learned = learnedWeights(epochs, best, names);
  const categoryWeights = learned.categoryWeights
    .filter((x): x is CategoryWeights => x !== null)
    .sort((a, b) => b.positions - a.positions)
    .slice(0, top);

  // Where the model wins or loses: ranks of the best checkpoint on the split, the cases read
  // a batch at a time (they may come from a log on disk).
  const cases = split[splitName];
  const perCategory = new Map<number, number[]>();
  const perLength = LENGTH_BUCKETS.map(() => [] as number[]);
  try {
    const { ranks } = evaluate(model, cases, { maskHistory: false, coldItems: split.coldItems });
    for (let start = 0; start < cases.length; start += CASES_PER_READ)
      cases.slice(start, Math.min(cases.length, start + CASES_PER_READ)).forEach((c, k) => {
        const rank = ranks[start + k];
        for (const cat of ds.itemCategories(c.target)) {
          if (!perCategory.has(cat)) perCategory.set(cat, []);
          perCategory.get(cat)!.push(rank);
        }
        const n = c.history.length;
        const b = LENGTH_BUCKETS.findIndex(([lo, hi]) => n >= lo && n < hi);
        if (b >= 0) perLength[b].push(rank);
      });
  } finally {
    ds.close();
  }
  const byCategory = [...perCategory.entries()]
    .sort((a, b) => b[1].length - a[1].length || a[0] - b[0])
    .slice(0, top)
    .map(([cat, r]) => breakdown(names[cat] ?? String(cat), Int32Array.from(r)));
  const byHistoryLength = LENGTH_BUCKETS.flatMap(([lo, hi], b) =>
    perLength[b].length === 0
      ? []
      : [breakdown(hi === Infinity ? `${lo}+` : `${lo}-${hi - 1}`, Int32Array.from(perLength[b]))],
  );

  return {
    name: relative(process.cwd(), dir) || basename(dir),
    dir,
    model: model.kind,
    config,
    epochs,
    bestEpoch: best,
    metrics,
    dataset: datasetStats(ds),
    categoryWeights,
    gates: learned.gates,
    split: splitName,
    byCategory,
    byHistoryLength,
  };
}
