/**
 * Walking the config schema: what each option accepts, in words, for error messages and the
 * generated docs. zod 4 keeps each schema's definition in `_zod.def`; only the few kinds the
 * schema uses are handled, and describeConfig's test fails if a new kind shows up unhandled.
 */
import * as z from 'zod';
import { RunConfigSchema } from './schema.js';

export type Schema = z.core.$ZodType;
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

export const defOf = (s: Schema): Def => s._zod.def as unknown as Def;

/** Strips default/prefault/optional wrappers, keeping the outermost description. */
export function unwrap(s: Schema): { schema: Schema; description?: string; optional: boolean } {
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

export function shapeOf(s: Schema): Record<string, Schema> | undefined {
  const d = defOf(unwrap(s).schema);
  return d.type === 'object' ? d.shape : undefined;
}

export function schemaAt(path: readonly PropertyKey[]): Schema | undefined {
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
export function typeText(s: Schema, style: 'doc' | 'prose'): string {
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
export function expectedText(s: Schema): string {
  const t = typeText(s, 'prose');
  // Only nouns take an article: unions already have theirs, literals and "one of"/"true or false" none.
  const noun = defOf(unwrap(s).schema).type !== 'union' && /^[a-z]/.test(t) && !/^(one of|true or)/.test(t);
  return noun ? `${/^[aeiou]/.test(t) ? 'an' : 'a'} ${t}` : t;
}

/** Every leaf key, dotted ("train.lr"). */
export function leafKeys(s: Schema = RunConfigSchema, prefix = ''): string[] {
  const shape = shapeOf(s);
  if (!shape) return [prefix];
  return Object.entries(shape).flatMap(([k, v]) => leafKeys(v, prefix ? `${prefix}.${k}` : k));
}

export function valueAt(obj: unknown, path: readonly PropertyKey[]): unknown {
  let v = obj;
  for (const k of path)
    v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
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
