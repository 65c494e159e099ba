/**
 * Keys, scopes and rate limits: the key document's errors, the listen-address rule, and every
 * route answering 401 / 403 / 429 as its declared access says, before a body is read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import { parseKeySet, sha256 } from '../src/serve/auth/api-keys.js';
import { registerAuth } from '../src/serve/auth/plugin.js';
import { authenticate, authPolicy, isLoopback, openPolicy } from '../src/serve/auth/policy.js';
import { bundleRoots, checkUnderRoots } from '../src/serve/bundle-roots.js';
import { buildService } from '../src/serve/service.js';
import { openStore } from '../src/serve/store/open.js';
import { serveFixture } from './serve-fixture.js';
import { tempDir } from './temp.js';

const fixture = serveFixture('auth');
const INGEST = 'ingest-key-0123456789';
const READER = 'reader-key-0123456789';
const ADMIN = 'admin-key-01234567890';

const keyDocument = (extra: object = {}) =>
  JSON.stringify({
    keys: [
      { id: 'ingest', key: INGEST, scopes: ['events:write'], ratePerMinute: 5 },
      {
        id: 'reader',
        sha256: sha256(READER).toString('hex'),
        scopes: ['recommendations:read', 'users:read'],
      },
      { id: 'ops', key: ADMIN, scopes: ['*'] },
    ],
    ...extra,
  });

async function service(keys = keyDocument()) {
  const f = await fixture;
  const store = await openStore(`sqlite:${join(f.root, `events-${Math.random().toString(36).slice(2)}.db`)}`);
  const auth = authPolicy({ keysJson: keys, host: '0.0.0.0' });
  const s = await buildService({ bundle: f.bundles.cammsr, store, auth });
  s.app.addHook('onClose', async () => store.close());
  return s.app;
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

test('key documents: each mistake names the source and the field', () => {
  const bad: [string, RegExp][] = [
    ['{', /keys\.json: not valid JSON/],
    ['{"keys": {}}', /keys\.json: keys must be a list of keys/],
    ['{"keys": [], "extra": 1}', /keys\.json: extra is not a field/],
    [
      '{"keys": [{"id": "a", "key": "short", "scopes": ["admin"]}]}',
      /keys\[0\]\.key must be at least 16 characters/,
    ],
    ['{"keys": [{"id": "a", "scopes": ["admin"]}]}', /keys\[0\] needs one of "key" or "sha256"/],
    [
      '{"keys": [{"id": "a", "sha256": "abc", "scopes": ["admin"]}]}',
      /keys\[0\]\.sha256 must be 64 hexadecimal digits/,
    ],
    [
      `{"keys": [{"id": "a", "key": "${INGEST}", "scopes": ["admn"]}]}`,
      /keys\[0\]\.scopes\[0\] is "admn", not a scope \(events:write/,
    ],
    [`{"keys": [{"id": "a", "key": "${INGEST}", "scopes": []}]}`, /keys\[0\]\.scopes is empty/],
    [`{"keys": [{"id": "a b", "key": "${INGEST}", "scopes": ["admin"]}]}`, /keys\[0\]\.id must be a name/],
    [
      `{"keys": [{"id": "a", "key": "${INGEST}", "scopes": ["admin"], "ratePerMinute": -1}]}`,
      /keys\[0\]\.ratePerMinute must be a whole number/,
    ],
    [
      `{"keys": [{"id": "a", "key": "${INGEST}", "scopes": ["admin"], "secret": 1}]}`,
      /keys\[0\]\.secret is not a key field/,
    ],
    [
      `{"keys": [{"id": "a", "key": "${INGEST}", "scopes": ["admin"]}, {"id": "a", "key": "${READER}", "scopes": ["admin"]}]}`,
      /keys\[1\]\.id "a" is used twice/,
    ],
    [
      `{"keys": [{"id": "a", "key": "${INGEST}", "scopes": ["admin"]}, {"id": "b", "key": "${INGEST}", "scopes": ["admin"]}]}`,
      /keys\[1\] has the same key/,
    ],
    ['{"keys": [], "anonymous": ["everything"]}', /anonymous\[0\] is "everything", not a scope/],
  ];
  for (const [text, message] of bad) assert.throws(() => parseKeySet(text, 'keys.json'), message, text);
  const set = parseKeySet(keyDocument({ anonymous: ['recommendations:read'] }), 'keys.json');
  assert.deepEqual(
    set.keys.map((k) => [k.id, [...k.scopes].length, k.ratePerMinute]),
    [
      ['ingest', 1, 5],
      ['reader', 2, 6000],
      ['ops', 5, 6000],
    ],
  );
  assert.deepEqual([...set.anonymous], ['recommendations:read']);
});

test('the listen address: loopback may run open, any other address needs keys or --insecure-no-auth', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) assert.ok(isLoopback(h), h);
  for (const h of ['0.0.0.0', '::', '10.0.0.5', '192.168.1.2', 'example.org', '128.0.0.1'])
    assert.ok(!isLoopback(h), h);
  assert.throws(
    () => authPolicy({ host: '0.0.0.0' }),
    /refusing to listen on 0\.0\.0\.0 without API keys.*--keys <file>.*--insecure-no-auth/s,
  );
  // An admin token alone does not close the other routes, so it does not count as keys.
  assert.throws(() => authPolicy({ host: '0.0.0.0', adminToken: ADMIN }), /refusing to listen/);
  assert.match(authPolicy({ host: '0.0.0.0', insecureNoAuth: true }).summary, /OPEN TO THE NETWORK/);
  const local = authPolicy({ host: '127.0.0.1', adminToken: ADMIN });
  assert.ok(!local.anonymous.has('admin') && local.anonymous.has('events:write'));
  assert.equal(authenticate(local, `Bearer ${ADMIN}`) !== null, true);
  assert.throws(() => authPolicy({ host: '::1', keysJson: '{"keys":[]}', keysFile: 'k.json' }), /not both/);
  assert.throws(
    () => authPolicy({ host: '::1', keysFile: join(tempDir('auth'), 'missing.json') }),
    /--keys .*missing\.json: cannot read it \(ENOENT\)/,
  );
  const file = join(tempDir('auth'), 'keys.json');
  writeFileSync(file, keyDocument());
  assert.match(
    authPolicy({ host: '0.0.0.0', keysFile: file }).summary,
    /3 key\(s\) from .*keys\.json; without a key: nothing/,
  );
});

test('every route answers as its declared scope says: 401 without or with a wrong key, 403 without the scope', async () => {
  const app = await service();
  try {
    const item = (await app.inject({ url: '/v1/items?query=a&limit=1', headers: bearer(READER) })).json()[0]
      .id as string;
    const routes: [string, string, string, object?][] = [
      ['POST', '/v1/events', 'events:write', { user: 'u1', item }],
      ['GET', '/v1/users?prefix=u', 'users:read'],
      ['GET', '/v1/users/u1/events', 'users:read'],
      ['GET', '/v1/users/u1/recommendations', 'recommendations:read'],
      ['POST', '/v1/recommendations', 'recommendations:read', { history: [item] }],
      ['GET', `/v1/items/${item}`, 'recommendations:read'],
      ['GET', `/v1/items/${item}/similar`, 'recommendations:read'],
      ['GET', '/v1/info', 'recommendations:read'],
      ['GET', '/metrics', 'metrics:read'],
      ['PATCH', `/v1/items/${item}`, 'admin', { withdrawn: false }],
    ];
    const keys: Record<string, string[]> = {
      [INGEST]: ['events:write'],
      [READER]: ['recommendations:read', 'users:read'],
      [ADMIN]: ['events:write', 'users:read', 'recommendations:read', 'metrics:read', 'admin'],
    };
    for (const [method, url, scope, payload] of routes) {
      const anonymous = await app.inject({ method: method as 'GET', url, payload });
      assert.equal(anonymous.statusCode, 401, `${method} ${url} without a key`);
      assert.equal(anonymous.headers['www-authenticate'], 'Bearer');
      assert.match(
        anonymous.json().error,
        new RegExp(`needs Authorization: Bearer <key> with the ${scope} scope`),
      );
      for (const wrong of [`Bearer ${INGEST}x`, `bearer ${INGEST}`, `Basic ${INGEST}`, INGEST])
        assert.equal(
          (await app.inject({ method: method as 'GET', url, payload, headers: { authorization: wrong } }))
            .statusCode,
          401,
          `${url}: ${wrong}`,
        );
      for (const [key, scopes] of Object.entries(keys)) {
        const r = await app.inject({ method: method as 'GET', url, payload, headers: bearer(key) });
        if (scopes.includes(scope))
          assert.ok(r.statusCode < 300, `${method} ${url} with ${scopes}: ${r.statusCode} ${r.body}`);
        else {
          assert.equal(r.statusCode, 403, `${method} ${url} with ${scopes}`);
          assert.match(r.json().error, new RegExp(`does not have the ${scope} scope`));
        }
      }
    }
    // Public routes need no key; a key in the query string is not a key.
    for (const url of ['/healthz', '/readyz', '/openapi.json', '/'])
      assert.equal((await app.inject(url)).statusCode, 200, url);
    assert.equal((await app.inject(`/v1/info?key=${READER}`)).statusCode, 401);
    // The check comes before the body is read: a malformed body without a key is a 401, not a 400.
    const early = await app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { 'content-type': 'application/json' },
      payload: '{"user": ',
    });
    assert.equal(early.statusCode, 401);
  } finally {
    await app.close();
  }
});

test("rate limits: a key's budget per minute, then 429 with Retry-After; other keys and public routes unaffected", async () => {
  const app = await service();
  try {
    const write = () =>
      app.inject({
        method: 'POST',
        url: '/v1/events',
        headers: bearer(INGEST),
        payload: { user: 'r', item: 'x' },
      });
    for (let i = 0; i < 5; i++) assert.equal((await write()).statusCode, 201, `request ${i + 1}`);
    const limited = await write();
    assert.equal(limited.statusCode, 429);
    assert.ok(Number(limited.headers['retry-after']) > 0, 'Retry-After in seconds');
    assert.match(limited.json().error, /rate limit: 5 requests per minute for this key; retry in/);
    assert.equal((await app.inject({ url: '/v1/info', headers: bearer(READER) })).statusCode, 200);
    for (let i = 0; i < 10; i++) assert.equal((await app.inject('/healthz')).statusCode, 200);
    assert.equal(
      (await app.inject('/healthz')).headers['x-ratelimit-limit'],
      '6000',
      'public routes: the per-address budget',
    );
    // A key sent to a public route counts against that key, not the address: the ingest key is spent.
    assert.equal((await app.inject({ url: '/healthz', headers: bearer(INGEST) })).statusCode, 429);
    assert.equal((await app.inject({ url: '/healthz', headers: bearer(READER) })).statusCode, 200);
  } finally {
    await app.close();
  }
});

test('a route that declares no access is refused when it is added (access fails closed)', async () => {
  const app = Fastify();
  await registerAuth(app, openPolicy());
  assert.throws(() => app.get('/undeclared', async () => 'x'), /route GET \/undeclared declares no access/);
  app.get('/declared', { config: { access: 'public' } }, async () => 'x');
  assert.equal((await app.inject('/declared')).statusCode, 200);
  await app.close();
});

test('reload roots: only folders under a root, after symbolic links are resolved', () => {
  const dir = tempDir('roots');
  for (const d of ['bundles/a', 'bundles-evil/b', 'elsewhere/c'])
    mkdirSync(join(dir, d), { recursive: true });
  symlinkSync(join(dir, 'elsewhere'), join(dir, 'bundles', 'link'));
  const roots = bundleRoots(join(dir, 'bundles', 'a'));
  assert.equal(checkUnderRoots(join(dir, 'bundles', 'a'), roots), join(dir, 'bundles', 'a'));
  assert.ok(
    checkUnderRoots(join(dir, 'bundles', 'not-yet'), roots),
    'a missing folder under a root is for the loader to refuse',
  );
  for (const bad of ['bundles', 'bundles-evil/b', 'bundles/../elsewhere/c', 'bundles/link/c'])
    assert.throws(() => checkUnderRoots(join(dir, bad), roots), /is not under the bundle roots/, bad);
  const two = bundleRoots('x', [join(dir, 'bundles'), join(dir, 'elsewhere')]);
  assert.ok(checkUnderRoots(join(dir, 'elsewhere', 'c'), two));
});
