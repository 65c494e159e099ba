/**
 * `npm run bench:gemm`: GFLOP/s of each kernel backend on the GEMMs that dominate training,
 * each in the three forms a linear layer runs (forward y = x·Wᵀ, input gradient dx = dy·W,
 * weight gradient dW = dyᵀ·x). Medians of repeated runs, all backends measured in one run.
 *
 * `npm run bench:gemm -- --help` lists the options.
 */
import os from 'node:os';
import { formatTable } from '../src/report/table.js';
import type { BackendName } from '../src/kernels/kernels.js';
import { loadBackend, probeBackends } from '../src/kernels/select.js';
import { Rng } from '../src/engine/rng.js';
import { machine, median, parseArgs, runTorch } from './common.js';

const args = parseArgs(
  process.argv.slice(2),
  {
    command: 'npm run bench:gemm --',
    about:
      'GFLOP/s of each kernel backend on the GEMMs that dominate training, in the three forms a linear layer runs.',
  },
  {
    threads: ['number', 'threads for the native backend (default: all cores)'],
    backends: ['string', 'subset of native,wasm,js (default: all that load; js only on small shapes)'],
    'compare-torch': ['flag', 'also run bench/pytorch/gemm.py with the same threads'],
    json: ['flag', 'one JSON object as the last line'],
  },
);
const threads = (args.threads as number | undefined) ?? os.availableParallelism();
const wanted = ((args.backends as string | undefined) ?? 'native,wasm,js').split(',') as BackendName[];
const available = probeBackends()
  .filter((p) => p.available && wanted.includes(p.name))
  .map((p) => p.name);

// [m, k, n]: x is m×k, W is n×k (PyTorch layout), y is m×n.
const SHAPES: [number, number, number][] = [
  [256, 64, 12101],
  [12800, 64, 64],
  [12800, 64, 256],
];
const FORMS = ['y = x·Wᵀ', 'dx = dy·W', 'dW = dyᵀ·x'] as const;

const rng = new Rng(1);
const rand = (n: number) => Float32Array.from({ length: n }, () => rng.normal());

interface Row {
  backend: string;
  shape: string;
  form: string;
  gflops: number;
  ms: number;
}
const rows: Row[] = [];

for (const name of available) {
  const k = loadBackend(name);
  k.setThreads(name === 'native' ? threads : 1);
  for (const [m, kk, n] of SHAPES) {
    const x = rand(m * kk);
    const w = rand(n * kk);
    const y = rand(m * n);
    const dx = new Float32Array(m * kk);
    const dw = new Float32Array(n * kk);
    const flops = 2 * m * n * kk;
    FORMS.forEach((form, f) => {
      const run = () => {
        if (f === 0) k.sgemm(false, true, m, n, kk, 1, x, kk, w, kk, 0, y, n);
        else if (f === 1) k.sgemm(false, false, m, kk, n, 1, y, n, w, kk, 0, dx, kk);
        else k.sgemm(true, false, n, kk, m, 1, y, n, x, kk, 0, dw, kk);
      };
      run(); // warm-up
      const times: number[] = [];
      const budget = name === 'js' ? 1500 : 600;
      const start = performance.now();
      while (times.length < 3 || (performance.now() - start < budget && times.length < 50)) {
        const t0 = performance.now();
        run();
        times.push(performance.now() - t0);
      }
      const ms = median(times);
      rows.push({ backend: name, shape: `(${m}x${kk})·(${kk}x${n})`, form, gflops: flops / ms / 1e6, ms });
    });
  }
}

let torch: { ok: boolean; results?: { shape: string; gflops: number }[]; reason?: string } | undefined;
if (args['compare-torch']) {
  const r = runTorch('bench/pytorch/gemm.py', ['--threads', String(threads)]);
  torch = r.ok
    ? { ok: true, results: r.result.results as { shape: string; gflops: number }[] }
    : { ok: false, reason: r.reason };
}

console.log(`GEMM GFLOP/s (median), native threads ${threads}; wasm and js run on one thread`);
console.log(
  formatTable(
    ['backend', 'shape', 'form', 'GFLOP/s', 'ms'],
    rows.map((r) => [r.backend, r.shape, r.form, r.gflops, r.ms]),
  ),
);
if (torch) {
  if (torch.ok) {
    console.log(`\nPyTorch (${threads} threads):`);
    console.log(
      formatTable(
        ['shape', 'GFLOP/s'],
        torch.results!.map((r) => [r.shape, r.gflops]),
      ),
    );
  } else console.log(`\nPyTorch comparison unavailable: ${torch.reason}`);
}
if (args.json)
  console.log(JSON.stringify({ bench: 'gemm', threads, machine: machine(), results: rows, torch }));
