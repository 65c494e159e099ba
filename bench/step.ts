/**
 * `npm run bench:step`: median milliseconds and peak RSS of one SASRec training step
 * (forward, backward, Adam) on each kernel backend, in a fresh process per backend so that
 * peak RSS is that backend's own. The batch is Amazon-Beauty-shaped: 256 sequences padded to
 * 50, about 9 valid positions each, 12,101 items, full-softmax cross-entropy at every
 * non-padding position, d 64, 2 layers, 2 heads, FFN 256, dropout 0.5.
 *   --threads N        threads (native backend and PyTorch; default: all cores)
 *   --steps S --warmup W
 *   --backends a,b     subset of native,wasm,js (default: native,wasm)
 *   --compare-torch    run the same step in PyTorch (bench/pytorch/sasrec_step.py) on the
 *                      same batch file and print the ratio
 *   --json             one JSON object as the last line
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatTable } from '../src/cli/table.js';
import type { BackendName } from '../src/kernels/kernels.js';
import { useBackend } from '../src/kernels/select.js';
import { Adam } from '../src/engine/optim/adam.js';
import { Rng } from '../src/engine/rng.js';
import { Sasrec, type SequenceBatch } from '../src/models/sasrec.js';
import { trainingBatch } from '../src/train/batch.js';
import { machine, median, parseArgs, quantile, runTorch } from './common.js';

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
}

/** 256 random sequences with geometric lengths (mean about 9, as in Amazon Beauty), capped at 50. */
function makeBatchFile(seed: number): BatchFile {
  const rng = new Rng(seed);
  const items = 12101;
  const maxLen = 50;
  const sequences: number[][] = [];
  const targets: number[][] = [];
  for (let b = 0; b < 256; b++) {
    let n = 1;
    while (rng.uniform() > 1 / 9 && n < maxLen) n++;
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
  };
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
): StepResult {
  const k = useBackend(backend);
  k.setThreads(threads);
  const f = JSON.parse(readFileSync(file, 'utf8')) as BatchFile;
  const batch = toBatch(f);
  const model = new Sasrec({
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
  const times: number[] = [];
  const losses: number[] = [];
  for (let s = 0; s < warmup + steps; s++) {
    const t0 = performance.now();
    opt.zeroGrad();
    const loss = model.loss(batch).total;
    loss.backward();
    opt.step();
    const dt = performance.now() - t0;
    losses.push(loss.item());
    if (s >= warmup) times.push(dt);
  }
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
  };
}

const args = parseArgs(process.argv.slice(2), {
  threads: 'number',
  steps: 'number',
  warmup: 'number',
  backends: 'string',
  'compare-torch': 'flag',
  json: 'flag',
  child: 'string',
  'batch-file': 'string',
});
const threads = (args.threads as number | undefined) ?? os.availableParallelism();
const steps = (args.steps as number | undefined) ?? 20;
const warmup = (args.warmup as number | undefined) ?? 3;

if (args.child) {
  console.log(
    JSON.stringify(child(args.child as BackendName, args['batch-file'] as string, threads, warmup, steps)),
  );
} else {
  const dir = mkdtempSync(join(os.tmpdir(), 'cammsr-step-'));
  const file = join(dir, 'batch.json');
  writeFileSync(file, JSON.stringify(makeBatchFile(1)));
  const self = fileURLToPath(import.meta.url);
  const results: StepResult[] = [];
  for (const b of ((args.backends as string | undefined) ?? 'native,wasm').split(',') as BackendName[]) {
    const childArgs = ['--child', b, '--batch-file', file, '--threads', String(b === 'native' ? threads : 1)];
    const out = execFileSync(
      process.execPath,
      [self, ...childArgs, '--steps', String(steps), '--warmup', String(warmup)],
      {
        encoding: 'utf8',
      },
    );
    const lines = out.trim().split('\n');
    results.push(JSON.parse(lines[lines.length - 1]));
  }
  let torch: { ok: boolean; result?: Record<string, unknown>; reason?: string } | undefined;
  if (args['compare-torch']) {
    const r = runTorch('bench/pytorch/sasrec_step.py', [
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
  console.log(
    `SASRec training step: batch 256 x length 50, ${results[0]?.rows} target positions, 12101 items, d 64, 2 layers`,
  );
  console.log(
    formatTable(
      ['engine', 'threads', 'median ms', 'p10 ms', 'p90 ms', 'peak RSS MB', 'time ratio', 'RSS ratio'],
      table,
    ),
  );
  if (torch && !torch.ok) console.log(`PyTorch comparison unavailable: ${torch.reason}`);
  if (args.json)
    console.log(JSON.stringify({ bench: 'step', machine: machine(), steps, warmup, results, torch }));
}
