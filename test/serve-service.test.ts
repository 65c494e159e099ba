/** The HTTP service, driven with app.inject over a real bundle and a SQLite event store. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadBundle } from '../src/serve/bundle.js';
import { MicroBatcher } from '../src/serve/micro-batcher.js';
import type { ModelWorker } from '../src/serve/model-worker.js';
import type { Worker } from 'node:worker_threads';
import { ARENA_KEEP_FLOATS, Recommender } from '../src/serve/recommender.js';
import { TopK, topK } from '../src/serve/top-k.js';
import { inferenceBatch } from '../src/models/batch.js';
import type { StepArena } from '../src/engine/memory.js';
import { SCORE_BUFFER, scoreUsers, scoreUsersInBlocks } from '../src/models/model.js';
import { authPolicy } from '../src/serve/auth/policy.js';
import { buildService, type Service } from '../src/serve/service.js';
import pg from 'pg';
import type { EventStore } from '../src/serve/store/event-store.js';
import { openStore } from '../src/serve/store/open.js';
import { serveFixture } from './serve-fixture.js';

const fixture = serveFixture('service');

/** A service over the CAMMSR bundle and a fresh SQLite store, with the fixture, bundle and item ids. */
async function service(over: { maxWaitMs?: number; adminToken?: string } = {}) {
  const f = await fixture;
  const store = await openStore(`sqlite:${join(f.root, `events-${Math.random().toString(36).slice(2)}.db`)}`);
  const auth = over.adminToken ? authPolicy({ adminToken: over.adminToken, host: '127.0.0.1' }) : undefined;
  const s: Service = await buildService({ bundle: f.bundles.cammsr, store, maxWaitMs: over.maxWaitMs, auth });
  s.app.addHook('onClose', async () => store.close());
  const b = loadBundle(f.bundles.cammsr);
  return { ...s, f, b, ids: b.catalog.ids() };
}

test('topK: best first, ties to the lower id, skipped and NaN columns left out (hand-computed)', () => {
  //                       0    1  2  3  4    5  6
  const s = Float32Array.of(99, 3, 5, 5, NaN, 1, 7);
  assert.deepEqual(topK(s, 0, 6, 3, new Set()), [6, 2, 3]);
  assert.deepEqual(topK(s, 0, 6, 3, new Set([6])), [2, 3, 1]);
  assert.deepEqual(topK(s, 0, 6, 10, new Set()), [6, 2, 3, 1, 5]);
  // A row of a [B, N + 1] matrix.
  const two = Float32Array.of(0, 1, 2, 0, 2, 1);
  assert.deepEqual(topK(two, 3, 2, 1, new Set()), [1]);
});

test('topK equals sorting every column (score descending, id ascending) on random rows with ties, NaN and infinities', () => {
  let seed = 11;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let t = 0; t < 2000; t++) {
    const n = 1 + Math.floor(rnd() * 40);
    const k = Math.floor(rnd() * 12);
    const off = Math.floor(rnd() * 3);
    const s = Float32Array.from({ length: off + n + 1 }, () => {
      const r = rnd();
      return r < 0.1 ? NaN : r < 0.15 ? -Infinity : r < 0.2 ? Infinity : Math.floor(rnd() * 6);
    });
    const skip = new Set(Array.from({ length: 4 }, () => 1 + Math.floor(rnd() * n)));
    const expected = Array.from({ length: n }, (_, j) => j + 1)
      .filter((i) => !skip.has(i) && !Number.isNaN(s[off + i]))
      .sort((a, b) => s[off + b] - s[off + a] || a - b)
      .slice(0, k);
    assert.deepEqual(topK(s, off, n, k, skip), expected, `case ${t}`);
    // The same row in blocks of random sizes: the same list, with the scores it kept.
    const top = new TopK(k, skip);
    for (let first = 1; first <= n;) {
      const count = Math.min(n - first + 1, 1 + Math.floor(rnd() * 7));
      top.scan(s.slice(off + first, off + first + count), 0, first, count);
      first += count;
    }
    assert.deepEqual(top.ids, expected, `case ${t} in blocks`);
    assert.deepEqual(
      top.scores,
      expected.map((i) => s[off + i]),
    );
  }
});

