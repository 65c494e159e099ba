/**
 * Model bundles: everything a service needs to recommend with a trained model, in one folder
 * that no longer needs the run or the prepared dataset.
 *
 *   bundle.json          manifest: format version, cammsr version, model, dataset checksum,
 *                        metrics, and the sha256 of every other file
 *   config.json          the run's resolved configuration
 *   weights.safetensors  the best checkpoint (absent for models without weights)
 *   items.safetensors    item-side model data: content features and their presence masks,
 *                        category labels, training popularity
 *   catalog.jsonl        one line per item (internal id order): original id, title,
 *                        categories, image file name
 *   insights.json        what the model learned, for explanations: mean modality weights per
 *                        category and gate usage at the best epoch (CAMMSR; empty otherwise)
 *   images/              the items' images, when the dataset has them (for the explorer)
 *   encoders.json        the dataset's fitted content encoders (data/features/encoder-files.ts),
 *   encoders.*           with their files as the dataset keeps them: what computes a new item's
 *                        features as prepare did; absent when the dataset has none
 *
 * Loading checks the format version and every checksum before it builds anything, and refuses
 * a corrupt or incompatible bundle with a message that names the file.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { replaceDirectory, stagingDir, type ItemInfo } from '../data/dataset.js';
import { readEncoders } from '../data/features/encoder-files.js';
import type { ContentEncoders } from '../data/features/item-encoders.js';
import {
  decodeSafetensors,
  encodeParameters,
  encodeSafetensors,
  loadParameterBytes,
  type NamedArray,
} from '../engine/io/safetensors.js';
import type { ItemFeatures, ModelData, Scorer, SequentialRecommender } from '../models/model.js';
import { createModel } from '../train/create-model.js';
import { learnedWeights, type LearnedWeights } from '../train/learned-weights.js';
import { parseStoredConfig, type RunConfig } from '../config/index.js';
import { modelData } from '../train/model-data.js';
import { loadRun } from '../train/trainer.js';
import { VERSION } from '../version.js';

export const BUNDLE_FORMAT = 'cammsr-bundle';
export const BUNDLE_FORMAT_VERSION = 1;

/** A bundle's problem: the message names the bundle file at fault. */
export class BundleError extends Error {
  override name = 'BundleError';
}

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

/** What the model learned, as logged at the best epoch (CAMMSR with category guidance). */
export type Insights = LearnedWeights;

/** What recommending needs: the model in evaluation mode, its item side precomputed, and the catalog. */
export interface ServableModel {
  model: SequentialRecommender;
  data: ModelData;
  /** Catalog entry of internal item i at index i - 1. */
  catalog: ItemInfo[];
  /** Original item id -> internal id (1..N). */
  index: Map<string, number>;
  scorer: Scorer;
  insights: Insights;
  /** 1 = never recommend item i: withdrawn, or added while serving to a model that cannot rank unseen items. */
  unavailable?: Uint8Array;
  /** 1 = item i was added while serving (it has no trained embedding). */
  added?: Uint8Array;
}

/** A loaded bundle: what recommending needs, with its manifest, configuration and images. */
export interface Bundle extends ServableModel {
  dir: string;
  manifest: BundleManifest;
  config: RunConfig;
  /** Path of each item's image inside the bundle (index = internal id), when it has one. */
  images: (string | undefined)[];
  /** The dataset's fitted content encoders, for new items; absent when the bundle has none. */
  encoders?: ContentEncoders;
}

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');
const MANIFEST = 'bundle.json';
const ENCODERS = 'encoders.json';

const catalogIndex = (catalog: readonly ItemInfo[]) => new Map(catalog.map((it, i) => [it.id, i + 1]));

/** The catalog fields a bundle keeps (the long text went into the features already). */
function catalogEntry(it: ItemInfo, image: string | undefined): ItemInfo {
  const out: ItemInfo = { id: it.id };
  if (it.title !== undefined) out.title = it.title;
  if (it.categories?.length) out.categories = it.categories;
  if (image !== undefined) out.image = image;
  return out;
}

