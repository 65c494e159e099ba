/**
 * The S3-Rec / ICLRec benchmark files (covers amazon-beauty): `<Name>.txt` with one line per
 * user, `user item item ...` in chronological order; `<Name>_item2attributes.json` mapping
 * item id -> attribute ids (used as category labels, names unknown); optional item text in
 * `item_text.txt` (`<external id> <text>` per line) joined through `datamaps.json`'s item2id.
 *
 * The benchmark files number users and items 1, 2, 3, ...; `originalIds` maps them back to the
 * original ids through `datamaps.json` (Amazon's reviewer ids and ASINs), so that a user asks
 * for recommendations in ASINs, image files named by ASIN are found, and the dataset joins
 * other Amazon data. Each user's interactions are the same either way; only the names (and so
 * the prepared dataset's sorted numbering) differ.
 */
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { DataError, mergeSkips, SkipCounter } from '../errors.js';
import type { InteractionColumns, ItemRecord, RawDataset } from '../types.js';
import { ColumnBuilder } from './columns.js';
import { attachImages } from './images.js';
import { readJsonObject, readLines } from './text-file.js';

export interface S3recOptions {
  /** The sequences file, e.g. Beauty.txt. */
  input: string;
  /** Default: `<stem>_item2attributes.json` beside the input, if present. */
  attributes?: string;
  /** Default: `item_text.txt` beside the input, if present. */
  text?: string;
  /** Maps the text file's external ids to item ids; default: `datamaps.json` beside the input. */
  idMap?: string;
  /** Name users and items by their original ids (the id map's user2id / item2id keys). */
  originalIds?: boolean;
  imagesDir?: string;
  name?: string;
}

export function importS3rec(opts: S3recOptions): RawDataset {
  const file = opts.input;
  const dir = dirname(file);
  const stem = basename(file).replace(/\.txt(\.gz)?$/, '');
  const { interactions, skips } = readSequences(file);
  const known = new Set(interactions.itemIds);
  const items = new Map<string, ItemRecord>();
  const side = new SkipCounter();
  const sources = [file];
  const attrFile = opts.attributes ?? join(dir, `${stem}_item2attributes.json`);
  if (opts.attributes !== undefined || existsSync(attrFile)) {
    sources.push(attrFile);
    readAttributes(attrFile, known, items, side);
  }
  const idMap = new IdMap(opts.idMap ?? join(dir, 'datamaps.json'), sources);
  const textFile = opts.text ?? join(dir, 'item_text.txt');
  if (opts.text !== undefined || existsSync(textFile)) {
    sources.push(textFile);
    readItemText(textFile, idMap, known, items, side);
  }
  let catalog = items;
  if (opts.originalIds) {
    const map = idMap.read('--original-ids');
    interactions.userIds = interactions.userIds.map(
      originalOf(mapping(map, 'user2id', idMap.file), 'user', idMap.file),
    );
    const itemOf = originalOf(mapping(map, 'item2id', idMap.file), 'item', idMap.file);
    interactions.itemIds = interactions.itemIds.map(itemOf);
    catalog = new Map(Array.from(items, ([id, rec]) => [itemOf(id), rec]));
  }
  if (opts.imagesDir) attachImages(catalog, interactions.itemIds, opts.imagesDir);
  return {
    name: opts.name ?? stem,
    source: `s3rec: ${sources.join(' + ')}`,
    interactions,
    items: catalog,
    categoryPaths: false,
    categoryNamesKnown: false, // attribute ids were published without names
    skips: mergeSkips(skips.report(), side.report()),
  };
}

/** The sequences file: `user item item ...` per line. */
function readSequences(file: string): { interactions: InteractionColumns; skips: SkipCounter } {
  const cols = new ColumnBuilder();
  const skips = new SkipCounter();
  readLines(file, 'S3Rec sequences file').forEach((line, ln) => {
    if (line.trim() === '') return;
    const parts = line.trim().split(/\s+/);
    const where = `${file}:${ln + 1}`;
    if (parts.length < 2) {
      skips.read();
      skips.skip('empty sequence', where, 'expected "user item item ..."');
      return;
    }
    const [user, ...items] = parts;
    for (const item of items) {
      skips.read();
      if (!/^\d+$/.test(item)) {
        skips.skip('bad item id', where, `item id "${item}" is not a non-negative integer`);
        continue;
      }
      cols.add(user, item, null);
    }
  });
  return { interactions: cols.build(), skips };
}

