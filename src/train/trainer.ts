/**
 * Training a sequential recommender on a prepared dataset, RecBole-style: Adam over batches
 * of training windows (one per user: the most recent maxLen+1 training items), next-item
 * cross-entropy at every position, the validation metric (train.validationMetric) every
 * train.evalEvery epochs, early stopping with patience, the best checkpoint kept, final
 * metrics on validation and test. What a run writes is described in run-dir.ts.
 *
 *   train()  =  startRun (check the folder, or the state to resume)
 *            →  trainEpochs (the loop: one epoch, evaluate, checkpoint, stop early)
 *            →  finishRun (best checkpoint, final metrics)
 */
import { resolve } from 'node:path';
import { Dataset, readManifest } from '../data/dataset.js';
import { leaveOneOut } from '../data/split.js';
import { memorySplit, streamedSplit, type TrainingSplit } from '../data/training-split.js';
import { effectiveSequencesOnDisk } from '../config/effective.js';
import { clearTape } from '../engine/autograd.js';
import { StepArena } from '../engine/memory.js';
import { Adam } from '../engine/optim/adam.js';
import { clipGradNorm } from '../engine/optim/grads.js';
import { Rng } from '../engine/rng.js';
import { evaluateSplit } from '../eval/evaluate.js';
import type { SequentialRecommender } from '../models/model.js';
import { FUTURE_ITEMS, prefixBatch, trainingBatch } from '../models/batch.js';
import { kernels } from '../kernels/select.js';
import { VERSION } from '../version.js';
import type { RunConfig } from '../config/index.js';
import { createModel } from './create-model.js';
import { modelData } from './model-data.js';
import { RunDir, type EpochLog, type ResumeState, type RunInfo, type RunMetrics } from './run-dir.js';

export type { EpochLog, RunMetrics } from './run-dir.js';

export interface TrainEvents {
  /** After every batch: progress within the epoch and the batch's total loss. */
  batch?(e: { epoch: number; done: number; total: number; loss: number }): void;
  epoch?(e: EpochLog): void;
  message?(text: string): void;
}

export interface TrainOptions {
  data: string;
  out: string;
  config: RunConfig;
  /** Continue the run in `out` from its last completed epoch. */
  resume?: boolean;
  events?: TrainEvents;
}

/**
 * Loads the dataset, its split and the model a configuration describes. The log stays on disk
 * when train.sequences says so (close the dataset when done); the warm protocol's split is read
 * from the sequences as needed, the cold-start protocol's made whole.
 */
export function setup(dataDir: string, config: RunConfig) {
  const interactions = Number(readManifest(dataDir).counts?.interactions) || 0;
  const onDisk = effectiveSequencesOnDisk(config, interactions);
  const ds = Dataset.load(dataDir, { sequences: onDisk ? 'disk' : 'memory' });
  try {
    const split: TrainingSplit =
      config.split.coldItems > 0 ? memorySplit(leaveOneOut(ds, config.split)) : streamedSplit(ds);
    const data = modelData(ds, split, { categoryNoise: config.cammsr.categoryNoise, seed: config.seed });
    const model = createModel(config, data);
    return { ds, split, data, model };
  } catch (err) {
    ds.close();
    throw err;
  }
}

const optimiser = (cfg: RunConfig, model: SequentialRecommender) =>
  new Adam(model.parameters(), { lr: cfg.train.lr, weightDecay: cfg.train.weightDecay });
/** The stream that shuffles each epoch's samples. */
const shuffleRng = (cfg: RunConfig) => new Rng(cfg.seed * 1_000_003 + 1);

/**
 * The first epoch of a run, alone: no run directory, no evaluation (bench:scale times a real
 * epoch of a large log with it). Returns its log and the target positions it trained on.
 */
export function trainOneEpoch(dataDir: string, cfg: RunConfig, ev: TrainEvents = {}) {
  const { ds, split, model, data } = setup(dataDir, cfg);
  try {
    const opt = optimiser(cfg, model);
    opt.lr = learningRate(cfg, 1);
    const runner = new EpochRunner(cfg, split, model, opt, shuffleRng(cfg), ev);
    return {
      log: runner.run(1),
      positions: runner.targets(),
      users: split.users,
      items: data.items,
    };
  } finally {
    ds.close();
  }
}

/** Evaluates a model on both splits, with and without history masking. */
export function finalMetrics(model: SequentialRecommender, split: TrainingSplit) {
  const validation = evaluateSplit(model, split, 'validation', { maskHistory: false });
  const test = evaluateSplit(model, split, 'test', { maskHistory: false });
  return {
    validation: validation.metrics,
    test: test.metrics,
    validationMasked: evaluateSplit(model, split, 'validation', { maskHistory: true }).metrics,
    testMasked: evaluateSplit(model, split, 'test', { maskHistory: true }).metrics,
    ...(validation.targets && test.targets
      ? { targets: { validation: validation.targets, test: test.targets } }
      : {}),
  };
}