test('the 8-bit item table answers the float32 lists and scores, for CAMMSR and SASRec bundles', async () => {
  const f = await fixture;
  for (const kind of ['cammsr', 'sasrec'] as const) {
    const b = loadBundle(f.bundles[kind]);
    const ids = b.catalog.ids();
    const float = new Recommender(b, 'float32');
    const int8 = new Recommender(b, 'int8');
    assert.equal(float.int8, null);
    assert.ok(int8.int8, 'an 8-bit table');
    assert.equal(new Recommender(b).int8, null, "'auto' keeps float32 below 100,000 items");
    const requests = Array.from({ length: 12 }, (_, u) => ({
      items: [ids[u], ids[(u * 7) % ids.length], ids[(u * 13 + 5) % ids.length]],
      k: 3 + (u % 4) * 10,
      excludeSeen: u % 2 === 0,
    }));
    const a = float.recommend(requests);
    const q = int8.recommend(requests);
    requests.forEach((_, u) => {
      assert.deepEqual(
        q[u].items.map((x) => x.item),
        a[u].items.map((x) => x.item),
        `${kind}, request ${u}`,
      );
      q[u].items.forEach((x, j) => assert.ok(Math.abs(x.score - a[u].items[j].score) < 1e-5));
    });
  }
  // Through a service that makes its 8-bit table while loading (a block of rows at a time).
  const store = await openStore(`sqlite:${join(f.root, 'events-int8.db')}`);
  const { app } = await buildService({ bundle: f.bundles.cammsr, store, itemTable: 'int8' });
  try {
    const b = loadBundle(f.bundles.cammsr);
    const history = b.catalog.ids().slice(0, 4);
    const r = await app.inject({ method: 'POST', url: '/v1/recommendations', payload: { history, k: 7 } });
    const alone = new Recommender(b, 'float32').recommend([{ items: history, k: 7, excludeSeen: true }])[0];
    assert.deepEqual(
      r.json().items.map((x: { item: string }) => x.item),
      alone.items.map((x) => x.item),
    );
  } finally {
    await app.close();
    await store.close();
  }
});

test("a recommender's reused encoding buffers: each call's scores equal the model's own, whatever ran before", async () => {
  const f = await fixture;
  for (const kind of ['cammsr', 'sasrec'] as const) {
    const b = loadBundle(f.bundles[kind]);
    const ids = b.catalog.ids();
    const rec = new Recommender(b, 'float32');
    const history = (u: number, n: number) =>
      Array.from({ length: n }, (_, j) => ids[(u * 11 + j * 5) % ids.length]);
    // The model's scores for one history, computed outside any arena (unknown times: NaN).
    const expected = (items: string[]) => {
      const times = b.data.timestamps ? [new Float64Array(items.length).fill(NaN)] : undefined;
      const batch = inferenceBatch(
        [Int32Array.from(items, (id) => b.catalog.indexOf(id)!)],
        b.model.maxLen,
        times,
      );
      return b.model.scoreLast(batch);
    };
    const close = (reply: { items: { item: string; score: number }[] }, items: string[], what: string) => {
      const scores = expected(items);
      reply.items.forEach((x) =>
        assert.ok(
          Math.abs(x.score - scores[b.catalog.indexOf(x.item)!]) < 1e-5,
          `${kind}, ${what}: ${x.item}`,
        ),
      );
    };
    const arena = (rec as unknown as { arena: StepArena }).arena;
    const lone = history(1, 4);
    const first = rec.recommend([{ items: lone, k: 5, excludeSeen: false }])[0];
    const kept = structuredClone(first);
    // Larger batches of longer histories in between reuse the buffers; CAMMSR's largest needs
    // more than a recommender keeps, so its buffers are dropped after it.
    for (const [size, length] of [
      [9, 3],
      [2000, b.model.maxLen],
    ]) {
      const requests = Array.from({ length: size }, (_, u) => history(u, length - (u % 3)));
      const replies = rec.recommend(requests.map((items) => ({ items, k: 5, excludeSeen: false })));
      for (const u of [0, size - 1]) close(replies[u], requests[u], `batch of ${size}, row ${u}`);
    }
    const { peakFloats, heldFloats } = arena.stats();
    assert.ok(heldFloats <= ARENA_KEEP_FLOATS, `${kind}: keeps at most the limit`);
    if (kind === 'cammsr') {
      assert.ok(peakFloats > ARENA_KEEP_FLOATS, 'the large batch needed more than is kept');
      assert.equal(heldFloats, 0, 'so its buffers were dropped');
    }
    const again = rec.recommend([{ items: lone, k: 5, excludeSeen: false }])[0];
    assert.deepEqual(first, kept, `${kind}: a reply is not changed by later calls`);
    assert.deepEqual(again, first, `${kind}: the same history, the same reply`);
    close(first, lone, 'a lone history');
  }
});

