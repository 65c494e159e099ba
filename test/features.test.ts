/**
 * Content feature encoders: randomized SVD, TF-IDF + LSA text features and pixel image
 * features (sharp-written PNG/JPEG files in a temp dir, plus missing and corrupt ones).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { Rng } from '../src/engine/rng.js';
import { kernels } from '../src/kernels/select.js';
import {
  csrOperator,
  denseOperator,
  truncatedSvd,
  type CsrMatrix,
  type SvdResult,
} from '../src/data/features/svd.js';
import { encodeTextTfidfSvd } from '../src/data/features/text.js';
import { tfidfMatrix, tokenize } from '../src/data/features/tfidf.js';
import { encodeImagesPixels } from '../src/data/features/image.js';
import { tempDir } from './temp.js';

/** n×k float64 matrix (row-major) with orthonormal columns: Gram-Schmidt twice on Gaussians. */
function orthonormalColumns(n: number, k: number, rng: Rng): Float64Array {
  const a = Float64Array.from({ length: n * k }, () => rng.normal());
  for (let j = 0; j < k; j++) {
    for (let rep = 0; rep < 2; rep++) {
      for (let i = 0; i < j; i++) {
        let d = 0;
        for (let t = 0; t < n; t++) d += a[t * k + j] * a[t * k + i];
        for (let t = 0; t < n; t++) a[t * k + j] -= d * a[t * k + i];
      }
    }
    let norm = 0;
    for (let t = 0; t < n; t++) norm += a[t * k + j] ** 2;
    for (let t = 0; t < n; t++) a[t * k + j] /= Math.sqrt(norm);
  }
  return a;
}

/** A = L·diag(s)·Rᵀ as float32 rows×cols. */
function fromFactors(
  l: Float64Array,
  s: number[],
  r: Float64Array,
  rows: number,
  cols: number,
): Float32Array {
  const k = s.length;
  const a = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      let x = 0;
      for (let t = 0; t < k; t++) x += l[i * k + t] * s[t] * r[j * k + t];
      a[i * cols + j] = x;
    }
  }
  return a;
}

/** max |XᵀX − I| for an n×k row-major matrix. */
function orthError(x: Float32Array, n: number, k: number): number {
  let worst = 0;
  for (let a = 0; a < k; a++) {
    for (let b = 0; b < k; b++) {
      let d = 0;
      for (let i = 0; i < n; i++) d += x[i * k + a] * x[i * k + b];
      worst = Math.max(worst, Math.abs(d - (a === b ? 1 : 0)));
    }
  }
  return worst;
}

/** max |A − u·diag(s)·vᵀ|. */
function reconstructionError(a: Float32Array, res: SvdResult, rows: number, cols: number): number {
  let worst = 0;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      let x = 0;
      for (let t = 0; t < res.k; t++) x += res.u[i * res.k + t] * res.s[t] * res.v[j * res.k + t];
      worst = Math.max(worst, Math.abs(x - a[i * cols + j]));
    }
  }
  return worst;
}

const bytes = (x: ArrayBufferView): Buffer => Buffer.from(x.buffer, x.byteOffset, x.byteLength);

test('truncatedSvd recovers the singular values of a known low-rank matrix, with orthonormal factors', () => {
  const rng = new Rng(1);
  const rows = 90;
  const cols = 60;
  const s = [9, 6, 4, 2.5, 1.5, 1];
  const a = fromFactors(orthonormalColumns(rows, 6, rng), s, orthonormalColumns(cols, 6, rng), rows, cols);
  const res = truncatedSvd(denseOperator(a, rows, cols), 6, { seed: 3 });
  assert.equal(res.k, 6);
  assert.equal(res.clamped, false);
  assert.equal(res.rank, 6);
  for (let j = 0; j < 6; j++) {
    assert.ok(Math.abs(res.s[j] / s[j] - 1) < 1e-3, `s[${j}] = ${res.s[j]}, expected ${s[j]}`);
  }
  assert.ok(orthError(res.u, rows, 6) < 1e-5, 'u orthonormal');
  assert.ok(orthError(res.v, cols, 6) < 1e-5, 'v orthonormal');
  assert.ok(reconstructionError(a, res, rows, cols) < 1e-4, 'u·S·vᵀ reconstructs A');
  // Sign rule: the largest-|.| entry of each column of u is positive.
  for (let j = 0; j < 6; j++) {
    let best = 0;
    for (let i = 0; i < rows; i++) if (Math.abs(res.u[i * 6 + j]) > Math.abs(best)) best = res.u[i * 6 + j];
    assert.ok(best > 0);
  }

  // Asking for more than the rank: the extra values are 0, the factors still orthonormal.
  const more = truncatedSvd(denseOperator(a, rows, cols), 10, { seed: 3, oversample: 5 });
  assert.equal(more.rank, 6);
  assert.deepEqual(Array.from(more.s.subarray(6)), [0, 0, 0, 0]);
  for (let j = 0; j < 6; j++) assert.ok(Math.abs(more.s[j] / s[j] - 1) < 1e-3);
  assert.ok(orthError(more.u, rows, 10) < 1e-5);
  assert.ok(orthError(more.v, cols, 10) < 1e-5);
});

