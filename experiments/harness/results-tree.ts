/**
 * The committed results tree, experiments/results/<dataset>/<variant>/seed-<n>/: which files of
 * a finished run it keeps, the records the harness adds (experiment.json, dataset-<key>.json),
 * and reading them back for the report.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DatasetStats } from '../../src/data/stats.js';
import type { RunConfig } from '../../src/config/index.js';
import { RUN_FILES } from '../../src/train/run-dir.js';
import type { RunMetrics } from '../../src/train/trainer.js';
import type { MachineInfo } from './provenance.js';
import { portableRecord } from './portable.js';
import type { ImageEncoder, TextEncoder } from './plan-shape.js';

/** Written by the harness beside the trainer's files: how the run was made. */
export const EXPERIMENT_FILE = 'experiment.json';

/** What is copied from a finished run directory into the results tree (no checkpoints). */
const RESULT_FILES = [RUN_FILES.metrics, RUN_FILES.config, RUN_FILES.info, EXPERIMENT_FILE, RUN_FILES.log];

export const runResultDir = (results: string, dataset: string, variant: string, seed: number) =>
  join(results, dataset, variant, `seed-${seed}`);
export const datasetRecordFile = (results: string, dataset: string, key: string) =>
  join(results, dataset, `dataset-${key}.json`);

/** experiment.json: how a run was made (written by experiments/run.ts beside the trainer's files). */
export interface ExperimentRecord {
  dataset: string;
  variant: string;
  seed: number;
  model: string;
  /** The prepared dataset's flavour (encoderKey): its directory is <dataset>-<encoder>. */
  encoder: string;
  overrides: string[];
  /** The equivalent `cammsr train` command. */
  command: string;
  /** The `npm run experiments` invocation that ran it. */
  invocation: string;
  /** --max-epochs of that invocation (a quick check, not a result), or null. */
  maxEpochs: number | null;
  resumed: boolean;
  /** Peak RSS of the process that finished the run (its last segment when resumed). */
  peakRssMb: number;
  wallSeconds: number;
  finished: string;
  machine: MachineInfo;
  git: { commit: string; dirty: boolean } | null;
}

/** dataset-<key>.json: one prepared dataset, its statistics and checksum. */
export interface DatasetRecord {
  key: string;
  dataset: string;
  text: TextEncoder;
  image: ImageEncoder;
  /** The equivalent `cammsr prepare` command. */
  command: string;
  checksum: string;
  stats: DatasetStats;
  encoders: Record<string, { encoder: string; dim: number; coverage: number }>;
  warnings: string[] | null;
  prepared: string;
  seconds: number | null;
  /**
   * CAMMSR_THREADS of the process that prepared it, where the checksum depends on it: code before
   * 1e21270 ran the feature SVDs on that many threads, and their rounding reached the features.
   */
  threads?: number;
}

export interface RunRecord {
  seed: number;
  metrics: RunMetrics;
  config?: RunConfig;
  experiment?: ExperimentRecord;
  run?: { cammsr?: string };
  /** The last line of log.jsonl. */
  last?: { diagnostics?: { modalityWeights?: Record<string, number> } };
  /** Training seconds of each epoch in log.jsonl. */
  epochSeconds: number[];
}

export const readJson = <T>(path: string): T | undefined =>
  existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as T) : undefined;

/** The finished runs (metrics.json present) of one (dataset, variant), by seed. */
export function loadRuns(results: string, dataset: string, variant: string): RunRecord[] {
  const dir = join(results, dataset, variant);
  if (!existsSync(dir)) return [];
  const out: RunRecord[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const m = /^seed-(\d+)$/.exec(e.name);
    if (!e.isDirectory() || !m) continue;
    const d = join(dir, e.name);
    const metrics = readJson<RunMetrics>(join(d, RUN_FILES.metrics));
    if (!metrics) continue;
    const log = existsSync(join(d, RUN_FILES.log))
      ? readFileSync(join(d, RUN_FILES.log), 'utf8').trim().split('\n').filter(Boolean)
      : [];
    const epochs = log.map((l) => JSON.parse(l) as NonNullable<RunRecord['last']> & { seconds?: number });
    out.push({
      seed: Number(m[1]),
      metrics,
      epochSeconds: epochs.map((e) => e.seconds).filter((x): x is number => typeof x === 'number'),
      config: readJson<RunConfig>(join(d, RUN_FILES.config)),
      experiment: readJson<ExperimentRecord>(join(d, EXPERIMENT_FILE)),
      run: readJson<{ cammsr?: string }>(join(d, RUN_FILES.info)),
      last: epochs.length ? epochs[epochs.length - 1] : undefined,
    });
  }
  return out.sort((a, b) => a.seed - b.seed);
}

/** A PyTorch run of our protocol on the same prepared data: <results>/<dataset>/pytorch-sasrec/seed-N/result.json. */
export interface TorchParity {
  command: string;
  dataset: { name: string; checksum: string; note?: string };
  result: {
    test: Record<string, number>;
    testMasked: Record<string, number>;
    seed: number;
    best_epoch: number;
  };
}

export function loadTorchParity(results: string, dataset: string): TorchParity[] {
  const dir = join(results, dataset, 'pytorch-sasrec');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((d) => /^seed-\d+$/.test(d) && existsSync(join(dir, d, 'result.json')))
    .sort()
    .map((d) => JSON.parse(readFileSync(join(dir, d, 'result.json'), 'utf8')) as TorchParity);
}

/** The epoch cap a finished run was made with (null: none), from its experiment.json. */
export function cappedAt(dir: string): number | null {
  return readJson<ExperimentRecord>(join(dir, EXPERIMENT_FILE))?.maxEpochs ?? null;
}

/**
 * Copies a finished run's small files into the results tree: the records with portable paths
 * (portable.ts), the log without per-category weights (MBs on Amazon).
 */
export function copyResults(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const f of RESULT_FILES) {
    const src = join(from, f);
    if (!existsSync(src)) continue;
    if (f === RUN_FILES.info || f === EXPERIMENT_FILE) {
      const record = portableRecord(f, JSON.parse(readFileSync(src, 'utf8')));
      writeFileSync(join(to, f), JSON.stringify(record, null, 2) + '\n');
      continue;
    }
    if (f !== RUN_FILES.log) {
      copyFileSync(src, join(to, f));
      continue;
    }
    const lines = readFileSync(src, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const e = JSON.parse(l);
        if (e.diagnostics) delete e.diagnostics.categoryWeights;
        return JSON.stringify(e);
      });
    writeFileSync(join(to, f), lines.map((l) => l + '\n').join(''));
  }
}
