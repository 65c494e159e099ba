/** Whether a finished run was made with the configuration the plan gives it today. */
import { parseStoredConfig, type RunConfig } from '../../src/config/index.js';

/**
 * Whether a run's stored configuration is the plan's, train.epochs aside. Options the stored
 * one lacks are ignored: they were added to the schema later, with defaults that keep behaviour.
 * Options the schema retired at the only value they took effect with are ignored too; a stored
 * configuration the schema no longer accepts was made with a behaviour that is gone.
 */
export function sameRun(stored: RunConfig, planned: RunConfig): boolean {
  let known: RunConfig;
  try {
    known = parseStoredConfig(stored, 'stored configuration');
  } catch {
    return false;
  }
  // The stored options the schema still has (parseStoredConfig dropped the retired ones).
  const current = (a: unknown, b: unknown): unknown =>
    isPlainObject(a) && isPlainObject(b)
      ? Object.fromEntries(
          Object.entries(a)
            .filter(([k]) => Object.hasOwn(b, k))
            .map(([k, v]) => [k, current(v, b[k])]),
        )
      : a;
  // Options a model does not read cannot make its run differ: only CAMMSR and the HM4SR preset
  // read the cammsr section (the fusions read its modalities), only HM4SR the hm4sr one.
  const reads = (c: RunConfig) => {
    if (c.model === 'cammsr' || c.model === 'hm4sr') return c;
    const { cammsr, hm4sr: _hm4sr, ...rest } = c;
    return { ...rest, cammsr: { modalities: cammsr.modalities } };
  };
  const strip = (c: RunConfig) => ({ ...reads(c), train: { ...c.train, epochs: 0 } });
  const covers = (a: unknown, b: unknown): boolean => {
    if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
      const bo = b as Record<string, unknown>;
      return Object.entries(a).every(([k, v]) => Object.hasOwn(bo, k) && covers(v, bo[k]));
    }
    return JSON.stringify(a) === JSON.stringify(b);
  };
  return covers(strip(current(stored, known) as RunConfig), strip(planned));
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
