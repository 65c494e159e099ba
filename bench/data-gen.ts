/**
 * Synthetic interaction logs for the data benchmarks: a `user_id,item_id,timestamp` CSV with
 * Zipf-like user activity and item popularity, written in large streamed chunks so that tens
 * of millions of rows take seconds, not minutes.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { Rng } from '../src/engine/rng.js';

export interface GenerateOptions {
  users: number;
  items: number;
  seed: number;
  /** Zipf exponents of user activity and item popularity (defaults 0.8 and 1.0). */
  userSkew?: number;
  itemSkew?: number;
  /** Timestamps are uniform seconds in [start, start + spanSeconds) (defaults: 2018-01-01, 2 years). */
  start?: number;
  spanSeconds?: number;
}

/**
 * Rank in [0, n) with P(rank) roughly proportional to 1 / (rank + 1)^s, by inverting the
 * continuous power-law CDF: O(1) per draw, unlike a binary search over a table.
 */
function zipfSampler(n: number, s: number): (u: number) => number {
  if (Math.abs(s - 1) < 1e-9) {
    const logN = Math.log(n + 1);
    return (u) => Math.min(n - 1, Math.floor(Math.exp(u * logN)) - 1);
  }
  const a = 1 - s;
  const top = Math.pow(n + 1, a) - 1;
  return (u) => Math.min(n - 1, Math.floor(Math.pow(u * top + 1, 1 / a)) - 1);
}

/** A stride coprime with n, so that `rank * stride mod n` scatters popular ranks over the id range. */
function coprimeStride(n: number): number {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  let p = Math.max(1, Math.floor(n * 0.618));
  while (gcd(p, n) !== 1) p++;
  return p;
}

/** Writes `rows` interactions to `path` as CSV (header `user_id,item_id,timestamp`). */
export async function generateInteractionsCsv(
  path: string,
  rows: number,
  opts: GenerateOptions,
): Promise<void> {
  const { users, items, seed } = opts;
  if (!(users >= 1 && items >= 1 && rows >= 0))
    throw new RangeError('users and items must be >= 1, rows >= 0');
  const rng = new Rng(seed);
  const userRank = zipfSampler(users, opts.userSkew ?? 0.8);
  const itemRank = zipfSampler(items, opts.itemSkew ?? 1.0);
  const userStride = coprimeStride(users);
  const itemStride = coprimeStride(items);
  const start = opts.start ?? 1514764800;
  const span = opts.spanSeconds ?? 2 * 365 * 86400;

  await writeCsv(path, 'user_id,item_id,timestamp', rows, 65536, () => {
    const u = (userRank(rng.uniform()) * userStride) % users;
    const i = (itemRank(rng.uniform()) * itemStride) % items;
    const t = start + Math.floor(rng.uniform() * span);
    return 'u' + u + ',i' + i + ',' + t + '\n';
  });
}

/**
 * Writes `header` and `rows` lines made by `line(r)` (each ending in a newline) to `path`, one
 * string per chunk of rows: string concatenation is far cheaper than a write per row.
 */
async function writeCsv(
  path: string,
  header: string,
  rows: number,
  chunkRows: number,
  line: (r: number) => string,
): Promise<void> {
  const out = createWriteStream(path, { highWaterMark: 1 << 22 });
  const done = new Promise<void>((resolve, reject) => {
    out.on('finish', resolve);
    out.on('error', reject);
  });
  out.write(header + '\n');
  for (let r0 = 0; r0 < rows; r0 += chunkRows) {
    let s = '';
    for (let r = r0; r < Math.min(rows, r0 + chunkRows); r++) s += line(r);
    if (!out.write(s)) await once(out, 'drain');
  }
  out.end();
  await done;
}

/**
 * Writes an items file for `generateInteractionsCsv`'s ids (header `item_id,title,categories`):
 * titles of 4-9 words drawn Zipf-like from a vocabulary of `words`, and one or two of
 * `categories` labels, so that a content model (CAMMSR) has text and categories to read.
 */
export async function generateItemsCsv(
  path: string,
  items: number,
  opts: { seed: number; words?: number; categories?: number },
): Promise<void> {
  const rng = new Rng(opts.seed);
  const word = zipfSampler(opts.words ?? 5000, 1.0);
  const C = opts.categories ?? 50;
  await writeCsv(path, 'item_id,title,categories', items, 16384, (i) => {
    const title = Array.from({ length: 4 + rng.int(6) }, () => 'w' + word(rng.uniform())).join(' ');
    const first = rng.int(C);
    const labels =
      rng.uniform() < 0.5 ? 'c' + first : 'c' + first + '|c' + ((first + 1 + rng.int(C - 1)) % C);
    return 'i' + i + ',' + title + ',' + labels + '\n';
  });
}
