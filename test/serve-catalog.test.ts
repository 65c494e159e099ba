/**
 * The catalog grows while serving: items added over HTTP get the features `prepare` would have
 * computed, are recommendable at once, survive restart and reload, and can be withdrawn.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { Dataset } from '../src/data/dataset.js';
import { authPolicy } from '../src/serve/auth/policy.js';
import { buildService } from '../src/serve/service.js';
import type { EventStore } from '../src/serve/store/event-store.js';
import { openStore } from '../src/serve/store/open.js';
import { loadBundle, loadBundleAsync, loadBundleItemsAsync, readManifest } from '../src/serve/bundle.js';
import { buildGeneration } from '../src/serve/generation.js';
import { growCatalog, grownItems, type ItemChange } from '../src/serve/catalog-growth.js';
import { grownRecommender, ModelWorker } from '../src/serve/model-worker.js';
import { resolveItem } from '../src/serve/item-content.js';
import { addedWithTextOfItem1, changeLog, serveFixture } from './serve-fixture.js';
import { tempDir } from './temp.js';

const fixture = serveFixture('catalog');

/** A service over a bundle and a SQLite store (a new one unless `db` names one). */
async function service(
  model: 'cammsr' | 'sasrec' = 'cammsr',
  opts: { db?: string; adminToken?: string } = {},
) {
  const f = await fixture;
  const db = opts.db ?? join(f.root, `events-${Math.random().toString(36).slice(2)}.db`);
  const store: EventStore = await openStore(`sqlite:${db}`);
  const auth = opts.adminToken ? authPolicy({ adminToken: opts.adminToken, host: '127.0.0.1' }) : undefined;
  const s = await buildService({ bundle: f.bundles[model], store, auth });
  s.app.addHook('onClose', async () => store.close());
  const ds = Dataset.load(f.data);
  return { ...s, f, ds, store, db };
}

const png = (hue: number) =>
  sharp({ create: { width: 24, height: 24, channels: 3, background: { r: hue, g: 255 - hue, b: 90 } } })
    .png()
    .toBuffer();

const row = (m: Float32Array, dim: number, i: number) => Array.from(m.subarray(i * dim, (i + 1) * dim));

function assertClose(a: number[], b: number[], tol: number, what: string) {
  assert.equal(a.length, b.length, `${what}: length`);
  const worst = Math.max(...a.map((x, j) => Math.abs(x - b[j])));
  assert.ok(worst <= tol, `${what}: largest difference ${worst} > ${tol}`);
}

test('an item sent with the content of a prepared item gets the features prepare computed (1e-6)', async () => {
  const { app, ds, catalog, store } = await service();
  try {
    for (const i of [1, 7, 20]) {
      const it = ds.content.items[i - 1];
      const image = readFileSync(ds.imagePath(i)!).toString('base64');
      const r = await app.inject({
        method: 'POST',
        url: '/v1/items',
        payload: {
          id: `copy-of-${it.id}`,
          title: it.title,
          text: it.text,
          categories: it.categories,
          image: { data: image },
        },
      });
      assert.equal(r.statusCode, 201, r.body);
      assert.deepEqual(r.json().features, ['text', 'image']);
      // The rows the model worker got: the stored item resolved against the bundle, as the service does.
      const g = catalog.current();
      const stored = (await store.items()).find((s) => s.id === `copy-of-${it.id}`)!;
      const { change } = await resolveItem(g.bundle, stored, 'stored');
      assert.equal(g.served.data.text!.mask[g.served.catalog.indexOf(stored.id)!], 1);
      for (const m of ['text', 'image'] as const) {
        const f = g.bundle.data[m]!;
        assertClose(Array.from(change![m]!), row(f.matrix, f.dim, i), 1e-6, `${m} of item ${it.id}`);
      }
    }
  } finally {
    await app.close();
  }
});

