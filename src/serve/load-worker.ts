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
  workerData,
  type MessagePort,
} from 'node:worker_threads';
import { runSteps } from '../engine/steps.js';
import { BundleFileError, bundleErrorOfReply, readVerified } from './bundle-manifest.js';
import { ItemCatalog, type CatalogColumns } from './item-catalog.js';
import { WorkerCalls } from './worker-calls.js';

const KIND = 'cammsr load worker';

/** A file of the bundle and the sha256 its manifest lists. */
interface FileJob {
  root: string;
  name: string;
  expected: string | undefined;
}

/** What the serving thread asks (a Job with its reply's id). */
type Request =
  | ({ kind: 'read'; keep: boolean } & FileJob)
  | ({ kind: 'catalog'; items: number; blocks: MessagePort } & FileJob);

type Job = { id: number } & Request;

type Arrays = Omit<CatalogColumns, 'ids' | 'search' | 'lines'> & { lines: Uint8Array };

type Reply = { id: number } & (
  { bytes: Uint8Array | null } | { columns: Arrays } | { error: string; file: boolean }
);

interface Block {
  ids: string;
  search: string;
}

/** The process's load worker, started on first use; it keeps the process alive only while it works. */
class LoadWorker {
  private readonly calls: WorkerCalls<Reply>;

  constructor(onGone: () => void) {
    const script = new URL('./load-worker.js', import.meta.url);
    this.calls = new WorkerCalls<Reply>(script, { kind: KIND }, 'bundle load worker', onGone);
  }

  /** Posts a job; `settle` makes the result of the reply (an error reply rejects as a BundleError). */
  run<T>(job: Request, transfer: MessagePort[], settle: (m: Reply) => T | Promise<T>): Promise<T> {
    return this.calls.call(job, transfer, (m) => {
      if ('error' in m) throw bundleErrorOfReply(m.error, m.file);
      return settle(m);
    });
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
  const job: Request = { kind: 'read', keep: opts.keep ?? true, root, name, expected };
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
  const job: Request = { kind: 'catalog', root, name, expected, items, blocks: port2 };
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
    port.postMessage({
      id: job.id,
      error: (e as Error).message,
      file: e instanceof BundleFileError,
    } satisfies Reply);
  }
}

if (!isMainThread && (workerData as { kind?: string } | undefined)?.kind === KIND)
  parentPort!.on('message', work);
