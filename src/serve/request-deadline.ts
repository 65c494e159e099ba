/**
 * Model work nobody will read is not done: when a recommendation request's batch is formed
 * (micro-batcher.ts), a request whose client has closed the connection, or that has been in the
 * service longer than its deadline, is dropped before the model call. Under overload this is
 * what keeps the queue from serving requests whose clients gave up long ago: the service
 * answers the late ones 503 at once and spends its time on the fresh ones.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from './http-errors.js';
import type { StillWanted } from './micro-batcher.js';

/** Retry-After of a request dropped at its deadline, seconds. */
export const DEADLINE_RETRY_AFTER_S = 1;

/**
 * The client closed its connection before the answer was ready. Nothing is sent (there is no
 * one to send it to); 499 is nginx's code for it, which logs and metrics then show.
 */
export class ClientGone extends HttpError {
  constructor() {
    super(499, 'the client closed the connection before the answer was ready');
  }
}

/**
 * The check the micro-batcher runs before the model call: null while the client is connected
 * and the request is younger than `deadlineMs` (0: no deadline), counted from when Fastify
 * received it.
 */
export function stillWanted(req: FastifyRequest, reply: FastifyReply, deadlineMs: number): StillWanted {
  const received = performance.now() - reply.elapsedTime;
  return () => {
    // The socket, not the request stream: a request whose body was read is a finished stream.
    if (req.socket?.destroyed === true) return new ClientGone();
    const waited = performance.now() - received;
    if (deadlineMs > 0 && waited > deadlineMs)
      return new HttpError(
        503,
        `the request waited ${Math.round(waited)} ms, past the service's ${deadlineMs} ms deadline; retry in ${DEADLINE_RETRY_AFTER_S} s`,
        DEADLINE_RETRY_AFTER_S,
      );
    return null;
  };
}

/** The metrics label of a drop. */
export const dropReason = (e: Error): string => (e instanceof ClientGone ? 'client-gone' : 'deadline');
