/**
 * What every sequential recommender in cammsr offers to the trainer, the evaluator and the
 * server. Models know nothing of files: they get item data through ModelData and batches
 * through SequenceBatch.
 */
import { kernels } from '../kernels/select.js';
import { floats } from '../engine/memory.js';
import { Module } from '../engine/nn/module.js';
import { linearCrossEntropy } from '../engine/ops/loss.js';
import { embedding, indexRows } from '../engine/ops/shape.js';
import type { Rng } from '../engine/rng.js';
import type { Tensor } from '../engine/tensor.js';
import type { NegativeSampler } from './sampled-softmax.js';

/**
 * Packed sequences: sequence b occupies rows offsets[b] .. offsets[b+1]-1 of `items`
 * (oldest first); positions[r] is row r's index within its sequence; targets[r] is the
 * item that follows row r (0 = no target). `gaps[r]`, when the data has timestamps, is the
 * bucketed time since the previous interaction (see timeGapBucket).
 */
export interface SequenceBatch {
  size: number;
  offsets: Int32Array;
  items: Int32Array;
  positions: Int32Array;
  targets: Int32Array;
  gaps?: Int32Array;
  /**
   * Prefix batches only (train.samples 'prefixes'): the training items after sequence b's
   * prefix, nearest first, items[offsets[b] .. offsets[b + 1]) (at most FUTURE_ITEMS of them).
   * MOCA's decayed soft targets read them.
   */
  future?: { offsets: Int32Array; items: Int32Array };
}

/** A content feature matrix: row i = item i (row 0 = padding), with a presence mask. */
export interface ItemFeatures {
  matrix: Float32Array;
  dim: number;
  mask: Uint8Array;
}

/** The item-side data a model may use (from a prepared dataset). */
export interface ModelData {
  /** Number of items N (ids 1..N; 0 = padding). */
  items: number;
  text?: ItemFeatures;
  image?: ItemFeatures;
  /** Category labels of item i: labels[offsets[i] .. offsets[i+1]). */
  categories?: { count: number; offsets: Int32Array; labels: Int32Array };
  /** True when batches carry time gaps. */
  timestamps: boolean;
  /** Interaction counts per item (popularity), index = item id. */
  popularity?: Float64Array;
  /**
   * The cold-start protocol's held-out items (1 = held out, index = item id): they are not
   * candidates of the training softmax either, as items that did not exist yet.
   */
  heldOut?: Uint8Array;
  /**
   * Items 1..trainedItems are those the model was trained with (absent: all of them); a catalog
   * grown while serving appends the others. MMSR fits its content clusters on these only.
   */
  trainedItems?: number;
}

/** A training loss and its terms (for logs). */
export interface LossResult {
  total: Tensor;
  terms: Record<string, number>;
}

/**
 * A model's scores factor as users · itemsᵀ: `items` [N + 1, dim] depends only on the weights,
 * `users(batch)` [B, dim] on the histories. Serving computes `items` once per model version, so
 * that a request costs one user encoding plus one matrix-vector product.
 */
export interface Scorer {
  readonly dim: number;
  readonly items: Float32Array;
  users(batch: SequenceBatch): Float32Array;
  /**
   * When the vectors are concatenations of per-modality parts (CAMMSR: [z_id; z_t; z_v] and
   * [ẽ_id; ẽ_t; ẽ_v]), their names and sizes in order: the dot product over one part is that
   * modality's share ⟨z_m, ẽ_m(j)⟩ of the score.
   */
  readonly blocks?: readonly { name: string; size: number }[];
}

