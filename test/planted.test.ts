/**
 * The synthetic dataset plants which modality identifies each category (text-driven categories
 * own their text topics, image-driven ones their visual styles, ID-driven ones show nothing in
 * content). CAMMSR's category-guided modality weights, averaged per category over the training
 * positions of the last epoch, must recover that pattern.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Dataset } from '../src/data/dataset.js';
import type { PlantedStructure } from '../src/data/importers/synth.js';
import { resolveConfig } from '../src/config/index.js';
import { train } from '../src/train/trainer.js';
import { checkPlantedWeights, type ModalityWeights } from '../experiments/instruments/planted.js';
import { sharedSynthDataset } from './synth-fixture.js';
import { tempDir } from './temp.js';

test('learned per-category modality weights recover the planted category -> modality pattern', async () => {
  const root = tempDir('planted');
  const data = await sharedSynthDataset();
  // The dataset is small: batches of 64 give the category views enough steps in 10 epochs.
  const config = resolveConfig({
    cli: { model: 'cammsr', seed: 1 },
    overrides: ['train.epochs=10', 'train.batchSize=64', 'train.patience=0'],
  });
  await train({ data, out: join(root, 'run'), config });

  const manifest = Dataset.load(data).manifest;
  const planted = (manifest.extra as { planted: PlantedStructure }).planted;
  const log = readFileSync(join(root, 'run', 'log.jsonl'), 'utf8')
    .trim()
    .split('\n');
  const last = JSON.parse(log[log.length - 1]) as {
    diagnostics: { categoryWeights: (ModalityWeights | null)[] };
  };
  const check = checkPlantedWeights(manifest.categories!.names, planted, last.diagnostics.categoryWeights);
  const shown = check.rows
    .map(
      (r) =>
        `${r.category} (${r.driving}): id ${r.id.toFixed(2)} text ${r.text.toFixed(2)} image ${r.image.toFixed(2)}`,
    )
    .join('\n');
  assert.equal(check.total, 8, shown);
  assert.equal(
    check.recovered,
    check.total,
    `every category's weights should follow the planted modality\n${shown}`,
  );
});
