/**
 * The catalog a service serves, held in a few large values rather than an object per item.
 * A million items as objects (an entry, its strings, a Map of the ids) made every full
 * collection of a serving process mark them all: pauses of 25-120 ms at each reload. Here the
 * ids of each block of 32,768 items are one string, with offsets, found through an
 * open-addressing table of internal ids; an item's entry is parsed from its line of
 * catalog.jsonl when a reply needs it; search runs over one lower-cased string of ids and
 * titles per block. (One string for the whole catalog would be joined in one step: 25 ms at a
 * million items.) Items added or changed while serving lie over the bundle's as a few objects,
 * so growing a catalog copies nothing of it.
 */
import type { ItemInfo } from '../data/dataset.js';
import { runSteps } from '../engine/steps.js';

/** Lines parsed between two yields of a loading service. */
const STEP = 1000;
/**
 * Items per block of strings. Blocks of a few hundred KB live in the engine's large-object
 * space, which the young-generation collector never copies: blocks of 1,000 items (10 KB),
 * arriving from the load worker, made its collections stop the loop for 60-90 ms at a
 * million items.
 */
const BLOCK = 1 << 15;

/**
 * The bundle's items. Internal id i is at position k = i - 1 of every offset array, in block
 * floor(k / BLOCK) of the strings; offsets into strings count from the start of the block.
 */
export interface CatalogColumns {
  size: number;
  /** catalog.jsonl, and where each item's line starts and ends in it. */
  lines: Buffer;
  lineStart: Uint32Array;
  lineEnd: Uint32Array;
  /** The block's ids one after another, and where each ends (it starts where the one before ends). */
  ids: string[];
  idEnd: Uint32Array;
  /** Internal ids by hash of the id (0 = empty), linear probing; length a power of two. */
  slots: Int32Array;
  /** Per item: its id, a separator, its title, a separator, all lower-cased; and where each part starts. */
  search: string[];
  searchStart: Uint32Array;
  titleStart: Uint32Array;
}

/** Items added or changed while serving, over the bundle's. */
interface Overlay {
  /** Entries of the bundle's items that were changed, by internal id. */
  replaced: Map<number, ItemInfo>;
  /** Entries of the added items: internal id size + 1 + k at k. */
  added: ItemInfo[];
  addedIndex: Map<string, number>;
}

/** FNV-1a over the UTF-16 code units of a string. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let k = 0; k < s.length; k++) h = Math.imul(h ^ s.charCodeAt(k), 0x01000193);
  return h >>> 0;
}

/** The catalog fields a served entry keeps, in a fixed order (the long text went into the features). */
export function catalogEntry(it: ItemInfo, image: string | undefined): ItemInfo {
  const out: ItemInfo = { id: it.id };
  if (it.title !== undefined) out.title = it.title;
  if (it.categories?.length) out.categories = it.categories;
  if (image !== undefined) out.image = image;
  return out;
}

/** One line's entry, checked: an object with a string id, an image name without a path. */
function parseEntry(text: string): ItemInfo {
  const it = JSON.parse(text) as ItemInfo;
  if (typeof it !== 'object' || it === null || Array.isArray(it)) throw new Error('not a JSON object');
  if (typeof it.id !== 'string') throw new Error('field "id" must be a string');
  if (it.title !== undefined && typeof it.title !== 'string')
    throw new Error('field "title" must be a string');
  if (
    it.categories !== undefined &&
    !(Array.isArray(it.categories) && it.categories.every((c) => typeof c === 'string'))
  )
    throw new Error('field "categories" must be a list of strings');
  if (it.image !== undefined && (typeof it.image !== 'string' || /[/\\]|^\.\.?$/.test(it.image)))
    throw new Error(`item ${it.id}: field "image" must be a file name without a path`);
  return it;
}

function parseLine(text: string, path: string, line: number): ItemInfo {
  try {
    return parseEntry(text);
  } catch (e) {
    throw new Error(`${path}, line ${line}: ${(e as Error).message}`);
  }
}

/** The strings of a block of items, each made of many short ones. */
class Blocks {
  readonly blocks: string[] = [];
  private parts: string[] = [];
  /** Length of the block so far, in UTF-16 code units. */
  length = 0;

  /** Appends s to the block; returns the block's length after it. */
  add(s: string): number {
    this.parts.push(s);
    return (this.length += s.length);
  }

  /** Ends the block. */
  close(): void {
    this.blocks.push(this.parts.join(''));
    this.parts = [];
    this.length = 0;
  }
}

export class ItemCatalog {
  private constructor(
    private readonly cols: CatalogColumns,
    private readonly overlay: Overlay | null = null,
  ) {}

  /** The catalog of columns parsed elsewhere (load-worker.ts): checked already, nothing to do. */
  static fromColumns(cols: CatalogColumns): ItemCatalog {
    return new ItemCatalog(cols);
  }

