/**
 * Heuristic multimodal fusion (what the CAMMSR paper argues against): one SASRec over item
 * representations fused before the sequence model, and scored against the same fused table.
 *   sum:    ẽ(j) = E_id[j] + W_t x_t(j) + W_v x_v(j)
 *   concat: ẽ(j) = Linear([E_id[j]; W_t x_t(j); W_v x_v(j)])
 */
import { modelRng } from './model-rng.js';
import { NegativeSampler, type SampledSoftmaxConfig } from './sampled-softmax.js';
import { noGrad } from '../engine/autograd.js';
import { addN } from '../engine/ops/elementwise.js';
import { concat, indexRows } from '../engine/ops/shape.js';
import { Embedding, Linear } from '../engine/nn/layers.js';
import { ModuleList } from '../engine/nn/module.js';
import { Rng } from '../engine/rng.js';
import type { Tensor } from '../engine/tensor.js';
import type { Modality } from '../config/names.js';
import { InterestEncoder, type InterestEncoderConfig } from './interest-encoder.js';
import { ModalityTable } from './modality-table.js';
import type { ItemFeatures, LossResult, ModelData, Scorer, SequenceBatch } from './model.js';
import {
  distinctItems,
  lastRows,
  nextItemLoss,
  runSteps,
  sampledNextItemLoss,
  SequentialModel,
  usesStepRows,
  TrainingCandidates,
} from './model.js';
import {
  idView,
  idViewRows,
  unseenItemsFor,
  type UnseenItems,
  type UnseenItemsConfig,
} from './unseen-items.js';

export interface FusionConfig extends InterestEncoderConfig, UnseenItemsConfig {
  mode: 'sum' | 'concat';
  modalities: Modality[];
  maxLen: number;
  seed: number;
  /** Built to load trained weights right away: no initial weights are drawn (model-rng.ts). */
  loadsWeights?: boolean;
  /** Train with a sampled softmax (null or absent: the full softmax). */
  sampledSoftmax?: SampledSoftmaxConfig | null;
}

export class FusionSasrec extends SequentialModel {
  readonly kind: string;
  readonly trainable = true;
  readonly idEmb: Embedding | null = null;
  readonly posEmb: Embedding;
  readonly content: ModuleList<ModalityTable>;
  readonly fuse: Linear | null;
  readonly encoder: InterestEncoder;
  /** The learned ID view of items without a trained embedding (null: their own rows). */
  readonly unseen: UnseenItems | null;
  readonly rng: Rng;
  /** The training softmax's items (null: all of them). */
  private readonly candidates: TrainingCandidates | null;
  private readonly sampler: NegativeSampler | null;
  /** As Cammsr.stepRows: sampled-softmax steps fuse only their own items' rows. */
  stepRows: boolean;

  constructor(
    readonly config: FusionConfig,
    data: ModelData,
  ) {
    super();
    this.kind = `fusion-${config.mode}`;
    const rng = modelRng(config);
    const M = config.modalities;
    for (const m of M)
      if (m !== 'id' && !data[m]) throw new Error(`${this.kind}: the dataset has no ${m} features`);
    if (M.includes('id')) {
      this.idEmb = this.child(
        'item_embedding',
        new Embedding(data.items + 1, config.dim, rng, { std: config.initStd }),
      );
    }
    this.posEmb = this.child(
      'position_embedding',
      new Embedding(config.maxLen, config.dim, rng, { std: config.initStd }),
    );
    const content = M.filter((m) => m !== 'id').map(
      (m) => new ModalityTable(data[m] as ItemFeatures, data.items, config.dim, rng, config.initStd),
    );
    this.content = this.child('content', new ModuleList(content));
    this.fuse =
      config.mode === 'concat'
        ? this.child('fuse', new Linear(M.length * config.dim, config.dim, rng, { std: config.initStd }))
        : null;
    this.encoder = this.child('encoder', new InterestEncoder(config, rng));
    const unseen = this.idEmb ? unseenItemsFor(config, data) : null;
    this.unseen = unseen ? this.child('unseen_items', unseen) : null;
    this.rng = rng.fork();
    this.candidates = TrainingCandidates.of(data);
    this.sampler = NegativeSampler.of(config.sampledSoftmax, data);
    this.stepRows = usesStepRows(this.sampler, data.items);
  }

  get ranksUnseenItems(): boolean {
    return this.content.items.length > 0;
  }

  get maxLen(): number {
    return this.config.maxLen;
  }

  /** The fused item table [N + 1, d]. */
  private table(): Tensor {
    return this.fused(this.content.items.map((c) => c.table()));
  }

  /** The fused item table from the content modalities' tables. */
  private fused(content: Tensor[]): Tensor {
    return this.fuseParts([...(this.idEmb ? [this.idTable()] : []), ...content]);
  }

  /**
   * The fused rows of the given items only (a sampled-softmax step's item side), under the
   * mask of unseen and masked items drawn for the step.
   */
  private fusedRows(ids: Int32Array, mask: Uint8Array | null): Tensor {
    const w = this.idEmb?.weight;
    const id = w ? [idViewRows(w, ids, this.unseen, mask)] : [];
    return this.fuseParts([...id, ...this.content.items.map((c) => c.rows(ids))]);
  }

  private fuseParts(parts: Tensor[]): Tensor {
    if (this.fuse) return this.fuse.forward(parts.length === 1 ? parts[0] : concat(parts, -1));
    return parts.length === 1 ? parts[0] : addN(...parts);
  }

  /** E_id, with the unseen (and, in training, the masked) items' rows replaced by the unseen row. */
  private idTable(): Tensor {
    return idView(this.idEmb!.weight, this.unseen, this.training, this.rng);
  }

  /** `index`[r]: row r's item's row in `table` (the item id for the whole-catalog table). */
  private hidden(batch: SequenceBatch, table: Tensor, last?: Int32Array, index = batch.items): Tensor {
    const R = batch.items.length;
    const x = addN(indexRows(table, index), this.posEmb.forward(batch.positions, [R]));
    return this.encoder.forward(x, batch.offsets, this.config.hiddenDropout, this.rng, last);
  }

  loss(batch: SequenceBatch): LossResult {
    const sampling = this.sampler && { sampler: this.sampler, rng: this.rng };
    let total: Tensor;
    if (sampling && this.stepRows) {
      // The step's own items only (model.ts, usesStepRows); the mask is drawn first either way.
      const distinct = distinctItems(batch.items);
      const mask = this.unseen ? this.unseen.draw(this.training, this.rng) : null;
      const rowsOf = (ids: Int32Array) => this.fusedRows(ids, mask);
      const h = this.hidden(batch, rowsOf(distinct.ids), undefined, distinct.index);
      total = sampledNextItemLoss(h, batch, sampling, rowsOf);
    } else {
      const table = this.table();
      total = nextItemLoss(this.hidden(batch, table), table, batch, this.candidates, sampling);
    }
    return { total, terms: { sr: total.item(), total: total.item() } };
  }

  /** Users: the last hidden state; items: the fused item table (computed once here). */
  scorer(): Scorer {
    return runSteps(this.scorerSteps());
  }

  /** scorer() one block of a content table at a time (a loading service yields between). */
  *scorerSteps(): Generator<void, Scorer> {
    const content: Tensor[] = [];
    for (const c of this.content.items) {
      content.push(yield* c.tableSteps());
      yield;
    }
    const table = noGrad(() => this.fused(content));
    return {
      dim: this.config.dim,
      items: table.data,
      users: (batch) => noGrad(() => this.hidden(batch, table, lastRows(batch)).data),
    };
  }
}
