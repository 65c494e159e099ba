/** The demo's library function on a tiny catalog, and its verdicts derived from the numbers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runDemo, type DemoOutcome } from '../src/train/demo.js';
import {
  DEMO_GROUPS,
  DEMO_METRICS,
  demoJson,
  describeLead,
  describeSpread,
  groupVerdict,
  leadOf,
  renderDemo,
  spreadOf,
  summarizeDemo,
  type DemoGroup,
} from '../src/report/demo-summary.js';
import { collectRunReport } from '../src/report/report-data.js';
import { tempDir } from './temp.js';

const TINY = { users: 160, items: 64, epochs: 1, patience: 1 };

let tiny: Promise<DemoOutcome> | null = null;
/** Two seeds of the three models, two worker processes. */
const tinyDemo = () =>
  (tiny ??= runDemo({ dir: join(tempDir('demo'), 'demo'), size: TINY, seeds: [1, 2], jobs: 2 }));

test('the demo trains every model with every seed and reports warm, cold and all targets', async () => {
  const o = await tinyDemo();
  assert.deepEqual(o.models, ['sasrec', 'fusion-sum', 'cammsr']);
  assert.equal(o.runs.length, 6);
  for (const r of o.runs) assert.ok(existsSync(join(r.dir, 'metrics.json')), r.dir);
  assert.equal(o.workerCpuSeconds.length, 2);
  const s = summarizeDemo(o.runs, o.models);
  assert.deepEqual(
    s.groups.map((g) => g.key),
    DEMO_GROUPS.map((g) => g.key),
  );
  for (const g of s.groups) {
    assert.ok(g.cases > 0, `${g.key}: no test user`);
    assert.deepEqual(
      g.rows.map((r) => r.metric),
      [...DEMO_METRICS],
    );
    for (const r of g.rows)
      for (const m of o.models) assert.equal(r.cells[m]?.values.length, 2, `${g.key} ${r.metric} ${m}`);
  }
  const cold = s.groups.find((g) => g.key === 'cold')!;
  const hr = cold.rows.find((r) => r.metric === 'HR@10')!;
  assert.deepEqual(hr.cells.sasrec!.values, [0, 0]);
  assert.deepEqual(s.coldZeroByConstruction, ['sasrec']);
  const text = renderDemo(o, s, { outChosen: false });
  assert.match(text, /SASRec's cold HR is 0 by construction/);
  assert.match(text, /npx cammsr report --run \S+cammsr\/seed-1 --compare/);
  assert.match(text, /delete it when done/);
  // The report the demo points to opens its runs (content models rank cold targets too).
  for (const r of o.runs.filter((x) => x.seed === 1)) assert.equal(collectRunReport(r.dir).model, r.model);
  const json = JSON.parse(JSON.stringify(demoJson(o, s)));
  assert.equal(json.runs.length, 6);
  assert.equal(json.summary.groups.length, DEMO_GROUPS.length);
});

test('a lead within the seed spread is said to be no clear lead', () => {
  const cells = {
    sasrec: spreadOf([0, 0, 0]),
    'fusion-sum': spreadOf([0.1, 0.3, 0.2]),
    cammsr: spreadOf([0.22, 0.21, 0.23]),
  };
  const lead = leadOf(cells)!;
  assert.equal(lead.leader, 'cammsr');
  assert.deepEqual(lead.runnerUp, ['fusion-sum']);
  assert.ok(Math.abs(lead.gap - 0.02) < 1e-12);
  assert.ok(Math.abs(lead.spread - 0.1) < 1e-12);
  assert.equal(lead.verdict, 'within');
  assert.match(describeSpread(lead), /^no \(spread 0\.1000\): not a clear lead$/);
  const group: DemoGroup = { key: 'cold', title: '', cases: 3, rows: [{ metric: 'HR@10', cells, lead }] };
  assert.match(groupVerdict(group), /never beyond the seed spread: no clear winner/);
});

test('a lead beyond the spread says so, ties and single seeds are named as such', () => {
  const beyond = leadOf({ a: spreadOf([0.3, 0.31]), b: spreadOf([0.1, 0.12]) })!;
  assert.equal(beyond.verdict, 'beyond');
  assert.match(describeSpread(beyond), /^yes/);
  const tie = leadOf({ a: spreadOf([0, 0]), b: spreadOf([0, 0]), c: spreadOf([0, 0]) })!;
  assert.equal(tie.verdict, 'tie');
  assert.deepEqual(tie.runnerUp, ['b', 'c']);
  assert.equal(leadOf({ a: spreadOf([0.3]), b: spreadOf([0.1]) })!.verdict, 'one seed');
  // A hit-rate lead of a small group, in users: one hit of 31 in every seed.
  const single = leadOf({ a: spreadOf([1 / 31, 1 / 31]), b: spreadOf([0, 0]) })!;
  assert.equal(single.verdict, 'beyond');
  assert.equal(describeLead(single, 31), 'a, +0.0323 (1 of 31 users) over b');
  assert.equal(leadOf({ a: spreadOf([0.3]), b: null }), null);
});
