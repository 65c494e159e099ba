/**
 * The event store: users' interactions as the service receives them, durable before the reply.
 * One interface, two implementations (SQLite embedded, PostgreSQL for several instances), one
 * test suite run against both; `openStore` (open.ts) opens the one a --db URL names.
 */

/** One interaction, in the catalog's original ids; `timestamp` in Unix seconds. */
export interface InteractionEvent {
  user: string;
  item: string;
  timestamp: number;
}

export interface EventStore {
  /** 'sqlite' or 'postgres' (for metrics and /readyz). */
  readonly kind: string;
  /** Appends events atomically: all of them are stored, or none. Returns how many. */
  append(events: readonly InteractionEvent[]): Promise<number>;
  /** The user's `limit` most recent events (by timestamp, then arrival), oldest first. */
  history(user: string, limit: number): Promise<InteractionEvent[]>;
  /** Users with events whose id starts with `prefix`, in id order (for the explorer's search). */
  users(prefix: string, limit: number): Promise<string[]>;
  /** Resolves when the store answers queries (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Schema migrations, in order; both stores apply the ones they have not applied yet at start,
 * in one transaction each, and record them in schema_migrations. Append, never edit.
 */
export const MIGRATIONS: readonly {
  version: number;
  description: string;
  sql: (dialect: 'sqlite' | 'postgres') => string;
}[] = [
  {
    version: 1,
    description: 'events table with a per-user recency index',
    sql: (d) => `
        CREATE TABLE events (
          id ${d === 'sqlite' ? 'INTEGER PRIMARY KEY AUTOINCREMENT' : 'BIGSERIAL PRIMARY KEY'},
          user_id TEXT NOT NULL,
          item_id TEXT NOT NULL,
          ts DOUBLE PRECISION NOT NULL,
          received DOUBLE PRECISION NOT NULL
        );
        CREATE INDEX events_user_recent ON events (user_id, ts, id);`,
  },
];

/** Throws when the database records a migration this cammsr does not know. */
export function refuseNewerSchema(applied: ReadonlySet<number>): void {
  const newest = Math.max(0, ...applied);
  const known = MIGRATIONS[MIGRATIONS.length - 1].version;
  if (newest > known)
    throw new Error(`schema version ${newest} is newer than this cammsr knows (${known}); upgrade cammsr`);
}
