/**
 * Hostile requests for the service's fuzz test (test/serve-fuzz.test.ts), drawn from a seeded
 * PRNG so that a seed reproduces a run: the kinds of the operator's reliability review on every
 * route. Wrong JSON types, bodies past the 8 MiB limit, deep nesting, invalid JSON, prototype
 * keys, NUL, lone surrogates, RTL marks, emoji and over-long ids, k and limit out of form, unknown
 * users and items, path traversal on images, SQL metacharacters, long URLs, odd content types,
 * unusual methods and Authorization headers of every kind.
 */
import { Rng } from '../src/engine/rng.js';
import type { Access } from '../src/serve/auth/scopes.js';
import {
  ODD_IDS,
  ODD_NUMBERS,
  ODD_LITERALS,
  ODD_VALUES,
  INVALID_JSON,
  CONTENT_TYPES,
  TRAVERSALS,
  RAW_PATHS,
  METHODS,
  ANY_PATHS,
  PNG,
  RELOAD_PATHS,
} from './fuzz-vocabulary.js';

export interface FuzzRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string;
  /** The access of the route it aims at; undefined when it aims at none. */
  access?: Access;
}

export interface FuzzTargets {
  /** Item ids of the served bundle, and users with stored events. */
  items: readonly string[];
  users: readonly string[];
  /** Authorization headers to send (valid keys among them), and how often to send one. */
  authorizations: readonly string[];
  authorizationRate: number;
}

/** encodeURIComponent, and for a lone surrogate (which it refuses) the bytes a careless client sends. */
function enc(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return [...s]
      .map((c) => (c.length === 1 && /[\ud800-\udfff]/.test(c) ? '%ED%A0%80' : encodeURIComponent(c)))
      .join('');
  }
}

/** Raw fragments of a route's request; Fuzzer adds the headers. */
type Part = Omit<FuzzRequest, 'headers' | 'access'> & { body?: unknown; raw?: string; noRoute?: boolean };

/** Draws requests (and their parts) from a seeded stream. */
export class Fuzzer {
  private readonly rng: Rng;
  constructor(
    seed: number,
    private readonly t: FuzzTargets,
  ) {
    this.rng = new Rng(seed);
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.rng.int(xs.length)];
  }
  chance(p: number): boolean {
    return this.rng.uniform() < p;
  }
  int(n: number): number {
    return this.rng.int(n);
  }

  /** An item id: known, known and altered, or odd. */
  item(): string {
    const known = this.pick(this.t.items);
    return this.pick([known, known, `${known} `, known.toUpperCase(), `${known}\u0000`, this.pick(ODD_IDS)]);
  }

  user(): string {
    return this.chance(0.4)
      ? this.pick(this.t.users)
      : this.chance(0.5)
        ? `unknown-${this.int(1e6)}`
        : this.pick(ODD_IDS);
  }

  /** k or limit: as often in range as out of form, so that requests also reach the handlers. */
  number(): string {
    return this.chance(0.5) ? this.pick(['1', '5', '10', '20', '100']) : enc(this.pick(ODD_NUMBERS));
  }

  value(): unknown {
    return this.chance(0.5) ? this.pick(ODD_VALUES) : this.chance(0.5) ? this.item() : this.pick(ODD_IDS);
  }

  /** A JSON body: usually as given; an object sometimes with a field it lacks or a prototype key. */
  body(fields: unknown): string {
    if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) return JSON.stringify(fields);
    if (this.chance(0.1))
      return JSON.stringify({ ...fields, [this.pick(['extra', 'User', ''])]: this.value() });
    if (this.chance(0.06)) return `{"__proto__":{"polluted":1},${JSON.stringify(fields).slice(1)}`;
    if (this.chance(0.04)) return JSON.stringify({ ...fields, constructor: { prototype: { polluted: 1 } } });
    return JSON.stringify(fields);
  }

  /** A request body that is not what any route takes: invalid, deeply nested, of the wrong type. */
  hostileBody(): string {
    const depth = this.pick([1000, 10_000, 20_000]);
    return this.pick([
      () => this.pick(INVALID_JSON),
      () => '['.repeat(depth) + ']'.repeat(depth),
      () => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth),
      () => `{"user":"u","item":"i","timestamp":${'['.repeat(depth)}${']'.repeat(depth)}}`,
      () => JSON.stringify(this.value()),
      () => this.pick(ODD_LITERALS),
    ])();
  }

  /** `n` requests across every route. */
  requests(n: number): FuzzRequest[] {
    return Array.from({ length: n }, () => this.request());
  }

  request(): FuzzRequest {
    let total = 0;
    for (const r of ROUTES) total += r.weight;
    let at = this.int(total);
    const route = ROUTES.find((r) => (at -= r.weight) < 0)!;
    const part = route.make(this);
    const headers: Record<string, string> = {};
    let payload = part.raw ?? (part.body === undefined ? undefined : this.body(part.body));
    if (payload !== undefined && this.chance(0.08)) payload = this.hostileBody();
    if (payload !== undefined)
      headers['content-type'] = this.chance(0.9) ? 'application/json' : this.pick(CONTENT_TYPES);
    if (this.chance(0.02) && payload !== undefined) delete headers['content-type'];
    if (this.chance(this.t.authorizationRate)) headers.authorization = this.pick(this.t.authorizations);
    if (this.chance(0.02)) headers['x-forwarded-for'] = this.pick(['1.2.3.4', '::1', 'x'.repeat(1000), '']);
    if (this.chance(0.02)) headers.accept = this.pick(['text/html', 'application/xml', '*/*;q=0', '']);
    return {
      method: part.method,
      url: part.url,
      headers,
      payload,
      access: part.noRoute ? undefined : route.access,
    };
  }
}

