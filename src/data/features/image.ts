/**
 * Image features from pixels alone (no pretrained network): each image is decoded with sharp
 * into a thumb×thumb RGB thumbnail, then
 *   features = [ PCA(dim) of the centred thumbnail pixels in [0, 1] ; HSV histogram ]
 * with every column z-scored over the items that have an image and the whole vector divided
 * by √(width), so that row norms are about 1 (as the reference PyTorch implementation: 32×32
 * pixels -> PCA 128 + 48-bin HSV histogram, z-scored, / √176).
 *
 * Choices:
 *   - Resize with fit 'fill' (aspect ratio not kept): the whole image is seen, nothing is
 *     cropped away (posters put titles at the edges), as torchvision's Resize((h, w)).
 *   - Alpha is flattened onto white; EXIF orientation is applied (.rotate()) before resizing.
 *   - The histogram is three marginal histograms, of hue, saturation and value (default
 *     16 bins each = 48), computed on the thumbnail and normalised so that all bins sum to 1,
 *     with soft (linearly interpolated) binning; see `hsvHistogram`.
 *
 * A missing, unreadable or undecodable file is not fatal: it is listed in `failures` and its
 * row is zero with mask 0.
 */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import type { ProgressFn } from '../types.js';
import { kernels } from '../../kernels/select.js';
import { truncatedSvd, type LinearOperator } from './svd.js';

export interface ImageFeatureOptions {
  /** PCA components (default 128), clamped to what the data supports. */
  dim?: number;
  /** Thumbnail side in pixels (default 32). */
  thumb?: number;
  /** Bins of the hue, saturation and value marginal histograms (default [16, 16, 16]). */
  histogramBins?: [number, number, number];
  /** Seed of the randomized PCA (default 1). */
  seed?: number;
  /** Images decoded at the same time (default 4). */
  concurrency?: number;
}

export interface ImageFailure {
  /** Internal item index (position in `paths`). */
  index: number;
  path: string;
  /** "file not found", "permission denied", "is a directory", or sharp's message. */
  reason: string;
}

export interface ImageFeatures {
  /** paths.length × dim, row-major; rows of items without a usable image are all zero. */
  matrix: Float32Array;
  /** Output width: PCA components + histogram bins. */
  dim: number;
  /** 1 = the item's image was decoded. */
  mask: Uint8Array;
  failures: ImageFailure[];
  info: {
    /** Images decoded. */
    images: number;
    /** PCA components kept: min(requested, images, pixels, numerical rank). */
    pcaDim: number;
    histogramBins: number;
    thumb: number;
    /** Fraction of the centred pixels' squared Frobenius norm captured by the PCA part. */
    explainedVariance: number;
  };
}

/**
 * Encodes the image of each internal item (`paths[i]`, null/undefined/"" = no image) into
 * pixel-PCA + colour-histogram features. Never throws for bad image files.
 */
export async function encodeImagesPixels(
  paths: readonly (string | null | undefined)[],
  opts: ImageFeatureOptions = {},
  progress?: ProgressFn,
): Promise<ImageFeatures> {
  const { dim = 128, thumb = 32, histogramBins = [16, 16, 16], seed = 1, concurrency = 4 } = opts;
  if (!Number.isInteger(dim) || dim < 0) throw new RangeError(`dim must be an integer >= 0, got ${dim}`);
  if (!Number.isInteger(thumb) || thumb < 1)
    throw new RangeError(`thumb must be an integer >= 1, got ${thumb}`);
  if (histogramBins.length !== 3 || !histogramBins.every((b) => Number.isInteger(b) && b >= 0)) {
    throw new RangeError(`histogramBins must be three integers >= 0, got ${JSON.stringify(histogramBins)}`);
  }
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`concurrency must be an integer >= 1, got ${concurrency}`);
  }
  const decoded = await decodeAll(paths, thumb, histogramBins, concurrency, progress);
  const items: number[] = [];
  for (let i = 0; i < paths.length; i++) if (decoded.ok[i]) items.push(i);
  const pca = pixelPca(decoded.raw, items, thumb * thumb * 3, dim, seed, progress);
  const hb = histogramBins[0] + histogramBins[1] + histogramBins[2];
  const { matrix, width } = standardised(pca.scores, pca.p, decoded.hist, hb, items, paths.length);
  const info = {
    images: items.length,
    pcaDim: pca.p,
    histogramBins: hb,
    thumb,
    explainedVariance: pca.explainedVariance,
  };
  return { matrix, dim: width, mask: decoded.ok, failures: decoded.failures, info };
}

/** Thumbnails (`raw`, item i at i * pixels) and HSV histograms of every image that decodes. */
interface Decoded {
  raw: Uint8Array;
  hist: Float64Array;
  /** 1 where item i's image decoded. */
  ok: Uint8Array;
  /** By item. */
  failures: ImageFailure[];
}

async function decodeAll(
  paths: readonly (string | null | undefined)[],
  thumb: number,
  histogramBins: [number, number, number],
  concurrency: number,
  progress?: ProgressFn,
): Promise<Decoded> {
  const n = paths.length;
  const pixels = thumb * thumb * 3;
  const hb = histogramBins[0] + histogramBins[1] + histogramBins[2];
  const raw = new Uint8Array(n * pixels);
  const hist = new Float64Array(n * hb);
  const ok = new Uint8Array(n);
  const failures: ImageFailure[] = [];
  const todo: number[] = [];
  for (let i = 0; i < n; i++) if (typeof paths[i] === 'string' && paths[i] !== '') todo.push(i);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < todo.length) {
      const i = todo[next++];
      const path = paths[i] as string;
      try {
        const rgb = await decodeThumbnail(path, thumb);
        raw.set(rgb, i * pixels);
        hsvHistogram(rgb, histogramBins, hist.subarray(i * hb, (i + 1) * hb));
        ok[i] = 1;
      } catch (err) {
        failures.push({ index: i, path, reason: failureReason(err) });
      }
      done++;
      progress?.('images: decode', done, todo.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(todo.length, 1)) }, worker));
  // Workers finish in any order: report failures by item.
  failures.sort((a, b) => a.index - b.index);
  return { raw, hist, ok, failures };
}

