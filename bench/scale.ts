/**
 * `npm run bench:scale`: how a training step's cost grows with the catalog, with the full and
 * the sampled softmax. Each cell (model × items × softmax) runs in its own process, so that its
 * peak RSS is its own: a synthetic catalog of N items (CAMMSR: 128-d text features, 1-3 of 600
 * categories per item), a batch of 256 sequences of 9 items (Amazon Beauty's mean), the
 * model's full loss, backward and Adam, on the native backend when it loads. It prints the
 * median step, the peak RSS, and what an epoch of `--interactions` positions would take at that
 * step time. A cell that would exceed `--max-minutes` is cut short and says so. Other modes:
 * one request over large item tables (serving), one real epoch (scale-epoch.ts), and bundle
 * size and load cost (scale-bundle.ts).
 *
 * `npm run bench:scale -- --help` lists the options.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { resolveConfig } from '../src/config/index.js';
import { StepArena } from '../src/engine/memory.js';
import { Adam } from '../src/engine/optim/adam.js';
import { Rng } from '../src/engine/rng.js';
import { kernels } from '../src/kernels/select.js';
import { trainingBatch } from '../src/models/batch.js';
import type { ModelData } from '../src/models/model.js';
import { formatTable } from '../src/report/table.js';
import { scoreUsersInBlocks } from '../src/models/model.js';
import { Int8TopK, quantizeItems, scoreUsersInt8Blocks } from '../src/serve/int8-items.js';
import { TopK } from '../src/serve/top-k.js';
import { bundleChild, bundleMode } from './scale-bundle.js';
import { epochChild, epochMode } from './scale-epoch.js';
import { createModel } from '../src/train/create-model.js';
import { machine, median, parseArgs, quantile, TRAINING_NODE_FLAGS } from './common.js';

const BATCH = 256;
const LENGTH = 10; // 9 inputs and 9 targets per sequence
const TEXT_DIM = 128;
const CATEGORIES = 600;

interface Cell {
  model: 'sasrec' | 'cammsr';
  items: number;
  softmax: 'full' | 'sampled';
}

interface CellResult extends Cell {
  steps: number;
  medianMs: number;
  peakRssMb: number;
  setupSeconds: number;
  cut: boolean;
}

const args = parseArgs(
  process.argv.slice(2),
  {
    command: 'npm run bench:scale --',
    about:
      'Training-step time and peak RSS against the number of items, full and sampled softmax, SASRec and CAMMSR (synthetic catalogs).',
  },
  {
    items: ['string', 'catalog sizes, comma-separated (default 10000,100000,1000000)'],
    models: ['string', 'subset of sasrec,cammsr (default both)'],
    softmax: ['string', 'subset of full,sampled (default both)'],
    steps: ['number', 'measured steps per cell (default 5)'],
    threads: ['number', 'kernel threads (default 2)'],
    interactions: ['number', 'training positions of the epoch the table estimates (default 10000000)'],
    'max-minutes': ['number', 'time limit per cell, set-up included (default 5)'],
    mode: [
      'string',
      "'training' (default): training steps; 'serving': one request's product with the item table and top 10, at 1 and 2 threads; 'epoch': one real epoch over a generated log of --interactions rows and the first of --items (default 100,000), the first of --models (default sasrec), sampled softmax; 'bundle': bundle size, load time, longest event-loop stall and peak RSS of loading, per model and --items",
    ],
    dims: [
      'string',
      'serving: item-vector widths, comma-separated (default 64,128: SASRec, CAMMSR with ID + text)',
    ],
    requests: ['number', 'serving: requests timed per cell (default 200)'],
    sequences: [
      'string',
      'epoch: where the log stays while training, a subset of memory,disk (default both: one epoch each, on the same prepared log)',
    ],
    json: ['flag', 'one JSON object as the last line'],
    cell: ['string', 'internal: set by this script for its child processes'],
  },
);

const list = (v: unknown, dflt: string) => String(v ?? dflt).split(',');

/** A synthetic catalog's model data: features and categories drawn from a seeded stream. */
function syntheticData(items: number, withContent: boolean): ModelData {
  const rng = new Rng(7);
  const popularity = Float64Array.from({ length: items + 1 }, (_, i) => (i === 0 ? 0 : 1 + rng.int(50)));
  if (!withContent) return { items, popularity, timestamps: false };
  const matrix = new Float32Array((items + 1) * TEXT_DIM);
  for (let i = TEXT_DIM; i < matrix.length; i++) matrix[i] = rng.normal() * 0.1;
  const mask = new Uint8Array(items + 1).fill(1);
  mask[0] = 0;
  const offsets = new Int32Array(items + 2);
  const labels: number[] = [];
  for (let i = 1; i <= items; i++) {
    const n = 1 + rng.int(3);
    for (let c = 0; c < n; c++) labels.push(rng.int(CATEGORIES));
    offsets[i + 1] = labels.length;
  }
  return {
    items,
    popularity,
    timestamps: false,
    text: { dim: TEXT_DIM, matrix, mask },
    categories: { count: CATEGORIES, offsets, labels: Int32Array.from(labels) },
  };
}

