/**
 * bench:scale --mode epoch: one real training epoch over a generated log (not an estimate from
 * the step time). The parent generates a `user_id,item_id,timestamp` CSV (Zipf users and items,
 * bench/data-gen.ts) and prepares it through DuckDB as a user would (`cammsr prepare csv`, 5-core);
 * for CAMMSR also an items file (generated titles and categories: TF-IDF text features and category
 * guidance to read); a child process then loads the prepared dataset, splits it and trains one
 * epoch with the sampled softmax, without evaluating (full ranking of every user is another cost:
 * docs/performance.md), so that its peak RSS is training's own: once with the log read into
 * memory and once with it left on disk (train.sequences), on the same prepared log.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../src/config/index.js';
import { prepareDataset } from '../src/data/prepare.js';
import { kernels } from '../src/kernels/select.js';
import { formatTable } from '../src/report/table.js';
import { trainOneEpoch } from '../src/train/trainer.js';
import { generateInteractionsCsv, generateItemsCsv } from './data-gen.js';
import { machine, TRAINING_NODE_FLAGS } from './common.js';

interface EpochCell {
  data: string;
  model: 'sasrec' | 'cammsr';
  threads: number;
  sequences: 'memory' | 'disk';
}

interface EpochResult {
  users: number;
  items: number;
  positions: number;
  setupSeconds: number;
  epochSeconds: number;
  /** RSS after the first step: the dataset, its split, the model, Adam's state and one step's buffers. */
  setupRssMb: number;
  peakRssMb: number;
}

/** The child: one epoch on the prepared dataset. */
export function epochChild(cell: EpochCell): EpochResult {
  kernels().setThreads(cell.threads);
  const config = resolveConfig({
    cli: { model: cell.model, seed: 1 },
    overrides: ['train.softmax=sampled', 'train.epochs=1', `train.sequences=${cell.sequences}`],
  });
  const t0 = performance.now();
  let started = 0;
  let setupRss = 0;
  const r = trainOneEpoch(cell.data, config, {
    batch: ({ done, total }) => {
      if (done === 1) {
        started = performance.now();
        setupRss = process.memoryUsage().rss;
      }
      if (done % 200 === 0 || done === total) process.stderr.write(`  step ${done} of ${total}\n`);
    },
  });
  return {
    users: r.users,
    items: r.items,
    positions: r.positions,
    setupSeconds: (started - t0) / 1000,
    epochSeconds: r.log.seconds,
    setupRssMb: setupRss / 2 ** 20,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  };
}

/** The parent: generate, prepare, train one epoch in a child, print a table (and JSON). */
export async function epochMode(o: {
  interactions: number;
  items: number;
  model: 'sasrec' | 'cammsr';
  threads: number;
  sequences: ('memory' | 'disk')[];
  json: boolean;
  script: string;
}): Promise<void> {
  for (const s of o.sequences)
    if (s !== 'memory' && s !== 'disk') throw new Error(`--sequences takes memory and/or disk, got "${s}"`);
  const dir = mkdtempSync(join(os.tmpdir(), 'cammsr-epoch-'));
  try {
    const csv = join(dir, 'log.csv');
    let t = performance.now();
    await generateInteractionsCsv(csv, o.interactions, {
      users: Math.max(1, Math.round(o.interactions / 20)),
      items: o.items,
      seed: 1,
    });
    const content = o.model === 'cammsr';
    const itemsCsv = join(dir, 'items.csv');
    if (content) await generateItemsCsv(itemsCsv, o.items, { seed: 1 });
    const generateSeconds = (performance.now() - t) / 1000;
    const data = join(dir, 'data');
    t = performance.now();
    const prepared = await prepareDataset({
      format: 'csv',
      input: csv,
      out: data,
      text: content ? 'tfidf' : 'none',
      image: 'none',
      kcore: { user: 5, item: 5 },
      ...(content ? { csv: { items: itemsCsv } } : {}),
    });
    const prepareSeconds = (performance.now() - t) / 1000;
    process.stderr.write(`prepared in ${prepareSeconds.toFixed(1)} s; training one epoch ...\n`);
    const results = o.sequences.map((sequences) => {
      process.stderr.write(`one epoch with the log in ${sequences} ...\n`);
      const cell: EpochCell = { data, model: o.model, threads: o.threads, sequences };
      const out = execFileSync(
        process.execPath,
        [...TRAINING_NODE_FLAGS, o.script, '--mode', 'epoch', '--cell', JSON.stringify(cell)],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
      );
      return { sequences, ...(JSON.parse(out.trim().split('\n').pop()!) as EpochResult) };
    });
    const interactions = prepared.stats.interactions;
    console.log(
      `one epoch, ${o.model}, sampled softmax, ${o.threads} threads (${kernels().name} kernels); the log generated with ${o.interactions.toLocaleString('en')} rows, 5-core, prepared in ${prepareSeconds.toFixed(1)} s`,
    );
    console.log(
      formatTable(
        [
          'log in',
          'interactions',
          'users',
          'items',
          'target positions',
          'epoch s',
          'epoch min',
          'load + split s',
          'RSS after step 1 MB',
          'peak RSS MB',
        ],
        results.map((r) => [
          r.sequences,
          interactions.toLocaleString('en'),
          r.users.toLocaleString('en'),
          r.items.toLocaleString('en'),
          r.positions.toLocaleString('en'),
          r.epochSeconds.toFixed(0),
          (r.epochSeconds / 60).toFixed(1),
          r.setupSeconds.toFixed(1),
          r.setupRssMb.toFixed(0),
          r.peakRssMb.toFixed(0),
        ]),
      ),
    );
    if (o.json)
      console.log(
        JSON.stringify({
          machine: machine(),
          mode: 'epoch',
          model: o.model,
          generateSeconds,
          prepareSeconds,
          interactions,
          runs: results,
        }),
      );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
