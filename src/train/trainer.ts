/**
 * Training a sequential recommender on a prepared dataset, RecBole-style: Adam over batches
 * of training windows (one per user: the most recent maxLen+1 training items), next-item
 * cross-entropy at every position, validation NDCG@10 after each epoch, early stopping with
 * patience, the best checkpoint kept, final metrics on validation and test.
 *
 * A run directory holds everything needed to inspect, resume or serve the run:
 *   config.json         the resolved configuration
 *   run.json            dataset (path, name, checksum), model, cammsr version, status
 *   log.jsonl           one JSON object per epoch (losses by term, validation metrics,
 *                       seconds, learning rate, mean modality weights)
 *   best.safetensors    parameters of the best validation epoch
 *   last.safetensors, optimizer.safetensors, state.json   the resumable state
 *   metrics.json        final validation and test metrics of the best checkpoint
 */
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Dataset } from '../data/dataset.js';
import { leaveOneOut, type LeaveOneOutSplit } from '../data/split.js';
import { clearTape } from '../engine/autograd.js';
import { StepArena } from '../engine/memory.js';
import {
  decodeSafetensors,
  encodeSafetensors,
  loadParameters,
  saveParameters,
  writeFileAtomic,
} from '../engine/io/safetensors.js';
import { Adam } from '../engine/optim/adam.js';
import { clipGradNorm } from '../engine/optim/grads.js';
import { Rng } from '../engine/rng.js';
import { evaluateSplit } from '../eval/evaluate.js';
import type { SequentialRecommender } from '../models/model.js';
import { createModel } from '../models/registry.js';
import { kernels } from '../kernels/select.js';
import { VERSION } from '../version.js';
import { parseConfig, type RunConfig } from './config.js';
import { trainingBatch } from './batch.js';
import { modelData } from './model-data.js';

export interface EpochLog {
  epoch: number;
  /** Mean of each loss term over the epoch's batches. */
  loss: Record<string, number>;
  validation?: Record<string, number>;
  best: boolean;
  seconds: number;
  lr: number;
  /** Model diagnostics (CAMMSR: mean modality weights overall and per category, gate usage). */
  diagnostics?: Record<string, unknown>;
}

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

export interface RunMetrics {
  bestEpoch: number;
  epochs: number;
  stoppedEarly: boolean;
  /** The validation metric that selected the best epoch. */
  selection: { metric: string; value: number };
  validation: Record<string, number>;
  test: Record<string, number>;
  /** The same with history items masked out of the ranking. */
  validationMasked: Record<string, number>;
  testMasked: Record<string, number>;
  parameters: number;
  trainSeconds: number;
  secondsPerEpoch: number;
  dataset: { name: string; checksum: string; users: number; items: number };
}

interface ResumeState {
  epoch: number;
  bestEpoch: number;
  bestValue: number;
  sinceBest: number;
  trainSeconds: number;
  shuffleRng: number[];
  modelRng: number[] | null;
}

const modelRng = (m: SequentialRecommender): Rng | null => (m as unknown as { rng?: Rng }).rng ?? null;

/** Loads the dataset, its split and the model a configuration describes. */
export function setup(dataDir: string, config: RunConfig) {
  const ds = Dataset.load(dataDir);
  const split = leaveOneOut(ds);
  const data = modelData(ds, split, { categoryNoise: config.cammsr.categoryNoise, seed: config.seed });
  const model = createModel(config, data);
  return { ds, split, data, model };
}

function saveOptimizer(opt: Adam, model: SequentialRecommender, path: string): void {
  const tensors: Record<string, { data: Float32Array; shape: readonly number[] }> = {};
  const state = opt.stateDict();
  model.namedParameters().forEach(([name, p], i) => {
    tensors[`m.${name}`] = { data: state.moments[i].m, shape: p.shape };
    tensors[`v.${name}`] = { data: state.moments[i].v, shape: p.shape };
  });
  writeFileAtomic(path, encodeSafetensors(tensors, { step: String(state.step) }));
}

function loadOptimizer(opt: Adam, model: SequentialRecommender, path: string): void {
  const { tensors, metadata } = decodeSafetensors(readFileSync(path), path);
  const moments = model.namedParameters().map(([name]) => {
    const m = tensors.get(`m.${name}`);
    const v = tensors.get(`v.${name}`);
    if (!m || !v) throw new Error(`${path}: no optimizer state for parameter ${name}`);
    return { m: m.data, v: v.data };
  });
  opt.loadStateDict({ step: Number(metadata.step), moments });
}

/** Evaluates a model on both splits, with and without history masking. */
export function finalMetrics(model: SequentialRecommender, split: LeaveOneOutSplit) {
  return {
    validation: evaluateSplit(model, split, 'validation', { maskHistory: false }).metrics,
    test: evaluateSplit(model, split, 'test', { maskHistory: false }).metrics,
    validationMasked: evaluateSplit(model, split, 'validation', { maskHistory: true }).metrics,
    testMasked: evaluateSplit(model, split, 'test', { maskHistory: true }).metrics,
  };
}

