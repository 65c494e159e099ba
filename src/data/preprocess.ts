/**
 * From a raw interaction log to per-user chronological sequences: stable chronological
 * ordering, duplicate handling, iterative k-core filtering and dense internal ids.
 * Everything works on typed arrays (no object per interaction).
 */
import { DataError } from './errors.js';
import type { InteractionColumns } from './types.js';

export type DedupeMode = 'exact' | 'first' | 'none';

export interface PreprocessOptions {
  /**
   * 'exact' drops repeated (user, item, time) records (without timestamps: an item repeated
   * immediately after itself); 'first' keeps only each user's first interaction with an
   * item; 'none' keeps everything.
   */
  dedupe?: DedupeMode;
  /** Minimum interactions per user and per item, applied iteratively until stable (0 = off). */
  kcore?: { user: number; item: number };
}

/** Chronological sequences with dense ids: users 1..U and items 1..N (0 is padding). */
export interface SequenceLog {
  /** userIds[u - 1] is the original id of internal user u. */
  userIds: string[];
  /** itemIds[i - 1] is the original id of internal item i. */
  itemIds: string[];
  /** User u's sequence is items[offsets[u-1] .. offsets[u]). */
  offsets: Int32Array;
  items: Int32Array;
  /** Seconds since the epoch per interaction, or null without timestamps. */
  times: Float64Array | null;
  removed: { duplicates: number; kcore: number; kcoreRounds: number };
}

/** Orders ids numerically when they all are integers (keeps 1..N datasets' ids), else as strings. */
function idOrder(ids: string[], used: Uint8Array): number[] {
  const idx: number[] = [];
  for (let i = 0; i < ids.length; i++) if (used[i]) idx.push(i);
  const numeric = idx.every((i) => /^-?\d{1,15}$/.test(ids[i]));
  if (numeric) idx.sort((a, b) => Number(ids[a]) - Number(ids[b]));
  else idx.sort((a, b) => (ids[a] < ids[b] ? -1 : ids[a] > ids[b] ? 1 : 0));
  return idx;
}

export function preprocess(log: InteractionColumns, opts: PreprocessOptions = {}): SequenceLog {
  checkIndices(log);
  const byUser = groupByUser(log);
  const keep = new Uint8Array(log.user.length).fill(1);
  const duplicates = dropDuplicates(log, byUser, opts.dedupe ?? 'exact', keep);
  const ku = opts.kcore?.user ?? 0;
  const ki = opts.kcore?.item ?? 0;
  const kcore = ku > 1 || ki > 1 ? applyKcore(log, keep, ku, ki) : { removed: 0, rounds: 0 };
  const kept = keep.reduce((n, k) => n + k, 0);
  if (kept === 0) {
    throw new DataError(
      `no interactions are left after preprocessing (${log.user.length} read, ${duplicates} duplicates, ${kcore.removed} removed by ` +
        `the ${ku}/${ki} user/item k-core): lower the k-core thresholds`,
    );
  }
  return {
    ...sequences(log, byUser, keep, kept),
    removed: { duplicates, kcore: kcore.removed, kcoreRounds: kcore.rounds },
  };
}

function checkIndices(log: InteractionColumns): void {
  const U0 = log.userIds.length;
  const I0 = log.itemIds.length;
  for (let r = 0; r < log.user.length; r++) {
    if (!(log.user[r] >= 0 && log.user[r] < U0 && log.item[r] >= 0 && log.item[r] < I0)) {
      throw new DataError(`interaction ${r}: user or item index out of range (an importer bug)`);
    }
  }
}

/** Row numbers grouped by user: user u's rows are order[start[u] .. start[u + 1]), chronological. */
interface ByUser {
  start: Int32Array;
  order: Int32Array;
}

/**
 * Stable grouping by user (a counting sort keeps file order within a user), then each user's
 * rows sorted by time; equal times keep file order.
 */
function groupByUser(log: InteractionColumns): ByUser {
  const n = log.user.length;
  const U0 = log.userIds.length;
  const time = log.time;
  const start = new Int32Array(U0 + 1);
  for (let r = 0; r < n; r++) start[log.user[r] + 1]++;
  for (let u = 0; u < U0; u++) start[u + 1] += start[u];
  const order = new Int32Array(n);
  const fill = start.slice(0, U0);
  for (let r = 0; r < n; r++) order[fill[log.user[r]]++] = r;
  if (time) {
    for (let u = 0; u < U0; u++) {
      const a = start[u];
      const b = start[u + 1];
      let sorted = true;
      for (let j = a + 1; j < b && sorted; j++) if (time[order[j]] < time[order[j - 1]]) sorted = false;
      if (!sorted) {
        const seg = Array.from(order.subarray(a, b));
        seg.sort((x, y) => time[x] - time[y] || x - y);
        order.set(seg, a);
      }
    }
  }
  return { start, order };
}

