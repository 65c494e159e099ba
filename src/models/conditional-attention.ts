/**
 * One conditional-attention expert of MOCA (CoLT5's `ConditionalRoutedAttention`, as the peers'
 * spec transcribes it): two routers pick the tokens that ask (queries) and the tokens that are
 * read (keys and values); only those take part in a non-causal attention with rotary positions
 * and a learned null key/value, and the answers are written back at the query tokens (zeros
 * elsewhere). Straight-through routing weights scale the values and the outputs, so the
 * routers learn from the loss.
 */
import { concat, indexRows, permute, reshape, scatterRows, slice } from '../engine/ops/shape.js';
import { matmul, bmm } from '../engine/ops/matmul.js';
import { mul, scale } from '../engine/ops/elementwise.js';
import { maskedSoftmax } from '../engine/ops/softmax.js';
import { dropout } from '../engine/ops/dropout.js';
import { rotary } from '../engine/ops/rotary.js';
import { Linear, RmsNorm } from '../engine/nn/layers.js';
import { Module } from '../engine/nn/module.js';
import { normalParam } from '../engine/nn/init.js';
import type { Rng } from '../engine/rng.js';
import type { Tensor } from '../engine/tensor.js';
import { flatRows, routeTopK } from './soft-top-k.js';

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
   * x [B, n, d]; `valid` [B·n] 1 for real tokens; `positions` [B·n] each token's rotary position.
   * Returns [B, n, d]: the attention output at routed query tokens, 0 elsewhere.
   */
  forward(x: Tensor, valid: Float32Array, positions: Int32Array, rng: Rng, training: boolean): Tensor {
    const [B, n, d] = x.shape;
    const { heads: H, headDim: dh } = this.cfg;
    const flat = reshape(x, [B * n, d]);
    const rq = routeTopK(reshape(matmul(flat, this.queryRouter), [B, n]), this.cfg.queries, valid);
    const rkv = routeTopK(reshape(matmul(flat, this.kvRouter), [B, n]), this.cfg.keyValues, valid);
    const kq = rq.indices.length / B;
    const kkv = rkv.indices.length / B;
    const iq = flatRows(rq.indices, kq, n);
    const ikv = flatRows(rkv.indices, kkv, n);
    const q = this.toQ.forward(this.norm.forward(indexRows(flat, iq)));
    const kv = this.toKv.forward(this.norm.forward(indexRows(flat, ikv)));
    const k = slice(kv, 1, 0, H * dh);
    const v = mul(slice(kv, 1, H * dh, 2 * H * dh), reshape(rkv.weights, [B * kkv, 1]));
    const heads = (t: Tensor, rows: number) => permute(reshape(t, [B, rows, H, dh]), [0, 2, 1, 3]);
    const qh = heads(rotaryPerHead(q, iq, positions, H, dh), kq);
    const kh = concat([this.nullRows(0, B), heads(rotaryPerHead(k, ikv, positions, H, dh), kkv)], 2);
    const vh = concat([this.nullRows(1, B), heads(v, kkv)], 2);
    const scores = scale(bmm(qh, kh, { transB: true }), 1 / Math.sqrt(dh));
    const probs = dropout(
      maskedSoftmax(scores, keyMask(rkv.indices, valid, B, n, kq, kkv)),
      this.cfg.attnDropout,
      rng,
      training,
    );
    const merged = reshape(permute(bmm(probs, vh), [0, 2, 1, 3]), [B * kq, H * dh]);
    const out = mul(this.toOut.forward(merged), reshape(rq.weights, [B * kq, 1]));
    return reshape(scatterRows(out, iq, B * n), [B, n, d]);
  }

  /** The null key (0) or value (1) of every head, for every sequence: [B, H, 1, dh]. */
  private nullRows(which: 0 | 1, B: number): Tensor {
    const { heads: H, headDim: dh } = this.cfg;
    const table = reshape(this.nullKv, [2 * H, dh]);
    const rows = Int32Array.from({ length: B * H }, (_, i) => which * H + (i % H));
    return reshape(indexRows(table, rows), [B, H, 1, dh]);
  }
}

/** Rotary positions over each head's dims: x [rows, H·dh] at positions[tokens[row]]. */
function rotaryPerHead(x: Tensor, tokens: Int32Array, positions: Int32Array, H: number, dh: number): Tensor {
  const pos = Int32Array.from({ length: tokens.length * H }, (_, i) => positions[tokens[Math.floor(i / H)]]);
  return reshape(rotary(reshape(x, [tokens.length * H, dh]), pos), [tokens.length, H * dh]);
}

/** [B·kq·(1 + kkv)]: the null key always, a routed key when its token is real. */
function keyMask(
  kvIndices: Int32Array,
  valid: Float32Array,
  B: number,
  n: number,
  kq: number,
  kkv: number,
): Uint8Array {
  const mask = new Uint8Array(B * kq * (1 + kkv));
  for (let b = 0; b < B; b++)
    for (let i = 0; i < kq; i++) {
      const o = (b * kq + i) * (1 + kkv);
      mask[o] = 1;
      for (let j = 0; j < kkv; j++) mask[o + 1 + j] = valid[b * n + kvIndices[b * kkv + j]] === 1 ? 1 : 0;
    }
  return mask;
}
