/**
 * Recommendations from a loaded bundle (or a run served as one), for many histories in one model call: encode the
 * users, multiply by the precomputed item table, keep the top k. Works in the catalog's
 * original ids; knows nothing of HTTP or storage.
 */
import type { ItemInfo } from '../data/dataset.js';
import { scoreUsersInBlocks } from '../models/model.js';
import { inferenceBatch } from '../models/batch.js';
import { StepArena } from '../engine/memory.js';
import type { ServableModel } from './bundle.js';
import { Int8TopK, quantizeItems, scoreUsersInt8Blocks, type Int8Items } from './int8-items.js';
import { TopK, topK } from './top-k.js';

/**
 * How the item table is scored: as float32, or through its 8-bit copy with the possible top
 * items rescored from float32 (the same lists, a quarter of the bytes read per request, a
 * quarter more memory held); 'auto' picks the 8-bit copy from INT8_FROM_ITEMS items.
 */
export type ItemTableMode = 'float32' | 'int8' | 'auto';
export const ITEM_TABLE_MODES: readonly ItemTableMode[] = ['float32', 'int8', 'auto'];

/**
 * Floats of encoding buffers a recommender keeps between batches (64 MB: a batch of 64 CAMMSR
 * histories of 20 items uses 44 MB, a lone request 0.7 MB).
 */
export const ARENA_KEEP_FLOATS = 16 << 20;

/** Where the 8-bit table starts to pay (bench:scale --mode serving: 2x faster at 100,000 items, d 64). */
export const INT8_FROM_ITEMS = 100_000;

/** Whether a recommender over `bundle` scores through the 8-bit table in this mode. */
export const usesInt8 = (bundle: ServableModel, mode: ItemTableMode = 'auto'): boolean =>
  mode === 'int8' || (mode === 'auto' && bundle.data.items >= INT8_FROM_ITEMS);

export interface HistoryRequest {
  /** Original item ids, oldest first. Ids the catalog does not know are skipped. */
  items: readonly string[];
  /** Unix seconds of each item (used by models with time-gap embeddings). */
  timestamps?: readonly number[];
  k: number;
  /** Leave the history's own items out of the list. */
  excludeSeen: boolean;
}

export interface RecommendedItem {
  item: string;
  score: number;
  title?: string;
  categories?: string[];
  image?: string;
  /** Each modality's share ⟨z_m, ẽ_m(j)⟩ of the score (models whose scores split by modality). */
  modalities?: Record<string, number>;
  /** Mean learned modality weights w over the item's categories (CAMMSR with category guidance). */
  categoryWeights?: Record<string, number>;
  /** Added while serving: scored from its content and categories alone. */
  new?: boolean;
}

export interface RecommendationList {
  items: RecommendedItem[];
  /** 'model', or 'popular' when no item of the history is known to the model. */
  source: 'model' | 'popular';
  /** How many history items the model read (the most recent maxLen known ones). */
  historyUsed: number;
}

export class Recommender {
  private readonly popular: Float32Array;
  /** The products of one block of items with a batch's users, reused by every batch. */
  private blockBuffer: Float32Array | null = null;
  /**
   * Where a batch's user encoding takes its intermediate buffers: reused by the next batch, so a
   * request allocates no typed arrays for the collector (in-process, CAMMSR on amazon-beauty:
   * 1.15 -> 0.9 ms of CPU a request, p99 2.2 -> 1.4 ms). 4 MB slabs: a lone request uses 0.7 MB;
   * after a batch that needed more than ARENA_KEEP_FLOATS the slabs are dropped, so that one
   * burst of large batches does not hold its memory for the generation's life.
   */
  private readonly arena = new StepArena(1 << 20);
  /** The 8-bit copy of the item table, when it is scored that way. */
  readonly int8: Int8Items | null;

