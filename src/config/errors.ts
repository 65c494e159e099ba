/** Configuration errors whose message names the source, the dotted option and what it expects. */
import type * as z from 'zod';
import { expectedText, leafKeys, schemaAt, shapeOf, valueAt } from './introspect.js';
import { RunConfigSchema } from './schema.js';

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

function pathText(path: readonly PropertyKey[]): string {
  let out = '';
  for (const k of path) out += typeof k === 'number' ? `[${k}]` : `${out ? '.' : ''}${String(k)}`;
  return out;
}

export function show(v: unknown): string {
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

/** "train: unknown key "lrr" (did you mean "lr"?); valid keys in train: epochs, ..." */
export function unknownKeyText(path: readonly PropertyKey[], keys: readonly string[]): string {
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

export function issueTexts(
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
