/** The experiment plan's shape: datasets, variants, the groups that list them, seeds. */
import type { PrepareOptions } from '../../src/data/prepare.js';
import type { ModelName } from '../../src/config/index.js';

export type GroupName =
  'main' | 'ablations' | 'tuning' | 'robustness' | 'encoders' | 'cold' | 'peers' | 'sampled';
export const GROUP_NAMES: readonly GroupName[] = [
  'main',
  'ablations',
  'tuning',
  'robustness',
  'encoders',
  'cold',
  'peers',
  'sampled',
];
/** 'bert': the pretrained text features a dataset ships (DatasetPlan.bert). */
export type TextEncoder = 'tfidf' | 'word-vectors' | 'bert';
export type ImageEncoder = 'pixels' | 'none';

export interface DatasetPlan {
  name: string;
  /** What the dataset offers, in words. */
  content: string;
  timestamps: boolean;
  images: boolean;
  /** Import options (everything but out, text and image) given the shared datasets folder. */
  prepare(shared: string): Omit<PrepareOptions, 'out' | 'text' | 'image'>;
  /** `--set` overrides of every run on this dataset (the reference protocol's dataset defaults). */
  overrides: string[];
  /**
   * A control dataset runs only these variants (the other tables leave it out): a synthetic
   * dataset that isolates one question, not a benchmark.
   */
  only?: string[];
  /** What of the tuning group runs here (default: every variant with every seed). */
  tuning?: TuningPlan;
  /** Pretrained text features shipped with the dataset (a .npy matrix and its item ids). */
  bert?: (shared: string) => { npy: string; ids: string };
}

/**
 * The tuning grid is screened where it is cheapest and carried to the other datasets: a
 * dataset's plan says which tuning variants run with every seed, which with the first seed
 * only, and why. Variants other groups list too (the defaults, literal weights) run with every
 * seed whatever this says.
 */
export interface TuningPlan {
  /** Why this part of the grid, in words (printed above the dataset's tuning table). */
  why: string;
  /** Run with every seed. */
  confirm: string[];
  /** Screened with the plan's first seed only; validation decides which ones get confirmed. */
  screen?: string[];
}

export interface VariantPlan {
  /** Directory name of its runs; unique across groups (groups share variants, e.g. cammsr). */
  name: string;
  label: string;
  model: ModelName;
  set: string[];
  /** Features of the prepared dataset the variant trains on (default tfidf / pixels). */
  text?: TextEncoder;
  /** TF-IDF + SVD output dimension (default 128, the prepare default). */
  textDim?: number;
  image?: ImageEncoder;
  requires?: 'timestamps' | 'images' | 'bert';
  /** Robustness: the fraction of noisy category labels (the robustness table's column). */
  noise?: number;
  /** Cold start: the model family (runs of one family differ only in idMask) and its idMask. */
  cold?: { family: string; idMask: number };
}

export interface GroupPlan {
  name: GroupName;
  title: string;
  /** Variant names; a group lists the shared runs its tables compare against (e.g. cammsr). */
  variants: string[];
}

export interface ExperimentPlan {
  datasets: DatasetPlan[];
  variants: VariantPlan[];
  groups: GroupPlan[];
  seeds: number[];
}
