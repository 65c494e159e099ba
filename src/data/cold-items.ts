/**
 * Which items the cold-start protocol holds out: new items, as a catalog grows. With timestamps
 * they are the items whose first interaction comes last in the log (ties broken by the higher
 * id); without, a seeded random set. The set depends on the dataset and the fraction (and the
 * seed without timestamps), never on the model or its seed, so every model of a comparison
 * sees the same held-out items.
 */
import { Rng } from '../engine/rng.js';
import type { Dataset } from './dataset.js';
import { DataError } from './errors.js';

/** 1 for each held-out item, index = item id (0 = padding, never held out). */
export function selectColdItems(ds: Dataset, fraction: number, seed: number): Uint8Array {
  if (!(fraction > 0 && fraction <= 0.5))
    throw new DataError(`coldItems must be in (0, 0.5], got ${fraction}`);
  const N = ds.items;
  const count = Math.round(fraction * N);
  if (count < 1) throw new DataError(`coldItems ${fraction} of ${N} items holds out no item`);
  const order = ds.manifest.timestamps ? newestFirst(ds) : seededShuffle(N, seed);
  const cold = new Uint8Array(N + 1);
  for (let k = 0; k < count; k++) cold[order[k]] = 1;
  return cold;
}

/** Item ids by their first interaction, latest first. */
function newestFirst(ds: Dataset): Int32Array {
  const N = ds.items;
  const first = new Float64Array(N + 1).fill(Infinity);
  for (let u = 1; u <= ds.users; u++) {
    const n = ds.sequenceLength(u);
    const items = ds.sequenceSlice(u, 0, n);
    const times = ds.timesSlice(u, 0, n)!;
    for (let r = 0; r < n; r++) if (times[r] < first[items[r]]) first[items[r]] = times[r];
  }
  const ids = Int32Array.from({ length: N }, (_, i) => i + 1);
  return ids.sort((a, b) => (first[b] !== first[a] ? first[b] - first[a] : b - a));
}

function seededShuffle(N: number, seed: number): Int32Array {
  const ids = Int32Array.from({ length: N }, (_, i) => i + 1);
  new Rng(seed * 7907 + 11).shuffle(ids);
  return ids;
}
