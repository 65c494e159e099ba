/**
 * What the service does when things go wrong around it: a store that is down or hangs (503 with
 * Retry-After, /readyz within its deadline), a client that sends slowly (cut off), an event loop
 * that falls behind (shed at once with 503, /healthz still answering), and the { error } shape of
 * every failure Fastify itself detects.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { buildService, type ServiceOptions } from '../src/serve/service.js';
import { unavailableReason } from '../src/serve/store/availability.js';
import { openStore } from '../src/serve/store/open.js';
import type { EventStore } from '../src/serve/store/event-store.js';
import { serveFixture } from './serve-fixture.js';

const fixture = serveFixture('resilience');

/** A store whose every operation fails with `fail()` (or never answers, when it returns undefined). */
function brokenStore(fail: () => unknown): EventStore {
  const op = async (): Promise<never> => {
    const e = fail();
    if (e === undefined) return new Promise<never>(() => {});
    throw e;
  };
  return {
    kind: 'sqlite',
    append: op,
    history: op,
    users: op,
    saveItem: async () => {},
    items: async () => [],
    probeWrite: op,
    close: async () => {},
  };
}

async function service(store: EventStore, over: Partial<ServiceOptions> = {}) {
  const f = await fixture;
  return (await buildService({ bundle: f.bundles.sasrec, store, ...over })).app;
}

/** The service over a new SQLite store, closed with the app. */
async function sqliteService(name: string, over: Partial<ServiceOptions> = {}) {
  const f = await fixture;
  const store = await openStore(`sqlite:${f.root}/${name}.db`);
  const app = await service(store, over);
  app.addHook('onClose', async () => store.close());
  return app;
}

/** Starts the app on loopback, writes `text` on a new connection and reads until the server closes it. */
async function sendRaw(app: Awaited<ReturnType<typeof service>>, text: string): Promise<string> {
  const url = new URL(await app.listen({ port: 0, host: '127.0.0.1' }));
  const socket = connect(Number(url.port), '127.0.0.1');
  let reply = '';
  socket.on('data', (d) => (reply += d.toString()));
  const closed = new Promise<void>((done) => socket.on('close', () => done()));
  socket.write(text);
  await closed;
  return reply;
}

const coded = (code: string, message = code) => Object.assign(new Error(message), { code });

test('unavailableReason: connection, timeout, lock, space and shutdown errors of both stores; not bugs', () => {
  const yes: [unknown, string][] = [
    [coded('ECONNREFUSED'), 'ECONNREFUSED'],
    [coded('SQLITE_FULL'), 'SQLITE_FULL'],
    [coded('SQLITE_BUSY_SNAPSHOT'), 'SQLITE_BUSY_SNAPSHOT'],
    [coded('SQLITE_READONLY_DBMOVED'), 'SQLITE_READONLY_DBMOVED'],
    [coded('SQLITE_IOERR_WRITE'), 'SQLITE_IOERR_WRITE'],
    [coded('57014', 'canceling statement due to statement timeout'), 'SQLSTATE 57014'],
    [coded('57P01', 'terminating connection due to administrator command'), 'SQLSTATE 57P01'],
    [coded('08006'), 'SQLSTATE 08006'],
    [coded('53300', 'too many connections'), 'SQLSTATE 53300'],
    [new Error('Query read timeout'), 'query read timeout'],
    [new Error('timeout exceeded when trying to connect'), 'timeout exceeded when trying to connect'],
    [new Error('Connection terminated unexpectedly'), 'connection terminated'],
  ];
  for (const [e, reason] of yes) assert.equal(unavailableReason(e), reason, String(e));
  for (const e of [
    new Error('bug'),
    coded('SQLITE_CONSTRAINT_NOTNULL'),
    coded('42601', 'syntax error'),
    coded('22P02'),
    null,
    'text',
  ])
    assert.equal(unavailableReason(e), undefined, String(e));
});

