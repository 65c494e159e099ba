/**
 * `npm run bench:step`: median milliseconds and peak RSS of one training step (forward,
 * backward, Adam) on each kernel backend, in a fresh process per backend so that peak RSS is
 * that backend's own. The batch is Amazon-Beauty-shaped: 256 sequences padded to 50, about 9
 * valid positions each, 12,101 items, full-softmax cross-entropy at every non-padding
 * position, d 64, 2 layers, 2 heads, FFN 256, dropout 0.5.
 *
 * `npm run bench:step -- --help` lists the options.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatTable } from '../src/report/table.js';
import type { BackendName, Kernels } from '../src/kernels/kernels.js';
import { useBackend } from '../src/kernels/select.js';
import { Adam } from '../src/engine/optim/adam.js';
import { StepArena } from '../src/engine/memory.js';
import { Rng } from '../src/engine/rng.js';
import { Cammsr, type CammsrConfig } from '../src/models/cammsr.js';
import { resolveConfig, type Modality } from '../src/config/index.js';
import { cammsrConfig } from '../src/train/create-model.js';
import type { ItemFeatures, ModelData, SequentialRecommender } from '../src/models/model.js';
import { Sasrec, type SequenceBatch } from '../src/models/sasrec.js';
import { trainingBatch } from '../src/models/batch.js';
import { machine, median, parseArgs, quantile, runTorch, TRAINING_NODE_FLAGS } from './common.js';

type ModelName = 'sasrec' | 'cammsr';

/** A content modality's frozen features: float32 little-endian [items + 1, dim] in `file`. */
interface FeatureSpec {
  /** File name, relative to the batch file's directory. */
  file: string;
  dim: number;
  /** Items without this modality (zero feature row, mask 0). */
  missing: number[];
}

/** The CAMMSR hyper-parameters both engines read from the batch file. */
type CammsrFileConfig = Pick<
  CammsrConfig,
  | 'dim'
  | 'layers'
  | 'heads'
  | 'ffnDim'
  | 'hiddenDropout'
  | 'attnDropout'
  | 'initStd'
  | 'layerNormEps'
  | 'experts'
  | 'gateTemperature'
  | 'weighting'
  | 'categoryHead'
  | 'weightScale'
  | 'viewNorm'
  | 'viewLoss'
  | 'detachWeights'
  | 'weightTemperature'
  | 'synergy'
  | 'camoe'
  | 'beta'
  | 'lambda'
  | 'msclTau'
  | 'msclRatio'
  | 'msclPairs'
  | 'inputNorm'
  | 'encoderNorm'
  | 'dytAlpha'
  | 'time'
>;

interface BatchFile {
  items: number;
  maxLen: number;
  d: number;
  layers: number;
  heads: number;
  ffn: number;
  dropout: number;
  lr: number;
  seed: number;
  sequences: number[][];
  targets: number[][];
  /** PyTorch pads to the longest sequence instead of maxLen (bucketed batches). */
  trim: boolean;
  /** CAMMSR only (absent for SASRec): what the model needs besides the sequences. */
  model?: ModelName;
  modalities?: Modality[];
  features?: Partial<Record<'text' | 'image', FeatureSpec>>;
  categories?: { count: number; offsets: number[]; labels: number[] };
  config?: CammsrFileConfig;
}

interface StepResult {
  backend: string;
  threads: number;
  median_ms: number;
  p10_ms: number;
  p90_ms: number;
  peak_rss_mb: number;
  rows: number;
  loss_first: number;
  loss_last: number;
  /** Loss terms of the first step (CAMMSR: sr, cp, mscl, total). */
  terms_first?: Record<string, number>;
  /** With --gemm-time: the GEMM calls' milliseconds in the median step, and their GFLOP/s. */
  gemm_ms?: number;
  gemm_gflops?: number;
  /** With --kernel-time: every kernel's calls and milliseconds per measured step (mean), most first. */
  kernels?: { kernel: string; calls: number; ms: number }[];
}

