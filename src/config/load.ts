/**
 * Loading and resolving a run configuration. Precedence, lowest first: schema defaults < config
 * file (YAML or JSON) < `--set key=value` overrides < explicit CLI flags (--model, --seed).
 * Nested objects are strict, so a misspelt key is an error instead of a silently ignored option.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { extname } from 'node:path';
import * as z from 'zod';
import YAML from 'yaml';
import { ConfigError, issueTexts, show, unknownKeyText } from './errors.js';
import { defOf, leafKeys, shapeOf, unwrap, type Schema } from './introspect.js';
import {
  MODEL_PRESETS,
  RunConfigSchema,
  type RunConfig,
  type RunConfigFlags,
  type RunConfigInput,
} from './schema.js';

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
 * Options that were removed from the schema, with the only value they ever took effect with.
 * A stored configuration (a run's config.json, a bundle's) that has one at that value still
 * loads; any other value is an error, since the run was made with a behaviour that is gone.
 */
const RETIRED_OPTIONS: readonly { path: readonly [string, string]; value: unknown }[] = [
  // Nothing read it: every expert was linear.
  { path: ['cammsr', 'expertKind'], value: 'linear' },
];

/** Validates a configuration that cammsr wrote earlier (run directories, bundles). */
export function parseStoredConfig(obj: unknown, source: string): RunConfig {
  if (!isPlainObject(obj)) return parseConfig(obj, source);
  const copy = structuredClone(obj);
  for (const { path, value } of RETIRED_OPTIONS) {
    const section = copy[path[0]];
    if (isPlainObject(section) && Object.hasOwn(section, path[1]) && section[path[1]] === value)
      delete section[path[1]];
  }
  return parseConfig(copy, source);
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
 * The configuration of a run: defaults < the model's preset (MODEL_PRESETS) < `base` < config
 * file < --set overrides < explicit CLI flags. `base` is a configuration to start from instead
 * of the defaults (a resumed run's own); `cli` holds the flags the user gave (undefined entries
 * are ignored).
 */
export function resolveConfig(
  opts: { base?: RunConfig; file?: string; overrides?: readonly string[]; cli?: RunConfigFlags } = {},
): RunConfig {
  const layers = structuredClone((opts.base ?? {}) as Record<string, unknown>);
  if (opts.file) mergeDefined(layers, loadConfigFile(opts.file) as Record<string, unknown>);
  const merged = applyOverrides(layers, opts.overrides ?? []);
  mergeDefined(merged, (opts.cli ?? {}) as Record<string, unknown>);
  return parseConfig(withPreset(merged));
}

/** The layers over the preset of the model they name (the default model's when they name none). */
function withPreset(layers: Record<string, unknown>): Record<string, unknown> {
  const model = layers.model ?? RunConfigSchema.shape.model.parse(undefined);
  const preset = Object.hasOwn(MODEL_PRESETS, model as string)
    ? MODEL_PRESETS[model as keyof typeof MODEL_PRESETS]
    : undefined;
  if (!preset) return layers;
  const out = structuredClone(preset) as Record<string, unknown>;
  mergeDefined(out, layers);
  return out;
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