const events = (f: Fuzzer): Part => {
  const event = () => {
    const e: Record<string, unknown> = {
      user: f.chance(0.8) ? f.user() : f.value(),
      item: f.chance(0.8) ? f.item() : f.value(),
    };
    if (f.chance(0.5))
      e.timestamp = f.pick([
        1.7e9,
        -5,
        1.7e12,
        'yesterday',
        '2024-01-01T00:00:00Z',
        '1900-01-01',
        '+275760-09-13T00:00:00Z',
        f.value(),
      ]);
    if (f.chance(0.5)) e.id = f.chance(0.7) ? `e${f.int(400)}` : f.value();
    return e;
  };
  const n = f.pick([0, 1, 2, 5, 50]);
  return {
    method: 'POST',
    url: '/v1/events',
    body: f.chance(0.4) ? event() : Array.from({ length: n }, event),
  };
};

const history = (f: Fuzzer): unknown =>
  f.chance(0.8)
    ? Array.from({ length: f.pick([0, 1, 3, 20, 300]) }, () => (f.chance(0.9) ? f.item() : f.value()))
    : f.value();

const postRecommendations = (f: Fuzzer): Part => {
  const h = history(f);
  const body: Record<string, unknown> = { history: h };
  if (f.chance(0.5)) body.k = f.chance(0.5) ? f.pick([1, 10, 1000, 1001, 0, -1]) : f.value();
  if (f.chance(0.3)) body.exclude_seen = f.value();
  if (f.chance(0.3))
    body.timestamps =
      Array.isArray(h) && f.chance(0.5) ? h.map(() => f.pick([0, 1.7e9, 'x', null, -1, 2e11])) : f.value();
  if (f.chance(0.1))
    return { method: 'POST', url: '/v1/recommendations', raw: `{"history":[],"k":${f.pick(ODD_LITERALS)}}` };
  return { method: 'POST', url: '/v1/recommendations', body };
};

const putItem = (f: Fuzzer): Part => {
  const body: Record<string, unknown> = { id: f.chance(0.5) ? `fuzz-item-${f.int(20)}` : f.item() };
  if (f.chance(0.5)) body.title = f.chance(0.8) ? f.pick(ODD_IDS) : f.value();
  if (f.chance(0.4))
    body.text = f.chance(0.8) ? f.pick(['a text', 'x'.repeat(200_001), '\u0000\ud800']) : f.value();
  if (f.chance(0.4)) body.categories = f.chance(0.7) ? [f.pick(ODD_IDS), 'c0'] : f.value();
  if (f.chance(0.3))
    body.image = {
      data: f.pick(['', 'AAAA', 'not base64!', '////', PNG, PNG.slice(0, 40), 'R0lGODlhAQABAAAAACw=']),
    };
  if (f.chance(0.2)) body.vectors = { text: f.chance(0.5) ? [1, 2, 3] : f.value() };
  return { method: 'POST', url: '/v1/items', body };
};

const query = (f: Fuzzer, name: string, values: readonly string[]) =>
  f.chance(0.1)
    ? ''
    : `${name}=${f.chance(0.2) ? 'a'.repeat(f.pick([300, 8000, 100_000])) : enc(f.pick(values))}`;

