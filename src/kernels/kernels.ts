/**
 * The one interface behind which every dense kernel lives. The engine calls only these
 * functions; three backends implement them:
 *   - native: an N-API addon over OpenBLAS (fastest; built at `npm install` when OpenBLAS exists)
 *   - wasm:   WebAssembly SIMD kernels compiled from AssemblyScript (portable, browser-capable)
 *   - js:     plain TypeScript reference kernels (ground truth for the tests)
 *
 * Conventions: every matrix is row-major Float32Array. Offsets are expressed by passing a
 * `subarray` view. Kernels never allocate tensors of their own and never keep references
 * to the arrays they are given.
 */

export type BackendName = 'native' | 'wasm' | 'js';

/** The element-wise operations of binaryCycle and binaryRepeat. */
export type BinaryOp = 'add' | 'sub' | 'mul' | 'div';

/**
 * A block of `rows` rows of `width` floats in an array laid out with `stride` floats a row, from
 * element `start` (copyRows' source and destination).
 */
export type RowBlock = [data: Float32Array, start: number, stride: number];

/**
 * What gatedBlockAdd and gatedBlockBackward take first: expert `expert`'s output y [rows, width],
 * one gate's weights [rows, experts], and the block of columns [column, column + d) it mixes.
 */
export type GatedBlockArgs = [
  y: Float32Array,
  gates: Float32Array,
  experts: number,
  expert: number,
  rows: number,
  width: number,
  column: number,
  d: number,
];

/** One Adam (AdamW when decoupled) step's constants: stepSize = lr/(1 − β1ᵗ), rbc2 = 1/√(1 − β2ᵗ). */
export interface AdamStep {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  decoupled: boolean;
  stepSize: number;
  rbc2: number;
}

/**
 * An attention's probabilities and their dropout, as its fused kernels take them (last). Without
 * dropout (bits null) `kept` must be `probs` itself: the kernels read kept for the output.
 */
type ProbabilityArgs = [
  scale: number,
  bits: Uint32Array | null,
  threshold: number,
  keep: number,
  probs: Float32Array,
  kept: Float32Array,
];

/** What causalAttention and causalAttentionBackward take first. */
export type CausalAttentionArgs = [
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  offsets: Int32Array,
  heads: number,
  d: number,
  lastOnly: boolean,
  ...ProbabilityArgs,
];

/** What routedAttention and routedAttentionBackward take first. */
export type RoutedAttentionArgs = [
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  nullKv: Float32Array,
  queryOffsets: Int32Array,
  keyOffsets: Int32Array,
  heads: number,
  width: number,
  ...ProbabilityArgs,
];

/** What coordinateDescent and coordinateDescentBackward take first. */
export type CoordinateDescentArgs = [
  n: number,
  index: Int32Array,
  start: Int32Array,
  eps: Float64Array,
  sm: Float32Array,
  active: Uint8Array,
];

export interface Kernels {
  readonly name: BackendName;

  /**
   * C = alpha · op(A) · op(B) + beta · C, where op(A) is m×k and op(B) is k×n.
   * A is stored m×k with row stride lda (or k×m when transA); B is stored k×n with row
   * stride ldb (or n×k when transB); C is m×n with row stride ldc.
   * With beta = 0, C's previous contents are ignored (NaN in C does not propagate).
   */
  sgemm(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: Float32Array,
    lda: number,
    b: Float32Array,
    ldb: number,
    beta: number,
    c: Float32Array,
    ldc: number,
  ): void;

  /**
   * `batch` independent GEMMs as in `sgemm`; matrix `i` of A starts at element i·strideA
   * (likewise B and C). Used by attention (one matrix per sequence and head).
   */
  sgemmStridedBatched(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: Float32Array,
    lda: number,
    strideA: number,
    b: Float32Array,
    ldb: number,
    strideB: number,
    beta: number,
    c: Float32Array,
    ldc: number,
    strideC: number,
    batch: number,
  ): void;

  /**
   * In place, for each of `rows` contiguous rows of length `cols`: x ← softmax(x).
   * Entries equal to -Infinity get probability 0; a row made only of -Infinity becomes all 0.
   */
  softmaxRows(x: Float32Array, rows: number, cols: number): void;

