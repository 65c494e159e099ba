/**
 * What a reply to a hostile request must be (test/serve-fuzz.test.ts): not a 5xx (a 503 either:
 * the fuzzed store is healthy), nothing past a scope the caller lacks, only images from the
 * image route, and every failure JSON in the { error } shape without a stack frame, a file path
 * of the machine or SQL.
 */
import assert from 'node:assert/strict';
import { authenticate, type AuthPolicy } from '../src/serve/auth/policy.js';
import type { FuzzRequest } from './fuzz-requests.js';

export interface Outcome {
  req: FuzzRequest;
  status: number;
  body: string;
  contentType: string;
}

const LEAKS: [string, RegExp][] = [
  ['a stack frame', /\bat \S+ \(|^\s+at |\.[cm]?[jt]s:\d+:\d+/m],
  ['a file path', /\/tmp\/|\/work\/|\/home\/|node_modules|[A-Z]:\\/],
  [
    'SQL',
    /SQLITE_[A-Z]|SQLSTATE|syntax error|datatype mismatch|invalid input syntax|violates|duplicate key|\bINSERT INTO\b/,
  ],
];

/** Whether the caller's Authorization header grants the access of the route the request aims at. */
function mayCall(policy: AuthPolicy, req: FuzzRequest): boolean {
  if (req.access === undefined || req.access === 'public') return true;
  const key = authenticate(policy, req.headers.authorization);
  if (key === 'invalid') return false;
  return (key ? key.scopes : policy.anonymous).has(req.access);
}

/** What is wrong with a reply to a hostile request (undefined: nothing). */
export function problem(o: Outcome, policy: AuthPolicy): string | undefined {
  if (o.status >= 500) return `status ${o.status}${o.status === 503 ? ' with a healthy store' : ''}`;
  if (o.status < 300 && !mayCall(policy, o.req)) return `${o.status} without the ${o.req.access} scope`;
  if (o.status < 300 && o.req.url.endsWith('/image') && !o.contentType.startsWith('image/'))
    return `an image route answered ${o.contentType}`;
  if (o.body.includes('root:x:0:0')) return 'a file of the machine in the reply';
  if (o.status < 400 || o.req.method === 'HEAD') return undefined;
  for (const [what, pattern] of LEAKS) if (pattern.test(o.body)) return `${what} in an error reply`;
  let body: unknown;
  try {
    body = JSON.parse(o.body);
  } catch {
    return 'an error reply that is not JSON';
  }
  const keys = typeof body === 'object' && body !== null ? Object.keys(body) : [];
  if (keys.join() !== 'error' || typeof (body as { error: unknown }).error !== 'string')
    return 'an error reply not in the { error } shape';
  return undefined;
}

export const excerpt = (s: string | undefined, n: number) =>
  s === undefined ? undefined : s.length > n ? `${s.slice(0, n)}…(${s.length} chars)` : s;

/** Fails naming each kind of problem, how often it occurred and three of its requests, after `context` (the seed). */
export function assertNoProblems(outcomes: readonly Outcome[], policy: AuthPolicy, context: string): void {
  const kinds = new Map<string, string[]>();
  for (const o of outcomes) {
    const p = problem(o, policy);
    if (!p) continue;
    const { method, url, headers, payload } = o.req;
    const req = { method, url: excerpt(url, 200), headers, payload: excerpt(payload, 300) };
    kinds.set(p, [
      ...(kinds.get(p) ?? []),
      `  ${JSON.stringify(req)} -> ${o.status} ${excerpt(o.body, 300)}`,
    ]);
  }
  const report = [...kinds].map(([p, cases]) => `${p} (${cases.length}):\n${cases.slice(0, 3).join('\n')}`);
  assert.equal(kinds.size, 0, `${context}:\n${report.join('\n')}`);
}

/** "200: 12, 400: 30, ...": the statuses of a run, for the test's log. */
export function statusCounts(outcomes: readonly Outcome[]): string {
  const counts = new Map<number, number>();
  for (const o of outcomes) counts.set(o.status, (counts.get(o.status) ?? 0) + 1);
  return [...counts]
    .sort(([a], [b]) => a - b)
    .map(([s, n]) => `${s}: ${n}`)
    .join(', ');
}
