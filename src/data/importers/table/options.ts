/** The options of a table import, and their check before any file is read. */
import { PATH_SEPARATOR } from '../../categories.js';
import { DataError } from '../../errors.js';
import type { RawDataset } from '../../types.js';
import { formatFor, type TableFormat } from './sniff.js';
import { TIME_EXPECTED, type TimeUnit } from './time.js';

export interface CsvColumns {
  /** Default 'user_id'. */
  user?: string;
  /** Default 'item_id'. */
  item?: string;
  /** Default 'timestamp'; without such a column the file order is the chronological order. */
  time?: string;
  /** Item id column of the items file (default 'item_id', else the interactions' item column). */
  itemId?: string;
  /** Default 'title'. */
  title?: string;
  /** Default 'description'. */
  description?: string;
  /** Default 'categories'. */
  categories?: string;
  /** Image file name (relative to imagesDir, else to the items file) or absolute path; default 'image'. */
  image?: string;
}

export interface CsvImportOptions {
  /** CSV, TSV, JSON lines or Parquet; .gz allowed (not for Parquet). Format from the extension. */
  interactions: string;
  interactionsFormat?: TableFormat;
  /** Optional items file, same formats. */
  items?: string;
  itemsFormat?: TableFormat;
  /** Images: base folder of the image column, or (without one) files named `<item id>.jpg` etc. */
  imagesDir?: string;
  name?: string;
  columns?: CsvColumns;
  /**
   * 'auto' (default): numbers above 1e11 are milliseconds, other numbers seconds, strings
   * ISO 8601 (no offset = UTC). The rule applies per value.
   */
  timeUnit?: 'auto' | 's' | 'ms' | 'iso';
  /** Between category labels (default '|'). JSON arrays are taken as lists as they are. */
  categorySeparator?: string;
  /** Within a hierarchical label (default ' > '); any label containing it makes all labels paths. */
  pathSeparator?: string;
  /**
   * 'exact' drops repeated (user, item, time) records (without timestamps: an item repeated
   * right after itself); 'first' keeps each user's earliest interaction with an item; 'none'
   * (default) keeps everything.
   */
  dedupe?: 'exact' | 'first' | 'none';
  /** Minimum interactions per user and per item, applied until stable (default: none). */
  kcore?: { user: number; item: number };
}

/** What the import did besides skipping bad records. */
export interface CsvImportStats {
  /** Valid interactions read (after skips, before dedupe and k-core). */
  valid: number;
  duplicates: number;
  kcoreRemoved: number;
  /** Filtering passes of the k-core (the last one removes nothing). */
  kcoreRounds: number;
  /** Interactions in the result. */
  kept: number;
  /** Items file rows whose id is not in the interactions: ignored, not an error. */
  unknownItems: number;
  /** Items file rows repeating an id seen before (the first row wins). */
  duplicateItems: number;
}

export interface CsvDataset extends RawDataset {
  stats: CsvImportStats;
}

type Kcore = { user: number; item: number };

/** The options with their defaults, checked, and the formats of both files. */
export interface ImportPlan {
  columns: CsvColumns;
  unit: TimeUnit;
  dedupe: 'exact' | 'first' | 'none';
  kcore: Kcore;
  categorySeparator: string;
  pathSeparator: string;
  interactions: string;
  interactionsFormat: TableFormat;
  /** Undefined without an items file. */
  itemsFormat?: TableFormat;
}

export function planImport(opts: CsvImportOptions): ImportPlan {
  const unit = opts.timeUnit ?? 'auto';
  if (!(unit in TIME_EXPECTED))
    throw new DataError(`timeUnit must be auto, s, ms or iso, got ${JSON.stringify(unit)}`);
  const dedupe = opts.dedupe ?? 'none';
  if (!['exact', 'first', 'none'].includes(dedupe)) {
    throw new DataError(`dedupe must be exact, first or none, got ${JSON.stringify(dedupe)}`);
  }
  const kcore = checkKcore(opts.kcore);
  const pathSeparator = opts.pathSeparator ?? PATH_SEPARATOR;
  if (pathSeparator === '') throw new DataError('pathSeparator must not be empty');
  return {
    columns: opts.columns ?? {},
    unit,
    dedupe,
    kcore,
    categorySeparator: opts.categorySeparator ?? '|',
    pathSeparator,
    interactions: opts.interactions,
    interactionsFormat: formatFor(
      opts.interactions,
      opts.interactionsFormat,
      'interactionsFormat (cammsr prepare csv: --input-format)',
    ),
    itemsFormat: opts.items
      ? formatFor(opts.items, opts.itemsFormat, 'itemsFormat (cammsr prepare csv: --items-format)')
      : undefined,
  };
}

function checkKcore(k: Kcore | undefined): Kcore {
  if (!k) return { user: 0, item: 0 };
  for (const [key, v] of Object.entries(k)) {
    if (!Number.isInteger(v) || v < 0)
      throw new DataError(`kcore.${key} must be a non-negative integer, got ${v}`);
  }
  return k;
}
