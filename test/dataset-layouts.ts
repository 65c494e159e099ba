/**
 * Small datasets in the layouts cammsr imports, written by tests where a command expects the
 * published files: GroupLens' ml-100k and ml-1m, RecBole atomic files with posters, the S3-Rec
 * benchmark files, Amazon's 2014 review dumps and a CSV log with an items file. All hold the
 * same kind of log (see `events`), big enough for a 5-core and a short training run; none is
 * a copy of a real dataset.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';

interface Event {
  user: number;
  item: number;
  /** Seconds since the epoch. */
  time: number;
}

/** Each log's size: every item gets at least 20 interactions, every user 10. */
const SIZE = { users: 60, items: 30, length: 10 };
const STRIDE = 7; // coprime with every item count used here, so a user's items are distinct
const GENRES = ['Action', 'Adventure', 'Comedy', 'Drama', 'Sci-Fi'];

/**
 * A log of `users` users (1-based) over items 0 to items-1: user u sees u, u+7, u+14, ...
 * (mod items), one a minute, so the next item follows from the last and a model can learn it.
 */
function events({ users, items, length } = SIZE): Event[] {
  const log: Event[] = [];
  for (let user = 1; user <= users; user++)
    for (let t = 0; t < length; t++)
      log.push({ user, item: (user + t * STRIDE) % items, time: 880_000_000 + user * 1000 + t * 60 });
  return log;
}

const genre = (item: number): string => GENRES[item % GENRES.length];
const title = (item: number): string => `Film ${item + 1} (19${90 + (item % 10)})`;
const asin = (item: number): string => `B${String(item + 1).padStart(9, '0')}`;

/** Writes the lines (each ending in a newline) to `file`, its folder made; gzipped for `.gz`. */
function writeLines(file: string, lines: string[]): void {
  mkdirSync(dirname(file), { recursive: true });
  const text = lines.map((l) => `${l}\n`).join('');
  writeFileSync(file, file.endsWith('.gz') ? gzipSync(text) : text);
}

/**
 * GroupLens' ml-100k layout: u.data (tab-separated), u.item (`|`, genre flags), u.genre.
 * Movies 50, 172 and 181 (Star Wars and its sequels, which the README's commands name) are
 * among its 62 movies.
 */
export function writeGroupLens100k(dir: string): void {
  const genres = ['unknown', ...GENRES];
  const ids = [...Array.from({ length: 60 }, (_, k) => k + 1), 172, 181];
  const titles: Record<number, string> = { 50: 'Star Wars (1977)', 172: 'The Empire Strikes Back (1980)' };
  const flags = (k: number) => genres.map((g) => (g === genre(k) ? 1 : 0)).join('|');
  writeLines(join(dir, 'u.genre'), [...genres.map((g, i) => `${g}|${i}`), '']);
  writeLines(
    join(dir, 'u.item'),
    ids.map(
      (id, k) => `${id}|${titles[id] ?? title(k)}|01-Jan-1995||http://example.invalid/${id}|${flags(k)}`,
    ),
  );
  const log = events({ users: 80, items: ids.length, length: 12 });
  writeLines(
    join(dir, 'u.data'),
    log.map((e) => `${e.user}\t${ids[e.item]}\t${1 + (e.time % 5)}\t${e.time}`),
  );
}

/** GroupLens' ml-1m layout: `::`-separated ratings.dat and movies.dat. */
export function writeGroupLens1m(dir: string): void {
  writeLines(
    join(dir, 'ratings.dat'),
    events().map((e) => `${e.user}::${e.item + 1}::4::${e.time}`),
  );
  writeLines(
    join(dir, 'movies.dat'),
    Array.from({ length: SIZE.items }, (_, k) => `${k + 1}::${title(k)}::${genre(k)}|Drama`),
  );
}

/**
 * RecBole atomic files in `dir`, named after it (ml-100k.inter, ml-100k.item), and with
 * `posters` a small PNG per item named by its id.
 */
