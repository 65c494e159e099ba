/** Dataset statistics, as printed by `cammsr stats` and `cammsr prepare`. */
import type { Dataset } from './dataset.js';
import { leaveOneOut } from './split.js';

export interface DatasetStats {
  name: string;
  users: number;
  items: number;
  interactions: number;
  averageLength: number;
  /** 1 − interactions / (users · items). */
  sparsity: number;
  categories: number;
  /** Fraction of items with at least one category label. */
  categoryCoverage: number;
  timestamps: boolean;
  /** Fraction of items that have each modality (id is always 1). */
  coverage: Record<string, number>;
  /** Feature width of each content modality. */
  featureDims: Record<string, number>;
  split: { trainInteractions: number; validation: number; test: number };
  checksum: string;
}

export function datasetStats(ds: Dataset): DatasetStats {
  const m = ds.manifest;
  const split = leaveOneOut(ds);
  const interactions = ds.interactions;
  const coverage: Record<string, number> = { id: 1 };
  const featureDims: Record<string, number> = {};
  for (const [k, v] of Object.entries(m.modalities)) {
    coverage[k] = v.coverage;
    featureDims[k] = v.dim;
  }
  return {
    name: m.name,
    users: ds.users,
    items: ds.items,
    interactions,
    averageLength: interactions / ds.users,
    sparsity: 1 - interactions / (ds.users * ds.items),
    categories: m.categories.names.length,
    categoryCoverage: m.categories.coverage,
    timestamps: m.timestamps,
    coverage,
    featureDims,
    split: {
      trainInteractions: split.train.reduce((s, t) => s + t.length, 0),
      validation: split.validation.length,
      test: split.test.length,
    },
    checksum: m.checksum,
  };
}