  /**
   * `prebuilt`: the 8-bit copy of this bundle's item table, made beforehand (a service makes it
   * a block at a time while it answers requests); used only if it is of the same table.
   */
  constructor(
    readonly bundle: ServableModel,
    itemTable: ItemTableMode = 'auto',
    prebuilt?: Int8Items | null,
  ) {
    const { items, dim } = bundle.scorer;
    this.int8 = !usesInt8(bundle, itemTable)
      ? null
      : prebuilt?.items === items
        ? prebuilt
        : quantizeItems(items, dim);
    const n = bundle.data.items + 1;
    this.popular = new Float32Array(n);
    const counts = bundle.data.popularity;
    let total = 0;
    for (let i = 1; i < n; i++) total += counts ? counts[i] : 0;
    // A share of the training interactions, in [0, 1]: a raw count would read like a model score.
    for (let i = 1; i < n; i++) this.popular[i] = counts && total > 0 ? counts[i] / total : 0;
  }

  get items(): number {
    return this.bundle.data.items;
  }

  item(id: string): ItemInfo | undefined {
    const i = this.bundle.catalog.indexOf(id);
    return i === undefined ? undefined : this.bundle.catalog.item(i);
  }

  /** The catalog entry of internal item i with a score; `user` (a user vector) adds the modality shares. */
  describe(i: number, score: number, user?: Float32Array): RecommendedItem {
    const it = this.bundle.catalog.item(i);
    const out: RecommendedItem = { item: it.id, score };
    if (it.title !== undefined) out.title = it.title;
    if (it.categories) out.categories = it.categories;
    if (it.image !== undefined) out.image = it.image;
    if (this.bundle.added?.[i]) out.new = true;
    const { blocks, items, dim } = this.bundle.scorer;
    if (user && blocks && blocks.length > 1) {
      out.modalities = {};
      let d = 0;
      for (const b of blocks) {
        let dot = 0;
        for (let e = d; e < d + b.size; e++) dot += user[e] * items[i * dim + e];
        out.modalities[b.name] = dot;
        d += b.size;
      }
    }
    const w = this.itemWeights(i);
    if (w) out.categoryWeights = w;
    return out;
  }

  /** Mean of the learned per-category modality weights over item i's categories. */
  itemWeights(i: number): Record<string, number> | undefined {
    const cats = this.bundle.data.categories;
    const table = this.bundle.insights.categoryWeights;
    if (!cats || table.length === 0) return undefined;
    const sum: Record<string, number> = {};
    let n = 0;
    for (let q = cats.offsets[i]; q < cats.offsets[i + 1]; q++) {
      const c = table[cats.labels[q]];
      if (!c) continue;
      for (const [m, x] of Object.entries(c.weights)) sum[m] = (sum[m] ?? 0) + x;
      n++;
    }
    if (n === 0) return undefined;
    for (const m of Object.keys(sum)) sum[m] /= n;
    return sum;
  }

