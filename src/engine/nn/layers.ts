/** Basic layers: Linear, Embedding, LayerNorm, DyT. */
import { dyt, layerNorm, rmsNorm } from '../ops/norm.js';
import { linear } from '../ops/matmul.js';
import { embedding } from '../ops/shape.js';
import type { Rng } from '../rng.js';
import type { Shape, Tensor } from '../tensor.js';
import { constantParam, normalParam } from './init.js';
import { Module } from './module.js';

export interface InitOptions {
  /** Standard deviation of the N(0, std²) weight initialisation (RecBole: 0.02). */
  std?: number;
}

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(
    inFeatures: number,
    outFeatures: number,
    rng: Rng,
    opts: InitOptions & { bias?: boolean } = {},
  ) {
    super();
    this.weight = this.param('weight', normalParam([outFeatures, inFeatures], opts.std ?? 0.02, rng));
    this.bias = opts.bias === false ? null : this.param('bias', constantParam([outFeatures], 0));
  }
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}

export class Embedding extends Module {
  readonly weight: Tensor;
  /** Row to keep at zero (padding id), or null. */
  readonly paddingIdx: number | null;
  constructor(rows: number, dim: number, rng: Rng, opts: InitOptions & { paddingIdx?: number } = {}) {
    super();
    this.weight = this.param('weight', normalParam([rows, dim], opts.std ?? 0.02, rng));
    this.paddingIdx = opts.paddingIdx ?? null;
    if (this.paddingIdx !== null)
      this.weight.data.fill(0, this.paddingIdx * dim, (this.paddingIdx + 1) * dim);
  }
  forward(ids: Int32Array, shape?: Shape): Tensor {
    return embedding(this.weight, ids, shape, this.paddingIdx);
  }
}

export class LayerNorm extends Module {
  readonly gamma: Tensor;
  readonly beta: Tensor;
  constructor(
    dim: number,
    readonly eps = 1e-12,
  ) {
    super();
    this.gamma = this.param('weight', constantParam([dim], 1));
    this.beta = this.param('bias', constantParam([dim], 0));
  }
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.gamma, this.beta, this.eps);
  }
}

/** Dynamic Tanh (Zhu et al. 2025), a normalisation-free replacement for LayerNorm. */
export class DyT extends Module {
  readonly alpha: Tensor;
  readonly gamma: Tensor;
  readonly beta: Tensor;
  constructor(dim: number, alphaInit = 0.5) {
    super();
    this.alpha = this.param('alpha', constantParam([1], alphaInit));
    this.gamma = this.param('weight', constantParam([dim], 1));
    this.beta = this.param('bias', constantParam([dim], 0));
  }
  forward(x: Tensor): Tensor {
    return dyt(x, this.alpha, this.gamma, this.beta);
  }
}

/**
 * RMSNorm as MOCA's code writes it: x / ‖x‖ · √d · γ along the last axis (l2Normalize's
 * epsilon guards a zero row), γ initialised to 1.
 */
export class RmsNorm extends Module {
  readonly gamma: Tensor;
  constructor(readonly dim: number) {
    super();
    this.gamma = this.param('weight', constantParam([dim], 1));
  }
  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.gamma);
  }
}
