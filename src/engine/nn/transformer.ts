/**
 * Multi-head causal self-attention and the post-LN transformer block of SASRec/RecBole:
 *   h   = Norm(x + Dropout(Attention(x)))
 *   out = Norm(h + Dropout(W2·GELU(W1·h)))
 * Inputs are packed sequences: x [R, d] holds the valid positions of every sequence in turn
 * (oldest first) and `offsets` says where each sequence starts. Padding is never computed;
 * the outputs equal those of the padded, masked formulation at every valid position.
 */
import { addN } from '../ops/elementwise.js';
import { gelu } from '../ops/activation.js';
import { causalAttention, lastQueryAttention } from '../ops/attention.js';
import { dropout } from '../ops/dropout.js';
import { indexRows } from '../ops/shape.js';
import type { Rng } from '../rng.js';
import type { Tensor } from '../tensor.js';
import { DyT, LayerNorm, Linear } from './layers.js';
import { Module, ModuleList } from './module.js';

export interface TransformerOptions {
  dim: number;
  heads: number;
  ffnDim: number;
  /** Dropout on hidden states (RecBole's hidden_dropout_prob). */
  hiddenDropout: number;
  /** Dropout on attention probabilities (RecBole's attn_dropout_prob). */
  attnDropout: number;
  /** LayerNorm epsilon (RecBole: 1e-12). */
  eps?: number;
  /** 'layernorm' (SASRec) or 'dyt' (DyT everywhere, a CAMMSR option). */
  norm?: 'layernorm' | 'dyt';
  std?: number;
}

export class MultiHeadSelfAttention extends Module {
  readonly q: Linear;
  readonly k: Linear;
  readonly v: Linear;
  readonly o: Linear;
  constructor(
    private readonly opts: TransformerOptions,
    rng: Rng,
  ) {
    super();
    const { dim, heads } = opts;
    if (dim % heads !== 0)
      throw new RangeError(`hidden size ${dim} is not a multiple of the number of heads ${heads}`);
    const init = { std: opts.std ?? 0.02 };
    this.q = this.child('query', new Linear(dim, dim, rng, init));
    this.k = this.child('key', new Linear(dim, dim, rng, init));
    this.v = this.child('value', new Linear(dim, dim, rng, init));
    this.o = this.child('dense', new Linear(dim, dim, rng, init));
  }

  /**
   * x [R, d] (packed sequences) -> [R, d], before the block's dropout and residual. With
   * `last` (the row of each sequence's last position): only those queries, -> [B, d].
   */
  forward(x: Tensor, offsets: Int32Array, rng: Rng, last?: Int32Array): Tensor {
    const q = this.q.forward(last ? indexRows(x, last) : x);
    const k = this.k.forward(x);
    const v = this.v.forward(x);
    const { heads, attnDropout } = this.opts;
    const ctx = last
      ? lastQueryAttention(q, k, v, offsets, heads, attnDropout, rng, this.training)
      : causalAttention(q, k, v, offsets, heads, attnDropout, rng, this.training);
    return this.o.forward(ctx);
  }
}

export class TransformerBlock extends Module {
  readonly attention: MultiHeadSelfAttention;
  readonly norm1: LayerNorm | DyT;
  readonly ffn1: Linear;
  readonly ffn2: Linear;
  readonly norm2: LayerNorm | DyT;
  constructor(
    private readonly opts: TransformerOptions,
    rng: Rng,
  ) {
    super();
    const init = { std: opts.std ?? 0.02 };
    const makeNorm = () =>
      opts.norm === 'dyt' ? new DyT(opts.dim) : new LayerNorm(opts.dim, opts.eps ?? 1e-12);
    this.attention = this.child('attention', new MultiHeadSelfAttention(opts, rng));
    this.norm1 = this.child('norm1', makeNorm());
    this.ffn1 = this.child('ffn1', new Linear(opts.dim, opts.ffnDim, rng, init));
    this.ffn2 = this.child('ffn2', new Linear(opts.ffnDim, opts.dim, rng, init));
    this.norm2 = this.child('norm2', makeNorm());
  }

  /** [R, d] -> [R, d]; with `last` (each sequence's last row), the last positions only: [B, d]. */
  forward(x: Tensor, offsets: Int32Array, rng: Rng, last?: Int32Array): Tensor {
    const p = this.opts.hiddenDropout;
    const a = dropout(this.attention.forward(x, offsets, rng, last), p, rng, this.training);
    const h = this.norm1.forward(addN(last ? indexRows(x, last) : x, a));
    const f = dropout(this.ffn2.forward(gelu(this.ffn1.forward(h))), p, rng, this.training);
    return this.norm2.forward(addN(h, f));
  }
}

/** A stack of transformer blocks. */
export class TransformerEncoder extends Module {
  readonly layers: ModuleList<TransformerBlock>;
  constructor(opts: TransformerOptions & { layers: number }, rng: Rng) {
    super();
    this.layers = this.child(
      'layers',
      new ModuleList(Array.from({ length: opts.layers }, () => new TransformerBlock(opts, rng))),
    );
  }
  /**
   * [R, d] -> [R, d]. With `last` (the row of each sequence's last position) the output is
   * [B, d], the last positions only: the final layer then skips every other position.
   */
  forward(x: Tensor, offsets: Int32Array, rng: Rng, last?: Int32Array): Tensor {
    let h = x;
    const n = this.layers.items.length;
    this.layers.items.forEach((layer, i) => {
      h = layer.forward(h, offsets, rng, i === n - 1 ? last : undefined);
    });
    return n === 0 && last ? indexRows(h, last) : h;
  }
}
