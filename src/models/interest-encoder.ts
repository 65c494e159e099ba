/**
 * ④ User interest learning for one sequence of item representations: the normalisation
 * (DyT in CAMMSR, LayerNorm in SASRec), dropout, and a causal transformer encoder.
 */
import { dropout } from '../engine/ops/dropout.js';
import { DyT, LayerNorm } from '../engine/nn/layers.js';
import { Module } from '../engine/nn/module.js';
import { TransformerEncoder } from '../engine/nn/transformer.js';
import type { Rng } from '../engine/rng.js';
import type { Tensor } from '../engine/tensor.js';

export interface InterestEncoderConfig {
  dim: number;
  layers: number;
  heads: number;
  ffnDim: number;
  hiddenDropout: number;
  attnDropout: number;
  initStd: number;
  layerNormEps: number;
  inputNorm: 'dyt' | 'layernorm';
  encoderNorm: 'layernorm' | 'dyt';
  dytAlpha: number;
}

/** ④ User interest learning for one modality: Transformer(Dropout(Norm(ē))). */
export class InterestEncoder extends Module {
  readonly norm: DyT | LayerNorm;
  readonly encoder: TransformerEncoder;
  constructor(cfg: InterestEncoderConfig, rng: Rng) {
    super();
    this.norm = this.child(
      'input_norm',
      cfg.inputNorm === 'dyt' ? new DyT(cfg.dim, cfg.dytAlpha) : new LayerNorm(cfg.dim, cfg.layerNormEps),
    );
    this.encoder = this.child(
      'encoder',
      new TransformerEncoder(
        {
          layers: cfg.layers,
          dim: cfg.dim,
          heads: cfg.heads,
          ffnDim: cfg.ffnDim,
          hiddenDropout: cfg.hiddenDropout,
          attnDropout: cfg.attnDropout,
          eps: cfg.layerNormEps,
          norm: cfg.encoderNorm,
          std: cfg.initStd,
        },
        rng,
      ),
    );
  }
  /** [R, d] -> [R, d]; with `last` (each sequence's last row) only the final states, [B, d]. */
  forward(s: Tensor, offsets: Int32Array, p: number, rng: Rng, last?: Int32Array): Tensor {
    return this.encoder.forward(dropout(this.norm.forward(s), p, rng, this.training), offsets, rng, last);
  }
}
