/**
 * The generator a model draws its initial weights, dropout masks and training-time masks from:
 * seeded from the configuration, so that a run is reproducible; or, for a model built only to
 * receive loaded weights (a bundle being served), one that draws nothing (engine/rng.ts).
 */
import { NoDrawRng, Rng } from '../engine/rng.js';

export interface ModelSeed {
  seed: number;
  /** The model is built to load trained weights right away: skip drawing initial ones. */
  loadsWeights?: boolean;
}

export function modelRng(c: ModelSeed): Rng {
  return c.loadsWeights ? new NoDrawRng() : new Rng(c.seed);
}
