/** Seeded k-means and nearest centroids (MMSR's content clusters). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/engine/rng.js';
import { clusterLinks, kMeans, nearestCentroids } from '../src/models/kmeans.js';

/** Three well-separated blobs of 20 points in 2-D around (0,0), (10,0), (0,10). */
function blobs(seed: number): Float32Array {
  const rng = new Rng(seed);
  const centres = [
    [0, 0],
    [10, 0],
    [0, 10],
  ];
  return Float32Array.from(
    { length: 60 * 2 },
    (_, i) => centres[Math.floor(i / 40)][i % 2] + rng.normal() * 0.5,
  );
}

test('k-means finds separated blobs, deterministically for a seed', () => {
  const x = blobs(2);
  const a = kMeans(x, 60, 2, 3, 7);
  // Every blob is one cluster, and the three clusters differ.
  const label = [0, 20, 40].map((s) => a.assignment[s]);
  assert.equal(new Set(label).size, 3);
  for (let r = 0; r < 60; r++) assert.equal(a.assignment[r], label[Math.floor(r / 20)], `row ${r}`);
  // Centroids are the blob means.
  for (let b = 0; b < 3; b++) {
    const c = label[b];
    const mean = [0, 1].map(
      (e) => Array.from({ length: 20 }, (_, i) => x[(b * 20 + i) * 2 + e]).reduce((s, v) => s + v, 0) / 20,
    );
    assert.ok(
      Math.abs(a.centroids[c * 2] - mean[0]) < 1e-4 && Math.abs(a.centroids[c * 2 + 1] - mean[1]) < 1e-4,
    );
  }
  assert.deepEqual(kMeans(x, 60, 2, 3, 7), a);
  assert.throws(() => kMeans(x, 60, 2, 61, 1), /k must be an integer in \[1, 60\]/);
});

test('nearest centroids: closest first, ties to the lower index, at most k', () => {
  const centroids = Float32Array.of(0, 0, 3, 0, -3, 0, 1, 1);
  const x = Float32Array.of(0.5, 0, 0, 0);
  assert.deepEqual(nearestCentroids(x, 0, centroids, 4, 2, 3), [0, 3, 1]);
  // (0, 0): centroid 0 at 0, then 3 at √2, then 1 and 2 tied at 3 → the lower index first.
  assert.deepEqual(nearestCentroids(x, 1, centroids, 4, 2, 4), [0, 3, 1, 2]);
  assert.deepEqual(nearestCentroids(x, 1, centroids, 4, 2, 9), [0, 3, 1, 2]);
});

test('cluster links: the nearest clusters of each item that has the modality, none for the others', () => {
  const x = blobs(5);
  // Items 1..60 carry the blob points; items 61 and 62 lack the modality.
  const matrix = new Float32Array(63 * 2);
  matrix.set(x, 2);
  const mask = Uint8Array.from({ length: 63 }, (_, i) => (i >= 1 && i <= 60 ? 1 : 0));
  const { centroids, links } = clusterLinks({ dim: 2, matrix, mask }, 62, 3, 2, 1);
  assert.equal(centroids.length, 6);
  assert.equal(links.length, 63);
  assert.deepEqual(links[0], []);
  assert.deepEqual(links[61], []);
  assert.deepEqual(links[62], []);
  // The first link is the item's own blob's cluster, the same for all 20 items of a blob.
  for (let b = 0; b < 3; b++) {
    const own = links[1 + b * 20][0];
    for (let i = 1 + b * 20; i <= (b + 1) * 20; i++) {
      assert.equal(links[i].length, 2);
      assert.equal(links[i][0], own, `item ${i}`);
    }
  }
  // Fewer items than clusters: one cluster per item at most.
  assert.equal(
    clusterLinks({ dim: 2, matrix, mask: Uint8Array.of(0, 1, 1) }, 2, 30, 3, 1).centroids.length,
    4,
  );
});
