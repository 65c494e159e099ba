/**
 * The run configuration of `cammsr train`: one zod schema is the single source of truth for
 * validation, defaults and documentation (docs/config.md is generated from it).
 *
 * Precedence, lowest first: schema defaults < config file (YAML or JSON) < `--set key=value`
 * overrides < explicit CLI flags (--model, --seed). Nested objects are strict, so a misspelt
 * key is an error instead of a silently ignored option.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { extname } from 'node:path';
import * as z from 'zod';
import YAML from 'yaml';

export const MODEL_NAMES = [
  'cammsr',
  'sasrec',
  'popularity',
  'fusion-sum',
  'fusion-concat',
  'hm4sr',
] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

/** Canonical modality order: the order of the CAMoE concatenation [e_id; e_t; e_v]. */
export const MODALITIES = ['id', 'text', 'image'] as const;
export type Modality = (typeof MODALITIES)[number];

/** The metrics the evaluator reports (spec: HR/NDCG@{5,10,20}, MRR@10). */
export const METRICS = ['HR@5', 'HR@10', 'HR@20', 'NDCG@5', 'NDCG@10', 'NDCG@20', 'MRR@10'] as const;

const int = () => z.number().int();
const positive = () => z.number().positive();
const nonNegative = () => z.number().min(0);
const probability = () => z.number().min(0).lt(1);

