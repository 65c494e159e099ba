/** GET /v1/info: the bundle being served. */
import type { FastifyPluginAsync } from 'fastify';
import * as S from '../schemas/info.js';
import type { RouteContext } from './context.js';

export const infoRoutes: FastifyPluginAsync<RouteContext> = async (app, { current }) => {
  app.get('/v1/info', { schema: S.info, config: { access: 'recommendations:read' } }, async () => {
    const g = current();
    const m = g.bundle.manifest;
    return {
      model: m.model,
      version: g.version,
      dataset: m.dataset.name,
      items: g.model.items,
      modalities: g.model.modalities,
      created: m.created,
      cammsr: m.cammsrVersion,
      test: m.metrics?.test,
    };
  });
};
