/**
 * The "wasm" kernel backend: WebAssembly SIMD kernels compiled from wasm/assembly/kernels.ts
 * (AssemblyScript; rebuilt by `node scripts/build-wasm.mjs`, the built wasm/kernels.wasm is
 * committed). Single-threaded.
 *
 * The module owns one linear memory and allocates nothing itself: for every call this wrapper
 * lays the operands out above the module's heap base (a bump allocator reset per call), copies
 * in only what the kernel reads, runs it, and copies out only what it wrote. Memory grows on
 * demand up to the wasm32 limit of 4 GiB and is never shrunk (wasm cannot), so the high-water
 * mark of the largest call stays allocated.
 *
 * This file uses nothing but WebAssembly and typed arrays, so a browser bundle can import it
 * and call `createWasmKernels(bytes)` with fetched bytes; the Node loader is in wasm.ts.
 */
import type { Kernels } from './kernels.js';
import { jsKernels } from './js.js';

// The project compiles against lib ES2022 + @types/node, which declare no WebAssembly types:
// this is the little of the WebAssembly JS API that the loader uses.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(deltaPages: number): number;
}
type WasmModule = object;
declare const WebAssembly: {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { readonly exports: unknown };
};

/** The exports of wasm/kernels.wasm (pointers are byte offsets into `memory`). */
interface WasmExports {
  memory: WasmMemory;
  heapBase(): number;
  sgemmWorkspaceBytes(): number;
  sgemm(
    transA: number,
    transB: number,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: number,
    lda: number,
    b: number,
    ldb: number,
    beta: number,
    c: number,
    ldc: number,
    work: number,
  ): void;
  sgemmStridedBatched(
    transA: number,
    transB: number,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: number,
    lda: number,
    strideA: number,
    b: number,
    ldb: number,
    strideB: number,
    beta: number,
    c: number,
    ldc: number,
    strideC: number,
    batch: number,
    work: number,
  ): void;
  softmaxRows(x: number, rows: number, cols: number): void;
  crossEntropyRows(x: number, rows: number, cols: number, targets: number, gradScale: number): number;
  crossEntropyBadRow(): number;
  gelu(x: number, y: number, n: number): void;
  geluBackward(x: number, dy: number, dx: number, n: number): void;
}

const REQUIRED_EXPORTS = [
  'heapBase',
  'sgemmWorkspaceBytes',
  'sgemm',
  'sgemmStridedBatched',
  'softmaxRows',
  'crossEntropyRows',
  'crossEntropyBadRow',
  'gelu',
  'geluBackward',
] as const;

const PAGE = 65536;
const MAX_BYTES = 4 * 1024 * 1024 * 1024; // wasm32 address space
const ALIGN = 64; // cache-line aligned operands

// (module (func (result v128) v128.const i32x4 0 0 0 0)): validates only where SIMD exists.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0, 253, 12, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11,
]);

/** True when this engine supports WebAssembly fixed-width SIMD. */
export function wasmSimdSupported(): boolean {
  return typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
}

/**
 * How one matrix operand (or a strided batch of them) is laid out in wasm memory. Small gaps
 * between rows are copied along with the rows (one bulk copy); when the gaps would more than
 * double the bytes moved, the rows are packed densely instead (one copy per row).
 */
interface Layout {
  rows: number;
  cols: number;
  ld: number; // source row stride (elements)
  stride: number; // source matrix stride (elements)
  batch: number;
  dense: boolean; // true: packed rows×cols per matrix; false: the source span as it is
  wasmLd: number;
  wasmStride: number;
  floats: number; // floats occupied in wasm memory
  span: number; // elements of the source array that are read: last index + 1
}

