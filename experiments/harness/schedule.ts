/**
 * Training the planned runs: their datasets prepared first, then `jobs` runs at a time, each in
 * its own process, each finished run copied into the results tree and the report regenerated.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { RUN_FILES } from '../../src/train/run-dir.js';
import type { RunMetrics } from '../../src/train/trainer.js';
import { show } from '../paths.js';
import type { ChildSpec } from './child-run.js';
import { trainCommand } from './commands.js';
import { ensureDataset } from './datasets.js';
import type { PlannedRun } from './expand-plan.js';
import { preparedName } from './plan-rules.js';
import { copyResults, runResultDir } from './results-tree.js';
import type { Session } from './session.js';
import { childThreads, trainInChild } from './spawn-run.js';
import { runWorkDir, statusOf, trains, type Status } from './work-tree.js';

export interface Outcome {
  dataset: string;
  variant: string;
  seed: number;
  status: string;
  metrics?: RunMetrics;
}

/**
 * Prepares every dataset a run will train on, one at a time: concurrent runs never prepare the
 * same dataset twice, and a dataset that cannot be prepared stops the plan before hours of
 * training. Returns the prepared directories by prepared name.
 */
export async function prepareDatasets(
  s: Session,
  runs: readonly PlannedRun[],
  statuses: readonly Status[],
): Promise<Map<string, string>> {
  const datasets = new Map<string, string>();
  for (const [i, r] of runs.entries())
    if (trains(statuses[i])) {
      const key = preparedName(r.dataset, r.variant);
      if (!datasets.has(key))
        datasets.set(key, await ensureDataset(s.paths, r.dataset, r.variant, s.newData));
    }
  return datasets;
}

/**
 * Trains the runs, `jobs` workers taking them in plan order; an interrupted run stops every
 * worker from starting another (the runs still going finish or are interrupted with it).
 * Returns each run's outcome, in plan order.
 */
export async function trainRuns(
  s: Session,
  runs: readonly PlannedRun[],
  datasets: ReadonlyMap<string, string>,
): Promise<{ outcomes: Outcome[]; interrupted: boolean }> {
  const threads = s.jobs > 1 ? childThreads(s.jobs) : undefined;
  if (threads && datasets.size > 0)
    console.log(`${s.jobs} runs at a time, ${threads} kernel thread(s) each (CAMMSR_THREADS)`);
  const outcomes: Outcome[] = [];
  let interrupted = false;
  let next = 0;
  const worker = async () => {
    while (!interrupted && next < runs.length) {
      const i = next++;
      const r = await runOne(s, { index: i, total: runs.length, run: runs[i], datasets, threads });
      outcomes[i] = r.outcome;
      if (r.interrupted) interrupted = true;
    }
  };
  await Promise.all(Array.from({ length: Math.min(s.jobs, runs.length) }, worker));
  for (const [i, r] of runs.entries())
    outcomes[i] ??= { dataset: r.dataset.name, variant: r.variant.name, seed: r.seed, status: 'not started' };
  return { outcomes, interrupted };
}

interface Job {
  index: number;
  total: number;
  run: PlannedRun;
  datasets: ReadonlyMap<string, string>;
  threads: number | undefined;
}

type JobResult = { outcome: Outcome; interrupted?: boolean };

const tagOf = ({ index, total, run: r }: Job) =>
  `[${index + 1}/${total}] ${r.dataset.name} / ${r.variant.name} / seed ${r.seed}`;
const baseOf = ({ run: r }: Job) => ({ dataset: r.dataset.name, variant: r.variant.name, seed: r.seed });
const readMetrics = (dir: string) =>
  JSON.parse(readFileSync(join(dir, RUN_FILES.metrics), 'utf8')) as RunMetrics;

async function runOne(s: Session, job: Job): Promise<JobResult> {
  const r = job.run;
  const tag = tagOf(job);
  const work = runWorkDir(s.paths, r);
  const dest = runResultDir(s.paths.results, r.dataset.name, r.variant.name, r.seed);
  // Asked again rather than planned once: hours pass between planning and this run, and
  // another experiments process sharing the results tree may have finished it meanwhile.
  const status = statusOf(s.paths, r, s.maxEpochs);
  if (status === 'unavailable') {
    console.log(`${tag}: ${r.unavailable}`);
    return { outcome: { ...baseOf(job), status: 'not available here' } };
  }
  if (status === 'done') {
    // Finished in the work folder but never copied (interrupted in between): copy now.
    if (!existsSync(join(dest, RUN_FILES.metrics))) copyResults(work, dest);
    console.log(`${tag}: finished earlier, skipped`);
    return { outcome: { ...baseOf(job), status: 'finished earlier', metrics: readMetrics(dest) } };
  }
  if (status === 'rerun') {
    // A quick check's numbers are replaced, not mixed with a real run's.
    rmSync(work, { recursive: true, force: true });
    rmSync(dest, { recursive: true, force: true });
  }
  console.log(
    `${tag}${status === 'resume' ? ' (resuming)' : status === 'rerun' ? ' (again: it was a --max-epochs quick check)' : ''}`,
  );
  return trainOne(s, job, status === 'resume');
}

/** Trains a run in its child process; a finished one is copied into the results tree. */
async function trainOne(s: Session, job: Job, resumed: boolean): Promise<JobResult> {
  const r = job.run;
  const tag = tagOf(job);
  const work = runWorkDir(s.paths, r);
  const spec: ChildSpec = {
    ...baseOf(job),
    data: job.datasets.get(preparedName(r.dataset, r.variant))!,
    out: work,
    maxEpochs: s.maxEpochs ?? null,
    command: trainCommand(s.paths, r, s.maxEpochs),
    invocation: s.invocation,
  };
  const prefix = s.jobs > 1 ? `[${job.index + 1}/${job.total}]` : null;
  const res = await trainInChild(s.script, spec, prefix, job.threads);
  if (res.signal)
    return { outcome: { ...baseOf(job), status: `interrupted (${res.signal})` }, interrupted: true };
  if (res.status !== 0) {
    console.log(
      `${tag}: failed (exit ${res.status}); its directory ${show(work)} is kept for --resume or inspection`,
    );
    return { outcome: { ...baseOf(job), status: 'failed' } };
  }
  const dest = runResultDir(s.paths.results, r.dataset.name, r.variant.name, r.seed);
  copyResults(work, dest);
  const metrics = readMetrics(dest);
  console.log(
    `${s.jobs > 1 ? tag + ':' : ' '} test NDCG@10 ${metrics.test['NDCG@10'].toFixed(4)}, HR@10 ${metrics.test['HR@10'].toFixed(4)} (best epoch ${metrics.bestEpoch} of ${metrics.epochs}, ${metrics.secondsPerEpoch.toFixed(1)} s/epoch)`,
  );
  s.report(); // after every run, so an interrupted session still leaves an up-to-date page
  return { outcome: { ...baseOf(job), status: resumed ? 'resumed' : 'trained', metrics } };
}
