/**
 * The catalog of the served bundle, grown by the items added while serving: an item, its
 * nearest items, its image, search, and (admin) adding, updating and withdrawing items.
 */
import { extname } from 'node:path';
import type { FastifyBaseLogger, FastifyPluginAsync } from 'fastify';
import { readBundleImage } from '../bundle.js';
import { BundleFileError } from '../bundle-manifest.js';
import { HttpError } from '../http-errors.js';
import * as S from '../schemas/items.js';
import { clampK, withGeneration, type RouteContext } from './context.js';
import { imageUpload } from '../image-upload.js';
import type { ItemContent } from '../store/event-store.js';

const READ = { access: 'recommendations:read' } as const;
const ADMIN = { access: 'admin' } as const;

const IMAGE_TYPES: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
};

const notFound = (item: string) =>
  new HttpError(404, `item "${item}" is not in the catalog of the served bundle`);

/**
 * A file of the served bundle read after its load (an image, the content encoders, the model on
 * a worker that had not loaded it) is gone or fails its checksum: its folder was changed under
 * the service. A reload, not a retry, mends it; the path goes to the log, not to the client.
 */
function servedBundleChanged(log: FastifyBaseLogger, e: unknown): never {
  if (!(e instanceof BundleFileError)) throw e;
  log.warn(`the served bundle's files cannot be read: ${e.message}`);
  throw new HttpError(
    503,
    "the served bundle's folder changed on disk since it was loaded; it must be reloaded",
  );
}

type ItemBody = Omit<ItemContent, 'image'> & { id: string; image?: { data: string } };

export const itemRoutes: FastifyPluginAsync<RouteContext> = async (app, ctx) => {
  const { current, catalog } = ctx;
  app.get<{ Params: { item: string } }>(
    '/v1/items/:item',
    { schema: S.getItem, config: READ },
    async (req) => {
      const g = current();
      const i = g.served.catalog.indexOf(req.params.item);
      if (i === undefined) throw notFound(req.params.item);
      const it = g.served.catalog.item(i);
      const interactions = g.served.data.popularity?.[i] ?? null;
      return { ...it, interactions, new: g.served.added?.[i] === 1, withdrawn: g.withdrawn.has(it.id) };
    },
  );

  app.post<{ Body: ItemBody }>(
    '/v1/items',
    { schema: S.putItem, config: ADMIN, bodyLimit: S.MAX_ITEM_BODY },
    async (req, reply) => {
      const { id, image, ...rest } = req.body;
      const content: ItemContent = { ...rest };
      if (image) content.image = await imageUpload(image.data, S.MAX_IMAGE_BYTES);
      const w = await catalog.putItem(id, content).catch((e) => servedBundleChanged(req.log, e));
      const g = w.generation;
      const i = g.served.catalog.indexOf(id)!;
      const features = (['text', 'image'] as const).filter((m) => g.served.data[m]?.mask[i] === 1);
      return reply.code(w.created ? 201 : 200).send({
        item: id,
        created: w.created,
        version: g.version,
        items: g.model.items,
        features,
        warnings: w.warnings,
      });
    },
  );

  app.patch<{ Params: { item: string }; Body: { withdrawn: boolean } }>(
    '/v1/items/:item',
    { schema: S.withdrawItem, config: ADMIN },
    async (req) => {
      if (!current().served.catalog.has(req.params.item)) throw notFound(req.params.item);
      const g = await catalog
        .setWithdrawn(req.params.item, req.body.withdrawn)
        .catch((e) => servedBundleChanged(req.log, e));
      return { item: req.params.item, withdrawn: req.body.withdrawn, version: g.version };
    },
  );

  app.get<{ Params: { item: string }; Querystring: { k: number } }>(
    '/v1/items/:item/similar',
    { schema: S.similarItems, config: READ },
    async (req) =>
      withGeneration(current, async (g) => {
        const items = await g.similar(req.params.item, clampK(req.query.k, g));
        if (!items) throw notFound(req.params.item);
        return { item: req.params.item, version: g.version, items };
      }),
  );

  app.get<{ Querystring: { query: string; limit: number } }>(
    '/v1/items',
    { schema: S.searchItems, config: READ },
    async (req) => current().served.catalog.search(req.query.query, req.query.limit),
  );

  app.get<{ Params: { item: string } }>(
    '/v1/items/:item/image',
    { schema: S.itemImage, config: { access: 'public' } },
    async (req, reply) => {
      const g = current();
      const i = g.served.catalog.indexOf(req.params.item);
      if (i === undefined) throw notFound(req.params.item);
      const upload = g.uploads.get(req.params.item);
      if (upload)
        return reply.type(upload.type).header('cache-control', 'no-cache').send(Buffer.from(upload.bytes));
      const image = await readBundleImage(g.bundle, i).catch((e) => servedBundleChanged(req.log, e));
      if (!image) throw new HttpError(404, `item "${req.params.item}" has no image in the served bundle`);
      const type = IMAGE_TYPES[extname(image.name).toLowerCase()] ?? 'application/octet-stream';
      return reply.type(type).header('cache-control', 'public, max-age=3600').send(image.bytes);
    },
  );
};
