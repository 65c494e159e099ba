/** The real datasets beside the repository (../shared/datasets), read in place, never copied in. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareDataset } from '../src/data/prepare.js';

export const SHARED =
  process.env.CAMMSR_SHARED_DATASETS ?? fileURLToPath(new URL('../../../shared/datasets', import.meta.url));

/** A skip reason when the folder is missing (never on CI, which must have it: the test then fails). */
export const skipWithoutShared =
  !existsSync(SHARED) && process.env.CI !== 'true' ? `no shared datasets at ${SHARED}` : false;

/** MovieLens-100K with its posters, iterative 5-core, prepared into `out`. */
export function prepareMovielens100k(out: string) {
  const d = join(SHARED, 'movielens-100k');
  return prepareDataset({
    format: 'recbole',
    input: d,
    images: join(d, 'posters'),
    kcore: { user: 5, item: 5 },
    out,
  });
}