test('a store that is down: 503 with Retry-After on every route that needs it; a bug stays a 500', async () => {
  let app = await service(brokenStore(() => coded('SQLITE_FULL', 'database or disk is full')));
  try {
    for (const [method, url, payload] of [
      ['POST', '/v1/events', { user: 'u', item: 'i' }],
      ['GET', '/v1/users/u/events'],
      ['GET', '/v1/users?prefix=u'],
      ['GET', '/v1/users/u/recommendations'],
    ] as const) {
      const r = await app.inject({ method, url, payload });
      assert.equal(r.statusCode, 503, `${method} ${url}`);
      assert.equal(r.headers['retry-after'], '2');
      assert.match(r.json().error, /the event store is unavailable \(SQLITE_FULL\); retry later/);
    }
    const ready = await app.inject('/readyz');
    assert.equal(ready.statusCode, 503);
    assert.equal((await app.inject('/healthz')).statusCode, 200);
  } finally {
    await app.close();
  }
  app = await service(brokenStore(() => new Error('a bug with /secret/path in it')));
  try {
    const r = await app.inject({ method: 'POST', url: '/v1/events', payload: { user: 'u', item: 'i' } });
    assert.equal(r.statusCode, 500);
    assert.deepEqual(r.json(), { error: 'internal error' });
  } finally {
    await app.close();
  }
});

test('a store that hangs: /readyz answers 503 within its deadline', async () => {
  const app = await service(brokenStore(() => undefined));
  try {
    const t0 = Date.now();
    const r = await app.inject('/readyz');
    assert.equal(r.statusCode, 503);
    assert.match(r.json().error, /did not answer within 2000 ms/);
    assert.ok(Date.now() - t0 < 10_000, 'bounded');
  } finally {
    await app.close();
  }
});

test('a client that sends its body slowly is cut off at the request timeout', async () => {
  const app = await sqliteService('slow', { limits: { requestTimeoutMs: 600, headersTimeoutMs: 500 } });
  try {
    const t0 = Date.now();
    const reply = await sendRaw(
      app,
      'POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"user":',
    );
    assert.ok(Date.now() - t0 < 8000, `closed after ${Date.now() - t0} ms`);
    assert.match(reply, /^HTTP\/1\.1 408/);
    // Node's own reply (the request never reached Fastify's routing) in the { error } shape too.
    assert.deepEqual(JSON.parse(reply.split('\r\n\r\n')[1]), {
      error: 'the request was not received within the request timeout',
    });
  } finally {
    await app.close();
  }
});

test('an event loop that falls behind: requests are shed with 503 and Retry-After at once, /healthz answers', async () => {
  const app = await sqliteService('shed', { limits: { shedDelayMs: 20 } });
  const busy = (ms: number) => {
    const end = Date.now() + ms;
    while (Date.now() < end);
  };
  try {
    // A loop kept busy for 1.5 s (60 ms blocks, requests arriving all along): the delay stays far
    // above 20 ms for longer than the grace period.
    type Reply = Awaited<ReturnType<typeof app.inject>>;
    const info: Promise<Reply>[] = [];
    const health: Promise<Reply>[] = [];
    const end = Date.now() + 1500;
    while (Date.now() < end) {
      busy(60);
      info.push(app.inject({ url: '/v1/info' }));
      health.push(app.inject({ url: '/healthz' }));
      await new Promise((r) => setImmediate(r));
    }
    const replies = await Promise.all(info);
    const shed = replies.filter((r) => r.statusCode === 503);
    assert.ok(shed.length > 0, `some requests shed: ${replies.map((r) => r.statusCode).join(' ')}`);
    assert.ok(replies[0].statusCode === 200, 'the first requests, within the grace period, are served');
    for (const r of shed) {
      assert.equal(r.headers['retry-after'], '1');
      assert.match(
        r.json().error,
        /^overloaded \((eventLoopDelay( \d+)?|eventLoopUtilization \d\.\d\d)\); retry in 1 s$/,
      );
    }
    for (const r of replies) assert.ok([200, 503].includes(r.statusCode));
    for (const r of await Promise.all(health)) assert.equal(r.statusCode, 200, 'liveness is never shed');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await app.inject('/v1/info')).statusCode, 200, 'back once the loop keeps up');
  } finally {
    await app.close();
  }
});