test('a new item is recommendable in the next request, has neighbours, and is marked new', async () => {
  const { app, ds } = await service();
  try {
    const before = (await app.inject({ method: 'GET', url: '/v1/info' })).json();
    const cats = ds.manifest.categories.names.slice(0, 1);
    let r = await app.inject({
      method: 'POST',
      url: '/v1/items',
      payload: {
        id: 'brand-new',
        title: ds.content.items[0].title,
        categories: [...cats, 'no-such-category'],
        image: { data: (await png(40)).toString('base64') },
      },
    });
    assert.equal(r.statusCode, 201, r.body);
    const put = r.json();
    assert.equal(put.created, true);
    assert.equal(put.items, ds.items + 1);
    assert.match(put.warnings.join(' '), /unknown categories ignored.*no-such-category/);
    assert.notEqual(put.version, before.version);

    r = await app.inject({ method: 'GET', url: '/v1/items/brand-new' });
    assert.deepEqual(
      { ...(r.json() as object), image: undefined },
      {
        id: 'brand-new',
        title: ds.content.items[0].title,
        categories: cats,
        interactions: 0,
        new: true,
        withdrawn: false,
        image: undefined,
      },
    );
    r = await app.inject({ method: 'GET', url: '/v1/items/brand-new/image' });
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers['content-type'], 'image/png');

    const history = ds.content.items.slice(0, 3).map((it) => it.id);
    r = await app.inject({
      method: 'POST',
      url: '/v1/recommendations',
      payload: { history, k: ds.items + 1 },
    });
    const listed = r.json().items as { item: string; score: number; new?: boolean }[];
    const mine = listed.find((x) => x.item === 'brand-new');
    assert.ok(
      mine && mine.new === true && Number.isFinite(mine.score),
      'the new item is ranked, with a finite score',
    );

    r = await app.inject({ method: 'GET', url: '/v1/items/brand-new/similar?k=5' });
    assert.equal(r.statusCode, 200);
    assert.equal(r.json().items.length, 5);
    // Events and histories accept it at once.
    r = await app.inject({ method: 'POST', url: '/v1/events', payload: { user: 'u', item: 'brand-new' } });
    assert.deepEqual(r.json(), { stored: 1, duplicates: 0, unknownItems: [] });
  } finally {
    await app.close();
  }
});

test('an existing id is updated, never duplicated; fields left out keep their values', async () => {
  const { app, ds, catalog, store } = await service();
  try {
    const first = ds.content.items[4];
    let r = await app.inject({
      method: 'POST',
      url: '/v1/items',
      payload: { id: first.id, title: 'Renamed' },
    });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.json().created, false);
    assert.equal(r.json().items, ds.items);
    r = await app.inject({ method: 'GET', url: `/v1/items/${first.id}` });
    assert.equal(r.json().title, 'Renamed');
    assert.deepEqual(r.json().categories, first.categories);
    assert.equal(r.json().new, false);

    await app.inject({
      method: 'POST',
      url: '/v1/items',
      payload: { id: 'x1', title: 'one', text: 'alpha' },
    });
    r = await app.inject({ method: 'POST', url: '/v1/items', payload: { id: 'x1', title: 'two' } });
    assert.equal(r.statusCode, 200);
    assert.equal(catalog.current().served.catalog.size, ds.items + 1);
    const stored = (await store.items()).filter((it) => it.id === 'x1');
    assert.deepEqual(
      stored.map((it) => it.content),
      [{ title: 'two', text: 'alpha' }],
    );
  } finally {
    await app.close();
  }
});

test('withdrawn items are left out of the popular fallback too', async () => {
  const { app, ds } = await service();
  try {
    const popular = async () => {
      const r = await app.inject({ method: 'GET', url: `/v1/users/nobody/recommendations?k=${ds.items}` });
      assert.equal(r.json().source, 'popular');
      return (r.json().items as { item: string }[]).map((x) => x.item);
    };
    const top = (await popular())[0];
    await app.inject({ method: 'PATCH', url: `/v1/items/${top}`, payload: { withdrawn: true } });
    assert.ok(!(await popular()).includes(top));
  } finally {
    await app.close();
  }
});

