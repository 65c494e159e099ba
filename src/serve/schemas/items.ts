/** Schemas of the catalog routes: an item, its neighbours, its image, and search. */
import { error, id, k, limit, obj, recommendedItem } from './common.js';

/** A catalog entry as the catalog stores it. */
const catalogFields = {
  id: 'string',
  title: 'string',
  categories: { type: 'array', items: { type: 'string' } },
  image: 'string',
} as const;

const itemParams = obj({ item: id("the item's original id") }, { required: ['item'] });

export const getItem = {
  summary: "An item's catalog entry",
  params: itemParams,
  response: {
    200: obj({
      ...catalogFields,
      interactions: { type: ['number', 'null'], description: 'training interactions (popularity)' },
    }),
    404: error,
  },
} as const;

export const similarItems = {
  summary: "Items closest to an item in the model's item space (cosine)",
  params: itemParams,
  querystring: obj({ k }, { additionalProperties: false }),
  response: {
    200: obj({ item: 'string', version: 'string', items: { type: 'array', items: recommendedItem } }),
    404: error,
  },
} as const;

export const searchItems = {
  summary: 'Catalog items whose id starts with, or whose title contains, the query (case-insensitive)',
  querystring: obj(
    { query: { type: 'string', minLength: 1, maxLength: 256 }, limit: limit(100, 20) },
    { required: ['query'], additionalProperties: false },
  ),
  response: {
    200: { type: 'array', items: obj(catalogFields) },
    400: error,
  },
} as const;

export const itemImage = {
  summary: "An item's image (from the bundle)",
  params: itemParams,
  response: { 404: error },
} as const;
