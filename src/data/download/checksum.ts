/** The sha256 of a file, streamed (files can be GBs), with byte progress. */
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';

export async function sha256File(
  path: string,
  onBytes?: (done: number, total: number) => void,
): Promise<string> {
  const total = statSync(path).size;
  const hash = createHash('sha256');
  let done = 0;
  let reported = 0;
  const step = Math.max(1 << 20, total / 1000);
  onBytes?.(0, total);
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    done += chunk.length;
    if (done - reported >= step) {
      reported = done;
      onBytes?.(done, total);
    }
  }
  onBytes?.(total, total);
  return hash.digest('hex');
}
