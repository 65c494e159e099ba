/**
 * CAMMSR: Category-guided Attentive Mixture of Experts for Multimodal Sequential
 * Recommendation (Xu et al., ICDE 2026), as docs/models.md ("The model contract") describes.
 * Read top to bottom, following the paper's figure:
 *
 *   ① item representation   e_m(k) = item view of modality m + P[k] (+ time-gap embedding)
 *   ② CAMoE                  experts over [e_id; e_t; e_v], one attentive gate per modality,
 *                            category-guided modality weights w, residual ē_m = e_m + s·w_m·ê_m
 *   ④ user interest          Z_m = Transformer_m(Dropout(DyT_m(ē_m)))
 *      scoring               score(u, j) = Σ_m ⟨z_m, ẽ_m(j)⟩, full softmax over all items
 *   ③ MSCL                   swap positions between two modality sequences, InfoNCE on the
 *                            resulting user vectors
 *   loss                     L = L_SR + β·L_CP + λ·L_MSCL
 *
 * Every ablation of the spec is an option of CammsrConfig. The HM4SR-style baseline is this
 * model with static learned modality scalars and a category head on the concatenation.
 */
import { modelRng } from './model-rng.js';
import { NegativeSampler, type SampledSoftmaxConfig } from './sampled-softmax.js';
import type { Modality } from '../config/names.js';
import { noGrad } from '../engine/autograd.js';
import { floats } from '../engine/memory.js';
import { Rng } from '../engine/rng.js';
import { parameter, Tensor } from '../engine/tensor.js';
import { add, addN, mul, scale } from '../engine/ops/elementwise.js';
import { tanh } from '../engine/ops/activation.js';
import { bceWithLogits, crossEntropy } from '../engine/ops/loss.js';
import { matmul } from '../engine/ops/matmul.js';
import { l2Normalize } from '../engine/ops/norm.js';
import { concat, detach, indexRows, reshape, selectRows, slice } from '../engine/ops/shape.js';
import { softmax } from '../engine/ops/softmax.js';
import { blockGatedSum } from '../engine/ops/mixture.js';
import { normalParam } from '../engine/nn/init.js';
import { Embedding, LayerNorm, Linear } from '../engine/nn/layers.js';
import { Module, ModuleList } from '../engine/nn/module.js';
import { InterestEncoder, type InterestEncoderConfig } from './interest-encoder.js';
import { ModalityTable } from './modality-table.js';
import {
  idView,
  idViewRows,
  unseenItemsFor,
  type UnseenItems,
  type UnseenItemsConfig,
} from './unseen-items.js';
import {
  concatColumnsSteps,
  distinctItems,
  lastRows,
  nextItemLoss,
  TrainingCandidates,
  runSteps,
  sampledNextItemLoss,
  SequentialModel,
  usesStepRows,
  TIME_BUCKETS,
  type Scorer,
  type ItemFeatures,
  type LossResult,
  type ModelData,
  type SequenceBatch,
} from './model.js';

