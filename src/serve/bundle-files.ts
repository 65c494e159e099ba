/**
 * A bundle's files, each checked against the sha256 its manifest lists before it is used.
 * Read synchronously where a command loads a bundle (export checks, `cammsr recommend`), or
 * prefetched off the event loop where a service loads one while it answers requests: the reads
 * and the hashing then run on libuv's thread pool (fs.promises, WebCrypto), not on the loop.
 */
import { createHash, webcrypto } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BundleError, MANIFEST, type BundleManifest } from './bundle-manifest.js';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function sha256OffLoop(b: Uint8Array): Promise<string> {
  return Buffer.from(await webcrypto.subtle.digest('SHA-256', b)).toString('hex');
}

function checked(path: string, name: string, m: BundleManifest, actual: string): void {
  if (actual !== m.files[name])
    throw new BundleError(`${path} is corrupt: its sha256 differs from the one in ${MANIFEST}`);
}

/** A bundle file read and checked off the event loop. */
export async function readVerifiedAsync(root: string, m: BundleManifest, name: string): Promise<Buffer> {
  const path = join(root, name);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new BundleError(`${path} is missing (listed in ${MANIFEST})`);
    throw e;
  }
  checked(path, name, m, await sha256OffLoop(bytes));
  return bytes;
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
    const path = join(this.root, name);
    if (!existsSync(path)) throw new BundleError(`${path} is missing (listed in ${MANIFEST})`);
    const bytes = readFileSync(path);
    checked(path, name, this.manifest, sha256(bytes));
    return bytes;
  }

  /** Reads and checks these files (those the manifest lists) off the event loop, for `get`. */
  async prefetch(names: readonly string[]): Promise<void> {
    const listed = names.filter((n) => n in this.manifest.files);
    const bytes = await Promise.all(listed.map((n) => readVerifiedAsync(this.root, this.manifest, n)));
    listed.forEach((n, i) => this.prefetched.set(n, bytes[i]));
  }

  /** Drops prefetched copies that will not be read. */
  forget(names: readonly string[]): void {
    for (const n of names) this.prefetched.delete(n);
  }

  /** Checks these files off the event loop without keeping them (read again, checked, when used). */
  async verify(names: readonly string[]): Promise<void> {
    for (const n of names.filter((x) => x in this.manifest.files))
      await readVerifiedAsync(this.root, this.manifest, n);
  }
}
