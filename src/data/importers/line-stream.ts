/** Streaming the lines of a text file, gzipped or plain, with byte progress (files can be GBs). */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { DataError } from '../errors.js';
import type { ProgressFn } from '../types.js';

/**
 * Calls `onLine` for every line of a file (gzipped or plain; "\n" or "\r\n" endings) with
 * its 1-based number; `onLine` returns false to stop early. Memory stays at one chunk plus
 * the longest line. `onBytes` gets the (compressed) bytes read so far and the file size.
 * Resolves to the number of lines seen.
 */
export async function streamLines(
  file: string,
  onLine: (line: string, lineNo: number) => boolean | void,
  onBytes?: (done: number, total: number) => void,
): Promise<number> {
  const { size, gz } = await sizeAndCompression(file);
  const raw = createReadStream(file, { highWaterMark: 1 << 20 });
  const src = gz
    ? pipeline(raw, createGunzip({ chunkSize: 1 << 18 }), () => {
        // Errors reach the loop below through the gunzip stream.
      })
    : raw;

  let lineNo = 0;
  let carry: Buffer[] = []; // pieces of a line that spans chunks
  let stopped = false;
  let reported = 0;
  const step = Math.max(1 << 20, size / 1000);
  onBytes?.(0, size);
  const emit = (buf: Buffer, start: number, end: number): void => {
    if (end > start && buf[end - 1] === 0x0d) end--;
    let line = buf.toString('utf8', start, end);
    if (++lineNo === 1 && line.charCodeAt(0) === 0xfeff) line = line.slice(1); // BOM
    if (onLine(line, lineNo) === false) stopped = true;
  };
  try {
    for await (const chunk of src as AsyncIterable<Buffer>) {
      let start = 0;
      let nl = chunk.indexOf(0x0a);
      if (carry.length > 0 && nl !== -1) {
        carry.push(chunk.subarray(0, nl));
        const joined = Buffer.concat(carry);
        carry = [];
        emit(joined, 0, joined.length);
        start = nl + 1;
        nl = chunk.indexOf(0x0a, start);
      }
      while (nl !== -1 && !stopped) {
        emit(chunk, start, nl);
        start = nl + 1;
        nl = chunk.indexOf(0x0a, start);
      }
      if (stopped) break;
      // Copy: chunks can be views of a larger pooled buffer.
      if (start < chunk.length) carry.push(Buffer.from(chunk.subarray(start)));
      if (onBytes !== undefined && raw.bytesRead - reported >= step) {
        reported = raw.bytesRead;
        onBytes(reported, size);
      }
    }
    if (!stopped && carry.length > 0) {
      const joined = Buffer.concat(carry);
      emit(joined, 0, joined.length);
    }
  } catch (e) {
    if (e instanceof DataError) throw e;
    const err = e as NodeJS.ErrnoException;
    const what = gz ? 'a complete gzip stream' : 'a readable file';
    throw new DataError(`${file}: after line ${lineNo}: expected ${what} (${err.message})`);
  } finally {
    raw.destroy();
    if (src !== raw) src.destroy();
  }
  if (!stopped) onBytes?.(size, size);
  return lineNo;
}

/** The file's size and whether it is gzipped (from the magic bytes, not the name). */
async function sizeAndCompression(file: string): Promise<{ size: number; gz: boolean }> {
  try {
    const size = (await stat(file)).size;
    const fh = await open(file, 'r');
    try {
      const head = Buffer.alloc(2);
      const { bytesRead } = await fh.read(head, 0, 2, 0);
      return { size, gz: bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b };
    } finally {
      await fh.close();
    }
  } catch (e) {
    throw new DataError(`${file}: cannot open (${(e as Error).message})`);
  }
}

/** Reports bytes as MB with one decimal (file sizes in bytes make unreadable progress bars). */
export function megabytes(progress: ProgressFn, stage: string): (done: number, total: number) => void {
  const mb = (n: number): number => Math.round(n / 1e5) / 10;
  return (done, total) => progress(stage, mb(done), mb(total));
}