test('truncatedSvd is deterministic for a seed and stable across seeds', () => {
  const rng = new Rng(2);
  const rows = 70;
  const cols = 45;
  const a = Float32Array.from({ length: rows * cols }, () => rng.normal());
  const op = denseOperator(a, rows, cols);
  const r1 = truncatedSvd(op, 8, { seed: 5 });
  const r2 = truncatedSvd(op, 8, { seed: 5 });
  assert.ok(bytes(r1.u).equals(bytes(r2.u)), 'u bit-identical');
  assert.ok(bytes(r1.s).equals(bytes(r2.s)), 's bit-identical');
  assert.ok(bytes(r1.v).equals(bytes(r2.v)), 'v bit-identical');
  // Full-rank k (= min dims) is exact, so another seed agrees up to rounding.
  const f1 = truncatedSvd(op, 45, { seed: 5 });
  const f2 = truncatedSvd(op, 45, { seed: 6 });
  for (let j = 0; j < 45; j++) assert.ok(Math.abs(f1.s[j] - f2.s[j]) < 1e-4 * f1.s[0]);
  assert.ok(reconstructionError(a, f1, rows, cols) < 1e-4);
});

test('truncatedSvd clamps k to min(rows, cols) and handles zero and empty matrices', () => {
  const rng = new Rng(3);
  const a = Float32Array.from({ length: 12 * 7 }, () => rng.normal());
  const res = truncatedSvd(denseOperator(a, 12, 7), 20, { seed: 1 });
  assert.equal(res.k, 7);
  assert.equal(res.requestedK, 20);
  assert.equal(res.clamped, true);
  assert.equal(res.u.length, 12 * 7);
  assert.equal(res.v.length, 7 * 7);
  assert.equal(res.s.length, 7);
  assert.ok(reconstructionError(a, res, 12, 7) < 1e-4);
  for (let j = 1; j < 7; j++) assert.ok(res.s[j] <= res.s[j - 1]);

  const zero = truncatedSvd(denseOperator(new Float32Array(30 * 20), 30, 20), 5, { seed: 1 });
  assert.equal(zero.rank, 0);
  assert.deepEqual(Array.from(zero.s), [0, 0, 0, 0, 0]);
  assert.ok(orthError(zero.u, 30, 5) < 1e-5 && orthError(zero.v, 20, 5) < 1e-5);

  const none = truncatedSvd(denseOperator(new Float32Array(0), 0, 4), 3, { seed: 1 });
  assert.equal(none.k, 0);
  assert.equal(none.clamped, true);
  assert.throws(() => denseOperator(new Float32Array(5), 2, 3), RangeError);
  assert.throws(
    () => truncatedSvd(denseOperator(Float32Array.of(1, NaN, 2, 3), 2, 2), 1, { seed: 1 }),
    /NaN/,
  );
});