  /**
   * Softmax cross-entropy over `rows` contiguous rows of logits (each of length `cols`) with
   * integer targets in [0, cols). Returns the float64 sum over rows of
   * -log softmax(row)[target], and overwrites each row, in place, with
   * gradScale · (softmax(row) − onehot(target)): the gradient of gradScale · Σ loss.
   */
  crossEntropyRows(
    logits: Float32Array,
    rows: number,
    cols: number,
    targets: Int32Array,
    gradScale: number,
  ): number;

  /**
   * In place, for each of `rows` rows of length `cols`: cross-entropy against soft targets (MOCA's
   * decayed labels). Row r's targets are items[q] with weights[q] for q in offsets[first + r] ..
   * offsets[first + r + 1]. Returns the float64 sum over rows of Σ_q w_q (logZ − x[items[q]]),
   * and overwrites each row with its gradient times gradScale: Σw · softmax(x) − Σ_q w_q
   * onehot(items[q]) (repeated items add up).
   */
  softTargetCrossEntropyRows(
    logits: Float32Array,
    rows: number,
    cols: number,
    offsets: Int32Array,
    items: Int32Array,
    weights: Float32Array,
    first: number,
    gradScale: number,
  ): number;

  /**
   * Binary cross-entropy with logits, element-wise for i < n: returns the float64 sum over i of
   * max(x, 0) − x·y + log(1 + e^−|x|) (stable for any x), and writes diff[i] = σ(x[i]) − y[i],
   * the gradient of that sum with respect to x[i]. diff may not alias x or y.
   */
  bceWithLogits(x: Float32Array, y: Float32Array, diff: Float32Array, n: number): number;

  /**
   * Scores of B users against n rows of an 8-bit table (a quantized item table, serving):
   * out[b·n + i] = scales[i] · Σ_j users[b·dim + j] · codes[i·dim + j], summed in float32 in any
   * order. The codes are a quarter of the bytes of a float32 table: over a large catalog, reading
   * the table is most of the cost.
   */
  scoreInt8Rows(
    users: Float32Array,
    B: number,
    codes: Int8Array,
    scales: Float32Array,
    n: number,
    dim: number,
    out: Float32Array,
  ): void;

  /** y[i] = GELU(x[i]) = x·Φ(x) (the exact, erf-based GELU), for i < n. */
  gelu(x: Float32Array, y: Float32Array, n: number): void;

  /** dx[i] = dy[i] · GELU'(x[i]) for i < n (overwrites dx). */
  geluBackward(x: Float32Array, dy: Float32Array, dx: Float32Array, n: number): void;

  /** y[i] = tanh(x[i]) for i < n, in float64 and rounded once (y may be x). */
  tanh(x: Float32Array, y: Float32Array, n: number): void;

  /**
   * LayerNorm forward over `rows` contiguous rows of length d: xhat = (x − μ)·rstd with
   * rstd = 1/√(σ² + eps) (biased variance; the sums in float64), out = γ ⊙ xhat + β. Writes
   * out and xhat [rows·d] and rstd [rows].
   */
  layerNorm(
    x: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    eps: number,
    rows: number,
    d: number,
    out: Float32Array,
    xhat: Float32Array,
    rstd: Float32Array,
  ): void;

  /**
   * LayerNorm backward from dy [rows·d] and the forward's xhat and rstd: with ĝ = dy ⊙ γ,
   * gx = rstd/d · (d·ĝ − Σĝ − xhat·Σ(ĝ ⊙ xhat)), written into gx (or added to it when
   * `accumulate`); gGamma += Σ_rows dy ⊙ xhat and gBeta += Σ_rows dy. A null target is skipped.
   */
  layerNormBackward(
    dy: Float32Array,
    xhat: Float32Array,
    rstd: Float32Array,
    gamma: Float32Array,
    rows: number,
    d: number,
    gx: Float32Array | null,
    accumulate: boolean,
    gGamma: Float32Array | null,
    gBeta: Float32Array | null,
  ): void;