test('scores in blocks of items equal the whole product, block by block, and reuse their buffer', () => {
  // 64 users: blocks of SCORE_BUFFER / 64 items; a catalog of 2.5 blocks.
  const dim = 2;
  const B = 64;
  const block = SCORE_BUFFER / B;
  const n = Math.floor(block * 2.5);
  let seed = 5;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5;
  const scorer = {
    dim,
    items: Float32Array.from({ length: (n + 1) * dim }, rnd),
    users: () => new Float32Array(0),
  };
  const users = Float32Array.from({ length: B * dim }, rnd);
  const whole = scoreUsers(scorer, users, B);
  const seen: number[] = [];
  let worst = 0;
  const buffer = scoreUsersInBlocks(scorer, users, B, null, (scores, first, count) => {
    seen.push(first, count);
    for (let b = 0; b < B; b++)
      for (let c = 0; c < count; c++)
        worst = Math.max(worst, Math.abs(scores[b * count + c] - whole[b * (n + 1) + first + c]));
  });
  assert.ok(worst < 1e-5, `largest difference ${worst}`);
  assert.deepEqual(seen, [1, block, 1 + block, block, 1 + 2 * block, n - 2 * block]);
  assert.equal(buffer.length, SCORE_BUFFER);
  assert.equal(
    scoreUsersInBlocks(scorer, users, 32, buffer, () => {}),
    buffer,
    'a large enough buffer is reused',
  );
  // One user: the whole catalog is one block.
  const one: number[] = [];
  scoreUsersInBlocks(scorer, users.subarray(0, dim), 1, null, (_, first, count) => one.push(first, count));
  assert.deepEqual(one, [1, n]);
});

test('the micro-batcher answers concurrent requests with one call, in order, and passes failures to every waiter', async () => {
  const calls: number[][] = [];
  const b = new MicroBatcher<number, number>(
    (xs) => {
      calls.push(xs);
      if (xs.includes(-1)) throw new Error('bad input');
      return xs.map((x) => x * 10);
    },
    { maxBatch: 3, maxWaitMs: 5 },
  );
  assert.deepEqual(await Promise.all([1, 2, 3, 4].map((x) => b.submit(x))), [10, 20, 30, 40]);
  assert.deepEqual(calls, [[1, 2, 3], [4]]);
  const failing = [b.submit(5), b.submit(-1)];
  await assert.rejects(failing[0], /bad input/);
  await assert.rejects(failing[1], /bad input/);
  assert.throws(
    () => new MicroBatcher((x) => x, { maxBatch: 0, maxWaitMs: 1 }),
    /maxBatch must be at least 1/,
  );
});

test('a micro-batcher whose model answers later keeps one call in flight; what arrives meanwhile is the next batch', async () => {
  const calls: number[][] = [];
  let running = 0;
  let most = 0;
  const b = new MicroBatcher<number, number>(
    async (xs) => {
      calls.push(xs);
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
      if (xs.includes(-1)) throw new Error('bad input');
      return xs.map((x) => x * 10);
    },
    { maxBatch: 3, maxWaitMs: 0 },
  );
  const first = [1, 2].map((x) => b.submit(x));
  await new Promise((r) => setImmediate(r)); // the first batch is running
  const later = [3, 4, 5, 6].map((x) => b.submit(x));
  assert.deepEqual(await Promise.all([...first, ...later]), [10, 20, 30, 40, 50, 60]);
  assert.deepEqual(calls, [[1, 2], [3, 4, 5], [6]]);
  assert.equal(most, 1, 'one model call at a time');
  // A failing call rejects its own batch only; the queue goes on.
  const failing = b.submit(-1);
  await new Promise((r) => setImmediate(r));
  const after = b.submit(7);
  await assert.rejects(failing, /bad input/);
  assert.equal(await after, 70);
  assert.deepEqual(calls.slice(3), [[-1], [7]]);
});

test('a micro-batcher with a queue limit refuses new requests at once while its oldest one waits too long', async () => {
  let release: () => void = () => {};
  const b = new MicroBatcher<number, number>(
    async (xs) => {
      await new Promise<void>((r) => (release = r));
      return xs.map((x) => x * 10);
    },
    {
      maxBatch: 4,
      maxWaitMs: 0,
      queueLimit: { ms: 20, error: (w) => new Error(`full after ${Math.round(w)} ms`) },
    },
  );
  const first = b.submit(1);
  await new Promise((r) => setImmediate(r)); // its call is running (and held)
  const queued = b.submit(2); // the queue was empty: accepted
  await new Promise((r) => setTimeout(r, 40));
  await assert.rejects(b.submit(3), /full after \d+ ms/, 'the oldest queued request has waited 40 ms');
  release();
  assert.equal(await first, 10);
  await new Promise((r) => setImmediate(r));
  release();
  assert.equal(await queued, 20);
  // The queue drained: requests are accepted again; and a request waiting for company (maxWaitMs)
  // while no call runs is not behind anything.
  const patient = new MicroBatcher<number, number>(async (xs) => xs, {
    maxBatch: 4,
    maxWaitMs: 60,
    queueLimit: { ms: 20, error: () => new Error('full') },
  });
  const waiting = patient.submit(5);
  await new Promise((r) => setTimeout(r, 40));
  assert.deepEqual(await Promise.all([waiting, patient.submit(6)]), [5, 6]);
  const again = b.submit(4);
  await new Promise((r) => setImmediate(r));
  release();
  assert.equal(await again, 40);
});

