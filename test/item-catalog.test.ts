import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ItemInfo } from '../src/data/dataset.js';
import { ItemCatalog } from '../src/serve/item-catalog.js';
import { parseCatalogOffThread, readVerifiedOffThread } from '../src/serve/load-worker.js';
import { BundleError } from '../src/serve/bundle-manifest.js';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../src/engine/rng.js';

const parse = (text: string, items = 3) => {
  const steps = ItemCatalog.parseSteps(Buffer.from(text), 'catalog.jsonl', items);
  for (;;) {
    const s = steps.next();
    if (s.done) return s.value;
  }
};

/** What search means, over plain entries: id prefixes first, then titles, each in id order. */
function naiveSearch(entries: readonly ItemInfo[], query: string, limit: number): ItemInfo[] {
  const q = query.toLowerCase();
  const byId = entries.filter((it) => it.id.toLowerCase().startsWith(q));
  const byTitle = entries.filter(
    (it) => !it.id.toLowerCase().startsWith(q) && (it.title ?? '').toLowerCase().includes(q),
  );
  return [...byId, ...byTitle].slice(0, limit);
}

test('a catalog finds every id and gives back every entry as written', () => {
  const entries: ItemInfo[] = [
    { id: 'a', title: 'Alpha', categories: ['x', 'y'], image: 'a.png' },
    { id: 'ab' },
    { id: 'İstanbul', title: 'City' }, // lower-cases to a longer string
    { id: '🍎 apple', title: 'Fruit 🍎' },
    { id: '', title: 'empty id' },
  ];
  const c = ItemCatalog.of(entries);
  assert.equal(c.size, 5);
  entries.forEach((it, k) => {
    assert.equal(c.indexOf(it.id), k + 1);
    assert.equal(c.id(k + 1), it.id);
    assert.deepEqual(c.item(k + 1), it);
  });
  assert.deepEqual(
    c.ids(),
    entries.map((it) => it.id),
  );
  for (const absent of ['b', 'A', 'a ', 'abc', 'istanbul']) assert.equal(c.has(absent), false, absent);
  assert.throws(() => c.item(0), /no item 0 in a catalog of 5/);
  assert.throws(() => c.item(6), /no item 6/);
  for (const i of [0, -1, 1.5, 6]) assert.throws(() => c.id(i), RangeError, `id(${i})`);
  // Entries are copies: changing one changes nothing stored.
  c.item(1).title = 'changed';
  assert.equal(c.item(1).title, 'Alpha');
});

test('a large catalog with colliding hash slots finds every id and no other', () => {
  const ids = Array.from({ length: 20_000 }, (_, k) => `item-${k}`);
  const c = ItemCatalog.of(ids.map((id) => ({ id })));
  ids.forEach((id, k) => assert.equal(c.indexOf(id), k + 1));
  for (let k = 20_000; k < 21_000; k++) assert.equal(c.indexOf(`item-${k}`), undefined);
});

test('catalog lines are checked, and a bad one is named by its line', () => {
  const c = parse('{"id":"a"}\n\n{"id":"b","title":"B"}\n', 2);
  assert.deepEqual(c.ids(), ['a', 'b'], 'blank lines are skipped');
  const cases: [string, RegExp][] = [
    ['{"id":"a"}\n{oops\n', /catalog\.jsonl, line 2: /],
    ['{"id":"a"}\n\n{"title":"t"}\n', /catalog\.jsonl, line 3: field "id" must be a string/],
    ['{"id":7}\n', /line 1: field "id" must be a string/],
    ['[1]\n', /line 1: not a JSON object/],
    ['{"id":"a","title":3}\n', /field "title" must be a string/],
    ['{"id":"a","categories":"x"}\n', /field "categories" must be a list of strings/],
    ['{"id":"a","image":"../x.png"}\n', /item a: field "image" must be a file name without a path/],
    ['{"id":"a","image":".."}\n', /without a path/],
    ['{"id":"a"}\n{"id":"b"}\n{"id":"a"}\n', /catalog\.jsonl: items 1 and 3 have the same id "a"/],
    ['{"id":"a"}\n{"id":"b"}\n{"id":"c"}\n{"id":"d"}\n', /catalog\.jsonl: more than the 3 items expected/],
  ];
  for (const [text, message] of cases) assert.throws(() => parse(text), message, text);
});

test('search matches what it means on plain entries, with and without changes over the catalog', () => {
  const rng = new Rng(7);
  const letters = 'abAB İ';
  const word = (n: number) => Array.from({ length: n }, () => letters[rng.int(letters.length)]).join('');
  // More than a block of strings (32,768 items): matches in every block and at their edges.
  const entries: ItemInfo[] = Array.from({ length: 70_000 }, (_, k) => {
    const id = `${word(1 + rng.int(3))}-${k.toString(36)}`;
    return rng.int(4) === 0 ? { id } : { id, title: word(rng.int(8)) };
  });
  const base = ItemCatalog.of(entries);
  // Changes: a title changed, one added, an added one changed again.
  const changed = { id: entries[10].id, title: 'aab new' };
  const added = { id: 'zz-new', title: 'b a' };
  const grown = base.withChanges([changed, added, { ...added, title: 'AB again' }]);
  const after = entries
    .map((it) => (it.id === changed.id ? changed : it))
    .concat({ ...added, title: 'AB again' });
  const queries = ['', 'a', 'A', 'ab', 'b a', 'İ', 'i̇', 'aab', 'zz', 'x', ' ', 'ab again', 'a-', '-1'];
  for (const q of queries)
    for (const limit of [1, 5, 1000]) {
      assert.deepEqual(base.search(q, limit), naiveSearch(entries, q, limit), `"${q}" ${limit}`);
      assert.deepEqual(grown.search(q, limit), naiveSearch(after, q, limit), `grown "${q}" ${limit}`);
    }
});