/** In the child: set up one cell and time its steps. */
function runCell(cell: Cell, steps: number, maxMinutes: number): CellResult {
  const t0 = performance.now();
  const deadline = t0 + maxMinutes * 60_000;
  kernels().setThreads((args.threads as number | undefined) ?? 2);
  const data = syntheticData(cell.items, cell.model === 'cammsr');
  const cfg = resolveConfig({
    cli: { model: cell.model, seed: 1 },
    overrides: [`train.softmax=${cell.softmax}`],
  });
  const model = createModel(cfg, data);
  model.train();
  const opt = new Adam(model.parameters(), { lr: 1e-3 });
  const rng = new Rng(3);
  const seqs = Array.from({ length: BATCH }, () =>
    Int32Array.from({ length: LENGTH }, () => 1 + rng.int(cell.items)),
  );
  const batch = trainingBatch(seqs, cfg.maxLen);
  const arena = new StepArena();
  const step = () =>
    arena.run(() => {
      const { total } = model.loss(batch);
      total.backward();
      opt.step();
      opt.zeroGrad();
    });
  const setupSeconds = (performance.now() - t0) / 1000;
  const times: number[] = [];
  let cut = false;
  for (let s = 0; s < steps + 1; s++) {
    if (performance.now() > deadline) {
      cut = true;
      break;
    }
    const t = performance.now();
    step();
    if (s > 0) times.push(performance.now() - t); // the first step warms up
  }
  return {
    ...cell,
    steps: times.length,
    medianMs: times.length ? median(times) : NaN,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    setupSeconds,
    cut,
  };
}

/**
 * What serving costs at each catalog size: one user vector against an [N + 1, dim] item table
 * (the product the service runs per request, a block of items at a time, each followed by the
 * top 10 so far), medians and p99 of `requests`; from the float32 table at one and two threads,
 * and from its 8-bit copy (exact too: the items that may be in the top 10 are rescored), whose
 * lists are checked against the float32 ones.
 */
function servingCells(): void {
  const requests = (args.requests as number | undefined) ?? 200;
  const rows: (string | number)[][] = [];
  const results: Record<string, number | string>[] = [];
  const rng = new Rng(5);
  for (const items of list(args.items, '10000,100000,1000000').map(Number))
    for (const dim of list(args.dims, '64,128').map(Number)) {
      const table = Float32Array.from({ length: (items + 1) * dim }, () => rng.normal());
      const scorer = { dim, items: table, users: () => new Float32Array(dim) };
      const int8 = quantizeItems(table, dim);
      const users = Array.from({ length: requests + 5 }, () =>
        Float32Array.from({ length: dim }, () => rng.normal()),
      );
      const none = { has: () => false };
      let buffer: Float32Array | null = null;
      const exact = users.map((user) => {
        const top = new TopK(10, none);
        buffer = scoreUsersInBlocks(scorer, user, 1, buffer, (sc, first, count) =>
          top.scan(sc, 0, first, count),
        );
        return top.ids.join();
      });
      const cells: {
        table: string;
        threads: number;
        answer: (user: Float32Array) => { ids: number[]; rescored: number };
      }[] = [
        ...[1, 2].map((threads) => ({
          table: 'float32',
          threads,
          answer: (user: Float32Array) => {
            const top = new TopK(10, none);
            buffer = scoreUsersInBlocks(scorer, user, 1, buffer, (sc, first, count) =>
              top.scan(sc, 0, first, count),
            );
            return { ids: top.ids, rescored: 0 };
          },
        })),
        {
          table: 'int8',
          threads: 1,
          answer: (user: Float32Array) => {
            const top = new Int8TopK(10, none, user, int8);
            buffer = scoreUsersInt8Blocks(int8, user, 1, buffer, (sc, first, count) =>
              top.scan(sc, 0, first, count),
            );
            const rescored = top.rescored;
            return { ids: top.finish().ids, rescored };
          },
        },
      ];
      for (const c of cells) {
        kernels().setThreads(c.threads);
        const times: number[] = [];
        const rescored: number[] = [];
        let differ = 0;
        users.forEach((user, r) => {
          const t = performance.now();
          const got = c.answer(user);
          if (r < 5) return;
          times.push(performance.now() - t);
          rescored.push(got.rescored);
          if (got.ids.join() !== exact[r]) differ++;
        });
        const bytes = c.table === 'int8' ? int8.codes.length + int8.scales.length * 4 : table.length * 4;
        const cell = {
          items,
          dim,
          table: c.table,
          threads: c.threads,
          p50: median(times),
          p99: quantile(times, 0.99),
          tableMb: bytes / 2 ** 20,
          rescoredMedian: median(rescored),
          differ,
        };
        results.push(cell);
        rows.push([
          items.toLocaleString('en'),
          dim,
          c.table,
          c.threads,
          cell.tableMb.toFixed(0),
          cell.p50.toFixed(2),
          cell.p99.toFixed(2),
          c.table === 'int8' ? String(cell.rescoredMedian) : '',
          differ,
        ]);
      }
    }
  console.log(
    `serving: one user vector against the item table, then the top 10; ${kernels().name} kernels; ${requests} requests per cell`,
  );
  const headers = [
    'items',
    'dim',
    'table',
    'threads',
    'table MB',
    'p50 ms',
    'p99 ms',
    'rescored (median)',
    'lists ≠ float32',
  ];
  console.log(formatTable(headers, rows));
  if (args.json) console.log(JSON.stringify({ machine: machine(), mode: 'serving', results }));
}

