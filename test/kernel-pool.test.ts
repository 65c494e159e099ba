/**
 * The native kernels' persistent thread pool: results are the same bits as on one thread when
 * calls come back to back (workers still spinning), after the workers have gone to sleep, at four
 * and three parts on a two-core machine, and when two JavaScript threads call kernels at once
 * (one of them then runs its parts alone); and the pool did start workers. The scenarios run in
 * a child process (pool-stress.ts) with a timeout, so that a deadlock fails the test instead of
 * hanging it.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { nativeLoads } from './threaded-kernels.js';

const STRESS = fileURLToPath(new URL('./pool-stress.js', import.meta.url));

function runScenario(t: TestContext, scenario: string, spin?: '0'): void {
  if (!nativeLoads(t)) return;
  const env = spin === undefined ? process.env : { ...process.env, CAMMSR_POOL_SPIN: spin };
  const out = execFileSync(process.execPath, [STRESS, scenario], { encoding: 'utf8', timeout: 120_000, env });
  const { workers, threads } = JSON.parse(out.trim().split('\n').pop()!) as {
    workers: number;
    threads: number;
  };
  if (threads < 2) return t.skip('OpenBLAS was built for one thread');
  // Every part but the caller's had a worker: the pool ran them, not a serial fallback.
  assert.ok(workers >= threads - 1, `the pool started ${workers} workers for ${threads} threads`);
}

test('native thread pool: the same bits as one thread, back to back, after sleeping, and at four parts on two cores', (t) =>
  runScenario(t, 'serial'));

test('native thread pool: two JavaScript threads calling kernels at once get the same bits as one thread', (t) =>
  runScenario(t, 'two-threads'));

test('native thread pool without spinning (CAMMSR_POOL_SPIN=0): workers and callers sleep and wake on every call', (t) => {
  runScenario(t, 'serial', '0');
  runScenario(t, 'two-threads', '0');
});
