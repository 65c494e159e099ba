/**
 * Text features: TF-IDF (as scikit-learn's TfidfVectorizer with sublinear_tf and smooth_idf)
 * reduced by truncated SVD (LSA), one L2-normalised row per internal item.
 */
import type { ProgressFn } from '../types.js';
import { csrOperator, truncatedSvd, type CsrMatrix } from './svd.js';

export interface TextFeatureOptions {
  /** Output dimension (default 128), clamped to what the data supports. */
  dim?: number;
  /** Seed of the randomized SVD (default 1). */
  seed?: number;
  /** Keep terms that occur in at least this many documents (default 2). */
  minDf?: number;
  /** Keep at most this many terms, the most frequent by document frequency (default 100000). */
  maxFeatures?: number;
  /** 1: unigrams; 2: unigrams and bigrams (default 2). */
  ngrams?: 1 | 2;
}

export interface TfidfMatrix {
  /** One row per text with at least one vocabulary term (see `rowOf`), L2-normalised. */
  csr: CsrMatrix;
  /** Column j's term; bigrams are "first second". Sorted by UTF-16 code units. */
  terms: string[];
  /** Document frequency of each term. */
  df: Int32Array;
  /** CSR row of each text, or -1 when it has no vocabulary term. */
  rowOf: Int32Array;
  /** Number of texts with at least one token: the n of the idf. */
  documents: number;
}

export interface TextFeatures {
  /** texts.length × dim, row-major; rows of items without (usable) text are all zero. */
  matrix: Float32Array;
  /** Real output dimension: min(requested, vocabulary, documents with terms, numerical rank). */
  dim: number;
  /** 1 = the item's text has at least one vocabulary term, so its row is a real feature. */
  mask: Uint8Array;
  info: {
    /** Terms kept (columns of the TF-IDF matrix). */
    vocabulary: number;
    /** Texts with at least one token. */
    documents: number;
    /** Fraction of the TF-IDF matrix's squared Frobenius norm captured by the dim components. */
    explainedVariance: number;
  };
}

const TOKEN = /[\p{L}\p{N}]+/gu;

/** Lower-cased runs of Unicode letters and digits. */
export function tokenize(text: string): string[] {
  return text.toLowerCase().match(TOKEN) ?? [];
}

