/**
 * `prepare`: import a dataset in any supported format and write the canonical dataset
 * directory. One pipeline for every format: import -> skip check -> dedupe, chronological
 * order, k-core, dense ids -> category vocabulary -> content features -> atomic write.
 * A failure at any point leaves nothing behind (the work happens in a staging directory).
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { VERSION } from '../version.js';
import { buildCategories } from './categories.js';
import {
  DATASET_FORMAT,
  DATASET_FORMAT_VERSION,
  Dataset,
  stagingDir,
  writeDataset,
  type ContentModality,
  type FeatureMatrix,
  type ItemInfo,
  type Manifest,
  type ModalityInfo,
} from './dataset.js';
import { checkSkipRate, DataError } from './errors.js';
import { encodeImagesPixels } from './features/image.js';
import { encodeTextTfidfSvd } from './features/text.js';
import { encodeTextWordVectors, loadWordVectors } from './features/word-vectors.js';
import { readNpyAs } from './npy.js';
import { preprocess, type DedupeMode } from './preprocess.js';
import { importAmazon } from './importers/amazon.js';
import { importCsv, type CsvImportOptions } from './importers/table/index.js';
import { importLcrec, type LcrecOptions } from './importers/lcrec.js';
import { importRecbole, type RecboleOptions } from './importers/recbole.js';
import { importS3rec, type S3recOptions } from './importers/s3rec.js';
import { synthesize } from './importers/synth.js';
import { MIN_EVAL_LENGTH } from './split.js';
import { datasetStats, type DatasetStats } from './stats.js';
import type { ProgressFn, RawDataset } from './types.js';

export const IMPORT_FORMATS = ['csv', 'recbole', 's3rec', 'lcrec', 'amazon', 'synth'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

/** Features computed elsewhere: a float32 .npy matrix and a text file of item ids, one per row. */
export interface PrecomputedFeatures {
  npy: string;
  ids: string;
}

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
  text?: 'tfidf' | 'none' | { wordVectors: string } | PrecomputedFeatures;
  textDim?: number;
  image?: 'pixels' | 'none' | PrecomputedFeatures;
  imageDim?: number;
  seed?: number;
  csv?: Omit<CsvImportOptions, 'interactions' | 'imagesDir' | 'name' | 'dedupe' | 'kcore'>;
  recbole?: Omit<RecboleOptions, 'input' | 'imagesDir' | 'name'>;
  s3rec?: Omit<S3recOptions, 'input' | 'imagesDir' | 'name'>;
  lcrec?: Omit<LcrecOptions, 'input' | 'imagesDir' | 'name'>;
  amazon?: { meta?: string; format?: '2014' | '2018' | '2023' };
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

async function importRaw(
  o: PrepareOptions,
  staging: string,
): Promise<{ raw: RawDataset; extra: Record<string, unknown> }> {
  const need = (): string => {
    if (!o.input) throw new DataError(`prepare ${o.format} needs --input`);
    if (!existsSync(o.input)) throw new DataError(`input ${o.input} does not exist`);
    return o.input;
  };
  switch (o.format) {
    case 'csv':
      return {
        raw: await importCsv(
          {
            ...o.csv,
            interactions: need(),
            imagesDir: o.images,
            name: o.name,
            dedupe: o.dedupe ?? 'exact', // the same default as every other format
            kcore: o.kcore,
          },
          o.progress,
        ),
        extra: {},
      };
    case 'recbole':
      return {
        raw: importRecbole({ ...o.recbole, input: need(), imagesDir: o.images, name: o.name }),
        extra: {},
      };
    case 's3rec':
      return {
        raw: importS3rec({ ...o.s3rec, input: need(), imagesDir: o.images, name: o.name }),
        extra: {},
      };
    case 'lcrec':
      return {
        raw: importLcrec({ ...o.lcrec, input: need(), imagesDir: o.images, name: o.name }),
        extra: {},
      };
    case 'amazon':
      return {
        raw: await importAmazon(
          { reviews: need(), ...o.amazon, imagesDir: o.images, name: o.name },
          o.progress,
        ),
        extra: {},
      };
    case 'synth': {
      const { raw, planted } = await synthesize(
        { ...o.synth, seed: o.seed ?? 1, imagesDir: join(staging, 'images') },
        o.progress,
      );
      return { raw, extra: { planted } };
    }
    default:
      throw new DataError(
        `unknown format "${String(o.format)}": expected one of ${IMPORT_FORMATS.join(', ')}`,
      );
  }
}