function layout(
  what: string,
  src: Float32Array,
  rows: number,
  cols: number,
  ld: number,
  stride: number,
  batch: number,
  forceDense = false,
): Layout {
  if (rows > 1 && ld < cols) {
    throw new RangeError(`${what}: leading dimension ${ld} is smaller than the row length ${cols}`);
  }
  if (batch > 1 && stride < 0) throw new RangeError(`${what}: negative batch stride ${stride}`);
  const span = (batch - 1) * stride + (rows - 1) * ld + cols;
  if (src.length < span) {
    throw new RangeError(`${what}: array has ${src.length} elements, the operation reads ${span}`);
  }
  const dense = forceDense || span > 2 * batch * rows * cols;
  // When packed, a batch stride of 0 (one matrix shared by the whole batch) stays shared.
  const copies = stride === 0 ? 1 : batch;
  return {
    rows,
    cols,
    ld,
    stride,
    batch,
    dense,
    wasmLd: dense ? cols : ld,
    wasmStride: dense ? (stride === 0 ? 0 : rows * cols) : stride,
    floats: dense ? copies * rows * cols : span,
    span,
  };
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function alignUp(x: number): number {
  return Math.ceil(x / ALIGN) * ALIGN;
}

/** Compiles (if given bytes) and instantiates the module, and checks it is the cammsr kernels. */
function instantiate(source: Uint8Array | WasmModule): WasmExports {
  if (!wasmSimdSupported()) throw new Error('this JavaScript engine does not support WebAssembly SIMD');
  let module: WasmModule;
  try {
    module = source instanceof Uint8Array ? new WebAssembly.Module(source) : source;
  } catch (err) {
    throw new Error(`cannot compile the wasm kernels: ${messageOf(err)}`, { cause: err });
  }
  const exports = new WebAssembly.Instance(module, {}).exports as Record<string, unknown>;
  for (const name of REQUIRED_EXPORTS) {
    if (typeof exports[name] !== 'function') {
      throw new Error(`the wasm module is not the cammsr kernels (it lacks the export "${name}")`);
    }
  }
  if (!((exports.memory as WasmMemory | undefined)?.buffer instanceof ArrayBuffer)) {
    throw new Error('the wasm module is not the cammsr kernels (it exports no memory)');
  }
  return exports as unknown as WasmExports;
}

/**
 * The operands' room in linear memory, shared by all the kernels of one instance: a bump
 * allocator above the module's heap base that every call resets, and the copies in and out.
 * Use: reset(), take() for each operand, commit(), copy in, run the kernel, copy out.
 */
class WasmHeap {
  /** The view of the memory as of the last commit() (growing memory replaces its buffer). */
  private f32: Float32Array;
  private readonly base: number;
  private top: number;

  constructor(
    readonly memory: WasmMemory,
    heapBase: number,
  ) {
    this.base = alignUp(heapBase);
    this.top = this.base;
    this.f32 = new Float32Array(memory.buffer);
  }

  reset(): void {
    this.top = this.base;
  }

  /** Room for `bytes` bytes; returns its byte pointer. */
  take(bytes: number): number {
    const p = this.top;
    this.top = alignUp(p + bytes);
    return p;
  }

  /** Room for the first n floats of src, after checking that src has them. */
  stage(src: Float32Array, n: number, what: string): number {
    if (src.length < n) throw new RangeError(`${what}: array has ${src.length} elements, needs ${n}`);
    return this.take(n * 4);
  }

  /** Grows memory to hold everything taken so far. */
  commit(): void {
    const memory = this.memory;
    const top = this.top;
    const have = memory.buffer.byteLength;
    if (top > have) {
      if (top > MAX_BYTES) {
        throw new RangeError(`wasm kernels: operation needs ${top} bytes, beyond the 4 GiB of wasm32 memory`);
      }
      try {
        memory.grow(Math.ceil((top - have) / PAGE));
      } catch (err) {
        throw new RangeError(`wasm kernels: cannot grow memory to ${top} bytes`, { cause: err });
      }
    }
    // Growing detaches the old ArrayBuffer, so the view is re-created whenever it changed.
    if (this.f32.buffer !== memory.buffer) this.f32 = new Float32Array(memory.buffer);
  }

  /** Copies the first n floats of src to ptr. */
  put(ptr: number, src: Float32Array, n: number): void {
    this.f32.set(src.subarray(0, n), ptr >>> 2);
  }

  /** Copies the first n integers of src to ptr. */
  putInts(ptr: number, src: Int32Array, n: number): void {
    new Int32Array(this.memory.buffer, ptr, n).set(src.subarray(0, n));
  }

  /** Copies n floats at ptr into dst. */
  get(ptr: number, dst: Float32Array, n: number): void {
    dst.set(this.f32.subarray(ptr >>> 2, (ptr >>> 2) + n));
  }

  /** Copies an operand in, laid out as `l` says. */
  copyIn(ptr: number, src: Float32Array, l: Layout): void {
    const mem = this.f32;
    const base = ptr >>> 2;
    if (!l.dense) {
      mem.set(src.subarray(0, l.span), base);
      return;
    }
    const copies = l.stride === 0 ? 1 : l.batch;
    for (let b = 0; b < copies; b++) {
      for (let r = 0; r < l.rows; r++) {
        const s = b * l.stride + r * l.ld;
        mem.set(src.subarray(s, s + l.cols), base + b * l.wasmStride + r * l.cols);
      }
    }
  }

  /** Copies C back: the whole span if it was copied in whole, else only the cells of C. */
  copyOut(ptr: number, dst: Float32Array, l: Layout, copiedIn: boolean): void {
    const mem = this.f32;
    const base = ptr >>> 2;
    if (!l.dense && copiedIn) {
      dst.set(mem.subarray(base, base + l.span));
      return;
    }
    if (l.ld === l.cols && (l.batch === 1 || l.stride === l.rows * l.cols)) {
      // C has no gaps, so the source and wasm layouts coincide: one bulk copy.
      dst.set(mem.subarray(base, base + l.batch * l.rows * l.cols));
      return;
    }
    for (let b = 0; b < l.batch; b++) {
      for (let r = 0; r < l.rows; r++) {
        const s = base + b * l.wasmStride + r * l.wasmLd;
        dst.set(mem.subarray(s, s + l.cols), b * l.stride + r * l.ld);
      }
    }
  }
}

/** sgemmStridedBatched with, first, the kernel's name for error messages. */
type Gemm = (what: string, ...args: Parameters<Kernels['sgemmStridedBatched']>) => void;

/**
 * The GEMM behind both sgemm kernels: lays the operands out in the heap, copies in only what
 * the kernel reads, runs sgemm (one matrix) or sgemmStridedBatched, and copies C back.
 */
function wasmGemm(ex: WasmExports, heap: WasmHeap): Gemm {
  const workspaceBytes = ex.sgemmWorkspaceBytes();
  return (what, transA, transB, m, n, k, alpha, a, lda, sA, b, ldb, sB, beta, c, ldc, sC, batch) => {
    if (m <= 0 || n <= 0 || batch <= 0) return;
    // With k = 0 or alpha = 0 the kernel only scales C, so A and B are neither read nor copied.
    const readsAB = k > 0 && alpha !== 0;
    const readsC = beta !== 0;
    heap.reset();
    const la = readsAB ? layout(`${what}: A`, a, transA ? k : m, transA ? m : k, lda, sA, batch) : undefined;
    const lb = readsAB ? layout(`${what}: B`, b, transB ? n : k, transB ? k : n, ldb, sB, batch) : undefined;
    // C is laid out densely when beta = 0: nothing is copied in and nothing but its cells out.
    const lc = layout(`${what}: C`, c, m, n, ldc, sC, batch, !readsC);
    const pa = la ? heap.take(la.floats * 4) : 0;
    const pb = lb ? heap.take(lb.floats * 4) : 0;
    const pc = heap.take(lc.floats * 4);
    const work = readsAB ? heap.take(workspaceBytes) : 0;
    heap.commit();
    if (la) heap.copyIn(pa, a, la);
    if (lb) heap.copyIn(pb, b, lb);
    if (readsC) heap.copyIn(pc, c, lc);
    const ta = transA ? 1 : 0;
    const tb = transB ? 1 : 0;
    if (batch === 1) {
      ex.sgemm(ta, tb, m, n, k, alpha, pa, la?.wasmLd ?? 0, pb, lb?.wasmLd ?? 0, beta, pc, lc.wasmLd, work);
    } else {
      ex.sgemmStridedBatched(
        ta,
        tb,
        m,
        n,
        k,
        alpha,
        pa,
        la?.wasmLd ?? 0,
        la?.wasmStride ?? 0,
        pb,
        lb?.wasmLd ?? 0,
        lb?.wasmStride ?? 0,
        beta,
        pc,
        lc.wasmLd,
        lc.wasmStride,
        batch,
        work,
      );
    }
    heap.copyOut(pc, c, lc, readsC);
  };
}

/** The two sgemm kernels, over one GEMM. */
function gemmKernels(ex: WasmExports, heap: WasmHeap): Pick<Kernels, 'sgemm' | 'sgemmStridedBatched'> {
  const gemm = wasmGemm(ex, heap);
  return {
    sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
      gemm('sgemm', transA, transB, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1);
    },

    sgemmStridedBatched(transA, transB, m, n, k, alpha, a, lda, sA, b, ldb, sB, beta, c, ldc, sC, batch) {
      gemm(
        'sgemmStridedBatched',
        transA,
        transB,
        m,
        n,
        k,
        alpha,
        a,
        lda,
        sA,
        b,
        ldb,
        sB,
        beta,
        c,
        ldc,
        sC,
        batch,
      );
    },
  };
}

