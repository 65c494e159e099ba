/** `cammsr recommend` as a user runs it: the service's recommender over a run, no export needed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeSafetensors, encodeSafetensors, type NamedArray } from '../src/engine/io/safetensors.js';
import { loadBundle } from '../src/serve/bundle.js';
import { Recommender } from '../src/serve/recommender.js';
import { serveFixture } from './serve-fixture.js';

const fixture = serveFixture('cli-recommend');
const recommend = (...args: string[]) => {
  const r = spawnSync(process.execPath, ['dist/src/cli/main.js', 'recommend', ...args, '--json'], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  // The history first, each item with its title, then the list.
  assert.match(lines[0], /history\s+item\s+title/);
  const list = lines.findIndex((l) => /rank\s+item\s+score\s+title/.test(l));
  assert.ok(list > 1, 'the recommendations follow the history');
  const historyRows = lines.slice(2, list).filter((l) => l.trim() !== '');
  assert.ok(
    historyRows.every((l) => /^\s*\d+\s+\S+\s+\S/.test(l)),
    'each history row has an item and its title',
  );
  return JSON.parse(lines[lines.length - 1]) as {
    history: string[];
    recommendations: { rank: number; item: string; title: string; score: number; categories: string[] }[];
  };
};

test('cammsr recommend lists what the service recommends from the bundle of the same run', async () => {
  const f = await fixture;
  // CAMMSR on a dataset with timestamps: a history without times is scored as the service scores it.
  const history = ['i0003', 'i0010', 'i0011', 'i0012'];
  const [served] = new Recommender(loadBundle(f.bundles.cammsr)).recommend([
    { items: history, k: 7, excludeSeen: true },
  ]);
  const out = recommend('--run', f.runs.cammsr, '--history', history.join(','), '-k', '7');
  assert.deepEqual(out.history, history);
  assert.deepEqual(
    out.recommendations,
    served.items.map((it, r) => ({
      rank: r + 1,
      item: it.item,
      title: it.title ?? '',
      score: it.score,
      categories: it.categories ?? [],
    })),
  );
  assert.ok(out.recommendations.every((r) => !history.includes(r.item)));
});

test('cammsr recommend leaves out items whose score is NaN, as the service does', async () => {
  const f = await fixture;
  // A SASRec run whose best checkpoint has a NaN embedding for one item (not in the history).
  const run = join(f.root, 'run-sasrec-nan');
  cpSync(f.runs.sasrec, run, { recursive: true });
  const checkpoint = join(run, 'best.safetensors');
  const { tensors, metadata } = decodeSafetensors(readFileSync(checkpoint));
  const embedding = tensors.get('item_embedding.weight')!;
  const poisoned = 10;
  const dim = embedding.shape[1];
  embedding.data.fill(NaN, poisoned * dim, (poisoned + 1) * dim);
  writeFileSync(
    checkpoint,
    encodeSafetensors(Object.fromEntries(tensors) as Record<string, NamedArray>, metadata),
  );
  const items = loadBundle(f.bundles.sasrec).catalog.ids();
  const out = recommend(
    '--run',
    run,
    '--history',
    'i0001,i0002',
    '-k',
    String(items.length),
    '--include-seen',
  );
  const listed = out.recommendations.map((r) => r.item);
  assert.equal(listed.length, items.length - 1);
  assert.ok(!listed.includes(items[poisoned - 1]));
  assert.ok(out.recommendations.every((r) => Number.isFinite(r.score)));
});