const TrainSchema = z.strictObject({
  epochs: int().min(1).default(200).describe('Maximum number of training epochs.'),
  batchSize: int().min(1).default(256).describe('Training sequences per batch.'),
  lr: positive().default(1e-3).describe('Adam learning rate.'),
  weightDecay: nonNegative().default(0).describe('Weight decay of the Adam optimiser (0 = none).'),
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
    expertKind: z
      .enum(['linear'])
      .default('linear')
      .describe("Form of each expert: 'linear' = A_k x + c_k over the concatenation x (the paper's)."),
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

const Hm4srSchema = z.strictObject({
  initScalars: z
    .array(z.number())
    .length(3)
    .default([0, 1, 1])
    .describe(
      'Initial static modality scalars [id, text, image] that replace the category-guided weights; entries of modalities not in M are ignored.',
    ),
});

export const RunConfigSchema = z
  .strictObject({
    model: z
      .enum(MODEL_NAMES)
      .default('cammsr')
      .describe(
        "Model to train: 'cammsr'; baselines 'sasrec' (ID only, same trainer and loss), 'popularity', 'fusion-sum' and 'fusion-concat' (SASRec over summed / concatenated modality embeddings), 'hm4sr' (the same MoE with static modality scalars). Usually given as --model.",
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
    initStd: positive().default(0.02).describe('Weights and embeddings are initialised from N(0, initStd²).'),
    layerNormEps: positive().default(1e-12).describe('Epsilon of every LayerNorm.'),
    // prefault({}) rather than default({}): the section's own field defaults then apply.
    train: TrainSchema.prefault({}).describe('Optimisation, early stopping and evaluation during training.'),
    cammsr: CammsrSchema.prefault({}).describe(
      'Options of the CAMMSR model; the hm4sr baseline reuses those of the mixture of experts.',
    ),
    hm4sr: Hm4srSchema.prefault({}).describe("Options of the HM4SR-style baseline (model 'hm4sr')."),
  })
  .superRefine((c, ctx) => {
    if (c.dim % c.heads !== 0)
      ctx.addIssue({
        code: 'custom',
        path: ['dim'],
        message: `must be a multiple of heads (${c.heads}), got ${c.dim}`,
      });
  });

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

/** A configuration problem; the message names its source (file, --set) and the dotted path of each problem. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(
      problems.length === 1
        ? `${source}: ${problems[0]}`
        : `${source}: ${problems.length} problems:\n  ${problems.join('\n  ')}`,
    );
    this.name = 'ConfigError';
  }
}

// ---------------------------------------------------------------------------------------------
// Schema introspection. zod 4 keeps each schema's definition in `_zod.def`; only the few kinds
// used above are handled, and describeConfig's test fails if a new kind shows up unhandled.

type Schema = z.core.$ZodType;
interface Def {
  type: string;
  innerType?: Schema;
  shape?: Record<string, Schema>;
  element?: Schema;
  options?: Schema[];
  entries?: Record<string, string>;
  values?: unknown[];
  checks?: { _zod: { def: CheckDef } }[];
}
interface CheckDef {
  check: string;
  format?: string;
  value?: number;
  inclusive?: boolean;
  length?: number;
  minimum?: number;
}

const defOf = (s: Schema): Def => s._zod.def as unknown as Def;

/** Strips default/prefault/optional wrappers, keeping the outermost description. */
function unwrap(s: Schema): { schema: Schema; description?: string; optional: boolean } {
  let description: string | undefined;
  let optional = false;
  for (;;) {
    description ??= z.globalRegistry.get(s)?.description;
    const d = defOf(s);
    if (d.type === 'optional') optional = true;
    if ((d.type === 'default' || d.type === 'prefault' || d.type === 'optional') && d.innerType)
      s = d.innerType;
    else return { schema: s, description, optional };
  }
}

function shapeOf(s: Schema): Record<string, Schema> | undefined {
  const d = defOf(unwrap(s).schema);
  return d.type === 'object' ? d.shape : undefined;
}

function schemaAt(path: readonly PropertyKey[]): Schema | undefined {
  let s: Schema = RunConfigSchema;
  for (const key of path) {
    const d = defOf(unwrap(s).schema);
    if (d.type === 'object' && typeof key === 'string' && d.shape && Object.hasOwn(d.shape, key))
      s = d.shape[key];
    else if (d.type === 'array' && typeof key === 'number' && d.element) s = d.element;
    else return undefined;
  }
  return s;
}

const quote = (v: unknown) => (typeof v === 'string' ? `'${v}'` : String(v));

/** A number's constraints in words: "positive integer", "number in [0, 1)", ... */
function numberText(d: Def): string {
  let isInt = false;
  let lo: { v: number; inc: boolean } | undefined;
  let hi: { v: number; inc: boolean } | undefined;
  for (const c of d.checks ?? []) {
    const cd = c._zod.def;
    if (cd.check === 'number_format' && (cd.format === 'safeint' || cd.format === 'int32')) isInt = true;
    else if (cd.check === 'greater_than') lo = { v: cd.value ?? 0, inc: cd.inclusive ?? false };
    else if (cd.check === 'less_than') hi = { v: cd.value ?? 0, inc: cd.inclusive ?? false };
  }
  const noun = isInt ? 'integer' : 'number';
  if (lo && hi) return `${noun} in ${lo.inc ? '[' : '('}${lo.v}, ${hi.v}${hi.inc ? ']' : ')'}`;
  if (lo && !hi) {
    if (lo.v === 0 && !lo.inc) return `positive ${noun}`;
    if (lo.v === 0 && lo.inc) return `non-negative ${noun}`;
    if (isInt && lo.v === 1 && lo.inc) return `positive integer`;
    return `${noun} ${lo.inc ? '≥' : '>'} ${lo.v}`;
  }
  if (hi) return `${noun} ${hi.inc ? '≤' : '<'} ${hi.v}`;
  return noun;
}

/** What a schema accepts, in words; 'doc' writes alternatives with |, 'prose' with "one of". */
function typeText(s: Schema, style: 'doc' | 'prose'): string {
  const d = defOf(unwrap(s).schema);
  const alternatives = (vs: unknown[]) =>
    vs.length === 1
      ? quote(vs[0])
      : style === 'doc'
        ? vs.map(quote).join(' | ')
        : `one of ${vs.map(quote).join(', ')}`;
  switch (d.type) {
    case 'number':
      return numberText(d);
    case 'boolean':
      return style === 'doc' ? 'boolean' : 'true or false';
    case 'string':
      return 'string';
    case 'enum':
      return alternatives(Object.values(d.entries ?? {}));
    case 'literal':
      return alternatives(d.values ?? []);
    case 'array': {
      const el = defOf(unwrap(d.element as Schema).schema);
      const exact = d.checks?.map((c) => c._zod.def).find((c) => c.check === 'length_equals')?.length;
      const items =
        el.type === 'enum'
          ? `of ${Object.values(el.entries ?? {})
              .map(quote)
              .join(', ')}`
          : `of ${typeText(d.element as Schema, style)}s`;
      return exact === undefined
        ? `list ${items}`
        : `list of ${exact} ${typeText(d.element as Schema, style)}s`;
    }
    case 'union':
      return style === 'doc'
        ? (d.options ?? []).map((o) => typeText(o, style)).join(' | ')
        : (d.options ?? []).map(expectedText).join(' or ');
    case 'object':
      return 'mapping of options';
    default:
      throw new Error(`config schema: no description for zod type "${d.type}"`);
  }
}

/** "a positive number", "one of 'dyt', 'layernorm'", "'auto' or a list of ...". */
function expectedText(s: Schema): string {
  const t = typeText(s, 'prose');
  // Only nouns take an article: unions already have theirs, literals and "one of"/"true or false" none.
  const noun = defOf(unwrap(s).schema).type !== 'union' && /^[a-z]/.test(t) && !/^(one of|true or)/.test(t);
  return noun ? `${/^[aeiou]/.test(t) ? 'an' : 'a'} ${t}` : t;
}

// ---------------------------------------------------------------------------------------------
// Error messages.

function pathText(path: readonly PropertyKey[]): string {
  let out = '';
  for (const k of path) out += typeof k === 'number' ? `[${k}]` : `${out ? '.' : ''}${String(k)}`;
  return out;
}

function valueAt(obj: unknown, path: readonly PropertyKey[]): unknown {
  let v = obj;
  for (const k of path)
    v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const next = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = prev[j];
      prev[j] = next;
    }
  }
  return prev[b.length];
}

/** Every leaf key, dotted ("train.lr"). */
function leafKeys(s: Schema = RunConfigSchema, prefix = ''): string[] {
  const shape = shapeOf(s);
  if (!shape) return [prefix];
  return Object.entries(shape).flatMap(([k, v]) => leafKeys(v, prefix ? `${prefix}.${k}` : k));
}

/** "train: unknown key "lrr" (did you mean "lr"?); valid keys in train: epochs, ..." */
function unknownKeyText(path: readonly PropertyKey[], keys: readonly string[]): string {
  const where = pathText(path);
  const valid = Object.keys(shapeOf(schemaAt(path) ?? RunConfigSchema) ?? {});
  const hints = keys.map((key) => {
    const lower = key.toLowerCase();
    const near = valid.filter(
      (v) =>
        v.toLowerCase() === lower || editDistance(v.toLowerCase(), lower) <= Math.max(1, key.length >> 2),
    );
    // A key that exists in another section: "lr" at the top level means "train.lr".
    const elsewhere = leafKeys().filter((k) => k.split('.').pop()?.toLowerCase() === lower && k !== key);
    const guess = [...near.map((n) => (where ? `${where}.${n}` : n)), ...elsewhere];
    const unique = [...new Set(guess)];
    return `"${key}"${unique.length ? ` (did you mean ${unique.map((g) => `"${g}"`).join(' or ')}?)` : ''}`;
  });
  return (
    `${where ? `${where}: ` : ''}unknown key${keys.length > 1 ? 's' : ''} ${hints.join(', ')}; ` +
    `valid keys ${where ? `in ${where}` : 'at the top level'}: ${valid.join(', ')}`
  );
}

function issueTexts(
  issues: readonly z.core.$ZodIssue[],
  input: unknown,
  base: readonly PropertyKey[] = [],
): string[] {
  return issues.map((issue) => {
    const path = [...base, ...issue.path];
    if (issue.code === 'unrecognized_keys') return unknownKeyText(path, issue.keys);
    const where = path.length ? pathText(path) : 'top level';
    if (issue.code === 'custom') return `${where}: ${issue.message}`;
    const schema = schemaAt(path);
    const expected = schema ? expectedText(schema) : issue.message;
    return `${where}: expected ${expected}, got ${show(valueAt(input, issue.path))}`;
  });
}

// ---------------------------------------------------------------------------------------------
// Loading, overriding, resolving.

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Validates an in-memory configuration (partial: missing keys take their defaults). */
export function parseConfig(obj: unknown, source = 'configuration'): RunConfig {
  const r = RunConfigSchema.safeParse(obj);
  if (!r.success) throw new ConfigError(source, issueTexts(r.error.issues, obj));
  return r.data;
}

/**
 * Reads a YAML (.yaml, .yml) or JSON (.json) config file and validates it. Returns the file's
 * own values (not defaulted), so that later layers and the defaults combine in resolveConfig.
 */
export function loadConfigFile(path: string): RunConfigInput {
  const ext = extname(path).toLowerCase();
  if (!['.yaml', '.yml', '.json'].includes(ext))
    throw new ConfigError(path, [`unknown config file type "${ext}": use .yaml, .yml or .json`]);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [`cannot read the file: ${(err as Error).message}`]);
  }
  let obj: unknown;
  try {
    // YAML 1.2 (the yaml package's default): 1e-3 is a number, "no"/"off" stay strings.
    obj = ext === '.json' ? JSON.parse(text) : YAML.parse(text);
  } catch (err) {
    // The first line says what and where (line, column); the rest is a code frame.
    const what = (err as Error).message.split('\n')[0].replace(/:$/, '');
    throw new ConfigError(path, [`invalid ${ext === '.json' ? 'JSON' : 'YAML'}: ${what}`]);
  }
  obj ??= {}; // an empty YAML file is null: no options set
  if (!isPlainObject(obj))
    throw new ConfigError(path, [`expected a mapping of options at the top level, got ${show(obj)}`]);
  parseConfig(obj, path);
  return obj as RunConfigInput;
}