test('the micro-batcher drops requests no longer wanted before the model call, with their reason', async () => {
  const calls: number[][] = [];
  const dropped: string[] = [];
  const b = new MicroBatcher<number, number>(
    (xs) => {
      calls.push(xs);
      return xs.map((x) => x * 10);
    },
    { maxBatch: 8, maxWaitMs: 0 },
  );
  b.onDrop = (e) => dropped.push(e.message);
  const gone = () => new Error('gone');
  const replies = await Promise.allSettled([b.submit(1), b.submit(2, gone), b.submit(3, () => null)]);
  assert.deepEqual(
    replies.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)),
    [10, 'gone', 30],
  );
  assert.deepEqual(calls, [[1, 3]], 'the dropped request never reaches the model');
  assert.deepEqual(dropped, ['gone']);
  // A batch of only dropped requests makes no model call at all.
  await assert.rejects(b.submit(4, gone), /gone/);
  assert.deepEqual(calls, [[1, 3]]);
});

test('events are stored and drive the user recommendations; unknown users get popular items', async () => {
  const { app, b, ids } = await service();
  try {
    let r = await app.inject({
      method: 'POST',
      url: '/v1/events',
      payload: [
        { user: 'alice', item: ids[3], timestamp: 1000 },
        { user: 'alice', item: ids[7], timestamp: '1970-01-01T00:20:00Z' },
        { user: 'alice', item: 'not-in-catalog', timestamp: 1300 },
      ],
    });
    assert.equal(r.statusCode, 201);
    assert.deepEqual(r.json(), { stored: 3, duplicates: 0, unknownItems: ['not-in-catalog'] });
    // A retried event (same client id) is acknowledged and stored once.
    for (let attempt = 0; attempt < 2; attempt++) {
      r = await app.inject({
        method: 'POST',
        url: '/v1/events',
        payload: { user: 'alice', item: ids[5], id: 'evt-1' },
      });
      assert.equal(r.statusCode, 201);
      assert.deepEqual(r.json(), { stored: 1 - attempt, duplicates: attempt, unknownItems: [] });
    }

    r = await app.inject({ method: 'GET', url: '/v1/users/alice/recommendations?k=5' });
    assert.equal(r.statusCode, 200);
    const body = r.json();
    assert.equal(body.source, 'model');
    assert.equal(body.historyUsed, 3);
    assert.equal(body.items.length, 5);
    const seen = new Set([ids[3], ids[7], ids[5]]);
    assert.ok(
      body.items.every((x: { item: string }) => !seen.has(x.item)),
      'exclude_seen is the default',
    );
    assert.ok(body.items[0].title && body.items[0].score >= body.items[4].score);
    // The same as an explicit history in stored order (timestamps: 1000, 1200, now).
    const rec = new Recommender(b).recommend([
      {
        items: [ids[3], ids[7], ids[5]],
        timestamps: [1000, 1200, Date.now() / 1000],
        k: 5,
        excludeSeen: true,
      },
    ])[0];
    assert.deepEqual(
      body.items.map((x: { item: string }) => x.item),
      rec.items.map((x) => x.item),
    );

    r = await app.inject({ method: 'GET', url: '/v1/users/alice/recommendations?k=4&exclude_seen=false' });
    assert.equal(r.json().items.length, 4);

    r = await app.inject({ method: 'GET', url: '/v1/users/newcomer/recommendations?k=3' });
    assert.equal(r.json().source, 'popular');
    const counts = b.data.popularity!;
    const pops = r.json().items.map((x: { score: number }) => x.score);
    assert.deepEqual(
      pops,
      [...pops].sort((x: number, y: number) => y - x),
    );
    // The score of a popular item is its share of the training interactions.
    const total = counts.reduce((a, c) => a + c, 0);
    assert.ok(Math.abs(pops[0] - Math.max(...counts) / total) < 1e-7);
  } finally {
    await app.close();
  }
});

