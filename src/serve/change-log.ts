/**
 * The catalog changes a generation is built with, kept as the entries that made them, so that a
 * model worker is sent only the entries it has not seen yet. Sending every change with every
 * build made the serving thread copy them all (a structured clone) at each item change: 6-20
 * ms at 10,000 added items with 128-d features, growing with them.
 *
 * The changes are each item's last entry, in the order of the item's first entry (an updated
 * item keeps its place, as in the store). An entry that removes an item takes back the one that
 * added it (an addition whose commit failed): it only ever follows that item's first entry, so
 * the order of the others is kept.
 */
import type { ItemChange } from './catalog-growth.js';

/** An item's change (null: the item changes nothing in the bundle), or its removal. */
export type ChangeEntry = { id: string; change: ItemChange | null } | { id: string; remove: true };

/**
 * What a worker is sent: the entries of log `log` from `from` to `to`; or with `reset`, the
 * changes as they are (the worker drops what it had), `to` being the entries they stand for.
 */
export interface ChangeDelta {
  log: number;
  reset: boolean;
  from: number;
  to: number;
  entries: ChangeEntry[];
}

/**
 * A delta cut into deltas of `size` entries at most, sent one message each: a worker sent
 * 10,000 changes at once had the serving thread copy them for 17 ms in one go.
 */
export function deltaParts(d: ChangeDelta, size: number): ChangeDelta[] {
  const parts: ChangeDelta[] = [];
  for (let at = 0; at === 0 || at < d.entries.length; at += size) {
    const entries = d.entries.slice(at, at + size);
    const last = at + size >= d.entries.length;
    // A reset's parts stand for no entries of the log until the last (which all of them make).
    const from = d.reset ? d.from : d.from + at;
    const to = last ? d.to : d.reset ? d.from : from + entries.length;
    parts.push({ log: d.log, reset: d.reset && at === 0, from, to, entries });
  }
  return parts;
}

let nextLog = 1;

export class ChangeLog {
  /** Tells this log from the others of the process (a worker keeps the changes of one). */
  readonly id = nextLog++;
  private readonly current = new Map<string, ItemChange | null>();
  /** Entries from `start` on (those before it were seen by every worker that builds from this log). */
  private entries: ChangeEntry[] = [];
  private start = 0;

  /** A log of these items' changes, in this order. */
  static of(items: Iterable<readonly [string, ItemChange | null]>): ChangeLog {
    const log = new ChangeLog();
    for (const [id, change] of items) log.set(id, change);
    return log;
  }

  /** Entries written so far. */
  get length(): number {
    return this.start + this.entries.length;
  }

  /** The item's change: undefined when the log has none for it. */
  get(id: string): ItemChange | null | undefined {
    return this.current.get(id);
  }

  set(id: string, change: ItemChange | null): void {
    this.entries.push({ id, change });
    this.current.set(id, change);
  }

  /** Takes back the last `set` of `id`; `previous`: what `get(id)` gave before it. */
  restore(id: string, previous: ItemChange | null | undefined): void {
    if (previous !== undefined) return this.set(id, previous);
    this.entries.push({ id, remove: true });
    this.current.delete(id);
  }

  /** The changes, in order (items that change nothing left out). */
  changes(): ItemChange[] {
    return [...this.current.values()].filter((c): c is ItemChange => c !== null);
  }

  /** What a worker that has seen `from` entries of this log is sent (from 0: the changes as they are, not their history). */
  since(from: number): ChangeDelta {
    if (from === 0)
      return {
        log: this.id,
        reset: true,
        from,
        to: this.length,
        entries: [...this.current].map(([id, change]) => ({ id, change })),
      };
    if (from < this.start || from > this.length)
      throw new RangeError(
        `change log ${this.id}: entry ${from} is not kept (${this.start}..${this.length})`,
      );
    return {
      log: this.id,
      reset: false,
      from,
      to: this.length,
      entries: this.entries.slice(from - this.start),
    };
  }

  /** Drops the entries before `seen` (every worker building from this log has seen them). */
  forget(seen: number): void {
    if (seen <= this.start) return;
    this.entries = this.entries.slice(seen - this.start);
    this.start = seen;
  }
}

/** A worker's side: the changes of one log, as received. */
export class ReceivedChanges {
  private log = 0;
  private count = 0;
  private current = new Map<string, ItemChange | null>();

  /** Applies a delta; throws when it does not follow what was received (a bug of the sender). */
  apply(d: ChangeDelta): ItemChange[] {
    if (d.reset) {
      this.log = d.log;
      this.current = new Map();
    } else if (d.log !== this.log || d.from !== this.count)
      throw new Error(
        `changes ${d.log}@${d.from} do not follow the ${this.count} entries of log ${this.log} this worker has`,
      );
    for (const e of d.entries) {
      if ('remove' in e) this.current.delete(e.id);
      else this.current.set(e.id, e.change);
    }
    this.count = d.to;
    return [...this.current.values()].filter((c): c is ItemChange => c !== null);
  }
}
