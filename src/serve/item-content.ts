/**
 * An item's content as a client sends it (title, text, categories, image bytes, vectors for
 * precomputed features) turned into what the model reads: feature rows computed by the
 * bundle's encoders exactly as `prepare` computes them, and category labels by name.
 */
import type { ItemInfo } from '../data/dataset.js';
import type { ContentModality } from '../config/names.js';
import { itemText } from '../data/features/encode.js';
import { ContentError } from '../data/errors.js';
import { encodeItemContent } from '../data/features/item-encoders.js';
import type { BundleItems } from './bundle.js';
import type { ItemChange } from './catalog-growth.js';
import { HttpError } from './http-errors.js';
import type { ItemContent, StoredItem } from './store/event-store.js';

export interface ResolvedItem {
  /** Null for a stored withdrawal of an item this bundle does not have (nothing to apply). */
  change: ItemChange | null;
  /** What was accepted but not used (unknown categories, a modality the bundle cannot compute). */
  warnings: string[];
}

/**
 * The change a stored item makes to the bundle's catalog. Modalities the content does not
 * mention keep the bundle's rows (for an item of the bundle). A request's content that cannot
 * be used is an HttpError (400); `stored` content (re-applied to a bundle on load or reload,
 * whose encoders may differ from the ones it was accepted with) loses the modality it cannot
 * give, with a warning, so that one item never keeps a bundle from loading.
 */
export async function resolveItem(
  bundle: BundleItems,
  stored: StoredItem,
  origin: 'request' | 'stored' = 'request',
): Promise<ResolvedItem> {
  const i = bundle.catalog.indexOf(stored.id);
  const base: ItemInfo = i !== undefined ? bundle.catalog.item(i) : { id: stored.id };
  const c = stored.content;
  const warnings: string[] = [];
  if (!c && i === undefined) return { change: null, warnings };
  const change: ItemChange = { id: stored.id, info: { ...base }, withdrawn: stored.withdrawn };
  if (!c) return { change, warnings };
  // Content needs the encoders: their files (word vectors: hundreds of MB) are read off the loop.
  await bundle.loadEncoders();
  if (c.title !== undefined) change.info.title = c.title;
  if (c.categories !== undefined) {
    change.labels = categoryLabels(bundle, c.categories, warnings);
    change.info.categories = change.labels.map((l) => bundle.manifest.dataset.categories[l]);
  }
  // Uploaded images are served by item id; the catalog's name only says there is one.
  if (c.image) change.info.image = `upload.${c.image.type.slice('image/'.length)}`;
  const isNew = i === undefined;
  const mentions = {
    text: c.title !== undefined || c.text !== undefined || c.vectors?.text !== undefined,
    image: c.image !== undefined || c.vectors?.image !== undefined,
  };
  for (const m of ['text', 'image'] as const) {
    if (!bundle.data[m] || !(isNew || mentions[m])) continue;
    try {
      change[m] = await featureRow(bundle, m, c, warnings);
    } catch (e) {
      if (origin === 'request' || !(e instanceof HttpError)) throw e;
      warnings.push(`${e.message}; it has no ${m} features in this bundle`);
      change[m] = null;
    }
  }
  return { change, warnings };
}

/** Label indices of the category names the bundle knows, once each in the order given; the others are reported. */
function categoryLabels(bundle: BundleItems, names: readonly string[], warnings: string[]): number[] {
  const known = bundle.manifest.dataset.categories;
  const unknown = names.filter((n) => !known.includes(n));
  if (unknown.length)
    warnings.push(`unknown categories ignored (the model was trained without them): ${unknown.join(', ')}`);
  return [...new Set(names.map((n) => known.indexOf(n)).filter((l) => l >= 0))];
}

/** One modality's feature row for the content (null: the item lacks the modality). */
async function featureRow(
  bundle: BundleItems,
  m: ContentModality,
  c: ItemContent,
  warnings: string[],
): Promise<Float32Array | null> {
  const dim = bundle.data[m]!.dim;
  const encoder = bundle.encoders?.[m];
  const supplied = c.vectors?.[m];
  if (encoder?.kind === 'precomputed' && supplied) return suppliedRow(m, supplied, dim);
  if (supplied && encoder) warnings.push(`vectors.${m} ignored: this bundle computes ${m} features itself`);
  const input = m === 'text' ? itemText(c) : c.image?.bytes;
  if (input === null || input === undefined) return null;
  if (!encoder || encoder.kind === 'precomputed') {
    warnings.push(
      encoder
        ? `this bundle's ${m} features were computed elsewhere (${encoder.source}, ${encoder.dim} values): send them as vectors.${m}; the item has no ${m} features`
        : `the bundle has no ${m} encoder (its dataset was prepared before cammsr kept encoders; prepare it again): the item has no ${m} features`,
    );
    return null;
  }
  try {
    const rows = await encodeItemContent(
      bundle.encoders!,
      m === 'text' ? { text: input as string } : { image: input as Uint8Array },
    );
    return rows[m] ?? null;
  } catch (e) {
    if (e instanceof ContentError) throw new HttpError(400, e.message);
    throw e;
  }
}

/**
 * Refuses vectors a request sends for a modality whose features the bundle computes itself
 * (as prepare did: a client's vector would not be that row), and vectors that are not finite.
 */
export function checkVectors(bundle: BundleItems, c: ItemContent): void {
  for (const m of ['text', 'image'] as const) {
    const values = c.vectors?.[m];
    if (!values) continue;
    const kind = bundle.encoders?.[m]?.kind;
    if (bundle.data[m] && kind !== undefined && kind !== 'precomputed')
      throw new HttpError(
        400,
        `vectors.${m}: this bundle computes ${m} features itself (${kind}); send the ${m === 'text' ? 'title and text' : 'image'} instead`,
      );
    const bad = values.findIndex((x) => !Number.isFinite(Math.fround(x)));
    if (bad >= 0) throw new HttpError(400, `vectors.${m}[${bad}] is not a finite float32 (${values[bad]})`);
  }
}

/** A feature row the client computed for a precomputed modality: of the bundle's width. */
function suppliedRow(m: ContentModality, values: readonly number[], dim: number): Float32Array {
  if (values.length !== dim)
    throw new HttpError(
      400,
      `vectors.${m} has ${values.length} values; this bundle's ${m} features have ${dim}`,
    );
  return Float32Array.from(values);
}