export async function writeRecbole(dir: string, posters?: string): Promise<void> {
  const name = basename(dir);
  writeLines(join(dir, `${name}.inter`), [
    'user_id:token\titem_id:token\trating:float\ttimestamp:float',
    ...events().map((e) => `${e.user}\t${e.item + 1}\t4\t${e.time}`),
  ]);
  writeLines(join(dir, `${name}.item`), [
    'item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq',
    ...Array.from({ length: SIZE.items }, (_, k) => `${k + 1}\t${title(k)}\t1995\t${genre(k)}`),
  ]);
  if (posters === undefined) return;
  mkdirSync(posters, { recursive: true });
  for (let k = 0; k < SIZE.items; k++) {
    const background = { r: (k * 40) % 256, g: (k * 90) % 256, b: 128 };
    await sharp({ create: { width: 8, height: 8, channels: 3, background } })
      .png()
      .toFile(join(posters, `${k + 1}.png`));
  }
}

/**
 * The S3-Rec benchmark files beside `sequences` (e.g. Beauty.txt): the sequences, numbered
 * from 1; `<stem>_item2attributes.json`; item_text.txt keyed by ASIN; datamaps.json mapping
 * reviewer ids and ASINs to the benchmark's numbers (what --original-ids reads).
 */
export function writeS3rec(sequences: string): void {
  const dir = dirname(sequences);
  const stem = basename(sequences).replace(/\.txt$/, '');
  const byUser = new Map<number, number[]>();
  for (const e of events()) byUser.set(e.user, [...(byUser.get(e.user) ?? []), e.item + 1]);
  writeLines(
    sequences,
    [...byUser].map(([user, items]) => `${user} ${items.join(' ')}`),
  );
  const items = Array.from({ length: SIZE.items }, (_, k) => k);
  const attributes = Object.fromEntries(items.map((k) => [k + 1, [k % GENRES.length]]));
  writeFileSync(join(dir, `${stem}_item2attributes.json`), JSON.stringify(attributes));
  writeLines(
    join(dir, 'item_text.txt'),
    items.map((k) => `${asin(k)} ${genre(k)} lipstick ${k + 1}`),
  );
  const user2id = Object.fromEntries([...byUser.keys()].map((u) => [`A${u}REVIEWER`, String(u)]));
  const item2id = Object.fromEntries(items.map((k) => [asin(k), String(k + 1)]));
  writeFileSync(join(dir, 'datamaps.json'), JSON.stringify({ user2id, item2id }));
}

/**
 * A CSV interaction log (user, item_id, time columns; the user and time columns named as
 * given) and an items file (item_id, title, description, categories); gzipped for `.gz`.
 */
export function writeEventTable(
  file: string,
  itemsFile: string,
  columns: { user: string; time: string },
): void {
  writeLines(file, [
    `${columns.user},item_id,${columns.time}`,
    ...events().map((e) => `u${e.user},${asin(e.item)},${e.time}`),
  ]);
  writeLines(itemsFile, [
    'item_id,title,description,categories',
    ...Array.from(
      { length: SIZE.items },
      (_, k) => `${asin(k)},"${title(k)}",A ${genre(k)} film.,${genre(k)}`,
    ),
  ]);
}

/** Amazon's 2014 dumps: review JSON lines and item metadata (strict JSON, accepted as 2014). */
export function writeAmazon2014(reviews: string, meta: string): void {
  writeLines(
    reviews,
    events().map((e) =>
      JSON.stringify({ reviewerID: `A${e.user}`, asin: asin(e.item), overall: 5, unixReviewTime: e.time }),
    ),
  );
  writeLines(
    meta,
    Array.from({ length: SIZE.items }, (_, k) =>
      JSON.stringify({
        asin: asin(k),
        title: `${genre(k)} lipstick ${k + 1}`,
        description: `A ${genre(k).toLowerCase()} shade.`,
        categories: [['Beauty', 'Makeup', genre(k)]],
      }),
    ),
  );
}