/** The interest encoders' options (dim, layers, heads, dropout, norms, ...) plus CAMMSR's own. */
export interface CammsrConfig extends InterestEncoderConfig, UnseenItemsConfig {
  /** Train with a sampled softmax (null or absent: the full softmax). */
  sampledSoftmax?: SampledSoftmaxConfig | null;
  maxLen: number;
  seed: number;
  /** Built to load trained weights right away: no initial weights are drawn (model-rng.ts). */
  loadsWeights?: boolean;
  /** Modalities in use, in the order id, text, image. */
  modalities: Modality[];
  /** Number of experts K. */
  experts: number;
  /** Temperature T of the expert gates. */
  gateTemperature: number;
  /**
   * How modality weights w are made: 'category' (CAMMSR: attention over per-modality category
   * predictions), 'uniform' (w = 1/|M|: the w/o-category-guidance ablation), 'static'
   * (learned scalars, HM4SR-style).
   */
  weighting: 'category' | 'uniform' | 'static';
  /** Initial values of static weights, one per modality in use (HM4SR: [0, 1, 1]). */
  staticInit: number[];
  /** Category head: 'attentive' (CAMMSR's fused per-modality predictions) or 'concat' (HM4SR). */
  categoryHead: 'attentive' | 'concat';
  /** Scale s of the residual ē_m = e_m + s·w_m·ê_m. */
  weightScale: number;
  /**
   * Weight of an auxiliary category loss on each modality's own prediction c_m (0 = off), so
   * that every view is a calibrated predictor the attention can compare.
   */
  viewLoss: number;
  /**
   * Each category view reads a LayerNorm of e_m (c_m = U_m LN_m(e_m) + u_m) instead of raw e_m,
   * whose scale (~initStd·√d) makes the category logits learn orders of magnitude slower than
   * the next-item loss moves the representations.
   */
  viewNorm: boolean;
  /**
   * Only the category loss trains category-guided w: the residual uses a detached copy.
   * Static weights (HM4SR) have no category loss and are always trained by the next-item loss.
   */
  detachWeights: boolean;
  /** Temperature of the softmax that turns modality scores into weights. */
  weightTemperature: number;
  /** Experts read every modality (true) or only their own (the w/o-synergy ablation). */
  synergy: boolean;
  /** false: ē = e (the w/o-CAMoE ablation; no category loss either). */
  camoe: boolean;
  beta: number;
  lambda: number;
  msclTau: number;
  msclRatio: number;
  msclPairs: 'default' | 'all';
  /** Add a learned embedding of the bucketed time gap to every e_m (needs timestamps). */
  time: boolean;
  /**
   * One interest encoder (DyT + transformer) for every modality instead of one each: a third of
   * the encoder parameters, a regulariser the reference findings suggest for small datasets.
   */
  sharedEncoder: boolean;
}

/** ② The category-guided attentive mixture of experts. */
class Camoe extends Module {
  readonly experts: ModuleList<Linear>;
  readonly gates: ModuleList<Linear>;
  /** Per-modality category logits c_m = U_m e_m + u_m (attentive head). */
  readonly categoryViews: ModuleList<Linear> | null;
  readonly viewNorms: ModuleList<LayerNorm> | null;
  readonly scorer: Linear | null;
  readonly query: Tensor | null;
  readonly concatHead: Linear | null;
  readonly staticWeights: Tensor | null;

  constructor(
    private readonly cfg: CammsrConfig,
    private readonly categories: number,
    rng: Rng,
  ) {
    super();
    const M = cfg.modalities.length;
    const d = cfg.dim;
    const init = { std: cfg.initStd };
    // Synergy: K experts over the concatenation (|M|d -> |M|d). Without it, K·|M| experts d -> d.
    const experts = cfg.synergy
      ? Array.from({ length: cfg.experts }, () => new Linear(M * d, M * d, rng, init))
      : Array.from({ length: cfg.experts * M }, () => new Linear(d, d, rng, init));
    this.experts = this.child('experts', new ModuleList(experts));
    this.gates = this.child(
      'gates',
      new ModuleList(cfg.modalities.map(() => new Linear(d, cfg.experts, rng, { ...init, bias: false }))),
    );
    const guided = cfg.weighting === 'category' && categories > 0;
    this.categoryViews = guided
      ? this.child(
          'category_views',
          new ModuleList(cfg.modalities.map(() => new Linear(d, categories, rng, init))),
        )
      : null;
    this.viewNorms =
      guided && cfg.viewNorm
        ? this.child(
            'category_view_norms',
            new ModuleList(cfg.modalities.map(() => new LayerNorm(d, cfg.layerNormEps))),
          )
        : null;
    this.scorer = guided ? this.child('category_scorer', new Linear(categories, d, rng, init)) : null;
    this.query = guided ? this.param('category_query', normalParam([d, 1], cfg.initStd, rng)) : null;
    this.concatHead =
      cfg.categoryHead === 'concat' && categories > 0
        ? this.child('category_head', new Linear(M * d, categories, rng, init))
        : null;
    this.staticWeights =
      cfg.weighting === 'static'
        ? this.param(
            'static_weights',
            parameter(
              Float32Array.from(cfg.modalities, (_, m) => cfg.staticInit[m] ?? 1),
              [M],
            ),
          )
        : null;
  }