/** The routes (src/serve/routes/*.ts), how often each is drawn, and what each draws. */
const ROUTES: { weight: number; access?: Access; make: (f: Fuzzer) => Part }[] = [
  { weight: 14, access: 'events:write', make: events },
  {
    weight: 8,
    access: 'recommendations:read',
    make: (f) => ({
      method: 'GET',
      url: `/v1/users/${enc(f.user())}/recommendations?k=${f.number()}${f.chance(0.3) ? `&exclude_seen=${enc(f.pick(['true', 'false', '1', 'yes', '', 'null']))}` : ''}${f.chance(0.1) ? '&extra=1' : ''}`,
    }),
  },
  { weight: 8, access: 'recommendations:read', make: postRecommendations },
  {
    weight: 4,
    access: 'recommendations:read',
    make: (f) => ({ method: 'GET', url: `/v1/items/${enc(f.item())}` }),
  },
  {
    weight: 5,
    access: 'recommendations:read',
    make: (f) => ({ method: 'GET', url: `/v1/items/${enc(f.item())}/similar?k=${f.number()}` }),
  },
  {
    weight: 7,
    access: 'public',
    make: (f) => ({
      method: 'GET',
      url: `/v1/items/${f.chance(0.6) ? f.pick(TRAVERSALS) : enc(f.item())}/image`,
    }),
  },
  {
    weight: 6,
    access: 'recommendations:read',
    make: (f) => ({
      method: 'GET',
      url: `/v1/items?${query(f, 'query', [...ODD_IDS, "' OR '1'='1", '.*', '(a+)+$', '['])}&limit=${f.number()}`,
    }),
  },
  {
    weight: 6,
    access: 'users:read',
    make: (f) => ({
      method: 'GET',
      url: `/v1/users?${query(f, 'prefix', [...ODD_IDS, 'fuzz', '', "' OR 1=1 --"])}&limit=${f.number()}`,
    }),
  },
  {
    weight: 6,
    access: 'users:read',
    make: (f) => ({ method: 'GET', url: `/v1/users/${enc(f.user())}/events?limit=${f.number()}` }),
  },
  { weight: 4, access: 'admin', make: putItem },
  {
    weight: 3,
    access: 'admin',
    make: (f) => ({
      method: 'PATCH',
      url: `/v1/items/${enc(f.item())}`,
      body: { withdrawn: f.chance(0.7) ? f.chance(0.5) : f.value() },
    }),
  },
  {
    weight: 2,
    access: 'admin',
    make: (f) =>
      f.chance(0.3)
        ? { method: 'POST', url: '/v1/admin/reload' }
        : {
            method: 'POST',
            url: '/v1/admin/reload',
            body: { bundle: f.chance(0.8) ? f.pick(RELOAD_PATHS) : f.value() },
          },
  },
  {
    weight: 3,
    access: 'public',
    make: (f) => ({
      method: 'GET',
      url: f.pick(['/healthz', '/readyz', '/openapi.json', '/']) + (f.chance(0.3) ? '?x=%00' : ''),
    }),
  },
  { weight: 1, access: 'metrics:read', make: () => ({ method: 'GET', url: '/metrics' }) },
  {
    weight: 2,
    access: 'recommendations:read',
    make: (f) => ({ method: 'GET', url: `/v1/info${f.chance(0.5) ? '?k=1' : ''}` }),
  },
  {
    weight: 6,
    make: (f) =>
      f.chance(0.5)
        ? { method: f.pick(METHODS), url: f.pick(ANY_PATHS), noRoute: true }
        : {
            method: f.pick(['GET', 'POST']),
            url: f.chance(0.8)
              ? f.pick(RAW_PATHS)
              : `/v1/items/${'a'.repeat(f.pick([2000, 20_000, 100_000]))}`,
            noRoute: true,
          },
  },
];

/**
 * The few expensive cases, a fixed number of each: bodies over the 8 MiB limit (413) and just
 * under it, 100,000-deep nesting, and the largest batches and histories (10,000 and one more).
 */
export function heavyRequests(items: readonly string[]): FuzzRequest[] {
  const json = { 'content-type': 'application/json' };
  const post = (url: string, payload: string, access?: Access): FuzzRequest => ({
    method: 'POST',
    url,
    headers: json,
    payload,
    access,
  });
  const over = JSON.stringify([{ user: 'u', item: 'x'.repeat(9 * 1024 * 1024) }]);
  const under = JSON.stringify({ user: 'u', item: 'x'.repeat(8 * 1024 * 1024 - 100) });
  const batch = (n: number) =>
    JSON.stringify(
      Array.from({ length: n }, (_, i) => ({ user: `heavy-${i % 7}`, item: items[i % items.length] })),
    );
  return [
    post('/v1/events', over, 'events:write'),
    post('/v1/recommendations', over, 'recommendations:read'),
    post('/v1/admin/reload', over, 'admin'),
    post('/v1/events', under, 'events:write'),
    post('/v1/events', '['.repeat(100_000) + ']'.repeat(100_000), 'events:write'),
    post(
      '/v1/recommendations',
      '{"history":'.repeat(50_000) + '[]' + '}'.repeat(50_000),
      'recommendations:read',
    ),
    post('/v1/events', batch(10_000), 'events:write'),
    post('/v1/events', batch(10_001), 'events:write'),
    post(
      '/v1/recommendations',
      JSON.stringify({ history: Array(10_000).fill(items[0]), k: 1000 }),
      'recommendations:read',
    ),
    post(
      '/v1/recommendations',
      JSON.stringify({ history: Array(10_001).fill(items[1]) }),
      'recommendations:read',
    ),
  ];
}
