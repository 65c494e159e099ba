/** The catalog of the served bundle: an item, its nearest items, its image, and search. */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import { HttpError } from '../http-errors.js';
import * as S from '../schemas/items.js';
import { clampK, type RouteContext } from './context.js';

const IMAGE_TYPES: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
};

const notFound = (item: string) =>
  new HttpError(404, `item "${item}" is not in the catalog of the served bundle`);

export const itemRoutes: FastifyPluginAsync<RouteContext> = async (app, { current }) => {
  app.get<{ Params: { item: string } }>('/v1/items/:item', { schema: S.getItem }, async (req) => {
    const g = current();
    const it = g.recommender.item(req.params.item);
    if (!it) throw notFound(req.params.item);
    const i = g.bundle.index.get(it.id)!;
    return { ...it, interactions: g.bundle.data.popularity?.[i] ?? null };
  });

  app.get<{ Params: { item: string }; Querystring: { k: number } }>(
    '/v1/items/:item/similar',
    { schema: S.similarItems },
    async (req) => {
      const g = current();
      const items = g.recommender.similar(req.params.item, clampK(req.query.k, g));
      if (!items) throw notFound(req.params.item);
      return { item: req.params.item, version: g.version, items };
    },
  );

  app.get<{ Querystring: { query: string; limit: number } }>(
    '/v1/items',
    { schema: S.searchItems },
    async (req) => current().recommender.search(req.query.query, req.query.limit),
  );

  app.get<{ Params: { item: string } }>(
    '/v1/items/:item/image',
    { schema: S.itemImage },
    async (req, reply) => {
      const g = current();
      const i = g.bundle.index.get(req.params.item);
      if (i === undefined) throw notFound(req.params.item);
      const path = g.bundle.images[i];
      if (!path) throw new HttpError(404, `item "${req.params.item}" has no image in the served bundle`);
      const type = IMAGE_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
      return reply
        .type(type)
        .header('cache-control', 'public, max-age=3600')
        .send(await readFile(path));
    },
  );
};
