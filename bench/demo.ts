/**
 * `npm run bench:demo`: wall-clock seconds of `cammsr demo` (full and --quick) as a user runs
 * it, on the WebAssembly kernels by default (a machine without OpenBLAS), against the budgets:
 * 3 minutes and 40 seconds on two cores. Each run is the real command in its own process; its
 * JSON line gives the CPU seconds of the demo and of each worker process, so that a run on a
 * busy machine can be read beside the load average it met.
 *
 * `npm run bench:demo -- --help` lists the options.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatTable } from '../src/report/table.js';
import { machine, median, parseArgs, TRAINING_NODE_FLAGS } from './common.js';

const BUDGETS: Record<string, number> = { full: 180, quick: 40 };
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

const args = parseArgs(
  process.argv.slice(2),
  {
    command: 'npm run bench:demo --',
    about: 'Wall-clock seconds of `cammsr demo` and `cammsr demo --quick` against their budgets.',
  },
  {
    modes: ['string', 'full,quick (default both)'],
    repeats: ['number', 'runs of each mode; the median is reported (default 1)'],
    backend: ['string', 'kernel backend, CAMMSR_BACKEND (default wasm)'],
    jobs: ['number', "the demo's --jobs (default: its own)"],
    json: ['flag', 'one JSON object as the last line'],
  },
);
const modes = String(args.modes ?? 'full,quick').split(',');
for (const m of modes) if (!(m in BUDGETS)) throw new Error(`unknown mode ${m}: expected full or quick`);
const repeats = (args.repeats as number | undefined) ?? 1;
if (!Number.isInteger(repeats) || repeats < 1) throw new Error(`--repeats must be a positive integer`);
const backend = String(args.backend ?? 'wasm');

interface Sample {
  seconds: number;
  /** CPU seconds of the demo process and its workers (from its JSON line). */
  cpuSeconds: number;
  /** CPU seconds of the demo process plus its busiest worker. */
  criticalCpuSeconds: number;
  jobs: number;
  /** 1-minute load average before and after. */
  load: [number, number];
}

/** One `cammsr demo` in its own process; its progress goes to this process's stderr. */
function runDemo(mode: string): Promise<Sample> {
  const dir = mkdtempSync(join(os.tmpdir(), 'cammsr-bench-demo-'));
  const argv = [...TRAINING_NODE_FLAGS, CLI, 'demo', '--out', join(dir, 'demo'), '--json'];
  if (mode === 'quick') argv.push('--quick');
  if (args.jobs !== undefined) argv.push('--jobs', String(args.jobs));
  const load0 = os.loadavg()[0];
  const t0 = performance.now();
  const child = spawn(process.execPath, argv, {
    env: { ...process.env, CAMMSR_BACKEND: backend },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = (performance.now() - t0) / 1000;
      rmSync(dir, { recursive: true, force: true });
      if (code !== 0) return reject(new Error(`cammsr demo (${mode}) exited with code ${code}`));
      const j = JSON.parse(stdout.trim().split('\n').pop()!) as {
        cpuSeconds: number;
        workerCpuSeconds: number[];
        jobs: number;
      };
      const workers = j.workerCpuSeconds.reduce((a, b) => a + b, 0);
      const critical = j.cpuSeconds - workers + Math.max(0, ...j.workerCpuSeconds);
      resolve({
        seconds,
        cpuSeconds: j.cpuSeconds,
        criticalCpuSeconds: critical,
        jobs: j.jobs,
        load: [load0, os.loadavg()[0]],
      });
    });
  });
}

const results: { mode: string; budget: number; samples: Sample[]; median: number }[] = [];
for (const mode of modes) {
  const samples: Sample[] = [];
  for (let r = 0; r < repeats; r++) {
    process.stderr.write(`bench:demo: ${mode}, run ${r + 1} of ${repeats} (${backend} kernels)\n`);
    samples.push(await runDemo(mode));
  }
  results.push({ mode, budget: BUDGETS[mode], samples, median: median(samples.map((s) => s.seconds)) });
}

const f1 = (x: number) => x.toFixed(1);
console.log(
  `cammsr demo on the ${backend} kernels, ${os.availableParallelism()} CPUs; wall = median of ${repeats} run${repeats > 1 ? 's' : ''}. ` +
    'CPU = the demo process and its workers; critical CPU = the demo process plus its busiest worker (the wall time if each worker had a core to itself). Load = 1-minute load average before → after.',
);
console.log(
  formatTable(
    ['mode', 'wall s', 'budget s', 'within', 'CPU s', 'critical CPU s', 'workers', 'load'],
    results.map((r) => {
      const s = r.samples[0];
      const med = (k: 'cpuSeconds' | 'criticalCpuSeconds') => f1(median(r.samples.map((x) => x[k])));
      return [
        r.mode,
        f1(r.median),
        r.budget,
        r.median <= r.budget ? 'yes' : 'no',
        med('cpuSeconds'),
        med('criticalCpuSeconds'),
        s.jobs,
        r.samples.map((x) => `${x.load[0].toFixed(1)} → ${x.load[1].toFixed(1)}`).join(', '),
      ];
    }),
  ),
);
if (args.json) console.log(JSON.stringify({ bench: 'demo', machine: machine(), backend, repeats, results }));
