/**
 * A model worker: a thread that loads a bundle, applies the catalog's changes to it and answers
 * its recommendation calls (recommender.ts), so that building a generation allocates nothing of
 * the model on the serving thread. A reload's model, item table and their garbage live and are
 * collected on this thread's heap: on the serving thread they were the last stalls of a reload
 * (collections and bounded steps of 3-10 ms, docs/serving.md).
 *
 * A worker holds the generations it was asked to build, each under a token, until it is told to
 * release one, so a generation still answering requests after a newer one was swapped in keeps
 * its model. Workers are meant to live as long as the service: one that exits is joined by the
 * serving thread while its heap is torn down (about 0.1 s at a million items, load-worker.ts).
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { loadBundle, type Bundle } from './bundle.js';
import type { Int8Items } from './int8-items.js';
import { BundleError, BundleFileError, bundleErrorOfReply, manifestVersion } from './bundle-manifest.js';
import { WorkerCalls } from './worker-calls.js';
import { growCatalog, type ItemChange } from './catalog-growth.js';
import { deltaParts, ReceivedChanges, type ChangeDelta, type ChangeLog } from './change-log.js';
import {
  Recommender,
  type HistoryRequest,
  type ItemTableMode,
  type RecommendationList,
  type RecommendedItem,
} from './recommender.js';

const KIND = 'cammsr model worker';

/** Changes sent per message (about 1 ms of copying on the serving thread at 128-d features). */
const CHANGES_PER_MESSAGE = 500;

/** What a generation is built from: the bundle, as the serving thread verified it, and the catalog's changes. */
export interface ModelBuild {
  dir: string;
  /** manifestVersion of the bundle the serving thread loaded: the worker must load the same one. */
  version: string;
  /** The worker is sent only the entries it has not seen (change-log.ts). */
  changes: ChangeLog;
  itemTable: ItemTableMode;
}

/** What the serving thread needs to know of a built generation's model. */
export interface BuiltModel {
  /** Items of the grown catalog. */
  items: number;
  /** Registry name of the model. */
  kind: string;
  /** The most recent history items it reads. */
  maxLen: number;
  ranksUnseenItems: boolean;
  /** The modalities its scores split into (models/model.ts Scorer.blocks), in order. */
  modalities: string[];
}

/** What the serving thread asks (a Job with its reply's id). */
type Request =
  | ({ kind: 'build'; token: number; changes: ChangeDelta } & Omit<ModelBuild, 'changes'>)
  | { kind: 'recommend'; token: number; requests: readonly HistoryRequest[] }
  | { kind: 'similar'; token: number; item: string; k: number }
  | { kind: 'release'; token: number }
  | { kind: 'changes'; changes: ChangeDelta }
  | { kind: 'preload'; dir: string; version: string };

type Job = { id: number } & Request;

/** Where an error came from: the bundle (its load; 'file': a file of it gone or changed), the build over a loaded bundle, or elsewhere. */
type ErrorKind = 'bundle' | 'file' | 'build' | 'other';

type Reply = { id: number } & ({ value: unknown } | { error: string; kind: ErrorKind });

/** A build failed over a bundle the worker loaded and keeps (the catalog's changes, not the bundle, were at fault). */
export class BuildError extends Error {
  override name = 'BuildError';
}

/** The serving thread's side: one long-lived worker, and the generations it holds. */
export class ModelWorker {
  private readonly calls: WorkerCalls<Reply>;
  private nextToken = 1;
  /**
   * The bundle version whose load this worker keeps (or is loading), as far as the serving
   * thread knows: a build of that version reads nothing from disk.
   */
  private base: string | null = null;
  /** How many entries of which change log the worker has been sent (null: none it keeps). */
  private sent: { log: number; count: number } | null = null;

  /** `onGone`: hears, once, that the thread stopped (a crash; not close). */
  constructor(onGone: (e: Error) => void = () => {}) {
    const script = new URL('./model-worker.js', import.meta.url);
    this.calls = new WorkerCalls<Reply>(script, { kind: KIND }, 'model worker', onGone);
  }

  /** False once the thread has stopped (crashed or closed): it answers nothing any more. */
  get alive(): boolean {
    return this.calls.gone === null;
  }

  /** Whether a build of this bundle version needs no read of the bundle (the worker keeps its load). */
  holds(version: string): boolean {
    return this.alive && this.base === version;
  }

  /** Builds a generation; resolves to its token, or rejects (a BundleError when the bundle is at fault). */
  async build(b: ModelBuild): Promise<{ token: number; built: BuiltModel }> {
    const token = this.nextToken++;
    const { dir, version, changes, itemTable } = b;
    const parts = deltaParts(changes.since(this.seen(changes)), CHANGES_PER_MESSAGE);
    const last = parts.pop()!;
    this.sent = { log: last.log, count: last.to };
    const built = (await (async () => {
      // The first parts alone, each answered before the next is copied: the event loop runs between.
      for (const part of parts) await this.call({ kind: 'changes', changes: part });
      return this.loading(version, { kind: 'build', token, dir, version, changes: last, itemTable });
    })().catch((e: unknown) => {
      // A failed build or bundle still took the entries in; anything else may not have.
      if (!(e instanceof BuildError || e instanceof BundleError)) this.sent = null;
      throw e;
    })) as BuiltModel;
    return { token, built };
  }

  /** How many entries of this change log the worker has been sent. */
  seen(log: ChangeLog): number {
    return this.sent?.log === log.id ? this.sent.count : 0;
  }