  /** The bundle's columns (of a catalog with no changes over it), to send to another thread. */
  columns(): CatalogColumns {
    if (this.overlay) throw new Error('a catalog with changes over it has no columns of its own');
    return this.cols;
  }

  /**
   * The catalog of catalog.jsonl's bytes: `items` entries, one JSON object per line in internal
   * id order (blank lines skipped), every line checked; `path` names the file in errors. In steps
   * of STEP lines. The offsets go into typed arrays sized up front: plain arrays of a million
   * numbers grow by copies that the collector stops the event loop for (0.1-0.2 s each).
   */
  static *parseSteps(lines: Buffer, path: string, items: number): Generator<void, ItemCatalog> {
    if (lines.length >= 2 ** 32) throw new Error(`${path}: larger than 4 GB`);
    const lineStart = new Uint32Array(items);
    const lineEnd = new Uint32Array(items);
    const idEnd = new Uint32Array(items);
    const searchStart = new Uint32Array(items);
    const titleStart = new Uint32Array(items);
    const ids = new Blocks();
    const search = new Blocks();
    let size = 0;
    for (let start = 0, line = 1; start < lines.length; line++) {
      const newline = lines.indexOf(10, start);
      const end = newline < 0 ? lines.length : newline;
      const text = lines.toString('utf8', start, end);
      if (text !== '') {
        if (size === items) throw new Error(`${path}: more than the ${items} items expected`);
        const it = parseLine(text, path, line);
        lineStart[size] = start;
        lineEnd[size] = end;
        idEnd[size] = ids.add(it.id);
        const lowId = it.id.toLowerCase();
        searchStart[size] = search.length;
        titleStart[size] = search.add(lowId + '\n');
        search.add((it.title ?? '').toLowerCase() + '\n');
        if (++size % BLOCK === 0) {
          ids.close();
          search.close();
        }
        if (size % STEP === 0) yield;
      }
      start = end + 1;
    }
    if (size % BLOCK !== 0) {
      ids.close();
      search.close();
    }
    const cols: CatalogColumns = {
      size,
      lines,
      lineStart: lineStart.subarray(0, size),
      lineEnd: lineEnd.subarray(0, size),
      ids: ids.blocks,
      idEnd: idEnd.subarray(0, size),
      slots: new Int32Array(2 ** Math.ceil(Math.log2(2 * size + 2))),
      search: search.blocks,
      searchStart: searchStart.subarray(0, size),
      titleStart: titleStart.subarray(0, size),
    };
    yield;
    const catalog = new ItemCatalog(cols);
    yield* catalog.indexSteps(path);
    return catalog;
  }

  /** Fills the id table, refusing an id met twice. */
  private *indexSteps(path: string): Generator<void> {
    const { slots, size } = this.cols;
    const mask = slots.length - 1;
    for (let i = 1; i <= size; i++) {
      const id = this.id(i);
      const first = this.baseIndexOf(id);
      if (first !== undefined) throw new Error(`${path}: items ${first} and ${i} have the same id "${id}"`);
      let h = hash(id) & mask;
      while (slots[h] !== 0) h = (h + 1) & mask;
      slots[h] = i;
      if (i % (STEP * 5) === 0) yield;
    }
  }

  /** The catalog of these entries (a run served without a bundle, tests). */
  static of(entries: readonly ItemInfo[]): ItemCatalog {
    const lines = Buffer.from(
      entries.map((it) => JSON.stringify(catalogEntry(it, it.image)) + '\n').join(''),
    );
    return runSteps(ItemCatalog.parseSteps(lines, 'catalog', entries.length));
  }

  /** Number of items: internal ids 1..size. */
  get size(): number {
    return this.cols.size + (this.overlay?.added.length ?? 0);
  }

  /** Internal id of an item, or undefined. */
  indexOf(id: string): number | undefined {
    return this.overlay?.addedIndex.get(id) ?? this.baseIndexOf(id);
  }

  has(id: string): boolean {
    return this.indexOf(id) !== undefined;
  }

  /** Original id of internal item i. */
  id(i: number): string {
    const { size, ids, idEnd } = this.cols;
    if (!Number.isInteger(i) || i < 1 || i > size) return this.item(i).id; // added, or a RangeError
    const k = i - 1;
    return ids[(k / BLOCK) | 0].slice(this.idStart(k), idEnd[k]);
  }

  /** Every id in internal id order. */
  ids(): string[] {
    return Array.from({ length: this.size }, (_, k) => this.id(k + 1));
  }

  /** Catalog entry of internal item i (a new object each call). */
  item(i: number): ItemInfo {
    if (!Number.isInteger(i) || i < 1 || i > this.size)
      throw new RangeError(`no item ${i} in a catalog of ${this.size}`);
    const o = this.overlay;
    const c = this.cols;
    if (i > c.size) return { ...o!.added[i - c.size - 1] };
    const replaced = o?.replaced.get(i);
    if (replaced) return { ...replaced };
    const it = JSON.parse(c.lines.toString('utf8', c.lineStart[i - 1], c.lineEnd[i - 1])) as ItemInfo;
    return catalogEntry(it, it.image);
  }

