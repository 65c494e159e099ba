/**
 * Importer for the raw GroupLens MovieLens files (ml-100k, ml-1m, ml-10m, ml-20m, ml-25m,
 * ml-32m, ml-latest): every rating becomes an interaction at its timestamp (seconds), titles
 * become item titles and genres flat category labels. `--input` is the extracted folder or
 * its ratings file; layout.ts says which files each release has.
 */
import { basename, dirname, resolve } from 'node:path';
import { mergeSkips, SkipCounter } from '../../errors.js';
import type { ItemRecord, ProgressFn, RawDataset } from '../../types.js';
import { ColumnBuilder } from '../columns.js';
import { attachImages } from '../images.js';
import { findMovielensFiles } from './layout.js';
import { readMovies } from './movies.js';
import { readRatings } from './ratings.js';

export { MOVIELENS_SKIP } from './ratings.js';
export { ML100K_GENRES } from './movies.js';
export { findMovielensFiles, type MovielensFiles, type MovielensLayout } from './layout.js';

export interface MovielensImportOptions {
  /** The extracted MovieLens folder (ml-100k/, ml-1m/, ...) or its ratings file. */
  input: string;
  /** The movies file, when not the one beside the ratings (u.item, movies.dat, movies.csv). */
  itemFile?: string;
  /** Folder of posters named <movie id>.jpg|.png|.webp. */
  imagesDir?: string;
  /** Dataset name; default: the folder's name (ml-100k, ...). */
  name?: string;
}

export async function importMovielens(
  opts: MovielensImportOptions,
  progress?: ProgressFn,
): Promise<RawDataset> {
  const files = findMovielensFiles(opts.input, opts.itemFile);
  const cols = new ColumnBuilder(1 << 16);
  const ratingSkips = new SkipCounter();
  await readRatings(files.ratings, files.layout, cols, ratingSkips, progress);
  const interactions = cols.build();
  const items = new Map<string, ItemRecord>();
  const movieSkips = new SkipCounter();
  const encoding = readMovies(files, new Set(interactions.itemIds), items, movieSkips);
  if (opts.imagesDir !== undefined) attachImages(items, interactions.itemIds, opts.imagesDir);
  const sources = [`ratings ${files.ratings}`];
  if (files.items !== undefined) sources.push(`movies ${files.items} (${encoding})`);
  if (opts.imagesDir !== undefined) sources.push(`images ${opts.imagesDir}`);
  return {
    name: opts.name ?? basename(dirname(resolve(files.ratings))),
    source: `MovieLens ${files.layout} layout (${sources.join(', ')})`,
    interactions,
    items,
    categoryPaths: false,
    skips: mergeSkips(ratingSkips.report(), movieSkips.report()),
  };
}
