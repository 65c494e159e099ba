/**
 * "Sampled softmax": SASRec and CAMMSR trained with the sampled softmax beside the same models
 * with the full one, on catalogs where both are affordable: what the sampled loss costs in test
 * accuracy and what it saves in training time.
 */
import type { DatasetPlan, VariantPlan } from '../../harness/plan-shape.js';
import type { ReportContext } from '../context.js';
import { cellText, mdTable, NOT_RUN, pct } from '../markdown.js';
import { medianEpoch } from './cost.js';

const INTRO = [
  'Test set, history not masked; the sampled softmax draws `train.negatives` (1,024) items a step from popularity^0.5 with the logQ correction, and the item table of a parameter is updated only on the rows a step touched (docs/models.md).',
  'Evaluation ranks every item either way. Relative: the sampled mean against the full one.',
  's/epoch = the median epoch (training only); train min = median epoch × epochs run (early stopping included).',
].join(' ');

const HEADERS = ['model', 'seeds', 'HR@10', 'NDCG@10', 'NDCG@10 relative to full', 's/epoch', 'train min'];

/** Each sampled variant's full-softmax counterpart (same model, same options otherwise). */
const FULL_OF: Record<string, string> = { 'sasrec-sampled': 'sasrec', 'cammsr-sampled': 'cammsr' };

export function sampled(ctx: ReportContext): string[] {
  return ctx.groupSection('sampled', 'Sampled softmax (test set)', INTRO, (ds, vs) => {
    const mine = ctx.tableRows(ds, vs);
    return mine.length
      ? [
          mdTable(
            HEADERS,
            mine.map((v) => sampledRow(ctx, ds, v)),
          ),
        ]
      : null;
  });
}

function sampledRow(ctx: ReportContext, ds: DatasetPlan, v: VariantPlan): string[] {
  const c = ctx.cell(ds, v);
  const miss = ctx.absent(ds, v, c);
  if (miss || !c.runs.length) return [v.label, miss ?? NOT_RUN, '', '', '', '', ''];
  const ndcg = c.summary((m) => m.test['NDCG@10']);
  const full = FULL_OF[v.name] ? ctx.variant(FULL_OF[v.name]) : undefined;
  const base = full ? ctx.cell(ds, full).summary((m) => m.test['NDCG@10']) : undefined;
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return [
    v.label,
    ctx.row(ds, v).seeds,
    cellText(c.summary((m) => m.test['HR@10'])),
    cellText(ndcg) + c.marks,
    base && ndcg ? pct((ndcg.mean - base.mean) / base.mean) : '',
    mean(c.runs.map(medianEpoch)).toFixed(1),
    (mean(c.runs.map((r) => medianEpoch(r) * r.metrics.epochs)) / 60).toFixed(1),
  ];
}
