/** Where the experiments read and write: folders of the repository, and the shared datasets. */
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs as dist/experiments/paths.js). */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The real datasets, read in place: the one folder outside the repository the experiments use. */
export const SHARED_DATASETS = process.env.CAMMSR_SHARED_DATASETS ?? resolve(REPO, '../shared/datasets');
/** The PyTorch reference's numbers that the report compares with. */
export const REFERENCE = join(REPO, 'experiments', 'reference-findings.md');
export const DEFAULT_RESULTS = join(REPO, 'experiments', 'results');
export const DEFAULT_REPORT = join(REPO, 'docs', 'results.md');
export const DEFAULT_WORK = join(REPO, 'experiments', 'work');

/** Paths shown relative to the repository when inside or beside it: commands that read the same everywhere. */
export const show = (path: string) => {
  const rel = relative(REPO, path);
  return rel.startsWith('../..') || rel === '' ? path : rel;
};
