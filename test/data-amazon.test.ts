/**
 * The Amazon importer on small fixture files of each format (gzipped and plain, with bad
 * lines), the Python-literal parser the 2014 metadata needs, and the column builder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { AMAZON_SKIP, detectAmazon, htmlToText, importAmazon } from '../src/data/importers/amazon.js';
import { streamLines } from '../src/data/importers/line-stream.js';
import { ColumnBuilder, Interner } from '../src/data/importers/columns.js';
import { parsePythonLiteral, PythonLiteralError } from '../src/data/python-literal.js';
import { DataError } from '../src/data/errors.js';
import type { ItemRecord, RawDataset } from '../src/data/types.js';
import { tempDir } from './temp.js';

const dir = tempDir('amazon');

/** Writes lines (joined with "\n", final newline) to `name` in the temp dir, gzipped if asked. */
function fixture(name: string, lines: string[], gzip = false): string {
  const path = join(dir, name);
  const text = lines.join('\n') + '\n';
  writeFileSync(path, gzip ? gzipSync(text) : text);
  return path;
}

const json = (o: unknown): string => JSON.stringify(o);

/** The rows as [user id, item id, time] triples, for readable comparisons. */
function rows(ds: RawDataset): [string, string, number | null][] {
  const c = ds.interactions;
  return Array.from(c.user, (u, r) => [c.userIds[u], c.itemIds[c.item[r]], c.time ? c.time[r] : null]);
}

// ---------------------------------------------------------------------------------------
// 2014