test('changes lie over a catalog: entries replaced or added, the catalog itself unchanged', () => {
  const base = ItemCatalog.of([{ id: 'a', title: 'A' }, { id: 'b' }]);
  const one = base.withChanges([
    { id: 'b', title: 'B' },
    { id: 'c', title: 'C' },
  ]);
  const two = one.withChanges([{ id: 'c', title: 'C2' }, { id: 'd' }]);
  assert.deepEqual(base.ids(), ['a', 'b']);
  assert.equal(base.item(2).title, undefined);
  assert.deepEqual(one.ids(), ['a', 'b', 'c']);
  assert.deepEqual(two.ids(), ['a', 'b', 'c', 'd']);
  assert.equal(one.item(2).title, 'B');
  assert.equal(one.item(3).title, 'C');
  assert.equal(two.item(3).title, 'C2');
  assert.equal(two.indexOf('d'), 4);
  assert.equal(one.has('d'), false);
  assert.equal(two.id(4), 'd');
});

test('files read and a catalog parsed on the load worker: the same as here; errors name the file and line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cammsr-load-worker-'));
  const put = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return createHash('sha256').update(text).digest('hex');
  };
  try {
    const entries: ItemInfo[] = Array.from({ length: 40_000 }, (_, k) => ({
      id: `B${String(k).padStart(9, '0')}`, // ten characters, as Amazon's
      title: `title ${k % 97}`,
      ...(k % 3 === 0 ? { categories: ['x', `c${k % 5}`] } : {}),
    }));
    const text = entries.map((it) => JSON.stringify(it) + '\n').join('');
    const here = parse(text, entries.length);
    const sha = put('catalog.jsonl', text);
    // Two at once share the worker; the small file's bytes sit in Node's buffer pool there.
    const [there, small] = await Promise.all([
      parseCatalogOffThread(dir, 'catalog.jsonl', sha, entries.length),
      parseCatalogOffThread(dir, 'small.jsonl', put('small.jsonl', '{"id":"a"}\n'), 1),
    ]);
    assert.deepEqual(there.ids(), here.ids());
    for (const i of [1, 2, 32_768, 32_769, 40_000]) assert.deepEqual(there.item(i), entries[i - 1]);
    assert.equal(there.indexOf('B000032768'), 32_769);
    assert.deepEqual(there.search('title 5', 3), here.search('title 5', 3));
    assert.deepEqual(small.ids(), ['a']);
    const bad = put('bad.jsonl', '{"id":"a"}\n{"id":1}\n');
    await assert.rejects(
      parseCatalogOffThread(dir, 'bad.jsonl', bad, 2),
      (e: Error) =>
        e instanceof BundleError && /bad\.jsonl, line 2: field "id" must be a string/.test(e.message),
    );
    await assert.rejects(parseCatalogOffThread(dir, 'bad.jsonl', sha, 2), /bad\.jsonl is corrupt/);
    // Files: the bytes as written, checked only, missing, corrupt.
    assert.equal(
      (await readVerifiedOffThread(dir, 'small.jsonl', put('small.jsonl', 'xyz'))).toString(),
      'xyz',
    );
    assert.equal((await readVerifiedOffThread(dir, 'catalog.jsonl', sha, { keep: false })).length, 0);
    await assert.rejects(
      readVerifiedOffThread(dir, 'ghost', sha),
      /ghost is missing \(listed in bundle\.json\)/,
    );
    await assert.rejects(readVerifiedOffThread(dir, 'catalog.jsonl', bad), BundleError);
    // A file of several read chunks (8 MB each), kept and only checked.
    const big = Buffer.alloc(9 * 2 ** 20 + 5, 'ab');
    writeFileSync(join(dir, 'big.bin'), big);
    const bigSha = createHash('sha256').update(big).digest('hex');
    assert.ok((await readVerifiedOffThread(dir, 'big.bin', bigSha)).equals(big));
    assert.equal((await readVerifiedOffThread(dir, 'big.bin', bigSha, { keep: false })).length, 0);
    await assert.rejects(readVerifiedOffThread(dir, 'big.bin', sha, { keep: false }), /big\.bin is corrupt/);
    // The worker is still there for the next load.
    assert.equal(
      (await parseCatalogOffThread(dir, 'small.jsonl', put('small.jsonl', '{"id":"b"}'), 1)).id(1),
      'b',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
