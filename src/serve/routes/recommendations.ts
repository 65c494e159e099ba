/** Top-k recommendations: for a user from the stored history, or for a history in the request. */
import type { FastifyPluginAsync } from 'fastify';
import { HttpError } from '../http-errors.js';
import * as S from '../schemas/recommendations.js';
import { stillWanted } from '../request-deadline.js';
import { clampK, withGeneration, type RouteContext } from './context.js';
import { toSeconds } from './timestamps.js';

export const recommendationRoutes: FastifyPluginAsync<RouteContext> = async (
  app,
  { current, store, timed, deadlineMs },
) => {
  app.get<{ Params: { user: string }; Querystring: { k: number; exclude_seen: boolean } }>(
    '/v1/users/:user/recommendations',
    { schema: S.userRecommendations, config: { access: 'recommendations:read' } },
    async (req, reply) =>
      withGeneration(current, async (g) => {
        const events = await timed('history', () => store.history(req.params.user, g.model.maxLen));
        const list = await g.batcher.submit(
          {
            items: events.map((e) => e.item),
            timestamps: events.map((e) => e.timestamp),
            k: clampK(req.query.k, g),
            excludeSeen: req.query.exclude_seen,
          },
          stillWanted(req, reply, deadlineMs),
        );
        return { user: req.params.user, model: g.bundle.manifest.model, version: g.version, ...list };
      }),
  );

  app.post<{ Body: S.RecommendBody }>(
    '/v1/recommendations',
    { schema: S.postRecommendations, config: { access: 'recommendations:read' } },
    async (req, reply) =>
      withGeneration(current, async (g) => {
        const b = req.body;
        if (b.timestamps && b.timestamps.length !== b.history.length)
          throw new HttpError(
            400,
            `body.timestamps: ${b.timestamps.length} values for ${b.history.length} history items`,
          );
        const now = Date.now() / 1000;
        const timestamps = b.timestamps?.map((t, i) => toSeconds(t, `body.timestamps[${i}]`, now));
        const list = await g.batcher.submit(
          { items: b.history, timestamps, k: clampK(b.k, g), excludeSeen: b.exclude_seen },
          stillWanted(req, reply, deadlineMs),
        );
        const unknown = [...new Set(b.history.filter((id) => !g.served.catalog.has(id)))];
        return { model: g.bundle.manifest.model, version: g.version, unknownItems: unknown, ...list };
      }),
  );
};
