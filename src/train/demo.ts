/**
 * The demo (`cammsr demo`): where content matters, shown on new items. It prepares the built-in
 * synthetic catalog, holds its newest items out of training (the cold-start protocol,
 * docs/models.md), and trains SASRec (ID only), a fusion baseline and CAMMSR with several
 * seeds, so that warm and cold test targets can be compared with the seed spread beside them
 * (src/report/demo-summary.ts turns the runs into tables and verdicts).
 *
 * Runs go to `<dir>/runs/<model>/seed-<n>`, the dataset to `<dir>/synth`; the runs train in
 * this process (jobs 1) or in child processes (demo-worker.ts), one run at a time each, the
 * longest first.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareDataset } from '../data/prepare.js';
import type { DatasetStats } from '../data/stats.js';
import type { ProgressFn } from '../data/types.js';
import { resolveConfig, type Modality, type ModelName } from '../config/index.js';
import type { PlantedStructure } from '../data/importers/synth.js';
import { kernels } from '../kernels/select.js';
import { train, type EpochLog, type RunMetrics } from './trainer.js';

/**
 * The compared models: ID only, a fusion, and CAMMSR. The fusion is fusion-sum, the stronger of
 * the two on the synthetic control's validation split (experiments/results/synthetic-sparse:
 * NDCG@10 0.114 against fusion-concat's 0.100, mean of 3 seeds), so the harder baseline; and
 * its item is the plain sum of its views, so a new item is its content projections plus the
 * shared unseen-item row.
 */
export const DEMO_MODELS = ['sasrec', 'fusion-sum', 'cammsr'] as const satisfies readonly ModelName[];
export type DemoModel = (typeof DEMO_MODELS)[number];

export interface DemoSize {
  users: number;
  items: number;
  /** Epoch budget of every run. */
  epochs: number;
  /** Early stopping: validation evaluations without a new best. */
  patience: number;
}

/**
 * Sized for the time budgets on two cores with the WebAssembly kernels, full under 3 minutes and
 * quick under 40 seconds: CAMMSR's cost decides (npm run bench:demo measures them;
 * docs/performance.md, "The demo"). Most runs reach their best validation NDCG@10 at or near the
 * last epoch: these are short runs, compared as such.
 */
export const DEMO_SIZES: Record<'full' | 'quick', DemoSize> = {
  full: { users: 800, items: 400, epochs: 10, patience: 3 },
  quick: { users: 300, items: 150, epochs: 3, patience: 2 },
};

/**
 * The settings every run shares, none of them chosen on test numbers:
 * - `split.coldItems=0.1`: the newest 10% of items are new (the experiments' cold protocol);
 * - `idMask=0.2` for the content models: the experiments' ID-masking rate, which teaches the
 *   content towers to rank an item without an ID embedding (unseenItems then defaults to the
 *   learned unseen-item row); SASRec has no content to fall back on;
 * - dropout 0.2: the synthetic control's setting in the experiments;
 * - `train.lr=0.003` and `train.batchSize=64`: chosen on validation NDCG@10 (seed 1), because
 *   a budget of a few epochs over a small catalog leaves the defaults (0.001, 256: a handful of
 *   steps per epoch) far from converged; all three models were ahead on validation with them.
 */
export const DEMO_COLD_ITEMS = 0.1;
export const DEMO_ID_MASK = 0.2;
const SHARED = [
  `split.coldItems=${DEMO_COLD_ITEMS}`,
  'hiddenDropout=0.2',
  'attnDropout=0.2',
  'train.lr=0.003',
  'train.batchSize=64',
];

/** The `--set` overrides of one demo run. */
export function demoOverrides(model: DemoModel, size: DemoSize): string[] {
  return [
    ...SHARED,
    ...(model === 'sasrec' ? [] : [`idMask=${DEMO_ID_MASK}`]),
    `train.epochs=${size.epochs}`,
    `train.patience=${size.patience}`,
  ];
}