test('withdrawn items are never recommended but stay in histories; restoring brings them back', async () => {
  const { app, ds } = await service();
  try {
    const ids = ds.content.items.map((it) => it.id);
    const all = async () => {
      const r = await app.inject({
        method: 'POST',
        url: '/v1/recommendations',
        payload: { history: ids.slice(0, 2), k: ds.items },
      });
      return (r.json().items as { item: string }[]).map((x) => x.item);
    };
    const target = ids[10];
    assert.ok((await all()).includes(target));
    let r = await app.inject({ method: 'PATCH', url: `/v1/items/${target}`, payload: { withdrawn: true } });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.json().withdrawn, true);
    assert.ok(!(await all()).includes(target));
    r = await app.inject({ method: 'GET', url: `/v1/items/${ids[0]}/similar?k=${ds.items - 1}` });
    assert.ok(!(r.json().items as { item: string }[]).some((x) => x.item === target));
    assert.equal((await app.inject({ method: 'GET', url: `/v1/items/${target}` })).json().withdrawn, true);
    r = await app.inject({
      method: 'POST',
      url: '/v1/recommendations',
      payload: { history: [target], k: 3 },
    });
    assert.deepEqual(r.json().unknownItems, []);
    assert.equal(r.json().historyUsed, 1);
    await app.inject({ method: 'PATCH', url: `/v1/items/${target}`, payload: { withdrawn: false } });
    assert.ok((await all()).includes(target));
    r = await app.inject({ method: 'PATCH', url: '/v1/items/nope', payload: { withdrawn: true } });
    assert.equal(r.statusCode, 404);
  } finally {
    await app.close();
  }
});

test('bad items are refused with a reason and leave nothing behind', async () => {
  const { app, store, catalog, ds } = await service();
  try {
    const post = (payload: object) => app.inject({ method: 'POST', url: '/v1/items', payload });
    let r = await post({
      id: 'broken',
      title: 't',
      image: { data: Buffer.from('not an image at all').toString('base64') },
    });
    assert.equal(r.statusCode, 400);
    assert.match(r.json().error, /image cannot be decoded/);
    r = await post({ id: 'broken', image: { data: 'not base64!' } });
    assert.equal(r.statusCode, 400);
    assert.match(r.json().error, /not base64/);
    r = await post({ id: 'broken', colour: 'red' });
    assert.equal(r.statusCode, 400);
    assert.match(r.json().error, /additional properties "colour"/);
    r = await post({ id: 'broken', vectors: { text: [1, 2, 3] } });
    assert.equal(r.statusCode, 400);
    assert.match(r.json().error, /vectors\.text: this bundle computes text features itself \(tfidf-svd\)/);
    // A file cut in half has a valid header: only decoding every pixel finds it.
    const whole = await png(90);
    r = await post({
      id: 'broken',
      image: { data: whole.subarray(0, whole.length >> 1).toString('base64') },
    });
    assert.equal(r.statusCode, 400, r.body);
    assert.match(r.json().error, /image cannot be decoded/);
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>');
    r = await post({ id: 'broken', image: { data: svg.toString('base64') } });
    assert.equal(r.statusCode, 400);
    assert.match(r.json().error, /format svg is not accepted/);
    assert.deepEqual(await store.items(), []);
    assert.equal(catalog.current().served.catalog.size, ds.items);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/items/broken' })).statusCode, 404);
  } finally {
    await app.close();
  }
});

test('catalog writes need the admin token when one is set', async () => {
  const { app } = await service('cammsr', { adminToken: 's3cret' });
  try {
    let r = await app.inject({ method: 'POST', url: '/v1/items', payload: { id: 'a', title: 't' } });
    assert.equal(r.statusCode, 401);
    r = await app.inject({ method: 'PATCH', url: '/v1/items/a', payload: { withdrawn: true } });
    assert.equal(r.statusCode, 401);
    r = await app.inject({
      method: 'POST',
      url: '/v1/items',
      payload: { id: 'a', title: 't' },
      headers: { authorization: 'Bearer s3cret' },
    });
    assert.equal(r.statusCode, 201);
  } finally {
    await app.close();
  }
});

test('added and withdrawn items survive a restart and a reload', async () => {
  const first = await service();
  const ids = first.ds.content.items.map((it) => it.id);
  await first.app.inject({
    method: 'POST',
    url: '/v1/items',
    payload: { id: 'kept', title: first.ds.content.items[2].title },
  });
  await first.app.inject({ method: 'PATCH', url: `/v1/items/${ids[1]}`, payload: { withdrawn: true } });
  const version = first.catalog.current().version;
  await first.app.close();

  const again = await service('cammsr', { db: first.db });
  try {
    const g = again.catalog.current();
    assert.equal(g.version, version, 'the same bundle and store give the same version');
    assert.ok(g.served.catalog.has('kept'));
    assert.equal(
      (await again.app.inject({ method: 'GET', url: `/v1/items/${ids[1]}` })).json().withdrawn,
      true,
    );
    const r = await again.app.inject({ method: 'POST', url: '/v1/admin/reload' });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.json().items, again.ds.items + 1);
    assert.ok(again.catalog.current().served.catalog.has('kept'));
  } finally {
    await again.app.close();
  }
});

