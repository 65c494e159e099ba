/**
 * A log kept on disk (Dataset.load `sequences: 'disk'`, train.sequences) reads the same items as
 * one in memory, refuses bad files as loudly, and trains to the same model; the streamed split
 * equals the one leaveOneOut makes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { prepareDataset } from '../src/data/prepare.js';
import { Dataset } from '../src/data/dataset.js';
import { DataError } from '../src/data/errors.js';
import { encodeNpy, decodeNpy } from '../src/data/npy.js';
import { NpyFile } from '../src/data/npy-file.js';
import { leaveOneOut, type EvalCases } from '../src/data/split.js';
import {
  memorySplit,
  streamedSplit,
  trainPopularity,
  type TrainingSplit,
} from '../src/data/training-split.js';
import { effectiveSequencesOnDisk } from '../src/config/effective.js';
import { resolveConfig } from '../src/config/index.js';
import { ConfigError } from '../src/config/errors.js';
import { loadRun, setup, train } from '../src/train/trainer.js';
import { evaluate } from '../src/eval/evaluate.js';
import { tempDir } from './temp.js';

const root = tempDir('on-disk');
const data = join(root, 'synth');
const ready = prepareDataset({ format: 'synth', out: data, synth: { users: 120, items: 48 }, seed: 4 });

/** A copy of the dataset whose files `edit` may change (the manifest's checksums stay). */
async function copyOf(name: string, edit: (dir: string) => void): Promise<string> {
  await ready;
  const dir = join(root, name);
  cpSync(data, dir, { recursive: true });
  edit(dir);
  return dir;
}

test('NpyFile reads any range as the whole file decodes it, and refuses the wrong type, rank or size', async () => {
  const dir = tempDir('npy-file');
  const values = Int32Array.from({ length: 1000 }, (_, i) => i * 7 - 300);
  const p = join(dir, 'a.npy');
  writeFileSync(p, encodeNpy(values, [values.length]));
  const f = NpyFile.open(p, Int32Array);
  assert.equal(f.length, 1000);
  for (const [a, b] of [
    [0, 0],
    [0, 1000],
    [13, 14],
    [999, 1000],
    [250, 777],
  ])
    assert.deepEqual(f.read(a, b), values.slice(a, b));
  const chunks: number[] = [];
  f.scan((chunk, first) => chunk.forEach((v, k) => (chunks[first + k] = v)));
  assert.deepEqual(chunks, [...values]);
  assert.throws(() => f.read(-1, 3), /range \[-1, 3\) is outside \[0, 1000\)/);
  assert.throws(() => f.read(5, 1001), /outside/);
  assert.throws(() => f.read(7, 6), /outside/);
  f.close();
  assert.throws(() => f.read(0, 1), /read after the file was closed/);

  assert.throws(
    () => NpyFile.open(p, Float64Array),
    (e: Error) =>
      e instanceof DataError && /a\.npy: expected dtype Float64Array, found Int32Array/.test(e.message),
  );
  const twoD = join(dir, 'b.npy');
  writeFileSync(twoD, encodeNpy(values, [100, 10]));
  assert.throws(
    () => NpyFile.open(twoD, Int32Array),
    /b\.npy: expected a 1-D array, found shape \(100, 10\)/,
  );
  const cut = join(dir, 'c.npy');
  writeFileSync(cut, readFileSync(p).subarray(0, 500));
  assert.throws(
    () => NpyFile.open(cut, Int32Array),
    /c\.npy: expected 4000 data bytes for shape \(1000\), found \d+/,
  );
  const junk = join(dir, 'd.npy');
  writeFileSync(junk, 'not numpy at all');
  assert.throws(() => NpyFile.open(junk, Int32Array), /d\.npy: not a \.npy file/);
});

test('a dataset with its sequences on disk reads what the one in memory holds, without holding the log', async () => {
  await ready;
  const mem = Dataset.load(data);
  const disk = Dataset.load(data, { sequences: 'disk' });
  try {
    assert.equal(disk.onDisk, true);
    assert.equal(mem.onDisk, false);
    assert.equal(disk.content.sequenceItems.length, 0);
    assert.equal(disk.content.times, null);
    assert.equal(disk.interactions, mem.interactions);
    assert.equal(disk.users, mem.users);
    assert.deepEqual(disk.content.userIds, mem.content.userIds); // read when first asked for
    assert.ok(mem.manifest.timestamps);
    for (let u = 1; u <= mem.users; u++) {
      const n = mem.sequenceLength(u);
      assert.equal(disk.sequenceLength(u), n);
      assert.deepEqual(disk.sequence(u), mem.sequence(u));
      assert.deepEqual(disk.timesSlice(u, 0, n), mem.timesSlice(u, 0, n));
      assert.deepEqual(disk.sequenceSlice(u, 1, n - 1), mem.sequence(u).slice(1, n - 1));
    }
    assert.throws(
      () => disk.sequenceSlice(1, 0, disk.sequenceLength(1) + 1),
      /outside the sequence's \d+ items/,
    );
    assert.throws(() => disk.sequenceSlice(0, 0, 0), /user 0 is outside 1\.\.120/);
  } finally {
    disk.close();
  }
});

