/**
 * How the service reports failures: `{ error: <message> }` with the status a route chose (an
 * HttpError), 400 with the field at fault for a request its schema rejects, and a bare
 * "internal error" (logged with its stack) for anything unexpected.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ID_PATTERN, ID_RULE } from './schemas/common.js';

/** A failure a route reports to the client as it is: status code and message. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    /** Seconds a client should wait before retrying (503, 429): sent as Retry-After. */
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

interface ValidationIssue {
  keyword: string;
  instancePath: string;
  message?: string;
  params?: Record<string, unknown>;
}

/**
 * One readable line from Ajv's errors. A body that may be one event or an array of them fails
 * both branches of an anyOf; the branch of the other shape ("must be array" for an object) and
 * the anyOf summary say nothing useful, so they are left out when a more specific error exists.
 */
export function describeValidation(issues: readonly ValidationIssue[], context: string): string {
  const specific = issues.filter(
    (i) => i.keyword !== 'anyOf' && !(i.keyword === 'type' && i.instancePath === '' && issues.length > 1),
  );
  const shown = specific.length > 0 ? specific : issues;
  const lines = shown.map((i) => {
    const where = `${context}${i.instancePath.replace(/\/(\d+)/g, '[$1]').replace(/\//g, '.')}`;
    if (i.keyword === 'pattern' && i.params?.pattern === ID_PATTERN)
      return `${where} has a control character: ids are ${ID_RULE}`;
    const extra = i.keyword === 'additionalProperties' ? ` "${String(i.params?.additionalProperty)}"` : '';
    return `${where} ${i.message ?? 'is invalid'}${extra}`;
  });
  return [...new Set(lines)].join('; ');
}

type ServiceError = Error & {
  statusCode?: number;
  validation?: ValidationIssue[];
  validationContext?: string;
};

/** The service's error handler (Fastify binds `this` to the app). */
export function replyWithError(
  this: FastifyInstance,
  err: ServiceError,
  _req: FastifyRequest,
  reply: FastifyReply,
): void {
  const status = err instanceof HttpError ? err.statusCode : err.validation ? 400 : (err.statusCode ?? 500);
  // A failure the service chose to report (503 when shedding or the store is down) is a warning;
  // anything else at 5xx is a fault, logged with its stack.
  if (status >= 500) {
    if (err instanceof HttpError) this.log.warn(`${status}: ${err.message}`);
    else this.log.error(err);
  }
  const message =
    status >= 500 && !(err instanceof HttpError)
      ? 'internal error'
      : err.validation
        ? describeValidation(err.validation, err.validationContext ?? 'request')
        : err.message;
  if (err instanceof HttpError && err.retryAfter !== undefined)
    void reply.header('retry-after', String(err.retryAfter));
  void reply.code(status).send({ error: message });
}

/** A request's URL as a message names it: at most 200 characters. */
export const urlInMessage = (url: string): string => (url.length > 200 ? `${url.slice(0, 200)}…` : url);

/**
 * Failures Fastify meets before it finds a route, in the service's shape (its own replies add
 * code, message and statusCode and echo the whole URL): a percent-encoding that does not decode
 * (400) and a path segment longer than maxParamLength (414).
 */
export function replyToRoutingError(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  const problem =
    err.code === 'FST_ERR_BAD_URL'
      ? 'has a percent-encoding that is malformed or not UTF-8'
      : err.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? `has a path segment longer than any id (${ID_RULE})`
        : undefined;
  if (problem === undefined) return replyWithError.call(req.server, err, req, reply);
  void reply.code(err.statusCode ?? 400).send({ error: `${urlInMessage(req.url)} ${problem}` });
}

/**
 * Replies to what Node cannot take as an HTTP request (a garbage request line, Content-Length
 * with Transfer-Encoding, a bad chunk, headers too large) or did not receive within the request
 * timeout, in the service's shape (Fastify's default adds message and statusCode), and closes
 * the connection.
 */
export function replyToClientError(err: Error & { code?: string }, socket: Socket): void {
  // A connection the client reset has no one left to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, error]: [number, string] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'the request was not received within the request timeout']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'the request headers are too large']
        : [400, `not a valid HTTP/1.1 request (${err.code ?? err.message})`];
  const body = JSON.stringify({ error });
  if (socket.writable)
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  socket.destroy(err);
}
