/**
 * Generic tables of interactions: CSV, TSV, JSON lines or Parquet (plain or .gz), with an
 * optional items file in any of these formats. Everything row-sized happens inside DuckDB
 * (validation, dictionary codes, dedupe, iterative k-core, sorting), so that tens of millions
 * of rows never become JS objects: JS receives typed columns plus the distinct id strings.
 * The format is called `csv` in the CLI and the API, whichever of these the files are.
 */
import { basename } from 'node:path';
import { mergeSkips } from '../../errors.js';
import type { ProgressFn } from '../../types.js';
import { attachImages } from '../images.js';
import { createDictionaries, keptIdsOfBoth } from './dictionaries.js';
import { Session } from './duckdb.js';
import { fetchInteractions } from './fetch.js';
import { applyKcore, dedupeRows, keepValidRows } from './filters.js';
import { noItemMetadata, openItems, readItems } from './items.js';
import { planImport, type CsvDataset, type CsvImportOptions, type ImportPlan } from './options.js';
import { interactionSkips, noValidInteractions, openInteractions, stageInteractions } from './stage.js';

export type { CsvColumns, CsvDataset, CsvImportOptions, CsvImportStats } from './options.js';
export { formatOf, type TableFormat } from './sniff.js';

/**
 * Imports interactions (and optionally item metadata) from CSV, TSV, JSON lines or Parquet.
 * The interactions come back sorted by user (first appearance), time, then file order.
 */
export async function importCsv(opts: CsvImportOptions, progress?: ProgressFn): Promise<CsvDataset> {
  const plan = planImport(opts);
  const { kcore, dedupe } = plan;
  const s = await Session.open(progress);
  try {
    // Open both files first, so that a wrong column name fails before the long work.
    const inter = await openInteractions(s, plan);
    const catalog =
      opts.items && plan.itemsFormat
        ? await openItems(s, opts.items, plan.itemsFormat, plan.columns, inter.item)
        : undefined;

    const staged = await stageInteractions(s, inter, plan.unit);
    progress?.('validate', 0, 1);
    const interSkips = await interactionSkips(s, inter, staged, plan.unit);
    const valid = await createDictionaries(s, staged.valid);
    if (valid === 0) throw noValidInteractions(plan.interactions, interSkips);
    const prefiltered = (kcore.user > 1 || kcore.item > 1) && dedupe === 'none';
    const validRows = await keepValidRows(s, staged, prefiltered ? kcore : undefined);
    progress?.('validate', 1, 1);

    const deduped = await dedupeRows(s, dedupe, staged.timed, validRows, progress);
    const cored = await applyKcore(s, kcore, { valid, ...deduped, prefiltered }, plan.interactions, progress);
    const kept = await keptIdsOfBoth(s, cored.rows !== valid, progress);
    const interactions = await fetchInteractions(
      s,
      cored.rows,
      staged.timed,
      kept.users,
      kept.items,
      progress,
    );

    const meta = catalog
      ? await readItems(s, catalog, kept.items.ids, { ...plan, imagesDir: opts.imagesDir }, progress)
      : noItemMetadata();
    if (opts.imagesDir && !catalog?.columns.image) attachImages(meta.items, kept.items.ids, opts.imagesDir);
    return {
      name: opts.name ?? defaultName(plan.interactions),
      source: sourceOf(opts, plan),
      interactions,
      items: meta.items,
      categoryPaths: meta.categoryPaths,
      skips: mergeSkips(interSkips, meta.skips),
      stats: {
        valid,
        duplicates: deduped.duplicates,
        kcoreRemoved: cored.removed,
        kcoreRounds: cored.rounds,
        kept: cored.rows,
        unknownItems: meta.unknownItems,
        duplicateItems: meta.duplicateItems,
      },
    };
  } finally {
    s.close();
  }
}

/** The interactions file's name without its extensions. */
function defaultName(file: string): string {
  return basename(file)
    .replace(/(\.gz)?$/i, '')
    .replace(/\.[^.]+$/, '');
}

function sourceOf(opts: CsvImportOptions, plan: ImportPlan): string {
  return (
    `${plan.interactionsFormat}: ${plan.interactions}` +
    (opts.items ? ` + items ${opts.items} (${plan.itemsFormat})` : '') +
    (opts.imagesDir ? ` + images ${opts.imagesDir}` : '')
  );
}
