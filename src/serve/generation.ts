/**
 * A generation: one loaded bundle, grown by the items added while serving, with its
 * recommender and micro-batcher. A reload or a catalog change builds a new generation and
 * swaps it in whole, so requests already running finish on the one they started with.
 */
import { createHash } from 'node:crypto';
import type { Bundle, ServableModel } from './bundle.js';
import { runStepsYielding } from './bundle.js';
import { growCatalogSteps, type ItemChange } from './catalog-growth.js';
import { quantizeItemsSteps, type Int8Items } from './int8-items.js';
import { MicroBatcher, type MicroBatcherOptions } from './micro-batcher.js';
import {
  Recommender,
  usesInt8,
  type HistoryRequest,
  type ItemTableMode,
  type RecommendationList,
} from './recommender.js';
import type { StoredItem } from './store/event-store.js';

export interface Generation {
  bundle: Bundle;
  /** The bundle's model over the grown catalog (the bundle itself when nothing was added). */
  served: ServableModel;
  /**
   * A short id of what answers: the bundle's content, then (after a dot) the catalog changes
   * applied to it, so that every instance serving the same bundle and store says the same.
   */
  version: string;
  recommender: Recommender;
  batcher: MicroBatcher<HistoryRequest, RecommendationList>;
  /** Images uploaded for items added or changed while serving, by item id. */
  uploads: ReadonlyMap<string, { bytes: Uint8Array; type: string }>;
  /** Ids of the withdrawn items. */
  withdrawn: ReadonlySet<string>;
}

export interface GenerationOptions {
  batching: MicroBatcherOptions;
  /** Hears the size of every model call. */
  onBatch: (size: number) => void;
  /** Hears every request dropped before its model call (client gone, deadline passed). */
  onDrop?: (reason: Error) => void;
  /** How the item table is scored (default 'auto': recommender.ts). */
  itemTable?: ItemTableMode;
}

/** A short id of the bundle's content: the hash of its files' checksums. */
function bundleVersion(b: Bundle): string {
  const h = createHash('sha256');
  for (const f of Object.keys(b.manifest.files).sort()) h.update(`${f}\t${b.manifest.files[f]}\n`);
  return h.digest('hex').slice(0, 12);
}

/** A short id of the stored catalog changes (ids, change times, withdrawal). */
function catalogVersion(items: readonly StoredItem[]): string {
  const h = createHash('sha256');
  for (const it of items) h.update(`${it.id}\t${it.updated}\t${it.withdrawn}\n`);
  return h.digest('hex').slice(0, 8);
}

/**
 * The generation serving `bundle` with the stored items' changes (resolved against it) applied.
 * The grown item table and its 8-bit copy (large catalogs) are made a block at a time, giving the
 * event loop back between blocks: a reload or an added item never stalls requests for long.
 * `previous`: the 8-bit table of the generation this one replaces, kept when the item table is
 * the same (a withdrawal changes no row).
 */
export async function buildGeneration(
  bundle: Bundle,
  stored: readonly StoredItem[],
  changes: readonly ItemChange[],
  opts: GenerationOptions,
  previous: Int8Items | null = null,
): Promise<Generation> {
  const served = await runStepsYielding(growCatalogSteps(bundle, bundle.config, changes));
  const { items, dim } = served.scorer;
  const int8 = !usesInt8(served, opts.itemTable)
    ? null
    : previous?.items === items
      ? previous
      : await runStepsYielding(quantizeItemsSteps(items, dim));
  const recommender = new Recommender(served, opts.itemTable, int8);
  const batcher = new MicroBatcher<HistoryRequest, RecommendationList>(
    (reqs) => recommender.recommend(reqs),
    opts.batching,
  );
  batcher.onBatch = opts.onBatch;
  batcher.onDrop = opts.onDrop ?? null;
  const uploads = new Map<string, { bytes: Uint8Array; type: string }>();
  for (const it of stored) if (it.content?.image) uploads.set(it.id, it.content.image);
  const version = stored.length
    ? `${bundleVersion(bundle)}.${catalogVersion(stored)}`
    : bundleVersion(bundle);
  const withdrawn = new Set(stored.filter((it) => it.withdrawn).map((it) => it.id));
  return { bundle, served, version, recommender, batcher, uploads, withdrawn };
}
