/**
 * A catalog that grows while serving. Items added after training get their content features
 * from the bundle's encoders and their category labels by name; the model is rebuilt over the
 * larger catalog with the trained weights, and an added item, which has no trained ID
 * embedding, is scored from its content and categories alone: its popularity is 0, so models
 * with the unseen-item row give it that row (models/unseen-items.ts). Items of the bundle can
 * have their content replaced, and any item can be withdrawn: it stays known in histories but
 * is never recommended.
 *
 * Everything here is pure: a base ServableModel and the changes in, a new ServableModel out.
 */
import type { ItemInfo } from '../data/dataset.js';
import {
  runSteps,
  scorerSteps,
  type ItemFeatures,
  type ModelData,
  type SequentialRecommender,
} from '../models/model.js';
import type { RunConfig } from '../config/index.js';
import { createModel } from '../train/create-model.js';
import type { ServableModel, ServedItems } from './bundle.js';

/** One item's resolved change: catalog fields, and for each modality a new row, none (null) or no change (undefined). */
export interface ItemChange {
  id: string;
  /** Catalog fields after the change (title, categories, image name). */
  info: ItemInfo;
  text?: Float32Array | null;
  image?: Float32Array | null;
  /** Category label indices; undefined keeps the item's labels. */
  labels?: number[];
  withdrawn: boolean;
}

/** The base model with the changes applied (the base itself, with empty masks, when there are none). */
export function growCatalog(
  base: ServableModel,
  config: RunConfig,
  changes: readonly ItemChange[],
): ServableModel {
  return runSteps(growCatalogSteps(base, config, changes));
}

/** growCatalog as steps (the new item table's blocks); run to its end on a model worker. */
function* growCatalogSteps(
  base: ServableModel,
  config: RunConfig,
  changes: readonly ItemChange[],
): Generator<void, ServableModel> {
  const { model, scorer, data, insights } = base;
  const grown = grownLayout(base, changes, model.ranksUnseenItems);
  if (!grown) return { data, insights, catalog: base.catalog, model, scorer };
  const { catalog, unavailable, added } = grown;
  if (!grown.contentChanged) return { data, insights, catalog, unavailable, added, model, scorer };
  const full = grownData(data, catalog.size, changes, grown.index);
  const m = grownModel(model, config, full);
  return { data: full, insights, catalog, unavailable, added, model: m, scorer: yield* scorerSteps(m) };
}

/**
 * The item side of `base` with the changes applied, as a serving thread holds it when the model
 * is grown on a model worker: the catalog, which items are added and unavailable, and the masks
 * (not the feature tables or labels, which only the model reads). `ranksUnseenItems`: the
 * model's; an added item is unavailable otherwise.
 */
export function grownItems(
  base: ServedItems,
  changes: readonly ItemChange[],
  ranksUnseenItems: boolean,
): ServedItems {
  // The serving fields named one by one: spreading a loaded bundle would also call its
  // `encoders` getter, which parses the encoder files on the event loop (20-60 ms a reload at
  // amazon-beauty's size) before any item needs them.
  const { data, insights } = base;
  const grown = grownLayout(base, changes, ranksUnseenItems);
  if (!grown) return { data, insights, catalog: base.catalog };
  const { catalog, unavailable, added, index } = grown;
  if (!grown.contentChanged) return { data, insights, catalog, unavailable, added };
  const N = catalog.size;
  const masks = (m: 'text' | 'image') => {
    const f = data[m];
    if (!f) return undefined;
    const mask = new Uint8Array(N + 1);
    mask.set(f.mask);
    for (const c of changes) if (c[m] !== undefined) mask[index(c)] = c[m] ? 1 : 0;
    return { dim: f.dim, mask };
  };
  const popularity = new Float64Array(N + 1);
  if (data.popularity) popularity.set(data.popularity);
  const grownData = {
    items: N,
    trainedItems: data.trainedItems ?? data.items,
    timestamps: data.timestamps,
    popularity,
    text: masks('text'),
    image: masks('image'),
  };
  return { data: grownData, insights, catalog, unavailable, added };
}

/**
 * The catalog with the changes laid over it, the added and unavailable items, and whether any
 * item's content changed (then the model's item table must be rebuilt); null without changes
 * (no item unavailable or added: no arrays, which at a million items are 2 MB a reload).
 */