/** Wraps every kernel of the backend to add each call's time to `into` while `on()` (--kernel-time). */
function timeKernels(k: Kernels, into: Map<string, { calls: number; ms: number }>, on: () => boolean): void {
  const skip = new Set(['name', 'threads', 'setThreads', 'describe']);
  const table = k as unknown as Record<string, unknown>;
  for (const [name, f] of Object.entries(table)) {
    if (skip.has(name) || typeof f !== 'function') continue;
    const kernel = f as (...a: unknown[]) => unknown;
    table[name] = (...a: unknown[]) => {
      if (!on()) return kernel(...a);
      const t0 = performance.now();
      const r = kernel(...a);
      const e = into.get(name) ?? { calls: 0, ms: 0 };
      e.ms += performance.now() - t0;
      e.calls++;
      into.set(name, e);
      return r;
    };
  }
}

/** Wraps the backend's GEMMs to add each call's time and FLOPs to `into` (--gemm-time). */
function timeGemms(k: Kernels, into: { ms: number; flops: number }): void {
  const { sgemm, sgemmStridedBatched } = k;
  k.sgemm = (...a: Parameters<Kernels['sgemm']>) => {
    const t0 = performance.now();
    sgemm(...a);
    into.ms += performance.now() - t0;
    into.flops += 2 * a[2] * a[3] * a[4];
  };
  k.sgemmStridedBatched = (...a: Parameters<Kernels['sgemmStridedBatched']>) => {
    const t0 = performance.now();
    sgemmStridedBatched(...a);
    into.ms += performance.now() - t0;
    into.flops += 2 * a[2] * a[3] * a[4] * a[16];
  };
}

/**
 * 256 random sequences with geometric lengths (mean about 9, as in Amazon Beauty), capped at 50.
 * `bucketed`: all 256 of length 9, as in one bucket of a length-bucketed epoch, and PyTorch pads
 * only to the longest sequence (trim): its best case, no padding computed at all.
 */
function makeBatchFile(seed: number, bucketed: boolean): BatchFile {
  const rng = new Rng(seed);
  const items = 12101;
  const maxLen = 50;
  const sequences: number[][] = [];
  const targets: number[][] = [];
  for (let b = 0; b < 256; b++) {
    let n = bucketed ? 9 : 1;
    while (!bucketed && rng.uniform() > 1 / 9 && n < maxLen) n++;
    const full = Array.from({ length: n + 1 }, () => 1 + rng.int(items));
    sequences.push(full.slice(0, -1));
    targets.push(full.slice(1));
  }
  return {
    items,
    maxLen,
    d: 64,
    layers: 2,
    heads: 2,
    ffn: 256,
    dropout: 0.5,
    lr: 1e-3,
    seed,
    sequences,
    targets,
    trim: bucketed,
  };
}

/** Seeded N(0, 1) rows scaled to unit norm; `missing` items get a zero row. */
function unitRows(
  rng: Rng,
  items: number,
  dim: number,
  missingRate: number,
): { x: Float32Array; missing: number[] } {
  const x = new Float32Array((items + 1) * dim);
  const missing: number[] = [];
  for (let i = 1; i <= items; i++) {
    if (rng.uniform() < missingRate) {
      missing.push(i);
      continue;
    }
    let ss = 0;
    for (let j = 0; j < dim; j++) {
      const v = rng.normal();
      x[i * dim + j] = v;
      ss += v * v;
    }
    const inv = 1 / Math.sqrt(ss);
    for (let j = 0; j < dim; j++) x[i * dim + j] *= inv;
  }
  return { x, missing };
}

/**
 * Adds CAMMSR's item data to a batch file, Amazon-Beauty-like: 128-d text features (about
 * 1% of items without text), optionally 176-d image features (about 3% without), 637
 * categories with 1-4 labels per item, no timestamps. Feature matrices go to binary files
 * beside the batch file (float32 little-endian), so both engines read identical inputs.
 */
