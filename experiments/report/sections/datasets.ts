/** "Datasets": what each offers, each prepared dataset's statistics and checksum, and how it was prepared. */
import type { DatasetPlan, VariantPlan } from '../../harness/plan-shape.js';
import { encoderKey, notApplicable, notAvailable } from '../../harness/plan-rules.js';
import {
  datasetRecordFile,
  readJson,
  type DatasetRecord,
  type RunRecord,
} from '../../harness/results-tree.js';
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
      const commit = preparingCommit(ctx, rec);
      const at = [commit && `code of ${commit}`, rec.threads && `CAMMSR_THREADS=${rec.threads}`]
        .filter(Boolean)
        .join(', ');
      commands.push(`- ${rec.key}: \`${rec.command}\`${at ? ` (${at})` : ''}`);
    }
  L.push('', mdTable(HEADERS, rows));
  if (commands.length)
    L.push(
      '',
      'Prepared with (and the commit of the first run on each checksum, which prepared it; later code ' +
        'may compute other features from the same files, so a checksum is reproduced at its commit, and with ' +
        'the threads named where the checksum depended on them):',
      '',
      ...commands,
    );
  const stale = staleRuns(ctx);
  if (stale.length)
    L.push(
      '',
      'Runs trained on a dataset whose checksum differs from the one recorded above (the same command at other code or on other input files):',
      '',
      ...stale,
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

/** The commit that prepared the record's checksum (that of its first run), if known. */
function preparingCommit(ctx: ReportContext, rec: DatasetRecord): string | null {
  return firstCommit(ctx.allRuns().filter((r) => r.metrics.dataset.checksum === rec.checksum));
}

/** Runs trained on a dataset whose checksum differs from the recorded one, a line per dataset checksum. */
function staleRuns(ctx: ReportContext): string[] {
  const groups = new Map<string, { variants: Set<string>; runs: RunRecord[] }>();
  for (const r of ctx.allRuns()) {
    const e = r.experiment;
    const rec = e && readJson<DatasetRecord>(datasetRecordFile(ctx.results, e.dataset, e.encoder));
    if (!e || !rec || rec.checksum === r.metrics.dataset.checksum) continue;
    const key = `${rec.key} \`${r.metrics.dataset.checksum.slice(0, 12)}\``;
    const g = groups.get(key) ?? { variants: new Set<string>(), runs: [] };
    g.variants.add(e.variant);
    g.runs.push(r);
    groups.set(key, g);
  }
  return [...groups].map(([key, g]) => {
    const commit = firstCommit(g.runs);
    const variants = [...g.variants].sort().join(', ');
    return `- ${key}${commit ? ` (code of ${commit})` : ''}: ${g.runs.length} runs of ${variants}`;
  });
}

/** The commit of the earliest finished of these runs: its runner prepared their dataset. */
function firstCommit(runs: RunRecord[]): string | null {
  const first = runs
    .filter((r) => r.experiment?.git)
    .sort((a, b) => a.experiment!.finished.localeCompare(b.experiment!.finished))[0];
  return first ? first.experiment!.git!.commit.slice(0, 12) : null;
}
