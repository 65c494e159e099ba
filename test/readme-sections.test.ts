/**
 * The README's shell blocks after the quick start, run as written: every `npx cammsr` line of
 * "Getting data", "Training and evaluating", "Reports and serving" and "Preparing data", each
 * in a fresh folder holding small files in the layout the line names (test/dataset-layouts.ts;
 * never the real datasets). The network is a file server on loopback, and a test fails when a
 * section gains a block no test runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  expandHome,
  quickstartSteps,
  readmeSectionsWithCommands,
  readmeSteps,
  type ReadmeStep,
} from '../bench/readme-steps.js';
import { Dataset } from '../src/data/dataset.js';
import { catalogEntry } from '../src/data/download/catalog.js';
import { prepareDataset } from '../src/data/prepare.js';
import {
  writeAmazon2014,
  writeEventTable,
  writeGroupLens100k,
  writeGroupLens1m,
  writeRecbole,
  writeS3rec,
} from './dataset-layouts.js';
import { flagValue, refusedDownload, runOk, serveOnce, withEpochBudget } from './readme-run.js';
import { tempDir } from './temp.js';

test('every README section with cammsr commands is run by a test', () => {
  assert.deepEqual(readmeSectionsWithCommands(), [
    'Quick start', // test/readme-quickstart.test.ts; its `demo --quick` is test/cli-demo.test.ts's
    'Set-up on a fresh machine',
    'Getting data', // the tests below
    'Training and evaluating',
    'Reports and serving',
    'Preparing data',
  ]);
  // The set-up block's one cammsr command, the full demo, is the only one no test runs: it
  // trains nine models for some two and a half minutes, on the code path of `demo --quick`.
  assert.deepEqual(
    readmeSteps('Set-up on a fresh machine').map((s) => s.args),
    [['demo']],
  );
});

/** The commands (first words) of the steps, to check a block is the one a test expects. */
const commands = (steps: ReadmeStep[]) => steps.map((s) => s.args[0]);

test('Getting data: the catalogue, a download refused by its checksum, then prepare and train as printed', async () => {
  const home = tempDir('readme-home');
  const cwd = tempDir('readme-getting-data');
  // A fresh machine's cache, ~/.cache/cammsr (an empty CAMMSR_CACHE counts as unset).
  const cache = join(home, '.cache', 'cammsr');
  const env = { HOME: home, XDG_CACHE_HOME: join(home, '.cache'), CAMMSR_CACHE: '' };
  const steps = readmeSteps('Getting data');
  assert.deepEqual(commands(steps), ['download', 'download', 'prepare', 'train']);
  const [list, download, prepare, train] = steps;
  assert.deepEqual(list.args, ['download', '--list']);
  assert.match((await runOk(list, cwd, env)).stdout, new RegExp(`^cache folder: ${cache}\\.`, 'm'));
  await refusedDownload(download, cwd, env);
  // The prepare command download prints once it has extracted the zip, as the catalogue makes it.
  const name = download.args[1];
  const printed = catalogEntry(name)!.prepare({ dir: join(cache, name) });
  assert.deepEqual(
    prepare.args.map((a) => expandHome(a, home)),
    printed,
    'the prepare line is the one download prints',
  );
  writeGroupLens100k(printed[printed.indexOf('--input') + 1]);
  await runOk(prepare, cwd, env);
  assert.equal(flagValue(train, '--data'), flagValue(prepare, '--out'), 'train reads what prepare wrote');
  await runOk(train, cwd, env, withEpochBudget(train.args));
});