  /**
   * RMSNorm forward (MOCA's) over `rows` contiguous rows of length d: n = max(‖x‖₂, eps) (the
   * sum of squares in float64), out = x · √d / n ⊙ γ. Writes out [rows·d] and norms (n) [rows].
   */
  rmsNorm(
    x: Float32Array,
    gamma: Float32Array,
    eps: number,
    rows: number,
    d: number,
    out: Float32Array,
    norms: Float32Array,
  ): void;

  /**
   * RMSNorm backward from dy, x and the forward's norms: with x̂ = x / n and u = dy ⊙ γ · √d,
   * gx = (u − x̂ (x̂ · u)) / n (u / n for a row whose norm was clamped to eps), written into gx
   * (or added when `accumulate`); gGamma += Σ_rows dy ⊙ x̂ · √d. A null target is skipped.
   */
  rmsNormBackward(
    dy: Float32Array,
    x: Float32Array,
    norms: Float32Array,
    gamma: Float32Array,
    eps: number,
    rows: number,
    d: number,
    gx: Float32Array | null,
    accumulate: boolean,
    gGamma: Float32Array | null,
  ): void;

  /**
   * DyT forward over `rows` contiguous rows of length d: t = tanh(alpha·x), out = γ ⊙ t + β.
   * Writes out and t [rows·d].
   */
  dyt(
    x: Float32Array,
    alpha: number,
    gamma: Float32Array,
    beta: Float32Array,
    rows: number,
    d: number,
    out: Float32Array,
    t: Float32Array,
  ): void;

  /**
   * DyT backward from dy, x and the forward's t: with p = dy ⊙ γ ⊙ (1 − t²), gx = alpha·p
   * written into gx (or added when `accumulate`), gGamma += Σ_rows dy ⊙ t, gBeta += Σ_rows dy
   * (a null target is skipped). Returns Σ p ⊙ x, the gradient of alpha, as a float64.
   */
  dytBackward(
    dy: Float32Array,
    x: Float32Array,
    t: Float32Array,
    alpha: number,
    gamma: Float32Array,
    rows: number,
    d: number,
    gx: Float32Array | null,
    accumulate: boolean,
    gGamma: Float32Array | null,
    gBeta: Float32Array | null,
  ): number;

  /**
   * Inverted dropout from one random word per element, for i < n: scale[i] = keep when
   * bits[i] ≥ threshold (an integer in [0, 2³²)), else 0; out[i] = x[i]·scale[i], and 0 where
   * dropped even if x[i] is not finite. bits may be a view of scale's memory (each word is read
   * before its element of scale is written).
   */
  dropout(
    x: Float32Array,
    bits: Uint32Array,
    threshold: number,
    keep: number,
    n: number,
    out: Float32Array,
    scale: Float32Array,
  ): void;

  // Element-wise vector kernels behind the engine's broadcast arithmetic, gradient sums and
  // Adam. Every backend computes exactly what js.ts's loops compute (float64 where they compute
  // in float64, one rounding to float32 per store, no fused multiply-add), so the choice of
  // backend never changes a result through them.

  /**
   * y[i] = beta·y[i] + alpha·x[i] for i < n, beta 1 (add; the product and the sum in float64) or
   * 0 (overwrite: y is not read, as a GEMM with beta 0).
   */
  axpy(n: number, alpha: number, x: Float32Array, y: Float32Array, beta: 0 | 1): void;

  /** out[i] = a[i] op b[i mod m] for i < n; m divides n (m = n: same shapes; else b cycles, as a bias). */
  binaryCycle(op: BinaryOp, a: Float32Array, b: Float32Array, out: Float32Array, n: number, m: number): void;

  /** out[i] = a[i] op b[⌊i / each⌋] for i < n; each divides n (a scalar per row of `each`). */
  binaryRepeat(
    op: BinaryOp,
    a: Float32Array,
    b: Float32Array,
    out: Float32Array,
    n: number,
    each: number,
  ): void;

