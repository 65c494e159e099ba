/**
 * Durability of `cammsr serve` under kill -9, with idempotent retries. Each trial: writers post
 * batches of events with unique client ids as fast as they are answered; after a random delay
 * the server gets SIGKILL and is restarted on the same store; each writer then retries every
 * request whose reply it did not get, with the same ids, until it is acknowledged. The store is
 * read directly (bench/event-counts.ts): every acknowledged event must be stored exactly once,
 * no request stored in part (checked before the retries), and each retry's reply must count as
 * duplicates exactly the events the store already had.
 *
 * Used by `npm run bench:durability` (bench/durability.ts) and test/serve-durability.test.ts.
 */
import { Rng } from '../src/engine/rng.js';
import { openEventCounts, type EventCounts } from './event-counts.js';
import { startServe, type ServeProcess } from './serve-process.js';

export interface DurabilityOptions {
  bundle: string;
  /** The event store (--db): sqlite:<file> or postgres://...; the trials' events stay in it. */
  db: string;
  trials: number;
  /** Concurrent writers, each with its own user per trial. */
  workers: number;
  /** Events per request: uniform from 1 to this. */
  maxBatch: number;
  /** The delay before each kill: uniform in this range, ms. */
  killAfterMs: [number, number];
  /** Batch sizes and kill delays. */
  seed: number;
  /** Hears each trial as it ends. */
  onTrial?: (t: TrialResult) => void;
}

export interface TrialResult {
  trial: number;
  killAfterMs: number;
  /** Requests sent before the kill, and the events of those acknowledged (201) before it. */
  requests: number;
  acknowledgedBeforeKill: number;
  /** Requests whose reply was lost at the kill, retried after the restart. */
  retried: number;
  /** Events of those the store had already (their retry must count them as duplicates). */
  storedBeforeRetry: number;
  /** Events acknowledged in the end (all of them, unless a retry never got through). */
  acknowledged: number;
  /** Acknowledged events not stored; event ids stored more than once (or rows without an id). */
  lost: number;
  duplicated: number;
  /** Requests stored in part (before the retries), and replies whose stored/duplicates counts are wrong. */
  partialBatches: number;
  miscountedReplies: number;
  /** Events whose request was never acknowledged (retries exhausted). */
  unacknowledged: number;
  /** From the end of the killed process to /readyz 200 of the new one. */
  restartSeconds: number;
  integrity: string;
}

interface Batch {
  events: { id: string; user: string; item: string; timestamp: number }[];
  acknowledged: boolean;
  /** Reply counts that differ from what the store held before the request. */
  miscounted: boolean;
  storedBefore: number;
}

/** How long a writer keeps retrying one request after the restart. */
const RETRY_FOR_MS = 60_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the trials on one server process after another; stops the last one. */
export async function durabilityTrials(o: DurabilityOptions): Promise<TrialResult[]> {
  const rng = new Rng(o.seed);
  const run = Date.now().toString(36);
  const counts = await openEventCounts(o.db);
  const serveArgs = ['--bundle', o.bundle, '--db', o.db];
  let server: ServeProcess | undefined;
  const results: TrialResult[] = [];
  try {
    server = await startServe(serveArgs);
    for (let trial = 1; trial <= o.trials; trial++) {
      const users = Array.from({ length: o.workers }, (_, w) => `dur-${run}-t${trial}-w${w}`);
      const killAfterMs = o.killAfterMs[0] + rng.int(o.killAfterMs[1] - o.killAfterMs[0] + 1);
      const url = server.url;
      const writers = users.map((user) => writer(url, user, rng.fork(), o.maxBatch));
      await sleep(killAfterMs);
      // The signal goes out now and no request starts after it: the ones in flight meet the kill.
      const killed = server.kill();
      writers.forEach((w) => w.halt());
      await killed;
      const batches = (await Promise.all(writers.map((w) => w.batches))).flat();
      const t0 = performance.now();
      server = await startServe(serveArgs);
      const restartSeconds = (performance.now() - t0) / 1000;
      const checked = await retryAndCount(server.url, counts, users, batches);
      results.push({ trial, killAfterMs, ...checked, restartSeconds });
      o.onTrial?.(results[results.length - 1]);
    }
  } finally {
    await server?.stop();
    await counts.close();
  }
  return results;
}