function addCammsrData(f: BatchFile, dir: string, image: boolean, seed: number): BatchFile {
  const items = f.items;
  const features: Partial<Record<'text' | 'image', FeatureSpec>> = {};
  const text = unitRows(new Rng(seed * 1000 + 1), items, 128, 0.01);
  writeFileSync(join(dir, 'text.f32'), new Uint8Array(text.x.buffer));
  features.text = { file: 'text.f32', dim: 128, missing: text.missing };
  if (image) {
    const img = unitRows(new Rng(seed * 1000 + 2), items, 176, 0.03);
    writeFileSync(join(dir, 'image.f32'), new Uint8Array(img.x.buffer));
    features.image = { file: 'image.f32', dim: 176, missing: img.missing };
  }
  const C = 637;
  const rng = new Rng(seed * 1000 + 3);
  const offsets = [0, 0];
  const labels: number[] = [];
  for (let i = 1; i <= items; i++) {
    const n = 1 + rng.int(4);
    const mine = new Set<number>();
    while (mine.size < n) mine.add(rng.int(C));
    labels.push(...[...mine].sort((a, b) => a - b));
    offsets.push(labels.length);
  }
  const d = cammsrConfig(resolveConfig(), { items: 1, timestamps: false });
  const config: CammsrFileConfig = {
    dim: f.d,
    layers: f.layers,
    heads: f.heads,
    ffnDim: f.ffn,
    hiddenDropout: f.dropout,
    attnDropout: f.dropout,
    initStd: d.initStd,
    layerNormEps: d.layerNormEps,
    experts: d.experts,
    gateTemperature: d.gateTemperature,
    weighting: d.weighting,
    categoryHead: d.categoryHead,
    weightScale: d.weightScale,
    viewNorm: d.viewNorm,
    viewLoss: d.viewLoss,
    detachWeights: d.detachWeights,
    weightTemperature: d.weightTemperature,
    synergy: d.synergy,
    camoe: d.camoe,
    beta: d.beta,
    lambda: d.lambda,
    msclTau: d.msclTau,
    msclRatio: d.msclRatio,
    msclPairs: d.msclPairs,
    inputNorm: d.inputNorm,
    encoderNorm: d.encoderNorm,
    dytAlpha: d.dytAlpha,
    time: false,
  };
  return {
    ...f,
    model: 'cammsr',
    modalities: image ? ['id', 'text', 'image'] : ['id', 'text'],
    features,
    categories: { count: C, offsets, labels },
    config,
  };
}

/** ModelData from a CAMMSR batch file and its feature files. */
function cammsrData(f: BatchFile, file: string): ModelData {
  const data: ModelData = { items: f.items, timestamps: false };
  for (const m of ['text', 'image'] as const) {
    const spec = f.features?.[m];
    if (!spec) continue;
    const buf = readFileSync(join(dirname(file), spec.file));
    const matrix = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
    if (matrix.length !== (f.items + 1) * spec.dim)
      throw new Error(`${spec.file}: ${matrix.length} floats, expected ${(f.items + 1) * spec.dim}`);
    const mask = new Uint8Array(f.items + 1).fill(1);
    mask[0] = 0;
    for (const i of spec.missing) mask[i] = 0;
    data[m] = { matrix, dim: spec.dim, mask } satisfies ItemFeatures;
  }
  const c = f.categories!;
  data.categories = {
    count: c.count,
    offsets: Int32Array.from(c.offsets),
    labels: Int32Array.from(c.labels),
  };
  return data;
}

/** The PyTorch script pads each sequence to maxLen; we pack the same sequences (same math at valid positions). */
function toBatch(f: BatchFile): SequenceBatch {
  const seqs = f.sequences.map((s, b) => Int32Array.from([...s, f.targets[b][s.length - 1]]));
  return trainingBatch(seqs, f.maxLen);
}

