/**
 * Importer for the raw Amazon review dumps, streamed line by line (files can be GBs):
 *
 * - 2014 (McAuley et al.): reviews JSON lines {reviewerID, asin, unixReviewTime, ...} (Python
 *   literals accepted too: the files were published as "loose JSON"); meta lines are Python
 *   literals {'asin', 'title', 'description', 'categories': [[path], ...], 'brand', ...} (or
 *   the strict-JSON conversion of them).
 * - 2018 (Ni et al.): reviews as 2014; meta JSON lines {asin, title, description: string or
 *   [strings], category: [path], brand, main_cat, ...} with HTML in the text.
 * - 2023 (Hou et al.): reviews {user_id, parent_asin, timestamp (ms), ...}; meta
 *   {parent_asin, title, description: [...], categories: [path], main_category, store, ...}.
 *   Items are keyed by parent_asin.
 *
 * Files may be gzipped (detected from the magic bytes, not the name) or plain. The format
 * is detected from the first lines of the files unless given.
 *
 * Items: title; description = the description paragraphs, then "Brand: X" (brand, or store
 * in 2023), one per line; categories as paths. When an item has no category path, the
 * top-level label (2018 main_cat, 2023 main_category) becomes a one-element path. It is not
 * prepended to a path: it is a storefront label ("All Electronics") that differs from the
 * taxonomy root ("Electronics"), so prepending would add a redundant level. HTML tags are
 * stripped and entities decoded in all text. Images come only from `imagesDir`.
 *
 * Only metadata of items that occur in the reviews is kept (a category's meta file lists
 * millions of items); duplicate meta lines keep the first. Bad records are skipped and
 * counted: the skip report's `records` counts the non-blank lines of both files.
 */
import { basename } from 'node:path';
import { DataError, SkipCounter } from '../errors.js';
import { parsePythonLiteral } from '../python-literal.js';
import type { ItemRecord, ProgressFn, RawDataset } from '../types.js';
import { ColumnBuilder } from './columns.js';
import { imageIndex } from './images.js';
import { megabytes, streamLines } from './line-stream.js';

export type AmazonFormat = '2014' | '2018' | '2023';

export interface AmazonImportOptions {
  /** Reviews file (.json/.jsonl, gzipped or not). */
  reviews: string;
  /** Metadata file, optional. */
  meta?: string;
  /** Dataset name; default: the reviews file name without extensions and "reviews_". */
  name?: string;
  /** Skips format detection. */
  format?: AmazonFormat;
  /**
   * Folder of <item id>.jpg|.jpeg|.png|.webp files (see images.ts); sets ItemRecord.image
   * for the items of the reviews that have one. URLs in the meta are never downloaded.
   */
  imagesDir?: string;
}

type Obj = Record<string, unknown>;

/** Field names per format. */
interface Fields {
  user: string;
  item: string;
  time: string;
  /** Divides the time field to get seconds. */
  timeScale: number;
  metaItem: string;
  categories: string;
  topCategory?: string;
  brand: string;
}

const FIELDS: Record<AmazonFormat, Fields> = {
  '2014': {
    user: 'reviewerID',
    item: 'asin',
    time: 'unixReviewTime',
    timeScale: 1,
    metaItem: 'asin',
    categories: 'categories',
    brand: 'brand',
  },
  '2018': {
    user: 'reviewerID',
    item: 'asin',
    time: 'unixReviewTime',
    timeScale: 1,
    metaItem: 'asin',
    categories: 'category',
    topCategory: 'main_cat',
    brand: 'brand',
  },
  '2023': {
    user: 'user_id',
    item: 'parent_asin',
    time: 'timestamp',
    timeScale: 1000,
    metaItem: 'parent_asin',
    categories: 'categories',
    topCategory: 'main_category',
    brand: 'store',
  },
};

/** Skip reasons (stable strings: reports group by them). */
export const AMAZON_SKIP = {
  unparseableReview: 'unparseable review line',
  noUser: 'review without user',
  noItem: 'review without item',
  noTime: 'review without time',
  badTime: 'review with non-numeric time',
  unparseableMeta: 'unparseable meta line',
  noMetaItem: 'meta line without item id',
} as const;

/** How many non-blank lines format detection looks at. */
const DETECT_LINES = 50;

