/** The model worker: generations built and answered on a thread of their own, as the serving thread would. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadBundle } from '../src/serve/bundle.js';
import { BundleError, BundleFileError, manifestVersion } from '../src/serve/bundle-manifest.js';
import { growCatalog, type ItemChange } from '../src/serve/catalog-growth.js';
import { ModelWorker } from '../src/serve/model-worker.js';
import { Recommender, type HistoryRequest, type ItemTableMode } from '../src/serve/recommender.js';
import { addedWithTextOfItem1, changeLog, serveFixture } from './serve-fixture.js';
import { tempDir } from './temp.js';

const fixture = serveFixture('model-worker');

/** Histories over the catalog (with an unknown id and one without known items), some excluding what they hold. */
function histories(ids: readonly string[]): HistoryRequest[] {
  return [
    { items: ids.slice(0, 3), k: 5, excludeSeen: true },
    { items: [ids[7], 'not-in-catalog', ids[2]], timestamps: [100, 200, 300], k: 3, excludeSeen: false },
    { items: ['not-in-catalog'], k: 4, excludeSeen: true },
    { items: ids.slice(10, 22), k: 8, excludeSeen: true },
  ];
}

/** The recommender the serving thread would build in place, for the same bundle and changes. */
function inPlace(dir: string, changes: readonly ItemChange[], itemTable: ItemTableMode): Recommender {
  const bundle = loadBundle(dir);
  return new Recommender(growCatalog(bundle, bundle.config, changes), itemTable);
}

const versionOf = (dir: string) => manifestVersion(loadBundle(dir).manifest);

test('a generation built on the model worker answers exactly as one built in place', async () => {
  const f = await fixture;
  const w = new ModelWorker();
  try {
    for (const model of ['cammsr', 'sasrec', 'popularity'] as const) {
      const dir = f.bundles[model];
      for (const itemTable of ['float32', 'int8'] as const) {
        const { token, built } = await w.build({
          dir,
          version: versionOf(dir),
          changes: changeLog(),
          itemTable,
        });
        const local = inPlace(dir, [], itemTable);
        assert.equal(built.items, local.items);
        const ids = loadBundle(dir).catalog.ids();
        const requests = histories(ids);
        assert.deepEqual(
          await w.recommend(token, requests),
          local.recommend(requests),
          `${model} ${itemTable}`,
        );
        assert.deepEqual(await w.similar(token, ids[4], 6), local.similar(ids[4], 6));
        assert.equal(await w.similar(token, 'not-in-catalog', 6), undefined);
        await w.release(token);
      }
    }
  } finally {
    await w.close();
  }
});

test('the model worker applies the catalog changes: an added item is ranked, a withdrawn one never', async () => {
  const f = await fixture;
  const dir = f.bundles.cammsr;
  const bundle = loadBundle(dir);
  const changes: ItemChange[] = [
    addedWithTextOfItem1(bundle),
    { id: bundle.catalog.item(2).id, info: bundle.catalog.item(2), withdrawn: true },
  ];
  const w = new ModelWorker();
  try {
    const { token, built } = await w.build({
      dir,
      version: versionOf(dir),
      changes: changeLog(changes),
      itemTable: 'auto',
    });
    assert.equal(built.items, bundle.data.items + 1);
    const requests: HistoryRequest[] = [
      { items: bundle.catalog.ids().slice(3, 9), k: built.items, excludeSeen: false },
    ];
    const [list] = await w.recommend(token, requests);
    assert.deepEqual([list], inPlace(dir, changes, 'auto').recommend(requests));
    const listed = list.items.map((i) => i.item);
    assert.ok(listed.includes('grown'), 'the added item is ranked');
    assert.equal(list.items.find((i) => i.item === 'grown')?.new, true);
    assert.ok(!listed.includes(bundle.catalog.item(2).id), 'the withdrawn item is not');
  } finally {
    await w.close();
  }
});

test('a worker holds several generations until each is released, and answers each from its own', async () => {
  const f = await fixture;
  const w = new ModelWorker();
  try {
    const build = (dir: string) =>
      w.build({ dir, version: versionOf(dir), changes: changeLog(), itemTable: 'auto' });
    const a = await build(f.bundles.cammsr);
    const b = await build(f.bundles.sasrec);
    const ids = loadBundle(f.bundles.cammsr).catalog.ids();
    const requests = histories(ids);
    // Both answer at once, each from its own model.
    const [fromA, fromB] = await Promise.all([
      w.recommend(a.token, requests),
      w.recommend(b.token, requests),
    ]);
    assert.deepEqual(fromA, inPlace(f.bundles.cammsr, [], 'auto').recommend(requests));
    assert.deepEqual(fromB, inPlace(f.bundles.sasrec, [], 'auto').recommend(requests));
    await w.release(a.token);
    await assert.rejects(w.recommend(a.token, requests), /holds no generation/);
    assert.deepEqual(await w.recommend(b.token, requests), fromB, 'the other generation is untouched');
  } finally {
    await w.close();
  }
});

