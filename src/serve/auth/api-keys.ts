/**
 * API keys from a JSON document (a file, or the CAMMSR_API_KEYS variable):
 *
 *   { "keys": [ { "id": "ingest", "sha256": "<hex of the key>", "scopes": ["events:write"],
 *                 "ratePerMinute": 6000 } ],
 *     "anonymous": ["recommendations:read"], "anonymousRatePerMinute": 600 }
 *
 * A key is given as its sha256 (so the file holds no secret) or in clear (`"key"`, at least 16
 * characters). Every mistake is reported with the source and the field at fault.
 */
import { createHash } from 'node:crypto';
import { isScope, SCOPES, type Scope } from './scopes.js';

export interface ApiKey {
  id: string;
  /** sha256 of the key: requests are matched by the hash of what they present. */
  sha256: Buffer;
  scopes: ReadonlySet<Scope>;
  /** Requests per minute for this key; 0 = no limit. */
  ratePerMinute: number;
}

export interface KeySet {
  keys: ApiKey[];
  /** Scopes granted to a request without a key (default none). */
  anonymous: ReadonlySet<Scope>;
  /** Requests per minute per client address without a key; 0 = no limit. */
  anonymousRatePerMinute: number;
}

export const DEFAULT_RATE_PER_MINUTE = 6000;
const MIN_KEY_LENGTH = 16;

export const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

class KeyError extends Error {}

function fail(source: string, field: string, what: string): never {
  throw new KeyError(`${source}: ${field} ${what}`);
}

function parseScopes(v: unknown, source: string, field: string): Set<Scope> {
  if (!Array.isArray(v)) fail(source, field, `must be a list of scopes (${SCOPES.join(', ')}, or "*")`);
  const out = new Set<Scope>();
  v.forEach((s: unknown, i) => {
    if (s === '*') SCOPES.forEach((x) => out.add(x));
    else if (typeof s === 'string' && isScope(s)) out.add(s);
    else
      fail(source, `${field}[${i}]`, `is ${JSON.stringify(s)}, not a scope (${SCOPES.join(', ')}, or "*")`);
  });
  return out;
}

function parseRate(v: unknown, source: string, field: string): number {
  if (v === undefined) return DEFAULT_RATE_PER_MINUTE;
  if (!Number.isSafeInteger(v) || (v as number) < 0)
    fail(
      source,
      field,
      `must be a whole number of requests per minute (0 = no limit), got ${JSON.stringify(v)}`,
    );
  return v as number;
}

function parseKey(k: unknown, source: string, field: string): ApiKey {
  if (typeof k !== 'object' || k === null || Array.isArray(k)) fail(source, field, 'must be an object');
  const o = k as Record<string, unknown>;
  for (const name of Object.keys(o))
    if (!['id', 'key', 'sha256', 'scopes', 'ratePerMinute'].includes(name))
      fail(source, `${field}.${name}`, 'is not a key field (id, key or sha256, scopes, ratePerMinute)');
  if (typeof o.id !== 'string' || !/^[\w.:@-]{1,64}$/.test(o.id))
    fail(source, `${field}.id`, 'must be a name of 1 to 64 letters, digits or . _ : @ -');
  if ((o.key === undefined) === (o.sha256 === undefined))
    fail(source, field, 'needs one of "key" or "sha256"');
  let hash: Buffer;
  if (o.key !== undefined) {
    if (typeof o.key !== 'string' || o.key.length < MIN_KEY_LENGTH || /\s/.test(o.key))
      fail(source, `${field}.key`, `must be at least ${MIN_KEY_LENGTH} characters without spaces`);
    hash = sha256(o.key);
  } else {
    if (typeof o.sha256 !== 'string' || !/^[0-9a-f]{64}$/i.test(o.sha256))
      fail(source, `${field}.sha256`, 'must be 64 hexadecimal digits (the sha256 of the key)');
    hash = Buffer.from(o.sha256, 'hex');
  }
  const scopes = parseScopes(o.scopes, source, `${field}.scopes`);
  if (scopes.size === 0) fail(source, `${field}.scopes`, 'is empty: a key needs at least one scope');
  return {
    id: o.id,
    sha256: hash,
    scopes,
    ratePerMinute: parseRate(o.ratePerMinute, source, `${field}.ratePerMinute`),
  };
}

/** Parses a key document; `source` names it in errors (a file's path, or the variable). */
export function parseKeySet(text: string, source: string): KeySet {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new KeyError(`${source}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof doc !== 'object' || doc === null || !Array.isArray((doc as { keys?: unknown }).keys))
    fail(source, 'keys', 'must be a list of keys: {"keys": [{"id": ..., "sha256": ..., "scopes": [...]}]}');
  const o = doc as Record<string, unknown>;
  for (const name of Object.keys(o))
    if (!['keys', 'anonymous', 'anonymousRatePerMinute'].includes(name))
      fail(source, name, 'is not a field of a key document (keys, anonymous, anonymousRatePerMinute)');
  const keys = (o.keys as unknown[]).map((k, i) => parseKey(k, source, `keys[${i}]`));
  const ids = new Set<string>();
  const hashes = new Set<string>();
  keys.forEach((k, i) => {
    if (ids.has(k.id)) fail(source, `keys[${i}].id`, `"${k.id}" is used twice`);
    if (hashes.has(k.sha256.toString('hex')))
      fail(source, `keys[${i}]`, 'has the same key as an earlier entry');
    ids.add(k.id);
    hashes.add(k.sha256.toString('hex'));
  });
  const anonymous =
    o.anonymous === undefined ? new Set<Scope>() : parseScopes(o.anonymous, source, 'anonymous');
  const anonymousRatePerMinute = parseRate(o.anonymousRatePerMinute, source, 'anonymousRatePerMinute');
  return { keys, anonymous, anonymousRatePerMinute };
}
