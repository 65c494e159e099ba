/**
 * The native backend: an N-API addon (native/src/cammsr_native.c) over OpenBLAS, built at
 * `npm install` by scripts/build-native.mjs when OpenBLAS and a C compiler exist. The addon
 * validates every call itself (types, and array lengths against the dimensions and strides),
 * so its functions are exposed as they are.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Kernels } from './kernels.js';

/** What the addon exports: the Kernels functions, with `describe` reporting OpenBLAS and build facts. */
type NativeAddon = Omit<Kernels, 'name'>;

const EXPORTS = [
  'sgemm',
  'sgemmStridedBatched',
  'softmaxRows',
  'crossEntropyRows',
  'softTargetCrossEntropyRows',
  'bceWithLogits',
  'scoreInt8Rows',
  'gelu',
  'geluBackward',
  'layerNorm',
  'layerNormBackward',
  'rmsNorm',
  'rmsNormBackward',
  'dyt',
  'dytBackward',
  'dropout',
  'causalAttention',
  'causalAttentionBackward',
  'routedAttention',
  'routedAttentionBackward',
  'coordinateDescent',
  'coordinateDescentBackward',
  'threads',
  'setThreads',
  'describe',
] as const satisfies readonly (keyof NativeAddon)[];

/**
 * Where the addon is: `CAMMSR_NATIVE_ADDON` if set, else native/build/Release under the package
 * root. This file runs as dist/src/kernels/native.js, so the root is three levels up.
 */
export function nativeAddonPath(): string {
  const override = process.env.CAMMSR_NATIVE_ADDON;
  if (override !== undefined && override !== '') return override;
  return fileURLToPath(new URL('../../../native/build/Release/cammsr_native.node', import.meta.url));
}

/** Loads the addon. Throws an Error saying why when it is not built or cannot be loaded. */
export function loadNativeKernels(): Kernels {
  const file = nativeAddonPath();
  if (!existsSync(file)) {
    throw new Error(
      `not built (${file} does not exist): install libopenblas-dev and run \`node scripts/build-native.mjs\``,
    );
  }
  let addon: NativeAddon;
  try {
    addon = createRequire(import.meta.url)(file) as NativeAddon;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(`${file} failed to load (rebuild it with \`node scripts/build-native.mjs\`): ${why}`, {
      cause: err,
    });
  }
  const missing = EXPORTS.filter((key) => typeof addon[key] !== 'function');
  if (missing.length > 0) {
    throw new Error(`${file} is stale or not the cammsr addon (missing ${missing.join(', ')}): rebuild it`);
  }
  return {
    name: 'native',
    sgemm: addon.sgemm,
    sgemmStridedBatched: addon.sgemmStridedBatched,
    softmaxRows: addon.softmaxRows,
    crossEntropyRows: addon.crossEntropyRows,
    softTargetCrossEntropyRows: addon.softTargetCrossEntropyRows,
    bceWithLogits: addon.bceWithLogits,
    scoreInt8Rows: addon.scoreInt8Rows,
    gelu: addon.gelu,
    geluBackward: addon.geluBackward,
    layerNorm: addon.layerNorm,
    layerNormBackward: addon.layerNormBackward,
    rmsNorm: addon.rmsNorm,
    rmsNormBackward: addon.rmsNormBackward,
    dyt: addon.dyt,
    dytBackward: addon.dytBackward,
    dropout: addon.dropout,
    causalAttention: addon.causalAttention,
    causalAttentionBackward: addon.causalAttentionBackward,
    routedAttention: addon.routedAttention,
    routedAttentionBackward: addon.routedAttentionBackward,
    coordinateDescent: addon.coordinateDescent,
    coordinateDescentBackward: addon.coordinateDescentBackward,
    threads: addon.threads,
    setThreads: addon.setThreads,
    describe: () => ({ backend: 'native', addon: file, ...addon.describe() }),
  };
}