function child(
  backend: BackendName,
  file: string,
  threads: number,
  warmup: number,
  steps: number,
  gemmTime: boolean,
  kernelTime: boolean,
): StepResult {
  const k = useBackend(backend);
  k.setThreads(threads);
  const gemm = { ms: 0, flops: 0 };
  if (gemmTime) timeGemms(k, gemm);
  const perKernel = new Map<string, { calls: number; ms: number }>();
  let measuring = false;
  if (kernelTime) timeKernels(k, perKernel, () => measuring);
  const gemmSteps: { ms: number; flops: number }[] = [];
  const f = JSON.parse(readFileSync(file, 'utf8')) as BatchFile;
  const batch = toBatch(f);
  const model: SequentialRecommender =
    f.model === 'cammsr'
      ? new Cammsr(
          {
            ...cammsrConfig(resolveConfig(), cammsrData(f, file)),
            ...f.config!,
            maxLen: f.maxLen,
            seed: f.seed,
            modalities: f.modalities!,
          },
          cammsrData(f, file),
        )
      : new Sasrec({
          items: f.items,
          maxLen: f.maxLen,
          dim: f.d,
          layers: f.layers,
          heads: f.heads,
          ffnDim: f.ffn,
          hiddenDropout: f.dropout,
          attnDropout: f.dropout,
          seed: f.seed,
        });
  const opt = new Adam(model.parameters(), { lr: f.lr });
  // As the trainer runs a step: its buffers in a step arena.
  const arena = new StepArena();
  const times: number[] = [];
  const losses: number[] = [];
  let termsFirst: Record<string, number> | undefined;
  for (let s = 0; s < warmup + steps; s++) {
    gemm.ms = gemm.flops = 0;
    measuring = s >= warmup;
    const t0 = performance.now();
    const { loss, terms } = arena.run(() => {
      const result = model.loss(batch);
      result.total.backward();
      opt.step();
      opt.zeroGrad();
      return { loss: result.total.item(), terms: result.terms };
    });
    const dt = performance.now() - t0;
    losses.push(loss);
    termsFirst ??= terms;
    if (s >= warmup) {
      times.push(dt);
      gemmSteps.push({ ...gemm });
    }
  }
  // The GEMM share of the step nearest the median (not a median of shares: one step's figures).
  const m = median(times);
  const mid =
    gemmSteps[times.reduce((best, t, i) => (Math.abs(t - m) < Math.abs(times[best] - m) ? i : best), 0)];
  return {
    backend,
    threads: k.threads(),
    median_ms: median(times),
    p10_ms: quantile(times, 0.1),
    p90_ms: quantile(times, 0.9),
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    rows: batch.targets.filter((t) => t > 0).length,
    loss_first: losses[0],
    loss_last: losses[losses.length - 1],
    ...(f.model === 'cammsr' ? { terms_first: termsFirst } : {}),
    ...(gemmTime ? { gemm_ms: mid.ms, gemm_gflops: mid.flops / mid.ms / 1e6 } : {}),
    ...(kernelTime
      ? {
          kernels: [...perKernel]
            .map(([kernel, e]) => ({ kernel, calls: e.calls / steps, ms: e.ms / steps }))
            .sort((a, b) => b.ms - a.ms),
        }
      : {}),
  };
}