test('changes are sent a part and a build at a time: thousands of added items, then one more, build as a fresh worker sent them all', async () => {
  const f = await fixture;
  const dir = f.bundles.cammsr;
  const bundle = loadBundle(dir);
  const added = (i: number): ItemChange => ({
    id: `added-${i}`,
    info: { id: `added-${i}`, title: `added ${i}` },
    withdrawn: false,
  });
  const log = changeLog([...Array.from({ length: 1200 }, (_, i) => added(i)), addedWithTextOfItem1(bundle)]);
  const w = new ModelWorker();
  const fresh = new ModelWorker();
  try {
    const version = versionOf(dir);
    const first = await w.build({ dir, version, changes: log, itemTable: 'auto' });
    assert.equal(first.built.items, bundle.data.items + 1201);
    assert.equal(w.seen(log), log.length);
    log.set('added-7', { ...added(7), withdrawn: true });
    log.set('one-more', added(5000));
    const next = await w.build({ dir, version, changes: log, itemTable: 'auto' });
    const whole = await fresh.build({ dir, version, changes: log, itemTable: 'auto' });
    assert.equal(next.built.items, bundle.data.items + 1202);
    const ids = bundle.catalog.ids();
    const requests: HistoryRequest[] = [
      { items: [ids[2], 'grown', 'added-3'], k: 20, excludeSeen: false },
      { items: ids.slice(4, 9), k: 20, excludeSeen: true },
    ];
    assert.deepEqual(await w.recommend(next.token, requests), await fresh.recommend(whole.token, requests));
    assert.deepEqual(
      await w.similar(next.token, 'one-more', 5),
      await fresh.similar(whole.token, 'one-more', 5),
    );
  } finally {
    await w.close();
    await fresh.close();
  }
});

test('a bundle the worker cannot load is refused with the BundleError loading it in place gives', async () => {
  const f = await fixture;
  const dir = join(tempDir('model-worker-bad'), 'bundle');
  cpSync(f.bundles.cammsr, dir, { recursive: true });
  const version = versionOf(dir);
  const w = new ModelWorker();
  try {
    // A corrupt weights file: the checksum names it.
    const weights = join(dir, 'weights.safetensors');
    const bytes = readFileSync(weights);
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 1] ^= 0xff;
    writeFileSync(weights, flipped);
    const inThread = (() => {
      try {
        loadBundle(dir);
      } catch (e) {
        return e as Error;
      }
      return null;
    })();
    assert.ok(inThread instanceof BundleError);
    const err = await w.build({ dir, version, changes: changeLog(), itemTable: 'auto' }).then(
      () => null,
      (e: unknown) => e as Error,
    );
    assert.ok(err instanceof BundleError, 'a BundleError, as a reload answers 422 for');
    assert.equal(err.message, inThread.message);
    // Of the kind that says the folder changed (a served bundle's routes answer 503 for it), on both threads.
    assert.ok(inThread instanceof BundleFileError && err instanceof BundleFileError);
    writeFileSync(weights, bytes);
    // Another bundle than the one the service verified (replaced between the two loads).
    await assert.rejects(
      w.build({ dir, version: 'something-else', changes: changeLog(), itemTable: 'auto' }),
      (e: unknown) =>
        e instanceof BundleError &&
        !(e instanceof BundleFileError) &&
        /changed while it was loading/.test(e.message),
    );
    // The worker goes on: the restored bundle builds.
    const { token } = await w.build({ dir, version, changes: changeLog(), itemTable: 'auto' });
    assert.equal((await w.recommend(token, histories(loadBundle(dir).catalog.ids()))).length, 4);
  } finally {
    await w.close();
  }
});

test('a closed model worker rejects its calls instead of hanging', async () => {
  const f = await fixture;
  const w = new ModelWorker();
  const dir = f.bundles.sasrec;
  const { token } = await w.build({ dir, version: versionOf(dir), changes: changeLog(), itemTable: 'auto' });
  await w.close();
  await assert.rejects(
    w.recommend(token, histories(loadBundle(dir).catalog.ids())),
    /the model worker was closed/,
  );
});
