/**
 * RecBole atomic files: `<name>.inter` (and optionally `<name>.item`), tab-separated with a
 * `field:type` header, e.g. `user_id:token  item_id:token  rating:float  timestamp:float`.
 * Covers movielens-100k; images come from a folder keyed by item id.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { DataError, mergeSkips, SkipCounter } from '../errors.js';
import type { InteractionColumns, ItemRecord, RawDataset } from '../types.js';
import { ColumnBuilder } from './columns.js';
import { attachImages } from './images.js';
import { readLines } from './text-file.js';

export interface RecboleOptions {
  /** A `.inter` file, or a folder holding exactly one. */
  input: string;
  /** The `.item` file (default: beside the .inter file, same stem). */
  itemFile?: string;
  imagesDir?: string;
  name?: string;
  fields?: {
    user?: string;
    item?: string;
    time?: string;
    title?: string;
    /** token_seq field of category labels (space-separated). */
    categories?: string;
    /** Extra item fields appended to the text (e.g. release_year). */
    extraText?: string[];
  };
}

interface Header {
  names: string[];
  index: (name: string) => number;
}

function parseHeader(line: string): Header {
  const names = line.split('\t').map((h) => h.split(':')[0].trim());
  return { names, index: (n) => names.indexOf(n) };
}

function requireField(h: Header, name: string, file: string): number {
  const i = h.index(name);
  if (i < 0) throw new DataError(`${file}: no field "${name}" in the header (fields: ${h.names.join(', ')})`);
  return i;
}

function findInter(input: string): string {
  if (existsSync(input) && statSync(input).isDirectory()) {
    const found = readdirSync(input).filter((f) => f.endsWith('.inter'));
    if (found.length !== 1) {
      throw new DataError(
        `${input}: expected exactly one .inter file in the folder, found ${found.length ? found.join(', ') : 'none'}`,
      );
    }
    return join(input, found[0]);
  }
  return input;
}

export function importRecbole(opts: RecboleOptions): RawDataset {
  const interFile = findInter(opts.input);
  const f = opts.fields ?? {};
  const { interactions, skips } = readInteractions(interFile, f);
  const items = new Map<string, ItemRecord>();
  const itemSkips = new SkipCounter();
  const itemFile = opts.itemFile ?? interFile.replace(/\.inter$/, '.item');
  if (existsSync(itemFile)) readItems(itemFile, f, new Set(interactions.itemIds), items, itemSkips);
  if (opts.imagesDir) attachImages(items, interactions.itemIds, opts.imagesDir);
  return {
    name: opts.name ?? basename(interFile).replace(/\.inter$/, ''),
    source: `recbole: ${interFile}${existsSync(itemFile) ? ` + ${itemFile}` : ''}${opts.imagesDir ? ` + images ${opts.imagesDir}` : ''}`,
    interactions,
    items,
    categoryPaths: false,
    skips: mergeSkips(skips.report(), itemSkips.report()),
  };
}

type Fields = NonNullable<RecboleOptions['fields']>;

/** The .inter file: a (user, item, time) row per line, time from the timestamp field if any. */
function readInteractions(
  interFile: string,
  f: Fields,
): { interactions: InteractionColumns; skips: SkipCounter } {
  const lines = readLines(interFile, 'RecBole .inter file');
  if (lines.length === 0) throw new DataError(`${interFile} is empty: expected a header line`);
  const h = parseHeader(lines[0]);
  const ui = requireField(h, f.user ?? 'user_id', interFile);
  const ii = requireField(h, f.item ?? 'item_id', interFile);
  const ti = f.time === undefined ? h.index('timestamp') : requireField(h, f.time, interFile);
  const cols = new ColumnBuilder();
  const skips = new SkipCounter();
  for (let ln = 1; ln < lines.length; ln++) {
    const where = `${interFile}:${ln + 1}`;
    const parts = fieldsOf(lines[ln], h, skips, 'malformed line', where);
    if (!parts) continue;
    const user = parts[ui].trim();
    const item = parts[ii].trim();
    if (user === '' || item === '') {
      skips.skip('missing id', where, `empty ${user === '' ? 'user' : 'item'} id`);
      continue;
    }
    let time: number | null = null;
    if (ti >= 0) {
      time = Number(parts[ti]);
      if (parts[ti].trim() === '' || !Number.isFinite(time)) {
        skips.skip('bad timestamp', where, `timestamp "${parts[ti]}" is not a number of seconds`);
        continue;
      }
    }
    cols.add(user, item, time);
  }
  return { interactions: cols.build(), skips };
}

/** The .item file: title, extra text fields and category labels of the known items. */
function readItems(
  itemFile: string,
  f: Fields,
  known: Set<string>,
  items: Map<string, ItemRecord>,
  skips: SkipCounter,
): void {
  const il = readLines(itemFile, 'RecBole .item file');
  const ih = parseHeader(il[0] ?? '');
  const idI = requireField(ih, f.item ?? 'item_id', itemFile);
  const titleI = f.title
    ? requireField(ih, f.title, itemFile)
    : ih.names.findIndex((n) => /title|name/.test(n));
  const catI = f.categories
    ? requireField(ih, f.categories, itemFile)
    : ih.names.findIndex((n) => /^(class|genre|genres|categories|category)$/.test(n));
  const extra = (f.extraText ?? ih.names.filter((n) => /year/.test(n))).map((n) =>
    requireField(ih, n, itemFile),
  );
  for (let ln = 1; ln < il.length; ln++) {
    const parts = fieldsOf(il[ln], ih, skips, 'malformed item line', `${itemFile}:${ln + 1}`);
    if (!parts) continue;
    const id = parts[idI].trim();
    if (!known.has(id)) continue; // catalog entries without interactions are not needed
    const rec: ItemRecord = {};
    if (titleI >= 0 && parts[titleI].trim() !== '') rec.title = parts[titleI].trim();
    const extras = extra.map((i) => parts[i].trim()).filter((s) => s !== '');
    if (extras.length) rec.description = extras.join(' ');
    if (catI >= 0) {
      const labels = parts[catI]
        .trim()
        .split(/\s+/)
        .filter((s) => s !== '');
      if (labels.length) rec.categories = labels.map((l) => [l]);
    }
    items.set(id, rec);
  }
}

/** A record's fields; undefined for a blank line, and for a malformed one (skipped as `reason`). */
function fieldsOf(
  line: string,
  h: Header,
  skips: SkipCounter,
  reason: string,
  where: string,
): string[] | undefined {
  if (line.trim() === '') return undefined;
  skips.read();
  const parts = line.split('\t');
  if (parts.length !== h.names.length) {
    skips.skip(reason, where, `expected ${h.names.length} tab-separated fields, found ${parts.length}`);
    return undefined;
  }
  return parts;
}
