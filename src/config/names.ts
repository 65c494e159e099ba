/**
 * The project's vocabulary, defined once: model names, modalities and metric names. Imports
 * nothing, so that every layer (data, models, the config schema, eval, report, serve) can use it.
 */

/** Every model `cammsr train --model` accepts. */
export const MODEL_NAMES = [
  'cammsr',
  'sasrec',
  'popularity',
  'fusion-sum',
  'fusion-concat',
  'hm4sr',
  'content-knn',
  'moca',
  'mmsr',
] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

/** Canonical modality order: the order of the CAMoE concatenation [e_id; e_t; e_v]. */
export const MODALITIES = ['id', 'text', 'image'] as const;
export type Modality = (typeof MODALITIES)[number];
/** The modalities that come from an item's content (features), not from its identity. */
export type ContentModality = Exclude<Modality, 'id'>;

/** Cut-offs K of the ranking metrics. */
export const METRIC_KS: readonly number[] = [5, 10, 20];

/**
 * The metrics cammsr reports and selects on (HR and NDCG at 5, 10 and 20, MRR at 10), in the
 * order of every table. The evaluator computes MRR at the other cut-offs too.
 */
export const METRICS = ['HR@5', 'HR@10', 'HR@20', 'NDCG@5', 'NDCG@10', 'NDCG@20', 'MRR@10'] as const;
export type MetricName = (typeof METRICS)[number];
