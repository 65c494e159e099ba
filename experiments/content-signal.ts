/**
 * `npm run bench:content-signal`: how much do a prepared dataset's content features alone
 * predict the next item? Training-free rankers (popularity, training transitions, cosine
 * neighbours of the last item / of the history per modality) under the models' full-ranking
 * protocol, and the mean cosine of consecutive training pairs against random pairs
 * (experiments/instruments/content-signal.ts). An analysis of the data, not a model to select.
 *
 * `npm run bench:content-signal -- --help` lists the options.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { formatTable } from '../src/report/table.js';
import { Dataset, type FeatureMatrix } from '../src/data/dataset.js';
import { leaveOneOut, type EvalCase } from '../src/data/split.js';
import {
  contentSignal,
  hitsByCategory,
  spearman,
  type CategoryHits,
  type ContentSignal,
  type SignalRow,
} from './instruments/content-signal.js';
import { learnedWeights } from '../src/train/learned-weights.js';
import { RunDir } from '../src/train/run-dir.js';
import { machine, parseArgs } from '../bench/common.js';

const args = parseArgs(
  process.argv.slice(2),
  {
    command: 'npm run bench:content-signal --',
    about:
      "How much do a prepared dataset's content features alone predict the next item? Training-free rankers under the models' full-ranking protocol.",
  },
  {
    data: [
      'string',
      'prepared dataset directories, comma-separated (cammsr prepare / experiments/work/datasets)',
    ],
    split: ['string', 'validation or test (default test)'],
    'mask-history': ['flag', "rank with the user's history masked"],
    'cold-items': [
      'number',
      'hold this fraction of items out of training, as the cold-start protocol does (split.coldItems; default 0)',
    ],
    targets: ['string', 'with --cold-items: rank the warm, cold or all targets (default all)'],
    categories: [
      'number',
      'per-category HR@10 of the transitions and last-item rankers for the n categories with the most cases (at least 100 each; default 8, 0 = none)',
    ],
    weights: [
      'string',
      "CAMMSR run directories trained on one of the --data datasets: Spearman's rank correlation, per content modality, between the run's per-category modality weight (best epoch) and the modality's share of the hits, m / (m + transitions), over categories with 100+ cases",
    ],
    json: ['flag', 'one JSON object as the last line'],
  },
);
if (!args.data) throw new Error('--data is required: comma-separated prepared dataset directories');
const which = String(args.split ?? 'test');
if (which !== 'test' && which !== 'validation')
  throw new Error(`--split must be test or validation, got "${which}"`);
const maskHistory = Boolean(args['mask-history']);
const coldItems = (args['cold-items'] as number | undefined) ?? 0;
const targets = String(args.targets ?? 'all');
if (!['warm', 'cold', 'all'].includes(targets))
  throw new Error(`--targets must be warm, cold or all, got "${targets}"`);
if (targets !== 'all' && coldItems === 0) throw new Error('--targets warm|cold needs --cold-items');
/** The split's cases of the chosen target group. */
const inGroup = (c: EvalCase) => targets === 'all' || (targets === 'cold') === (c.cold === true);
const showCategories = (args.categories as number | undefined) ?? 8;
if (!Number.isInteger(showCategories) || showCategories < 0)
  throw new Error(`--categories must be a non-negative integer, got ${showCategories}`);

const results: {
  dataset: string;
  dir: string;
  rows: Omit<SignalRow, 'ranks'>[];
  cosines: ContentSignal['cosines'];
  cases: number;
  categories: (Omit<CategoryHits, 'category'> & { category: string })[];
  seconds: number;
}[] = [];
// Each dataset's per-category hits (100+ cases), for --weights.
const byChecksum = new Map<string, { name: string; perCategory: CategoryHits[] }>();
for (const dir of String(args.data).split(',')) {
  const t0 = performance.now();
  const ds = Dataset.load(dir);
  const split = leaveOneOut(ds, { coldItems });
  const features: Record<string, FeatureMatrix> = {};
  for (const [m, f] of Object.entries(ds.content.features)) if (f) features[m] = f;
  const cases = split[which].filter(inGroup);
  const signal = contentSignal({ items: ds.items, train: split.train, cases, features }, { maskHistory });
  const perCategory = hitsByCategory(
    signal.rows.filter((r) => r.ranker === 'transitions' || r.ranker.endsWith(', last item')),
    cases.map((c) => ds.itemCategories(c.target)),
    { minCases: 100 },
  );
  byChecksum.set(ds.manifest.checksum, { name: basename(resolve(dir)), perCategory });
  results.push({
    // The directory's name: the manifest's name is the same for one catalog prepared with
    // different encoders.
    dataset: basename(resolve(dir)),
    dir,
    // The ranks stay out of the printed results (one per case).
    rows: signal.rows.map(({ ranks: _, ...row }) => row),
    cosines: signal.cosines,
    cases: signal.cases,
    categories: perCategory
      .slice(0, showCategories)
      .map((c) => ({ ...c, category: ds.manifest.categories.names[c.category] })),
    seconds: (performance.now() - t0) / 1000,
  });
}

