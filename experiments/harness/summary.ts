/** The end of a session: each run's outcome as a table (and JSON), and the exit code. */
import { formatTable } from '../../src/report/table.js';
import { machine } from '../../bench/common.js';
import { show } from '../paths.js';
import type { Selection } from './expand-plan.js';
import type { Outcome } from './schedule.js';

export interface SessionEnd {
  outcomes: Outcome[];
  interrupted: boolean;
  selection: Selection;
  maxEpochs?: number;
  reportFile: string;
}

/** Prints the outcomes; the exit code: 130 when interrupted, 1 when a run failed, else 0. */
export function printSummary(end: SessionEnd, json: boolean): number {
  const { outcomes, interrupted } = end;
  const metric = (o: Outcome, pick: (m: NonNullable<Outcome['metrics']>) => number) =>
    o.metrics ? pick(o.metrics) : '-';
  console.log(
    '\n' +
      formatTable(
        ['dataset', 'variant', 'seed', 'status', 'test HR@10', 'test NDCG@10', 'epochs', 's/epoch'],
        outcomes.map((o) => [
          o.dataset,
          o.variant,
          o.seed,
          o.status,
          metric(o, (m) => m.test['HR@10']),
          metric(o, (m) => m.test['NDCG@10']),
          metric(o, (m) => m.epochs),
          metric(o, (m) => m.secondsPerEpoch),
        ]),
      ),
  );
  console.log(`wrote ${show(end.reportFile)}`);
  const failed = outcomes.filter((o) => o.status === 'failed').length;
  if (json)
    console.log(
      JSON.stringify({
        bench: 'experiments',
        machine: machine(),
        selection: end.selection,
        maxEpochs: end.maxEpochs ?? null,
        runs: outcomes.map((o) => ({
          dataset: o.dataset,
          variant: o.variant,
          seed: o.seed,
          status: o.status,
          test: o.metrics?.test ?? null,
          testMasked: o.metrics?.testMasked ?? null,
        })),
        failed,
        interrupted,
        report: end.reportFile,
      }),
    );
  return interrupted ? 130 : failed ? 1 : 0;
}