  /**
   * e: per-modality representations [R, d]. Returns ē per modality, the modality weights
   * w [R, |M|] (for diagnostics), the gates, and the fused category logits (null when the
   * model has no category head).
   */
  forward(e: Tensor[]): {
    out: Tensor[];
    w: Tensor | null;
    gates: Tensor[];
    categoryLogits: Tensor | null;
    views: Tensor[];
  } {
    const cfg = this.cfg;
    const M = e.length;
    const d = cfg.dim;
    const K = cfg.experts;
    // One attentive gate per modality, reading only that modality.
    const gates = e.map((em, m) => softmax(scale(this.gates.items[m].forward(em), 1 / cfg.gateTemperature)));
    // ê_m = Σ_k g_m[k]·Expert_k(x)_m, one fused op over the experts' outputs.
    let mixed: Tensor[];
    if (cfg.synergy) {
      const x = M === 1 ? e[0] : concat(e, -1);
      const all = blockGatedSum(
        this.experts.items.map((expert) => expert.forward(x)),
        gates,
      );
      mixed = M === 1 ? [all] : e.map((_, m) => slice(all, -1, m * d, (m + 1) * d));
    } else {
      // Without synergy modality m has its own K experts, each reading e_m only.
      const own = (em: Tensor, m: number) =>
        Array.from({ length: K }, (_, k) => this.experts.items[k * M + m].forward(em));
      mixed = e.map((em, m) => blockGatedSum(own(em, m), [gates[m]]));
    }

    // Category-guided modality weights w (or their ablations), and the category logits.
    let w: Tensor | null = null;
    let categoryLogits: Tensor | null = null;
    let views: Tensor[] = [];
    if (this.categoryViews && this.scorer && this.query) {
      views = e.map((em, m) =>
        this.categoryViews!.items[m].forward(this.viewNorms ? this.viewNorms.items[m].forward(em) : em),
      );
      const scores = views.map((c) => matmul(tanh(this.scorer!.forward(c)), this.query!));
      w = softmax(scale(M === 1 ? scores[0] : concat(scores, -1), 1 / cfg.weightTemperature));
      categoryLogits = addN(...views.map((c, m) => mul(c, slice(w!, 1, m, m + 1))));
    } else if (this.staticWeights) {
      w = reshape(this.staticWeights, [1, M]);
    }
    if (this.concatHead) categoryLogits = this.concatHead.forward(M === 1 ? e[0] : concat(e, -1));

    const wr = w && cfg.detachWeights && this.categoryViews ? detach(w) : w;
    const out = e.map((em, m) => {
      // uniform weighting: w_m = 1/|M|
      const wm = wr ? slice(wr, 1, m, m + 1) : null;
      const contribution = wm ? mul(mixed[m], wm) : scale(mixed[m], 1 / M);
      return add(em, scale(contribution, cfg.weightScale));
    });
    return { out, w, gates, categoryLogits, views };
  }
}

/** Running means of the modality weights and gates, overall and per category (for reports). */
interface WeightStats {
  rows: number;
  weightSum: Float64Array; // [M]
  perCategoryRows: Float64Array; // [C]
  perCategoryWeight: Float64Array; // [C * M]
  gateSum: Float64Array; // [M * K]
}

export class Cammsr extends SequentialModel {
  readonly trainable = true;
  readonly idEmb: Embedding | null = null;
  readonly posEmb: Embedding;
  readonly content = new Map<Modality, ModalityTable>();
  readonly timeEmb: Embedding | null = null;
  readonly camoe: Camoe | null = null;
  readonly interest: ModuleList<InterestEncoder>;
  /** The learned ID view of items without a trained embedding (null: their own rows). */
  readonly unseen: UnseenItems | null = null;
  /** Drives dropout and the swap positions; seeded from the config. */
  readonly rng: Rng;
  /** The training softmax's items (null: all of them). */
  private readonly candidates: TrainingCandidates | null;
  private readonly sampler: NegativeSampler | null;
  private readonly categoryCount: number;
  private stats: WeightStats;
  /**
   * Sampled-softmax steps compute the item side for their own items only (model.ts,
   * usesStepRows; set from the catalog at construction, tests set it to compare the two ways).
   */
  stepRows: boolean;

