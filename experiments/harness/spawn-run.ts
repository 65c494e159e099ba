/** Starting a run's child process, with the machine's cores split between the runs at a time. */
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import { TRAINING_NODE_FLAGS } from '../../bench/common.js';
import type { ChildSpec } from './child-run.js';

/**
 * Kernel threads per run when `jobs` runs share the machine: its cores split between them.
 * On 2 cores, two one-thread runs side by side beat one two-thread run after another: a
 * second thread speeds a CAMMSR step up 9%, and two concurrent steps each take at most 28%
 * longer (docs/performance.md). CAMMSR_THREADS, when set, decides instead.
 */
export function childThreads(jobs: number): number {
  const set = Number(process.env.CAMMSR_THREADS);
  return Number.isInteger(set) && set > 0 ? set : Math.max(1, Math.floor(availableParallelism() / jobs));
}

/**
 * Trains one run in its own process: `script --child-run <spec>`. With a `prefix` (several runs
 * at a time) the child's lines are printed with it, so that interleaved runs stay readable;
 * otherwise the child writes to this terminal directly.
 */
export function trainInChild(
  script: string,
  spec: ChildSpec,
  prefix: string | null,
  threads: number | undefined,
): Promise<{ status: number | null; signal: NodeJS.Signals | null }> {
  const env = threads
    ? { ...process.env, CAMMSR_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) }
    : process.env;
  const child = spawn(
    process.execPath,
    [...TRAINING_NODE_FLAGS, script, '--child-run', JSON.stringify(spec)],
    {
      stdio: prefix ? ['ignore', 'pipe', 'pipe'] : 'inherit',
      env,
    },
  );
  if (prefix)
    for (const [from, to] of [
      [child.stdout!, process.stdout],
      [child.stderr!, process.stderr],
    ] as const)
      createInterface({ input: from }).on('line', (line) => to.write(`${prefix} ${line}\n`));
  return new Promise((done, fail) => {
    child.on('error', fail);
    child.on('close', (status, signal) => done({ status, signal }));
  });
}
