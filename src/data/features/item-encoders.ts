/**
 * A prepared dataset's fitted content encoders, loaded, and the features of a new item under
 * them: exactly the rows `prepare` would have given the item had it been in the dataset (the
 * same functions compute both; the fitted state is what was fitted on the dataset, as
 * scikit-learn's `transform`). Stored by encoder-files.ts; a dataset prepared before encoders
 * were kept, or with no content features, has none.
 */
import { ContentError } from '../errors.js';
import { imageFeatureRow, type PixelImageEncoder } from './image.js';
import type { PrecomputedEncoder } from './precomputed.js';
import { encodeTextRow, type TfidfSvdEncoder } from './text.js';
import { decodeThumbnail, errorReason } from './thumbnail.js';
import { poolWordVectors, type WordVectorEncoder } from './word-vectors.js';

export type TextEncoder = TfidfSvdEncoder | WordVectorEncoder | PrecomputedEncoder;
export type ImageEncoder = PixelImageEncoder | PrecomputedEncoder;

/** One encoder per content modality the dataset has. */
export interface ContentEncoders {
  text?: TextEncoder;
  image?: ImageEncoder;
}

/** A new item's raw content. */
export interface ItemContent {
  /** Its text as prepare composes it: `itemText({ title, text })` (features/encode.ts). */
  text?: string;
  /** The bytes of its image file (any format sharp decodes). */
  image?: Uint8Array;
}

/**
 * Per modality with a built-in encoder: the feature row, or null when the item lacks the
 * modality (no text or no vocabulary word; no image given). Modalities the dataset lacks, and
 * precomputed ones, are absent.
 */
export interface ItemFeatureRows {
  text?: Float32Array | null;
  image?: Float32Array | null;
}

/**
 * The features `prepare` would have given an item with this content. Throws ContentError for
 * an image that cannot be decoded (with sharp's reason), for content of a modality the dataset
 * has no features for, and for content of a precomputed modality (the caller must bring the
 * vector: see `callerSuppliedModalities`).
 */
export async function encodeItemContent(
  enc: ContentEncoders,
  content: ItemContent,
): Promise<ItemFeatureRows> {
  const out: ItemFeatureRows = {};
  const text = builtIn('text', enc.text, content.text);
  if (text) {
    if (content.text !== undefined && typeof content.text !== 'string')
      throw new ContentError('text', `expected a string, got ${typeof content.text}`);
    out.text =
      text.kind === 'tfidf-svd' ? encodeTextRow(content.text, text) : poolWordVectors(content.text, text);
  }
  const image = builtIn('image', enc.image, content.image);
  if (image) out.image = content.image === undefined ? null : await encodeImageBytes(content.image, image);
  return out;
}

/** The modality's built-in encoder; undefined when there is none to run (and no content asks for one). */
function builtIn<E extends TextEncoder | ImageEncoder>(
  modality: 'text' | 'image',
  enc: E | undefined,
  content: unknown,
): Exclude<E, PrecomputedEncoder> | undefined {
  if (enc?.kind === 'precomputed') {
    if (content === undefined) return undefined;
    throw new ContentError(
      modality,
      `this dataset's ${modality} features were computed elsewhere (${enc.source}, ${enc.dim} values): compute the item's vector the same way`,
    );
  }
  if (!enc && content !== undefined)
    throw new ContentError(modality, `this dataset has no ${modality} features, so nothing can encode it`);
  return enc as Exclude<E, PrecomputedEncoder> | undefined;
}

async function encodeImageBytes(bytes: Uint8Array, enc: PixelImageEncoder): Promise<Float32Array> {
  if (!(bytes instanceof Uint8Array)) throw new ContentError('image', 'expected the bytes of an image file');
  let rgb: Uint8Array;
  try {
    rgb = await decodeThumbnail(bytes, enc.thumb);
  } catch (err) {
    throw new ContentError('image', `cannot be decoded (${bytes.length} bytes): ${errorReason(err)}`);
  }
  return imageFeatureRow(rgb, enc);
}

/** The modalities whose features a new item must bring itself (precomputed ones), with their widths. */
export function callerSuppliedModalities(
  enc: ContentEncoders,
): Partial<Record<'text' | 'image', { dim: number; source: string }>> {
  const out: Partial<Record<'text' | 'image', { dim: number; source: string }>> = {};
  for (const m of ['text', 'image'] as const) {
    const e = enc[m];
    if (e?.kind === 'precomputed') out[m] = { dim: e.dim, source: e.source };
  }
  return out;
}