export async function train(opts: TrainOptions): Promise<RunMetrics> {
  const cfg = opts.config;
  if (cfg.train.threads !== undefined) kernels().setThreads(cfg.train.threads);
  const run = new RunDir(opts.out);
  if (!opts.resume && !run.isEmpty())
    throw new Error(
      `${opts.out} already exists and is not empty: choose another --out, or --resume to continue it`,
    );
  if (opts.resume && !run.has('state'))
    throw new Error(`${opts.out} has no resumable state (state.json): start a new run instead`);
  const { ds, split, model } = setup(opts.data, cfg);
  try {
    const info = startRun(run, opts, ds, model);
    const progress = model.trainable
      ? await trainEpochs(run, opts, ds, split, model)
      : { epoch: 0, bestEpoch: 0, bestValue: NaN, trainSeconds: 0, stoppedEarly: false };
    return finishRun(run, info, ds, split, model, cfg, progress);
  } finally {
    ds.close();
  }
}

/** run.json of a run starting now: this cammsr, the model, the dataset, the kernels. */
export function newRunInfo(model: SequentialRecommender, dataDir: string, ds: Dataset): RunInfo {
  return {
    cammsr: VERSION,
    model: model.kind,
    dataset: { dir: resolve(dataDir), name: ds.manifest.name, checksum: ds.manifest.checksum },
    backend: kernels().name,
    threads: kernels().threads(),
    created: new Date().toISOString(),
    status: 'running',
  };
}

/** Writes a new run's config, run.json and empty log; or checks that a resumed run is the same run. */
function startRun(run: RunDir, opts: TrainOptions, ds: Dataset, model: SequentialRecommender): RunInfo {
  run.ensureDir();
  const info = newRunInfo(model, opts.data, ds);
  if (opts.resume) {
    const prev = run.readInfo();
    if (prev.dataset.checksum !== ds.manifest.checksum) {
      throw new Error(
        `${opts.out} was trained on dataset ${prev.dataset.checksum.slice(0, 12)}, not ${ds.manifest.checksum.slice(0, 12)}: cannot resume`,
      );
    }
    // Only the epoch budget may change on resume (to train longer); anything else would mix two
    // runs. Read by the current schema, so that options added since the run began take their
    // defaults: such a run resumes as long as it did not set anything the defaults differ from.
    const same = (c: RunConfig) => JSON.stringify({ ...c, train: { ...c.train, epochs: 0 } });
    if (same(run.readConfig()) !== same(opts.config)) {
      throw new Error(
        `${opts.out}: the configuration differs from the run's config.json (only train.epochs may change on resume)`,
      );
    }
    run.writeConfig(opts.config);
  } else {
    run.writeConfig(opts.config);
    run.writeInfo(info);
    run.startLog();
  }
  return info;
}

interface Progress {
  epoch: number;
  bestEpoch: number;
  bestValue: number;
  trainSeconds: number;
  stoppedEarly: boolean;
}

