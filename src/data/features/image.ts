/**
 * Image features from pixels alone (no pretrained network): each image is decoded into a
 * thumb×thumb RGB thumbnail (thumbnail.ts), then
 *   features = [ PCA(dim) scores of the thumbnail pixels in [0, 1] ; HSV histogram ]
 * with every column z-scored over the items that have an image and the whole vector multiplied
 * by scale = 1/√(width), so that row norms are about 1 (as the reference PyTorch
 * implementation: 32×32 pixels -> PCA 128 + 48-bin HSV histogram, z-scored, / √176).
 *
 * An item's PCA scores are the projection of its own centred pixels onto the fitted basis V
 * (pixels × pcaDim): (x/255 − mean)·V. Not U·S of the randomized SVD, which differs by the part
 * outside the sketch and cannot be computed for a new item. The z-scoring uses the column mean
 * and sd stored with the encoder (float32); a column whose sd was ≤ 1e-9 is stored with sd 0 and
 * is 0 for every item. Prepared items and new items go through the same `imageFeatureRow`
 * pieces, in float64 row by row, so they are bit-identical.
 *
 * A missing, unreadable or undecodable file is not fatal here: it is listed in `failures` and
 * its row is zero with mask 0.
 */
import { readFile } from 'node:fs/promises';
import type { ProgressFn } from '../types.js';
import { kernels } from '../../kernels/select.js';
import { truncatedSvd, type LinearOperator } from './svd.js';
import { decodeThumbnail, errorReason, hsvHistogram } from './thumbnail.js';

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

/** What a new image needs to get the features a prepared one got. */
export interface PixelImageEncoder {
  kind: 'pixels-pca-hsv';
  thumb: number;
  histogramBins: [number, number, number];
  /** Mean thumbnail (thumb·thumb·3 values in [0, 1]) over the fitted images. */
  mean: Float32Array;
  /** pixels × pcaDim, row-major. */
  basis: Float32Array;
  pcaDim: number;
  /** Output width: pcaDim + histogram bins. */
  dim: number;
  /** Per output column, over the fitted images; sd 0 marks a constant column (output 0). */
  columnMean: Float32Array;
  columnSd: Float32Array;
  /** 1/√dim. */
  scale: number;
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
  encoder: PixelImageEncoder;
  info: {
    /** Images decoded. */
    images: number;
    /** PCA components kept: min(requested, images, pixels, numerical rank). */
    pcaDim: number;
    histogramBins: number;
    thumb: number;
    /** Fraction of the centred pixels' squared Frobenius norm inside the PCA basis. */
    explainedVariance: number;
  };
}

/**
 * An image's feature values before z-scoring, written to `out` (enc.dim values): PCA scores
 * (rgb/255 − mean)·V accumulated in float64, then the HSV histogram.
 */
export function rawImageFeatures(rgb: Uint8Array, enc: PixelImageEncoder, out: Float32Array): void {
  const p = enc.pcaDim;
  const acc = new Float64Array(p);
  for (let c = 0; c < enc.mean.length; c++) {
    const x = rgb[c] / 255 - enc.mean[c];
    const off = c * p;
    for (let j = 0; j < p; j++) acc[j] += x * enc.basis[off + j];
  }
  for (let j = 0; j < p; j++) out[j] = acc[j];
  const hist = new Float64Array(enc.dim - p);
  hsvHistogram(rgb, enc.histogramBins, hist);
  for (let j = 0; j < hist.length; j++) out[p + j] = hist[j];
}

/** Z-scores raw feature values with the encoder's column statistics and scales them, into `out`. */
export function standardiseImageRow(raw: Float32Array, enc: PixelImageEncoder, out: Float32Array): void {
  for (let j = 0; j < enc.dim; j++) {
    const sd = enc.columnSd[j];
    out[j] = sd > 0 ? ((raw[j] - enc.columnMean[j]) / sd) * enc.scale : 0;
  }
}

/** The features of a decoded thumbnail (thumbnail.ts) under a fitted encoder. */
export function imageFeatureRow(rgb: Uint8Array, enc: PixelImageEncoder): Float32Array {
  const raw = new Float32Array(enc.dim);
  rawImageFeatures(rgb, enc, raw);
  const out = new Float32Array(enc.dim);
  standardiseImageRow(raw, enc, out);
  return out;
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
  const decoded = await decodeAll(paths, thumb, concurrency, progress);
  const items: number[] = [];
  for (let i = 0; i < paths.length; i++) if (decoded.ok[i]) items.push(i);
  const pixels = thumb * thumb * 3;
  const pca = pixelPca(decoded.raw, items, pixels, dim, seed, progress);
  const hb = histogramBins[0] + histogramBins[1] + histogramBins[2];
  const width = pca.p + hb;
  const enc: PixelImageEncoder = {
    kind: 'pixels-pca-hsv',
    thumb,
    histogramBins: [...histogramBins],
    mean: pca.mean,
    basis: pca.basis,
    pcaDim: pca.p,
    dim: width,
    columnMean: new Float32Array(width),
    columnSd: new Float32Array(width),
    scale: 1 / Math.sqrt(width),
  };
  const raw = new Float32Array(items.length * width);
  items.forEach((i, r) => {
    rawImageFeatures(decoded.raw.subarray(i * pixels, (i + 1) * pixels), enc, raw.subarray(r * width));
  });
  fitColumns(raw, items.length, enc);
  const matrix = new Float32Array(paths.length * width);
  items.forEach((i, r) => {
    standardiseImageRow(raw.subarray(r * width), enc, matrix.subarray(i * width, (i + 1) * width));
  });
  const info = {
    images: items.length,
    pcaDim: pca.p,
    histogramBins: hb,
    thumb,
    explainedVariance: explained(raw, items.length, enc, pca.total),
  };
  return { matrix, dim: width, mask: decoded.ok, failures: decoded.failures, encoder: enc, info };
}

