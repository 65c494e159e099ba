/** Schemas of the catalog routes: an item, its neighbours, its image, and search. */
import { error, id, ID_PATTERN, k, limit, obj, recommendedItem } from './common.js';

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
      new: { type: 'boolean', description: 'added while serving: scored from its content alone' },
      withdrawn: { type: 'boolean', description: 'never recommended (it stays in histories)' },
    }),
    404: error,
  },
} as const;

/** The largest image an item may upload, in bytes. */
export const MAX_IMAGE_BYTES = 5 * 1024 * 1024;
/**
 * The largest body of POST /v1/items: any body the schema accepts (the image in base64, about
 * 7 MB; text up to 200,000 characters, up to 4 bytes each in UTF-8; two vectors of 100,000
 * numbers at up to 24 characters each; title and categories in the last 512 KiB), so that a
 * valid request is never a 413.
 */
export const MAX_ITEM_BODY = Math.ceil(MAX_IMAGE_BYTES / 3) * 4 + 4 * 200_000 + 2 * 24 * 100_000 + 512 * 1024;

export const putItem = {
  summary: 'Add an item to the catalog, or update one (admin)',
  description:
    "The item is recommendable from the next request, scored from its content and categories (its features are computed by the encoders that made the bundle's features). Fields left out keep their values. Unknown category names are ignored with a warning.",
  body: obj(
    {
      id: id("the item's original id"),
      title: { type: 'string', maxLength: 2000 },
      text: {
        type: 'string',
        maxLength: 200000,
        description: 'description; the text features read "title. text"',
      },
      categories: {
        type: 'array',
        maxItems: 200,
        items: { type: 'string', minLength: 1, maxLength: 512 },
        description: 'category label names as the catalog shows them',
      },
      image: obj(
        {
          data: {
            type: 'string',
            minLength: 1,
            maxLength: Math.ceil(MAX_IMAGE_BYTES / 3) * 4,
            description: 'the image file, base64 (JPEG, PNG, WebP or GIF, at most 5 MiB)',
          },
        },
        { required: ['data'], additionalProperties: false },
      ),
      vectors: obj(
        {
          text: { type: 'array', items: { type: 'number' }, maxItems: 100000 },
          image: { type: 'array', items: { type: 'number' }, maxItems: 100000 },
        },
        {
          additionalProperties: false,
          description: "feature vectors for modalities whose features the bundle's dataset took precomputed",
        },
      ),
    },
    { required: ['id'], additionalProperties: false },
  ),
  response: {
    '2xx': obj({
      item: 'string',
      created: 'boolean',
      version: 'string',
      items: { type: 'integer', description: 'items in the catalog now' },
      features: { type: 'array', items: { type: 'string' }, description: 'content modalities the item has' },
      warnings: { type: 'array', items: { type: 'string' } },
    }),
    400: error,
    401: error,
  },
} as const;

export const withdrawItem = {
  summary: 'Withdraw an item from recommendations, or bring it back (admin)',
  description:
    'A withdrawn item (out of stock) is never recommended but stays known in histories and events.',
  params: itemParams,
  body: obj({ withdrawn: 'boolean' }, { required: ['withdrawn'], additionalProperties: false }),
  response: {
    200: obj({ item: 'string', withdrawn: 'boolean', version: 'string' }),
    401: error,
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
    { query: { type: 'string', minLength: 1, maxLength: 256, pattern: ID_PATTERN }, limit: limit(100, 20) },
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
