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
  /** The client's id for this event: an event whose id is already stored is not stored again. */
  id?: string;
}

/**
 * An item added or changed while serving (POST /v1/items), or withdrawn from recommendations.
 * The content is kept raw (text, categories, image bytes), not as features, so that a bundle
 * with other encoders computes its own features from it on reload.
 */
export interface StoredItem {
  id: string;
  /** The item's content as the client sent it; null when only its availability was set (a bundle item). */
  content: ItemContent | null;
  /** Withdrawn items stay in histories but are never recommended. */
  withdrawn: boolean;
  /** Unix seconds of the last change. */
  updated: number;
}

export interface ItemContent {
  title?: string;
  text?: string;
  /** Category label names, as the catalog shows them. */
  categories?: string[];
  /** The image file's bytes and media type. */
  image?: { bytes: Uint8Array; type: string };
  /** Feature vectors the client computed, for modalities whose encoder the bundle cannot run (precomputed ones). */
  vectors?: Partial<Record<'text' | 'image', number[]>>;
}

export interface EventStore {
  /** 'sqlite' or 'postgres' (for metrics and /readyz). */
  readonly kind: string;
  /**
   * Appends events atomically: all of them are stored, or none. An event whose client id is
   * already stored (or repeated in the batch) is acknowledged and not stored again. Returns how
   * many were stored.
   */
  append(events: readonly InteractionEvent[]): Promise<number>;
  /** The user's `limit` most recent events (by timestamp, then arrival), oldest first. */
  history(user: string, limit: number): Promise<InteractionEvent[]>;
  /** Users with events whose id starts with `prefix`, in id order (an index range, never a scan of the events). */
  users(prefix: string, limit: number): Promise<string[]>;
  /** Stores an item as given, replacing the stored one of the same id (one atomic statement). */
  saveItem(item: StoredItem): Promise<void>;
  /** Every stored item, in order of first storage. */
  items(): Promise<StoredItem[]>;
  /** Resolves when the store can write (readiness): a one-row write, which fails on a full disk or a read-only file. */
  probeWrite(): Promise<void>;
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
  {
    version: 2,
    description: 'items added or withdrawn while serving',
    sql: (d) => `
        CREATE TABLE items (
          seq ${d === 'sqlite' ? 'INTEGER PRIMARY KEY AUTOINCREMENT' : 'BIGSERIAL PRIMARY KEY'},
          id TEXT NOT NULL UNIQUE,
          content TEXT,
          image ${d === 'sqlite' ? 'BLOB' : 'BYTEA'},
          withdrawn ${d === 'sqlite' ? 'INTEGER' : 'BOOLEAN'} NOT NULL DEFAULT ${d === 'sqlite' ? '0' : 'FALSE'},
          updated DOUBLE PRECISION NOT NULL
        );`,
  },
  {
    version: 3,
    description:
      'users table for prefix search, client event ids (idempotent retries), a row for write probes',
    // Byte order ("C" in PostgreSQL, SQLite's BINARY) is code point order, which the prefix range relies on.
    sql: (d) => `
        CREATE TABLE users (user_id TEXT ${d === 'sqlite' ? 'PRIMARY KEY) WITHOUT ROWID' : 'COLLATE "C" PRIMARY KEY)'};
        INSERT INTO users (user_id) SELECT DISTINCT user_id FROM events;
        ALTER TABLE events ADD COLUMN event_id TEXT;
        CREATE UNIQUE INDEX events_event_id ON events (event_id);
        CREATE TABLE write_probe (id INTEGER PRIMARY KEY, at DOUBLE PRECISION NOT NULL);`,
  },
];

/**
 * The least string above every string that starts with `prefix`, in code point order (so that
 * `prefix <= id < bound` is an index range); null when there is none (an empty prefix, or one
 * ending in the last code point: the caller then filters).
 */
export function prefixUpperBound(prefix: string): string | null {
  const points = [...prefix];
  const last = points.pop();
  if (last === undefined) return null;
  const cp = last.codePointAt(0)!;
  if (cp >= 0x10ffff) return null;
  // The code point after a high surrogate's range would be a surrogate: jump past them.
  const next = cp + 1 === 0xd800 ? 0xe000 : cp + 1;
  return points.join('') + String.fromCodePoint(next);
}

/** An item's content without its image bytes, as the items table's content column holds it. */
export function contentColumn(c: ItemContent): string {
  const { image, ...rest } = c;
  return JSON.stringify(image ? { ...rest, imageType: image.type } : rest);
}

/** An items row as both stores read it (`seq`: its order of first storage). */
export interface ItemRow {
  seq: number;
  id: string;
  content: string | null;
  image: Uint8Array | null;
  withdrawn: boolean;
  updated: number;
}

/**
 * Rows of the items table read per query of `readItemsInPages`: a few milliseconds of parsing,
 * so that a service reloading with 10,000 stored items does not hold its event loop for the
 * half second reading them at once took.
 */
export const ITEM_PAGE_ROWS = 64;

/** Every stored item, a page of rows after another (`page(afterSeq)`), the event loop free between pages. */
export async function readItemsInPages(
  page: (afterSeq: number) => Promise<ItemRow[]>,
): Promise<StoredItem[]> {
  const items: StoredItem[] = [];
  for (let after = 0; ;) {
    const rows = await page(after);
    for (const r of rows)
      items.push({
        id: r.id,
        content: contentOfRow(r.content, r.image),
        withdrawn: r.withdrawn,
        updated: r.updated,
      });
    if (rows.length < ITEM_PAGE_ROWS) return items;
    after = rows[rows.length - 1].seq;
    await new Promise((r) => setImmediate(r));
  }
}

/** The ItemContent of an items row (content JSON and image bytes). */
export function contentOfRow(json: string | null, image: Uint8Array | null): ItemContent | null {
  if (json === null) return null;
  const { imageType, ...rest } = JSON.parse(json) as ItemContent & { imageType?: string };
  return image && imageType ? { ...rest, image: { bytes: image, type: imageType } } : rest;
}

/** Throws when the database records a migration this cammsr does not know. */
export function refuseNewerSchema(applied: ReadonlySet<number>): void {
  const newest = Math.max(0, ...applied);
  const known = MIGRATIONS[MIGRATIONS.length - 1].version;
  if (newest > known)
    throw new Error(`schema version ${newest} is newer than this cammsr knows (${known}); upgrade cammsr`);
}
