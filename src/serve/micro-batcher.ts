/**
 * Micro-batching: requests that arrive while the event loop is busy (or within `maxWaitMs`)
 * are answered by one call of `run`, whose cost grows much slower than the number of
 * requests (one GEMM instead of many matrix-vector products, one pass of the encoder).
 *
 * A request may carry a check that runs when its batch is formed, just before the model
 * call: work whose client has gone, or whose deadline has passed while it waited, is dropped
 * there (rejected with the check's error) instead of spending a model call nobody will read.
 *
 * `run` may answer later (a model on another thread): then one call is in flight at a time,
 * and the requests that arrive meanwhile form the next batch when it settles.
 */
export interface MicroBatcherOptions {
  /** Largest batch handed to `run`. */
  maxBatch: number;
  /**
   * How long the first request of a batch may wait for company. 0 (the default of the service):
   * no timer, the batch closes once the event loop has read the requests already received, so a
   * lone request waits for nothing and requests that arrived during a model call share the next.
   */
  maxWaitMs: number;
  /**
   * Load shedding at the model: a request that arrives while a model call runs and the oldest
   * request queued behind it has waited longer than `ms` is refused at once with `error` (the
   * model, on another thread, is saturated while the event loop is not). Absent: requests
   * always queue.
   */
  queueLimit?: { ms: number; error: (waitedMs: number) => Error };
}

/** Returns why a queued request is no longer worth running (its rejection), or null to run it. */
export type StillWanted = () => Error | null;

interface Queued<Req, Res> {
  req: Req;
  /** When it was queued (performance.now()). */
  at: number;
  wanted?: StillWanted;
  resolve: (r: Res) => void;
  reject: (e: unknown) => void;
}

export class MicroBatcher<Req, Res> {
  private queue: Queued<Req, Res>[] = [];
  private timer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  /** A model call that answers later is running: the queue waits for it. */
  private inFlight = false;
  /** Who waits for the queue to be empty and no call to run (drained). */
  private idleWaiters: (() => void)[] = [];
  /** Sizes of the batches run so far (for metrics). */
  onBatch: ((size: number) => void) | null = null;
  /** Called with each request dropped before its model call, and why (for metrics). */
  onDrop: ((reason: Error) => void) | null = null;

  constructor(
    private readonly run: (reqs: Req[]) => Res[] | Promise<Res[]>,
    private readonly opts: MicroBatcherOptions,
  ) {
    if (!(opts.maxBatch >= 1)) throw new RangeError(`maxBatch must be at least 1, got ${opts.maxBatch}`);
    if (!(opts.maxWaitMs >= 0)) throw new RangeError(`maxWaitMs must be non-negative, got ${opts.maxWaitMs}`);
  }

  submit(req: Req, wanted?: StillWanted): Promise<Res> {
    const now = performance.now();
    const limit = this.opts.queueLimit;
    // Only while a model call runs: requests waiting for company (maxWaitMs) are not behind.
    if (limit && this.inFlight && this.queue.length > 0 && now - this.queue[0].at > limit.ms)
      return Promise.reject(limit.error(now - this.queue[0].at));
    return new Promise<Res>((resolve, reject) => {
      this.queue.push({ req, at: now, wanted, resolve, reject });
      if (this.inFlight) return; // the batch forms when the running call settles
      if (this.queue.length >= this.opts.maxBatch) this.flush();
      else if (!this.timer)
        this.timer =
          this.opts.maxWaitMs === 0
            ? setImmediate(() => this.flush())
            : setTimeout(() => this.flush(), this.opts.maxWaitMs);
    });
  }

  private flush(): void {
    if (this.timer) {
      clearTimeout(this.timer as NodeJS.Timeout);
      clearImmediate(this.timer as NodeJS.Immediate);
    }
    this.timer = null;
    while (this.queue.length > 0 && !this.inFlight) {
      const batch = this.admitted(this.queue.splice(0, this.opts.maxBatch));
      if (batch.length === 0) continue;
      this.onBatch?.(batch.length);
      let out: Res[] | Promise<Res[]>;
      try {
        out = this.run(batch.map((b) => b.req));
      } catch (e) {
        batch.forEach((b) => b.reject(e));
        continue;
      }
      if (!(out instanceof Promise)) {
        const answers = out;
        batch.forEach((b, i) => b.resolve(answers[i]));
        continue;
      }
      this.inFlight = true;
      out
        .then(
          (answers) => batch.forEach((b, i) => b.resolve(answers[i])),
          (e: unknown) => batch.forEach((b) => b.reject(e)),
        )
        .finally(() => {
          this.inFlight = false;
          this.flush();
        });
    }
    this.settleIdle();
  }

  /** Resolves once no request is queued and no model call runs. */
  drained(): Promise<void> {
    if (this.queue.length === 0 && !this.inFlight) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private settleIdle(): void {
    if (this.queue.length > 0 || this.inFlight) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** The requests still wanted; the others are rejected with their check's error. */
  private admitted(batch: Queued<Req, Res>[]): Queued<Req, Res>[] {
    return batch.filter((b) => {
      const reason = b.wanted?.() ?? null;
      if (reason === null) return true;
      this.onDrop?.(reason);
      b.reject(reason);
      return false;
    });
  }
}
