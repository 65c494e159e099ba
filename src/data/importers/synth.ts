/**
 * A synthetic multimodal dataset with PLANTED structure: the item's category decides WHICH
 * modality predicts the next item. It is the demo's default data on a fresh machine (no
 * downloads, default size in about a second) and the ground truth against which learned
 * per-category modality weights (w_id, w_text, w_image) are checked. What it plants, and how,
 * is described in docs/data-format.md, "Synthetic data".
 *
 * Randomness: one Rng(seed) forks independent streams for structure, text, images and users,
 * so e.g. changing `users` leaves the catalog (texts and PNG bytes) unchanged.
 */
import { resolve } from 'node:path';
import type { Modality } from '../../config/names.js';
import { Rng } from '../../engine/rng.js';
import type { InteractionColumns, ProgressFn, RawDataset } from '../types.js';
import { CATEGORY_NAMES, plantCatalog, type Catalog } from './synth/catalog.js';
import { renderImages } from './synth/images.js';
import { writeItemTexts } from './synth/texts.js';
import { simulateUsers, type UserRows } from './synth/users.js';

// The planted structure names modalities; re-exported for its readers.
export type { Modality };

export interface SynthOptions {
  /** Number of users (default 2000). */
  users?: number;
  /** Number of catalog items (default 1000). */
  items?: number;
  seed?: number;
  /** Directory the `<item id>.png` files are written to (created if missing). */
  imagesDir: string;
  /** Image side in pixels (default 64). */
  imageSize?: number;
  /** Number of categories (default 8, at most 16). */
  categories?: number;
  /** Probability that a within-session step ignores the driving mechanism (default 0.2). */
  noise?: number;
  /** Which modalities reveal an item's category (default 'driving'; see docs/data-format.md). */
  categoryCues?: 'driving' | 'all';
  /** Fraction of items with a second, metadata-only category label (default 0.1). */
  multiLabelRate?: number;
  /** PNG files encoded at once (default 8). */
  concurrency?: number;
}

/** The latents of one item (keys are item ids). */
export interface PlantedItem {
  /** Primary category: the one that drives the item's transitions (= categories[0][0]). */
  category: string;
  /** Text topic, "<Category>/t<k>" when category-owned, "generic/t<k>" otherwise. */
  topic: string;
  /** Visual style, "<Category>/s<k>" when category-owned, "generic/s<k>" otherwise. */
  style: string;
  /** The planted successor in ID-driven categories, null elsewhere. */
  successor: string | null;
}

/** The ground truth planted in a synthetic dataset. */
export interface PlantedStructure {
  /** category name -> the modality that predicts the next item inside that category. */
  drivingModality: Record<string, Modality>;
  description: string;
  /** Probability that a within-session step is a random item of the category. */
  noise: number;
  categories: string[];
  categoryCues: 'driving' | 'all';
  items: Record<string, PlantedItem>;
  /** What the generator actually did (within-session steps). */
  transitions: { withinSession: number; followed: number; random: number; fallback: number };
}

/**
 * Generates the dataset and writes one PNG per item into `imagesDir`. The same options give
 * the same interactions, texts and PNG bytes.
 */
export async function synthesize(
  opts: SynthOptions,
  progress?: ProgressFn,
): Promise<{ raw: RawDataset; planted: PlantedStructure }> {
  const o = checkedSettings(opts);
  const master = new Rng(o.seed);
  const rStruct = master.fork();
  const rText = master.fork();
  const rImg = master.fork();
  const rUsers = master.fork();

  const catalog = plantCatalog(o.items, o.categories, rStruct, rText);
  const imagesDir = resolve(opts.imagesDir);
  const texts = writeItemTexts(catalog, rText, {
    categoryWord: o.categoryCues === 'all',
    multiLabelRate: o.multiLabelRate,
    imagesDir,
  });
  progress?.('synth: items', o.items, o.items);
  await renderImages(
    catalog,
    texts.items,
    rImg,
    { imagesDir, size: o.imageSize, categoryBand: o.categoryCues === 'all', concurrency: o.concurrency },
    progress,
  );
  const users = simulateUsers(catalog, o.users, o.noise, rStruct, rUsers, progress);

  const source =
    `synth(users=${o.users}, items=${o.items}, categories=${o.categories}, seed=${o.seed}, noise=${o.noise}, ` +
    `imageSize=${o.imageSize}, categoryCues=${o.categoryCues}, multiLabelRate=${o.multiLabelRate}); images in ${imagesDir}`;
  return {
    raw: {
      name: 'synth',
      source,
      interactions: toColumns(users.userIds, users.rows, catalog.itemIds),
      items: texts.items,
      categoryPaths: false,
      skips: { records: users.rows.item.length, skipped: 0, reasons: {}, examples: [] },
    },
    planted: {
      drivingModality: Object.fromEntries(catalog.cats.map((name, c) => [name, catalog.driving[c]])),
      description: describePlanted(catalog, o.seed, o.noise, o.categoryCues),
      noise: o.noise,
      categories: catalog.cats,
      categoryCues: o.categoryCues,
      items: texts.planted,
      transitions: users.transitions,
    },
  };
}

