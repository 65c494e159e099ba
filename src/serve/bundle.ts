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
import { replaceDirectory, stagingDir } from '../data/dataset.js';
import { readEncoders } from '../data/features/encoder-files.js';
import type { ContentEncoders } from '../data/features/item-encoders.js';
import {
  decodeSafetensorsSteps,
  encodeParameters,
  encodeSafetensors,
  loadParameterBytesSteps,
  loadParameterFile,
  type NamedArray,
} from '../engine/io/safetensors.js';
import type { ItemFeatures, ModelData, Scorer, SequentialRecommender } from '../models/model.js';
import { runSteps, scorerSteps } from '../models/model.js';
import { createModel } from '../train/create-model.js';
import { learnedWeights, type LearnedWeights } from '../train/learned-weights.js';
import { parseStoredConfig, type RunConfig } from '../config/index.js';
import { modelData } from '../train/model-data.js';
import { loadRun } from '../train/trainer.js';
import { VERSION } from '../version.js';
import { BundleFiles, readVerifiedAsync } from './bundle-files.js';
import { catalogEntry, ItemCatalog } from './item-catalog.js';
import { parseCatalogOffThread } from './load-worker.js';
import {
  BUNDLE_FORMAT,
  BUNDLE_FORMAT_VERSION,
  asBundleError,
  asBundleErrorSteps,
  BundleError,
  MANIFEST,
  readManifest,
  type BundleManifest,
} from './bundle-manifest.js';

export { BUNDLE_FORMAT, BUNDLE_FORMAT_VERSION, BundleError, readManifest, type BundleManifest };

/** What the model learned, as logged at the best epoch (CAMMSR with category guidance). */
export type Insights = LearnedWeights;

/**
 * What the serving thread reads of the item data: the counts, the popularity and which items
 * have each modality (the feature tables and category labels are the model's, on its worker).
 */
export type ServedItemData = Omit<ModelData, 'text' | 'image' | 'categories'> & {
  text?: { dim: number; mask: Uint8Array };
  image?: { dim: number; mask: Uint8Array };
};

/** The item side of what is served: the catalog and the item data, without the model. */
export interface ServedItems {
  data: ServedItemData;
  /** The items' ids and catalog entries (internal ids 1..N). */
  catalog: ItemCatalog;
  insights: Insights;
  /** 1 = never recommend item i: withdrawn, or added while serving to a model that cannot rank unseen items. */
  unavailable?: Uint8Array;
  /** 1 = item i was added while serving (it has no trained embedding). */
  added?: Uint8Array;
}

/** What recommending needs: the model in evaluation mode, its item side precomputed, and the catalog. */
export interface ServableModel extends ServedItems {
  data: ModelData;
  model: SequentialRecommender;
  scorer: Scorer;
}

/**
 * A loaded bundle without its model: what a service's serving thread holds when the model lives
 * on a model worker (model-worker.ts), with the manifest, configuration and images.
 */
export interface BundleItems extends ServedItems {
  /** The item data as the bundle's file holds it. */
  data: ModelData;
  dir: string;
  manifest: BundleManifest;
  config: RunConfig;
  /**
   * The dataset's fitted content encoders, for new items; absent when the bundle has none.
   * Parsed on first use: a service awaits `loadEncoders()` first, so that the files are read
   * off the event loop.
   */
  encoders?: ContentEncoders;
  /** The encoders, their files read and checked off the event loop the first time. */
  loadEncoders(): Promise<ContentEncoders | undefined>;
}

