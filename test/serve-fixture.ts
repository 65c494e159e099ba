/** A small synthetic dataset, trained runs and their bundles, shared by the serving tests. */
import { join } from 'node:path';
import { prepareDataset } from '../src/data/prepare.js';
import { exportBundle } from '../src/serve/bundle.js';
import { resolveConfig } from '../src/config/index.js';
import { train } from '../src/train/trainer.js';
import type { BundleItems } from '../src/serve/bundle.js';
import type { ItemChange } from '../src/serve/catalog-growth.js';
import { ChangeLog } from '../src/serve/change-log.js';
import { tempDir } from './temp.js';

export interface ServeFixture {
  root: string;
  data: string;
  runs: Record<'cammsr' | 'sasrec' | 'popularity', string>;
  bundles: Record<'cammsr' | 'sasrec' | 'popularity', string>;
}

/** Prepares, trains (one epoch, tiny models) and exports; each test file builds its own. */
export async function serveFixture(prefix: string): Promise<ServeFixture> {
  const root = tempDir(prefix);
  const data = join(root, 'synth');
  await prepareDataset({ format: 'synth', out: data, synth: { users: 120, items: 48 }, seed: 4 });
  const runs = {} as ServeFixture['runs'];
  const bundles = {} as ServeFixture['bundles'];
  for (const model of ['cammsr', 'sasrec', 'popularity'] as const) {
    const config = resolveConfig({
      cli: { model, seed: 5 },
      overrides: ['dim=16', 'ffnDim=32', 'layers=1', 'maxLen=12', 'train.epochs=1', 'train.batchSize=64'],
    });
    runs[model] = join(root, `run-${model}`);
    await train({ data, out: runs[model], config });
    bundles[model] = join(root, `bundle-${model}`);
    exportBundle(runs[model], bundles[model]);
  }
  return { root, data, runs, bundles };
}

/** An item added with item 1's text (a content change: the model's item table is rebuilt), as id `id`. */
export function addedWithTextOfItem1(bundle: BundleItems, id = 'grown'): ItemChange {
  const text = bundle.data.text!;
  return {
    id,
    info: { ...bundle.catalog.item(1), id },
    text: text.matrix.slice(text.dim, 2 * text.dim),
    withdrawn: false,
  };
}

/** A change log of these changes, in this order (what a generation is built with). */
export function changeLog(changes: readonly ItemChange[] = []): ChangeLog {
  return ChangeLog.of(changes.map((c) => [c.id, c]));
}
