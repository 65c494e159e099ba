/**
 * SASRec (Kang & McAuley 2018) as RecBole implements it: item + position embeddings,
 * LayerNorm, dropout, a post-LN transformer encoder with causal attention, and the item
 * table reused as the output layer. Trained with full-softmax cross-entropy at every
 * position that has a next item.
 *
 * Batches are packed (see SequenceBatch): only real positions are computed. Position ids
 * count from the oldest item of the window, as with RecBole's right padding.
 */
import { modelRng } from './model-rng.js';
import { NegativeSampler, type SampledSoftmaxConfig } from './sampled-softmax.js';
import { noGrad } from '../engine/autograd.js';
import { addN } from '../engine/ops/elementwise.js';
import { dropout } from '../engine/ops/dropout.js';
import { Embedding, LayerNorm } from '../engine/nn/layers.js';
import { TransformerEncoder } from '../engine/nn/transformer.js';
import { Rng } from '../engine/rng.js';
import type { Tensor } from '../engine/tensor.js';
import type { LossResult, Scorer, SequenceBatch } from './model.js';
import { lastRows, nextItemLoss, SequentialModel, TrainingCandidates } from './model.js';

export type { SequenceBatch } from './model.js';

export interface SasrecConfig {
  items: number;
  maxLen: number;
  dim: number;
  layers: number;
  heads: number;
  ffnDim: number;
  hiddenDropout: number;
  attnDropout: number;
  seed: number;
  /** Built to load trained weights right away: no initial weights are drawn (model-rng.ts). */
  loadsWeights?: boolean;
  /** Items held out of the training softmax (the cold-start protocol), 1 = held out. */
  heldOut?: Uint8Array;
  /** Training interactions per item (the sampled softmax's proposal). */
  popularity?: ArrayLike<number>;
  /** Train with a sampled softmax (null or absent: the full softmax). */
  sampledSoftmax?: SampledSoftmaxConfig | null;
}

export class Sasrec extends SequentialModel {
  readonly kind = 'sasrec';
  readonly trainable = true;
  readonly ranksUnseenItems = false;
  readonly itemEmb: Embedding;
  readonly posEmb: Embedding;
  readonly inputNorm: LayerNorm;
  readonly encoder: TransformerEncoder;
  /** Drives dropout; seeded from the config so that a run is reproducible. */
  readonly rng: Rng;
  /** The training softmax's items (null: all of them). */
  private readonly candidates: TrainingCandidates | null;
  private readonly sampler: NegativeSampler | null;

  constructor(readonly config: SasrecConfig) {
    super();
    const rng = modelRng(config);
    this.itemEmb = this.child(
      'item_embedding',
      new Embedding(config.items + 1, config.dim, rng, { paddingIdx: 0 }),
    );
    this.posEmb = this.child('position_embedding', new Embedding(config.maxLen, config.dim, rng));
    this.inputNorm = this.child('input_norm', new LayerNorm(config.dim));
    this.encoder = this.child(
      'encoder',
      new TransformerEncoder(
        {
          layers: config.layers,
          dim: config.dim,
          heads: config.heads,
          ffnDim: config.ffnDim,
          hiddenDropout: config.hiddenDropout,
          attnDropout: config.attnDropout,
        },
        rng,
      ),
    );
    this.rng = rng.fork();
    this.candidates = TrainingCandidates.of(config);
    this.sampler = NegativeSampler.of(config.sampledSoftmax, config);
  }

  /** Hidden states [R, d], one per packed position; with `last`, at those rows only ([B, d]). */
  forward(batch: SequenceBatch, last?: Int32Array): Tensor {
    const R = batch.items.length;
    const x = addN(this.itemEmb.forward(batch.items, [R]), this.posEmb.forward(batch.positions, [R]));
    const h = dropout(this.inputNorm.forward(x), this.config.hiddenDropout, this.rng, this.training);
    return this.encoder.forward(h, batch.offsets, this.rng, last);
  }

  get maxLen(): number {
    return this.config.maxLen;
  }

  /** Mean next-item cross-entropy (full or sampled softmax), at every position that has a target. */
  loss(batch: SequenceBatch): LossResult {
    const sampling = this.sampler && { sampler: this.sampler, rng: this.rng };
    const total = nextItemLoss(this.forward(batch), this.itemEmb.weight, batch, this.candidates, sampling);
    return { total, terms: { sr: total.item() } };
  }

  /** Users: the last hidden state; items: the (tied) item embeddings. */
  scorer(): Scorer {
    return {
      dim: this.config.dim,
      items: this.itemEmb.weight.data,
      users: (batch) => noGrad(() => this.forward(batch, lastRows(batch)).data),
    };
  }
}
