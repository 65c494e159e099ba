/** The experiments runner and docs/results.md generator, on a fabricated results tree: no training. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expandPlan } from '../experiments/harness/expand-plan.js';
import { plannedConfig, preparedName, variantByName } from '../experiments/harness/plan-rules.js';
import { gitState } from '../experiments/harness/provenance.js';
import { datasetRecordFile, runResultDir } from '../experiments/harness/results-tree.js';
import { DEFAULT_REPORT, DEFAULT_RESULTS, REFERENCE } from '../experiments/paths.js';
import { PLAN } from '../experiments/plan.js';
import { buildReport } from '../experiments/report/build.js';
import { parseReference } from '../experiments/report/reference.js';
import { sameRun } from '../experiments/report/same-run.js';
import { beatsVerdict } from '../experiments/report/statistics.js';
import { tempDir } from './temp.js';

const EXPERIMENTS = fileURLToPath(new URL('../experiments/run.js', import.meta.url));
const beauty = PLAN.datasets.find((d) => d.name === 'amazon-beauty')!;

/** A fake finished run: the metrics (test NDCG@10 and HR@10 given) and the files the report reads. */
function fakeRun(
  results: string,
  variant: string,
  seed: number,
  o: {
    ndcg10: number;
    hr10: number;
    weights?: Record<string, number>;
    maxEpochs?: number;
    val?: number;
    checksum?: string;
    commit?: string;
  },
) {
  const dir = runResultDir(results, 'amazon-beauty', variant, seed);
  mkdirSync(dir, { recursive: true });
  const metrics = (scale: number) =>
    Object.fromEntries(
      ['HR@5', 'HR@10', 'HR@20', 'NDCG@5', 'NDCG@10', 'NDCG@20', 'MRR@10'].map((k) => [
        k,
        k === 'NDCG@10' ? o.ndcg10 * scale : k === 'HR@10' ? o.hr10 * scale : 0.01,
      ]),
    );
  const m = {
    bestEpoch: 7,
    epochs: 17,
    stoppedEarly: true,
    selection: { metric: 'NDCG@10', value: o.val ?? 0.03 },
    validation: metrics(1),
    test: metrics(1),
    validationMasked: metrics(2),
    testMasked: metrics(2),
    parameters: 1000,
    trainSeconds: 170,
    secondsPerEpoch: 10,
    dataset: { name: 'amazon-beauty', checksum: o.checksum ?? 'c'.repeat(64), users: 22363, items: 12101 },
  };
  writeFileSync(join(dir, 'metrics.json'), JSON.stringify(m));
  const v = variantByName(PLAN, variant);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(plannedConfig(beauty, v, seed, o.maxEpochs)));
  writeFileSync(join(dir, 'run.json'), JSON.stringify({ cammsr: '0.1.0' }));
  const line = (epoch: number) => JSON.stringify({ epoch, diagnostics: { modalityWeights: o.weights } });
  writeFileSync(join(dir, 'log.jsonl'), `${line(1)}\n${line(2)}\n`);
  writeFileSync(
    join(dir, 'experiment.json'),
    JSON.stringify({
      dataset: 'amazon-beauty',
      variant,
      seed,
      encoder: 'tfidf',
      invocation: 'npm run experiments -- --datasets amazon-beauty',
      maxEpochs: o.maxEpochs ?? null,
      peakRssMb: 321,
      finished: `2026-01-0${seed}T00:00:00.000Z`,
      machine: {
        cpu: 'Test CPU',
        cores: 2,
        memoryGb: 8,
        node: 'v20',
        platform: 'linux-x64',
        backend: 'js',
        threads: 1,
        backendInfo: {},
      },
      git: o.commit ? { commit: o.commit, dirty: false } : null,
    }),
  );
}

/** The markdown table row that starts with `label`, after each of `after` in turn, split into cells. */
function rowOf(report: string, label: string, ...after: string[]): string[] {
  let start = 0;
  for (const a of after) {
    start = report.indexOf(a, start);
    assert.ok(start >= 0, `no "${a}" in the report`);
  }
  const line = report
    .slice(start)
    .split('\n')
    .find((l) => l.startsWith(`| ${label} |`));
  assert.ok(line, `no row "${label}" after ${after.join(' > ')}`);
  return line
    .split('|')
    .slice(1, -1)
    .map((c) => c.trim());
}

