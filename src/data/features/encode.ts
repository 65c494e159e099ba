/**
 * A prepared dataset's content features, one modality at a time: the encoder the option names
 * (built in, or precomputed elsewhere) and the manifest's description of what it made.
 */
import { basename } from 'node:path';
import type { FeatureMatrix, ModalityInfo } from '../dataset.js';
import type { ProgressFn } from '../types.js';
import type { ImageEncoder, TextEncoder } from './item-encoders.js';
import { encodeImagesPixels } from './image.js';
import { loadPrecomputed, type PrecomputedEncoder, type PrecomputedFeatures } from './precomputed.js';
import { encodeTextTfidfSvd } from './text.js';
import { encodeTextWordVectors, loadWordVectors } from './word-vectors.js';

/** TF-IDF + SVD, word vectors ("wink" or a vectors file), precomputed, or none. */
export type TextSpec = 'tfidf' | 'none' | { wordVectors: string } | PrecomputedFeatures;
export type ImageSpec = 'pixels' | 'none' | PrecomputedFeatures;

/** A modality's features, their manifest entry, and the fitted encoder a new item needs. */
export interface EncodedModality<E> {
  features: FeatureMatrix;
  info: ModalityInfo;
  encoder: E;
}

/** The text an item's text features are made from: title and text, joined by ". "; null when it has neither. */
export function itemText(item: { title?: string; text?: string }): string | null {
  return [item.title, item.text].filter(Boolean).join('. ') || null;
}

export interface EncodeContext {
  /** Original ids of items 1..N (precomputed rows are matched to them). */
  itemIds: readonly string[];
  /** Feature width of the built-in encoders. */
  dim: number;
  seed: number;
  /** Messages worth showing are appended here. */
  warnings: string[];
  progress: ProgressFn;
}

/** Text features from `texts` (index = internal item id, 0 = padding); undefined when there are none. */
export function encodeText(
  spec: TextSpec,
  texts: (string | null)[],
  c: EncodeContext,
): EncodedModality<TextEncoder> | undefined {
  if (spec === 'none') return undefined;
  if (typeof spec === 'object' && 'npy' in spec) return precomputed(spec, c);
  if (typeof spec === 'object') {
    const enc = encodeTextWordVectors(texts, loadWordVectors(spec.wordVectors), c.progress);
    // The encoder names a vectors file without its folder: datasets carry no machine paths.
    const encoder = { ...enc.encoder, source: basename(enc.encoder.source) };
    return encoded(enc, 'word-vectors', { ...enc.info }, encoder);
  }
  const enc = texts.some((t) => t)
    ? encodeTextTfidfSvd(texts, { dim: c.dim, seed: c.seed }, c.progress)
    : null;
  if (enc && !enc.encoder) c.warnings.push('no item text has a term shared by two items: no text features');
  return enc?.encoder ? encoded(enc, 'tfidf-svd', { ...enc.info }, enc.encoder) : undefined;
}

/** Image features from the files at `paths` (index = internal item id); undefined without images. */
export async function encodeImage(
  spec: ImageSpec,
  paths: (string | null)[],
  c: EncodeContext,
): Promise<EncodedModality<ImageEncoder> | undefined> {
  if (spec === 'none') return undefined;
  if (typeof spec === 'object') return precomputed(spec, c);
  if (!paths.some((p) => p)) return undefined;
  const enc = await encodeImagesPixels(paths, { dim: c.dim, seed: c.seed }, c.progress);
  const failures = enc.failures.map((f) => `${f.path}: ${f.reason}`);
  if (failures.length)
    c.warnings.push(
      `${failures.length} images could not be used (masked as missing), e.g. ${failures.slice(0, 3).join('; ')}`,
    );
  const details = { ...enc.info, failures: failures.length, failureExamples: failures.slice(0, 10) };
  return encoded(enc, 'pixels-pca-hsv', details, enc.encoder);
}

function precomputed(spec: PrecomputedFeatures, c: EncodeContext): EncodedModality<PrecomputedEncoder> {
  const f = loadPrecomputed(spec, c.itemIds, c.warnings);
  const encoder: PrecomputedEncoder = { kind: 'precomputed', dim: f.dim, source: basename(spec.npy) };
  return encoded(f, `precomputed:${spec.npy}`, {}, encoder);
}

function encoded<E>(
  f: FeatureMatrix,
  name: string,
  details: Record<string, unknown>,
  encoder: E,
): EncodedModality<E> {
  return {
    features: { matrix: f.matrix, dim: f.dim, mask: f.mask },
    info: { dim: f.dim, coverage: coverageOf(f.mask), encoder: name, details },
    encoder,
  };
}

/** Fraction of items 1..N that have the modality. */
function coverageOf(mask: Uint8Array): number {
  let n = 0;
  for (let i = 1; i < mask.length; i++) n += mask[i];
  return mask.length > 1 ? n / (mask.length - 1) : 0;
}
