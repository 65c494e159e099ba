/**
 * Which interaction rows stay, decided inside DuckDB on integer rows (table `inter`: u, i, t
 * when timed, rn = file order): valid rows, then dedupe, then the iterative k-core.
 */
import { DataError } from '../../errors.js';
import type { ProgressFn } from '../../types.js';
import type { Session } from './duckdb.js';
import type { Staged } from './stage.js';

type Kcore = { user: number; item: number };

/**
 * Creates `inter` from the valid staged rows and drops `staged`; returns the row count. With
 * `prefilter`, rows of users or items with fewer raw interactions than the k-core asks are left
 * out: they can never be in it (dedupe only lowers counts), so this is the first k-core round.
 */
export async function keepValidRows(
  s: Session,
  staged: Staged,
  prefilter: Kcore | undefined,
): Promise<number> {
  await s.run(
    `CREATE TEMP TABLE inter AS SELECT du.code AS u, di.code AS i${staged.timed ? ', s.t' : ''}, s.rowid AS rn ` +
      `FROM staged s JOIN udict du ON s.u = du.id JOIN idict di ON s.i = di.id WHERE ${staged.valid}` +
      (prefilter ? ` AND du.n >= ${prefilter.user} AND di.n >= ${prefilter.item}` : ''),
  );
  await s.run('DROP TABLE staged');
  // (CREATE TABLE AS reports its row count as a result row, not as rowsChanged.)
  return s.count('SELECT count(*) FROM inter');
}

/** Drops duplicates; only the surviving row numbers matter (the final sort restores the order). */
export async function dedupeRows(
  s: Session,
  dedupe: 'exact' | 'first' | 'none',
  timed: boolean,
  rows: number,
  progress?: ProgressFn,
): Promise<{ rows: number; duplicates: number }> {
  if (dedupe === 'none') return { rows, duplicates: 0 };
  progress?.('dedupe', 0, 1);
  let sql: string;
  if (dedupe === 'exact' && timed) sql = 'SELECT u, i, t, min(rn) AS rn FROM inter GROUP BY u, i, t';
  else if (dedupe === 'exact') {
    sql = 'SELECT * FROM inter QUALIFY lag(i) OVER (PARTITION BY u ORDER BY rn) IS DISTINCT FROM i';
  } else if (timed) {
    // The earliest (time, then file order) of each (user, item): a struct min is a hash aggregate, no sort.
    sql = `SELECT u, i, m.t AS t, m.rn AS rn FROM (SELECT u, i, min({'t': t, 'rn': rn}) AS m FROM inter GROUP BY u, i)`;
  } else sql = 'SELECT u, i, min(rn) AS rn FROM inter GROUP BY u, i';
  await s.run(`CREATE TEMP TABLE deduped AS ${sql}`);
  const kept = await s.count('SELECT count(*) FROM deduped');
  await s.run('DROP TABLE inter');
  await s.run('ALTER TABLE deduped RENAME TO inter');
  progress?.('dedupe', 1, 1);
  return { rows: kept, duplicates: rows - kept };
}

/** How far the import got before the k-core (counts of rows). */
export interface BeforeKcore {
  valid: number;
  duplicates: number;
  rows: number;
  /** Whether `keepValidRows` already ran the first round. */
  prefiltered: boolean;
}

/**
 * The iterative k-core: each round drops rows of users or items below the thresholds, until a
 * round removes nothing (when the prefilter removed nothing, every count was already high enough).
 */
export async function applyKcore(
  s: Session,
  kcore: Kcore,
  before: BeforeKcore,
  file: string,
  progress?: ProgressFn,
): Promise<{ rows: number; rounds: number; removed: number }> {
  const { valid, duplicates, prefiltered } = before;
  let rows = before.rows;
  const afterDedupe = valid - duplicates;
  let rounds = prefiltered ? 1 : 0;
  const useKcore = kcore.user > 1 || kcore.item > 1;
  if (useKcore && !(prefiltered && rows === valid)) {
    progress?.('kcore', afterDedupe - rows, afterDedupe);
    while (rows > 0) {
      rounds++;
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
        `${file}: no interactions are left after the ${kcore.user}/${kcore.item} user/item k-core ` +
          `(${valid} valid interactions, ${duplicates} duplicates removed): lower the k-core thresholds`,
      );
    }
  }
  return { rows, rounds, removed: afterDedupe - rows };
}