const f4 = (x: number) => x.toFixed(4);
console.log(
  `${which} split, full ranking, ties pessimistic${maskHistory ? ', history masked' : ', history not masked'}` +
    (coldItems > 0 ? `; ${coldItems * 100}% of items held out of training, ${targets} targets` : ''),
);
console.log(
  formatTable(
    ['dataset', 'ranker', 'HR@10', 'NDCG@10', 'NDCG@20', 'top-10 hits transitions miss'],
    results.flatMap((r) =>
      r.rows.map((row) => [
        r.dataset,
        row.ranker,
        f4(row.metrics['HR@10']),
        f4(row.metrics['NDCG@10']),
        f4(row.metrics['NDCG@20']),
        f4(row.beyondTransitions),
      ]),
    ),
  ),
);
console.log('\nmean cosine of consecutive training items against random item pairs');
console.log(
  formatTable(
    ['dataset', 'modality', 'consecutive', 'random', 'pairs'],
    results.flatMap((r) =>
      r.cosines.map((c) => [r.dataset, c.modality, f4(c.consecutive), f4(c.random), c.pairs]),
    ),
  ),
);
for (const r of results) {
  if (r.categories.length === 0) continue;
  const rankers = Object.keys(r.categories[0].hits);
  console.log(
    `\n${r.dataset}: ${which} HR@10 by the target's category (the ${r.categories.length} with most cases)`,
  );
  console.log(
    formatTable(
      ['category', 'cases', ...rankers],
      r.categories.map((c) => [c.category, c.cases, ...rankers.map((k) => f4(c.hits[k]))]),
    ),
  );
}

/** A CAMMSR run's per-category modality weights at its best epoch, and its dataset's checksum. */
function runWeights(dir: string): { checksum: string; weights: (Record<string, number> | null)[] } {
  const read = (f: string) => {
    const p = join(dir, f);
    if (!existsSync(p)) throw new Error(`${dir} is not a finished run: ${f} is missing`);
    return readFileSync(p, 'utf8');
  };
  const checksum = (JSON.parse(read('run.json')) as { dataset: { checksum: string } }).dataset.checksum;
  const best = (JSON.parse(read('metrics.json')) as { bestEpoch: number }).bestEpoch;
  const epochs = new RunDir(dir).readLog();
  const logged = epochs.some((e) => e.epoch === best);
  // The run log's reader, as reports and bundles read it (names are not needed here).
  const { categoryWeights } = learnedWeights(epochs, best, []);
  if (!logged || !categoryWeights.some(Boolean))
    throw new Error(
      `${dir}: epoch ${best} logged no per-category weights (a CAMMSR run with category guidance?)`,
    );
  return { checksum, weights: categoryWeights.map((c) => c?.weights ?? null) };
}

const agreement = String(args.weights ?? '')
  .split(',')
  .filter(Boolean)
  .flatMap((dir) => {
    const { checksum, weights } = runWeights(dir);
    const data = byChecksum.get(checksum);
    if (!data) throw new Error(`${dir} was trained on dataset ${checksum.slice(0, 12)}, not one of --data`);
    const modalities = Object.keys(weights.find(Boolean) ?? {}).filter((m) => m !== 'id');
    return modalities.map((m) => {
      const cats = data.perCategory.filter((c) => weights[c.category]?.[m] !== undefined);
      const w = cats.map((c) => weights[c.category]![m]);
      const share = cats.map((c) => {
        const hits = c.hits[`${m}, last item`] + c.hits.transitions;
        return hits > 0 ? c.hits[`${m}, last item`] / hits : 0;
      });
      return {
        run: dir,
        dataset: data.name,
        modality: m,
        categories: cats.length,
        spearman: cats.length >= 2 ? spearman(w, share) : NaN,
        weightMin: Math.min(...w),
        weightMax: Math.max(...w),
      };
    });
  });
if (agreement.length) {
  console.log(
    `\nper-category modality weight against the modality's share of the ${which} hits (categories with 100+ cases)`,
  );
  console.log(
    formatTable(
      ['run', 'modality', 'categories', 'Spearman', 'weight range'],
      agreement.map((a) => [
        a.run,
        a.modality,
        a.categories,
        Number.isNaN(a.spearman) ? 'n/a (constant)' : a.spearman.toFixed(3),
        `${a.weightMin.toFixed(3)}-${a.weightMax.toFixed(3)}`,
      ]),
    ),
  );
}
if (args.json)
  console.log(
    JSON.stringify({ split: which, maskHistory, coldItems, targets, results, agreement, machine: machine() }),
  );
