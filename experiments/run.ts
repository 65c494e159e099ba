/**
 * `npm run experiments`: the paper-style experiments (main comparison, ablations, robustness to
 * noisy categories, feature encoders) on the real datasets, over several seeds, and
 * docs/results.md generated from their results.
 *
 * Incremental and resumable: each (dataset, variant, seed) run lives in
 * <work>/runs/<dataset>/<variant>/seed-<n>/ (checkpoints included); a finished run is skipped,
 * an interrupted one resumed, and one finished under a smaller --max-epochs (a quick check)
 * trained again from scratch. Each finished run's small files are copied to
 * experiments/results/<dataset>/<variant>/seed-<n>/ (committed: our numbers survive the work
 * folder), and the report reads only those. Each run trains in its own process, so that its
 * peak RSS is its own and a crash loses one run only.
 *
 * `npm run experiments -- --help` lists the options.
 */
import { fileURLToPath } from 'node:url';
import { childRun, type ChildSpec } from './harness/child-run.js';
import { printDryRun } from './harness/dry-run.js';
import { expandPlan, type PlannedRun, type Selection } from './harness/expand-plan.js';
import { parseRunArgs, pathsOf, reportFileOf, selectionOf } from './harness/options.js';
import { prepareDatasets, trainRuns } from './harness/schedule.js';
import type { Session } from './harness/session.js';
import { printSummary } from './harness/summary.js';
import { statusOf } from './harness/work-tree.js';
import { REFERENCE, show } from './paths.js';
import { PLAN } from './plan.js';
import { writeReport } from './report/build.js';

const SELF = fileURLToPath(import.meta.url);

async function main(argv: string[]): Promise<number> {
  const args = parseRunArgs(PLAN, argv);
  if (args['child-run']) {
    await childRun(PLAN, JSON.parse(args['child-run'] as string) as ChildSpec);
    return 0;
  }
  const paths = pathsOf(args);
  const reportFile = reportFileOf(args);
  const report = () =>
    writeReport({ plan: PLAN, results: paths.results, reference: REFERENCE, out: reportFile });
  if (args['report-only']) {
    report();
    console.log(`wrote ${show(reportFile)} from ${show(paths.results)}`);
    if (args.json) console.log(JSON.stringify({ report: reportFile, results: paths.results }));
    return 0;
  }
  const { selection, jobs, maxEpochs } = selectionOf(PLAN, args);
  const session: Session = {
    plan: PLAN,
    paths,
    maxEpochs,
    jobs,
    newData: Boolean(args['new-data']),
    invocation: invocationOf(argv),
    script: SELF,
    report,
  };
  const runs = expandPlan(PLAN, selection);
  const statuses = runs.map((r) => statusOf(paths, r, maxEpochs));
  printPlan(session, selection, runs);
  if (args['dry-run']) {
    printDryRun(session, runs, statuses, Boolean(args.json));
    return 0;
  }
  const datasets = await prepareDatasets(session, runs, statuses);
  const { outcomes, interrupted } = await trainRuns(session, runs, datasets);
  report();
  return printSummary({ outcomes, interrupted, selection, maxEpochs, reportFile }, Boolean(args.json));
}

const invocationOf = (argv: string[]) =>
  `npm run experiments --${argv.length ? ' ' + argv.join(' ') : ''}`.replace(/ --$/, '');

/** The plan line: how many runs, per group, on which datasets and seeds. */
function printPlan(s: Session, sel: Selection, runs: readonly PlannedRun[]): void {
  if (sel.variants && runs.length === 0)
    console.log(
      `note: none of --variants ${sel.variants.join(',')} is in the groups ${sel.groups.join(',')}`,
    );
  const perGroup = sel.groups.map((g) => {
    const mine = runs.filter((r) => r.groups.includes(g));
    const unavailable = mine.filter((r) => r.unavailable).length;
    return `${g} ${mine.length}${unavailable ? ` (${unavailable} not available here)` : ''}`;
  });
  console.log(
    `plan: ${runs.length} runs (${perGroup.join(', ')}; shared runs counted in each group) on ${sel.datasets.join(', ')}, seeds ${sel.seeds.join(',')}; work ${show(s.paths.work)}`,
  );
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 2;
}
