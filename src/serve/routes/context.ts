/** What the route plugins get from the service (their Fastify plugin options). */
import type { Generation } from '../generation.js';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServedCatalog } from '../served-catalog.js';
import type { EventStore } from '../store/event-store.js';

export interface RouteContext {
  /** The generation being served. A route reads it once, so a reload cannot mix two bundles in one reply. */
  current: () => Generation;
  store: EventStore;
  /** Runs an event-store operation, recording its latency. */
  timed: <T>(operation: string, run: () => Promise<T>) => Promise<T>;
  /** The catalog's changes (items added, updated, withdrawn) and reloads. */
  catalog: ServedCatalog;
  /** When set, admin routes and catalog writes need `Authorization: Bearer <token>`. */
  adminToken?: string;
}

/** Whether `given` is `expected`, in time that does not depend on where they differ. */
function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** A preHandler that answers 401 unless the request carries the admin token (when one is set). */
export const requireAdmin =
  (adminToken: string | undefined) => async (req: FastifyRequest, reply: FastifyReply) => {
    if (adminToken && !sameSecret(req.headers.authorization ?? '', `Bearer ${adminToken}`))
      return reply.code(401).send({ error: 'this route needs Authorization: Bearer <admin token>' });
  };

/** k, at most the number of items the served model knows. */
export const clampK = (k: number, g: Generation): number => Math.min(k, g.recommender.items);
