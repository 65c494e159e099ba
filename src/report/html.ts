/**
 * A run report as one self-contained HTML file: tables rendered here (readable without
 * scripts), charts drawn in the browser by Apache ECharts, whose minified build is embedded
 * inline with the report's data, so the file opens with no network access.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { configOfModel } from '../config/effective.js';
import { METRICS } from '../config/names.js';
import { VERSION } from '../version.js';
import type { RunReport } from './report-data.js';

const ECHARTS = createRequire(import.meta.url).resolve('echarts/dist/echarts.min.js');

const esc = (s: unknown) =>
  String(s).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
const num = (x: number | undefined | null, d = 4) =>
  x === undefined || x === null || Number.isNaN(x) ? '–' : x.toFixed(d);
/** JSON that is safe inside a <script> element. */
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');

function table(head: string[], rows: (string | number)[][], cls = ''): string {
  return `<table class="${cls}"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map(
      (r) =>
        `<tr>${r.map((c) => `<td>${typeof c === 'number' ? (Number.isInteger(c) ? String(c) : num(c)) : c}</td>`).join('')}</tr>`,
    )
    .join('')}</tbody></table>`;
}

/**
 * Every Δ in the report is the compared run minus the first run, green when the compared run is
 * higher: one convention for every table, stated at the top of the page.
 */
function delta(compared: number, first: number): string {
  const d = compared - first;
  return `<span class="${d >= 0 ? 'up' : 'down'}">${d >= 0 ? '+' : ''}${d.toFixed(4)}</span>`;
}

function metricsSection(runs: RunReport[]): string {
  const rows: (string | number)[][] = [];
  const base = runs[0].metrics;
  for (const r of runs) {
    for (const split of ['test', 'validation'] as const) {
      const m = r.metrics?.[split];
      rows.push([esc(r.name), split, ...METRICS.map((k) => (m ? m[k] : '–'))]);
      if (r !== runs[0] && m && base) {
        rows.push(['', `Δ vs ${esc(runs[0].name)}`, ...METRICS.map((k) => delta(m[k], base[split][k]))]);
      }
    }
  }
  return table(['run', 'split', ...METRICS], rows, 'metrics');
}

/** A breakdown table of the first run, with each compared run's NDCG@10 and its difference. */
function breakdownTable(runs: RunReport[], label: string, key: 'byCategory' | 'byHistoryLength'): string {
  const others = runs.slice(1).map((r) => new Map(r[key].map((b) => [b.label, b.ndcg10])));
  const head = [
    label,
    'cases',
    'NDCG@10',
    'HR@10',
    ...runs.slice(1).flatMap((r) => [`NDCG@10 ${r.name}`, 'Δ']),
  ];
  const rows = runs[0][key].map((b) => [
    esc(b.label),
    b.cases,
    b.ndcg10,
    b.hr10,
    ...others.flatMap((o) => {
      const x = o.get(b.label);
      if (x === undefined) return ['–', '–'];
      return [x, delta(x, b.ndcg10)];
    }),
  ]);
  return table(head, rows, key === 'byCategory' ? 'by-category' : 'by-length');
}

/** What the page's charts read (embedded as JSON). */
function chartData(runs: RunReport[]) {
  const main = runs[0];
  return {
    runs: runs.map((r) => ({
      name: r.name,
      bestEpoch: r.bestEpoch,
      epochs: r.epochs.map((e) => ({
        epoch: e.epoch,
        loss: e.loss,
        ndcg: e.validation?.['NDCG@10'] ?? null,
      })),
    })),
    categoryWeights: main.categoryWeights,
    gates: main.gates,
    byCategory: main.byCategory,
    byHistoryLength: main.byHistoryLength,
    compared: runs
      .slice(1)
      .map((r) => ({ name: r.name, byCategory: r.byCategory, byHistoryLength: r.byHistoryLength })),
  };
}

