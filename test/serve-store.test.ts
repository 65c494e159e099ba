/**
 * The event-store suite, run against every store: SQLite always, PostgreSQL when
 * CAMMSR_TEST_POSTGRES names a server (CI starts one; each run gets a fresh database).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  ITEM_PAGE_ROWS,
  MIGRATIONS,
  prefixUpperBound,
  type EventStore,
} from '../src/serve/store/event-store.js';
import { openStore } from '../src/serve/store/open.js';
import { storeBackends } from './store-backends.js';
import { tempDir } from './temp.js';

interface Backend {
  name: string;
  /** A store over a new, empty database; `reopen` opens the same database again. */
  fresh(): Promise<{ store: EventStore; reopen: () => Promise<EventStore>; url: string }>;
}

const root = tempDir('store');
const backends: Backend[] = storeBackends('store').map(({ name, freshUrl }) => ({
  name,
  async fresh() {
    const url = await freshUrl();
    return { store: await openStore(url), reopen: () => openStore(url), url };
  },
}));

for (const b of backends) {
  test(`${b.name}: history returns the most recent events by timestamp then arrival, oldest first`, async () => {
    const { store } = await b.fresh();
    try {
      assert.equal(
        await store.append([
          { user: 'u1', item: 'a', timestamp: 100 },
          { user: 'u2', item: 'x', timestamp: 50 },
          { user: 'u1', item: 'b', timestamp: 300 },
          { user: 'u1', item: 'c', timestamp: 200 },
        ]),
        4,
      );
      // Same timestamp: arrival order decides.
      await store.append([{ user: 'u1', item: 'd', timestamp: 300 }]);
      const items = (h: { item: string }[]) => h.map((e) => e.item);
      assert.deepEqual(items(await store.history('u1', 10)), ['a', 'c', 'b', 'd']);
      assert.deepEqual(items(await store.history('u1', 2)), ['b', 'd']);
      assert.deepEqual(await store.history('u2', 10), [{ user: 'u2', item: 'x', timestamp: 50 }]);
      assert.deepEqual(await store.history('nobody', 10), []);
      assert.deepEqual(await store.users('u', 10), ['u1', 'u2']);
      assert.deepEqual(await store.users('u2', 10), ['u2']);
      assert.deepEqual(await store.users('', 1), ['u1']);
      assert.deepEqual(await store.users('%', 10), [], 'no wildcards');
      assert.equal(await store.append([]), 0);
      // Ids are opaque strings: unicode, quotes and SQL metacharacters round-trip.
      const odd = "o'brien; DROP TABLE events; -- ü 🎬";
      await store.append([{ user: odd, item: odd, timestamp: 1.5 }]);
      assert.deepEqual(await store.history(odd, 1), [{ user: odd, item: odd, timestamp: 1.5 }]);
      await store.probeWrite();
    } finally {
      await store.close();
    }
  });

  test(`${b.name}: a batch is stored whole or not at all`, async () => {
    const { store } = await b.fresh();
    try {
      const bad = [
        { user: 'u1', item: 'a', timestamp: 1 },
        { user: 'u1', item: null as unknown as string, timestamp: 2 },
      ];
      await assert.rejects(store.append(bad));
      assert.deepEqual(await store.history('u1', 10), []);
      // Larger than one INSERT statement of the PostgreSQL store (5,000 rows), failing at the end.
      const many = Array.from({ length: 12001 }, (_, i) => ({ user: 'big', item: `i${i}`, timestamp: i }));
      many[12000] = { user: 'big', item: null as unknown as string, timestamp: 0 };
      await assert.rejects(store.append(many));
      assert.deepEqual(await store.history('big', 5), []);
      assert.equal(await store.append(many.slice(0, 12000)), 12000);
      assert.deepEqual(
        (await store.history('big', 3)).map((e) => e.item),
        ['i11997', 'i11998', 'i11999'],
      );
    } finally {
      await store.close();
    }
  });

  test(`${b.name}: an event id already stored, or repeated in the batch, is acknowledged and stored once`, async () => {
    const { store } = await b.fresh();
    try {
      const e = (id: string | undefined, item: string) => ({ user: 'r', item, timestamp: 10, id });
      assert.equal(await store.append([e('e1', 'a'), e('e1', 'a'), e(undefined, 'b'), e(undefined, 'b')]), 3);
      // A retry of the whole batch stores only the events without an id.
      assert.equal(await store.append([e('e1', 'a'), e(undefined, 'b')]), 1);
      // Over one PostgreSQL statement (5,000 rows), with the repeats spread across chunks.
      const many = Array.from({ length: 6000 }, (_, i) => e(`m${i % 5500}`, `i${i}`));
      assert.equal(await store.append(many), 5500);
      assert.equal(await store.append(many), 0);
      const h = await store.history('r', 10_000);
      assert.equal(h.length, 4 + 5500);
      assert.deepEqual(
        h.slice(0, 4).map((x) => x.item),
        ['a', 'b', 'b', 'b'],
      );
    } finally {
      await store.close();
    }
  });

  test(`${b.name}: user search is a range over the users table, exact at the edges of the prefix`, async () => {
    const { store } = await b.fresh();
    try {
      const ids = [
        'u',
        'u1',
        'u10',
        'u2',
        'v',
        'ü',
        'ü1',
        '\uffff',
        '\uffffz',
        '\u{10ffff}',
        '\u{10ffff}a',
        '😀',
        '😀1',
        'ua',
      ];
      await store.append(
        ids.flatMap((user) => [
          { user, item: 'x', timestamp: 1 },
          { user, item: 'y', timestamp: 2 },
        ]),
      );
      const byPrefix = (p: string) =>
        ids.filter((u) => u.startsWith(p)).sort((a, c) => (a < c ? -1 : a > c ? 1 : 0));
      for (const p of ['', 'u', 'u1', 'ü', '\uffff', '\u{10ffff}', '😀', 'z']) {
        const found = await store.users(p, 100);
        assert.deepEqual(new Set(found), new Set(byPrefix(p)), JSON.stringify(p));
        assert.equal(found.length, byPrefix(p).length, `${JSON.stringify(p)}: each user once`);
      }
      assert.deepEqual(await store.users('u', 2), ['u', 'u1']);
    } finally {
      await store.close();
    }
  });

  test(`${b.name}: events survive closing and reopening; migrations run once`, async () => {
    const { store, reopen } = await b.fresh();
    await store.append([{ user: 'u', item: 'kept', timestamp: 7 }]);
    await store.close();
    const again = await reopen();
    try {
      assert.deepEqual(await again.history('u', 5), [{ user: 'u', item: 'kept', timestamp: 7 }]);
    } finally {
      await again.close();
    }
  });
  test(`${b.name}: catalog items are stored whole, replaced by id in place, and survive reopening`, async () => {
    const { store, reopen } = await b.fresh();
    const image = { bytes: Uint8Array.from([0, 255, 7, 1, 0]), type: 'image/png' };
    await store.saveItem({
      id: 'a',
      content: { title: 'A', categories: ['x'], image },
      withdrawn: false,
      updated: 10,
    });
    await store.saveItem({ id: 'b', content: null, withdrawn: true, updated: 11.5 });
    await store.saveItem({
      id: 'a',
      content: { title: 'A2', vectors: { text: [0.5, -1] } },
      withdrawn: true,
      updated: 12,
    });
    const expected = [
      { id: 'a', content: { title: 'A2', vectors: { text: [0.5, -1] } }, withdrawn: true, updated: 12 },
      { id: 'b', content: null, withdrawn: true, updated: 11.5 },
    ];
    assert.deepEqual(await store.items(), expected);
    await store.saveItem({ id: 'c', content: { text: 'ünïcode', image }, withdrawn: false, updated: 13 });
    await store.close();
    const again = await reopen();
    try {
      const items = await again.items();
      assert.deepEqual(items.slice(0, 2), expected);
      assert.equal(items[2].id, 'c');
      assert.equal(items[2].content?.text, 'ünïcode');
      assert.deepEqual(Array.from(items[2].content!.image!.bytes), Array.from(image.bytes));
      assert.equal(items[2].content!.image!.type, 'image/png');
    } finally {
      await again.close();
    }
  });
  test(`${b.name}: items are read a page at a time, in order of first storage, whatever their count`, async () => {
    const { store } = await b.fresh();
    try {
      const n = 2 * ITEM_PAGE_ROWS + 5;
      for (let i = 0; i < n; i++)
        await store.saveItem({ id: `item-${i}`, content: { title: `t${i}` }, withdrawn: false, updated: i });
      // Replacing an item of the first page keeps its place; one page exactly full ends the reading too.
      await store.saveItem({ id: 'item-3', content: null, withdrawn: true, updated: n });
      const items = await store.items();
      assert.deepEqual(
        items.map((it) => it.id),
        Array.from({ length: n }, (_, i) => `item-${i}`),
      );
      assert.deepEqual(items[3], { id: 'item-3', content: null, withdrawn: true, updated: n });
      assert.deepEqual(items[n - 1].content, { title: `t${n - 1}` });
      const { store: exact } = await b.fresh();
      try {
        for (let i = 0; i < ITEM_PAGE_ROWS; i++)
          await exact.saveItem({ id: `e-${i}`, content: null, withdrawn: false, updated: i });
        assert.equal((await exact.items()).length, ITEM_PAGE_ROWS);
      } finally {
        await exact.close();
      }
    } finally {
      await store.close();
    }
  });
}

