/**
 * The LC-Rec style JSON files (covers amazon-scientific): `<Name>.inter.json` =
 * {"<user>": [item, ...]} in chronological order, and `<Name>.item.json` =
 * {"<item>": {"title", "description", "brand", "categories": "Top,Sub,Leaf"}}.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { DataError, mergeSkips, SkipCounter } from '../errors.js';
import type { ItemRecord, RawDataset } from '../types.js';
import { ColumnBuilder } from './columns.js';
import { attachImages } from './images.js';
import { readJsonObject } from './text-file.js';

export interface LcrecOptions {
  /** The `.inter.json` file, or a folder holding exactly one. */
  input: string;
  /** Default: the `.item.json` beside it. */
  itemFile?: string;
  /** Separator of the category path (default ","). */
  categorySeparator?: string;
  imagesDir?: string;
  name?: string;
}

function findInter(input: string): string {
  if (existsSync(input) && statSync(input).isDirectory()) {
    const found = readdirSync(input).filter((f) => f.endsWith('.inter.json'));
    if (found.length !== 1)
      throw new DataError(
        `${input}: expected exactly one .inter.json file, found ${found.length ? found.join(', ') : 'none'}`,
      );
    return join(input, found[0]);
  }
  return input;
}

const asText = (v: unknown): string | undefined => {
  if (typeof v === 'string') return v.trim() || undefined;
  if (Array.isArray(v))
    return (
      v
        .filter((x) => typeof x === 'string')
        .join(' ')
        .trim() || undefined
    );
  return undefined;
};

export function importLcrec(opts: LcrecOptions): RawDataset {
  const interFile = findInter(opts.input);
  const cols = new ColumnBuilder();
  const skips = new SkipCounter();
  for (const [user, seq] of Object.entries(readJsonObject(interFile, 'interactions file'))) {
    if (!Array.isArray(seq)) {
      skips.read();
      skips.skip('bad sequence', `${interFile}: user ${user}`, 'expected a list of item ids');
      continue;
    }
    seq.forEach((item, k) => {
      skips.read();
      if (!(Number.isInteger(item) || (typeof item === 'string' && item !== ''))) {
        skips.skip(
          'bad item id',
          `${interFile}: user ${user}, position ${k}`,
          `item ${JSON.stringify(item)} is not an id`,
        );
        return;
      }
      cols.add(user, String(item), null);
    });
  }
  const interactions = cols.build();
  const known = new Set(interactions.itemIds);
  const itemFile = opts.itemFile ?? interFile.replace(/\.inter\.json$/, '.item.json');
  const items = new Map<string, ItemRecord>();
  const side = new SkipCounter();
  const sep = opts.categorySeparator ?? ',';
  if (opts.itemFile !== undefined || existsSync(itemFile)) {
    for (const [id, meta] of Object.entries(readJsonObject(itemFile, 'item file'))) {
      side.read();
      if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) {
        side.skip(
          'bad item record',
          `${itemFile}: item ${id}`,
          'expected an object with title, description, categories',
        );
        continue;
      }
      if (!known.has(id)) {
        side.skip('unknown item id', `${itemFile}: item ${id}`, 'item does not occur in the interactions');
        continue;
      }
      const m = meta as Record<string, unknown>;
      const rec: ItemRecord = {};
      const title = asText(m.title);
      if (title) rec.title = title;
      const desc = [asText(m.description), asText(m.brand) ? `Brand: ${asText(m.brand)}` : undefined].filter(
        Boolean,
      );
      if (desc.length) rec.description = desc.join(' ');
      const cats = asText(m.categories);
      if (cats)
        rec.categories = [
          cats
            .split(sep)
            .map((s) => s.trim())
            .filter((s) => s !== ''),
        ];
      items.set(id, rec);
    }
  }
  if (opts.imagesDir) attachImages(items, interactions.itemIds, opts.imagesDir);
  return {
    name: opts.name ?? basename(interFile).replace(/\.inter\.json$/, ''),
    source: `lcrec: ${interFile}${existsSync(itemFile) ? ` + ${itemFile}` : ''}`,
    interactions,
    items,
    categoryPaths: true,
    skips: mergeSkips(skips.report(), side.report()),
  };
}
