/**
 * `npm run bench:serve`: latency and throughput of `cammsr serve` over real HTTP on loopback.
 *
 * For each concurrency it runs POST /v1/recommendations with micro-batching on (the default
 * --max-batch 64, --max-wait-ms 0) and off (--max-batch 1), in one process, alternating, and
 * reports requests per second and latency percentiles. It also measures what precomputing the
 * item side saves: one request through the bundle's scorer against model.scoreLast, which
 * recomputes the item table each call.
 *
 * `--open-loop 100,200,500,1000` instead sends requests at those fixed rates (bench/open-loop.ts)
 * to `cammsr serve` in its own process (`--server-cores 0`: pinned to core 0 with taskset), for
 * `--seconds` each, micro-batching on and off, and reports the rate achieved, latency from when
 * each request was due, the server process's CPU time per answered request, and the replies by status
 * (503: shed).
 *
 * `npm run bench:serve -- --help` lists the options.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatTable } from '../src/report/table.js';
import { kernels } from '../src/kernels/select.js';
import { prepareDataset } from '../src/data/prepare.js';
import { loadBundle, exportBundle } from '../src/serve/bundle.js';
import { Recommender } from '../src/serve/recommender.js';
import { buildService } from '../src/serve/service.js';
import { openStore } from '../src/serve/store/open.js';
import { inferenceBatch } from '../src/models/batch.js';
import { resolveConfig } from '../src/config/index.js';
import { train } from '../src/train/trainer.js';
import { machine, median, parseArgs, quantile } from './common.js';
import { Rng } from '../src/engine/rng.js';
import { openLoop, type OpenLoopResult } from './open-loop.js';
import { startServe } from './serve-process.js';

const args = parseArgs(
  process.argv.slice(2),
  {
    command: 'npm run bench:serve --',
    about: 'Latency and throughput of `cammsr serve` over real HTTP on loopback, micro-batching on and off.',
  },
  {
    bundle: ['string', 'a bundle to serve (default: a small synthetic dataset trained for 2 epochs)'],
    run: ['string', 'a run to serve (exported to a temporary bundle first)'],
    requests: ['number', 'requests per configuration (default 2000)'],
    concurrency: ['string', 'concurrent clients, comma-separated (default 1,8,32)'],
    history: ['number', 'history length of each request (default 20)'],
    threads: ['number', 'kernel threads (default 1, as cammsr serve)'],
    'open-loop': [
      'string',
      'fixed request rates per second, comma-separated (e.g. 100,200,500,1000): open-loop mode',
    ],
    seconds: ['number', 'open loop: seconds per rate (default 20)'],
    'server-cores': [
      'string',
      'open loop: cores the server process is pinned to (taskset -c), e.g. 0 or 0,1',
    ],
    json: ['flag', 'one JSON object as the last line'],
  },
);
kernels().setThreads((args.threads as number | undefined) ?? 1);
const REQUESTS = (args.requests as number | undefined) ?? 2000;
const CONCURRENCY = String(args.concurrency ?? '1,8,32')
  .split(',')
  .map(Number);
const HISTORY = (args.history as number | undefined) ?? 20;
const tmp = mkdtempSync(join(tmpdir(), 'cammsr-bench-serve-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

async function bundleDir(): Promise<string> {
  if (args.bundle) return String(args.bundle);
  let run = args.run as string | undefined;
  if (!run) {
    process.stderr.write('no --bundle or --run: training CAMMSR on a synthetic dataset for 2 epochs\n');
    const data = join(tmp, 'synth');
    await prepareDataset({ format: 'synth', out: data, synth: { users: 2000, items: 1000 }, seed: 1 });
    run = join(tmp, 'run');
    await train({
      data,
      out: run,
      config: resolveConfig({ cli: { model: 'cammsr', seed: 1 }, overrides: ['train.epochs=2'] }),
    });
  }
  const out = join(tmp, 'bundle');
  exportBundle(run, out);
  return out;
}

interface Row {
  mode: string;
  concurrency: number;
  requestsPerSecond: number;
  p50: number;
  p95: number;
  p99: number;
  meanBatch: number;
}

async function measure(bundle: string, ids: string[][], concurrency: number, maxBatch: number): Promise<Row> {
  const store = await openStore(`sqlite:${join(tmp, `events-${concurrency}-${maxBatch}.db`)}`);
  const { app } = await buildService({ bundle, store, maxBatch });
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  const latencies: number[] = [];
  let next = 0;
  const client = async () => {
    while (next < ids.length) {
      const history = ids[next++];
      const t0 = performance.now();
      const r = await fetch(`${base}/v1/recommendations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ history, k: 10 }),
      });
      if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${await r.text()}`);
      await r.arrayBuffer();
      latencies.push(performance.now() - t0);
    }
  };
  // Warm-up (JIT, the first GEMMs), not counted.
  await Promise.all(Array.from({ length: concurrency }, () => fetch(`${base}/healthz`)));
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, client));
  const seconds = (performance.now() - t0) / 1000;
  const metrics = (await (await fetch(`${base}/metrics`)).text()).split('\n');
  const read = (name: string) => Number(metrics.find((l) => l.startsWith(name + ' '))?.split(' ')[1] ?? NaN);
  await app.close();
  await store.close();
  return {
    mode: maxBatch > 1 ? `micro-batching (max ${maxBatch})` : 'one request per model call',
    concurrency,
    requestsPerSecond: ids.length / seconds,
    p50: median(latencies),
    p95: quantile(latencies, 0.95),
    p99: quantile(latencies, 0.99),
    meanBatch: read('cammsr_model_batch_size_sum') / read('cammsr_model_batch_size_count'),
  };
}

/** Open-loop mode: each rate against a fresh server, micro-batching on and off. */
async function openLoopMode(dir: string, history: () => string[]) {
  const rates = String(args['open-loop']).split(',').map(Number);
  const seconds = (args.seconds as number | undefined) ?? 20;
  const cores = args['server-cores'] as string | undefined;
  const threads = (args.threads as number | undefined) ?? 1;
  const rows: (OpenLoopResult & { mode: string; serverCpuMsPerRequest: number })[] = [];
  for (const rate of rates)
    for (const maxBatch of [64, 1]) {
      const db = `sqlite:${join(tmp, `open-${rate}-${maxBatch}.db`)}`;
      const server = await startServe(
        ['--bundle', dir, '--db', db, '--max-batch', String(maxBatch), '--threads', String(threads)],
        { cores },
      );
      try {
        const bodies = Array.from({ length: 512 }, () => JSON.stringify({ history: history(), k: 10 }));
        await openLoop(`${server.url}/v1/recommendations`, 50, 2, (i) => bodies[i % bodies.length]); // warm-up
        const cpu0 = server.cpuSeconds();
        const r = await openLoop(
          `${server.url}/v1/recommendations`,
          rate,
          seconds,
          (i) => bodies[i % bodies.length],
        );
        rows.push({
          mode: maxBatch > 1 ? `micro-batching (max ${maxBatch})` : 'one request per model call',
          ...r,
          // Per answered request: a shed 503 costs next to nothing.
          serverCpuMsPerRequest: ((server.cpuSeconds() - cpu0) * 1000) / (r.statuses['200'] ?? NaN),
        });
      } finally {
        await server.stop();
      }
    }
  const fmt = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  console.log(
    `open loop: ${seconds} s per rate, histories of ${HISTORY} items, k 10; server ${cores ? `pinned to core(s) ${cores}` : 'unpinned'}, kernel threads ${threads}`,
  );
  console.log(
    formatTable(
      [
        'mode',
        'target/s',
        'achieved 200/s',
        'p50 ms',
        'p95 ms',
        'p99 ms',
        'max ms',
        'server CPU ms/200',
        'replies',
      ],
      rows.map((r) => [
        r.mode,
        r.targetPerSecond,
        fmt(r.achievedPerSecond),
        fmt(r.p50),
        fmt(r.p95),
        fmt(r.p99),
        fmt(r.max),
        fmt(r.serverCpuMsPerRequest, 2),
        Object.entries(r.statuses)
          .map(([k, v]) => `${k}: ${v}`)
          .join(', '),
      ]),
    ),
  );
  if (args.json)
    console.log(
      JSON.stringify({ mode: 'open-loop', seconds, history: HISTORY, cores, rows, machine: machine() }),
    );
}

