/**
 * Acceptance: the real datasets of ../shared/datasets prepare into the counts their README
 * states, with the expected modality coverage and split sizes. Read in place, never copied.
 * Outside CI a machine without the shared folder skips these; on CI they must run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Dataset } from '../src/data/dataset.js';
import { prepareDataset } from '../src/data/prepare.js';
import { prepareMovielens100k, SHARED, skipWithoutShared } from './shared-datasets.js';
import { tempDir } from './temp.js';

const skip = skipWithoutShared;
const out = () => join(tempDir('real'), 'ds');

test(
  'movielens-100k with posters: 5-core counts, genres, timestamps, text and image coverage',
  { skip },
  async () => {
    const r = await prepareMovielens100k(out());
    const s = r.stats;
    assert.deepEqual([s.users, s.items, s.interactions], [943, 1349, 99287]);
    assert.equal(s.timestamps, true);
    assert.equal(s.categories, 19, 'genres');
    assert.equal(r.manifest.categories.namesKnown, true);
    assert.ok(r.manifest.categories.names.includes('Comedy'));
    assert.ok(s.coverage.text > 0.99, `text coverage ${s.coverage.text}`);
    // 15 of 1,682 films have no poster; after the 5-core 5 of the 1,349 kept items lack one.
    assert.equal(Math.round(s.coverage.image * 1349), 1344);
    assert.equal(s.featureDims.text, 128);
    assert.deepEqual(s.split, { trainInteractions: 99287 - 2 * 943, validation: 943, test: 943 });
  },
);

test(
  'amazon-beauty: counts, 637 attribute labels, text for (almost) every item, no images',
  { skip },
  async () => {
    const r = await prepareDataset({
      format: 's3rec',
      input: join(SHARED, 'amazon-beauty', 'Beauty.txt'),
      out: out(),
    });
    const s = r.stats;
    assert.deepEqual([s.users, s.items, s.interactions], [22363, 12101, 198502]);
    assert.equal(s.categories, 637);
    assert.equal(r.manifest.categories.namesKnown, false);
    assert.equal(s.timestamps, false);
    assert.ok(s.coverage.text > 0.99, `text coverage ${s.coverage.text}`);
    assert.equal(s.coverage.image, undefined);
    assert.equal(r.manifest.preprocessing.skips.skipped, 0);
    assert.deepEqual(s.split, { trainInteractions: 198502 - 2 * 22363, validation: 22363, test: 22363 });
  },
);

test(
  'amazon-beauty --original-ids: the same sequences and titles, named by reviewer id and ASIN',
  { skip },
  async () => {
    const input = join(SHARED, 'amazon-beauty', 'Beauty.txt');
    const bench = Dataset.load(
      (await prepareDataset({ format: 's3rec', input, out: out(), text: 'none' })).dir,
    );
    const orig = Dataset.load(
      (
        await prepareDataset({
          format: 's3rec',
          input,
          out: out(),
          text: 'none',
          s3rec: { originalIds: true },
        })
      ).dir,
    );
    const maps = JSON.parse(readFileSync(join(SHARED, 'amazon-beauty', 'datamaps.json'), 'utf8')) as {
      user2id: Record<string, string>;
      item2id: Record<string, string>;
    };
    const benchUser = new Map(bench.content.userIds.map((id, k) => [id, k + 1]));
    const named = (ds: Dataset, u: number) => Array.from(ds.sequence(u), (i) => ds.content.items[i - 1].id);
    assert.equal(orig.users, bench.users);
    assert.equal(orig.items, bench.items);
    for (let u = 1; u <= orig.users; u++) {
      const b = benchUser.get(maps.user2id[orig.content.userIds[u - 1]])!;
      assert.deepEqual(
        named(orig, u).map((asin) => maps.item2id[asin]),
        named(bench, b),
        `user ${orig.content.userIds[u - 1]}`,
      );
    }
    const lipstick = orig.content.items.find((it) => it.id === 'B000P24EI2');
    assert.equal(lipstick?.title, 'rene furterer complexe 5');
  },
);

test('amazon-scientific: counts, hierarchical category paths, rich text', { skip }, async () => {
  const r = await prepareDataset({ format: 'lcrec', input: join(SHARED, 'amazon-scientific'), out: out() });
  const s = r.stats;
  assert.deepEqual([s.users, s.items, s.interactions], [8317, 4344, 58492]);
  assert.equal(r.manifest.categories.hierarchical, true);
  assert.ok(r.manifest.categories.names.includes('Industrial & Scientific'));
  assert.ok(
    r.manifest.categories.names.some((n) => n.split(' > ').length >= 3),
    'path levels',
  );
  assert.equal(s.coverage.text, 1);
  assert.deepEqual(s.split, { trainInteractions: 58492 - 2 * 8317, validation: 8317, test: 8317 });
});