const args = parseArgs(
  process.argv.slice(2),
  {
    command: 'npm run bench:step --',
    about:
      'Median milliseconds and peak RSS of one training step (forward, backward, Adam) on each kernel backend, on an Amazon-Beauty-shaped batch.',
  },
  {
    threads: ['number', 'threads (native backend and PyTorch; default: all cores)'],
    steps: ['number', 'measured steps (default 20)'],
    warmup: ['number', 'unmeasured steps run first (default 3)'],
    backends: ['string', 'subset of native,wasm,js (default: native,wasm)'],
    'compare-torch': [
      'flag',
      'run the same step in PyTorch (bench/pytorch/sasrec_step.py or cammsr_step.py) on the same batch file and print the ratio',
    ],
    json: ['flag', 'one JSON object as the last line'],
    'gemm-time': [
      'flag',
      "time every GEMM call (sgemm, sgemmStridedBatched) and print their share of the median step and their GFLOP/s: what a step's other work costs",
    ],
    'kernel-time': [
      'flag',
      "time every kernel call and print each kernel's calls and milliseconds per step (the mean over the measured steps); the rest of the median step is JavaScript: dispatch, autograd, copies and allocation",
    ],
    model: [
      'string',
      "sasrec (default) or cammsr with the spec's defaults in Beauty's configuration: ID + text (128-d random unit-norm features, about 1% of items without text), 637 categories with 1-4 labels per item, no timestamps; L = L_SR + 1.0·L_CP + 0.1·L_MSCL (id<->text)",
    ],
    image: ['flag', 'CAMMSR only: add 176-d image features (ID + text + image; MSCL swaps text<->image)'],
    bucketed: [
      'flag',
      "every sequence of length 9 (one bucket of a length-bucketed epoch) and PyTorch pads only to the batch's longest sequence: PyTorch's best case",
    ],
    child: ['string', 'internal: set by this script for its child processes'],
    'batch-file': ['string', 'internal: set by this script for its child processes'],
  },
);
const threads = (args.threads as number | undefined) ?? os.availableParallelism();
const steps = (args.steps as number | undefined) ?? 20;
const warmup = (args.warmup as number | undefined) ?? 3;
const model = ((args.model as string | undefined) ?? 'sasrec') as ModelName;
if (model !== 'sasrec' && model !== 'cammsr')
  throw new Error(`--model must be sasrec or cammsr, got "${model}"`);
if (args.image && model !== 'cammsr') throw new Error('--image needs --model cammsr');