function fabricate() {
  const root = tempDir('exp');
  const results = join(root, 'results');
  // 2 seeds of 2 variants; sasrec seed 2 was a quick check with capped epochs.
  fakeRun(results, 'sasrec', 1, { ndcg10: 0.03, hr10: 0.07 });
  fakeRun(results, 'sasrec', 2, { ndcg10: 0.032, hr10: 0.074, maxEpochs: 2 });
  fakeRun(results, 'cammsr', 1, { ndcg10: 0.04, hr10: 0.08, weights: { id: 0.2, text: 0.8 } });
  fakeRun(results, 'cammsr', 2, { ndcg10: 0.044, hr10: 0.082, weights: { id: 0.4, text: 0.6 } });
  writeFileSync(
    datasetRecordFile(results, 'amazon-beauty', 'tfidf'),
    JSON.stringify({
      key: 'amazon-beauty-tfidf',
      checksum: 'c'.repeat(64),
      command: 'cammsr prepare s3rec --input Beauty.txt',
      stats: {
        users: 22363,
        items: 12101,
        interactions: 198502,
        averageLength: 8.88,
        sparsity: 0.9993,
        categories: 637,
        categoryCoverage: 1,
        timestamps: false,
        coverage: { id: 1, text: 1 },
      },
      encoders: { text: { encoder: 'tfidf-svd', dim: 128, coverage: 1 } },
    }),
  );
  const reference = join(root, 'reference-findings.md');
  writeFileSync(
    reference,
    [
      '| dataset | model | HR@10 | NDCG@10 |',
      '| --- | --- | --- | --- |',
      '| amazon-beauty (3 seeds) | SASRec | 0.0720 ± 0.0012 (0.0800) | 0.0350 ± 0.0001 (0.0480) |',
      '| amazon-beauty (1 seed) | CAMMSR, ID + text | 0.0717 (0.0788) | 0.0355 (0.0474) |',
    ].join('\n'),
  );
  return { root, results, reference };
}

test('the tuned CAMMSR is chosen on validation, never on test, only with every seed, among the variants planned there', () => {
  const results = join(tempDir('exp-tuned'), 'results');
  const tuned = 'cammsr-no-category-no-mscl-scale-m';
  for (const seed of [1, 2, 3]) {
    fakeRun(results, 'cammsr', seed, { ndcg10: 0.05, hr10: 0.1, val: 0.03 });
    fakeRun(results, tuned, seed, { ndcg10: 0.01, hr10: 0.1, val: 0.04 }); // best validation
    // 2 seeds of 3: not a candidate, however good.
    if (seed < 3) fakeRun(results, 'cammsr-literal-weights', seed, { ndcg10: 0.09, hr10: 0.2, val: 0.05 });
    // Every seed, the best validation, but not part of amazon-beauty's tuning plan.
    fakeRun(results, 'cammsr-scale-m', seed, { ndcg10: 0.09, hr10: 0.2, val: 0.06 });
  }
  const report = buildReport({ plan: PLAN, results, now: new Date('2026-01-05T00:00:00Z') });
  const label = 'w/o category guidance, λ = 0, s = number of modalities';
  const row = rowOf(report, `CAMMSR tuned on validation (${label})`, '### amazon-beauty');
  assert.equal(row[6], '0.0100 ± 0.0000');
  assert.match(
    report,
    /Does CAMMSR tuned on validation \(`cammsr.categoryGuidance=false` `cammsr.lambda=0` `cammsr.categoryWeightScale=modalities`\) beat SASRec/,
  );
  assert.ok(!report.includes("CAMMSR tuned on validation (spec's literal category weights)"));
  assert.ok(!report.includes('CAMMSR tuned on validation (residual scale'));
  const tuning = report.slice(report.indexOf('## Tuning CAMMSR'), report.indexOf('## Robustness'));
  assert.deepEqual(rowOf(tuning, label, '### amazon-beauty').slice(2, 4), ['3', '0.0400 ± 0.0000']);
  assert.deepEqual(rowOf(tuning, "spec's literal category weights", '### amazon-beauty').slice(2, 4), [
    '2/3 seeds',
    '0.0500 ± 0.0000',
  ]);
  // The tuning table of a dataset lists only what its plan runs there, and says why.
  const beauty = tuning.slice(tuning.indexOf('### amazon-beauty'), tuning.indexOf('### amazon-scientific'));
  assert.ok(!beauty.includes('residual scale s = number of modalities |'), beauty);
  assert.match(beauty, /The tuning grid is screened on amazon-scientific/);
});

