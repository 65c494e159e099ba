/**
 * `npm run bench:reload`: how long a bundle reload holds up a serving process. The service
 * reloads the bundle N times (POST /v1/admin/reload through inject) while the event loop's delay
 * is recorded (perf_hooks, 1 ms resolution), with the time the event loop was busy (its
 * utilisation: work the serving thread did instead of answering); beside it, the time of a synchronous loadBundle of
 * the same bundle, which is how long a reload stopped every request before loading moved off
 * the event loop.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { formatTable } from '../src/report/table.js';
import { loadBundle } from '../src/serve/bundle.js';
import { buildService } from '../src/serve/service.js';
import { openStore } from '../src/serve/store/open.js';
import { machine, median, parseArgs } from './common.js';

const args = parseArgs(
  process.argv.slice(2),
  {
    command: 'npm run bench:reload --',
    about: 'How long a bundle reload holds up the event loop of a serving process.',
  },
  {
    bundle: ['string', 'the bundle to reload (required)'],
    reloads: ['number', 'reloads to time (default 5)'],
    json: ['flag', 'one JSON object as the last line'],
  },
);
if (!args.bundle) throw new Error('--bundle <folder> is required');
const bundle = String(args.bundle);
const reloads = (args.reloads as number | undefined) ?? 5;
const tmp = mkdtempSync(join(tmpdir(), 'cammsr-bench-reload-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

const store = await openStore(`sqlite:${join(tmp, 'events.db')}`);
const { app } = await buildService({ bundle, store });
const wall: number[] = [];
const stall: number[] = [];
const busy: number[] = [];
const sync: number[] = [];
// Fastify compiles its routes' schemas when it first gets ready: not a reload's cost.
await app.ready();
for (let i = 0; i < reloads; i++) {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const t0 = performance.now();
  const elu = performance.eventLoopUtilization();
  const r = await app.inject({ method: 'POST', url: '/v1/admin/reload' });
  wall.push(performance.now() - t0);
  busy.push(performance.eventLoopUtilization(elu).active);
  h.disable();
  if (r.statusCode !== 200) throw new Error(`reload failed: ${r.body}`);
  stall.push(h.max / 1e6);
}
// Afterwards: the same steps run at once beforehand would have warmed up the reloads' code.
for (let i = 0; i < reloads; i++) {
  const s0 = performance.now();
  loadBundle(bundle);
  sync.push(performance.now() - s0);
}
await app.close();
await store.close();

const result = {
  bundle,
  reloads,
  reloadMsMedian: median(wall),
  longestStallMsMedian: median(stall),
  longestStallMsMax: Math.max(...stall),
  loopBusyMsMedian: median(busy),
  syncLoadMsMedian: median(sync),
  machine: machine(),
};
console.log(
  formatTable(
    [
      'reload (median ms)',
      'longest event-loop stall during it (median / max ms)',
      'event loop busy during it (median ms)',
      'synchronous loadBundle (median ms)',
    ],
    [
      [
        result.reloadMsMedian.toFixed(0),
        `${result.longestStallMsMedian.toFixed(0)} / ${result.longestStallMsMax.toFixed(0)}`,
        result.loopBusyMsMedian.toFixed(0),
        result.syncLoadMsMedian.toFixed(0),
      ],
    ],
  ),
);
if (args.json) console.log(JSON.stringify(result));
