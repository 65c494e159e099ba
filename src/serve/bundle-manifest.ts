/**
 * A bundle's manifest (bundle.json): its format, what made it, and the sha256 of every other
 * file; read and checked before anything else of the bundle is.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { VERSION } from '../version.js';

export const MANIFEST = 'bundle.json';
export const BUNDLE_FORMAT = 'cammsr-bundle';
export const BUNDLE_FORMAT_VERSION = 1;

/** A bundle's problem: the message names the bundle file at fault. */
export class BundleError extends Error {
  override name = 'BundleError';
}

/**
 * A file of a bundle is missing, changed while it was read, or fails its checksum: the folder
 * changed (or was damaged) after its manifest was written. For a bundle being served, a reload
 * mends it.
 */
export class BundleFileError extends BundleError {
  override name = 'BundleFileError';
}

/** The error for a file the manifest lists that is not in the folder. */
export function missingFile(path: string): BundleFileError {
  return new BundleFileError(`${path} is missing (listed in ${MANIFEST})`);
}

/** The error a worker's reply describes (`file`: it was a BundleFileError). */
export function bundleErrorOfReply(message: string, file: boolean): BundleError {
  return file ? new BundleFileError(message) : new BundleError(message);
}

/**
 * Runs `fn`; any error but a BundleError (which already names its file) becomes one, with the
 * message `describe` makes of the original (by default the original's own).
 */
export function asBundleError<T>(fn: () => T, describe: (message: string) => string = (m) => m): T {
  try {
    return fn();
  } catch (e) {
    throw bundleErrorOf(e, describe);
  }
}

/** asBundleError for work done in steps. */
export function* asBundleErrorSteps<T>(steps: Generator<void, T>): Generator<void, T> {
  try {
    return yield* steps;
  } catch (e) {
    throw bundleErrorOf(e, (m) => m);
  }
}

const bundleErrorOf = (e: unknown, describe: (message: string) => string): BundleError =>
  e instanceof BundleError ? e : new BundleError(describe((e as Error).message));

export interface BundleManifest {
  format: typeof BUNDLE_FORMAT;
  formatVersion: number;
  cammsrVersion: string;
  created: string;
  model: string;
  maxLen: number;
  /** Where the bundle came from (for people; loading does not read it). */
  source: { run: string; seed: number };
  dataset: {
    name: string;
    checksum: string;
    items: number;
    timestamps: boolean;
    categories: string[];
  };
  /** The run's final metrics (validation and test, history not masked), when it finished. */
  metrics: { validation: Record<string, number>; test: Record<string, number> } | null;
  /** sha256 of every other file of the bundle. */
  files: Record<string, string>;
}

/** A short id of a bundle's content: the hash of its files' checksums. */
export function manifestVersion(m: BundleManifest): string {
  const h = createHash('sha256');
  for (const f of Object.keys(m.files).sort()) h.update(`${f}\t${m.files[f]}\n`);
  return h.digest('hex').slice(0, 12);
}

/** A bundle's manifest, checked (format, version, files listed); throws BundleError naming the problem. */
export function readManifest(dir: string): BundleManifest {
  const path = join(dir, MANIFEST);
  if (!existsSync(path)) throw new BundleError(`${dir} is not a cammsr bundle: ${MANIFEST} is missing`);
  let m: BundleManifest;
  try {
    m = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new BundleError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof m !== 'object' || m === null || m.format !== BUNDLE_FORMAT)
    throw new BundleError(`${path}: not a cammsr bundle manifest (format ${JSON.stringify(m?.format)})`);
  if (!Number.isInteger(m.formatVersion) || m.formatVersion < 1 || m.formatVersion > BUNDLE_FORMAT_VERSION)
    throw new BundleError(
      `${path}: bundle format version ${m.formatVersion} is not supported: this cammsr (${VERSION}) reads versions 1..${BUNDLE_FORMAT_VERSION}` +
        (m.formatVersion > BUNDLE_FORMAT_VERSION ? `; the bundle was made by cammsr ${m.cammsrVersion}` : ''),
    );
  if (typeof m.files !== 'object' || m.files === null)
    throw new BundleError(`${path}: field "files" must map file names to sha256 checksums`);
  for (const f of ['config.json', 'items.safetensors', 'catalog.jsonl'])
    if (!(f in m.files)) throw new BundleError(`${path}: field "files" does not list ${f}`);
  return m;
}

/** Bytes read and hashed per call: readFileSync refuses files over 2 GB, a Buffer holds 4 GB. */
const READ_CHUNK = 1 << 23;

/**
 * A bundle file's bytes, read and checked against the sha256 its manifest lists; with `keep`
 * false only checked (read through one chunk, nothing kept: an empty Buffer is returned).
 */
export function readVerified(root: string, name: string, expected: string | undefined, keep = true): Buffer {
  const path = join(root, name);
  if (!existsSync(path)) throw missingFile(path);
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const bytes = Buffer.allocUnsafe(keep ? size : Math.min(size, READ_CHUNK));
    const hash = createHash('sha256');
    for (let at = 0; at < size;) {
      const into = keep ? bytes.subarray(at, Math.min(size, at + READ_CHUNK)) : bytes;
      const n = readSync(fd, into, 0, Math.min(into.length, size - at), at);
      if (n === 0) throw new BundleFileError(`${path} changed while it was read`);
      hash.update(into.subarray(0, n));
      at += n;
    }
    checkSha256(path, expected, hash.digest('hex'));
    return keep ? bytes : Buffer.alloc(0);
  } finally {
    closeSync(fd);
  }
}

/** Refuses a file whose sha256 is not the one the manifest lists. */
export function checkSha256(path: string, expected: string | undefined, actual: string): void {
  if (actual !== expected)
    throw new BundleFileError(`${path} is corrupt: its sha256 differs from the one in ${MANIFEST}`);
}
