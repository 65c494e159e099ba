/**
 * Load shedding: when the event loop stays behind (requests waiting longer than `maxDelayMs`
 * before they are even read) or busy (more than MAX_UTILIZATION of the time), new requests are
 * answered 503 with Retry-After at once, which costs little, instead of joining a queue that
 * grows without bound (p50 of 15 s at 5x the service's capacity, before). Both are measured by
 * @fastify/under-pressure.
 *
 * One stall (start-up, a reload) also shows as a delayed sample, but is over by the time the
 * requests it held are read: so shedding starts only once the pressure has lasted GRACE_MS
 * (the requests seen meanwhile are served), and ends with the first request seen without it.
 * /healthz is never shed, so that an overloaded instance is not mistaken for a dead one.
 */
import underPressure from '@fastify/under-pressure';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpError } from './http-errors.js';

export const SHED_RETRY_AFTER_S = 1;
/** Share of a sampling interval the loop may be busy before the service counts as saturated. */
export const MAX_UTILIZATION = 0.98;
/** How long the pressure must last before requests are shed, ms. */
export const GRACE_MS = 300;

export async function registerLoadShedding(app: FastifyInstance, maxDelayMs: number): Promise<void> {
  let pressureSince = 0;
  const admittedUnderPressure = new WeakSet<FastifyRequest>();
  await app.register(underPressure, {
    maxEventLoopDelay: maxDelayMs,
    // A loop busy all the time is saturated even when each turn is short (micro-batched model
    // calls): requests then wait in socket buffers, which the delay does not see.
    maxEventLoopUtilization: MAX_UTILIZATION,
    eventLoopUtilizationMode: 'interval',
    // The monitor samples the loop every 10 ms: a window must hold several samples (an empty one
    // reads as an infinite delay).
    sampleInterval: Math.max(50, Math.min(250, maxDelayMs)),
    // A rejected promise goes to the service's error handler: the usual { error } reply.
    pressureHandler: (req, _reply, type, value) => {
      const now = Date.now();
      if (pressureSince === 0) pressureSince = now;
      if (req.url === '/healthz' || now - pressureSince < GRACE_MS) {
        admittedUnderPressure.add(req);
        return undefined;
      }
      const digits = type === 'eventLoopUtilization' ? 2 : 0;
      const measured = typeof value === 'number' && Number.isFinite(value) ? ` ${value.toFixed(digits)}` : '';
      return Promise.reject(
        new HttpError(
          503,
          `overloaded (${type}${measured}); retry in ${SHED_RETRY_AFTER_S} s`,
          SHED_RETRY_AFTER_S,
        ),
      );
    },
  });
  app.addHook('onRequest', async (req) => {
    if (!admittedUnderPressure.has(req)) pressureSince = 0;
  });
}