export interface SequentialRecommender extends Module {
  /** Registry name, e.g. "cammsr", "sasrec". */
  readonly kind: string;
  /** False for models without parameters to train (popularity). */
  readonly trainable: boolean;
  /** Maximum sequence length the model reads (the most recent items). */
  readonly maxLen: number;
  /**
   * Whether the model can rank an item it never saw in training (from its content). ID-only
   * models cannot: the cold-start evaluation gives their cold targets the last rank.
   */
  readonly ranksUnseenItems: boolean;
  loss(batch: SequenceBatch): LossResult;
  /** Scores [B, N + 1] of every item after the last position of each sequence (column 0 = padding). */
  scoreLast(batch: SequenceBatch): Float32Array;
  /**
   * scoreLast for many batches under the same weights (an evaluation): the item side is
   * computed once, when this is called, instead of once per batch.
   */
  lastScorer(): (batch: SequenceBatch) => Float32Array;
  /** The factors of scoreLast, with the item side computed now (call again after the weights change). */
  scorer(): Scorer;
  /**
   * scorer() in bounded steps (models whose item side is a large computation): a service
   * loading a bundle while it answers requests yields between them. Same result as scorer().
   */
  scorerSteps?(): Generator<void, Scorer>;
  /**
   * The stream that draws dropout masks (and CAMMSR's swap positions); the trainer saves and
   * restores its state so that a resumed run continues exactly. Absent without randomness.
   */
  readonly rng?: Rng;
  /**
   * Model-specific facts for logs and reports (e.g. mean modality weights) over the training
   * positions seen since the last call: reading them starts a new accumulation.
   */
  diagnostics?(): Record<string, unknown>;
}

/** Log-scale bucket of a time gap in seconds: 0 for the first item, then 1 + floor(log2(1 + gap)), capped. */
export const TIME_BUCKETS = 32;
export function timeGapBucket(gapSeconds: number): number {
  if (!(gapSeconds > 0)) return 0;
  return Math.min(TIME_BUCKETS - 1, 1 + Math.floor(Math.log2(1 + gapSeconds)));
}

/** Row index of each sequence's last position (what scoring reads). */
export function lastRows(batch: SequenceBatch): Int32Array {
  const last = new Int32Array(batch.size);
  for (let b = 0; b < batch.size; b++) {
    if (batch.offsets[b + 1] <= batch.offsets[b]) throw new RangeError(`sequence ${b} of the batch is empty`);
    last[b] = batch.offsets[b + 1] - 1;
  }
  return last;
}

/** The model's scorer, built in steps when the model has them. */
export function* scorerSteps(model: SequentialRecommender): Generator<void, Scorer> {
  if (model.scorerSteps) return yield* model.scorerSteps();
  return model.scorer();
}

export { runSteps } from '../engine/steps.js';

/** Scores [B, N + 1] = users · itemsᵀ (one GEMM; a matrix-vector product for one user). */
export function scoreUsers(s: Scorer, users: Float32Array, B: number): Float32Array {
  const n = s.items.length / s.dim;
  const out = floats(B * n);
  kernels().sgemm(false, true, B, n, s.dim, 1, users, s.dim, s.items, s.dim, 0, out, n);
  return out;
}

/**
 * [t₀ | t₁ | …] side by side for tables of the same rows (a scorer's item table), a block of rows
 * per step: a service loading a bundle gives the event loop back between blocks.
 */
export function* concatColumnsSteps(
  tables: readonly Tensor[],
  rowsPerStep = 2048,
): Generator<void, Float32Array> {
  const rows = tables[0].shape[0];
  const width = tables.reduce((s, t) => s + t.shape[1], 0);
  const out = new Float32Array(rows * width);
  for (let r0 = 0; r0 < rows; r0 += rowsPerStep) {
    for (let r = r0; r < Math.min(rows, r0 + rowsPerStep); r++) {
      let at = r * width;
      for (const t of tables) {
        const w = t.shape[1];
        out.set(t.data.subarray(r * w, (r + 1) * w), at);
        at += w;
      }
    }
    if (r0 + rowsPerStep < rows) yield;
  }
  return out;
}

/** Scores scoreUsersInBlocks holds at once (4 MiB): a block is this many scores over the users. */
export const SCORE_BUFFER = 1 << 20;

