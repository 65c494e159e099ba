/**
 * One conditional-attention expert of MOCA (CoLT5's `ConditionalRoutedAttention`, as the peers'
 * spec transcribes it): two routers pick the tokens that ask (queries) and the tokens that are
 * read (keys and values); only those take part in a non-causal attention with rotary positions
 * and a learned null key/value, and the answers are written back at the query tokens (zeros
 * elsewhere). Straight-through routing weights scale the values and the outputs, so the
 * routers learn from the loss.
 */
import { indexRows, reshape, scatterRows, slice } from '../engine/ops/shape.js';
import { matmul } from '../engine/ops/matmul.js';
import { mul } from '../engine/ops/elementwise.js';
import { rotary } from '../engine/ops/rotary.js';
import { routedAttention } from '../engine/ops/routed-attention.js';
import { Linear, RmsNorm } from '../engine/nn/layers.js';
import { Module } from '../engine/nn/module.js';
import { normalParam } from '../engine/nn/init.js';
import type { Rng } from '../engine/rng.js';
import type { Tensor } from '../engine/tensor.js';
import { flatRows, routeTopK } from './soft-top-k.js';
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
    const { size: B, width: n, rows: R } = grid;
    const { heads: H, headDim: dh } = this.cfg;
    // Router scores per slot (0 at padding slots without a row: masked anyway).
    const slots = (router: Tensor) => reshape(scatterRows(matmul(x, router), grid.slotOf, B * n), [B, n]);
    const rq = routeTopK(slots(this.queryRouter), this.cfg.queries, grid.valid);
    const rkv = routeTopK(slots(this.kvRouter), this.cfg.keyValues, grid.valid);
    const kq = rq.indices.length / B;
    const kkv = rkv.indices.length / B;
    const iq = flatRows(rq.indices, kq, n);
    const ikv = flatRows(rkv.indices, kkv, n);
    const q = this.toQ.forward(this.norm.forward(indexRows(x, packedRows(grid, iq))));
    const kv = this.toKv.forward(this.norm.forward(indexRows(x, packedRows(grid, ikv))));
    const k = rotaryPerHead(slice(kv, 1, 0, H * dh), ikv, grid.positions, H, dh);
    const v = mul(slice(kv, 1, H * dh, 2 * H * dh), reshape(rkv.weights, [B * kkv, 1]));
    const merged = routedAttention(rotaryPerHead(q, iq, grid.positions, H, dh), k, v, this.nullKv, B, {
      heads: H,
      keyMask: Uint8Array.from(ikv, (g) => grid.valid[g]),
      queryMask: Uint8Array.from(iq, (g) => grid.valid[g]),
      dropout: this.cfg.attnDropout,
      rng,
      training,
    });
    // A padding query's weight is 0: its (zero) answer lands on row 0 and changes nothing.
    const out = mul(this.toOut.forward(merged), reshape(rq.weights, [B * kq, 1]));
    return scatterRows(out, packedRows(grid, iq), R);
  }
}

/** The packed rows of routed slots; a padding slot without a row reads row 0 (its weight is 0). */
function packedRows(grid: TokenGrid, slots: Int32Array): Int32Array {
  return slots.map((g) => Math.max(0, grid.rowOf[g]));
}

/** Rotary positions over each head's dims: x [rows, H·dh] at positions[slots[row]]. */
function rotaryPerHead(x: Tensor, slots: Int32Array, positions: Int32Array, H: number, dh: number): Tensor {
  const pos = Int32Array.from({ length: slots.length * H }, (_, i) => positions[slots[Math.floor(i / H)]]);
  return reshape(rotary(reshape(x, [slots.length * H, dh]), pos), [slots.length, H * dh]);
}
