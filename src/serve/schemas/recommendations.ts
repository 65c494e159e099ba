/** Schemas of the recommendation routes: for a stored user, and for an explicit history. */
import { error, id, k, obj, recommendedItem, timestamp, userParams } from './common.js';

const list = {
  items: { type: 'array', items: recommendedItem },
  source: {
    type: 'string',
    enum: ['model', 'popular'],
    description: "'popular' when no history item is known to the model (a new user)",
  },
  historyUsed: { type: 'integer', description: 'history items the model read' },
  model: { type: 'string' },
  version: { type: 'string', description: 'the served bundle (changes with a reload)' },
} as const;

export const userRecommendations = {
  summary: "Top-k items for a user, from the user's stored history (its most recent maxLen events)",
  params: userParams,
  querystring: obj({ k, exclude_seen: { type: 'boolean', default: true } }, { additionalProperties: false }),
  response: { 200: obj({ user: 'string', ...list }), 400: error },
} as const;

export interface RecommendBody {
  history: string[];
  timestamps?: (number | string)[];
  k: number;
  exclude_seen: boolean;
}

export const postRecommendations = {
  summary: 'Top-k items after an explicit history (anonymous sessions)',
  body: obj(
    {
      history: { type: 'array', maxItems: 10000, items: id('original item id'), description: 'oldest first' },
      timestamps: {
        type: 'array',
        items: timestamp,
        description: 'one per history item (time-aware models)',
      },
      k,
      exclude_seen: { type: 'boolean', default: true },
    },
    { required: ['history'], additionalProperties: false },
  ),
  response: {
    200: obj({ ...list, unknownItems: { type: 'array', items: { type: 'string' } } }),
    400: error,
  },
} as const;