/** The epoch loop: train, evaluate every evalEvery epochs, keep the best, save the resumable state. */
async function trainEpochs(
  run: RunDir,
  opts: TrainOptions,
  ds: Dataset,
  split: TrainingSplit,
  model: SequentialRecommender,
): Promise<Progress> {
  const cfg = opts.config;
  const ev = opts.events ?? {};
  const opt = optimiser(cfg, model);
  const shuffle = shuffleRng(cfg);
  const metric = cfg.train.validationMetric;
  let state: ResumeState = {
    epoch: 0,
    bestEpoch: 0,
    bestValue: -Infinity,
    sinceBest: 0,
    trainSeconds: 0,
    shuffleRng: shuffle.getState(),
    modelRng: model.rng?.getState() ?? null,
  };
  if (opts.resume) {
    state = run.readState();
    run.loadCheckpoint('last', model);
    run.loadOptimizer(opt, model);
    shuffle.setState(state.shuffleRng);
    if (state.modelRng) model.rng?.setState(state.modelRng);
    ev.message?.(
      `resuming after epoch ${state.epoch} (best ${metric} ${state.bestValue.toFixed(4)} at epoch ${state.bestEpoch})`,
    );
  }
  const epochs = new EpochRunner(cfg, split, model, opt, shuffle, ev);
  // A run killed after its early stop but before its test metrics resumes to the same stop,
  // not to more epochs (which would overwrite its best checkpoint).
  let stoppedEarly = patienceSpent(cfg, state);
  for (let epoch = state.epoch + 1; !stoppedEarly && epoch <= cfg.train.epochs; epoch++) {
    opt.lr = learningRate(cfg, epoch);
    const log = epochs.run(epoch);
    state.trainSeconds += log.seconds;
    if (epoch % cfg.train.evalEvery === 0 || epoch === cfg.train.epochs) {
      log.validation = evaluateSplit(model, split, 'validation', {
        maskHistory: cfg.train.maskHistory,
      }).metrics;
      const value = log.validation[metric];
      if (value > state.bestValue) {
        Object.assign(state, { bestValue: value, bestEpoch: epoch, sinceBest: 0 });
        log.best = true;
        run.saveCheckpoint('best', model, { epoch: String(epoch), [metric]: String(value) });
      } else {
        state.sinceBest++;
      }
    }
    run.appendLog(log);
    ev.epoch?.(log);
    // The resumable state: parameters, optimizer moments, random streams, counters.
    Object.assign(state, { epoch, shuffleRng: shuffle.getState(), modelRng: model.rng?.getState() ?? null });
    run.saveCheckpoint('last', model, { epoch: String(epoch) });
    run.saveOptimizer(opt, model);
    run.writeState(state);
    if (patienceSpent(cfg, state)) {
      stoppedEarly = true;
      ev.message?.(
        `early stop after epoch ${epoch}: no better ${metric} for ${cfg.train.patience} evaluations`,
      );
    }
  }
  epochs.release();
  run.loadCheckpoint('best', model);
  return { ...state, stoppedEarly };
}

const patienceSpent = (cfg: RunConfig, state: ResumeState) =>
  cfg.train.patience > 0 && state.sinceBest >= cfg.train.patience;

/** The learning rate of an epoch (from 1): train.lr after the warm-up, a linear ramp during it. */
export function learningRate(cfg: RunConfig, epoch: number): number {
  const w = cfg.train.warmupEpochs;
  return w > 0 ? cfg.train.lr * Math.min(1, epoch / w) : cfg.train.lr;
}

/**
 * One epoch of optimisation over shuffled samples, each step's buffers reused through an arena.
 * A sample is a user's training sequence (a target at every position), or with
 * train.samples 'prefixes' one prefix of it (one target).
 */
class EpochRunner {
  private readonly arena = new StepArena();
  /** Each sample's user: users with fewer than two training items have no training window. */
  private readonly users: Int32Array;
  /** Per prefix sample: the index of its target in the user's sequence (null: whole sequences). */
  private readonly ends: Int32Array | null;

  constructor(
    private readonly cfg: RunConfig,
    private readonly split: TrainingSplit,
    private readonly model: SequentialRecommender,
    private readonly opt: Adam,
    private readonly shuffle: Rng,
    private readonly ev: TrainEvents,
  ) {
    const users: number[] = [];
    for (let u = 0; u < split.users; u++) if (split.trainLength(u) >= 2) users.push(u);
    if (cfg.train.samples === 'prefixes') {
      // Two flat arrays, not a pair per prefix: a log of 10M events has about 10M prefixes.
      let count = 0;
      for (const u of users) count += split.trainLength(u) - 1;
      this.users = new Int32Array(count);
      this.ends = new Int32Array(count);
      let k = 0;
      for (const u of users)
        for (let end = 1; end < split.trainLength(u); end++, k++) {
          this.users[k] = u;
          this.ends[k] = end;
        }
    } else {
      this.users = Int32Array.from(users);
      this.ends = null;
    }
  }

  /** Target positions an epoch trains: one per prefix sample, else each window's (trainingBatch). */
  targets(): number {
    if (this.ends) return this.ends.length;
    let n = 0;
    for (const u of this.users) n += Math.min(this.cfg.maxLen, this.split.trainLength(u) - 1);
    return n;
  }

