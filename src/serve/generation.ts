/**
 * A generation: one loaded bundle, grown by the items added while serving, with its model on a
 * model worker and its micro-batcher. A reload or a catalog change builds a new generation and
 * swaps it in whole, so requests already running finish on the one they started with.
 *
 * The serving thread holds the generation's item side (catalog, item data, masks); its model,
 * item table and their 8-bit copy are built and held on a model worker (model-worker.ts), so a
 * reload allocates none of them here. A generation swapped out keeps its model on the worker
 * until the last request holding it has finished (`hold`), then lets the worker drop it.
 */
import { createHash } from 'node:crypto';
import type { BundleItems, ServedItems } from './bundle.js';
import { manifestVersion } from './bundle-manifest.js';
import { grownItems } from './catalog-growth.js';
import type { ChangeLog } from './change-log.js';
import { MicroBatcher, type MicroBatcherOptions } from './micro-batcher.js';
import type { BuiltModel, ModelWorker } from './model-worker.js';
import type { HistoryRequest, ItemTableMode, RecommendationList, RecommendedItem } from './recommender.js';
import type { StoredItem } from './store/event-store.js';

export interface Generation {
  bundle: BundleItems;
  /** The bundle's item side over the grown catalog (the bundle's own when nothing was added). */
  served: ServedItems;
  /** The model as its worker built it. */
  model: BuiltModel;
  /** The worker that holds the model. */
  worker: ModelWorker;
  /** manifestVersion of the bundle (without the catalog changes). */
  bundleVersion: string;
  /**
   * A short id of what answers: the bundle's content, then (after a dot) the catalog changes
   * applied to it, so that every instance serving the same bundle and store says the same.
   */
  version: string;
  batcher: MicroBatcher<HistoryRequest, RecommendationList>;
  /** Items whose vectors in the model's item table are closest (cosine) to the item's; undefined for an unknown id. */
  similar(id: string, k: number): Promise<RecommendedItem[] | undefined>;
  /** Keeps the model on its worker until the returned function is called (a request that uses it). */
  hold(): () => void;
  /** Swapped out: the worker drops the model once no request holds it. */
  retire(): void;
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

/** A short id of the stored catalog changes (ids, change times, withdrawal). */
function catalogVersion(items: readonly StoredItem[]): string {
  const h = createHash('sha256');
  for (const it of items) h.update(`${it.id}\t${it.updated}\t${it.withdrawn}\n`);
  return h.digest('hex').slice(0, 8);
}

/**
 * The generation serving `bundle` with the stored items' changes (resolved against it) applied,
 * its model built on `worker` (which loads the bundle's model itself, and refuses a bundle other
 * than the one loaded here).
 */
export async function buildGeneration(
  bundle: BundleItems,
  stored: readonly StoredItem[],
  changes: ChangeLog,
  opts: GenerationOptions,
  worker: ModelWorker,
): Promise<Generation> {
  const bundleVersion = manifestVersion(bundle.manifest);
  const { token, built: model } = await worker.build({
    dir: bundle.dir,
    version: bundleVersion,
    changes,
    itemTable: opts.itemTable ?? 'auto',
  });
  let served: ServedItems;
  try {
    served = grownItems(bundle, changes.changes(), model.ranksUnseenItems);
    if (served.catalog.size !== model.items)
      throw new Error(`the model worker built ${model.items} items, the catalog has ${served.catalog.size}`);
  } catch (e) {
    void worker.release(token).catch(() => {});
    throw e;
  }
  const batcher = new MicroBatcher<HistoryRequest, RecommendationList>(
    (reqs) => worker.recommend(token, reqs),
    opts.batching,
  );
  batcher.onBatch = opts.onBatch;
  batcher.onDrop = opts.onDrop ?? null;
  const uploads = new Map<string, { bytes: Uint8Array; type: string }>();
  for (const it of stored) if (it.content?.image) uploads.set(it.id, it.content.image);
  const version = stored.length ? `${bundleVersion}.${catalogVersion(stored)}` : bundleVersion;
  const withdrawn = new Set(stored.filter((it) => it.withdrawn).map((it) => it.id));
  return {
    bundle,
    served,
    model,
    worker,
    bundleVersion,
    version,
    batcher,
    similar: (id, k) => worker.similar(token, id, k),
    ...lifetime(batcher, () => worker.release(token)),
    uploads,
    withdrawn,
  };
}

/** hold and retire: `release` runs once, when retired, unheld and with nothing left in the batcher. */
function lifetime(batcher: MicroBatcher<HistoryRequest, RecommendationList>, release: () => Promise<void>) {
  let holders = 0;
  let retired = false;
  let released = false;
  const settle = () => {
    if (!retired || holders > 0 || released) return;
    released = true;
    // A worker that has stopped holds nothing: there is nothing to release then.
    void batcher
      .drained()
      .then(release)
      .catch(() => {});
  };
  return {
    hold(): () => void {
      holders++;
      let done = false;
      return () => {
        if (done) return;
        done = true;
        holders--;
        settle();
      };
    },
    retire(): void {
      retired = true;
      settle();
    },
  };
}