/** A loaded bundle: what recommending needs, with its manifest, configuration and images. */
export interface Bundle extends BundleItems, ServableModel {}

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');
const ENCODERS = 'encoders.json';

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
  ds.close(); // the sequences were read for the popularity counts; a bundle needs nothing else of them
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
  return {
    model,
    data,
    // The dataset's image paths are not a bundle's file names: a run has no images to serve.
    catalog: ItemCatalog.of(ds.content.items.map((it) => catalogEntry(it, undefined))),
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

function* readItemData(path: string, bytes: Buffer, m: BundleManifest): Generator<void, ModelData> {
  // The feature tables are views of the file's bytes (read once, never written): a reload
  // neither copies nor allocates them.
  const { tensors } = yield* asBundleErrorSteps(decodeSafetensorsSteps(bytes, path, { views: true }));
  const N = m.dataset.items;
  const n = N + 1;
  const get = (name: string, size?: number): Float32Array | undefined => {
    const t = tensors.get(name);
    if (t && size !== undefined && t.data.length !== size)
      throw new BundleError(`${path}: tensor "${name}" has ${t.data.length} values, expected ${size}`);
    return t?.data;
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
    const offsets = yield* intsSteps(path, 'categories.offsets', offs, Infinity);
    const lab = yield* intsSteps(path, 'categories.labels', labels, C);
    if (offsets[n] !== lab.length)
      throw new BundleError(`${path}: category labels do not match their offsets or the ${C} categories`);
    categories = { count: C, offsets, labels: lab };
  }
  const pop = get('popularity', n);
  // A yield after each conversion: each is a few milliseconds at a million items.
  const text = features('text');
  yield;
  const image = features('image');
  yield;
  return {
    items: N,
    text,
    image,
    categories,
    timestamps: m.dataset.timestamps,
    popularity: pop ? Float64Array.from(pop) : undefined,
  };
}

/** Values converted between two yields of a loading service (a millisecond or two). */
const INTS_PER_STEP = 1 << 18;

/**
 * A tensor of non-negative integers below `bound` (category labels: the number of categories)
 * as an Int32Array, a block of values per step: 2.5 million labels at a million items took 40 ms.
 */
function* intsSteps(path: string, name: string, a: Float32Array, bound: number): Generator<void, Int32Array> {
  const out = new Int32Array(a.length);
  for (let s = 0; s < a.length; s += INTS_PER_STEP) {
    const e = Math.min(a.length, s + INTS_PER_STEP);
    for (let i = s; i < e; i++) {
      const v = a[i];
      if (!(Number.isInteger(v) && v >= 0))
        throw new BundleError(`${path}: tensor "${name}" must hold non-negative integers`);
      if (v >= bound)
        throw new BundleError(
          `${path}: category labels do not match their offsets or the ${bound} categories`,
        );
      out[i] = v;
    }
    yield;
  }
  return out;
}

/** The run's configuration, verified against the manifest. */
function readConfig(files: BundleFiles): RunConfig {
  const cfgPath = join(files.root, 'config.json');
  return asBundleError(
    () => parseStoredConfig(JSON.parse(files.get('config.json').toString('utf8')), cfgPath),
    (m) => `${cfgPath}: ${m}`,
  );
}

/** The catalog, every line checked, with as many entries as the manifest says. */
function* readCatalog(files: BundleFiles): Generator<void, ItemCatalog> {
  const path = join(files.root, 'catalog.jsonl');
  const items = files.manifest.dataset.items;
  const steps = ItemCatalog.parseSteps(files.get('catalog.jsonl'), path, items);
  return fullCatalog(files, yield* asBundleErrorSteps(steps));
}

/** readCatalog on the load worker (load-worker.ts), for a service answering requests meanwhile. */
async function readCatalogOffThread(files: BundleFiles): Promise<ItemCatalog> {
  const m = files.manifest;
  return fullCatalog(
    files,
    await parseCatalogOffThread(files.root, 'catalog.jsonl', m.files['catalog.jsonl'], m.dataset.items),
  );
}

function fullCatalog(files: BundleFiles, catalog: ItemCatalog): ItemCatalog {
  const items = files.manifest.dataset.items;
  if (catalog.size !== items)
    throw new BundleError(
      `${join(files.root, 'catalog.jsonl')}: ${catalog.size} items, the manifest says ${items}`,
    );
  return catalog;
}

/** Builds the model, loads its verified weights (when it has any) and puts it in evaluation mode. */
function* loadModel(
  files: BundleFiles,
  config: RunConfig,
  data: ModelData,
): Generator<void, SequentialRecommender> {
  const model = createModel(config, data, { loadsWeights: true });
  yield; // building the model, then its weights: copied 1 MB a step, or read from the file
  if (model.trainable) {
    if (!('weights.safetensors' in files.manifest.files))
      throw new BundleError(
        `${join(files.root, MANIFEST)}: a ${model.kind} bundle needs weights.safetensors`,
      );
    const name = 'weights.safetensors';
    if (files.isPrefetched(name))
      yield* asBundleErrorSteps(loadParameterBytesSteps(model, files.get(name), join(files.root, name)));
    // Read from the file into the parameters (a model worker's load): no copy of the file.
    else
      asBundleError(() =>
        files.readChecked(name, (path, onBytes) => loadParameterFile(model, path, onBytes)),
      );
  }
  model.eval();
  return model;
}

/** What the model learned, verified against the manifest, for explanations. */
function readInsights(files: BundleFiles): Insights {
  // Bundles of the first releases of format 1 had no insights.json: no explanations then.
  if (!('insights.json' in files.manifest.files)) return { categoryWeights: [], gates: {} };
  const path = join(files.root, 'insights.json');
  const text = files.get('insights.json').toString('utf8');
  return asBundleError(
    () => JSON.parse(text) as Insights,
    (m) => `${path}: not valid JSON (${m})`,
  );
}

/** The files of the dataset's content encoders (their settings, then what the settings name). */
function encoderFileNames(manifest: BundleManifest): string[] {
  return Object.keys(manifest.files).filter((f) => f === ENCODERS || f.startsWith('encoders.'));
}

/** The dataset's content encoders, verified against the manifest; undefined when the bundle has none. */
function readBundleEncoders(files: BundleFiles): ContentEncoders | undefined {
  if (!(ENCODERS in files.manifest.files)) return undefined;
  const settingsPath = join(files.root, ENCODERS);
  const text = files.get(ENCODERS).toString('utf8');
  const settings: unknown = asBundleError(
    () => JSON.parse(text),
    (m) => `${settingsPath}: not valid JSON (${m})`,
  );
  // Its messages name the bundle folder and the encoder file at fault.
  return asBundleError(() =>
    readEncoders(settings, (name) => files.get(name), { folder: files.root, settings: settingsPath }),
  );
}

/**
 * The image of the bundle's item i, read and checked against the manifest off the event loop,
 * with its file name; undefined when the bundle has none for it.
 */
export async function readBundleImage(
  bundle: BundleItems,
  i: number,
): Promise<{ bytes: Buffer; name: string } | undefined> {
  const name = i <= bundle.catalog.size ? bundle.catalog.item(i).image : undefined;
  if (name === undefined || !(`images/${name}` in bundle.manifest.files)) return undefined;
  return { bytes: await readVerifiedAsync(bundle.dir, bundle.manifest, `images/${name}`), name };
}

/**
 * The steps of loading a bundle's item side (all but the model), each a bounded piece of work: a
 * service loading one while it answers requests yields to them between steps. The encoders
 * (with word vectors, hundreds of MB) are parsed when first used: only a catalog change needs them.
 */
function* itemSteps(
  files: BundleFiles,
  parsedCatalog?: ItemCatalog,
  decodedData?: ModelData,
): Generator<void, BundleItems> {
  const config = readConfig(files);
  yield;
  const data =
    decodedData ??
    (yield* readItemData(
      join(files.root, 'items.safetensors'),
      files.get('items.safetensors'),
      files.manifest,
    ));
  yield;
  const catalog = parsedCatalog ?? (yield* readCatalog(files));
  yield;
  let encoders: ContentEncoders | undefined | null = null;
  let loading: Promise<ContentEncoders | undefined> | null = null;
  return {
    dir: files.root,
    manifest: files.manifest,
    config,
    data,
    catalog,
    insights: readInsights(files),
    get encoders() {
      if (encoders === null) encoders = readBundleEncoders(files);
      return encoders;
    },
    loadEncoders() {
      loading ??= (async () => {
        if (encoders === null) {
          const names = encoderFileNames(files.manifest);
          await files.prefetch(names);
          // The getter may have parsed them meanwhile: then the prefetched copies are not needed.
          if (encoders === null) encoders = readBundleEncoders(files);
          else files.forget(names);
        }
        return encoders;
      })().catch((e: unknown) => {
        loading = null; // a failed read (I/O) is retried by the next caller
        throw e;
      });
      return loading;
    },
  };
}

/** The steps of loading a whole bundle: its item side, then the model and its item table. */
function* bundleSteps(files: BundleFiles, parsedCatalog?: ItemCatalog): Generator<void, Bundle> {
  const items = yield* itemSteps(files, parsedCatalog);
  const model = yield* loadModel(files, items.config, items.data);
  yield;
  const scorer = yield* scorerSteps(model);
  // Defined onto the loaded object, not spread: spreading would call its `encoders` getter.
  return Object.defineProperties(items, {
    model: { value: model, enumerable: true, writable: true, configurable: true },
    scorer: { value: scorer, enumerable: true, writable: true, configurable: true },
  }) as Bundle;
}

/** Loads and verifies a bundle, builds its model and precomputes the item side of its scores. */
export function loadBundle(dir: string): Bundle {
  const root = resolve(dir);
  return runSteps(bundleSteps(new BundleFiles(root, readManifest(root))));
}

/**
 * loadBundle for a service that is answering requests meanwhile: the files are read and
 * checked on the thread pool, and the building steps give the event loop back between them.
 * Every file (encoders included) is checked before the bundle is returned.
 */
export async function loadBundleAsync(dir: string): Promise<Bundle> {
  const root = resolve(dir);
  const files = await prefetchedFiles(root, readManifest(root), ['items.safetensors', 'weights.safetensors']);
  return runStepsYielding(bundleSteps(files, await readCatalogOffThread(files)));
}

/**
 * A bundle's item side for a service whose model is built on a model worker (which reads and
 * checks the weights itself): the files read and checked off the serving thread, the building
 * steps yielding between them. The encoders' files are checked too. `previous`: the item side
 * being served; its catalog and item data are taken as they are when the new bundle's files
 * have the same checksums (a model retrained over the same catalog), instead of read again.
 */
export async function loadBundleItemsAsync(dir: string, previous?: BundleItems): Promise<BundleItems> {
  const root = resolve(dir);
  const manifest = readManifest(root);
  const same = (name: string) => previous !== undefined && sameItemFile(previous.manifest, manifest, name);
  const data = same('items.safetensors') ? previous!.data : undefined;
  const files = await prefetchedFiles(root, manifest, data ? [] : ['items.safetensors']);
  const catalog = same('catalog.jsonl') ? previous!.catalog : await readCatalogOffThread(files);
  return runStepsYielding(itemSteps(files, catalog, data));
}

/**
 * Whether a bundle's item file decodes as another's did: the same bytes, and the same dataset
 * facts its decoding reads (the number of items, the category names, timestamps or not).
 */
function sameItemFile(a: BundleManifest, b: BundleManifest, name: string): boolean {
  const facts = (m: BundleManifest) =>
    JSON.stringify([m.dataset.items, m.dataset.categories, m.dataset.timestamps]);
  return a.files[name] !== undefined && a.files[name] === b.files[name] && facts(a) === facts(b);
}

/** A bundle's files with the ones every load reads (and `more`) read and checked, the encoders' checked. */
async function prefetchedFiles(root: string, manifest: BundleManifest, more: string[]): Promise<BundleFiles> {
  const files = new BundleFiles(root, manifest);
  await files.prefetch(['config.json', 'insights.json', ...more]);
  await files.verify(encoderFileNames(files.manifest));
  return files;
}

/** Runs a generator of steps to its end, giving the event loop back between steps. */
export async function runStepsYielding<T>(steps: Generator<void, T>): Promise<T> {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await new Promise((r) => setImmediate(r));
  }
}
