/**
 * What the service serves: a bundle and the catalog changes stored beside its events (items
 * added, updated or withdrawn while serving). Changes are durable in the event store before
 * they answer, re-applied to every bundle a reload loads, and serialised: one change or reload
 * at a time, each building a complete new generation before it swaps one reference, so a
 * failure at any step leaves the previous generation serving and nothing half-added stored.
 *
 * Generations are built on two model workers in turn (model-worker.ts): the next one on the
 * worker that is not serving, so that building it never holds up the requests being answered.
 * A catalog change reads nothing from disk: it is built on the idle worker once that one keeps
 * the served bundle's load (it loads it in the background at the first change after a load),
 * on the serving worker until then. A worker that stops is replaced; if it was serving, the
 * bundle is reloaded on the other.
 */
import { loadBundleItemsAsync } from './bundle.js';
import { buildGeneration, type Generation, type GenerationOptions } from './generation.js';
import { checkVectors, resolveItem, type ResolvedItem } from './item-content.js';
import { ChangeLog } from './change-log.js';
import { ModelWorker } from './model-worker.js';
import type { EventStore, ItemContent, StoredItem } from './store/event-store.js';

/** How long resolving the stored items may hold the event loop at a time during a load. */
const RESOLVE_SLICE_MS = 2;

export interface ItemWrite {
  /** True when the id was not in the catalog before. */
  created: boolean;
  warnings: string[];
  generation: Generation;
}

export class ServedCatalog {
  private generation!: Generation;
  private bundlePath: string;
  /** Stored changes in storage order, and each one resolved against the served bundle. */
  private stored: StoredItem[] = [];
  private resolved = new Map<string, ResolvedItem>();
  /** The changes of the stored items, as the model workers are sent them. */
  private log = new ChangeLog();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly workers: [ModelWorker, ModelWorker] = [this.newWorker(), this.newWorker()];
  private closed = false;
  /** Hears what a load (at start or on reload) could not use of the stored items. */
  onLoadWarnings: (warnings: string[]) => void = () => {};

  private constructor(
    private readonly store: EventStore,
    private readonly opts: GenerationOptions,
    bundle: string,
  ) {
    this.bundlePath = bundle;
  }

  /** Loads the bundle and applies the store's catalog changes to it. */
  static async open(store: EventStore, bundle: string, opts: GenerationOptions): Promise<ServedCatalog> {
    const c = new ServedCatalog(store, opts, bundle);
    try {
      await c.load(bundle);
    } catch (e) {
      await c.close();
      throw e;
    }
    return c;
  }

  /** Stops the model workers (the service is stopping). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.close()));
  }

  /** What the served bundle does not use of the stored items, one line each (the service logs them at start). */
  loadWarnings(): string[] {
    return [...this.resolved].flatMap(([id, r]) => r.warnings.map((w) => `stored item ${id}: ${w}`));
  }

  current(): Generation {
    return this.generation;
  }

  /** Loads a bundle (default: the one being served) with the stored changes; throws, still serving the old one, when it fails. */
  reload(path?: string): Promise<Generation> {
    return this.serially(async () => {
      const g = await this.load(path ?? this.bundlePath);
      if (path) this.bundlePath = path;
      return g;
    });
  }

  /** Adds an item, or replaces the content an existing one has (fields the content lacks keep their values). */
  putItem(id: string, content: ItemContent): Promise<ItemWrite> {
    return this.serially(async () => {
      const bundle = this.generation.bundle;
      await bundle.loadEncoders();
      checkVectors(bundle, content);
      const before = this.stored.find((s) => s.id === id);
      const merged = mergeContent(before?.content ?? null, content);
      const item: StoredItem = {
        id,
        content: merged,
        withdrawn: before?.withdrawn ?? false,
        updated: Date.now() / 1000,
      };
      const resolved = await resolveItem(bundle, item);
      const created = !this.generation.served.catalog.has(id);
      if (created && !this.generation.model.ranksUnseenItems)
        resolved.warnings.push(
          `${bundle.manifest.model} cannot rank items it was not trained on: the item is in the catalog but is not recommended until a bundle trained with it is served`,
        );
      return { created, warnings: resolved.warnings, generation: await this.commit(item, resolved) };
    });
  }

  /** Withdraws an item from recommendations (or brings it back); it stays known in histories. */
  setWithdrawn(id: string, withdrawn: boolean): Promise<Generation> {
    return this.serially(async () => {
      const before = this.stored.find((s) => s.id === id);
      const item: StoredItem = {
        id,
        content: before?.content ?? null,
        withdrawn,
        updated: Date.now() / 1000,
      };
      return this.commit(item, await resolveItem(this.generation.bundle, item));
    });
  }