test('sqlite: a database from a newer cammsr (schema version beyond ours) is refused and left untouched', async () => {
  const url = `sqlite:${join(root, 'newer.db')}`;
  const s = await openStore(url);
  await s.append([{ user: 'u', item: 'i', timestamp: 1 }]);
  await s.close();
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(url.slice(7));
  db.prepare("INSERT INTO schema_migrations (version, applied) VALUES (99, 'later')").run();
  db.close();
  await assert.rejects(
    openStore(url),
    /schema version 99 is newer than this cammsr knows \(3\); upgrade cammsr/,
  );
  const check = new Database(url.slice(7), { readonly: true });
  assert.equal((check.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n, 1);
  check.close();
});

test('store URLs: unknown schemes and unreachable servers get clear errors', async () => {
  await assert.rejects(openStore('mysql://x'), /--db must be sqlite:<file> or postgres:\/\//);
  await assert.rejects(openStore('sqlite:'), /needs a file name/);
  await assert.rejects(
    openStore(`sqlite:${join(root, 'no-such-dir', 'x.db')}`),
    /cannot open the SQLite event store/,
  );
  await assert.rejects(
    openStore('postgres://nobody:secret@127.0.0.1:1/none'),
    (e: Error) =>
      /cannot connect to the PostgreSQL event store/.test(e.message) && !e.message.includes('secret'),
  );
});

test('prefixUpperBound: the least string above every string with the prefix, in code point order', () => {
  assert.equal(prefixUpperBound('ab'), 'ac');
  assert.equal(prefixUpperBound('a\ud7ff'), 'a\ue000', 'past the surrogates');
  assert.equal(prefixUpperBound('😀'), '😁');
  assert.equal(prefixUpperBound(''), null);
  assert.equal(prefixUpperBound('a\u{10ffff}'), null);
});

test('sqlite: a version-2 database gains the users table from its events (migration 3)', async () => {
  const Database = (await import('better-sqlite3')).default;
  const file = join(root, 'v2.db');
  const db = new Database(file);
  db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied TEXT NOT NULL)');
  for (const m of MIGRATIONS.slice(0, 2)) {
    db.exec(m.sql('sqlite'));
    db.prepare('INSERT INTO schema_migrations VALUES (?, ?)').run(m.version, 'then');
  }
  const insert = db.prepare('INSERT INTO events (user_id, item_id, ts, received) VALUES (?, ?, ?, 0)');
  for (const [u, i, t] of [
    ['b', 'x', 1],
    ['a', 'y', 2],
    ['b', 'z', 3],
  ] as const)
    insert.run(u, i, t);
  db.close();
  const store = await openStore(`sqlite:${file}`);
  try {
    assert.deepEqual(await store.users('', 10), ['a', 'b']);
    assert.deepEqual(
      (await store.history('b', 10)).map((e) => e.item),
      ['x', 'z'],
    );
    assert.equal(await store.append([{ user: 'c', item: 'x', timestamp: 4, id: 'k' }]), 1);
    assert.deepEqual(await store.users('', 10), ['a', 'b', 'c']);
  } finally {
    await store.close();
  }
});
