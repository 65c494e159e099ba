/** Schemas of the operators' routes: liveness, readiness and reload. */
import { error, obj } from './common.js';

export const health = {
  summary: 'Liveness: the process answers',
  response: { 200: obj({ status: 'string' }) },
} as const;

export const ready = {
  summary: 'Readiness: a bundle is loaded, its model worker answers and the event store answers',
  response: {
    200: obj({ status: 'string', store: 'string', model: 'string', version: 'string' }),
    503: obj({ status: 'string', store: 'string', error: 'string' }),
  },
} as const;

export const reload = {
  summary: 'Load a bundle (default: the one being served, re-read) and swap it in without dropping requests',
  body: {
    type: ['object', 'null'],
    additionalProperties: false,
    properties: { bundle: { type: 'string', minLength: 1, description: 'another bundle folder to serve' } },
  },
  response: {
    200: obj({ model: 'string', version: 'string', previous: 'string', items: 'integer' }),
    401: error,
    422: error,
  },
} as const;
