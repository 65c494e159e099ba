/** A dataset manifest for tests that write a dataset by hand (writeDataset). */
import { DATASET_FORMAT, type Manifest } from '../src/data/dataset.js';

type Draft = Omit<Manifest, 'files' | 'checksum'>;

export function testManifest(o: {
  name: string;
  counts: Draft['counts'];
  timestamps: boolean;
  modalities?: Draft['modalities'];
  categories?: Pick<Draft['categories'], 'names' | 'coverage'>;
}): Draft {
  return {
    format: DATASET_FORMAT,
    formatVersion: 1,
    cammsrVersion: 'test',
    name: o.name,
    source: 'test',
    counts: o.counts,
    timestamps: o.timestamps,
    modalities: o.modalities ?? {},
    categories: {
      names: o.categories?.names ?? [],
      namesKnown: true,
      hierarchical: false,
      leafOnly: false,
      coverage: o.categories?.coverage ?? 0,
    },
    split: {
      protocol: 'leave-one-out',
      test: 'last item of each sequence',
      validation: 'second-to-last item',
      minLengthForEvaluation: 3,
    },
    preprocessing: {
      dedupe: 'exact',
      kcore: { user: 0, item: 0 },
      removed: { duplicates: 0, kcore: 0, kcoreRounds: 0 },
      skips: { records: o.counts.interactions, skipped: 0, reasons: {}, examples: [] },
    },
    extra: {},
  };
}