test('explicit histories, items and similar items', async () => {
  const { app, b, ids } = await service();
  try {
    let r = await app.inject({
      method: 'POST',
      url: '/v1/recommendations',
      payload: { history: [ids[0], ids[1], 'ghost'], k: 3, exclude_seen: false },
    });
    assert.equal(r.statusCode, 200);
    assert.deepEqual(r.json().unknownItems, ['ghost']);
    assert.equal(r.json().items.length, 3);
    assert.equal(r.json().historyUsed, 2);

    r = await app.inject({ method: 'GET', url: `/v1/items/${encodeURIComponent(ids[2])}` });
    assert.equal(r.statusCode, 200);
    assert.equal(r.json().id, ids[2]);
    assert.equal(r.json().title, b.catalog.item(3).title);
    assert.equal(r.json().interactions, b.data.popularity![3]);

    r = await app.inject({ method: 'GET', url: `/v1/items/${encodeURIComponent(ids[2])}/similar?k=4` });
    const sims = r.json().items;
    assert.equal(sims.length, 4);
    assert.ok(sims.every((x: { item: string; score: number }) => x.item !== ids[2] && x.score <= 1 + 1e-6));
    // Cosine in the model's item space, checked by hand for the first one.
    const { dim, items } = b.scorer;
    const row = (i: number) => items.subarray(i * dim, (i + 1) * dim);
    const cos = (a: Float32Array, c: Float32Array) =>
      a.reduce((s, x, d) => s + x * c[d], 0) /
      Math.sqrt(a.reduce((s, x) => s + x * x, 0) * c.reduce((s, x) => s + x * x, 0));
    assert.ok(Math.abs(sims[0].score - cos(row(3), row(b.catalog.indexOf(sims[0].item)!))) < 1e-5);

    r = await app.inject({ method: 'GET', url: '/v1/items/ghost' });
    assert.equal(r.statusCode, 404);
    assert.match(r.json().error, /item "ghost" is not in the catalog/);
    r = await app.inject({ method: 'GET', url: '/v1/items/ghost/similar' });
    assert.equal(r.statusCode, 404);
  } finally {
    await app.close();
  }
});

test('bad requests get 400 with the field at fault, and store nothing', async () => {
  const { app } = await service();
  try {
    const bad: [string, string, unknown, RegExp][] = [
      ['POST', '/v1/events', { user: 'u' }, /^body must have required property 'item'$/],
      [
        'POST',
        '/v1/events',
        [{ user: 'u', item: 'i' }, { user: 'u' }],
        /^body\[1\] must have required property 'item'$/,
      ],
      [
        'POST',
        '/v1/events',
        { user: 'u', item: 'i', extra: 1 },
        /^body must NOT have additional properties "extra"$/,
      ],
      ['POST', '/v1/events', [], /must NOT have fewer than 1 items|must match/],
      [
        'POST',
        '/v1/events',
        { user: 'u', item: 'i', timestamp: 1.7e12 },
        /body\.timestamp: .* looks like milliseconds/,
      ],
      [
        'POST',
        '/v1/events',
        [{ user: 'u', item: 'i', timestamp: 'yesterday' }],
        /body\[0\]\.timestamp: "yesterday" is not an ISO 8601/,
      ],
      ['POST', '/v1/events', { user: 'u', item: 'i', timestamp: -5 }, /expected Unix seconds >= 0/],
      [
        'POST',
        '/v1/events',
        { user: 'u', item: 'i', timestamp: '1969-12-31T23:59:59Z' },
        /body\.timestamp: "1969-12-31T23:59:59Z" is outside 1970-01-01 to 5138-11-16/,
      ],
      [
        'POST',
        '/v1/events',
        { user: 'u', item: 'i', timestamp: '+275760-09-13T00:00:00Z' },
        /is outside 1970-01-01/,
      ],
      [
        'POST',
        '/v1/recommendations',
        { history: ['a'], timestamps: [1, 2] },
        /body\.timestamps: 2 values for 1 history items/,
      ],
      ['POST', '/v1/recommendations', { history: ['a'], k: 0 }, /k must be >= 1/],
      ['POST', '/v1/recommendations', {}, /must have required property 'history'/],
    ];
    for (const [method, url, payload, message] of bad) {
      const r = await app.inject({ method: method as 'POST', url, payload: payload as object });
      assert.equal(r.statusCode, 400, `${url} ${JSON.stringify(payload)}`);
      assert.match(r.json().error, message, `${url} ${JSON.stringify(payload)}`);
    }
    let r = await app.inject({ method: 'GET', url: '/v1/users/u/recommendations?k=abc' });
    assert.equal(r.statusCode, 400);
    assert.match(r.json().error, /querystring\.k must be a whole number from 1 to 1000/);
    r = await app.inject({ method: 'GET', url: '/v1/users/u/recommendations?k=5000' });
    assert.equal(r.statusCode, 400);
    r = await app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { 'content-type': 'application/json' },
      payload: '{"user": ',
    });
    assert.equal(r.statusCode, 400);
    // None of the rejected events was stored: user "u" has no history.
    r = await app.inject({ method: 'GET', url: '/v1/users/u/recommendations' });
    assert.equal(r.json().source, 'popular');
  } finally {
    await app.close();
  }
});

