/**
 * A file server on 127.0.0.1 for download tests: serves buffers by name, honours Range
 * requests, redirects, and can misbehave on purpose (cut a transfer halfway once, ignore Range).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ServedFile {
  body: Buffer;
  /** Answer 302 to this path instead (as Hugging Face's resolve URLs redirect to a CDN). */
  redirectTo?: string;
  /** Close the connection halfway through the first response. */
  cutOnce?: boolean;
  /** Answer every request with the whole file (200), Range or not. */
  ignoreRange?: boolean;
}

export interface FileServer {
  /** http://127.0.0.1:<port> */
  url: string;
  /** Each request's path and Range header, in order. */
  requests: { path: string; range?: string }[];
  close(): Promise<void>;
}

export async function fileServer(files: Record<string, ServedFile>): Promise<FileServer> {
  const requests: FileServer['requests'] = [];
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').slice(1));
    requests.push(req.headers.range ? { path, range: req.headers.range } : { path });
    const f = files[path];
    if (f === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    if (f.redirectTo !== undefined) {
      res.writeHead(302, { location: `/${f.redirectTo}` }).end();
      return;
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m && !f.ignoreRange ? Number(m[1]) : 0;
    if (start >= f.body.length && m && !f.ignoreRange) {
      res.writeHead(416, { 'content-range': `bytes */${f.body.length}` }).end();
      return;
    }
    const body = f.body.subarray(start);
    const headers: Record<string, string | number> = {
      'content-length': body.length,
      'accept-ranges': 'bytes',
    };
    if (start > 0) headers['content-range'] = `bytes ${start}-${f.body.length - 1}/${f.body.length}`;
    res.writeHead(start > 0 ? 206 : 200, headers);
    if (f.cutOnce) {
      f.cutOnce = false;
      res.write(body.subarray(0, Math.floor(body.length / 2)), () =>
        setTimeout(() => res.socket?.destroy(), 20),
      );
      return;
    }
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
