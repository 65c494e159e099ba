/** `cammsr report`: the data it gathers from a run, and the self-contained HTML it writes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { prepareDataset } from '../src/data/prepare.js';
import { renderReport } from '../src/report/html.js';
import { collectRunReport } from '../src/report/report-data.js';
import { resolveConfig } from '../src/config/index.js';
import { train } from '../src/train/trainer.js';
import { tempDir } from './temp.js';

const root = tempDir('report');
const runs = (async () => {
  const data = join(root, 'synth');
  await prepareDataset({ format: 'synth', out: data, synth: { users: 150, items: 60 }, seed: 6 });
  const out: Record<string, string> = {};
  for (const [model, epochs] of [
    ['cammsr', 3],
    ['sasrec', 2],
  ] as const) {
    out[model] = join(root, model);
    await train({
      data,
      out: out[model],
      config: resolveConfig({
        cli: { model, seed: 2 },
        overrides: [
          'dim=16',
          'ffnDim=32',
          'layers=1',
          'maxLen=12',
          `train.epochs=${epochs}`,
          'train.batchSize=64',
        ],
      }),
    });
  }
  return out as { cammsr: string; sasrec: string };
})();

test('report data: curves, the early-stop point, weights and gates of the best epoch, breakdowns that add up', async () => {
  const { cammsr } = await runs;
  const r = collectRunReport(cammsr);
  const metrics = JSON.parse(readFileSync(join(cammsr, 'metrics.json'), 'utf8'));
  assert.equal(r.model, 'cammsr');
  assert.equal(r.epochs.length, 3);
  assert.equal(r.bestEpoch, metrics.bestEpoch);
  // The curves are the run's log, epoch for epoch.
  const logged = readFileSync(join(cammsr, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    r.epochs.map((e) => [e.epoch, e.loss, e.validation]),
    logged.map((e) => [e.epoch, e.loss, e.validation]),
  );
  // Weights: a distribution over the modalities per category, most frequent category first.
  assert.ok(r.categoryWeights.length > 0);
  for (const c of r.categoryWeights) {
    const sum = Object.values(c.weights).reduce((s, x) => s + x, 0);
    assert.ok(Math.abs(sum - 1) < 1e-6, `${c.category}: weights sum to ${sum}`);
  }
  assert.deepEqual(
    r.categoryWeights.map((c) => c.positions),
    [...r.categoryWeights.map((c) => c.positions)].sort((a, b) => b - a),
  );
  for (const g of Object.values(r.gates)) assert.ok(Math.abs(g.reduce((s, x) => s + x, 0) - 1) < 1e-6);
  // Every test case falls in exactly one history-length bucket, so the buckets' NDCG@10,
  // weighted by their cases, is the run's test NDCG@10 (same checkpoint, same ranking).
  const cases = r.byHistoryLength.reduce((s, b) => s + b.cases, 0);
  assert.equal(cases, r.dataset.split.test);
  const weighted = r.byHistoryLength.reduce((s, b) => s + b.cases * b.ndcg10, 0) / cases;
  assert.ok(Math.abs(weighted - metrics.test['NDCG@10']) < 1e-9);
  assert.ok(r.byCategory.length > 0 && r.byCategory.every((b) => b.cases > 0 && b.ndcg10 <= b.hr10));
  assert.equal(r.dataset.checksum.length, 64);
});

test('the HTML report is self-contained and has every section, with compared runs side by side', async () => {
  const { cammsr, sasrec } = await runs;
  const html = renderReport([collectRunReport(cammsr), collectRunReport(sasrec)]);
  for (const id of ['metrics', 'curves', 'weights', 'gates', 'breakdown', 'dataset', 'config'])
    assert.match(html, new RegExp(`<h2 id="${id}"`), id);
  for (const chart of ['curves', 'compare', 'weights', 'gates', 'category', 'length'])
    assert.match(html, new RegExp(`id="chart-${chart}"`), chart);
  // No network: no external scripts, styles or images; ECharts is inline.
  const markup = html.replace(/(<script\b[^>]*>)[\s\S]*?<\/script>/gi, '$1</script>');
  assert.doesNotMatch(markup, /\b(src|href)\s*=/i);
  assert.match(html, /echarts/);
  assert.match(html, /Δ vs /);
  // The embedded data parses and carries both runs' curves.
  const data = JSON.parse(
    /<script id="report-data" type="application\/json">(.*?)<\/script>/s.exec(html)![1],
  );
  assert.equal(data.runs.length, 2);
  assert.equal(data.compared.length, 1);
  // Breakdown tables put the compared run's NDCG@10 and the difference beside the first run's.
  assert.match(html, /<th>NDCG@10 [^<]*sasrec<\/th><th>Δ<\/th>/);
  // One Δ convention everywhere (compared − first), stated on the page.
  assert.match(html, /Every Δ is the compared run minus [^<]*cammsr:/);
  const row =
    /<table class="by-category">.*?<tbody><tr><td>[^<]*<\/td><td>\d+<\/td><td>([\d.]+)<\/td><td>[\d.]+<\/td><td>([\d.]+)<\/td><td><span[^>]*>([+-][\d.]+)</s.exec(
      html,
    )!;
  assert.ok(row, 'a breakdown row with both runs and a Δ');
  // Cells are rounded to 4 decimals, so the difference of two cells is within 1e-4 of the Δ.
  const close = (d: number, diff: number) => assert.ok(Math.abs(d - diff) <= 1.01e-4, `${d} vs ${diff}`);
  close(Number(row[3]), Number(row[2]) - Number(row[1]));
  const metricDelta = /Δ vs [^<]*cammsr<\/td>(<td>.*?)<\/tr>/.exec(html)!;
  const testRows =
    /<td>[^<]*cammsr<\/td><td>test<\/td>(.*?)<\/tr>.*?<td>[^<]*sasrec<\/td><td>test<\/td>(.*?)<\/tr>/s.exec(
      html,
    )!;
  const cells = (s: string) => [...s.matchAll(/<td>(?:<span[^>]*>)?([+-]?[\d.]+)/g)].map((m) => Number(m[1]));
  const first = cells(testRows[1]);
  const compared = cells(testRows[2]);
  cells(metricDelta[1]).forEach((d, i) => close(d, compared[i] - first[i]));
  assert.equal(data.runs[1].epochs.length, 2);
  assert.ok(data.categoryWeights.length > 0);
  // A run without category weights says so instead of drawing an empty heat map.
  assert.match(renderReport([collectRunReport(sasrec)]), /logged no per-category modality weights/);
});

test('cammsr report writes the file, prints a table and, with --json, one JSON object', async () => {
  const { cammsr, sasrec } = await runs;
  const out = join(root, 'report.html');
  const r = spawnSync(
    process.execPath,
    ['dist/src/cli/main.js', 'report', '--run', cammsr, '--compare', sasrec, '--out', out, '--json'],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0], /run\s+model\s+best epoch/);
  const last = JSON.parse(lines[lines.length - 1]);
  assert.equal(last.runs.length, 2);
  assert.equal(last.bytes, readFileSync(out, 'utf8').length);
  const bad = spawnSync(
    process.execPath,
    ['dist/src/cli/main.js', 'report', '--run', join(root, 'nope'), '--out', out],
    {
      encoding: 'utf8',
    },
  );
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /run directory .*nope does not exist/);
  // A folder that exists but holds no run says so, not that it is missing.
  const empty = spawnSync(process.execPath, ['dist/src/cli/main.js', 'report', '--run', root, '--out', out], {
    encoding: 'utf8',
  });
  assert.notEqual(empty.status, 0);
  assert.match(empty.stderr, /is not a cammsr run: config\.json is missing/);
});
