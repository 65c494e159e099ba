/**
 * cammsr: multimodal sequential recommendation for TypeScript.
 * Library entry point; the `cammsr` command is a thin shell over these exports.
 */
export * from './engine/index.js';
export type { Kernels, BackendName } from './kernels/kernels.js';
export { kernels, useBackend, loadBackend, probeBackends, BACKEND_NAMES } from './kernels/select.js';
export { Sasrec, type SasrecConfig } from './models/sasrec.js';
export type {
  SequenceBatch,
  SequentialRecommender,
  ModelData,
  ItemFeatures,
  LossResult,
} from './models/model.js';
export { VERSION } from './version.js';
