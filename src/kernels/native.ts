/**
 * The native backend: an N-API addon (native/src/cammsr_native.c) over OpenBLAS, built at
 * `npm install` by scripts/build-native.mjs when OpenBLAS and a C compiler exist. The addon
 * validates every call itself (types, and array lengths against the dimensions and strides),
 * so its functions are exposed as they are.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { jsKernels } from './js.js';
import type { AdamStep, BinaryOp, Kernels, RowBlock } from './kernels.js';

/** A kernel taking a BinaryOp, as the addon takes it: the operation's number in OPS. */
type WithOpNumber<F> = F extends (op: BinaryOp, ...rest: infer R) => infer T
  ? (op: number, ...rest: R) => T
  : never;

/** adamUpdate's arrays and count, before the step's constants. */
type AdamArrays = Parameters<Kernels['adamUpdate']> extends [...infer A, AdamStep] ? A : never;

/** The vector kernels as the addon takes them: the operation as a number, Adam's constants in order. */
interface VectorAddon {
  binaryCycle: WithOpNumber<Kernels['binaryCycle']>;
  binaryRepeat: WithOpNumber<Kernels['binaryRepeat']>;
  adamUpdate(
    ...args: [
      ...AdamArrays,
      lr: number,
      beta1: number,
      beta2: number,
      eps: number,
      weightDecay: number,
      decoupled: boolean,
      stepSize: number,
      rbc2: number,
    ]
  ): void;
  copyRows(...args: [...RowBlock, ...RowBlock, rows: number, width: number]): void;
  addRows(...args: [...RowBlock, ...RowBlock, rows: number, width: number]): void;
}

/** What the addon exports: the Kernels functions, with `describe` reporting OpenBLAS and build facts. */
type NativeAddon = Omit<Kernels, 'name' | keyof VectorAddon> & VectorAddon;

/** vector.h's vec_op numbering. */
const OPS: Record<BinaryOp, number> = { add: 0, sub: 1, mul: 2, div: 3 };

/**
 * Below this many elements the vector kernels run the js loops. A call into the addon costs
 * about 0.1 µs: axpy over 64 floats takes 0.13 µs either way, over 1,024 0.28 µs native against
 * 1.50 µs in JavaScript.
 */
const NATIVE_MIN_ELEMENTS = 256;

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
  'tanh',
  'layerNorm',
  'layerNormBackward',
  'rmsNorm',
  'rmsNormBackward',
  'dyt',
  'dytBackward',
  'dropout',
  'axpy',
  'binaryCycle',
  'binaryRepeat',
  'addProductRepeat',
  'xoshiroWords',
  'copyRows',
  'addRows',
  'rotary',
  'addRowDots',
  'indexedAddRows',
  'gatherRows',
  'adamUpdate',
  'gatedBlockAdd',
  'gatedBlockBackward',
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

/**
 * How long OpenBLAS's threads spin after a GEMM before they sleep, as log2 of CPU cycles:
 * 2^16, tens of microseconds, unless the user sets OPENBLAS_THREAD_TIMEOUT. With OpenBLAS's
 * own default, 2^28 (about 0.1 s), its thread keeps the second core busy between GEMMs, where
 * the element-wise kernels split their work over it: the loss's row softmax took twice as long
 * within a CAMMSR step as alone (docs/performance.md).
 */
export const OPENBLAS_THREAD_TIMEOUT = '16';

/**
 * Requires the addon with OPENBLAS_THREAD_TIMEOUT set while OpenBLAS loads (it reads it then).
 * Only on the main thread does process.env reach the C environment: an addon first loaded in a
 * worker leaves OpenBLAS at its default (cammsr loads it on the main thread first).
 */
function requireAddon(file: string): NativeAddon {
  const own = process.env.OPENBLAS_THREAD_TIMEOUT === undefined;
  if (own) process.env.OPENBLAS_THREAD_TIMEOUT = OPENBLAS_THREAD_TIMEOUT;
  try {
    return createRequire(import.meta.url)(file) as NativeAddon;
  } finally {
    // not left for the processes this one starts (PyTorch in the benchmarks, for one)
    if (own) delete process.env.OPENBLAS_THREAD_TIMEOUT;
  }
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
    addon = requireAddon(file);
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
    tanh: addon.tanh,
    layerNorm: addon.layerNorm,
    layerNormBackward: addon.layerNormBackward,
    rmsNorm: addon.rmsNorm,
    rmsNormBackward: addon.rmsNormBackward,
    dyt: addon.dyt,
    dytBackward: addon.dytBackward,
    dropout: addon.dropout,
    axpy: (n, alpha, x, y, beta) => (n < NATIVE_MIN_ELEMENTS ? jsKernels : addon).axpy(n, alpha, x, y, beta),
    binaryCycle: (op, a, b, out, n, m) =>
      n < NATIVE_MIN_ELEMENTS
        ? jsKernels.binaryCycle(op, a, b, out, n, m)
        : addon.binaryCycle(OPS[op], a, b, out, n, m),
    binaryRepeat: (op, a, b, out, n, each) =>
      n < NATIVE_MIN_ELEMENTS
        ? jsKernels.binaryRepeat(op, a, b, out, n, each)
        : addon.binaryRepeat(OPS[op], a, b, out, n, each),
    addProductRepeat: (g, y, into, n, each) =>
      (n < NATIVE_MIN_ELEMENTS ? jsKernels : addon).addProductRepeat(g, y, into, n, each),
    xoshiroWords: (state, out, n) =>
      (n < NATIVE_MIN_ELEMENTS ? jsKernels : addon).xoshiroWords(state, out, n),
    copyRows: (src, dst, rows, width) =>
      rows * width < NATIVE_MIN_ELEMENTS
        ? jsKernels.copyRows(src, dst, rows, width)
        : addon.copyRows(...src, ...dst, rows, width),
    addRows: (src, dst, rows, width) =>
      rows * width < NATIVE_MIN_ELEMENTS
        ? jsKernels.addRows(src, dst, rows, width)
        : addon.addRows(...src, ...dst, rows, width),
    rotary: addon.rotary,
    addRowDots: (g, y, into, n, each) =>
      (n < NATIVE_MIN_ELEMENTS ? jsKernels : addon).addRowDots(g, y, into, n, each),
    indexedAddRows: (src, rows, dst, width, scatter) =>
      // a width that is not a count goes to js too, whose message says so
      (rows.length * width < NATIVE_MIN_ELEMENTS || !Number.isSafeInteger(width)
        ? jsKernels
        : addon
      ).indexedAddRows(src, rows, dst, width, scatter),
    gatherRows: (src, rows, dst, width) =>
      (rows.length * width < NATIVE_MIN_ELEMENTS || !Number.isSafeInteger(width)
        ? jsKernels
        : addon
      ).gatherRows(src, rows, dst, width),
    gatedBlockAdd: (...args) =>
      (args[4] * args[7] < NATIVE_MIN_ELEMENTS ? jsKernels : addon).gatedBlockAdd(...args),
    gatedBlockBackward: (...args) =>
      (args[4] * args[7] < NATIVE_MIN_ELEMENTS ? jsKernels : addon).gatedBlockBackward(...args),
    adamUpdate: (w, g, m, v, n, h) =>
      n < NATIVE_MIN_ELEMENTS
        ? jsKernels.adamUpdate(w, g, m, v, n, h)
        : addon.adamUpdate(
            w,
            g,
            m,
            v,
            n,
            h.lr,
            h.beta1,
            h.beta2,
            h.eps,
            h.weightDecay,
            h.decoupled,
            h.stepSize,
            h.rbc2,
          ),
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
