/** The operators' routes: liveness, readiness, Prometheus metrics, the OpenAPI document, reload. */
import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import type { Generation } from '../generation.js';
import { HttpError } from '../http-errors.js';
import * as S from '../schemas/ops.js';
import type { RouteContext } from './context.js';

const PUBLIC = { access: 'public' } as const;
/** /readyz answers within this even when the store hangs (a frozen database): 503 then. */
const READY_DEADLINE_MS = 2000;

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the event store did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

export interface OpsOptions extends RouteContext {
  metrics: Registry;
  /** Loads a bundle (default: the one being served) and swaps it in; throws when it fails to load. */
  reload: (bundle?: string) => Promise<Generation>;
}

export const opsRoutes: FastifyPluginAsync<OpsOptions> = async (app, opts) => {
  const { current, store, timed, metrics, reload } = opts;
  app.get('/healthz', { schema: S.health, config: PUBLIC }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: S.ready, config: PUBLIC }, async (_req, reply) => {
    try {
      await withDeadline(
        timed('probe', () => store.probeWrite()),
        READY_DEADLINE_MS,
      );
    } catch (e) {
      return reply.code(503).send({ status: 'unavailable', store: store.kind, error: (e as Error).message });
    }
    const g = current();
    if (!g.worker.alive)
      return reply.code(503).send({
        status: 'unavailable',
        store: store.kind,
        error: 'the model worker stopped; the bundle is being reloaded',
      });
    return { status: 'ready', store: store.kind, model: g.bundle.manifest.model, version: g.version };
  });
  app.get('/metrics', { schema: { hide: true }, config: { access: 'metrics:read' } }, async (_req, reply) => {
    return reply.type(metrics.contentType).send(await metrics.metrics());
  });
  app.get('/openapi.json', { schema: { hide: true }, config: PUBLIC }, async () => app.swagger());

  app.post<{ Body: { bundle?: string } | undefined }>(
    '/v1/admin/reload',
    { schema: S.reload, config: { access: 'admin' } },
    async (req) => {
      const previous = current().version;
      let g: Generation;
      try {
        g = await reload(req.body?.bundle);
      } catch (e) {
        if (e instanceof HttpError) throw e;
        throw new HttpError(422, `reload failed, still serving ${previous}: ${(e as Error).message}`);
      }
      return { model: g.bundle.manifest.model, version: g.version, previous, items: g.model.items };
    },
  );
};