test('an ID-only model keeps added items in the catalog but never recommends them, and says so', async () => {
  const { app, ds } = await service('sasrec');
  try {
    let r = await app.inject({
      method: 'POST',
      url: '/v1/items',
      payload: { id: 'fresh', title: 'fresh item' },
    });
    assert.equal(r.statusCode, 201, r.body);
    assert.match(r.json().warnings.join(' '), /sasrec cannot rank items it was not trained on/);
    r = await app.inject({
      method: 'POST',
      url: '/v1/recommendations',
      payload: { history: [ds.content.items[0].id], k: ds.items + 1 },
    });
    assert.ok(!(r.json().items as { item: string }[]).some((x) => x.item === 'fresh'));
  } finally {
    await app.close();
  }
});

test('a stored item the bundle cannot fully use still loads, without that modality, and is reported', async () => {
  const f = await fixture;
  const db = join(f.root, 'mismatch.db');
  const store = await openStore(`sqlite:${db}`);
  // As if it had been accepted by a bundle whose text features had 3 values.
  const title = Dataset.load(f.data).content.items[0].title;
  await store.saveItem({
    id: 'odd',
    content: { title, vectors: { text: [1, 2, 3] } },
    withdrawn: false,
    updated: 1,
  });
  await store.close();
  const { app, catalog } = await service('cammsr', { db });
  try {
    const g = catalog.current();
    const i = g.served.catalog.indexOf('odd')!;
    // The bundle computes its text features itself: from the title, not the stored vector.
    assert.equal(g.served.data.text!.mask[i], 1);
    assert.match(catalog.loadWarnings().join('\n'), /stored item odd: vectors\.text ignored/);
    assert.ok(!g.served.catalog.has('ghost'), 'a stored withdrawal does not make an item');
    assert.equal(g.served.catalog.size, g.bundle.catalog.size + 1);
  } finally {
    await app.close();
  }
});

test('a reload to a bundle with the same catalog and item files keeps the served ones; another catalog is read', async () => {
  const f = await fixture;
  const store: EventStore = await openStore(
    `sqlite:${join(f.root, `reuse-${Math.random().toString(36).slice(2)}.db`)}`,
  );
  const { app, catalog, reload } = await buildService({ bundle: f.bundles.cammsr, store });
  try {
    const before = catalog.current().bundle;
    // The SASRec bundle of the same dataset: the same catalog.jsonl and items.safetensors.
    const sasrec = readManifest(f.bundles.sasrec);
    assert.equal(sasrec.files['catalog.jsonl'], before.manifest.files['catalog.jsonl']);
    const g = await reload(f.bundles.sasrec);
    assert.equal(g.model.kind, 'sasrec');
    assert.equal(g.bundle.catalog, before.catalog, 'the catalog is taken as it is');
    assert.equal(g.bundle.data, before.data, 'so is the item data');
    // A copy whose catalog has another title: read again, and the new title served.
    // Under the bundles' folder: a reload reads only under the served bundle's roots.
    const dir = join(f.root, `renamed-${Math.random().toString(36).slice(2)}`);
    cpSync(f.bundles.sasrec, dir, { recursive: true });
    const lines = readFileSync(join(dir, 'catalog.jsonl'), 'utf8').split('\n');
    const first = JSON.parse(lines[0]) as { id: string; title?: string };
    lines[0] = JSON.stringify({ ...first, title: 'Renamed' });
    writeFileSync(join(dir, 'catalog.jsonl'), lines.join('\n'));
    const m = readManifest(dir);
    m.files['catalog.jsonl'] = createHash('sha256')
      .update(readFileSync(join(dir, 'catalog.jsonl')))
      .digest('hex');
    writeFileSync(join(dir, 'bundle.json'), JSON.stringify(m, null, 2) + '\n');
    const renamed = await reload(dir);
    assert.notEqual(renamed.bundle.catalog, before.catalog);
    assert.equal(renamed.bundle.data, before.data, 'the item data file is still the same');
    const r = await app.inject({ method: 'GET', url: `/v1/items/${encodeURIComponent(first.id)}` });
    assert.equal(r.json().title, 'Renamed');
  } finally {
    await app.close();
    await store.close();
  }
});