test('a log on disk is checked as the one in memory: checksum, item range, offsets', async () => {
  const flipped = await copyOf('flipped', (dir) => {
    const p = join(dir, 'sequences.items.npy');
    const b = readFileSync(p);
    b[b.length - 1] ^= 1;
    writeFileSync(p, b);
  });
  assert.throws(
    () => Dataset.load(flipped, { sequences: 'disk' }),
    (e: Error) =>
      e instanceof DataError && /sequences\.items\.npy does not match its checksum/.test(e.message),
  );
  // The same edit with the checksums re-made: the range check finds the item.
  const outside = await copyOf('outside', (dir) => {
    const p = join(dir, 'sequences.items.npy');
    const items = decodeNpy(readFileSync(p)).data as Int32Array;
    items[items.length - 2] = 49;
    writeFileSync(p, encodeNpy(items, [items.length]));
  });
  assert.throws(
    () => Dataset.load(outside, { sequences: 'disk', verify: false }),
    new RegExp(`sequence entry \\d+ is item 49, outside 1\\.\\.48`),
  );
  const backwards = await copyOf('backwards', (dir) => {
    const p = join(dir, 'sequences.offsets.npy');
    const offsets = decodeNpy(readFileSync(p)).data as Int32Array;
    [offsets[3], offsets[4]] = [offsets[4], offsets[3]];
    writeFileSync(p, encodeNpy(offsets, [offsets.length]));
  });
  for (const sequences of ['memory', 'disk'] as const)
    assert.throws(
      () => Dataset.load(backwards, { sequences, verify: false }),
      /sequences\.offsets\.npy: entry \d+ is below entry \d+/,
    );
  const shifted = await copyOf('shifted', (dir) => {
    const p = join(dir, 'sequences.offsets.npy');
    const offsets = decodeNpy(readFileSync(p)).data as Int32Array;
    offsets[0] = 1;
    writeFileSync(p, encodeNpy(offsets, [offsets.length]));
  });
  for (const sequences of ['memory', 'disk'] as const)
    assert.throws(
      () => Dataset.load(shifted, { sequences, verify: false }),
      /sequences\.offsets\.npy: entry 0 is 1, expected 0/,
    );
  const usersEdited = await copyOf('users-edited', (dir) =>
    writeFileSync(join(dir, 'users.json'), JSON.stringify(['only', 'two'])),
  );
  assert.throws(
    () => Dataset.load(usersEdited, { sequences: 'disk' }),
    /users\.json does not match its checksum/,
  );
  // Unchecked, the ids are counted when they are read.
  const unchecked = Dataset.load(usersEdited, { sequences: 'disk', verify: false });
  try {
    assert.equal(unchecked.users, 120);
    assert.throws(() => unchecked.content.userIds, /users\.json: 2 users, the manifest says 120/);
  } finally {
    unchecked.close();
  }
  assert.throws(() => Dataset.load(usersEdited, { verify: false }), /2 users in users\.json, 120 in/);
  const noTimes = await copyOf('no-times', (dir) =>
    copyFileSync(join(dir, 'sequences.offsets.npy'), join(dir, 'sequences.times.npy')),
  );
  assert.throws(
    () => Dataset.load(noTimes, { sequences: 'disk', verify: false }),
    /sequences\.times\.npy: expected dtype Float64Array, found Int32Array/,
  );
});

/** Every case of `cases`, read a few at a time as the evaluator does. */
const allCases = (cases: EvalCases) => {
  const out = [];
  for (let i = 0; i < cases.length; i += 7) out.push(...cases.slice(i, Math.min(cases.length, i + 7)));
  return out;
};

/** What a TrainingSplit holds, read whole. */
const readAll = (s: TrainingSplit) => ({
  train: Array.from({ length: s.users }, (_, k) => [...s.trainItems(k, 0, s.trainLength(k))]),
  times: Array.from({ length: s.users }, (_, k) => [...(s.trainTimes(k, 0, s.trainLength(k)) ?? [])]),
  validation: allCases(s.validation),
  test: allCases(s.test),
});

test('the streamed split equals leaveOneOut, from memory and from disk; it refuses reads past the training items', async () => {
  await ready;
  const mem = Dataset.load(data);
  const disk = Dataset.load(data, { sequences: 'disk' });
  try {
    const expected = memorySplit(leaveOneOut(mem));
    const want = readAll(expected);
    assert.ok(want.validation.length > 100 && want.times[0].length > 0);
    for (const ds of [mem, disk]) {
      const s = streamedSplit(ds);
      assert.equal(s.timed, true);
      assert.deepEqual(readAll(s), want);
      assert.deepEqual(trainPopularity(s, ds.items), trainPopularity(expected, ds.items));
      const k = want.train.findIndex((t) => t.length >= 3);
      assert.throws(
        () => s.trainItems(k, 0, want.train[k].length + 1),
        /training sequence has \d+ items; \d+ were asked for/,
      );
    }
  } finally {
    disk.close();
  }
});

