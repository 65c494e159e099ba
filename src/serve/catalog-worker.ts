/**
 * A bundle's catalog parsed on a worker thread, for a service that answers requests meanwhile.
 * Parsing a million lines costs 1-2 s of CPU, and JSON.parse puts every string of ten
 * characters or fewer (Amazon's item ids are ten) in the engine's string table, whose growth
 * stalled the serving thread 40-90 ms at a time; on a worker both happen on its own heap. The
 * arrays come back moved, not copied; the strings (copied: about 2 ms per block of 32,768
 * items) through a port the serving thread reads one block per turn of its loop, since Node
 * hands over every message already queued on a listened port in one turn.
 * One worker serves every load of a process: a worker that exits after each load is joined by
 * the serving thread while its heap is torn down (about 0.1 s at a million items).
 */
import {
  isMainThread,
  MessageChannel,
  parentPort,
  receiveMessageOnPort,
  Worker,
  workerData,
  type MessagePort,
} from 'node:worker_threads';
import { runSteps } from '../models/model.js';
import { ItemCatalog, type CatalogColumns } from './item-catalog.js';

const KIND = 'cammsr catalog';

interface Job {
  id: number;
  /** Where the worker sends the string blocks, one message each. */
  blocks: MessagePort;
  bytes: ArrayBuffer;
  path: string;
  items: number;
}

type Arrays = Omit<CatalogColumns, 'ids' | 'search' | 'lines'> & { lines: Uint8Array };

type Reply = { id: number } & ({ columns: Arrays } | { error: string });

interface Block {
  ids: string;
  search: string;
}

interface Pending {
  blocks: MessagePort;
  resolve: (c: ItemCatalog) => void;
  reject: (e: Error) => void;
}

/** The process's catalog worker, started on first use; it keeps the process alive only while it parses. */
class CatalogWorker {
  private readonly worker = new Worker(new URL('./catalog-worker.js', import.meta.url), {
    workerData: { kind: KIND },
  });
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  constructor(onGone: () => void) {
    this.worker.on('message', (m: Reply) => this.receive(m));
    const fail = (e: Error) => {
      onGone();
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`the catalog worker stopped (exit code ${code})`)));
    // Idle, it does not keep the process alive (after the listeners, which take a reference).
    this.worker.unref();
  }

  parse(lines: Buffer, path: string, items: number): Promise<ItemCatalog> {
    // The bytes move to the worker and back; a Buffer sharing Node's small pool is copied first.
    const own =
      lines.byteOffset === 0 && lines.byteLength === lines.buffer.byteLength
        ? (lines.buffer as ArrayBuffer)
        : Uint8Array.from(lines).buffer;
    const { port1, port2 } = new MessageChannel();
    const job: Job = { id: this.nextId++, blocks: port2, bytes: own, path, items };
    return new Promise<ItemCatalog>((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(job.id, { blocks: port1, resolve, reject });
      this.worker.postMessage(job, [own, port2]);
    });
  }

  private receive(m: Reply): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (this.pending.size === 0) this.worker.unref();
    if ('error' in m) {
      p.blocks.close();
      return p.reject(new Error(m.error));
    }
    receiveBlocks(p.blocks, m.columns).then(p.resolve, p.reject);
  }
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
  port.close();
  const { lines, ...rest } = arrays;
  const buffer = Buffer.from(lines.buffer, lines.byteOffset, lines.byteLength);
  return ItemCatalog.fromColumns({ ...rest, lines: buffer, ids, search });
}

let shared: CatalogWorker | null = null;

/** ItemCatalog.parseSteps run on the catalog worker; rejects with its message when a line is bad. */
export function parseCatalogOffThread(lines: Buffer, path: string, items: number): Promise<ItemCatalog> {
  shared ??= new CatalogWorker(() => (shared = null));
  return shared.parse(lines, path, items);
}

/** The worker's side of a job: parse, then send the strings a block at a time and the arrays moved. */
function work(job: Job): void {
  const port = parentPort!;
  let cols: CatalogColumns;
  try {
    cols = runSteps(ItemCatalog.parseSteps(Buffer.from(job.bytes), job.path, job.items)).columns();
  } catch (e) {
    port.postMessage({ id: job.id, error: (e as Error).message } satisfies Reply);
    return;
  }
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
}

if (!isMainThread && (workerData as { kind?: string } | undefined)?.kind === KIND)
  parentPort!.on('message', work);