test('the encoders are read off the loop once, and a failed read is retried by the next caller', async () => {
  const f = await fixture;
  const dir = join(tempDir('encoders-retry'), 'bundle');
  cpSync(f.bundles.cammsr, dir, { recursive: true });
  const b = await loadBundleAsync(dir);
  const name = Object.keys(b.manifest.files).find((n) => n === 'encoders.json')!;
  renameSync(join(dir, name), join(dir, `${name}.away`));
  await assert.rejects(b.loadEncoders(), /encoders\.json is missing/);
  renameSync(join(dir, `${name}.away`), join(dir, name));
  const [one, two] = await Promise.all([b.loadEncoders(), b.loadEncoders()]);
  assert.ok(one && one === two, 'both callers get the same parsed encoders');
  assert.equal(b.encoders, one);
});

test('a grown generation is built on a model worker while the event loop runs, and answers as one built in place', async () => {
  const f = await fixture;
  const bundle = await loadBundleItemsAsync(f.bundles.cammsr);
  const change = addedWithTextOfItem1(bundle);
  let ticks = 0;
  let building = true;
  const tick = () => {
    if (!building) return;
    ticks++;
    setImmediate(tick);
  };
  setImmediate(tick);
  const worker = new ModelWorker();
  try {
    const opts = { batching: { maxBatch: 8, maxWaitMs: 0 }, onBatch: () => {}, itemTable: 'int8' as const };
    const g = await buildGeneration(bundle, [], changeLog([change]), opts, worker);
    building = false;
    assert.equal(g.served.data.items, bundle.data.items + 1);
    assert.equal(g.model.items, bundle.data.items + 1);
    assert.ok(ticks > 0, 'the event loop ran while the generation was built');
    const request = { items: bundle.catalog.ids().slice(0, 2), k: 5, excludeSeen: true };
    const list = await g.batcher.submit(request);
    assert.equal(list.items.length, 5);
    assert.equal(list.source, 'model');
    const inPlace = grownRecommender(loadBundle(f.bundles.cammsr), [change], 'int8', null);
    assert.deepEqual([list], inPlace.recommend([request]));
  } finally {
    await worker.close();
  }
});

test("a grown catalog's 8-bit table is made from the grown items, and a withdrawal keeps the previous one", async () => {
  const f = await fixture;
  const bundle = loadBundle(f.bundles.cammsr);
  const change = addedWithTextOfItem1(bundle);
  const grown = grownRecommender(bundle, [change], 'int8', null);
  assert.equal(grown.int8?.items, grown.bundle.scorer.items, 'the 8-bit copy is of the grown table');
  assert.notEqual(grown.bundle.scorer.items, bundle.scorer.items);
  const plain = grownRecommender(bundle, [], 'int8', grown.int8);
  assert.ok(plain.int8 !== null && plain.int8 !== grown.int8, 'another table: another copy');
  const first = bundle.catalog.item(1);
  const withdrawn = grownRecommender(
    bundle,
    [{ id: first.id, info: first, withdrawn: true }],
    'int8',
    plain.int8,
  );
  assert.equal(withdrawn.int8, plain.int8);
});

test('without stored changes a generation serves the bundle as loaded (catalog and index not copied, encoders not parsed)', async () => {
  const f = await fixture;
  const loaded = await loadBundleItemsAsync(f.bundles.cammsr);
  // Building a generation never parses the encoder files (only an item's content needs them).
  let parsed = 0;
  const bundle = {
    ...loaded,
    get encoders() {
      parsed++;
      return undefined;
    },
  };
  const opts = { batching: { maxBatch: 8, maxWaitMs: 0 }, onBatch: () => {}, itemTable: 'float32' as const };
  const worker = new ModelWorker();
  try {
    const plain = await buildGeneration(bundle, [], changeLog(), opts, worker);
    assert.equal(plain.served.catalog, bundle.catalog);
    assert.equal(plain.served.data, bundle.data);
    assert.equal(plain.served.added, undefined, 'no item added: no array');
    assert.equal(plain.served.unavailable, undefined, 'none unavailable: no array');
    // A change lies over the bundle's catalog (which stays as it was) and keeps every entry.
    const first = bundle.catalog.item(1);
    const added = { id: 'another', info: { ...first, id: 'another' }, withdrawn: false };
    const grown = await buildGeneration(bundle, [], changeLog([added]), opts, worker);
    assert.equal(bundle.catalog.has('another'), false);
    assert.equal(grown.served.catalog.size, bundle.catalog.size + 1);
    bundle.catalog.ids().forEach((id, k) => assert.equal(grown.served.catalog.indexOf(id), k + 1));
    assert.equal(grown.served.catalog.indexOf('another'), bundle.data.items + 1);
    assert.equal(parsed, 0, 'the encoders getter was not called');
  } finally {
    await worker.close();
  }
});

