/**
 * The canonical prepared dataset: one directory that every model, the evaluator and the
 * server read. Documented in docs/data-format.md. Written atomically (a temporary directory
 * renamed into place), verified on load against the checksums in its manifest.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import type { ContentModality } from '../config/names.js';
import { DataError } from './errors.js';
import { readEncoders, type EncoderSettings } from './features/encoder-files.js';
import type { ContentEncoders } from './features/item-encoders.js';
import { decodeNpyAs, encodeNpy } from './npy.js';
import { NpyFile, sha256OfFd } from './npy-file.js';
import type { SkipReport } from './types.js';

export const DATASET_FORMAT = 'cammsr-dataset';
export const DATASET_FORMAT_VERSION = 1;

// Defined with the rest of the project's vocabulary; re-exported for the data layer's users.
export type { ContentModality };

export interface ModalityInfo {
  /** Feature width. */
  dim: number;
  /** Fraction of items (1..N) that have this modality. */
  coverage: number;
  /** How the features were made: "tfidf-svd", "pixels-pca-hsv", "precomputed:<file>", ... */
  encoder: string;
  /** Encoder facts (vocabulary size, explained variance, failures, ...). */
  details: Record<string, unknown>;
}

export interface Manifest {
  format: typeof DATASET_FORMAT;
  formatVersion: number;
  cammsrVersion: string;
  name: string;
  source: string;
  counts: { users: number; items: number; interactions: number; categories: number };
  /** Whether sequences carry timestamps (sequences.times.npy). */
  timestamps: boolean;
  /** Content modalities present (the ID modality always is). */
  modalities: Partial<Record<ContentModality, ModalityInfo>>;
  categories: {
    /** Names of the labels, index = category id. Opaque ids when `namesKnown` is false. */
    names: string[];
    namesKnown: boolean;
    hierarchical: boolean;
    leafOnly: boolean;
    /** Fraction of items with at least one label. */
    coverage: number;
  };
  split: {
    protocol: 'leave-one-out';
    test: 'last item of each sequence';
    validation: 'second-to-last item';
    /** Users with fewer interactions train only (they have no validation and test target). */
    minLengthForEvaluation: number;
  };
  preprocessing: {
    dedupe: string;
    kcore: { user: number; item: number };
    removed: { duplicates: number; kcore: number; kcoreRounds: number };
    skips: SkipReport;
  };
  /** Free-form facts from the importer (e.g. the planted structure of a synthetic dataset). */
  extra: Record<string, unknown>;
  /**
   * The fitted content encoders (features/encoder-files.ts), whose files are listed in `files`.
   * Absent in datasets prepared before encoders were kept, and without content features.
   */
  encoders?: EncoderSettings;
  /** sha256 of every data file, by relative path. */
  files: Record<string, string>;
  /** sha256 over the sorted (path, sha256) list: one number that identifies the content. */
  checksum: string;
}

/** One catalog entry as stored in items.jsonl. */
export interface ItemInfo {
  /** Original item id. */
  id: string;
  title?: string;
  text?: string;
  /** Category label names. */
  categories?: string[];
  /** Image path, relative to the dataset directory or absolute. */
  image?: string;
}

export interface FeatureMatrix {
  /** Row i = internal item i; row 0 (padding) and rows of items lacking the modality are 0. */
  matrix: Float32Array;
  dim: number;
  /** 1 where item i has the modality. */
  mask: Uint8Array;
}

/** Everything a prepared dataset holds, in memory. */
export interface DatasetContent {
  /** Original user ids (index u - 1); for a dataset whose sequences stay on disk, read from users.json when first used. */
  userIds: string[];
  items: ItemInfo[];
  offsets: Int32Array;
  /** Every user's items, one after another; empty when the sequences stay on disk (read them with Dataset.sequenceSlice). */
  sequenceItems: Int32Array;
  /** Seconds of each entry of sequenceItems; null without timestamps or when the sequences stay on disk (Dataset.timesSlice). */
  times: Float64Array | null;
  categoryOffsets: Int32Array;
  categoryLabels: Int32Array;
  features: Partial<Record<ContentModality, FeatureMatrix>>;
}

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

/** The checksum of a file table: order-independent, path-sensitive. */
export function contentChecksum(files: Record<string, string>): string {
  return sha256(
    Object.keys(files)
      .sort()
      .map((f) => `${f}\t${files[f]}\n`)
      .join(''),
  );
}

