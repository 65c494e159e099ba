/**
 * MovieLens movies files: the title of each movie and its genres (flat category labels).
 * Only movies that have ratings are kept. Titles keep the year GroupLens put in them
 * ("Toy Story (1995)").
 */
import { splitRecord } from '../table/csv-records.js';
import { DataError, type SkipCounter } from '../../errors.js';
import type { ItemRecord } from '../../types.js';
import type { MovielensFiles } from './layout.js';
import { MOVIELENS_SKIP } from './ratings.js';
import { readLinesAnyEncoding, type TextEncoding } from './text.js';

/** ml-100k's genres in flag order, as its u.genre names them (used when u.genre is missing). */
export const ML100K_GENRES = [
  'unknown',
  'Action',
  'Adventure',
  'Animation',
  "Children's",
  'Comedy',
  'Crime',
  'Documentary',
  'Drama',
  'Fantasy',
  'Film-Noir',
  'Horror',
  'Musical',
  'Mystery',
  'Romance',
  'Sci-Fi',
  'Thriller',
  'War',
  'Western',
];

/** The label the csv layout gives a movie without genres. */
const NO_GENRES = '(no genres listed)';

/** One movie line split into id, title and genre labels, or a reason it cannot be. */
type MovieParse = { id: string; title: string; genres: string[] } | { error: string };

/**
 * Reads the movies file of `files` into `items` (movies in `known` only). Returns the
 * encoding the file was read in.
 */
export function readMovies(
  files: MovielensFiles,
  known: Set<string>,
  items: Map<string, ItemRecord>,
  skips: SkipCounter,
): TextEncoding | undefined {
  if (files.items === undefined) return undefined;
  const file = files.items;
  const { lines, encoding } = readLinesAnyEncoding(file, 'MovieLens movies file');
  const parse = movieParser(files, file, lines);
  const first = files.layout === 'csv' ? 1 : 0; // movies.csv has a header
  for (let k = first; k < lines.length; k++) {
    if (lines[k].trim() === '') continue;
    skips.read();
    const m = parse(lines[k]);
    if ('error' in m) {
      skips.skip(MOVIELENS_SKIP.malformedMovie, `${file}:${k + 1}`, m.error);
      continue;
    }
    if (!known.has(m.id)) continue;
    const rec: ItemRecord = {};
    if (m.title !== '') rec.title = m.title;
    if (m.genres.length > 0) rec.categories = m.genres.map((g) => [g]);
    items.set(m.id, rec);
  }
  return encoding;
}

/** The line parser of the layout (the csv header is checked here). */
function movieParser(files: MovielensFiles, file: string, lines: string[]): (line: string) => MovieParse {
  if (files.layout === '100k') return parseUItem(files.genres ? readGenres(files.genres) : ML100K_GENRES);
  if (files.layout === 'dat') return parseMoviesDat;
  const header = splitRecord(lines[0] ?? '', ',', true).map((h) => h.trim());
  if (header.join(',') !== 'movieId,title,genres')
    throw new DataError(
      `${file}:1: expected the header movieId,title,genres, found ${lines[0] ?? 'nothing'}`,
    );
  return parseMoviesCsv;
}

/** u.item: id|title|release date|video release date|IMDb URL|one 0/1 flag per genre. */
function parseUItem(genres: string[]): (line: string) => MovieParse {
  const count = 5 + genres.length;
  return (line) => {
    const parts = line.split('|');
    if (parts.length !== count)
      return {
        error: `expected ${count} "|"-separated fields (5 + ${genres.length} genre flags), found ${parts.length}`,
      };
    const flags = parts.slice(5);
    const bad = flags.findIndex((f) => f !== '0' && f !== '1');
    if (bad >= 0) return { error: `genre flag ${bad + 1} is "${flags[bad]}", expected 0 or 1` };
    return movie(
      parts[0],
      parts[1],
      genres.filter((_, g) => flags[g] === '1'),
    );
  };
}

/** movies.dat: id::title::Genre|Genre. */
function parseMoviesDat(line: string): MovieParse {
  const parts = line.split('::');
  if (parts.length !== 3) return { error: `expected 3 fields separated by "::", found ${parts.length}` };
  return movie(parts[0], parts[1], genreList(parts[2]));
}

/** movies.csv: movieId,title,genres with RFC 4180 quotes around titles holding commas. */
function parseMoviesCsv(line: string): MovieParse {
  const parts = splitRecord(line, ',', true);
  if (parts.length !== 3) return { error: `expected 3 comma-separated fields, found ${parts.length}` };
  return movie(parts[0], parts[1], genreList(parts[2]));
}

function movie(id: string, title: string, genres: string[]): MovieParse {
  const trimmed = id.trim();
  if (trimmed === '') return { error: 'empty movie id' };
  return { id: trimmed, title: title.trim(), genres };
}

function genreList(field: string): string[] {
  return field
    .split('|')
    .map((g) => g.trim())
    .filter((g) => g !== '' && g !== NO_GENRES);
}

/** u.genre: "name|index" lines, indices 0, 1, 2, ... in order. */
function readGenres(file: string): string[] {
  const names: string[] = [];
  const { lines } = readLinesAnyEncoding(file, 'MovieLens genre file');
  lines.forEach((line, k) => {
    if (line.trim() === '') return;
    const [name, index] = line.split('|');
    if (name === undefined || index === undefined || Number(index) !== names.length)
      throw new DataError(
        `${file}:${k + 1}: expected "name|${names.length}" (genres numbered from 0 in order), found "${line}"`,
      );
    names.push(name.trim());
  });
  if (names.length === 0) throw new DataError(`${file}: no genres: expected "name|index" lines`);
  return names;
}
