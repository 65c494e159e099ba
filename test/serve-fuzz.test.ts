/**
 * The service under hostile input: a thousand requests a round from test/fuzz-requests.ts on
 * every route, against each event store, with the service open (two rounds) and with API keys
 * (one), in process (app.inject), and a few malformed requests on a real socket. Whatever
 * arrives, the replies pass test/fuzz-checks.ts, /healthz still answers, and a second round of
 * the same requests does not grow the process's memory.
 *
 * The seed changes each run (more inputs over time) and every failure names it;
 * CAMMSR_FUZZ_SEED=<seed> repeats a run.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { authPolicy, openPolicy } from '../src/serve/auth/policy.js';
import { loadBundle } from '../src/serve/bundle.js';
import { buildService, type ServiceOptions } from '../src/serve/service.js';
import { openStore } from '../src/serve/store/open.js';
import { assertNoProblems, excerpt, problem, statusCounts, type Outcome } from './fuzz-checks.js';
import { Fuzzer, heavyRequests, type FuzzRequest } from './fuzz-requests.js';
import { serveFixture } from './serve-fixture.js';
import { storeBackends } from './store-backends.js';

const SEED = Number(process.env.CAMMSR_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const REPRODUCE = `seed ${SEED} (CAMMSR_FUZZ_SEED=${SEED} repeats it)`;
/** Requests per round, besides the few heavy ones (fuzz-requests.ts, heavyRequests). */
const ROUND = 1000;
const CONCURRENCY = 8;
/** How much RSS may grow from the first round to the second: a leak check, not a benchmark. */
const LEAK_BOUND_MB = 150;

const fixture = serveFixture('fuzz');
const backends = storeBackends('fuzz');

const KEYS = ['fuzz-ops-key-0123456789', 'fuzz-ingest-key-0123456789', 'fuzz-web-key-0123456789'];
/** Keys of three scopes, anonymous reads, and rate limits low enough that some requests get 429. */
const KEYS_JSON = JSON.stringify({
  keys: [
    { id: 'ops', key: KEYS[0], scopes: ['*'], ratePerMinute: 0 },
    { id: 'ingest', key: KEYS[1], scopes: ['events:write'] },
    { id: 'web', key: KEYS[2], scopes: ['recommendations:read'], ratePerMinute: 100 },
  ],
  anonymous: ['recommendations:read'],
  anonymousRatePerMinute: 150,
});
const BAD_AUTHORIZATIONS = [
  'Bearer not-a-key-of-this-service',
  `bearer ${KEYS[0]}`,
  `Basic ${Buffer.from(`x:${KEYS[0]}`).toString('base64')}`,
  'Bearer',
  'Bearer ',
  `Bearer ${KEYS[0]} extra`,
  `Bearer ${'k'.repeat(10_000)}`,
  `Bearer ${KEYS[0]}\u00e9`,
];
const AUTHORIZATIONS = [...KEYS, ...KEYS].map((k) => `Bearer ${k}`).concat(BAD_AUTHORIZATIONS);

type App = Awaited<ReturnType<typeof buildService>>['app'];