  /** `kind` names the registry entry: 'cammsr', or 'hm4sr' for the HM4SR-style preset. */
  constructor(
    readonly config: CammsrConfig,
    private readonly data: ModelData,
    readonly kind: string = 'cammsr',
  ) {
    super();
    const cfg = config;
    const M = cfg.modalities;
    if (M.length === 0) throw new Error('cammsr: at least one modality is needed');
    for (const m of M) {
      if (m !== 'id' && !data[m])
        throw new Error(`cammsr: modality "${m}" was requested but the dataset has no ${m} features`);
    }
    if (cfg.time && !data.timestamps)
      throw new Error('cammsr: time embeddings need a dataset with timestamps');
    const rng = modelRng(cfg);
    const init = { std: cfg.initStd };
    // Creation order matters: with only the ID modality, no CAMoE, LayerNorm and no time,
    // parameters are drawn exactly as SASRec draws them (a test checks the two agree).
    if (M.includes('id')) {
      this.idEmb = this.child(
        'item_embedding',
        new Embedding(data.items + 1, cfg.dim, rng, { ...init, paddingIdx: 0 }),
      );
    }
    this.posEmb = this.child('position_embedding', new Embedding(cfg.maxLen, cfg.dim, rng, init));
    for (const m of M) {
      if (m === 'id') continue;
      const table = new ModalityTable(data[m] as ItemFeatures, data.items, cfg.dim, rng, cfg.initStd);
      this.content.set(m, this.child(m, table));
    }
    if (cfg.time)
      this.timeEmb = this.child('time_embedding', new Embedding(TIME_BUCKETS, cfg.dim, rng, init));
    this.categoryCount = data.categories?.count ?? 0;
    if (cfg.camoe) this.camoe = this.child('camoe', new Camoe(cfg, this.categoryCount, rng));
    const encoders = cfg.sharedEncoder ? 1 : M.length;
    this.interest = this.child(
      'interest',
      new ModuleList(Array.from({ length: encoders }, () => new InterestEncoder(cfg, rng))),
    );
    const unseen = this.idEmb ? unseenItemsFor(cfg, data) : null;
    if (unseen) this.unseen = this.child('unseen_items', unseen);
    this.rng = rng.fork();
    this.candidates = TrainingCandidates.of(data);
    this.sampler = NegativeSampler.of(cfg.sampledSoftmax, data);
    this.stepRows = usesStepRows(this.sampler, data.items);
    this.stats = emptyStats(M.length, this.categoryCount, cfg.experts);
  }

  get ranksUnseenItems(): boolean {
    return this.content.size > 0;
  }

  get maxLen(): number {
    return this.config.maxLen;
  }

  /** ④'s encoder of modality m (the same one for all with sharedEncoder). */
  private encoderOf(m: number): InterestEncoder {
    return this.interest.items[this.config.sharedEncoder ? 0 : m];
  }

  // ① Item representation initialisation --------------------------------------------------

  /**
   * ẽ_m for every item: the candidate table of modality m, [N + 1, d]. The ID table gives items
   * without a trained embedding (and, in training, the masked ones) the learned unseen row.
   */
  private itemTable(m: Modality): Tensor {
    if (m !== 'id') return this.content.get(m)!.table();
    return idView(this.idEmb!.weight, this.unseen, this.training, this.rng);
  }

  /**
   * ẽ_m of the given items only, [ids.length, d] (the item side of a sampled-softmax step):
   * itemTable(m)'s rows under the same mask of unseen and masked items.
   */
  private itemRows(m: Modality, ids: Int32Array, mask: Uint8Array | null): Tensor {
    if (m !== 'id') return this.content.get(m)!.rows(ids);
    return idViewRows(this.idEmb!.weight, ids, this.unseen, mask);
  }