test('the report: mean ± sample std over seeds, incomplete and missing cells, marks, anchor, weights', () => {
  const { results, reference } = fabricate();
  const report = buildReport({ plan: PLAN, results, reference, now: new Date('2026-01-05T00:00:00Z') });
  assert.match(report, /generated by `npm run experiments`, which records the commands, dataset checksums/);
  const main = '### amazon-beauty';
  // sasrec NDCG@10 0.030, 0.032: mean 0.031, sample std 0.0014142; HR@10 0.070, 0.074.
  const sasrec = rowOf(report, 'SASRec †', main);
  assert.equal(sasrec[1], '2/3 seeds');
  assert.equal(sasrec[3], '0.0720 ± 0.0028'); // HR@10
  assert.equal(sasrec[6], '0.0310 ± 0.0014'); // NDCG@10
  const ours = rowOf(report, 'CAMMSR', main);
  assert.equal(ours[6], '0.0420 ± 0.0028');
  // Masked numbers are the fabricated 2x.
  assert.deepEqual(rowOf(report, 'CAMMSR', main, 'History masked (secondary)').slice(2), [
    '0.1620 ± 0.0028',
    '0.0840 ± 0.0057',
  ]);
  // Never-run cells say so, everywhere.
  assert.deepEqual(rowOf(report, 'Fusion (sum)', main).slice(1), Array(8).fill('not run yet'));
  assert.deepEqual(rowOf(report, 'HM4SR-style', main).slice(1), Array(8).fill('not run yet'));
  assert.equal(rowOf(report, 'Popularity', '### movielens-100k')[1], 'not run yet');
  assert.equal(rowOf(report, 'w/o time', '## Ablations', '### amazon-beauty')[2], 'n/a (no timestamps)');
  // The anchor: ours 0.0720 vs 0.0720 reference HR@10, 0.0310 vs 0.0350 NDCG@10 (−11.4%).
  assert.deepEqual(rowOf(report, 'NDCG@10', 'SASRec anchor'), [
    'NDCG@10',
    '0.0310 ± 0.0014',
    '0.0350',
    '−11.4%',
  ]);
  assert.deepEqual(rowOf(report, 'HR@10, history masked', 'SASRec anchor'), [
    'HR@10, history masked',
    '0.1440 ± 0.0057',
    '0.0800',
    '+80.0%',
  ]);
  assert.equal(rowOf(report, 'PyTorch reference: SASRec', main)[3], '0.0720 ± 0.0012');
  // The fusions were never run: no verdict yet.
  assert.match(report, /by more than the seed std\? not enough runs\*\* \(vs SASRec \+0\.0110/);
  // Dataset statistics and checksum; machine and command from experiment.json.
  assert.equal(rowOf(report, 'amazon-beauty-tfidf')[8], `\`${'c'.repeat(64)}\``);
  assert.match(report, /`npm run experiments -- --datasets amazon-beauty`: 4 runs/);
  assert.match(report, /\| Test CPU \| 2 \|/);
  // Modality weights: mean over seeds of the last log line.
  assert.deepEqual(rowOf(report, 'amazon-beauty', '## Learned modality weights').slice(1), [
    '2/3 seeds',
    '0.3000 ± 0.1414',
    '0.7000 ± 0.1414',
    '—',
  ]);
  // Cost: means of the fabricated numbers, peak RSS from experiment.json.
  assert.deepEqual(rowOf(report, 'CAMMSR', '## Cost', '### amazon-beauty').slice(1), [
    '2/3 seeds',
    '10.0',
    '17.0',
    '7.0',
    '2/2',
    '2.8',
    '1000',
    '321',
  ]);
  assert.equal(rowOf(report, 'amazon-beauty', '## Robustness')[1], '0.0420 ± 0.0028 (2/3 seeds)');
  // The control dataset is in the main comparison and the cost table, with only its own models,
  // and left out of the tables of variants it does not run.
  const section = (from: string, to: string) => report.slice(report.indexOf(from), report.indexOf(to));
  const mainSection = section('## Main comparison', '## Ablations');
  const control = mainSection.slice(mainSection.indexOf('### synthetic-sparse'));
  assert.match(control, /\| SASRec \| not run yet \|/);
  assert.ok(!control.includes('not part of this control dataset'));
  assert.match(section('## Cost', '## Learned'), /### synthetic-sparse/);
  for (const [from, to] of [
    ['## Ablations', '## Tuning'],
    ['## Tuning', '## Robustness'],
    ['## Robustness', '## Feature encoders'],
    ['## Feature encoders', '## Cost'],
  ])
    assert.ok(!section(from, to).includes('synthetic-sparse'), `${from} lists the control dataset`);
});

test('each prepared dataset names the commit of its first run; runs on another checksum are listed by checksum', () => {
  const { results } = fabricate();
  // The record's checksum ('c'…) first trained at commit a… (seed 1 finished before seed 3).
  fakeRun(results, 'popularity', 3, { ndcg10: 0.01, hr10: 0.02, commit: 'b'.repeat(40) });
  fakeRun(results, 'popularity', 1, { ndcg10: 0.01, hr10: 0.02, commit: 'a'.repeat(40) });
  // Two runs on a dataset the same command prepared differently, at commits d… (earlier) and e….
  const other = 'f'.repeat(64);
  fakeRun(results, 'fusion-sum', 2, { ndcg10: 0.02, hr10: 0.03, checksum: other, commit: 'd'.repeat(40) });
  fakeRun(results, 'fusion-sum', 4, { ndcg10: 0.02, hr10: 0.03, checksum: other, commit: 'e'.repeat(40) });
  const report = buildReport({ plan: PLAN, results, now: new Date('2026-01-05T00:00:00Z') });
  assert.match(report, /- amazon-beauty-tfidf: `cammsr prepare s3rec --input Beauty.txt` \(code of a{12}\)/);
  assert.match(report, /- amazon-beauty-tfidf `f{12}` \(code of d{12}\): 2 runs of fusion-sum\n/);
});

test('a dataset record that names its preparing threads says so beside the commit', () => {
  const { results } = fabricate();
  fakeRun(results, 'popularity', 1, { ndcg10: 0.01, hr10: 0.02, commit: 'a'.repeat(40) });
  const file = datasetRecordFile(results, 'amazon-beauty', 'tfidf');
  writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), threads: 2 }));
  const report = buildReport({ plan: PLAN, results, now: new Date('2026-01-05T00:00:00Z') });
  assert.match(
    report,
    /- amazon-beauty-tfidf: `cammsr prepare s3rec --input Beauty.txt` \(code of a{12}, CAMMSR_THREADS=2\)/,
  );
});

