/**
 * MOCA's transformers (feature level and item level): layers of x ← x + mean_t CA_t(x), then
 * x ← x + FF(x) with FF = LayerNorm → Linear(d, d) → GELU → Linear(d, d) → dropout, and a
 * LayerNorm at the end. The experts are averaged: the code has no gating network. Kinds, as the
 * ablations of the spec: 'conditional' (routed experts), 'full' (one attention over every token,
 * the same RMSNorm, rotary and null key/value), 'none' (no transformer: x unchanged).
 */
import { gelu } from '../engine/ops/activation.js';
import { add, scale } from '../engine/ops/elementwise.js';
import { addToRows, concat, slice } from '../engine/ops/shape.js';
import { matmul } from '../engine/ops/matmul.js';
import { dropout } from '../engine/ops/dropout.js';
import { LayerNorm, Linear } from '../engine/nn/layers.js';
import { Module, ModuleList } from '../engine/nn/module.js';
import type { Rng } from '../engine/rng.js';
import type { Tensor } from '../engine/tensor.js';
import { ConditionalAttention, type ConditionalAttentionConfig } from './conditional-attention.js';
import type { TokenGrid } from './token-grid.js';

export type TransformerKind = 'conditional' | 'full' | 'none';

export interface ConditionalTransformerConfig extends ConditionalAttentionConfig {
  kind: TransformerKind;
  layers: number;
  experts: number;
  ffDropout: number;
}

class FeedForward extends Module {
  readonly norm: LayerNorm;
  readonly inner: Linear;
  readonly outer: Linear;
  constructor(
    dim: number,
    private readonly p: number,
    rng: Rng,
    std: number,
  ) {
    super();
    this.norm = this.child('norm', new LayerNorm(dim, 1e-5));
    this.inner = this.child('inner', new Linear(dim, dim, rng, { std }));
    this.outer = this.child('outer', new Linear(dim, dim, rng, { std }));
  }
  forward(x: Tensor, rng: Rng, training: boolean): Tensor {
    return dropout(this.outer.forward(gelu(this.inner.forward(this.norm.forward(x)))), this.p, rng, training);
  }
}

class ConditionalLayer extends Module {
  readonly experts: ModuleList<ConditionalAttention>;
  readonly ff: FeedForward;
  constructor(cfg: ConditionalTransformerConfig, rng: Rng) {
    super();
    // 'full': one expert that routes every token (k ≥ n routes all, with weight 1).
    const expert = cfg.kind === 'full' ? { ...cfg, queries: Infinity, keyValues: Infinity } : cfg;
    const count = cfg.kind === 'full' ? 1 : cfg.experts;
    this.experts = this.child(
      'experts',
      new ModuleList(Array.from({ length: count }, () => new ConditionalAttention(expert, rng))),
    );
    this.ff = this.child('ff', new FeedForward(cfg.dim, cfg.ffDropout, rng, cfg.initStd));
  }
  forward(x: Tensor, grid: TokenGrid, rng: Rng, training: boolean): Tensor {
    // Every expert's two routers scored in one product [R, 2·experts] (a product per router
    // read all of x each time, as a GEMM of one column, which BLAS runs far below its speed).
    const experts = this.experts.items;
    const scores = matmul(
      x,
      concat(
        experts.flatMap((e) => e.routers()),
        1,
      ),
    );
    // Each expert answers at the tokens it routed only: their mean lands on x in one pass.
    const answers = experts.map((e, t) =>
      e.answers(x, grid, rng, training, slice(scores, 1, 2 * t, 2 * t + 2)),
    );
    const rows = Int32Array.from(answers.flatMap((a) => Array.from(a.rows)));
    const values = concat(
      answers.map((a) => a.values),
      0,
    );
    const h = addToRows(x, rows, answers.length === 1 ? values : scale(values, 1 / answers.length));
    return add(h, this.ff.forward(h, rng, training));
  }
}

export class ConditionalTransformer extends Module {
  readonly layers: ModuleList<ConditionalLayer>;
  readonly final: LayerNorm | null;
  constructor(
    readonly cfg: ConditionalTransformerConfig,
    rng: Rng,
  ) {
    super();
    const layers =
      cfg.kind === 'none' ? [] : Array.from({ length: cfg.layers }, () => new ConditionalLayer(cfg, rng));
    this.layers = this.child('layers', new ModuleList(layers));
    this.final = cfg.kind === 'none' ? null : this.child('final_norm', new LayerNorm(cfg.dim, 1e-5));
  }

  /** x [R, d]: the packed tokens of `grid` (token-grid.ts). */
  forward(x: Tensor, grid: TokenGrid, rng: Rng, training: boolean): Tensor {
    if (!this.final) return x;
    let h = x;
    for (const layer of this.layers.items) h = layer.forward(h, grid, rng, training);
    return this.final.forward(h);
  }
}
