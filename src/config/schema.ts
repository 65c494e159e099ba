/**
 * The run configuration's schema: one zod schema is the single source of truth for validation,
 * defaults and documentation (docs/config.md is generated from it). Models, the trainer, the
 * service and the CLI all read the RunConfig it defines.
 */
import * as z from 'zod';
import { METRICS, MODALITIES, MODEL_NAMES, type ModelName } from './names.js';

const int = () => z.number().int();
const positive = () => z.number().positive();
const nonNegative = () => z.number().min(0);
const probability = () => z.number().min(0).lt(1);

/**
 * train.softmax 'auto' keeps the full softmax up to this many items: there one training position
 * costs about 6·N·d flops in the output layer (38 MFLOP at d = 64), several times the rest of a
 * SASRec step, and an epoch of ten million positions would take hours on two cores.
 */
export const FULL_SOFTMAX_MAX_ITEMS = 100_000;

/**
 * train.sequences 'auto' reads the interaction log into memory up to this many interactions
 * (about 240 MB with timestamps: 12 bytes an interaction) and leaves a larger one on disk.
 */
export const SEQUENCES_IN_MEMORY_MAX = 20_000_000;

const TrainSchema = z.strictObject({
  epochs: int().min(1).default(200).describe('Maximum number of training epochs.'),
  batchSize: int().min(1).default(256).describe('Training sequences per batch.'),
  lr: positive().default(1e-3).describe('Adam learning rate.'),
  weightDecay: nonNegative()
    .default(0)
    .describe('Weight decay of the Adam optimiser, added to the gradient (L2; 0 = none).'),
  warmupEpochs: int()
    .min(0)
    .default(0)
    .describe(
      'Learning-rate warm-up: epoch e (from 1) trains at lr·min(1, e / warmupEpochs), as MOCA does; 0 = none.',
    ),
  gradClip: nonNegative()
    .default(0)
    .describe('Clip the global gradient norm to this value before each step; 0 turns clipping off.'),
  patience: int()
    .min(0)
    .default(10)
    .describe(
      'Early stopping: stop after this many evaluations in a row without a new best validationMetric; 0 never stops early.',
    ),
  evalEvery: int().min(1).default(1).describe('Evaluate on the validation split every this many epochs.'),
  validationMetric: z
    .enum(METRICS)
    .default('NDCG@10')
    .describe('Validation metric that selects the best epoch and drives early stopping.'),
  maskHistory: z
    .boolean()
    .default(false)
    .describe(
      "Mask the user's history items out of the ranking during evaluation. false is the primary protocol (RecBole's default, as in HM4SR); true gives the masked variant.",
    ),
  threads: int()
    .min(1)
    .optional()
    .describe("Kernel threads; unset = the kernel backend's default (CAMMSR_THREADS when set)."),
  samples: z
    .enum(['sequences', 'prefixes'])
    .default('sequences')
    .describe(
      "What an epoch iterates over: 'sequences' = each user's training sequence once, with a target at every position (SASRec, as RecBole); 'prefixes' = every prefix of every training sequence once, each with the one next item as its target (the per-prefix training of MOCA and MMSR).",
    ),
  sequences: z
    .enum(['auto', 'memory', 'disk'])
    .default('auto')
    .describe(
      `Where the interaction log stays while training and evaluating: 'memory' = read whole; 'disk' = sequences.items.npy and sequences.times.npy stay on disk and each batch reads its users' items (memory then holds the model, the optimiser and a few batches, not the log; the results are the same); 'auto' = memory up to ${SEQUENCES_IN_MEMORY_MAX.toLocaleString('en')} interactions, disk above. The cold-start protocol (split.coldItems > 0) needs the log in memory.`,
    ),
  softmax: z
    .enum(['auto', 'full', 'sampled'])
    .default('auto')
    .describe(
      `The next-item loss's softmax: 'full' = over every training item; 'sampled' = over the batch's targets and train.negatives items drawn from popularity^negativeAlpha, with the logQ correction (an estimate of the full one, its cost independent of the catalog); 'auto' = full up to ${FULL_SOFTMAX_MAX_ITEMS.toLocaleString('en')} items, sampled above. Evaluation always ranks every item.`,
    ),
  negatives: int()
    .min(1)
    .default(1024)
    .describe(
      'Sampled softmax: items drawn from the proposal per training step (shared by the whole batch).',
    ),
  negativeAlpha: nonNegative()
    .default(0.5)
    .describe(
      'Sampled softmax: the proposal draws item j with probability ∝ (training interactions of j + 1)^negativeAlpha; 0 = uniform.',
    ),
});