/**
 * The readings of a --set value, most specific first, and the one to report when none fits:
 * the JSON value if it is JSON, a list if the option takes lists and the value has commas,
 * else the string.
 */
function readings(raw: string, field: Schema): { all: unknown[]; meant: unknown } {
  const json = (s: string): unknown => {
    try {
      return JSON.parse(s);
    } catch {
      return undefined;
    }
  };
  const f = defOf(unwrap(field).schema);
  const takesList =
    f.type === 'array' ||
    (f.type === 'union' && (f.options ?? []).some((o) => defOf(unwrap(o).schema).type === 'array'));
  const parsed = json(raw);
  const list = takesList
    ? raw.trim() === ''
      ? []
      : raw.split(',').map((s) => json(s.trim()) ?? s.trim())
    : undefined;
  const all = [parsed, list, raw].filter((v) => v !== undefined);
  return { all, meant: parsed ?? (list && raw.includes(',') ? list : raw) };
}

/**
 * Applies `key=value` overrides (dotted keys, e.g. "train.lr=0.002") to a raw configuration and
 * returns a new object. Values are JSON when they parse as JSON and fit the option, else comma
 * lists for list options ("cammsr.modalities=id,text"), else strings. Unknown keys and values
 * that do not fit their option are errors.
 */
export function applyOverrides(obj: Readonly<Record<string, unknown>>, overrides: readonly string[]) {
  const out = structuredClone(obj) as Record<string, unknown>;
  for (const item of overrides) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new ConfigError('--set', [`expected key=value (e.g. train.lr=0.002), got "${item}"`]);
    const parts = item.slice(0, eq).trim().split('.');
    const raw = item.slice(eq + 1);
    let level: Schema = RunConfigSchema;
    let target = out;
    for (let i = 0; i < parts.length; i++) {
      const key = parts[i];
      const shape = shapeOf(level);
      if (!shape) {
        const at = parts.slice(0, i).join('.');
        throw new ConfigError('--set', [
          `${at} is an option, not a section: "${parts.join('.')}" does not exist`,
        ]);
      }
      if (!Object.hasOwn(shape, key))
        throw new ConfigError('--set', [unknownKeyText(parts.slice(0, i), [key])]);
      level = shape[key];
      if (i < parts.length - 1) {
        if (!isPlainObject(target[key])) target[key] = {};
        target = target[key] as Record<string, unknown>;
      }
    }
    const field = level;
    const dotted = parts.join('.');
    if (shapeOf(field))
      throw new ConfigError('--set', [
        `${dotted} is a section; set one of its keys: ${leafKeys(field, dotted).join(', ')}`,
      ]);
    const { all, meant } = readings(raw, field);
    const fits = all.find((v) => z.safeParse(field, v).success);
    if (fits === undefined) {
      const r = z.safeParse(field, meant);
      throw new ConfigError(
        '--set',
        r.success ? [`${dotted}: invalid value "${raw}"`] : issueTexts(r.error.issues, meant, parts),
      );
    }
    target[parts[parts.length - 1]] = fits;
  }
  return out;
}

