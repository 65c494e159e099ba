/**
 * Extracting a zip archive into a folder. Entry paths that would land outside the folder
 * (absolute, "..") and symbolic links are refused, so an archive cannot write elsewhere.
 */
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DownloadError } from './errors.js';
import { listZip, openEntry, type ZipEntry } from './zip.js';

const S_IFLNK = 0o120000;

/** Extracts every entry of `zip` under `dest`; resolves to the number of files written. */
export async function extractZip(
  zip: string,
  dest: string,
  onBytes?: (done: number, total: number) => void,
): Promise<number> {
  const entries = listZip(zip);
  const total = entries.reduce((s, e) => s + e.size, 0);
  let done = 0;
  let files = 0;
  onBytes?.(0, total);
  for (const e of entries) {
    const rel = safePath(zip, e);
    const target = join(dest, ...rel);
    if (e.name.endsWith('/')) {
      mkdirSync(target, { recursive: true });
      continue;
    }
    mkdirSync(dirname(target), { recursive: true });
    const count = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        done += chunk.length;
        cb(null, chunk);
      },
    });
    await pipeline(openEntry(zip, e), count, createWriteStream(target));
    files++;
    onBytes?.(done, total);
  }
  return files;
}

/** The entry's path as segments inside the destination; unsafe entries are errors. */
function safePath(zip: string, e: ZipEntry): string[] {
  if (e.unixType === S_IFLNK) throw unsafe(zip, e, 'it is a symbolic link');
  const name = e.name.replace(/\\/g, '/');
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) throw unsafe(zip, e, 'its path is absolute');
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw unsafe(zip, e, 'its path leaves the folder ("..")');
  if (parts.length === 0) throw unsafe(zip, e, 'its path is empty');
  return parts;
}

function unsafe(zip: string, e: ZipEntry, why: string): DownloadError {
  return new DownloadError('archive', `${zip}: refusing to extract ${JSON.stringify(e.name)}: ${why}`);
}
