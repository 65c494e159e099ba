/**
 * What an input file is before anything reads it: its table format (from the name, unless
 * given) and whether it is gzipped (from its first bytes, whatever the name says).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { DataError } from '../../errors.js';

export type TableFormat = 'csv' | 'tsv' | 'jsonl' | 'parquet';

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

/** The given format (checked) or the one the name implies; `option` names the setting in errors. */
export function formatFor(file: string, given: TableFormat | undefined, option: string): TableFormat {
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

export function isGzip(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(2);
    return readSync(fd, b, 0, 2, 0) === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}
