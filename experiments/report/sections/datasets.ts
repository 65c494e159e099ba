/** "Datasets": what each offers, each prepared dataset's statistics and checksum, and how it was prepared. */
import type { DatasetPlan, VariantPlan } from '../../harness/plan-shape.js';
import { encoderKey, notApplicable, notAvailable } from '../../harness/plan-rules.js';
import { datasetRecordFile, readJson, type DatasetRecord } from '../../harness/results-tree.js';
import type { ReportContext } from '../context.js';
import { mdTable } from '../markdown.js';

const HEADERS = [
  'prepared dataset',
  'users',
  'items',
  'interactions',
  'avg length',
  'sparsity',
  'categories',
  'modalities (coverage)',
  'checksum',
];

export function datasets(ctx: ReportContext): string[] {
  const L = ['', '## Datasets', ''];
  for (const ds of ctx.plan.datasets) L.push(`- ${ds.name}: ${ds.content}.`);
  const rows: string[][] = [];
  const commands: string[] = [];
  for (const ds of ctx.plan.datasets)
    for (const [key, v] of flavours(ds, ctx.plan.variants)) {
      const rec = readJson<DatasetRecord>(datasetRecordFile(ctx.results, ds.name, key));
      if (!rec) {
        rows.push([`${ds.name}-${key}`, notAvailable(v) ?? 'not prepared yet', ...Array<string>(7).fill('')]);
        continue;
      }
      rows.push(recordRow(rec));
      commands.push(`- ${rec.key}: \`${rec.command}\``);
    }
  L.push('', mdTable(HEADERS, rows));
  if (commands.length) L.push('', 'Prepared with:', '', ...commands);
  const stale = staleRuns(ctx);
  if (stale)
    L.push(
      '',
      `Warning: ${stale} runs were trained on a dataset whose checksum differs from the one recorded above.`,
    );
  return L;
}

/** The prepared flavours (encoderKey) of a dataset the plan's variants need, each with its first variant. */
function flavours(ds: DatasetPlan, variants: readonly VariantPlan[]): Map<string, VariantPlan> {
  const out = new Map<string, VariantPlan>();
  for (const v of variants) if (!notApplicable(ds, v)) out.set(encoderKey(v), out.get(encoderKey(v)) ?? v);
  return out;
}

function recordRow(rec: DatasetRecord): string[] {
  const s = rec.stats;
  const mods = Object.entries(s.coverage)
    .map(([m, c]) =>
      m === 'id'
        ? 'id'
        : `${m} ${rec.encoders[m]?.encoder ?? ''} ${rec.encoders[m]?.dim ?? ''}-d ${(100 * c).toFixed(1)}%`,
    )
    .join(', ');
  return [
    rec.key,
    String(s.users),
    String(s.items),
    String(s.interactions),
    s.averageLength.toFixed(2),
    (100 * s.sparsity).toFixed(2) + '%',
    `${s.categories} (${(100 * s.categoryCoverage).toFixed(1)}% of items)`,
    `${mods}; timestamps ${s.timestamps ? 'yes' : 'no'}`,
    `\`${rec.checksum}\``,
  ];
}

/** Runs trained on a dataset whose checksum differs from the recorded one. */
function staleRuns(ctx: ReportContext): number {
  return ctx.allRuns().filter((r) => {
    const e = r.experiment;
    const rec = e && readJson<DatasetRecord>(datasetRecordFile(ctx.results, e.dataset, e.encoder));
    return rec && rec.checksum !== r.metrics.dataset.checksum;
  }).length;
}
