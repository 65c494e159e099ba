/**
 * Adam and AdamW (Kingma & Ba 2015; Loshchilov & Hutter 2019), matching PyTorch's update rules.
 *
 * Sparse path: a parameter whose only gradient this step is a row gradient (an embedding table
 * used only for lookups) is updated lazily, like PyTorch's SparseAdam / TF's LazyAdam: the
 * moments and weights of the touched rows only. This costs O(touched rows) instead of
 * O(table) but is not identical to dense Adam (untouched rows' moments do not decay). Set
 * `lazySparse: false` to fold sparse gradients into dense ones for exact Adam.
 */
import { adamRange } from '../../kernels/js.js';
import type { AdamStep } from '../../kernels/kernels.js';
import { kernels } from '../../kernels/select.js';
import type { Tensor } from '../tensor.js';
import { consolidateGrad } from './grads.js';

export interface AdamOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** L2 penalty added to the gradient (Adam) or decoupled decay (AdamW). */
  weightDecay?: number;
  /** true = AdamW (decoupled weight decay). */
  decoupled?: boolean;
  /** Lazy row updates for sparse-only gradients (default true). */
  lazySparse?: boolean;
}

interface Slot {
  m: Float32Array;
  v: Float32Array;
}

export class Adam {
  readonly params: readonly Tensor[];
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly decoupled: boolean;
  readonly lazySparse: boolean;
  private t = 0;
  private readonly slots = new Map<Tensor, Slot>();

  constructor(params: readonly Tensor[], opts: AdamOptions = {}) {
    this.params = params;
    this.lr = opts.lr ?? 1e-3;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
    this.decoupled = opts.decoupled ?? false;
    this.lazySparse = opts.lazySparse ?? true;
    for (const [k, v] of Object.entries({ lr: this.lr, eps: this.eps, weightDecay: this.weightDecay })) {
      if (!(v >= 0) || !Number.isFinite(v))
        throw new RangeError(`Adam: ${k} must be a finite number >= 0, got ${v}`);
    }
    for (const [k, v] of Object.entries({ beta1: this.beta1, beta2: this.beta2 })) {
      if (!(v >= 0 && v < 1)) throw new RangeError(`Adam: ${k} must be in [0, 1), got ${v}`);
    }
  }

  /** Steps taken so far. */
  get stepCount(): number {
    return this.t;
  }

  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }

  step(): void {
    this.t++;
    const bc1 = 1 - this.beta1 ** this.t;
    const bc2 = 1 - this.beta2 ** this.t;
    const { lr, beta1, beta2, eps, weightDecay, decoupled } = this;
    const h: AdamStep = {
      lr,
      beta1,
      beta2,
      eps,
      weightDecay,
      decoupled,
      stepSize: lr / bc1,
      rbc2: 1 / Math.sqrt(bc2),
    };
    for (const p of this.params) {
      consolidateGrad(p);
      const rg = p.rowGrad;
      if (p.grad === null && rg !== null && rg.count > 0) {
        if (this.lazySparse) {
          const w = rg.width;
          const rows = rg.rows;
          const vals = rg.values;
          const s = this.slot(p);
          for (let i = 0; i < rows.length; i++) adamRange(p.data, vals, s.m, s.v, rows[i] * w, i * w, w, h);
          continue;
        }
        p.grad = new Float32Array(p.size);
        rg.addTo(p.grad);
        rg.clear();
      }
      if (p.grad === null) continue;
      const s = this.slot(p);
      kernels().adamUpdate(p.data, p.grad, s.m, s.v, p.size, h);
    }
  }

  private slot(p: Tensor): Slot {
    let s = this.slots.get(p);
    if (!s) {
      s = { m: new Float32Array(p.size), v: new Float32Array(p.size) };
      this.slots.set(p, s);
    }
    return s;
  }

  /** Optimizer state for checkpoints: the step count and each parameter's moments. */
  stateDict(): { step: number; moments: { m: Float32Array; v: Float32Array }[] } {
    return { step: this.t, moments: this.params.map((p) => this.slot(p)) };
  }

  loadStateDict(state: { step: number; moments: { m: Float32Array; v: Float32Array }[] }): void {
    if (state.moments.length !== this.params.length) {
      throw new Error(
        `optimizer state has ${state.moments.length} parameters, this optimizer has ${this.params.length}`,
      );
    }
    state.moments.forEach((s, i) => {
      const p = this.params[i];
      if (s.m.length !== p.size || s.v.length !== p.size) {
        throw new Error(`optimizer state for parameter ${p.name ?? i} has the wrong size`);
      }
      this.slots.set(p, { m: Float32Array.from(s.m), v: Float32Array.from(s.v) });
    });
    this.t = state.step;
  }
}

/** AdamW: Adam with decoupled weight decay (default 0.01, as in PyTorch). */
export class AdamW extends Adam {
  constructor(params: readonly Tensor[], opts: Omit<AdamOptions, 'decoupled'> = {}) {
    super(params, { weightDecay: 0.01, ...opts, decoupled: true });
  }
}
