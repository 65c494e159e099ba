/**
 * Stored events counted per client event id, read straight from an event store's database
 * rather than through the service whose writes are being checked: better-sqlite3 read-only for
 * SQLite (a new connection per read, so that each sees what a restarted server wrote), pg for
 * PostgreSQL. Used by bench/serve-durability.ts.
 */
import Database from 'better-sqlite3';
import pg from 'pg';

export interface EventCounts {
  /** Rows per event id among these users' events (the key null: rows stored without an id). */
  perEventId(users: readonly string[]): Promise<Map<string | null, number>>;
  /** 'ok', or what SQLite's integrity_check reports; 'n/a' for PostgreSQL. */
  integrity(): Promise<string>;
  close(): Promise<void>;
}

type Row = { event_id: string | null; n: number };
const tally = (rows: Row[]) => new Map(rows.map((r) => [r.event_id, Number(r.n)]));

/** A reader of the store a --db value names (`sqlite:<file>` or `postgres://...`). */
export async function openEventCounts(db: string): Promise<EventCounts> {
  if (db.startsWith('sqlite:')) return sqliteCounts(db.slice('sqlite:'.length));
  const client = new pg.Client({ connectionString: db });
  await client.connect();
  return {
    perEventId: async (users) =>
      tally(
        (
          await client.query<Row>(
            'SELECT event_id, count(*)::int AS n FROM events WHERE user_id = ANY($1) GROUP BY event_id',
            [users],
          )
        ).rows,
      ),
    integrity: async () => 'n/a',
    close: () => client.end(),
  };
}

function sqliteCounts(file: string): EventCounts {
  const read = <T>(f: (db: Database.Database) => T): T => {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      return f(db);
    } finally {
      db.close();
    }
  };
  return {
    perEventId: async (users) =>
      read((db) =>
        tally(
          db
            .prepare(
              'SELECT event_id, count(*) AS n FROM events WHERE user_id IN (SELECT value FROM json_each(?)) GROUP BY event_id',
            )
            .all(JSON.stringify(users)) as Row[],
        ),
      ),
    integrity: async () => read((db) => String(db.pragma('integrity_check', { simple: true }))),
    close: async () => {},
  };
}
