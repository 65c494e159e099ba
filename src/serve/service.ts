/**
 * The recommendation service: a Fastify app over a loaded bundle and an event store. JSON in
 * and out, every request validated against its schema, the OpenAPI document generated from
 * the same schemas. `buildService` returns the app without listening, so tests drive it with
 * `app.inject` and the CLI adds the port and signals.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { VERSION } from '../version.js';
import { loadBundle, type Bundle } from './bundle.js';
import { EXPLORER_HTML } from './explorer-page.js';
import { createMetrics } from './metrics.js';
import { MicroBatcher } from './micro-batcher.js';
import { Recommender, type HistoryRequest, type RecommendationList } from './recommender.js';
import type { EventStore, InteractionEvent } from './store/event-store.js';
import * as S from './schemas.js';

export interface ServiceOptions {
  /** The bundle folder (reloaded from here unless a reload names another). */
  bundle: string;
  store: EventStore;
  /** Micro-batching of model calls (defaults: at most 64 requests, no timer: see MicroBatcher). */
  maxBatch?: number;
  maxWaitMs?: number;
  /** When set, /v1/admin/* needs `Authorization: Bearer <token>`. */
  adminToken?: string;
  /** Fastify's logger option (default off; the CLI turns it on). */
  logger?: boolean | object;
}

/** What a request uses: swapped as a whole by a reload, so in-flight requests finish on theirs. */
interface Generation {
  bundle: Bundle;
  version: string;
  recommender: Recommender;
  batcher: MicroBatcher<HistoryRequest, RecommendationList>;
}

/** A short id of the bundle's content: the hash of its files' checksums. */
function bundleVersion(b: Bundle): string {
  const h = createHash('sha256');
  for (const f of Object.keys(b.manifest.files).sort()) h.update(`${f}\t${b.manifest.files[f]}\n`);
  return h.digest('hex').slice(0, 12);
}

const IMAGE_TYPES: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
};

interface ValidationIssue {
  keyword: string;
  instancePath: string;
  message?: string;
  params?: Record<string, unknown>;
}

/**
 * One readable line from Ajv's errors. A body that may be one event or an array of them fails
 * both branches of an anyOf; the branch of the other shape ("must be array" for an object) and
 * the anyOf summary say nothing useful, so they are left out when a more specific error exists.
 */
export function describeValidation(issues: readonly ValidationIssue[], context: string): string {
  const specific = issues.filter(
    (i) => i.keyword !== 'anyOf' && !(i.keyword === 'type' && i.instancePath === '' && issues.length > 1),
  );
  const shown = specific.length > 0 ? specific : issues;
  const lines = shown.map((i) => {
    const where = `${context}${i.instancePath.replace(/\/(\d+)/g, '[$1]').replace(/\//g, '.')}`;
    const extra = i.keyword === 'additionalProperties' ? ` "${String(i.params?.additionalProperty)}"` : '';
    return `${where} ${i.message ?? 'is invalid'}${extra}`;
  });
  return [...new Set(lines)].join('; ');
}

class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** Unix seconds from a number (seconds) or an ISO 8601 string; `where` names the field. */
export function toSeconds(v: number | string | undefined, where: string, now: number): number {
  if (v === undefined) return now;
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < 0)
      throw new HttpError(400, `${where}: expected Unix seconds >= 0, got ${v}`);
    if (v > 1e11)
      throw new HttpError(
        400,
        `${where}: ${v} looks like milliseconds; send Unix seconds (or an ISO 8601 string)`,
      );
    return v;
  }
  const t = Date.parse(v);
  if (Number.isNaN(t))
    throw new HttpError(400, `${where}: "${v}" is not an ISO 8601 date-time or Unix seconds`);
  return t / 1000;
}

