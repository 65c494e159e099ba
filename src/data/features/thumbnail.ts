/**
 * What the pixel image encoder sees of an image: a thumb×thumb sRGB thumbnail decoded by sharp,
 * and its HSV colour histogram. Prepared items and new items are decoded by the same function
 * from the file's bytes, so they get the same pixels.
 *
 * Choices:
 *   - Resize with fit 'fill' (aspect ratio not kept): the whole image is seen, nothing is
 *     cropped away (posters put titles at the edges), as torchvision's Resize((h, w)).
 *   - Alpha is flattened onto white; EXIF orientation is applied (.rotate()) before resizing.
 *   - The histogram is three marginal histograms, of hue, saturation and value, computed on the
 *     thumbnail and normalised so that all bins sum to 1, with soft (linearly interpolated)
 *     binning; see `hsvHistogram`.
 */
import sharp from 'sharp';

/** Decodes image file bytes into thumb×thumb×3 sRGB bytes. Throws sharp's error for bytes it cannot decode. */
export async function decodeThumbnail(bytes: Uint8Array, thumb: number): Promise<Uint8Array> {
  const { data, info } = await sharp(bytes, { failOn: 'error' })
    .rotate()
    .flatten({ background: { r: 255, g: 255, b: 255 } })
    .resize(thumb, thumb, { fit: 'fill' })
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (info.width !== thumb || info.height !== thumb) {
    throw new Error(`decoded to ${info.width}×${info.height} instead of ${thumb}×${thumb}`);
  }
  const ch = info.channels;
  const out = new Uint8Array(thumb * thumb * 3);
  for (let px = 0; px < thumb * thumb; px++) {
    for (let c = 0; c < 3; c++) out[px * 3 + c] = data[px * ch + (ch >= 3 ? c : 0)];
  }
  return out;
}

/** The first line of an error's message: sharp's reason for refusing an image. */
export function errorReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0].trim() || 'unknown error';
}

/**
 * Adds the hue, saturation and value marginal histograms of RGB bytes to `out`, normalised
 * to sum 1. Votes are split linearly between the two nearest bin centres, so that a colour
 * near a bin edge does not jump from one bin to the next (a JPEG's slight colour shift would
 * otherwise change the histogram completely). Hue is circular with red at the centre of bin
 * 0; a pixel's hue vote is weighted by its saturation and the rest is spread evenly over the
 * hue bins, since grey has no hue (and near-grey hue is noise).
 */
export function hsvHistogram(
  rgb: Uint8Array,
  bins: readonly [number, number, number],
  out: Float64Array,
): void {
  const [hb, sb, vb] = bins;
  const npx = rgb.length / 3;
  const total = npx * ((hb > 0 ? 1 : 0) + (sb > 0 ? 1 : 0) + (vb > 0 ? 1 : 0));
  if (total === 0) return;
  const w = 1 / total;
  // Linear split at t (in bin units, centres at integers) over bins [off, off + n), clamped.
  const vote = (t: number, off: number, n: number, weight: number): void => {
    const lo = Math.floor(t);
    const f = t - lo;
    if (lo < 0) out[off] += weight;
    else if (lo >= n - 1) out[off + n - 1] += weight;
    else {
      out[off + lo] += weight * (1 - f);
      out[off + lo + 1] += weight * f;
    }
  };
  let grey = 0;
  for (let px = 0; px < npx; px++) {
    const r = rgb[px * 3];
    const g = rgb[px * 3 + 1];
    const b = rgb[px * 3 + 2];
    const max = Math.max(r, g, b);
    const min = Math.min(r, g, b);
    const delta = max - min;
    const s = max > 0 ? delta / max : 0;
    if (hb > 0) {
      grey += w * (1 - s);
      if (delta > 0) {
        // Hue in sextants [0, 6).
        let h: number;
        if (max === r) h = (g - b) / delta + (g < b ? 6 : 0);
        else if (max === g) h = (b - r) / delta + 2;
        else h = (r - g) / delta + 4;
        const t = (h / 6) * hb;
        const lo = Math.floor(t);
        const f = t - lo;
        out[lo % hb] += w * s * (1 - f);
        out[(lo + 1) % hb] += w * s * f;
      }
    }
    if (sb > 0) vote(s * sb - 0.5, hb, sb, w);
    if (vb > 0) vote((max / 255) * vb - 0.5, hb + sb, vb, w);
  }
  for (let j = 0; j < hb; j++) out[j] += grey / hb;
}