async function main() {
  const dir = await bundleDir();
  const b = loadBundle(dir);
  const rng = new Rng(7);
  const catalog = b.catalog.ids();
  const history = () => Array.from({ length: HISTORY }, () => catalog[rng.int(catalog.length)]);
  if (args['open-loop']) return openLoopMode(dir, history);
  const rows: Row[] = [];
  for (const c of CONCURRENCY) {
    for (const maxBatch of [64, 1]) {
      const ids = Array.from({ length: REQUESTS }, history);
      rows.push(await measure(dir, ids, c, maxBatch));
    }
  }

  // What the precomputed item side saves, in-process (no HTTP): median of 200 single requests.
  const rec = new Recommender(b);
  const sample = Array.from({ length: 200 }, history);
  const time = (f: (h: string[]) => void) =>
    median(
      sample.map((h) => {
        const t0 = performance.now();
        f(h);
        return performance.now() - t0;
      }),
    );
  const withTable = time((h) => rec.recommend([{ items: h, k: 10, excludeSeen: true }]));
  const recompute = time((h) =>
    b.model.scoreLast(inferenceBatch([Int32Array.from(h, (id) => b.catalog.indexOf(id)!)], b.model.maxLen)),
  );

  const fmt = (x: number, d = 2) => x.toFixed(d);
  console.log(
    `bundle: ${b.manifest.model} on ${b.manifest.dataset.name} (${b.manifest.dataset.items} items, item vectors of ${b.scorer.dim} values); ${REQUESTS} requests of ${HISTORY} items, k 10, over HTTP on loopback`,
  );
  console.log(
    formatTable(
      ['mode', 'clients', 'req/s', 'p50 ms', 'p95 ms', 'p99 ms', 'requests per model call'],
      rows.map((r) => [
        r.mode,
        r.concurrency,
        fmt(r.requestsPerSecond, 0),
        fmt(r.p50),
        fmt(r.p95),
        fmt(r.p99),
        fmt(r.meanBatch),
      ]),
    ),
  );
  console.log(
    `\none request in-process: ${fmt(withTable, 3)} ms with the precomputed item table, ${fmt(recompute, 3)} ms recomputing it (model.scoreLast): ${fmt(recompute / withTable)}x`,
  );
  if (args.json)
    console.log(
      JSON.stringify({
        bundle: {
          model: b.manifest.model,
          dataset: b.manifest.dataset.name,
          items: b.manifest.dataset.items,
        },
        requests: REQUESTS,
        history: HISTORY,
        rows,
        singleRequestMs: { precomputed: withTable, recomputed: recompute, ratio: recompute / withTable },
        machine: machine(),
      }),
    );
}

await main();