const SplitSchema = z.strictObject({
  coldItems: z
    .number()
    .min(0)
    .max(0.5)
    .default(0)
    .describe(
      'Cold-start protocol: the fraction of items held out of training entirely, as new items would be: the items whose first interaction comes last when the dataset has timestamps, else a seeded random set. Their interactions are removed from the training sequences (histories keep the items around them); validation and test targets among them are cold targets, reported apart. 0 = the warm leave-one-out protocol.',
    ),
  coldSeed: int()
    .min(0)
    .default(1)
    .describe(
      'Seed of the random held-out set when the dataset has no timestamps (the same for every model seed).',
    ),
});

const CammsrSchema = z
  .strictObject({
    modalities: z
      .union([z.literal('auto'), z.array(z.enum(MODALITIES)).min(1)])
      .default('auto')
      .describe(
        "Modalities M: 'auto' = every modality the dataset has (id always, text and image when their features exist), or a list such as [id, text]; must include id. The hm4sr and fusion baselines read it too.",
      ),
    experts: int().min(1).default(4).describe('Number of experts K in CAMoE.'),
    gateTemperature: positive()
      .default(1)
      .describe("Temperature T of each modality's attentive gate g_m = softmax(G_m e_m / T)."),
    categoryGuidance: z
      .boolean()
      .default(true)
      .describe(
        "Category-guided modality weights w and the category loss L_CP; false = the 'w/o category guidance' ablation (w fixed to 1/|M|, no L_CP).",
      ),
    viewLoss: nonNegative()
      .default(1)
      .describe(
        "Weight of an auxiliary category loss on each modality's own prediction c_m (added to β·L_CP, averaged over modalities), so that every view is a predictor the attention can compare; 0 = the spec's literal form (see docs/models.md, 'What the modality weights learn').",
      ),
    viewNorm: z
      .boolean()
      .default(true)
      .describe(
        "Each category view reads a LayerNorm of e_m (c_m = U_m·LN(e_m) + u_m) instead of the raw e_m, whose small scale (about initStd·√d) leaves the category logits near zero for hundreds of steps; false = the spec's literal form.",
      ),
    detachWeights: z
      .boolean()
      .default(true)
      .describe(
        "Only the category loss trains the modality weights w: the residual uses a detached copy, because the next-item loss pushes w towards the modalities that LACK the information (they borrow it through the experts), which inverts the category-guided weights; false = the spec's literal form.",
      ),
    categoryWeightScale: z
      .union([nonNegative(), z.literal('modalities')])
      .default(1)
      .describe("Scale s of the residual ē_m = e_m + s·w_m·ê_m: a number, or 'modalities' for s = |M|."),
    weightTemperature: positive()
      .default(1)
      .describe('Temperature of the softmax over modalities that turns the scores a_m into the weights w.'),
    synergy: z
      .boolean()
      .default(true)
      .describe(
        "true: every expert reads the concatenation of all modalities (inter-modal synergy); false = the 'w/o synergy' ablation: each modality's output block reads only that modality.",
      ),
    camoe: z.boolean().default(true).describe("Use CAMoE; false = the 'w/o CAMoE' ablation (ē_m = e_m)."),
    beta: nonNegative()
      .default(1.0)
      .describe('Weight β of the category-prediction loss in L = L_SR + β·L_CP + λ·L_MSCL.'),
    lambda: nonNegative()
      .default(0.1)
      .describe("Weight λ of the modality-swap contrastive loss L_MSCL; 0 = the 'w/o MSCL' ablation."),
    sharedEncoder: z
      .boolean()
      .default(false)
      .describe(
        'One interest encoder (DyT + transformer) shared by every modality instead of one per modality: fewer parameters, a regulariser for small datasets.',
      ),
    msclTau: positive().default(0.2).describe('Temperature τ of the MSCL InfoNCE (cosine similarity / τ).'),
    msclRatio: z
      .number()
      .gt(0)
      .max(1)
      .default(0.3)
      .describe('Fraction ρ of the valid positions whose contents MSCL swaps between the two sequences.'),
    msclPairs: z
      .enum(['default', 'all'])
      .default('default')
      .describe(
        "Modality pairs for MSCL: 'default' = text↔image when both exist, else id↔text; 'all' = every pair in M (losses averaged).",
      ),
    inputNorm: z
      .enum(['dyt', 'layernorm'])
      .default('dyt')
      .describe(
        "Normalisation before each modality encoder: 'dyt' (DyT(h) = γ ⊙ tanh(α h) + β, the paper's) or 'layernorm' (the 'LayerNorm instead of DyT' ablation).",
      ),
    encoderNorm: z
      .enum(['layernorm', 'dyt'])
      .default('layernorm')
      .describe("Normalisation inside the transformer layers: 'layernorm' (post-LN as in SASRec) or 'dyt'."),
    dytAlpha: positive().default(0.5).describe("Initial value of DyT's learnable scalar α."),
    time: z
      .enum(['auto', 'on', 'off'])
      .default('auto')
      .describe(
        "Time-gap embedding added to every e_m(k): 'auto' = on when the dataset has timestamps, 'on' (an error without timestamps), 'off' (the 'w/o time' ablation).",
      ),
    categoryNoise: z
      .number()
      .min(0)
      .max(1)
      .default(0)
      .describe(
        "Robustness experiments: fraction r of items whose category labels are replaced by random ones before training (0 = the dataset's labels).",
      ),
  })
  .superRefine((c, ctx) => {
    // Checked here rather than inside the union so that the message can say what is wrong.
    if (Array.isArray(c.modalities)) {
      if (!c.modalities.includes('id'))
        ctx.addIssue({
          code: 'custom',
          path: ['modalities'],
          message: `must include 'id' (the ID modality is always present), got ${JSON.stringify(c.modalities)}`,
        });
      if (new Set(c.modalities).size !== c.modalities.length)
        ctx.addIssue({
          code: 'custom',
          path: ['modalities'],
          message: `lists a modality twice: ${JSON.stringify(c.modalities)}`,
        });
    }
  });

