/**
 * Seeded k-means (k-means++ seeding, then Lloyd's iterations) over rows of a feature matrix, and
 * each row's nearest centroids: MMSR's content clusters (a modality's items grouped into C
 * clusters, each item linked to its linkK nearest).
 */
import { Rng } from '../engine/rng.js';
import { kernels } from '../kernels/select.js';

export interface KMeansResult {
  /** [k × dim] centroids. */
  centroids: Float32Array;
  /** Cluster of each clustered row. */
  assignment: Int32Array;
  iterations: number;
}

/** Squared distance between row a of x and row b of y (both `dim` wide). */
function distance2(x: Float32Array, a: number, y: Float32Array, b: number, dim: number): number {
  let s = 0;
  for (let e = 0; e < dim; e++) {
    const d = x[a * dim + e] - y[b * dim + e];
    s += d * d;
  }
  return s;
}

/** k-means of the rows of `x` [rows × dim]; deterministic for a seed. */
export function kMeans(
  x: Float32Array,
  rows: number,
  dim: number,
  k: number,
  seed: number,
  maxIterations = 100,
): KMeansResult {
  if (!(Number.isInteger(k) && k >= 1 && k <= rows))
    throw new RangeError(`kMeans: k must be an integer in [1, ${rows}] (the rows), got ${k}`);
  const rng = new Rng(seed);
  const centroids = new Float32Array(k * dim);
  // k-means++: the first centre uniformly, each next one with probability ∝ squared distance.
  const nearest = new Float64Array(rows).fill(Infinity);
  let pick = rng.int(rows);
  for (let c = 0; c < k; c++) {
    centroids.set(x.subarray(pick * dim, (pick + 1) * dim), c * dim);
    let total = 0;
    for (let r = 0; r < rows; r++) {
      nearest[r] = Math.min(nearest[r], distance2(x, r, centroids, c, dim));
      total += nearest[r];
    }
    let u = rng.uniform() * total;
    pick = 0;
    while (pick < rows - 1 && u >= nearest[pick]) u -= nearest[pick++];
  }
  const assignment = new Int32Array(rows).fill(-1);
  let iterations = 0;
  const products = new Float32Array(rows * k);
  for (; iterations < maxIterations; iterations++) {
    // ‖x − c‖² = ‖x‖² − 2·x·c + ‖c‖²: the row's term does not change its nearest centre, and the
    // products are one GEMM (the assignment step is most of k-means' time).
    kernels().sgemm(false, true, rows, k, dim, 1, x, dim, centroids, dim, 0, products, k);
    const norms = Array.from({ length: k }, (_, c) => {
      let n = 0;
      for (let e = 0; e < dim; e++) n += centroids[c * dim + e] ** 2;
      return n;
    });
    let moved = 0;
    for (let r = 0; r < rows; r++) {
      let c = 0;
      for (let j = 1; j < k; j++)
        if (norms[j] - 2 * products[r * k + j] < norms[c] - 2 * products[r * k + c]) c = j;
      if (c === assignment[r]) continue;
      assignment[r] = c;
      moved++;
    }
    if (moved === 0) break;
    const sums = new Float64Array(k * dim);
    const counts = new Int32Array(k);
    for (let r = 0; r < rows; r++) {
      counts[assignment[r]]++;
      for (let e = 0; e < dim; e++) sums[assignment[r] * dim + e] += x[r * dim + e];
    }
    // An emptied cluster keeps its centre.
    for (let c = 0; c < k; c++)
      if (counts[c] > 0) for (let e = 0; e < dim; e++) centroids[c * dim + e] = sums[c * dim + e] / counts[c];
  }
  return { centroids, assignment, iterations };
}

/** The `count` centroids closest to row r of x, nearest first (ties to the lower index). */
export function nearestCentroids(
  x: Float32Array,
  r: number,
  centroids: Float32Array,
  k: number,
  dim: number,
  count: number,
): number[] {
  const d = Array.from({ length: k }, (_, c) => distance2(x, r, centroids, c, dim));
  return Array.from({ length: k }, (_, c) => c)
    .sort((a, b) => d[a] - d[b] || a - b)
    .slice(0, Math.min(count, k));
}

/**
 * Each item's `linkK` nearest clusters of one modality's features (MMSR's links): k-means with
 * `clusters` centres over the items that have the modality; items without it link to none.
 */
export function clusterLinks(
  features: { dim: number; matrix: Float32Array; mask: Uint8Array },
  items: number,
  clusters: number,
  linkK: number,
  seed: number,
): { centroids: Float32Array; links: number[][] } {
  const { dim, matrix, mask } = features;
  const present: number[] = [];
  for (let i = 1; i <= items; i++) if (mask[i]) present.push(i);
  const x = new Float32Array(present.length * dim);
  present.forEach((i, r) => x.set(matrix.subarray(i * dim, (i + 1) * dim), r * dim));
  const k = Math.min(clusters, present.length);
  const { centroids } = kMeans(x, present.length, dim, k, seed);
  const links: number[][] = Array.from({ length: items + 1 }, () => []);
  present.forEach((i, r) => (links[i] = nearestCentroids(x, r, centroids, k, dim, linkK)));
  return { centroids, links };
}