test('amazon 2014: gzipped reviews and Python-literal meta', async () => {
  const review = (u: string, a: string, t: number) =>
    json({
      reviewerID: u,
      asin: a,
      reviewerName: 'X',
      helpful: [0, 0],
      reviewText: 'ok',
      overall: 5.0,
      summary: 's',
      unixReviewTime: t,
      reviewTime: '01 18, 2014',
    });
  const reviews = fixture(
    'reviews_Beauty_5.json.gz',
    [
      review('U1', 'A1', 1390000000),
      review('U1', 'A2', 1390000100),
      review('U2', 'A1', 1390000200),
      '{"reviewerID": "U3", "asin": ', // line 4: malformed
      '', // line 5: blank, not a record
      json({ reviewerID: 'U3', unixReviewTime: 1 }), // line 6: no asin
      json({ reviewerID: 'U2', asin: 'A3', unixReviewTime: 'soon' }), // line 7: bad time
      review('U3', 'A3', 1390000300) + '\r', // line 8: CRLF
      json({ asin: 'A3', unixReviewTime: 5 }), // line 9: no user
      json({ reviewerID: 'U3', asin: 'A1' }), // line 10: no time
    ],
    true,
  );
  const meta = fixture(
    'meta_Beauty.json.gz',
    [
      // Python 2 repr: escaped quotes, UTF-8 bytes as \x escapes, nested dicts/lists, floats.
      String.raw`{'asin': 'A1', 'title': 'L\'Or\xc3\xa9al "Magic" Primer', 'description': 'Smooths skin.\nLasts & lasts', 'categories': [['Beauty', 'Makeup', 'Face'], ['Beauty', 'Skin Care'], ['Beauty', 'Makeup', 'Face']], 'brand': 'L\'Oreal', 'related': {'also_bought': ['A2', 'A9'], 'bought_together': []}, 'salesRank': {'Beauty': 1234}, 'price': 9.99, 'imUrl': 'http://x/y.jpg'}`,
      String.raw`{'asin': 'A9', 'title': 'never reviewed'}`,
      // u'' strings with \x and \u escapes, True/None, a tuple, a double-quoted string.
      String.raw`{'asin': 'A2', 'title': u'Caf\xe9 \u2013 Cr\xe8me', 'description': "It's <b>good</b> &amp; cheap", 'categories': [['Beauty']], 'available': True, 'brand': None, 'dims': (1, 2.5, -3)}`,
      String.raw`{'asin': 'A3', 'title': 'unterminated}`, // line 4: not parseable
      String.raw`{'asin': 'A1', 'title': 'a duplicate: the first line wins'}`,
      String.raw`{'title': 'no asin'}`, // line 6
      '[1, 2]', // line 7: parseable but not a dict
    ],
    true,
  );
  const ds = await importAmazon({ reviews, meta });
  assert.equal(ds.name, 'Beauty_5');
  assert.equal(ds.source, `Amazon 2014 (reviews ${reviews}, meta ${meta})`);
  assert.equal(ds.categoryPaths, true);
  assert.deepEqual(ds.interactions.userIds, ['U1', 'U2', 'U3']);
  assert.deepEqual(ds.interactions.itemIds, ['A1', 'A2', 'A3']);
  assert.deepEqual(ds.interactions.user, Int32Array.from([0, 0, 1, 2]));
  assert.deepEqual(ds.interactions.item, Int32Array.from([0, 1, 0, 2]));
  assert.deepEqual(ds.interactions.time, Float64Array.from([1390000000, 1390000100, 1390000200, 1390000300]));
  assert.deepEqual(
    ds.items,
    new Map<string, ItemRecord>([
      [
        'A1',
        {
          title: 'L\'Oréal "Magic" Primer',
          description: "Smooths skin. Lasts & lasts\nBrand: L'Oreal",
          categories: [
            ['Beauty', 'Makeup', 'Face'],
            ['Beauty', 'Skin Care'],
          ],
        },
      ],
      [
        'A2',
        {
          title: 'Café \u2013 Crème',
          description: "It's good & cheap",
          categories: [['Beauty']],
        },
      ],
    ]),
  );
  const { examples, ...counts } = ds.skips;
  assert.deepEqual(counts, {
    records: 9 + 7,
    skipped: 5 + 3,
    reasons: {
      [AMAZON_SKIP.unparseableReview]: 1,
      [AMAZON_SKIP.noItem]: 1,
      [AMAZON_SKIP.badTime]: 1,
      [AMAZON_SKIP.noUser]: 1,
      [AMAZON_SKIP.noTime]: 1,
      [AMAZON_SKIP.unparseableMeta]: 2,
      [AMAZON_SKIP.noMetaItem]: 1,
    },
  });
  assert.equal(examples.length, 8);
  assert.match(examples[0], new RegExp(`^${escape(reviews)}:4: expected a JSON object \\(.+\\)$`));
  assert.deepEqual(examples.slice(1, 5), [
    `${reviews}:6: expected "asin" (a non-empty string)`,
    `${reviews}:7: expected "unixReviewTime" to be a number, got "soon"`,
    `${reviews}:9: expected "reviewerID" (a non-empty string)`,
    `${reviews}:10: expected "unixReviewTime" (a number)`,
  ]);
  assert.match(
    examples[5],
    new RegExp(
      `^${escape(meta)}:4: expected a Python dict literal \\(unterminated string starting at column 25\\)$`,
    ),
  );
  assert.equal(examples[6], `${meta}:6: expected "asin" (a non-empty string)`);
  assert.equal(examples[7], `${meta}:7: expected a Python dict literal, got an array`);
});

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('amazon 2014: meta converted to strict JSON is accepted too', async () => {
  const reviews = fixture('reviews_Toys.json', [json({ reviewerID: 'U', asin: 'T1', unixReviewTime: 7 })]);
  const meta = fixture('meta_Toys.json', [
    json({ asin: 'T1', title: 'Top', categories: [['Toys', 'Tops']] }),
  ]);
  const ds = await importAmazon({ reviews, meta });
  assert.match(ds.source, /^Amazon 2014 /);
  assert.deepEqual(ds.items.get('T1'), { title: 'Top', categories: [['Toys', 'Tops']] });
});

// ---------------------------------------------------------------------------------------
// 2018