/**
 * users · itemsᵀ over items 1..N, a block of items at a time: `visit(scores, first, count)` sees
 * row b's scores of items first..first + count − 1 at scores[b·count ..]. Blocks hold
 * SCORE_BUFFER / B items (one user: a million), in a buffer reused across blocks and across calls
 * (pass the returned one back), so ranking a catalog of any size for any batch holds at most
 * SCORE_BUFFER scores, not B · N.
 */
export function scoreUsersInBlocks(
  s: Scorer,
  users: Float32Array,
  B: number,
  buffer: Float32Array | null,
  visit: (scores: Float32Array, first: number, count: number) => void,
): Float32Array {
  const product = (buf: Float32Array, first: number, count: number) =>
    kernels().sgemm(
      false,
      true,
      B,
      count,
      s.dim,
      1,
      users,
      s.dim,
      s.items.subarray(first * s.dim),
      s.dim,
      0,
      buf,
      count,
    );
  return inScoreBlocks(s.items.length / s.dim - 1, B, buffer, product, visit);
}

/**
 * Items 1..n a block of SCORE_BUFFER / B at a time: `product(buf, first, count)` writes B rows
 * of `count` scores into the (reused) buffer, then `visit` reads them. Returns the buffer.
 */
export function inScoreBlocks(
  n: number,
  B: number,
  buffer: Float32Array | null,
  product: (buf: Float32Array, first: number, count: number) => void,
  visit: (scores: Float32Array, first: number, count: number) => void,
): Float32Array {
  const block = Math.max(1, Math.min(n, Math.floor(SCORE_BUFFER / B)));
  const buf = buffer && buffer.length >= B * block ? buffer : new Float32Array(B * block);
  for (let first = 1; first <= n; first += block) {
    const count = Math.min(block, n - first + 1);
    product(buf, first, count);
    visit(buf, first, count);
  }
  return buf;
}

/**
 * The base of every model: a Module with the recommender's face, whose scoreLast goes through
 * the model's scorer (one implementation for all).
 */
export abstract class SequentialModel extends Module implements SequentialRecommender {
  abstract readonly kind: string;
  abstract readonly trainable: boolean;
  abstract readonly maxLen: number;
  abstract readonly ranksUnseenItems: boolean;
  abstract loss(batch: SequenceBatch): LossResult;
  abstract scorer(): Scorer;

  scoreLast(batch: SequenceBatch): Float32Array {
    return this.lastScorer()(batch);
  }

  lastScorer(): (batch: SequenceBatch) => Float32Array {
    const s = this.scorer();
    return (batch) => scoreUsers(s, s.users(batch), batch.size);
  }
}

/** A sampled softmax's sampler and the stream it draws from (the model's, saved with a run). */
export interface Sampling {
  sampler: NegativeSampler;
  rng: Rng;
}

/**
 * L_SR: the mean next-item cross-entropy at every position that has a target; `h` [R, d] are
 * the hidden states of the packed rows, `table` [N + 1, d] the items. Over every item (full
 * softmax; without the held-out `candidates`), or with `sampling` over the step's sampled
 * candidates with the logQ correction (sampled-softmax.ts).
 */
export function nextItemLoss(
  h: Tensor,
  table: Tensor,
  batch: SequenceBatch,
  candidates: TrainingCandidates | null = null,
  sampling: Sampling | null = null,
): Tensor {
  // The candidates' rows as a row gradient (embedding, not indexRows): when the table is a
  // parameter its gradient then stays sparse and Adam updates only the step's rows, instead
  // of a dense [N, d] gradient and every row (1.2 GB and most of a step at 1M items).
  if (sampling) return sampledNextItemLoss(h, batch, sampling, (ids) => embedding(table, ids, [ids.length]));
  const { hr, targets } = targetRows(h, batch);
  if (!candidates) return linearCrossEntropy(hr, table, targets);
  return linearCrossEntropy(hr, indexRows(table, candidates.ids), candidates.positions(targets));
}

