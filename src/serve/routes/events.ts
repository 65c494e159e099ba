/** POST /v1/events: users' interactions into the event store. */
import type { FastifyPluginAsync } from 'fastify';
import * as S from '../schemas/events.js';
import type { InteractionEvent } from '../store/event-store.js';
import type { RouteContext } from './context.js';
import { toSeconds } from './timestamps.js';

export const eventRoutes: FastifyPluginAsync<RouteContext> = async (app, { current, store, timed }) => {
  app.post<{ Body: S.EventsBody }>(
    '/v1/events',
    { schema: S.postEvents, config: { access: 'events:write' } },
    async (req, reply) => {
      const g = current();
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
        id: e.id,
      }));
      const stored = await timed('append', () => store.append(events));
      const unknown = [...new Set(events.map((e) => e.item).filter((id) => !g.served.catalog.has(id)))];
      return reply.code(201).send({ stored, duplicates: events.length - stored, unknownItems: unknown });
    },
  );
};