  /** Loads a bundle and keeps it, so that a later build of it (a catalog change) reads nothing. */
  async preload(dir: string, version: string): Promise<void> {
    await this.loading(version, { kind: 'preload', dir, version });
  }

  /** A call that makes the worker load `version`: it holds that version after, or nothing if the load failed. */
  private async loading(version: string, job: Request): Promise<unknown> {
    this.base = version;
    try {
      return await this.call(job);
    } catch (e) {
      if (this.base === version && !(e instanceof BuildError)) this.base = null;
      throw e;
    }
  }

  recommend(token: number, requests: readonly HistoryRequest[]): Promise<RecommendationList[]> {
    return this.call({ kind: 'recommend', token, requests }) as Promise<RecommendationList[]>;
  }

  similar(token: number, item: string, k: number): Promise<RecommendedItem[] | undefined> {
    return this.call({ kind: 'similar', token, item, k }) as Promise<RecommendedItem[] | undefined>;
  }

  /** Lets the worker drop a generation (its heap collects it, not the serving thread's). */
  release(token: number): Promise<void> {
    return this.call({ kind: 'release', token }).then(() => undefined);
  }

  /** Stops the thread (a service that stops; not between generations: see the file's comment). */
  close(): Promise<void> {
    return this.calls.close(new Error('the model worker was closed'));
  }

  private call(job: Request): Promise<unknown> {
    return this.calls.call(job, [], (m) => {
      if (!('error' in m)) return m.value;
      if (m.kind === 'bundle' || m.kind === 'file') throw bundleErrorOfReply(m.error, m.kind === 'file');
      throw m.kind === 'build' ? new BuildError(m.error) : new Error(m.error);
    });
  }
}

/** The worker's side: the generations it holds, by token. */
const held = new Map<number, Recommender>();
/**
 * The bundle this worker loaded last, as loaded (before any change): a catalog change builds
 * from it instead of reading the bundle again (seconds at a million items).
 */
let base: { dir: string; version: string; bundle: Bundle } | null = null;
/** The 8-bit table of the last generation built: kept by the next when its item table is the same. */
let lastInt8: Int8Items | null = null;
/** The catalog's changes as received, a build's entries at a time. */
const received = new ReceivedChanges();

/** Drops a generation; the 8-bit table it made goes with it (not kept for the next build). */
function release(token: number): boolean {
  const r = held.get(token);
  if (r && r.int8 === lastInt8) lastInt8 = null;
  return held.delete(token);
}

function built(token: number): Recommender {
  const r = held.get(token);
  if (!r) throw new Error(`the model worker holds no generation ${token}`);
  return r;
}

function loaded(dir: string, expected: string): Bundle {
  if (base?.dir === dir && base.version === expected) return base.bundle;
  base = null; // the old one is not kept while the new one loads
  lastInt8 = null; // nor the 8-bit table of one of its generations
  const bundle = loadBundle(dir);
  const version = manifestVersion(bundle.manifest);
  if (version !== expected)
    throw new BundleError(
      `${dir}: the bundle changed while it was loading (version ${version}, the service loaded ${expected}); reload again`,
    );
  base = { dir, version, bundle };
  return bundle;
}

/**
 * The recommender of a bundle with the catalog's changes applied; `previous`: the 8-bit table of
 * the generation it follows, kept when the item table is the same (a withdrawal changes no row).
 */
export function grownRecommender(
  bundle: Bundle,
  changes: readonly ItemChange[],
  itemTable: ItemTableMode,
  previous: Int8Items | null,
): Recommender {
  return new Recommender(growCatalog(bundle, bundle.config, changes), itemTable, previous);
}

function build(job: Omit<ModelBuild, 'changes'> & { token: number; changes: ChangeDelta }): BuiltModel {
  // First, so that the entries are taken in whatever happens to the build (the sender counts them).
  const changes = received.apply(job.changes);
  const bundle = loaded(job.dir, job.version);
  let recommender: Recommender;
  try {
    recommender = grownRecommender(bundle, changes, job.itemTable, lastInt8);
  } catch (e) {
    throw new BuildError((e as Error).message);
  }
  held.set(job.token, recommender);
  lastInt8 = recommender.int8;
  const { model, scorer } = recommender.bundle;
  return {
    items: recommender.items,
    kind: model.kind,
    maxLen: model.maxLen,
    ranksUnseenItems: model.ranksUnseenItems,
    modalities: scorer.blocks?.map((b) => b.name) ?? [],
  };
}

function work(job: Job): void {
  const port = parentPort!;
  try {
    let value: unknown;
    if (job.kind === 'build') value = build(job);
    else if (job.kind === 'recommend') value = built(job.token).recommend(job.requests);
    else if (job.kind === 'similar') value = built(job.token).similar(job.item, job.k);
    else if (job.kind === 'preload') value = void loaded(job.dir, job.version);
    else if (job.kind === 'changes') value = void received.apply(job.changes);
    else value = release(job.token);
    port.postMessage({ id: job.id, value } satisfies Reply);
  } catch (e) {
    const kind: ErrorKind =
      e instanceof BundleFileError
        ? 'file'
        : e instanceof BundleError
          ? 'bundle'
          : e instanceof BuildError
            ? 'build'
            : 'other';
    port.postMessage({ id: job.id, error: (e as Error).message, kind } satisfies Reply);
  }
}

if (!isMainThread && (workerData as { kind?: string } | undefined)?.kind === KIND)
  parentPort!.on('message', work);
