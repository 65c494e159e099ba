/**
 * One conditional-attention expert of MOCA (CoLT5's `ConditionalRoutedAttention`, as the peers'
 * spec transcribes it): two routers pick the tokens that ask (queries) and the tokens that are
 * read (keys and values); only those take part in a non-causal attention with rotary positions
 * and a learned null key/value, and the answers are written back at the query tokens (zeros
 * elsewhere). Straight-through routing weights scale the values and the outputs, so the
 * routers learn from the loss.
 */
import { concat, indexRows, reshape, scatterRows, slice } from '../engine/ops/shape.js';
import { matmul } from '../engine/ops/matmul.js';
import { mul } from '../engine/ops/elementwise.js';
import { rotary } from '../engine/ops/rotary.js';
import { routedAttention } from '../engine/ops/routed-attention.js';
import { Linear, RmsNorm } from '../engine/nn/layers.js';
import { Module } from '../engine/nn/module.js';
import { normalParam } from '../engine/nn/init.js';
import type { Rng } from '../engine/rng.js';
import type { Tensor } from '../engine/tensor.js';
import { flatRows, routeTopK, type Routed } from './soft-top-k.js';
import type { TokenGrid } from './token-grid.js';

export interface ConditionalAttentionConfig {
  dim: number;
  heads: number;
  headDim: number;
  /** Tokens routed as queries, and as keys/values, per sequence. */
  queries: number;
  keyValues: number;
  attnDropout: number;
  initStd: number;
}

export class ConditionalAttention extends Module {
  readonly queryRouter: Tensor;
  readonly kvRouter: Tensor;
  /** One RMSNorm γ for the routed queries and the routed keys/values (as the code shares it). */
  readonly norm: RmsNorm;
  readonly toQ: Linear;
  readonly toKv: Linear;
  readonly toOut: Linear;
  /** [2, heads, headDim]: the null key and value every query can attend to. */
  readonly nullKv: Tensor;

  constructor(
    readonly cfg: ConditionalAttentionConfig,
    rng: Rng,
  ) {
    super();
    const { dim, heads, headDim, initStd } = cfg;
    const inner = heads * headDim;
    this.queryRouter = this.param('query_router', normalParam([dim, 1], 1, rng));
    this.kvRouter = this.param('kv_router', normalParam([dim, 1], 1, rng));
    this.norm = this.child('norm', new RmsNorm(dim));
    this.toQ = this.child('to_q', new Linear(dim, inner, rng, { std: initStd, bias: false }));
    this.toKv = this.child('to_kv', new Linear(dim, 2 * inner, rng, { std: initStd, bias: false }));
    this.toOut = this.child('to_out', new Linear(inner, dim, rng, { std: initStd, bias: false }));
    this.nullKv = this.param('null_kv', normalParam([2, heads, headDim], 1, rng));
  }

  /**
   * x [R, d]: the packed tokens of `grid`. Returns [R, d]: the attention output at the routed
   * query tokens, 0 elsewhere.
   */
  forward(x: Tensor, grid: TokenGrid, rng: Rng, training: boolean): Tensor {
    const { rows, values } = this.answers(x, grid, rng, training);
    return scatterRows(values, rows, grid.rows);
  }

  /** The two routers, [d, 1] each: the query router, then the key/value router. */
  routers(): Tensor[] {
    return [this.queryRouter, this.kvRouter];
  }

  /**
   * The same as forward, sparse: the routed query tokens' rows and their answers [rows, d].
   * `scores` [R, 2]: x times routers(), when the caller has it (a layer scores all its experts'
   * routers in one product: one pass over x, not one per router).
   */
  answers(
    x: Tensor,
    grid: TokenGrid,
    rng: Rng,
    training: boolean,
    scores = matmul(x, concat(this.routers(), 1)),
  ): { rows: Int32Array; values: Tensor } {
    const { size: B, width: n } = grid;
    const { heads: H, headDim: dh } = this.cfg;
    // Router scores per slot (0 at padding slots without a row: masked anyway).
    const slots = (column: number) =>
      reshape(scatterRows(slice(scores, 1, column, column + 1), grid.slotOf, B * n), [B, n]);
    const q = realPicks(routeTopK(slots(0), this.cfg.queries, grid.valid), grid);
    const kv = realPicks(routeTopK(slots(1), this.cfg.keyValues, grid.valid), grid);
    const xq = this.toQ.forward(this.norm.forward(indexRows(x, q.rows)));
    const xkv = this.toKv.forward(this.norm.forward(indexRows(x, kv.rows)));
    const k = rotaryPerHead(slice(xkv, 1, 0, H * dh), kv.slots, grid.positions, H, dh);
    const v = mul(slice(xkv, 1, H * dh, 2 * H * dh), kv.weights);
    const merged = routedAttention(rotaryPerHead(xq, q.slots, grid.positions, H, dh), k, v, this.nullKv, {
      heads: H,
      queryOffsets: q.offsets,
      keyOffsets: kv.offsets,
      dropout: this.cfg.attnDropout,
      rng,
      training,
    });
    return { rows: q.rows, values: mul(this.toOut.forward(merged), q.weights) };
  }
}

/** The routed tokens that are real (a sequence with fewer than k routes padding too), per sequence. */
interface Picks {
  /** Their slots in the grid, sequence by sequence. */
  slots: Int32Array;
  /** Their packed rows. */
  rows: Int32Array;
  /** [B + 1]: sequence b's picks are [offsets[b], offsets[b + 1]). */
  offsets: Int32Array;
  /** [picks, 1]: their straight-through routing weights. */
  weights: Tensor;
}

/**
 * Drops the routed padding: its weight is 0, so it adds nothing to the attention (as a masked
 * key) or to the output (as a query), and skipping it spares a third to a half of the routed
 * work on short prefixes.
 */
function realPicks(routed: Routed, grid: TokenGrid): Picks {
  const B = grid.size;
  const k = routed.indices.length / B;
  const flat = flatRows(routed.indices, k, grid.width);
  const kept: number[] = [];
  const offsets = new Int32Array(B + 1);
  for (let b = 0; b < B; b++) {
    for (let i = b * k; i < (b + 1) * k; i++) if (grid.valid[flat[i]] === 1) kept.push(i);
    offsets[b + 1] = kept.length;
  }
  const picked = Int32Array.from(kept);
  const slots = new Int32Array(picked.length);
  const rows = new Int32Array(picked.length);
  for (let i = 0; i < picked.length; i++) {
    slots[i] = flat[picked[i]];
    rows[i] = grid.rowOf[slots[i]];
  }
  return {
    slots,
    rows,
    offsets,
    weights: indexRows(reshape(routed.weights, [B * k, 1]), picked),
  };
}

/** Rotary positions over each head's dims: x [rows, H·dh] at positions[slots[row]]. */
function rotaryPerHead(x: Tensor, slots: Int32Array, positions: Int32Array, H: number, dh: number): Tensor {
  const pos = new Int32Array(slots.length * H);
  for (let i = 0; i < pos.length; i++) pos[i] = positions[slots[Math.floor(i / H)]];
  return reshape(rotary(reshape(x, [slots.length * H, dh]), pos), [slots.length, H * dh]);
}