/** Clears `keep` of each user's duplicate rows; returns how many there were. */
function dropDuplicates(
  log: InteractionColumns,
  { start, order }: ByUser,
  mode: DedupeMode,
  keep: Uint8Array,
): number {
  if (mode === 'none') return 0;
  const time = log.time;
  let duplicates = 0;
  for (let u = 0; u < log.userIds.length; u++) {
    const a = start[u];
    const b = start[u + 1];
    if (mode === 'exact' && !time) {
      // Without times, a duplicate is an item repeated right after itself.
      for (let j = a + 1; j < b; j++) {
        if (log.item[order[j]] === log.item[order[j - 1]]) {
          keep[order[j]] = 0;
          duplicates++;
        }
      }
      continue;
    }
    const seen = new Map<number, number[] | true>();
    for (let j = a; j < b; j++) {
      const r = order[j];
      const it = log.item[r];
      const prev = seen.get(it);
      if (mode === 'first') {
        if (prev) {
          keep[r] = 0;
          duplicates++;
        } else seen.set(it, true);
      } else {
        const t = time![r];
        const times = prev as number[] | undefined;
        if (times?.includes(t)) {
          keep[r] = 0;
          duplicates++;
        } else if (times) times.push(t);
        else seen.set(it, [t]);
      }
    }
  }
  return duplicates;
}

/** The iterative k-core: rounds clear `keep` of rows of users or items below the thresholds until none does. */
function applyKcore(
  log: InteractionColumns,
  keep: Uint8Array,
  ku: number,
  ki: number,
): { removed: number; rounds: number } {
  const n = log.user.length;
  const uc = new Int32Array(log.userIds.length);
  const ic = new Int32Array(log.itemIds.length);
  let total = 0;
  let rounds = 0;
  for (;;) {
    uc.fill(0);
    ic.fill(0);
    for (let r = 0; r < n; r++) {
      if (!keep[r]) continue;
      uc[log.user[r]]++;
      ic[log.item[r]]++;
    }
    let removed = 0;
    for (let r = 0; r < n; r++) {
      if (keep[r] && (uc[log.user[r]] < ku || ic[log.item[r]] < ki)) {
        keep[r] = 0;
        removed++;
      }
    }
    rounds++;
    if (removed === 0) break;
    total += removed;
  }
  return { removed: total, rounds };
}

/** The kept rows as per-user sequences with dense ids (users 1..U, items 1..N). */
function sequences(
  log: InteractionColumns,
  { start, order }: ByUser,
  keep: Uint8Array,
  kept: number,
): Omit<SequenceLog, 'removed'> {
  const userUsed = new Uint8Array(log.userIds.length);
  const itemUsed = new Uint8Array(log.itemIds.length);
  for (let r = 0; r < log.user.length; r++) {
    if (!keep[r]) continue;
    userUsed[log.user[r]] = 1;
    itemUsed[log.item[r]] = 1;
  }
  const userOrder = idOrder(log.userIds, userUsed);
  const itemOrder = idOrder(log.itemIds, itemUsed);
  const itemNew = new Int32Array(log.itemIds.length);
  itemOrder.forEach((old, i) => (itemNew[old] = i + 1));
  const time = log.time;
  const offsets = new Int32Array(userOrder.length + 1);
  const items = new Int32Array(kept);
  const times = time ? new Float64Array(kept) : null;
  let p = 0;
  userOrder.forEach((u, k) => {
    for (let j = start[u]; j < start[u + 1]; j++) {
      const r = order[j];
      if (!keep[r]) continue;
      items[p] = itemNew[log.item[r]];
      if (times) times[p] = time![r];
      p++;
    }
    offsets[k + 1] = p;
  });
  return {
    userIds: userOrder.map((u) => log.userIds[u]),
    itemIds: itemOrder.map((i) => log.itemIds[i]),
    offsets,
    items,
    times,
  };
}
