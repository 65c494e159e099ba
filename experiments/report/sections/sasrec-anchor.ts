/**
 * Our SASRec against PyTorch's, in the main comparison: against the reference's numbers (the
 * anchor), and against RecBole's SASRec run with this protocol on the same prepared data.
 */
import type { RunMetrics } from '../../../src/train/trainer.js';
import type { DatasetPlan } from '../../harness/plan-shape.js';
import { variantByName } from '../../harness/plan-rules.js';
import { loadTorchParity } from '../../harness/results-tree.js';
import type { ReportContext } from '../context.js';
import { cellText, f4, mdTable, pct } from '../markdown.js';
import { summarize, type Summary } from '../statistics.js';

/** The four test metrics both sides report: label, split, metric. */
const METRICS: [string, 'test' | 'testMasked', string][] = [
  ['HR@10', 'test', 'HR@10'],
  ['NDCG@10', 'test', 'NDCG@10'],
  ['HR@10, history masked', 'testMasked', 'HR@10'],
  ['NDCG@10, history masked', 'testMasked', 'NDCG@10'],
];

/** Our SASRec against the PyTorch reference SASRec's numbers, when the reference has the dataset. */
export function sasrecAnchor(ctx: ReportContext, ds: DatasetPlan): string[] {
  const anchor = ctx.reference.rows.find((r) => r.dataset === ds.name && r.variant === 'sasrec');
  const sasrec = ctx.variant('sasrec');
  if (!anchor || !sasrec) return [];
  const c = ctx.cell(ds, sasrec);
  const reference = [anchor.hr10.mean, anchor.ndcg10.mean, anchor.hr10.masked, anchor.ndcg10.masked];
  const rows = METRICS.map(([label, split, key], i) => {
    const s: Summary | null = c.summary((m: RunMetrics) => m[split][key]);
    const ref = reference[i];
    return [
      label,
      cellText(s),
      ref === null ? '—' : f4(ref),
      s && ref !== null ? pct((s.mean - ref) / ref) : '—',
    ];
  });
  return [
    '',
    `SASRec anchor: our SASRec (${c.runs.length} of ${ctx.planned} seeds) against the PyTorch reference SASRec (${anchor.seeds} seeds):`,
    '',
    mdTable(['test metric', 'ours', 'reference', 'relative gap'], rows),
  ];
}

/** The same protocol in PyTorch on the same prepared data (bench/pytorch/sasrec_train.py), when it was run. */
export function pytorchParity(ctx: ReportContext, ds: DatasetPlan): string[] {
  const parity = loadTorchParity(ctx.results, ds.name);
  if (parity.length === 0) return [];
  const ours = ctx.cell(ds, variantByName(ctx.plan, 'sasrec'));
  const rows = METRICS.map(([label, split, key]) => {
    const a = ours.summary((m) => m[split][key]);
    const b = summarize(parity.map((x) => x.result[split][key]));
    return [label, cellText(a), cellText(b), a && b ? pct((a.mean - b.mean) / b.mean) : '—'];
  });
  return [
    '',
    `The same protocol in PyTorch: \`bench/pytorch/sasrec_train.py\` (RecBole's SASRec, its own training loop and evaluator) on the same prepared interactions, ${parity.length} seed(s); command: \`${parity[0].command}\`. ${parity[0].dataset.note ?? ''}. Where the two agree and both differ from the reference above, the reference's setup differs from this protocol (its data preparation or batching), not our implementation.`,
    '',
    mdTable(
      ['test metric', 'ours (cammsr sasrec)', 'PyTorch, same data and protocol', 'ours vs PyTorch'],
      rows,
    ),
  ];
}