test('the sampled-softmax table: each sampled model against its full-softmax counterpart (hand-computed)', () => {
  const { results } = fabricate(); // sasrec seeds 1-2: test NDCG@10 0.03 and 0.032
  fakeRun(results, 'sasrec-sampled', 1, { ndcg10: 0.0279, hr10: 0.07 });
  fakeRun(results, 'sasrec-sampled', 2, { ndcg10: 0.0341, hr10: 0.074 });
  const report = buildReport({ plan: PLAN, results, now: new Date('2026-01-05T00:00:00Z') });
  const row = rowOf(report, 'SASRec, sampled softmax', '## Sampled softmax', '### amazon-beauty');
  // Means 0.031 against 0.031: 0.0%; the seeds column says 2 of 3.
  assert.equal(row[1], '2/3 seeds');
  assert.equal(row[3], '0.0310 ± 0.0044');
  assert.equal(row[4], '+0.0%');
  assert.equal(
    rowOf(report, 'CAMMSR, sampled softmax', '## Sampled softmax', '### amazon-beauty')[1],
    'not run yet',
  );
});

test('docs/results.md is what the report makes of the committed results tree, byte for byte', () => {
  const page = readFileSync(DEFAULT_REPORT, 'utf8');
  // Only the generation time differs between two regenerations: take the page's own.
  const now = new Date(/^Page generated (\S+)\. /m.exec(page)![1]);
  const regenerated = buildReport({ plan: PLAN, results: DEFAULT_RESULTS, reference: REFERENCE, now }).split(
    '\n',
  );
  const committed = page.split('\n');
  const lines = Array.from({ length: Math.max(regenerated.length, committed.length) }, (_, i) => i);
  const first = lines.find((i) => regenerated[i] !== committed[i]);
  assert.equal(
    first,
    undefined,
    `line ${first! + 1} differs: regenerate the page (npm run experiments -- --report-only)\n` +
      `committed:   ${committed[first!]}\nregenerated: ${regenerated[first!]}`,
  );
});