test('catalog changes read nothing from disk: both workers keep the served bundle loaded', async () => {
  const f = await fixture;
  const dir = join(f.root, `moved-${Math.random().toString(36).slice(2)}`);
  cpSync(f.bundles.cammsr, dir, { recursive: true });
  const store: EventStore = await openStore(
    `sqlite:${join(f.root, `moved-${Math.random().toString(36).slice(2)}.db`)}`,
  );
  const { app } = await buildService({ bundle: dir, store });
  try {
    const ids = (await loadBundleItemsAsync(dir)).catalog.ids();
    // (An added item's content needs the encoders, which are read from the bundle when first needed.)
    let r = await app.inject({
      method: 'POST',
      url: '/v1/items',
      payload: { id: 'before-move', title: 'kept' },
    });
    assert.equal(r.statusCode, 201, r.body);
    r = await app.inject({ method: 'PATCH', url: `/v1/items/${ids[1]}`, payload: { withdrawn: true } });
    assert.equal(r.statusCode, 200, r.body);
    // The bundle's folder goes away (the next export replacing it, say): changes still apply.
    renameSync(dir, `${dir}-away`);
    r = await app.inject({ method: 'PATCH', url: `/v1/items/${ids[2]}`, payload: { withdrawn: true } });
    assert.equal(r.statusCode, 200, r.body);
    r = await app.inject({ method: 'POST', url: '/v1/items', payload: { id: 'after-move', title: 'moved' } });
    assert.equal(r.statusCode, 201, r.body);
    r = await app.inject({
      method: 'POST',
      url: '/v1/recommendations',
      payload: { history: ids.slice(3, 6), k: 5 },
    });
    assert.equal(r.statusCode, 200, r.body);
  } finally {
    await app.close();
    await store.close();
  }
});

