/**
 * JSON schemas of the service's requests and replies: Fastify validates requests with them and
 * @fastify/swagger turns them into the OpenAPI document at /openapi.json.
 */

/** Unix seconds or an ISO 8601 date-time. */
const timestamp = {
  anyOf: [
    { type: 'number', description: 'Unix seconds' },
    { type: 'string', description: 'ISO 8601 date-time, e.g. 2024-05-01T12:00:00Z' },
  ],
} as const;
const id = (what: string) => ({ type: 'string', minLength: 1, maxLength: 256, description: what }) as const;

/** A catalog entry as the catalog stores it. */
const catalogFields = {
  id: { type: 'string' },
  title: { type: 'string' },
  categories: { type: 'array', items: { type: 'string' } },
  image: { type: 'string' },
} as const;
const limit = (max: number, dflt: number) =>
  ({ type: 'integer', minimum: 1, maximum: max, default: dflt }) as const;
const userParams = { type: 'object', required: ['user'], properties: { user: id("the user's id") } } as const;

const event = {
  type: 'object',
  required: ['user', 'item'],
  additionalProperties: false,
  properties: {
    user: id("the user's id (any string)"),
    item: id("the item's original id, as in the catalog"),
    timestamp: { ...timestamp, description: 'when it happened (default: when the service receives it)' },
  },
} as const;

export interface EventBody {
  user: string;
  item: string;
  timestamp?: number | string;
}
export type EventsBody = EventBody | EventBody[];

const item = {
  type: 'object',
  properties: {
    item: { type: 'string' },
    score: { type: 'number' },
    title: { type: 'string' },
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
  },
} as const;

const list = {
  items: { type: 'array', items: item },
  source: {
    type: 'string',
    enum: ['model', 'popular'],
    description: "'popular' when no history item is known to the model (a new user)",
  },
  historyUsed: { type: 'integer', description: 'history items the model read' },
  model: { type: 'string' },
  version: { type: 'string', description: 'the served bundle (changes with a reload)' },
} as const;

const error = { type: 'object', properties: { error: { type: 'string' } } } as const;
const k = { type: 'integer', minimum: 1, maximum: 1000, default: 10 } as const;

export const postEvents = {
  summary: 'Store one interaction or a batch of them (durably, before the reply)',
  body: {
    anyOf: [event, { type: 'array', minItems: 1, maxItems: 10000, items: event }],
  },
  response: {
    201: {
      type: 'object',
      properties: {
        stored: { type: 'integer' },
        unknownItems: {
          type: 'array',
          items: { type: 'string' },
          description: 'item ids the served model does not know (stored, ignored by recommendations)',
        },
      },
    },
    400: error,
  },
} as const;

export const userRecommendations = {
  summary: "Top-k items for a user, from the user's stored history (its most recent maxLen events)",
  params: userParams,
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: { k, exclude_seen: { type: 'boolean', default: true } },
  },
  response: { 200: { type: 'object', properties: { user: { type: 'string' }, ...list } }, 400: error },
} as const;

export interface RecommendBody {
  history: string[];
  timestamps?: (number | string)[];
  k: number;
  exclude_seen: boolean;
}

export const postRecommendations = {
  summary: 'Top-k items after an explicit history (anonymous sessions)',
  body: {
    type: 'object',
    required: ['history'],
    additionalProperties: false,
    properties: {
      history: { type: 'array', maxItems: 10000, items: id('original item id'), description: 'oldest first' },
      timestamps: {
        type: 'array',
        items: timestamp,
        description: 'one per history item (time-aware models)',
      },
      k,
      exclude_seen: { type: 'boolean', default: true },
    },
  },
  response: {
    200: {
      type: 'object',
      properties: { ...list, unknownItems: { type: 'array', items: { type: 'string' } } },
    },
    400: error,
  },
} as const;

const itemParams = {
  type: 'object',
  required: ['item'],
  properties: { item: id("the item's original id") },
} as const;

export const getItem = {
  summary: "An item's catalog entry",
  params: itemParams,
  response: {
    200: {
      type: 'object',
      properties: {
        ...catalogFields,
        interactions: { type: ['number', 'null'], description: 'training interactions (popularity)' },
      },
    },
    404: error,
  },
} as const;

export const similarItems = {
  summary: "Items closest to an item in the model's item space (cosine)",
  params: itemParams,
  querystring: { type: 'object', additionalProperties: false, properties: { k } },
  response: {
    200: {
      type: 'object',
      properties: {
        item: { type: 'string' },
        version: { type: 'string' },
        items: { type: 'array', items: item },
      },
    },
    404: error,
  },
} as const;

export const health = {
  summary: 'Liveness: the process answers',
  response: { 200: { type: 'object', properties: { status: { type: 'string' } } } },
} as const;

export const ready = {
  summary: 'Readiness: a bundle is loaded and the event store answers',
  response: {
    200: {
      type: 'object',
      properties: {
        status: { type: 'string' },
        store: { type: 'string' },
        model: { type: 'string' },
        version: { type: 'string' },
      },
    },
    503: {
      type: 'object',
      properties: { status: { type: 'string' }, store: { type: 'string' }, error: { type: 'string' } },
    },
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
    200: {
      type: 'object',
      properties: {
        model: { type: 'string' },
        version: { type: 'string' },
        previous: { type: 'string' },
        items: { type: 'integer' },
      },
    },
    401: error,
    422: error,
  },
} as const;

export const searchItems = {
  summary: 'Catalog items whose id starts with, or whose title contains, the query (case-insensitive)',
  querystring: {
    type: 'object',
    required: ['query'],
    additionalProperties: false,
    properties: {
      query: { type: 'string', minLength: 1, maxLength: 256 },
      limit: limit(100, 20),
    },
  },
  response: {
    200: {
      type: 'array',
      items: { type: 'object', properties: catalogFields },
    },
    400: error,
  },
} as const;

export const itemImage = {
  summary: "An item's image (from the bundle)",
  params: itemParams,
  response: { 404: error },
} as const;

export const searchUsers = {
  summary: 'Users with stored events whose id starts with the prefix',
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      prefix: { type: 'string', maxLength: 256, default: '' },
      limit: limit(100, 20),
    },
  },
  response: { 200: { type: 'array', items: { type: 'string' } }, 400: error },
} as const;

export const userEvents = {
  summary: "A user's most recent stored events, oldest first, with catalog entries",
  params: userParams,
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: { limit: limit(1000, 50) },
  },
  response: {
    200: {
      type: 'object',
      properties: {
        user: { type: 'string' },
        events: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              item: { type: 'string' },
              timestamp: { type: 'number' },
              known: { type: 'boolean', description: 'whether the served model knows the item' },
              title: { type: 'string' },
              image: { type: 'string' },
            },
          },
        },
      },
    },
    400: error,
  },
} as const;

export const info = {
  summary: 'The bundle being served: model, version, dataset, items, modalities, metrics',
  response: {
    200: {
      type: 'object',
      properties: {
        model: { type: 'string' },
        version: { type: 'string' },
        dataset: { type: 'string' },
        items: { type: 'integer' },
        modalities: { type: 'array', items: { type: 'string' } },
        created: { type: 'string' },
        cammsr: { type: 'string' },
        test: { type: 'object', additionalProperties: { type: 'number' } },
      },
    },
  },
} as const;
