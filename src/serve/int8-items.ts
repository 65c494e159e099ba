/**
 * Exact top k over a large catalog from an 8-bit copy of the item table.
 *
 * Scoring a million items reads the whole table for every request, and reading it is the cost
 * (a 64-d float32 table is 256 MB). Each row is stored here as 8-bit codes with one scale
 * (v ≈ scale · q), a quarter of the bytes, together with a bound on how far the approximate
 * score can be from the exact one: |u·v − scale·(u·q)| ≤ ‖u‖ · (‖v − scale·q‖ + float32
 * rounding). The k best approximate scores then fix a threshold that every item of the exact
 * top k passes (below), and only the items that pass are scored again from the float32 table.
 * The result is the float32 table's top k, not an approximation; the rescored items are usually
 * a few dozen.
 *
 * Why the threshold is safe: with a_(k) the k-th best approximate score and M the largest bound,
 * k items have exact scores ≥ a_(k) − ‖u‖M, so the k-th best exact score is too; an item of the
 * exact top k thus has a_i ≥ s_i − ‖u‖M ≥ a_(k) − 2‖u‖M.
 */
import { kernels } from '../kernels/select.js';
import { inScoreBlocks, runSteps } from '../models/model.js';
import type { Skip } from './top-k.js';

export interface Int8Items {
  readonly dim: number;
  /** The float32 table the codes were made from (rows 0..N), for rescoring. */
  readonly items: Float32Array;
  readonly codes: Int8Array;
  readonly scales: Float32Array;
  /** The largest bound on |exact − approximate score| per unit of the user vector's norm. */
  readonly maxError: number;
}

/** float32's unit roundoff. */
const UNIT = 2 ** -24;

/** Values quantized between two yields of a loading service (a millisecond or two of work). */
const VALUES_PER_STEP = 1 << 16;

/** The 8-bit table of `items` (rows of `dim`): per row, codes in [−127, 127] and scale max|v| / 127. */
export function quantizeItems(items: Float32Array, dim: number): Int8Items {
  return runSteps(quantizeItemsSteps(items, dim));
}

/** quantizeItems a block of rows at a time (steps a caller may yield between; the model worker runs them at once). */
export function* quantizeItemsSteps(items: Float32Array, dim: number): Generator<void, Int8Items> {
  const rows = items.length / dim;
  const codes = new Int8Array(items.length);
  const scales = new Float32Array(rows);
  const perStep = Math.max(1, Math.floor(VALUES_PER_STEP / dim));
  let maxError = 0;
  for (let first = 0; first < rows; first += perStep) {
    if (first > 0) yield;
    for (let i = first; i < Math.min(rows, first + perStep); i++)
      maxError = Math.max(maxError, quantizeRow(items, dim, i, codes, scales));
  }
  return { dim, items, codes, scales, maxError: maxError * (1 + 1e-6) };
}

/** Row i's codes and scale; returns its error bound per unit of the user vector's norm. */
function quantizeRow(
  items: Float32Array,
  dim: number,
  i: number,
  codes: Int8Array,
  scales: Float32Array,
): number {
  const o = i * dim;
  let max = 0;
  for (let j = 0; j < dim; j++) {
    const a = Math.abs(items[o + j]);
    if (a > max) max = a;
  }
  const scale = Math.fround(max / 127);
  scales[i] = scale;
  if (scale === 0) return 0; // a zero row scores 0 either way
  const inverse = 1 / scale;
  let residual = 0;
  let norm = 0;
  for (let j = 0; j < dim; j++) {
    const v = items[o + j];
    // |v| ≤ 127·scale up to rounding, so the code is within [−127, 127]; the clamp guards that.
    let q = Math.round(v * inverse);
    if (q > 127) q = 127;
    else if (q < -127) q = -127;
    codes[o + j] = q;
    const e = v - scale * q;
    residual += e * e;
    norm += q * q;
  }
  // The row's own residual, and the rounding of a float32 dot of dim terms and its scaling.
  return Math.sqrt(residual) + (dim + 2) * UNIT * scale * Math.sqrt(norm);
}

/**
 * One user's exact top k, fed the approximate scores a block at a time (`scan`), then `finish`
 * rescores the items that can still be in the top k. Skipped ids and NaN scores never enter.
 */
export class Int8TopK {
  /** The k best approximate scores so far, best first. */
  private readonly best: number[] = [];
  /** Items that passed the threshold when they were seen: id, approximate score, interleaved. */
  private passed: number[] = [];
  /** 2‖u‖M: how far below the k-th best approximate score an exact top-k item can be. */
  private readonly margin: number;
  private gate = -Infinity;

  constructor(
    readonly k: number,
    private readonly skip: Skip,
    private readonly user: Float32Array,
    private readonly table: Int8Items,
  ) {
    let norm = 0;
    for (let j = 0; j < user.length; j++) norm += user[j] * user[j];
    this.margin = 2 * Math.sqrt(norm) * table.maxError;
  }

  /** Approximate scores of items first..first + count − 1, at scores[offset ..]. */
  scan(scores: Float32Array, offset: number, first: number, count: number): void {
    const { k, best } = this;
    if (k <= 0) return;
    for (let c = 0; c < count; c++) {
      const s = scores[offset + c];
      if (!(s >= this.gate)) continue; // NaN fails too
      const i = first + c;
      if (this.skip.has(i)) continue;
      this.passed.push(i, s);
      if (best.length === k && !(s > best[k - 1])) continue;
      let j = best.length < k ? best.length : k - 1;
      while (j > 0 && s > best[j - 1]) {
        best[j] = best[j - 1];
        j--;
      }
      best[j] = s;
      if (best.length === k) this.raiseGate();
    }
  }

  /** The exact top k from the float32 table, best first, ties to the lower id. */
  finish(): { ids: number[]; scores: number[] } {
    this.compact();
    const { items, dim } = this.table;
    const found: { id: number; score: number }[] = [];
    for (let p = 0; p < this.passed.length; p += 2) {
      const id = this.passed[p];
      let dot = 0;
      for (let j = 0; j < dim; j++) dot += this.user[j] * items[id * dim + j];
      found.push({ id, score: Math.fround(dot) });
    }
    found.sort((a, b) => b.score - a.score || a.id - b.id);
    const top = found.slice(0, this.k);
    return { ids: top.map((f) => f.id), scores: top.map((f) => f.score) };
  }

  /** How many items `finish` rescored (or will): the cost of exactness. */
  get rescored(): number {
    this.compact();
    return this.passed.length / 2;
  }

  private raiseGate(): void {
    this.gate = this.best[this.k - 1] - this.margin;
    // Items that passed an earlier, lower gate are dropped now and then, not on every raise.
    if (this.passed.length > 8 * this.k + 4096) this.compact();
  }

  private compact(): void {
    const kept: number[] = [];
    for (let p = 0; p < this.passed.length; p += 2)
      if (this.passed[p + 1] >= this.gate) kept.push(this.passed[p], this.passed[p + 1]);
    this.passed = kept;
  }
}

/** users · codesᵀ (approximate scores) over items 1..N a block at a time, as scoreUsersInBlocks. */
export function scoreUsersInt8Blocks(
  t: Int8Items,
  users: Float32Array,
  B: number,
  buffer: Float32Array | null,
  visit: (scores: Float32Array, first: number, count: number) => void,
): Float32Array {
  const { dim, codes, scales } = t;
  const product = (buf: Float32Array, first: number, count: number) =>
    kernels().scoreInt8Rows(users, B, codes.subarray(first * dim), scales.subarray(first), count, dim, buf);
  return inScoreBlocks(scales.length - 1, B, buffer, product, visit);
}
