/**
 * `npm run bench:breakdown`: where do models differ? NDCG@10 and HR@10 of finished runs, split by
 * how often the target item occurs in the training sequences (cold to popular), so that a
 * content model's gain on rare items is not hidden by the average; for cold-start runs, also the
 * share of the top-10 slots new items get (bench/cold-share.ts). An analysis of finished runs,
 * never a selection tool.
 *
 * `npm run bench:breakdown -- --help` lists the options.
 */
import { formatTable } from '../src/report/table.js';
import { evaluate } from '../src/eval/evaluate.js';
import { metricsFromRanks } from '../src/eval/metrics.js';
import { Cammsr } from '../src/models/cammsr.js';
import type { SequenceBatch } from '../src/models/model.js';
import { loadRun } from '../src/train/trainer.js';
import { trainPopularity } from '../src/data/training-split.js';
import { coldShare } from './cold-share.js';
import { machine, parseArgs } from './common.js';

const args = parseArgs(
  process.argv.slice(2),
  {
    command: 'npm run bench:breakdown --',
    about:
      'NDCG@10 and HR@10 of finished runs split by how often the target item occurs in the training sequences (cold to popular).',
  },
  {
    runs: ['string', 'run directories (same dataset), comma-separated'],
    split: ['string', 'validation or test (default test)'],
    edges: ['string', "bucket upper bounds on the target's training count (default 5,20,100)"],
    'mask-history': ['flag', "rank with the user's history masked"],
    towers: [
      'flag',
      "CAMMSR runs: also rank by each modality's own share of the score (⟨z_m, ẽ_m⟩, scoreLastByModality), to see which tower ranks the target",
    ],
    json: ['flag', 'one JSON object as the last line'],
  },
);
if (!args.runs) throw new Error('--runs is required: comma-separated run directories');
const runs = String(args.runs).split(',');
const which = String(args.split ?? 'test');
if (which !== 'test' && which !== 'validation')
  throw new Error(`--split must be test or validation, got "${which}"`);
const edges = String(args.edges ?? '5,20,100')
  .split(',')
  .map(Number);
if (edges.some((e, i) => !Number.isInteger(e) || e < 0 || (i > 0 && e <= edges[i - 1])))
  throw new Error('--edges must be increasing non-negative integers');

const loaded = runs.map((dir) => ({ dir, ...loadRun(dir) }));
const checksum = loaded[0].ds.manifest.checksum;
const other = loaded.find((r) => r.ds.manifest.checksum !== checksum);
if (other) throw new Error(`${other.dir} was trained on another dataset than ${loaded[0].dir}`);

// Training count of every item, and each case's bucket.
const { split, ds } = loaded[0];
const counts = trainPopularity(split, ds.items);
const cases = split[which].slice(0, split[which].length);
const labels = edges
  .map((e, i) => `${i === 0 ? 0 : edges[i - 1] + 1}-${e}`)
  .concat(`>${edges[edges.length - 1]}`);
const bucketOf = (item: number) => {
  const b = edges.findIndex((e) => counts[item] <= e);
  return b < 0 ? edges.length : b;
};
const caseBucket = cases.map((c) => bucketOf(c.target));

// Every run, and with --towers each CAMMSR modality's own share of the scores.
const views = loaded.flatMap((r) => [
  {
    dir: r.dir,
    model: r.model,
    name: r.model.kind,
    scores: undefined as ((b: SequenceBatch) => Float32Array) | undefined,
  },
  ...(args.towers && r.model instanceof Cammsr
    ? r.model.config.modalities.map((mod, m) => ({
        dir: r.dir,
        model: r.model,
        name: `${r.model.kind}: ${mod} tower`,
        scores: (b: SequenceBatch) => (r.model as Cammsr).scoreLastByModality(b)[m],
      }))
    : []),
]);
const results = views.map((r) => {
  const { ranks } = evaluate(r.model, cases, {
    maskHistory: Boolean(args['mask-history']),
    coldItems: split.coldItems,
    scores: r.scores,
  });
  const perBucket = labels.map((_, b) => {
    const sel = Int32Array.from(ranks.filter((_, i) => caseBucket[i] === b));
    const m = sel.length > 0 ? metricsFromRanks(sel, [10]) : null;
    return { cases: sel.length, ndcg10: m?.['NDCG@10'] ?? null, hr10: m?.['HR@10'] ?? null };
  });
  return { run: r.dir, model: r.name, all: metricsFromRanks(ranks, [10]), perBucket };
});

const f = (x: number | null) => (x === null ? '-' : x.toFixed(4));
console.log(
  `${ds.manifest.name}: ${which} NDCG@10 / HR@10 by the target's number of training interactions` +
    `${args['mask-history'] ? ' (history masked)' : ''}`,
);
console.log(
  formatTable(
    ['bucket', 'cases', ...results.map((r) => `${r.model} (${r.run.split('/').slice(-2).join('/')})`)],
    [
      ...labels.map((label, b) => [
        label,
        results[0].perBucket[b].cases,
        ...results.map((r) => `${f(r.perBucket[b].ndcg10)} / ${f(r.perBucket[b].hr10)}`),
      ]),
      ['all', cases.length, ...results.map((r) => `${f(r.all['NDCG@10'])} / ${f(r.all['HR@10'])}`)],
    ],
  ),
);
// Cold-start runs: how much room new items get at the top of the lists.
const cold = split.coldItems;
const shares = cold
  ? loaded.map((r) => ({ run: r.dir, model: r.model.kind, ...coldShare(r.model, cases, cold) }))
  : [];
if (shares.length > 0) {
  const p = (x: number) => `${(100 * x).toFixed(1)}%`;
  console.log(`\nnew (held-out) items in the ${which} top-10 lists, and their scores beside warm items'`);
  console.log(
    formatTable(
      ['run', 'top-10 slots', 'targets', 'catalog', 'score mean / spread: new', 'warm'],
      shares.map((s) => [
        `${s.model} (${s.run.split('/').slice(-2).join('/')})`,
        p(s.top10Share),
        p(s.targetShare),
        p(s.catalogShare),
        `${s.cold.mean.toFixed(3)} / ${s.cold.std.toFixed(3)}`,
        `${s.warm.mean.toFixed(3)} / ${s.warm.std.toFixed(3)}`,
      ]),
    ),
  );
}
if (args.json)
  console.log(
    JSON.stringify({
      dataset: ds.manifest.name,
      split: which,
      labels,
      results,
      coldShares: shares,
      machine: machine(),
    }),
  );
