/**
 * A packed batch laid out densely, as MOCA reads it: every sequence left-padded to the same
 * length L, its most recent item at position L − 1 (MOCA's own padding, at the front).
 */
import type { SequenceBatch } from './model.js';

export interface PaddedBatch {
  size: number;
  length: number;
  /** [B·L] item ids, 0 at padding. */
  items: Int32Array;
  /** [B·L] 1 at real positions, 0 at padding. */
  valid: Float32Array;
  /** [B·L] each position's index in a row padded to `window`: window − L .. window − 1. */
  positions: Int32Array;
  /** [B] the flattened row of each sequence's last position, b·L + L − 1. */
  last: Int32Array;
}

/** The longest sequence of the batch, in items. */
export function longest(batch: SequenceBatch): number {
  let max = 0;
  for (let b = 0; b < batch.size; b++) max = Math.max(max, batch.offsets[b + 1] - batch.offsets[b]);
  return max;
}

/**
 * The batch left-padded to `length` (at least its longest sequence). Positions count as in a
 * row padded to `window` (≥ length): the most recent item is at window − 1 in every batch, so
 * that what reads absolute positions (MOCA's null key against rotated queries) does not
 * depend on the batch.
 */
export function leftPad(batch: SequenceBatch, length: number, window = length): PaddedBatch {
  const B = batch.size;
  const L = length;
  if (longest(batch) > L)
    throw new RangeError(`leftPad: a sequence of ${longest(batch)} items does not fit ${L}`);
  if (window < L) throw new RangeError(`leftPad: a window of ${window} is shorter than the length ${L}`);
  const items = new Int32Array(B * L);
  const valid = new Float32Array(B * L);
  const positions = Int32Array.from({ length: B * L }, (_, r) => window - L + (r % L));
  const last = Int32Array.from({ length: B }, (_, b) => b * L + L - 1);
  for (let b = 0; b < B; b++) {
    const from = batch.offsets[b];
    const n = batch.offsets[b + 1] - from;
    if (n === 0) throw new RangeError(`sequence ${b} of the batch is empty`);
    const o = b * L + L - n;
    items.set(batch.items.subarray(from, from + n), o);
    valid.fill(1, o, o + n);
  }
  return { size: B, length: L, items, valid, positions, last };
}
