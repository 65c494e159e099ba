/**
 * Generic tables of interactions: CSV, TSV, JSON lines or Parquet (plain or .gz), with an
 * optional items file in any of these formats. Everything row-sized happens inside DuckDB
 * (validation, dictionary codes, dedupe, iterative k-core, sorting), so that tens of millions
 * of rows never become JS objects: JS receives typed columns plus the distinct id strings.
 *
 * CSV is RFC 4180 (double quotes, "" inside quotes); TSV is the plain IANA form without
 * quoting (titles like `27" monitor` are common in catalogs and would break quoting).
 */
import {
  DuckDBInstance,
  type DuckDBConnection,
  type DuckDBMaterializedResult,
  type DuckDBValue,
} from '@duckdb/node-api';
import { closeSync, createReadStream, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { PATH_SEPARATOR } from '../categories.js';
import { DataError, mergeSkips } from '../errors.js';
import type { InteractionColumns, ItemRecord, ProgressFn, RawDataset, SkipReport } from '../types.js';
import { attachImages } from './images.js';
import { requireFile } from './text-file.js';

export type TableFormat = 'csv' | 'tsv' | 'jsonl' | 'parquet';

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

/** The format implied by the file name, or undefined. */
export function formatOf(file: string): TableFormat | undefined {
  const f = file.toLowerCase().replace(/\.gz$/, '');
  if (f.endsWith('.csv')) return 'csv';
  if (f.endsWith('.tsv') || f.endsWith('.tab')) return 'tsv';
  // Amazon's "*.json.gz" dumps are JSON lines too.
  if (f.endsWith('.jsonl') || f.endsWith('.ndjson') || f.endsWith('.json')) return 'jsonl';
  if (f.endsWith('.parquet') || f.endsWith('.pq')) return 'parquet';
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// SQL text helpers

const lit = (s: string): string => `'${s.replaceAll("'", "''")}'`;
const ident = (s: string): string => `"${s.replaceAll('"', '""')}"`;
const num = (v: DuckDBValue): number => Number(v);
const str = (v: DuckDBValue): string | null => (v === null ? null : String(v));

/** One DuckDB in-memory database per import, spilling to a private temp folder. */
class Session {
  private constructor(
    private readonly instance: DuckDBInstance,
    readonly conn: DuckDBConnection,
    private readonly tmp: string,
    private readonly progress?: ProgressFn,
  ) {}

  static async open(progress?: ProgressFn): Promise<Session> {
    const tmp = mkdtempSync(join(tmpdir(), 'cammsr-duckdb-'));
    let instance: DuckDBInstance | undefined;
    try {
      instance = await DuckDBInstance.create(':memory:', { temp_directory: tmp });
      const s = new Session(instance, await instance.connect(), tmp, progress);
      // Strings without an offset are UTC whatever the machine's zone; rowid is the file order.
      await s.run(`SET TimeZone = 'UTC'`);
      await s.run(`SET preserve_insertion_order = true`);
      await s.run(`SET enable_progress_bar = ${progress ? 'true' : 'false'}`);
      await s.run(`SET enable_progress_bar_print = false`);
      return s;
    } catch (e) {
      instance?.closeSync();
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  /** Runs a statement; with a stage, reports DuckDB's own progress estimate (percent) meanwhile. */
  async run(sql: string, stage?: string): Promise<number> {
    return (await this.query(sql, stage)).rowsChanged;
  }

  /** Runs a query to a materialized result (fetched later chunk by chunk). */
  async query(sql: string, stage?: string): Promise<DuckDBMaterializedResult> {
    const progress = this.progress;
    if (!stage || !progress) return this.conn.run(sql);
    progress(stage, 0, 100);
    const timer = setInterval(() => {
      const p = this.conn.progress.percentage;
      if (p >= 0) progress(stage, Math.min(100, p), 100);
    }, 250);
    try {
      return await this.conn.run(sql);
    } finally {
      clearInterval(timer);
      progress(stage, 100, 100);
    }
  }

  async rows(sql: string): Promise<DuckDBValue[][]> {
    return (await this.conn.runAndReadAll(sql)).getRows();
  }

  async count(sql: string): Promise<number> {
    return num((await this.rows(sql))[0][0]);
  }

  close(): void {
    this.conn.closeSync();
    this.instance.closeSync();
    rmSync(this.tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Reading files: column names, and the physical line of a record

function isGzip(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(2);
    return readSync(fd, b, 0, 2, 0) === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

function openBytes(file: string): Readable {
  const raw = createReadStream(file, { highWaterMark: 1 << 20 });
  return isGzip(file) ? raw.pipe(createGunzip()) : raw;
}

/** The first non-blank record (a quoted CSV field may span lines), decoded, without BOM and CR. */
async function firstRecord(file: string, quoted: boolean): Promise<string | null> {
  let parts: Buffer[] = [];
  let size = 0;
  let inQuotes = false;
  const decode = (): string =>
    Buffer.concat(parts)
      .toString('utf8')
      .replace(/^\uFEFF/, '')
      .replace(/\r$/, '');
  const stream = openBytes(file);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let from = 0;
      for (let k = 0; k < chunk.length; k++) {
        const b = chunk[k];
        if (b === 0x22 && quoted) inQuotes = !inQuotes;
        else if (b === 0x0a && !inQuotes) {
          parts.push(chunk.subarray(from, k));
          const line = decode();
          if (line.trim() !== '') return line;
          parts = [];
          size = 0;
          from = k + 1;
        }
      }
      parts.push(chunk.subarray(from));
      size += chunk.length - from;
      if (size > 16 << 20)
        throw new DataError(`${file}: no line break in the first 16 MB: expected a header line`);
    }
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(`${file}: cannot read (${(e as Error).message})`);
  } finally {
    stream.destroy();
  }
  const last = decode();
  return last.trim() === '' ? null : last;
}

/** Splits one CSV record (RFC 4180 quotes when `quoted`). */
function splitRecord(line: string, delim: string, quoted: boolean): string[] {
  if (!quoted) return line.split(delim);
  const out: string[] = [];
  let cur = '';
  let inQ = false;
  for (let k = 0; k < line.length; k++) {
    const c = line[k];
    if (inQ) {
      if (c !== '"') cur += c;
      else if (line[k + 1] === '"') {
        cur += '"';
        k++;
      } else inQ = false;
    } else if (c === '"') inQ = true;
    else if (c === delim) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/**
 * Physical line numbers of CSV records. DuckDB numbers accepted rows 0, 1, ... (blank lines
 * and rejected rows left out) and reports rejected rows by a line count in which a quoted
 * multi-line record counts once; one streaming pass translates both, up to the last record
 * asked for. Only run when there are examples to show.
 */
async function csvPhysicalLines(
  file: string,
  quoted: boolean,
  rowOrds: number[],
  rejectLines: number[],
): Promise<{ rows: Map<number, number>; rejects: Map<number, number> }> {
  const rows = new Map<number, number>();
  const rejects = new Map<number, number>();
  const wanted = new Set(rowOrds);
  const rejected = new Set(rejectLines);
  const lastOrd = rowOrds.length ? Math.max(...rowOrds) : -1;
  const lastReject = rejectLines.length ? Math.max(...rejectLines) : 0;
  let physical = 1;
  let start = 1;
  let length = 0;
  let inQ = false;
  let logical = 0;
  let ord = 0;
  let header = true;
  const endRecord = (): boolean => {
    logical++;
    if (length > 0) {
      if (header) header = false;
      else if (rejected.has(logical)) rejects.set(logical, start);
      else {
        if (wanted.has(ord)) rows.set(ord, start);
        ord++;
      }
    }
    return ord > lastOrd && logical >= lastReject;
  };
  const stream = openBytes(file);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      for (let k = 0; k < chunk.length; k++) {
        const b = chunk[k];
        if (b === 0x0a) {
          physical++;
          if (inQ) length++;
          else {
            if (endRecord()) return { rows, rejects };
            start = physical;
            length = 0;
          }
        } else if (b === 0x22 && quoted) {
          inQ = !inQ;
          length++;
        } else if (b !== 0x0d) length++;
      }
    }
    if (length > 0) endRecord();
  } finally {
    stream.destroy();
  }
  return { rows, rejects };
}

// ---------------------------------------------------------------------------------------------
// Tables: one input file, its columns, and how to scan them in SQL

interface Scan {
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
interface Place {
  line: number;
  name: string;
}

interface Table {
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

async function openTable(s: Session, file: string, format: TableFormat, tag: string): Promise<Table> {
  requireFile(file, format === 'parquet' ? 'Parquet file' : `${format.toUpperCase()} file`);
  const gz = isGzip(file);
  const compression = gz ? 'gzip' : 'none';
  if (format === 'csv' || format === 'tsv') {
    const quoted = format === 'csv';
    const delim = quoted ? ',' : '\t';
    const head = await firstRecord(file, quoted);
    if (head === null) throw new DataError(`${file} is empty: expected a header line with column names`);
    const names: string[] = [];
    for (const [k, raw] of splitRecord(head, delim, quoted).entries()) {
      let n = raw === '' ? `column${k}` : raw;
      // DuckDB wants distinct names; a repeated header name becomes name_1, name_2, ...
      for (let d = 1; names.includes(n); d++) n = `${raw}_${d}`;
      names.push(n);
    }
    const cols = names.map((n) => `${lit(n)}: 'VARCHAR'`).join(', ');
    const rejects = `cammsr_rejects_${tag}`;
    const from =
      `read_csv(${lit(file)}, delim = ${lit(delim)}, header = true, auto_detect = false, ` +
      `quote = ${quoted ? `'"'` : "''"}, escape = ${quoted ? `'"'` : "''"}, columns = {${cols}}, ` +
      `compression = '${compression}', ignore_errors = true, store_rejects = true, ` +
      `rejects_table = '${rejects}', rejects_scan = '${rejects}_scan')`;
    return {
      file,
      format,
      columns: new Map(names.map((n) => [n, 'VARCHAR'])),
      rejects,
      scan: () => ({ from, text: ident, typed: ident }),
      async locate(ords, rejectLines) {
        const found = await csvPhysicalLines(file, quoted, ords, rejectLines);
        const name = (m: Map<number, number>): Map<number, Place> =>
          new Map([...m].map(([k, line]) => [k, { line, name: `${file}:${line}` }]));
        return { rows: name(found.rows), rejects: name(found.rejects) };
      },
    };
  }
  if (format === 'jsonl') {
    // Lines as single VARCHAR values (no delimiter or quote can occur in valid JSON lines).
    // Blank lines stay as NULL rows, so DuckDB's row number is the line number minus one,
    // except after lines DuckDB rejects (longer than its 2 MB line limit): `locate` shifts.
    const rejects = `cammsr_rejects_${tag}`;
    const lines = (store: boolean): string =>
      `read_csv(${lit(file)}, delim = '\x1f', quote = '', escape = '', header = false, auto_detect = false, ` +
      `strict_mode = false, columns = {'j': 'VARCHAR'}, compression = '${compression}', ignore_errors = true` +
      (store
        ? `, store_rejects = true, rejects_table = '${rejects}', rejects_scan = '${rejects}_scan')`
        : ')');
    let sample: DuckDBValue[][];
    try {
      sample = await s.rows(
        `SELECT json_keys(j) FROM (SELECT TRY(j::JSON) AS j FROM ${lines(false)} WHERE trim(j) <> '' LIMIT 1000) ` +
          `WHERE json_type(j) = 'OBJECT'`,
      );
    } catch (e) {
      throw new DataError(`${file}: cannot read as JSON lines (${(e as Error).message.split('\n')[0]})`);
    }
    if (sample.length === 0) {
      throw new DataError(
        `${file}: no JSON object on its first lines: expected JSON lines, one object per line ` +
          `(a JSON array file must be converted to one object per line)`,
      );
    }
    const columns = new Map<string, string>();
    for (const [keys] of sample) {
      for (const k of (keys as { items: DuckDBValue[] }).items) columns.set(String(k), 'VARCHAR');
    }
    return {
      file,
      format,
      columns,
      rejects,
      scan(names) {
        // One parse per line for all the keys (json_extract_string with a list of paths).
        const paths = names.map((n) => lit(`$."${n.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`));
        const from = `(SELECT j, TRY(json_extract_string(j, [${paths.join(', ')}])) AS x FROM ${lines(true)})`;
        const text = (n: string): string => `x[${names.indexOf(n) + 1}]`;
        return {
          from,
          text,
          typed: text,
          lineState: `CASE WHEN j IS NULL OR trim(j) = '' THEN 1 WHEN x IS NULL THEN 2 ELSE 0 END`,
        };
      },
      async locate(ords, rejectLines) {
        const skipped = (await s.rows(`SELECT DISTINCT line FROM ${rejects} ORDER BY line`)).map((r) =>
          num(r[0]),
        );
        const at = (line: number): Place => ({ line, name: `${file}:${line}` });
        const rows = new Map<number, Place>();
        for (const o of ords) {
          let line = o + 1;
          for (const r of skipped) if (r <= line) line++;
          rows.set(o, at(line));
        }
        return { rows, rejects: new Map(rejectLines.map((l) => [l, at(l)])) };
      },
    };
  }
  if (gz)
    throw new DataError(`${file}: a gzipped Parquet file is not supported (Parquet is compressed inside)`);
  const from = `read_parquet(${lit(file)})`;
  let described: DuckDBValue[][];
  try {
    described = await s.rows(`DESCRIBE SELECT * FROM ${from}`);
  } catch (e) {
    throw new DataError(`${file}: cannot read as Parquet (${(e as Error).message.split('\n')[0]})`);
  }
  const columns = new Map(described.map((r) => [String(r[0]), String(r[1])]));
  return {
    file,
    format,
    columns,
    scan: () => ({
      from,
      typed: ident,
      text: (n) => {
        const t = columns.get(n) ?? 'VARCHAR';
        if (t === 'VARCHAR') return ident(n);
        // Lists and structs as JSON text, so that category arrays survive.
        if (/\[\d*\]$|^(STRUCT|MAP|JSON)/.test(t)) return `to_json(${ident(n)})::VARCHAR`;
        return `CAST(${ident(n)} AS VARCHAR)`;
      },
    }),
    async locate(ords) {
      return {
        rows: new Map(ords.map((o) => [o, { line: o + 1, name: `${file}: row ${o + 1}` }])),
        rejects: new Map(),
      };
    },
  };
}

/** Resolves a column name: the given one must exist; a default may be absent (then undefined). */
function column(
  t: Table,
  given: string | undefined,
  defaults: string[],
  what: string,
  key: string,
): string | undefined {
  const names = [...t.columns.keys()];
  if (given === undefined) return defaults.find((d) => t.columns.has(d));
  if (t.columns.has(given)) return given;
  const near = names.find((n) => n.trim().toLowerCase() === given.trim().toLowerCase());
  let hint = near !== undefined ? ` Did you mean ${JSON.stringify(near)}?` : '';
  if (!near && names.length === 1 && t.format !== 'jsonl' && t.format !== 'parquet') {
    const seps = [
      ['\t', 'tsv'],
      [',', 'csv'],
      [';', null],
    ] as const;
    const sep = seps.find(([c]) => names[0].includes(c));
    if (sep) {
      hint = sep[1]
        ? ` The header has one column containing ${JSON.stringify(sep[0])}: is this a ${sep[1].toUpperCase()} file? Set the format to '${sep[1]}'.`
        : ` The header has one column containing ";": semicolon-separated files are not supported; convert to CSV or TSV.`;
    }
  }
  throw new DataError(
    `${t.file}: no column ${JSON.stringify(given)} (the ${what} column, option columns.${key}); ` +
      `columns in the file: ${names.map((n) => JSON.stringify(n)).join(', ')}.${hint}`,
  );
}

function required(
  t: Table,
  given: string | undefined,
  defaults: string[],
  what: string,
  key: string,
): string {
  const c = column(t, given, defaults, what, key);
  if (c !== undefined) return c;
  column(t, defaults[0], [], what, key); // throws, listing the columns
  return defaults[0];
}

// ---------------------------------------------------------------------------------------------
// Time

const TIME_EXPECTED = {
  auto: 'a number (seconds, or milliseconds above 1e11) or an ISO 8601 date/time',
  s: 'a number of seconds',
  ms: 'a number of milliseconds',
  iso: 'an ISO 8601 date/time',
} as const;

/**
 * Seconds since the epoch in two steps, so that the number cast happens once per row: `x` is
 * computed from the column into `tx`, then `t` from `tx` and the text `traw` (NULL: no parse).
 */
function timeSql(
  text: string,
  typed: string,
  type: string,
  unit: keyof typeof TIME_EXPECTED,
): { x: string; t: string } {
  if (/^(TIMESTAMP|DATE)/.test(type)) return { x: `TRY(epoch(${typed}))`, t: 'tx' };
  const numeric = /^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|FLOAT|DOUBLE|DECIMAL)/.test(type);
  const x =
    unit === 'iso' ? 'NULL::DOUBLE' : numeric ? `CAST(${typed} AS DOUBLE)` : `TRY_CAST(${text} AS DOUBLE)`;
  // TRY: TRY_CAST to TIMESTAMPTZ still throws on years past the timestamp range.
  const iso = 'TRY(epoch(TRY_CAST(traw AS TIMESTAMPTZ)))';
  const t = {
    s: 'CASE WHEN isfinite(tx) THEN tx END',
    ms: 'CASE WHEN isfinite(tx) THEN tx / 1000 END',
    iso,
    auto: `CASE WHEN isfinite(tx) THEN (CASE WHEN tx > 1e11 THEN tx / 1000 ELSE tx END) ELSE ${iso} END`,
  }[unit];
  return { x, t };
}

// ---------------------------------------------------------------------------------------------
// Skips

/**
 * Counts the records of a staged table that are not valid (`validSql`) by reason
 * (`reasonSql`), plus the rows DuckDB rejected while reading, and names a few of each reason
 * with file:line.
 */
async function collectSkips(
  s: Session,
  t: Table,
  staged: string,
  validSql: string,
  reasonSql: string,
  detailSql: string,
  blankSql: string,
  perReason = 3,
): Promise<SkipReport> {
  // One pass for the common case of no bad rows; the reasons only when there are some.
  const [[recordsV, badV]] = await s.rows(
    `SELECT count(*), count(*) FILTER (WHERE NOT (${validSql})) FROM ${staged} WHERE NOT (${blankSql})`,
  );
  const reasons: Record<string, number> = {};
  let examples: DuckDBValue[][] = [];
  if (num(badV) > 0) {
    const bad = `(SELECT rowid AS ord, ${reasonSql} AS reason, ${detailSql} AS detail FROM ${staged} WHERE NOT (${blankSql}) AND NOT (${validSql}))`;
    for (const [r, c] of await s.rows(`SELECT reason, count(*) FROM ${bad} GROUP BY reason`))
      reasons[String(r)] = num(c);
    examples = await s.rows(
      `SELECT ord, reason, detail FROM ${bad} ` +
        `QUALIFY row_number() OVER (PARTITION BY reason ORDER BY ord) <= ${perReason} ORDER BY ord`,
    );
  }
  let rejected: DuckDBValue[][] = [];
  let rejectedCount = 0;
  if (t.rejects) {
    rejectedCount = await s.count(`SELECT count(DISTINCT line) FROM ${t.rejects}`);
    if (rejectedCount > 0) {
      reasons['malformed row'] = rejectedCount;
      rejected = await s.rows(
        `SELECT line, min(error_message) FROM ${t.rejects} GROUP BY line ORDER BY line LIMIT ${perReason}`,
      );
    }
  }
  const where =
    examples.length || rejected.length
      ? await t.locate(
          examples.map((r) => num(r[0])),
          rejected.map((r) => num(r[0])),
        )
      : { rows: new Map<number, Place>(), rejects: new Map<number, Place>() };
  // In file order, whatever the reason.
  const lines: [number, string][] = [
    ...rejected.map((r): [number, string] => {
      const at = where.rejects.get(num(r[0]));
      return [
        at?.line ?? num(r[0]),
        `${at?.name ?? `${t.file}:${num(r[0])}`}: ${String(r[1]).split('\n')[0]} (row left out)`,
      ];
    }),
    ...examples.map((r): [number, string] => {
      const at = where.rows.get(num(r[0]));
      return [at?.line ?? num(r[0]), `${at?.name ?? `${t.file}: record ${num(r[0]) + 1}`}: ${str(r[2])}`];
    }),
  ];
  lines.sort((a, b) => a[0] - b[0]);
  const skipped = Object.values(reasons).reduce((a, b) => a + b, 0);
  return { records: num(recordsV) + rejectedCount, skipped, reasons, examples: lines.map((l) => l[1]) };
}

/** Runs the statement that reads a file; DuckDB's own read errors become DataErrors naming it. */
async function readInto(s: Session, t: Table, sql: string, stage = 'read'): Promise<void> {
  try {
    await s.run(sql, stage);
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0];
    throw new DataError(`${t.file}: cannot read as ${t.format.toUpperCase()} (${msg})`);
  }
}

const clip = (sqlText: string): string =>
  `CASE WHEN length(${sqlText}) > 60 THEN left(${sqlText}, 57) || '...' ELSE ${sqlText} END`;

// ---------------------------------------------------------------------------------------------
// Items

interface ItemRow {
  code: number;
  title: string | null;
  description: string | null;
  categories: string | null;
  image: string | null;
}

/** A JSON array in a text cell (Amazon-style lists), else null. */
function jsonArray(v: string): unknown[] | null {
  if (!v.startsWith('[')) return null;
  try {
    const parsed: unknown = JSON.parse(v);
    return Array.isArray(parsed) ? parsed : null;
  } catch {
    return null;
  }
}

/** Description cells may be JSON arrays of paragraphs (a title like "[2]" stays as it is). */
function plainText(v: string | null): string | undefined {
  if (v === null) return undefined;
  const s = v.trim();
  const strings = jsonArray(s)?.filter((x): x is string => typeof x === 'string');
  const out = strings?.length ? strings.join(' ').trim() : s;
  return out === '' ? undefined : out;
}

/** Labels (strings) and ready-made paths (arrays) of one categories cell. */
function categoryEntries(v: string, sep: string): (string | string[])[] {
  const s = v.trim();
  if (s === '') return [];
  const arr = jsonArray(s);
  if (arr) {
    const out: (string | string[])[] = [];
    for (const e of arr) {
      if (typeof e === 'string' || typeof e === 'number') out.push(String(e));
      else if (Array.isArray(e))
        out.push(e.filter((x) => typeof x === 'string' || typeof x === 'number').map(String));
    }
    return out;
  }
  return sep === '' ? [s] : s.split(sep);
}

function buildCategories(entries: (string | string[])[], paths: boolean, pathSep: string): string[][] {
  const seen = new Set<string>();
  const out: string[][] = [];
  for (const e of entries) {
    const raw = Array.isArray(e) ? e : paths ? e.split(pathSep) : [e];
    const path = raw.map((x) => x.trim()).filter((x) => x !== '');
    const key = path.join('\u0000');
    if (path.length === 0 || seen.has(key)) continue;
    seen.add(key);
    out.push(path);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The importer

function checkKcore(k: { user: number; item: number } | undefined): { user: number; item: number } {
  if (!k) return { user: 0, item: 0 };
  for (const [key, v] of Object.entries(k)) {
    if (!Number.isInteger(v) || v < 0)
      throw new DataError(`kcore.${key} must be a non-negative integer, got ${v}`);
  }
  return k;
}

function formatFor(file: string, given: TableFormat | undefined, option: string): TableFormat {
  if (given) {
    if (!['csv', 'tsv', 'jsonl', 'parquet'].includes(given)) {
      throw new DataError(`${option} must be csv, tsv, jsonl or parquet, got ${JSON.stringify(given)}`);
    }
    return given;
  }
  const f = formatOf(file);
  if (!f) {
    throw new DataError(
      `${file}: cannot tell the format from the name (expected .csv, .tsv, .jsonl, .ndjson, .json or .parquet, ` +
        `optionally .gz); set ${option}`,
    );
  }
  return f;
}

/**
 * Imports interactions (and optionally item metadata) from CSV, TSV, JSON lines or Parquet.
 * The interactions come back sorted by user (first appearance), time, then file order.
 */
export async function importCsv(opts: CsvImportOptions, progress?: ProgressFn): Promise<CsvDataset> {
  const cols = opts.columns ?? {};
  const unit = opts.timeUnit ?? 'auto';
  if (!(unit in TIME_EXPECTED))
    throw new DataError(`timeUnit must be auto, s, ms or iso, got ${JSON.stringify(unit)}`);
  const dedupe = opts.dedupe ?? 'none';
  if (!['exact', 'first', 'none'].includes(dedupe)) {
    throw new DataError(`dedupe must be exact, first or none, got ${JSON.stringify(dedupe)}`);
  }
  const kcore = checkKcore(opts.kcore);
  const catSep = opts.categorySeparator ?? '|';
  const pathSep = opts.pathSeparator ?? PATH_SEPARATOR;
  if (pathSep === '') throw new DataError('pathSeparator must not be empty');
  const interFile = opts.interactions;
  const interFormat = formatFor(interFile, opts.interactionsFormat, 'interactionsFormat');
  const itemsFormat = opts.items ? formatFor(opts.items, opts.itemsFormat, 'itemsFormat') : undefined;

  const s = await Session.open(progress);
  try {
    // Open both files first, so that a wrong column name fails before the long work.
    const inter = await openTable(s, interFile, interFormat, 'inter');
    const userCol = required(inter, cols.user, ['user_id'], 'user', 'user');
    const itemCol = required(inter, cols.item, ['item_id'], 'item', 'item');
    const timeCol = column(inter, cols.time, ['timestamp'], 'time', 'time');
    let itemsTable: Table | undefined;
    let itemCols:
      Record<'id' | 'title' | 'description' | 'categories' | 'image', string | undefined> | undefined;
    if (opts.items && itemsFormat) {
      itemsTable = await openTable(s, opts.items, itemsFormat, 'items');
      itemCols = {
        id: required(itemsTable, cols.itemId, ['item_id', itemCol], 'item id', 'itemId'),
        title: column(itemsTable, cols.title, ['title'], 'title', 'title'),
        description: column(itemsTable, cols.description, ['description'], 'description', 'description'),
        categories: column(itemsTable, cols.categories, ['categories'], 'categories', 'categories'),
        image: column(itemsTable, cols.image, ['image'], 'image', 'image'),
      };
    }

    // 1. Stage: ids as trimmed text, time as seconds; the time text is kept only when bad.
    const names = [userCol, itemCol, ...(timeCol ? [timeCol] : [])];
    const scan = inter.scan(names);
    const time = timeCol
      ? timeSql(scan.text(timeCol), scan.typed(timeCol), inter.columns.get(timeCol) ?? 'VARCHAR', unit)
      : null;
    // Innermost: raw values; middle: seconds; outer: what is stored (time text only when bad).
    const raw =
      `SELECT nullif(trim(${scan.text(userCol)}), '') AS u, nullif(trim(${scan.text(itemCol)}), '') AS i` +
      (time ? `, ${time.x} AS tx, ${scan.text(timeCol!)} AS traw` : '') +
      (scan.lineState ? `, ${scan.lineState} AS st` : '') +
      ` FROM ${scan.from}`;
    const seconds = time
      ? `SELECT u, i, ${time.t} AS t, traw${scan.lineState ? ', st' : ''} FROM (${raw})`
      : raw;
    await readInto(
      s,
      inter,
      `CREATE TEMP TABLE staged AS SELECT u, i` +
        (time ? `, t, CASE WHEN t IS NULL THEN nullif(trim(traw), '') END AS traw` : '') +
        (scan.lineState ? ', st' : '') +
        ` FROM (${seconds})`,
    );

    // 2. Skips.
    progress?.('validate', 0, 1);
    const blank = scan.lineState ? 'st = 1' : 'false';
    const validSql = `u IS NOT NULL AND i IS NOT NULL${time ? ' AND t IS NOT NULL' : ''}${scan.lineState ? ' AND st = 0' : ''}`;
    const reason =
      `CASE ${scan.lineState ? `WHEN st = 2 THEN 'malformed JSON' ` : ''}` +
      `WHEN u IS NULL THEN 'missing user' WHEN i IS NULL THEN 'missing item' ` +
      (time ? `WHEN traw IS NULL AND t IS NULL THEN 'missing time' WHEN t IS NULL THEN 'bad time' ` : '') +
      `END`;
    const detail =
      `CASE ${scan.lineState ? `WHEN st = 2 THEN 'not a valid JSON object' ` : ''}` +
      `WHEN u IS NULL THEN ${lit(`${userCol} is missing or empty`)} ` +
      `WHEN i IS NULL THEN ${lit(`${itemCol} is missing or empty`)} ` +
      (time
        ? `WHEN traw IS NULL AND t IS NULL THEN ${lit(`${timeCol} is missing or empty`)} ` +
          `WHEN t IS NULL THEN ${lit(`${timeCol} `)} || '"' || ${clip('traw')} || '"' || ` +
          `${lit(` is not ${TIME_EXPECTED[unit]}`)} `
        : '') +
      `END`;
    const interSkips = await collectSkips(s, inter, 'staged', validSql, reason, detail, blank);

    // 3. Dictionary codes in order of first appearance, with counts; from here on rows are
    //    integers. Rows of users or items with fewer raw interactions than the k-core asks can
    //    never be in it (dedupe only lowers counts), so the first k-core round is this join.
    for (const [dict, c] of [
      ['udict', 'u'],
      ['idict', 'i'],
    ]) {
      await s.run(
        `CREATE TEMP TABLE ${dict} AS SELECT ${c} AS id, (row_number() OVER (ORDER BY min(rowid)) - 1)::INTEGER AS code, ` +
          `count(*) AS n FROM staged WHERE ${validSql} GROUP BY ${c}`,
      );
    }
    const valid = await s.count('SELECT coalesce(sum(n), 0) FROM udict');
    if (valid === 0) {
      const r = interSkips;
      if (r.records === 0) throw new DataError(`${interFile}: no interactions: the file has no records`);
      const reasons = Object.entries(r.reasons).map(([k, v]) => `${v} ${k}`);
      throw new DataError(
        `${interFile}: no valid interactions (${r.records} records, all skipped: ${reasons.join(', ')}). ` +
          `Examples:\n  ${r.examples.join('\n  ')}`,
      );
    }
    const useKcore = kcore.user > 1 || kcore.item > 1;
    const prefilter = useKcore && dedupe === 'none';
    await s.run(
      `CREATE TEMP TABLE inter AS SELECT du.code AS u, di.code AS i${time ? ', s.t' : ''}, s.rowid AS rn ` +
        `FROM staged s JOIN udict du ON s.u = du.id JOIN idict di ON s.i = di.id WHERE ${validSql}` +
        (prefilter ? ` AND du.n >= ${kcore.user} AND di.n >= ${kcore.item}` : ''),
    );
    await s.run('DROP TABLE staged');
    // (CREATE TABLE AS reports its row count as a result row, not as rowsChanged.)
    let rows = await s.count('SELECT count(*) FROM inter');
    progress?.('validate', 1, 1);

    // 4. Dedupe. Only the surviving row numbers matter: the final sort puts rows back in order.
    let duplicates = 0;
    if (dedupe !== 'none') {
      progress?.('dedupe', 0, 1);
      const before = rows;
      let sql: string;
      if (dedupe === 'exact' && time) sql = 'SELECT u, i, t, min(rn) AS rn FROM inter GROUP BY u, i, t';
      else if (dedupe === 'exact') {
        sql = 'SELECT * FROM inter QUALIFY lag(i) OVER (PARTITION BY u ORDER BY rn) IS DISTINCT FROM i';
      } else if (time) {
        // The earliest (time, then file order) of each (user, item): a struct min is a hash aggregate, no sort.
        sql = `SELECT u, i, m.t AS t, m.rn AS rn FROM (SELECT u, i, min({'t': t, 'rn': rn}) AS m FROM inter GROUP BY u, i)`;
      } else sql = 'SELECT u, i, min(rn) AS rn FROM inter GROUP BY u, i';
      await s.run(`CREATE TEMP TABLE deduped AS ${sql}`);
      rows = await s.count('SELECT count(*) FROM deduped');
      duplicates = before - rows;
      await s.run('DROP TABLE inter');
      await s.run('ALTER TABLE deduped RENAME TO inter');
      progress?.('dedupe', 1, 1);
    }
    const afterDedupe = valid - duplicates;

    // 5. Iterative k-core: each round drops rows of users or items below the thresholds (when
    //    the join removed nothing, every count was already high enough).
    let kcoreRounds = prefilter ? 1 : 0;
    if (useKcore && !(prefilter && rows === valid)) {
      progress?.('kcore', afterDedupe - rows, afterDedupe);
      while (rows > 0) {
        kcoreRounds++;
        const removed = await s.run(
          `DELETE FROM inter WHERE u IN (SELECT u FROM inter GROUP BY u HAVING count(*) < ${kcore.user}) ` +
            `OR i IN (SELECT i FROM inter GROUP BY i HAVING count(*) < ${kcore.item})`,
        );
        rows -= removed;
        progress?.('kcore', afterDedupe - rows, afterDedupe);
        if (removed === 0) break;
      }
      if (rows === 0) {
        throw new DataError(
          `${interFile}: no interactions are left after the ${kcore.user}/${kcore.item} user/item k-core ` +
            `(${valid} valid interactions, ${duplicates} duplicates removed): lower the k-core thresholds`,
        );
      }
    }
    const kcoreRemoved = afterDedupe - rows;

    // 6. Dense codes of what is left, in the original (first appearance) order.
    progress?.('ids', 0, 1);
    const filtered = rows !== valid;
    const dictionary = async (
      dict: string,
      c: string,
    ): Promise<{ ids: string[]; remap: Int32Array | null }> => {
      const keepSql = filtered ? ` WHERE code IN (SELECT DISTINCT ${c} FROM inter)` : '';
      await s.run(
        `CREATE TEMP TABLE ${dict}_kept AS SELECT id, code AS old, (row_number() OVER (ORDER BY code) - 1)::INTEGER AS code ` +
          `FROM ${dict}${keepSql}`,
      );
      const size = await s.count(`SELECT count(*) FROM ${dict}`);
      const ids: string[] = [];
      const remap = filtered ? new Int32Array(size).fill(-1) : null;
      const res = await s.conn.stream(`SELECT old, id FROM ${dict}_kept ORDER BY code`);
      for (;;) {
        const chunk = await res.fetchChunk();
        if (!chunk || chunk.rowCount === 0) break;
        const olds = chunk.getColumnVector(0);
        const texts = chunk.getColumnVector(1);
        for (let r = 0; r < chunk.rowCount; r++) {
          if (remap) remap[olds.getItem(r) as number] = ids.length;
          ids.push(texts.getItem(r) as string);
        }
      }
      return { ids, remap };
    };
    const users = await dictionary('udict', 'u');
    const itemsDict = await dictionary('idict', 'i');

    // 7. Sorted rows, fetched column-wise chunk by chunk into typed arrays.
    const user = new Int32Array(rows);
    const item = new Int32Array(rows);
    const times = time ? new Float64Array(rows) : null;
    // Materialized (not streamed) so that the sort shows as its own stage; 16 bytes a row.
    const res = await s.query(
      `SELECT u, i${time ? ', t' : ''} FROM inter ORDER BY u${time ? ', t' : ''}, rn`,
      'sort',
    );
    let n = 0;
    let reported = 0;
    progress?.('fetch', 0, rows);
    for (;;) {
      const chunk = await res.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      const m = chunk.rowCount;
      if (n + m > rows)
        throw new Error(`importCsv: DuckDB returned more rows than counted (${n + m} > ${rows})`);
      const uv = chunk.getColumnVector(0);
      const iv = chunk.getColumnVector(1);
      const ur = users.remap;
      const ir = itemsDict.remap;
      for (let r = 0; r < m; r++) {
        const u = uv.getItem(r) as number;
        const i = iv.getItem(r) as number;
        user[n + r] = ur ? ur[u] : u;
        item[n + r] = ir ? ir[i] : i;
      }
      if (times) {
        const tv = chunk.getColumnVector(2);
        for (let r = 0; r < m; r++) times[n + r] = tv.getItem(r) as number;
      }
      n += m;
      if (progress && n - reported >= 1 << 20) {
        progress('fetch', n, rows);
        reported = n;
      }
    }
    if (n !== rows) throw new Error(`importCsv: DuckDB returned ${n} rows, expected ${rows}`);
    progress?.('fetch', rows, rows);
    const interactions: InteractionColumns = {
      userIds: users.ids,
      itemIds: itemsDict.ids,
      user,
      item,
      time: times,
    };

    // 8. Item metadata, for the items that are left.
    const items = new Map<string, ItemRecord>();
    let categoryPaths = false;
    let unknownItems = 0;
    let duplicateItems = 0;
    let itemSkips: SkipReport = { records: 0, skipped: 0, reasons: {}, examples: [] };
    if (itemsTable && itemCols) {
      progress?.('items', 0, 1);
      const c = itemCols;
      const wanted = [c.id, c.title, c.description, c.categories, c.image].filter((x): x is string => !!x);
      const sc = itemsTable.scan([...new Set(wanted)]);
      const textOr = (name: string | undefined): string => (name ? sc.text(name) : 'NULL::VARCHAR');
      await readInto(
        s,
        itemsTable,
        `CREATE TEMP TABLE items_raw AS SELECT nullif(trim(${sc.text(c.id!)}), '') AS id, ` +
          `${textOr(c.title)} AS title, ${textOr(c.description)} AS description, ` +
          `${textOr(c.categories)} AS categories, ${textOr(c.image)} AS image` +
          `${sc.lineState ? `, ${sc.lineState} AS st` : ''} FROM ${sc.from}`,
        'items',
      );
      const itemReason =
        `CASE ${sc.lineState ? `WHEN st = 2 THEN 'malformed JSON' ` : ''}` +
        `WHEN id IS NULL THEN 'item without id' END`;
      const itemDetail =
        `CASE ${sc.lineState ? `WHEN st = 2 THEN 'not a valid JSON object' ` : ''}` +
        `WHEN id IS NULL THEN ${lit(`${c.id} is missing or empty`)} END`;
      const itemOk = `id IS NOT NULL${sc.lineState ? ' AND st = 0' : ''}`;
      const itemBlank = sc.lineState ? 'st = 1' : 'false';
      itemSkips = await collectSkips(s, itemsTable, 'items_raw', itemOk, itemReason, itemDetail, itemBlank);
      const okSql = `r.id IS NOT NULL${sc.lineState ? ' AND r.st = 0' : ''}`;
      unknownItems = await s.count(
        `SELECT count(*) FROM items_raw r WHERE ${okSql} AND NOT EXISTS (SELECT 1 FROM idict d WHERE d.id = r.id)`,
      );
      duplicateItems = await s.count(
        `SELECT count(*) - count(DISTINCT id) FROM items_raw r WHERE ${okSql} AND EXISTS (SELECT 1 FROM idict d WHERE d.id = r.id)`,
      );
      const found = await s.rows(
        `SELECT k.code, r.title, r.description, r.categories, r.image FROM items_raw r JOIN idict_kept k ON r.id = k.id ` +
          `WHERE ${okSql} QUALIFY row_number() OVER (PARTITION BY r.id ORDER BY r.rowid) = 1`,
      );
      const metas: ItemRow[] = found.map((r) => ({
        code: num(r[0]),
        title: str(r[1]),
        description: str(r[2]),
        categories: str(r[3]),
        image: str(r[4]),
      }));
      // Paths when any label holds the path separator (or a cell is a list of lists).
      const entries = metas.map((m) => (m.categories === null ? [] : categoryEntries(m.categories, catSep)));
      categoryPaths = entries.some((es) => es.some((e) => Array.isArray(e) || e.includes(pathSep)));
      const imageBase = opts.imagesDir ? resolve(opts.imagesDir) : dirname(resolve(itemsTable.file));
      metas.forEach((m, k) => {
        const rec: ItemRecord = {};
        const title = plainText(m.title);
        if (title !== undefined) rec.title = title;
        const description = plainText(m.description);
        if (description !== undefined) rec.description = description;
        const cats = buildCategories(entries[k], categoryPaths, pathSep);
        if (cats.length) rec.categories = cats;
        const img = m.image?.trim();
        // URLs are not files: images must be downloaded first (features read local files only).
        if (img && !/^[a-z][a-z0-9+.-]*:\/\//i.test(img))
          rec.image = isAbsolute(img) ? img : join(imageBase, img);
        items.set(itemsDict.ids[m.code], rec);
      });
      progress?.('items', 1, 1);
    }
    if (opts.imagesDir && !itemCols?.image) attachImages(items, itemsDict.ids, opts.imagesDir);

    return {
      name:
        opts.name ??
        basename(interFile)
          .replace(/(\.gz)?$/i, '')
          .replace(/\.[^.]+$/, ''),
      source:
        `${interFormat}: ${interFile}` +
        (opts.items ? ` + items ${opts.items} (${itemsFormat})` : '') +
        (opts.imagesDir ? ` + images ${opts.imagesDir}` : ''),
      interactions,
      items,
      categoryPaths,
      skips: mergeSkips(interSkips, itemSkips),
      stats: { valid, duplicates, kcoreRemoved, kcoreRounds, kept: rows, unknownItems, duplicateItems },
    };
  } finally {
    s.close();
  }
}