test('beats SASRec only when the mean difference exceeds the larger seed std', () => {
  const base = (values: number[]) => [{ name: 'SASRec', values }];
  // diff 0.0105, stds 0.0014 and 0.0007: beats.
  assert.equal(beatsVerdict([0.05, 0.052], base([0.04, 0.041])).verdict, 'yes');
  // diff 0.00505 exceeds our std (0.00007) but not the baseline's (0.0141): does not beat.
  const r = beatsVerdict([0.045, 0.0451], base([0.03, 0.05]));
  assert.equal(r.verdict, 'no');
  assert.ok(Math.abs(r.comparisons[0].threshold - Math.sqrt(2) * 0.01) < 1e-12);
  // diff below our own std: does not beat either.
  assert.equal(beatsVerdict([0.04, 0.05], base([0.041, 0.042])).verdict, 'no');
  // Worse on average: no.
  assert.equal(beatsVerdict([0.03, 0.031], base([0.04, 0.041])).verdict, 'no');
  // One seed has no std to compare with; nothing at all neither.
  assert.equal(beatsVerdict([0.05], base([0.04, 0.041])).verdict, 'not enough runs');
  assert.equal(beatsVerdict([], base([])).verdict, 'not enough runs');
  // All baselines must be beaten: one clear loss settles it even while another lacks runs.
  const three = [
    { name: 'SASRec', values: [0.04, 0.041] },
    { name: 'Fusion (sum)', values: [0.06, 0.061] },
    { name: 'Fusion (concat)', values: [] },
  ];
  assert.equal(beatsVerdict([0.05, 0.051], three).verdict, 'no');
  three[1].values = [0.03, 0.031];
  assert.equal(beatsVerdict([0.05, 0.051], three).verdict, 'not enough runs');
  three[2].values = [0.02, 0.021, 0.022];
  assert.equal(beatsVerdict([0.05, 0.051], three).verdict, 'yes');
});

test('the reference table is parsed from reference-findings.md', () => {
  const rows = parseReference(
    '| amazon-beauty (3 seeds) | SASRec | 0.0719 ± 0.0012 (0.0798) | 0.0352 ± 0.0001 (0.0480) |\n' +
      '| movielens-100k (3 seeds) | CAMMSR, ID + text + image | 0.0986 ± 0.0111 (0.1640) | 0.0436 ± 0.0027 (0.0858) |\n' +
      '| amazon-beauty (1 seed) | CAMMSR, ID + text | 0.0717 (0.0788) | 0.0355 (0.0474) |\n| a | b |',
  );
  assert.equal(rows.length, 3);
  assert.deepEqual(rows[0], {
    dataset: 'amazon-beauty',
    seeds: 3,
    model: 'SASRec',
    variant: 'sasrec',
    hr10: { mean: 0.0719, std: 0.0012, masked: 0.0798 },
    ndcg10: { mean: 0.0352, std: 0.0001, masked: 0.048 },
  });
  assert.equal(rows[1].variant, 'cammsr');
  assert.deepEqual(rows[2].hr10, { mean: 0.0717, std: null, masked: 0.0788 });
});

