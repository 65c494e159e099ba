/** The canonical dataset pieces: .npy files, preprocessing, categories, writing and loading, the split. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeNpy, encodeNpy } from '../src/data/npy.js';
import { preprocess } from '../src/data/preprocess.js';
import { buildCategories } from '../src/data/categories.js';
import { Dataset, writeDataset } from '../src/data/dataset.js';
import { leaveOneOut } from '../src/data/split.js';
import { checkSkipRate, SkipCounter } from '../src/data/errors.js';
import type { InteractionColumns } from '../src/data/types.js';
import { testManifest } from './manifest-fixture.js';
import { tempDir } from './temp.js';

const tmp = () => tempDir('data');

test('npy: round trip of every dtype, NumPy header layout, and clear errors', () => {
  const cases = [
    [Float32Array.of(1.5, -2, 3, 4, 5, 6), [2, 3]],
    [Float64Array.of(1e10, 2), [2]],
    [Int32Array.of(-1, 7, 9), [3]],
    [Uint8Array.of(0, 1, 1, 0), [4]],
  ] as const;
  for (const [arr, shape] of cases) {
    const bytes = encodeNpy(arr, shape);
    assert.equal(bytes.subarray(0, 6).toString('latin1'), '\x93NUMPY');
    const headerLen = bytes.readUInt16LE(8);
    assert.equal((10 + headerLen) % 64, 0, 'data starts 64-byte aligned, as NumPy writes it');
    const back = decodeNpy(bytes);
    assert.deepEqual(back.shape, [...shape]);
    assert.deepEqual(Array.from(back.data as ArrayLike<number>), Array.from(arr));
    assert.equal(back.data.constructor, arr.constructor);
  }
  assert.match(encodeNpy(Int32Array.of(1), [1]).toString('latin1'), /'shape': \(1,\)/);
  assert.throws(() => decodeNpy(Buffer.from('not numpy at all'), 'x.npy'), /x\.npy: not a \.npy file/);
  const good = encodeNpy(Float32Array.of(1, 2), [2]);
  assert.throws(
    () => decodeNpy(good.subarray(0, good.length - 2), 'cut.npy'),
    /cut\.npy: expected 8 data bytes/,
  );
  const fortran = Buffer.from(
    good.toString('latin1').replace("'fortran_order': False", "'fortran_order': True "),
    'latin1',
  );
  assert.throws(() => decodeNpy(fortran, 'f.npy'), /Fortran-ordered/);
  const f16 = Buffer.from(good.toString('latin1').replace("'<f4'", "'<f2'"), 'latin1');
  assert.throws(() => decodeNpy(f16, 'h.npy'), /dtype <f2 is not supported/);
});

function log(rows: [string, string, number | null][]): InteractionColumns {
  const users: string[] = [];
  const items: string[] = [];
  const ui = new Map<string, number>();
  const ii = new Map<string, number>();
  const intern = (m: Map<string, number>, list: string[], k: string) => {
    if (!m.has(k)) {
      m.set(k, list.length);
      list.push(k);
    }
    return m.get(k)!;
  };
  const user = Int32Array.from(rows, (r) => intern(ui, users, r[0]));
  const item = Int32Array.from(rows, (r) => intern(ii, items, r[1]));
  const hasTime = rows.some((r) => r[2] !== null);
  return {
    userIds: users,
    itemIds: items,
    user,
    item,
    time: hasTime ? Float64Array.from(rows, (r) => r[2] ?? 0) : null,
  };
}

test('preprocess: stable chronological order, numeric id order, dense ids from 1', () => {
  const r = preprocess(
    log([
      ['10', 'b', 30],
      ['2', 'a', 5],
      ['10', 'a', 10],
      ['10', 'c', 10], // same time as the row above: file order is kept
      ['2', 'c', 1],
    ]),
  );
  assert.deepEqual(r.userIds, ['2', '10'], 'integer ids are ordered numerically');
  assert.deepEqual(r.itemIds, ['a', 'b', 'c']);
  assert.deepEqual(Array.from(r.offsets), [0, 2, 5]);
  assert.deepEqual(Array.from(r.items), [3, 1, 1, 3, 2]);
  assert.deepEqual(Array.from(r.times!), [1, 5, 10, 10, 30]);
});

test('preprocess: dedupe modes with and without timestamps', () => {
  const rows: [string, string, number | null][] = [
    ['u', 'a', 1],
    ['u', 'a', 1],
    ['u', 'b', 2],
    ['u', 'a', 3],
  ];
  assert.equal(preprocess(log(rows), { dedupe: 'exact' }).items.length, 3);
  assert.equal(preprocess(log(rows), { dedupe: 'first' }).items.length, 2);
  assert.equal(preprocess(log(rows), { dedupe: 'none' }).items.length, 4);
  const untimed = rows.map(([u, i]) => [u, i, null] as [string, string, null]);
  // Without timestamps 'exact' removes only an immediate repeat.
  assert.deepEqual(Array.from(preprocess(log(untimed), { dedupe: 'exact' }).items), [1, 2, 1]);
});

test('preprocess: k-core is iterative (one round is not enough) and an empty result is a clear error', () => {
  // u4 has one interaction; once it goes, item c has one; once c goes, u3 has one: three rounds.
  const rows: [string, string, number | null][] = [
    ['u1', 'a', 1],
    ['u1', 'b', 2],
    ['u2', 'a', 1],
    ['u2', 'b', 2],
    ['u3', 'a', 1],
    ['u3', 'c', 2],
    ['u4', 'c', 1],
  ];
  const r = preprocess(log(rows), { kcore: { user: 2, item: 2 } });
  assert.deepEqual(r.userIds, ['u1', 'u2']);
  assert.deepEqual(r.itemIds, ['a', 'b']);
  assert.equal(r.removed.kcore, 3);
  assert.equal(r.removed.kcoreRounds, 4, 'three rounds that remove, one that finds it stable');
  assert.throws(
    () => preprocess(log(rows), { kcore: { user: 10, item: 1 } }),
    /no interactions are left.*lower the k-core/,
  );
});

test('categories: path levels, leaf only, frequency order, flat labels', () => {
  const recs = new Map([
    ['a', { categories: [['Beauty', 'Skin', 'Face']] }],
    ['b', { categories: [['Beauty', 'Hair']] }],
    ['c', {}],
  ]);
  const levels = buildCategories(['a', 'b', 'c'], recs, true, false);
  assert.equal(levels.names[0], 'Beauty', 'most frequent first');
  assert.deepEqual(
    Array.from(levels.labels.subarray(levels.offsets[1], levels.offsets[2]), (l) => levels.names[l]).sort(),
    ['Beauty', 'Beauty > Skin', 'Beauty > Skin > Face'],
  );
  assert.equal(levels.offsets[4] - levels.offsets[3], 0, 'item without categories has none');
  assert.equal(levels.offsets[1], 0, 'padding row is empty');
  const leaf = buildCategories(['a', 'b', 'c'], recs, true, true);
  assert.deepEqual([...leaf.names].sort(), ['Beauty > Hair', 'Beauty > Skin > Face']);
  const flat = buildCategories(
    ['a'],
    new Map([['a', { categories: [['Action'], ['Comedy']] }]]),
    false,
    false,
  );
  assert.deepEqual([...flat.names].sort(), ['Action', 'Comedy']);
});

function smallContent() {
  return {
    userIds: ['u1', 'u2'],
    items: [{ id: 'a', title: 'A' }, { id: 'b' }, { id: 'c', categories: ['x'] }],
    offsets: Int32Array.of(0, 4, 6),
    sequenceItems: Int32Array.of(1, 2, 3, 1, 2, 3),
    times: null,
    categoryOffsets: Int32Array.of(0, 0, 0, 0, 1),
    categoryLabels: Int32Array.of(0),
    features: {
      text: { matrix: new Float32Array(4 * 2).fill(0.5), dim: 2, mask: Uint8Array.of(0, 1, 1, 1) },
    },
  };
}

function smallManifest() {
  return testManifest({
    name: 'small',
    counts: { users: 2, items: 3, interactions: 6, categories: 1 },
    timestamps: false,
    modalities: { text: { dim: 2, coverage: 1, encoder: 'test', details: {} } },
    categories: { names: ['x'], coverage: 1 / 3 },
  });
}

test('dataset: write then load round-trips; the split follows leave-one-out', () => {
  const dir = join(tmp(), 'ds');
  const m = writeDataset(dir, smallContent(), smallManifest());
  assert.match(m.checksum, /^[0-9a-f]{64}$/);
  const ds = Dataset.load(dir);
  assert.equal(ds.users, 2);
  assert.equal(ds.items, 3);
  assert.deepEqual(Array.from(ds.sequence(1)), [1, 2, 3, 1]);
  assert.deepEqual(Array.from(ds.itemCategories(3)), [0]);
  assert.equal(ds.content.features.text!.dim, 2);
  const split = leaveOneOut(ds);
  assert.deepEqual(Array.from(split.train[0]), [1, 2]);
  assert.deepEqual(split.validation[0], { user: 1, history: Int32Array.of(1, 2), target: 3 });
  assert.equal(split.test[0].target, 1);
  assert.equal(split.test.length, 1, 'user 2 has 2 interactions: training only');
  assert.deepEqual(Array.from(split.train[1]), [2, 3]);
});

test('dataset: refuses to overwrite, writes atomically, detects corruption', () => {
  const root = tmp();
  const dir = join(root, 'ds');
  writeDataset(dir, smallContent(), smallManifest());
  const before = readFileSync(join(dir, 'manifest.json'));
  assert.throws(() => writeDataset(dir, smallContent(), smallManifest()), /already exists.*--overwrite/);
  // A write that fails half-way (bad content) leaves the old dataset and no staging directory.
  const broken = { ...smallContent(), offsets: Int32Array.of(0, 99) };
  assert.throws(() =>
    writeDataset(
      dir,
      {
        ...broken,
        sequenceItems: Int32Array.of(1),
        features: { text: { matrix: new Float32Array(3), dim: 2, mask: new Uint8Array(4) } },
      },
      smallManifest(),
      { overwrite: true },
    ),
  );
  assert.deepEqual(readFileSync(join(dir, 'manifest.json')), before);
  assert.deepEqual(readdirSync(root), ['ds']);
  // Overwrite works and swaps in the new one.
  writeDataset(dir, smallContent(), { ...smallManifest(), name: 'second' }, { overwrite: true });
  assert.equal(Dataset.load(dir).manifest.name, 'second');
  assert.deepEqual(readdirSync(root), ['ds']);
  // Corruption is caught by the checksums.
  const f = join(dir, 'sequences.items.npy');
  const b = readFileSync(f);
  b[b.length - 1] ^= 1;
  writeFileSync(f, b);
  assert.throws(() => Dataset.load(dir), /sequences\.items\.npy does not match its checksum/);
  assert.throws(() => Dataset.load(root), /not a cammsr dataset: manifest\.json is missing/);
  assert.ok(existsSync(dir));
});

test('skip accounting: over 1% fails with reasons and examples unless allowed', () => {
  const s = new SkipCounter();
  s.read(100);
  s.skip('bad timestamp', 'f.csv:3', 'timestamp "x" is not a number');
  checkSkipRate(s.report(), false); // exactly 1%: fine
  s.read(1);
  s.skip('bad timestamp', 'f.csv:9', 'timestamp "y" is not a number');
  assert.throws(
    () => checkSkipRate(s.report(), false),
    /2 of 101 records .* 2 bad timestamp.*f\.csv:3.*--allow-skips/s,
  );
  checkSkipRate(s.report(), true);
});