export async function train(opts: TrainOptions): Promise<RunMetrics> {
  const cfg = opts.config;
  const out = resolve(opts.out);
  const ev = opts.events ?? {};
  if (cfg.train.threads !== undefined) kernels().setThreads(cfg.train.threads);
  if (!opts.resume && existsSync(out) && readdirSync(out).length > 0) {
    throw new Error(
      `${opts.out} already exists and is not empty: choose another --out, or --resume to continue it`,
    );
  }
  if (opts.resume && !existsSync(join(out, 'state.json'))) {
    throw new Error(`${opts.out} has no resumable state (state.json): start a new run instead`);
  }
  const { ds, split, model } = setup(opts.data, cfg);
  mkdirSync(out, { recursive: true });
  const runInfo = {
    cammsr: VERSION,
    model: model.kind,
    dataset: { dir: resolve(opts.data), name: ds.manifest.name, checksum: ds.manifest.checksum },
    backend: kernels().name,
    threads: kernels().threads(),
    created: new Date().toISOString(),
  };
  if (opts.resume) {
    const prev = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
    if (prev.dataset.checksum !== ds.manifest.checksum) {
      throw new Error(
        `${opts.out} was trained on dataset ${prev.dataset.checksum.slice(0, 12)}, not ${ds.manifest.checksum.slice(0, 12)}: cannot resume`,
      );
    }
    // Only the epoch budget may change on resume (to train longer); anything else would mix two runs.
    // Parsed by the current schema, so that options added since the run began take their
    // defaults: such a run resumes as long as it did not set anything the defaults differ from.
    const prevPath = join(out, 'config.json');
    const prevCfg = parseConfig(JSON.parse(readFileSync(prevPath, 'utf8')), prevPath);
    const same = (c: RunConfig) => JSON.stringify({ ...c, train: { ...c.train, epochs: 0 } });
    if (same(prevCfg) !== same(cfg)) {
      throw new Error(
        `${opts.out}: the configuration differs from the run's config.json (only train.epochs may change on resume)`,
      );
    }
    writeFileSync(join(out, 'config.json'), JSON.stringify(cfg, null, 2) + '\n');
  } else {
    writeFileSync(join(out, 'config.json'), JSON.stringify(cfg, null, 2) + '\n');
    writeFileSync(join(out, 'run.json'), JSON.stringify({ ...runInfo, status: 'running' }, null, 2) + '\n');
    writeFileSync(join(out, 'log.jsonl'), '');
  }
  const datasetInfo = {
    name: ds.manifest.name,
    checksum: ds.manifest.checksum,
    users: ds.users,
    items: ds.items,
  };

  if (!model.trainable) {
    const m = finalMetrics(model, split);
    const metrics: RunMetrics = {
      bestEpoch: 0,
      epochs: 0,
      stoppedEarly: false,
      selection: { metric: cfg.train.validationMetric, value: m.validation[cfg.train.validationMetric] },
      ...m,
      parameters: 0,
      trainSeconds: 0,
      secondsPerEpoch: 0,
      dataset: datasetInfo,
    };
    writeFileSync(join(out, 'metrics.json'), JSON.stringify(metrics, null, 2) + '\n');
    writeFileSync(join(out, 'run.json'), JSON.stringify({ ...runInfo, status: 'finished' }, null, 2) + '\n');
    return metrics;
  }

  const opt = new Adam(model.parameters(), { lr: cfg.train.lr, weightDecay: cfg.train.weightDecay });
  const shuffle = new Rng(cfg.seed * 1_000_003 + 1);
  const times = ds.content.times
    ? split.train.map((s, u) =>
        ds.content.times!.subarray(ds.content.offsets[u], ds.content.offsets[u] + s.length),
      )
    : null;
  // Users with fewer than two training items have no training window.
  const users = Int32Array.from(split.train.flatMap((s, u) => (s.length >= 2 ? [u] : [])));
  const metric = cfg.train.validationMetric;
  let state: ResumeState = {
    epoch: 0,
    bestEpoch: 0,
    bestValue: -Infinity,
    sinceBest: 0,
    trainSeconds: 0,
    shuffleRng: shuffle.getState(),
    modelRng: modelRng(model)?.getState() ?? null,
  };
  if (opts.resume) {
    state = JSON.parse(readFileSync(join(out, 'state.json'), 'utf8'));
    loadParameters(model, join(out, 'last.safetensors'));
    loadOptimizer(opt, model, join(out, 'optimizer.safetensors'));
    shuffle.setState(state.shuffleRng);
    if (state.modelRng) modelRng(model)?.setState(state.modelRng);
    ev.message?.(
      `resuming after epoch ${state.epoch} (best ${metric} ${state.bestValue.toFixed(4)} at epoch ${state.bestEpoch})`,
    );
  }

  let stoppedEarly = false;
  const batchSize = cfg.train.batchSize;
  const batches = Math.ceil(users.length / batchSize);
  const arena = new StepArena();
  for (let epoch = state.epoch + 1; epoch <= cfg.train.epochs; epoch++) {
    const t0 = performance.now();
    model.train();
    const order = Int32Array.from(users);
    shuffle.shuffle(order);
    const sums: Record<string, number> = {};
    for (let b = 0; b < batches; b++) {
      const ids = order.subarray(b * batchSize, (b + 1) * batchSize);
      const batch = trainingBatch(
        Array.from(ids, (u) => split.train[u]),
        cfg.maxLen,
        times ? Array.from(ids, (u) => times[u]) : undefined,
      );
      // The step's activations and gradients live in the arena, reused by the next step, so
      // the step drops its gradients (zeroGrad) before it ends.
      const { loss, terms } = arena.run(() => {
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
      for (const [k, v] of Object.entries(terms)) sums[k] = (sums[k] ?? 0) + v;
      ev.batch?.({ epoch, done: b + 1, total: batches, loss });
    }
    const seconds = (performance.now() - t0) / 1000;
    state.trainSeconds += seconds;
    const log: EpochLog = {
      epoch,
      loss: Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / batches])),
      best: false,
      seconds,
      lr: opt.lr,
      diagnostics: model.diagnostics?.(),
    };
    if (epoch % cfg.train.evalEvery === 0 || epoch === cfg.train.epochs) {
      log.validation = evaluateSplit(model, split, 'validation', {
        maskHistory: cfg.train.maskHistory,
      }).metrics;
      const value = log.validation[metric];
      if (value > state.bestValue) {
        state.bestValue = value;
        state.bestEpoch = epoch;
        state.sinceBest = 0;
        log.best = true;
        saveParameters(model, join(out, 'best.safetensors'), {
          epoch: String(epoch),
          [metric]: String(value),
        });
      } else {
        state.sinceBest++;
      }
    }
    appendFileSync(join(out, 'log.jsonl'), JSON.stringify(log) + '\n');
    ev.epoch?.(log);
    // The resumable state: parameters, optimizer moments, random streams, counters.
    state.epoch = epoch;
    state.shuffleRng = shuffle.getState();
    state.modelRng = modelRng(model)?.getState() ?? null;
    saveParameters(model, join(out, 'last.safetensors'), { epoch: String(epoch) });
    saveOptimizer(opt, model, join(out, 'optimizer.safetensors'));
    writeFileAtomic(join(out, 'state.json'), Buffer.from(JSON.stringify(state)));
    if (cfg.train.patience > 0 && state.sinceBest >= cfg.train.patience) {
      stoppedEarly = true;
      ev.message?.(
        `early stop after epoch ${epoch}: no better ${metric} for ${cfg.train.patience} evaluations`,
      );
      break;
    }
  }

  arena.release();
  loadParameters(model, join(out, 'best.safetensors'));
  const m = finalMetrics(model, split);
  const metrics: RunMetrics = {
    bestEpoch: state.bestEpoch,
    epochs: state.epoch,
    stoppedEarly,
    selection: { metric, value: state.bestValue },
    ...m,
    parameters: model.parameterCount(),
    trainSeconds: state.trainSeconds,
    secondsPerEpoch: state.trainSeconds / Math.max(1, state.epoch),
    dataset: datasetInfo,
  };
  writeFileSync(join(out, 'metrics.json'), JSON.stringify(metrics, null, 2) + '\n');
  writeFileSync(join(out, 'run.json'), JSON.stringify({ ...runInfo, status: 'finished' }, null, 2) + '\n');
  return metrics;
}

/** Loads a finished (or interrupted) run's best model, with its dataset and split. */
export function loadRun(runDir: string, opts: { data?: string } = {}) {
  const cfgPath = join(runDir, 'config.json');
  if (!existsSync(cfgPath)) throw new Error(`${runDir} is not a cammsr run: config.json is missing`);
  const config = JSON.parse(readFileSync(cfgPath, 'utf8')) as RunConfig;
  const info = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8'));
  const dataDir = opts.data ?? info.dataset.dir;
  const { ds, split, model } = setup(dataDir, config);
  if (ds.manifest.checksum !== info.dataset.checksum) {
    throw new Error(`${dataDir} is not the dataset ${runDir} was trained on (checksum differs)`);
  }
  if (model.trainable) {
    const best = join(runDir, 'best.safetensors');
    if (!existsSync(best))
      throw new Error(`${runDir} has no best.safetensors yet (no evaluation has finished)`);
    loadParameters(model, best);
  }
  model.eval();
  return { config, ds, split, model, info };
}
