/**
 * Whole-number parameters taken as written. Ajv's type coercion (which query strings need)
 * turns "Infinity", "1e400", "0x10" and " 5" into numbers and, for the first two, lets them
 * past `maximum`: `?k=Infinity` returned every item and `?limit=Infinity` reached SQL. So
 * before validation every integer field of a route's query string and of its top-level body
 * must be plain decimal digits (a JSON number that is a safe integer, in a body); the schema's
 * bounds then apply to a finite value.
 */
import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';

interface PropertySchema {
  type?: unknown;
  minimum?: number;
  maximum?: number;
}

/** The integer fields of an object schema (top level), with their bounds. */
function integerFields(schema: unknown): Map<string, PropertySchema> {
  const props = (schema as { properties?: Record<string, PropertySchema> } | undefined)?.properties ?? {};
  return new Map(Object.entries(props).filter(([, p]) => p.type === 'integer'));
}

const DIGITS = /^[0-9]{1,15}$/;

/** Whether a raw value is a whole number as written: decimal digits, or a safe-integer JSON number. */
export function isPlainInteger(value: unknown): boolean {
  return typeof value === 'number'
    ? Number.isSafeInteger(value)
    : typeof value === 'string' && DIGITS.test(value);
}

function rangeOf(p: PropertySchema): string {
  if (p.minimum !== undefined && p.maximum !== undefined) return ` from ${p.minimum} to ${p.maximum}`;
  return p.minimum !== undefined ? ` of at least ${p.minimum}` : '';
}

/** The first field of `values` that is not a plain integer, as a message; undefined when all are. */
function firstBadField(
  values: unknown,
  fields: Map<string, PropertySchema>,
  context: string,
): string | undefined {
  if (typeof values !== 'object' || values === null || Array.isArray(values)) return undefined;
  for (const [name, p] of fields) {
    const v = (values as Record<string, unknown>)[name];
    if (v !== undefined && !isPlainInteger(v))
      return `${context}.${name} must be a whole number${rangeOf(p)}, written in decimal digits`;
  }
  return undefined;
}

/** An onRoute hook: routes with integer query or body fields check them before validation. */
export function strictIntegers(route: RouteOptions): void {
  const schema = route.schema as { querystring?: unknown; body?: unknown } | undefined;
  const query = integerFields(schema?.querystring);
  const body = integerFields(schema?.body);
  if (query.size === 0 && body.size === 0) return;
  const check = async (req: FastifyRequest, reply: FastifyReply) => {
    const bad = firstBadField(req.query, query, 'querystring') ?? firstBadField(req.body, body, 'body');
    if (bad) return reply.code(400).send({ error: bad });
  };
  const existing = route.preValidation;
  route.preValidation = existing ? [check, ...(Array.isArray(existing) ? existing : [existing])] : [check];
}