function itemTensors(data: ModelData): Record<string, NamedArray> {
  const t: Record<string, NamedArray> = {};
  const n = data.items + 1;
  for (const m of ['text', 'image'] as const) {
    const f = data[m];
    if (!f) continue;
    t[`${m}.matrix`] = { data: f.matrix, shape: [n, f.dim] };
    t[`${m}.mask`] = { data: Float32Array.from(f.mask), shape: [n] };
  }
  if (data.categories) {
    t['categories.offsets'] = { data: Float32Array.from(data.categories.offsets), shape: [n + 1] };
    t['categories.labels'] = {
      data: Float32Array.from(data.categories.labels),
      shape: [data.categories.labels.length],
    };
  }
  if (data.popularity) t.popularity = { data: Float32Array.from(data.popularity), shape: [n] };
  return t;
}

/** A run's best model, with the item-side data and the learned weights a bundle keeps of it. */
function readRun(runDir: string) {
  const loaded = loadRun(runDir);
  const { config, ds, split, run } = loaded;
  const data = modelData(ds, split, { categoryNoise: config.cammsr.categoryNoise, seed: config.seed });
  const metrics = run.readMetrics();
  const insights = learnedWeights(run.readLog(), metrics?.bestEpoch, ds.manifest.categories.names);
  return { ...loaded, data, metrics, insights };
}

/**
 * A run as its bundle would serve it, without writing one (for `cammsr recommend`): the same
 * model, item data, catalog fields and insights, read from the run and its dataset.
 */
export function servableRun(runDir: string): ServableModel & { dataset: string } {
  const { ds, model, data, insights } = readRun(runDir);
  const catalog = ds.content.items.map((it) => catalogEntry(it, it.image));
  return {
    model,
    data,
    catalog,
    index: catalogIndex(catalog),
    scorer: model.scorer(),
    insights,
    dataset: ds.manifest.name,
  };
}

export interface ExportOptions {
  /** Replace an existing bundle at `out` (the old one stays until the new one is complete). */
  force?: boolean;
}

/**
 * Writes the bundle of a run (its best checkpoint). The bundle is assembled in a staging folder
 * beside `out` and renamed into place, so an interrupted export leaves no half-written bundle.
 */
