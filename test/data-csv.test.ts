/** The csv importer (CSV, TSV, JSON lines, Parquet, .gz) on fixture files the tests write. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DuckDBInstance } from '@duckdb/node-api';
import { DataError } from '../src/data/errors.js';
import { importCsv, type CsvDataset } from '../src/data/importers/table/index.js';
import { tempDir } from './temp.js';

const root = tempDir('csv');
let fileNo = 0;
/** Writes `text` (or bytes) to a fresh file with the given name suffix; returns its path. */
function file(suffix: string, content: string | Buffer): string {
  const p = join(root, `f${fileNo++}${suffix}`);
  writeFileSync(p, content);
  return p;
}

/** The rows as [user, item, time] in result order. */
function rows(ds: CsvDataset): [string, string, number | null][] {
  const c = ds.interactions;
  return Array.from(c.user, (u, r) => [c.userIds[u], c.itemIds[c.item[r]], c.time ? c.time[r] : null]);
}

const BASIC = [
  ['u1', 'i1', 300],
  ['u2', 'i1', 100],
  ['u1', 'i2', 200],
  ['u2', 'i3', 50],
] as const;
const BASIC_SORTED = [
  ['u1', 'i2', 200],
  ['u1', 'i1', 300],
  ['u2', 'i3', 50],
  ['u2', 'i1', 100],
];
const basicCsv = (sep: string): string =>
  ['user_id', 'item_id', 'timestamp'].join(sep) + '\n' + BASIC.map((r) => r.join(sep)).join('\n') + '\n';

test('CSV, TSV, JSON lines, gzipped CSV and Parquet give the same sorted interactions', async () => {
  const csv = file('.csv', basicCsv(','));
  const tsv = file('.tsv', basicCsv('\t'));
  const jsonl = file(
    '.jsonl',
    BASIC.map(([u, i, t]) => JSON.stringify({ user_id: u, item_id: i, timestamp: t, extra: [1] })).join('\n'),
  );
  const gz = file('.csv.gz', gzipSync(basicCsv(',')));
  const parquet = join(root, 'basic.parquet');
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  const values = BASIC.map(([u, i, t]) => `('${u}', '${i}', ${t})`).join(', ');
  await conn.run(
    `COPY (SELECT * FROM (VALUES ${values}) v(user_id, item_id, timestamp)) TO '${parquet}' (FORMAT parquet)`,
  );
  conn.closeSync();
  db.closeSync();
  for (const f of [csv, tsv, jsonl, gz, parquet]) {
    const ds = await importCsv({ interactions: f });
    assert.deepEqual(rows(ds), BASIC_SORTED, f);
    assert.deepEqual(ds.interactions.userIds, ['u1', 'u2'], 'users in order of first appearance');
    assert.equal(ds.skips.skipped, 0);
    assert.equal(ds.skips.records, 4);
    assert.ok(ds.interactions.user instanceof Int32Array && ds.interactions.time instanceof Float64Array);
  }
  // The format can be forced when the name does not tell.
  const odd = file('.txt', basicCsv('\t'));
  assert.deepEqual(rows(await importCsv({ interactions: odd, interactionsFormat: 'tsv' })), BASIC_SORTED);
  await assert.rejects(importCsv({ interactions: odd }), /cannot tell the format.*interactionsFormat/);
});

test('custom column names, no time column (file order), name and source', async () => {
  const f = file('.csv', 'who,what,rating\nb,x,5\na,y,3\nb,z,1\n');
  const ds = await importCsv({ interactions: f, columns: { user: 'who', item: 'what' }, name: 'toy' });
  assert.equal(ds.name, 'toy');
  assert.match(ds.source, /^csv: .*\.csv$/);
  assert.equal(ds.interactions.time, null);
  assert.deepEqual(rows(ds), [
    ['b', 'x', null],
    ['b', 'z', null],
    ['a', 'y', null],
  ]);
  const named = await importCsv({ interactions: f, columns: { user: 'who', item: 'what' } });
  assert.equal(named.name, f.split('/').pop()!.replace('.csv', ''));
});

