/** GET /: the explorer, one static page over the API (left out of the OpenAPI document). */
import type { FastifyPluginAsync } from 'fastify';
import { EXPLORER_HTML } from '../explorer-page.js';

export const explorerRoutes: FastifyPluginAsync = async (app) => {
  app.get('/', { schema: { hide: true }, config: { access: 'public' } }, async (_req, reply) =>
    reply.type('text/html; charset=utf-8').send(EXPLORER_HTML),
  );
};
