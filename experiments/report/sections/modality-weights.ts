/** "Learned modality weights (CAMMSR)": the mean weight of each modality in the last epoch, over seeds. */
import type { DatasetPlan, VariantPlan } from '../../harness/plan-shape.js';
import type { ReportContext } from '../context.js';
import { cellText, mdTable, NOT_RUN, seedsText } from '../markdown.js';
import { summarize } from '../statistics.js';

export function modalityWeights(ctx: ReportContext): string[] {
  const cm = ctx.variant('cammsr');
  if (!cm) return [];
  return [
    '',
    '## Learned modality weights (CAMMSR)',
    '',
    "Mean category-guided weight w_m over the training positions of the last epoch (log.jsonl's last line), averaged over seeds.",
    '',
    mdTable(
      ['dataset', 'seeds', 'id', 'text', 'image'],
      ctx.plan.datasets.map((ds) => weightsRow(ctx, ds, cm)),
    ),
  ];
}

function weightsRow(ctx: ReportContext, ds: DatasetPlan, cm: VariantPlan): string[] {
  const ws = ctx
    .cell(ds, cm)
    .runs.map((r) => r.last?.diagnostics?.modalityWeights)
    .filter((w): w is Record<string, number> => !!w);
  if (!ws.length) return [ds.name, NOT_RUN, '', '', ''];
  const col = (m: string) => {
    const xs = ws.map((w) => w[m]).filter((x) => typeof x === 'number');
    return xs.length ? cellText(summarize(xs)) : '—';
  };
  return [ds.name, seedsText(ws.length, ctx.planned), col('id'), col('text'), col('image')];
}
