/** "Tuning CAMMSR (validation set only)": chosen on validation only, so the tables show nothing else. */
import { plannedSeeds } from '../../harness/plan-rules.js';
import type { ReportContext } from '../context.js';
import { mdTable, NOT_RUN, overridesText } from '../markdown.js';

const INTRO =
  "What was tried to make CAMMSR beat SASRec, within the spec's options. Only validation NDCG@10 (history not masked, the selection metric) is shown: a setting is adopted on validation alone, and the main comparison is then rerun with it.";

export function tuning(ctx: ReportContext): string[] {
  return ctx.groupSection('tuning', 'Tuning CAMMSR (validation set only)', INTRO, (ds, tun) => {
    const planned = tun.filter((v) => plannedSeeds(ctx.plan, ds, v, ['tuning']).length > 0);
    const rows = ctx.tableRows(ds, planned).map((v) => {
      const r = ctx.row(ds, v);
      return [
        r.label,
        overridesText(v),
        r.seeds,
        r.metric((m) => m.selection.value),
        r.metric((m) => m.bestEpoch, 1),
      ];
    });
    if (rows.every((r) => r[3] === NOT_RUN)) return null; // also when no row runs on ds
    return [
      ...(ds.tuning ? [ds.tuning.why, ''] : []),
      mdTable(['variant', 'overrides', 'seeds', 'validation NDCG@10', 'best epoch'], rows),
    ];
  });
}
