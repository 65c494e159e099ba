/**
 * Who may call the service: the keys it accepts and what a request without a key may do, from
 * a key document (file or CAMMSR_API_KEYS) and CAMMSR_ADMIN_TOKEN, with the rule for the
 * address it listens on. Without keys everything is open, which is only allowed on a loopback
 * address (local development and the explorer) unless the operator says otherwise in so many
 * words (`--insecure-no-auth`).
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { DEFAULT_RATE_PER_MINUTE, parseKeySet, sha256, type ApiKey, type KeySet } from './api-keys.js';
import { SCOPES, type Scope } from './scopes.js';

export interface AuthPolicy extends KeySet {
  /** One line for the start message: where the keys came from, or that the service is open. */
  summary: string;
}

export interface AuthSources {
  /** A key document's path (`--keys`). */
  keysFile?: string;
  /** A key document's text (CAMMSR_API_KEYS). */
  keysJson?: string;
  /** CAMMSR_ADMIN_TOKEN: a key with the admin scope. */
  adminToken?: string;
  /** The address the service listens on. */
  host: string;
  /** `--insecure-no-auth`: listen on a non-loopback address without keys. */
  insecureNoAuth?: boolean;
}

/** Whether `host` is a loopback address or name (only this machine can connect). */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** Everything open to everyone, without limits: tests, and the library's default. */
export function openPolicy(): AuthPolicy {
  return { keys: [], anonymous: new Set(SCOPES), anonymousRatePerMinute: 0, summary: 'open (no keys)' };
}

function keyDocument(s: AuthSources): KeySet | null {
  if (s.keysFile && s.keysJson) throw new Error('keys come from --keys or CAMMSR_API_KEYS, not both');
  if (s.keysJson) return parseKeySet(s.keysJson, 'CAMMSR_API_KEYS');
  if (!s.keysFile) return null;
  let text: string;
  try {
    text = readFileSync(s.keysFile, 'utf8');
  } catch (e) {
    throw new Error(
      `--keys ${s.keysFile}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  return parseKeySet(text, s.keysFile);
}

/** The policy for a service started with these sources; throws when the address needs keys it lacks. */
export function authPolicy(s: AuthSources): AuthPolicy {
  const doc = keyDocument(s);
  const admin: ApiKey[] = s.adminToken
    ? [
        {
          id: 'CAMMSR_ADMIN_TOKEN',
          sha256: sha256(s.adminToken),
          scopes: new Set<Scope>(['admin']),
          ratePerMinute: 0,
        },
      ]
    : [];
  if (!doc && !isLoopback(s.host) && !s.insecureNoAuth)
    throw new Error(
      `refusing to listen on ${s.host} without API keys: anyone who can reach it could write events for any user, ` +
        "read every user's history and change the catalog. Give --keys <file> (or CAMMSR_API_KEYS; docs/serving.md, " +
        '"Keys and scopes"), listen on 127.0.0.1, or pass --insecure-no-auth to serve it open anyway',
    );
  if (doc) {
    const summary = `${doc.keys.length} key(s) from ${s.keysFile ?? 'CAMMSR_API_KEYS'}${admin.length ? ' and CAMMSR_ADMIN_TOKEN' : ''}; without a key: ${[...doc.anonymous].join(', ') || 'nothing'}`;
    return { ...doc, keys: [...doc.keys, ...admin], summary };
  }
  // No key document: open, as before keys existed; CAMMSR_ADMIN_TOKEN alone still closes the admin routes.
  const anonymous = new Set(SCOPES.filter((x) => !(admin.length && x === 'admin')));
  const where = isLoopback(s.host) ? 'loopback' : 'OPEN TO THE NETWORK (--insecure-no-auth)';
  const summary = `no keys, ${where}: every route open${admin.length ? ' except admin (CAMMSR_ADMIN_TOKEN)' : ''}`;
  return {
    keys: admin,
    anonymous,
    anonymousRatePerMinute: isLoopback(s.host) ? 0 : DEFAULT_RATE_PER_MINUTE,
    summary,
  };
}

/**
 * The key a request presents (`Authorization: Bearer <key>`): the key, `null` without a header,
 * `'invalid'` for a header that names no key. Every key is compared, in constant time each.
 */
export function authenticate(policy: AuthPolicy, header: string | undefined): ApiKey | null | 'invalid' {
  if (header === undefined) return null;
  const m = /^Bearer (\S+)$/.exec(header);
  if (!m) return 'invalid';
  const given = sha256(m[1]);
  let found: ApiKey | undefined;
  for (const k of policy.keys) if (timingSafeEqual(given, k.sha256) && !found) found = k;
  return found ?? 'invalid';
}