const ContentKnnSchema = z.strictObject({
  modalities: z
    .union([z.literal('auto'), z.array(z.enum(['text', 'image'])).min(1)])
    .default('auto')
    .describe(
      "Content modalities whose cosine similarities to the last item are summed: 'auto' = every content modality the dataset has, or a list such as [text] for one modality's neighbours.",
    ),
});

const transformerKind = () => z.enum(['conditional', 'full', 'none']);

const MocaSchema = z.strictObject({
  featureTransformer: transformerKind()
    .default('conditional')
    .describe(
      "The feature-level transformer over every position's ID, text and image tokens: 'conditional' = MOCA's mixture of conditional-attention experts; 'full' = one attention over every token (same RMSNorm, rotary positions and null key/value); 'none' = no feature-level transformer (its ablations).",
    ),
  itemTransformer: transformerKind()
    .default('conditional')
    .describe("The item-level transformer over the aggregated positions; kinds as featureTransformer's."),
  featureLayers: int().min(1).default(2).describe('Layers of the feature-level transformer.'),
  itemLayers: int().min(1).default(2).describe('Layers of the item-level transformer.'),
  experts: int()
    .min(1)
    .default(4)
    .describe('Conditional-attention experts per layer (their outputs are averaged).'),
  featureRouted: int()
    .min(1)
    .default(16)
    .describe('Tokens each feature-level expert routes as queries, and as keys/values, per sequence.'),
  itemRouted: int()
    .min(1)
    .default(8)
    .describe('Tokens each item-level expert routes as queries, and as keys/values, per sequence.'),
  ffDropout: probability().default(0.2).describe("Dropout on each transformer layer's feed-forward output."),
  labelGamma: z
    .number()
    .gt(0)
    .lt(1)
    .default(0.5)
    .describe(
      "Soft targets: the j-th training item after a prefix weighs labelGamma^j in the prefix's cross-entropy (not normalised).",
    ),
  alignWeight: nonNegative()
    .default(1)
    .describe(
      "Weight of the InfoNCE that aligns each target's ID embedding with its projected content features (summed over content modalities); 0 = off.",
    ),
  alignTau: positive().default(0.5).describe('Temperature of the alignment InfoNCE (cosine similarities).'),
});

