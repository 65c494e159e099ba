/** `npm run experiments` options: what they are, and the selection of the plan they make. */
import { resolve } from 'node:path';
import { parseArgs } from '../../bench/common.js';
import { DEFAULT_REPORT, DEFAULT_RESULTS, DEFAULT_WORK } from '../paths.js';
import type { Selection } from './expand-plan.js';
import { GROUP_NAMES, type ExperimentPlan, type GroupName } from './plan-shape.js';
import { variantByName } from './plan-rules.js';
import type { Paths } from './work-tree.js';

export type Args = Record<string, string | number | boolean>;

export function parseRunArgs(plan: ExperimentPlan, argv: string[]): Args {
  return parseArgs(
    argv,
    {
      command: 'npm run experiments --',
      about:
        'Runs the experiments plan (main comparison, ablations, tuning, robustness, encoders) on the real datasets and the control, resumably, and writes docs/results.md from the results.',
    },
    {
      datasets: ['string', `subset of ${plan.datasets.map((d) => d.name).join(', ')} (default: all)`],
      groups: ['string', `subset of ${GROUP_NAMES.join(', ')} (default: all)`],
      seeds: ['string', `seeds, e.g. 1,2 (default: the plan's, ${plan.seeds.join(',')})`],
      variants: ['string', 'only these variants of the selected groups'],
      work: ['string', 'prepared datasets and run directories (default experiments/work, gitignored)'],
      results: ['string', 'results tree (default experiments/results)'],
      report: ['string', 'report file (default docs/results.md)'],
      'max-epochs': ['number', 'cap train.epochs (quick checks; such runs are marked † in the report)'],
      jobs: [
        'number',
        'runs trained at a time, each in its own process with the cores split between them (default 1)',
      ],
      'new-data': [
        'flag',
        'accept a prepared dataset whose checksum differs from the one the results tree records (the record is replaced; the report lists the runs on the old checksum)',
      ],
      'report-only': ['flag', 'only regenerate the report from the results tree'],
      'dry-run': ['flag', 'print every command that would run, run nothing'],
      json: ['flag', 'one JSON object as the last line'],
      'child-run': ['string', 'internal: one run, in the process the plan spawns for it'],
    },
  );
}

export const pathsOf = (args: Args): Paths => ({
  work: resolve((args.work as string | undefined) ?? DEFAULT_WORK),
  results: resolve((args.results as string | undefined) ?? DEFAULT_RESULTS),
});

export const reportFileOf = (args: Args): string =>
  resolve((args.report as string | undefined) ?? DEFAULT_REPORT);

const list = (s: string | undefined) =>
  s
    ? s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean)
    : undefined;

/** The selection, jobs and epoch cap the options ask for; a bad value is an error naming its option. */
export function selectionOf(
  plan: ExperimentPlan,
  args: Args,
): { selection: Selection; jobs: number; maxEpochs?: number } {
  const groups = (list(args.groups as string | undefined) ?? [...GROUP_NAMES]) as GroupName[];
  for (const g of groups)
    if (!GROUP_NAMES.includes(g)) throw new Error(`unknown group ${g}: expected ${GROUP_NAMES.join(', ')}`);
  const seeds = (list(args.seeds as string | undefined) ?? plan.seeds.map(String)).map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--seeds: "${s}" is not a non-negative integer`);
    return n;
  });
  const variants = list(args.variants as string | undefined);
  for (const v of variants ?? []) variantByName(plan, v);
  const jobs = (args.jobs as number | undefined) ?? 1;
  if (!Number.isInteger(jobs) || jobs < 1) throw new Error(`--jobs must be a positive integer, got ${jobs}`);
  const maxEpochs = args['max-epochs'] as number | undefined;
  if (maxEpochs !== undefined && (!Number.isInteger(maxEpochs) || maxEpochs < 1))
    throw new Error(`--max-epochs must be a positive integer, got ${maxEpochs}`);
  const datasets = list(args.datasets as string | undefined) ?? plan.datasets.map((d) => d.name);
  return { selection: { datasets, groups, seeds, variants }, jobs, maxEpochs };
}
