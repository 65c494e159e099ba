/**
 * Open-loop load for bench:serve: requests sent at a fixed rate whatever the replies (as users
 * arrive), latency measured from when each request was due (so a server that falls behind is
 * charged for the wait it causes: no coordinated omission), against `cammsr serve` running in
 * its own process (bench/serve-process.ts), on loopback only.
 */
import { Agent, request } from 'node:http';
import { median, quantile } from './common.js';

export interface OpenLoopResult {
  targetPerSecond: number;
  sent: number;
  /** 200 replies per second of the sending window. */
  achievedPerSecond: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** Replies by status ('timeout' and 'error' for none). */
  statuses: Record<string, number>;
}

function post(agent: Agent, url: URL, body: string, timeoutMs: number): Promise<string> {
  return new Promise((done) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: timeoutMs,
      },
      (res) => {
        res.resume();
        res.on('end', () => done(String(res.statusCode)));
      },
    );
    req.on('timeout', () => {
      req.destroy();
      done('timeout');
    });
    req.on('error', () => done('error'));
    req.end(body);
  });
}

/**
 * Sends `rate` requests per second for `seconds` (the bodies from `body(i)`) to `url`, at most
 * `maxSockets` open at once, each given up after `timeoutMs`.
 */
export async function openLoop(
  url: string,
  rate: number,
  seconds: number,
  body: (i: number) => string,
  { maxSockets = 256, timeoutMs = 10_000 } = {},
): Promise<OpenLoopResult> {
  const agent = new Agent({ keepAlive: true, maxSockets });
  const target = new URL(url);
  const n = Math.round(rate * seconds);
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const pending: Promise<void>[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    pending.push(
      post(agent, target, body(i), timeoutMs).then((status) => {
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (status === '200') latencies.push(performance.now() - due);
      }),
    );
  }
  await Promise.all(pending);
  agent.destroy();
  const ok = statuses['200'] ?? 0;
  const q = (p: number) => (latencies.length ? quantile(latencies, p) : NaN);
  return {
    targetPerSecond: rate,
    sent: n,
    achievedPerSecond: ok / seconds,
    p50: latencies.length ? median(latencies) : NaN,
    p95: q(0.95),
    p99: q(0.99),
    max: latencies.length ? Math.max(...latencies) : NaN,
    statuses,
  };
}
