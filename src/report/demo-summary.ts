/**
 * The demo's findings (src/train/demo.ts runs it): per target group (warm, cold, all, and cold
 * targets among the new items only), each model's mean ± seed std, which model is ahead on each
 * metric, and whether its lead is beyond the seed spread, by the rule the experiments use
 * (experiments/report/statistics.ts): the gap to the runner-up must exceed the larger of the
 * two seed standard deviations. Every sentence is derived from the numbers.
 */
import { shellWord } from '../data/shell-words.js';
import { meanStd } from '../eval/metrics.js';
import type { TargetBreakdown } from '../eval/evaluate.js';
import type { RunMetrics } from '../train/run-dir.js';
import type { DemoOutcome } from '../train/demo.js';
import { formatTable } from './table.js';

export type DemoGroupKey = 'warm' | 'cold' | 'all' | 'coldAmongCold';

export const DEMO_GROUPS: { key: DemoGroupKey; title: string }[] = [
  { key: 'warm', title: 'Warm targets: the next item was seen in training' },
  { key: 'cold', title: 'Cold targets: the next item is new, ranked against the whole catalog' },
  { key: 'all', title: 'All targets' },
  { key: 'coldAmongCold', title: 'Cold targets ranked among the new items only' },
];

export const DEMO_METRICS = ['HR@10', 'NDCG@10', 'MRR@10'] as const;

export const METRIC_MEANINGS: Record<(typeof DEMO_METRICS)[number], string> = {
  'HR@10': "share of test users whose next item is in the model's top 10",
  'NDCG@10': 'the same hits weighted by position: 1 at rank 1, 1/log2(r+1) at rank r, 0 below 10',
  'MRR@10': 'mean of 1/rank of the next item (0 when it is below rank 10)',
};

const DISPLAY: Record<string, string> = { sasrec: 'SASRec', cammsr: 'CAMMSR' };
export const displayName = (model: string): string => DISPLAY[model] ?? model;

export interface Spread {
  mean: number;
  /** Sample standard deviation over the seeds (0 with one seed). */
  std: number;
  values: number[];
}

/**
 * The leader of a row: `gap` = its mean − the runner-up's, `spread` = the larger of their two
 * seed stds. 'tie': no gap; 'beyond': gap > spread; 'within': gap ≤ spread; 'one seed': no
 * spread to compare with.
 */
export interface Lead {
  leader: string;
  /** The next model down (several when they tie). */
  runnerUp: string[];
  gap: number;
  spread: number;
  verdict: 'tie' | 'beyond' | 'within' | 'one seed';
}

export interface DemoRow {
  metric: string;
  /** null: the model has no value (no target in the group). */
  cells: Record<string, Spread | null>;
  lead: Lead | null;
}

export interface DemoGroup {
  key: DemoGroupKey;
  title: string;
  /** Test users whose target is in the group. */
  cases: number;
  rows: DemoRow[];
}

export interface DemoSummary {
  groups: DemoGroup[];
  /** Models that cannot rank items unseen in training: their cold metrics are 0 by construction. */
  coldZeroByConstruction: string[];
}

/** A run's test metrics of one target group (all = every test target). */
export function groupMetrics(
  m: RunMetrics,
  key: DemoGroupKey,
): { cases: number; metrics: Record<string, number> } {
  const t: TargetBreakdown | undefined = m.targets?.test;
  if (!t) throw new Error('the demo runs use the cold-start protocol: every run has warm and cold targets');
  if (key === 'all') return { cases: t.warm.users + t.cold.users, metrics: m.test };
  return { cases: t[key].users, metrics: t[key].metrics };
}

export function spreadOf(values: number[]): Spread | null {
  return values.length ? { ...meanStd(values), values } : null;
}