test('concurrent requests are micro-batched into fewer model calls with the same answers', async () => {
  const { app, b, ids } = await service({ maxWaitMs: 20 });
  try {
    const histories = Array.from({ length: 12 }, (_, u) => [
      ids[u],
      ids[(u * 5 + 1) % ids.length],
      ids[(u * 7 + 2) % ids.length],
    ]);
    // Half of the requests carry timestamps (the model is time-aware): batching timed and
    // untimed requests together must not change either's answer.
    const times = (u: number) => (u % 2 === 0 ? [1000, 1000 + 3600 * u, 1000 + 7200 * u + 60] : undefined);
    const replies = await Promise.all(
      histories.map((history, u) =>
        app.inject({
          method: 'POST',
          url: '/v1/recommendations',
          payload: { history, timestamps: times(u), k: 5 },
        }),
      ),
    );
    assert.ok(
      b.data.timestamps && (b.model as unknown as { timeEmb: unknown }).timeEmb,
      'a time-aware model',
    );
    const single = new Recommender(b);
    replies.forEach((r, u) => {
      const alone = single.recommend([
        { items: histories[u], timestamps: times(u), k: 5, excludeSeen: true },
      ])[0];
      const got = r.json().items;
      assert.deepEqual(
        got.map((x: { item: string }) => x.item),
        alone.items.map((x) => x.item),
      );
      got.forEach((x: { score: number }, j: number) =>
        assert.ok(Math.abs(x.score - alone.items[j].score) < 1e-4),
      );
    });
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    const calls = Number(/cammsr_model_batch_size_count (\d+)/.exec(metrics)![1]);
    const answered = Number(/cammsr_model_batch_size_sum (\d+)/.exec(metrics)![1]);
    assert.equal(answered, 12);
    assert.ok(calls < 12, `12 requests took ${calls} model calls`);
  } finally {
    await app.close();
  }
});

test('reload swaps the bundle without failing in-flight requests; a bad bundle keeps the old one; admin token', async () => {
  const { app, f, ids } = await service({ adminToken: 'letmein' });
  const auth = { authorization: 'Bearer letmein' };
  try {
    const before = (await app.inject({ method: 'GET', url: '/readyz' })).json();
    assert.equal(before.model, 'cammsr');
    let r = await app.inject({
      method: 'POST',
      url: '/v1/admin/reload',
      payload: { bundle: f.bundles.sasrec },
    });
    assert.equal(r.statusCode, 401);
    // Requests in flight while the reload runs all succeed, on one model or the other.
    const during = Array.from({ length: 8 }, () =>
      app.inject({
        method: 'POST',
        url: '/v1/recommendations',
        payload: { history: [ids[1], ids[2]], k: 3 },
      }),
    );
    r = await app.inject({
      method: 'POST',
      url: '/v1/admin/reload',
      headers: auth,
      payload: { bundle: f.bundles.sasrec },
    });
    assert.equal(r.statusCode, 200);
    assert.equal(r.json().model, 'sasrec');
    assert.equal(r.json().previous, before.version);
    for (const d of await Promise.all(during)) {
      assert.equal(d.statusCode, 200);
      assert.ok(['cammsr', 'sasrec'].includes(d.json().model));
    }
    r = await app.inject({
      method: 'POST',
      url: '/v1/recommendations',
      payload: { history: [ids[1]], k: 3 },
    });
    assert.equal(r.json().model, 'sasrec');
    r = await app.inject({
      method: 'POST',
      url: '/v1/admin/reload',
      headers: auth,
      payload: { bundle: join(f.root, 'nowhere') },
    });
    assert.equal(r.statusCode, 422);
    assert.match(r.json().error, /reload failed, still serving .*bundle\.json is missing/);
    assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).json().model, 'sasrec');
    // Only folders under the bundle roots (default: the served bundle's parent folder).
    for (const outside of ['/etc', f.root + '/..', join(f.bundles.sasrec, '..', '..')]) {
      r = await app.inject({
        method: 'POST',
        url: '/v1/admin/reload',
        headers: auth,
        payload: { bundle: outside },
      });
      assert.equal(r.statusCode, 403, outside);
      assert.match(r.json().error, /is not under the bundle roots this service may reload from/);
    }
    // Without a body: re-read the bundle being served.
    r = await app.inject({ method: 'POST', url: '/v1/admin/reload', headers: auth });
    assert.equal(r.statusCode, 200);
    assert.equal(r.json().model, 'sasrec');
  } finally {
    await app.close();
  }
});

