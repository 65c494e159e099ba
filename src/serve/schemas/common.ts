/**
 * JSON-schema pieces the resources share. Fastify validates requests with the schemas built from
 * them and serializes replies with them (a reply field missing from its schema is not sent);
 * @fastify/swagger turns them into the OpenAPI document at /openapi.json.
 */

type Field = 'string' | 'number' | 'integer' | 'boolean' | object;

/**
 * An object schema; a field given as a type name is a plain value of that type:
 * `obj({ user: 'string', k }, { required: ['user'] })`.
 */
export function obj(fields: Record<string, Field>, constraints: Record<string, unknown> = {}) {
  const properties = Object.fromEntries(
    Object.entries(fields).map(([name, f]) => [name, typeof f === 'string' ? { type: f } : f]),
  );
  return { type: 'object', ...constraints, properties } as const;
}

/** Unix seconds or an ISO 8601 date-time. */
export const timestamp = {
  anyOf: [
    { type: 'number', description: 'Unix seconds' },
    { type: 'string', description: 'ISO 8601 date-time, e.g. 2024-05-01T12:00:00Z' },
  ],
} as const;
/**
 * The one id rule, for users and items on every route and in both stores: 1 to ID_MAX
 * characters, none of them a control character or half of a surrogate pair (PostgreSQL refuses
 * NUL; SQLite would store it, and the two stores must agree). Every read route takes back any
 * id a write accepted (the service's maxParamLength fits ID_MAX characters URL-encoded).
 */
export const ID_MAX = 128;
export const ID_PATTERN = '^[^\\p{Cc}\\p{Cs}]*$';
export const ID_RULE = `1 to ${ID_MAX} characters, no control characters`;
export const id = (what: string) =>
  ({
    type: 'string',
    minLength: 1,
    maxLength: ID_MAX,
    pattern: ID_PATTERN,
    description: `${what}; ${ID_RULE}`,
  }) as const;
export const limit = (max: number, dflt: number) =>
  ({ type: 'integer', minimum: 1, maximum: max, default: dflt }) as const;
export const k = { type: 'integer', minimum: 1, maximum: 1000, default: 10 } as const;

export const userParams = obj({ user: id("the user's id") }, { required: ['user'] });
export const error = obj({ error: 'string' });

/** A recommended (or similar) item: its catalog entry, its score and what the score is made of. */
export const recommendedItem = obj({
  item: 'string',
  score: 'number',
  title: 'string',
  categories: { type: 'array', items: { type: 'string' } },
  image: { type: 'string', description: "the image's file name in the catalog" },
  modalities: {
    type: 'object',
    additionalProperties: { type: 'number' },
    description: "each modality's share of the score (CAMMSR: ⟨z_m, ẽ_m(item)⟩; they sum to the score)",
  },
  categoryWeights: {
    type: 'object',
    additionalProperties: { type: 'number' },
    description: "the learned modality weights w of the item's categories (mean over its categories)",
  },
  new: { type: 'boolean', description: 'added while serving: scored from its content alone' },
});
