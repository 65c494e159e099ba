/**
 * What every section of the report reads: the plan, each (dataset, variant)'s finished runs
 * (loaded once), the PyTorch reference rows, and how a row says a variant is absent.
 */
import type { RunMetrics } from '../../src/train/trainer.js';
import type { DatasetPlan, ExperimentPlan, GroupName, VariantPlan } from '../harness/plan-shape.js';
import {
  NOT_PLANNED,
  notApplicable,
  notAvailable,
  plannedConfig,
  plannedSeeds,
  variantByName,
} from '../harness/plan-rules.js';
import { loadRuns, type RunRecord } from '../harness/results-tree.js';
import { cellText, NOT_RUN, perDataset, seedsText } from './markdown.js';
import { loadReference, type ReferenceRow } from './reference.js';
import { sameRun } from './same-run.js';
import { summarize, type Summary } from './statistics.js';

export type Pick = (m: RunMetrics) => number | undefined;

/** Everything the report knows about one (dataset, variant). */
export class Cell {
  constructor(
    readonly runs: RunRecord[],
    readonly planned: number,
    /** Marks: † epochs capped, ‡ configuration differs from the current plan. */
    readonly marks: string,
  ) {}
  summary(pick: Pick): Summary | null {
    return summarize(this.values(pick));
  }
  values(pick: Pick): number[] {
    return this.runs.map((r) => pick(r.metrics)).filter((x): x is number => typeof x === 'number');
  }
  get seeds(): string {
    return seedsText(this.runs.length, this.planned);
  }
}

/** A variant's row on a dataset: its label with marks, seeds or why it is absent, metric cells. */
export interface VariantRow {
  cell: Cell;
  /** Why the variant has no runs here (not applicable, not available, not run yet), or null. */
  miss: string | null;
  label: string;
  seeds: string;
  metric(pick: Pick, digits?: number): string;
}

export const inPlanOf = (ds: DatasetPlan) => (v: VariantPlan) => notApplicable(ds, v) !== NOT_PLANNED;

/** A metric cell of an absent row: "not run yet" in every cell, other reasons once (seeds column). */
export const blank = (miss: string | null) => (miss === null ? null : miss === NOT_RUN ? NOT_RUN : '—');

export class ReportContext {
  /** Seeds of the plan: a complete cell has this many runs. */
  readonly planned: number;
  readonly mainNames: readonly string[];
  readonly reference: { rows: ReferenceRow[]; note: string };
  private readonly cells = new Map<string, Cell>();

  constructor(
    readonly plan: ExperimentPlan,
    readonly results: string,
    readonly now: Date,
    referenceFile?: string,
  ) {
    this.planned = plan.seeds.length;
    this.mainNames = this.group('main')?.variants ?? [];
    this.reference = loadReference(referenceFile);
  }

  cell(ds: DatasetPlan, v: VariantPlan): Cell {
    const key = `${ds.name}/${v.name}`;
    let c = this.cells.get(key);
    if (!c) {
      const runs = loadRuns(this.results, ds.name, v.name);
      const capped = runs.some((r) => r.experiment?.maxEpochs != null);
      let differs = false;
      try {
        differs = runs.some((r) => r.config && !sameRun(r.config, plannedConfig(ds, v, r.seed)));
      } catch {
        differs = true; // the plan no longer resolves against the current schema
      }
      const marks = `${capped ? ' †' : ''}${differs ? ' ‡' : ''}`;
      c = new Cell(runs, plannedSeeds(this.plan, ds, v).length || this.planned, marks);
      this.cells.set(key, c);
    }
    return c;
  }

  row(ds: DatasetPlan, v: VariantPlan, label = v.label): VariantRow {
    const cell = this.cell(ds, v);
    const miss = this.absent(ds, v, cell);
    return {
      cell,
      miss,
      label: `${label}${cell.marks}`,
      seeds: miss ?? cell.seeds,
      metric: (pick, digits) => blank(miss) ?? cellText(cell.summary(pick), digits),
    };
  }

  /** Why a variant has no runs on a dataset, or null when it has some. */
  absent(ds: DatasetPlan, v: VariantPlan, c: Cell): string | null {
    return notApplicable(ds, v) ?? (c.runs.length === 0 ? (notAvailable(v) ?? NOT_RUN) : null);
  }

  group(name: GroupName) {
    return this.plan.groups.find((g) => g.name === name);
  }

  variantsOf(name: GroupName): VariantPlan[] {
    return (this.group(name)?.variants ?? []).map((n) => variantByName(this.plan, n));
  }

  /** A group's section, `perDataset` over its variants; none when the plan has no such group. */
  groupSection(
    name: GroupName,
    heading: string,
    intro: string,
    body: (ds: DatasetPlan, variants: VariantPlan[]) => string[] | null,
  ): string[] {
    const vs = this.variantsOf(name);
    return vs.length ? perDataset(this.plan.datasets, heading, intro, (ds) => body(ds, vs)) : [];
  }

  variant(name: string): VariantPlan | undefined {
    return this.plan.variants.find((v) => v.name === name);
  }

  /**
   * The variants of a table that run on `ds`; none when only the main comparison's runs would
   * (the full model, fusion-sum: tables list them to compare against).
   */
  tableRows(ds: DatasetPlan, vs: VariantPlan[]): VariantPlan[] {
    const mine = vs.filter(inPlanOf(ds));
    return mine.some((v) => !this.mainNames.includes(v.name)) ? mine : [];
  }

  /** Every finished run of the plan. */
  allRuns(): RunRecord[] {
    const all: RunRecord[] = [];
    for (const ds of this.plan.datasets)
      for (const v of this.plan.variants) all.push(...this.cell(ds, v).runs);
    return all;
  }
}
