/**
 * CSV and TSV text read in JS rather than by DuckDB: the header record (for the column names
 * DuckDB is given) and the physical line numbers of records (for skip examples). CSV is RFC
 * 4180 (double quotes, "" inside quotes); TSV is the plain IANA form without quoting (titles
 * like `27" monitor` are common in catalogs and would break quoting).
 */
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { DataError } from '../../errors.js';
import { isGzip } from './sniff.js';

function openBytes(file: string): Readable {
  const raw = createReadStream(file, { highWaterMark: 1 << 20 });
  return isGzip(file) ? raw.pipe(createGunzip()) : raw;
}

/** The first non-blank record (a quoted CSV field may span lines), decoded, without BOM and CR. */
export async function firstRecord(file: string, quoted: boolean): Promise<string | null> {
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
export function splitRecord(line: string, delim: string, quoted: boolean): string[] {
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
export async function csvPhysicalLines(
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