test('health, readiness, Prometheus metrics and the OpenAPI document', async () => {
  const { app } = await service();
  try {
    assert.deepEqual((await app.inject({ method: 'GET', url: '/healthz' })).json(), { status: 'ok' });
    const ready = (await app.inject({ method: 'GET', url: '/readyz' })).json();
    assert.equal(ready.status, 'ready');
    assert.equal(ready.store, 'sqlite');
    await app.inject({ method: 'GET', url: '/v1/items/nothing' });
    const r = await app.inject({ method: 'GET', url: '/metrics' });
    assert.match(r.headers['content-type'] as string, /text\/plain/);
    assert.match(
      r.body,
      /cammsr_http_requests_total\{route="\/v1\/items\/:item",method="GET",status="404"\} 1/,
    );
    assert.match(
      r.body,
      /cammsr_http_request_duration_seconds_bucket\{le="0.005",route="\/readyz",method="GET"\}/,
    );
    assert.match(r.body, /cammsr_store_duration_seconds_count\{operation="probe",store="sqlite"\} 1/);
    assert.match(
      r.body,
      /cammsr_model_info\{model="cammsr",version="[0-9a-f]{12}",dataset="[^"]+",cammsr="[^"]+"\} 1/,
    );
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    assert.match(doc.openapi, /^3\./);
    for (const p of [
      '/v1/events',
      '/v1/users/{user}/recommendations',
      '/v1/recommendations',
      '/v1/items/{item}',
      '/v1/items/{item}/similar',
      '/healthz',
      '/readyz',
      '/v1/admin/reload',
    ])
      assert.ok(doc.paths[p], `OpenAPI documents ${p}`);
    assert.equal(doc.paths['/metrics'], undefined);
  } finally {
    await app.close();
  }
});

test('readiness is 503 while the event store does not answer', async () => {
  const f = await fixture;
  const down: EventStore = {
    kind: 'sqlite',
    append: async () => 0,
    history: async () => [],
    users: async () => [],
    saveItem: async () => {},
    items: async () => [],
    probeWrite: async () => {
      throw new Error('database is locked');
    },
    close: async () => {},
  };
  const { app } = await buildService({ bundle: f.bundles.popularity, store: down });
  try {
    const r = await app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(r.statusCode, 503);
    assert.deepEqual(r.json(), { status: 'unavailable', store: 'sqlite', error: 'database is locked' });
    assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
  } finally {
    await app.close();
  }
});

test(
  'two service instances over one PostgreSQL store share users (stateless instances)',
  {
    skip: process.env.CAMMSR_TEST_POSTGRES
      ? false
      : 'CAMMSR_TEST_POSTGRES names no PostgreSQL server (.ci/postgres.sh starts one)',
  },
  async () => {
    const f = await fixture;
    const admin = new pg.Pool({ connectionString: process.env.CAMMSR_TEST_POSTGRES, max: 1 });
    const db = `cammsr_svc_${process.pid}`;
    await admin.query(`CREATE DATABASE ${db}`);
    const u = new URL(process.env.CAMMSR_TEST_POSTGRES!);
    u.pathname = `/${db}`;
    const [sa, sb] = await Promise.all([openStore(u.toString()), openStore(u.toString())]);
    const a = await buildService({ bundle: f.bundles.cammsr, store: sa });
    const b = await buildService({ bundle: f.bundles.cammsr, store: sb });
    const ids = loadBundle(f.bundles.cammsr).catalog.ids();
    try {
      const r = await a.app.inject({
        method: 'POST',
        url: '/v1/events',
        payload: [1, 2, 3].map((i) => ({ user: 'shared', item: ids[i], timestamp: 100 + i })),
      });
      assert.equal(r.statusCode, 201);
      const fromA = (
        await a.app.inject({ method: 'GET', url: '/v1/users/shared/recommendations?k=5' })
      ).json();
      const fromB = (
        await b.app.inject({ method: 'GET', url: '/v1/users/shared/recommendations?k=5' })
      ).json();
      assert.equal(fromB.historyUsed, 3);
      assert.deepEqual(fromB.items, fromA.items);
      assert.equal((await b.app.inject({ method: 'GET', url: '/readyz' })).json().store, 'postgres');
    } finally {
      await a.app.close();
      await b.app.close();
      await sa.close();
      await sb.close();
      await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      await admin.end();
    }
  },
);

