/**
 * "New items (cold-start protocol)": warm, cold and all test targets of every model, and the
 * bar: does the validation-selected CAMMSR beat content k-NN and both fusions on cold targets by
 * more than twice the seed std, while its warm targets stay within 2% of the same model
 * trained without ID masking?
 */
import type { TargetBreakdown } from '../../../src/eval/evaluate.js';
import type { RunMetrics } from '../../../src/train/trainer.js';
import type { DatasetPlan, VariantPlan } from '../../harness/plan-shape.js';
import { inPlanOf, type Pick, type ReportContext } from '../context.js';
import { f4, mdTable, pct, signed } from '../markdown.js';
import type { Summary } from '../statistics.js';
import { notApplicable } from '../../harness/plan-rules.js';

const HEADERS = ['model', 'seeds', 'validation: cold', 'all', 'warm', 'cold', 'cold among held-out'];
const INTRO =
  "The newest 10% of items (by first interaction; seeded random without timestamps) are held out of training (`split.coldItems=0.1`); test NDCG@10 of all, warm and cold targets, each ranked against the whole catalog, and of cold targets ranked among the held-out items. ID-only models rank cold targets last by construction. Each content model runs without and with ID masking (`idMask`); the validation split's cold-target NDCG@10 picks one per model, marked ✓ (cold targets are what the option is for; the warm cost is checked against the bar below).";

const target =
  (which: 'warm' | 'cold' | 'coldAmongCold'): Pick =>
  (m: RunMetrics) =>
    (m.targets?.test as TargetBreakdown | undefined)?.[which].metrics['NDCG@10'];
const PICKS: Pick[] = [
  (m) => (m.targets?.validation as TargetBreakdown | undefined)?.cold.metrics['NDCG@10'],
  (m) => m.test['NDCG@10'],
  target('warm'),
  target('cold'),
  target('coldAmongCold'),
];

export function cold(ctx: ReportContext): string[] {
  return ctx.groupSection('cold', 'New items (cold-start protocol)', INTRO, (ds, variants) => {
    // Until a dataset has cold runs its table is left out (the section says what is planned).
    const mine = variants.filter(inPlanOf(ds)).filter((v) => notApplicable(ds, v) === null);
    if (!mine.some((v) => ctx.cell(ds, v).runs.length)) return null;
    const chosen = selected(ctx, ds, mine);
    const rows = mine.map((v) => {
      const r = ctx.row(ds, v);
      return [`${r.label}${chosen.has(v.name) ? ' ✓' : ''}`, r.seeds, ...PICKS.map((p) => r.metric(p))];
    });
    return [mdTable(HEADERS, rows), '', ...bar(ctx, ds, mine, chosen)];
  });
}

/** Per model family, the variant with the best mean validation NDCG@10. */
function selected(ctx: ReportContext, ds: DatasetPlan, vs: VariantPlan[]): Set<string> {
  const best = new Map<string, { name: string; value: number }>();
  for (const v of vs) {
    const s = ctx.cell(ds, v).summary(PICKS[0]);
    const family = v.cold?.family ?? v.name;
    if (s && s.mean > (best.get(family)?.value ?? -Infinity))
      best.set(family, { name: v.name, value: s.mean });
  }
  return new Set([...best.values()].map((b) => b.name));
}

/** The bar is judged within one kind of text features: CAMMSR against the rivals on the same features. */
const BARS = [
  {
    text: 'TF-IDF text',
    ours: ['cammsr', 'cammsr-tuned'],
    rivals: ['content-knn', 'fusion-sum', 'fusion-concat'],
  },
  {
    text: 'BERT text',
    ours: ['cammsr-bert', 'cammsr-tuned-bert'],
    rivals: ['content-knn-bert', 'fusion-sum-bert', 'fusion-concat-bert'],
  },
];

/** The bar in words, from the variants selected on validation. */
function bar(ctx: ReportContext, ds: DatasetPlan, vs: VariantPlan[], chosen: Set<string>): string[] {
  const pick = (families: string[]) =>
    vs.filter((v) => chosen.has(v.name) && families.includes(v.cold?.family ?? ''));
  const summaryOf = (v: VariantPlan, p: Pick) => ctx.cell(ds, v).summary(p);
  const lines: string[] = [];
  for (const b of BARS) {
    const ours = pick(b.ours).sort(
      (x, y) => (summaryOf(y, PICKS[0])?.mean ?? -1) - (summaryOf(x, PICKS[0])?.mean ?? -1),
    )[0];
    const rivals = pick(b.rivals);
    if (!ours || rivals.length === 0) continue;
    const o = summaryOf(ours, PICKS[3]);
    lines.push('', `The bar (${b.text}), with ${ours.label} (selected on validation):`, '');
    for (const r of rivals)
      lines.push(`- cold NDCG@10 against ${r.label}: ${beyond(o, summaryOf(r, PICKS[3]))}`);
    lines.push(`- warm NDCG@10 against the same model without ID masking: ${warmCheck(ctx, ds, vs, ours)}`);
  }
  return lines.length ? lines : ['The bar: not enough runs yet.'];
}

function warmCheck(ctx: ReportContext, ds: DatasetPlan, vs: VariantPlan[], ours: VariantPlan): string {
  if (ours.cold?.idMask === 0) return 'selected without ID masking (nothing to compare)';
  const plain = vs.find((v) => v.cold?.family === ours.cold?.family && v.cold?.idMask === 0);
  const w = ctx.cell(ds, ours).summary(PICKS[2]);
  const w0 = plain ? ctx.cell(ds, plain).summary(PICKS[2]) : null;
  if (!w || !w0) return 'not enough runs';
  // The bar allows a loss of up to 2%; a gain meets it too.
  const change = (w.mean - w0.mean) / w0.mean;
  const verdict =
    change >= 0 ? 'higher: meets the bar' : change >= -0.02 ? 'within 2%' : 'more than 2% lower';
  return `${pct(change)} (${verdict})`;
}

/**
 * "+0.0123 (ahead by more than twice the seed std, 0.0021)", "behind by more than…", "within…",
 * or why it cannot be said.
 */
function beyond(a: Summary | null, b: Summary | null): string {
  if (!a || !b || a.n < 2 || b.n < 2) return 'not enough runs (2 seeds or more on both sides)';
  const d = a.mean - b.mean;
  const t = 2 * Math.max(a.std, b.std);
  const verdict = d > t ? 'ahead by more than' : d < -t ? 'behind by more than' : 'within';
  return `${signed(d)} (${verdict} twice the seed std, ${f4(t)})`;
}