/** Sends every request, CONCURRENCY at a time. */
async function send(app: App, requests: readonly FuzzRequest[]): Promise<Outcome[]> {
  const out: Outcome[] = [];
  let next = 0;
  const worker = async () => {
    while (next < requests.length) {
      const req = requests[next++];
      const { method, url, headers, payload } = req;
      const r = await app.inject({ method: method as 'GET', url, headers, payload });
      const contentType = String(r.headers['content-type'] ?? '');
      out.push({ req, status: r.statusCode, body: r.body, contentType });
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return out;
}

/**
 * A service over a new database with a few users' events (so user routes find some), serving
 * the CAMMSR bundle, and the requests of one round for it.
 */
async function fuzzedService(url: string, opts: Partial<ServiceOptions>, seed: number) {
  const f = await fixture;
  const items = loadBundle(f.bundles.cammsr).catalog.ids();
  const users = Array.from({ length: 20 }, (_, i) => `fuzz-user-${i}`);
  const store = await openStore(url);
  await store.append(
    users.flatMap((user, u) =>
      items.slice(u, u + 5).map((item, i) => ({ user, item, timestamp: 1.7e9 + i })),
    ),
  );
  const service = await buildService({ bundle: f.bundles.cammsr, store, ...opts });
  service.app.addHook('onClose', async () => store.close());
  const fuzzer = new Fuzzer(seed, {
    items,
    users,
    authorizations: opts.auth ? AUTHORIZATIONS : BAD_AUTHORIZATIONS,
    authorizationRate: opts.auth ? 0.7 : 0.03,
  });
  return { app: service.app, requests: [...fuzzer.requests(ROUND), ...heavyRequests(items)] };
}

const seconds = (t0: number) => ((performance.now() - t0) / 1000).toFixed(1);
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0);

for (const b of backends) {
  test(`${b.name}: hostile requests on every route, twice, to the open service: no 5xx, { error } replies without leaks, no memory growth`, async (t) => {
    const limits = { requestTimeoutMs: 1000, headersTimeoutMs: 800 };
    const { app, requests } = await fuzzedService(await b.freshUrl(), { limits }, SEED);
    try {
      const t0 = performance.now();
      const first = await send(app, requests);
      const rss1 = process.memoryUsage.rss();
      const second = await send(app, requests);
      const rss2 = process.memoryUsage.rss();
      t.diagnostic(`${REPRODUCE}; ${first.length * 2} requests in ${seconds(t0)} s; ${statusCounts(first)}`);
      t.diagnostic(`RSS ${mb(rss1)} MB after the first round, ${mb(rss2)} MB after the second`);
      assertNoProblems([...first, ...second], openPolicy(), REPRODUCE);
      assert.ok(
        rss2 - rss1 < LEAK_BOUND_MB * 2 ** 20,
        `RSS grew ${mb(rss2 - rss1)} MB in the second round, ${REPRODUCE}`,
      );
      await rawSocketCases(t, app);
      assert.equal((await app.inject('/healthz')).statusCode, 200);
      assert.equal((await app.inject('/readyz')).statusCode, 200);
    } finally {
      await app.close();
    }
  });

  test(`${b.name}: hostile requests to the service with API keys: nothing past a missing scope, no 5xx`, async (t) => {
    const auth = authPolicy({ keysJson: KEYS_JSON, host: '127.0.0.1' });
    const { app, requests } = await fuzzedService(await b.freshUrl(), { auth }, SEED + 1);
    try {
      const t0 = performance.now();
      const outcomes = await send(app, requests);
      t.diagnostic(
        `${REPRODUCE}; ${outcomes.length} requests in ${seconds(t0)} s; ${statusCounts(outcomes)}`,
      );
      assertNoProblems(outcomes, auth, REPRODUCE);
      // From another address: this one has spent its anonymous budget (public routes count against it).
      assert.equal((await app.inject({ url: '/healthz', remoteAddress: '127.0.0.2' })).statusCode, 200);
    } finally {
      await app.close();
    }
  });
}

/** Requests no HTTP client library would send, on a real socket: each gets its 4xx in the { error } shape. */
async function rawSocketCases(t: TestContext, app: App) {
  const port = Number(new URL(await app.listen({ port: 0, host: '127.0.0.1' })).port);
  const post = 'POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n';
  const cases: [string, string, number][] = [
    ['a garbage request line', 'GARBAGE\r\n\r\n', 400],
    ['a NUL in the request line', 'GET /v1/info\u0000 HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    [
      'Content-Length and Transfer-Encoding',
      `${post}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      400,
    ],
    ['a bad chunk size', `${post}Transfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n`, 400],
    ['a header of 100 kB', `GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: ${'a'.repeat(100_000)}\r\n\r\n`, 431],
    ['a Content-Length past the body', `${post}Content-Length: 100\r\n\r\n{"user":`, 408],
  ];
  for (const [what, text, status] of cases) {
    const t0 = performance.now();
    const reply = await exchange(port, text);
    const [head, body = ''] = reply.split('\r\n\r\n');
    assert.match(head, new RegExp(`^HTTP/1\\.1 ${status} `), `${what}: ${excerpt(reply, 300)}`);
    const o: Outcome = { req: { method: 'RAW', url: what, headers: {} }, status, body, contentType: '' };
    assert.equal(problem(o, openPolicy()), undefined, `${what}: ${excerpt(reply, 300)}`);
    t.diagnostic(`raw socket, ${what}: ${status} in ${(performance.now() - t0).toFixed(0)} ms`);
  }
}

/** Writes `text` on a new connection and reads until the server closes it (at most 8 s). */
function exchange(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no reply within 8 s, got: ${excerpt(reply, 200)}`));
    }, 8000);
    socket.on('data', (d: Buffer) => (reply += d.toString('latin1')));
    socket.on('error', () => {}); // a reset after the reply: what was read is the answer
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(reply);
    });
    socket.write(text);
  });
}