test('Training and evaluating, then Reports and serving, on the dataset the quick start prepares', async () => {
  const cwd = tempDir('readme-training');
  // The quick start's dataset, prepared here from a small file in the GroupLens layout.
  const data = flagValue(
    quickstartSteps().find((s) => s.args[0] === 'prepare')!,
    '--out',
  );
  const grouplens = join(tempDir('readme-grouplens'), 'ml-100k');
  writeGroupLens100k(grouplens);
  await prepareDataset({ format: 'movielens', input: grouplens, out: join(cwd, data) });

  const training = readmeSteps('Training and evaluating');
  assert.deepEqual(commands(training), ['train', 'train', 'eval', 'recommend']);
  for (const step of training) {
    if (step.args[0] !== 'train') await runOk(step, cwd);
    else {
      assert.equal(flagValue(step, '--data'), data, `${step.line}: the quick start's dataset`);
      await runOk(step, cwd, {}, withEpochBudget(step.args));
    }
  }
  const reports = readmeSteps('Reports and serving');
  assert.deepEqual(commands(reports), ['report', 'export', 'serve']);
  for (const step of reports) {
    if (step.args[0] === 'serve') await serveOnce(step, cwd, ['50', '172']);
    else await runOk(step, cwd);
  }
});

/** The inputs a `prepare <format>` line names, written where it names them. */
interface LineInputs {
  /** The path the line gives `flag`, in the line's folder. */
  path(flag: string): string;
  /** The value the line gives `flag`. */
  value(flag: string): string;
}

/** Per format: writes the line's inputs, then checks the dataset shows what they hold. */
const PREPARE: Record<
  string,
  { write(i: LineInputs): void | Promise<void>; shows(ds: Dataset, i: LineInputs): void }
> = {
  recbole: {
    write: (i) => writeRecbole(i.path('--input'), i.path('--images')),
    shows: (ds) => assert.equal(ds.manifest.modalities.image?.coverage, 1, 'every item has its poster'),
  },
  s3rec: {
    write: (i) => writeS3rec(i.path('--input')),
    shows: (ds) => assert.match(ds.content.items[0].id, /^B\d{9}$/, '--original-ids: items named by ASIN'),
  },
  csv: {
    write: (i) =>
      writeEventTable(i.path('--input'), i.path('--items'), {
        user: i.value('--user-col'),
        time: i.value('--time-col'),
      }),
    shows: (ds) => assert.ok(ds.manifest.timestamps, 'the time column was read'),
  },
  movielens: {
    write: (i) => writeGroupLens1m(i.path('--input')),
    shows: (ds) => assert.equal(ds.manifest.categories.coverage, 1, 'genres from movies.dat'),
  },
  amazon: {
    write: (i) => writeAmazon2014(i.path('--input'), i.path('--meta')),
    shows: (ds) => assert.equal(ds.manifest.modalities.text?.coverage, 1, 'titles from the metadata dump'),
  },
  synth: {
    write: () => {},
    shows: (ds, i) => {
      assert.equal(ds.manifest.counts.users, Number(i.value('--users')));
      assert.equal(ds.manifest.counts.items, Number(i.value('--items')));
    },
  },
};

test('Preparing data: each format from small files in its published layout, then stats', async () => {
  const steps = readmeSteps('Preparing data');
  const folders = new Map<string, string>(); // a prepared dataset's name in the README -> its folder
  for (const step of steps) {
    if (step.args[0] === 'stats') {
      const cwd = folders.get(step.args[1]);
      assert.ok(cwd, `${step.line}: a dataset a line above prepared`);
      await runOk(step, cwd);
      continue;
    }
    assert.equal(step.args[0], 'prepare', step.line);
    const format = PREPARE[step.args[1]];
    assert.ok(format, `${step.line}: a format this test writes inputs for`);
    const cwd = tempDir('readme-prepare');
    const inputs: LineInputs = {
      path: (flag) => join(cwd, flagValue(step, flag)),
      value: (flag) => flagValue(step, flag),
    };
    await format.write(inputs);
    await runOk(step, cwd);
    const out = flagValue(step, '--out');
    format.shows(Dataset.load(join(cwd, out)), inputs);
    folders.set(out, cwd);
  }
  assert.deepEqual(
    [...new Set(steps.map((s) => s.args[1]))].filter((f) => f in PREPARE).sort(),
    Object.keys(PREPARE).sort(),
    'every format this test writes inputs for has a line',
  );
});