/** One training run of the demo (what a worker process is sent). */
export interface DemoTask {
  model: DemoModel;
  seed: number;
  data: string;
  out: string;
  overrides: string[];
}

export interface DemoEvents {
  /** Preparing the dataset. */
  progress?: ProgressFn;
  message?(text: string): void;
  epoch?(task: DemoTask, e: EpochLog): void;
  /** A run finished; `done` of `total` runs are. */
  run?(run: DemoRun, done: number, total: number): void;
}

export interface DemoOptions {
  /** Folder for the dataset and the runs (created; must not hold a previous demo). */
  dir: string;
  size: DemoSize;
  seeds?: readonly number[];
  models?: readonly DemoModel[];
  /** Runs trained at once, each in its own process; 1 = in this process (default: the CPU count, at most 3). */
  jobs?: number;
  events?: DemoEvents;
}

export interface DemoRun {
  model: DemoModel;
  seed: number;
  dir: string;
  metrics: RunMetrics;
}

export interface DemoOutcome {
  dir: string;
  dataset: DatasetStats;
  size: DemoSize;
  models: DemoModel[];
  seeds: number[];
  /** Items held out of training as new. */
  coldItems: { fraction: number; count: number };
  /** The generator's planted structure: category -> the modality that predicts the next item. */
  drivingModality: Record<string, Modality>;
  overrides: Record<string, string[]>;
  runs: DemoRun[];
  jobs: number;
  /** The kernel backend (the workers select theirs the same way). */
  backend: string;
  /** Bytes in `dir` at the end (dataset, images, runs and their checkpoints). */
  bytes: number;
  /** Wall-clock seconds, and CPU seconds of this process and its workers. */
  seconds: number;
  cpuSeconds: number;
  /** CPU seconds of each worker process (empty with jobs 1). */
  workerCpuSeconds: number[];
}

export async function runDemo(o: DemoOptions): Promise<DemoOutcome> {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const models = [...(o.models ?? DEMO_MODELS)];
  const seeds = [...(o.seeds ?? [1, 2, 3])];
  const say = (s: string) => o.events?.message?.(s);
  if (existsSync(o.dir) && readdirSync(o.dir).length > 0)
    throw new Error(
      `${o.dir} is not empty: choose another folder (the demo writes synth/ and runs/ into it)`,
    );
  say(`preparing the synthetic catalog (${o.size.users} users, ${o.size.items} items) in ${o.dir}`);
  const prepared = await prepareDataset({
    format: 'synth',
    out: join(o.dir, 'synth'),
    synth: { users: o.size.users, items: o.size.items },
    seed: 1,
    progress: o.events?.progress,
  });
  const tasks = demoTasks(models, seeds, prepared.dir, o);
  const jobs = Math.max(1, Math.min(o.jobs ?? Math.min(availableParallelism(), 3), tasks.length));
  say(
    `training ${models.join(', ')} with seeds ${seeds.join(', ')} (${tasks.length} runs, up to ${o.size.epochs} epochs each, ${jobs === 1 ? 'in this process' : `${jobs} at a time`})`,
  );
  const { runs, workerCpu } =
    jobs === 1 ? await inProcess(tasks, o.events) : await inWorkers(tasks, jobs, o.events);
  const cpu = process.cpuUsage(cpu0);
  const order = (r: DemoRun) => models.indexOf(r.model) * 1e6 + seeds.indexOf(r.seed);
  return {
    dir: o.dir,
    dataset: prepared.stats,
    size: o.size,
    models,
    seeds,
    coldItems: { fraction: DEMO_COLD_ITEMS, count: Math.round(DEMO_COLD_ITEMS * prepared.stats.items) },
    drivingModality: (prepared.manifest.extra.planted as PlantedStructure).drivingModality,
    overrides: Object.fromEntries(models.map((m) => [m, demoOverrides(m, o.size)])),
    runs: runs.sort((a, b) => order(a) - order(b)),
    jobs,
    backend: kernels().name,
    bytes: folderBytes(o.dir),
    seconds: (performance.now() - t0) / 1000,
    cpuSeconds: (cpu.user + cpu.system) / 1e6 + workerCpu.reduce((a, b) => a + b, 0),
    workerCpuSeconds: workerCpu,
  };
}