const MmsrSchema = z.strictObject({
  clusters: int()
    .min(1)
    .default(20)
    .describe('Content clusters per modality (k-means of its features; capped at the items that have it).'),
  linkK: int()
    .min(1)
    .default(1)
    .describe('Clusters each item links to, per modality (its nearest centroids).'),
  strictEdges: z
    .boolean()
    .default(true)
    .describe(
      "The code's edge rule: a step between two consecutive items that are the same node, or already joined both ways, adds no cluster transitions either; false adds them.",
    ),
  separateKV: z
    .boolean()
    .default(false)
    .describe(
      'Separate key and value projections; the code (false) uses its query projection for all three.',
    ),
  attentionDropout: probability().default(0.2).describe("Dropout on both attentions' weights."),
  outputDropout: probability()
    .default(0.4)
    .describe("Dropout on the layer's output (the code's dropout_local)."),
});

const Hm4srSchema = z.strictObject({
  initScalars: z
    .array(z.number())
    .length(3)
    .default([0, 1, 1])
    .describe(
      'Initial static modality scalars [id, text, image] that replace the category-guided weights; entries of modalities not in M are ignored.',
    ),
});

/** The models trained one prefix at a time with the full softmax, and why (their errors say it). */
const PER_PREFIX_MODELS: Partial<Record<ModelName, { prefixes: string; fullSoftmax: string }>> = {
  moca: {
    prefixes: 'its attention is not causal, and its targets are the items after each prefix',
    fullSoftmax: "moca's soft targets need the full softmax",
  },
  mmsr: { prefixes: 'each prefix is a graph of its own', fullSoftmax: 'mmsr trains with the full softmax' },
};