/** Attribute ids as (flat, unnamed) category labels of the known items. */
function readAttributes(
  attrFile: string,
  known: Set<string>,
  items: Map<string, ItemRecord>,
  side: SkipCounter,
): void {
  for (const [id, attrs] of Object.entries(readJsonObject(attrFile, 'attributes file'))) {
    side.read();
    if (!Array.isArray(attrs) || !attrs.every((a) => Number.isInteger(a) || typeof a === 'string')) {
      side.skip('bad attributes', `${attrFile}: item ${id}`, 'expected a list of attribute ids');
      continue;
    }
    if (!known.has(id)) {
      side.skip('unknown item id', `${attrFile}: item ${id}`, 'item does not occur in the sequences');
      continue;
    }
    items.set(id, { categories: attrs.map((a) => [String(a)]) });
  }
}

/** Titles of the known items from `<external id> <text>` lines, joined through the id map. */
function readItemText(
  textFile: string,
  idMap: IdMap,
  known: Set<string>,
  items: Map<string, ItemRecord>,
  side: SkipCounter,
): void {
  const item2id = mapping(idMap.read(textFile), 'item2id', idMap.file);
  readLines(textFile, 'item text file').forEach((line, ln) => {
    if (line.trim() === '') return;
    side.read();
    const where = `${textFile}:${ln + 1}`;
    const sp = line.indexOf(' ');
    const ext = sp < 0 ? line : line.slice(0, sp);
    const text = sp < 0 ? '' : line.slice(sp + 1).trim();
    const id = item2id[ext];
    if (id === undefined) {
      side.skip('unknown item id', where, `"${ext}" is not in ${idMap.file}'s item2id`);
      return;
    }
    const key = String(id);
    if (!known.has(key)) return; // text of an item without interactions: not needed
    const rec = items.get(key) ?? {};
    if (text !== '') rec.title = text;
    items.set(key, rec);
  });
}

/** datamaps.json, read once when first needed (it is then listed among the sources). */
class IdMap {
  private map: Record<string, unknown> | undefined;

  constructor(
    readonly file: string,
    private readonly sources: string[],
  ) {}

  /** The map; `neededBy` names what needs it in the error when it does not exist. */
  read(neededBy: string): Record<string, unknown> {
    if (!existsSync(this.file))
      throw new DataError(`${neededBy} needs an id map: ${this.file} does not exist (pass --id-map)`);
    if (!this.map) {
      this.map = readJsonObject(this.file, 'id map');
      this.sources.push(this.file);
    }
    return this.map;
  }
}

/** The id map's `key` object (original id -> benchmark id). */
function mapping(map: Record<string, unknown>, key: string, mapFile: string): Record<string, unknown> {
  const m = map[key];
  if (typeof m !== 'object' || m === null || Array.isArray(m))
    throw new DataError(`${mapFile}: expected a "${key}" object (original id -> benchmark id)`);
  return m as Record<string, unknown>;
}

/**
 * Benchmark id -> original id, from an original -> benchmark mapping that must be one-to-one
 * and cover every id the sequences use (a partial map would leave two naming schemes mixed).
 */
function originalOf(
  toBenchmark: Record<string, unknown>,
  what: string,
  mapFile: string,
): (id: string) => string {
  const original = new Map<string, string>();
  for (const [orig, id] of Object.entries(toBenchmark)) {
    const key = String(id);
    const seen = original.get(key);
    if (seen !== undefined)
      throw new DataError(`${mapFile}: ${what} ids "${seen}" and "${orig}" both map to ${what} ${key}`);
    original.set(key, orig);
  }
  return (id) => {
    const orig = original.get(id);
    if (orig === undefined)
      throw new DataError(`${mapFile}: ${what} ${id} of the sequences has no original id`);
    return orig;
  };
}
