/**
 * A resumable transfer into a `.part` file: a part left by an interrupted run is continued
 * with an HTTP Range request; a server that ignores the range sends the whole file, which
 * then replaces the part.
 */
import { createWriteStream, existsSync, rmSync, statSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { DownloadError } from './errors.js';
import { httpGet } from './http-get.js';

export interface FetchReport {
  /** Bytes the part already had when this run resumed it (0: a fresh start). */
  resumedFrom: number;
  /** The server ignored the range request and the part was started over. */
  restarted: boolean;
  /** Size of the complete part. */
  bytes: number;
}

export interface FetchOptions {
  timeoutMs: number;
  /** Called once the server answered: the bytes kept from an earlier run, and whether they were dropped. */
  onStart?: (resumedFrom: number, restarted: boolean) => void;
  /** Bytes in the part so far, and the total when known (else 0). */
  onBytes?: (done: number, total: number) => void;
}

/** Downloads `url` into `part`, continuing what the part already holds. */
export async function fetchToPart(url: string, part: string, o: FetchOptions): Promise<FetchReport> {
  const have = existsSync(part) ? statSync(part).size : 0;
  const { res } = await httpGet(url, have > 0 ? { range: `bytes=${have}-` } : {}, o.timeoutMs);
  const status = res.statusCode ?? 0;
  if (status === 416 && have > 0) {
    res.resume();
    const total = totalOf(res.headers['content-range']);
    if (total === have) return { resumedFrom: have, restarted: false, bytes: have }; // already complete
    rmSync(part, { force: true }); // the part is longer than the file: start over
    const over = await fetchToPart(url, part, { ...o, onStart: (from) => o.onStart?.(from, true) });
    return { ...over, restarted: true };
  }
  if (status !== 200 && status !== 206) {
    res.resume();
    throw new DownloadError(
      'http',
      `${url}: the server answered ${status} ${res.statusMessage ?? ''}`.trim(),
    );
  }
  const start = status === 206 ? rangeStart(res, url) : 0;
  if (start !== have && status === 206) {
    res.destroy();
    throw new DownloadError('http', `${url}: asked for bytes from ${have}, the server sent from ${start}`);
  }
  o.onStart?.(start, have > 0 && status === 200);
  const length = Number(res.headers['content-length'] ?? NaN);
  const total =
    status === 206 ? (totalOf(res.headers['content-range']) ?? 0) : Number.isFinite(length) ? length : 0;
  await writeBody(res, part, start, total, url, o);
  const bytes = statSync(part).size;
  if (Number.isFinite(length) && bytes !== start + length)
    throw interrupted(url, part, bytes, total, 'the body ended early');
  return { resumedFrom: start, restarted: have > 0 && status === 200, bytes };
}

/** Streams the body into the part (appending after `start`), reporting bytes as they come. */
async function writeBody(
  res: IncomingMessage,
  part: string,
  start: number,
  total: number,
  url: string,
  o: FetchOptions,
): Promise<void> {
  let done = start;
  let reported = 0;
  const step = Math.max(1 << 20, total / 1000);
  o.onBytes?.(done, total);
  const count = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      done += chunk.length;
      if (done - reported >= step) {
        reported = done;
        o.onBytes?.(done, total);
      }
      cb(null, chunk);
    },
  });
  try {
    // 'a' keeps what the part holds; 'w' (a fresh or restarted transfer) empties it first.
    await pipeline(res, count, createWriteStream(part, { flags: start > 0 ? 'a' : 'w' }));
  } catch (e) {
    const size = existsSync(part) ? statSync(part).size : 0;
    throw interrupted(url, part, size, total, (e as Error).message);
  }
  o.onBytes?.(done, total);
}

function interrupted(url: string, part: string, bytes: number, total: number, why: string): DownloadError {
  const of = total > 0 ? ` of ${total}` : '';
  return new DownloadError(
    'interrupted',
    `the download of ${url} stopped after ${bytes}${of} bytes (${why}); ${part} keeps what arrived: ` +
      'run the same command again to resume',
  );
}

/** The first byte of a 206 response's Content-Range ("bytes 100-199/200"). */
function rangeStart(res: IncomingMessage, url: string): number {
  const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers['content-range'] ?? '');
  if (!m) {
    res.destroy();
    throw new DownloadError('http', `${url}: a 206 response without a valid Content-Range header`);
  }
  return Number(m[1]);
}

/** The total size of a Content-Range header ("bytes 0-9/200" or "bytes *\/200"), if given. */
function totalOf(header: string | undefined): number | undefined {
  const m = /\/(\d+)$/.exec(header ?? '');
  return m ? Number(m[1]) : undefined;
}