/** PCA scores (items × p) of the centred pixels, without materialising the float matrix. */
function pixelPca(
  raw: Uint8Array,
  items: number[],
  pixels: number,
  dim: number,
  seed: number,
  progress?: ProgressFn,
): { scores: Float32Array; p: number; explainedVariance: number } {
  const m = items.length;
  const mean = new Float64Array(pixels);
  for (const i of items) for (let c = 0; c < pixels; c++) mean[c] += raw[i * pixels + c] / 255;
  if (m > 0) for (let c = 0; c < pixels; c++) mean[c] /= m;
  if (!(m > 1 && dim > 0)) return { scores: new Float32Array(0), p: 0, explainedVariance: 0 };
  const op = centredPixelOperator(raw, items, pixels, mean);
  const svd = truncatedSvd(op, dim, { seed, progress, stage: 'images: pca' });
  // Centring removes one dimension, so at most m - 1 components are real.
  const p = Math.min(svd.rank, m - 1);
  let total = 0;
  for (const i of items) {
    for (let c = 0; c < pixels; c++) {
      const x = raw[i * pixels + c] / 255 - mean[c];
      total += x * x;
    }
  }
  let captured = 0;
  for (let j = 0; j < p; j++) captured += svd.s[j] * svd.s[j];
  const scores = new Float32Array(m * p);
  for (let r = 0; r < m; r++) for (let j = 0; j < p; j++) scores[r * p + j] = svd.u[r * svd.k + j] * svd.s[j];
  return { scores, p, explainedVariance: total > 0 ? Math.min(1, captured / total) : 0 };
}

/**
 * PCA scores then histograms, each column z-scored over the items with an image and scaled so
 * that rows have a norm of about 1. (Nearly) constant columns carry nothing and z-scoring would
 * blow up their rounding noise: they stay 0. Features are O(1) at most, so an absolute
 * threshold is enough.
 */
function standardised(
  scores: Float32Array,
  p: number,
  hist: Float64Array,
  hb: number,
  items: number[],
  n: number,
): { matrix: Float32Array; width: number } {
  const m = items.length;
  const width = p + hb;
  const matrix = new Float32Array(n * width);
  const column = new Float64Array(m);
  const scale = 1 / Math.sqrt(width);
  for (let j = 0; j < width; j++) {
    for (let r = 0; r < m; r++) column[r] = j < p ? scores[r * p + j] : hist[items[r] * hb + (j - p)];
    let mu = 0;
    for (let r = 0; r < m; r++) mu += column[r];
    mu /= m;
    let v = 0;
    for (let r = 0; r < m; r++) v += (column[r] - mu) * (column[r] - mu);
    const sd = Math.sqrt(v / m);
    if (!(sd > 1e-9)) continue;
    for (let r = 0; r < m; r++) matrix[items[r] * width + j] = ((column[r] - mu) / sd) * scale;
  }
  return { matrix, width };
}

/** Decodes one image file into thumb×thumb×3 sRGB bytes. Throws with a readable reason. */
async function decodeThumbnail(path: string, thumb: number): Promise<Uint8Array> {
  // Reading the bytes ourselves tells a missing file apart from an undecodable one.
  const input = await readFile(path);
  const { data, info } = await sharp(input, { failOn: 'error' })
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

function failureReason(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return 'file not found';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
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
function hsvHistogram(rgb: Uint8Array, bins: [number, number, number], out: Float64Array): void {
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

/**
 * The m×pixels matrix of centred thumbnails (bytes / 255 − mean) as an operator. Blocks of
 * rows are converted to float32 on the fly, so memory stays at one byte per pixel.
 */
function centredPixelOperator(
  raw: Uint8Array,
  items: readonly number[],
  pixels: number,
  mean: Float64Array,
): LinearOperator {
  const m = items.length;
  const block = Math.max(1, Math.min(m, Math.floor((1 << 22) / pixels)));
  const buf = new Float32Array(block * pixels);
  const fill = (r0: number, rows: number): void => {
    for (let r = 0; r < rows; r++) {
      const src = items[r0 + r] * pixels;
      const dst = r * pixels;
      for (let c = 0; c < pixels; c++) buf[dst + c] = raw[src + c] / 255 - mean[c];
    }
  };
  return {
    rows: m,
    cols: pixels,
    mul(x, k) {
      const out = new Float32Array(m * k);
      for (let r0 = 0; r0 < m; r0 += block) {
        const rows = Math.min(block, m - r0);
        fill(r0, rows);
        kernels().sgemm(false, false, rows, k, pixels, 1, buf, pixels, x, k, 0, out.subarray(r0 * k), k);
      }
      return out;
    },
    mulT(y, k) {
      const out = new Float32Array(pixels * k);
      for (let r0 = 0; r0 < m; r0 += block) {
        const rows = Math.min(block, m - r0);
        fill(r0, rows);
        const beta = r0 === 0 ? 0 : 1;
        kernels().sgemm(true, false, pixels, k, rows, 1, buf, pixels, y.subarray(r0 * k), k, beta, out, k);
      }
      return out;
    },
  };
}
