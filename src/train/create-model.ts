/** From a run configuration to a model: the one place that knows every model's options. */
import {
  effectiveModalities,
  effectiveSampledSoftmax,
  effectiveTime,
  effectiveUnseenItems,
  effectiveWeightScale,
  ConfigError,
  type RunConfig,
} from '../config/index.js';
import { MODALITIES, type ContentModality } from '../config/names.js';
import { Cammsr, type CammsrConfig } from '../models/cammsr.js';
import { FusionSasrec } from '../models/fusion.js';
import type { ModelData, SequentialRecommender } from '../models/model.js';
import { ContentKnn } from '../models/content-knn.js';
import { Mmsr, type MmsrConfig } from '../models/mmsr.js';
import { Moca, type MocaConfig } from '../models/moca.js';
import { Popularity } from '../models/popularity.js';
import { Sasrec } from '../models/sasrec.js';

const CONTENT_MODALITIES: readonly ContentModality[] = ['text', 'image'];

/** The sequence-model options every model shares. */
function sequenceOptions(cfg: RunConfig, loadsWeights = false) {
  const { maxLen, dim, layers, heads, ffnDim, hiddenDropout, attnDropout, seed } = cfg;
  return { maxLen, dim, layers, heads, ffnDim, hiddenDropout, attnDropout, seed, loadsWeights };
}

/**
 * The sampled softmax's options when training uses one (null: the full softmax, and for a model
 * built to receive loaded weights, which never trains: no sampler over its catalog).
 */
function sampledSoftmax(cfg: RunConfig, data: ModelData, loadsWeights: boolean) {
  if (loadsWeights || !effectiveSampledSoftmax(cfg, data.items)) return null;
  return { negatives: cfg.train.negatives, alpha: cfg.train.negativeAlpha };
}

/**
 * CAMMSR's model options from a run configuration and the dataset's item data (which decides
 * 'auto' modalities and time). The schema's defaults are the only defaults: build a CammsrConfig
 * as cammsrConfig(resolveConfig({ overrides }), data). `loadsWeights`: as createModel's.
 */
export function cammsrConfig(cfg: RunConfig, data: ModelData, loadsWeights = false): CammsrConfig {
  const c = cfg.cammsr;
  const modalities = effectiveModalities(cfg, [
    ...(data.text ? ['text' as const] : []),
    ...(data.image ? ['image' as const] : []),
  ]);
  const time = effectiveTime(cfg, data.timestamps);
  return {
    ...sequenceOptions(cfg),
    initStd: cfg.initStd,
    layerNormEps: cfg.layerNormEps,
    modalities,
    experts: c.experts,
    gateTemperature: c.gateTemperature,
    weighting: c.categoryGuidance ? 'category' : 'uniform',
    staticInit: [],
    categoryHead: 'attentive',
    weightScale: effectiveWeightScale(cfg, modalities.length),
    detachWeights: c.detachWeights,
    viewLoss: c.viewLoss,
    viewNorm: c.viewNorm,
    weightTemperature: c.weightTemperature,
    synergy: c.synergy,
    camoe: c.camoe,
    beta: c.categoryGuidance ? c.beta : 0,
    lambda: c.lambda,
    msclTau: c.msclTau,
    msclRatio: c.msclRatio,
    msclPairs: c.msclPairs,
    sharedEncoder: c.sharedEncoder,
    inputNorm: c.inputNorm,
    encoderNorm: c.encoderNorm,
    dytAlpha: c.dytAlpha,
    time,
    unseenItems: effectiveUnseenItems(cfg),
    idMask: cfg.idMask,
    sampledSoftmax: sampledSoftmax(cfg, data, loadsWeights),
    loadsWeights,
  };
}

/** Refuses a catalog large enough that train.softmax 'auto' would pick the sampled softmax. */
function requireFullSoftmax(cfg: RunConfig, data: ModelData, why: string): void {
  if (effectiveSampledSoftmax(cfg, data.items))
    throw new ConfigError('configuration', [
      `train.softmax: ${why}, which 'auto' leaves above ${data.items} items; set train.softmax=full`,
    ]);
}

