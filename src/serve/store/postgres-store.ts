/**
 * The event store for several service instances: PostgreSQL through a connection pool (pg).
 * Migrations run at start under an advisory lock, so instances starting together apply each
 * migration once.
 */
import pg from 'pg';
import {
  MIGRATIONS,
  contentColumn,
  ITEM_PAGE_ROWS,
  readItemsInPages,
  prefixUpperBound,
  refuseNewerSchema,
  type EventStore,
  type InteractionEvent,
  type StoredItem,
} from './event-store.js';

/** Longest a statement may run (server) or wait for its reply (client, one second more), ms. */
export const STORE_TIMEOUT_MS = 10_000;
/** Any constant: the key of the advisory lock that serialises migrations. */
const MIGRATION_LOCK = 0x63616d6d;
/** Rows per INSERT statement (4 parameters each; PostgreSQL allows 65,535 per statement). */
const CHUNK = 5000;

/**
 * One statement: the events (an event id already stored, or repeated in the chunk, is skipped)
 * and their users, so both are written or neither. Returns how many events were stored.
 */
async function insertChunk(q: pg.Pool | pg.PoolClient, chunk: readonly InteractionEvent[]): Promise<number> {
  const values: unknown[] = [];
  const rows = chunk.map((e, i) => {
    values.push(e.user, e.item, e.timestamp, e.id ?? null);
    const p = 4 * i;
    return `($${p + 1}, $${p + 2}, $${p + 3}::float8, extract(epoch from clock_timestamp()), $${p + 4})`;
  });
  const { rows: counted } = await q.query<{ stored: string }>(
    `WITH e AS (INSERT INTO events (user_id, item_id, ts, received, event_id) VALUES ${rows.join(', ')}
       ON CONFLICT (event_id) DO NOTHING RETURNING user_id),
     u AS (INSERT INTO users (user_id) SELECT DISTINCT user_id FROM e ON CONFLICT DO NOTHING)
     SELECT count(*) AS stored FROM e`,
    values,
  );
  return Number(counted[0].stored);
}

export class PostgresEventStore implements EventStore {
  readonly kind = 'postgres';
  private constructor(private readonly pool: pg.Pool) {}

  static async open(
    url: string,
    opts: { max?: number; timeoutMs?: number } = {},
  ): Promise<PostgresEventStore> {
    // Every wait is bounded, so a frozen or unreachable database fails requests (503) instead of
    // holding them: connecting, each statement on the server, each query on the client.
    const timeoutMs = opts.timeoutMs ?? STORE_TIMEOUT_MS;
    const pool = new pg.Pool({
      connectionString: url,
      max: opts.max ?? 10,
      connectionTimeoutMillis: Math.min(timeoutMs, 5000),
      statement_timeout: timeoutMs,
      query_timeout: timeoutMs + 1000,
      idle_in_transaction_session_timeout: timeoutMs,
    });
    // An idle client's error (server restart) must not crash the process; queries will report it.
    pool.on('error', () => {});
    const safe = url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (e) {
      await pool.end();
      throw new Error(`cannot connect to the PostgreSQL event store ${safe}: ${(e as Error).message}`);
    }
    try {
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      await client.query(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied TIMESTAMPTZ NOT NULL DEFAULT now())',
      );
      const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
      const done = new Set(rows.map((r) => r.version));
      // A database migrated by a newer cammsr is refused before anything is applied.
      refuseNewerSchema(done);
      for (const m of MIGRATIONS) {
        if (done.has(m.version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(m.sql('postgres'));
          await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [m.version]);
          await client.query('COMMIT');
        } catch (e) {
          await client.query('ROLLBACK');
          throw e;
        }
      }
    } catch (e) {
      client.release();
      await pool.end();
      throw new Error(`PostgreSQL event store ${safe}: ${(e as Error).message}`);
    }
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    client.release();
    return new PostgresEventStore(pool);
  }

  async append(events: readonly InteractionEvent[]): Promise<number> {
    if (events.length === 0) return 0;
    // More than one chunk runs in a transaction, so a batch is stored whole or not at all.
    const chunks: (readonly InteractionEvent[])[] = [];
    for (let i = 0; i < events.length; i += CHUNK) chunks.push(events.slice(i, i + CHUNK));
    if (chunks.length === 1) return insertChunk(this.pool, chunks[0]);
    const client = await this.pool.connect();
    let stored = 0;
    try {
      await client.query('BEGIN');
      for (const c of chunks) stored += await insertChunk(client, c);
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      client.release();
    }
    return stored;
  }

  async history(user: string, limit: number): Promise<InteractionEvent[]> {
    const { rows } = await this.pool.query<{ item_id: string; ts: number }>(
      'SELECT item_id, ts FROM events WHERE user_id = $1 ORDER BY ts DESC, id DESC LIMIT $2',
      [user, limit],
    );
    return rows.reverse().map((r) => ({ user, item: r.item_id, timestamp: Number(r.ts) }));
  }

  async users(prefix: string, limit: number): Promise<string[]> {
    const hi = prefixUpperBound(prefix);
    const { rows } = await this.pool.query<{ user_id: string }>(
      hi === null
        ? 'SELECT user_id FROM users WHERE user_id >= $1 AND starts_with(user_id, $1) ORDER BY user_id LIMIT $2'
        : 'SELECT user_id FROM users WHERE user_id >= $1 AND user_id < $3 ORDER BY user_id LIMIT $2',
      hi === null ? [prefix, limit] : [prefix, limit, hi],
    );
    return rows.map((r) => r.user_id);
  }

  async saveItem(item: StoredItem): Promise<void> {
    const { id, content, withdrawn, updated } = item;
    const image = content?.image ? Buffer.from(content.image.bytes) : null;
    await this.pool.query(
      `INSERT INTO items (id, content, image, withdrawn, updated) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (id) DO UPDATE SET content = $2, image = $3, withdrawn = $4, updated = $5`,
      [id, content ? contentColumn(content) : null, image, withdrawn, updated],
    );
  }

  async items(): Promise<StoredItem[]> {
    type Row = {
      seq: string;
      id: string;
      content: string | null;
      image: Buffer | null;
      withdrawn: boolean;
      updated: number;
    };
    return readItemsInPages(async (after) => {
      const { rows } = await this.pool.query<Row>(
        `SELECT seq, id, content, image, withdrawn, updated FROM items WHERE seq > $1 ORDER BY seq LIMIT ${ITEM_PAGE_ROWS}`,
        [after],
      );
      return rows.map((r) => ({
        ...r,
        seq: Number(r.seq),
        image: r.image ? new Uint8Array(r.image) : null,
        updated: Number(r.updated),
      }));
    });
  }

  async probeWrite(): Promise<void> {
    await this.pool.query(
      'INSERT INTO write_probe (id, at) VALUES (1, extract(epoch from clock_timestamp())) ON CONFLICT (id) DO UPDATE SET at = excluded.at',
    );
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