/**
 * Writes a dataset directory atomically: everything goes to a sibling temporary directory
 * first, which is renamed to `out` at the end. With `overwrite`, an existing `out` is
 * replaced only after the new one is complete. `stage` lets the caller put extra files
 * (images) into the temporary directory before the rename.
 */
export function writeDataset(
  out: string,
  content: DatasetContent,
  manifest: Omit<Manifest, 'files' | 'checksum'>,
  opts: { overwrite?: boolean; tempDir?: string; files?: Record<string, Uint8Array> } = {},
): Manifest {
  const target = resolve(out);
  if (existsSync(target) && !opts.overwrite) {
    throw new DataError(`${out} already exists: choose another --out, or pass --overwrite to replace it`);
  }
  const tmp = opts.tempDir ?? stagingDir(target);
  mkdirSync(join(tmp, 'features'), { recursive: true });
  const files: Record<string, string> = {};
  const put = (rel: string, bytes: Uint8Array | string) => {
    writeFileSync(join(tmp, rel), bytes);
    files[rel] = sha256(bytes);
  };
  try {
    put('users.json', JSON.stringify(content.userIds));
    put('items.jsonl', content.items.map((it) => JSON.stringify(it)).join('\n') + '\n');
    put('sequences.offsets.npy', encodeNpy(content.offsets, [content.offsets.length]));
    put('sequences.items.npy', encodeNpy(content.sequenceItems, [content.sequenceItems.length]));
    if (content.times) put('sequences.times.npy', encodeNpy(content.times, [content.times.length]));
    put('categories.offsets.npy', encodeNpy(content.categoryOffsets, [content.categoryOffsets.length]));
    put('categories.labels.npy', encodeNpy(content.categoryLabels, [content.categoryLabels.length]));
    for (const [m, f] of Object.entries(content.features) as [ContentModality, FeatureMatrix][]) {
      put(`features/${m}.npy`, encodeNpy(f.matrix, [f.mask.length, f.dim]));
      put(`features/${m}.mask.npy`, encodeNpy(f.mask, [f.mask.length]));
    }
    for (const [rel, bytes] of Object.entries(opts.files ?? {})) put(rel, bytes);
    const full: Manifest = { ...manifest, files, checksum: contentChecksum(files) };
    writeFileSync(join(tmp, 'manifest.json'), JSON.stringify(full, null, 2) + '\n');
    replaceDirectory(tmp, target);
    return full;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** A fresh temporary directory beside `target` (same file system, so the final rename is atomic); parents are created. */
export function stagingDir(target: string): string {
  const parent = dirname(resolve(target));
  mkdirSync(parent, { recursive: true });
  const tmp = join(parent, `.${basename(target)}.tmp-${process.pid}-${Date.now()}`);
  mkdirSync(tmp);
  return tmp;
}

/**
 * Renames a complete staging directory to `target`. An existing target is replaced only now,
 * when the new content is complete, and removed last, so a failure never loses it.
 */
export function replaceDirectory(staging: string, target: string): void {
  if (!existsSync(target)) {
    renameSync(staging, target);
    return;
  }
  const old = `${target}.old-${process.pid}-${Date.now()}`;
  renameSync(target, old);
  renameSync(staging, target);
  rmSync(old, { recursive: true, force: true });
}

const missing = (p: string) => new DataError(`${p} is missing (listed in the manifest)`);
const corrupt = (p: string) =>
  new DataError(
    `${p} does not match its checksum in manifest.json: the dataset is corrupt or was edited; re-run cammsr prepare`,
  );

/** A dataset file's bytes, checked against its sha256 in the manifest when it is listed and `verify`. */
function readChecked(dir: string, manifest: Manifest, rel: string, verify: boolean): Buffer {
  const p = join(dir, rel);
  if (!existsSync(p)) throw missing(p);
  const b = readFileSync(p);
  if (verify && manifest.files[rel] !== undefined && sha256(b) !== manifest.files[rel]) throw corrupt(p);
  return b;
}

/** The sequences of a dataset loaded with `sequences: 'disk'`: read by range, never whole. */
interface SequenceFiles {
  items: NpyFile<Int32Array>;
  times: NpyFile<Float64Array> | null;
}

/** A dataset's 1-D file opened for ranged reads, its checksum checked a chunk at a time when `verify`. */
function openChecked<T extends Int32Array | Float64Array>(
  dir: string,
  manifest: Manifest,
  rel: string,
  ctor: new (n: number) => T,
  verify: boolean,
): NpyFile<T> {
  const p = join(dir, rel);
  if (!existsSync(p)) throw missing(p);
  const f = NpyFile.open(p, ctor);
  try {
    if (verify && manifest.files[rel] !== undefined && f.sha256() !== manifest.files[rel]) throw corrupt(p);
  } catch (err) {
    f.close();
    throw err;
  }
  return f;
}

function openSequenceFiles(dir: string, manifest: Manifest, verify: boolean): SequenceFiles {
  const items = openChecked(dir, manifest, 'sequences.items.npy', Int32Array, verify);
  try {
    const times = manifest.timestamps
      ? openChecked(dir, manifest, 'sequences.times.npy', Float64Array, verify)
      : null;
    return { items, times };
  } catch (err) {
    items.close();
    throw err;
  }
}

/** users.json's ids; an error names the file when it is not a list of strings. */
function parseUserIds(bytes: Buffer, path: string): string[] {
  let ids: unknown;
  try {
    ids = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new DataError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string'))
    throw new DataError(`${path}: expected a JSON list of user id strings`);
  return ids as string[];
}

/** A listed file's checksum checked a chunk at a time, its bytes not kept; null (nothing read). */
function checkUnread(dir: string, manifest: Manifest, rel: string, verify: boolean): null {
  const p = join(dir, rel);
  if (!existsSync(p)) throw missing(p);
  if (!verify || manifest.files[rel] === undefined) return null;
  const fd = openSync(p, 'r');
  try {
    if (sha256OfFd(fd) !== manifest.files[rel]) throw corrupt(p);
  } finally {
    closeSync(fd);
  }
  return null;
}

/** content.userIds read from `path` when first asked for, and checked against the manifest's count. */
function lazyUserIds(content: DatasetContent, path: string, users: number): void {
  let ids: string[] | null = null;
  Object.defineProperty(content, 'userIds', {
    enumerable: true,
    get: () => {
      if (ids) return ids;
      const read = parseUserIds(readFileSync(path), path);
      if (read.length !== users)
        throw new DataError(
          `${path}: ${read.length} users, the manifest says ${users}; re-run cammsr prepare`,
        );
      return (ids = read);
    },
  });
}

export interface LoadOptions {
  /** Check every file against the manifest's checksums (default true). */
  verify?: boolean;
  /**
   * 'memory' (default) reads the interaction log whole; 'disk' keeps sequences.items.npy and
   * sequences.times.npy on disk and reads the ranges asked for (sequenceSlice, timesSlice), and
   * users.json until content.userIds is first used, so that a log larger than memory can be
   * trained on. Call close() when done with a 'disk' dataset.
   */
  sequences?: 'memory' | 'disk';
}

/** A dataset folder's manifest.json, its format and version checked (the files are not read). */
export function readManifest(dir: string): Manifest {
  const mpath = join(dir, 'manifest.json');
  if (!existsSync(dir))
    throw new DataError(`dataset folder ${dir} does not exist (prepare one with cammsr prepare)`);
  if (!existsSync(mpath)) throw new DataError(`${dir} is not a cammsr dataset: manifest.json is missing`);
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(mpath, 'utf8'));
  } catch (e) {
    throw new DataError(`${mpath}: not valid JSON (${(e as Error).message})`);
  }
  if (manifest.format !== DATASET_FORMAT)
    throw new DataError(
      `${mpath}: not a cammsr dataset manifest (format ${JSON.stringify(manifest.format)})`,
    );
  if (!(manifest.formatVersion >= 1 && manifest.formatVersion <= DATASET_FORMAT_VERSION)) {
    throw new DataError(
      `${mpath}: dataset format version ${manifest.formatVersion} is not supported (this cammsr reads 1..${DATASET_FORMAT_VERSION}); re-run cammsr prepare`,
    );
  }
  return manifest;
}

/** A prepared dataset loaded into memory. */
export class Dataset {
  private constructor(
    readonly dir: string,
    readonly manifest: Manifest,
    readonly content: DatasetContent,
    private readonly onDiskFiles: SequenceFiles | null = null,
  ) {}

  /**
   * Loads a dataset directory, checking its format version and (unless `verify: false`)
   * every file against the manifest's checksums.
   */
  static load(dir: string, opts: LoadOptions = {}): Dataset {
    const manifest = readManifest(dir);
    const read = (rel: string): Buffer => readChecked(dir, manifest, rel, opts.verify !== false);
    // Features are 2-D (items + 1, dim); everything else is 1-D.
    const npy = <T extends Float32Array | Int32Array | Float64Array | Uint8Array>(
      rel: string,
      ctor: new (...a: never[]) => T,
    ) =>
      decodeNpyAs(
        read(rel),
        join(dir, rel),
        ctor,
        rel.startsWith('features/') && !rel.endsWith('.mask.npy') ? 2 : 1,
      );
    const onDisk = opts.sequences === 'disk';
    // With the log on disk the users' ids stay there too (a string per user): checked now, read
    // when first asked for (nothing in training needs them).
    const userIds = onDisk
      ? checkUnread(dir, manifest, 'users.json', opts.verify !== false)
      : parseUserIds(read('users.json'), join(dir, 'users.json'));
    const items = read('items.jsonl')
      .toString('utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as ItemInfo);
    const features: DatasetContent['features'] = {};
    for (const m of Object.keys(manifest.modalities) as ContentModality[]) {
      const f = npy(`features/${m}.npy`, Float32Array);
      const mask = npy(`features/${m}.mask.npy`, Uint8Array).data;
      if (f.shape.length !== 2 || f.shape[0] !== items.length + 1 || mask.length !== items.length + 1) {
        throw new DataError(
          `${join(dir, 'features', m + '.npy')}: expected ${items.length + 1} rows (items + padding), found shape (${f.shape.join(', ')})`,
        );
      }
      features[m] = { matrix: f.data, dim: f.shape[1], mask };
    }
    const content: DatasetContent = {
      userIds: userIds ?? [],
      items,
      offsets: npy('sequences.offsets.npy', Int32Array).data,
      sequenceItems: onDisk ? new Int32Array(0) : npy('sequences.items.npy', Int32Array).data,
      times: manifest.timestamps && !onDisk ? npy('sequences.times.npy', Float64Array).data : null,
      categoryOffsets: npy('categories.offsets.npy', Int32Array).data,
      categoryLabels: npy('categories.labels.npy', Int32Array).data,
      features,
    };
    if (userIds === null) lazyUserIds(content, join(dir, 'users.json'), manifest.counts.users);
    const files = onDisk ? openSequenceFiles(dir, manifest, opts.verify !== false) : null;
    const ds = new Dataset(dir, manifest, content, files);
    try {
      ds.checkConsistency();
    } catch (err) {
      ds.close();
      throw err;
    }
    return ds;
  }

  /**
   * The fitted content encoders' settings and files, verified against the manifest (read on
   * demand: word vectors can be large); undefined for a dataset without encoders.
   */
  encoderFiles(): { settings: EncoderSettings; files: Record<string, Buffer> } | undefined {
    const settings = this.manifest.encoders;
    if (!settings) return undefined;
    const where = join(this.dir, 'manifest.json');
    const files: Record<string, Buffer> = {};
    for (const rel of settings.files) {
      if (this.manifest.files[rel] === undefined)
        throw new DataError(
          `${where}: field "encoders.files" names ${rel}, which field "files" does not list`,
        );
      files[rel] = readChecked(this.dir, this.manifest, rel, true);
    }
    return { settings, files };
  }

  /** The fitted content encoders, loaded (see `encoderFiles`); undefined for a dataset without encoders. */
  encoders(): ContentEncoders | undefined {
    const stored = this.encoderFiles();
    if (!stored) return undefined;
    const settings = `${join(this.dir, 'manifest.json')} "encoders"`;
    return readEncoders(stored.settings, (rel) => stored.files[rel], { folder: this.dir, settings });
  }

  get users(): number {
    return this.content.offsets.length - 1;
  }

  get items(): number {
    return this.content.items.length;
  }

  /** Whether the sequences stay on disk (loaded with `sequences: 'disk'`). */
  get onDisk(): boolean {
    return this.onDiskFiles !== null;
  }

  /** Interactions in the log (the sequences' total length). */
  get interactions(): number {
    return this.content.offsets[this.users];
  }

  /** Length of internal user u's sequence (u in 1..users). */
  sequenceLength(u: number): number {
    return this.content.offsets[u] - this.content.offsets[u - 1];
  }

  /** Internal user u's chronological item ids (u in 1..users). */
  sequence(u: number): Int32Array {
    return this.sequenceSlice(u, 0, this.sequenceLength(u));
  }

  /**
   * Items [start, end) of user u's sequence: a view of the log in memory, a fresh read when the
   * sequences stay on disk. Either way the caller must not write to it.
   */
  sequenceSlice(u: number, start: number, end: number): Int32Array {
    const [a, b] = this.range(u, start, end);
    return this.onDiskFiles ? this.onDiskFiles.items.read(a, b) : this.content.sequenceItems.subarray(a, b);
  }

  /** Seconds of items [start, end) of user u's sequence (as sequenceSlice); null without timestamps. */
  timesSlice(u: number, start: number, end: number): Float64Array | null {
    const [a, b] = this.range(u, start, end);
    if (this.onDiskFiles) return this.onDiskFiles.times?.read(a, b) ?? null;
    return this.content.times?.subarray(a, b) ?? null;
  }

  /** Closes the sequence files of a dataset whose sequences stay on disk (nothing otherwise). */
  close(): void {
    this.onDiskFiles?.items.close();
    this.onDiskFiles?.times?.close();
  }

  /** Positions in the log of items [start, end) of user u's sequence. */
  private range(u: number, start: number, end: number): [number, number] {
    if (!(Number.isInteger(u) && u >= 1 && u <= this.users))
      throw new RangeError(`user ${u} is outside 1..${this.users}`);
    const n = this.sequenceLength(u);
    if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= n))
      throw new RangeError(`range [${start}, ${end}) of user ${u} is outside the sequence's ${n} items`);
    const o = this.content.offsets[u - 1];
    return [o + start, o + end];
  }

  /** Category ids of internal item i. */
  itemCategories(i: number): Int32Array {
    return this.content.categoryLabels.subarray(
      this.content.categoryOffsets[i],
      this.content.categoryOffsets[i + 1],
    );
  }

  /** Absolute path of item i's image, if it has one. */
  imagePath(i: number): string | undefined {
    const p = this.content.items[i - 1]?.image;
    if (p === undefined) return undefined;
    return isAbsolute(p) ? p : join(this.dir, p);
  }

  /** Sizes and ranges agree with each other and with the manifest. */
  private checkConsistency(): void {
    const c = this.content;
    const m = this.manifest;
    const where = join(this.dir, 'manifest.json');
    const bad = (what: string) => {
      throw new DataError(`${this.dir}: inconsistent dataset: ${what}; re-run cammsr prepare`);
    };
    // (users.json of a dataset on disk is counted when it is read: lazyUserIds.)
    if (!this.onDiskFiles && c.userIds.length !== m.counts.users)
      bad(`${c.userIds.length} users in users.json, ${m.counts.users} in ${where}`);
    if (c.items.length !== m.counts.items)
      bad(`${c.items.length} items in items.jsonl, ${m.counts.items} in ${where}`);
    const disk = this.onDiskFiles;
    const stored = disk ? disk.items.length : c.sequenceItems.length;
    if (c.offsets.length !== m.counts.users + 1 || c.offsets[m.counts.users] !== stored) {
      bad('sequences.offsets.npy does not cover sequences.items.npy');
    }
    if (c.offsets[0] !== 0) bad(`sequences.offsets.npy: entry 0 is ${c.offsets[0]}, expected 0`);
    for (let u = 0; u < m.counts.users; u++)
      if (!(c.offsets[u + 1] >= c.offsets[u]))
        bad(`sequences.offsets.npy: entry ${u + 1} is below entry ${u} (offsets must not decrease)`);
    const timesStored = disk ? disk.times?.length : c.times?.length;
    if (timesStored !== undefined && timesStored !== stored)
      bad('sequences.times.npy and sequences.items.npy differ in length');
    const N = c.items.length;
    const checkItems = (chunk: Int32Array, first: number) => {
      for (let k = 0; k < chunk.length; k++) {
        const it = chunk[k];
        if (!(it >= 1 && it <= N)) bad(`sequence entry ${first + k} is item ${it}, outside 1..${N}`);
      }
    };
    if (disk) disk.items.scan(checkItems);
    else checkItems(c.sequenceItems, 0);
    if (c.categoryOffsets.length !== N + 2)
      bad(`categories.offsets.npy has ${c.categoryOffsets.length} entries, expected ${N + 2}`);
  }
}
