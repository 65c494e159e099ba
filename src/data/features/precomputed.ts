/** Features computed elsewhere (e.g. by a pretrained model in Python), placed at internal item ids. */
import { readFileSync } from 'node:fs';
import type { FeatureMatrix } from '../dataset.js';
import { DataError } from '../errors.js';
import { readNpyAs } from '../npy.js';

/**
 * Precomputed features have no encoder here: a new item must bring its own vector, made the
 * way the .npy was made. What the dataset records is its width and where it came from.
 */
export interface PrecomputedEncoder {
  kind: 'precomputed';
  dim: number;
  /** The .npy file's name (without its folder). */
  source: string;
}

/** A float32 .npy matrix and a text file of item ids, one per row. */
export interface PrecomputedFeatures {
  npy: string;
  ids: string;
}

/** Rows of a precomputed feature matrix placed at internal item ids; unknown ids are reported. */
export function loadPrecomputed(
  spec: PrecomputedFeatures,
  itemIds: readonly string[],
  warnings: string[],
): FeatureMatrix {
  const { data, shape } = readNpyAs(spec.npy, Float32Array, 2);
  const ids = readFileSync(spec.ids, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  if (ids.length !== shape[0]) {
    throw new DataError(
      `${spec.ids} lists ${ids.length} ids but ${spec.npy} has ${shape[0]} rows: they must match row for row`,
    );
  }
  const dim = shape[1];
  const index = new Map(itemIds.map((id, i) => [id, i + 1]));
  const matrix = new Float32Array((itemIds.length + 1) * dim);
  const mask = new Uint8Array(itemIds.length + 1);
  let unknown = 0;
  ids.forEach((id, r) => {
    const i = index.get(id);
    if (i === undefined) {
      unknown++;
      return;
    }
    matrix.set(data.subarray(r * dim, (r + 1) * dim), i * dim);
    mask[i] = 1;
  });
  if (unknown > 0) warnings.push(`${spec.ids}: ${unknown} ids are not items of the dataset and were ignored`);
  return { matrix, dim, mask };
}
