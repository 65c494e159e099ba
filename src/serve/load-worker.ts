/**
 * The load worker: the parts of loading a bundle that a service does beside its requests on a
 * thread of their own. Files are read and hashed there and their bytes moved over (not copied),
 * so that the serving thread neither hashes them nor allocates the chunks of a stream, whose
 * memory outside the heap V8 counts towards its next collection. The catalog is parsed there:
 * a million lines cost 1-2 s of CPU, and JSON.parse puts every string of ten characters or
 * fewer (Amazon's item ids are ten) in the engine's string table, whose growth stalled the
 * serving thread 40-90 ms at a time. The catalog's arrays come back moved; its strings (copied:
 * about 2 ms per block of 32,768 items) through a port the serving thread reads one block per
 * turn of its loop, since Node hands over every message already queued on a listened port in
 * one turn. One worker serves every load of a process: a worker that exits after each load is
 * joined by the serving thread while its heap is torn down (about 0.1 s at a million items).
 */
import { join } from 'node:path';
import {
  isMainThread,
  MessageChannel,
  parentPort,
  receiveMessageOnPort,
  Worker,
  workerData,
  type MessagePort,
} from 'node:worker_threads';
import { runSteps } from '../engine/steps.js';
import { BundleError, readVerified } from './bundle-manifest.js';
import { ItemCatalog, type CatalogColumns } from './item-catalog.js';

const KIND = 'cammsr load worker';

/** A file of the bundle and the sha256 its manifest lists. */
interface FileJob {
  root: string;
  name: string;
  expected: string | undefined;
}

type Job = { id: number } & (
  | ({ kind: 'read'; keep: boolean } & FileJob)
  | ({ kind: 'catalog'; items: number; blocks: MessagePort } & FileJob)
);

type Arrays = Omit<CatalogColumns, 'ids' | 'search' | 'lines'> & { lines: Uint8Array };

type Reply = { id: number } & ({ bytes: Uint8Array | null } | { columns: Arrays } | { error: string });

interface Block {
  ids: string;
  search: string;
}

/** The process's load worker, started on first use; it keeps the process alive only while it works. */
class LoadWorker {
  private readonly worker = new Worker(new URL('./load-worker.js', import.meta.url), {
    workerData: { kind: KIND },
  });
  private readonly pending = new Map<number, { settle: (m: Reply) => void; reject: (e: Error) => void }>();
  private nextId = 1;

  constructor(onGone: () => void) {
    this.worker.on('message', (m: Reply) => this.receive(m));
    // A crash is reported twice ('error', then 'exit'): the first report ends this worker.
    let gone = false;
    const fail = (e: Error) => {
      if (!gone) onGone();
      gone = true;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('messageerror', (e) => {
      fail(e);
      void this.worker.terminate();
    });
    this.worker.on('exit', (code) => fail(new Error(`the bundle load worker stopped (exit code ${code})`)));
    // Idle, it does not keep the process alive (after the listeners, which take a reference).
    this.worker.unref();
  }

  /** Posts a job; `settle` makes the result of the reply (an error reply rejects as a BundleError). */
  run<T>(job: Job, transfer: MessagePort[], settle: (m: Reply) => T | Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(job.id, {
        settle: (m) => {
          if ('error' in m) reject(new BundleError(m.error));
          else Promise.resolve(settle(m)).then(resolve, reject);
        },
        reject,
      });
      this.worker.postMessage(job, transfer);
    });
  }

  newId(): number {
    return this.nextId++;
  }

  private receive(m: Reply): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (this.pending.size === 0) this.worker.unref();
    p.settle(m);
  }
}

let shared: LoadWorker | null = null;
function loadWorker(): LoadWorker {
  if (shared) return shared;
  const w: LoadWorker = new LoadWorker(() => {
    if (shared === w) shared = null;
  });
  return (shared = w);
}

/**
 * A bundle file read and checked against its sha256 on the load worker: its bytes (moved to
 * this thread), or an empty Buffer with `keep: false` (checked only). Rejects with a BundleError.
 */
export async function readVerifiedOffThread(
  root: string,
  name: string,
  expected: string | undefined,
  opts: { keep?: boolean } = {},
): Promise<Buffer> {
  const w = loadWorker();
  const job: Job = { id: w.newId(), kind: 'read', keep: opts.keep ?? true, root, name, expected };
  const bytes = await w.run(job, [], (m) => ('bytes' in m ? m.bytes : null));
  return bytes ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) : Buffer.alloc(0);
}

/**
 * A bundle's catalog file read, checked and parsed (ItemCatalog.parseSteps) on the load worker;
 * rejects with a BundleError naming the file and line at fault.
 */
export function parseCatalogOffThread(
  root: string,
  name: string,
  expected: string | undefined,
  items: number,
): Promise<ItemCatalog> {
  const w = loadWorker();
  const { port1, port2 } = new MessageChannel();
  const job: Job = { id: w.newId(), kind: 'catalog', root, name, expected, items, blocks: port2 };
  return w
    .run(job, [port2], (m) => receiveBlocks(port1, (m as { columns: Arrays }).columns))
    .finally(() => port1.close());
}

/** The catalog of the moved arrays and the string blocks, read off the port one per turn of the loop. */
async function receiveBlocks(port: MessagePort, arrays: Arrays): Promise<ItemCatalog> {
  const ids: string[] = [];
  const search: string[] = [];
  // The worker sent every block before the arrays: they are all queued on the port.
  for (let got = receiveMessageOnPort(port); got; got = receiveMessageOnPort(port)) {
    const block = got.message as Block;
    ids.push(block.ids);
    search.push(block.search);
    await new Promise((r) => setImmediate(r));
  }
  const { lines, ...rest } = arrays;
  const buffer = Buffer.from(lines.buffer, lines.byteOffset, lines.byteLength);
  return ItemCatalog.fromColumns({ ...rest, lines: buffer, ids, search });
}

/** The bytes of a file as an ArrayBuffer of their own (Node pools small reads), to move. */
function ownBytes(b: Buffer): Uint8Array {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : Uint8Array.from(b);
}

/** The worker's side of a job. */
function work(job: Job): void {
  const port = parentPort!;
  try {
    const keep = job.kind === 'catalog' || job.keep;
    const bytes = ownBytes(readVerified(job.root, job.name, job.expected, keep));
    if (job.kind === 'read') {
      if (!keep) return port.postMessage({ id: job.id, bytes: null } satisfies Reply);
      return port.postMessage({ id: job.id, bytes } satisfies Reply, [bytes.buffer as ArrayBuffer]);
    }
    const path = join(job.root, job.name);
    const cols = runSteps(ItemCatalog.parseSteps(Buffer.from(bytes.buffer), path, job.items)).columns();
    cols.ids.forEach((ids, b) => job.blocks.postMessage({ ids, search: cols.search[b] } satisfies Block));
    // The serving thread closes the channel once it has read them.
    const { ids: _ids, search: _search, ...arrays } = cols;
    const moved = [
      arrays.lines,
      arrays.lineStart,
      arrays.lineEnd,
      arrays.idEnd,
      arrays.slots,
      arrays.searchStart,
      arrays.titleStart,
    ].map((a) => a.buffer as ArrayBuffer);
    port.postMessage({ id: job.id, columns: arrays } satisfies Reply, moved);
  } catch (e) {
    port.postMessage({ id: job.id, error: (e as Error).message } satisfies Reply);
  }
}

if (!isMainThread && (workerData as { kind?: string } | undefined)?.kind === KIND)
  parentPort!.on('message', work);
