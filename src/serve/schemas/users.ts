/** Schemas of the user routes: search by id prefix, and a user's stored events. */
import { error, ID_MAX, ID_PATTERN, limit, obj, userParams } from './common.js';

export const searchUsers = {
  summary: 'Users with stored events whose id starts with the prefix',
  querystring: obj(
    {
      prefix: { type: 'string', maxLength: ID_MAX, pattern: ID_PATTERN, default: '' },
      limit: limit(100, 20),
    },
    { additionalProperties: false },
  ),
  response: { 200: { type: 'array', items: { type: 'string' } }, 400: error },
} as const;

export const userEvents = {
  summary: "A user's most recent stored events, oldest first, with catalog entries",
  params: userParams,
  querystring: obj({ limit: limit(1000, 50) }, { additionalProperties: false }),
  response: {
    200: obj({
      user: 'string',
      events: {
        type: 'array',
        items: obj({
          item: 'string',
          timestamp: 'number',
          known: { type: 'boolean', description: 'whether the served model knows the item' },
          title: 'string',
          image: 'string',
        }),
      },
    }),
    400: error,
  },
} as const;