  /**
   * The item side of a training step: every modality's table over the whole catalog (and the
   * packed rows' items as indices into it), or, with the sampled softmax over a catalog much
   * larger than the step, the rows of the step's distinct items (and each row's index among
   * them) plus `rowsOf` for the drawn candidates: the content towers then cost what the step
   * reads, not the catalog. The unseen-item mask is drawn first either way (one random stream).
   */
  private itemSide(batch: SequenceBatch) {
    const M = this.config.modalities;
    if (!this.sampler || !this.stepRows)
      return { tables: M.map((m) => this.itemTable(m)), index: batch.items, rowsOf: null };
    const distinct = distinctItems(batch.items);
    const mask = this.unseen ? this.unseen.draw(this.training, this.rng) : null;
    const rowsOf = (ids: Int32Array) => M.map((m) => this.itemRows(m, ids, mask));
    return { tables: rowsOf(distinct.ids), index: distinct.index, rowsOf };
  }

  /**
   * e_m(k) for every packed position, per modality; `index`[r] is row r's item's row in the
   * tables (the item id itself for whole-catalog tables).
   */
  private represent(batch: SequenceBatch, tables: Tensor[], index: Int32Array): Tensor[] {
    const R = batch.items.length;
    const pos = this.posEmb.forward(batch.positions, [R]);
    const time = this.timeEmb && batch.gaps ? this.timeEmb.forward(batch.gaps, [R]) : null;
    return this.config.modalities.map((m, k) => {
      // The ID view goes through the embedding op: sparse gradients, as in SASRec. With unseen
      // items it reads the table, whose masked rows are the unseen row.
      const view =
        m === 'id' && !this.unseen ? this.idEmb!.forward(batch.items, [R]) : indexRows(tables[k], index);
      return time ? addN(view, pos, time) : addN(view, pos);
    });
  }

  // Forward pass shared by training and scoring --------------------------------------------

  /** With `last`, the user states z are computed at the last rows only ([B, d] each). */
  private encode(batch: SequenceBatch, tables: Tensor[], last?: Int32Array, index = batch.items) {
    const e = this.represent(batch, tables, index);
    const moe = this.camoe ? this.camoe.forward(e) : null;
    const fused = moe ? moe.out : e;
    const p = this.config.hiddenDropout;
    const z = fused.map((s, m) => this.encoderOf(m).forward(s, batch.offsets, p, this.rng, last));
    return { fused, z, moe };
  }

  loss(batch: SequenceBatch): LossResult {
    const cfg = this.config;
    const side = this.itemSide(batch);
    const { fused, z, moe } = this.encode(batch, side.tables, undefined, side.index);
    const terms: Record<string, number> = {};

    // L_SR: full softmax over all items at every position with a target. Σ_m ⟨z_m, ẽ_m⟩ is
    // one product of the concatenations, so the fused loss runs once.
    const joined = (t: Tensor[]) => (t.length === 1 ? t[0] : concat(t, -1));
    const h = joined(z);
    const sampling = this.sampler && { sampler: this.sampler, rng: this.rng };
    const lsr =
      sampling && side.rowsOf
        ? sampledNextItemLoss(h, batch, sampling, (ids) => joined(side.rowsOf(ids)))
        : nextItemLoss(h, joined(side.tables), batch, this.candidates, sampling);
    terms.sr = lsr.item();
    const parts: Tensor[] = [lsr];

    // L_CP: the category prediction shapes the modality weights.
    if (moe?.categoryLogits && this.categoryCount > 0 && cfg.beta > 0) {
      const y = categoryTargets(this.data, batch.items, this.categoryCount);
      const lcp = bceWithLogits(moe.categoryLogits, y);
      terms.cp = lcp.item();
      parts.push(scale(lcp, cfg.beta));
      if (cfg.viewLoss > 0 && moe.views.length > 0) {
        const lv = scale(addN(...moe.views.map((c) => bceWithLogits(c, y))), 1 / moe.views.length);
        terms.views = lv.item();
        parts.push(scale(lv, cfg.beta * cfg.viewLoss));
      }
    }
    if (moe && this.training) this.accumulateStats(batch, moe.w, moe.gates);

    // L_MSCL: modality-swap contrastive learning.
    const pairs = this.msclPairs();
    if (cfg.lambda > 0 && pairs.length > 0 && this.training) {
      const lm = addN(...pairs.map(([a, b]) => this.swapContrast(batch, fused, a, b)));
      const lmscl = pairs.length === 1 ? lm : scale(lm, 1 / pairs.length);
      terms.mscl = lmscl.item();
      parts.push(scale(lmscl, cfg.lambda));
    }
    const total = parts.length === 1 ? parts[0] : addN(...parts);
    terms.total = total.item();
    return { total, terms };
  }

