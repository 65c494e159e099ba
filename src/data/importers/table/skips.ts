/**
 * The skip report of a staged table: records that are not valid, counted by reason, plus the
 * rows DuckDB rejected while reading, with a few examples of each named by file:line.
 */
import type { DuckDBValue } from '@duckdb/node-api';
import type { SkipReport } from '../../types.js';
import { num, str, type Session } from './duckdb.js';
import type { Place, Table } from './table.js';

/** SQL over the staged table's columns. */
export interface SkipSql {
  /** True for a valid record. */
  valid: string;
  /** Why a record is not valid (groups the report). */
  reason: string;
  /** What exactly is wrong with it (the example text). */
  detail: string;
  /** True for a blank line: not a record at all. */
  blank: string;
}

export async function collectSkips(
  s: Session,
  t: Table,
  staged: string,
  sql: SkipSql,
  perReason = 3,
): Promise<SkipReport> {
  const { records, reasons, examples } = await invalidRecords(s, staged, sql, perReason);
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
  const skipped = Object.values(reasons).reduce((a, b) => a + b, 0);
  const lines = await exampleLines(t, examples, rejected);
  return { records: records + rejectedCount, skipped, reasons, examples: lines };
}

/** Records read, and the invalid ones by reason with the first few (ord, reason, detail) of each. */
async function invalidRecords(
  s: Session,
  staged: string,
  sql: SkipSql,
  perReason: number,
): Promise<{ records: number; reasons: Record<string, number>; examples: DuckDBValue[][] }> {
  // One pass for the common case of no bad rows; the reasons only when there are some.
  const [[recordsV, badV]] = await s.rows(
    `SELECT count(*), count(*) FILTER (WHERE NOT (${sql.valid})) FROM ${staged} WHERE NOT (${sql.blank})`,
  );
  const reasons: Record<string, number> = {};
  let examples: DuckDBValue[][] = [];
  if (num(badV) > 0) {
    const bad = `(SELECT rowid AS ord, ${sql.reason} AS reason, ${sql.detail} AS detail FROM ${staged} WHERE NOT (${sql.blank}) AND NOT (${sql.valid}))`;
    for (const [r, c] of await s.rows(`SELECT reason, count(*) FROM ${bad} GROUP BY reason`))
      reasons[String(r)] = num(c);
    examples = await s.rows(
      `SELECT ord, reason, detail FROM ${bad} ` +
        `QUALIFY row_number() OVER (PARTITION BY reason ORDER BY ord) <= ${perReason} ORDER BY ord`,
    );
  }
  return { records: num(recordsV), reasons, examples };
}

/** The examples as "file:line: what" texts, in file order whatever the reason. */
async function exampleLines(
  t: Table,
  examples: DuckDBValue[][],
  rejected: DuckDBValue[][],
): Promise<string[]> {
  const where =
    examples.length || rejected.length
      ? await t.locate(
          examples.map((r) => num(r[0])),
          rejected.map((r) => num(r[0])),
        )
      : { rows: new Map<number, Place>(), rejects: new Map<number, Place>() };
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
  return lines.map((l) => l[1]);
}
