/** Users as the event store knows them: search by id prefix, and a user's stored events. */
import type { FastifyPluginAsync } from 'fastify';
import * as S from '../schemas/users.js';
import { catalogItem, type RouteContext } from './context.js';

const USERS = { access: 'users:read' } as const;

export const userRoutes: FastifyPluginAsync<RouteContext> = async (app, { current, store, timed }) => {
  app.get<{ Querystring: { prefix: string; limit: number } }>(
    '/v1/users',
    { schema: S.searchUsers, config: USERS },
    async (req) => timed('users', () => store.users(req.query.prefix, req.query.limit)),
  );

  app.get<{ Params: { user: string }; Querystring: { limit: number } }>(
    '/v1/users/:user/events',
    { schema: S.userEvents, config: USERS },
    async (req) => {
      const g = current();
      const events = await timed('history', () => store.history(req.params.user, req.query.limit));
      return {
        user: req.params.user,
        events: events.map((e) => {
          const it = catalogItem(g, e.item);
          return { item: e.item, timestamp: e.timestamp, known: !!it, title: it?.title, image: it?.image };
        }),
      };
    },
  );
};
