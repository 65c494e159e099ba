/** Work done in bounded steps (generators yielding between them), run synchronously. */

/** Runs a generator of steps to its end: the synchronous form of stepwise work. */
export function runSteps<T>(steps: Generator<void, T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}
