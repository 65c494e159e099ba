/**
 * Which GroupLens MovieLens layout a folder or file holds, and where its files are:
 *
 * - `100k`: `u.data` (ratings), `u.item` (movies), `u.genre` (genre names), as in ml-100k.
 * - `dat`: `ratings.dat` and `movies.dat` with `::` separators, as in ml-1m and ml-10m.
 * - `csv`: `ratings.csv` and `movies.csv` with a header, as in ml-20m, ml-25m, ml-32m and
 *   ml-latest.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { DataError } from '../../errors.js';

export type MovielensLayout = '100k' | 'dat' | 'csv';

export interface MovielensFiles {
  layout: MovielensLayout;
  /** The ratings file (the interactions). */
  ratings: string;
  /** The movies file, when there is one. */
  items?: string;
  /** ml-100k's genre names (u.genre), when present. */
  genres?: string;
}

/** The ratings and movies file names of each layout. */
const NAMES: Record<MovielensLayout, { ratings: string; items: string }> = {
  '100k': { ratings: 'u.data', items: 'u.item' },
  dat: { ratings: 'ratings.dat', items: 'movies.dat' },
  csv: { ratings: 'ratings.csv', items: 'movies.csv' },
};

const LAYOUTS = Object.keys(NAMES) as MovielensLayout[];

const isDir = (p: string): boolean => existsSync(p) && statSync(p).isDirectory();

/**
 * The files of a MovieLens folder, or of the folder of a ratings file. `itemFile` replaces
 * the movies file found beside the ratings.
 */
export function findMovielensFiles(input: string, itemFile?: string): MovielensFiles {
  if (!existsSync(input)) throw new DataError(`input ${input} does not exist`);
  const { layout, ratings } = isDir(input) ? ratingsInFolder(input) : ratingsFile(input);
  const dir = dirname(ratings);
  if (itemFile !== undefined && !existsSync(itemFile))
    throw new DataError(`item file ${itemFile} does not exist`);
  const beside = join(dir, NAMES[layout].items);
  const items = itemFile ?? (existsSync(beside) ? beside : undefined);
  const genres = layout === '100k' && existsSync(join(dir, 'u.genre')) ? join(dir, 'u.genre') : undefined;
  const files: MovielensFiles = { layout, ratings };
  if (items !== undefined) files.items = items;
  if (genres !== undefined) files.genres = genres;
  return files;
}

/** The one ratings file of a folder; a clear error naming what was looked for otherwise. */
function ratingsInFolder(dir: string): { layout: MovielensLayout; ratings: string } {
  const found = LAYOUTS.filter((l) => existsSync(join(dir, NAMES[l].ratings)));
  if (found.length === 1) return { layout: found[0], ratings: join(dir, NAMES[found[0]].ratings) };
  const wanted = LAYOUTS.map((l) => NAMES[l].ratings).join(', ');
  if (found.length > 1) {
    const names = found.map((l) => NAMES[l].ratings).join(' and ');
    throw new DataError(`${dir}: holds ${names}; pass the ratings file to import as --input`);
  }
  // A common slip: the folder an archive was extracted into, one level above the data.
  const inner = readdirSync(dir).filter(
    (f) => isDir(join(dir, f)) && LAYOUTS.some((l) => existsSync(join(dir, f, NAMES[l].ratings))),
  );
  const hint = inner.length > 0 ? `; the folder ${join(dir, inner[0])} has one: pass it as --input` : '';
  throw new DataError(`${dir}: expected a MovieLens ratings file (${wanted}) in the folder${hint}`);
}

/** A ratings file named directly: its layout from its name. */
function ratingsFile(file: string): { layout: MovielensLayout; ratings: string } {
  const name = basename(file);
  const byName = LAYOUTS.find((l) => NAMES[l].ratings === name);
  if (byName !== undefined) return { layout: byName, ratings: file };
  if (name.endsWith('.dat')) return { layout: 'dat', ratings: file };
  if (name.endsWith('.csv')) return { layout: 'csv', ratings: file };
  if (name.endsWith('.data')) return { layout: '100k', ratings: file };
  throw new DataError(
    `${file}: cannot tell the MovieLens layout from the name: expected u.data (ml-100k), ` +
      'ratings.dat (ml-1m, ml-10m) or ratings.csv (ml-20m and later), or their folder',
  );
}
