/**
 * A generation: one loaded bundle with its recommender and micro-batcher. A reload builds a new
 * generation and swaps it in whole, so requests already running finish on the one they started with.
 */
import { createHash } from 'node:crypto';
import { loadBundle, type Bundle } from './bundle.js';
import { MicroBatcher, type MicroBatcherOptions } from './micro-batcher.js';
import { Recommender, type HistoryRequest, type RecommendationList } from './recommender.js';

export interface Generation {
  bundle: Bundle;
  /** A short id of the bundle's content (in replies and metrics). */
  version: string;
  recommender: Recommender;
  batcher: MicroBatcher<HistoryRequest, RecommendationList>;
}

/** A short id of the bundle's content: the hash of its files' checksums. */
function bundleVersion(b: Bundle): string {
  const h = createHash('sha256');
  for (const f of Object.keys(b.manifest.files).sort()) h.update(`${f}\t${b.manifest.files[f]}\n`);
  return h.digest('hex').slice(0, 12);
}

/** Loads the bundle at `path`; `onBatch` hears the size of every model call. */
export function loadGeneration(
  path: string,
  batching: MicroBatcherOptions,
  onBatch: (size: number) => void,
): Generation {
  const bundle = loadBundle(path);
  const recommender = new Recommender(bundle);
  const batcher = new MicroBatcher<HistoryRequest, RecommendationList>(
    (reqs) => recommender.recommend(reqs),
    batching,
  );
  batcher.onBatch = onBatch;
  return { bundle, version: bundleVersion(bundle), recommender, batcher };
}