/** Growable Int32 buffer (documents' term ids and counts, without one array per document). */
class IntList {
  data = new Int32Array(1024);
  length = 0;
  push(x: number): void {
    if (this.length === this.data.length) {
      const grown = new Int32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = x;
  }
}

/**
 * The TF-IDF matrix of `texts`: tf = 1 + ln(count), idf = ln((1 + n) / (1 + df)) + 1 with n
 * the number of texts that have a token, rows L2-normalised. The vocabulary is the terms with
 * df >= minDf, capped at maxFeatures by df (ties broken by term, so the result never depends
 * on Map iteration or sort stability).
 */
export function tfidfMatrix(
  texts: readonly (string | null | undefined)[],
  opts: TextFeatureOptions = {},
  progress?: ProgressFn,
): TfidfMatrix {
  const { minDf = 2, maxFeatures = 100000, ngrams = 2 } = opts;
  if (!Number.isInteger(minDf) || minDf < 1)
    throw new RangeError(`minDf must be an integer >= 1, got ${minDf}`);
  if (!Number.isInteger(maxFeatures) || maxFeatures < 1) {
    throw new RangeError(`maxFeatures must be an integer >= 1, got ${maxFeatures}`);
  }
  if (ngrams !== 1 && ngrams !== 2) throw new RangeError(`ngrams must be 1 or 2, got ${String(ngrams)}`);
  const counts = countTerms(texts, ngrams, progress);
  const vocab = vocabulary(counts, minDf, maxFeatures);
  const { csr, rowOf } = weightedRows(counts, vocab);
  return { csr, terms: vocab.terms, df: vocab.df, rowOf, documents: counts.documents };
}

/** Every term seen, its document frequency, and each text's distinct term ids with their counts. */
interface TermCounts {
  termList: string[];
  dfList: number[];
  /** Text i's terms and counts are docTerm/docCount[docPtr[i] .. docPtr[i + 1]). */
  docPtr: Int32Array;
  docTerm: IntList;
  docCount: IntList;
  /** Texts with at least one token. */
  documents: number;
}

function countTerms(
  texts: readonly (string | null | undefined)[],
  ngrams: 1 | 2,
  progress?: ProgressFn,
): TermCounts {
  const n = texts.length;
  const ids = new Map<string, number>();
  const termList: string[] = [];
  const dfList: number[] = [];
  const lastDoc: number[] = [];
  const docPtr = new Int32Array(n + 1);
  const docTerm = new IntList();
  const docCount = new IntList();
  const local = new Map<number, number>();
  let documents = 0;
  const see = (term: string, doc: number): void => {
    let id = ids.get(term);
    if (id === undefined) {
      id = termList.length;
      ids.set(term, id);
      termList.push(term);
      dfList.push(0);
      lastDoc.push(-1);
    }
    if (lastDoc[id] !== doc) {
      lastDoc[id] = doc;
      dfList[id]++;
    }
    local.set(id, (local.get(id) ?? 0) + 1);
  };
  for (let i = 0; i < n; i++) {
    const text = texts[i];
    const tokens = typeof text === 'string' ? tokenize(text) : [];
    if (tokens.length > 0) documents++;
    local.clear();
    for (let t = 0; t < tokens.length; t++) {
      see(tokens[t], i);
      if (ngrams === 2 && t > 0) see(`${tokens[t - 1]} ${tokens[t]}`, i);
    }
    for (const [id, c] of local) {
      docTerm.push(id);
      docCount.push(c);
    }
    docPtr[i + 1] = docTerm.length;
    if ((i & 4095) === 4095) progress?.('text: tokenise', i + 1, n);
  }
  progress?.('text: tokenise', n, n);
  return { termList, dfList, docPtr, docTerm, docCount, documents };
}

/** The kept terms (the matrix's columns, sorted by term) with their df and idf. */
interface Vocabulary {
  /** Term id -> column, -1 when the term is not kept. */
  column: Int32Array;
  terms: string[];
  df: Int32Array;
  idf: Float64Array;
}

function vocabulary(c: TermCounts, minDf: number, maxFeatures: number): Vocabulary {
  const { termList, dfList, documents } = c;
  const byTerm = (a: number, b: number): number =>
    termList[a] < termList[b] ? -1 : termList[a] > termList[b] ? 1 : 0;
  let kept: number[] = [];
  for (let id = 0; id < termList.length; id++) if (dfList[id] >= minDf) kept.push(id);
  if (kept.length > maxFeatures) {
    kept.sort((a, b) => dfList[b] - dfList[a] || byTerm(a, b));
    kept = kept.slice(0, maxFeatures);
  }
  kept.sort(byTerm);
  const column = new Int32Array(termList.length).fill(-1);
  const terms: string[] = new Array<string>(kept.length);
  const df = new Int32Array(kept.length);
  const idf = new Float64Array(kept.length);
  kept.forEach((id, j) => {
    column[id] = j;
    terms[j] = termList[id];
    df[j] = dfList[id];
    idf[j] = Math.log((1 + documents) / (1 + dfList[id])) + 1;
  });
  return { column, terms, df, idf };
}

/** The L2-normalised TF-IDF rows of the texts that have a kept term. */
function weightedRows(c: TermCounts, v: Vocabulary): { csr: CsrMatrix; rowOf: Int32Array } {
  const n = c.docPtr.length - 1;
  const rowOf = new Int32Array(n).fill(-1);
  const indptr = new Int32Array(n + 1);
  const cols = new IntList();
  const vals: number[] = [];
  const entries: [number, number][] = [];
  let rows = 0;
  for (let i = 0; i < n; i++) {
    entries.length = 0;
    for (let p = c.docPtr[i]; p < c.docPtr[i + 1]; p++) {
      const j = v.column[c.docTerm.data[p]];
      if (j >= 0) entries.push([j, (1 + Math.log(c.docCount.data[p])) * v.idf[j]]);
    }
    if (entries.length === 0) continue;
    entries.sort((a, b) => a[0] - b[0]);
    let norm = 0;
    for (const [, x] of entries) norm += x * x;
    norm = Math.sqrt(norm);
    for (const [j, x] of entries) {
      cols.push(j);
      vals.push(x / norm);
    }
    rowOf[i] = rows++;
    indptr[rows] = cols.length;
  }
  const csr: CsrMatrix = {
    rows,
    cols: v.terms.length,
    indptr: indptr.slice(0, rows + 1),
    indices: cols.data.slice(0, cols.length),
    values: Float32Array.from(vals),
  };
  return { csr, rowOf };
}

/**
 * LSA text features: TF-IDF (see `tfidfMatrix`), truncated SVD to `dim`, item vectors U·S,
 * each row L2-normalised. `texts[i]` is the text of internal item i (index 0 is padding).
 */
export function encodeTextTfidfSvd(
  texts: readonly (string | null | undefined)[],
  opts: TextFeatureOptions = {},
  progress?: ProgressFn,
): TextFeatures {
  const { dim = 128, seed = 1 } = opts;
  if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`dim must be an integer >= 1, got ${dim}`);
  const tf = tfidfMatrix(texts, opts, progress);
  const { csr, rowOf } = tf;
  const n = texts.length;
  const info = { vocabulary: csr.cols, documents: tf.documents, explainedVariance: 0 };
  const empty = (): TextFeatures => ({ matrix: new Float32Array(0), dim: 0, mask: new Uint8Array(n), info });
  if (csr.rows === 0 || csr.cols === 0) return empty();

  const svd = truncatedSvd(csrOperator(csr), dim, { seed, progress, stage: 'text: svd' });
  // Components past the numerical rank carry no signal (duplicate texts make this common).
  const d = svd.rank;
  if (d === 0) return empty();
  let total = 0;
  for (let p = 0; p < csr.values.length; p++) total += csr.values[p] * csr.values[p];
  let captured = 0;
  for (let j = 0; j < d; j++) captured += svd.s[j] * svd.s[j];
  info.explainedVariance = total > 0 ? Math.min(1, captured / total) : 0;

  const matrix = new Float32Array(n * d);
  const mask = new Uint8Array(n);
  const row = new Float64Array(d);
  const k = svd.k;
  for (let i = 0; i < n; i++) {
    const r = rowOf[i];
    if (r < 0) continue;
    let norm = 0;
    for (let j = 0; j < d; j++) {
      row[j] = svd.u[r * k + j] * svd.s[j];
      norm += row[j] * row[j];
    }
    if (!(norm > 0)) continue;
    norm = Math.sqrt(norm);
    for (let j = 0; j < d; j++) matrix[i * d + j] = row[j] / norm;
    mask[i] = 1;
  }
  return { matrix, dim: d, mask, info };
}