test('amazon 2018: plain reviews and JSON meta with HTML', async () => {
  const review = (u: string, a: string, t: number) =>
    json({ overall: 4.0, vote: '2', verified: true, reviewerID: u, asin: a, unixReviewTime: t, style: {} });
  const reviews = fixture('All_Beauty.json', [
    review('R1', 'B1', 1500000000),
    review('R2', 'B2', 1500000001),
    review('R1', 'B3', 1500000002),
    review('R3', 'B1', 1500000003),
    '{not json', // line 5
  ]);
  const meta = fixture('meta_All_Beauty.json', [
    json({
      asin: 'B1',
      title: 'Shampoo &amp; Conditioner <b>Set</b>',
      description: ['<p>Gentle &quot;daily&quot; formula.</p>', 'It&#39;s great &lt;3 &#x2764;', '  '],
      category: ['All Beauty', 'Hair Care', '</span></span>', 'Shampoo &amp; Conditioner'],
      brand: 'Acme',
      imageURL: ['https://example.com/1.jpg'],
      imageURLHighRes: ['https://example.com/1L.jpg'],
      main_cat: 'All Beauty',
    }),
    json({
      asin: 'B2',
      title: 'Plain',
      description: 'single string',
      category: [],
      main_cat: 'Luxury Beauty',
    }),
    '{"asin": "B3", "title": oops}', // line 3: not JSON
    json({ asin: 'B4', title: 'not reviewed' }),
  ]);
  const progress = new Map<string, [number, number]>();
  const ds = await importAmazon({ reviews, meta, name: 'beauty18' }, (stage, done, total) =>
    progress.set(stage, [done, total]),
  );
  assert.deepEqual([...progress.keys()], ['amazon: reviews (MB)', 'amazon: meta (MB)']);
  for (const [done, total] of progress.values()) assert.equal(done, total);
  assert.equal(ds.name, 'beauty18');
  assert.equal(ds.source, `Amazon 2018 (reviews ${reviews}, meta ${meta})`);
  assert.deepEqual(rows(ds), [
    ['R1', 'B1', 1500000000],
    ['R2', 'B2', 1500000001],
    ['R1', 'B3', 1500000002],
    ['R3', 'B1', 1500000003],
  ]);
  assert.deepEqual(
    ds.items,
    new Map<string, ItemRecord>([
      [
        'B1',
        {
          title: 'Shampoo & Conditioner Set',
          description: 'Gentle "daily" formula.\nIt\'s great <3 \u2764\nBrand: Acme',
          categories: [['All Beauty', 'Hair Care', 'Shampoo & Conditioner']],
        },
      ],
      ['B2', { title: 'Plain', description: 'single string', categories: [['Luxury Beauty']] }],
    ]),
  );
  assert.deepEqual(ds.skips.reasons, {
    [AMAZON_SKIP.unparseableReview]: 1,
    [AMAZON_SKIP.unparseableMeta]: 1,
  });
  assert.equal(ds.skips.records, 5 + 4);
  assert.match(ds.skips.examples[0], new RegExp(`^${escape(reviews)}:5: expected a JSON object \\(`));
  assert.match(ds.skips.examples[1], new RegExp(`^${escape(meta)}:3: expected a JSON object \\(`));
});

// ---------------------------------------------------------------------------------------
// 2023

