/**
 * The native kernels' persistent thread pool: results are the same bits as on one thread when
 * calls come back to back (workers still spinning), after the workers have gone to sleep, at
 * more parts than cores, and when two JavaScript threads call kernels at once (one of them then
 * runs its parts alone). Odd sizes put the cut between two parts inside a vector loop's stride.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import type { Kernels } from '../src/kernels/kernels.js';
import { loadBackend } from '../src/kernels/select.js';
import { nativeLoads, poolInputs, runPoolKernels, type PoolInputs } from './threaded-kernels.js';

const sleepMs = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function assertSame(got: Uint32Array[], want: Uint32Array[], what: string): void {
  want.forEach((w, i) => assert.deepEqual(got[i], w, `${what}: output ${i}`));
}

/**
 * body(K, inputs, want) at two kernel threads, `want` the results on one thread; skipped where
 * the native backend (or a second OpenBLAS thread) is not there. The thread count is restored.
 */
async function atTwoThreads(
  t: TestContext,
  seed: number,
  body: (K: Kernels, inputs: PoolInputs, want: Uint32Array[]) => void | Promise<void>,
): Promise<void> {
  if (!nativeLoads(t)) return;
  const K = loadBackend('native');
  const before = K.threads();
  const inputs = poolInputs(seed);
  try {
    K.setThreads(1);
    const want = runPoolKernels(K, inputs);
    K.setThreads(2);
    if (K.threads() < 2) return t.skip('OpenBLAS was built for one thread');
    await body(K, inputs, want);
  } finally {
    K.setThreads(before);
  }
}

/** A worker thread that runs the kernels `rounds` times at `threads` and posts every result. */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const { loadBackend } = await import(workerData.select);
  const { poolInputs, runPoolKernels } = await import(workerData.helpers);
  const K = loadBackend('native');
  K.setThreads(workerData.threads);
  const inputs = poolInputs(workerData.seed);
  Atomics.store(workerData.ready, 0, 1);
  Atomics.notify(workerData.ready, 0);
  const results = [];
  for (let r = 0; r < workerData.rounds; r++) results.push(runPoolKernels(K, inputs));
  parentPort.postMessage(results);
})().catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));
`;

test('native thread pool: the same bits as one thread, back to back, after sleeping, and at more parts than cores', (t) =>
  atTwoThreads(t, 5, (K, inputs, want) => {
    for (let r = 0; r < 40; r++) assertSame(runPoolKernels(K, inputs), want, `back to back, round ${r}`);
    for (let r = 0; r < 5; r++) {
      sleepMs(5); // longer than a worker spins: it is asleep when the next call comes
      assertSame(runPoolKernels(K, inputs), want, `after sleeping, round ${r}`);
    }
    for (const threads of [4, 3, 2]) {
      K.setThreads(threads);
      assertSame(runPoolKernels(K, inputs), want, `${K.threads()} threads`);
    }
  }));

test('native thread pool: two JavaScript threads calling kernels at once get the same bits as one thread', (t) =>
  atTwoThreads(t, 6, async (K, inputs, want) => {
    const ready = new Int32Array(new SharedArrayBuffer(4));
    const rounds = 20;
    const worker = new Worker(WORKER, {
      eval: true,
      workerData: {
        select: new URL('../src/kernels/select.js', import.meta.url).href,
        helpers: new URL('./threaded-kernels.js', import.meta.url).href,
        threads: 2,
        seed: 6,
        rounds,
        ready,
      },
    });
    const posted = new Promise<unknown>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    assert.notEqual(Atomics.wait(ready, 0, 0, 30_000), 'timed-out', 'the worker did not start');
    for (let r = 0; r < rounds; r++) assertSame(runPoolKernels(K, inputs), want, `main thread, round ${r}`);
    const results = (await posted) as Uint32Array[][] | { error: string };
    await worker.terminate();
    assert.ok(Array.isArray(results), `worker failed: ${(results as { error: string }).error}`);
    assert.equal(results.length, rounds);
    results.forEach((got, r) => assertSame(got, want, `worker thread, round ${r}`));
  }));
