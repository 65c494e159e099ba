/** `cammsr train`, `eval`, `recommend` and `demo`: thin shells over the trainer, evaluator, recommender and demo. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import { Command, InvalidArgumentError, Option } from 'commander';
import { evaluateSplit, type TargetBreakdown } from '../eval/evaluate.js';
import { METRICS, MODEL_NAMES, resolveConfig, type RunConfig } from '../config/index.js';
import { RunDir } from '../train/run-dir.js';
import { loadRun, train, type EpochLog, type RunMetrics } from '../train/trainer.js';
import { demoJson, renderDemo, summarizeDemo } from '../report/demo-summary.js';
import { formatTable } from '../report/table.js';
import { DEMO_SIZES, runDemo } from '../train/demo.js';
import { servableRun } from '../serve/bundle.js';
import { Recommender } from '../serve/recommender.js';
import { integer } from './options.js';
import { progressBars } from './progress.js';

function metricsTable(rows: [string, Record<string, number>][]): string {
  return formatTable(
    ['', ...METRICS],
    rows.map(([name, m]) => [name, ...METRICS.map((k) => m[k] ?? '–')]),
  );
}

/** Under the cold-start protocol: the rows of warm and cold targets, and what they mean. */
function targetRows(t: TargetBreakdown | undefined): [string, Record<string, number>][] {
  if (!t) return [];
  return [
    [`  warm targets (${t.warm.users})`, t.warm.metrics],
    [`  cold targets (${t.cold.users})`, t.cold.metrics],
    [`  cold among held-out (${t.coldAmongCold.users})`, t.coldAmongCold.metrics],
  ];
}

function targetNote(kind: string, t: TargetBreakdown | undefined): string | null {
  if (!t) return null;
  const rule =
    'Warm and cold targets are ranked against the whole catalog; "cold among held-out" ranks cold targets among the held-out items only.';
  return t.coldRankable
    ? rule
    : `${rule}\n${kind} cannot rank items it never saw in training: its cold targets are ranked last, by construction.`;
}

