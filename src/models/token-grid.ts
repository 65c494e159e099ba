/**
 * Where a batch's tokens sit for MOCA's routers: B sequences of n slots each, left-padded as
 * MOCA pads (the most recent item in the last slot), and the packed row of each slot's token in
 * a [R, d] tensor. Per-token work (feed-forwards, norms, projections) runs on the R packed rows
 * only; the routers score over the slots, where padding is masked. Padding slots have no row
 * (rowOf −1), except in a dense grid, where every slot is a row.
 */
import type { SequenceBatch } from './model.js';

export interface TokenGrid {
  size: number;
  /** Slots per sequence, n. */
  width: number;
  /** Packed rows, R. */
  rows: number;
  /** [B·n] the packed row of each slot, −1 at a padding slot without a row. */
  rowOf: Int32Array;
  /** [B·n] 1 at real tokens, 0 at padding. */
  valid: Float32Array;
  /** [B·n] each slot's rotary position. */
  positions: Int32Array;
  /** [R] the slot b·n + j of each packed row. */
  slotOf: Int32Array;
}

/** A grid whose B·n slots are all rows, in order; `valid` marks the real ones (default: all). */
export function denseGrid(B: number, n: number, valid?: Float32Array, positions?: Int32Array): TokenGrid {
  const slots = Int32Array.from({ length: B * n }, (_, g) => g);
  return {
    size: B,
    width: n,
    rows: B * n,
    rowOf: slots,
    valid: valid ?? new Float32Array(B * n).fill(1),
    positions: positions ?? Int32Array.from({ length: B * n }, (_, g) => g % n),
    slotOf: slots,
  };
}

/** The longest sequence of the batch, in items. */
export function longest(batch: SequenceBatch): number {
  let max = 0;
  for (let b = 0; b < batch.size; b++) max = Math.max(max, batch.offsets[b + 1] - batch.offsets[b]);
  return max;
}

/**
 * A packed batch's positions, left-padded to `length` slots (at least its longest sequence);
 * row r of the batch is packed row r. Positions count as in a row padded to `window` (≥ length):
 * the most recent item is at window − 1 in every batch, so that what reads absolute positions
 * (MOCA's null key against rotated queries) does not depend on the batch.
 */
export function sequenceGrid(batch: SequenceBatch, length: number, window = length): TokenGrid {
  const B = batch.size;
  const n = length;
  if (longest(batch) > n)
    throw new RangeError(`sequenceGrid: a sequence of ${longest(batch)} items does not fit ${n}`);
  if (window < n) throw new RangeError(`sequenceGrid: a window of ${window} is shorter than the length ${n}`);
  const rowOf = new Int32Array(B * n).fill(-1);
  const valid = new Float32Array(B * n);
  const positions = Int32Array.from({ length: B * n }, (_, g) => window - n + (g % n));
  const slotOf = new Int32Array(batch.items.length);
  for (let b = 0; b < B; b++) {
    const from = batch.offsets[b];
    const count = batch.offsets[b + 1] - from;
    if (count === 0) throw new RangeError(`sequence ${b} of the batch is empty`);
    for (let i = 0; i < count; i++) {
      const slot = b * n + n - count + i;
      rowOf[slot] = from + i;
      valid[slot] = 1;
      slotOf[from + i] = slot;
    }
  }
  return { size: B, width: n, rows: batch.items.length, rowOf, valid, positions, slotOf };
}

/**
 * T tokens per position (MOCA's feature level): slot t·n + j of sequence b holds token t of
 * position j, at that position; packed row t·R + r for the position's row r (blocks of R rows).
 */
export function tokenGrid(grid: TokenGrid, tokens: number): TokenGrid {
  const { size: B, width: n, rows: R } = grid;
  const width = tokens * n;
  const rowOf = new Int32Array(B * width);
  const valid = new Float32Array(B * width);
  const positions = new Int32Array(B * width);
  const slotOf = new Int32Array(tokens * R);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < tokens; t++)
      for (let j = 0; j < n; j++) {
        const from = b * n + j;
        const slot = b * width + t * n + j;
        const r = grid.rowOf[from];
        rowOf[slot] = r < 0 ? -1 : t * R + r;
        valid[slot] = grid.valid[from];
        positions[slot] = grid.positions[from];
        if (r >= 0) slotOf[t * R + r] = slot;
      }
  return { size: B, width, rows: tokens * R, rowOf, valid, positions, slotOf };
}