/** MOCA's options: its own section, with the shared width, length, dropout and seed. */
function mocaConfig(cfg: RunConfig, data: ModelData, loadsWeights: boolean): MocaConfig {
  requireFullSoftmax(cfg, data, "moca's soft targets need the full softmax");
  const { maxLen, dim, heads, attnDropout, initStd, seed } = cfg;
  return {
    ...cfg.moca,
    items: data.items,
    maxLen,
    dim,
    heads,
    attnDropout,
    initStd,
    seed,
    loadsWeights,
    heldOut: data.heldOut,
  };
}

/** MMSR's options: its own section, with the shared width, length and seed. */
function mmsrConfig(cfg: RunConfig, data: ModelData, loadsWeights: boolean): MmsrConfig {
  requireFullSoftmax(cfg, data, 'mmsr trains with the full softmax');
  return {
    ...cfg.mmsr,
    items: data.items,
    clusteredItems: data.trainedItems ?? data.items,
    maxLen: cfg.maxLen,
    dim: cfg.dim,
    seed: cfg.seed,
    loadsWeights,
    heldOut: data.heldOut,
  };
}

/** The content modalities content-knn compares: the dataset's, or the configured ones (which it must have). */
function knnModalities(cfg: RunConfig, data: ModelData): ContentModality[] {
  const has = CONTENT_MODALITIES.filter((m) => data[m]);
  const wanted = cfg.contentKnn.modalities;
  if (wanted === 'auto') return has;
  const missing = wanted.filter((m) => !data[m]);
  if (missing.length)
    throw new ConfigError('configuration', [
      `contentKnn.modalities: the dataset has no ${missing.join(', ')} features (it has ${has.join(', ') || 'none'})`,
    ]);
  return CONTENT_MODALITIES.filter((m) => wanted.includes(m));
}

/**
 * The model a configuration names, over `data`. `loadsWeights`: it is built to receive trained
 * weights right away (a bundle), so no initial weights are drawn; never for a model to train.
 */
export function createModel(
  cfg: RunConfig,
  data: ModelData,
  { loadsWeights = false }: { loadsWeights?: boolean } = {},
): SequentialRecommender {
  if (cfg.idMask > 0 && ['sasrec', 'popularity', 'content-knn', 'moca', 'mmsr'].includes(cfg.model))
    throw new ConfigError('configuration', [
      `idMask: ${cfg.model} has no ID view to mask (content models only: fusion-sum, fusion-concat, hm4sr, cammsr)`,
    ]);
  switch (cfg.model) {
    case 'popularity':
      if (!data.popularity) throw new Error('popularity needs item interaction counts');
      return new Popularity(data.popularity, cfg.maxLen);
    case 'sasrec':
      return new Sasrec({
        items: data.items,
        ...sequenceOptions(cfg, loadsWeights),
        heldOut: data.heldOut,
        popularity: data.popularity,
        sampledSoftmax: sampledSoftmax(cfg, data, loadsWeights),
      });
    case 'fusion-sum':
    case 'fusion-concat': {
      const base = cammsrConfig(cfg, data, loadsWeights);
      return new FusionSasrec(
        {
          ...base,
          mode: cfg.model === 'fusion-sum' ? 'sum' : 'concat',
          inputNorm: 'layernorm',
          encoderNorm: 'layernorm',
        },
        data,
      );
    }
    case 'hm4sr': {
      // The same mixture of experts with static learned modality scalars and HM4SR's category
      // loss on the concatenation; SASRec-style LayerNorm input, no modality-swap loss.
      const base = cammsrConfig(cfg, data, loadsWeights);
      return new Cammsr(
        {
          ...base,
          weighting: 'static',
          staticInit: base.modalities.map((m) => cfg.hm4sr.initScalars[MODALITIES.indexOf(m)]),
          categoryHead: 'concat',
          beta: cfg.cammsr.beta,
          lambda: 0,
          inputNorm: 'layernorm',
        },
        data,
        'hm4sr',
      );
    }
    case 'cammsr':
      return new Cammsr(cammsrConfig(cfg, data, loadsWeights), data);
    case 'content-knn':
      return new ContentKnn(knnModalities(cfg, data), data, cfg.maxLen);
    case 'moca':
      return new Moca(mocaConfig(cfg, data, loadsWeights), data);
    case 'mmsr':
      return new Mmsr(mmsrConfig(cfg, data, loadsWeights), data);
  }
}
