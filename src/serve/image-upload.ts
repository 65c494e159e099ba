/**
 * An image uploaded with an item (POST /v1/items): base64 in the JSON body, at most a size,
 * decoded in full (a truncated file passes a header check), in a format the catalog serves.
 * The format is detected from the bytes, never taken from the client.
 */
import sharp from 'sharp';
import { HttpError } from './http-errors.js';

/** The image formats an upload may have (sharp's names) and their media types. */
const ACCEPTED_IMAGES: Record<string, string> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
};

/** Images larger than this many pixels are refused before they are decoded (a small file can hold a huge one). */
const MAX_PIXELS = 40_000_000;

export async function imageUpload(
  base64: string,
  maxBytes: number,
): Promise<{ bytes: Uint8Array; type: string }> {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64) || base64.length % 4 !== 0)
    throw new HttpError(400, 'image.data is not base64 (standard alphabet, padded)');
  const bytes = new Uint8Array(Buffer.from(base64, 'base64'));
  if (bytes.length > maxBytes)
    throw new HttpError(400, `image: ${bytes.length} bytes, at most ${maxBytes} are accepted`);
  let format: string | undefined;
  try {
    const image = sharp(bytes, { failOn: 'error', limitInputPixels: MAX_PIXELS });
    format = (await image.metadata()).format;
    // Decoding every pixel (into a tiny thumbnail) is what finds a truncated or corrupt file.
    await image.resize(8, 8, { fit: 'fill' }).raw().toBuffer();
  } catch (e) {
    throw new HttpError(400, `image cannot be decoded: ${(e as Error).message}`);
  }
  const type = format === undefined ? undefined : ACCEPTED_IMAGES[format];
  if (!type) throw new HttpError(400, `image: format ${format} is not accepted (JPEG, PNG, WebP or GIF)`);
  return { bytes, type };
}