function grownLayout(base: ServedItems, changes: readonly ItemChange[], ranksUnseenItems: boolean) {
  if (changes.length === 0) return null;
  const items = base.data.items;
  const catalog = base.catalog.withChanges(changes.map((c) => c.info));
  const index = (c: ItemChange) => catalog.indexOf(c.id)!;
  const N = catalog.size;
  const added = new Uint8Array(N + 1).fill(1, items + 1);
  const unavailable = new Uint8Array(N + 1);
  for (const c of changes) if (c.withdrawn) unavailable[index(c)] = 1;
  if (!ranksUnseenItems) for (let i = items + 1; i <= N; i++) unavailable[i] = 1;
  const contentChanged = changes.some(
    (c) => index(c) > items || c.text !== undefined || c.image !== undefined || c.labels !== undefined,
  );
  return { catalog, index, added, unavailable, contentChanged };
}

/** The item-side data over N items: the base rows, then the changes' rows. */
function grownData(
  base: ModelData,
  N: number,
  changes: readonly ItemChange[],
  index: (c: ItemChange) => number,
): ModelData {
  const rows = (m: 'text' | 'image') => changes.map((c) => [index(c), c[m]] as const);
  const popularity = new Float64Array(N + 1);
  if (base.popularity) popularity.set(base.popularity);
  return {
    items: N,
    trainedItems: base.trainedItems ?? base.items,
    text: base.text && grownFeatures(base.text, N, rows('text')),
    image: base.image && grownFeatures(base.image, N, rows('image')),
    categories:
      base.categories &&
      grownCategories(
        base.categories,
        N,
        changes.map((c) => [index(c), c.labels] as const),
      ),
    timestamps: base.timestamps,
    popularity,
  };
}

function grownFeatures(
  base: ItemFeatures,
  N: number,
  rows: readonly (readonly [number, Float32Array | null | undefined])[],
): ItemFeatures {
  const { dim } = base;
  const matrix = new Float32Array((N + 1) * dim);
  matrix.set(base.matrix);
  const mask = new Uint8Array(N + 1);
  mask.set(base.mask);
  for (const [i, row] of rows) {
    if (row === undefined) continue;
    if (row && row.length !== dim)
      throw new RangeError(`item ${i}: a feature row of ${row.length} values, the model reads ${dim}`);
    matrix.fill(0, i * dim, (i + 1) * dim);
    if (row) matrix.set(row, i * dim);
    mask[i] = row ? 1 : 0;
  }
  return { matrix, dim, mask };
}

function grownCategories(
  base: NonNullable<ModelData['categories']>,
  N: number,
  changes: readonly (readonly [number, number[] | undefined])[],
): NonNullable<ModelData['categories']> {
  const replaced = new Map<number, number[]>();
  for (const [i, labels] of changes)
    if (labels)
      replaced.set(
        i,
        [...new Set(labels)].sort((a, b) => a - b),
      );
  const offsets = new Int32Array(N + 2);
  const labels: number[] = [];
  const baseItems = base.offsets.length - 2;
  for (let i = 1; i <= N; i++) {
    const own = replaced.get(i);
    if (own) labels.push(...own);
    else if (i <= baseItems)
      for (let q = base.offsets[i]; q < base.offsets[i + 1]; q++) labels.push(base.labels[q]);
    offsets[i + 1] = labels.length;
  }
  return { count: base.count, offsets, labels: Int32Array.from(labels) };
}

/**
 * The model rebuilt over the grown data with the base model's trained weights. Parameters
 * indexed by item (ID embeddings) gain zero rows for the added items; every other parameter
 * must have the same shape in both.
 */
function grownModel(base: SequentialRecommender, config: RunConfig, data: ModelData): SequentialRecommender {
  // Every parameter is overwritten below: nothing to draw.
  const model = createModel(config, data, { loadsWeights: true });
  const trained = new Map(base.namedParameters());
  for (const [name, p] of model.namedParameters()) {
    const t = trained.get(name);
    const rowSize = (s: readonly number[]) => s.slice(1).reduce((a, b) => a * b, 1);
    if (
      !t ||
      t.shape.length !== p.shape.length ||
      rowSize(t.shape) !== rowSize(p.shape) ||
      t.shape[0] > p.shape[0]
    )
      throw new Error(`cannot carry parameter ${name} [${t?.shape ?? 'missing'}] over to [${p.shape}]`);
    p.data.fill(0);
    p.data.set(t.data);
  }
  return model.eval();
}
