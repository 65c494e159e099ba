/**
 * `npm run bench:train-time`: trains one model of the experiments plan to early stop and
 * reports how long it took against a target (default: CAMMSR on amazon-beauty under 30 minutes
 * on a 2-core machine). Run it with the machine otherwise idle; the figure is one measured run,
 * not an estimate.
 *
 * `npm run bench:train-time -- --help` lists the options.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { formatTable } from '../src/report/table.js';
import { prepareDataset } from '../src/data/prepare.js';
import { kernels } from '../src/kernels/select.js';
import { RunDir } from '../src/train/run-dir.js';
import { train } from '../src/train/trainer.js';
import { machine, median, parseArgs } from '../bench/common.js';
import { prepareOptions } from './harness/commands.js';
import { plannedConfig, variantByName } from './harness/plan-rules.js';
import { PLAN } from './plan.js';

const args = parseArgs(
  process.argv.slice(2),
  {
    command: 'npm run bench:train-time --',
    about:
      'Trains one model of the experiments plan to early stop and reports how long it took (issue 4: CAMMSR on amazon-beauty under 30 minutes on this 2-core machine). Run it with the machine otherwise idle.',
  },
  {
    dataset: ['string', 'a dataset of the experiments plan (default amazon-beauty)'],
    variant: ['string', "a variant of the plan (default cammsr: the spec's defaults)"],
    seed: ['number', 'default 1'],
    threads: ['number', "kernel threads (default 2: the machine's cores)"],
    data: [
      'string',
      'an already prepared dataset (default: prepare it from ../shared/datasets into a temporary directory, as the experiments do)',
    ],
    'max-epochs': ['number', 'stop after n epochs: a quick check of the script, not a result'],
    'target-minutes': ['number', 'default 30'],
    json: ['flag', 'one JSON object as the last line'],
  },
);
const dsName = (args.dataset as string | undefined) ?? 'amazon-beauty';
const ds = PLAN.datasets.find((d) => d.name === dsName);
if (!ds) throw new Error(`--dataset must be one of ${PLAN.datasets.map((d) => d.name).join(', ')}`);
const variant = variantByName(PLAN, (args.variant as string | undefined) ?? 'cammsr');
const seed = (args.seed as number | undefined) ?? 1;
const threads = (args.threads as number | undefined) ?? 2;
const maxEpochs = args['max-epochs'] as number | undefined;
const target = (args['target-minutes'] as number | undefined) ?? 30;

const tmp = mkdtempSync(join(os.tmpdir(), 'cammsr-train-time-'));
try {
  let data = args.data as string | undefined;
  if (data === undefined) {
    data = join(tmp, 'data');
    await prepareDataset(prepareOptions(ds, variant, data));
  }
  const config = plannedConfig(ds, variant, seed, maxEpochs);
  config.train.threads = threads;
  const t0 = performance.now();
  const m = await train({
    data,
    out: join(tmp, 'run'),
    config,
    events: {
      epoch: (e) =>
        process.stderr.write(
          `epoch ${e.epoch}: validation ${config.train.validationMetric} ${e.validation?.[config.train.validationMetric]?.toFixed(4)} (${e.seconds.toFixed(1)} s)\n`,
        ),
    },
  });
  const minutes = (performance.now() - t0) / 60_000;
  const epochSeconds = new RunDir(join(tmp, 'run')).readLog().map((e) => e.seconds);
  const result = {
    dataset: ds.name,
    variant: variant.name,
    seed,
    threads: kernels().threads(),
    backend: kernels().name,
    epochs: m.epochs,
    bestEpoch: m.bestEpoch,
    stoppedEarly: m.stoppedEarly,
    medianEpochSeconds: median(epochSeconds),
    minutes,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    testNdcg10: m.test['NDCG@10'],
    targetMinutes: target,
    // A capped run says nothing about the time to early stop.
    targetMet: maxEpochs === undefined ? minutes < target : null,
    machine: { ...machine(), cpus: os.cpus().length },
  };
  console.log(
    formatTable(
      [
        'dataset',
        'model',
        'seed',
        'threads',
        'epochs (best)',
        's/epoch (median)',
        'minutes',
        'peak RSS MB',
        'test NDCG@10',
        `under ${target} min`,
      ],
      [
        [
          result.dataset,
          result.variant,
          String(seed),
          String(result.threads),
          `${result.epochs} (${result.bestEpoch})`,
          result.medianEpochSeconds.toFixed(1),
          minutes.toFixed(1),
          result.peakRssMb.toFixed(0),
          result.testNdcg10.toFixed(4),
          result.targetMet === null ? `n/a (capped at ${maxEpochs} epochs)` : result.targetMet ? 'yes' : 'no',
        ],
      ],
    ),
  );
  console.log(
    'minutes = the whole training command: loading, training, per-epoch validation, final evaluation.',
  );
  if (args.json) console.log(JSON.stringify(result));
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