test('catalog changes reach the model workers a build at a time: after failed and successful changes, the service recommends as one that loads the store afresh', async () => {
  const f = await fixture;
  const real = await openStore(`sqlite:${join(f.root, `delta-${Math.random().toString(36).slice(2)}.db`)}`);
  let failing = false;
  // The real store, whose item writes fail while `failing`: each failed change is taken back.
  const store = new Proxy(real, {
    get(target, key) {
      if (key === 'saveItem' && failing) return async () => Promise.reject(new Error('disk full (test)'));
      const v = Reflect.get(target, key) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const ids = (await loadBundleItemsAsync(f.bundles.cammsr)).catalog.ids();
  const { app } = await buildService({ bundle: f.bundles.cammsr, store });
  try {
    const put = (id: string, title: string) =>
      app.inject({ method: 'POST', url: '/v1/items', payload: { id, title } });
    const withdraw = (id: string) =>
      app.inject({ method: 'PATCH', url: `/v1/items/${id}`, payload: { withdrawn: true } });
    assert.equal((await put('a', 'first added')).statusCode, 201);
    failing = true;
    for (const r of [await put('x', 'failed'), await put('a', 'failed update'), await withdraw(ids[1])])
      assert.ok(r.statusCode >= 500, r.body);
    failing = false;
    assert.equal((await put('b', 'second added')).statusCode, 201);
    assert.equal((await put('x', 'third added')).statusCode, 201);
    assert.equal((await withdraw(ids[2])).statusCode, 200);
    assert.equal((await put('a', 'first, updated')).statusCode, 200);
    // The same requests to a service that loads the store now (every change sent at once).
    const fresh = await buildService({ bundle: f.bundles.cammsr, store: real });
    try {
      const ask = (a: typeof app) =>
        a.inject({
          method: 'POST',
          url: '/v1/recommendations',
          payload: { history: ['a', ids[3], 'x', 'b'], k: 60 },
        });
      const [got, want] = [(await ask(app)).json(), (await ask(fresh.app)).json()];
      assert.deepEqual(got, want);
      assert.deepEqual(
        got.items
          .slice(0, 60)
          .map((r: { item: string }) => r.item)
          .filter((i: string) => ['a', 'b', 'x'].includes(i)).length,
        0,
        'the history is excluded',
      );
      for (const id of ['a', 'b', 'x']) {
        const similar = (a: typeof app) => a.inject({ method: 'GET', url: `/v1/items/${id}/similar?k=5` });
        assert.deepEqual((await similar(app)).json(), (await similar(fresh.app)).json(), id);
      }
      assert.equal((await app.inject({ method: 'GET', url: '/v1/items/a' })).json().title, 'first, updated');
    } finally {
      await fresh.app.close();
    }
  } finally {
    await app.close();
    await real.close();
  }
});

test('a served bundle whose folder went away before its encoders or an image were read answers 503 and says to reload, without the path', async () => {
  const f = await fixture;
  const dir = join(f.root, `gone-${Math.random().toString(36).slice(2)}`);
  cpSync(f.bundles.cammsr, dir, { recursive: true });
  const store = await openStore(`sqlite:${join(f.root, `gone-${Math.random().toString(36).slice(2)}.db`)}`);
  const { app } = await buildService({ bundle: dir, store });
  try {
    const ids = (await loadBundleItemsAsync(dir)).catalog.ids();
    renameSync(dir, `${dir}-away`);
    const replies = [
      await app.inject({
        method: 'POST',
        url: '/v1/items',
        payload: { id: 'new-after-move', title: 'moved' },
      }),
      await app.inject({ method: 'GET', url: `/v1/items/${ids[2]}/image` }),
    ];
    for (const r of replies) {
      assert.equal(r.statusCode, 503, r.body);
      assert.match(r.json().error, /folder changed on disk since it was loaded; it must be reloaded/);
      assert.ok(!r.body.includes(f.root), r.body);
    }
    // What reads nothing from disk goes on; the item was not added.
    assert.equal((await app.inject({ method: 'GET', url: '/v1/items/new-after-move' })).statusCode, 404);
    const r = await app.inject({
      method: 'POST',
      url: '/v1/recommendations',
      payload: { history: ids.slice(1, 4), k: 3 },
    });
    assert.equal(r.statusCode, 200, r.body);
    // Back in place, the same requests succeed.
    renameSync(`${dir}-away`, dir);
    const put = await app.inject({
      method: 'POST',
      url: '/v1/items',
      payload: { id: 'new-after-move', title: 'moved' },
    });
    assert.equal(put.statusCode, 201, put.body);
    assert.equal((await app.inject({ method: 'GET', url: `/v1/items/${ids[2]}/image` })).statusCode, 200);
  } finally {
    await app.close();
    await store.close();
  }
});

test("the serving thread's item side of a grown catalog matches the model's (masks, added, unavailable, popularity), without the feature tables", async () => {
  const f = await fixture;
  const bundle = loadBundle(f.bundles.cammsr);
  const second = bundle.catalog.item(2);
  const changes: ItemChange[] = [
    addedWithTextOfItem1(bundle, 'new-a'),
    { id: 'new-b', info: { id: 'new-b', title: 'no content' }, text: null, image: null, withdrawn: false },
    { id: second.id, info: second, text: null, withdrawn: true },
  ];
  const model = growCatalog(bundle, bundle.config, changes);
  const side = grownItems(bundle, changes, bundle.model.ranksUnseenItems);
  assert.deepEqual(side.catalog.ids(), model.catalog.ids());
  assert.deepEqual(side.added, model.added);
  assert.deepEqual(side.unavailable, model.unavailable);
  assert.deepEqual(side.data.popularity, model.data.popularity);
  assert.equal(side.data.items, model.data.items);
  for (const m of ['text', 'image'] as const) {
    assert.deepEqual(side.data[m]?.mask, model.data[m]?.mask, m);
    assert.ok(!side.data[m] || !('matrix' in side.data[m]), `no ${m} table on the serving thread`);
  }
  assert.equal(side.data.text!.mask[2], 0, "item 2's text was removed");
  assert.ok(!('categories' in side.data));
});
