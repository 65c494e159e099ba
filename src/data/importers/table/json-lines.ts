/**
 * JSON lines as tables: DuckDB reads each line as one VARCHAR value (no delimiter or quote can
 * occur in valid JSON lines) and extracts the keys asked for. Blank lines stay as NULL rows, so
 * DuckDB's row number is the line number minus one, except after lines DuckDB rejects (longer
 * than its 2 MB line limit): `locate` shifts.
 */
import type { DuckDBValue } from '@duckdb/node-api';
import { DataError } from '../../errors.js';
import { num, type Session } from './duckdb.js';
import { lit } from './sql-text.js';
import type { Place, Table } from './table.js';

export async function openJsonLines(s: Session, file: string, gz: boolean, tag: string): Promise<Table> {
  const rejects = `cammsr_rejects_${tag}`;
  const lines = (store: boolean): string =>
    `read_csv(${lit(file)}, delim = '\x1f', quote = '', escape = '', header = false, auto_detect = false, ` +
    `strict_mode = false, columns = {'j': 'VARCHAR'}, compression = '${gz ? 'gzip' : 'none'}', ignore_errors = true` +
    (store ? `, store_rejects = true, rejects_table = '${rejects}', rejects_scan = '${rejects}_scan')` : ')');
  return {
    file,
    format: 'jsonl',
    columns: await sampledKeys(s, file, lines(false)),
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

/** The keys of the objects on the first 1000 non-blank lines, as VARCHAR columns. */
async function sampledKeys(s: Session, file: string, lines: string): Promise<Map<string, string>> {
  let sample: DuckDBValue[][];
  try {
    sample = await s.rows(
      `SELECT json_keys(j) FROM (SELECT TRY(j::JSON) AS j FROM ${lines} WHERE trim(j) <> '' LIMIT 1000) ` +
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
  return columns;
}
