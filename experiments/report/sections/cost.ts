/** "Cost (main comparison)": time per epoch, epochs, training minutes, parameters and peak RSS of the main models. */
import { median } from '../../../bench/common.js';
import type { DatasetPlan, VariantPlan } from '../../harness/plan-shape.js';
import type { RunRecord } from '../../harness/results-tree.js';
import { inPlanOf, type ReportContext } from '../context.js';
import { mdTable, perDataset } from '../markdown.js';

const HEADERS = [
  'model',
  'seeds',
  's/epoch',
  'epochs',
  'best epoch',
  'stopped early',
  'train min (median epoch × epochs)',
  'parameters',
  'peak RSS MB',
];

const INTRO =
  'Means over seeds. s/epoch = the median epoch of a run (training only, validation excluded); epochs = epochs run (early stopping included); peak RSS of the training process (of its last segment when resumed). These runs used one thread each while two or three other runs shared the two cores, and come from several commits of the engine: they compare models, not engines; docs/performance.md has the speed measurements.';

export function cost(ctx: ReportContext): string[] {
  const main = ctx.variantsOf('main');
  return perDataset(ctx.plan.datasets, 'Cost (main comparison)', INTRO, (ds) => [
    mdTable(
      HEADERS,
      main.filter(inPlanOf(ds)).map((v) => costRow(ctx, ds, v)),
    ),
  ]);
}

/** A run's median epoch seconds: robust to an epoch during which the job was paused. */
export const medianEpoch = (r: RunRecord): number =>
  r.epochSeconds.length ? median(r.epochSeconds) : r.metrics.secondsPerEpoch;

function costRow(ctx: ReportContext, ds: DatasetPlan, v: VariantPlan): string[] {
  const c = ctx.cell(ds, v);
  const miss = ctx.absent(ds, v, c);
  if (miss) return [v.label, miss, ...Array<string>(7).fill('')];
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const ms = c.runs.map((r) => r.metrics);
  const rss = c.runs.map((r) => r.experiment?.peakRssMb).filter((x): x is number => typeof x === 'number');
  return [
    `${v.label}${c.marks}`,
    c.seeds,
    mean(c.runs.map(medianEpoch)).toFixed(1),
    mean(ms.map((m) => m.epochs)).toFixed(1),
    mean(ms.map((m) => m.bestEpoch)).toFixed(1),
    `${ms.filter((m) => m.stoppedEarly).length}/${ms.length}`,
    (mean(c.runs.map((r) => medianEpoch(r) * r.metrics.epochs)) / 60).toFixed(1),
    String(Math.round(mean(ms.map((m) => m.parameters)))),
    rss.length ? mean(rss).toFixed(0) : 'not recorded',
  ];
}
