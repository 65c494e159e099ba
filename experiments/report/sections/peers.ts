/**
 * "Peer systems": the multimodal sequential recommenders published beside CAMMSR (MOCA, MMSR), each
 * with its own code's defaults, beside SASRec and CAMMSR on the same protocol, with their cost.
 */
import type { DatasetPlan, VariantPlan } from '../../harness/plan-shape.js';
import { inPlanOf, type ReportContext } from '../context.js';
import { mdTable } from '../markdown.js';
import { medianEpoch } from './cost.js';

const INTRO = [
  "Test set, history not masked (and NDCG@10 with the user's history masked, since models differ in how they rank the items already seen), this project's protocol for every model: leave-one-out by time, full ranking, early stopping on validation NDCG@10.",
  "MOCA runs with its code's defaults (docs/config.md, model presets; d = 128, prefixes with decayed soft targets) and the dataset's dropout like every model; its own protocol differs: sequences in the review file's order rather than by time, early stopping on NDCG@20, batches of 1024. MMSR likewise (d = 128, learning rate 0.002, batches of 128 prefixes, 20 content clusters per modality); its own protocol picks the best epoch on the test set, per metric, with an 80/20 split per user (docs/models.md).",
  "s/epoch = the median epoch (training only); peak RSS of the training process; the runs shared the two cores with one to three others, so these seconds mix each model's cost with the machine's load: docs/performance.md (\"The peers' cost, one model at a time\") times every model's epoch under the same load.",
].join(' ');

const HEADERS = [
  'model',
  'seeds',
  'HR@10',
  'NDCG@10',
  'MRR@10',
  'NDCG@10, history masked',
  's/epoch',
  'epochs',
  'parameters',
  'peak RSS MB',
];

export function peers(ctx: ReportContext): string[] {
  const ran = (ds: DatasetPlan, vs: VariantPlan[]) =>
    vs.some((v) => !ctx.mainNames.includes(v.name) && ctx.cell(ds, v).runs.length > 0);
  const vs = ctx.variantsOf('peers');
  if (vs.length && !ctx.plan.datasets.some((ds) => ran(ds, vs)))
    return ['', '## Peer systems (test set)', '', INTRO, '', 'Not run yet.'];
  return ctx.groupSection('peers', 'Peer systems (test set)', INTRO, (ds, mine) =>
    ran(ds, mine)
      ? [
          mdTable(
            HEADERS,
            mine.filter(inPlanOf(ds)).map((v) => peerRow(ctx, ds, v)),
          ),
        ]
      : null,
  );
}

function peerRow(ctx: ReportContext, ds: DatasetPlan, v: VariantPlan): string[] {
  const r = ctx.row(ds, v);
  const runs = r.cell.runs;
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const rss = runs.map((x) => x.experiment?.peakRssMb).filter((x): x is number => typeof x === 'number');
  const cost = runs.length
    ? [
        mean(runs.map(medianEpoch)).toFixed(1),
        mean(runs.map((x) => x.metrics.epochs)).toFixed(1),
        String(Math.round(mean(runs.map((x) => x.metrics.parameters)))),
        rss.length ? mean(rss).toFixed(0) : 'not recorded',
      ]
    : ['', '', '', ''];
  return [
    r.label,
    r.seeds,
    ...['HR@10', 'NDCG@10', 'MRR@10'].map((k) => r.metric((m) => m.test[k])),
    r.metric((m) => m.testMasked['NDCG@10']),
    ...cost,
  ];
}