test('the plan: shared runs once, variants only where they apply', () => {
  const all = expandPlan(PLAN, {
    datasets: PLAN.datasets.map((d) => d.name),
    groups: ['main', 'ablations', 'tuning', 'robustness', 'encoders'],
    seeds: [1, 2, 3],
  });
  const keys = all.map((r) => `${r.dataset.name}/${r.variant.name}/${r.seed}`);
  assert.equal(new Set(keys).size, keys.length);
  // movielens: main 6, ablations 8, robustness 3, encoders 4 (word vectors, no image, 512-d
  // text for CAMMSR and fusion-sum), tuning 2 more (the selected combination, one shared
  // encoder); amazon-beauty: 6 + 7 (no time) + 3 + 3 (no image) + 1; amazon-scientific: the
  // same 19 but the tuning 1, 2 more tuning variants confirmed with every seed and the other 12 of the grid
  // screened with seed 1; the control: main + the selected combination. Shared runs (the
  // defaults, fusion-sum; literal weights, an ablation and a tuning variant) run once.
  assert.equal(all.length, (23 + 20 + 19 + 2 + 7) * 3 + 12);
  const text512 = all.filter((r) => r.variant.textDim === 512 && r.dataset.name === 'amazon-beauty');
  assert.deepEqual(
    [...new Set(text512.map((r) => `${r.variant.model} ${preparedName(r.dataset, r.variant)}`))],
    ['cammsr amazon-beauty-tfidf-512', 'fusion-sum amazon-beauty-tfidf-512'],
  );
  const seedsOf = (ds: string, v: string) =>
    all.filter((r) => r.dataset.name === ds && r.variant.name === v).map((r) => r.seed);
  assert.deepEqual(seedsOf('amazon-scientific', 'cammsr-lambda-1'), [1]);
  assert.deepEqual(seedsOf('amazon-scientific', 'cammsr-scale-m'), [1, 2, 3]);
  assert.deepEqual(seedsOf('amazon-beauty', 'cammsr-lambda-1'), []);
  assert.deepEqual(seedsOf('amazon-beauty', 'cammsr-no-category-no-mscl-scale-m'), [1, 2, 3]);
  // A variant the tuning group lists but does not plan on a dataset is there for its other group.
  const literal = all.find(
    (r) => r.dataset.name === 'amazon-beauty' && r.variant.name === 'cammsr-literal-weights',
  )!;
  assert.deepEqual(literal.groups, ['ablations', 'tuning']);
  const scaleM = all.filter(
    (r) => r.dataset.name === 'movielens-100k' && r.variant.name === 'cammsr-scale-m',
  );
  assert.equal(scaleM.length, 0);
  const control = new Set(
    all.filter((r) => r.dataset.name === 'synthetic-sparse').map((r) => r.variant.name),
  );
  assert.deepEqual([...control].sort(), [
    'cammsr',
    'cammsr-no-category-no-mscl-scale-m',
    'fusion-concat',
    'fusion-sum',
    'hm4sr',
    'popularity',
    'sasrec',
  ]);
  const ml = all.find((r) => r.dataset.name === 'movielens-100k' && r.variant.name === 'cammsr')!;
  assert.deepEqual(ml.groups, ['main', 'ablations', 'tuning', 'robustness', 'encoders']);
  assert.ok(!keys.some((k) => /^amazon-.*\/cammsr-no-(time|image)\//.test(k)));
});

test('--dry-run prints every command and runs nothing', () => {
  const root = tempDir('exp-dry');
  const work = join(root, 'work');
  const report = join(root, 'results.md');
  const r = spawnSync(
    process.execPath,
    [
      EXPERIMENTS,
      '--dry-run',
      '--datasets',
      'amazon-beauty',
      '--groups',
      'main,ablations',
      '--seeds',
      '1,2',
      '--work',
      work,
      '--results',
      join(root, 'results'),
      '--report',
      report,
      '--max-epochs',
      '3',
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  // main 6 + ablations 8 (w/o time does not apply), cammsr shared: 13 variants x 2 seeds.
  assert.match(r.stdout, /^plan: 26 runs \(main 12, ablations 16;/);
  assert.match(r.stdout, /cammsr prepare s3rec --input \S+Beauty\.txt --text tfidf --image pixels --out /);
  const trains = r.stdout.split('\n').filter((l) => l.trim().startsWith('cammsr train'));
  assert.equal(trains.length, 26);
  assert.ok(
    trains.some((l) =>
      /--model cammsr --seed 2 --set hiddenDropout=0\.5 --set attnDropout=0\.5 --set cammsr\.lambda=0 --set train\.epochs=3 --out \S+cammsr-no-mscl\/seed-2$/.test(
        l,
      ),
    ),
  );
  assert.match(r.stdout, /would train 26 new and resume 0 runs/);
  for (const p of [work, report, join(root, 'results')]) assert.ok(!existsSync(p), `${p} was created`);
});

test('--help lists every option with its description; unknown options and non-numbers are errors naming them', () => {
  const run = (...a: string[]) => spawnSync(process.execPath, [EXPERIMENTS, ...a], { encoding: 'utf8' });
  const help = run('--help');
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^Usage: npm run experiments -- \[options\]/);
  for (const o of [
    '--datasets <value>',
    '--seeds <value>',
    '--max-epochs <n>',
    '--jobs <n>',
    '--dry-run',
    '--json',
  ])
    assert.ok(help.stdout.includes(o), o);
  assert.ok(!help.stdout.includes('--child-run'), 'internal options are not listed');
  const unknown = run('--seed', '1');
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /unknown option '--seed'/);
  const nan = run('--max-epochs', 'ten');
  assert.equal(nan.status, 1);
  assert.match(nan.stderr, /option '--max-epochs <n>' argument 'ten' is invalid\. expected a number/);
});

test('--jobs 2 trains two runs at a time, each line prefixed with its run, and a second call skips them', () => {
  const root = tempDir('exp-jobs');
  const args = [
    EXPERIMENTS,
    '--datasets',
    'synthetic-sparse',
    '--groups',
    'main',
    '--variants',
    'popularity',
    '--seeds',
    '1,2',
    '--work',
    join(root, 'work'),
    '--results',
    join(root, 'results'),
    '--report',
    join(root, 'results.md'),
    '--jobs',
    '2',
    '--json',
  ];
  const r = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    env: { ...process.env, CAMMSR_THREADS: '' },
  });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.ok(
    lines.includes(
      `2 runs at a time, ${Math.max(1, Math.floor(availableParallelism() / 2))} kernel thread(s) each (CAMMSR_THREADS)`,
    ),
  );
  // Both runs start before either finishes: worker two does not wait for worker one.
  const started = lines.indexOf('[2/2] synthetic-sparse / popularity / seed 2');
  const firstResult = lines.findIndex((l) => /^\[\d\/2\] .*: test NDCG@10 /.test(l));
  assert.ok(started >= 0 && firstResult > started, r.stdout);
  const j = JSON.parse(lines.filter(Boolean).pop()!);
  assert.deepEqual(
    j.runs.map((x: { seed: number; status: string }) => [x.seed, x.status]),
    [
      [1, 'trained'],
      [2, 'trained'],
    ],
  );
  for (const seed of [1, 2])
    assert.ok(
      existsSync(join(root, 'results', 'synthetic-sparse', 'popularity', `seed-${seed}`, 'metrics.json')),
    );
  assert.ok(existsSync(join(root, 'results.md')));

  const again = spawnSync(process.execPath, args, { encoding: 'utf8' });
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /\[1\/2\] synthetic-sparse \/ popularity \/ seed 1: finished earlier, skipped/);
  assert.doesNotMatch(again.stdout, /runs at a time/, 'nothing to train, no dataset prepared');

  const bad = spawnSync(process.execPath, [EXPERIMENTS, '--jobs', '0', '--dry-run'], { encoding: 'utf8' });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /--jobs must be a positive integer, got 0/);
});

