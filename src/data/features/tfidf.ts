/**
 * TF-IDF weighting as scikit-learn's TfidfVectorizer with sublinear_tf and smooth_idf: the
 * vocabulary is fitted once on a collection (`fitTfidf`), and every text, of the collection or
 * new, is weighted against it by the same function (`tfidfRow`).
 */
import type { ProgressFn } from '../types.js';
import type { CsrMatrix } from './svd.js';

/** Names the tokenizer in stored encoders, so that a reader with another one refuses them. */
export const TOKENIZER = 'lowercase-letter-digit-runs';

export interface TfidfOptions {
  /** Keep terms that occur in at least this many documents (default 2). */
  minDf?: number;
  /** Keep at most this many terms, the most frequent by document frequency (default 100000). */
  maxFeatures?: number;
  /** 1: unigrams; 2: unigrams and bigrams (default 2). */
  ngrams?: 1 | 2;
}

/** The fitted weighting: what a new text needs to get the same TF-IDF row as a fitted one. */
export interface TfidfVocabulary {
  /** Column j's term; bigrams are "first second". Sorted by UTF-16 code units. */
  terms: string[];
  /** Column j's idf, float32 as stored, used as such by every text. */
  idf: Float32Array;
  ngrams: 1 | 2;
  /** Term -> column. */
  column: Map<string, number>;
}

export interface TfidfMatrix {
  /** One row per text with at least one vocabulary term (see `rowOf`), L2-normalised. */
  csr: CsrMatrix;
  /** Column j's term (the vocabulary's terms). */
  terms: string[];
  /** Document frequency of each term. */
  df: Int32Array;
  /** CSR row of each text, or -1 when it has no vocabulary term. */
  rowOf: Int32Array;
  /** Number of texts with at least one token: the n of the idf. */
  documents: number;
  vocabulary: TfidfVocabulary;
}

/** A text's TF-IDF row: vocabulary columns, ascending, and their L2-normalised weights. */
export interface SparseRow {
  indices: Int32Array;
  values: Float32Array;
}

const TOKEN = /[\p{L}\p{N}]+/gu;

/** Lower-cased runs of Unicode letters and digits. */
export function tokenize(text: string): string[] {
  return text.toLowerCase().match(TOKEN) ?? [];
}

/** The terms of a token list: the tokens, and with ngrams 2 each pair of neighbours. */
function termsOf(tokens: string[], ngrams: 1 | 2): string[] {
  if (ngrams === 1) return tokens;
  const out = tokens.slice();
  for (let t = 1; t < tokens.length; t++) out.push(`${tokens[t - 1]} ${tokens[t]}`);
  return out;
}

/**
 * The vocabulary of `texts`: idf = ln((1 + n) / (1 + df)) + 1 with n the number of texts that
 * have a token; the terms with df >= minDf, capped at maxFeatures by df (ties broken by term, so
 * the result never depends on Map iteration or sort stability).
 */
export function fitTfidf(
  texts: readonly (string | null | undefined)[],
  opts: TfidfOptions = {},
  progress?: ProgressFn,
): { vocabulary: TfidfVocabulary; df: Int32Array; documents: number } {
  const { minDf = 2, maxFeatures = 100000, ngrams = 2 } = opts;
  if (!Number.isInteger(minDf) || minDf < 1)
    throw new RangeError(`minDf must be an integer >= 1, got ${minDf}`);
  if (!Number.isInteger(maxFeatures) || maxFeatures < 1) {
    throw new RangeError(`maxFeatures must be an integer >= 1, got ${maxFeatures}`);
  }
  if (ngrams !== 1 && ngrams !== 2) throw new RangeError(`ngrams must be 1 or 2, got ${String(ngrams)}`);
  const dfOf = new Map<string, number>();
  let documents = 0;
  for (let i = 0; i < texts.length; i++) {
    const text = texts[i];
    const tokens = typeof text === 'string' ? tokenize(text) : [];
    if (tokens.length > 0) documents++;
    for (const term of new Set(termsOf(tokens, ngrams))) dfOf.set(term, (dfOf.get(term) ?? 0) + 1);
    if ((i & 4095) === 4095) progress?.('text: tokenise', i + 1, texts.length);
  }
  progress?.('text: tokenise', texts.length, texts.length);
  const byTerm = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  let kept = [...dfOf.keys()].filter((t) => dfOf.get(t)! >= minDf);
  if (kept.length > maxFeatures) {
    kept.sort((a, b) => dfOf.get(b)! - dfOf.get(a)! || byTerm(a, b));
    kept = kept.slice(0, maxFeatures);
  }
  kept.sort(byTerm);
  const df = Int32Array.from(kept, (t) => dfOf.get(t)!);
  const idf = Float32Array.from(df, (d) => Math.log((1 + documents) / (1 + d)) + 1);
  const column = new Map(kept.map((t, j) => [t, j]));
  return { vocabulary: { terms: kept, idf, ngrams, column }, df, documents };
}

/**
 * A text's TF-IDF row against a fitted vocabulary: tf = 1 + ln(count) of each vocabulary term,
 * times its idf, L2-normalised; null when the text has no vocabulary term.
 */
export function tfidfRow(text: string | null | undefined, v: TfidfVocabulary): SparseRow | null {
  if (typeof text !== 'string') return null;
  const counts = new Map<number, number>();
  for (const term of termsOf(tokenize(text), v.ngrams)) {
    const j = v.column.get(term);
    if (j !== undefined) counts.set(j, (counts.get(j) ?? 0) + 1);
  }
  if (counts.size === 0) return null;
  const indices = Int32Array.from(counts.keys()).sort();
  const weights = Float64Array.from(indices, (j) => (1 + Math.log(counts.get(j)!)) * v.idf[j]);
  let norm = 0;
  for (const x of weights) norm += x * x;
  norm = Math.sqrt(norm);
  return { indices, values: Float32Array.from(weights, (x) => x / norm) };
}

/** The TF-IDF matrix of `texts` (see `fitTfidf` and `tfidfRow`). */
export function tfidfMatrix(
  texts: readonly (string | null | undefined)[],
  opts: TfidfOptions = {},
  progress?: ProgressFn,
): TfidfMatrix {
  const { vocabulary, df, documents } = fitTfidf(texts, opts, progress);
  const n = texts.length;
  const rowOf = new Int32Array(n).fill(-1);
  const rows: SparseRow[] = [];
  for (let i = 0; i < n; i++) {
    const row = tfidfRow(texts[i], vocabulary);
    if (row) rowOf[i] = rows.push(row) - 1;
  }
  const indptr = new Int32Array(rows.length + 1);
  rows.forEach((r, k) => (indptr[k + 1] = indptr[k] + r.indices.length));
  const indices = new Int32Array(indptr[rows.length]);
  const values = new Float32Array(indptr[rows.length]);
  rows.forEach((r, k) => {
    indices.set(r.indices, indptr[k]);
    values.set(r.values, indptr[k]);
  });
  const csr: CsrMatrix = { rows: rows.length, cols: vocabulary.terms.length, indptr, indices, values };
  return { csr, terms: vocabulary.terms, df, rowOf, documents, vocabulary };
}