test('csrOperator gives the same SVD as its dense twin', () => {
  const rng = new Rng(4);
  const rows = 80;
  const cols = 50;
  const dense = new Float32Array(rows * cols);
  const indptr = new Int32Array(rows + 1);
  const indices: number[] = [];
  const values: number[] = [];
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      if (rng.uniform() < 0.15) {
        const x = Math.fround(rng.normal());
        dense[i * cols + j] = x;
        indices.push(j);
        values.push(x);
      }
    }
    indptr[i + 1] = indices.length;
  }
  const csr: CsrMatrix = {
    rows,
    cols,
    indptr,
    indices: Int32Array.from(indices),
    values: Float32Array.from(values),
  };
  // Products first: A·X and Aᵀ·Y agree.
  const x = Float32Array.from({ length: cols * 3 }, () => rng.normal());
  const y = Float32Array.from({ length: rows * 3 }, () => rng.normal());
  const [sp, dn] = [csrOperator(csr), denseOperator(dense, rows, cols)];
  const ax = [sp.mul(x, 3), dn.mul(x, 3)];
  const aty = [sp.mulT(y, 3), dn.mulT(y, 3)];
  for (let i = 0; i < ax[0].length; i++) assert.ok(Math.abs(ax[0][i] - ax[1][i]) < 1e-4);
  for (let i = 0; i < aty[0].length; i++) assert.ok(Math.abs(aty[0][i] - aty[1][i]) < 1e-4);

  const a = truncatedSvd(sp, 6, { seed: 9, powerIters: 8 });
  const b = truncatedSvd(dn, 6, { seed: 9, powerIters: 8 });
  for (let j = 0; j < 6; j++) assert.ok(Math.abs(a.s[j] - b.s[j]) < 1e-4 * b.s[0], `s[${j}]`);
  // Same signs by the sign rule, so the leading vectors agree entry by entry.
  for (let i = 0; i < rows * 2; i++) {
    const [r, j] = [Math.floor(i / 2), i % 2];
    assert.ok(Math.abs(a.u[r * 6 + j] - b.u[r * 6 + j]) < 1e-3, `u[${r}, ${j}]`);
  }
  assert.throws(() => csrOperator({ ...csr, indptr: new Int32Array(3) }), RangeError);
});

const LIPSTICK = [
  'matte red lipstick long lasting',
  'red lipstick with a matte finish',
  'long lasting matte lipstick in a red shade',
  'creamy red lipstick long lasting color',
];
const SHAMPOO = [
  'shampoo for dry hair',
  'moisturizing shampoo and conditioner for dry hair',
  'conditioner for dry damaged hair',
  'hair shampoo for dry scalp',
];

function cosine(m: Float32Array, dim: number, i: number, j: number): number {
  let d = 0;
  for (let t = 0; t < dim; t++) d += m[i * dim + t] * m[j * dim + t];
  return d;
}

test('text features: documents sharing terms are closer than documents that do not', () => {
  const texts = [null, ...LIPSTICK, ...SHAMPOO];
  const res = encodeTextTfidfSvd(texts, { dim: 4, seed: 1 });
  assert.equal(res.dim, 4);
  assert.equal(res.matrix.length, texts.length * 4);
  assert.deepEqual(Array.from(res.mask), [0, 1, 1, 1, 1, 1, 1, 1, 1]);
  const lip = [1, 2, 3, 4];
  const sha = [5, 6, 7, 8];
  let within = Infinity;
  let across = -Infinity;
  for (const g of [lip, sha]) {
    for (const i of g) for (const j of g) if (i < j) within = Math.min(within, cosine(res.matrix, 4, i, j));
  }
  for (const i of lip) for (const j of sha) across = Math.max(across, cosine(res.matrix, 4, i, j));
  assert.ok(within > across, `least similar pair within a group ${within} vs most similar across ${across}`);
  for (const i of [...lip, ...sha]) assert.ok(Math.abs(cosine(res.matrix, 4, i, i) - 1) < 1e-5, 'unit rows');
  assert.ok(res.info.explainedVariance > 0 && res.info.explainedVariance <= 1);
  assert.equal(res.info.documents, 8);

  const again = encodeTextTfidfSvd(texts, { dim: 4, seed: 1 });
  assert.ok(bytes(res.matrix).equals(bytes(again.matrix)), 'bit-identical on a second run');
});

test('text features: missing, empty and term-less texts are masked with zero rows', () => {
  const texts = [null, ...LIPSTICK, '', undefined, '   ', '!!! ???', 'zzzunique', ...SHAMPOO];
  const res = encodeTextTfidfSvd(texts, { dim: 3 });
  const absent = [0, 5, 6, 7, 8, 9];
  for (let i = 0; i < texts.length; i++) {
    assert.equal(res.mask[i], absent.includes(i) ? 0 : 1, `mask[${i}]`);
    if (absent.includes(i)) {
      for (let t = 0; t < res.dim; t++) assert.equal(res.matrix[i * res.dim + t], 0);
    }
  }
  // "zzzunique" has a token (it counts as a document) but no term with df >= 2.
  assert.equal(res.info.documents, 9);

  const nothing = encodeTextTfidfSvd([null, '', undefined]);
  assert.equal(nothing.dim, 0);
  assert.deepEqual(Array.from(nothing.mask), [0, 0, 0]);
});

