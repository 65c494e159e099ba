/**
 * Fitted content encoders on disk, as bytes (a dataset folder and a model bundle store the same
 * files):
 *   encoders.safetensors            float32 arrays: text.idf, text.basis (TF-IDF + SVD) or
 *                                   text.vectors (word vectors); image.mean, image.basis,
 *                                   image.columnMean, image.columnSd (pixels)
 *   encoders.text-vocabulary.txt    the text encoder's terms (or words), line j = row j of
 *                                   text.idf and text.basis / text.vectors
 * and the settings (`EncoderSettings`, small JSON: the dataset's manifest.json `encoders`, a
 * bundle's encoders.json), which say which encoder each modality used and list the files.
 * Precomputed modalities have settings (width, source) and no arrays.
 */
import * as z from 'zod';
import { DataError } from '../errors.js';
import { decodeSafetensors, encodeSafetensors, type NamedArray } from '../../engine/io/safetensors.js';
import type { PixelImageEncoder } from './image.js';
import type { ContentEncoders, ImageEncoder, TextEncoder } from './item-encoders.js';
import { TOKENIZER } from './tfidf.js';
import type { TfidfSvdEncoder } from './text.js';
import type { WordVectorEncoder } from './word-vectors.js';

export const ENCODERS_FORMAT = 'cammsr-encoders';
export const ENCODERS_FORMAT_VERSION = 1;
export const ARRAYS_FILE = 'encoders.safetensors';
export const VOCABULARY_FILE = 'encoders.text-vocabulary.txt';

const int = z.number().int().nonnegative();
const precomputed = z.object({ kind: z.literal('precomputed'), dim: int, source: z.string() });
const textSettings = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('tfidf-svd'),
    dim: int,
    terms: int,
    ngrams: z.union([z.literal(1), z.literal(2)]),
    tokenizer: z.literal(TOKENIZER),
    weighting: z.literal('sublinear tf × smooth idf, L2-normalised'),
    projection: z.literal('tfidf·V, L2-normalised'),
    minDf: int,
    maxFeatures: int,
    documents: int,
  }),
  z.object({
    kind: z.literal('word-vectors'),
    dim: int,
    words: int,
    tokenizer: z.literal(TOKENIZER),
    pooling: z.literal('idf-weighted sum of word vectors, L2-normalised'),
    source: z.string(),
    documents: int,
  }),
  precomputed,
]);
const imageSettings = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('pixels-pca-hsv'),
    dim: int,
    pcaDim: int,
    thumb: int.min(1),
    histogramBins: z.tuple([int, int, int]),
    scale: z.number().positive(),
    projection: z.literal('(pixels/255 − mean)·V, then HSV histogram; z-scored (sd 0 = column 0) × scale'),
  }),
  precomputed,
]);
const settingsSchema = z.object({
  format: z.literal(ENCODERS_FORMAT),
  formatVersion: z.literal(ENCODERS_FORMAT_VERSION),
  files: z.array(z.string()),
  text: textSettings.optional(),
  image: imageSettings.optional(),
});

/** What the encoders are, small enough for a manifest; the arrays are in `files`. */
export type EncoderSettings = z.infer<typeof settingsSchema>;

/** The settings and the bytes of each file (by name) of fitted encoders. */
export function writeEncoders(enc: ContentEncoders): {
  settings: EncoderSettings;
  files: Record<string, Uint8Array>;
} {
  const tensors: Record<string, NamedArray> = {};
  const files: Record<string, Uint8Array> = {};
  const text = enc.text && textToFiles(enc.text, tensors, files);
  const image = enc.image && imageToFiles(enc.image, tensors);
  if (Object.keys(tensors).length > 0)
    files[ARRAYS_FILE] = encodeSafetensors(tensors, { content: 'cammsr content encoders' });
  const settings: EncoderSettings = {
    format: ENCODERS_FORMAT,
    formatVersion: ENCODERS_FORMAT_VERSION,
    files: Object.keys(files).sort(),
    ...(text && { text }),
    ...(image && { image }),
  };
  return { settings, files };
}

function textToFiles(
  e: TextEncoder,
  tensors: Record<string, NamedArray>,
  files: Record<string, Uint8Array>,
): EncoderSettings['text'] {
  if (e.kind === 'precomputed') return { kind: e.kind, dim: e.dim, source: e.source };
  const words = e.kind === 'tfidf-svd' ? e.vocabulary.terms : e.words;
  files[VOCABULARY_FILE] = Buffer.from(words.map((w) => `${w}\n`).join(''), 'utf8');
  tensors['text.idf'] = { data: e.kind === 'tfidf-svd' ? e.vocabulary.idf : e.idf, shape: [words.length] };
  if (e.kind === 'word-vectors') {
    tensors['text.vectors'] = { data: e.vectors, shape: [words.length, e.dim] };
    const { dim, source, documents } = e;
    const pooling = 'idf-weighted sum of word vectors, L2-normalised';
    return { kind: e.kind, dim, words: words.length, tokenizer: TOKENIZER, pooling, source, documents };
  }
  tensors['text.basis'] = { data: e.basis, shape: [words.length, e.dim] };
  return {
    kind: e.kind,
    dim: e.dim,
    terms: words.length,
    ngrams: e.vocabulary.ngrams,
    tokenizer: TOKENIZER,
    weighting: 'sublinear tf × smooth idf, L2-normalised',
    projection: 'tfidf·V, L2-normalised',
    ...e.fit,
  };
}

