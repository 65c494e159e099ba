/**
 * `npm run bench:contention -- --bundle <b>`: how late a serving process's event loop runs while
 * other work runs beside it, the yardstick for a reload's stalls (docs/serving.md). Beside an
 * otherwise idle event loop, in turn: nothing; a thread that only computes; a thread that builds
 * the bundle's recommender over and over (what a model worker does at a reload); the same build
 * in a child process, at normal priority and at nice 10. The loop's lateness is the longest delay
 * of a 1 ms timer in each 300 ms window: the median and the max over the windows.
 */
import { fork } from 'node:child_process';
import { setPriority } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { isMainThread, Worker, workerData } from 'node:worker_threads';
import { kernels } from '../src/kernels/select.js';
import { formatTable } from '../src/report/table.js';
import { loadBundle } from '../src/serve/bundle.js';
import { Recommender } from '../src/serve/recommender.js';
import { machine, median, parseArgs } from './common.js';

/** What runs beside the event loop, until it is stopped. */
type Load = 'spin' | 'build';
const WINDOW_MS = 300;

/** The beside side: runs `load` for `ms` (a worker thread's workerData, or a child's argv). */
function runLoad(load: Load, bundle: string, ms: number, nice: number): void {
  if (nice) setPriority(nice);
  kernels().setThreads(1);
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) {
    if (load === 'build') new Recommender(loadBundle(bundle), 'auto', null);
    else for (let i = 0; i < 1e6; i++) x += Math.sqrt(i);
  }
  if (x < 0) console.log(x); // keeps the loop from being optimised away
}

const child = process.argv.indexOf('--beside');
if (!isMainThread) {
  const w = workerData as { load: Load; bundle: string; ms: number };
  runLoad(w.load, w.bundle, w.ms, 0);
} else if (child >= 0) {
  const [load, bundle, ms, nice] = process.argv.slice(child + 1);
  runLoad(load as Load, bundle, Number(ms), Number(nice));
} else await main();

async function main(): Promise<void> {
  const args = parseArgs(
    process.argv.slice(2),
    {
      command: 'npm run bench:contention --',
      about:
        "How late an idle event loop runs while other work runs beside it (the yardstick of a reload's stalls).",
    },
    {
      bundle: ['string', 'the bundle whose recommender is built beside (required)'],
      windows: ['number', `windows of ${WINDOW_MS} ms measured per case (default 10)`],
      repeats: ['number', 'times the cases are run, alternated (default 2)'],
      json: ['flag', 'one JSON object as the last line'],
    },
  );
  if (!args.bundle) throw new Error('--bundle <folder> is required');
  const bundle = String(args.bundle);
  const windows = (args.windows as number | undefined) ?? 10;
  const repeats = (args.repeats as number | undefined) ?? 2;
  const ms = windows * WINDOW_MS + 3000;
  const script = fileURLToPath(import.meta.url);
  const cases: [string, () => () => void][] = [
    ['nothing', () => () => {}],
    ['a thread computing', () => thread('spin')],
    ['a thread building the recommender', () => thread('build')],
    ['a child process building it', () => processBeside(0)],
    ['a child process building it, nice 10', () => processBeside(10)],
  ];
  function thread(load: Load): () => void {
    const w = new Worker(script, { workerData: { load, bundle, ms } });
    return () => void w.terminate();
  }
  function processBeside(nice: number): () => void {
    const c = fork(script, ['--beside', 'build', bundle, String(ms), String(nice)]);
    return () => c.kill();
  }
  const late = new Map<string, number[]>(cases.map(([name]) => [name, []]));
  for (let r = 0; r < repeats; r++)
    for (const [name, start] of cases) {
      const stop = start();
      await sleep(1500); // the other side started and warmed up
      late.get(name)!.push(...(await windowMaxima(windows)));
      stop();
      await sleep(500);
    }
  const rows = cases.map(([name]) => {
    const xs = late.get(name)!;
    return { beside: name, medianMs: median(xs), maxMs: Math.max(...xs) };
  });
  console.log(
    formatTable(
      ['beside the event loop', `longest delay per ${WINDOW_MS} ms window: median (ms)`, 'max (ms)'],
      rows.map((r) => [r.beside, r.medianMs.toFixed(1), r.maxMs.toFixed(1)]),
    ),
  );
  if (args.json) console.log(JSON.stringify({ bundle, windows, repeats, rows, machine: machine() }));
}

/** The longest delay of a 1 ms timer in each of `n` windows. */
async function windowMaxima(n: number): Promise<number[]> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    h.reset();
    await sleep(WINDOW_MS);
    out.push(h.max / 1e6);
  }
  h.disable();
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
