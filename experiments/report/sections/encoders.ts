/** "Feature encoders (test set)": CAMMSR and the sum fusion with each text and image encoder. */
import type { DatasetPlan, VariantPlan } from '../../harness/plan-shape.js';
import { encoderKey, notApplicable } from '../../harness/plan-rules.js';
import { datasetRecordFile, readJson, type DatasetRecord } from '../../harness/results-tree.js';
import type { ReportContext } from '../context.js';
import { mdTable } from '../markdown.js';

const INTRO =
  'CAMMSR (defaults) with each available encoder, and the sum fusion with the default and the larger text features: do better features help CAMMSR more than the simplest fusion?';

export function encoders(ctx: ReportContext): string[] {
  return ctx.groupSection('encoders', 'Feature encoders (test set)', INTRO, (ds, enc) => {
    if (!ctx.tableRows(ds, enc).length) return null;
    const rows = enc
      .filter((v) => !notApplicable(ds, v))
      .map((v) => {
        const r = ctx.row(ds, v);
        return [
          r.label,
          featuresText(ctx, ds, v),
          r.seeds,
          r.metric((m) => m.test['HR@10']),
          r.metric((m) => m.test['NDCG@10']),
          r.metric((m) => m.testMasked['NDCG@10']),
        ];
      });
    return [mdTable(['variant', 'features', 'seeds', 'HR@10', 'NDCG@10', 'NDCG@10 masked'], rows)];
  });
}

/** The features a variant trained on: from its prepared dataset's record, else from the plan. */
function featuresText(ctx: ReportContext, ds: DatasetPlan, v: VariantPlan): string {
  const rec = readJson<DatasetRecord>(datasetRecordFile(ctx.results, ds.name, encoderKey(v)));
  if (rec)
    return (
      Object.entries(rec.encoders)
        .map(([m, e]) => `${m}: ${e.encoder} ${e.dim}-d`)
        .join(', ') || 'ID only'
    );
  return `text ${v.text ?? 'tfidf'}${v.textDim ? ` ${v.textDim}-d` : ''}, image ${ds.images ? (v.image ?? 'pixels') : 'none (no images)'}`;
}