/** Who is ahead among the models with values, and by how much against the seed spread. */
export function leadOf(cells: Record<string, Spread | null>): Lead | null {
  const ranked = Object.entries(cells)
    .filter((e): e is [string, Spread] => e[1] !== null)
    .sort((a, b) => b[1].mean - a[1].mean);
  if (ranked.length < 2) return null;
  const [[leader, a], [, b]] = ranked;
  const runnerUp = ranked.slice(1).filter((e) => e[1].mean === b.mean);
  const gap = a.mean - b.mean;
  const spread = Math.max(a.std, b.std);
  const verdict =
    gap === 0
      ? 'tie'
      : Math.min(a.values.length, b.values.length) < 2
        ? 'one seed'
        : gap > spread
          ? 'beyond'
          : 'within';
  return { leader, runnerUp: runnerUp.map((e) => e[0]), gap, spread, verdict };
}

export function summarizeDemo(
  runs: readonly { model: string; metrics: RunMetrics }[],
  models: readonly string[],
): DemoSummary {
  const groups = DEMO_GROUPS.map(({ key, title }): DemoGroup => {
    const rows = DEMO_METRICS.map((metric): DemoRow => {
      const cells = Object.fromEntries(
        models.map((model) => {
          const values = runs
            .filter((r) => r.model === model)
            .map((r) => groupMetrics(r.metrics, key).metrics[metric])
            .filter((v): v is number => v !== undefined);
          return [model, spreadOf(values)];
        }),
      );
      return { metric, cells, lead: leadOf(cells) };
    });
    // The same test users in every run.
    const cases = runs[0] ? groupMetrics(runs[0].metrics, key).cases : 0;
    return { key, title, cases, rows };
  });
  const coldZeroByConstruction = models.filter((model) =>
    runs.some((r) => r.model === model && r.metrics.targets?.test.coldRankable === false),
  );
  return { groups, coldZeroByConstruction };
}

const f4 = (x: number) => x.toFixed(4);

/** "0.1234 ± 0.0056". */
export function formatSpread(s: Spread | null): string {
  return s ? `${f4(s.mean)} ± ${f4(s.std)}` : '–';
}

/**
 * Who is ahead of whom, and by how much: "CAMMSR, +0.0123 over fusion-sum". Given the group's
 * users (hit-rate rows), the gap in users too: "+0.0323 (1 of 31 users)", since a small group's
 * lead may be a single hit.
 */
export function describeLead(lead: Lead | null, users?: number): string {
  if (!lead) return '–';
  const next = lead.runnerUp.map(displayName).join(' and ');
  if (lead.verdict === 'tie') return `${displayName(lead.leader)} and ${next} tie`;
  const inUsers = users ? ` (${Number((lead.gap * users).toFixed(1))} of ${users} users)` : '';
  return `${displayName(lead.leader)}, +${f4(lead.gap)}${inUsers} over ${next}`;
}

/** Whether the lead is beyond the seed spread, plainly either way. */
export function describeSpread(lead: Lead | null): string {
  if (!lead || lead.verdict === 'tie') return '–';
  if (lead.verdict === 'one seed') return 'one seed: no spread';
  return lead.verdict === 'beyond'
    ? `yes (spread ${f4(lead.spread)})`
    : `no (spread ${f4(lead.spread)}): not a clear lead`;
}

function groupTable(g: DemoGroup, models: readonly string[]): string {
  return formatTable(
    ['', ...models.map(displayName), 'ahead', 'beyond the seed spread?'],
    g.rows.map((r) => [
      r.metric,
      ...models.map((m) => formatSpread(r.cells[m])),
      describeLead(r.lead, r.metric.startsWith('HR@') ? g.cases : undefined),
      describeSpread(r.lead),
    ]),
  );
}

/** One sentence per group, over its rows. */
export function groupVerdict(g: DemoGroup): string {
  const leads = g.rows.map((r) => r.lead).filter((l): l is Lead => l !== null && l.verdict !== 'tie');
  if (leads.length === 0) return 'no model is ahead';
  const leaders = [...new Set(leads.map((l) => l.leader))];
  const clear = leads.filter((l) => l.verdict === 'beyond').length;
  const who =
    leaders.length === 1
      ? `${displayName(leaders[0])} is ahead on ${leads.length === g.rows.length ? 'every metric' : `${leads.length} of ${g.rows.length} metrics`}`
      : `the lead is split (${leaders.map(displayName).join(', ')})`;
  const spread =
    clear === leads.length
      ? 'each time beyond the seed spread'
      : clear === 0
        ? 'never beyond the seed spread: no clear winner'
        : `beyond the seed spread on ${clear} of ${leads.length}`;
  return `${who}, ${spread}`;
}