  run(epoch: number): EpochLog {
    const t0 = performance.now();
    const { model, cfg } = this;
    model.train();
    const order = Int32Array.from(this.users, (_, k) => k);
    this.shuffle.shuffle(order);
    const batchSize = cfg.train.batchSize;
    const batches = Math.ceil(order.length / batchSize);
    const sums: Record<string, number> = {};
    for (let b = 0; b < batches; b++) {
      const ids = order.subarray(b * batchSize, (b + 1) * batchSize);
      const { loss, terms } = this.step(ids, epoch, b);
      for (const [k, v] of Object.entries(terms)) sums[k] = (sums[k] ?? 0) + v;
      this.ev.batch?.({ epoch, done: b + 1, total: batches, loss });
    }
    return {
      epoch,
      loss: Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / batches])),
      best: false,
      seconds: (performance.now() - t0) / 1000,
      lr: this.opt.lr,
      diagnostics: model.diagnostics?.(),
    };
  }

  /** One optimisation step over the given samples' training windows. */
  private step(samples: Int32Array, epoch: number, b: number) {
    const { model, opt, cfg } = this;
    const batch = this.batch(samples);
    // The step's activations and gradients live in the arena, reused by the next step, so the
    // step drops its gradients (zeroGrad) before it ends.
    return this.arena.run(() => {
      const { total, terms } = model.loss(batch);
      const loss = total.item();
      if (!Number.isFinite(loss)) {
        clearTape();
        throw new Error(
          `epoch ${epoch}, batch ${b + 1}: the loss is ${loss}; lower the learning rate or enable train.gradClip`,
        );
      }
      total.backward();
      if (cfg.train.gradClip > 0) clipGradNorm(model.parameters(), cfg.train.gradClip);
      opt.step();
      opt.zeroGrad();
      return { loss, terms };
    });
  }

  /**
   * The samples' batch, from the part of each training sequence it reads: a window's maxLen
   * items, its target(s), the item before it (whose time starts the first gap) and, for a
   * prefix, the FUTURE_ITEMS after it. Equal to the batch of the whole sequences, without
   * reading them whole (they may be on disk).
   */
  private batch(samples: Int32Array) {
    const { split, cfg, ends } = this;
    const n = samples.length;
    const seqs: Int32Array[] = new Array(n);
    const times: (Float64Array | null)[] | undefined = split.timed ? new Array(n) : undefined;
    const prefixEnds = ends ? new Int32Array(n) : null;
    for (let b = 0; b < n; b++) {
      const u = this.users[samples[b]];
      const length = split.trainLength(u);
      let from: number;
      let to: number;
      if (ends && prefixEnds) {
        const end = ends[samples[b]];
        from = Math.max(0, end - cfg.maxLen - 1);
        to = Math.min(length, end + FUTURE_ITEMS);
        prefixEnds[b] = end - from;
      } else {
        from = Math.max(0, length - cfg.maxLen - 2);
        to = length;
      }
      seqs[b] = split.trainItems(u, from, to);
      if (times) times[b] = split.trainTimes(u, from, to);
    }
    return prefixEnds
      ? prefixBatch(seqs, prefixEnds, cfg.maxLen, times)
      : trainingBatch(seqs, cfg.maxLen, times);
  }

  release(): void {
    this.arena.release();
  }
}

/** Evaluates the best checkpoint (already loaded) and writes metrics.json; the run is finished. */
function finishRun(
  run: RunDir,
  info: RunInfo,
  ds: Dataset,
  split: TrainingSplit,
  model: SequentialRecommender,
  cfg: RunConfig,
  p: Progress,
): RunMetrics {
  const m = finalMetrics(model, split);
  const metric = cfg.train.validationMetric;
  const metrics: RunMetrics = {
    bestEpoch: p.bestEpoch,
    epochs: p.epoch,
    stoppedEarly: p.stoppedEarly,
    // A model without training selects nothing: its validation value is reported as it is.
    selection: { metric, value: model.trainable ? p.bestValue : m.validation[metric] },
    ...m,
    parameters: model.trainable ? model.parameterCount() : 0,
    trainSeconds: p.trainSeconds,
    secondsPerEpoch: p.trainSeconds / Math.max(1, p.epoch),
    dataset: { name: ds.manifest.name, checksum: ds.manifest.checksum, users: ds.users, items: ds.items },
  };
  run.writeMetrics(metrics);
  run.writeInfo({ ...info, status: 'finished' });
  return metrics;
}

/**
 * Loads a finished (or interrupted) run's best model, with its dataset and split. The split may
 * read the dataset's sequences from disk (train.sequences): close the dataset when done.
 */
export function loadRun(runDir: string, opts: { data?: string } = {}) {
  const run = RunDir.open(runDir);
  const config = run.readConfig();
  const info = run.readInfo();
  const dataDir = opts.data ?? info.dataset.dir;
  const { ds, split, model } = setup(dataDir, config);
  try {
    if (ds.manifest.checksum !== info.dataset.checksum) {
      throw new Error(`${dataDir} is not the dataset ${runDir} was trained on (checksum differs)`);
    }
    if (model.trainable) {
      if (!run.has('best'))
        throw new Error(`${runDir} has no best.safetensors yet (no evaluation has finished)`);
      run.loadCheckpoint('best', model);
    }
  } catch (err) {
    ds.close();
    throw err;
  }
  model.eval();
  return { config, ds, split, model, info, run };
}