/** Posts batches of new events for `user` back to back until halted; `batches` are all it sent. */
function writer(url: string, user: string, rng: Rng, maxBatch: number) {
  let halted = false;
  let seq = 0;
  const sent: Batch[] = [];
  const batches = (async () => {
    while (!halted) {
      const events = Array.from({ length: 1 + rng.int(maxBatch) }, () => {
        const n = seq++;
        return { id: `${user}-${n}`, user, item: `item-${n % 97}`, timestamp: 1.7e9 + n };
      });
      const b: Batch = { events, acknowledged: false, miscounted: false, storedBefore: 0 };
      sent.push(b);
      await post(url, b);
    }
    return sent;
  })();
  return { halt: () => (halted = true), batches };
}

/**
 * Sends a batch once: acknowledged on a 201, whose counts must say that the events stored before
 * (b.storedBefore) were duplicates and the rest stored.
 */
async function post(url: string, b: Batch): Promise<void> {
  try {
    const r = await fetch(`${url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(b.events),
      signal: AbortSignal.timeout(30_000),
    });
    if (r.status !== 201) return void (await r.arrayBuffer());
    const { stored, duplicates } = (await r.json()) as { stored: number; duplicates: number };
    b.acknowledged = true;
    b.miscounted = duplicates !== b.storedBefore || stored !== b.events.length - b.storedBefore;
  } catch {
    // No reply (the connection died with the server): the batch is in doubt.
  }
}

/** Checks the requests in doubt for partial storage, retries them, and counts the store. */
async function retryAndCount(
  url: string,
  counts: EventCounts,
  users: readonly string[],
  batches: readonly Batch[],
): Promise<Omit<TrialResult, 'trial' | 'killAfterMs' | 'restartSeconds'>> {
  const doubtful = batches.filter((b) => !b.acknowledged);
  const before = await counts.perEventId(users);
  for (const b of doubtful) b.storedBefore = b.events.filter((e) => before.has(e.id)).length;
  const acknowledgedBeforeKill = sum(batches.filter((b) => b.acknowledged).map((b) => b.events.length));
  // Each writer retries its own requests, in order; the writers run side by side.
  const mine = (user: string) => doubtful.filter((b) => b.events[0].user === user);
  await Promise.all(users.map((user) => retry(url, mine(user))));
  const after = await counts.perEventId(users);
  const acknowledged = batches.filter((b) => b.acknowledged).flatMap((b) => b.events);
  return {
    requests: batches.length,
    acknowledgedBeforeKill,
    retried: doubtful.length,
    storedBeforeRetry: sum(doubtful.map((b) => b.storedBefore)),
    acknowledged: acknowledged.length,
    lost: acknowledged.filter((e) => !after.has(e.id)).length,
    duplicated: sum([...after].map(([id, n]) => (id === null ? n : n - 1))),
    partialBatches: doubtful.filter((b) => b.storedBefore > 0 && b.storedBefore < b.events.length).length,
    miscountedReplies: batches.filter((b) => b.miscounted).length,
    unacknowledged: sum(batches.filter((b) => !b.acknowledged).map((b) => b.events.length)),
    integrity: await counts.integrity(),
  };
}

/** Sends each batch until it is acknowledged or RETRY_FOR_MS have passed. */
async function retry(url: string, batches: readonly Batch[]): Promise<void> {
  for (const b of batches) {
    const until = performance.now() + RETRY_FOR_MS;
    await post(url, b);
    while (!b.acknowledged && performance.now() < until) {
      await sleep(100);
      await post(url, b);
    }
  }
}

const sum = (xs: readonly number[]) => xs.reduce((a, x) => a + x, 0);
