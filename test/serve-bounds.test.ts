/**
 * Input bounds that hold on every route: whole numbers as written (no Infinity, exponent, hex or
 * padding past the schema's bounds), and one id rule that every read route accepts back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ID_MAX } from '../src/serve/schemas/common.js';
import { buildService } from '../src/serve/service.js';
import { isPlainInteger } from '../src/serve/strict-integers.js';
import { openStore } from '../src/serve/store/open.js';
import { serveFixture } from './serve-fixture.js';

const fixture = serveFixture('bounds');

async function service() {
  const f = await fixture;
  const store = await openStore(`sqlite:${join(f.root, `events-${Math.random().toString(36).slice(2)}.db`)}`);
  const s = await buildService({ bundle: f.bundles.cammsr, store });
  s.app.addHook('onClose', async () => store.close());
  return s.app;
}

test('isPlainInteger: decimal digits or a safe-integer JSON number, nothing else', () => {
  for (const ok of ['0', '7', '1000', '000012', 5, 0, Number.MAX_SAFE_INTEGER])
    assert.ok(isPlainInteger(ok), String(ok));
  for (const bad of [
    'Infinity',
    '-Infinity',
    '1e400',
    '1e3',
    '0x10',
    ' 5',
    '5 ',
    '5.0',
    '-1',
    '+1',
    '',
    'NaN',
    Infinity,
    NaN,
    1.5,
    2 ** 60,
    '1234567890123456',
    null,
    true,
  ])
    assert.ok(!isPlainInteger(bad), String(bad));
});

test('k and limit: values that are not plain whole numbers within bounds are 400s naming the field', async () => {
  const app = await service();
  try {
    const item = encodeURIComponent((await app.inject('/v1/items?query=a&limit=1')).json()[0]?.id ?? 'x');
    const urls = [
      '/v1/users/someone/recommendations?k=',
      `/v1/items/${item}/similar?k=`,
      '/v1/users?prefix=&limit=',
      '/v1/users/someone/events?limit=',
      '/v1/items?query=a&limit=',
    ];
    for (const url of urls)
      for (const v of ['Infinity', '-Infinity', '1e400', '1e3', '0x10', '%205', '-1', '0', '100000', 'abc']) {
        const r = await app.inject(url + v);
        assert.equal(r.statusCode, 400, `${url}${v}: ${r.body}`);
        assert.match(r.json().error, /querystring\.(k|limit) must/, `${url}${v}`);
      }
    // As JSON text: a string that coerces to Infinity, a number literal that parses to it.
    for (const k of ['"Infinity"', '"1e3"', '1e400', '1.5', '-3', '0', '1001']) {
      const r = await app.inject({
        method: 'POST',
        url: '/v1/recommendations',
        headers: { 'content-type': 'application/json' },
        payload: `{"history":[],"k":${k}}`,
      });
      assert.equal(r.statusCode, 400, `k=${k}: ${r.body}`);
      assert.match(r.json().error, /body\.k must/);
    }
    // The bounds themselves are accepted.
    assert.equal((await app.inject('/v1/users/someone/recommendations?k=1000')).statusCode, 200);
    assert.equal((await app.inject('/v1/users?prefix=&limit=100')).statusCode, 200);
  } finally {
    await app.close();
  }
});

test('ids: control characters and ids over the maximum are 400s naming the rule; any accepted id reads back', async () => {
  const app = await service();
  const post = (user: string) =>
    app.inject({ method: 'POST', url: '/v1/events', payload: { user, item: 'some-item' } });
  try {
    for (const bad of ['a\u0000b', 'tab\there', 'del\u007f', 'x'.repeat(ID_MAX + 1), '\ud800lone', '']) {
      const r = await post(bad);
      assert.equal(r.statusCode, 400, JSON.stringify(bad));
      assert.match(r.json().error, /body\.user/, JSON.stringify(bad));
      // A lone surrogate has no UTF-8 form (encodeURIComponent throws); its CESU-8 bytes stand in.
      const path = bad.startsWith('\ud800') ? '%ED%A0%80lone' : encodeURIComponent(bad);
      const read = await app.inject(`/v1/users/${path}/events`);
      assert.ok(
        read.statusCode === 400 || (bad === '' && read.statusCode === 404),
        `${JSON.stringify(bad)}: ${read.statusCode}`,
      );
    }
    assert.match((await post('a\u0000b')).json().error, /control character: ids are 1 to 128 characters/);
    // The longest ids, of the widest characters, are written and read back on every user route.
    for (const good of [
      'x'.repeat(ID_MAX),
      '😀'.repeat(ID_MAX),
      'rtl\u200fmark',
      'spaces are fine',
      '../..%2F',
    ]) {
      assert.equal((await post(good)).statusCode, 201, JSON.stringify(good));
      const u = encodeURIComponent(good);
      const events = await app.inject(`/v1/users/${u}/events`);
      assert.equal(events.statusCode, 200, `${JSON.stringify(good)}: ${events.body}`);
      assert.equal(events.json().user, good);
      assert.equal((await app.inject(`/v1/users/${u}/recommendations?k=3`)).statusCode, 200);
      const found = await app.inject(`/v1/users?prefix=${u}&limit=5`);
      assert.deepEqual(found.json(), [good]);
    }
  } finally {
    await app.close();
  }
});
