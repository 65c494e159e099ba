/** The embedded event store: one SQLite file in WAL mode (better-sqlite3, synchronous and fast). */
import Database from 'better-sqlite3';
import {
  MIGRATIONS,
  contentColumn,
  ITEM_PAGE_ROWS,
  readItemsInPages,
  type ItemRow,
  prefixUpperBound,
  refuseNewerSchema,
  type EventStore,
  type InteractionEvent,
  type StoredItem,
} from './event-store.js';

export class SqliteEventStore implements EventStore {
  readonly kind = 'sqlite';
  private readonly insert: Database.Statement;
  private readonly insertUser: Database.Statement;
  private readonly probe: Database.Statement;
  private readonly recent: Database.Statement;
  private readonly byPrefix: Database.Statement;
  private readonly byRange: Database.Statement;
  private readonly insertAll: (events: readonly InteractionEvent[]) => number;
  private readonly upsertItem: Database.Statement;
  private readonly itemPage: Database.Statement;

  private constructor(private readonly db: Database.Database) {
    this.insert = db.prepare(
      'INSERT INTO events (user_id, item_id, ts, received, event_id) VALUES (?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING',
    );
    this.insertUser = db.prepare('INSERT INTO users (user_id) VALUES (?) ON CONFLICT DO NOTHING');
    this.probe = db.prepare(
      'INSERT INTO write_probe (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at',
    );
    this.recent = db.prepare(
      'SELECT item_id, ts FROM events WHERE user_id = ? ORDER BY ts DESC, id DESC LIMIT ?',
    );
    // Without an upper bound (empty prefix, or one ending in U+10FFFF) the range is open above and
    // the prefix is checked per row, still in index order from the prefix on.
    this.byPrefix = db.prepare(
      'SELECT user_id FROM users WHERE user_id >= @p AND substr(user_id, 1, length(@p)) = @p ORDER BY user_id LIMIT @n',
    );
    this.byRange = db.prepare(
      'SELECT user_id FROM users WHERE user_id >= @p AND user_id < @hi ORDER BY user_id LIMIT @n',
    );
    this.upsertItem = db.prepare(
      `INSERT INTO items (id, content, image, withdrawn, updated) VALUES (@id, @content, @image, @w, @updated)
       ON CONFLICT (id) DO UPDATE SET content = @content, image = @image, withdrawn = @w, updated = @updated`,
    );
    this.itemPage = db.prepare(
      `SELECT seq, id, content, image, withdrawn, updated FROM items WHERE seq > ? ORDER BY seq LIMIT ${ITEM_PAGE_ROWS}`,
    );
    this.insertAll = db.transaction((events: readonly InteractionEvent[]) => {
      const now = Date.now() / 1000;
      let stored = 0;
      for (const e of events) {
        if (this.insert.run(e.user, e.item, e.timestamp, now, e.id ?? null).changes === 0) continue;
        stored++;
        this.insertUser.run(e.user);
      }
      return stored;
    });
  }

  static open(file: string): SqliteEventStore {
    let db: Database.Database;
    try {
      db = new Database(file);
    } catch (e) {
      throw new Error(`cannot open the SQLite event store ${file}: ${(e as Error).message}`);
    }
    try {
      db.pragma('journal_mode = WAL');
      // In WAL mode NORMAL is durable against process crashes; FULL also against power loss.
      db.pragma('synchronous = FULL');
      // better-sqlite3 waits for a lock synchronously, stopping the event loop: another process
      // holding the file (a backup) makes a write fail (503) after 1 s instead of stalling everything.
      db.pragma('busy_timeout = 1000');
      db.exec(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied TEXT NOT NULL)',
      );
      const done = new Set(
        (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map(
          (r) => r.version,
        ),
      );
      // A database migrated by a newer cammsr is refused before anything is applied.
      refuseNewerSchema(done);
      for (const m of MIGRATIONS) {
        if (done.has(m.version)) continue;
        db.transaction(() => {
          db.exec(m.sql('sqlite'));
          db.prepare('INSERT INTO schema_migrations (version, applied) VALUES (?, ?)').run(
            m.version,
            new Date().toISOString(),
          );
        })();
      }
    } catch (e) {
      db.close();
      throw new Error(`SQLite event store ${file}: ${(e as Error).message}`);
    }
    return new SqliteEventStore(db);
  }

  async append(events: readonly InteractionEvent[]): Promise<number> {
    return this.insertAll(events);
  }

  async history(user: string, limit: number): Promise<InteractionEvent[]> {
    const rows = this.recent.all(user, limit) as { item_id: string; ts: number }[];
    return rows.reverse().map((r) => ({ user, item: r.item_id, timestamp: r.ts }));
  }

  async users(prefix: string, limit: number): Promise<string[]> {
    const hi = prefixUpperBound(prefix);
    const rows =
      hi === null
        ? this.byPrefix.all({ p: prefix, n: limit })
        : this.byRange.all({ p: prefix, hi, n: limit });
    return (rows as { user_id: string }[]).map((r) => r.user_id);
  }

  async saveItem(item: StoredItem): Promise<void> {
    const { id, content, withdrawn, updated } = item;
    const image = content?.image ? Buffer.from(content.image.bytes) : null;
    const json = content ? contentColumn(content) : null;
    this.upsertItem.run({ id, content: json, image, w: withdrawn ? 1 : 0, updated });
  }

  async items(): Promise<StoredItem[]> {
    type Row = Omit<ItemRow, 'withdrawn'> & { withdrawn: number };
    return readItemsInPages(async (after) =>
      (this.itemPage.all(after) as Row[]).map((r) => ({ ...r, withdrawn: r.withdrawn === 1 })),
    );
  }

  async probeWrite(): Promise<void> {
    this.probe.run(Date.now() / 1000);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