  /**
   * Σ_m ⟨z_m, ẽ_m(j)⟩ is one product of concatenations: users [z_id; z_t; z_v], items
   * [ẽ_id; ẽ_t; ẽ_v]. The modality tables are computed once here and reused by every user encoding.
   */
  scorer(): Scorer {
    return runSteps(this.scorerSteps());
  }

  /** scorer() one block of a modality table at a time (a loading service yields between). */
  *scorerSteps(): Generator<void, Scorer> {
    const tables: Tensor[] = [];
    for (const m of this.config.modalities) {
      tables.push(m === 'id' ? noGrad(() => this.itemTable(m)) : yield* this.content.get(m)!.tableSteps());
      yield;
    }
    const items = tables.length === 1 ? tables[0].data : yield* concatColumnsSteps(tables);
    return {
      dim: tables.reduce((s, t) => s + t.shape[1], 0),
      items,
      blocks: this.config.modalities.map((name, m) => ({ name, size: tables[m].shape[1] })),
      users: (batch) =>
        noGrad(() => {
          const { z } = this.encode(batch, tables, lastRows(batch));
          return (z.length === 1 ? z[0] : concat(z, -1)).data;
        }),
    };
  }

  /**
   * Each modality's share ⟨z_m, ẽ_m(j)⟩ of the scores after each sequence's last position, in
   * the order of config.modalities ([B, items + 1] each; they sum to scoreLast up to rounding). Which tower
   * ranks the target where is what "which modality mattered" means for one recommendation.
   */
  scoreLastByModality(batch: SequenceBatch): Float32Array[] {
    return noGrad(() => {
      const tables = this.config.modalities.map((m) => this.itemTable(m));
      const { z } = this.encode(batch, tables, lastRows(batch));
      return z.map((zm, m) => matmul(zm, tables[m], { transB: true }).data);
    });
  }

  // ③ Modality swap contrastive learning ---------------------------------------------------

  /** Index pairs of modalities to swap: text↔image when both exist, else id↔text (or id↔image). */
  private msclPairs(): [number, number][] {
    const M = this.config.modalities;
    const idx = (m: Modality) => M.indexOf(m);
    if (M.length < 2) return [];
    if (this.config.msclPairs === 'all') {
      const out: [number, number][] = [];
      for (let a = 0; a < M.length; a++) for (let b = a + 1; b < M.length; b++) out.push([a, b]);
      return out;
    }
    if (idx('text') >= 0 && idx('image') >= 0) return [[idx('text'), idx('image')]];
    return [[0, 1]];
  }

