/**
 * docs/results.md, generated from the committed results (experiments/results/<dataset>/<variant>/
 * seed-<n>/). Every number, statistic, checksum, command and machine on that page is read from
 * those files, and the PyTorch reference numbers from reference-findings.md: nothing is typed by
 * hand. One module per section of the page, in its order.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ExperimentPlan } from '../harness/plan-shape.js';
import { ReportContext } from './context.js';
import { ablations } from './sections/ablations.js';
import { cold } from './sections/cold.js';
import { cost } from './sections/cost.js';
import { datasets } from './sections/datasets.js';
import { encoders } from './sections/encoders.js';
import { howMade } from './sections/how-made.js';
import { mainComparison } from './sections/main-comparison.js';
import { modalityWeights } from './sections/modality-weights.js';
import { peers } from './sections/peers.js';
import { sampled } from './sections/sampled.js';
import { protocol } from './sections/protocol.js';
import { robustness } from './sections/robustness.js';
import { title } from './sections/title.js';
import { tuning } from './sections/tuning.js';

export interface ReportOptions {
  plan: ExperimentPlan;
  results: string;
  /** reference-findings.md; a missing file is said so in the report. */
  reference?: string;
  now?: Date;
}

const SECTIONS = [
  title,
  howMade,
  protocol,
  datasets,
  mainComparison,
  ablations,
  tuning,
  robustness,
  encoders,
  cold,
  peers,
  sampled,
  cost,
  modalityWeights,
];

export function buildReport(o: ReportOptions): string {
  const ctx = new ReportContext(o.plan, o.results, o.now ?? new Date(), o.reference);
  return SECTIONS.flatMap((section) => section(ctx)).join('\n') + '\n';
}

/** Writes the report atomically (a reader never sees half a page). */
export function writeReport(o: ReportOptions & { out: string }): string {
  const text = buildReport(o);
  mkdirSync(dirname(o.out), { recursive: true });
  const tmp = `${o.out}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, o.out);
  return text;
}