test('text features: tokens, minDf, maxFeatures, tf-idf weights and dimension clamping', () => {
  assert.deepEqual(tokenize('Crème BRÛLÉE, 2x (50ml)!'), ['crème', 'brûlée', '2x', '50ml']);
  const texts = [null, 'a b', 'a b', 'b c'];
  assert.deepEqual(tfidfMatrix(texts, { minDf: 2 }).terms, ['a', 'a b', 'b']);
  assert.deepEqual(tfidfMatrix(texts, { minDf: 2, ngrams: 1 }).terms, ['a', 'b']);
  assert.deepEqual(tfidfMatrix(texts, { minDf: 1 }).terms, ['a', 'a b', 'b', 'b c', 'c']);
  // Capped by df (b: 3), ties by term ("a" < "a b").
  assert.deepEqual(tfidfMatrix(texts, { minDf: 1, maxFeatures: 2 }).terms, ['a', 'b']);
  for (const d of tfidfMatrix([...LIPSTICK, ...SHAMPOO], { minDf: 2 }).df) assert.ok(d >= 2);
  assert.equal(encodeTextTfidfSvd(texts, { minDf: 2 }).info.vocabulary, 3);

  // sklearn: sublinear tf 1 + ln(2) for "x" (twice), idf = ln((1 + n) / (1 + df)) + 1, n = 3.
  const tf = tfidfMatrix(['x x y', 'y', 'z'], { minDf: 1, ngrams: 1 });
  assert.equal(tf.documents, 3);
  const wx = (1 + Math.log(2)) * (Math.log(4 / 2) + 1);
  const wy = 1 * (Math.log(4 / 3) + 1);
  const norm = Math.hypot(wx, wy);
  assert.deepEqual(tf.terms, ['x', 'y', 'z']);
  assert.ok(Math.abs(tf.csr.values[0] - wx / norm) < 1e-6 && Math.abs(tf.csr.values[1] - wy / norm) < 1e-6);

  // Three distinct documents support at most 3 dimensions; duplicates lower the rank further.
  const small = encodeTextTfidfSvd(['red lipstick', 'red shampoo', 'lipstick shampoo'], {
    dim: 128,
    minDf: 1,
  });
  assert.equal(small.dim, 3);
  assert.equal(small.matrix.length, 9);
  assert.ok(Math.abs(small.info.explainedVariance - 1) < 1e-5, 'full rank captures everything');
  const dup = encodeTextTfidfSvd(['red lipstick', 'red lipstick', 'shampoo', 'shampoo'], { minDf: 1 });
  assert.equal(dup.dim, 2);
});

/** Raw RGB(A) pixels -> image file through sharp. */
async function writeRaw(
  path: string,
  w: number,
  h: number,
  channels: 1 | 3 | 4,
  pixel: (x: number, y: number) => number[],
): Promise<void> {
  const data = Buffer.alloc(w * h * channels);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set(pixel(x, y), (y * w + x) * channels);
  const img = sharp(data, { raw: { width: w, height: h, channels } });
  await (path.endsWith('.png') ? img.png() : img.jpeg({ quality: 95 })).toFile(path);
}

