/** CSV and TSV files as tables: named columns, all VARCHAR, bad rows set aside by DuckDB. */
import { DataError } from '../../errors.js';
import { csvPhysicalLines, firstRecord, splitRecord } from './csv-records.js';
import { ident, lit } from './sql-text.js';
import type { Place, Table } from './table.js';

export async function openDelimited(
  file: string,
  format: 'csv' | 'tsv',
  gz: boolean,
  tag: string,
): Promise<Table> {
  const quoted = format === 'csv';
  const delim = quoted ? ',' : '\t';
  const names = await headerNames(file, delim, quoted);
  const cols = names.map((n) => `${lit(n)}: 'VARCHAR'`).join(', ');
  const rejects = `cammsr_rejects_${tag}`;
  const from =
    `read_csv(${lit(file)}, delim = ${lit(delim)}, header = true, auto_detect = false, ` +
    `quote = ${quoted ? `'"'` : "''"}, escape = ${quoted ? `'"'` : "''"}, columns = {${cols}}, ` +
    `compression = '${gz ? 'gzip' : 'none'}', ignore_errors = true, store_rejects = true, ` +
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

/** The header's column names, made distinct and non-empty as DuckDB wants them. */
async function headerNames(file: string, delim: string, quoted: boolean): Promise<string[]> {
  const head = await firstRecord(file, quoted);
  if (head === null) throw new DataError(`${file} is empty: expected a header line with column names`);
  const names: string[] = [];
  for (const [k, raw] of splitRecord(head, delim, quoted).entries()) {
    let n = raw === '' ? `column${k}` : raw;
    // A repeated header name becomes name_1, name_2, ...
    for (let d = 1; names.includes(n); d++) n = `${raw}_${d}`;
    names.push(n);
  }
  return names;
}
