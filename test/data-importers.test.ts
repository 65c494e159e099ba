/** The recbole, s3rec and lcrec importers on small fixture files the tests write, good and bad. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { importRecbole } from '../src/data/importers/recbole.js';
import { importS3rec } from '../src/data/importers/s3rec.js';
import { importLcrec } from '../src/data/importers/lcrec.js';
import { tempDir } from './temp.js';

const tmp = () => tempDir('imp');

test('recbole: interactions with timestamps, item titles, genres as categories, images by id', () => {
  const d = tmp();
  writeFileSync(
    join(d, 'toy.inter'),
    'user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t10\t4\t100\n1\t11\t3\t50\n2\t10\t5\t70\n',
  );
  writeFileSync(
    join(d, 'toy.item'),
    'item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n10\tToy Story\t1995\tAnimation Comedy\n11\tHeat\t1995\tAction\n99\tUnused\t2000\tDrama\n',
  );
  mkdirSync(join(d, 'img'));
  writeFileSync(join(d, 'img', '10.jpg'), 'x');
  const raw = importRecbole({ input: d, imagesDir: join(d, 'img') });
  assert.equal(raw.name, 'toy');
  assert.deepEqual(raw.interactions.userIds, ['1', '2']);
  assert.deepEqual(Array.from(raw.interactions.time!), [100, 50, 70]);
  assert.deepEqual(raw.items.get('10'), {
    title: 'Toy Story',
    description: '1995',
    categories: [['Animation'], ['Comedy']],
    image: join(d, 'img', '10.jpg'),
  });
  assert.equal(raw.items.has('99'), false, 'catalog entries without interactions are dropped');
  assert.equal(raw.items.get('11')!.image, undefined);
  assert.equal(raw.skips.skipped, 0);
});

test('recbole: bad lines are skipped with file:line, wrong field names are errors listing the fields', () => {
  const d = tmp();
  const f = join(d, 'bad.inter');
  writeFileSync(
    f,
    'user_id:token\titem_id:token\ttimestamp:float\n1\t10\t100\n1\t11\tyesterday\n2\t10\n\t12\t5\n',
  );
  const raw = importRecbole({ input: f });
  assert.equal(raw.interactions.user.length, 1);
  assert.equal(raw.skips.skipped, 3);
  assert.deepEqual(raw.skips.reasons, { 'bad timestamp': 1, 'malformed line': 1, 'missing id': 1 });
  assert.ok(raw.skips.examples.some((e) => e.startsWith(`${f}:3: timestamp "yesterday"`)));
  assert.ok(raw.skips.examples.some((e) => e.startsWith(`${f}:4: expected 3 tab-separated fields, found 2`)));
  const g = join(d, 'cols.inter');
  writeFileSync(g, 'uid:token\titem_id:token\n1\t2\n');
  assert.throws(
    () => importRecbole({ input: g }),
    /cols\.inter: no field "user_id" in the header \(fields: uid, item_id\)/,
  );
  assert.throws(() => importRecbole({ input: join(d, 'nope.inter') }), /nope\.inter does not exist/);
  assert.throws(
    () => importRecbole({ input: d }),
    /expected exactly one \.inter file in the folder, found bad\.inter, cols\.inter|found cols\.inter, bad\.inter/,
  );
});

test('s3rec: sequences, attributes as unnamed categories, text through the id map (gzip too)', () => {
  const d = tmp();
  writeFileSync(join(d, 'Toy.txt'), '1 1 2 3\n2 2 3\n');
  writeFileSync(join(d, 'Toy_item2attributes.json'), JSON.stringify({ 1: [5, 6], 2: [5], 3: [], 9: [1] }));
  writeFileSync(join(d, 'datamaps.json'), JSON.stringify({ item2id: { A1: '1', A2: '2', A3: '3' } }));
  writeFileSync(join(d, 'item_text.txt'), 'A1 red lipstick\nA2 hair dryer\nZZ unknown thing\n');
  const raw = importS3rec({ input: join(d, 'Toy.txt') });
  assert.equal(raw.interactions.time, null);
  assert.deepEqual(
    Array.from(raw.interactions.item, (i) => raw.interactions.itemIds[i]),
    ['1', '2', '3', '2', '3'],
  );
  assert.deepEqual(raw.items.get('1'), { categories: [['5'], ['6']], title: 'red lipstick' });
  assert.equal(raw.categoryNamesKnown, false);
  assert.deepEqual(
    raw.skips.reasons,
    { 'unknown item id': 2 },
    'item 9 in attributes and ZZ in the text file',
  );
  assert.ok(raw.skips.examples.some((e) => e.includes('item_text.txt:3') && e.includes('"ZZ" is not in')));
  writeFileSync(join(d, 'Toy.txt.gz'), gzipSync('7 1 2\n'));
  const gz = importS3rec({ input: join(d, 'Toy.txt.gz'), attributes: join(d, 'Toy_item2attributes.json') });
  assert.deepEqual(gz.interactions.userIds, ['7']);
});

test('s3rec --original-ids: users and items named by the id map, same interactions and order', () => {
  const d = tmp();
  writeFileSync(join(d, 'Toy.txt'), '1 1 2 3\n2 2 3\n');
  writeFileSync(join(d, 'Toy_item2attributes.json'), JSON.stringify({ 1: [5], 3: [6] }));
  const maps = { user2id: { U_a: '1', U_b: '2' }, item2id: { A1: '1', A2: '2', A3: '3', A4: '4' } };
  writeFileSync(join(d, 'datamaps.json'), JSON.stringify(maps));
  writeFileSync(join(d, 'item_text.txt'), 'A1 red lipstick\nA3 nail polish\n');
  const bench = importS3rec({ input: join(d, 'Toy.txt') });
  const orig = importS3rec({ input: join(d, 'Toy.txt'), originalIds: true });
  assert.deepEqual(orig.interactions.userIds, ['U_a', 'U_b']);
  assert.deepEqual(orig.interactions.itemIds, ['A1', 'A2', 'A3']);
  assert.deepEqual(orig.interactions.user, bench.interactions.user);
  assert.deepEqual(orig.interactions.item, bench.interactions.item);
  assert.deepEqual(orig.items.get('A1'), { categories: [['5']], title: 'red lipstick' });
  assert.deepEqual(orig.items.get('A3'), { categories: [['6']], title: 'nail polish' });
  assert.equal(orig.items.has('1'), false);
  assert.equal(orig.source, bench.source, 'the id map is read once and named once');

  // Without the option the benchmark's numbers stay (the published files' ids).
  assert.deepEqual(bench.interactions.itemIds, ['1', '2', '3']);

  // Bad maps: missing, not one-to-one, not covering the sequences, wrong shape.
  const again = () =>
    importS3rec({ input: join(d, 'Toy.txt'), text: join(d, 'item_text.txt'), originalIds: true });
  writeFileSync(join(d, 'datamaps.json'), JSON.stringify({ ...maps, item2id: { ...maps.item2id, A9: '2' } }));
  assert.throws(again, /datamaps\.json: item ids "A2" and "A9" both map to item 2/);
  writeFileSync(join(d, 'datamaps.json'), JSON.stringify({ ...maps, user2id: { U_a: '1' } }));
  assert.throws(again, /datamaps\.json: user 2 of the sequences has no original id/);
  writeFileSync(join(d, 'datamaps.json'), JSON.stringify({ item2id: maps.item2id }));
  assert.throws(again, /datamaps\.json: expected a "user2id" object \(original id -> benchmark id\)/);
  rmSync(join(d, 'datamaps.json'));
  rmSync(join(d, 'item_text.txt'));
  assert.throws(
    () => importS3rec({ input: join(d, 'Toy.txt'), originalIds: true }),
    /--original-ids needs an id map: .*datamaps\.json does not exist \(pass --id-map\)/,
  );
});

test('s3rec: malformed input names the file and what was expected', () => {
  const d = tmp();
  writeFileSync(join(d, 'Bad.txt'), '1 1 x2 3\n2\n');
  const raw = importS3rec({ input: join(d, 'Bad.txt') });
  assert.deepEqual(raw.skips.reasons, { 'bad item id': 1, 'empty sequence': 1 });
  writeFileSync(join(d, 'Bad_item2attributes.json'), '{"1": [1,');
  assert.throws(
    () => importS3rec({ input: join(d, 'Bad.txt') }),
    /Bad_item2attributes\.json: not valid JSON/,
  );
  writeFileSync(join(d, 'Bad_item2attributes.json'), '[1, 2]');
  assert.throws(
    () => importS3rec({ input: join(d, 'Bad.txt') }),
    /expected a JSON object at the top level, found an array/,
  );
  writeFileSync(join(d, 'Bad_item2attributes.json'), '{}');
  writeFileSync(join(d, 'item_text.txt'), 'A1 text\n');
  assert.throws(
    () => importS3rec({ input: join(d, 'Bad.txt') }),
    /item_text\.txt needs an id map: .*datamaps\.json does not exist/,
  );
});

test('lcrec: JSON sequences and items with a category path and brand', () => {
  const d = tmp();
  writeFileSync(join(d, 'Sci.inter.json'), JSON.stringify({ 0: [0, 1, 2], 1: [1, 2], 2: 'oops' }));
  writeFileSync(
    join(d, 'Sci.item.json'),
    JSON.stringify({
      0: {
        title: 'Relay kit',
        description: 'Hard start kit.',
        brand: 'Supco',
        categories: 'Industrial & Scientific,Electrical,Relays',
      },
      1: { title: 'Gloves', description: '', brand: '', categories: '' },
      2: 'not an object',
      7: { title: 'never bought' },
    }),
  );
  const raw = importLcrec({ input: d });
  assert.equal(raw.name, 'Sci');
  assert.equal(raw.categoryPaths, true);
  assert.deepEqual(raw.items.get('0'), {
    title: 'Relay kit',
    description: 'Hard start kit. Brand: Supco',
    categories: [['Industrial & Scientific', 'Electrical', 'Relays']],
  });
  assert.deepEqual(raw.items.get('1'), { title: 'Gloves' });
  assert.deepEqual(raw.skips.reasons, { 'bad sequence': 1, 'bad item record': 1, 'unknown item id': 1 });
  assert.equal(raw.interactions.user.length, 5);
});
