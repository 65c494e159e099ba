/**
 * Reading zip archives (PKWARE APPNOTE): the central directory's entries, and one entry's
 * bytes, inflated and checked against its CRC-32 and size. Covers what dataset archives
 * use: stored and deflated entries, without encryption or zip64 (archives under 4 GB).
 */
import { closeSync, createReadStream, openSync, readSync, statSync } from 'node:fs';
import { Transform, type Readable } from 'node:stream';
import { createInflateRaw } from 'node:zlib';
import { DownloadError } from './errors.js';

export interface ZipEntry {
  /** The path inside the archive ("ml-100k/u.data"); folders end in "/". */
  name: string;
  method: number;
  crc32: number;
  compressedSize: number;
  size: number;
  /** Offset of the entry's local header. */
  headerOffset: number;
  /** Unix file type bits (S_IFMT) when the archive records them, else 0. */
  unixType: number;
}

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const STORED = 0;
const DEFLATED = 8;

function readAt(fd: number, offset: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  const n = readSync(fd, buf, 0, length, offset);
  return buf.subarray(0, n);
}

/** The archive's entries, from its central directory. */
export function listZip(path: string): ZipEntry[] {
  const fd = openSync(path, 'r');
  try {
    const size = statSync(path).size;
    const { count, offset, length } = endRecord(fd, size, path);
    const dir = readAt(fd, offset, length);
    const entries: ZipEntry[] = [];
    let p = 0;
    for (let k = 0; k < count; k++) {
      if (p + 46 > dir.length || dir.readUInt32LE(p) !== CENTRAL)
        throw bad(path, `central directory entry ${k + 1} is damaged`);
      const flags = dir.readUInt16LE(p + 8);
      const nameLength = dir.readUInt16LE(p + 28);
      const raw = dir.subarray(p + 46, p + 46 + nameLength);
      const name = raw.toString(flags & 0x800 ? 'utf8' : 'latin1');
      if (flags & 1) throw bad(path, `${name} is encrypted`);
      entries.push({
        name,
        method: dir.readUInt16LE(p + 10),
        crc32: dir.readUInt32LE(p + 16),
        compressedSize: dir.readUInt32LE(p + 20),
        size: dir.readUInt32LE(p + 24),
        headerOffset: dir.readUInt32LE(p + 42),
        unixType: (dir.readUInt8(p + 5) === 3 ? dir.readUInt32LE(p + 38) >>> 16 : 0) & 0o170000,
      });
      p += 46 + nameLength + dir.readUInt16LE(p + 30) + dir.readUInt16LE(p + 32);
    }
    return entries;
  } finally {
    closeSync(fd);
  }
}

/** The end-of-central-directory record: entry count, directory offset and length. */
function endRecord(
  fd: number,
  size: number,
  path: string,
): { count: number; offset: number; length: number } {
  const tail = readAt(fd, Math.max(0, size - 65557), Math.min(size, 65557));
  for (let p = tail.length - 22; p >= 0; p--) {
    if (tail.readUInt32LE(p) !== EOCD) continue;
    const count = tail.readUInt16LE(p + 10);
    const length = tail.readUInt32LE(p + 12);
    const offset = tail.readUInt32LE(p + 16);
    if (count === 0xffff || offset === 0xffffffff)
      throw bad(path, 'it is a zip64 archive, which is not supported');
    if (offset + length > size) throw bad(path, 'the central directory lies past the end of the file');
    return { count, offset, length };
  }
  throw bad(path, 'no end-of-central-directory record (not a zip file, or truncated)');
}

/** The entry's content as a stream; it fails if the CRC-32 or the size do not match. */
export function openEntry(path: string, e: ZipEntry): Readable {
  if (e.method !== STORED && e.method !== DEFLATED)
    throw bad(
      path,
      `${e.name} uses compression method ${e.method}; only stored (0) and deflated (8) are supported`,
    );
  const fd = openSync(path, 'r');
  let header: Buffer;
  try {
    header = readAt(fd, e.headerOffset, 30);
  } finally {
    closeSync(fd);
  }
  if (header.length < 30 || header.readUInt32LE(0) !== LOCAL)
    throw bad(path, `the local header of ${e.name} is damaged`);
  const start = e.headerOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
  const raw = createReadStream(path, { start, end: start + e.compressedSize - 1, highWaterMark: 1 << 20 });
  const check = checked(path, e);
  if (e.compressedSize === 0) {
    raw.destroy();
    check.end();
    return check;
  }
  const fail = (err: Error) => check.destroy(bad(path, `${e.name}: ${err.message}`));
  raw.on('error', fail);
  if (e.method === STORED) return raw.pipe(check);
  const inflate = createInflateRaw();
  inflate.on('error', fail);
  return raw.pipe(inflate).pipe(check);
}

/** A pass-through that checks the CRC-32 and the length of what passed at its end. */
function checked(path: string, e: ZipEntry): Transform {
  let crc = 0xffffffff;
  let length = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      crc = crc32Update(crc, chunk);
      length += chunk.length;
      cb(null, chunk);
    },
    flush(cb) {
      const sum = (crc ^ 0xffffffff) >>> 0;
      if (length !== e.size) cb(bad(path, `${e.name} has ${length} bytes, the directory says ${e.size}`));
      else if (sum !== e.crc32) cb(bad(path, `${e.name} fails its CRC-32 check`));
      else cb();
    },
  });
}

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** Continues a CRC-32 (start with 0xffffffff, finish with ^ 0xffffffff). */
function crc32Update(crc: number, buf: Uint8Array): number {
  let c = crc;
  for (let i = 0; i < buf.length; i++) c = TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return c >>> 0;
}

/** The CRC-32 of `buf` (as zip and gzip compute it). */
export const crc32 = (buf: Uint8Array): number => (crc32Update(0xffffffff, buf) ^ 0xffffffff) >>> 0;

function bad(path: string, why: string): DownloadError {
  return new DownloadError('archive', `${path}: cannot extract: ${why}`);
}
