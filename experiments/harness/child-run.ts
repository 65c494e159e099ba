/**
 * One run, trained in its own process (spawned by the scheduler with --child-run): its peak
 * RSS is its own and a crash loses that run only. Resumes a run that was interrupted.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveConfig, type RunConfig } from '../../src/config/index.js';
import { RUN_FILES } from '../../src/train/run-dir.js';
import { train, type EpochLog } from '../../src/train/trainer.js';
import { REPO } from '../paths.js';
import type { ExperimentPlan } from './plan-shape.js';
import { datasetByName, encoderKey, runOverrides, variantByName } from './plan-rules.js';
import { gitState, machineInfo } from './provenance.js';
import { EXPERIMENT_FILE, type ExperimentRecord } from './results-tree.js';

/** What the scheduler passes a child process (as JSON on its command line). */
export interface ChildSpec {
  dataset: string;
  variant: string;
  seed: number;
  data: string;
  out: string;
  maxEpochs: number | null;
  command: string;
  invocation: string;
}

/** Trains one run in this (child) process, resuming it when it was interrupted. */
export async function childRun(plan: ExperimentPlan, spec: ChildSpec): Promise<void> {
  const ds = datasetByName(plan, spec.dataset);
  const v = variantByName(plan, spec.variant);
  const overrides = runOverrides(ds, v, spec.maxEpochs ?? undefined);
  const config = resolveConfig({ cli: { model: v.model, seed: spec.seed }, overrides });
  const resume = existsSync(join(spec.out, RUN_FILES.state));
  // Interrupted before its first epoch ended: nothing worth keeping.
  if (!resume && existsSync(spec.out) && !existsSync(join(spec.out, RUN_FILES.metrics)))
    rmSync(spec.out, { recursive: true, force: true });
  const t0 = performance.now();
  await train({
    data: spec.data,
    out: spec.out,
    config,
    resume,
    events: { epoch: (e) => console.log(epochLine(e, config)), message: (text) => console.log(`  ${text}`) },
  });
  const rec: ExperimentRecord = {
    dataset: spec.dataset,
    variant: spec.variant,
    seed: spec.seed,
    model: v.model,
    encoder: encoderKey(v),
    overrides,
    command: spec.command,
    invocation: spec.invocation,
    maxEpochs: spec.maxEpochs,
    resumed: resume,
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    wallSeconds: (performance.now() - t0) / 1000,
    finished: new Date().toISOString(),
    machine: machineInfo(),
    git: gitState(REPO),
  };
  writeFileSync(join(spec.out, EXPERIMENT_FILE), JSON.stringify(rec, null, 2) + '\n');
}

/** An epoch's progress line: its loss terms, the validation metric (* = best so far), seconds. */
function epochLine(e: EpochLog, config: RunConfig): string {
  const loss = Object.entries(e.loss)
    .filter(([k]) => k !== 'total')
    .map(([k, x]) => `${k} ${x.toFixed(4)}`)
    .join(' ');
  const metric = config.train.validationMetric;
  const val = e.validation ? `  val ${metric} ${e.validation[metric].toFixed(4)}${e.best ? ' *' : ''}` : '';
  return `  epoch ${String(e.epoch).padStart(3)}  ${loss}${val}  ${e.seconds.toFixed(1)} s`;
}
