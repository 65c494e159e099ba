/**
 * The items file: its columns, its rows checked inside DuckDB, and the metadata of the items
 * the interactions kept, parsed in JS (titles, descriptions, category paths, image paths).
 */
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { ItemRecord, ProgressFn, SkipReport } from '../../types.js';
import { findColumn, requireColumn } from './column-names.js';
import { num, str, type Session } from './duckdb.js';
import { categoryEntries, categoryPaths, plainText } from './item-cells.js';
import type { CsvColumns } from './options.js';
import { collectSkips } from './skips.js';
import type { TableFormat } from './sniff.js';
import { lit } from './sql-text.js';
import { openTable, readInto, type Table } from './table.js';

/** The items file and its columns (only the id column must exist). */
export interface ItemsFile {
  table: Table;
  columns: { id: string; title?: string; description?: string; categories?: string; image?: string };
}

/** What the items file gave: the kept items' records and what was odd about the file. */
export interface ItemMetadata {
  items: Map<string, ItemRecord>;
  /** Whether category labels are hierarchical paths. */
  categoryPaths: boolean;
  unknownItems: number;
  duplicateItems: number;
  skips: SkipReport;
}

interface ItemRow {
  code: number;
  title: string | null;
  description: string | null;
  categories: string | null;
  image: string | null;
}

/** Without an items file: no metadata (a fresh map: images may still be attached to it). */
export function noItemMetadata(): ItemMetadata {
  const skips = { records: 0, skipped: 0, reasons: {}, examples: [] };
  return { items: new Map(), categoryPaths: false, unknownItems: 0, duplicateItems: 0, skips };
}

/** Opens the items file; its id column defaults to the interactions' item column (`itemCol`). */
export async function openItems(
  s: Session,
  file: string,
  format: TableFormat,
  cols: CsvColumns,
  itemCol: string,
): Promise<ItemsFile> {
  const table = await openTable(s, file, format, 'items');
  return {
    table,
    columns: {
      id: requireColumn(table, cols.itemId, ['item_id', itemCol], 'item id', 'itemId'),
      title: findColumn(table, cols.title, ['title'], 'title', 'title'),
      description: findColumn(table, cols.description, ['description'], 'description', 'description'),
      categories: findColumn(table, cols.categories, ['categories'], 'categories', 'categories'),
      image: findColumn(table, cols.image, ['image'], 'image', 'image'),
    },
  };
}

/**
 * Metadata of the items in the dictionary `idict_kept` (`itemIds[code]` names them); rows of
 * other items are counted, not kept, and a repeated id keeps its first row.
 */
export async function readItems(
  s: Session,
  f: ItemsFile,
  itemIds: string[],
  o: { categorySeparator: string; pathSeparator: string; imagesDir?: string },
  progress?: ProgressFn,
): Promise<ItemMetadata> {
  progress?.('items', 0, 1);
  const { skips, okSql } = await stageItems(s, f);
  const unknownItems = await s.count(
    `SELECT count(*) FROM items_raw r WHERE ${okSql} AND NOT EXISTS (SELECT 1 FROM idict d WHERE d.id = r.id)`,
  );
  const duplicateItems = await s.count(
    `SELECT count(*) - count(DISTINCT id) FROM items_raw r WHERE ${okSql} AND EXISTS (SELECT 1 FROM idict d WHERE d.id = r.id)`,
  );
  const found = await s.rows(
    `SELECT k.code, r.title, r.description, r.categories, r.image FROM items_raw r JOIN idict_kept k ON r.id = k.id ` +
      `WHERE ${okSql} QUALIFY row_number() OVER (PARTITION BY r.id ORDER BY r.rowid) = 1`,
  );
  const rows: ItemRow[] = found.map((r) => ({
    code: num(r[0]),
    title: str(r[1]),
    description: str(r[2]),
    categories: str(r[3]),
    image: str(r[4]),
  }));
  const imageBase = o.imagesDir ? resolve(o.imagesDir) : dirname(resolve(f.table.file));
  const { items, paths } = itemRecords(rows, itemIds, o.categorySeparator, o.pathSeparator, imageBase);
  progress?.('items', 1, 1);
  return { items, categoryPaths: paths, unknownItems, duplicateItems, skips };
}

/** Reads the items file into `items_raw` and reports its bad rows; `okSql` selects the good ones. */
async function stageItems(s: Session, f: ItemsFile): Promise<{ skips: SkipReport; okSql: string }> {
  const c = f.columns;
  const wanted = [c.id, c.title, c.description, c.categories, c.image].filter((x): x is string => !!x);
  const sc = f.table.scan([...new Set(wanted)]);
  const textOr = (name: string | undefined): string => (name ? sc.text(name) : 'NULL::VARCHAR');
  await readInto(
    s,
    f.table,
    `CREATE TEMP TABLE items_raw AS SELECT nullif(trim(${sc.text(c.id)}), '') AS id, ` +
      `${textOr(c.title)} AS title, ${textOr(c.description)} AS description, ` +
      `${textOr(c.categories)} AS categories, ${textOr(c.image)} AS image` +
      `${sc.lineState ? `, ${sc.lineState} AS st` : ''} FROM ${sc.from}`,
    'items',
  );
  const skips = await collectSkips(s, f.table, 'items_raw', {
    valid: `id IS NOT NULL${sc.lineState ? ' AND st = 0' : ''}`,
    reason:
      `CASE ${sc.lineState ? `WHEN st = 2 THEN 'malformed JSON' ` : ''}` +
      `WHEN id IS NULL THEN 'item without id' END`,
    detail:
      `CASE ${sc.lineState ? `WHEN st = 2 THEN 'not a valid JSON object' ` : ''}` +
      `WHEN id IS NULL THEN ${lit(`${c.id} is missing or empty`)} END`,
    blank: sc.lineState ? 'st = 1' : 'false',
  });
  return { skips, okSql: `r.id IS NOT NULL${sc.lineState ? ' AND r.st = 0' : ''}` };
}

/** The records of the found rows; labels are paths when any label holds the path separator (or a cell is a list of lists). */
function itemRecords(
  rows: ItemRow[],
  itemIds: string[],
  catSep: string,
  pathSep: string,
  imageBase: string,
): { items: Map<string, ItemRecord>; paths: boolean } {
  const items = new Map<string, ItemRecord>();
  const entries = rows.map((m) => (m.categories === null ? [] : categoryEntries(m.categories, catSep)));
  const paths = entries.some((es) => es.some((e) => Array.isArray(e) || e.includes(pathSep)));
  rows.forEach((m, k) => {
    const rec: ItemRecord = {};
    const title = plainText(m.title);
    if (title !== undefined) rec.title = title;
    const description = plainText(m.description);
    if (description !== undefined) rec.description = description;
    const cats = categoryPaths(entries[k], paths, pathSep);
    if (cats.length) rec.categories = cats;
    const img = m.image?.trim();
    // URLs are not files: images must be downloaded first (features read local files only).
    if (img && !/^[a-z][a-z0-9+.-]*:\/\//i.test(img))
      rec.image = isAbsolute(img) ? img : join(imageBase, img);
    items.set(itemIds[m.code], rec);
  });
  return { items, paths };
}
