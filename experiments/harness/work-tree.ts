/**
 * Where a session works: the work folder (prepared datasets, run directories with checkpoints,
 * gitignored) and the results tree; and what a planned run's files there say about it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { RUN_FILES } from '../../src/train/run-dir.js';
import type { PlannedRun } from './expand-plan.js';
import type { DatasetPlan, VariantPlan } from './plan-shape.js';
import { preparedName } from './plan-rules.js';
import { cappedAt, runResultDir } from './results-tree.js';

export interface Paths {
  work: string;
  results: string;
}

export const runWorkDir = (p: Paths, r: PlannedRun) =>
  join(p.work, 'runs', r.dataset.name, r.variant.name, `seed-${r.seed}`);
export const datasetDir = (p: Paths, ds: DatasetPlan, v: VariantPlan) =>
  join(p.work, 'datasets', preparedName(ds, v));

export type Status = 'done' | 'resume' | 'restart' | 'new' | 'rerun' | 'unavailable';

/**
 * What running `r` means now. A run finished under a smaller --max-epochs than asked for now
 * (a quick check) is not a result: 'rerun' trains it again from scratch.
 */
export function statusOf(p: Paths, r: PlannedRun, maxEpochs?: number): Status {
  if (r.unavailable) return 'unavailable';
  const work = runWorkDir(p, r);
  const results = runResultDir(p.results, r.dataset.name, r.variant.name, r.seed);
  const finished = [results, work].find((d) => existsSync(join(d, RUN_FILES.metrics)));
  if (finished) {
    const cap = cappedAt(finished);
    return cap !== null && (maxEpochs === undefined || cap < maxEpochs) ? 'rerun' : 'done';
  }
  if (existsSync(join(work, RUN_FILES.state))) return 'resume';
  return existsSync(work) ? 'restart' : 'new';
}

/** Statuses that mean the run trains in this session. */
export const trains = (s: Status) => s !== 'done' && s !== 'unavailable';