test('recommendation work past its deadline is answered 503 before the model call; work for a client that has gone is dropped', async () => {
  const app = await sqliteService('deadline', { limits: { requestDeadlineMs: 400 } });
  // Test instrumentation: a request can be held between its arrival and its handler, blocking
  // the loop (x-busy-ms, as an overloaded service would) or not (x-wait-ms).
  app.addHook('preHandler', async (req) => {
    const busy = Number(req.headers['x-busy-ms'] ?? 0);
    const end = Date.now() + busy;
    while (Date.now() < end);
    const wait = Number(req.headers['x-wait-ms'] ?? 0);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  });
  const dropped = async (reason: string) => {
    const text = (await app.inject('/metrics')).body;
    return Number(
      new RegExp(`cammsr_dropped_requests_total\\{reason="${reason}"\\} (\\d+)`).exec(text)?.[1] ?? 0,
    );
  };
  const post = (headers: Record<string, string>) =>
    app.inject({ method: 'POST', url: '/v1/recommendations', payload: { history: [], k: 3 }, headers });
  try {
    assert.equal((await post({})).statusCode, 200, 'in time: answered');
    const late = await post({ 'x-busy-ms': '600' });
    assert.equal(late.statusCode, 503);
    assert.equal(late.headers['retry-after'], '1');
    assert.match(
      late.json().error,
      /^the request waited \d+ ms, past the service's 400 ms deadline; retry in 1 s$/,
    );
    assert.equal(await dropped('deadline'), 1);

    // Over a socket: a client that stays is answered; one that sends its request and leaves while
    // it waits is not, and its model call is skipped.
    const url = new URL(await app.listen({ port: 0, host: '127.0.0.1' }));
    const body = JSON.stringify({ history: [], k: 3 });
    const stays = await fetch(new URL('/v1/recommendations', url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-wait-ms': '20' },
      body,
    });
    assert.equal(stays.status, 200);
    assert.equal(await dropped('client-gone'), 0);
    const socket = connect(Number(url.port), '127.0.0.1');
    socket.write(
      `POST /v1/recommendations HTTP/1.1\r\nHost: x\r\nx-wait-ms: 40\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${body.length}\r\n\r\n${body}`,
    );
    await new Promise((r) => setTimeout(r, 10));
    socket.destroy();
    const t0 = Date.now();
    while ((await dropped('client-gone')) === 0 && Date.now() - t0 < 3000)
      await new Promise((r) => setTimeout(r, 20));
    assert.equal(await dropped('client-gone'), 1);
  } finally {
    await app.close();
  }
});

test('a request line without an HTTP version (HTTP/0.9) is refused with 505, not served', async () => {
  const app = await sqliteService('http09');
  try {
    const reply = await sendRaw(app, 'GET /\r\n\r\n');
    assert.match(reply, /^HTTP\/1\.1 505 /);
    assert.deepEqual(JSON.parse(reply.split('\r\n\r\n')[1]), {
      error: 'HTTP/0.9 is not supported: send HTTP/1.0 or later',
    });
  } finally {
    await app.close();
  }
});

test("failures Fastify detects use the service's { error } shape", async () => {
  const app = await sqliteService('shape');
  try {
    type Req = {
      method: 'GET' | 'POST' | 'DELETE';
      url: string;
      headers?: Record<string, string>;
      payload?: string;
    };
    const cases: [Req, number, RegExp][] = [
      [{ method: 'GET', url: '/nowhere' }, 404, /no route GET \/nowhere/],
      [{ method: 'DELETE', url: '/v1/events' }, 404, /no route DELETE/],
      [
        {
          method: 'POST',
          url: '/v1/events',
          headers: { 'content-type': 'application/xml' },
          payload: '<x/>',
        },
        415,
        /Unsupported Media Type/i,
      ],
      [
        {
          method: 'POST',
          url: '/v1/events',
          headers: { 'content-type': 'application/json' },
          payload: '{"user": ',
        },
        400,
        /JSON/,
      ],
      [
        {
          method: 'POST',
          url: '/v1/events',
          headers: { 'content-type': 'application/json' },
          payload: `"${'x'.repeat(9 * 1024 * 1024)}"`,
        },
        413,
        /too large/i,
      ],
      // Fastify answers these before routing, in a shape of its own unless told otherwise.
      [
        { method: 'GET', url: '/v1/users/%ZZ/events' },
        400,
        /^\/v1\/users\/%ZZ\/events has a percent-encoding that is malformed/,
      ],
      [
        { method: 'GET', url: `/v1/items/${'a'.repeat(5000)}/similar` },
        414,
        /^\/v1\/items\/a{190}a*… has a path segment longer than any id/,
      ],
    ];
    for (const [req, status, message] of cases) {
      const r = await app.inject(req);
      assert.equal(r.statusCode, status, `${req.method} ${req.url}`);
      assert.deepEqual(Object.keys(r.json()), ['error'], r.body.slice(0, 200));
      assert.match(r.json().error, message);
    }
  } finally {
    await app.close();
  }
});