  /**
   * Copies a block of rows between strided layouts: row r's `width` floats from src to dst (the
   * concatenations and slices of the shape ops). Rows may not overlap in dst (width <= its stride).
   */
  copyRows(src: RowBlock, dst: RowBlock, rows: number, width: number): void;

  /**
   * copyRows that adds: row r's `width` floats of src are added to dst's, each a float32 add (the
   * gradients of slices and concatenations after the first contribution).
   */
  addRows(src: RowBlock, dst: RowBlock, rows: number, width: number): void;

  /**
   * out[i] for i < n: the next n words of xoshiro128** from `state` [4], which is left where the
   * stream stops (engine/rng.ts's generator).
   */
  xoshiroWords(state: Uint32Array, out: Uint32Array, n: number): void;

  /** into[i] = into[i] + g[i]·y[⌊i / each⌋] for i < n (in float64); each divides n. */
  addProductRepeat(g: Float32Array, y: Float32Array, into: Float32Array, n: number, each: number): void;

  /**
   * into[r] = into[r] + Σ_j g[r·each + j]·y[r·each + j] for r < n / each: each row's sum in
   * float64, in column order; each divides n (addProductRepeat's transpose: a per-row scalar's
   * gradient).
   */
  addRowDots(g: Float32Array, y: Float32Array, into: Float32Array, n: number, each: number): void;

  /**
   * Adds rows of `width` floats through an index, for i < rows.length in order, each a float32
   * add: scatter, dst row rows[i] += src row i (rows that repeat add up); gather, dst row i +=
   * src row rows[i]. The row gradients of the shape ops' gathers and scatters (indexRows,
   * scatterRows, addToRows). Every index is checked against the indexed array's rows before
   * anything is written.
   */
  indexedAddRows(
    src: Float32Array,
    rows: Int32Array,
    dst: Float32Array,
    width: number,
    scatter: boolean,
  ): void;

  /**
   * Copies rows of `width` floats through an index: dst row i = src row rows[i] for i <
   * rows.length (the shape ops' gathers: indexRows, embedding). Bits as they are, but that the js
   * loop for rows under 16 floats may quiet a signalling NaN. Every index is checked against
   * src's rows before anything is written.
   */
  gatherRows(src: Float32Array, rows: Int32Array, dst: Float32Array, width: number): void;

  /**
   * One expert's share of a block-gated mixture (engine/ops/mixture.ts): out[r, column + j] +=
   * gates[r, expert] · y[r, column + j] for j < d, each sum in float64 (out is [rows, width]).
   */
  gatedBlockAdd(...args: [...GatedBlockArgs, out: Float32Array]): void;

  /**
   * gatedBlockAdd's backward from gOut [rows, width]: gy[r, column + j] += gate · gOut (skipped
   * when gy is null) and gGates[r, expert] += Σ_j y·gOut, the sum in float64 in column order
   * (skipped when gGates is null).
   */
  gatedBlockBackward(
    ...args: [...GatedBlockArgs, gOut: Float32Array, gy: Float32Array | null, gGates: Float32Array | null]
  ): void;

  /**
   * One Adam update of n weights w from gradients g and moments m, v, as PyTorch's rule: with
   * decoupled weight decay w ← w − lr·wd·w first, else g + wd·w; m ← β1·m + (1 − β1)·g,
   * v ← β2·v + (1 − β2)·g², w ← w − stepSize·m / (√v·rbc2 + eps), the new m and v unrounded.
   */
  adamUpdate(
    w: Float32Array,
    g: Float32Array,
    m: Float32Array,
    v: Float32Array,
    n: number,
    h: AdamStep,
  ): void;

  /**
   * Optional: causal multi-head attention over packed sequences in one call (engine/ops/
   * attention.ts, whose GEMM-per-block path runs when a backend lacks it and is the reference).
   * q [Rq, d] (Rq = B with lastOnly: each sequence's last position only, else R), k and v
   * [R, d], offsets [B + 1] from 0 to R. Block (b, h), in order b·heads + h, holds nq × n
   * probabilities: query t of sequence b sees keys 0 .. n − nq + t. Writes probs (the causal
   * softmax of q·kᵀ·scale, 0 above the diagonal), kept (probs after dropout: bits[i] ≥ threshold
   * keeps probs[i]·keep; kept may be probs when bits is null) and out = kept · v.
   */
  causalAttention?(...args: [...CausalAttentionArgs, out: Float32Array]): void;