/** The row-wise and element-wise kernels: each copies its operands in whole and its result out. */
function rowKernels(
  ex: WasmExports,
  heap: WasmHeap,
): Pick<
  Kernels,
  | 'softmaxRows'
  | 'crossEntropyRows'
  | 'softTargetCrossEntropyRows'
  | 'bceWithLogits'
  | 'scoreInt8Rows'
  | 'gelu'
  | 'geluBackward'
  | 'layerNorm'
  | 'layerNormBackward'
  | 'rmsNorm'
  | 'rmsNormBackward'
  | 'dyt'
  | 'dytBackward'
  | 'dropout'
  | 'axpy'
  | 'binaryCycle'
  | 'binaryRepeat'
  | 'addProductRepeat'
  | 'addRowDots'
  | 'indexedAddRows'
  | 'gatherRows'
  | 'xoshiroWords'
  | 'copyRows'
  | 'addRows'
  | 'tanh'
  | 'adamUpdate'
  | 'gatedBlockAdd'
  | 'gatedBlockBackward'
> {
  return {
    softmaxRows(x, rows, cols) {
      const n = rows * cols;
      if (n <= 0) return;
      heap.reset();
      const p = heap.stage(x, n, 'softmaxRows');
      heap.commit();
      heap.put(p, x, n);
      ex.softmaxRows(p, rows, cols);
      heap.get(p, x, n);
    },

    crossEntropyRows(logits, rows, cols, targets, gradScale) {
      if (rows <= 0) return 0;
      const n = rows * cols;
      if (targets.length < rows) {
        throw new RangeError(`crossEntropyRows: ${targets.length} targets for ${rows} rows`);
      }
      heap.reset();
      const p = heap.stage(logits, n, 'crossEntropyRows');
      const pt = heap.take(rows * 4);
      heap.commit();
      heap.put(p, logits, n);
      heap.putInts(pt, targets, rows);
      const total = ex.crossEntropyRows(p, rows, cols, pt, gradScale);
      const bad = ex.crossEntropyBadRow();
      if (bad >= 0) {
        throw new RangeError(`crossEntropyRows: target ${targets[bad]} of row ${bad} not in [0, ${cols})`);
      }
      heap.get(p, logits, n);
      return total;
    },

    // Not a wasm kernel yet: the js reference (the category losses are its only caller).
    bceWithLogits: jsKernels.bceWithLogits,
    // Not a wasm kernel yet: the js reference (MOCA's loss is its only caller).
    softTargetCrossEntropyRows: jsKernels.softTargetCrossEntropyRows,
    // Not wasm kernels yet: the js reference. Each makes one or two passes over its data, which
    // a wasm kernel would first copy into the module's memory and back (not measured).
    layerNorm: jsKernels.layerNorm,
    layerNormBackward: jsKernels.layerNormBackward,
    rmsNorm: jsKernels.rmsNorm,
    rmsNormBackward: jsKernels.rmsNormBackward,
    dyt: jsKernels.dyt,
    dytBackward: jsKernels.dytBackward,
    dropout: jsKernels.dropout,
    // Math.tanh per element; a wasm tanh would be a polynomial like native's (not written).
    tanh: jsKernels.tanh,
    // The vector kernels stay the js reference's: one pass each over data a wasm kernel would
    // first have to copy into the module's memory and back.
    axpy: jsKernels.axpy,
    binaryCycle: jsKernels.binaryCycle,
    binaryRepeat: jsKernels.binaryRepeat,
    addProductRepeat: jsKernels.addProductRepeat,
    addRowDots: jsKernels.addRowDots,
    indexedAddRows: jsKernels.indexedAddRows,
    gatherRows: jsKernels.gatherRows,
    xoshiroWords: jsKernels.xoshiroWords,
    copyRows: jsKernels.copyRows,
    addRows: jsKernels.addRows,
    adamUpdate: jsKernels.adamUpdate,
    gatedBlockAdd: jsKernels.gatedBlockAdd,
    gatedBlockBackward: jsKernels.gatedBlockBackward,
    // Copying a large item table into the module's memory per request would cost more than the
    // arithmetic saves: the quantized table is scored where it lives.
    scoreInt8Rows: jsKernels.scoreInt8Rows,

    gelu(x, y, n) {
      if (n <= 0) return;
      if (y.length < n) throw new RangeError(`gelu: output has ${y.length} elements, needs ${n}`);
      heap.reset();
      const p = heap.stage(x, n, 'gelu');
      heap.commit();
      heap.put(p, x, n);
      ex.gelu(p, p, n); // in place in wasm memory
      heap.get(p, y, n);
    },

    geluBackward(x, dy, dx, n) {
      if (n <= 0) return;
      if (dx.length < n) throw new RangeError(`geluBackward: dx has ${dx.length} elements, needs ${n}`);
      heap.reset();
      const px = heap.stage(x, n, 'geluBackward: x');
      const pd = heap.stage(dy, n, 'geluBackward: dy');
      heap.commit();
      heap.put(px, x, n);
      heap.put(pd, dy, n);
      ex.geluBackward(px, pd, pd, n); // the result overwrites dy's copy
      heap.get(pd, dx, n);
    },
  };
}

/**
 * Instantiates the kernels from the bytes of wasm/kernels.wasm, or from a module compiled from
 * them (browsers limit synchronous compilation on the main thread, so a page may prefer
 * `createWasmKernels(await WebAssembly.compileStreaming(fetch(url)))`). `info` adds facts to
 * describe() (the Node loader passes the file's path and hash).
 */
export function createWasmKernels(
  source: Uint8Array | WasmModule,
  info: Record<string, string | number | boolean> = {},
): Kernels {
  const ex = instantiate(source);
  const heap = new WasmHeap(ex.memory, ex.heapBase());
  return {
    name: 'wasm',
    ...gemmKernels(ex, heap),
    ...rowKernels(ex, heap),

    // Single-threaded: any requested count is accepted (CAMMSR_THREADS applies to every
    // backend) and the backend keeps running on one thread.
    threads: () => 1,
    setThreads: () => {},

    describe: () => ({
      backend: 'wasm',
      simd: true,
      relaxedSimd: false,
      threads: 1,
      ...(source instanceof Uint8Array ? { wasmBytes: source.byteLength } : {}),
      memoryBytes: ex.memory.buffer.byteLength,
      ...info,
    }),
  };
}