function mergeDefined(into: Record<string, unknown>, from: Readonly<Record<string, unknown>>) {
  for (const [k, v] of Object.entries(from)) {
    if (v === undefined) continue; // an absent CLI flag leaves lower layers alone
    if (isPlainObject(v) && isPlainObject(into[k])) mergeDefined(into[k] as Record<string, unknown>, v);
    else into[k] = structuredClone(v);
  }
}

/**
 * The configuration of a run: defaults < config file < --set overrides < explicit CLI flags.
 * `cli` holds the flags the user gave (undefined entries are ignored).
 */
export function resolveConfig(
  opts: { file?: string; overrides?: readonly string[]; cli?: RunConfigFlags } = {},
): RunConfig {
  const fromFile = opts.file ? (loadConfigFile(opts.file) as Record<string, unknown>) : {};
  const merged = applyOverrides(fromFile, opts.overrides ?? []);
  mergeDefined(merged, (opts.cli ?? {}) as Record<string, unknown>);
  return parseConfig(merged);
}

/** The configuration as a file text that resolveConfig reads back to the same configuration. */
export function formatConfig(cfg: RunConfig, format: 'yaml' | 'json'): string {
  if (format === 'json') return `${JSON.stringify(cfg, null, 2)}\n`;
  const doc = new YAML.Document(cfg);
  // Lists on one line ([0, 1, 1]): every list here is short.
  YAML.visit(doc, {
    Seq(_, node) {
      node.flow = true;
    },
  });
  return `# cammsr run configuration (every option resolved); reuse with --config\n${doc.toString({ flowCollectionPadding: false })}`;
}