  /** Top-k lists for every request, with one user encoding and one product for all of them. */
  recommend(requests: readonly HistoryRequest[]): RecommendationList[] {
    const { model, catalog, scorer } = this.bundle;
    const maxLen = model.maxLen;
    // Each history item's internal id, looked up once (0: unknown to the catalog).
    const internal = requests.map((r) => r.items.map((id) => catalog.indexOf(id) ?? 0));
    const known = requests.map((r, q) => {
      const ids: number[] = [];
      const times: number[] = [];
      internal[q].forEach((i, j) => {
        if (i === 0) return;
        ids.push(i);
        times.push(r.timestamps?.[j] ?? NaN);
      });
      const start = Math.max(0, ids.length - maxLen);
      return { ids: Int32Array.from(ids.slice(start)), times: Float64Array.from(times.slice(start)) };
    });
    const withHistory = known.map((h, b) => (h.ids.length > 0 ? b : -1)).filter((b) => b >= 0);
    const n = this.items;
    const skips = requests.map((r, q) => this.skipping(r.excludeSeen ? internal[q] : []));
    const tops = new Map<number, { top: { ids: number[]; scores: number[] }; user: Float32Array }>();
    if (withHistory.length > 0) {
      // A time-aware model always gets time gaps; unknown times (NaN) fall in bucket 0, so a
      // request is answered the same whether or not it shares a batch with timed ones.
      const batch = inferenceBatch(
        withHistory.map((b) => known[b].ids),
        maxLen,
        this.bundle.data.timestamps ? withHistory.map((b) => known[b].times) : undefined,
      );
      // Copied out of the arena (B × dim floats): the next run may not overwrite what this call
      // still reads, whatever reads it later.
      const users = this.arena.run(() => scorer.users(batch).slice());
      if (this.arena.stats().heldFloats > ARENA_KEEP_FLOATS) this.arena.release();
      const D = scorer.dim;
      const userOf = (row: number) => users.subarray(row * D, (row + 1) * D);
      // The products a block of items at a time, into one reused buffer: each row's top k
      // follows the blocks, and no request holds a score per catalog item.
      const int8 = this.int8;
      const rows = withHistory.map((b, row) =>
        int8 ? new Int8TopK(requests[b].k, skips[b], userOf(row), int8) : new TopK(requests[b].k, skips[b]),
      );
      const visit = (scores: Float32Array, first: number, count: number) =>
        rows.forEach((t, row) => t.scan(scores, row * count, first, count));
      this.blockBuffer = int8
        ? scoreUsersInt8Blocks(int8, users, batch.size, this.blockBuffer, visit)
        : scoreUsersInBlocks(scorer, users, batch.size, this.blockBuffer, visit);
      withHistory.forEach((b, row) => {
        const t = rows[row];
        tops.set(b, { top: t instanceof Int8TopK ? t.finish() : t, user: userOf(row) });
      });
    }
    return requests.map((r, b) => {
      const t = tops.get(b);
      if (!t) {
        const top = topK(this.popular, 0, n, r.k, skips[b]);
        return {
          items: top.map((i) => this.describe(i, this.popular[i])),
          source: 'popular',
          historyUsed: 0,
        };
      }
      return {
        items: t.top.ids.map((i, j) => this.describe(i, t.top.scores[j], t.user)),
        source: 'model',
        historyUsed: known[b].ids.length,
      };
    });
  }

  /** Catalog entries whose id starts with, or whose title contains, `query` (case-insensitive). */
  search(query: string, limit: number): ItemInfo[] {
    return this.bundle.catalog.search(query, limit);
  }

  /** Items whose vectors in the model's item table are closest (cosine) to the item's. */
  similar(id: string, k: number): RecommendedItem[] | undefined {
    const i = this.bundle.catalog.indexOf(id);
    if (i === undefined) return undefined;
    const { dim, items } = this.bundle.scorer;
    const n = this.items;
    const norms = this.norms();
    const sims = new Float32Array(n + 1);
    const q = i * dim;
    for (let j = 1; j <= n; j++) {
      let dot = 0;
      const o = j * dim;
      for (let d = 0; d < dim; d++) dot += items[q + d] * items[o + d];
      const den = norms[i] * norms[j];
      sims[j] = den > 0 ? dot / den : 0;
    }
    return topK(sims, 0, n, k, this.skipping([i])).map((j) => this.describe(j, sims[j]));
  }

  /** Items a list must not hold: `extra`, and the items that are unavailable (withdrawn). */
  private skipping(extra: readonly number[]): { has(i: number): boolean } {
    const own = new Set(extra);
    const unavailable = this.bundle.unavailable;
    return { has: (i) => own.has(i) || unavailable?.[i] === 1 };
  }

  private normCache: Float32Array | null = null;
  private norms(): Float32Array {
    if (this.normCache) return this.normCache;
    const { dim, items } = this.bundle.scorer;
    const out = new Float32Array(this.items + 1);
    for (let j = 0; j <= this.items; j++) {
      let s = 0;
      for (let d = 0; d < dim; d++) s += items[j * dim + d] ** 2;
      out[j] = Math.sqrt(s);
    }
    return (this.normCache = out);
  }
}
