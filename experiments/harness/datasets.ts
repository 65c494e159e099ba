/** Preparing the datasets the runs train on, once each, and recording them in the results tree. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Dataset, type Manifest } from '../../src/data/dataset.js';
import { prepareDataset } from '../../src/data/prepare.js';
import { datasetStats } from '../../src/data/stats.js';
import { SHARED_DATASETS, show } from '../paths.js';
import { prepareCommand, prepareOptions } from './commands.js';
import type { DatasetPlan, VariantPlan } from './plan-shape.js';
import { encoderKey, preparedName } from './plan-rules.js';
import { datasetRecordFile, readJson, type DatasetRecord } from './results-tree.js';
import { datasetDir, type Paths } from './work-tree.js';

export const readManifest = (dir: string): Manifest =>
  JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));

/**
 * Prepares the dataset a variant needs unless it is cached; records its statistics and checksum.
 * A dataset whose checksum differs from the recorded one is an error unless `newData` (the
 * `--new-data` option) accepts it: runs on other features would not compare with those recorded.
 */
export async function ensureDataset(
  p: Paths,
  ds: DatasetPlan,
  v: VariantPlan,
  newData = false,
): Promise<string> {
  const o = prepareOptions(ds, v, datasetDir(p, ds, v));
  let prepared: { warnings: string[]; seconds: number } | null = null;
  if (!existsSync(join(o.out, 'manifest.json'))) {
    if (o.input && !existsSync(SHARED_DATASETS))
      throw new Error(`the shared datasets are not at ${SHARED_DATASETS} (set CAMMSR_SHARED_DATASETS)`);
    console.log(`preparing ${preparedName(ds, v)}: ${prepareCommand(o)}`);
    const t0 = performance.now();
    const r = await prepareDataset(o);
    prepared = { warnings: r.warnings, seconds: (performance.now() - t0) / 1000 };
    for (const w of r.warnings) console.log(`  warning: ${w}`);
    console.log(`  prepared in ${prepared.seconds.toFixed(1)} s, checksum ${r.manifest.checksum}`);
  }
  recordDataset(p, ds, v, prepared, newData);
  return o.out;
}

/** Writes dataset-<key>.json when the prepared dataset is new to the results tree or changed. */
function recordDataset(
  p: Paths,
  ds: DatasetPlan,
  v: VariantPlan,
  prepared: { warnings: string[]; seconds: number } | null,
  newData: boolean,
): void {
  const o = prepareOptions(ds, v, datasetDir(p, ds, v));
  const record = datasetRecordFile(p.results, ds.name, encoderKey(v));
  const manifest = readManifest(o.out);
  const prev = readJson<DatasetRecord>(record);
  if (prev && prev.checksum === manifest.checksum) return;
  if (prev && !newData)
    throw new Error(
      `${preparedName(ds, v)} in ${show(o.out)} has checksum ${manifest.checksum.slice(0, 12)}, but ${show(record)} ` +
        `records ${prev.checksum.slice(0, 12)}, the dataset its runs trained on: new runs would not compare with them. ` +
        `Prepare that dataset again into ${show(o.out)} with the code and CAMMSR_THREADS that docs/results.md ` +
        `("Prepared with") names for it, or pass --new-data to record the new checksum ` +
        `(the report then lists the runs on the old one)`,
    );
  if (prev)
    console.log(
      `  warning: ${preparedName(ds, v)} now has checksum ${manifest.checksum.slice(0, 12)}, the results recorded ${prev.checksum.slice(0, 12)} (--new-data: the record is replaced)`,
    );
  const rec: DatasetRecord = {
    key: preparedName(ds, v),
    dataset: ds.name,
    text: v.text ?? 'tfidf',
    image: v.image ?? 'pixels',
    command: prepareCommand(o),
    checksum: manifest.checksum,
    stats: datasetStats(Dataset.load(o.out)),
    encoders: Object.fromEntries(
      Object.entries(manifest.modalities).map(([m, info]) => [
        m,
        { encoder: info.encoder, dim: info.dim, coverage: info.coverage },
      ]),
    ),
    warnings: prepared?.warnings ?? null,
    prepared: new Date().toISOString(),
    seconds: prepared?.seconds ?? null,
  };
  mkdirSync(dirname(record), { recursive: true });
  writeFileSync(record, JSON.stringify(rec, null, 2) + '\n');
}
