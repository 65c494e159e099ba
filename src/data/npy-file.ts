/**
 * A 1-D .npy file read by range instead of whole: the prepared log's sequences when a dataset
 * is loaded with its sequences on disk (Dataset.load, `sequences: 'disk'`). A read costs one
 * positioned read (pread) of just the requested elements, so memory holds what a batch reads,
 * not the log.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { DataError } from './errors.js';
import { checkNpySize, npyHeaderBytes, parseNpyHeader } from './npy.js';

type Column = Int32Array | Float64Array;

/** Bytes read per call when a whole file is scanned (hash, range check). */
const SCAN_BYTES = 8 << 20;

export class NpyFile<T extends Column> {
  private constructor(
    readonly path: string,
    private fd: number | null,
    private readonly ctor: new (n: number) => T,
    private readonly dataStart: number,
    /** Elements in the file. */
    readonly length: number,
  ) {}

  /** Opens `path` and checks that it holds a 1-D array of `ctor`'s type whose size matches the file. */
  static open<T extends Column>(path: string, ctor: new (n: number) => T): NpyFile<T> {
    const fd = openSync(path, 'r');
    try {
      const head = Buffer.alloc(Math.min(npyHeaderBytes, fstatSync(fd).size));
      readFully(fd, head, 0, path);
      const h = parseNpyHeader(head, path);
      if ((h.ctor as unknown) !== ctor)
        throw new DataError(`${path}: expected dtype ${ctor.name}, found ${h.ctor.name}`);
      if (h.shape.length !== 1)
        throw new DataError(`${path}: expected a 1-D array, found shape (${h.shape.join(', ')})`);
      checkNpySize(h, fstatSync(fd).size, path);
      return new NpyFile(path, fd, ctor, h.dataStart, h.length);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  /** Elements [start, end), freshly read (a new array the caller owns). */
  read(start: number, end: number): T {
    if (!(
      Number.isInteger(start) &&
      Number.isInteger(end) &&
      0 <= start &&
      start <= end &&
      end <= this.length
    ))
      throw new RangeError(`${this.path}: range [${start}, ${end}) is outside [0, ${this.length})`);
    const out = new this.ctor(end - start);
    const bytes = new Uint8Array(out.buffer);
    readFully(this.openFd(), bytes, this.dataStart + start * out.BYTES_PER_ELEMENT, this.path);
    return out;
  }

  /** Calls `visit` on consecutive chunks of the whole array (each a fresh array), with the index of its first element. */
  scan(visit: (chunk: T, first: number) => void): void {
    const step = Math.max(1, Math.floor(SCAN_BYTES / new this.ctor(0).BYTES_PER_ELEMENT));
    for (let first = 0; first < this.length; first += step)
      visit(this.read(first, Math.min(this.length, first + step)), first);
  }

  /** sha256 of the whole file, read a chunk at a time. */
  sha256(): string {
    return sha256OfFd(this.openFd());
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private openFd(): number {
    if (this.fd === null) throw new Error(`${this.path}: read after the file was closed`);
    return this.fd;
  }
}

/** sha256 of an open file's bytes, read a chunk at a time (memory holds one chunk, not the file). */
export function sha256OfFd(fd: number): string {
  const hash = createHash('sha256');
  const chunk = Buffer.alloc(SCAN_BYTES);
  for (let at = 0; ;) {
    const n = readSync(fd, chunk, 0, chunk.length, at);
    if (n === 0) break;
    hash.update(chunk.subarray(0, n));
    at += n;
  }
  return hash.digest('hex');
}

/** Fills `into` from the file at `position`; a file shorter than that is an error, not a short read. */
function readFully(fd: number, into: Uint8Array, position: number, path: string): void {
  for (let done = 0; done < into.length;) {
    const n = readSync(fd, into, done, into.length - done, position + done);
    if (n === 0)
      throw new DataError(
        `${path}: the file ended ${into.length - done} bytes early (it changed while open?)`,
      );
    done += n;
  }
}
