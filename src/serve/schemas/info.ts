/** Schema of GET /v1/info. */
import { obj } from './common.js';

export const info = {
  summary: 'The bundle being served: model, version, dataset, items, modalities, metrics',
  response: {
    200: obj({
      model: 'string',
      version: 'string',
      dataset: 'string',
      items: 'integer',
      modalities: { type: 'array', items: { type: 'string' } },
      created: 'string',
      cammsr: 'string',
      test: { type: 'object', additionalProperties: { type: 'number' } },
    }),
  },
} as const;
