/**
 * Authentication, authorisation and rate limits for the service. Every route declares its
 * access in its config (`config: { access: 'events:write' }` or `'public'`); one that does not is
 * refused when it is registered. A request is checked on arrival (onRequest), before its body
 * is read: no or a wrong key where one is needed is a 401, a key without the route's scope a
 * 403. Each key, and each client address without a key (public routes included), has its own
 * requests-per-minute budget (@fastify/rate-limit), past which the reply is 429 with Retry-After.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { HttpError } from '../http-errors.js';
import type { ApiKey } from './api-keys.js';
import { authenticate, type AuthPolicy } from './policy.js';
import type { Access } from './scopes.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The scope a route needs, or 'public'. */
    access?: Access;
  }
  interface FastifyRequest {
    /** The key the request presented (null: none). */
    apiKey: ApiKey | null;
  }
}

function requireDeclaredAccess(route: RouteOptions): void {
  const access = (route.config as { access?: Access } | undefined)?.access;
  if (!access)
    throw new Error(`route ${String(route.method)} ${route.url} declares no access (config.access)`);
}

function refuse(reply: FastifyReply, status: 401 | 403, message: string) {
  if (status === 401) void reply.header('www-authenticate', 'Bearer');
  return reply.code(status).send({ error: message });
}

async function checkAccess(this: AuthPolicy, req: FastifyRequest, reply: FastifyReply) {
  const access = req.routeOptions.config?.access;
  if (!access) return;
  const key = authenticate(this, req.headers.authorization);
  // A public route needs no key, but one that is sent is counted against its own budget.
  if (access === 'public') {
    if (key !== 'invalid') req.apiKey = key;
    return;
  }
  if (key === 'invalid') return refuse(reply, 401, 'the Authorization header names no key of this service');
  req.apiKey = key;
  const scopes = key ? key.scopes : this.anonymous;
  if (scopes.has(access)) return;
  if (!key)
    return refuse(reply, 401, `this route needs Authorization: Bearer <key> with the ${access} scope`);
  return refuse(reply, 403, `key "${key.id}" does not have the ${access} scope this route needs`);
}

/** A request's budget: its key's, or the anonymous one per client address (0 = unlimited). */
const budget = (policy: AuthPolicy, req: FastifyRequest): number =>
  req.apiKey ? req.apiKey.ratePerMinute : policy.anonymousRatePerMinute;

/** Registers the access checks and rate limits; call before any route is added. */
export async function registerAuth(app: FastifyInstance, policy: AuthPolicy): Promise<void> {
  app.decorateRequest('apiKey', null);
  app.addHook('onRoute', requireDeclaredAccess);
  app.addHook('onRequest', checkAccess.bind(policy));
  await app.register(rateLimit, {
    global: true,
    timeWindow: 60_000,
    keyGenerator: (req) => (req.apiKey ? `key:${req.apiKey.id}` : `ip:${req.ip}`),
    max: (req) => budget(policy, req),
    allowList: (req) => budget(policy, req) === 0,
    errorResponseBuilder: (_req, ctx) =>
      new HttpError(
        429,
        `rate limit: ${ctx.max} requests per minute for this ${_req.apiKey ? 'key' : 'client'}; retry in ${ctx.after}`,
      ),
  });
}