test('amazon 2023: parent_asin items, millisecond times, main_category fallback, images', async () => {
  const review = (u: string, p: string, ms: number) =>
    json({
      rating: 5.0,
      title: 't',
      text: 'x',
      images: [],
      asin: p + 'v',
      parent_asin: p,
      user_id: u,
      timestamp: ms,
      helpful_vote: 0,
      verified_purchase: true,
    });
  const reviews = fixture(
    'All_Beauty.jsonl.gz',
    [
      review('AG1', 'P1', 1588687728923),
      review('AG2', 'P2', 1588687729000),
      json({ user_id: 'AG3', asin: 'X', timestamp: 1 }), // line 3: no parent_asin
      review('AG1', 'P3', 1588687730500),
      review('AG3', 'P1', 1588687731000),
    ],
    true,
  );
  const meta = fixture('meta_All_Beauty.jsonl', [
    json({
      main_category: 'All Beauty',
      title: 'Toner',
      features: ['f'],
      description: ['Para 1', 'Para 2'],
      price: null,
      images: [{ large: 'https://example.com/p1.jpg' }],
      store: 'Brand&Co',
      categories: ['Beauty & Personal Care', 'Skin Care', 'Face'],
      details: {},
      parent_asin: 'P1',
    }),
    json({ main_category: 'All Beauty', title: 'Cream', description: [], categories: [], parent_asin: 'P2' }),
    json({ main_category: 'All Beauty', title: 'No parent', asin: 'P3' }), // line 3
  ]);
  const images = join(dir, 'images2023');
  mkdirSync(images);
  for (const f of ['P1.jpg', 'P3.png', 'P9.jpg', 'notes.txt']) writeFileSync(join(images, f), 'x');
  const ds = await importAmazon({ reviews, meta, imagesDir: images });
  assert.equal(ds.name, 'All_Beauty');
  assert.equal(ds.source, `Amazon 2023 (reviews ${reviews}, meta ${meta}, images ${images})`);
  assert.deepEqual(rows(ds), [
    ['AG1', 'P1', 1588687728.923],
    ['AG2', 'P2', 1588687729],
    ['AG1', 'P3', 1588687730.5],
    ['AG3', 'P1', 1588687731],
  ]);
  assert.deepEqual(
    ds.items,
    new Map<string, ItemRecord>([
      [
        'P1',
        {
          title: 'Toner',
          description: 'Para 1\nPara 2\nBrand: Brand&Co',
          categories: [['Beauty & Personal Care', 'Skin Care', 'Face']],
          image: join(images, 'P1.jpg'),
        },
      ],
      ['P2', { title: 'Cream', categories: [['All Beauty']] }],
      ['P3', { image: join(images, 'P3.png') }],
    ]),
  );
  assert.deepEqual(ds.skips.reasons, { [AMAZON_SKIP.noItem]: 1, [AMAZON_SKIP.noMetaItem]: 1 });
  assert.deepEqual(ds.skips.examples, [
    `${reviews}:3: expected "parent_asin" (a non-empty string)`,
    `${meta}:3: expected "parent_asin" (a non-empty string)`,
  ]);
});

// ---------------------------------------------------------------------------------------
// Detection, overrides and errors

test('amazon: format detection from fields, meta syntax and file name; explicit override', async () => {
  const r2014 = fixture('r14.json', [
    json({ reviewerID: 'U', asin: 'A', unixReviewTime: 1, helpful: [0, 1] }),
  ]);
  const r2018 = fixture('r18.json', [
    json({ reviewerID: 'U', asin: 'A', unixReviewTime: 1, verified: false }),
  ]);
  const bare = [json({ reviewerID: 'U', asin: 'A', unixReviewTime: 1 })];
  const rNamed14 = fixture('reviews_Bare.json', bare);
  const rNamed18 = fixture('Bare.json', bare);
  const r2023 = fixture('r23.jsonl', [json({ user_id: 'U', parent_asin: 'A', timestamp: 1000 })]);
  const pyMeta = fixture('m14.txt', ['garbage', "{'asin': 'A'}"]);
  const jsonMeta18 = fixture('m18.json', [json({ asin: 'A', category: ['C'] })]);
  const js = { reviewsSyntax: 'json' };
  assert.deepEqual(await detectAmazon(r2014), { format: '2014', ...js });
  assert.deepEqual(await detectAmazon(r2018), { format: '2018', ...js });
  assert.deepEqual(await detectAmazon(rNamed14), { format: '2014', ...js });
  assert.deepEqual(await detectAmazon(rNamed18), { format: '2018', ...js });
  assert.deepEqual(await detectAmazon(r2023), { format: '2023', ...js });
  assert.deepEqual(await detectAmazon(rNamed18, pyMeta), { format: '2014', ...js, metaSyntax: 'python' });
  assert.deepEqual(await detectAmazon(rNamed14, jsonMeta18), { format: '2018', ...js, metaSyntax: 'json' });
  assert.deepEqual(await detectAmazon(r2018, pyMeta, '2023'), {
    format: '2023',
    ...js,
    metaSyntax: 'python',
  });

  // An override wins: 2023 field names on a 2018 file find no users.
  const ds = await importAmazon({ reviews: r2018, format: '2023' });
  assert.equal(ds.interactions.user.length, 0);
  assert.equal(ds.interactions.time, null);
  assert.deepEqual(ds.skips.reasons, { [AMAZON_SKIP.noUser]: 1 });
  assert.equal(
    (await importAmazon({ reviews: r2018, format: '2014' })).source,
    `Amazon 2014 (reviews ${r2018})`,
  );
});

