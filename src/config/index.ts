/** The run configuration: vocabulary, schema, loading, error messages, dataset-dependent choices, docs. */
export * from './names.js';
export * from './schema.js';
export { ConfigError } from './errors.js';
export {
  parseConfig,
  parseStoredConfig,
  loadConfigFile,
  applyOverrides,
  resolveConfig,
  formatConfig,
  saveConfig,
} from './load.js';
export {
  effectiveModalities,
  effectiveSampledSoftmax,
  effectiveTime,
  effectiveUnseenItems,
  effectiveWeightScale,
  configOfModel,
} from './effective.js';
export { describeConfig, describeConfigSections, type ConfigOptionDoc } from './introspect.js';