/** Writes the resolved configuration, YAML or JSON by the file's extension. */
export function saveConfig(path: string, cfg: RunConfig): void {
  const ext = extname(path).toLowerCase();
  writeFileSync(path, formatConfig(cfg, ext === '.json' ? 'json' : 'yaml'));
}

// ---------------------------------------------------------------------------------------------
// Dataset-dependent choices ('auto' values), decided once the dataset is known.

/** The modalities a run uses, in canonical order; an explicit list must be available in the dataset. */
export function effectiveModalities(cfg: RunConfig, available: readonly Modality[]): Modality[] {
  const has = new Set<Modality>(['id', ...available]);
  if (cfg.cammsr.modalities === 'auto') return MODALITIES.filter((m) => has.has(m));
  const missing = cfg.cammsr.modalities.filter((m) => !has.has(m));
  if (missing.length)
    throw new ConfigError('configuration', [
      `cammsr.modalities: the dataset has no ${missing.join(', ')} features (it has ${MODALITIES.filter((m) => has.has(m)).join(', ')})`,
    ]);
  const wanted = new Set(cfg.cammsr.modalities);
  return MODALITIES.filter((m) => wanted.has(m));
}

/** Whether the time-gap embedding is on. */
export function effectiveTime(cfg: RunConfig, hasTimestamps: boolean): boolean {
  if (cfg.cammsr.time === 'on' && !hasTimestamps)
    throw new ConfigError('configuration', [`cammsr.time: "on" but the dataset has no timestamps`]);
  return cfg.cammsr.time === 'auto' ? hasTimestamps : cfg.cammsr.time === 'on';
}

/** The residual scale s for |M| modalities. */
export function effectiveWeightScale(cfg: RunConfig, modalityCount: number): number {
  const s = cfg.cammsr.categoryWeightScale;
  return s === 'modalities' ? modalityCount : s;
}

// ---------------------------------------------------------------------------------------------
// Documentation, walked from the schema so that it cannot drift from the code.

export interface ConfigOptionDoc {
  key: string;
  type: string;
  default: unknown;
  description: string;
}

/** Every option (leaf), dotted key, in schema order, with its type, default and description. */
export function describeConfig(): ConfigOptionDoc[] {
  const defaults = RunConfigSchema.parse({});
  return leafKeys().map((key) => {
    const path = key.split('.');
    const s = schemaAt(path) as Schema;
    const { description, optional } = unwrap(s);
    if (!description) throw new Error(`config schema: option ${key} has no description`);
    return {
      key,
      type: typeText(s, 'doc') + (optional ? ' (optional)' : ''),
      default: valueAt(defaults, path),
      description,
    };
  });
}

/** The sections (nested objects) with their descriptions, for the docs' headings. */
export function describeConfigSections(): { key: string; description: string }[] {
  return Object.entries(RunConfigSchema.shape)
    .filter(([, s]) => shapeOf(s))
    .map(([key, s]) => ({ key, description: unwrap(s).description ?? '' }));
}
