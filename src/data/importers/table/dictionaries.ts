/**
 * Id dictionaries: user and item ids get integer codes in order of first appearance (udict,
 * idict), so that from then on rows are integers; after filtering, what is left gets dense
 * codes in the same order, and JS receives the distinct id strings once.
 */
import type { ProgressFn } from '../../types.js';
import type { Session } from './duckdb.js';

/** Distinct ids, index = dense code, and old code -> dense code (null when nothing was removed). */
export interface KeptIds {
  ids: string[];
  remap: Int32Array | null;
}

/** Creates udict and idict from the valid staged rows, with counts; returns the valid row count. */
export async function createDictionaries(s: Session, validSql: string): Promise<number> {
  for (const [dict, c] of [
    ['udict', 'u'],
    ['idict', 'i'],
  ]) {
    await s.run(
      `CREATE TEMP TABLE ${dict} AS SELECT ${c} AS id, (row_number() OVER (ORDER BY min(rowid)) - 1)::INTEGER AS code, ` +
        `count(*) AS n FROM staged WHERE ${validSql} GROUP BY ${c}`,
    );
  }
  return s.count('SELECT coalesce(sum(n), 0) FROM udict');
}

/** Dense codes of the users and items left in `inter`; `filtered` when rows were removed. */
export async function keptIdsOfBoth(
  s: Session,
  filtered: boolean,
  progress?: ProgressFn,
): Promise<{ users: KeptIds; items: KeptIds }> {
  progress?.('ids', 0, 1);
  const users = await keptIds(s, 'udict', 'u', filtered);
  const items = await keptIds(s, 'idict', 'i', filtered);
  return { users, items };
}

/** Writes `<dict>_kept` (id, old code, dense code) and reads its ids in dense order. */
async function keptIds(s: Session, dict: string, c: string, filtered: boolean): Promise<KeptIds> {
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
}
