/**
 * MovieLens ratings files, streamed (ml-25m's ratings.csv is 650 MB): every rating is an
 * interaction (user, movie, time in seconds); the rating value itself is not used.
 */
import { DataError, type SkipCounter } from '../../errors.js';
import type { ProgressFn } from '../../types.js';
import type { ColumnBuilder } from '../columns.js';
import { megabytes, streamLines } from '../line-stream.js';
import type { MovielensLayout } from './layout.js';

/** Skip reasons (stable strings: reports group by them). */
export const MOVIELENS_SKIP = {
  malformed: 'malformed line',
  missingId: 'missing id',
  badTime: 'bad timestamp',
  malformedMovie: 'malformed movie line',
} as const;

/** Where the user, movie and timestamp fields are in a split line, and how many fields there are. */
interface RatingFields {
  split: (line: string) => string[];
  /** How a line looks, for skip messages. */
  shape: string;
  count: number;
  user: number;
  item: number;
  time: number;
}

const FIXED: Record<Exclude<MovielensLayout, 'csv'>, RatingFields> = {
  '100k': {
    split: (l) => l.split('\t'),
    shape: '4 tab-separated fields (user, movie, rating, timestamp)',
    count: 4,
    user: 0,
    item: 1,
    time: 3,
  },
  dat: {
    split: (l) => l.split('::'),
    shape: '4 fields separated by "::" (user, movie, rating, timestamp)',
    count: 4,
    user: 0,
    item: 1,
    time: 3,
  },
};

/** ratings.csv: the header names the columns (userId, movieId, timestamp). */
function csvFields(header: string, file: string): RatingFields {
  const names = header.split(',').map((n) => n.trim().replace(/^"(.*)"$/, '$1'));
  const col = (n: string): number => {
    const i = names.indexOf(n);
    if (i < 0)
      throw new DataError(
        `${file}:1: expected a header with userId, movieId and timestamp columns, found ${names.join(', ')}`,
      );
    return i;
  };
  return {
    split: (l) => l.split(','),
    shape: `${names.length} comma-separated fields (${names.join(', ')})`,
    count: names.length,
    user: col('userId'),
    item: col('movieId'),
    time: col('timestamp'),
  };
}

/** Adds every good rating of `file` to `cols`; bad lines are skipped with their file:line. */
export async function readRatings(
  file: string,
  layout: MovielensLayout,
  cols: ColumnBuilder,
  skips: SkipCounter,
  progress?: ProgressFn,
): Promise<void> {
  let fields: RatingFields | undefined = layout === 'csv' ? undefined : FIXED[layout];
  const onLine = (line: string, lineNo: number): void => {
    if (line.trim() === '') return;
    if (fields === undefined) {
      fields = csvFields(line, file);
      return;
    }
    skips.read();
    addRating(line, `${file}:${lineNo}`, fields, cols, skips);
  };
  await streamLines(file, onLine, progress && megabytes(progress, 'movielens: ratings (MB)'));
}

function addRating(
  line: string,
  where: string,
  f: RatingFields,
  cols: ColumnBuilder,
  skips: SkipCounter,
): void {
  const parts = f.split(line);
  if (parts.length !== f.count) {
    skips.skip(MOVIELENS_SKIP.malformed, where, `expected ${f.shape}, found ${parts.length} fields`);
    return;
  }
  const user = parts[f.user].trim();
  const item = parts[f.item].trim();
  if (user === '' || item === '') {
    skips.skip(MOVIELENS_SKIP.missingId, where, `empty ${user === '' ? 'user' : 'movie'} id`);
    return;
  }
  const t = parts[f.time].trim();
  const time = Number(t);
  if (t === '' || !Number.isFinite(time)) {
    skips.skip(MOVIELENS_SKIP.badTime, where, `timestamp "${t}" is not a number of seconds`);
    return;
  }
  cols.add(user, item, time);
}
