/**
 * `npm run bench:data`: wall time and peak RSS of preparing the real datasets (features
 * included), the time to load a prepared dataset, and the import rate of a generated
 * interactions CSV (10 million rows by default). Each measurement runs in its own process so
 * that peak RSS is its own.
 *
 * `npm run bench:data -- --help` lists the options.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatTable } from '../src/report/table.js';
import { Dataset } from '../src/data/dataset.js';
import { prepareDataset, type PrepareOptions } from '../src/data/prepare.js';
import { generateInteractionsCsv } from './data-gen.js';
import { machine, median, parseArgs } from './common.js';

const SHARED =
  process.env.CAMMSR_SHARED_DATASETS ?? fileURLToPath(new URL('../../../shared/datasets', import.meta.url));

const DATASETS: Record<string, (out: string) => PrepareOptions> = {
  'movielens-100k': (out) => ({
    format: 'recbole',
    input: join(SHARED, 'movielens-100k'),
    images: join(SHARED, 'movielens-100k', 'posters'),
    kcore: { user: 5, item: 5 },
    out,
  }),
  'amazon-beauty': (out) => ({ format: 's3rec', input: join(SHARED, 'amazon-beauty', 'Beauty.txt'), out }),
  'amazon-scientific': (out) => ({ format: 'lcrec', input: join(SHARED, 'amazon-scientific'), out }),
};

interface Measure {
  task: string;
  seconds: number;
  peakRssMb: number;
  interactions: number;
  perSecond: number;
  loadMs?: number;
}

/** Runs one measurement in this (child) process. */
async function child(task: string, out: string, csv?: string): Promise<Measure> {
  const opts =
    task === 'csv'
      ? ({
          format: 'csv',
          input: csv,
          out,
          text: 'none',
          image: 'none',
          kcore: { user: 5, item: 5 },
        } as PrepareOptions)
      : DATASETS[task](out);
  const t0 = performance.now();
  const r = await prepareDataset(opts);
  const seconds = (performance.now() - t0) / 1000;
  const loads: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    Dataset.load(out);
    loads.push(performance.now() - t);
  }
  return {
    task,
    seconds,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    interactions: r.stats.interactions,
    perSecond: r.stats.interactions / seconds,
    loadMs: median(loads),
  };
}

const args = parseArgs(
  process.argv.slice(2),
  {
    command: 'npm run bench:data --',
    about:
      'Wall time and peak RSS of preparing the real datasets, loading a prepared one, and importing a generated interactions CSV.',
  },
  {
    rows: ['number', 'rows of the generated CSV (default 10,000,000; 0 skips it)'],
    datasets: ['string', 'subset of movielens-100k,amazon-beauty,amazon-scientific'],
    json: ['flag', 'one JSON object as the last line'],
    child: ['string', 'internal: set by this script for its child processes'],
    out: ['string', 'internal: set by this script for its child processes'],
    csv: ['string', 'internal: set by this script for its child processes'],
  },
);
if (args.child) {
  console.log(
    JSON.stringify(await child(args.child as string, args.out as string, args.csv as string | undefined)),
  );
} else {
  const self = fileURLToPath(import.meta.url);
  const dir = mkdtempSync(join(os.tmpdir(), 'cammsr-bench-data-'));
  const run = (task: string, extra: string[] = []): Measure => {
    const out = execFileSync(process.execPath, [self, '--child', task, '--out', join(dir, task), ...extra], {
      encoding: 'utf8',
    });
    return JSON.parse(out.trim().split('\n').pop()!);
  };
  const results: Measure[] = [];
  const wanted = ((args.datasets as string | undefined) ?? Object.keys(DATASETS).join(',')).split(',');
  for (const name of wanted) {
    if (!DATASETS[name])
      throw new Error(`unknown dataset ${name}: expected ${Object.keys(DATASETS).join(', ')}`);
    if (!existsSync(SHARED))
      throw new Error(`the shared datasets are not at ${SHARED} (set CAMMSR_SHARED_DATASETS)`);
    results.push(run(name));
  }
  const rows = (args.rows as number | undefined) ?? 10_000_000;
  let csvBytes = 0;
  if (rows > 0) {
    const csv = join(dir, 'interactions.csv');
    process.stderr.write(`generating ${rows} rows...\n`);
    await generateInteractionsCsv(csv, rows, {
      users: Math.max(1, Math.round(rows / 20)),
      items: Math.max(1, Math.round(rows / 50)),
      seed: 1,
    });
    csvBytes = statSync(csv).size;
    const m = run('csv', ['--csv', csv]);
    // The rate counts the rows read, not those left after the 5-core.
    results.push({ ...m, task: `csv ${rows} rows (5-core)`, perSecond: rows / m.seconds });
  }
  rmSync(dir, { recursive: true, force: true });
  console.log(
    `prepare, including features; load = median of 5 Dataset.load() calls${csvBytes ? `; CSV ${(csvBytes / 2 ** 20).toFixed(0)} MiB` : ''}`,
  );
  console.log(
    formatTable(
      ['task', 'seconds', 'peak RSS MB', 'interactions kept', 'rows/s', 'load ms'],
      results.map((r) => [
        r.task,
        r.seconds,
        r.peakRssMb,
        r.interactions,
        Math.round(r.perSecond),
        r.loadMs ?? '-',
      ]),
    ),
  );
  if (args.json) console.log(JSON.stringify({ bench: 'data', machine: machine(), results }));
}
