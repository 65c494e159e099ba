/** Parquet files as tables: typed columns, read as text where the import wants text. */
import type { DuckDBValue } from '@duckdb/node-api';
import { DataError } from '../../errors.js';
import type { Session } from './duckdb.js';
import { ident, lit } from './sql-text.js';
import type { Table } from './table.js';

export async function openParquet(s: Session, file: string, gz: boolean): Promise<Table> {
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
    format: 'parquet',
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