test('a dataset prepared with another checksum than the recorded one stops the plan unless --new-data', () => {
  const root = tempDir('exp-checksum');
  const args = (seed: string, ...more: string[]) => [
    EXPERIMENTS,
    ...['--datasets', 'synthetic-sparse', '--groups', 'main', '--variants', 'popularity', '--seeds', seed],
    ...['--work', join(root, 'work'), '--results', join(root, 'results'), '--report', join(root, 'r.md')],
    ...more,
  ];
  const first = spawnSync(process.execPath, args('1'), { encoding: 'utf8' });
  assert.equal(first.status, 0, first.stderr);
  const record = datasetRecordFile(join(root, 'results'), 'synthetic-sparse', 'tfidf');
  const prepared = JSON.parse(readFileSync(record, 'utf8')).checksum as string;
  // The results tree records the dataset as other code prepared it.
  const stored = readFileSync(record, 'utf8').replace(prepared, 'f'.repeat(64));
  writeFileSync(record, stored);

  const refused = spawnSync(process.execPath, args('2'), { encoding: 'utf8' });
  assert.equal(refused.status, 2, refused.stdout);
  assert.match(
    refused.stderr,
    new RegExp(
      `^error: synthetic-sparse-tfidf in \\S+ has checksum ${prepared.slice(0, 12)}, but \\S+dataset-tfidf\\.json records ffffffffffff, the dataset its runs trained on: new runs would not compare with them\\..*--new-data`,
    ),
  );
  assert.equal(readFileSync(record, 'utf8'), stored, 'the record is left as it was');
  assert.ok(
    !existsSync(runResultDir(join(root, 'results'), 'synthetic-sparse', 'popularity', 2)),
    'nothing trained',
  );

  const accepted = spawnSync(process.execPath, args('2', '--new-data'), { encoding: 'utf8' });
  assert.equal(accepted.status, 0, accepted.stderr);
  assert.match(
    accepted.stdout,
    /now has checksum \w{12}, the results recorded ffffffffffff \(--new-data: the record is replaced\)/,
  );
  assert.equal(JSON.parse(readFileSync(record, 'utf8')).checksum, prepared);
  assert.ok(existsSync(runResultDir(join(root, 'results'), 'synthetic-sparse', 'popularity', 2)));
});