/** Rows of a precomputed feature matrix placed at internal item ids; unknown ids are reported. */
function loadPrecomputed(
  spec: PrecomputedFeatures,
  itemIds: readonly string[],
  warnings: string[],
): FeatureMatrix {
  const { data, shape } = readNpyAs(spec.npy, Float32Array, 2);
  const ids = readFileSync(spec.ids, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  if (ids.length !== shape[0]) {
    throw new DataError(
      `${spec.ids} lists ${ids.length} ids but ${spec.npy} has ${shape[0]} rows: they must match row for row`,
    );
  }
  const dim = shape[1];
  const index = new Map(itemIds.map((id, i) => [id, i + 1]));
  const matrix = new Float32Array((itemIds.length + 1) * dim);
  const mask = new Uint8Array(itemIds.length + 1);
  let unknown = 0;
  ids.forEach((id, r) => {
    const i = index.get(id);
    if (i === undefined) {
      unknown++;
      return;
    }
    matrix.set(data.subarray(r * dim, (r + 1) * dim), i * dim);
    mask[i] = 1;
  });
  if (unknown > 0) warnings.push(`${spec.ids}: ${unknown} ids are not items of the dataset and were ignored`);
  return { matrix, dim, mask };
}

/** Title and text of every item, index = internal id (0 = padding). */
const itemTexts = (items: ItemInfo[]) => [
  null,
  ...items.map((it) => [it.title, it.text].filter(Boolean).join('. ') || null),
];

const coverageOf = (mask: Uint8Array) => {
  let n = 0;
  for (let i = 1; i < mask.length; i++) n += mask[i];
  return mask.length > 1 ? n / (mask.length - 1) : 0;
};

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
  progress('import', 0, 1);
  const { raw, extra } = await importRaw(o, staging);
  progress('import', 1, 1);
  checkSkipRate(raw.skips, o.allowSkips ?? false);
  if (raw.skips.skipped > 0)
    warnings.push(
      `${raw.skips.skipped} of ${raw.skips.records} records skipped: ${Object.entries(raw.skips.reasons)
        .map(([r, n]) => `${n} ${r}`)
        .join(', ')}`,
    );

  // The csv importer already deduplicated and filtered inside DuckDB.
  const inDuckdb = o.format === 'csv';
  const dedupe = o.dedupe ?? 'exact';
  const kcore = o.kcore ?? { user: 0, item: 0 };
  const log = preprocess(raw.interactions, inDuckdb ? { dedupe: 'none' } : { dedupe, kcore });

  const hierarchical = raw.categoryPaths;
  const leafOnly = o.leafCategories ?? false;
  const cats = buildCategories(log.itemIds, raw.items, hierarchical, leafOnly);
  const items: ItemInfo[] = log.itemIds.map((id, k) => {
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

  const features: Partial<Record<ContentModality, FeatureMatrix>> = {};
  const modalities: Partial<Record<ContentModality, ModalityInfo>> = {};
  const seed = o.seed ?? 1;
  const textSpec = o.text ?? 'tfidf';
  if (textSpec !== 'none') {
    if (typeof textSpec === 'object' && 'npy' in textSpec) {
      const f = loadPrecomputed(textSpec, log.itemIds, warnings);
      features.text = f;
      modalities.text = {
        dim: f.dim,
        coverage: coverageOf(f.mask),
        encoder: `precomputed:${textSpec.npy}`,
        details: {},
      };
    } else if (typeof textSpec === 'object') {
      const texts = itemTexts(items);
      const enc = encodeTextWordVectors(texts, loadWordVectors(textSpec.wordVectors), progress);
      features.text = { matrix: enc.matrix, dim: enc.dim, mask: enc.mask };
      modalities.text = {
        dim: enc.dim,
        coverage: coverageOf(enc.mask),
        encoder: 'word-vectors',
        details: { ...enc.info },
      };
    } else {
      const texts = itemTexts(items);
      const enc = texts.some((t) => t)
        ? encodeTextTfidfSvd(texts, { dim: o.textDim ?? 128, seed }, progress)
        : null;
      if (enc && enc.dim === 0)
        warnings.push('no item text has a term shared by two items: no text features');
      if (enc && enc.dim > 0) {
        features.text = { matrix: enc.matrix, dim: enc.dim, mask: enc.mask };
        modalities.text = {
          dim: enc.dim,
          coverage: coverageOf(enc.mask),
          encoder: 'tfidf-svd',
          details: { ...enc.info },
        };
      }
    }
  }
  const imageSpec = o.image ?? 'pixels';
  if (imageSpec !== 'none') {
    if (typeof imageSpec === 'object') {
      const f = loadPrecomputed(imageSpec, log.itemIds, warnings);
      features.image = f;
      modalities.image = {
        dim: f.dim,
        coverage: coverageOf(f.mask),
        encoder: `precomputed:${imageSpec.npy}`,
        details: {},
      };
    } else {
      const paths = [null, ...log.itemIds.map((id) => raw.items.get(id)?.image ?? null)];
      if (paths.some((p) => p)) {
        const enc = await encodeImagesPixels(paths, { dim: o.imageDim ?? 128, seed }, progress);
        features.image = { matrix: enc.matrix, dim: enc.dim, mask: enc.mask };
        const failures = enc.failures.map((f) => `${f.path}: ${f.reason}`);
        if (failures.length)
          warnings.push(
            `${failures.length} images could not be used (masked as missing), e.g. ${failures.slice(0, 3).join('; ')}`,
          );
        modalities.image = {
          dim: enc.dim,
          coverage: coverageOf(enc.mask),
          encoder: 'pixels-pca-hsv',
          details: { ...enc.info, failures: failures.length, failureExamples: failures.slice(0, 10) },
        };
      }
    }
  }

  let withLabels = 0;
  for (let i = 1; i <= items.length; i++) if (cats.offsets[i + 1] > cats.offsets[i]) withLabels++;
  const manifest: Omit<Manifest, 'files' | 'checksum'> = {
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
    modalities,
    categories: {
      names: cats.names,
      namesKnown: raw.categoryNamesKnown ?? true,
      hierarchical,
      leafOnly,
      coverage: items.length ? withLabels / items.length : 0,
    },
    split: {
      protocol: 'leave-one-out',
      test: 'last item of each sequence',
      validation: 'second-to-last item',
      minLengthForEvaluation: MIN_EVAL_LENGTH,
    },
    preprocessing: {
      dedupe: inDuckdb ? `${dedupe} (in DuckDB)` : dedupe,
      kcore,
      removed: log.removed,
      skips: raw.skips,
    },
    extra,
  };
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
    { overwrite: o.overwrite, tempDir: staging },
  );
  progress('write', 1, 1);
  const ds = Dataset.load(out);
  return { dir: out, manifest: ds.manifest, stats: datasetStats(ds), warnings };
}
