/**
 * The native kernel pool's scenarios, run by kernel-pool.test.ts in a child process with a
 * timeout (a deadlock in native code would block a test's own thread for good):
 *   node pool-stress.js serial | two-threads
 * Prints one JSON line ({ workers, threads: the most threads granted }) when every result is the
 * same bits as on one thread, and throws otherwise. Imported without a scenario (as the test runner does), it does
 * nothing.
 */
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import type { Kernels } from '../src/kernels/kernels.js';
import { loadBackend } from '../src/kernels/select.js';
import { poolInputs, runPoolKernels, type PoolInputs } from './threaded-kernels.js';

const sleepMs = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function assertSame(got: Uint32Array[], want: Uint32Array[], what: string): void {
  want.forEach((w, i) => assert.deepEqual(got[i], w, `${what}: output ${i}`));
}

/** The results on one thread, then the thread count at `threads`. */
function oneThenMany(K: Kernels, inputs: PoolInputs, threads: number): Uint32Array[] {
  K.setThreads(1);
  const want = runPoolKernels(K, inputs);
  K.setThreads(threads);
  return want;
}

/** Back to back (workers still spinning), after they slept, and at four and three parts; returns
 * the thread count OpenBLAS granted for four. */
function serial(K: Kernels): number {
  const inputs = poolInputs(5);
  const want = oneThenMany(K, inputs, 2);
  for (let r = 0; r < 40; r++) assertSame(runPoolKernels(K, inputs), want, `back to back, round ${r}`);
  for (let r = 0; r < 5; r++) {
    sleepMs(5); // longer than a worker spins: it is asleep when the next call comes
    assertSame(runPoolKernels(K, inputs), want, `after sleeping, round ${r}`);
  }
  const large = poolInputs(7, 8009); // four parts of at least 131,072 elements
  const wantLarge = oneThenMany(K, large, 4);
  const granted = K.threads();
  for (const threads of [4, 3, 4, 2, 4]) {
    K.setThreads(threads);
    assertSame(runPoolKernels(K, large), wantLarge, `${K.threads()} threads`);
  }
  return granted;
}

/** A worker thread that runs the kernels `rounds` times at two threads and posts every result. */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const { loadBackend } = await import(workerData.select);
  const { poolInputs, runPoolKernels } = await import(workerData.helpers);
  const K = loadBackend('native');
  K.setThreads(2);
  const inputs = poolInputs(workerData.seed);
  Atomics.store(workerData.ready, 0, 1);
  Atomics.notify(workerData.ready, 0);
  const results = [];
  for (let r = 0; r < workerData.rounds; r++) results.push(runPoolKernels(K, inputs));
  parentPort.postMessage(results);
})().catch((e) => parentPort.postMessage({ error: String((e && e.stack) || e) }));
`;

/** This thread and a worker thread call the kernels at once: one of them runs its parts alone. */
async function twoThreads(K: Kernels): Promise<void> {
  const inputs = poolInputs(6);
  const want = oneThenMany(K, inputs, 2);
  const ready = new Int32Array(new SharedArrayBuffer(4));
  const rounds = 20;
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: {
      select: new URL('../src/kernels/select.js', import.meta.url).href,
      helpers: new URL('./threaded-kernels.js', import.meta.url).href,
      seed: 6,
      rounds,
      ready,
    },
  });
  try {
    const posted = new Promise<unknown>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    assert.notEqual(Atomics.wait(ready, 0, 0, 30_000), 'timed-out', 'the worker did not start');
    for (let r = 0; r < rounds; r++) assertSame(runPoolKernels(K, inputs), want, `main thread, round ${r}`);
    const results = (await posted) as Uint32Array[][] | { error: string };
    assert.ok(Array.isArray(results), `worker failed: ${(results as { error: string }).error}`);
    assert.equal(results.length, rounds);
    results.forEach((got, r) => assertSame(got, want, `worker thread, round ${r}`));
  } finally {
    await worker.terminate();
  }
}

const scenario = process.argv[2];
if (scenario === 'serial' || scenario === 'two-threads') {
  const K = loadBackend('native');
  K.setThreads(2);
  if (K.threads() < 2) {
    console.log(JSON.stringify({ workers: 0, threads: K.threads() }));
  } else {
    const threads = scenario === 'serial' ? serial(K) : (await twoThreads(K), 2);
    console.log(JSON.stringify({ workers: K.describe().kernelPoolWorkers, threads }));
  }
}