  /** Optional, with causalAttention: adds the gradients from dOut to gQ, gK and gV (null: skipped). */
  causalAttentionBackward?(
    ...args: [
      ...CausalAttentionArgs,
      dOut: Float32Array,
      gQ: Float32Array | null,
      gK: Float32Array | null,
      gV: Float32Array | null,
    ]
  ): void;

  /**
   * Optional: attention of routed tokens over packed sequences in one call (MOCA; engine/ops/
   * routed-attention.ts, whose JS loops with a GEMM per block run when a backend lacks it and are
   * the reference). q [Q, width], k and v [K, width], nullKv [2, heads, width / heads] (null
   * keys, then null values); sequence b has queries queryOffsets[b] .. queryOffsets[b + 1] and
   * keys keyOffsets[b] .. keyOffsets[b + 1]. Block (b, h), in order b·heads + h, holds
   * nq × (nk + 1) probabilities, column 0 the null key's. Writes probs (softmax of
   * [q·k_null, q·k_j]·scale), kept (probs after dropout, as causalAttention) and
   * out = kept · [v_null; v_j].
   */
  routedAttention?(...args: [...RoutedAttentionArgs, out: Float32Array]): void;

  /**
   * Optional, with routedAttention: adds the gradients from dOut to gQ, gK, gV and gNullKv (null:
   * skipped). `fresh` (bits 1, 2, 4 for gQ, gK, gV) marks buffers that hold no gradient yet: their
   * first rows × width elements are ignored, and the result is what adding to zeros gives. A fresh
   * buffer must not overlap another gradient.
   */
  routedAttentionBackward?(
    ...args: [
      ...RoutedAttentionArgs,
      dOut: Float32Array,
      gQ: Float32Array | null,
      gK: Float32Array | null,
      gV: Float32Array | null,
      gNullKv: Float32Array | null,
      fresh: number,
    ]
  ): void;

  /**
   * Optional: CoLT5's soft top-k by coordinate descent (MOCA's routers; engine/ops/
   * coordinate-descent.ts runs its JS loops when a backend lacks it, and they are the reference).
   * Scores s [B, n] are read at each row's valid entries, row r's columns
   * index[start[r] .. start[r + 1]); eps holds the T iterations' temperatures and the final one.
   * Writes p into out at the valid entries (nothing elsewhere), each iteration's softmax into sm
   * and its ReLU pattern into active (T values per valid entry, row r's at T·start[r] + t·m_r).
   */
  coordinateDescent?(
    ...args: [...CoordinateDescentArgs, s: Float32Array, logK: number, out: Float32Array]
  ): void;

  /** Optional, with coordinateDescent: adds the gradient from dOut to gs at the valid entries. */
  coordinateDescentBackward?(
    ...args: [...CoordinateDescentArgs, out: Float32Array, dOut: Float32Array, gs: Float32Array]
  ): void;

  /**
   * Optional (engine/ops/rotary.ts's loop is the reference): rotary positions over rows of
   * 2·half floats, row r at positions[r], with the angle table's cos and sin (row p of `half`
   * values for position p). out1 = x1·c − x2·s, out2 = x2·c + x1·s with s = sign·sin, in float64,
   * each result rounded to float32, written to dst or (add) added to it. The op checks the
   * positions and sizes; a native kernel checks them again to stay in bounds, the JS loop does not.
   */
  rotary?(
    src: Float32Array,
    dst: Float32Array,
    cos: Float64Array,
    sin: Float64Array,
    positions: Int32Array,
    rows: number,
    half: number,
    sign: 1 | -1,
    add: boolean,
  ): void;

  /** Number of threads the backend's kernels may use (1 for backends without threads). */
  threads(): number;
  setThreads(n: number): void;

  /** Facts for `cammsr doctor`: library versions, CPU features, build flags. */
  describe(): Record<string, string | number | boolean>;
}