test('amazon: files that are not Amazon dumps, missing files and broken gzip are DataErrors', async () => {
  const other = fixture('other.csv', ['user,item,time', '1,2,3']);
  await assert.rejects(
    importAmazon({ reviews: other }),
    (e: Error) => e instanceof DataError && e.message.startsWith(`${other}: cannot detect the Amazon format`),
  );
  await assert.rejects(
    importAmazon({ reviews: other, format: '2018', imagesDir: join(dir, 'no-images') }),
    (e: Error) => e instanceof DataError && e.message.includes('no-images'),
  );
  const missing = join(dir, 'nope.json.gz');
  await assert.rejects(
    importAmazon({ reviews: missing, format: '2018' }),
    (e: Error) => e instanceof DataError && e.message.startsWith(`${missing}: cannot open`),
  );
  const lines = Array.from({ length: 2000 }, (_, i) =>
    json({
      reviewerID: `U${i}`,
      asin: `A${i % 7}`,
      unixReviewTime: i,
      reviewText: 'lorem ipsum '.repeat(i % 13),
    }),
  );
  const gz = gzipSync(lines.join('\n'));
  const truncated = join(dir, 'truncated.json.gz');
  writeFileSync(truncated, gz.subarray(0, gz.length - 20));
  await assert.rejects(
    importAmazon({ reviews: truncated, format: '2018' }),
    (e: Error) =>
      e instanceof DataError &&
      new RegExp(`^${escape(truncated)}: after line \\d+: expected a complete gzip`).test(e.message),
  );
});

test('streamLines: lines across chunk borders, CRLF, BOM, no final newline, early stop, progress', async () => {
  const long = 'x'.repeat(3 << 20); // longer than a read chunk
  const text = '\ufeffa\r\nb\n\n' + long + '\nlast';
  for (const gzip of [false, true]) {
    const path = join(dir, `lines${gzip ? '.gz' : ''}`);
    writeFileSync(path, gzip ? gzipSync(text) : text);
    const got: [number, string][] = [];
    const progress: number[] = [];
    const n = await streamLines(
      path,
      (line, no) => void got.push([no, line.length > 10 ? `long ${line.length}` : line]),
      (done, total) => progress.push(done / total),
    );
    assert.equal(n, 5);
    assert.deepEqual(got, [
      [1, 'a'],
      [2, 'b'],
      [3, ''],
      [4, `long ${3 << 20}`],
      [5, 'last'],
    ]);
    assert.equal(progress[progress.length - 1], 1);
    let seen = 0;
    await streamLines(path, () => ++seen < 2);
    assert.equal(seen, 2);
  }
});

test('htmlToText strips tags and decodes entities, keeping text that only looks like markup', () => {
  assert.equal(htmlToText('<p>A&nbsp;&amp;&nbsp;B</p><br/>C'), 'A & B C');
  assert.equal(htmlToText('x < y and y > z, 3<4'), 'x < y and y > z, 3<4');
  assert.equal(htmlToText('<script>var a = "<b>";</script>Hi <!-- c --> there'), 'Hi there');
  assert.equal(
    htmlToText('&lt;b&gt; &#169; &#xA9; &bogus; &#0; &amp;amp;'),
    '<b> \u00a9 \u00a9 &bogus; &#0; &amp;',
  );
  assert.equal(htmlToText('  many \n\t spaces  '), 'many spaces');
});

// ---------------------------------------------------------------------------------------
// Python literals