type SynthSettings = Required<Omit<SynthOptions, 'imagesDir'>>;

/** The options with their defaults, checked. */
function checkedSettings(opts: SynthOptions): SynthSettings {
  const o: SynthSettings = {
    users: opts.users ?? 2000,
    items: opts.items ?? 1000,
    seed: opts.seed ?? 1,
    imageSize: opts.imageSize ?? 64,
    categories: opts.categories ?? 8,
    noise: opts.noise ?? 0.2,
    categoryCues: opts.categoryCues ?? 'driving',
    multiLabelRate: opts.multiLabelRate ?? 0.1,
    concurrency: opts.concurrency ?? 8,
  };
  checkInt('users', o.users, 1);
  checkInt('categories', o.categories, 1, CATEGORY_NAMES.length);
  // every category needs a few items to walk through, every user 5 distinct items
  checkInt('items', o.items, Math.max(8, 4 * o.categories));
  checkInt('imageSize', o.imageSize, 8, 1024);
  checkInt('concurrency', o.concurrency, 1);
  checkUnit('noise', o.noise);
  checkUnit('multiLabelRate', o.multiLabelRate);
  if (o.categoryCues !== 'driving' && o.categoryCues !== 'all')
    throw new RangeError(`categoryCues must be 'driving' or 'all'`);
  return o;
}

/** The rows as columns; itemIds lists only items that occur (the catalog may hold more). */
function toColumns(userIds: string[], rows: UserRows, catalogIds: string[]): InteractionColumns {
  const used = new Int32Array(catalogIds.length).fill(-1);
  const itemIds: string[] = [];
  const occurs = new Uint8Array(catalogIds.length);
  for (const it of rows.item) occurs[it] = 1;
  for (let it = 0; it < catalogIds.length; it++) {
    if (occurs[it]) {
      used[it] = itemIds.length;
      itemIds.push(catalogIds[it]);
    }
  }
  return {
    userIds,
    itemIds,
    user: Int32Array.from(rows.user),
    item: Int32Array.from(rows.item, (it) => used[it]),
    time: Float64Array.from(rows.time),
  };
}

function describePlanted(catalog: Catalog, seed: number, noise: number, cues: string): string {
  const { cats, driving } = catalog;
  const describe = (m: Modality): string => cats.filter((_, c) => driving[c] === m).join(', ') || '(none)';
  return (
    `Synthetic CAMMSR data (seed ${seed}): inside a session the next item shares the previous item's ` +
    `text topic in text-driven categories [${describe('text')}], its visual style in image-driven ` +
    `categories [${describe('image')}], and is its fixed successor in ID-driven categories ` +
    `[${describe('id')}]; with probability ${noise} it is a random item of the category instead. ` +
    `Non-driving modalities carry latents independent of the transition; category cues: ${cues}.`
  );
}

function checkInt(name: string, v: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(v) || v < min || v > max)
    throw new RangeError(`synth: ${name} must be an integer in [${min}, ${max}], got ${v}`);
}

function checkUnit(name: string, v: number): void {
  if (!(v >= 0 && v <= 1)) throw new RangeError(`synth: ${name} must be in [0, 1], got ${v}`);
}
