/**
 * bench:scale --mode bundle: how a bundle grows with the catalog and what loading it costs. For
 * each catalog size the parent generates a log over that many items (uniform items, three events
 * an item, so about 95% of them occur) and, for CAMMSR, an items file (titles and categories:
 * TF-IDF features), prepares it, and writes the bundle of a freshly initialised model (a bundle's
 * size and load cost do not depend on training, and training at a million items is another
 * benchmark's matter). A child process per cell then loads it twice: at once (`loadBundle`, what
 * `cammsr recommend` does) and as the service does (`loadBundleAsync`, a block at a time, the
 * longest event-loop stall measured; first, in the fresh process), builds the recommender (the
 * 8-bit item table from 100,000 items, at once) and answers one request; its peak RSS is the
 * loading process's (two loads).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../src/config/index.js';
import { prepareDataset } from '../src/data/prepare.js';
import { kernels } from '../src/kernels/select.js';
import { formatTable } from '../src/report/table.js';
import { exportBundle, loadBundle, loadBundleAsync } from '../src/serve/bundle.js';
import { readManifest } from '../src/serve/bundle-manifest.js';
import { Recommender } from '../src/serve/recommender.js';
import { RunDir } from '../src/train/run-dir.js';
import { newRunInfo, setup } from '../src/train/trainer.js';
import { generateInteractionsCsv, generateItemsCsv } from './data-gen.js';
import { machine } from './common.js';

type Model = 'sasrec' | 'cammsr';

interface BundleCell {
  bundle: string;
}

interface BundleResult {
  model: Model;
  items: number;
  bundleMb: number;
  weightsMb: number;
  loadSeconds: number;
  loadAsyncSeconds: number;
  longestStallMs: number;
  recommenderSeconds: number;
  firstRequestMs: number;
  peakRssMb: number;
}

/** The child: load the bundle both ways, build the recommender, answer one request. */
export async function bundleChild(
  cell: BundleCell,
): Promise<Omit<BundleResult, 'model' | 'items' | 'bundleMb' | 'weightsMb'>> {
  kernels().setThreads(1);
  // The stepwise load first, in a fresh process (no garbage of an earlier load to collect): the
  // longest gap between event-loop turns while it runs.
  let longest = 0;
  let last = performance.now();
  let loading = true;
  const probe = () => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    if (loading) setImmediate(probe);
  };
  setImmediate(probe);
  let t = performance.now();
  const bundle = await loadBundleAsync(cell.bundle);
  const loadAsyncSeconds = (performance.now() - t) / 1000;
  loading = false;
  t = performance.now();
  loadBundle(cell.bundle);
  const loadSeconds = (performance.now() - t) / 1000;
  t = performance.now();
  const recommender = new Recommender(bundle);
  const recommenderSeconds = (performance.now() - t) / 1000;
  const history = bundle.catalog.ids().slice(0, 5);
  t = performance.now();
  recommender.recommend([{ items: history, k: 10, excludeSeen: true }]);
  const firstRequestMs = performance.now() - t;
  return {
    loadSeconds,
    loadAsyncSeconds,
    longestStallMs: longest,
    recommenderSeconds,
    firstRequestMs,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  };
}

/** A prepared dataset of about `items` items and the bundle of an untrained `model` on it. */
async function makeBundle(dir: string, model: Model, items: number): Promise<string> {
  const csv = join(dir, 'log.csv');
  await generateInteractionsCsv(csv, 3 * items, {
    users: Math.max(10, Math.round(items / 10)),
    items,
    seed: 1,
    itemSkew: 0,
  });
  const content = model === 'cammsr';
  const itemsCsv = join(dir, 'items.csv');
  if (content) await generateItemsCsv(itemsCsv, items, { seed: 1 });
  const data = join(dir, 'data');
  await prepareDataset({
    format: 'csv',
    input: csv,
    out: data,
    text: content ? 'tfidf' : 'none',
    image: 'none',
    ...(content ? { csv: { items: itemsCsv } } : {}),
  });
  // A run directory holding the initialised model as its checkpoint: what export reads.
  const config = resolveConfig({ cli: { model, seed: 1 }, overrides: ['train.softmax=sampled'] });
  const { ds, model: m } = setup(data, config);
  const runDir = join(dir, 'run');
  const run = new RunDir(runDir);
  run.ensureDir();
  run.writeConfig(config);
  run.writeInfo({ ...newRunInfo(m, data, ds), status: 'finished' });
  run.startLog();
  run.saveCheckpoint('best', m, { epoch: '0' });
  const bundle = join(dir, 'bundle');
  exportBundle(runDir, bundle);
  return bundle;
}

const mb = (bytes: number) => bytes / (1 << 20);
const folderBytes = (dir: string): number =>
  readdirSync(dir).reduce((s, f) => {
    const st = statSync(join(dir, f));
    return s + (st.isDirectory() ? folderBytes(join(dir, f)) : st.size);
  }, 0);

/** The parent: one cell per model and catalog size, each loaded in a child; a table (and JSON). */
export async function bundleMode(o: {
  models: Model[];
  items: number[];
  json: boolean;
  script: string;
}): Promise<void> {
  const results: BundleResult[] = [];
  for (const model of o.models)
    for (const items of o.items) {
      const dir = mkdtempSync(join(os.tmpdir(), 'cammsr-bundle-'));
      try {
        process.stderr.write(`${model}, ${items.toLocaleString('en')} items: preparing and exporting ...\n`);
        const bundle = await makeBundle(dir, model, items);
        const out = execFileSync(
          process.execPath,
          [o.script, '--mode', 'bundle', '--cell', JSON.stringify({ bundle })],
          { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
        );
        const child = JSON.parse(out.trim().split('\n').pop()!);
        results.push({
          model,
          items: readManifest(bundle).dataset.items,
          bundleMb: mb(folderBytes(bundle)),
          weightsMb: mb(statSync(join(bundle, 'weights.safetensors')).size),
          ...child,
        });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  console.log(
    'bundles of untrained models over generated catalogs; loading in a process of its own, one thread',
  );
  console.log(
    formatTable(
      [
        'model',
        'items',
        'bundle MB',
        'weights MB',
        'load s',
        'stepwise load s',
        'longest stall ms',
        'recommender s',
        'first request ms',
        'peak RSS MB',
      ],
      results.map((r) => [
        r.model,
        r.items.toLocaleString('en'),
        r.bundleMb.toFixed(1),
        r.weightsMb.toFixed(1),
        r.loadSeconds.toFixed(2),
        r.loadAsyncSeconds.toFixed(2),
        r.longestStallMs.toFixed(0),
        r.recommenderSeconds.toFixed(2),
        r.firstRequestMs.toFixed(1),
        r.peakRssMb.toFixed(0),
      ]),
    ),
  );
  if (o.json) console.log(JSON.stringify({ machine: machine(), mode: 'bundle', results }));
}