test('image features: failures recorded, mask right, unit-scale rows, colours group, deterministic', async () => {
  const dir = tempDir('img');
  try {
    const rng = new Rng(8);
    const p = (name: string): string => join(dir, name);
    await writeRaw(p('red1.png'), 40, 60, 3, () => [220, 30, 30]);
    await writeRaw(p('red2.jpg'), 64, 64, 3, () => [225, 25, 35]);
    await writeRaw(p('blue.png'), 50, 50, 3, () => [30, 40, 210]);
    await writeRaw(p('green.jpg'), 48, 64, 3, () => [20, 200, 40]);
    await writeRaw(p('hgrad.png'), 64, 32, 3, (x) => [x * 4, x * 4, x * 4]);
    await writeRaw(p('vgrad.jpg'), 32, 64, 3, (_, y) => [255 - y * 4, 60, y * 4]);
    await writeRaw(p('noise.png'), 32, 32, 3, () => [rng.int(256), rng.int(256), rng.int(256)]);
    // Fully transparent left half: flattened onto white.
    await writeRaw(p('alpha.png'), 32, 32, 4, (x) => [200, 100, 0, x < 16 ? 0 : 255]);
    await writeRaw(p('grey.png'), 30, 30, 1, (x, y) => [(x * y) % 256]);
    writeFileSync(p('corrupt.jpg'), Buffer.from(Array.from({ length: 2000 }, () => rng.int(256))));
    mkdirSync(p('folder.jpg'));
    const paths = [
      null, // 0: padding
      p('red1.png'), // 1
      p('red2.jpg'), // 2
      p('blue.png'), // 3
      p('green.jpg'), // 4
      p('missing.jpg'), // 5
      p('hgrad.png'), // 6
      p('corrupt.jpg'), // 7
      undefined, // 8
      p('vgrad.jpg'), // 9
      '', // 10
      p('noise.png'), // 11
      p('alpha.png'), // 12
      p('folder.jpg'), // 13
      p('grey.png'), // 14
    ];
    const present = [1, 2, 3, 4, 6, 9, 11, 12, 14];
    const seen: number[] = [];
    const res = await encodeImagesPixels(paths, { dim: 16, seed: 2 }, (stage, done, total) => {
      if (stage === 'images: decode') seen.push(done, total);
    });
    assert.deepEqual(seen.slice(-2), [12, 12], 'progress reaches every path given');
    assert.deepEqual(
      res.failures.map((f) => [f.index, f.path]),
      [
        [5, p('missing.jpg')],
        [7, p('corrupt.jpg')],
        [13, p('folder.jpg')],
      ],
    );
    assert.equal(res.failures[0].reason, 'file not found');
    assert.ok(res.failures[1].reason.length > 0 && res.failures[1].reason !== 'file not found');
    assert.equal(res.failures[2].reason, 'is a directory');
    for (let i = 0; i < paths.length; i++)
      assert.equal(res.mask[i], present.includes(i) ? 1 : 0, `mask[${i}]`);

    // 9 images: centring leaves at most 8 PCA components, plus 48 histogram bins.
    assert.equal(res.info.images, 9);
    assert.equal(res.info.pcaDim, 8);
    assert.equal(res.dim, 8 + 48);
    assert.equal(res.matrix.length, paths.length * res.dim);
    const d = res.dim;
    const row = (i: number): Float32Array => res.matrix.subarray(i * d, (i + 1) * d);
    for (let i = 0; i < paths.length; i++) {
      if (!present.includes(i))
        assert.ok(
          row(i).every((x) => x === 0),
          `row ${i} is zero`,
        );
    }
    // z-scored columns / √d: the mean squared row norm is (non-constant columns) / d, which is
    // 1 when no column is constant (real collections); here many histogram bins are empty.
    let live = 0;
    for (let j = 0; j < d; j++) if (present.some((i) => res.matrix[i * d + j] !== 0)) live++;
    const sq = present.map((i) => row(i).reduce((s, x) => s + x * x, 0));
    const meanSq = sq.reduce((a, b) => a + b, 0) / present.length;
    assert.ok(Math.abs(meanSq - live / d) < 1e-4, `mean squared norm ${meanSq} vs ${live}/${d}`);
    for (const s of sq) assert.ok(s > 0.05 && s < 4, `squared norm ${s}`);

    const dist = (i: number, j: number): number => Math.hypot(...row(i).map((x, t) => x - row(j)[t]));
    assert.ok(dist(1, 2) < dist(1, 3) && dist(1, 2) < dist(1, 4), 'red closer to red than to blue or green');
    assert.ok(dist(1, 2) < dist(3, 4));

    const again = await encodeImagesPixels(paths, { dim: 16, seed: 2, concurrency: 1 });
    assert.ok(bytes(res.matrix).equals(bytes(again.matrix)), 'bit-identical, whatever the concurrency');
    assert.deepEqual(again.failures, res.failures);

    const failed = await encodeImagesPixels([null, p('missing.jpg'), p('corrupt.jpg')]);
    assert.equal(failed.failures.length, 2);
    assert.deepEqual(Array.from(failed.mask), [0, 0, 0]);
    assert.equal(failed.dim, 48);
    assert.ok(failed.matrix.every((x) => x === 0));
    assert.equal(failed.info.images, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('truncated SVD gives the same bits whatever the kernel thread count, and restores it', () => {
  const K = kernels();
  const rng = new Rng(9);
  const [rows, cols] = [700, 300];
  const a = Float32Array.from({ length: rows * cols }, () => rng.normal());
  const before = K.threads();
  const run = (threads: number) => {
    K.setThreads(threads);
    const set = K.threads(); // 1 on backends without threads
    const r = truncatedSvd(denseOperator(a, rows, cols), 16, { seed: 3 });
    assert.equal(K.threads(), set, 'the thread count is restored');
    return r;
  };
  try {
    const one = run(1);
    const two = run(2);
    assert.deepEqual(two.s, one.s);
    assert.deepEqual(two.u, one.u);
  } finally {
    K.setThreads(before);
  }
});
