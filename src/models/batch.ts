/**
 * Turning item sequences into packed batches (see SequenceBatch). With timestamps, each row
 * also gets the bucketed gap to the previous interaction, including the one just before the
 * window when the sequence was truncated.
 */
import { timeGapBucket, type SequenceBatch } from './model.js';

/**
 * The later items a prefix sample carries (SequenceBatch.future). MOCA weighs the j-th by 0.5^j:
 * past 32 items the weights are below 2^-32 of the first, under float32's resolution.
 */
export const FUTURE_ITEMS = 32;

interface Window {
  items: Int32Array;
  targets?: Int32Array;
  /** Seconds of each item and of the one before the window (NaN when there is none). */
  times?: Float64Array;
  before?: number;
  /** Prefix samples: the items after the window, nearest first. */
  future?: Int32Array;
}

function pack(windows: Window[]): SequenceBatch {
  const offsets = new Int32Array(windows.length + 1);
  windows.forEach((w, b) => (offsets[b + 1] = offsets[b] + w.items.length));
  const R = offsets[windows.length];
  const items = new Int32Array(R);
  const positions = new Int32Array(R);
  const targets = new Int32Array(R);
  const timed = windows.some((w) => w.times);
  const gaps = timed ? new Int32Array(R) : undefined;
  windows.forEach((w, b) => {
    const o = offsets[b];
    items.set(w.items, o);
    if (w.targets) targets.set(w.targets, o);
    for (let i = 0; i < w.items.length; i++) {
      positions[o + i] = i;
      if (gaps && w.times) {
        const prev = i > 0 ? w.times[i - 1] : (w.before ?? NaN);
        gaps[o + i] = Number.isNaN(prev) ? 0 : timeGapBucket(w.times[i] - prev);
      }
    }
  });
  const future = packFuture(windows);
  return { size: windows.length, offsets, items, positions, targets, gaps, ...(future && { future }) };
}

function packFuture(windows: Window[]): SequenceBatch['future'] {
  if (!windows.some((w) => w.future)) return undefined;
  const offsets = new Int32Array(windows.length + 1);
  windows.forEach((w, b) => (offsets[b + 1] = offsets[b] + (w.future?.length ?? 0)));
  const items = new Int32Array(offsets[windows.length]);
  windows.forEach((w, b) => w.future && items.set(w.future, offsets[b]));
  return { offsets, items };
}

/**
 * One training window per sequence: inputs = seq[:-1], targets = seq[1:], keeping the most
 * recent `maxLen` positions. Sequences shorter than 2 items give an empty window.
 */
export function trainingBatch(
  seqs: readonly Int32Array[],
  maxLen: number,
  times?: readonly (Float64Array | null)[],
): SequenceBatch {
  return pack(
    seqs.map((s, b) => {
      const n = Math.max(0, Math.min(maxLen, s.length - 1));
      const start = s.length - 1 - n;
      const t = times?.[b];
      return {
        items: s.subarray(start, start + n),
        targets: s.subarray(start + 1, start + 1 + n),
        times: t ? t.subarray(start, start + n) : undefined,
        before: t && start > 0 ? t[start - 1] : NaN,
      };
    }),
  );
}

/**
 * One training sample per prefix (the per-prefix training of MOCA and MMSR): sample k is
 * sequence seqs[k] read up to ends[k] − 1 (its most recent `maxLen` items), with one target,
 * seqs[k][ends[k]], at its last position, and the items from the target on as its `future`.
 * ends[k] is in [1, length − 1].
 */
export function prefixBatch(
  seqs: readonly Int32Array[],
  ends: Int32Array,
  maxLen: number,
  times?: readonly (Float64Array | null)[],
): SequenceBatch {
  return pack(
    seqs.map((s, k) => {
      const end = ends[k];
      if (!(end >= 1 && end < s.length))
        throw new RangeError(`prefixBatch: end ${end} of sample ${k} is not in [1, ${s.length - 1}]`);
      const start = Math.max(0, end - maxLen);
      const targets = new Int32Array(end - start);
      targets[targets.length - 1] = s[end];
      const t = times?.[k];
      return {
        items: s.subarray(start, end),
        targets,
        times: t ? t.subarray(start, end) : undefined,
        before: t && start > 0 ? t[start - 1] : NaN,
        future: s.subarray(end, end + FUTURE_ITEMS),
      };
    }),
  );
}

/** Inputs for predicting the item after each history (the last `maxLen` items of each). */
export function inferenceBatch(
  histories: readonly Int32Array[],
  maxLen: number,
  times?: readonly (Float64Array | null)[],
): SequenceBatch {
  return pack(
    histories.map((h, b) => {
      const start = Math.max(0, h.length - maxLen);
      const t = times?.[b];
      return {
        items: h.subarray(start),
        times: t ? t.subarray(start, h.length) : undefined,
        before: t && start > 0 ? t[start - 1] : NaN,
      };
    }),
  );
}
