/**
 * The recommendation service: a Fastify app over a loaded bundle and an event store. JSON in
 * and out, every request validated against its schema, the OpenAPI document generated from
 * the same schemas. `buildService` returns the app without listening, so tests drive it with
 * `app.inject` and the CLI adds the port and signals.
 *
 * The routes are plugins per resource (routes/); this file holds what they share: the
 * generation being served and its reload, the event store, and the metrics.
 */
import swagger from '@fastify/swagger';
import Fastify from 'fastify';
import { VERSION } from '../version.js';
import type { Generation } from './generation.js';
import {
  HttpError,
  replyToClientError,
  replyToRoutingError,
  replyWithError,
  urlInMessage,
} from './http-errors.js';
import { createMetrics } from './metrics.js';
import type { RouteContext } from './routes/context.js';
import { eventRoutes } from './routes/events.js';
import { explorerRoutes } from './routes/explorer.js';
import { infoRoutes } from './routes/info.js';
import { itemRoutes } from './routes/items.js';
import { opsRoutes } from './routes/ops.js';
import { recommendationRoutes } from './routes/recommendations.js';
import { userRoutes } from './routes/users.js';
import { registerAuth } from './auth/plugin.js';
import { bundleRoots, checkUnderRoots } from './bundle-roots.js';
import { registerLoadShedding, SHED_RETRY_AFTER_S } from './load-shedding.js';
import { dropReason } from './request-deadline.js';
import { openPolicy, type AuthPolicy } from './auth/policy.js';
import { ID_MAX } from './schemas/common.js';
import type { ItemTableMode } from './recommender.js';
import { ServedCatalog } from './served-catalog.js';
import { unavailableReason } from './store/availability.js';
import type { EventStore } from './store/event-store.js';
import { strictIntegers } from './strict-integers.js';

export interface ServiceOptions {
  /** The bundle folder (reloaded from here unless a reload names another). */
  bundle: string;
  store: EventStore;
  /** Micro-batching of model calls (defaults: at most 64 requests, no timer: see MicroBatcher). */
  maxBatch?: number;
  maxWaitMs?: number;
  /**
   * Who may call which route (keys, scopes, rate limits): see auth/policy.ts. Default: open to
   * every caller without limits, for tests and embedding; `cammsr serve` builds it from --keys,
   * CAMMSR_API_KEYS and CAMMSR_ADMIN_TOKEN with the listen address's rule.
   */
  auth?: AuthPolicy;
  /** Folders a reload may load bundles from (default: the served bundle's parent folder). */
  bundleRoots?: string[];
  /** Timeouts and load shedding (defaults: SERVICE_LIMITS). */
  limits?: Partial<ServiceLimits>;
  /** How the item table is scored (default 'auto': the 8-bit copy from 100,000 items, recommender.ts). */
  itemTable?: ItemTableMode;
  /** Fastify's logger option (default off; the CLI turns it on). */
  logger?: boolean | object;
}

type Metrics = ReturnType<typeof createMetrics>;

export interface ServiceLimits {
  /** Longest time to receive a whole request, headers and body (a slow client is cut off: 408). */
  requestTimeoutMs: number;
  /** Longest time to receive the headers. */
  headersTimeoutMs: number;
  /** An idle kept-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /**
   * Event-loop delay above which requests are answered 503 at once instead of queueing (0: off,
   * the library's default, so that an embedding application decides; `cammsr serve`: 200).
   */
  shedDelayMs: number;
  /**
   * A recommendation request still waiting for its model call this long after it was received
   * is answered 503 at once instead (0: no deadline); a request whose client has gone is always
   * dropped (request-deadline.ts).
   */
  requestDeadlineMs: number;
}

export const SERVICE_LIMITS: ServiceLimits = {
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  shedDelayMs: 0,
  requestDeadlineMs: 5_000,
};

/** Retry-After of a 503 for an unavailable store, seconds. */
const STORE_RETRY_AFTER_S = 2;

/**
 * The catalog being served, with metrics: a reload loads the new bundle completely before it
 * swaps one reference, and a bundle that fails to load leaves the old one serving.
 */
async function servedCatalog(
  opts: ServiceOptions,
  limits: ServiceLimits,
  { batchSize, dropped, modelInfo, reloads }: Metrics,
) {
  const batching = {
    maxBatch: opts.maxBatch ?? 64,
    maxWaitMs: opts.maxWaitMs ?? 0,
    // The model answers on its own thread: when it is what saturates, the event loop stays
    // free and idle, so load shedding also reads the model's queue.
    ...(limits.shedDelayMs > 0 && {
      queueLimit: {
        ms: limits.shedDelayMs,
        error: (waited: number) =>
          new HttpError(
            503,
            `overloaded (model queue ${Math.round(waited)} ms); retry in ${SHED_RETRY_AFTER_S} s`,
            SHED_RETRY_AFTER_S,
          ),
      },
    }),
  };
  const announce = (g: Generation) => {
    modelInfo.reset();
    const m = g.bundle.manifest;
    modelInfo.set({ model: m.model, version: g.version, dataset: m.dataset.name, cammsr: VERSION }, 1);
  };
  const catalog = await ServedCatalog.open(opts.store, opts.bundle, {
    batching,
    onBatch: (n) => batchSize.observe(n),
    onDrop: (e) => dropped.inc({ reason: dropReason(e) }),
    itemTable: opts.itemTable,
  });
  announce(catalog.current());
  const roots = bundleRoots(opts.bundle, opts.bundleRoots);
  const reload = async (path?: string): Promise<Generation> => {
    if (path !== undefined) checkUnderRoots(path, roots);
    try {
      const next = await catalog.reload(path);
      announce(next);
      reloads.inc({ outcome: 'ok' });
      return next;
    } catch (e) {
      reloads.inc({ outcome: 'failed' });
      throw e;
    }
  };
  return { catalog, reload };
}