/** The demo's JSON object: the outcome, each run's metrics, the summary and the report command. */
export function demoJson(o: DemoOutcome, s: DemoSummary): Record<string, unknown> {
  return {
    ...o,
    runs: o.runs.map((r) => ({
      model: r.model,
      seed: r.seed,
      dir: r.dir,
      bestEpoch: r.metrics.bestEpoch,
      epochs: r.metrics.epochs,
      validation: r.metrics.validation,
      test: r.metrics.test,
      targets: r.metrics.targets,
    })),
    summary: s,
    reportCommand: reportCommand(o),
  };
}

/** The shell command that opens a report of the first seed's runs, side by side. */
export function reportCommand(o: Pick<DemoOutcome, 'dir' | 'runs' | 'models' | 'seeds'>): string {
  const dirs = [...o.models]
    .reverse()
    .map((m) => o.runs.find((r) => r.model === m && r.seed === o.seeds[0])?.dir)
    .filter((d): d is string => d !== undefined);
  const [first, ...rest] = dirs;
  const compare = rest.length ? ` --compare ${rest.map(shellWord).join(' ')}` : '';
  return `npx cammsr report --run ${shellWord(first)}${compare} --out ${shellWord(`${o.dir}/report.html`)}`;
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** What predicts the next item, from the generator's planted structure. */
export function plantedSentence(driving: Record<string, string>): string {
  const count = (m: string) => Object.values(driving).filter((v) => v === m).length;
  return (
    `In a session the next item shares the previous item's text topic (${count('text')} categories), ` +
    `its image style (${count('image')}), or is a fixed successor that only IDs reveal (${count('id')}).`
  );
}

/** The demo's printed findings, as plain text. */
export function renderDemo(o: DemoOutcome, s: DemoSummary, opts: { outChosen: boolean }): string {
  const d = o.dataset;
  const cold = s.groups.find((g) => g.key === 'cold')!.cases;
  const warm = s.groups.find((g) => g.key === 'warm')!.cases;
  const lines = [
    `Synthetic catalog: ${d.users} users, ${d.items} items in ${d.categories} categories, ${d.interactions} interactions.`,
    `${plantedSentence(o.drivingModality)}`,
    `The newest ${o.coldItems.count} items (${o.coldItems.fraction * 100}%) are held out of training: they are new, known by their content only.`,
    `Models: ${o.models.map(displayName).join(', ')}; seeds ${o.seeds.join(', ')}; up to ${o.size.epochs} epochs each (${o.backend} kernels).`,
    `Test: each user's last item, ranked against all ${d.items} items (${warm} warm targets, ${cold} new).`,
    '',
    ...Object.entries(METRIC_MEANINGS).map(([k, v]) => `${k.padEnd(8)} ${v}`),
    'Values are mean ± standard deviation over the seeds.',
  ];
  for (const g of s.groups) {
    lines.push('', `${g.title} (${g.cases} users)`, groupTable(g, o.models), `→ ${groupVerdict(g)}.`);
    if (g.key === 'cold')
      for (const m of s.coldZeroByConstruction)
        lines.push(
          `${displayName(m)}'s cold HR is 0 by construction: it has no embedding for an item it never saw in training, so every new target is ranked last.`,
        );
  }
  lines.push(
    '',
    'A lead is beyond the seed spread when the gap exceeds the larger standard deviation of the two models.',
    'The spread is training randomness only: the test users are the same in every run, so a group with few',
    'users (the new items) would move more with other users than the spread says.',
    '',
    `Runs kept in ${o.dir} (${megabytes(o.bytes)}${opts.outChosen ? '' : ', a temporary folder: delete it when done, or choose the folder with --out'}).`,
    `Open a report of seed ${o.seeds[0]}'s runs side by side: ${reportCommand(o)}`,
  );
  return lines.join('\n');
}