test('python literal: strings in both quote styles with escapes', () => {
  const cases: [string, string][] = [
    [`'a'`, 'a'],
    [`"b"`, 'b'],
    [`''`, ''],
    [`""`, ''],
    [String.raw`'it\'s'`, "it's"],
    [String.raw`"say \"hi\""`, 'say "hi"'],
    [`"it's"`, "it's"],
    [`'say "hi"'`, 'say "hi"'],
    [String.raw`'back\\slash'`, 'back\\slash'],
    [String.raw`'\n\t\r\a\b\f\v\0'`, '\n\t\r\x07\b\f\v\0'],
    [String.raw`'\x41\101\u00e9\U0001F600'`, 'AA\u00e9\u{1F600}'],
    [String.raw`'\ud83d\ude00'`, '\u{1F600}'],
    [String.raw`'caf\xc3\xa9'`, 'café'], // UTF-8 bytes (Python 2 str)
    [String.raw`'caf\xe9'`, 'café'], // not UTF-8: code point
    [String.raw`u'caf\xc3\xa9'`, 'caf\u00c3\u00a9'], // unicode literal: code points
    [String.raw`b'\xe2\x80\x99 \u2019'`, '\u2019 \\u2019'], // bytes: no \u escape
    [String.raw`'\d\q'`, '\\d\\q'], // unknown escapes are kept, as Python does
    [String.raw`r'\n\'x'`, "\\n\\'x"],
    [String.raw`Rb'\x'`, '\\x'],
    [`'''a'b"c'''`, `a'b"c`],
    [`"""two\nlines"""`, 'two\nlines'],
    [`'caf\u00e9 \u{1F600}'`, 'caf\u00e9 \u{1F600}'], // raw non-ASCII text
  ];
  for (const [src, want] of cases) assert.equal(parsePythonLiteral(src), want, src);
});