  private async load(path: string): Promise<Generation> {
    const bundle = await loadBundleItemsAsync(path, (this.generation as Generation | undefined)?.bundle);
    const stored = await this.store.items();
    const resolved = new Map<string, ResolvedItem>();
    let since = performance.now();
    for (const it of stored) {
      resolved.set(it.id, await resolveItem(bundle, it, 'stored'));
      // Thousands of stored items take a while (0.3 s at 10,000): the event loop runs between slices.
      if (performance.now() - since > RESOLVE_SLICE_MS) {
        await new Promise((r) => setImmediate(r));
        since = performance.now();
      }
    }
    const log = ChangeLog.of(stored.map((s) => [s.id, resolved.get(s.id)!.change]));
    const g = await buildGeneration(bundle, stored, log, this.opts, this.idleWorker());
    this.stored = stored;
    this.resolved = resolved;
    this.log = log;
    this.swap(g);
    this.onLoadWarnings(this.loadWarnings());
    return g;
  }

  /** The worker that does not hold the generation being served (a new one if it has stopped). */
  private idleWorker(): ModelWorker {
    const i = (this.generation as Generation | undefined)?.worker === this.workers[0] ? 1 : 0;
    if (!this.workers[i].alive) this.workers[i] = this.newWorker();
    return this.workers[i];
  }

  /**
   * Where a catalog change is built: on the idle worker when it keeps the served bundle's load;
   * else on the serving one, which does (its requests wait for the build), while the idle one
   * loads the bundle in the background for the changes that follow. A reload not followed by
   * changes costs no second load.
   */
  private changeWorker(): ModelWorker {
    const idle = this.idleWorker();
    const { bundle, bundleVersion, worker } = this.generation;
    if (idle.holds(bundleVersion)) return idle;
    idle.preload(bundle.dir, bundleVersion).catch(() => {});
    return worker;
  }

  private newWorker(): ModelWorker {
    const w: ModelWorker = new ModelWorker((e) => {
      if (this.closed || this.generation?.worker !== w) return;
      // The serving worker stopped: its generation answers nothing any more.
      this.onLoadWarnings([`the model worker stopped (${e.message}): reloading the bundle`]);
      this.reload().catch((err: unknown) =>
        this.onLoadWarnings([`reloading after the model worker stopped failed: ${(err as Error).message}`]),
      );
    });
    return w;
  }

  private swap(g: Generation): void {
    const old = this.generation as Generation | undefined;
    this.generation = g;
    old?.retire();
  }

  /**
   * Applies one item's change: the new generation is built first, then the item is stored,
   * then the generation swapped in; a failure at either step leaves everything as it was.
   */
  private async commit(item: StoredItem, resolved: ResolvedItem): Promise<Generation> {
    const stored = [...this.stored];
    const at = stored.findIndex((s) => s.id === item.id);
    if (at < 0) stored.push(item);
    else stored[at] = item;
    const all = new Map(this.resolved).set(item.id, resolved);
    const previous = this.log.get(item.id);
    this.log.set(item.id, resolved.change);
    let generation: Generation;
    try {
      generation = await buildGeneration(
        this.generation.bundle,
        stored,
        this.log,
        this.opts,
        this.changeWorker(),
      );
      try {
        await this.store.saveItem(item);
      } catch (e) {
        generation.retire();
        throw e;
      }
    } catch (e) {
      this.log.restore(item.id, previous);
      throw e;
    } finally {
      // A worker that has seen none of this log is sent the changes as they are, not entries.
      const seen = this.workers.map((w) => w.seen(this.log)).filter((n) => n > 0);
      this.log.forget(Math.min(this.log.length, ...seen));
    }
    this.stored = stored;
    this.resolved = all;
    this.swap(generation);
    return generation;
  }

  /** Runs `work` after every change or reload before it has finished. */
  private serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/**
 * The content after an update: the new fields over the stored ones. A modality's content
 * replaces its vector and the other way round, so the row follows what was sent last.
 */
function mergeContent(before: ItemContent | null, update: ItemContent): ItemContent {
  const out: ItemContent = { ...(before ?? {}) };
  for (const [k, v] of Object.entries(update)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  const vectors = { ...before?.vectors, ...update.vectors };
  if (update.title !== undefined || update.text !== undefined) if (!update.vectors?.text) delete vectors.text;
  if (update.image !== undefined && !update.vectors?.image) delete vectors.image;
  if (Object.keys(vectors).length) out.vectors = vectors;
  else delete out.vectors;
  return out;
}