export async function importAmazon(opts: AmazonImportOptions, progress?: ProgressFn): Promise<RawDataset> {
  const detected = await detectAmazon(opts.reviews, opts.meta, opts.format);
  // Listed before the long read so that a wrong folder fails at once.
  const images = opts.imagesDir === undefined ? undefined : imageIndex(opts.imagesDir);
  const { format, reviewsSyntax } = detected;
  const f = FIELDS[format];
  const skips = new SkipCounter();
  const cols = new ColumnBuilder(1 << 16);
  await readObjects(
    { file: opts.reviews, syntax: reviewsSyntax, unparseable: AMAZON_SKIP.unparseableReview, skips },
    (o, where) => addReview(o, where, f, cols, skips),
    progress && megabytes(progress, 'amazon: reviews (MB)'),
  );
  const items = new Map<string, ItemRecord>();
  if (opts.meta !== undefined) {
    const metaSyntax: LineSyntax = detected.metaSyntax ?? (format === '2014' ? 'python' : 'json');
    await readObjects(
      { file: opts.meta, syntax: metaSyntax, unparseable: AMAZON_SKIP.unparseableMeta, skips },
      (o, where) => addMeta(o, where, f, cols, items, skips),
      progress && megabytes(progress, 'amazon: meta (MB)'),
    );
  }
  const interactions = cols.build();
  if (images !== undefined) {
    for (const id of interactions.itemIds) {
      const image = images.get(id);
      if (image !== undefined) items.set(id, { ...items.get(id), image });
    }
  }
  const files = [`reviews ${opts.reviews}`];
  if (opts.meta !== undefined) files.push(`meta ${opts.meta}`);
  if (opts.imagesDir !== undefined) files.push(`images ${opts.imagesDir}`);
  return {
    name: opts.name ?? defaultName(opts.reviews),
    source: `Amazon ${format} (${files.join(', ')})`,
    interactions,
    items,
    categoryPaths: true,
    skips: skips.report(),
  };
}

/** A file of one object per line; lines that hold none are skipped as `unparseable`. */
interface ObjectLines {
  file: string;
  syntax: LineSyntax;
  unparseable: string;
  skips: SkipCounter;
}

/** Passes the object of every non-blank line (each a record) with its "file:line". */
async function readObjects(
  { file, syntax, unparseable, skips }: ObjectLines,
  onObject: (o: Obj, where: string) => void,
  onBytes?: (done: number, total: number) => void,
): Promise<void> {
  const onLine = (line: string, lineNo: number): void => {
    if (isBlank(line)) return;
    skips.read();
    const where = `${file}:${lineNo}`;
    let o: unknown;
    try {
      o = parseLine(line, syntax);
    } catch (e) {
      skips.skip(unparseable, where, `expected ${EXPECTED[syntax]} (${(e as Error).message})`);
      return;
    }
    if (!isObj(o)) {
      skips.skip(unparseable, where, `expected ${EXPECTED[syntax]}, got ${kind(o)}`);
      return;
    }
    onObject(o, where);
  };
  await streamLines(file, onLine, onBytes);
}

/** Adds the (user, item, seconds) row of a review, or skips it with the reason. */
function addReview(o: Obj, where: string, f: Fields, cols: ColumnBuilder, skips: SkipCounter): void {
  const user = idOf(o[f.user]);
  if (user === undefined) {
    skips.skip(AMAZON_SKIP.noUser, where, `expected "${f.user}" (a non-empty string)`);
    return;
  }
  const item = idOf(o[f.item]);
  if (item === undefined) {
    skips.skip(AMAZON_SKIP.noItem, where, `expected "${f.item}" (a non-empty string)`);
    return;
  }
  const t = o[f.time];
  if (t === undefined || t === null) {
    skips.skip(AMAZON_SKIP.noTime, where, `expected "${f.time}" (a number)`);
    return;
  }
  const time = numberOf(t);
  if (time === undefined) {
    skips.skip(AMAZON_SKIP.badTime, where, `expected "${f.time}" to be a number, got ${preview(t)}`);
    return;
  }
  cols.add(user, item, time / f.timeScale);
}

