/**
 * Building InteractionColumns row by row with little memory per row: ids are interned to
 * dense integers, and rows go into growable typed arrays (no JS object per row).
 */
import type { InteractionColumns } from '../types.js';

/**
 * V8 throws "Map maximum size exceeded" at 2^24 entries; some catalogs have more users than
 * that (Amazon 2023 Clothing: ~22M), so past this size a new Map is chained.
 */
const MAX_MAP_SIZE = 1 << 23;

/** Maps strings to dense ids 0, 1, 2, ... in first-seen order. */
export class Interner {
  /** The interned strings; `values[id]` is the string of `id`. */
  readonly values: string[] = [];
  private readonly maps: Map<string, number>[] = [new Map()];

  /** `maxMapSize` only exists so that tests can exercise the chaining. */
  constructor(private readonly maxMapSize = MAX_MAP_SIZE) {}

  get size(): number {
    return this.values.length;
  }

  /** The id of `s`, or undefined when it was never interned. */
  get(s: string): number | undefined {
    const maps = this.maps;
    for (let i = 0; i < maps.length; i++) {
      const id = maps[i].get(s);
      if (id !== undefined) return id;
    }
    return undefined;
  }

  /** The id of `s`, interning it when new. */
  intern(s: string): number {
    const found = this.get(s);
    if (found !== undefined) return found;
    let last = this.maps[this.maps.length - 1];
    if (last.size >= this.maxMapSize) {
      last = new Map();
      this.maps.push(last);
    }
    const id = this.values.length;
    last.set(s, id);
    this.values.push(s);
    return id;
  }
}

/**
 * Accumulates (user, item, time) rows. Either every row has a time or none has: a log with
 * some rows undated has no usable order, so mixing is an error the importer must avoid
 * (skip the undated rows, or drop all times).
 */
export class ColumnBuilder {
  readonly users: Interner;
  readonly items: Interner;
  private user: Int32Array;
  private item: Int32Array;
  private time: Float64Array | null = null;
  /** Whether rows carry a time; decided by the first row. */
  private timed: boolean | null = null;
  private n = 0;
  private built = false;
  // Dumps are often grouped by item or user: a one-entry cache skips most Map lookups then.
  private lastUser = '';
  private lastUserId = -1;
  private lastItem = '';
  private lastItemId = -1;

  constructor(initialCapacity = 1024, maxMapSize?: number) {
    const cap = Math.max(1, Math.floor(initialCapacity));
    this.user = new Int32Array(cap);
    this.item = new Int32Array(cap);
    this.users = new Interner(maxMapSize);
    this.items = new Interner(maxMapSize);
  }

  /** Rows added so far. */
  get rows(): number {
    return this.n;
  }

  /** Whether `item` occurs in some row (importers use it to keep only relevant metadata). */
  hasItem(item: string): boolean {
    return this.items.get(item) !== undefined;
  }

  /** Appends a row. `time` is in seconds since the Unix epoch, or null when unknown. */
  add(user: string, item: string, time: number | null): void {
    if (this.built) throw new Error('ColumnBuilder: add() after build()');
    const timed = time !== null;
    if (this.timed === null) this.timed = timed;
    else if (this.timed !== timed) {
      throw new Error(
        `ColumnBuilder: row ${this.n} ${timed ? 'has' : 'has no'} time but earlier rows ` +
          `${timed ? 'have none' : 'have one'}; either every row has a time or none has`,
      );
    }
    if (timed && !Number.isFinite(time)) throw new RangeError(`ColumnBuilder: row ${this.n}: time ${time}`);
    const r = this.n;
    if (r === this.user.length) this.grow();
    if (user !== this.lastUser || this.lastUserId < 0) {
      this.lastUser = user;
      this.lastUserId = this.users.intern(user);
    }
    if (item !== this.lastItem || this.lastItemId < 0) {
      this.lastItem = item;
      this.lastItemId = this.items.intern(item);
    }
    this.user[r] = this.lastUserId;
    this.item[r] = this.lastItemId;
    if (timed) {
      if (this.time === null) this.time = new Float64Array(this.user.length);
      this.time[r] = time;
    }
    this.n = r + 1;
  }

  /**
   * The columns, trimmed to the number of rows (copied once so the spare capacity is freed).
   * The builder hands over its id arrays and cannot be used afterwards.
   */
  build(): InteractionColumns {
    if (this.built) throw new Error('ColumnBuilder: build() called twice');
    this.built = true;
    const n = this.n;
    const trim = <T extends Int32Array | Float64Array>(a: T): T =>
      a.length === n ? a : (a.slice(0, n) as T);
    const out: InteractionColumns = {
      userIds: this.users.values,
      itemIds: this.items.values,
      user: trim(this.user),
      item: trim(this.item),
      time: this.time === null ? null : trim(this.time),
    };
    // Drop references so the untrimmed buffers can be collected.
    this.user = new Int32Array(0);
    this.item = new Int32Array(0);
    this.time = null;
    return out;
  }

  private grow(): void {
    // x1.5 rather than x2: at hundreds of millions of rows the spare capacity matters.
    const cap = Math.max(16, Math.ceil(this.user.length * 1.5));
    const u = new Int32Array(cap);
    u.set(this.user);
    this.user = u;
    const it = new Int32Array(cap);
    it.set(this.item);
    this.item = it;
    if (this.time !== null) {
      const t = new Float64Array(cap);
      t.set(this.time);
      this.time = t;
    }
  }
}
