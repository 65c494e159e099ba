/**
 * `npm run bench:reload`: how long a bundle reload holds up a serving process. The service
 * reloads N times (POST /v1/admin/reload through inject) while the event loop's delay is recorded
 * (perf_hooks, 1 ms resolution), with the time the event loop was busy (its utilisation: work the
 * serving thread did instead of answering); beside it, the time of a synchronous loadBundle of
 * the same bundle, which is how long a reload stopped every request before loading moved off the
 * event loop; and the longest stall of the same process left idle as long as a reload, the floor
 * the stalls are read against. Every reload loads a bundle other than the one served: three copies of the bundle
 * that differ in insights.json (a model retrained over the same catalog, as far as loading goes),
 * or with `--new-catalog` in catalog.jsonl too (a title), served in turn.
 */
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { kernels } from '../src/kernels/select.js';
import { formatTable } from '../src/report/table.js';
import { loadBundle, loadBundleItemsAsync } from '../src/serve/bundle.js';
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
    'new-catalog': ['flag', 'each bundle reloaded has another catalog.jsonl (else the same one)'],
    'stored-items': [
      'number',
      'items stored in the event store beforehand, as if added while serving (default 0)',
    ],
    threads: ['number', 'kernel threads (default 1, as cammsr serve)'],
    json: ['flag', 'one JSON object as the last line'],
  },
);
if (!args.bundle) throw new Error('--bundle <folder> is required');
const bundle = String(args.bundle);
const reloads = (args.reloads as number | undefined) ?? 5;
const tmp = mkdtempSync(join(tmpdir(), 'cammsr-bench-reload-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

// As `cammsr serve`: a model worker building a generation with both cores' kernel threads
// would take the serving thread's core too.
kernels().setThreads((args.threads as number | undefined) ?? 1);
const newCatalog = Boolean(args['new-catalog']);
const variants = [0, 1, 2].map((v) => variantOf(bundle, join(tmp, `bundle-${v}`), v, newCatalog));
const store = await openStore(`sqlite:${join(tmp, 'events.db')}`);
const storedItems = (args['stored-items'] as number | undefined) ?? 0;
await storeItems(storedItems);
const { app } = await buildService({ bundle: variants[0], store });
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
  const r = await app.inject({
    method: 'POST',
    url: '/v1/admin/reload',
    payload: { bundle: variants[(i + 1) % 3] },
  });
  wall.push(performance.now() - t0);
  busy.push(performance.eventLoopUtilization(elu).active);
  h.disable();
  if (r.statusCode !== 200) throw new Error(`reload failed: ${r.body}`);
  stall.push(h.max / 1e6);
}
// The same process idle for as long as a reload, measured the same way: the floor a stall is
// read against (timer wake-ups and the machine's own noise, not the reload's).
const idle: number[] = [];
for (let i = 0; i < reloads; i++) {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  await new Promise((r) => setTimeout(r, median(wall)));
  h.disable();
  idle.push(h.max / 1e6);
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
  newCatalog,
  storedItems,
  reloadMsMedian: median(wall),
  longestStallMsMedian: median(stall),
  longestStallMsMax: Math.max(...stall),
  loopBusyMsMedian: median(busy),
  idleStallMsMedian: median(idle),
  idleStallMsMax: Math.max(...idle),
  syncLoadMsMedian: median(sync),
  machine: machine(),
};
console.log(
  formatTable(
    [
      'stored items',
      'reload (median ms)',
      'longest event-loop stall during it (median / max ms)',
      'event loop busy during it (median ms)',
      'longest stall while idle as long (median / max ms)',
      'synchronous loadBundle (median ms)',
    ],
    [
      [
        String(storedItems),
        result.reloadMsMedian.toFixed(0),
        `${result.longestStallMsMedian.toFixed(0)} / ${result.longestStallMsMax.toFixed(0)}`,
        result.loopBusyMsMedian.toFixed(0),
        `${result.idleStallMsMedian.toFixed(0)} / ${result.idleStallMsMax.toFixed(0)}`,
        result.syncLoadMsMedian.toFixed(0),
      ],
    ],
  ),
);
if (args.json) console.log(JSON.stringify(result));

/**
 * Items added while serving, as the store keeps them: a title, and the text vector the bundle's
 * features take (a client's precomputed vector: no encoder needed) when it has text features.
 */
async function storeItems(n: number): Promise<void> {
  const dim = (await loadBundleItemsAsync(bundle)).data.text?.dim;
  for (let i = 0; i < n; i++) {
    const text = dim ? Array.from({ length: dim }, (_, k) => Math.sin(i * 131 + k)) : undefined;
    const content = { title: `stored item ${i}`, ...(text && { vectors: { text } }) };
    await store.saveItem({ id: `stored-${i}`, content, withdrawn: false, updated: i });
  }
}

/**
 * A copy of the bundle whose insights.json (and with `newCatalog` its first catalog title) says
 * which copy it is, with the manifest's checksums to match: another bundle version to load.
 */
function variantOf(from: string, to: string, v: number, newCatalog: boolean): string {
  cpSync(from, to, { recursive: true });
  const manifestPath = join(to, 'bundle.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { files: Record<string, string> };
  const rewrite = (name: string, edit: (text: string) => string) => {
    const text = edit(readFileSync(join(to, name), 'utf8'));
    writeFileSync(join(to, name), text);
    manifest.files[name] = createHash('sha256').update(text).digest('hex');
  };
  rewrite('insights.json', (t) => JSON.stringify({ ...JSON.parse(t), copy: v }));
  if (newCatalog)
    rewrite('catalog.jsonl', (t) => {
      const lines = t.split('\n');
      lines[0] = JSON.stringify({ ...JSON.parse(lines[0]), title: `copy ${v}` });
      return lines.join('\n');
    });
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
  return to;
}