/** Keeps the record of a reviewed item from its first meta line. */
function addMeta(
  o: Obj,
  where: string,
  f: Fields,
  cols: ColumnBuilder,
  items: Map<string, ItemRecord>,
  skips: SkipCounter,
): void {
  const id = idOf(o[f.metaItem]);
  if (id === undefined) {
    skips.skip(AMAZON_SKIP.noMetaItem, where, `expected "${f.metaItem}" (a non-empty string)`);
    return;
  }
  if (!cols.hasItem(id) || items.has(id)) return;
  const rec = itemRecord(o, f);
  if (rec !== undefined) items.set(id, rec);
}

/** Line syntax: JSON, or Python literals (2014 meta, and 2014 "loose JSON" reviews). */
export type LineSyntax = 'json' | 'python';

/** What the first lines of the files say. */
export interface AmazonDetection {
  format: AmazonFormat;
  /** Syntax of the review lines ('json' when no line parsed). */
  reviewsSyntax: LineSyntax;
  /** Syntax of the meta lines; undefined when no meta line parsed (or no meta file). */
  metaSyntax?: LineSyntax;
}

/**
 * Detects the format: reviews with user_id/parent_asin are 2023, with reviewerID 2014 or
 * 2018, told apart by the meta file (Python literals or 2014 field names -> 2014), then by
 * the reviews (Python literals or helpful -> 2014; verified, vote, style -> 2018), then by
 * the file name (reviews_* -> 2014). With `given`, only the line syntaxes are detected.
 */
export async function detectAmazon(
  reviews: string,
  meta?: string,
  given?: AmazonFormat,
): Promise<AmazonDetection> {
  const first = await sniff(reviews, DETECT_LINES);
  const reviewObjs = first.objs;
  const reviewsSyntax = first.syntax ?? 'json';
  let metaSyntax: LineSyntax | undefined;
  let metaObj: Obj | undefined;
  if (meta !== undefined) {
    const m = await sniff(meta, 1);
    metaSyntax = m.syntax;
    metaObj = m.objs[0];
  }
  const has = (k: string): boolean => reviewObjs.some((o) => k in o);
  let format: AmazonFormat;
  if (given !== undefined) format = given;
  else if (has('user_id') || has('parent_asin')) format = '2023';
  else if (has('reviewerID')) {
    const metaHas = (...keys: string[]): boolean => metaObj !== undefined && keys.some((k) => k in metaObj);
    if (metaSyntax === 'python' || reviewsSyntax === 'python') format = '2014';
    else if (metaHas('categories', 'imUrl', 'salesRank')) format = '2014';
    else if (metaHas('category', 'main_cat', 'imageURL', 'imageURLHighRes')) format = '2018';
    else if (has('helpful')) format = '2014';
    else if (has('verified') || has('vote') || has('style')) format = '2018';
    else format = /^reviews_/i.test(basename(reviews)) ? '2014' : '2018';
  } else {
    throw new DataError(
      `${reviews}: cannot detect the Amazon format: expected review lines with "reviewerID" and ` +
        `"asin" (2014, 2018) or "user_id" and "parent_asin" (2023) in the first ${DETECT_LINES} lines; ` +
        'pass the format explicitly if the file is right',
    );
  }
  return metaSyntax === undefined ? { format, reviewsSyntax } : { format, reviewsSyntax, metaSyntax };
}

/**
 * Parses the first non-blank lines (at most DETECT_LINES) until `want` objects parsed; the
 * syntax is that of the first object (JSON tried first: Python rejects true/false/null).
 */
async function sniff(file: string, want: number): Promise<{ syntax?: LineSyntax; objs: Obj[] }> {
  const objs: Obj[] = [];
  let syntax: LineSyntax | undefined;
  let tried = 0;
  await streamLines(file, (line) => {
    if (isBlank(line)) return;
    tried++;
    for (const s of syntax === undefined ? (['json', 'python'] as const) : [syntax]) {
      try {
        const o = parseLine(line, s);
        if (isObj(o)) {
          syntax = s;
          objs.push(o);
          break;
        }
      } catch {
        // Bad lines are reported by the import itself.
      }
    }
    return objs.length < want && tried < DETECT_LINES;
  });
  return syntax === undefined ? { objs } : { syntax, objs };
}

function parseLine(line: string, syntax: LineSyntax): unknown {
  return syntax === 'json' ? JSON.parse(line) : parsePythonLiteral(line);
}

const EXPECTED: Record<LineSyntax, string> = { json: 'a JSON object', python: 'a Python dict literal' };