function imageToFiles(e: ImageEncoder, tensors: Record<string, NamedArray>): EncoderSettings['image'] {
  if (e.kind === 'precomputed') return { kind: e.kind, dim: e.dim, source: e.source };
  tensors['image.mean'] = { data: e.mean, shape: [e.mean.length] };
  tensors['image.basis'] = { data: e.basis, shape: [e.mean.length, e.pcaDim] };
  tensors['image.columnMean'] = { data: e.columnMean, shape: [e.dim] };
  tensors['image.columnSd'] = { data: e.columnSd, shape: [e.dim] };
  const { kind, dim, pcaDim, thumb, histogramBins, scale } = e;
  const projection = '(pixels/255 − mean)·V, then HSV histogram; z-scored (sd 0 = column 0) × scale';
  return { kind, dim, pcaDim, thumb, histogramBins, scale, projection };
}

/** Where stored encoders are, for error messages. */
export interface EncodersSource {
  /** The folder that holds the encoder files. */
  folder: string;
  /** Where the settings are, e.g. `<dir>/manifest.json "encoders"` or `<dir>/encoders.json`. */
  settings: string;
}

/**
 * Fitted encoders from their settings and files. `file(name)` returns a file's bytes (already
 * checked against its checksum by the caller).
 */
export function readEncoders(
  settings: unknown,
  file: (name: string) => Uint8Array,
  where: EncodersSource,
): ContentEncoders {
  const parsed = settingsSchema.safeParse(settings);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new DataError(
      `${where.settings}, field "${issue.path.join('.') || '(top level)'}": ${issue.message} (re-run cammsr prepare)`,
    );
  }
  const source = where.folder;
  const s = parsed.data;
  const tensors = s.files.includes(ARRAYS_FILE)
    ? decodeSafetensors(file(ARRAYS_FILE), `${source}/${ARRAYS_FILE}`).tensors
    : new Map<string, NamedArray>();
  const array = (name: string, shape: number[]): Float32Array => {
    const t = tensors.get(name);
    if (!t || t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))
      throw new DataError(
        `${source}/${ARRAYS_FILE}: tensor "${name}" ${t ? `has shape [${t.shape.join(', ')}]` : 'is missing'}, expected [${shape.join(', ')}]`,
      );
    return t.data;
  };
  const out: ContentEncoders = {};
  if (s.text) out.text = textFromFiles(s.text, array, () => vocabulary(file, s.files, source), source);
  if (s.image) out.image = imageFromFiles(s.image, array, where.settings);
  return out;
}

type ArrayOf = (name: string, shape: number[]) => Float32Array;

function textFromFiles(
  s: NonNullable<EncoderSettings['text']>,
  array: ArrayOf,
  words: () => string[],
  source: string,
): TextEncoder {
  if (s.kind === 'precomputed') return s;
  const terms = words();
  const n = s.kind === 'tfidf-svd' ? s.terms : s.words;
  if (terms.length !== n)
    throw new DataError(
      `${source}/${VOCABULARY_FILE}: ${terms.length} lines, the encoder settings (field "text.${s.kind === 'tfidf-svd' ? 'terms' : 'words'}") say ${n}; re-run cammsr prepare`,
    );
  const idf = array('text.idf', [n]);
  const index = new Map(terms.map((t, j) => [t, j]));
  if (s.kind === 'word-vectors') {
    const vectors = array('text.vectors', [n, s.dim]);
    const { dim, source, documents } = s;
    return {
      kind: s.kind,
      dim,
      words: terms,
      vectors,
      idf,
      index,
      source,
      documents,
    } satisfies WordVectorEncoder;
  }
  const { minDf, maxFeatures, documents } = s;
  return {
    kind: s.kind,
    vocabulary: { terms, idf, ngrams: s.ngrams, column: index },
    basis: array('text.basis', [n, s.dim]),
    dim: s.dim,
    fit: { minDf, maxFeatures, documents },
  } satisfies TfidfSvdEncoder;
}

function imageFromFiles(
  s: NonNullable<EncoderSettings['image']>,
  array: ArrayOf,
  settings: string,
): ImageEncoder {
  if (s.kind === 'precomputed') return s;
  const pixels = s.thumb * s.thumb * 3;
  const bins = s.histogramBins[0] + s.histogramBins[1] + s.histogramBins[2];
  if (s.dim !== s.pcaDim + bins)
    throw new DataError(
      `${settings}, field "image.dim": ${s.dim} is not pcaDim ${s.pcaDim} + ${bins} histogram bins`,
    );
  return {
    kind: s.kind,
    thumb: s.thumb,
    histogramBins: s.histogramBins,
    mean: array('image.mean', [pixels]),
    basis: array('image.basis', [pixels, s.pcaDim]),
    pcaDim: s.pcaDim,
    dim: s.dim,
    columnMean: array('image.columnMean', [s.dim]),
    columnSd: array('image.columnSd', [s.dim]),
    scale: s.scale,
  } satisfies PixelImageEncoder;
}

function vocabulary(file: (name: string) => Uint8Array, files: string[], source: string): string[] {
  if (!files.includes(VOCABULARY_FILE))
    throw new DataError(
      `${source}: the text encoder needs ${VOCABULARY_FILE}, which its settings do not list`,
    );
  const bytes = file(VOCABULARY_FILE);
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  if (text !== '' && !text.endsWith('\n'))
    throw new DataError(`${source}/${VOCABULARY_FILE}: expected one term per line, ending with a newline`);
  return text === '' ? [] : text.slice(0, -1).split('\n');
}
