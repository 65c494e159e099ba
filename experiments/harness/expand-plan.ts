/** The runs a selection of the plan (datasets, groups, seeds, variants) makes: each one once. */
import type { DatasetPlan, ExperimentPlan, GroupName, VariantPlan } from './plan-shape.js';
import { datasetByName, notAvailable, plannedSeeds, variantByName } from './plan-rules.js';

export interface PlannedRun {
  dataset: DatasetPlan;
  variant: VariantPlan;
  seed: number;
  /** The selected groups that list this run. */
  groups: GroupName[];
  /** Why it cannot run here (word vectors without their package), or null. */
  unavailable: string | null;
}

export interface Selection {
  datasets: string[];
  groups: GroupName[];
  seeds: number[];
  variants?: string[];
}

export function expandPlan(plan: ExperimentPlan, sel: Selection): PlannedRun[] {
  const runs: PlannedRun[] = [];
  for (const name of sel.datasets) {
    const ds = datasetByName(plan, name);
    const byVariant = new Map<string, GroupName[]>();
    for (const g of plan.groups.filter((x) => sel.groups.includes(x.name)))
      for (const v of g.variants) byVariant.set(v, [...(byVariant.get(v) ?? []), g.name]);
    for (const [vname, listing] of byVariant) {
      if (sel.variants && !sel.variants.includes(vname)) continue;
      const v = variantByName(plan, vname);
      const seeds = plannedSeeds(plan, ds, v, listing);
      // The groups that plan it here (the tuning group may list it without planning it).
      const groups = listing.filter((g) => plannedSeeds(plan, ds, v, [g]).length > 0);
      for (const seed of sel.seeds.filter((x) => seeds.includes(x)))
        runs.push({ dataset: ds, variant: v, seed, groups, unavailable: notAvailable(v) });
    }
  }
  return runs;
}