test('a stored configuration matches the plan unless an option it has differs', () => {
  const v = variantByName(PLAN, 'cammsr-no-mscl');
  const planned = plannedConfig(beauty, v, 1);
  assert.ok(sameRun(plannedConfig(beauty, v, 1, 3), planned)); // the epoch cap aside
  const older = structuredClone(planned) as unknown as { cammsr: Record<string, unknown> };
  delete older.cammsr.categoryNoise; // an option added to the schema after the run
  assert.ok(sameRun(older as never, planned));
  // An option the schema retired, at the only value it took effect with, does not make it differ.
  const retired = structuredClone(planned) as unknown as { cammsr: Record<string, unknown> };
  retired.cammsr.expertKind = 'linear';
  assert.ok(sameRun(retired as never, planned));
  retired.cammsr.expertKind = 'mlp';
  assert.ok(!sameRun(retired as never, planned));
  assert.ok(!sameRun(plannedConfig(beauty, variantByName(PLAN, 'cammsr'), 1), planned));
  assert.ok(!sameRun(plannedConfig(beauty, v, 2), planned));
  // A SASRec run does not differ by CAMMSR's options (it does not read them); CAMMSR's does.
  const sas = plannedConfig(beauty, variantByName(PLAN, 'sasrec'), 1);
  const sasOld = structuredClone(sas) as unknown as { cammsr: Record<string, unknown> };
  sasOld.cammsr.viewLoss = 0;
  assert.ok(sameRun(sasOld as never, sas));
  const cam = plannedConfig(beauty, variantByName(PLAN, 'cammsr'), 1);
  const camOld = structuredClone(cam) as unknown as { cammsr: Record<string, unknown> };
  camOld.cammsr.viewLoss = 0;
  assert.ok(!sameRun(camOld as never, cam));
});

test('a run is marked as made from uncommitted code only for changes outside the experiments outputs', () => {
  const repo = tempDir('exp-git');
  const git = (...a: string[]) => {
    const r = spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...a], {
      cwd: repo,
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
  };
  git('init', '-q');
  mkdirSync(join(repo, 'docs'));
  mkdirSync(join(repo, 'src'));
  writeFileSync(join(repo, 'docs', 'results.md'), 'old\n');
  writeFileSync(join(repo, 'src', 'model.ts'), 'a\n');
  git('add', '-A');
  git('commit', '-q', '-m', 'c');
  assert.equal(gitState(repo)?.dirty, false);
  writeFileSync(join(repo, 'docs', 'results.md'), 'new\n');
  mkdirSync(join(repo, 'experiments', 'results', 'x'), { recursive: true });
  writeFileSync(join(repo, 'experiments', 'results', 'x', 'metrics.json'), '{}');
  assert.equal(gitState(repo)?.dirty, false);
  writeFileSync(join(repo, 'src', 'model.ts'), 'b\n');
  assert.equal(gitState(repo)?.dirty, true);
});
