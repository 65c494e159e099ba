/**
 * cammsr: multimodal sequential recommendation for TypeScript.
 * Library entry point; the `cammsr` command is a thin shell over these exports.
 */
export * from './engine/index.js';
export type { Kernels, BackendName } from './kernels/kernels.js';
export { kernels, useBackend, loadBackend, probeBackends, BACKEND_NAMES } from './kernels/select.js';

// Data: public datasets to download, import, the canonical dataset, its split and statistics.
export {
  downloadDataset,
  BASE_URL_ENV,
  type DownloadOptions,
  type DownloadResult,
  type DownloadedFile,
} from './data/download/download.js';
export { CATALOG, catalogEntry, type CatalogEntry, type CatalogFile } from './data/download/catalog.js';
export { cacheRoot, CACHE_ENV } from './data/download/cache-dir.js';
export { DownloadError, type DownloadErrorKind } from './data/download/errors.js';
export { prepareDataset, IMPORT_FORMATS, type PrepareOptions, type PrepareResult } from './data/prepare.js';
export { Dataset, type Manifest, type ItemInfo, type LoadOptions } from './data/dataset.js';
export { leaveOneOut, type EvalCase, type EvalCases, type LeaveOneOutSplit } from './data/split.js';
export { memorySplit, streamedSplit, trainPopularity, type TrainingSplit } from './data/training-split.js';
export { datasetStats, type DatasetStats } from './data/stats.js';
export { DataError, ContentError } from './data/errors.js';
export { itemText } from './data/features/encode.js';
export {
  encodeItemContent,
  callerSuppliedModalities,
  type ContentEncoders,
  type ItemContent,
  type ItemFeatureRows,
} from './data/features/item-encoders.js';
export {
  readEncoders,
  writeEncoders,
  type EncoderSettings,
  type EncodersSource,
} from './data/features/encoder-files.js';

// Models.
export type {
  SequenceBatch,
  SequentialRecommender,
  ModelData,
  ItemFeatures,
  LossResult,
} from './models/model.js';
export { Cammsr, type CammsrConfig } from './models/cammsr.js';
export { Sasrec, type SasrecConfig } from './models/sasrec.js';
export { FusionSasrec } from './models/fusion.js';
export { Popularity } from './models/popularity.js';
export { trainingBatch, inferenceBatch } from './models/batch.js';

// Configuration.
export {
  resolveConfig,
  loadConfigFile,
  parseConfig,
  ConfigError,
  RunConfigSchema,
  MODEL_NAMES,
  MODALITIES,
  METRICS,
  type RunConfig,
  type ModelName,
  type Modality,
  type MetricName,
} from './config/index.js';

// Training and evaluation.
export { createModel, cammsrConfig } from './train/create-model.js';
export { train, loadRun, type RunMetrics, type EpochLog } from './train/trainer.js';
export { modelData } from './train/model-data.js';
export {
  runDemo,
  DEMO_MODELS,
  DEMO_SIZES,
  type DemoOptions,
  type DemoOutcome,
  type DemoSize,
} from './train/demo.js';
export { evaluate, evaluateSplit } from './eval/evaluate.js';
export { metricsFromRanks, rankOfTarget, meanStd, METRIC_KS } from './eval/metrics.js';
export { VERSION } from './version.js';
export {
  exportBundle,
  loadBundle,
  BundleError,
  BUNDLE_FORMAT_VERSION,
  type Bundle,
  type BundleManifest,
} from './serve/bundle.js';
export {
  Recommender,
  type HistoryRequest,
  type RecommendationList,
  type RecommendedItem,
} from './serve/recommender.js';
export { buildService, type Service, type ServiceOptions } from './serve/service.js';
export type { EventStore, InteractionEvent } from './serve/store/event-store.js';
export { openStore } from './serve/store/open.js';
export type { Scorer } from './models/model.js';
export { collectRunReport, type RunReport, type Breakdown } from './report/report-data.js';
export { renderReport } from './report/html.js';
export { summarizeDemo, renderDemo, demoJson, type DemoSummary } from './report/demo-summary.js';
