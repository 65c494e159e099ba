/**
 * Which column of a table holds what: names given by the user must exist (the error lists the
 * columns and guesses what went wrong); default names may be absent.
 */
import { DataError } from '../../errors.js';
import type { Table } from './table.js';

/** Resolves a column name: the given one must exist; a default may be absent (then undefined). */
export function findColumn(
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

export function requireColumn(
  t: Table,
  given: string | undefined,
  defaults: string[],
  what: string,
  key: string,
): string {
  const c = findColumn(t, given, defaults, what, key);
  if (c !== undefined) return c;
  findColumn(t, defaults[0], [], what, key); // throws, listing the columns
  return defaults[0];
}
