/** Dataset-dependent choices ('auto' values), decided once the dataset is known. */
import { ConfigError } from './errors.js';
import { MODALITIES, type Modality } from './names.js';
import { FULL_SOFTMAX_MAX_ITEMS, SEQUENCES_IN_MEMORY_MAX, type RunConfig } from './schema.js';

/** The modalities a run uses, in canonical order; an explicit list must be available in the dataset. */
export function effectiveModalities(cfg: RunConfig, available: readonly Modality[]): Modality[] {
  const has = new Set<Modality>(['id', ...available]);
  if (cfg.cammsr.modalities === 'auto') return MODALITIES.filter((m) => has.has(m));
  const missing = cfg.cammsr.modalities.filter((m) => !has.has(m));
  if (missing.length)
    throw new ConfigError('configuration', [
      `cammsr.modalities: the dataset has no ${missing.join(', ')} features (it has ${MODALITIES.filter((m) => has.has(m)).join(', ')})`,
    ]);
  const wanted = new Set(cfg.cammsr.modalities);
  return MODALITIES.filter((m) => wanted.has(m));
}

/** Whether the time-gap embedding is on. */
export function effectiveTime(cfg: RunConfig, hasTimestamps: boolean): boolean {
  if (cfg.cammsr.time === 'on' && !hasTimestamps)
    throw new ConfigError('configuration', [`cammsr.time: "on" but the dataset has no timestamps`]);
  return cfg.cammsr.time === 'auto' ? hasTimestamps : cfg.cammsr.time === 'on';
}

/** The residual scale s for |M| modalities. */
export function effectiveWeightScale(cfg: RunConfig, modalityCount: number): number {
  const s = cfg.cammsr.categoryWeightScale;
  return s === 'modalities' ? modalityCount : s;
}

/** Whether training uses a sampled softmax over a catalog of `items` (train.softmax 'auto': by size). */
export function effectiveSampledSoftmax(cfg: RunConfig, items: number): boolean {
  if (cfg.train.softmax !== 'auto') return cfg.train.softmax === 'sampled';
  return items > FULL_SOFTMAX_MAX_ITEMS;
}

/** Whether the interaction log stays on disk (train.sequences 'auto': by size; the cold-start protocol reads it whole). */
export function effectiveSequencesOnDisk(cfg: RunConfig, interactions: number): boolean {
  const cold = cfg.split.coldItems > 0;
  if (cfg.train.sequences === 'disk' && cold)
    throw new ConfigError('configuration', [
      'train.sequences: "disk" cannot be used with the cold-start protocol (split.coldItems > 0), which holds its split in memory',
    ]);
  if (cfg.train.sequences !== 'auto') return cfg.train.sequences === 'disk';
  return !cold && interactions > SEQUENCES_IN_MEMORY_MAX;
}

/** Whether items without a training interaction get the learned unseen-item row. */
export function effectiveUnseenItems(cfg: RunConfig): boolean {
  if (cfg.unseenItems !== 'auto') return cfg.unseenItems === 'learned';
  return cfg.split.coldItems > 0 || cfg.idMask > 0;
}

/** The model-specific sections of the configuration and the models that read each. */
const SECTION_READERS: Record<
  'cammsr' | 'hm4sr' | 'contentKnn' | 'moca' | 'mmsr',
  readonly RunConfig['model'][]
> = {
  cammsr: ['cammsr', 'hm4sr'],
  hm4sr: ['hm4sr'],
  contentKnn: ['content-knn'],
  moca: ['moca'],
  mmsr: ['mmsr'],
};

/** The configuration without the sections only other models read (for reports: what this run used). */
export function configOfModel(cfg: RunConfig): Partial<RunConfig> {
  const out: Partial<RunConfig> = { ...cfg };
  for (const [section, readers] of Object.entries(SECTION_READERS))
    if (!readers.includes(cfg.model)) delete out[section as keyof typeof SECTION_READERS];
  return out;
}
