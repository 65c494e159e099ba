/**
 * A table: one input file, its columns, and how to scan them in SQL, whatever its format.
 * Each format opens its own way (delimited.ts, json-lines.ts, parquet.ts).
 */
import { DataError } from '../../errors.js';
import { requireFile } from '../text-file.js';
import { openDelimited } from './delimited.js';
import type { Session } from './duckdb.js';
import { openJsonLines } from './json-lines.js';
import { openParquet } from './parquet.js';
import { isGzip, type TableFormat } from './sniff.js';

export interface Scan {
  /** FROM-clause text. */
  from: string;
  /** The column as VARCHAR. */
  text(name: string): string;
  /** The column with its own type (differs from text only for Parquet). */
  typed(name: string): string;
  /** JSON lines: 0 object, 1 blank line, 2 malformed. */
  lineState?: string;
}

/** Where a record is: its line (or row) number and the "file:line" text naming it. */
export interface Place {
  line: number;
  name: string;
}

export interface Table {
  file: string;
  format: TableFormat;
  /** Column name -> DuckDB type name (VARCHAR for CSV, TSV and JSON lines). */
  columns: Map<string, string>;
  scan(names: string[]): Scan;
  /** Name of DuckDB's table of rejected CSV rows, when the format has one. */
  rejects?: string;
  /** "file:line" of record `ord` (DuckDB row number), for many records at once. */
  locate(
    ords: number[],
    rejectLines: number[],
  ): Promise<{ rows: Map<number, Place>; rejects: Map<number, Place> }>;
}

/** Opens a file as a table; `tag` keeps the names of its DuckDB side tables apart. */
export async function openTable(s: Session, file: string, format: TableFormat, tag: string): Promise<Table> {
  requireFile(file, format === 'parquet' ? 'Parquet file' : `${format.toUpperCase()} file`);
  const gz = isGzip(file);
  if (format === 'csv' || format === 'tsv') return openDelimited(file, format, gz, tag);
  if (format === 'jsonl') return openJsonLines(s, file, gz, tag);
  return openParquet(s, file, gz);
}

/** Runs the statement that reads a file; DuckDB's own read errors become DataErrors naming it. */
export async function readInto(s: Session, t: Table, sql: string, stage = 'read'): Promise<void> {
  try {
    await s.run(sql, stage);
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0];
    throw new DataError(`${t.file}: cannot read as ${t.format.toUpperCase()} (${msg})`);
  }
}