function datasetTable(d: RunReport['dataset']): string {
  return table(
    [
      'users',
      'items',
      'interactions',
      'avg. length',
      'sparsity',
      'categories',
      'timestamps',
      'modalities',
      'checksum',
    ],
    [
      [
        d.users,
        d.items,
        d.interactions,
        d.averageLength.toFixed(2),
        d.sparsity.toFixed(6),
        d.categories,
        d.timestamps ? 'yes' : 'no',
        esc(
          Object.entries(d.coverage)
            .map(([m, c]) => `${m} ${(100 * c).toFixed(1)}%`)
            .join(', '),
        ),
        `<code>${esc(d.checksum.slice(0, 16))}…</code>`,
      ],
    ],
  );
}

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1180px;padding:0 16px;color:#1d2430}
h1{font-size:22px}h2{font-size:17px;margin-top:32px;border-bottom:1px solid #dde3ea;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0;font-variant-numeric:tabular-nums}
th,td{border:1px solid #dde3ea;padding:3px 8px;text-align:right}th{background:#f3f6f9}
td:first-child,th:first-child,td:nth-child(2){text-align:left}
.up{color:#137333}.down{color:#b3261e}.note{color:#5f6b7a}
.chart{width:100%;height:360px}.tall{height:520px}pre{background:#f6f8fa;padding:10px;overflow:auto;font-size:12px}`;

export function renderReport(runs: RunReport[]): string {
  const main = runs[0];
  const d = main.dataset;
  const data = chartData(runs);
  const stats = datasetTable(d);
  const weightsNote =
    main.categoryWeights.length > 0
      ? ''
      : '<p class="note">This run logged no per-category modality weights (only CAMMSR with category guidance has them).</p>';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>cammsr report: ${esc(main.name)}</title>
<meta name="generator" content="cammsr ${esc(VERSION)}">
<style>
${STYLE}
</style></head><body>
<h1>cammsr report: ${esc(main.name)}</h1>
<p>Model <b>${esc(main.model)}</b> on <b>${esc(d.name)}</b>. Full ranking over all ${d.items} items,
history not masked, ties ranked pessimistically. Best epoch ${main.bestEpoch ?? '–'} of ${main.epochs.length}
(early stopping on validation NDCG@10). Generated by cammsr ${esc(VERSION)}.</p>
${runs.length > 1 ? `<p class="note" id="delta-rule">Every Δ is the compared run minus ${esc(main.name)}: positive (green) where the compared run is higher.</p>` : ''}

<h2 id="metrics">Metrics</h2>
${metricsSection(runs)}

<h2 id="curves">Training curves</h2>
<p class="note">Each loss term per epoch (left axis) and validation NDCG@10 (right axis); the dashed line marks the early-stop point.</p>
<div id="chart-curves" class="chart"></div>
${runs.length > 1 ? '<div id="chart-compare" class="chart"></div>' : ''}

<h2 id="weights">Modality weights per category</h2>
<p class="note">Mean category-guided weight w of each modality over the training positions of the best epoch, for the ${main.categoryWeights.length} most frequent categories (most frequent at the top). Trained by category prediction, w says which modality identifies a category; which modality drives the next-item scores is each tower's share of the score (the explorer shows it per recommendation), and on real catalogs the two can disagree.</p>
${weightsNote}<div id="chart-weights" class="chart tall"></div>
<h2 id="gates">Gate usage per expert</h2>
<div id="chart-gates" class="chart"></div>

<h2 id="breakdown">Where the model wins or loses (${esc(main.split)} split)</h2>
<div id="chart-category" class="chart tall"></div>
${breakdownTable(runs, 'target category', 'byCategory')}
<div id="chart-length" class="chart"></div>
${breakdownTable(runs, 'history length', 'byHistoryLength')}

<h2 id="dataset">Dataset</h2>
${stats}

<h2 id="config">Configuration</h2>
<p class="note">The resolved configuration of the run, without the sections only other models read.</p>
<pre>${esc(JSON.stringify(configOfModel(main.config), null, 2))}</pre>

<script>${readFileSync(ECHARTS, 'utf8').replace(/<\/script/gi, '<\\/script')}</script>
<script id="report-data" type="application/json">${scriptJson(data)}</script>
<script>${CHARTS}</script>
</body></html>
`;
}

/** Browser code: reads #report-data and draws every chart (kept dependency-free apart from ECharts). */
const CHARTS = String.raw`
(function () {
  var D = JSON.parse(document.getElementById('report-data').textContent);
  function chart(id, option) {
    var el = document.getElementById(id);
    if (!el) return;
    var c = echarts.init(el, null, { renderer: 'svg' });
    c.setOption(option);
    window.addEventListener('resize', function () { c.resize(); });
  }
  var main = D.runs[0];
  var epochs = main.epochs.map(function (e) { return e.epoch; });
  var terms = main.epochs.length ? Object.keys(main.epochs[0].loss).filter(function (k) { return k !== 'total'; }) : [];
  var series = terms.map(function (t) {
    return { name: t, type: 'line', showSymbol: false, data: main.epochs.map(function (e) { return e.loss[t]; }) };
  });
  series.push({
    name: 'validation NDCG@10', type: 'line', yAxisIndex: 1, data: main.epochs.map(function (e) { return e.ndcg; }),
    markLine: main.bestEpoch ? { symbol: 'none', lineStyle: { type: 'dashed' }, label: { formatter: 'best epoch ' + main.bestEpoch },
      data: [{ xAxis: String(main.bestEpoch) }] } : undefined
  });
  chart('chart-curves', {
    tooltip: { trigger: 'axis' }, legend: {}, grid: { left: 50, right: 60 },
    xAxis: { type: 'category', name: 'epoch', data: epochs.map(String) },
    yAxis: [{ type: 'value', name: 'loss', scale: true }, { type: 'value', name: 'NDCG@10', scale: true }],
    series: series
  });
  if (D.runs.length > 1) {
    chart('chart-compare', {
      title: { text: 'Validation NDCG@10 of the compared runs', textStyle: { fontSize: 13 } },
      tooltip: { trigger: 'axis' }, legend: { top: 24 }, grid: { top: 60 },
      xAxis: { type: 'value', name: 'epoch', minInterval: 1 }, yAxis: { type: 'value', scale: true },
      series: D.runs.map(function (r) {
        return { name: r.name, type: 'line', showSymbol: false, data: r.epochs.map(function (e) { return [e.epoch, e.ndcg]; }) };
      })
    });
  }
  function heat(id, rows, cols, cell, title) {
    var data = [];
    rows.forEach(function (r, i) { cols.forEach(function (c, j) { data.push([j, i, cell(r, c)]); }); });
    chart(id, {
      title: { text: title, textStyle: { fontSize: 13 } },
      tooltip: { formatter: function (p) { return rows[p.value[1]].label + ' / ' + cols[p.value[0]] + ': ' + p.value[2].toFixed(3); } },
      grid: { left: 180, top: 40, bottom: 60 },
      xAxis: { type: 'category', data: cols }, yAxis: { type: 'category', data: rows.map(function (r) { return r.label; }), inverse: true, axisLabel: { width: 170, overflow: 'truncate' } },
      visualMap: { min: 0, max: 1, calculable: true, orient: 'horizontal', left: 'center', bottom: 0 },
      series: [{ type: 'heatmap', data: data, label: { show: true, formatter: function (p) { return p.value[2].toFixed(2); } } }]
    });
  }
  if (D.categoryWeights.length) {
    var mods = Object.keys(D.categoryWeights[0].weights);
    heat('chart-weights', D.categoryWeights.map(function (c) { return { label: c.category + ' (' + c.positions + ')', w: c.weights }; }),
      mods, function (r, m) { return r.w[m]; }, 'w by category (positions in brackets)');
  }
  var gm = Object.keys(D.gates);
  if (gm.length) {
    var K = D.gates[gm[0]].length, experts = [];
    for (var k = 0; k < K; k++) experts.push('expert ' + (k + 1));
    heat('chart-gates', gm.map(function (m) { return { label: m, g: D.gates[m] }; }), experts,
      function (r, e) { return r.g[experts.indexOf(e)]; }, 'mean gate probability g_m[k]');
  }
  // One run: its NDCG@10 and HR@10 per group. Compared runs: every run's NDCG@10 per group.
  function bars(id, key, title) {
    var rows = D[key], series;
    if (D.compared.length) {
      series = [{ name: main.name, type: 'bar', data: rows.map(function (b) { return b.ndcg10; }) }].concat(D.compared.map(function (c) {
        var by = {};
        c[key].forEach(function (b) { by[b.label] = b.ndcg10; });
        return { name: c.name, type: 'bar', data: rows.map(function (b) { return by[b.label] === undefined ? null : by[b.label]; }) };
      }));
    } else {
      series = [
        { name: 'NDCG@10', type: 'bar', data: rows.map(function (b) { return b.ndcg10; }) },
        { name: 'HR@10', type: 'bar', data: rows.map(function (b) { return b.hr10; }) }
      ];
    }
    chart(id, {
      title: { text: title, textStyle: { fontSize: 13 } }, tooltip: { trigger: 'axis' }, legend: { top: 24 },
      grid: { left: 180, top: 60 },
      yAxis: { type: 'category', inverse: true, axisLabel: { width: 170, overflow: 'truncate' }, data: rows.map(function (b) { return b.label + ' (' + b.cases + ')'; }) },
      xAxis: { type: 'value' },
      series: series
    });
  }
  bars('chart-category', 'byCategory', (D.compared.length ? 'NDCG@10 by' : 'By') + ' the target item\'s category (cases in brackets)');
  bars('chart-length', 'byHistoryLength', (D.compared.length ? 'NDCG@10 by' : 'By') + ' history length in items (cases in brackets)');
})();
`;