if (args.child) {
  console.log(
    JSON.stringify(
      child(
        args.child as BackendName,
        args['batch-file'] as string,
        threads,
        warmup,
        steps,
        Boolean(args['gemm-time']),
        Boolean(args['kernel-time']),
      ),
    ),
  );
} else {
  const dir = mkdtempSync(join(os.tmpdir(), 'cammsr-step-'));
  const file = join(dir, 'batch.json');
  const bucketed = Boolean(args.bucketed);
  const base = makeBatchFile(1, bucketed);
  const batchFile = model === 'cammsr' ? addCammsrData(base, dir, Boolean(args.image), 1) : base;
  writeFileSync(file, JSON.stringify(batchFile));
  const self = fileURLToPath(import.meta.url);
  const results: StepResult[] = [];
  for (const b of ((args.backends as string | undefined) ?? 'native,wasm').split(',') as BackendName[]) {
    const childArgs = ['--child', b, '--batch-file', file, '--threads', String(b === 'native' ? threads : 1)];
    if (args['gemm-time']) childArgs.push('--gemm-time');
    if (args['kernel-time']) childArgs.push('--kernel-time');
    const out = execFileSync(
      process.execPath,
      [...TRAINING_NODE_FLAGS, self, ...childArgs, '--steps', String(steps), '--warmup', String(warmup)],
      {
        encoding: 'utf8',
      },
    );
    const lines = out.trim().split('\n');
    results.push(JSON.parse(lines[lines.length - 1]));
  }
  let torch: { ok: boolean; result?: Record<string, unknown>; reason?: string } | undefined;
  if (args['compare-torch']) {
    const r = runTorch(`bench/pytorch/${model}_step.py`, [
      '--batch-file',
      file,
      '--threads',
      String(threads),
      '--warmup',
      String(warmup),
      '--steps',
      String(steps),
    ]);
    torch = r.ok ? { ok: true, result: r.result } : { ok: false, reason: r.reason };
  }
  rmSync(dir, { recursive: true, force: true });
  const torchMs = torch?.ok ? (torch.result!.median_ms as number) : undefined;
  const torchRss = torch?.ok ? (torch.result!.peak_rss_mb as number) : undefined;
  const table = results.map((r) => [
    r.backend,
    r.threads,
    r.median_ms,
    r.p10_ms,
    r.p90_ms,
    r.peak_rss_mb,
    torchMs ? r.median_ms / torchMs : '-',
    torchRss ? r.peak_rss_mb / torchRss : '-',
  ]);
  if (torch?.ok) {
    const t = torch.result!;
    table.push([
      'pytorch',
      t.threads as number,
      t.median_ms as number,
      t.p10_ms as number,
      t.p90_ms as number,
      t.peak_rss_mb as number,
      1,
      1,
    ]);
  }
  const shape = bucketed
    ? '256 x length 9 (one length bucket; PyTorch pads only to the longest)'
    : '256 x length up to 50 (PyTorch pads to 50)';
  if (model === 'cammsr') {
    const mods = batchFile.modalities!;
    const feats = mods
      .filter((m) => m !== 'id')
      .map((m) => `${m} ${batchFile.features![m as 'text' | 'image']!.dim}-d`)
      .join(', ');
    console.log(
      `CAMMSR training step (${mods.join('+')}): batch ${shape}, ${results[0]?.rows} target positions, ` +
        `12101 items, ${feats}, ${batchFile.categories!.count} categories, d 64, K ${batchFile.config!.experts}, ` +
        `${mods.length} encoders x 2 layers, L_SR + 1.0 L_CP + 0.1 L_MSCL`,
    );
  } else {
    console.log(
      `SASRec training step: batch ${shape}, ${results[0]?.rows} target positions, 12101 items, d 64, 2 layers`,
    );
  }
  console.log(
    formatTable(
      ['engine', 'threads', 'median ms', 'p10 ms', 'p90 ms', 'peak RSS MB', 'time ratio', 'RSS ratio'],
      table,
    ),
  );
  if (torch && !torch.ok) console.log(`PyTorch comparison unavailable: ${torch.reason}`);
  for (const r of results)
    if (r.gemm_ms !== undefined)
      console.log(
        `GEMMs of the median step, ${r.backend}: ${r.gemm_ms.toFixed(1)} of ${r.median_ms.toFixed(1)} ms ` +
          `(${((100 * r.gemm_ms) / r.median_ms).toFixed(0)}%), ${r.gemm_gflops!.toFixed(0)} GFLOP/s; ` +
          `everything else ${(r.median_ms - r.gemm_ms).toFixed(1)} ms`,
      );
  for (const r of results) {
    if (!r.kernels) continue;
    const total = r.kernels.reduce((t, e) => t + e.ms, 0);
    console.log(`Kernels per step, ${r.backend} (mean of ${steps} steps; timing each call adds a little):`);
    console.log(
      formatTable(
        ['kernel', 'calls', 'ms', '% of median step'],
        [
          ...r.kernels.map((e) => [e.kernel, e.calls, e.ms, (100 * e.ms) / r.median_ms]),
          [
            'everything else (JavaScript)',
            '-',
            r.median_ms - total,
            (100 * (r.median_ms - total)) / r.median_ms,
          ],
        ],
      ),
    );
  }
  if (model === 'cammsr') {
    const fmt = (t: Record<string, number> | undefined) =>
      t
        ? Object.entries(t)
            .map(([k, v]) => `${k} ${v.toFixed(4)}`)
            .join(', ')
        : '-';
    for (const r of results) console.log(`first-step loss, ${r.backend}: ${fmt(r.terms_first)}`);
    if (torch?.ok) {
      const t = torch.result!;
      console.log(
        `first-step loss, pytorch: ${fmt(t.terms_first as Record<string, number>)}, total ${t.loss_first}`,
      );
      console.log(
        `cammsr packs the ${results[0]?.rows} valid positions; PyTorch pads to ${t.padded_positions} and masks ` +
          '(the math at valid positions is the same); cammsr also runs L_SR as one fused, chunked ' +
          'linear + cross-entropy where PyTorch materialises the logits.',
      );
    }
  }
  if (args.json)
    console.log(
      JSON.stringify({ bench: 'step', model, bucketed, machine: machine(), steps, warmup, results, torch }),
    );
}