async function main(): Promise<void> {
  if (args.mode === 'serving') return servingCells();
  if (args.mode === 'epoch') {
    if (args.cell) return void console.log(JSON.stringify(epochChild(JSON.parse(String(args.cell)))));
    return epochMode({
      interactions: (args.interactions as number | undefined) ?? 10_000_000,
      items: Number(list(args.items, '100000')[0]),
      model: list(args.models, 'sasrec')[0] as 'sasrec' | 'cammsr',
      threads: (args.threads as number | undefined) ?? 2,
      sequences: list(args.sequences, 'memory,disk') as ('memory' | 'disk')[],
      json: Boolean(args.json),
      script: fileURLToPath(import.meta.url),
    });
  }
  if (args.mode === 'bundle') {
    if (args.cell) return void console.log(JSON.stringify(await bundleChild(JSON.parse(String(args.cell)))));
    return bundleMode({
      models: list(args.models, 'sasrec,cammsr') as ('sasrec' | 'cammsr')[],
      items: list(args.items, '10000,100000,1000000').map(Number),
      json: Boolean(args.json),
      script: fileURLToPath(import.meta.url),
    });
  }
  if (args.mode !== undefined && args.mode !== 'training')
    throw new Error(`--mode must be training, serving, epoch or bundle, got ${String(args.mode)}`);
  const steps = (args.steps as number | undefined) ?? 5;
  const maxMinutes = (args['max-minutes'] as number | undefined) ?? 5;
  if (args.cell) {
    console.log(JSON.stringify(runCell(JSON.parse(String(args.cell)) as Cell, steps, maxMinutes)));
    return;
  }
  const interactions = (args.interactions as number | undefined) ?? 10_000_000;
  const self = fileURLToPath(import.meta.url);
  const results: CellResult[] = [];
  for (const model of list(args.models, 'sasrec,cammsr') as Cell['model'][])
    for (const items of list(args.items, '10000,100000,1000000').map(Number))
      for (const softmax of list(args.softmax, 'full,sampled') as Cell['softmax'][]) {
        const cell: Cell = { model, items, softmax };
        process.stderr.write(`${model}, ${items} items, ${softmax} softmax ...\n`);
        try {
          const out = execFileSync(
            process.execPath,
            [
              ...TRAINING_NODE_FLAGS,
              self,
              '--cell',
              JSON.stringify(cell),
              '--steps',
              String(steps),
              '--max-minutes',
              String(maxMinutes),
              '--threads',
              String(args.threads ?? 2),
            ],
            { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: (maxMinutes + 1) * 60_000 },
          );
          results.push(JSON.parse(out.trim().split('\n').pop()!));
        } catch (e) {
          process.stderr.write(`  failed: ${(e as Error).message.split('\n')[0]}\n`);
          results.push({ ...cell, steps: 0, medianMs: NaN, peakRssMb: NaN, setupSeconds: NaN, cut: true });
        }
      }
  const positions = BATCH * (LENGTH - 1);
  const epochMinutes = (r: CellResult) => ((interactions / positions) * (r.medianMs / 1000)) / 60;
  const fmt = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  console.log(
    `batch: ${BATCH} sequences × ${LENGTH - 1} positions; ${kernels().name} kernels, ${args.threads ?? 2} threads; epoch estimate: ${interactions.toLocaleString('en')} positions at the median step`,
  );
  console.log(
    formatTable(
      ['model', 'items', 'softmax', 'steps', 'ms / step', 'peak RSS MB', 'set-up s', 'epoch estimate (min)'],
      results.map((r) => [
        r.model,
        r.items.toLocaleString('en'),
        r.softmax,
        r.cut ? `${r.steps} (cut)` : String(r.steps),
        fmt(r.medianMs),
        fmt(r.peakRssMb, 0),
        fmt(r.setupSeconds),
        fmt(epochMinutes(r)),
      ]),
    ),
  );
  if (args.json) console.log(JSON.stringify({ machine: machine(), interactions, results }));
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