export const RunConfigSchema = z
  .strictObject({
    model: z
      .enum(MODEL_NAMES)
      .default('cammsr')
      .describe(
        "Model to train: 'cammsr'; baselines 'sasrec' (ID only, same trainer and loss), 'popularity', 'fusion-sum' and 'fusion-concat' (SASRec over summed / concatenated modality embeddings), 'hm4sr' (the same MoE with static modality scalars), 'content-knn' (no training: the items whose content is closest to the last item's), 'moca' (MOCA, PAKDD 2025: conditional-attention experts over feature and item tokens) and 'mmsr' (MMSR, CIKM 2023: graph attention over each prefix's items and content clusters), each with its own defaults (docs/config.md 'Model presets'). Usually given as --model.",
      ),
    seed: int()
      .min(0)
      .default(1)
      .describe(
        'Random seed of initialisation, batching, dropout, MSCL swaps and category noise. Usually given as --seed.',
      ),
    maxLen: int()
      .min(1)
      .default(50)
      .describe(
        'Maximum sequence length L: the most recent L items of each sequence; size of the position table.',
      ),
    dim: int()
      .min(1)
      .default(64)
      .describe('Embedding and hidden size d of every modality; a multiple of heads.'),
    layers: int().min(1).default(2).describe('Transformer layers per encoder.'),
    heads: int().min(1).default(2).describe('Attention heads per transformer layer.'),
    ffnDim: int()
      .min(1)
      .default(256)
      .describe("Inner size of each transformer layer's GELU feed-forward network."),
    hiddenDropout: probability()
      .default(0.5)
      .describe('Dropout on the encoder input and on the output of every transformer sub-layer.'),
    attnDropout: probability().default(0.5).describe('Dropout on the attention probabilities.'),
    idMask: probability()
      .default(0)
      .describe(
        "Cold start: at each training step, the probability that an item's ID view is replaced by the learned unseen-item row (the item looks new), so that the content towers learn to rank items without a trained ID embedding. Content models only (fusion-sum, fusion-concat, hm4sr, cammsr); turns unseenItems 'auto' to 'learned'. 0 by default: 0.2 raised validation NDCG@10 over all targets on amazon-scientific (rich text) and lowered it on movielens-100k (docs/analysis.md, New items); check it on your own validation split.",
      ),
    unseenItems: z
      .enum(['auto', 'learned', 'embedding'])
      .default('auto')
      .describe(
        "Items with no training interaction (new items, or held out by split.coldItems): 'learned' = their ID view is one learned unseen-item row, so content models rank them by content and categories; 'embedding' = their own ID rows, which training only ever pushed down as negatives; 'auto' = 'learned' when split.coldItems > 0 or idMask > 0, else 'embedding'. ID-only models (sasrec, popularity) cannot rank such items either way.",
      ),
    initStd: positive().default(0.02).describe('Weights and embeddings are initialised from N(0, initStd²).'),
    layerNormEps: positive().default(1e-12).describe('Epsilon of every LayerNorm.'),
    // prefault({}) rather than default({}): the section's own field defaults then apply.
    split: SplitSchema.prefault({}).describe(
      'How the interactions are split into training, validation and test (leave-one-out by time), and which items are held out as new.',
    ),
    train: TrainSchema.prefault({}).describe('Optimisation, early stopping and evaluation during training.'),
    cammsr: CammsrSchema.prefault({}).describe(
      'Options of the CAMMSR model; the hm4sr baseline reuses those of the mixture of experts.',
    ),
    contentKnn: ContentKnnSchema.prefault({}).describe(
      "Options of the content k-NN baseline (model 'content-knn': no training, the items whose content is closest to the last item's).",
    ),
    hm4sr: Hm4srSchema.prefault({}).describe("Options of the HM4SR-style baseline (model 'hm4sr')."),
    mmsr: MmsrSchema.prefault({}).describe(
      "Options of MMSR (model 'mmsr', graph attention over each prefix's items and content clusters); dim sets its width, maxLen its longest prefix.",
    ),
    moca: MocaSchema.prefault({}).describe(
      "Options of MOCA (model 'moca', Mixture of Conditional Attention): its own architecture; dim and heads set its width (head size dim / heads), maxLen its padded length.",
    ),
  })
  .superRefine((c, ctx) => {
    if (c.idMask > 0 && c.unseenItems === 'embedding')
      ctx.addIssue({
        code: 'custom',
        path: ['idMask'],
        message: `masks ID views with the learned unseen-item row, which unseenItems 'embedding' turns off; use 'auto' or 'learned'`,
      });
    if (c.dim % c.heads !== 0)
      ctx.addIssue({
        code: 'custom',
        path: ['dim'],
        message: `must be a multiple of heads (${c.heads}), got ${c.dim}`,
      });
    const needs = PER_PREFIX_MODELS[c.model];
    if (needs && c.train.samples !== 'prefixes')
      ctx.addIssue({
        code: 'custom',
        path: ['train', 'samples'],
        message: `${c.model} trains on prefixes (${needs.prefixes}): set 'prefixes' or leave it unset`,
      });
    if (needs && c.train.softmax === 'sampled')
      ctx.addIssue({
        code: 'custom',
        path: ['train', 'softmax'],
        message: `${needs.fullSoftmax}: use 'full' or 'auto'`,
      });
  });

/**
 * A model's own defaults, where they differ from the schema's: a run of that model starts from
 * them, under whatever the user sets (resolveConfig). MOCA's are its code's (peers' spec).
 */
export const MODEL_PRESETS: Readonly<Partial<Record<ModelName, RunConfigInput>>> = {
  moca: { dim: 128, heads: 4, train: { weightDecay: 1e-3, warmupEpochs: 4, samples: 'prefixes' } },
  mmsr: { dim: 128, train: { lr: 0.002, batchSize: 128, samples: 'prefixes' } },
};

/** A fully defaulted, validated run configuration. */
export type RunConfig = z.infer<typeof RunConfigSchema>;
/** What a config file may contain: every key optional. */
export type RunConfigInput = z.input<typeof RunConfigSchema>;
/** Explicit CLI flags (--model, --seed, ...): any subset; undefined entries are ignored. */
export type RunConfigFlags = DeepPartial<RunConfigInput>;

export type DeepPartial<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;
