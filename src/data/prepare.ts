/**
 * `prepare`: import a dataset in any supported format and write the canonical dataset
 * directory. One pipeline for every format: import -> skip check -> dedupe, chronological
 * order, k-core, dense ids -> category vocabulary -> content features -> atomic write.
 * A failure at any point leaves nothing behind (the work happens in a staging directory).
 */
import { existsSync, rmSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { VERSION } from '../version.js';
import { buildCategories, type ItemCategories } from './categories.js';
import {
  DATASET_FORMAT,
  DATASET_FORMAT_VERSION,
  Dataset,
  stagingDir,
  writeDataset,
  type DatasetContent,
  type ItemInfo,
  type Manifest,
} from './dataset.js';
import { checkSkipRate, DataError } from './errors.js';
import { encodeImage, encodeText, itemText, type ImageSpec, type TextSpec } from './features/encode.js';
import { writeEncoders } from './features/encoder-files.js';
import type { ContentEncoders } from './features/item-encoders.js';
import { preprocess, type DedupeMode, type SequenceLog } from './preprocess.js';
import { importAmazon } from './importers/amazon.js';
import { importCsv, type CsvImportOptions } from './importers/table/index.js';
import { importLcrec, type LcrecOptions } from './importers/lcrec.js';
import { importMovielens, type MovielensImportOptions } from './importers/movielens/index.js';
import { importRecbole, type RecboleOptions } from './importers/recbole.js';
import { importS3rec, type S3recOptions } from './importers/s3rec.js';
import { synthesize } from './importers/synth.js';
import { MIN_EVAL_LENGTH } from './split.js';
import { datasetStats, type DatasetStats } from './stats.js';
import type { ProgressFn, RawDataset } from './types.js';

export type { PrecomputedFeatures } from './features/precomputed.js';

export const IMPORT_FORMATS = ['csv', 'recbole', 's3rec', 'lcrec', 'amazon', 'movielens', 'synth'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

export interface PrepareOptions {
  format: ImportFormat;
  /** Output dataset directory (must not exist unless `overwrite`). */
  out: string;
  /** Main input file or folder (every format but synth). */
  input?: string;
  /** Folder of item images keyed by item id. */
  images?: string;
  name?: string;
  overwrite?: boolean;
  /** Proceed even when more than 1% of the records were skipped. */
  allowSkips?: boolean;
  dedupe?: DedupeMode;
  kcore?: { user: number; item: number };
  /** Keep only the leaf of hierarchical category paths. */
  leafCategories?: boolean;
  /** Text features: TF-IDF + SVD (default), word vectors ("wink" or a vectors file), precomputed, or none. */
  text?: TextSpec;
  textDim?: number;
  image?: ImageSpec;
  imageDim?: number;
  seed?: number;
  csv?: Omit<CsvImportOptions, 'interactions' | 'imagesDir' | 'name' | 'dedupe' | 'kcore'>;
  recbole?: Omit<RecboleOptions, 'input' | 'imagesDir' | 'name'>;
  s3rec?: Omit<S3recOptions, 'input' | 'imagesDir' | 'name'>;
  lcrec?: Omit<LcrecOptions, 'input' | 'imagesDir' | 'name'>;
  amazon?: { meta?: string; format?: '2014' | '2018' | '2023' };
  movielens?: Omit<MovielensImportOptions, 'input' | 'imagesDir' | 'name'>;
  synth?: { users?: number; items?: number };
  progress?: ProgressFn;
}

export interface PrepareResult {
  dir: string;
  manifest: Manifest;
  stats: DatasetStats;
  /** Messages worth showing (skips, images that failed). */
  warnings: string[];
}

interface Imported {
  raw: RawDataset;
  /** Importer facts for the manifest's `extra`. */
  extra?: Record<string, unknown>;
}

/** Each format's importer, given prepare's options; `input()` is the checked main input. */
const IMPORTERS: Record<
  ImportFormat,
  (o: PrepareOptions, input: () => string, staging: string) => Promise<Imported>
> = {
  csv: async (o, input) => {
    const { images: imagesDir, name, kcore } = o;
    // The same dedupe default as every other format.
    const opts = { ...o.csv, interactions: input(), imagesDir, name, dedupe: o.dedupe ?? 'exact', kcore };
    return { raw: await importCsv(opts, o.progress) };
  },
  recbole: async (o, input) => ({ raw: importRecbole({ ...o.recbole, ...inputs(o, input) }) }),
  s3rec: async (o, input) => ({ raw: importS3rec({ ...o.s3rec, ...inputs(o, input) }) }),
  lcrec: async (o, input) => ({ raw: importLcrec({ ...o.lcrec, ...inputs(o, input) }) }),
  amazon: async (o, input) => {
    const opts = { reviews: input(), ...o.amazon, imagesDir: o.images, name: o.name };
    return { raw: await importAmazon(opts, o.progress) };
  },
  movielens: async (o, input) => {
    const opts = { ...o.movielens, ...inputs(o, input) };
    return { raw: await importMovielens(opts, o.progress) };
  },
  synth: async (o, _input, staging) => {
    const opts = { ...o.synth, seed: o.seed ?? 1, imagesDir: join(staging, 'images') };
    const { raw, planted } = await synthesize(opts, o.progress);
    return { raw, extra: { planted } };
  },
};

/** The options the recbole, s3rec, lcrec and movielens importers share. */
const inputs = (o: PrepareOptions, input: () => string) => ({
  input: input(),
  imagesDir: o.images,
  name: o.name,
});

async function importRaw(o: PrepareOptions, staging: string): Promise<Required<Imported>> {
  if (!(IMPORT_FORMATS as readonly string[]).includes(o.format)) {
    throw new DataError(`unknown format "${String(o.format)}": expected one of ${IMPORT_FORMATS.join(', ')}`);
  }
  const input = (): string => {
    if (!o.input) throw new DataError(`prepare ${o.format} needs --input`);
    if (!existsSync(o.input)) throw new DataError(`input ${o.input} does not exist`);
    return o.input;
  };
  const { raw, extra = {} } = await IMPORTERS[o.format](o, input, staging);
  return { raw, extra };
}

export async function prepareDataset(o: PrepareOptions): Promise<PrepareResult> {
  const out = resolve(o.out);
  if (existsSync(out) && !o.overwrite) {
    throw new DataError(`${o.out} already exists: choose another --out, or pass --overwrite to replace it`);
  }
  const staging = stagingDir(out);
  try {
    return await prepareInto(o, out, staging);
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw err;
  }
}

async function prepareInto(o: PrepareOptions, out: string, staging: string): Promise<PrepareResult> {
  const warnings: string[] = [];
  const progress = o.progress ?? (() => {});
  const { raw, extra } = await importChecked(o, staging, warnings, progress);

  // The csv importer already deduplicated and filtered inside DuckDB.
  const inDuckdb = o.format === 'csv';
  const dedupe = o.dedupe ?? 'exact';
  const kcore = o.kcore ?? { user: 0, item: 0 };
  const log = preprocess(raw.interactions, inDuckdb ? { dedupe: 'none' } : { dedupe, kcore });

  const leafOnly = o.leafCategories ?? false;
  const cats = buildCategories(log.itemIds, raw.items, raw.categoryPaths, leafOnly);
  const items = itemInfos(log.itemIds, raw, cats, staging);
  const { features, modalities, encoders } = await encodeFeatures(
    o,
    raw,
    log.itemIds,
    items,
    warnings,
    progress,
  );
  const stored = writeEncoders(encoders);

  const preprocessing = {
    dedupe: inDuckdb ? `${dedupe} (in DuckDB)` : dedupe,
    kcore,
    removed: log.removed,
    skips: raw.skips,
  };
  const manifest = manifestOf(raw, log, items, cats, { modalities, leafOnly, preprocessing, extra });
  if (encoders.text || encoders.image) manifest.encoders = stored.settings;
  progress('write', 0, 1);
  writeDataset(
    out,
    {
      userIds: log.userIds,
      items,
      offsets: log.offsets,
      sequenceItems: log.items,
      times: log.times,
      categoryOffsets: cats.offsets,
      categoryLabels: cats.labels,
      features,
    },
    manifest,
    { overwrite: o.overwrite, tempDir: staging, files: stored.files },
  );
  progress('write', 1, 1);
  const ds = Dataset.load(out);
  return { dir: out, manifest: ds.manifest, stats: datasetStats(ds), warnings };
}

/** Imports, and fails on too many skipped records (else says how many were skipped). */
async function importChecked(
  o: PrepareOptions,
  staging: string,
  warnings: string[],
  progress: ProgressFn,
): Promise<Required<Imported>> {
  progress('import', 0, 1);
  const imported = await importRaw(o, staging);
  progress('import', 1, 1);
  const skips = imported.raw.skips;
  checkSkipRate(skips, o.allowSkips ?? false);
  if (skips.skipped > 0)
    warnings.push(
      `${skips.skipped} of ${skips.records} records skipped: ${Object.entries(skips.reasons)
        .map(([r, n]) => `${n} ${r}`)
        .join(', ')}`,
    );
  return imported;
}

/** The catalog entry of every kept item, in internal id order. */
function itemInfos(itemIds: string[], raw: RawDataset, cats: ItemCategories, staging: string): ItemInfo[] {
  return itemIds.map((id, k) => {
    const rec = raw.items.get(id);
    const info: ItemInfo = { id };
    if (rec?.title) info.title = rec.title;
    if (rec?.description) info.text = rec.description;
    const labels = cats.labels.subarray(cats.offsets[k + 1], cats.offsets[k + 2]);
    if (labels.length) info.categories = Array.from(labels, (l) => cats.names[l]);
    if (rec?.image) {
      // Images inside the staging directory (synth) are stored relative to the dataset.
      const rel = relative(staging, rec.image);
      info.image = !rel.startsWith('..') && !isAbsolute(rel) ? rel : rec.image;
    }
    return info;
  });
}

/** Text, then image features, as the options ask, with the encoders that made them. */
async function encodeFeatures(
  o: PrepareOptions,
  raw: RawDataset,
  itemIds: string[],
  items: ItemInfo[],
  warnings: string[],
  progress: ProgressFn,
): Promise<Pick<DatasetContent, 'features'> & Pick<Manifest, 'modalities'> & { encoders: ContentEncoders }> {
  const features: DatasetContent['features'] = {};
  const modalities: Manifest['modalities'] = {};
  const encoders: ContentEncoders = {};
  const context = { itemIds, seed: o.seed ?? 1, warnings, progress };
  // Index = internal id (0 = padding).
  const texts = [null, ...items.map(itemText)];
  const text = encodeText(o.text ?? 'tfidf', texts, { ...context, dim: o.textDim ?? 128 });
  if (text) {
    features.text = text.features;
    modalities.text = text.info;
    encoders.text = text.encoder;
  }
  const paths = [null, ...itemIds.map((id) => raw.items.get(id)?.image ?? null)];
  const image = await encodeImage(o.image ?? 'pixels', paths, { ...context, dim: o.imageDim ?? 128 });
  if (image) {
    features.image = image.features;
    modalities.image = image.info;
    encoders.image = image.encoder;
  }
  return { features, modalities, encoders };
}

/** The manifest's description of the dataset (writeDataset adds the checksums). */
function manifestOf(
  raw: RawDataset,
  log: SequenceLog,
  items: ItemInfo[],
  cats: ItemCategories,
  m: Pick<Manifest, 'modalities' | 'preprocessing' | 'extra'> & { leafOnly: boolean },
): Omit<Manifest, 'files' | 'checksum'> {
  return {
    format: DATASET_FORMAT,
    formatVersion: DATASET_FORMAT_VERSION,
    cammsrVersion: VERSION,
    name: raw.name,
    source: raw.source,
    counts: {
      users: log.userIds.length,
      items: items.length,
      interactions: log.items.length,
      categories: cats.names.length,
    },
    timestamps: log.times !== null,
    modalities: m.modalities,
    categories: {
      names: cats.names,
      namesKnown: raw.categoryNamesKnown ?? true,
      hierarchical: raw.categoryPaths,
      leafOnly: m.leafOnly,
      coverage: labelledShare(cats.offsets, items.length),
    },
    split: {
      protocol: 'leave-one-out',
      test: 'last item of each sequence',
      validation: 'second-to-last item',
      minLengthForEvaluation: MIN_EVAL_LENGTH,
    },
    preprocessing: m.preprocessing,
    extra: m.extra,
  };
}

/** Fraction of items 1..n with at least one label. */
function labelledShare(offsets: Int32Array, n: number): number {
  let withLabels = 0;
  for (let i = 1; i <= n; i++) if (offsets[i + 1] > offsets[i]) withLabels++;
  return n ? withLabels / n : 0;
}