test('explorer routes: the page, item search, images, user search and events, info; explanations in recommendations', async () => {
  const { app, b, ids } = await service();
  try {
    let r = await app.inject({ method: 'GET', url: '/' });
    assert.equal(r.statusCode, 200);
    assert.match(r.headers['content-type'] as string, /text\/html/);
    assert.match(r.body, /cammsr explorer/);

    const info = (await app.inject({ method: 'GET', url: '/v1/info' })).json();
    assert.equal(info.model, 'cammsr');
    assert.equal(info.items, ids.length);
    assert.deepEqual(info.modalities, ['id', 'text', 'image']);

    // Search: id prefix first, then titles containing the query, case-insensitive.
    const word = b.catalog.item(6).title!.split(' ')[0];
    const found = (
      await app.inject({ method: 'GET', url: `/v1/items?query=${encodeURIComponent(word.toLowerCase())}` })
    ).json();
    assert.ok(found.some((it: { id: string }) => it.id === ids[5]));
    assert.ok(found.every((it: { title: string }) => it.title.toLowerCase().includes(word.toLowerCase())));
    const byId = (await app.inject({ method: 'GET', url: `/v1/items?query=${ids[7]}&limit=1` })).json();
    assert.deepEqual(
      byId.map((it: { id: string }) => it.id),
      [ids[7]],
    );
    assert.equal((await app.inject({ method: 'GET', url: '/v1/items?query=' })).statusCode, 400);

    // Images come from the bundle, byte for byte, with their type.
    r = await app.inject({ method: 'GET', url: `/v1/items/${ids[2]}/image` });
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers['content-type'], 'image/png');
    assert.deepEqual(r.rawPayload, readFileSync(join(b.dir, 'images', b.catalog.item(3).image!)));
    assert.equal((await app.inject({ method: 'GET', url: '/v1/items/ghost/image' })).statusCode, 404);

    await app.inject({
      method: 'POST',
      url: '/v1/events',
      payload: [
        { user: 'zed-1', item: ids[1], timestamp: 10 },
        { user: 'zed-2', item: ids[2], timestamp: 11 },
        { user: 'zed-2', item: 'unknown-item', timestamp: 12 },
      ],
    });
    assert.deepEqual((await app.inject({ method: 'GET', url: '/v1/users?prefix=zed' })).json(), [
      'zed-1',
      'zed-2',
    ]);
    const ev = (await app.inject({ method: 'GET', url: '/v1/users/zed-2/events' })).json();
    assert.deepEqual(
      ev.events.map((e: { item: string; known: boolean; title?: string }) => [e.item, e.known, e.title]),
      [
        [ids[2], true, b.catalog.item(3).title],
        ['unknown-item', false, undefined],
      ],
    );

    // Each recommended item carries its modality shares (summing to its score) and the
    // category weights of its categories (a distribution over the modalities).
    const rec = (
      await app.inject({
        method: 'POST',
        url: '/v1/recommendations',
        payload: { history: [ids[0], ids[1]], k: 4 },
      })
    ).json();
    for (const it of rec.items) {
      const parts = Object.values(it.modalities as Record<string, number>);
      assert.equal(parts.length, 3);
      assert.ok(Math.abs(parts.reduce((s, x) => s + x, 0) - it.score) < 1e-4);
      const w = Object.values(it.categoryWeights as Record<string, number>);
      assert.ok(Math.abs(w.reduce((s, x) => s + x, 0) - 1) < 1e-6);
    }
  } finally {
    await app.close();
  }
});

/** The service's model workers and their threads (private: a test stands in for a crash). */
function workersOf(s: Service): { model: ModelWorker; thread: Worker }[] {
  const ws = (s.catalog as unknown as { workers: ModelWorker[] }).workers;
  return ws.map((model) => ({
    model,
    thread: (model as unknown as { calls: { worker: Worker } }).calls.worker,
  }));
}

async function until(what: string, ok: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a model worker that stops is replaced: an idle one at the next build, a serving one by a reload', async () => {
  const { app, catalog, ids } = await service();
  try {
    const recommend = () =>
      app.inject({ method: 'POST', url: '/v1/recommendations', payload: { history: ids.slice(0, 3), k: 3 } });
    assert.equal((await recommend()).statusCode, 200);
    // The idle worker crashes: the next catalog change runs on a new one.
    const serving = catalog.current().worker;
    const idle = workersOf({ catalog } as Service).find((w) => w.model !== serving)!;
    await idle.thread.terminate();
    await until('the idle worker to be seen stopped', async () => !idle.model.alive);
    let r = await app.inject({ method: 'PATCH', url: `/v1/items/${ids[4]}`, payload: { withdrawn: true } });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal((await recommend()).statusCode, 200);
    // The serving worker crashes: readiness says so, and the bundle is reloaded on the other.
    const crashed = catalog.current().worker;
    const thread = workersOf({ catalog } as Service).find((w) => w.model === crashed)!.thread;
    await thread.terminate();
    await until('a new generation', async () => catalog.current().worker !== crashed);
    await until(
      'readiness',
      async () => (await app.inject({ method: 'GET', url: '/readyz' })).statusCode === 200,
    );
    r = await recommend();
    assert.equal(r.statusCode, 200, r.body);
    assert.ok(!r.json().items.some((it: { item: string }) => it.item === ids[4]), 'the withdrawal is kept');
  } finally {
    await app.close();
  }
});
