/**
 * MOCA (Mixture of Conditional Attention, PAKDD 2025), as its public code builds it (the peers'
 * spec, docs/models.md): every position of a left-padded sequence has an ID token and one token
 * per content modality; a feature-level transformer of conditional-attention experts mixes all
 * of them, an aggregate fuses each position's tokens into one, and an item-level transformer of
 * the same experts runs over the positions. The last position's state scores every item's ID
 * embedding. Trained per prefix, against the items after the prefix with weights 0.5^j (soft
 * targets), plus an InfoNCE that aligns each target's ID embedding with its content.
 *
 *   tokens     X = [E_img(L) ; E_txt(L) ; E_id(L)]        feature embeddings: Linear (no bias) + LN
 *   ① feature  X' = FeatureTransformer(X)                 experts see all modalities' tokens
 *   ② fuse     S⁰_t = LN(W [X'_img,t ; X'_txt,t ; X'_id,t] + b)
 *   ③ item     S = ItemTransformer(S⁰);  h = S_{L−1}
 *   ④ score    ŷ = h · E_idᵀ
 *
 * Items never seen in training have only their random ID row as a candidate: MOCA cannot rank
 * them (ranksUnseenItems false), though their content is read when they are in a history.
 */
import { noGrad } from '../engine/autograd.js';
import { add, addN, scale } from '../engine/ops/elementwise.js';
import { linearSoftTargetCrossEntropy, crossEntropy, type SoftTargets } from '../engine/ops/loss.js';
import { matmul } from '../engine/ops/matmul.js';
import { l2Normalize } from '../engine/ops/norm.js';
import { concat, indexRows, slice } from '../engine/ops/shape.js';
import { Embedding, LayerNorm, Linear } from '../engine/nn/layers.js';
import { Module, ModuleList } from '../engine/nn/module.js';
import type { Rng } from '../engine/rng.js';
import { Tensor } from '../engine/tensor.js';
import { ConditionalTransformer, type TransformerKind } from './conditional-transformer.js';
import { modelRng } from './model-rng.js';
import type { ItemFeatures, LossResult, ModelData, Scorer, SequenceBatch } from './model.js';
import { lastRows, SequentialModel, TrainingCandidates } from './model.js';
import { longest, sequenceGrid, tokenGrid } from './token-grid.js';

export interface MocaConfig {
  items: number;
  maxLen: number;
  dim: number;
  heads: number;
  featureTransformer: TransformerKind;
  itemTransformer: TransformerKind;
  featureLayers: number;
  itemLayers: number;
  experts: number;
  featureRouted: number;
  itemRouted: number;
  attnDropout: number;
  ffDropout: number;
  labelGamma: number;
  alignWeight: number;
  alignTau: number;
  /** Standard deviation of the linear layers' initial weights. */
  initStd: number;
  seed: number;
  /** Built to load trained weights right away: no initial weights are drawn (model-rng.ts). */
  loadsWeights?: boolean;
  /** Items held out of the training softmax (the cold-start protocol), 1 = held out. */
  heldOut?: Uint8Array;
}

/** PyTorch's LayerNorm epsilon, which MOCA keeps. */
const LN_EPS = 1e-5;

/** MOCA's FeatureEmbLayer: a modality's frozen features, projected (no bias) and normalised. */
class FeatureEmbedding extends Module {
  readonly projection: Linear;
  readonly norm: LayerNorm;
  /** [N + 1, f]; an item without the modality has a zero row, so its token is the LN's β. */
  private readonly table: Tensor;

  constructor(features: ItemFeatures, items: number, dim: number, rng: Rng, std: number) {
    super();
    this.projection = this.child('projection', new Linear(features.dim, dim, rng, { std, bias: false }));
    this.norm = this.child('norm', new LayerNorm(dim, LN_EPS));
    this.table = new Tensor(features.matrix, [items + 1, features.dim]);
  }

  /** [ids.length, d]: the tokens of these items. */
  forward(ids: Int32Array): Tensor {
    return this.norm.forward(this.projection.forward(indexRows(this.table, ids)));
  }
}

export class Moca extends SequentialModel {
  readonly kind = 'moca';
  readonly trainable = true;
  readonly ranksUnseenItems = false;
  readonly idEmb: Embedding;
  /** Content modalities in token order (image, then text), then the ID tokens. */
  readonly features: ModuleList<FeatureEmbedding>;
  readonly featureLevel: ConditionalTransformer;
  readonly aggregate: Linear;
  readonly aggregateNorm: LayerNorm;
  readonly itemLevel: ConditionalTransformer;
  /** Drives dropout; seeded from the config so that a run is reproducible. */
  readonly rng: Rng;
  private readonly candidates: TrainingCandidates | null;

