/**
 * One GET over HTTP(S), redirects followed, with errors that say what went wrong: an
 * unreachable host (offline, DNS, refused) is told apart from an error status.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { VERSION } from '../../version.js';
import { DownloadError } from './errors.js';

/** Error codes of a host that cannot be reached at all. */
const UNREACHABLE: Record<string, string> = {
  ENOTFOUND: 'the host name does not resolve (no network, or no DNS)',
  EAI_AGAIN: 'the host name cannot be resolved now (no network, or DNS unavailable)',
  ECONNREFUSED: 'the connection was refused',
  ENETUNREACH: 'the network is unreachable',
  EHOSTUNREACH: 'the host is unreachable',
  ETIMEDOUT: 'the connection timed out',
  ECONNRESET: 'the connection was reset',
};

const MAX_REDIRECTS = 10;

export interface GetResponse {
  res: IncomingMessage;
  /** The URL that answered, after redirects. */
  url: string;
}

/**
 * Sends GET `url` with `headers` and resolves to the response once its headers arrived
 * (any status but a redirect); the body is the caller's to read or discard. `timeoutMs`
 * bounds the wait for the connection and each silence on it afterwards.
 */
export async function httpGet(
  url: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<GetResponse> {
  let current = url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const res = await request(current, headers, timeoutMs);
    const location = res.headers.location;
    if (res.statusCode === undefined || res.statusCode < 300 || res.statusCode >= 400 || !location)
      return { res, url: current };
    res.resume(); // discard the redirect's body
    current = new URL(location, current).toString();
  }
  throw new DownloadError('http', `${url}: more than ${MAX_REDIRECTS} redirects`);
}

function request(url: string, headers: Record<string, string>, timeoutMs: number): Promise<IncomingMessage> {
  const u = new URL(url);
  if (u.protocol !== 'https:' && u.protocol !== 'http:')
    throw new DownloadError('usage', `${url}: only http and https URLs can be downloaded`);
  const get = u.protocol === 'https:' ? https.get : http.get;
  return new Promise((resolvePromise, reject) => {
    const req = get(u, { headers: { 'user-agent': `cammsr/${VERSION}`, ...headers } }, resolvePromise);
    // Covers the connection and, while the body streams, each silence on the socket.
    req.setTimeout(timeoutMs, () =>
      req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })),
    );
    req.on('error', (e: NodeJS.ErrnoException) => reject(connectionError(url, e)));
  });
}

/** The error for a request that got no response. */
function connectionError(url: string, e: NodeJS.ErrnoException): DownloadError {
  const why = e.code !== undefined ? UNREACHABLE[e.code] : undefined;
  if (why !== undefined) return new DownloadError('offline', `cannot reach ${url}: ${why} (${e.code})`);
  return new DownloadError('offline', `cannot reach ${url}: ${e.message}${e.code ? ` (${e.code})` : ''}`);
}