  /** This catalog with changed entries (an id it has) and added ones (an id it lacks), in order. */
  withChanges(changes: readonly ItemInfo[]): ItemCatalog {
    const o: Overlay = {
      replaced: new Map(this.overlay?.replaced),
      added: [...(this.overlay?.added ?? [])],
      addedIndex: new Map(this.overlay?.addedIndex),
    };
    const out = new ItemCatalog(this.cols, o);
    for (const info of changes) {
      const entry = catalogEntry(info, info.image);
      const i = out.indexOf(info.id);
      if (i === undefined) {
        o.added.push(entry);
        o.addedIndex.set(info.id, this.cols.size + o.added.length);
      } else if (i > this.cols.size) o.added[i - this.cols.size - 1] = entry;
      else o.replaced.set(i, entry);
    }
    return out;
  }

  /**
   * Entries whose id starts with, or whose title contains, `query` (case-insensitive): the id
   * matches first (a user pasting ids wants those), then the title matches, each in id order.
   */
  search(query: string, limit: number): ItemInfo[] {
    const q = query.toLowerCase();
    const byId = this.matches(q, limit, (it) => it.id.startsWith(q), 'id');
    const byTitle = this.matches(
      q,
      limit - byId.length,
      (it) => !it.id.startsWith(q) && it.title.includes(q),
      'title',
    );
    return [...byId, ...byTitle].map((i) => this.item(i));
  }

  /** Up to `limit` internal ids, in order, that match: the bundle's by scanning the search text, the overlay's one by one. */
  private matches(
    q: string,
    limit: number,
    overlayMatch: (lowered: { id: string; title: string }) => boolean,
    part: 'id' | 'title',
  ): number[] {
    if (limit <= 0) return [];
    const o = this.overlay;
    const found: number[] = [];
    for (const i of this.scan(q, part)) {
      if (found.length >= limit) break;
      if (!o?.replaced.has(i)) found.push(i);
    }
    if (!o) return found;
    for (const i of o.replaced.keys()) if (overlayMatch(this.lowered(i))) found.push(i);
    for (let i = this.cols.size + 1; i <= this.size; i++) if (overlayMatch(this.lowered(i))) found.push(i);
    return found.sort((a, b) => a - b).slice(0, limit);
  }

  /** The bundle's items, in order, whose lower-cased id starts with (or title contains) q. */
  private *scan(q: string, part: 'id' | 'title'): Generator<number> {
    const { search, size } = this.cols;
    if (q === '') {
      if (part === 'id') for (let i = 1; i <= size; i++) yield i;
      return;
    }
    for (let b = 0; b < search.length; b++) yield* this.scanBlock(q, part, b);
  }

  private *scanBlock(q: string, part: 'id' | 'title', b: number): Generator<number> {
    const { search, searchStart, titleStart, size } = this.cols;
    const text = search[b];
    const first = b * BLOCK;
    const last = Math.min(size, first + BLOCK) - 1;
    const next = (k: number) => (k < last ? searchStart[k + 1] : text.length);
    for (let at = text.indexOf(q); at >= 0;) {
      const k = this.positionAt(at, first, last);
      // The id's room is up to its separator, the title's up to the item's last one.
      const idMatch = text.startsWith(q, searchStart[k]) && q.length < titleStart[k] - searchStart[k];
      if (part === 'id') {
        if (idMatch) yield k + 1;
        at = text.indexOf(q, next(k));
      } else if (at < titleStart[k]) at = text.indexOf(q, titleStart[k]);
      else {
        if (at + q.length < next(k) && !idMatch) yield k + 1;
        at = text.indexOf(q, next(k));
      }
    }
  }

  /** Position of the item (first..last, one block) whose search text holds `at`. */
  private positionAt(at: number, first: number, last: number): number {
    const s = this.cols.searchStart;
    let lo = first;
    let hi = last;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (s[mid] <= at) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Where the id at position k starts in its block's string. */
  private idStart(k: number): number {
    return k % BLOCK === 0 ? 0 : this.cols.idEnd[k - 1];
  }

  /** Item i's id and title, lower-cased (for the items over the bundle's). */
  private lowered(i: number): { id: string; title: string } {
    const it = this.item(i);
    return { id: it.id.toLowerCase(), title: (it.title ?? '').toLowerCase() };
  }

  private baseIndexOf(id: string): number | undefined {
    const { slots, ids, idEnd } = this.cols;
    const mask = slots.length - 1;
    for (let h = hash(id) & mask; ; h = (h + 1) & mask) {
      const i = slots[h];
      if (i === 0) return undefined;
      const from = this.idStart(i - 1);
      if (idEnd[i - 1] - from === id.length && ids[((i - 1) / BLOCK) | 0].startsWith(id, from)) return i;
    }
  }
}