/** The ItemRecord of a meta object, or undefined when it has nothing usable. */
function itemRecord(o: Obj, f: Fields): ItemRecord | undefined {
  const rec: ItemRecord = {};
  const title = textOf(o.title);
  if (title) rec.title = title;

  const parts: string[] = [];
  const d = o.description;
  for (const p of Array.isArray(d) ? d : [d]) {
    const t = textOf(p);
    if (t) parts.push(t);
  }
  const brand = textOf(o[f.brand]);
  if (brand) parts.push(`Brand: ${brand}`);
  if (parts.length > 0) rec.description = fresh(parts.join('\n'));

  const paths: string[][] = [];
  const seen = new Set<string>();
  const addPath = (raw: unknown[]): void => {
    const path: string[] = [];
    for (const c of raw) {
      const t = textOf(c);
      if (t) path.push(t);
    }
    const key = path.join('\u0000');
    if (path.length > 0 && !seen.has(key)) {
      seen.add(key);
      paths.push(path);
    }
  };
  const cats = o[f.categories];
  if (Array.isArray(cats)) {
    // A list of paths (2014) or one path (2018, 2023).
    if (cats.some(Array.isArray)) for (const p of cats) addPath(Array.isArray(p) ? p : [p]);
    else addPath(cats);
  }
  if (paths.length === 0 && f.topCategory !== undefined) addPath([o[f.topCategory]]);
  if (paths.length > 0) rec.categories = paths;

  return Object.keys(rec).length > 0 ? rec : undefined;
}

// ---------------------------------------------------------------------------------------
// Field helpers

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const kind = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v);

function isBlank(line: string): boolean {
  return line.length === 0 || (line.charCodeAt(0) <= 32 && line.trim().length === 0);
}

/** A non-empty string id (numbers are accepted as their decimal form). */
function idOf(v: unknown): string | undefined {
  if (typeof v === 'string') return v.length > 0 ? v : undefined;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

/** A finite number, also from a numeric string. */
function numberOf(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && /^\s*-?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?\s*$/.test(v)) return Number(v);
  return undefined;
}

function preview(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? `${s.slice(0, 40)}...` : s;
}

function defaultName(reviews: string): string {
  return basename(reviews)
    .replace(/\.gz$/i, '')
    .replace(/\.jsonl?$/i, '')
    .replace(/^reviews_/i, '');
}

/**
 * A copy of `s` that does not keep its source alive: V8 substrings can be views into the
 * whole line, and an item record kept for the whole import must not pin its meta line.
 */
function fresh(s: string): string {
  return (' ' + s).slice(1);
}

/** Text of a string field with HTML removed, or '' when absent or not a string. */
function textOf(v: unknown): string {
  return typeof v === 'string' ? fresh(htmlToText(v)) : '';
}

const TAGS = /<(script|style)\b[^>]*>[\s\S]*?<\/\1\s*>|<!--[\s\S]*?-->|<\/?[A-Za-z][^>]*>/gi;
const ENTITY = /&(#\d+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);/g;
const NAMED: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  ndash: '\u2013',
  mdash: '\u2014',
  hellip: '\u2026',
  lsquo: '\u2018',
  rsquo: '\u2019',
  ldquo: '\u201c',
  rdquo: '\u201d',
  bull: '\u2022',
  middot: '\u00b7',
  trade: '\u2122',
  reg: '\u00ae',
  copy: '\u00a9',
  deg: '\u00b0',
  times: '\u00d7',
  frac12: '\u00bd',
  frac14: '\u00bc',
  frac34: '\u00be',
  eacute: '\u00e9',
  egrave: '\u00e8',
  aacute: '\u00e1',
  uuml: '\u00fc',
  ouml: '\u00f6',
  auml: '\u00e4',
  ntilde: '\u00f1',
  ccedil: '\u00e7',
};

/**
 * Text of an HTML fragment: tags (and script/style bodies, comments) become spaces, the
 * common entities are decoded (unknown ones are kept), whitespace is collapsed.
 */
export function htmlToText(s: string): string {
  if (s.includes('<')) s = s.replace(TAGS, ' ');
  if (s.includes('&')) {
    s = s.replace(ENTITY, (m: string, body: string) => {
      if (body[0] !== '#') return NAMED[body] ?? m;
      const cp =
        body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      const ok = cp > 0 && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
      return ok ? String.fromCodePoint(cp) : m;
    });
  }
  return s.replace(/\s+/g, ' ').trim();
}
