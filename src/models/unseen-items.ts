/**
 * Items without a trained ID embedding: an item never seen in training (a new item, or one
 * held out by the cold-start protocol) has an ID row that only ever received gradients as a
 * negative, so its ID view says "never the next item". With this module, every such item's ID
 * view is one learned "unseen item" row instead: the ID modality is treated like a missing
 * modality, and the item is ranked by its content and categories.
 *
 * The row is learned by masking: at each training step every item's ID view is replaced by the
 * unseen row with probability idMask (the same items in the inputs and among the candidates),
 * so that the content towers learn to stand alone, as they must for a new item.
 */
import { matmul } from '../engine/ops/matmul.js';
import { embedding, selectRows } from '../engine/ops/shape.js';
import { Module } from '../engine/nn/module.js';
import type { Rng } from '../engine/rng.js';
import { Tensor } from '../engine/tensor.js';
import type { ModelData } from './model.js';

export class UnseenItems extends Module {
  /** The learned ID view of an unseen item, [1, d]; starts at zero (a neutral ID score). */
  readonly row: Tensor;
  private readonly ones: Tensor;

  /**
   * `unseen`[i] = 1 for items without a trained embedding (index 0 = padding, never unseen);
   * `idMask` = probability of masking a seen item's ID view at a training step.
   */
  constructor(
    readonly unseen: Uint8Array,
    dim: number,
    readonly idMask: number,
  ) {
    super();
    if (!(idMask >= 0 && idMask < 1)) throw new RangeError(`idMask must be in [0, 1), got ${idMask}`);
    // Zero-initialised, so creating it draws nothing from the model's random stream.
    this.row = this.param('row', new Tensor(new Float32Array(dim), [1, dim]));
    this.ones = new Tensor(new Float32Array(unseen.length).fill(1), [unseen.length, 1]);
  }

  /** Which items' ID views are the unseen row in this forward pass: the unseen items, plus the masked ones when training. */
  draw(training: boolean, rng: Rng): Uint8Array {
    if (!training || this.idMask === 0) return this.unseen;
    const mask = Uint8Array.from(this.unseen);
    for (let i = 1; i < mask.length; i++) if (rng.uniform() < this.idMask) mask[i] = 1;
    return mask;
  }

  /** A model's ID table for one forward pass: the mask drawn, then applied (one draw per step). */
  table(idTable: Tensor, training: boolean, rng: Rng): Tensor {
    return this.apply(idTable, this.draw(training, rng));
  }

  /** The ID table [N + 1, d] with the masked items' rows replaced by the unseen row. */
  apply(idTable: Tensor, mask: Uint8Array): Tensor {
    return selectRows(idTable, matmul(this.ones, this.row), mask);
  }

  /**
   * apply()'s rows of the given items only, [ids.length, d]: their ID rows gathered as a row
   * gradient (the table's gradient stays sparse), the masked ones replaced by the unseen row.
   */
  applyRows(idTable: Tensor, ids: Int32Array, mask: Uint8Array): Tensor {
    const n = ids.length;
    const ones = new Tensor(new Float32Array(n).fill(1), [n, 1]);
    const masked = Uint8Array.from(ids, (i) => mask[i]);
    return selectRows(embedding(idTable, ids, [n]), matmul(ones, this.row), masked);
  }
}

/** A model's ID table `w` for one forward pass, through its unseen-item module when it has one. */
export function idView(w: Tensor, unseen: UnseenItems | null, training: boolean, rng: Rng): Tensor {
  return unseen ? unseen.table(w, training, rng) : w;
}

/** idView's rows of the given items only, under the step's drawn mask (null without the module). */
export function idViewRows(
  w: Tensor,
  ids: Int32Array,
  unseen: UnseenItems | null,
  mask: Uint8Array | null,
): Tensor {
  return unseen ? unseen.applyRows(w, ids, mask!) : embedding(w, ids, [ids.length]);
}

/** A model's options for items without a trained ID embedding. */
export interface UnseenItemsConfig {
  /** Give such items the learned unseen row (true), or leave them their own embedding rows. */
  unseenItems: boolean;
  /** Probability of masking a seen item's ID view at a training step (needs unseenItems). */
  idMask: number;
}

/** The module for a model's unseen items, or null when the option is off. */
export function unseenItemsFor(
  cfg: UnseenItemsConfig & { dim: number },
  data: ModelData,
): UnseenItems | null {
  if (!cfg.unseenItems) return null;
  // Without training counts (a model built by hand) every item counts as seen.
  const counts = data.popularity ?? new Float64Array(data.items + 1).fill(1);
  return new UnseenItems(unseenMask(counts), cfg.dim, cfg.idMask);
}

/** Items with no training interaction (popularity 0), padding excluded. */
export function unseenMask(popularity: Float64Array): Uint8Array {
  const mask = new Uint8Array(popularity.length);
  for (let i = 1; i < popularity.length; i++) mask[i] = popularity[i] === 0 ? 1 : 0;
  return mask;
}
