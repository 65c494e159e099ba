/**
 * A run directory: everything needed to inspect, resume, report or serve a training run. This
 * module owns its file names and formats; everything else reads and writes a run through it.
 *
 *   config.json         the resolved configuration (always validated when read)
 *   run.json            dataset (path, name, checksum), model, cammsr version, backend, status
 *   log.jsonl           one JSON object per epoch (losses by term, validation metrics, seconds,
 *                       learning rate, model diagnostics such as mean modality weights)
 *   best.safetensors    parameters of the best validation epoch
 *   last.safetensors, optimizer.safetensors, state.json   the resumable state
 *   metrics.json        final validation and test metrics of the best checkpoint
 */
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { parseStoredConfig, type RunConfig } from '../config/index.js';
import {
  decodeSafetensors,
  encodeSafetensors,
  loadParameters,
  saveParameters,
  writeFileAtomic,
} from '../engine/io/safetensors.js';
import type { Module } from '../engine/nn/module.js';
import type { Adam } from '../engine/optim/adam.js';
import type { TargetBreakdown } from '../eval/evaluate.js';

export const RUN_FILES = {
  config: 'config.json',
  info: 'run.json',
  log: 'log.jsonl',
  best: 'best.safetensors',
  last: 'last.safetensors',
  optimizer: 'optimizer.safetensors',
  state: 'state.json',
  metrics: 'metrics.json',
} as const;
export type RunFile = keyof typeof RUN_FILES;

/** run.json: where the run comes from. */
export interface RunInfo {
  cammsr: string;
  model: string;
  dataset: { dir: string; name: string; checksum: string };
  backend: string;
  threads: number;
  created: string;
  status: 'running' | 'finished';
}

/** One line of log.jsonl. */
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

/** metrics.json: the outcome of a finished run. */
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
  /** Under the cold-start protocol: warm and cold targets apart (history not masked). */
  targets?: { validation: TargetBreakdown; test: TargetBreakdown };
  parameters: number;
  trainSeconds: number;
  secondsPerEpoch: number;
  dataset: { name: string; checksum: string; users: number; items: number };
}

/** state.json: the counters and random streams a resumed run continues from. */
export interface ResumeState {
  epoch: number;
  bestEpoch: number;
  bestValue: number;
  sinceBest: number;
  trainSeconds: number;
  shuffleRng: number[];
  modelRng: number[] | null;
}

const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n';

export class RunDir {
  /** The directory, resolved to an absolute path. */
  readonly dir: string;

  /** `name` is how errors name the run (the path as the user gave it). */
  constructor(
    readonly name: string,
    dir = name,
  ) {
    this.dir = resolve(dir);
  }

  /** An existing run: fails with a message that says whether the folder or the run is missing. */
  static open(path: string): RunDir {
    if (!existsSync(path)) throw new Error(`run directory ${path} does not exist`);
    if (!statSync(path).isDirectory()) throw new Error(`${path} is a file, not a run directory`);
    const run = new RunDir(path);
    if (!run.has('config')) throw new Error(`${path} is not a cammsr run: config.json is missing`);
    return run;
  }

  path(file: RunFile): string {
    return join(this.dir, RUN_FILES[file]);
  }

  has(file: RunFile): boolean {
    return existsSync(this.path(file));
  }

  ensureDir(): void {
    mkdirSync(this.dir, { recursive: true });
  }

  /** True when the directory does not exist or holds nothing. */
  isEmpty(): boolean {
    return !existsSync(this.dir) || readdirSync(this.dir).length === 0;
  }

  private readJson<T>(file: RunFile): T {
    const path = this.path(file);
    if (!existsSync(path)) throw new Error(`${this.name} has no ${RUN_FILES[file]}`);
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as T;
    } catch (e) {
      throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
    }
  }

  /** The run's configuration, validated by the current schema (options added since take their defaults). */
  readConfig(): RunConfig {
    return parseStoredConfig(this.readJson<unknown>('config'), this.path('config'));
  }

  writeConfig(cfg: RunConfig): void {
    writeFileSync(this.path('config'), json(cfg));
  }

  readInfo(): RunInfo {
    const info = this.readJson<RunInfo>('info');
    if (typeof info?.dataset?.checksum !== 'string' || typeof info.dataset.dir !== 'string')
      throw new Error(`${this.path('info')}: no dataset checksum and folder`);
    return info;
  }

  writeInfo(info: RunInfo): void {
    writeFileSync(this.path('info'), json(info));
  }

  /** Empties log.jsonl (a new run). */
  startLog(): void {
    writeFileSync(this.path('log'), '');
  }

  appendLog(epoch: EpochLog): void {
    appendFileSync(this.path('log'), JSON.stringify(epoch) + '\n');
  }

  /** The epochs logged so far (none when the run has no log yet). */
  readLog(): EpochLog[] {
    const path = this.path('log');
    if (!existsSync(path)) return [];
    return readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l, i) => {
        try {
          return JSON.parse(l) as EpochLog;
        } catch (e) {
          throw new Error(`${path}, line ${i + 1}: not valid JSON (${(e as Error).message})`);
        }
      });
  }

  /** The final metrics, or null while the run has not finished. */
  readMetrics(): RunMetrics | null {
    return this.has('metrics') ? this.readJson<RunMetrics>('metrics') : null;
  }

  writeMetrics(metrics: RunMetrics): void {
    writeFileSync(this.path('metrics'), json(metrics));
  }

  readState(): ResumeState {
    return this.readJson<ResumeState>('state');
  }

  /** Atomic: an interrupted write leaves the previous state. */
  writeState(state: ResumeState): void {
    writeFileAtomic(this.path('state'), Buffer.from(JSON.stringify(state)));
  }

  saveCheckpoint(which: 'best' | 'last', model: Module, metadata: Record<string, string>): void {
    saveParameters(model, this.path(which), metadata);
  }

  /** Loads a checkpoint into the model; returns its metadata. */
  loadCheckpoint(which: 'best' | 'last', model: Module): Record<string, string> {
    return loadParameters(model, this.path(which));
  }

  /** Adam's moments under the parameters' names, and its step count. */
  saveOptimizer(opt: Adam, model: Module): void {
    const tensors: Record<string, { data: Float32Array; shape: readonly number[] }> = {};
    const state = opt.stateDict();
    model.namedParameters().forEach(([name, p], i) => {
      tensors[`m.${name}`] = { data: state.moments[i].m, shape: p.shape };
      tensors[`v.${name}`] = { data: state.moments[i].v, shape: p.shape };
    });
    writeFileAtomic(this.path('optimizer'), encodeSafetensors(tensors, { step: String(state.step) }));
  }

  loadOptimizer(opt: Adam, model: Module): void {
    const path = this.path('optimizer');
    const { tensors, metadata } = decodeSafetensors(readFileSync(path), path);
    const moments = model.namedParameters().map(([name]) => {
      const m = tensors.get(`m.${name}`);
      const v = tensors.get(`v.${name}`);
      if (!m || !v) throw new Error(`${path}: no optimizer state for parameter ${name}`);
      return { m: m.data, v: v.data };
    });
    opt.loadStateDict({ step: Number(metadata.step), moments });
  }
}