  constructor(
    readonly config: MocaConfig,
    data: ModelData,
  ) {
    super();
    const rng = modelRng(config);
    const { dim, heads, initStd: std } = config;
    // PyTorch's nn.Embedding default, N(0, 1), as MOCA leaves it.
    this.idEmb = this.child(
      'id_embedding',
      new Embedding(config.items + 1, dim, rng, { std: 1, paddingIdx: 0 }),
    );
    const content = [data.image, data.text].filter((f): f is ItemFeatures => f !== undefined);
    this.features = this.child(
      'features',
      new ModuleList(content.map((f) => new FeatureEmbedding(f, config.items, dim, rng, std))),
    );
    const shared = { dim, heads, headDim: dim / heads, attnDropout: config.attnDropout, initStd: std };
    const level = (kind: TransformerKind, layers: number, routed: number) =>
      new ConditionalTransformer(
        {
          ...shared,
          kind,
          layers,
          experts: config.experts,
          ffDropout: config.ffDropout,
          queries: routed,
          keyValues: routed,
        },
        rng,
      );
    const tokens = content.length + 1;
    this.featureLevel = this.child(
      'feature_level',
      level(config.featureTransformer, config.featureLayers, config.featureRouted),
    );
    this.aggregate = this.child('aggregate', new Linear(tokens * dim, dim, rng, { std }));
    this.aggregateNorm = this.child('aggregate_norm', new LayerNorm(dim, LN_EPS));
    this.itemLevel = this.child(
      'item_level',
      level(config.itemTransformer, config.itemLayers, config.itemRouted),
    );
    this.rng = rng.fork();
    this.candidates = TrainingCandidates.of(config);
  }

  get maxLen(): number {
    return this.config.maxLen;
  }

  /**
   * The padded length of a batch: its longest sequence, and long enough that every router has
   * more tokens than it routes (as with MOCA's fixed padding to maxLen: CoLT5 routes every
   * token, without router gradients, when there are no more than it routes). A padding slot is
   * never routed while a real token is left, so the states do not depend on the padding.
   */
  private paddedLength(batch: SequenceBatch): number {
    const tokens = this.features.items.length + 1;
    const { maxLen, itemRouted, featureRouted } = this.config;
    // More than k tokens, and at least k_eff = k·9/8 (the coordinate descent's min(k_eff, n)).
    const needs = (k: number) => Math.max(k + 1, Math.ceil((k * 9) / 8));
    return Math.min(
      maxLen,
      Math.max(longest(batch), needs(itemRouted), Math.ceil(needs(featureRouted) / tokens)),
    );
  }

  /** h [B, d]: the item-level state at each sequence's last position. */
  forward(batch: SequenceBatch): Tensor {
    // Rotary positions as in MOCA's padding to maxLen: the most recent item at maxLen − 1.
    const positions = sequenceGrid(batch, this.paddedLength(batch), this.config.maxLen);
    const blocks = [
      ...this.features.items.map((f) => f.forward(batch.items)),
      this.idEmb.forward(batch.items),
    ];
    const T = blocks.length;
    const P = batch.items.length;
    // ① Feature level: T blocks of P packed tokens, each token at its item's position.
    const tokens = tokenGrid(positions, T);
    const mixed = this.featureLevel.forward(concat(blocks, 0), tokens, this.rng, this.training);
    // ② Each position's T tokens side by side, fused into one.
    const perPosition = concat(
      blocks.map((_, t) => slice(mixed, 0, t * P, (t + 1) * P)),
      1,
    );
    const s0 = this.aggregateNorm.forward(this.aggregate.forward(perPosition));
    // ③ Item level, and the last position's state.
    const s = this.itemLevel.forward(s0, positions, this.rng, this.training);
    return indexRows(s, lastRows(batch));
  }

  /**
   * The soft-target cross-entropy over the items after each prefix (weights labelGamma^j), plus
   * alignWeight times the ID-to-content InfoNCE of the next items.
   */
  loss(batch: SequenceBatch): LossResult {
    const future = batch.future;
    if (!future) throw new Error("moca trains on prefix batches (train.samples 'prefixes')");
    const table = this.candidates ? indexRows(this.idEmb.weight, this.candidates.ids) : this.idEmb.weight;
    const sr = linearSoftTargetCrossEntropy(this.forward(batch), table, this.softTargets(future));
    const terms: Record<string, number> = { sr: sr.item() };
    if (this.config.alignWeight === 0 || this.features.items.length === 0) return { total: sr, terms };
    const next = Int32Array.from({ length: batch.size }, (_, b) => future.items[future.offsets[b]]);
    const align = this.alignment(next);
    terms.align = align.item();
    return { total: add(sr, scale(align, this.config.alignWeight)), terms };
  }

  private softTargets(future: NonNullable<SequenceBatch['future']>): SoftTargets {
    const { offsets } = future;
    const weights = new Float32Array(future.items.length);
    for (let b = 0; b + 1 < offsets.length; b++)
      for (let j = offsets[b]; j < offsets[b + 1]; j++)
        weights[j] = this.config.labelGamma ** (j - offsets[b]);
    const items = this.candidates ? this.candidates.positions(future.items) : future.items;
    return { offsets, items, weights };
  }

  /**
   * Σ over content modalities of InfoNCE(E_id[y], FeatureEmbedding_m(y)): cosine similarities
   * over alignTau, the batch's other next items as negatives, the ID rows as anchors.
   */
  private alignment(next: Int32Array): Tensor {
    const ids = l2Normalize(this.idEmb.forward(next, [next.length]));
    const diagonal = Int32Array.from(next, (_, i) => i);
    const terms = this.features.items.map((f) => {
      const logits = matmul(ids, l2Normalize(f.forward(next)), { transB: true });
      return crossEntropy(scale(logits, 1 / this.config.alignTau), diagonal);
    });
    return terms.length === 1 ? terms[0] : addN(...terms);
  }

  /** Users: the last position's state; items: the ID embeddings (padding row included). */
  scorer(): Scorer {
    return {
      dim: this.config.dim,
      items: this.idEmb.weight.data,
      users: (batch) => noGrad(() => this.forward(batch).data),
    };
  }
}
