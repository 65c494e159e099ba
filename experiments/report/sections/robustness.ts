/** "Robustness to noisy categories": CAMMSR's test NDCG@10 as a growing fraction of items get random categories. */
import type { DatasetPlan, VariantPlan } from '../../harness/plan-shape.js';
import type { ReportContext } from '../context.js';
import { cellText, mdTable, NOT_RUN, pct } from '../markdown.js';

export function robustness(ctx: ReportContext): string[] {
  const rob = ctx.variantsOf('robustness').filter((v) => v.noise !== undefined);
  if (!rob.length) return [];
  rob.sort((a, b) => (a.noise ?? 0) - (b.noise ?? 0));
  const rows = ctx.plan.datasets
    .filter((ds) => ctx.tableRows(ds, rob).length)
    .map((ds) => [ds.name, ...rob.map((v) => noiseCell(ctx, ds, v, rob[0]))]);
  return [
    '',
    '## Robustness to noisy categories (CAMMSR, test NDCG@10)',
    '',
    'A fraction r of the items get random category labels before training (`cammsr.categoryNoise`); the relative change from r = 0 in brackets.',
    '',
    mdTable(['dataset', ...rob.map((v) => `r = ${Math.round(100 * (v.noise ?? 0))}%`)], rows),
  ];
}

/** A noise level's cell: mean ± std, with the relative change from `clean` and any missing seeds in brackets. */
function noiseCell(ctx: ReportContext, ds: DatasetPlan, v: VariantPlan, clean: VariantPlan): string {
  const base = ctx.cell(ds, clean).summary((m) => m.test['NDCG@10']);
  const c = ctx.cell(ds, v);
  const s = c.summary((m) => m.test['NDCG@10']);
  if (!s) return ctx.absent(ds, v, c) ?? NOT_RUN;
  const rel = v !== clean && base ? `, ${pct((s.mean - base.mean) / base.mean)}` : '';
  const seeds = s.n < ctx.planned ? `, ${s.n}/${ctx.planned} seeds` : '';
  return `${cellText(s)}${c.marks}${rel || seeds ? ` (${(rel + seeds).slice(2)})` : ''}`;
}
