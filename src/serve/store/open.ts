/**
 * Opening the event store a `--db` value names. The implementations are imported lazily, so a
 * SQLite service never loads pg and a PostgreSQL one never loads the native SQLite module.
 */
import type { EventStore } from './event-store.js';

/** Opens the store a --db value names: `sqlite:<file>` or `postgres://...` (also `postgresql://`). */
export async function openStore(url: string): Promise<EventStore> {
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length);
    if (file === '') throw new Error('--db sqlite:<file> needs a file name, e.g. sqlite:events.db');
    const { SqliteEventStore } = await import('./sqlite-store.js');
    return SqliteEventStore.open(file);
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const { PostgresEventStore } = await import('./postgres-store.js');
    return PostgresEventStore.open(url);
  }
  throw new Error(`--db must be sqlite:<file> or postgres://user@host/db, got "${url}"`);
}