export function exportBundle(runDir: string, out: string, opts: ExportOptions = {}): BundleManifest {
  const target = resolve(out);
  if (existsSync(target) && !opts.force)
    throw new BundleError(`${target} already exists; remove it or pass --force to replace it`);
  const { config, ds, model, info, data, metrics, insights } = readRun(runDir);
  const staging = stagingDir(target);
  try {
    // Images keep their file names (prefixed by the item's index when two would collide).
    const images: (string | undefined)[] = [];
    const files: Record<string, Uint8Array | string> = {};
    const taken = new Set<string>();
    for (let i = 1; i <= ds.items; i++) {
      const src = ds.imagePath(i);
      if (!src || !existsSync(src)) continue;
      let name = basename(src);
      if (taken.has(name)) name = `${i}-${name}`;
      taken.add(name);
      images[i] = name;
      files[`images/${name}`] = readFileSync(src);
    }
    Object.assign(files, {
      'config.json': JSON.stringify(config, null, 2) + '\n',
      'items.safetensors': encodeSafetensors(itemTensors(data), { content: 'cammsr item data' }),
      'catalog.jsonl': ds.content.items
        .map((it, k) => JSON.stringify(catalogEntry(it, images[k + 1])) + '\n')
        .join(''),
      'insights.json': JSON.stringify(insights) + '\n',
    });
    if (model.trainable) files['weights.safetensors'] = encodeParameters(model, { model: model.kind });
    const encoders = ds.encoderFiles();
    if (encoders) {
      files[ENCODERS] = JSON.stringify(encoders.settings, null, 2) + '\n';
      Object.assign(files, encoders.files);
    }
    const manifest: BundleManifest = {
      format: BUNDLE_FORMAT,
      formatVersion: BUNDLE_FORMAT_VERSION,
      cammsrVersion: VERSION,
      created: new Date().toISOString(),
      model: model.kind,
      maxLen: model.maxLen,
      source: { run: resolve(runDir), seed: config.seed },
      dataset: {
        name: ds.manifest.name,
        checksum: info.dataset.checksum,
        items: ds.items,
        timestamps: ds.manifest.timestamps,
        categories: ds.manifest.categories.names,
      },
      metrics: metrics ? { validation: metrics.validation, test: metrics.test } : null,
      files: {},
    };
    if (images.length > 0) mkdirSync(join(staging, 'images'));
    for (const [name, bytes] of Object.entries(files)) {
      writeFileSync(join(staging, name), bytes);
      manifest.files[name] = sha256(bytes);
    }
    // The manifest goes last: a folder without it is not a bundle.
    writeFileSync(join(staging, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
    replaceDirectory(staging, target);
    return manifest;
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    throw e;
  }
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

/** Reads a bundle file after checking it against the manifest's checksum. */
function verifiedFile(dir: string, m: BundleManifest, name: string): Buffer {
  const path = join(dir, name);
  if (!existsSync(path)) throw new BundleError(`${path} is missing (listed in ${MANIFEST})`);
  const bytes = readFileSync(path);
  if (sha256(bytes) !== m.files[name])
    throw new BundleError(`${path} is corrupt: its sha256 differs from the one in ${MANIFEST}`);
  return bytes;
}

function readItemData(path: string, bytes: Buffer, m: BundleManifest): ModelData {
  const { tensors } = decodeSafetensors(bytes, path);
  const N = m.dataset.items;
  const n = N + 1;
  const get = (name: string, size?: number): Float32Array | undefined => {
    const t = tensors.get(name);
    if (t && size !== undefined && t.data.length !== size)
      throw new BundleError(`${path}: tensor "${name}" has ${t.data.length} values, expected ${size}`);
    return t?.data;
  };
  const ints = (name: string, a: Float32Array) => {
    const out = Int32Array.from(a);
    if (out.some((v, i) => v !== a[i] || v < 0))
      throw new BundleError(`${path}: tensor "${name}" must hold non-negative integers`);
    return out;
  };
  const features = (mod: 'text' | 'image'): ItemFeatures | undefined => {
    const t = tensors.get(`${mod}.matrix`);
    if (!t) return undefined;
    if (t.shape.length !== 2 || t.shape[0] !== n)
      throw new BundleError(`${path}: "${mod}.matrix" has shape [${t.shape}], expected [${n}, dim]`);
    const mask = get(`${mod}.mask`, n);
    if (!mask) throw new BundleError(`${path}: "${mod}.mask" is missing`);
    return { matrix: t.data, dim: t.shape[1], mask: Uint8Array.from(mask) };
  };
  const offs = get('categories.offsets', n + 1);
  const labels = get('categories.labels');
  const C = m.dataset.categories.length;
  let categories: ModelData['categories'];
  if (offs && labels) {
    const offsets = ints('categories.offsets', offs);
    const lab = ints('categories.labels', labels);
    if (offsets[n] !== lab.length || lab.some((l) => l >= C))
      throw new BundleError(`${path}: category labels do not match their offsets or the ${C} categories`);
    categories = { count: C, offsets, labels: lab };
  }
  const pop = get('popularity', n);
  return {
    items: N,
    text: features('text'),
    image: features('image'),
    categories,
    timestamps: m.dataset.timestamps,
    popularity: pop ? Float64Array.from(pop) : undefined,
  };
}

/** The run's configuration, verified against the manifest. */
function readConfig(root: string, manifest: BundleManifest): RunConfig {
  const cfgPath = join(root, 'config.json');
  try {
    return parseStoredConfig(
      JSON.parse(verifiedFile(root, manifest, 'config.json').toString('utf8')),
      cfgPath,
    );
  } catch (e) {
    if (e instanceof BundleError) throw e;
    throw new BundleError(`${cfgPath}: ${(e as Error).message}`);
  }
}

/** The catalog, verified: one entry with a string id per item, in internal id order. */
function readCatalog(root: string, manifest: BundleManifest, items: number): ItemInfo[] {
  const catalog = verifiedFile(root, manifest, 'catalog.jsonl')
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l, i) => {
      try {
        const it = JSON.parse(l) as ItemInfo;
        if (typeof it.id !== 'string') throw new Error('field "id" must be a string');
        return it;
      } catch (e) {
        throw new BundleError(`${join(root, 'catalog.jsonl')}, line ${i + 1}: ${(e as Error).message}`);
      }
    });
  if (catalog.length !== items)
    throw new BundleError(
      `${join(root, 'catalog.jsonl')}: ${catalog.length} items, the manifest says ${items}`,
    );
  return catalog;
}

/** Builds the model, loads its verified weights (when it has any) and puts it in evaluation mode. */
function loadModel(
  root: string,
  manifest: BundleManifest,
  config: RunConfig,
  data: ModelData,
): SequentialRecommender {
  const model = createModel(config, data);
  if (model.trainable) {
    if (!('weights.safetensors' in manifest.files))
      throw new BundleError(`${join(root, MANIFEST)}: a ${model.kind} bundle needs weights.safetensors`);
    const weights = verifiedFile(root, manifest, 'weights.safetensors');
    try {
      loadParameterBytes(model, weights, join(root, 'weights.safetensors'));
    } catch (e) {
      throw new BundleError((e as Error).message);
    }
  }
  model.eval();
  return model;
}

/** What the model learned, verified against the manifest, for explanations. */
function readInsights(root: string, manifest: BundleManifest): Insights {
  // Bundles of the first releases of format 1 had no insights.json: no explanations then.
  if (!('insights.json' in manifest.files)) return { categoryWeights: [], gates: {} };
  try {
    return JSON.parse(verifiedFile(root, manifest, 'insights.json').toString('utf8')) as Insights;
  } catch (e) {
    if (e instanceof BundleError) throw e;
    throw new BundleError(`${join(root, 'insights.json')}: not valid JSON (${(e as Error).message})`);
  }
}

/** The dataset's content encoders, verified against the manifest; undefined when the bundle has none. */
function readBundleEncoders(root: string, manifest: BundleManifest): ContentEncoders | undefined {
  if (!(ENCODERS in manifest.files)) return undefined;
  const text = verifiedFile(root, manifest, ENCODERS).toString('utf8');
  let settings: unknown;
  try {
    settings = JSON.parse(text);
  } catch (e) {
    throw new BundleError(`${join(root, ENCODERS)}: not valid JSON (${(e as Error).message})`);
  }
  try {
    // Its messages name the bundle folder and the encoder file at fault.
    const where = { folder: root, settings: join(root, ENCODERS) };
    return readEncoders(settings, (name) => verifiedFile(root, manifest, name), where);
  } catch (e) {
    if (e instanceof BundleError) throw e;
    throw new BundleError((e as Error).message);
  }
}

/** Path of each item's verified image (index = internal id), for the items whose image is bundled. */
function imagePaths(root: string, manifest: BundleManifest, catalog: ItemInfo[]): (string | undefined)[] {
  const images = catalog.map((it) => {
    if (it.image === undefined) return undefined;
    if (/[/\\]|^\.\.?$/.test(it.image))
      throw new BundleError(
        `${join(root, 'catalog.jsonl')}: item ${it.id} has an image name with a path ("${it.image}")`,
      );
    const name = `images/${it.image}`;
    if (!(name in manifest.files)) return undefined;
    verifiedFile(root, manifest, name);
    return join(root, name);
  });
  images.unshift(undefined); // index = internal id
  return images;
}

/** Loads and verifies a bundle, builds its model and precomputes the item side of its scores. */
export function loadBundle(dir: string): Bundle {
  const root = resolve(dir);
  const manifest = readManifest(root);
  const config = readConfig(root, manifest);
  const itemsPath = join(root, 'items.safetensors');
  const data = readItemData(itemsPath, verifiedFile(root, manifest, 'items.safetensors'), manifest);
  const catalog = readCatalog(root, manifest, data.items);
  const model = loadModel(root, manifest, config, data);
  const index = catalogIndex(catalog);
  const insights = readInsights(root, manifest);
  const images = imagePaths(root, manifest, catalog);
  const encoders = readBundleEncoders(root, manifest);
  return {
    dir: root,
    manifest,
    config,
    model,
    data,
    catalog,
    index,
    scorer: model.scorer(),
    insights,
    images,
    ...(encoders && { encoders }),
  };
}