  private swapContrast(batch: SequenceBatch, fused: Tensor[], a: number, b: number): Tensor {
    const cfg = this.config;
    const R = batch.items.length;
    const swap = new Uint8Array(R);
    for (let r = 0; r < R; r++) swap[r] = this.rng.uniform() < cfg.msclRatio ? 1 : 0;
    const sa = selectRows(fused[a], fused[b], swap);
    const sb = selectRows(fused[b], fused[a], swap);
    const last = lastRows(batch);
    const p = cfg.hiddenDropout;
    // Only the final user states are read: the encoders' last layer runs at the last rows only.
    const za = l2Normalize(this.encoderOf(a).forward(sa, batch.offsets, p, this.rng, last));
    const zb = l2Normalize(this.encoderOf(b).forward(sb, batch.offsets, p, this.rng, last));
    // Symmetric InfoNCE with in-batch negatives; a negative with the anchor's target is not a negative.
    const B = batch.size;
    const target = Int32Array.from(last, (r) => batch.targets[r]);
    const maskAdd = floats(B * B);
    for (let i = 0; i < B; i++) {
      for (let j = 0; j < B; j++) if (i !== j && target[i] === target[j]) maskAdd[i * B + j] = -1e9;
    }
    const m = new Tensor(maskAdd, [B, B]);
    const diag = Int32Array.from({ length: B }, (_, i) => i);
    const ab = add(scale(matmul(za, zb, { transB: true }), 1 / cfg.msclTau), m);
    const ba = add(scale(matmul(zb, za, { transB: true }), 1 / cfg.msclTau), m);
    return scale(addN(crossEntropy(ab, diag), crossEntropy(ba, diag)), 0.5);
  }

  // Diagnostics -----------------------------------------------------------------------------

  private accumulateStats(batch: SequenceBatch, w: Tensor | null, gates: Tensor[]): void {
    const M = this.config.modalities.length;
    const K = this.config.experts;
    const s = this.stats;
    const R = batch.items.length;
    const cats = this.data.categories;
    for (let r = 0; r < R; r++) {
      s.rows++;
      for (let m = 0; m < M; m++) {
        const wm = w ? (w.shape[0] === 1 ? w.data[m] : w.data[r * M + m]) : 1 / M;
        s.weightSum[m] += wm;
        for (let k = 0; k < K; k++) s.gateSum[m * K + k] += gates[m].data[r * K + k];
      }
      if (!cats) continue;
      const item = batch.items[r];
      for (let q = cats.offsets[item]; q < cats.offsets[item + 1]; q++) {
        const c = cats.labels[q];
        s.perCategoryRows[c]++;
        for (let m = 0; m < M; m++) {
          s.perCategoryWeight[c * M + m] += w ? (w.shape[0] === 1 ? w.data[m] : w.data[r * M + m]) : 1 / M;
        }
      }
    }
  }

  /**
   * Mean modality weights w (overall and per category) and mean gate probabilities per
   * modality, over the training positions seen since the last reset.
   */
  diagnostics(reset = true): Record<string, unknown> {
    const M = this.config.modalities;
    const K = this.config.experts;
    const s = this.stats;
    const n = Math.max(1, s.rows);
    const out = {
      positions: s.rows,
      modalityWeights: Object.fromEntries(M.map((m, i) => [m, s.weightSum[i] / n])),
      gates: Object.fromEntries(
        M.map((m, i) => [m, Array.from({ length: K }, (_, k) => s.gateSum[i * K + k] / n)]),
      ),
      categoryWeights: Array.from({ length: this.categoryCount }, (_, c) => {
        const rows = s.perCategoryRows[c];
        return rows === 0
          ? null
          : {
              positions: rows,
              ...Object.fromEntries(M.map((m, i) => [m, s.perCategoryWeight[c * M.length + i] / rows])),
            };
      }),
    };
    if (reset) this.stats = emptyStats(M.length, this.categoryCount, K);
    return out;
  }
}

function emptyStats(M: number, C: number, K: number): WeightStats {
  return {
    rows: 0,
    weightSum: new Float64Array(M),
    perCategoryRows: new Float64Array(C),
    perCategoryWeight: new Float64Array(C * M),
    gateSum: new Float64Array(M * K),
  };
}

/**
 * Multi-hot category targets [R, C] of the given items, from the catalog's category lists: only
 * the step's rows, never an (N + 1) × C table (2.4 GB at a million items and 600 categories).
 */
function categoryTargets(data: ModelData, items: Int32Array, C: number): Float32Array {
  const { offsets, labels } = data.categories!;
  const y = floats(items.length * C);
  items.forEach((i, r) => {
    if (i === 0) return; // padding has no category
    for (let q = offsets[i]; q < offsets[i + 1]; q++) y[r * C + labels[q]] = 1;
  });
  return y;
}
