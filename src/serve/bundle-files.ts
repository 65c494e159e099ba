/**
 * A bundle's files, each checked against the sha256 its manifest lists before it is used.
 * Read synchronously where a command or a model worker loads a bundle (export checks, `cammsr
 * recommend`; the weights read straight into the model, `readChecked`), or
 * prefetched where a service loads one while it answers requests: read and hashed on the load
 * worker (load-worker.ts) and moved over, so that the serving thread neither hashes a file nor
 * copies it (a million-item table is 250 MB). An image served is read as a stream of chunks on
 * the serving thread, each hashed as it arrives: on the worker it would wait behind a reload's
 * files.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BundleFileError,
  checkSha256,
  missingFile,
  readVerified,
  type BundleManifest,
} from './bundle-manifest.js';
import { readVerifiedOffThread } from './load-worker.js';

/** Bytes per chunk of a streamed read: about half a millisecond of copying and hashing. */
const CHUNK = 1 << 19;

/** A bundle file read and checked a chunk at a time, the event loop free between chunks. */
export async function readVerifiedAsync(root: string, m: BundleManifest, name: string): Promise<Buffer> {
  const path = join(root, name);
  try {
    const size = (await stat(path)).size;
    const bytes = Buffer.allocUnsafe(size);
    const hash = createHash('sha256');
    let at = 0;
    for await (const chunk of createReadStream(path, { highWaterMark: CHUNK }) as AsyncIterable<Buffer>) {
      if (at + chunk.length > size) break;
      chunk.copy(bytes, at);
      hash.update(chunk);
      at += chunk.length;
      // The stream hands over the chunks it already holds as microtasks, in one turn of the
      // loop: give the loop back after each, so that a turn hashes one chunk.
      await new Promise((r) => setImmediate(r));
    }
    if (at !== size) throw new BundleFileError(`${path} changed while it was read`);
    checkSha256(path, m.files[name], hash.digest('hex'));
    return bytes;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw missingFile(path);
    throw e;
  }
}

export class BundleFiles {
  private readonly prefetched = new Map<string, Buffer>();

  constructor(
    readonly root: string,
    readonly manifest: BundleManifest,
  ) {}

  /** A file's bytes, checked: the prefetched copy (handed over once), else read now. */
  get(name: string): Buffer {
    const early = this.prefetched.get(name);
    if (early) {
      this.prefetched.delete(name);
      return early;
    }
    return readVerified(this.root, name, this.manifest.files[name]);
  }

  /** Whether `get(name)` hands over a prefetched copy (else it reads the file). */
  isPrefetched(name: string): boolean {
    return this.prefetched.has(name);
  }

  /**
   * A file read by `read`, which hands every byte of it, in order, to `onBytes` (for instance
   * into the arrays it fills, instead of a copy of the file), then checked against the manifest.
   * A file whose checksum fails is refused as corrupt, whatever `read` found wrong with it.
   */
  readChecked<T>(name: string, read: (path: string, onBytes: (b: Uint8Array) => void) => T): T {
    const path = join(this.root, name);
    if (!existsSync(path)) throw missingFile(path);
    const hash = createHash('sha256');
    let value: T;
    try {
      value = read(path, (b) => hash.update(b));
    } catch (e) {
      readVerified(this.root, name, this.manifest.files[name], false);
      throw e;
    }
    checkSha256(path, this.manifest.files[name], hash.digest('hex'));
    return value;
  }

  /** Reads and checks these files (those the manifest lists) off the event loop, for `get`. */
  async prefetch(names: readonly string[]): Promise<void> {
    // One file at a time: each arrives as one message, moved (not copied) into this thread.
    const bytes = new Map<string, Buffer>();
    for (const n of names.filter((x) => x in this.manifest.files))
      bytes.set(n, await readVerifiedOffThread(this.root, n, this.manifest.files[n]));
    for (const [n, b] of bytes) this.prefetched.set(n, b);
  }

  /** Drops prefetched copies that will not be read. */
  forget(names: readonly string[]): void {
    for (const n of names) this.prefetched.delete(n);
  }

  /** Checks these files off the event loop without keeping them (read again, checked, when used). */
  async verify(names: readonly string[]): Promise<void> {
    for (const n of names.filter((x) => x in this.manifest.files))
      await readVerifiedOffThread(this.root, n, this.manifest.files[n], { keep: false });
  }
}
