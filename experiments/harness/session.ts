/** One `npm run experiments` session: the plan, where it works, and how it trains. */
import type { ExperimentPlan } from './plan-shape.js';
import type { Paths } from './work-tree.js';

export interface Session {
  plan: ExperimentPlan;
  paths: Paths;
  /** --max-epochs: such runs are quick checks, not results. */
  maxEpochs?: number;
  /** Runs trained at a time. */
  jobs: number;
  /** --new-data: a prepared dataset whose checksum differs from the recorded one replaces the record. */
  newData: boolean;
  /** The `npm run experiments` invocation, recorded with each run. */
  invocation: string;
  /** The script each run's child process runs (with --child-run). */
  script: string;
  /** Regenerates the report from the results tree. */
  report(): void;
}
