/** What the route plugins get from the service (their Fastify plugin options). */
import type { Generation } from '../generation.js';
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
  /** Recommendation requests older than this are dropped before their model call, ms (0: never). */
  deadlineMs: number;
}

/** k, at most the number of items the served model knows. */
export const clampK = (k: number, g: Generation): number => Math.min(k, g.recommender.items);