test('seconds, milliseconds and ISO 8601 give the same seconds', async () => {
  const s = 1577836800;
  const f = file(
    '.csv',
    'user_id,item_id,timestamp\n' +
      `u,a,${s}\nu,b,${s * 1000}\nu,c,2020-01-01T00:00:00Z\nu,d,2020-01-01T09:00:00+09:00\n` +
      `u,e,2020-01-01 00:00:00\nu,f,2020-01-01\nu,g,${s}.5\nu,h,2020-01-01T00:00:00.500Z\n`,
  );
  const ds = await importCsv({ interactions: f });
  assert.deepEqual(Array.from(ds.interactions.time!), [s, s, s, s, s, s, s + 0.5, s + 0.5]);
  assert.deepEqual(ds.interactions.itemIds, ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']);
  // Explicit units.
  const secs = file('.csv', `user_id,item_id,timestamp\nu,a,${s}\n`);
  const ms = file('.csv', `user_id,item_id,timestamp\nu,a,${s * 1000}\n`);
  const iso = file('.csv', `user_id,item_id,timestamp\nu,a,2020-01-01T00:00:00Z\n`);
  assert.equal((await importCsv({ interactions: secs, timeUnit: 's' })).interactions.time![0], s);
  assert.equal((await importCsv({ interactions: ms, timeUnit: 'ms' })).interactions.time![0], s);
  assert.equal((await importCsv({ interactions: iso, timeUnit: 'iso' })).interactions.time![0], s);
  // A number is not ISO 8601.
  const wrong = await importCsv({
    interactions: file('.csv', `user_id,item_id,timestamp\nu,a,${s}\nu,b,x\n`),
  });
  assert.equal(wrong.skips.reasons['bad time'], 1);
  await assert.rejects(
    importCsv({ interactions: secs, timeUnit: 'iso' }),
    /no valid interactions.*1 bad time/s,
  );
  // JSON numbers and Parquet timestamps too.
  const j = file('.jsonl', `{"user_id": 1, "item_id": 2, "timestamp": ${s * 1000}}\n`);
  const dj = await importCsv({ interactions: j });
  assert.deepEqual(rows(dj), [['1', '2', s]]);
  const pq = join(root, 'ts.parquet');
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  await conn.run(
    `COPY (SELECT 'u' AS user_id, 'i' AS item_id, TIMESTAMP '2020-01-01 00:00:00' AS timestamp) TO '${pq}' (FORMAT parquet)`,
  );
  conn.closeSync();
  db.closeSync();
  assert.deepEqual(rows(await importCsv({ interactions: pq })), [['u', 'i', s]]);
});

test('a wrong column name is a DataError naming the file, the column and the columns that exist', async () => {
  const f = file('.csv', 'user,item_id,ts\nu,i,1\n');
  await assert.rejects(importCsv({ interactions: f }), (e: Error) => {
    assert.ok(e instanceof DataError);
    assert.ok(e.message.includes(f), e.message);
    assert.match(e.message, /no column "user_id" \(the user column, option columns\.user\)/);
    assert.match(e.message, /columns in the file: "user", "item_id", "ts"/);
    return true;
  });
  // An explicitly named time column must exist; the default one is optional.
  await assert.rejects(
    importCsv({ interactions: f, columns: { user: 'user', time: 'time' } }),
    /no column "time"/,
  );
  const ok = await importCsv({ interactions: f, columns: { user: 'user' } });
  assert.equal(ok.interactions.time, null);
  // Near misses and TSV read as CSV get a hint.
  await assert.rejects(importCsv({ interactions: f, columns: { user: 'USER' } }), /Did you mean "user"\?/);
  const tsvAsCsv = file('.csv', 'user_id\titem_id\nu\ti\n');
  await assert.rejects(importCsv({ interactions: tsvAsCsv }), /is this a TSV file\?/);
  const jl = file('.jsonl', '{"uid": "u", "item_id": "i"}\n');
  await assert.rejects(importCsv({ interactions: jl }), /no column "user_id".*"uid", "item_id"/);
  await assert.rejects(importCsv({ interactions: file('.csv', '') }), /is empty: expected a header line/);
});

test('bad times, missing users and malformed rows are skipped and counted with file:line examples', async () => {
  const f = file(
    '.csv',
    'user_id,item_id,timestamp\n' +
      'u1,i1,100\n' + // line 2
      '\n' + // 3: blank, ignored
      'u1,"multi\nline",200\n' + // 4-5: one record over two lines
      'u2,i2,yesterday\n' + // 6: bad time
      ',i3,300\n' + // 7: missing user
      'u3,,300\n' + // 8: missing item
      'u3,i3\n' + // 9: too few columns
      'u4,i4,\n' + // 10: missing time
      'u5,i5,400\n',
  );
  const ds = await importCsv({ interactions: f });
  assert.deepEqual(rows(ds), [
    ['u1', 'i1', 100],
    ['u1', 'multi\nline', 200],
    ['u5', 'i5', 400],
  ]);
  assert.equal(ds.skips.records, 8);
  assert.equal(ds.skips.skipped, 5);
  assert.deepEqual(ds.skips.reasons, {
    'bad time': 1,
    'missing user': 1,
    'missing item': 1,
    'missing time': 1,
    'malformed row': 1,
  });
  assert.deepEqual(ds.skips.examples, [
    `${f}:6: timestamp "yesterday" is not a number (seconds, or milliseconds above 1e11) or an ISO 8601 date/time`,
    `${f}:7: user_id is missing or empty`,
    `${f}:8: item_id is missing or empty`,
    `${f}:9: Expected Number of Columns: 3 Found: 2 (row left out)`,
    `${f}:10: timestamp is missing or empty`,
  ]);
  // JSON lines: line numbers count blank lines; malformed lines are skipped too.
  const j = file(
    '.jsonl',
    '{"user_id":"a","item_id":"x","timestamp":1}\n\n{oops\n{"item_id":"y","timestamp":2}\n' +
      '{"user_id":"a","item_id":"y","timestamp":"soon"}\n',
  );
  const dj = await importCsv({ interactions: j });
  assert.deepEqual(rows(dj), [['a', 'x', 1]]);
  assert.deepEqual(dj.skips.examples, [
    `${j}:3: not a valid JSON object`,
    `${j}:4: user_id is missing or empty`,
    `${j}:5: timestamp "soon" is not a number (seconds, or milliseconds above 1e11) or an ISO 8601 date/time`,
  ]);
  assert.equal(dj.skips.records, 4);
  // Only a few examples per reason, but all are counted.
  const many = file(
    '.csv',
    'user_id,item_id,timestamp\n' + Array.from({ length: 10 }, (_, k) => `u,i${k},x\n`).join('') + 'u,a,1\n',
  );
  const dm = await importCsv({ interactions: many });
  assert.equal(dm.skips.reasons['bad time'], 10);
  assert.equal(dm.skips.examples.length, 3);
  assert.match(dm.skips.examples[0], /:2: timestamp "x"/);
});

test('dedupe: exact, first and none', async () => {
  const f = file('.csv', 'user_id,item_id,timestamp\nu,a,10\nu,b,20\nu,a,10\nu,a,30\nv,a,10\nu,b,5\n');
  const none = await importCsv({ interactions: f, dedupe: 'none' });
  assert.equal(none.stats.duplicates, 0);
  assert.equal(rows(none).length, 6);
  const exact = await importCsv({ interactions: f, dedupe: 'exact' });
  assert.deepEqual(rows(exact), [
    ['u', 'b', 5],
    ['u', 'a', 10],
    ['u', 'b', 20],
    ['u', 'a', 30],
    ['v', 'a', 10],
  ]);
  assert.equal(exact.stats.duplicates, 1);
  const first = await importCsv({ interactions: f, dedupe: 'first' });
  assert.deepEqual(rows(first), [
    ['u', 'b', 5],
    ['u', 'a', 10],
    ['v', 'a', 10],
  ]);
  assert.equal(first.stats.duplicates, 3);
  // Equal times: 'first' keeps the earlier row of the file.
  const tie = await importCsv({
    interactions: file('.csv', 'user_id,item_id,timestamp,n\nu,a,10,1\nu,a,10,2\n'),
    dedupe: 'first',
  });
  assert.equal(rows(tie).length, 1);
  // Without timestamps 'exact' drops an item repeated right after itself; 'first' any repeat.
  const nt = file('.csv', 'user_id,item_id\nu,a\nu,a\nv,a\nu,b\nu,a\n');
  assert.deepEqual(
    rows(await importCsv({ interactions: nt, dedupe: 'exact' })).map((r) => r[1]),
    ['a', 'b', 'a', 'a'],
  );
  assert.deepEqual(
    rows(await importCsv({ interactions: nt, dedupe: 'first' })).map((r) => r[0] + r[1]),
    ['ua', 'ub', 'va'],
  );
});

test('dedupe runs before the k-core: duplicates do not count towards it', async () => {
  const f = file('.csv', 'user_id,item_id,timestamp\nu,a,10\nu,a,10\nv,a,1\nv,b,2\n');
  const ds = await importCsv({ interactions: f, dedupe: 'exact', kcore: { user: 2, item: 1 } });
  assert.deepEqual(rows(ds), [
    ['v', 'a', 1],
    ['v', 'b', 2],
  ]);
  assert.deepEqual(ds.stats, {
    valid: 4,
    duplicates: 1,
    kcoreRemoved: 1,
    kcoreRounds: 2,
    kept: 2,
    unknownItems: 0,
    duplicateItems: 0,
  });
  // Without dedupe the duplicate pair satisfies the k-core.
  assert.equal(rows(await importCsv({ interactions: f, kcore: { user: 2, item: 1 } })).length, 4);
});

test('k-core is iterated until stable, and ids are re-densified', async () => {
  // Round 1 drops item c (1 interaction); then user w has 1 interaction left and goes in
  // round 2; round 3 finds nothing more. One round alone would leave w.
  const f = file('.csv', 'user_id,item_id,timestamp\nw,c,1\nu,a,1\nu,b,2\nv,a,3\nv,b,4\nw,a,5\nx,z,1\n');
  const ds = await importCsv({ interactions: f, kcore: { user: 2, item: 2 } });
  assert.deepEqual(rows(ds), [
    ['u', 'a', 1],
    ['u', 'b', 2],
    ['v', 'a', 3],
    ['v', 'b', 4],
  ]);
  assert.deepEqual(ds.interactions.userIds, ['u', 'v']);
  assert.deepEqual(ds.interactions.itemIds, ['a', 'b']);
  assert.deepEqual(Array.from(ds.interactions.user), [0, 0, 1, 1]);
  assert.deepEqual(Array.from(ds.interactions.item), [0, 1, 0, 1]);
  assert.equal(ds.stats.kcoreRounds, 3);
  assert.equal(ds.stats.kcoreRemoved, 3);
  assert.equal(ds.stats.kept, 4);
  // Nothing survives: a DataError that says so.
  await assert.rejects(importCsv({ interactions: f, kcore: { user: 3, item: 3 } }), (e: Error) => {
    assert.ok(e instanceof DataError);
    assert.match(e.message, /no interactions are left after the 3\/3 user\/item k-core/);
    return true;
  });
});

test('equal timestamps keep file order; users are sorted by first appearance, then time', async () => {
  const f = file('.csv', 'user_id,item_id,timestamp\nz,c,100\nz,a,50\ny,q,1\nz,b,100\nz,d,100\n');
  assert.deepEqual(rows(await importCsv({ interactions: f })), [
    ['z', 'a', 50],
    ['z', 'c', 100],
    ['z', 'b', 100],
    ['z', 'd', 100],
    ['y', 'q', 1],
  ]);
});

test('items file: flat categories, paths, JSON lists, images; unknown ids are counted, not errors', async () => {
  const inter = file('.csv', 'user_id,item_id,timestamp\nu,i1,1\nu,i2,2\nv,i1,3\nv,i3,4\n');
  const flat = file(
    '.csv',
    'item_id,title,description,categories,image\n' +
      'i1,Toy Story,A toy,Animation|Comedy,i1.jpg\n' +
      'i2,Heat,,Action,\n' +
      'i9,Unused,,Drama,\n' +
      'i1,Repeated,,,\n' +
      ',No id,,,\n',
  );
  const ds = await importCsv({ interactions: inter, items: flat, imagesDir: '/data/img' });
  assert.equal(ds.categoryPaths, false);
  assert.deepEqual(ds.items.get('i1'), {
    title: 'Toy Story',
    description: 'A toy',
    categories: [['Animation'], ['Comedy']],
    image: '/data/img/i1.jpg',
  });
  assert.deepEqual(ds.items.get('i2'), { title: 'Heat', categories: [['Action']] });
  assert.equal(ds.items.has('i3'), false, 'no metadata for i3');
  assert.equal(ds.items.has('i9'), false);
  assert.equal(ds.stats.unknownItems, 1);
  assert.equal(ds.stats.duplicateItems, 1);
  assert.equal(ds.skips.reasons['item without id'], 1);
  assert.match(ds.skips.examples.join('\n'), /:6: item_id is missing or empty/);
  assert.equal(ds.skips.records, 4 + 5);

  // Any label with the path separator makes all labels paths.
  const paths = file(
    '.tsv',
    'item_id\tcategories\ni1\tBeauty > Skin Care > Face|Beauty > Makeup\ni2\tTools\ni3\tBeauty >  Skin Care > Face | Beauty > Skin Care > Face\n',
  );
  const dp = await importCsv({ interactions: inter, items: paths });
  assert.equal(dp.categoryPaths, true);
  assert.deepEqual(dp.items.get('i1')!.categories, [
    ['Beauty', 'Skin Care', 'Face'],
    ['Beauty', 'Makeup'],
  ]);
  assert.deepEqual(dp.items.get('i2')!.categories, [['Tools']]);
  assert.deepEqual(dp.items.get('i3')!.categories, [['Beauty', 'Skin Care', 'Face']], 'duplicates merged');

  // Custom separators and column names, and JSON lines with list-valued categories.
  const custom = file('.csv', 'iid,name,cats\ni1,One,A/B;C\n');
  const dc = await importCsv({
    interactions: inter,
    items: custom,
    columns: { itemId: 'iid', title: 'name', categories: 'cats' },
    categorySeparator: ';',
    pathSeparator: '/',
  });
  assert.deepEqual(dc.items.get('i1'), { title: 'One', categories: [['A', 'B'], ['C']] });
  const jl = file(
    '.jsonl',
    '{"item_id":"i1","title":"T","description":["Para 1","Para 2"],"categories":[["Beauty","Hair"],["Tools"]]}\n' +
      '{"item_id":"i2","categories":["Action","Comedy"]}\n',
  );
  const dj = await importCsv({ interactions: inter, items: jl });
  assert.equal(dj.categoryPaths, true);
  assert.deepEqual(dj.items.get('i1'), {
    title: 'T',
    description: 'Para 1 Para 2',
    categories: [['Beauty', 'Hair'], ['Tools']],
  });
  assert.deepEqual(dj.items.get('i2')!.categories, [['Action'], ['Comedy']]);
  // An explicitly named items column must exist.
  await assert.rejects(
    importCsv({ interactions: inter, items: flat, columns: { title: 'name' } }),
    /no column "name" \(the title column, option columns\.title\).*"item_id", "title"/,
  );
});

test('images found by item id in imagesDir when there is no image column', async () => {
  const dir = mkdtempSync(join(root, 'img-'));
  writeFileSync(join(dir, 'i1.jpg'), 'x');
  const ds = await importCsv({ interactions: file('.csv', basicCsv(',')), imagesDir: dir });
  assert.deepEqual(ds.items.get('i1'), { image: join(dir, 'i1.jpg') });
  assert.equal(ds.items.has('i2'), false);
  assert.match(ds.source, / \+ images /);
});

test('progress is reported by stage', async () => {
  const stages = new Set<string>();
  await importCsv(
    { interactions: file('.csv', basicCsv(',')), kcore: { user: 1, item: 1 }, dedupe: 'exact' },
    (s) => stages.add(s),
  );
  for (const s of ['read', 'validate', 'dedupe', 'ids', 'sort', 'fetch']) assert.ok(stages.has(s), s);
});