/**
 * nextItemLoss with the sampled softmax, where `rowsOf(ids)` [ids.length, d] gives the item side
 * of the step's candidates only: a model whose item rows are computed (content towers) computes
 * them for the candidates, not for the whole catalog.
 */
export function sampledNextItemLoss(
  h: Tensor,
  batch: SequenceBatch,
  sampling: Sampling,
  rowsOf: (ids: Int32Array) => Tensor,
): Tensor {
  const { hr, targets } = targetRows(h, batch);
  // The sampler never draws held-out items, and the split never makes them targets.
  const step = sampling.sampler.draw(targets, sampling.rng);
  return linearCrossEntropy(hr, rowsOf(step.ids), step.positions, step.offsets);
}

/** The hidden states of the rows with a target, and those targets. */
function targetRows(h: Tensor, batch: SequenceBatch): { hr: Tensor; targets: Int32Array } {
  const rows: number[] = [];
  for (let r = 0; r < batch.targets.length; r++) if (batch.targets[r] > 0) rows.push(r);
  const hr = rows.length === batch.targets.length ? h : indexRows(h, Int32Array.from(rows));
  return { hr, targets: Int32Array.from(rows, (r) => batch.targets[r]) };
}

/** The distinct items of a batch's rows, ascending, and each row's index among them. */
export function distinctItems(items: Int32Array): { ids: Int32Array; index: Int32Array } {
  const ids = Int32Array.from(new Set(items)).sort();
  const at = new Map<number, number>();
  ids.forEach((id, k) => at.set(id, k));
  return { ids, index: items.map((i) => at.get(i)!) };
}

/**
 * Whether a content model's sampled steps compute their item side for their own items only (the
 * batch's distinct items, then the drawn candidates) rather than for the whole catalog. Decided
 * once for a run, from the catalog, so that every step updates the ID table the same way: on
 * the step's own items its gradient is their rows and Adam moves those rows only (as for
 * SASRec's sampled softmax); over the whole catalog the gradient is dense. From
 * STEP_ROWS_FROM_ITEMS items a step (256 sequences of up to 50 items and 1,024 draws: at most
 * about 14,000 rows) reads a quarter of the catalog or less; below, one product over the
 * catalog costs about as much as gathering the rows.
 */
export const usesStepRows = (sampler: NegativeSampler | null, items: number): boolean =>
  sampler !== null && items >= STEP_ROWS_FROM_ITEMS;
export const STEP_ROWS_FROM_ITEMS = 50_000;

/**
 * The items a training softmax ranks when some are held out (the cold-start protocol): every
 * other item, padding included as in the full table, so held-out items get no gradient at all.
 */
export class TrainingCandidates {
  /** Candidate item ids, ascending (0 = padding first). */
  readonly ids: Int32Array;
  /** position[i] = index of item i in ids, -1 for a held-out item. */
  private readonly position: Int32Array;

  constructor(heldOut: Uint8Array) {
    const ids: number[] = [];
    this.position = new Int32Array(heldOut.length).fill(-1);
    for (let i = 0; i < heldOut.length; i++) {
      if (heldOut[i] === 1) continue;
      this.position[i] = ids.length;
      ids.push(i);
    }
    this.ids = Int32Array.from(ids);
  }

  /** The candidates of a model's data, or null when nothing is held out (the full table). */
  static of(data: { heldOut?: Uint8Array }): TrainingCandidates | null {
    return data.heldOut && data.heldOut.some((x) => x === 1) ? new TrainingCandidates(data.heldOut) : null;
  }

  /** Targets as positions among the candidates; a held-out target is a bug upstream (the split removes them). */
  positions(targets: Int32Array): Int32Array {
    return targets.map((t) => {
      const p = this.position[t];
      if (p < 0) throw new RangeError(`item ${t} is held out of training but is a training target`);
      return p;
    });
  }
}
