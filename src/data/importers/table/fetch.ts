/** The kept interactions, sorted inside DuckDB and fetched column-wise into typed arrays. */
import type { InteractionColumns, ProgressFn } from '../../types.js';
import type { KeptIds } from './dictionaries.js';
import type { Session } from './duckdb.js';

/** Rows of `inter` by user (first appearance), time, then file order, with dense codes. */
export async function fetchInteractions(
  s: Session,
  rows: number,
  timed: boolean,
  users: KeptIds,
  items: KeptIds,
  progress?: ProgressFn,
): Promise<InteractionColumns> {
  const user = new Int32Array(rows);
  const item = new Int32Array(rows);
  const times = timed ? new Float64Array(rows) : null;
  // Materialized (not streamed) so that the sort shows as its own stage; 16 bytes a row.
  const res = await s.query(
    `SELECT u, i${timed ? ', t' : ''} FROM inter ORDER BY u${timed ? ', t' : ''}, rn`,
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
    const ir = items.remap;
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
  return { userIds: users.ids, itemIds: items.ids, user, item, time: times };
}
