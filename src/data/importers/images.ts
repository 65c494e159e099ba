/** Finding item images in a folder keyed by item id (`<id>.jpg`, `.jpeg`, `.png`, `.webp`). */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { DataError } from '../errors.js';
import type { ItemRecord } from '../types.js';

const EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp'];

/** Maps item id -> absolute image path for every image file in `dir`. */
export function imageIndex(dir: string): Map<string, string> {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new DataError(`image folder ${dir} does not exist or is not a folder`);
  const out = new Map<string, string>();
  for (const f of readdirSync(dir).sort()) {
    const ext = extname(f).toLowerCase();
    if (!EXTENSIONS.includes(ext)) continue;
    const id = f.slice(0, -ext.length);
    if (!out.has(id)) out.set(id, resolve(join(dir, f)));
  }
  return out;
}

/** Sets `image` on the records of the given items that have a file in `dir` (records created as needed). */
export function attachImages(
  records: Map<string, ItemRecord>,
  itemIds: readonly string[],
  dir: string,
): void {
  const images = imageIndex(dir);
  for (const id of itemIds) {
    const img = images.get(id);
    if (img) records.set(id, { ...records.get(id), image: img });
  }
}