test('evaluate reads cases a slice at a time: the same ranks as from an array', async () => {
  await ready;
  const { model, split } = loadRun(await trainedRun('memory', 'sequences'));
  const array = split.test.slice(0, split.test.length);
  const slices: [number, number][] = [];
  const lazy: EvalCases = {
    length: array.length,
    slice: (a, b) => {
      slices.push([a, b]);
      return array.slice(a, b);
    },
  };
  const a = evaluate(model, array, { batchSize: 32 });
  const b = evaluate(model, lazy, { batchSize: 32 });
  assert.deepEqual(b.ranks, a.ranks);
  assert.deepEqual(b.metrics, a.metrics);
  assert.deepEqual(slices.slice(0, 2), [
    [0, 32],
    [32, 64],
  ]);
});

const runs = new Map<string, Promise<string>>();
/** A short run of SASRec (sequences) or MOCA-style prefix samples, its log in memory or on disk. */
function trainedRun(sequences: 'memory' | 'disk', samples: 'sequences' | 'prefixes'): Promise<string> {
  const key = `${sequences}-${samples}`;
  if (!runs.has(key))
    runs.set(
      key,
      ready.then(async () => {
        const out = join(root, `run-${key}`);
        const config = resolveConfig({
          cli: { model: 'cammsr', seed: 5 },
          overrides: [
            'dim=16',
            'ffnDim=32',
            'layers=1',
            'maxLen=6',
            'train.batchSize=32',
            'train.epochs=2',
            'train.patience=0',
            `train.sequences=${sequences}`,
            `train.samples=${samples}`,
          ],
        });
        await train({ data, out, config });
        return out;
      }),
    );
  return runs.get(key)!;
}

test('training with the log on disk gives the same run as in memory (windows, prefixes and time gaps read in part)', async () => {
  for (const samples of ['sequences', 'prefixes'] as const) {
    const mem = JSON.parse(readFileSync(join(await trainedRun('memory', samples), 'metrics.json'), 'utf8'));
    const disk = JSON.parse(readFileSync(join(await trainedRun('disk', samples), 'metrics.json'), 'utf8'));
    for (const key of ['validation', 'test', 'validationMasked', 'testMasked', 'bestEpoch'])
      assert.deepEqual(disk[key], mem[key], `${samples}: ${key}`);
    const weights = (dir: string) => readFileSync(join(dir, 'best.safetensors'));
    assert.ok(
      weights(await trainedRun('disk', samples)).equals(weights(await trainedRun('memory', samples))),
    );
  }
});

test("train.sequences: 'auto' keeps a log in memory up to its limit; 'disk' refuses the cold-start protocol", () => {
  const cfg = (sets: string[]) => resolveConfig({ cli: { model: 'sasrec', seed: 1 }, overrides: sets });
  assert.equal(effectiveSequencesOnDisk(cfg([]), 20_000_000), false);
  assert.equal(effectiveSequencesOnDisk(cfg([]), 20_000_001), true);
  assert.equal(effectiveSequencesOnDisk(cfg(['split.coldItems=0.1']), 50_000_000), false);
  assert.equal(effectiveSequencesOnDisk(cfg(['train.sequences=disk']), 10), true);
  assert.equal(effectiveSequencesOnDisk(cfg(['train.sequences=memory']), 50_000_000), false);
  assert.throws(
    () => effectiveSequencesOnDisk(cfg(['train.sequences=disk', 'split.coldItems=0.1']), 10),
    (e: Error) =>
      e instanceof ConfigError &&
      /train\.sequences: "disk" cannot be used with the cold-start protocol/.test(e.message),
  );
});

test('a dataset left on disk closes its files when setting up or loading a run fails, and when the caller is done', async (t) => {
  if (!existsSync('/proc/self/fd')) return t.skip('no /proc/self/fd to count open files');
  const open = () => readdirSync('/proc/self/fd').length;
  // A copy without image features: building a model that asks for them fails once the dataset is open.
  const noImages = await copyOf('no-images', (dir) => {
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    delete m.modalities.image;
    m.checksum = 'another dataset';
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
  });
  const run = await trainedRun('disk', 'sequences');
  const before = open();
  const config = resolveConfig({
    cli: { model: 'cammsr', seed: 1 },
    overrides: ['train.sequences=disk', 'cammsr.modalities=id,image'],
  });
  assert.throws(() => setup(noImages, config), /the dataset has no image features/);
  assert.equal(open(), before);
  assert.throws(() => loadRun(run, { data: noImages }), /is not the dataset .* was trained on/);
  assert.equal(open(), before);
  const ok = setup(
    data,
    resolveConfig({ cli: { model: 'sasrec', seed: 1 }, overrides: ['train.sequences=disk'] }),
  );
  assert.equal(open(), before + 2); // sequences.items.npy and sequences.times.npy
  ok.ds.close();
  assert.equal(open(), before);
  assert.throws(() => ok.ds.sequence(1), /read after the file was closed/);
});
