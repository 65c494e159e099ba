/** Schemas of POST /v1/events. */
import { error, id, obj, timestamp } from './common.js';

const event = obj(
  {
    user: id("the user's id (any string)"),
    item: id("the item's original id, as in the catalog"),
    timestamp: { ...timestamp, description: 'when it happened (default: when the service receives it)' },
    id: id(
      'an id the client gives the event, so that a retry is safe: an event whose id is already stored is acknowledged (counted as a duplicate) and not stored again',
    ),
  },
  { required: ['user', 'item'], additionalProperties: false },
);

export interface EventBody {
  user: string;
  item: string;
  timestamp?: number | string;
  id?: string;
}
export type EventsBody = EventBody | EventBody[];

export const postEvents = {
  summary: 'Store one interaction or a batch of them (durably, before the reply)',
  body: {
    anyOf: [event, { type: 'array', minItems: 1, maxItems: 10000, items: event }],
  },
  response: {
    201: obj({
      stored: { type: 'integer', description: 'events stored by this request' },
      duplicates: {
        type: 'integer',
        description: 'events not stored again: their id was already stored, or repeated in the request',
      },
      unknownItems: {
        type: 'array',
        items: { type: 'string' },
        description: 'item ids the served model does not know (stored, ignored by recommendations)',
      },
    }),
    400: error,
  },
} as const;