test('python literal: numbers, keywords and containers', () => {
  const cases: [string, unknown][] = [
    ['0', 0],
    ['42', 42],
    ['-5', -5],
    ['+3', 3],
    ['- 7', -7],
    ['1.5', 1.5],
    ['-0.25', -0.25],
    ['1e3', 1000],
    ['2.5E-3', 0.0025],
    ['.5', 0.5],
    ['5.', 5],
    ['1_000_000', 1e6],
    ['0x1F', 31],
    ['0o17', 15],
    ['0b101', 5],
    ['00', 0],
    ['10L', 10],
    ['True', true],
    ['False', false],
    ['None', null],
    ['[]', []],
    ['{}', {}],
    ['()', []],
    ['(1,)', [1]],
    ['(1)', 1],
    ['(1, (2, 3), [4])', [1, [2, 3], [4]]],
    ['[1, 2,]', [1, 2]],
    ["{'a': 1,}", { a: 1 }],
    ['(1, 2,)', [1, 2]],
    [
      "{'asin': 'A', 'categories': [['Beauty', 'Skin Care'], ['Beauty']], 'related': {'also': ['B', 'C']}, 'ok': True, 'no': None}",
      {
        asin: 'A',
        categories: [['Beauty', 'Skin Care'], ['Beauty']],
        related: { also: ['B', 'C'] },
        ok: true,
        no: null,
      },
    ],
    ["{1: 'one', 2.5: 'x', 'a': 1, 'a': 2}", { '1': 'one', '2.5': 'x', a: 2 }],
    ['  {\n "k" :\t[ 1 ,\n 2 ] }  ', { k: [1, 2] }],
  ];
  for (const [src, want] of cases) assert.deepEqual(parsePythonLiteral(src), want, src);
  const proto = parsePythonLiteral("{'__proto__': {'polluted': True}}") as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(proto), Object.prototype);
  assert.deepEqual(Object.keys(proto), ['__proto__']);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('python literal: bad input throws PythonLiteralError naming the column', () => {
  const cases: [string, number, RegExp][] = [
    ['[1, 2', 6, /expected ',' or ']' in list, found end of input/],
    ["{'a' 1}", 6, /expected ':' after dict key/],
    ["{'a', 'b'}", 5, /sets are not supported/],
    ["'abc", 1, /^unterminated string starting at column 1$/],
    ["'abc\\", 1, /^unterminated string starting at column 1$/],
    ["'a\nb'", 3, /unterminated string \(a newline/],
    ['[1,,2]', 4, /expected a value, found ","/],
    ['true', 1, /not the name 'true'/],
    ['nan', 1, /not the name 'nan'/],
    ['012', 1, /leading zeros/],
    ['1j', 2, /complex numbers/],
    ['12abc', 3, /expected a delimiter after the number/],
    ['--1', 2, /expected a number after the sign/],
    ['{[1]: 2}', 2, /expected a string or number as dict key/],
    ['1 2', 3, /expected end of input/],
    [String.raw`'\x4'`, 2, /expected two hex digits after \\x/],
    [String.raw`'\u12'`, 2, /expected 4 hex digits after \\u/],
    [String.raw`'\N{DASH}'`, 2, /\\N\{...\} escapes are not supported/],
    ["f'x'", 1, /unsupported string prefix 'f'/],
    ['', 1, /expected a value, found end of input/],
    ['[1, # c\n2]', 5, /comments are not allowed/],
    ['(1 2)', 4, /expected ',' or '\)' in tuple/],
  ];
  for (const [src, column, message] of cases) {
    assert.throws(
      () => parsePythonLiteral(src),
      (e: Error) => {
        assert.ok(e instanceof PythonLiteralError, `${src}: ${e}`);
        assert.equal(e.column, column, `${src}: ${e.message}`);
        assert.match(e.message, message, src);
        assert.match(e.message, new RegExp(`at column ${column}$`), src);
        return true;
      },
    );
  }
  assert.deepEqual(
    parsePythonLiteral('['.repeat(50) + ']'.repeat(50)),
    JSON.parse('['.repeat(50) + ']'.repeat(50)),
  );
  assert.throws(() => parsePythonLiteral('['.repeat(100000)), /nested deeper than 500 at column 501$/);
  assert.throws(() => parsePythonLiteral('[[[]]]', { maxDepth: 2 }), /nested deeper than 2/);
});

// ---------------------------------------------------------------------------------------
// Columns

test('ColumnBuilder: interns ids in first-seen order, grows, trims and keeps time null when untimed', () => {
  const b = new ColumnBuilder(2);
  const n = 1000;
  for (let r = 0; r < n; r++) b.add(`u${r % 7}`, `i${r % 11}`, r * 0.5);
  assert.equal(b.rows, n);
  assert.ok(b.hasItem('i3'));
  assert.ok(!b.hasItem('u3'));
  const c = b.build();
  assert.deepEqual(c.userIds, ['u0', 'u1', 'u2', 'u3', 'u4', 'u5', 'u6']);
  assert.equal(c.itemIds.length, 11);
  assert.equal(c.user.length, n);
  assert.equal(c.item.length, n);
  assert.equal(c.time!.length, n);
  assert.deepEqual(c.user.subarray(0, 9), Int32Array.from([0, 1, 2, 3, 4, 5, 6, 0, 1]));
  assert.equal(c.item[999], 999 % 11);
  assert.equal(c.time![999], 499.5);
  assert.throws(() => b.add('u', 'i', 1), /after build/);

  const untimed = new ColumnBuilder();
  untimed.add('a', 'x', null);
  untimed.add('b', 'x', null);
  assert.deepEqual(untimed.build(), {
    userIds: ['a', 'b'],
    itemIds: ['x'],
    user: Int32Array.from([0, 1]),
    item: Int32Array.from([0, 0]),
    time: null,
  });
  assert.deepEqual(new ColumnBuilder().build(), {
    userIds: [],
    itemIds: [],
    user: new Int32Array(0),
    item: new Int32Array(0),
    time: null,
  });

  const mixed = new ColumnBuilder();
  mixed.add('a', 'x', 1);
  assert.throws(() => mixed.add('a', 'y', null), /row 1 has no time but earlier rows have one/);
  assert.throws(() => mixed.add('a', 'y', NaN), RangeError);
});

test('Interner: chains Maps past the size limit and still finds every id', () => {
  const it = new Interner(4);
  for (let i = 0; i < 10; i++) assert.equal(it.intern(`s${i}`), i);
  for (let i = 0; i < 10; i++) assert.equal(it.intern(`s${i}`), i);
  assert.equal(it.size, 10);
  assert.equal(it.get('s9'), 9);
  assert.equal(it.get('nope'), undefined);
  assert.deepEqual(it.values.slice(0, 3), ['s0', 's1', 's2']);
});