/** Every (model, seed) run, models in reverse order: CAMMSR, the longest, first, so that parallel workers finish together. */
function demoTasks(models: DemoModel[], seeds: number[], data: string, o: DemoOptions): DemoTask[] {
  return [...models].reverse().flatMap((model) =>
    seeds.map((seed) => ({
      model,
      seed,
      data,
      out: join(o.dir, 'runs', model, `seed-${seed}`),
      overrides: demoOverrides(model, o.size),
    })),
  );
}

/** Total size of the files under a folder. */
export function folderBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) total += folderBytes(path);
    else if (e.isFile()) total += statSync(path).size;
  }
  return total;
}

/** Trains one demo run here (a worker process calls this too). */
export function runDemoTask(task: DemoTask, epoch?: (e: EpochLog) => void): Promise<RunMetrics> {
  const config = resolveConfig({ cli: { model: task.model, seed: task.seed }, overrides: task.overrides });
  return train({ data: task.data, out: task.out, config, events: { epoch } });
}

async function inProcess(tasks: DemoTask[], events?: DemoEvents) {
  const runs: DemoRun[] = [];
  for (const task of tasks) {
    const metrics = await runDemoTask(task, (e) => events?.epoch?.(task, e));
    const run = { model: task.model, seed: task.seed, dir: task.out, metrics };
    runs.push(run);
    events?.run?.(run, runs.length, tasks.length);
  }
  return { runs, workerCpu: [] as number[] };
}

/** What a worker sends back (demo-worker.ts). */
export type WorkerMessage =
  | { type: 'epoch'; epoch: EpochLog }
  | { type: 'done'; metrics: RunMetrics; cpuSeconds: number }
  | { type: 'error'; message: string };

const WORKER = fileURLToPath(new URL('./demo-worker.js', import.meta.url));

/** `jobs` worker processes, each taking the next task when it is done with one. */
async function inWorkers(tasks: DemoTask[], jobs: number, events?: DemoEvents) {
  const runs: DemoRun[] = [];
  const children: ChildProcess[] = [];
  let next = 0;
  const workerCpu: number[] = [];
  const work = (child: ChildProcess) =>
    new Promise<void>((resolve, reject) => {
      let task: DemoTask | undefined;
      let cpu = 0;
      const send = () => {
        task = tasks[next++];
        if (task) child.send(task);
        else {
          workerCpu.push(cpu);
          child.disconnect();
          resolve();
        }
      };
      child.on('message', (m: WorkerMessage) => {
        if (m.type === 'epoch') events?.epoch?.(task!, m.epoch);
        else if (m.type === 'error') reject(new Error(`${task!.model} seed ${task!.seed}: ${m.message}`));
        else {
          cpu = m.cpuSeconds;
          const run = { model: task!.model, seed: task!.seed, dir: task!.out, metrics: m.metrics };
          runs.push(run);
          events?.run?.(run, runs.length, tasks.length);
          send();
        }
      });
      child.on('exit', (code, signal) => {
        if (task)
          reject(
            new Error(
              `a demo worker stopped (${signal ?? `exit code ${code}`}) during ${task.model} seed ${task.seed}`,
            ),
          );
      });
      send();
    });
  try {
    // One kernel thread per worker unless told otherwise: the workers share the cores.
    const env = { ...process.env, CAMMSR_THREADS: process.env.CAMMSR_THREADS ?? '1' };
    for (let j = 0; j < jobs; j++) children.push(fork(WORKER, [], { serialization: 'advanced', env }));
    await Promise.all(children.map(work));
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null && c.connected) c.kill();
  }
  return { runs, workerCpu };
}