/** A Fastify app with the service's validation, error replies and OpenAPI document. */
async function createApp(logger: ServiceOptions['logger'], auth: AuthPolicy, limits: ServiceLimits) {
  const app = Fastify({
    logger: logger ?? false,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // Node checks the request timeout on this interval (default 30 s, which would let a slow
    // client hold a socket for that much longer).
    http: { headersTimeout: limits.headersTimeoutMs, connectionsCheckingInterval: 1000 },
    // Unknown fields are errors, not silently dropped; query strings are coerced to their types.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: false } },
    bodyLimit: 8 * 1024 * 1024,
    // A path parameter holds any id the schemas accept, URL-encoded (up to 4 UTF-8 bytes of 3
    // characters each per character), so that every id a write accepts can be read back.
    routerOptions: { maxParamLength: ID_MAX * 12 },
    frameworkErrors: replyToRoutingError,
    clientErrorHandler: replyToClientError,
  });
  app.addHook('onRoute', strictIntegers);
  // Node's parser takes a request line without a version as HTTP/0.9, which has no headers,
  // no status line and no way to say where a reply ends: refuse it before anything else runs.
  app.addHook('onRequest', async (req) => {
    if (req.raw.httpVersionMajor < 1)
      throw new HttpError(505, `HTTP/${req.raw.httpVersion} is not supported: send HTTP/1.0 or later`);
  });
  if (limits.shedDelayMs > 0) await registerLoadShedding(app, limits.shedDelayMs);
  await registerAuth(app, auth);
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'cammsr recommendation service',
        version: VERSION,
        description: 'Sequential recommendations from a cammsr model bundle, with a durable event store.',
      },
    },
  });
  app.setErrorHandler(replyWithError);
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({
      error: `no route ${req.method} ${urlInMessage(req.url)} (the API is listed at /openapi.json)`,
    });
  });
  return app;
}

export async function buildService(opts: ServiceOptions) {
  const metrics = createMetrics();
  const limits = { ...SERVICE_LIMITS, ...opts.limits };
  const { catalog, reload } = await servedCatalog(opts, limits, metrics);
  try {
    const app = await serviceApp(opts, limits, metrics, catalog, reload);
    return { app, reload, catalog };
  } catch (e) {
    // The model workers would keep the process alive.
    await catalog.close();
    throw e;
  }
}

/** The Fastify app of a service over its served catalog: hooks, store calls and routes. */
async function serviceApp(
  opts: ServiceOptions,
  limits: ServiceLimits,
  metrics: Metrics,
  catalog: ServedCatalog,
  reload: (path?: string) => Promise<Generation>,
) {
  const { store } = opts;
  const current = () => catalog.current();
  const app = await createApp(opts.logger, opts.auth ?? openPolicy(), limits);
  app.addHook('onClose', () => catalog.close());
  const warn = (ws: string[]) => ws.forEach((w) => app.log.warn(w));
  warn(catalog.loadWarnings());
  catalog.onLoadWarnings = warn;
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ route, method: req.method, status: String(reply.statusCode) });
    metrics.latency.observe({ route, method: req.method }, reply.elapsedTime / 1000);
  });
  // A store that cannot answer is a 503 the client may retry, not a 500.
  const timed = async <T>(operation: string, run: () => Promise<T>): Promise<T> => {
    const end = metrics.storeLatency.startTimer({ operation, store: store.kind });
    try {
      return await run();
    } catch (e) {
      const reason = unavailableReason(e);
      if (reason === undefined) throw e;
      app.log.warn(`event store unavailable (${operation}): ${(e as Error).message}`);
      throw new HttpError(
        503,
        `the event store is unavailable (${reason}); retry later`,
        STORE_RETRY_AFTER_S,
      );
    } finally {
      end();
    }
  };

  // Registered in this order, which is also the order of the OpenAPI document's paths.
  const routes: RouteContext = { current, store, timed, catalog, deadlineMs: limits.requestDeadlineMs };
  await app.register(eventRoutes, routes);
  await app.register(recommendationRoutes, routes);
  await app.register(itemRoutes, routes);
  await app.register(userRoutes, routes);
  await app.register(infoRoutes, routes);
  await app.register(explorerRoutes);
  await app.register(opsRoutes, { ...routes, metrics: metrics.registry, reload });
  return app;
}

/** A built service: the Fastify app (not listening yet) and the reload it also serves at /v1/admin/reload. */
export type Service = Awaited<ReturnType<typeof buildService>>;
