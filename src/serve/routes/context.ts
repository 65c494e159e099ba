/** What the route plugins get from the service (their Fastify plugin options). */
import type { ItemInfo } from '../../data/dataset.js';
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
export const clampK = (k: number, g: Generation): number => Math.min(k, g.model.items);

/** The catalog entry of an item id, or undefined when the served catalog does not know it. */
export function catalogItem(g: Generation, id: string): ItemInfo | undefined {
  const i = g.served.catalog.indexOf(id);
  return i === undefined ? undefined : g.served.catalog.item(i);
}

/**
 * Runs `work` on the generation being served, holding its model on the model worker until
 * `work` ends: a reload that swaps it out meanwhile does not take the model from under it.
 */
export async function withGeneration<T>(
  current: () => Generation,
  work: (g: Generation) => Promise<T>,
): Promise<T> {
  const g = current();
  const release = g.hold();
  try {
    return await work(g);
  } finally {
    release();
  }
}