/** A progress bar over an epoch's batches, with the running loss and an ETA (only on a terminal). */
function epochBar(enabled: boolean) {
  let bar: cliProgress.SingleBar | null = null;
  let lossSum = 0;
  return {
    batch(e: { epoch: number; done: number; total: number; loss: number }) {
      if (!enabled) return;
      if (!bar) {
        lossSum = 0;
        bar = new cliProgress.SingleBar(
          {
            stream: process.stderr,
            format: `epoch ${e.epoch} [{bar}] {value}/{total} batches | loss {loss} | ETA {eta_formatted}`,
            hideCursor: true,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(e.total, 0, { loss: '-' });
      }
      lossSum += e.loss;
      bar.update(e.done, { loss: (lossSum / e.done).toFixed(4) });
    },
    end() {
      bar?.stop();
      bar = null;
    },
  };
}

function describeEpoch(e: EpochLog, metric: string): string {
  const losses = Object.entries(e.loss)
    .filter(([k]) => k !== 'total')
    .map(([k, v]) => `${k} ${v.toFixed(4)}`)
    .join(', ');
  const v = e.validation
    ? `, validation ${metric} ${e.validation[metric].toFixed(4)}${e.best ? ' (best)' : ''}`
    : '';
  const w = (e.diagnostics as { modalityWeights?: Record<string, number> } | undefined)?.modalityWeights;
  const ws = w
    ? `, w ${Object.entries(w)
        .map(([m, x]) => `${m} ${x.toFixed(2)}`)
        .join(' ')}`
    : '';
  return `epoch ${e.epoch}: ${losses}${v}${ws} (${e.seconds.toFixed(1)} s)`;
}

interface TrainFlags {
  data: string;
  out: string;
  model?: string;
  config?: string;
  seed?: number;
  set: string[];
  resume?: boolean;
  json?: boolean;
  quiet?: boolean;
}

async function runTraining(o: TrainFlags, config: RunConfig): Promise<RunMetrics> {
  const bar = epochBar(!o.json && !o.quiet && process.stderr.isTTY === true);
  const say = (s: string) => {
    if (!o.quiet) process.stderr.write(s + '\n');
  };
  try {
    return await train({
      data: o.data,
      out: o.out,
      config,
      resume: o.resume,
      events: {
        batch: (e) => bar.batch(e),
        epoch: (e) => {
          bar.end();
          say(describeEpoch(e, config.train.validationMetric));
        },
        message: say,
      },
    });
  } finally {
    bar.end();
  }
}

async function trainCommand(o: TrainFlags): Promise<void> {
  // A resumed run starts from its own configuration, so that its epoch budget is kept unless
  // the user changes it (a 3-epoch run does not silently become a 200-epoch one).
  const own = o.resume && !new RunDir(o.out).isEmpty() ? RunDir.open(o.out).readConfig() : undefined;
  const config = resolveConfig({
    base: own,
    file: o.config,
    overrides: o.set,
    cli: { model: o.model as RunConfig['model'], seed: o.seed },
  });
  if (own && !o.quiet)
    process.stderr.write(
      own.train.epochs === config.train.epochs
        ? `resuming with the run's epoch budget: ${own.train.epochs}\n`
        : `the epoch budget changes from ${own.train.epochs} to ${config.train.epochs}\n`,
    );
  const m = await runTraining(o, config);
  console.log(
    `${config.model} on ${m.dataset.name}: best epoch ${m.bestEpoch} of ${m.epochs}, ${m.secondsPerEpoch.toFixed(1)} s/epoch, ${m.parameters} parameters`,
  );
  console.log(
    metricsTable([
      ['validation', m.validation],
      ['test', m.test],
      ...targetRows(m.targets?.test),
      ['test (history masked)', m.testMasked],
    ]),
  );
  const note = targetNote(config.model, m.targets?.test);
  if (note) console.log(note);
  if (o.json) console.log(JSON.stringify(m));
}

interface EvalFlags {
  run: string;
  split: 'test' | 'validation';
  maskHistory?: boolean;
  data?: string;
  json?: boolean;
}

function evalCommand(o: EvalFlags): void {
  const { model, split, ds } = loadRun(o.run, { data: o.data });
  const maskHistory = o.maskHistory ?? false;
  let r: ReturnType<typeof evaluateSplit>;
  try {
    r = evaluateSplit(model, split, o.split, { maskHistory });
  } finally {
    ds.close();
  }
  console.log(
    `${model.kind} on ${ds.manifest.name} (${ds.manifest.checksum.slice(0, 12)}), ${r.users} users, full ranking over ${ds.items} items, history ${maskHistory ? 'masked' : 'not masked'}`,
  );
  console.log(metricsTable([[o.split, r.metrics], ...targetRows(r.targets)]));
  const note = targetNote(model.kind, r.targets);
  if (note) console.log(note);
  if (o.json)
    console.log(
      JSON.stringify({
        split: o.split,
        maskHistory,
        users: r.users,
        ...r.metrics,
        ...(r.targets ? { targets: r.targets } : {}),
      }),
    );
}

interface RecommendFlags {
  run: string;
  history: string;
  k: number;
  includeSeen?: boolean;
  json?: boolean;
}

function recommendCommand(o: RecommendFlags): void {
  const run = servableRun(o.run);
  const recommender = new Recommender(run);
  const ids = o.history
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (ids.length === 0) throw new InvalidArgumentError('--history needs at least one item id');
  const unknown = ids.filter((id) => !recommender.item(id));
  if (unknown.length)
    throw new InvalidArgumentError(
      `unknown item id${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (not in dataset ${run.dataset})`,
    );
  // The history as the model reads it, so that the list below can be judged against it.
  console.log(
    formatTable(
      ['history', 'item', 'title'],
      ids.map((id, j) => [j + 1, id, recommender.item(id)?.title ?? '']),
    ),
  );
  const [list] = recommender.recommend([{ items: ids, k: o.k, excludeSeen: !o.includeSeen }]);
  const rows = list.items.map((it, r) => ({
    rank: r + 1,
    item: it.item,
    title: it.title ?? '',
    score: it.score,
    categories: it.categories ?? [],
  }));
  console.log(
    formatTable(
      ['rank', 'item', 'score', 'title'],
      rows.map((r) => [r.rank, r.item, r.score, r.title]),
    ),
  );
  if (o.json) console.log(JSON.stringify({ history: ids, recommendations: rows }));
}

interface DemoFlags {
  quick?: boolean;
  out?: string;
  jobs?: number;
  json?: boolean;
}

async function demoCommand(o: DemoFlags): Promise<void> {
  const dir = o.out ?? mkdtempSync(join(tmpdir(), 'cammsr-demo-'));
  const t0 = performance.now();
  const say = (s: string) => process.stderr.write(`${s}\n`);
  const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(0)} s`;
  const bars = progressBars();
  const size = DEMO_SIZES[o.quick ? 'quick' : 'full'];
  const outcome = await runDemo({
    dir,
    size,
    jobs: o.jobs,
    events: {
      progress: bars.update,
      message: (s) => {
        bars.stop();
        say(s);
      },
      epoch: (t, e) =>
        say(
          `  ${t.model} seed ${t.seed}, epoch ${e.epoch}/${size.epochs}: validation NDCG@10 ${e.validation?.['NDCG@10'].toFixed(4) ?? '-'}${e.best ? ' (best)' : ''} (${e.seconds.toFixed(1)} s)`,
        ),
      run: (r, done, total) =>
        say(
          `run ${done}/${total} done: ${r.model} seed ${r.seed}, best epoch ${r.metrics.bestEpoch} (${elapsed()})`,
        ),
    },
  });
  const summary = summarizeDemo(outcome.runs, outcome.models);
  console.log(renderDemo(outcome, summary, { outChosen: o.out !== undefined }));
  if (o.json) console.log(JSON.stringify(demoJson(outcome, summary)));
}

export function registerModelCommands(program: Command): void {
  program
    .command('train')
    .description('train a model on a prepared dataset; writes a run directory')
    .requiredOption('--data <dataset>', 'prepared dataset directory')
    .requiredOption('--out <run>', 'run directory to create (or to continue with --resume)')
    .addOption(new Option('--model <name>', 'model (overrides the config file)').choices(MODEL_NAMES))
    .option('--config <file>', 'YAML or JSON configuration (see docs/config.md)')
    .option('--seed <n>', 'random seed (overrides the config file)', integer('--seed'))
    .option(
      '--set <key=value>',
      'override one option, e.g. --set train.lr=0.002 (repeatable)',
      (v, acc: string[]) => [...acc, v],
      [],
    )
    .option('--resume', 'continue the run in --out from its last completed epoch')
    .option('--json', 'print one JSON object (the final metrics) as the last line')
    .action(trainCommand);

  program
    .command('eval')
    .description('evaluate a run by full ranking over all items')
    .requiredOption('--run <run>', 'run directory')
    .addOption(new Option('--split <split>', 'which split').choices(['test', 'validation']).default('test'))
    .option('--mask-history', "exclude the user's history items from the ranking")
    .option('--data <dataset>', 'dataset directory (default: the one the run was trained on)')
    .option('--json', 'print one JSON object as the last line')
    .action(evalCommand);

  program
    .command('recommend')
    .description('top-k items after a history of (original) item ids')
    .requiredOption('--run <run>', 'run directory')
    .requiredOption('--history <ids>', 'comma-separated original item ids, oldest first')
    .option('-k, --k <n>', 'how many items', integer('-k', 1), 10)
    .option('--include-seen', 'allow items of the history in the list')
    .option('--json', 'print one JSON object as the last line')
    .action(recommendCommand);

  program
    .command('demo')
    .description(
      'new items: train SASRec, fusion-sum and CAMMSR on a synthetic catalog with held-out items (3 seeds), compare warm and cold targets',
    )
    .option('--quick', 'a smaller catalog and fewer epochs (under 40 seconds)')
    .option('--out <dir>', 'keep the dataset and runs here (default: a temporary folder, kept)')
    .option(
      '--jobs <n>',
      'runs trained at once, in child processes (default: CPUs, at most 3)',
      integer('--jobs', 1),
    )
    .option('--json', 'print one JSON object as the last line')
    .action(demoCommand);
}
