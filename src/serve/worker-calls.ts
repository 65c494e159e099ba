/**
 * The serving thread's side of a long-lived worker thread that answers numbered requests (the
 * load worker, the model workers): each call posts its job with an id and is settled by the
 * reply that carries it. The thread keeps the process alive only while calls are pending. A
 * crash (an error, a reply that cannot be read, an exit) rejects every pending call and every
 * later one, and is reported once.
 */
import { Worker, type Transferable } from 'node:worker_threads';

export class WorkerCalls<Reply extends { id: number }> {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { settle: (m: Reply) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private stopped: Error | null = null;

  /** `name` says which thread stopped in errors; `onGone` hears, once, that it stopped (not close). */
  constructor(script: URL, workerData: unknown, name: string, onGone: (e: Error) => void = () => {}) {
    this.worker = new Worker(script, { workerData });
    this.worker.on('message', (m: Reply) => this.receive(m));
    // A crash is reported twice ('error', then 'exit'): the first report ends this worker.
    const fail = (e: Error) => {
      if (!this.stopped) onGone(e);
      this.stopped ??= e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('messageerror', (e) => {
      fail(e);
      void this.worker.terminate();
    });
    this.worker.on('exit', (code) => fail(new Error(`the ${name} stopped (exit code ${code})`)));
    // Idle, it does not keep the process alive (after the listeners, which take a reference).
    this.worker.unref();
  }

  /** Why it answers nothing any more (it crashed or was closed), or null. */
  get gone(): Error | null {
    return this.stopped;
  }

  /** Posts `job` with a new id; `settle` makes the call's result of its reply (and may throw). */
  call<T>(job: object, transfer: readonly Transferable[], settle: (m: Reply) => T | Promise<T>): Promise<T> {
    if (this.stopped) return Promise.reject(this.stopped);
    return new Promise<T>((resolve, reject) => {
      const id = this.nextId++;
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, {
        settle: (m) => {
          try {
            Promise.resolve(settle(m)).then(resolve, reject);
          } catch (e) {
            reject(e as Error);
          }
        },
        reject,
      });
      this.worker.postMessage({ ...job, id }, transfer as Transferable[]);
    });
  }

  /** Stops the thread; calls after it reject with `why`. */
  async close(why: Error): Promise<void> {
    // Referenced while it stops (a reply arriving meanwhile must not unreference it): the exit
    // of an unreferenced worker does not keep the process waiting for it, and whoever awaits
    // close would then wait forever.
    this.stopped ??= why;
    this.worker.ref();
    await this.worker.terminate();
  }

  private receive(m: Reply): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (this.pending.size === 0 && !this.stopped) this.worker.unref();
    p.settle(m);
  }
}
