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

function runScenario(t: TestContext, scenario: string): void {
  if (!nativeLoads(t)) return;
  const out = execFileSync(process.execPath, [STRESS, scenario], { encoding: 'utf8', timeout: 120_000 });
  const { workers, threads } = JSON.parse(out.trim().split('\n').pop()!) as {
    workers: number;
    threads: number;
  };
  if (threads < 2) return t.skip('OpenBLAS was built for one thread');
  assert.ok(workers >= 1, `the pool started ${workers} workers`);
}

test('native thread pool: the same bits as one thread, back to back, after sleeping, and at four parts on two cores', (t) =>
  runScenario(t, 'serial'));

test('native thread pool: two JavaScript threads calling kernels at once get the same bits as one thread', (t) =>
  runScenario(t, 'two-threads'));