export async function buildService(opts: ServiceOptions) {
  const store = opts.store;
  const { registry, requests, latency, storeLatency, batchSize, modelInfo, reloads } = createMetrics();

  let bundlePath = opts.bundle;
  const load = (path: string): Generation => {
    const bundle = loadBundle(path);
    const recommender = new Recommender(bundle);
    const batcher = new MicroBatcher<HistoryRequest, RecommendationList>(
      (reqs) => recommender.recommend(reqs),
      {
        maxBatch: opts.maxBatch ?? 64,
        maxWaitMs: opts.maxWaitMs ?? 0,
      },
    );
    batcher.onBatch = (n) => batchSize.observe(n);
    return { bundle, version: bundleVersion(bundle), recommender, batcher };
  };
  let current = load(bundlePath);
  const announce = (g: Generation) => {
    modelInfo.reset();
    modelInfo.set(
      {
        model: g.bundle.manifest.model,
        version: g.version,
        dataset: g.bundle.manifest.dataset.name,
        cammsr: VERSION,
      },
      1,
    );
  };
  announce(current);

  const timed = async <T>(operation: string, f: () => Promise<T>): Promise<T> => {
    const end = storeLatency.startTimer({ operation, store: store.kind });
    try {
      return await f();
    } finally {
      end();
    }
  };

  const app = Fastify({
    logger: opts.logger ?? false,
    // Unknown fields are errors, not silently dropped; query strings are coerced to their types.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: false } },
    bodyLimit: 8 * 1024 * 1024,
  });
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'cammsr recommendation service',
        version: VERSION,
        description: 'Sequential recommendations from a cammsr model bundle, with a durable event store.',
      },
    },
  });

  app.setErrorHandler(
    (
      err: Error & { statusCode?: number; validation?: ValidationIssue[]; validationContext?: string },
      _req,
      reply,
    ) => {
      const status =
        err instanceof HttpError ? err.statusCode : err.validation ? 400 : (err.statusCode ?? 500);
      if (status >= 500) app.log.error(err);
      const message =
        status >= 500 && !(err instanceof HttpError)
          ? 'internal error'
          : err.validation
            ? describeValidation(err.validation, err.validationContext ?? 'request')
            : err.message;
      void reply.code(status).send({ error: message });
    },
  );
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    requests.inc({ route, method: req.method, status: String(reply.statusCode) });
    latency.observe({ route, method: req.method }, reply.elapsedTime / 1000);
  });

  const checkK = (k: number, g: Generation) => Math.min(k, g.recommender.items);

  app.post<{ Body: S.EventsBody }>('/v1/events', { schema: S.postEvents }, async (req, reply) => {
    const g = current;
    const list = Array.isArray(req.body) ? req.body : [req.body];
    const now = Date.now() / 1000;
    const events: InteractionEvent[] = list.map((e, i) => ({
      user: e.user,
      item: e.item,
      timestamp: toSeconds(
        e.timestamp,
        Array.isArray(req.body) ? `body[${i}].timestamp` : 'body.timestamp',
        now,
      ),
    }));
    const stored = await timed('append', () => store.append(events));
    const unknown = [...new Set(events.map((e) => e.item).filter((id) => !g.bundle.index.has(id)))];
    return reply.code(201).send({ stored, unknownItems: unknown });
  });

  app.get<{ Params: { user: string }; Querystring: { k: number; exclude_seen: boolean } }>(
    '/v1/users/:user/recommendations',
    { schema: S.userRecommendations },
    async (req) => {
      const g = current;
      const events = await timed('history', () => store.history(req.params.user, g.bundle.model.maxLen));
      const list = await g.batcher.submit({
        items: events.map((e) => e.item),
        timestamps: events.map((e) => e.timestamp),
        k: checkK(req.query.k, g),
        excludeSeen: req.query.exclude_seen,
      });
      return { user: req.params.user, model: g.bundle.manifest.model, version: g.version, ...list };
    },
  );

  app.post<{ Body: S.RecommendBody }>(
    '/v1/recommendations',
    { schema: S.postRecommendations },
    async (req) => {
      const g = current;
      const b = req.body;
      if (b.timestamps && b.timestamps.length !== b.history.length)
        throw new HttpError(
          400,
          `body.timestamps: ${b.timestamps.length} values for ${b.history.length} history items`,
        );
      const now = Date.now() / 1000;
      const timestamps = b.timestamps?.map((t, i) => toSeconds(t, `body.timestamps[${i}]`, now));
      const list = await g.batcher.submit({
        items: b.history,
        timestamps,
        k: checkK(b.k, g),
        excludeSeen: b.exclude_seen,
      });
      const unknown = [...new Set(b.history.filter((id) => !g.bundle.index.has(id)))];
      return { model: g.bundle.manifest.model, version: g.version, unknownItems: unknown, ...list };
    },
  );

  const notFound = (item: string) =>
    new HttpError(404, `item "${item}" is not in the catalog of the served bundle`);
  app.get<{ Params: { item: string } }>('/v1/items/:item', { schema: S.getItem }, async (req) => {
    const g = current;
    const it = g.recommender.item(req.params.item);
    if (!it) throw notFound(req.params.item);
    const i = g.bundle.index.get(it.id)!;
    return { ...it, interactions: g.bundle.data.popularity?.[i] ?? null };
  });

  app.get<{ Params: { item: string }; Querystring: { k: number } }>(
    '/v1/items/:item/similar',
    { schema: S.similarItems },
    async (req) => {
      const g = current;
      const items = g.recommender.similar(req.params.item, checkK(req.query.k, g));
      if (!items) throw notFound(req.params.item);
      return { item: req.params.item, version: g.version, items };
    },
  );

  app.get<{ Querystring: { query: string; limit: number } }>(
    '/v1/items',
    { schema: S.searchItems },
    async (req) => current.recommender.search(req.query.query, req.query.limit),
  );

  app.get<{ Params: { item: string } }>(
    '/v1/items/:item/image',
    { schema: S.itemImage },
    async (req, reply) => {
      const g = current;
      const i = g.bundle.index.get(req.params.item);
      if (i === undefined) throw notFound(req.params.item);
      const path = g.bundle.images[i];
      if (!path) throw new HttpError(404, `item "${req.params.item}" has no image in the served bundle`);
      const type = IMAGE_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
      return reply
        .type(type)
        .header('cache-control', 'public, max-age=3600')
        .send(await readFile(path));
    },
  );

  app.get<{ Querystring: { prefix: string; limit: number } }>(
    '/v1/users',
    { schema: S.searchUsers },
    async (req) => timed('users', () => store.users(req.query.prefix, req.query.limit)),
  );

  app.get<{ Params: { user: string }; Querystring: { limit: number } }>(
    '/v1/users/:user/events',
    { schema: S.userEvents },
    async (req) => {
      const g = current;
      const events = await timed('history', () => store.history(req.params.user, req.query.limit));
      return {
        user: req.params.user,
        events: events.map((e) => {
          const it = g.recommender.item(e.item);
          return { item: e.item, timestamp: e.timestamp, known: !!it, title: it?.title, image: it?.image };
        }),
      };
    },
  );

  app.get('/v1/info', { schema: S.info }, async () => {
    const g = current;
    const m = g.bundle.manifest;
    return {
      model: m.model,
      version: g.version,
      dataset: m.dataset.name,
      items: m.dataset.items,
      modalities: g.bundle.scorer.blocks?.map((b) => b.name) ?? [],
      created: m.created,
      cammsr: m.cammsrVersion,
      test: m.metrics?.test,
    };
  });

  app.get('/', { schema: { hide: true } }, async (_req, reply) =>
    reply.type('text/html; charset=utf-8').send(EXPLORER_HTML),
  );

  app.get('/healthz', { schema: S.health }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: S.ready }, async (_req, reply) => {
    try {
      await timed('ping', () => store.ping());
    } catch (e) {
      return reply.code(503).send({ status: 'unavailable', store: store.kind, error: (e as Error).message });
    }
    return {
      status: 'ready',
      store: store.kind,
      model: current.bundle.manifest.model,
      version: current.version,
    };
  });
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    return reply.type(registry.contentType).send(await registry.metrics());
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const authorize = async (req: FastifyRequest, reply: FastifyReply) => {
    if (opts.adminToken && req.headers.authorization !== `Bearer ${opts.adminToken}`)
      return reply.code(401).send({ error: 'admin routes need Authorization: Bearer <admin token>' });
  };
  const reload = (path?: string): Generation => {
    try {
      const next = load(path ?? bundlePath);
      current = next;
      if (path) bundlePath = path;
      announce(next);
      reloads.inc({ outcome: 'ok' });
      return next;
    } catch (e) {
      reloads.inc({ outcome: 'failed' });
      throw e;
    }
  };
  app.post<{ Body: { bundle?: string } | undefined }>(
    '/v1/admin/reload',
    { schema: S.reload, preHandler: authorize },
    async (req) => {
      const previous = current.version;
      let g: Generation;
      try {
        g = reload(req.body?.bundle);
      } catch (e) {
        throw new HttpError(422, `reload failed, still serving ${previous}: ${(e as Error).message}`);
      }
      return { model: g.bundle.manifest.model, version: g.version, previous, items: g.recommender.items };
    },
  );

  return { app, reload };
}

/** A built service: the Fastify app (not listening yet) and the reload it also serves at /v1/admin/reload. */
export type Service = Awaited<ReturnType<typeof buildService>>;
