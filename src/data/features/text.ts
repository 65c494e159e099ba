/**
 * Text features: TF-IDF (see tfidf.ts) reduced by truncated SVD (LSA), one L2-normalised row
 * per internal item.
 *
 * Every row is the projection of the item's own TF-IDF row onto the fitted basis V (terms × dim),
 * normalised: normalise(tfidf(x)·V), as scikit-learn's TruncatedSVD.transform. Not U·S of the
 * SVD: for a randomized SVD U·S differs from A·V by the part of A outside the sketch, and only
 * x·V can be computed for an item that was not in the fitted collection. Prepared rows and new
 * items go through the same `projectTfidfRow`, in float64, row by row, so they are bit-identical.
 */
import type { ProgressFn } from '../types.js';
import { csrOperator, truncatedSvd } from './svd.js';
import { tfidfMatrix, tfidfRow, type SparseRow, type TfidfOptions, type TfidfVocabulary } from './tfidf.js';

export interface TextFeatureOptions extends TfidfOptions {
  /** Output dimension (default 128), clamped to what the data supports. */
  dim?: number;
  /** Seed of the randomized SVD (default 1). */
  seed?: number;
}

/** What a new text needs to get the features a prepared one got. */
export interface TfidfSvdEncoder {
  kind: 'tfidf-svd';
  vocabulary: TfidfVocabulary;
  /** terms × dim, row-major: the leading right singular vectors of the TF-IDF matrix. */
  basis: Float32Array;
  dim: number;
  /** Settings of the fit, for the record (a new text needs only the vocabulary and basis). */
  fit: { minDf: number; maxFeatures: number; documents: number };
}

export interface TextFeatures {
  /** texts.length × dim, row-major; rows of items without (usable) text are all zero. */
  matrix: Float32Array;
  /** Real output dimension: min(requested, vocabulary, documents with terms, numerical rank). */
  dim: number;
  /** 1 = the item's text has at least one vocabulary term, so its row is a real feature. */
  mask: Uint8Array;
  /** Null when there is no feature (no vocabulary, or rank 0). */
  encoder: TfidfSvdEncoder | null;
  info: {
    /** Terms kept (columns of the TF-IDF matrix). */
    vocabulary: number;
    /** Texts with at least one token. */
    documents: number;
    /** Fraction of the TF-IDF matrix's squared Frobenius norm inside the basis: Σ‖a·V‖² / Σ‖a‖². */
    explainedVariance: number;
  };
}

/**
 * A TF-IDF row's features: row·V, L2-normalised, written to `out` (dim values). Returns the
 * squared norm of row·V before normalising; 0 means no feature (`out` is then zero).
 */
export function projectTfidfRow(row: SparseRow, enc: TfidfSvdEncoder, out: Float32Array): number {
  const d = enc.dim;
  const acc = new Float64Array(d);
  for (let p = 0; p < row.indices.length; p++) {
    const a = row.values[p];
    const off = row.indices[p] * d;
    for (let j = 0; j < d; j++) acc[j] += a * enc.basis[off + j];
  }
  let sq = 0;
  for (let j = 0; j < d; j++) sq += acc[j] * acc[j];
  out.fill(0);
  if (!(sq > 0)) return 0;
  const norm = Math.sqrt(sq);
  for (let j = 0; j < d; j++) out[j] = acc[j] / norm;
  return sq;
}

/** A text's features under a fitted encoder; null when it has no vocabulary term (or projects to 0). */
export function encodeTextRow(text: string | null | undefined, enc: TfidfSvdEncoder): Float32Array | null {
  const row = tfidfRow(text, enc.vocabulary);
  if (!row) return null;
  const out = new Float32Array(enc.dim);
  return projectTfidfRow(row, enc, out) > 0 ? out : null;
}

/**
 * LSA text features: TF-IDF (see `tfidfMatrix`), truncated SVD to `dim`, each row projected
 * onto the basis and L2-normalised. `texts[i]` is the text of internal item i (0 is padding).
 */
export function encodeTextTfidfSvd(
  texts: readonly (string | null | undefined)[],
  opts: TextFeatureOptions = {},
  progress?: ProgressFn,
): TextFeatures {
  const { dim = 128, seed = 1, minDf = 2, maxFeatures = 100000 } = opts;
  if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`dim must be an integer >= 1, got ${dim}`);
  const tf = tfidfMatrix(texts, opts, progress);
  const { csr, rowOf } = tf;
  const n = texts.length;
  const info = { vocabulary: csr.cols, documents: tf.documents, explainedVariance: 0 };
  const empty = (): TextFeatures => ({
    matrix: new Float32Array(0),
    dim: 0,
    mask: new Uint8Array(n),
    encoder: null,
    info,
  });
  if (csr.rows === 0 || csr.cols === 0) return empty();

  const svd = truncatedSvd(csrOperator(csr), dim, { seed, progress, stage: 'text: svd' });
  // Components past the numerical rank carry no signal (duplicate texts make this common).
  const d = svd.rank;
  if (d === 0) return empty();
  const basis = new Float32Array(csr.cols * d);
  for (let t = 0; t < csr.cols; t++) for (let j = 0; j < d; j++) basis[t * d + j] = svd.v[t * svd.k + j];
  const fit = { minDf, maxFeatures, documents: tf.documents };
  const encoder: TfidfSvdEncoder = { kind: 'tfidf-svd', vocabulary: tf.vocabulary, basis, dim: d, fit };

  const matrix = new Float32Array(n * d);
  const mask = new Uint8Array(n);
  let captured = 0;
  for (let i = 0; i < n; i++) {
    const r = rowOf[i];
    if (r < 0) continue;
    const row = {
      indices: csr.indices.subarray(csr.indptr[r], csr.indptr[r + 1]),
      values: csr.values.subarray(csr.indptr[r], csr.indptr[r + 1]),
    };
    const sq = projectTfidfRow(row, encoder, matrix.subarray(i * d, (i + 1) * d));
    captured += sq;
    if (sq > 0) mask[i] = 1;
  }
  let total = 0;
  for (let p = 0; p < csr.values.length; p++) total += csr.values[p] * csr.values[p];
  info.explainedVariance = total > 0 ? Math.min(1, captured / total) : 0;
  return { matrix, dim: d, mask, encoder, info };
}