/** Thumbnails (`raw`, item i at i * pixels) of every image that decodes. */
interface Decoded {
  raw: Uint8Array;
  /** 1 where item i's image decoded. */
  ok: Uint8Array;
  /** By item. */
  failures: ImageFailure[];
}

async function decodeAll(
  paths: readonly (string | null | undefined)[],
  thumb: number,
  concurrency: number,
  progress?: ProgressFn,
): Promise<Decoded> {
  const n = paths.length;
  const pixels = thumb * thumb * 3;
  const raw = new Uint8Array(n * pixels);
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
        // Reading the bytes ourselves tells a missing file apart from an undecodable one.
        raw.set(await decodeThumbnail(await readFile(path), thumb), i * pixels);
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
  return { raw, ok, failures };
}

/**
 * The PCA basis of the centred pixels (without materialising the float matrix), the mean
 * thumbnail (rounded to float32: the value stored and used for every projection) and the
 * centred pixels' squared Frobenius norm.
 */
function pixelPca(
  raw: Uint8Array,
  items: number[],
  pixels: number,
  dim: number,
  seed: number,
  progress?: ProgressFn,
): { mean: Float32Array; basis: Float32Array; p: number; total: number } {
  const m = items.length;
  const sum = new Float64Array(pixels);
  for (const i of items) for (let c = 0; c < pixels; c++) sum[c] += raw[i * pixels + c] / 255;
  const mean = Float32Array.from(sum, (s) => (m > 0 ? s / m : 0));
  let total = 0;
  for (const i of items) {
    for (let c = 0; c < pixels; c++) {
      const x = raw[i * pixels + c] / 255 - mean[c];
      total += x * x;
    }
  }
  if (!(m > 1 && dim > 0)) return { mean, basis: new Float32Array(0), p: 0, total };
  const op = centredPixelOperator(raw, items, pixels, mean);
  const svd = truncatedSvd(op, dim, { seed, progress, stage: 'images: pca' });
  // Centring removes one dimension, so at most m - 1 components are real.
  const p = Math.min(svd.rank, m - 1);
  const basis = new Float32Array(pixels * p);
  for (let c = 0; c < pixels; c++) for (let j = 0; j < p; j++) basis[c * p + j] = svd.v[c * svd.k + j];
  return { mean, basis, p, total };
}

/**
 * The column means and sds of the raw rows (rounded to float32, as stored). (Nearly) constant
 * columns carry nothing and z-scoring would blow up their rounding noise: their sd is stored as
 * 0, which makes them 0. Features are O(1) at most, so an absolute threshold is enough.
 */
function fitColumns(raw: Float32Array, m: number, enc: PixelImageEncoder): void {
  const width = enc.dim;
  for (let j = 0; j < width; j++) {
    let mu = 0;
    for (let r = 0; r < m; r++) mu += raw[r * width + j];
    mu /= m;
    let v = 0;
    for (let r = 0; r < m; r++) v += (raw[r * width + j] - mu) ** 2;
    const sd = Math.sqrt(v / m);
    enc.columnMean[j] = m > 0 ? mu : 0;
    enc.columnSd[j] = sd > 1e-9 ? sd : 0;
  }
}

/** Fraction of the centred pixels' squared norm inside the basis: Σ‖(x − mean)·V‖² / Σ‖x − mean‖². */
function explained(raw: Float32Array, m: number, enc: PixelImageEncoder, total: number): number {
  let captured = 0;
  for (let r = 0; r < m; r++) for (let j = 0; j < enc.pcaDim; j++) captured += raw[r * enc.dim + j] ** 2;
  return total > 0 ? Math.min(1, captured / total) : 0;
}

function failureReason(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return 'file not found';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return errorReason(err);
}

/**
 * The m×pixels matrix of centred thumbnails (bytes / 255 − mean) as an operator. Blocks of
 * rows are converted to float32 on the fly, so memory stays at one byte per pixel.
 */
function centredPixelOperator(
  raw: Uint8Array,
  items: readonly number[],
  pixels: number,
  mean: Float32Array,
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
