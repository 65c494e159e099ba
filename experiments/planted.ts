/**
 * `npm run bench:planted`: trains CAMMSR on the synthetic dataset with planted category ->
 * modality structure and prints, per category, the mean learned modality weights of the last
 * epoch next to the planted driving modality (experiments/instruments/planted.ts says what "recovered" means).
 * Used to compare weighting options, e.g. the spec's literal form against the defaults:
 *
 *   npm run bench:planted -- --set cammsr.viewNorm=false,cammsr.viewLoss=0,cammsr.detachWeights=false
 *
 * `npm run bench:planted -- --help` lists the options.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatTable } from '../src/report/table.js';
import { Dataset } from '../src/data/dataset.js';
import type { PlantedStructure } from '../src/data/importers/synth.js';
import { prepareDataset } from '../src/data/prepare.js';
import { checkPlantedWeights, type ModalityWeights } from './instruments/planted.js';
import { resolveConfig } from '../src/config/index.js';
import { train } from '../src/train/trainer.js';
import { machine, parseArgs } from '../bench/common.js';

const args = parseArgs(
  process.argv.slice(2),
  {
    command: 'npm run bench:planted --',
    about:
      'Trains CAMMSR on the synthetic dataset with planted category -> modality structure and prints the learned modality weights per category next to the planted driving modality.',
  },
  {
    users: ['number', 'synthetic users (default 1000; 1000 items)'],
    epochs: ['number', 'training epochs (default 10)'],
    batch: ['number', 'batch size (default 64: the small dataset needs enough steps per epoch)'],
    seeds: ['string', 'training seeds, e.g. 1,2 (default 1); the dataset always uses seed 1'],
    set: ['string', 'config overrides a=1,b=2 (docs/config.md)'],
    json: ['flag', 'one JSON object as the last line'],
  },
);
const users = (args.users as number) ?? 1000;
const epochs = (args.epochs as number) ?? 10;
const batch = (args.batch as number) ?? 64;
const seeds = String(args.seeds ?? '1')
  .split(',')
  .map(Number);
const sets = args.set ? String(args.set).split(',') : [];

const root = mkdtempSync(join(tmpdir(), 'cammsr-planted-'));
try {
  const data = join(root, 'synth');
  await prepareDataset({ format: 'synth', out: data, synth: { users, items: 1000 }, seed: 1 });
  const manifest = Dataset.load(data).manifest;
  const names = manifest.categories!.names;
  const planted = (manifest.extra as { planted: PlantedStructure }).planted;

  const perSeed: (ReturnType<typeof checkPlantedWeights> & { seed: number; validationNdcg10: number })[] = [];
  for (const seed of seeds) {
    const config = resolveConfig({
      cli: { model: 'cammsr', seed },
      overrides: [`train.epochs=${epochs}`, `train.batchSize=${batch}`, 'train.patience=0', ...sets],
    });
    const out = join(root, `run-${seed}`);
    const metrics = await train({ data, out, config });
    const log = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n');
    const last = JSON.parse(log[log.length - 1]) as {
      diagnostics: { categoryWeights: (ModalityWeights | null)[] };
    };
    const check = checkPlantedWeights(names, planted, last.diagnostics.categoryWeights);
    perSeed.push({ seed, validationNdcg10: metrics.validation['NDCG@10'], ...check });
    process.stderr.write(`seed ${seed}: ${check.recovered}/${check.total} categories recovered\n`);
  }

  const f = (x: number) => x.toFixed(3);
  const first = perSeed[0].rows;
  const mean = (c: number, m: keyof ModalityWeights) =>
    perSeed.reduce((s, p) => s + p.rows[c][m], 0) / perSeed.length;
  console.log(
    formatTable(
      ['category', 'planted', 'w_id', 'w_text', 'w_image', 'recovered (seeds)'],
      first.map((r, c) => [
        r.category,
        r.driving,
        f(mean(c, 'id')),
        f(mean(c, 'text')),
        f(mean(c, 'image')),
        `${perSeed.filter((p) => p.rows[c].recovered).length}/${perSeed.length}`,
      ]),
    ),
  );
  const recovered = perSeed.reduce((s, p) => s + p.recovered, 0);
  const total = perSeed.reduce((s, p) => s + p.total, 0);
  console.log(
    `\n${recovered}/${total} (category, seed) pairs recovered; ${users} users, ${epochs} epochs, ` +
      `batch ${batch}, overrides: ${sets.join(' ') || 'none'}`,
  );
  if (args.json) {
    console.log(
      JSON.stringify({
        users,
        epochs,
        batch,
        overrides: sets,
        recovered,
        total,
        seeds: perSeed,
        machine: machine(),
      }),
    );
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
