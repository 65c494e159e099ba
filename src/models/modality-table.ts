/**
 * The item-side view of a content modality: ẽ_m(j) = W_m x_m(j) + b_m for every item j, from
 * frozen features x_m. Items that lack the modality get a zero feature plus a learned
 * "missing" embedding, so that the model can tell "no poster" from "a dark poster".
 */
import { noGrad } from '../engine/autograd.js';
import { add } from '../engine/ops/elementwise.js';
import { linear, matmul } from '../engine/ops/matmul.js';
import { normalParam } from '../engine/nn/init.js';
import { Linear } from '../engine/nn/layers.js';
import { indexRows } from '../engine/ops/shape.js';
import { Module } from '../engine/nn/module.js';
import type { Rng } from '../engine/rng.js';
import { Tensor } from '../engine/tensor.js';
import type { ItemFeatures } from './model.js';

export class ModalityTable extends Module {
  readonly projection: Linear;
  readonly missing: Tensor;
  private readonly x: Tensor;
  /** [N + 1, 1]: 1 for items without the modality, or null when every item has it. */
  private readonly absent: Tensor | null;

  constructor(features: ItemFeatures, items: number, dim: number, rng: Rng, std: number) {
    super();
    this.projection = this.child('projection', new Linear(features.dim, dim, rng, { std }));
    this.missing = this.param('missing', normalParam([1, dim], std, rng));
    this.x = new Tensor(features.matrix, [items + 1, features.dim]);
    // One plain pass (a million items are a step of a serving reload).
    const absent = new Float32Array(items + 1);
    const mask = features.mask;
    let anyAbsent = false;
    for (let i = 1; i <= items; i++)
      if (mask[i] === 0) {
        absent[i] = 1;
        anyAbsent = true;
      }
    this.absent = anyAbsent ? new Tensor(absent, [items + 1, 1]) : null;
  }

  /** ẽ_m for all items, [N + 1, d] (row 0 = padding, never a target). */
  table(): Tensor {
    const t = linear(this.x, this.projection.weight, this.projection.bias);
    return this.absent ? add(t, matmul(this.absent, this.missing)) : t;
  }

  /** ẽ_m of the given items only, [ids.length, d]: table()'s rows, at the cost of those rows. */
  rows(ids: Int32Array): Tensor {
    const t = linear(indexRows(this.x, ids), this.projection.weight, this.projection.bias);
    return this.absent ? add(t, matmul(indexRows(this.absent, ids), this.missing)) : t;
  }

  /**
   * table() for inference, `rows` items per step (no gradient): the same products row by row,
   * and 1·missing = missing; a kernel may round a one-row block differently (native: a GEMV).
   */
  *tableSteps(rows = TABLE_ROWS_PER_STEP): Generator<void, Tensor> {
    const [n, f] = this.x.shape;
    const d = this.projection.weight.shape[0];
    const out = new Float32Array(n * d);
    for (let a = 0; a < n; a += rows) {
      const b = Math.min(n, a + rows);
      const x = new Tensor(this.x.data.subarray(a * f, b * f), [b - a, f]);
      out.set(noGrad(() => linear(x, this.projection.weight, this.projection.bias)).data, a * d);
      if (b < n) yield;
    }
    const absent = this.absent?.data;
    const missing = this.missing.data;
    if (absent)
      for (let i = 0; i < n; i++)
        if (absent[i] === 1) for (let e = 0; e < d; e++) out[i * d + e] += missing[e];
    return new Tensor(out, [n, d]);
  }
}

/** Items per step of tableSteps: a millisecond or two of work with 512-d features. */
const TABLE_ROWS_PER_STEP = 512;
