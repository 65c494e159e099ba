/** "Ablations (CAMMSR, test set)": each ablation's metrics and its NDCG@10 difference from the full model. */
import type { DatasetPlan, VariantPlan } from '../../harness/plan-shape.js';
import type { ReportContext } from '../context.js';
import { mdTable, overridesText, signed } from '../markdown.js';
import type { Summary } from '../statistics.js';

const HEADERS = ['variant', 'overrides', 'seeds', 'HR@10', 'NDCG@10', 'NDCG@10 masked', 'Δ NDCG@10'];

export function ablations(ctx: ReportContext): string[] {
  const full = ctx.variant('cammsr');
  const intro = 'Δ = difference of the mean NDCG@10 from the full model.';
  return ctx.groupSection('ablations', 'Ablations (CAMMSR, test set)', intro, (ds, abl) => {
    const ref = full ? ctx.cell(ds, full).summary((m) => m.test['NDCG@10']) : null;
    const vs = ctx.tableRows(ds, abl);
    return vs.length
      ? [
          mdTable(
            HEADERS,
            vs.map((v) => ablationRow(ctx, ds, v, ref)),
          ),
        ]
      : null;
  });
}

function ablationRow(ctx: ReportContext, ds: DatasetPlan, v: VariantPlan, full: Summary | null): string[] {
  const r = ctx.row(ds, v);
  const nd = r.cell.summary((m) => m.test['NDCG@10']);
  return [
    r.label,
    overridesText(v),
    r.seeds,
    r.metric((m) => m.test['HR@10']),
    r.metric((m) => m.test['NDCG@10']),
    r.metric((m) => m.testMasked['NDCG@10']),
    v.name === 'cammsr' || !nd || !full ? '—' : signed(nd.mean - full.mean),
  ];
}
