/**
 * `npm run bench:durability`: kill -9 trials of `cammsr serve` with idempotent retries
 * (bench/serve-durability.ts). Prints a table of the trials and whether every acknowledged event
 * was stored exactly once; exits 1 when one was not.
 *
 * `npm run bench:durability -- --help` lists the options.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../src/config/index.js';
import { prepareDataset } from '../src/data/prepare.js';
import { formatTable } from '../src/report/table.js';
import { exportBundle } from '../src/serve/bundle.js';
import { train } from '../src/train/trainer.js';
import { machine, parseArgs } from './common.js';
import { durabilityTrials, type TrialResult } from './serve-durability.js';

const args = parseArgs(
  process.argv.slice(2),
  {
    command: 'npm run bench:durability --',
    about:
      'kill -9 trials of `cammsr serve` while writers post events with ids; every request without a reply is retried with the same ids after the restart, then the store is counted: each acknowledged event stored exactly once, no partial batch.',
  },
  {
    db: [
      'string',
      'the event store, sqlite:<file> or postgres://... (default: a new SQLite file in a temporary folder); the trials write their events into it',
    ],
    bundle: ['string', 'a bundle to serve (default: a popularity model of a small synthetic dataset)'],
    trials: ['number', 'trials (default 20)'],
    workers: ['number', 'concurrent writers (default 8)'],
    'max-batch': ['number', 'events per request, uniform from 1 to this (default 200)'],
    'kill-after-ms': ['string', 'range of the delay before each kill, ms (default 300,3000)'],
    seed: ['number', 'seed of the batch sizes and kill delays (default 1)'],
    json: ['flag', 'one JSON object as the last line'],
  },
);

const tmp = mkdtempSync(join(tmpdir(), 'cammsr-bench-durability-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

/** The bundle to serve: given, or a popularity model (what is served does not matter here). */
async function bundleDir(): Promise<string> {
  if (typeof args.bundle === 'string') return args.bundle;
  const data = join(tmp, 'synth');
  await prepareDataset({ format: 'synth', out: data, synth: { users: 200, items: 100 }, seed: 1 });
  const run = join(tmp, 'run');
  await train({ data, out: run, config: resolveConfig({ cli: { model: 'popularity', seed: 1 } }) });
  exportBundle(run, join(tmp, 'bundle'));
  return join(tmp, 'bundle');
}

/** A --db value without its password, for printing. */
function shown(db: string): string {
  if (!db.startsWith('postgres')) return db;
  const u = new URL(db);
  if (u.password) u.password = '***';
  return u.toString();
}

const row = (t: TrialResult) => [
  t.trial,
  t.killAfterMs / 1000,
  t.requests,
  t.acknowledged,
  t.retried,
  t.storedBeforeRetry,
  t.lost,
  t.duplicated,
  t.partialBatches,
  t.miscountedReplies,
  t.restartSeconds,
  t.integrity,
];

async function main() {
  const [lo, hi] = String(args['kill-after-ms'] ?? '300,3000')
    .split(',')
    .map(Number);
  const db = String(args.db ?? `sqlite:${join(tmp, 'events.db')}`);
  const opts = {
    bundle: await bundleDir(),
    db,
    trials: (args.trials as number | undefined) ?? 20,
    workers: (args.workers as number | undefined) ?? 8,
    maxBatch: (args['max-batch'] as number | undefined) ?? 200,
    killAfterMs: [lo, hi] as [number, number],
    seed: (args.seed as number | undefined) ?? 1,
  };
  process.stderr.write(`${opts.trials} trials on ${shown(db)}, ${opts.workers} writers\n`);
  const trials = await durabilityTrials({
    ...opts,
    onTrial: (t) =>
      process.stderr.write(
        `trial ${t.trial}/${opts.trials}: ${t.acknowledged} events acknowledged, ${t.retried} requests retried, ${t.lost} lost, ${t.duplicated} duplicated\n`,
      ),
  });
  const total = (k: keyof TrialResult) => trials.reduce((a, t) => a + (t[k] as number), 0);
  const failed = ['lost', 'duplicated', 'partialBatches', 'miscountedReplies', 'unacknowledged'] as const;
  const ok = failed.every((k) => total(k) === 0) && trials.every((t) => ['ok', 'n/a'].includes(t.integrity));
  console.log(
    formatTable(
      [
        'trial',
        'kill after s',
        'requests',
        'acknowledged',
        'retried',
        'stored before retry',
        'lost',
        'duplicated',
        'partial',
        'miscounted',
        'restart to ready s',
        'integrity',
      ],
      trials.map(row),
    ),
  );
  console.log(
    `\n${shown(db)}: ${trials.length} trials, ${total('acknowledged')} events acknowledged, ${total('retried')} requests retried after a kill; ${ok ? 'every acknowledged event stored exactly once, no partial batch' : 'FAILED: see the lost, duplicated, partial and miscounted columns'}`,
  );
  if (args.json) console.log(JSON.stringify({ ...opts, db: shown(db), ok, trials, machine: machine() }));
  if (!ok) process.exitCode = 1;
}

await main();
