/** One PNG per synthetic item, written concurrently without letting scheduling change a byte. */
import { mkdir } from 'node:fs/promises';
import sharp from 'sharp';
import { Rng } from '../../../engine/rng.js';
import type { ItemRecord, ProgressFn } from '../../types.js';
import type { Catalog } from './catalog.js';
import { hslToRgb, renderImage } from './draw.js';

export interface ImageOptions {
  /** Absolute folder the PNG files go to (created if missing). */
  imagesDir: string;
  /** Side in pixels. */
  size: number;
  /** Draw a category-coloured band on every image ('all' cues). */
  categoryBand: boolean;
  /** PNG files encoded at once. */
  concurrency: number;
}

/** Writes every item's image to its record's `image` path; one seed per item, drawn in order. */
export async function renderImages(
  catalog: Catalog,
  items: Map<string, ItemRecord>,
  rImg: Rng,
  o: ImageOptions,
  progress?: ProgressFn,
): Promise<void> {
  const { cats, itemIds, itemCat, itemStyle } = catalog;
  const nItems = itemIds.length;
  const catColor = cats.map((_, c) => hslToRgb((c * 360) / cats.length, 0.9, 0.5));
  const imageSeeds = Uint32Array.from({ length: nItems }, () => rImg.nextU32());
  await mkdir(o.imagesDir, { recursive: true });
  let nextImage = 0;
  let imagesDone = 0;
  const worker = async (): Promise<void> => {
    while (nextImage < nItems) {
      const it = nextImage++;
      const band = o.categoryBand ? catColor[itemCat[it]] : null;
      const px = renderImage(itemStyle[it], o.size, new Rng(imageSeeds[it]), band);
      await sharp(px, { raw: { width: o.size, height: o.size, channels: 3 } })
        .png({ compressionLevel: 6, adaptiveFiltering: false })
        .toFile(items.get(itemIds[it])!.image!);
      imagesDone++;
      if (progress && (imagesDone % 100 === 0 || imagesDone === nItems))
        progress('synth: images', imagesDone, nItems);
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, nItems) }, worker));
}
