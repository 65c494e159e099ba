/**
 * The interactions file staged inside DuckDB: ids as trimmed text, time as seconds (the time
 * text is kept only when it does not parse), and the report of the records that are not valid.
 */
import { DataError } from '../../errors.js';
import type { SkipReport } from '../../types.js';
import { findColumn, requireColumn } from './column-names.js';
import type { Session } from './duckdb.js';
import type { ImportPlan } from './options.js';
import { collectSkips } from './skips.js';
import { clip, lit } from './sql-text.js';
import { openTable, readInto, type Table } from './table.js';
import { TIME_EXPECTED, timeSql, type TimeUnit } from './time.js';

/** The interactions file and the columns it is read from. */
export interface InteractionsFile {
  table: Table;
  user: string;
  item: string;
  /** Undefined without a time column: then the file order is the chronological order. */
  time?: string;
}

/** The `staged` table: u, i, then t and traw when timed, then st (line state) for JSON lines. */
export interface Staged {
  timed: boolean;
  lineStates: boolean;
  /** SQL that is true for a valid row. */
  valid: string;
}

export async function openInteractions(s: Session, plan: ImportPlan): Promise<InteractionsFile> {
  const table = await openTable(s, plan.interactions, plan.interactionsFormat, 'inter');
  const cols = plan.columns;
  return {
    table,
    user: requireColumn(table, cols.user, ['user_id'], 'user', 'user'),
    item: requireColumn(table, cols.item, ['item_id'], 'item', 'item'),
    time: findColumn(table, cols.time, ['timestamp'], 'time', 'time'),
  };
}

export async function stageInteractions(s: Session, f: InteractionsFile, unit: TimeUnit): Promise<Staged> {
  const { table, user, item, time: timeCol } = f;
  const scan = table.scan([user, item, ...(timeCol ? [timeCol] : [])]);
  const time = timeCol
    ? timeSql(scan.text(timeCol), scan.typed(timeCol), table.columns.get(timeCol) ?? 'VARCHAR', unit)
    : null;
  // Innermost: raw values; middle: seconds; outer: what is stored (time text only when bad).
  const raw =
    `SELECT nullif(trim(${scan.text(user)}), '') AS u, nullif(trim(${scan.text(item)}), '') AS i` +
    (time ? `, ${time.x} AS tx, ${scan.text(timeCol!)} AS traw` : '') +
    (scan.lineState ? `, ${scan.lineState} AS st` : '') +
    ` FROM ${scan.from}`;
  const seconds = time
    ? `SELECT u, i, ${time.t} AS t, traw${scan.lineState ? ', st' : ''} FROM (${raw})`
    : raw;
  await readInto(
    s,
    table,
    `CREATE TEMP TABLE staged AS SELECT u, i` +
      (time ? `, t, CASE WHEN t IS NULL THEN nullif(trim(traw), '') END AS traw` : '') +
      (scan.lineState ? ', st' : '') +
      ` FROM (${seconds})`,
  );
  const valid = `u IS NOT NULL AND i IS NOT NULL${time ? ' AND t IS NOT NULL' : ''}${scan.lineState ? ' AND st = 0' : ''}`;
  return { timed: time !== null, lineStates: !!scan.lineState, valid };
}

/** The staged rows that are not valid, by reason: malformed JSON, a missing id, a missing or bad time. */
export function interactionSkips(
  s: Session,
  f: InteractionsFile,
  staged: Staged,
  unit: TimeUnit,
): Promise<SkipReport> {
  const { timed, lineStates } = staged;
  const reason =
    `CASE ${lineStates ? `WHEN st = 2 THEN 'malformed JSON' ` : ''}` +
    `WHEN u IS NULL THEN 'missing user' WHEN i IS NULL THEN 'missing item' ` +
    (timed ? `WHEN traw IS NULL AND t IS NULL THEN 'missing time' WHEN t IS NULL THEN 'bad time' ` : '') +
    `END`;
  const detail =
    `CASE ${lineStates ? `WHEN st = 2 THEN 'not a valid JSON object' ` : ''}` +
    `WHEN u IS NULL THEN ${lit(`${f.user} is missing or empty`)} ` +
    `WHEN i IS NULL THEN ${lit(`${f.item} is missing or empty`)} ` +
    (timed
      ? `WHEN traw IS NULL AND t IS NULL THEN ${lit(`${f.time} is missing or empty`)} ` +
        `WHEN t IS NULL THEN ${lit(`${f.time} `)} || '"' || ${clip('traw')} || '"' || ` +
        `${lit(` is not ${TIME_EXPECTED[unit]}`)} `
      : '') +
    `END`;
  const blank = lineStates ? 'st = 1' : 'false';
  return collectSkips(s, f.table, 'staged', { valid: staged.valid, reason, detail, blank });
}

/** The error when no record is valid: an empty file, or what was wrong with the records. */
export function noValidInteractions(file: string, r: SkipReport): DataError {
  if (r.records === 0) return new DataError(`${file}: no interactions: the file has no records`);
  const reasons = Object.entries(r.reasons).map(([k, v]) => `${v} ${k}`);
  return new DataError(
    `${file}: no valid interactions (${r.records} records, all skipped: ${reasons.join(', ')}). ` +
      `Examples:\n  ${r.examples.join('\n  ')}`,
  );
}
