// WebAssembly SIMD kernels for cammsr (AssemblyScript, built with --runtime stub --enable simd).
//
// The module allocates nothing: the JS loader (src/kernels/wasm.ts) owns all of linear memory
// above heapBase(), copies operands there and passes byte pointers. Every matrix is row-major
// f32; leading dimensions and strides are in elements, as in src/kernels/kernels.ts.
//
// Relaxed SIMD (f32x4.relaxed_madd) is not used: Node 20's V8 only has it behind a flag, so
// the micro-kernel uses f32x4.mul + f32x4.add.

// ---------------------------------------------------------------------------------------------
// GEMM blocking (GotoBLAS/BLIS scheme). A micro-tile of C is MR×NR, held in 8 f32x4 registers;
// V8 on x64 has 15 usable xmm registers, so 4×8 leaves room for the 2 B vectors, the A
// broadcast and a product temporary without spilling.
// KC×NR panels of B (8 KiB) stay in L1, MC×KC blocks of A (128 KiB) in L2, KC×NC of B in L3.

const MR: i32 = 4;
const NR: i32 = 8;
const KC: i32 = 256;
const MC: i32 = 128; // multiple of MR
const NC: i32 = 2048; // multiple of NR

// Scratch tile for partial micro-tiles at the right/bottom edges of C.
const EDGE_TILE: usize = memory.data(MR * NR * 4, 16);
// Scratch vector for the last (n % 4) elements of element-wise kernels.
const TAIL: usize = memory.data(48, 16);

/** First byte the JS side may use for operands and workspace. */
export function heapBase(): usize {
  return __heap_base;
}

/** Bytes of packing workspace that sgemm / sgemmStridedBatched need at `work`. */
export function sgemmWorkspaceBytes(): usize {
  return (<usize>(MC * KC) + <usize>(KC * NC)) * 4;
}

// Store modes of a finished micro-tile T = alpha·acc into C.
const STORE_SET: i32 = 0; // C = T          (first k-block, beta = 0: old C is ignored, NaN too)
const STORE_ADD: i32 = 1; // C = C + T      (beta = 1, or any later k-block)
const STORE_AXPBY: i32 = 2; // C = beta·C + T (first k-block, other beta)

@inline
function storeTile(p: usize, t: v128, mode: i32, vbeta: v128): void {
  if (mode == STORE_SET) v128.store(p, t);
  else if (mode == STORE_ADD) v128.store(p, f32x4.add(v128.load(p), t));
  else v128.store(p, f32x4.add(f32x4.mul(v128.load(p), vbeta), t));
}

/**
 * The register-blocked inner loop: C[0..4, 0..8] (row stride ldc) ⟵ alpha · Σ_p a_p b_pᵀ,
 * where packed A gives 4 floats per p and packed B 8 floats per p.
 * Kept as a separate (non-inlined) function: V8 tiers a wasm function up to TurboFan only
 * between calls, so a hot small function gets optimised code during the first big GEMM.
 */
function kernel4x8(
  kc: i32,
  pa: usize,
  pb: usize,
  c: usize,
  ldc: usize,
  alpha: f32,
  beta: f32,
  mode: i32,
): void {
  let c00 = f32x4.splat(0);
  let c01 = c00;
  let c10 = c00;
  let c11 = c00;
  let c20 = c00;
  let c21 = c00;
  let c30 = c00;
  let c31 = c00;
  // Deliberately not unrolled: V8 unrolls this small loop itself and keeps all 15 live vectors
  // in registers; a manual 2× unroll (which Binaryen then reorders) made it spill (36 vs 60
  // GFLOP/s for this loop alone).
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let a = v128.load32_splat(pa);
    c00 = f32x4.add(c00, f32x4.mul(a, b0));
    c01 = f32x4.add(c01, f32x4.mul(a, b1));
    a = v128.load32_splat(pa, 4);
    c10 = f32x4.add(c10, f32x4.mul(a, b0));
    c11 = f32x4.add(c11, f32x4.mul(a, b1));
    a = v128.load32_splat(pa, 8);
    c20 = f32x4.add(c20, f32x4.mul(a, b0));
    c21 = f32x4.add(c21, f32x4.mul(a, b1));
    a = v128.load32_splat(pa, 12);
    c30 = f32x4.add(c30, f32x4.mul(a, b0));
    c31 = f32x4.add(c31, f32x4.mul(a, b1));
    pa += 16;
    pb += 32;
  }
  const va = f32x4.splat(alpha);
  const vb = f32x4.splat(beta);
  const row = ldc << 2;
  storeTile(c, f32x4.mul(c00, va), mode, vb);
  storeTile(c + 16, f32x4.mul(c01, va), mode, vb);
  c += row;
  storeTile(c, f32x4.mul(c10, va), mode, vb);
  storeTile(c + 16, f32x4.mul(c11, va), mode, vb);
  c += row;
  storeTile(c, f32x4.mul(c20, va), mode, vb);
  storeTile(c + 16, f32x4.mul(c21, va), mode, vb);
  c += row;
  storeTile(c, f32x4.mul(c30, va), mode, vb);
  storeTile(c + 16, f32x4.mul(c31, va), mode, vb);
}

/** 4×4 transpose of rows r0..r3 (as f32 lanes); results stored to dst, dst+s, dst+2s, dst+3s. */
@inline
function transpose4Store(r0: v128, r1: v128, r2: v128, r3: v128, dst: usize, s: usize): void {
  const t0 = i32x4.shuffle(r0, r1, 0, 4, 1, 5); // a0 b0 a1 b1
  const t1 = i32x4.shuffle(r0, r1, 2, 6, 3, 7); // a2 b2 a3 b3
  const t2 = i32x4.shuffle(r2, r3, 0, 4, 1, 5); // c0 d0 c1 d1
  const t3 = i32x4.shuffle(r2, r3, 2, 6, 3, 7); // c2 d2 c3 d3
  v128.store(dst, i32x4.shuffle(t0, t2, 0, 1, 4, 5));
  v128.store(dst + s, i32x4.shuffle(t0, t2, 2, 3, 6, 7));
  v128.store(dst + 2 * s, i32x4.shuffle(t1, t3, 0, 1, 4, 5));
  v128.store(dst + 3 * s, i32x4.shuffle(t1, t3, 2, 3, 6, 7));
}

/**
 * Packs rows [i0, i0+mc) × columns [p0, p0+kc) of op(A) into MR-row slivers: sliver s holds,
 * for each p, the MR values op(A)[i0+s·MR+r][p0+p] (r < MR); missing rows are zero.
 */
function packA(a: usize, lda: usize, transA: bool, i0: i32, p0: i32, mc: i32, kc: i32, dst: usize): void {
  for (let ir = 0; ir < mc; ir += MR) {
    const mr = min(MR, mc - ir);
    const i = <usize>(i0 + ir);
    if (transA) {
      // A is stored k×m: the MR values of one p are contiguous.
      let src = a + ((<usize>p0 * lda + i) << 2);
      if (mr == MR) {
        for (let p = 0; p < kc; p++) {
          v128.store(dst, v128.load(src));
          src += lda << 2;
          dst += 16;
        }
      } else {
        for (let p = 0; p < kc; p++) {
          for (let r = 0; r < MR; r++) {
            store<f32>(dst + (<usize>r << 2), r < mr ? load<f32>(src + (<usize>r << 2)) : 0);
          }
          src += lda << 2;
          dst += 16;
        }
      }
    } else {
      // A is stored m×k: transpose 4×4 blocks of MR rows.
      const src = a + ((i * lda + <usize>p0) << 2);
      const row = lda << 2;
      if (mr == MR) {
        let p = 0;
        for (; p + 4 <= kc; p += 4) {
          const s = src + (<usize>p << 2);
          transpose4Store(
            v128.load(s),
            v128.load(s + row),
            v128.load(s + 2 * row),
            v128.load(s + 3 * row),
            dst + (<usize>p << 4),
            16,
          );
        }
        for (; p < kc; p++) {
          const s = src + (<usize>p << 2);
          const d = dst + (<usize>p << 4);
          store<f32>(d, load<f32>(s));
          store<f32>(d, load<f32>(s + row), 4);
          store<f32>(d, load<f32>(s + 2 * row), 8);
          store<f32>(d, load<f32>(s + 3 * row), 12);
        }
      } else {
        for (let p = 0; p < kc; p++) {
          const d = dst + (<usize>p << 4);
          for (let r = 0; r < MR; r++) {
            store<f32>(d + (<usize>r << 2), r < mr ? load<f32>(src + <usize>r * row + (<usize>p << 2)) : 0);
          }
        }
      }
      dst += <usize>kc << 4;
    }
  }
}

/**
 * Packs rows [p0, p0+kc) × columns [j0, j0+nc) of op(B) into NR-column slivers: sliver s holds,
 * for each p, the NR values op(B)[p0+p][j0+s·NR+j] (j < NR); missing columns are zero.
 */
function packB(b: usize, ldb: usize, transB: bool, p0: i32, j0: i32, kc: i32, nc: i32, dst: usize): void {
  for (let jr = 0; jr < nc; jr += NR) {
    const nr = min(NR, nc - jr);
    const j = <usize>(j0 + jr);
    if (!transB) {
      // B is stored k×n: NR contiguous values per p.
      let src = b + ((<usize>p0 * ldb + j) << 2);
      if (nr == NR) {
        for (let p = 0; p < kc; p++) {
          v128.store(dst, v128.load(src));
          v128.store(dst, v128.load(src, 16), 16);
          src += ldb << 2;
          dst += 32;
        }
      } else {
        for (let p = 0; p < kc; p++) {
          for (let c = 0; c < NR; c++) {
            store<f32>(dst + (<usize>c << 2), c < nr ? load<f32>(src + (<usize>c << 2)) : 0);
          }
          src += ldb << 2;
          dst += 32;
        }
      }
    } else {
      // B is stored n×k: transpose 4×4 blocks of the NR rows j..j+NR.
      const src = b + ((j * ldb + <usize>p0) << 2);
      const row = ldb << 2;
      if (nr == NR) {
        let p = 0;
        for (; p + 4 <= kc; p += 4) {
          const s = src + (<usize>p << 2);
          const d = dst + (<usize>p << 5);
          transpose4Store(
            v128.load(s),
            v128.load(s + row),
            v128.load(s + 2 * row),
            v128.load(s + 3 * row),
            d,
            32,
          );
          const s4 = s + 4 * row;
          transpose4Store(
            v128.load(s4),
            v128.load(s4 + row),
            v128.load(s4 + 2 * row),
            v128.load(s4 + 3 * row),
            d + 16,
            32,
          );
        }
        for (; p < kc; p++) {
          const s = src + (<usize>p << 2);
          const d = dst + (<usize>p << 5);
          for (let c = 0; c < NR; c++) store<f32>(d + (<usize>c << 2), load<f32>(s + <usize>c * row));
        }
      } else {
        for (let p = 0; p < kc; p++) {
          const d = dst + (<usize>p << 5);
          for (let c = 0; c < NR; c++) {
            store<f32>(d + (<usize>c << 2), c < nr ? load<f32>(src + <usize>c * row + (<usize>p << 2)) : 0);
          }
        }
      }
      dst += <usize>kc << 5;
    }
  }
}

/** C (mr×nr at c, stride ldc) ⟵ T (EDGE_TILE, stride NR) combined by `mode`. */
function mergeEdge(c: usize, ldc: usize, mr: i32, nr: i32, beta: f32, mode: i32): void {
  for (let r = 0; r < mr; r++) {
    const crow = c + ((<usize>r * ldc) << 2);
    const trow = EDGE_TILE + (<usize>(r * NR) << 2);
    for (let j = 0; j < nr; j++) {
      const cp = crow + (<usize>j << 2);
      const t = load<f32>(trow + (<usize>j << 2));
      if (mode == STORE_SET) store<f32>(cp, t);
      else if (mode == STORE_ADD) store<f32>(cp, load<f32>(cp) + t);
      else store<f32>(cp, load<f32>(cp) * beta + t);
    }
  }
}

/** All micro-tiles of one packed MC×KC block of A times one packed KC×NC panel of B. */
function macroKernel(
  mc: i32,
  nc: i32,
  kc: i32,
  pa0: usize,
  pb0: usize,
  c: usize,
  ldc: usize,
  alpha: f32,
  beta: f32,
  mode: i32,
): void {
  const aSliver = <usize>kc * (MR * 4);
  const bSliver = <usize>kc * (NR * 4);
  let pb = pb0;
  // jr outer: one B sliver stays in L1 while the A block streams from L2.
  for (let jr = 0; jr < nc; jr += NR) {
    const nr = min(NR, nc - jr);
    let pa = pa0;
    for (let ir = 0; ir < mc; ir += MR) {
      const mr = min(MR, mc - ir);
      const cp = c + ((<usize>ir * ldc + <usize>jr) << 2);
      if (mr == MR && nr == NR) {
        kernel4x8(kc, pa, pb, cp, ldc, alpha, beta, mode);
      } else {
        kernel4x8(kc, pa, pb, EDGE_TILE, NR, alpha, 0, STORE_SET);
        mergeEdge(cp, ldc, mr, nr, beta, mode);
      }
      pa += aSliver;
    }
    pb += bSliver;
  }
}

/** C ⟵ beta·C over m×n (beta = 0 writes zeros, ignoring NaN in C). */
function scaleC(m: i32, n: i32, beta: f32, c: usize, ldc: usize): void {
  if (beta == 1) return;
  const vb = f32x4.splat(beta);
  for (let i = 0; i < m; i++) {
    const row = c + ((<usize>i * ldc) << 2);
    if (beta == 0) {
      memory.fill(row, 0, <usize>n << 2);
      continue;
    }
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const p = row + (<usize>j << 2);
      v128.store(p, f32x4.mul(v128.load(p), vb));
    }
    for (; j < n; j++) {
      const p = row + (<usize>j << 2);
      store<f32>(p, load<f32>(p) * beta);
    }
  }
}

/**
 * C = alpha·op(A)·op(B) + beta·C (see Kernels.sgemm). a, b, c and work are byte pointers;
 * work must have sgemmWorkspaceBytes() bytes, 16-byte aligned.
 */
export function sgemm(
  transA: bool,
  transB: bool,
  m: i32,
  n: i32,
  k: i32,
  alpha: f32,
  a: usize,
  lda: i32,
  b: usize,
  ldb: i32,
  beta: f32,
  c: usize,
  ldc: i32,
  work: usize,
): void {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0) {
    scaleC(m, n, beta, c, <usize>ldc);
    return;
  }
  const packedA = work;
  const packedB = work + (<usize>(MC * KC) << 2);
  for (let jc = 0; jc < n; jc += NC) {
    const nc = min(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = min(KC, k - pc);
      packB(b, <usize>ldb, transB, pc, jc, kc, nc, packedB);
      // beta is applied while storing the first k-block; later blocks accumulate.
      const mode = pc > 0 || beta == 1 ? STORE_ADD : beta == 0 ? STORE_SET : STORE_AXPBY;
      for (let ic = 0; ic < m; ic += MC) {
        const mc = min(MC, m - ic);
        packA(a, <usize>lda, transA, ic, pc, mc, kc, packedA);
        const cBlock = c + ((<usize>ic * <usize>ldc + <usize>jc) << 2);
        macroKernel(mc, nc, kc, packedA, packedB, cBlock, <usize>ldc, alpha, beta, mode);
      }
    }
  }
}

/** `batch` GEMMs; matrix i of A/B/C starts strideA/strideB/strideC·i elements further. */
export function sgemmStridedBatched(
  transA: bool,
  transB: bool,
  m: i32,
  n: i32,
  k: i32,
  alpha: f32,
  a: usize,
  lda: i32,
  strideA: i32,
  b: usize,
  ldb: i32,
  strideB: i32,
  beta: f32,
  c: usize,
  ldc: i32,
  strideC: i32,
  batch: i32,
  work: usize,
): void {
  for (let i = 0; i < batch; i++) {
    const u = <usize>i;
    sgemm(
      transA,
      transB,
      m,
      n,
      k,
      alpha,
      a + ((u * <usize>strideA) << 2),
      lda,
      b + ((u * <usize>strideB) << 2),
      ldb,
      beta,
      c + ((u * <usize>strideC) << 2),
      ldc,
      work,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// exp for f32x4 (Cephes expf: range reduction by ln 2, degree-5 polynomial, ~1 ulp), for
// x ≤ 88 (every caller passes x ≤ 0). Arguments below EXP_LO give exactly 0, so -Infinity → 0 as
// softmax needs; NaN stays NaN. The polynomial is evaluated in Estrin form: these loops are
// bound by the latency of the dependency chain, not by the number of operations.

const EXP_LO: f32 = -87.3; // ≈ ln(2^-126): below it 2^n would leave the normal range
const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
// 1.5·2^23: adding it rounds to an integer and leaves that integer in the low mantissa bits.
const ROUND_MAGIC: f32 = 12582912.0;
const INV_SQRT2: f32 = 0.7071067811865476;
const INV_SQRT_2PI: f32 = 0.3989422804014327;

// The polynomial constants live in memory as f32x4 splats and are loaded where used. These loops
// need more constants than x64 has vector registers, and V8 then rebuilds each v128.const inside
// the loop with three instructions, whereas a load is one (gelu: 1.72 → 1.52 ns per value).
const K: usize = memory.data<f32>(
  [
    LOG2E, LOG2E, LOG2E, LOG2E,
    ROUND_MAGIC, ROUND_MAGIC, ROUND_MAGIC, ROUND_MAGIC,
    LN2_HI, LN2_HI, LN2_HI, LN2_HI,
    LN2_LO, LN2_LO, LN2_LO, LN2_LO,
    // exp polynomial c0..c5
    1.98756915e-4, 1.98756915e-4, 1.98756915e-4, 1.98756915e-4,
    1.3981999507e-3, 1.3981999507e-3, 1.3981999507e-3, 1.3981999507e-3,
    8.3334519073e-3, 8.3334519073e-3, 8.3334519073e-3, 8.3334519073e-3,
    4.1665795894e-2, 4.1665795894e-2, 4.1665795894e-2, 4.1665795894e-2,
    1.6666665459e-1, 1.6666665459e-1, 1.6666665459e-1, 1.6666665459e-1,
    5.0000001201e-1, 5.0000001201e-1, 5.0000001201e-1, 5.0000001201e-1,
    1.0, 1.0, 1.0, 1.0,
    EXP_LO, EXP_LO, EXP_LO, EXP_LO,
    INV_SQRT2, INV_SQRT2, INV_SQRT2, INV_SQRT2,
    INV_SQRT_2PI, INV_SQRT_2PI, INV_SQRT_2PI, INV_SQRT_2PI,
    0.3275911, 0.3275911, 0.3275911, 0.3275911, // A&S p
    // A&S a1..a5, halved (exactly) so that the polynomial yields q/2 directly
    0.127414796, 0.127414796, 0.127414796, 0.127414796,
    -0.142248368, -0.142248368, -0.142248368, -0.142248368,
    0.7107068705, 0.7107068705, 0.7107068705, 0.7107068705,
    -0.7265760135, -0.7265760135, -0.7265760135, -0.7265760135,
    0.5307027145, 0.5307027145, 0.5307027145, 0.5307027145,
  ],
  16,
);

// Indices into K.
const K_LOG2E: i32 = 0;
const K_MAGIC: i32 = 1;
const K_LN2_HI: i32 = 2;
const K_LN2_LO: i32 = 3;
const K_C0: i32 = 4;
const K_C1: i32 = 5;
const K_C2: i32 = 6;
const K_C3: i32 = 7;
const K_C4: i32 = 8;
const K_C5: i32 = 9;
const K_ONE: i32 = 10;
const K_EXP_LO: i32 = 11;
const K_INV_SQRT2: i32 = 12;
const K_INV_SQRT_2PI: i32 = 13;
const K_P: i32 = 14;
const K_A1: i32 = 15;
const K_A2: i32 = 16;
const K_A3: i32 = 17;
const K_A4: i32 = 18;
const K_A5: i32 = 19;

/** The i-th constant splat of K. */
@inline
function kv(i: i32): v128 {
  return v128.load(K + (<usize>i << 4));
}

@inline
function exp4(x: v128): v128 {
  const t = f32x4.add(f32x4.mul(x, kv(K_LOG2E)), kv(K_MAGIC));
  const n = f32x4.sub(t, kv(K_MAGIC));
  const r = f32x4.sub(f32x4.sub(x, f32x4.mul(n, kv(K_LN2_HI))), f32x4.mul(n, kv(K_LN2_LO)));
  // e^r ≈ 1 + r + r²·(c5 + c4·r + r²·(c3 + c2·r + r²·(c1 + c0·r)))
  const r2 = f32x4.mul(r, r);
  const p01 = f32x4.add(f32x4.mul(r, kv(K_C0)), kv(K_C1));
  const p23 = f32x4.add(f32x4.mul(r, kv(K_C2)), kv(K_C3));
  const p45 = f32x4.add(f32x4.mul(r, kv(K_C4)), kv(K_C5));
  const p = f32x4.add(p45, f32x4.mul(r2, f32x4.add(p23, f32x4.mul(r2, p01))));
  const y = f32x4.add(f32x4.add(r, kv(K_ONE)), f32x4.mul(r2, p));
  // 2^n: the integer n sits in t's low bits; (n + 127) << 23 is the f32 pattern of 2^n (the
  // magic's own bits shift out). Lanes below EXP_LO (where this wraps) are zeroed.
  const scale = i32x4.shl(i32x4.add(t, i32x4.splat(127)), 23);
  return v128.andnot(f32x4.mul(y, scale), f32x4.lt(x, kv(K_EXP_LO)));
}

/** Max of n floats with the reference's semantics (`if (v > max) max = v`: NaN is skipped). */
function rowMax(p: usize, n: i32): f32 {
  let m0 = f32x4.splat(-Infinity);
  let m1 = m0;
  let j = 0;
  for (; j + 8 <= n; j += 8) {
    const q = p + (<usize>j << 2);
    // pmax(m, v) = m < v ? v : m, the reference's comparison: a NaN value never wins.
    m0 = f32x4.pmax(m0, v128.load(q));
    m1 = f32x4.pmax(m1, v128.load(q, 16));
  }
  for (; j + 4 <= n; j += 4) m0 = f32x4.pmax(m0, v128.load(p + (<usize>j << 2)));
  m0 = f32x4.pmax(m0, m1);
  let max: f32 = -Infinity;
  // The lanes are folded with the same comparison (lane order does not change a max).
  const l0 = f32x4.extract_lane(m0, 0);
  const l1 = f32x4.extract_lane(m0, 1);
  const l2 = f32x4.extract_lane(m0, 2);
  const l3 = f32x4.extract_lane(m0, 3);
  if (l0 > max) max = l0;
  if (l1 > max) max = l1;
  if (l2 > max) max = l2;
  if (l3 > max) max = l3;
  for (; j < n; j++) {
    const v = load<f32>(p + (<usize>j << 2));
    if (v > max) max = v;
  }
  return max;
}

@inline
function exp1(x: f32): f32 {
  return f32x4.extract_lane(exp4(f32x4.splat(x)), 0);
}

/**
 * x[j] ⟵ exp(x[j] − shift) for j < n; returns Σ exp. Partial sums run in f32 over blocks of
 * 256 values (short, so rounding stays ~1e-7 relative) and are added up in f64, like the
 * reference's f64 sum, without putting f64 conversions into the hot loop.
 */
function expShiftSum(p: usize, n: i32, shift: f32): f64 {
  const vs = f32x4.splat(shift);
  let sum: f64 = 0;
  let j = 0;
  while (j + 4 <= n) {
    const end = min(n, j + 256);
    let s0 = f32x4.splat(0);
    let s1 = s0;
    for (; j + 8 <= end; j += 8) {
      const q = p + (<usize>j << 2);
      const e0 = exp4(f32x4.sub(v128.load(q), vs));
      const e1 = exp4(f32x4.sub(v128.load(q, 16), vs));
      v128.store(q, e0);
      v128.store(q, e1, 16);
      s0 = f32x4.add(s0, e0);
      s1 = f32x4.add(s1, e1);
    }
    for (; j + 4 <= end; j += 4) {
      const q = p + (<usize>j << 2);
      const e = exp4(f32x4.sub(v128.load(q), vs));
      v128.store(q, e);
      s0 = f32x4.add(s0, e);
    }
    s0 = f32x4.add(s0, s1);
    sum +=
      <f64>f32x4.extract_lane(s0, 0) +
      <f64>f32x4.extract_lane(s0, 1) +
      <f64>f32x4.extract_lane(s0, 2) +
      <f64>f32x4.extract_lane(s0, 3);
  }
  for (; j < n; j++) {
    const q = p + (<usize>j << 2);
    const e = exp1(load<f32>(q) - shift);
    store<f32>(q, e);
    sum += e;
  }
  return sum;
}

/** x[j] ⟵ x[j]·s for j < n. */
function scaleRow(p: usize, n: i32, s: f32): void {
  const vs = f32x4.splat(s);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const q = p + (<usize>j << 2);
    v128.store(q, f32x4.mul(v128.load(q), vs));
  }
  for (; j < n; j++) {
    const q = p + (<usize>j << 2);
    store<f32>(q, load<f32>(q) * s);
  }
}

/** In-place row softmax; -Infinity → 0 and an all -Infinity row → zeros (Kernels.softmaxRows). */
export function softmaxRows(x: usize, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    const p = x + ((<usize>r * <usize>cols) << 2);
    const max = rowMax(p, cols);
    if (max == -Infinity) {
      memory.fill(p, 0, <usize>cols << 2);
      continue;
    }
    const sum = expShiftSum(p, cols, max);
    scaleRow(p, cols, <f32>(1 / sum));
  }
}

let badTargetRow: i32 = -1;

/** Row of the first out-of-range target seen by the last crossEntropyRows call, or -1. */
export function crossEntropyBadRow(): i32 {
  return badTargetRow;
}

/**
 * Softmax cross-entropy (Kernels.crossEntropyRows): returns Σ loss and overwrites each row with
 * gradScale·(softmax − onehot). All targets are checked first; if one is outside [0, cols),
 * nothing is modified, crossEntropyBadRow() names its row and the result is NaN.
 */
export function crossEntropyRows(x: usize, rows: i32, cols: i32, targets: usize, gradScale: f64): f64 {
  badTargetRow = -1;
  for (let r = 0; r < rows; r++) {
    const t = load<i32>(targets + (<usize>r << 2));
    if (t < 0 || t >= cols) {
      badTargetRow = r;
      return NaN;
    }
  }
  let total: f64 = 0;
  for (let r = 0; r < rows; r++) {
    const p = x + ((<usize>r * <usize>cols) << 2);
    const tp = p + (<usize>load<i32>(targets + (<usize>r << 2)) << 2);
    const target = <f64>load<f32>(tp);
    const max = rowMax(p, cols);
    const sum = expShiftSum(p, cols, max);
    total += <f64>max + Math.log(sum) - target;
    // gradScale·exp(x − logZ) = exp(x − max)·(gradScale / sum)
    scaleRow(p, cols, <f32>(gradScale / sum));
    store<f32>(tp, <f32>(<f64>load<f32>(tp) - gradScale));
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// GELU with erf by Abramowitz & Stegun 7.1.26, the same approximation as the js backend.
// With z = |x|/√2 and q = poly(t)·exp(−z²) = 1 − erf(z): Φ(x) = q/2 for x < 0 and 1 − q/2
// otherwise. Using q directly avoids the cancellation in 1 + erf(x/√2) for negative x.

/** Φ(x), given z = |x|/√2 and ez = exp(−z²) (GELU' reuses ez for the normal density). */
@inline
function cdf4(x: v128, z: v128, ez: v128): v128 {
  const t = f32x4.div(kv(K_ONE), f32x4.add(kv(K_ONE), f32x4.mul(kv(K_P), z)));
  // q/2 = t·(a1 + a2·t + t²·(a3 + a4·t + a5·t²))·ez/2, in Estrin form (a shorter dependency
  // chain) with the halving folded into the coefficients.
  const t2 = f32x4.mul(t, t);
  const p12 = f32x4.add(f32x4.mul(t, kv(K_A2)), kv(K_A1));
  const p34 = f32x4.add(f32x4.mul(t, kv(K_A4)), kv(K_A3));
  const p35 = f32x4.add(p34, f32x4.mul(t2, kv(K_A5)));
  const hq = f32x4.mul(f32x4.mul(t, f32x4.add(p12, f32x4.mul(t2, p35))), ez);
  return v128.bitselect(hq, f32x4.sub(kv(K_ONE), hq), f32x4.lt(x, f32x4.splat(0)));
}

@inline
function gelu4(x: v128): v128 {
  const z = f32x4.mul(f32x4.abs(x), kv(K_INV_SQRT2));
  const ez = exp4(f32x4.neg(f32x4.mul(z, z)));
  return f32x4.mul(x, cdf4(x, z, ez));
}

@inline
function geluGrad4(x: v128, dy: v128): v128 {
  const z = f32x4.mul(f32x4.abs(x), kv(K_INV_SQRT2));
  const ez = exp4(f32x4.neg(f32x4.mul(z, z)));
  const pdf = f32x4.mul(ez, kv(K_INV_SQRT_2PI));
  return f32x4.mul(dy, f32x4.add(cdf4(x, z, ez), f32x4.mul(x, pdf)));
}

// V8 runs a wasm function's first call in its baseline compiler (Liftoff, ~20× slower here)
// and switches to optimised code only for later calls. The element-wise loops therefore run in
// chunks through a separate function, so that even one huge first call gets fast after a few
// chunks. Each chunk function has a second call site (the tail) so Binaryen does not inline it.
const CHUNK: i32 = 4096;

/** gelu over n (a multiple of 4) floats; two independent vectors per step for more overlap. */
function geluChunk(x: usize, y: usize, n: i32): void {
  const end = x + (<usize>n << 2);
  while (x + 16 < end) {
    const a = gelu4(v128.load(x));
    const b = gelu4(v128.load(x, 16));
    v128.store(y, a);
    v128.store(y, b, 16);
    x += 32;
    y += 32;
  }
  if (x < end) v128.store(y, gelu4(v128.load(x)));
}

/** geluBackward over n (a multiple of 4) floats, two vectors per step. */
function geluBackwardChunk(x: usize, dy: usize, dx: usize, n: i32): void {
  const end = x + (<usize>n << 2);
  while (x + 16 < end) {
    const a = geluGrad4(v128.load(x), v128.load(dy));
    const b = geluGrad4(v128.load(x, 16), v128.load(dy, 16));
    v128.store(dx, a);
    v128.store(dx, b, 16);
    x += 32;
    dy += 32;
    dx += 32;
  }
  if (x < end) v128.store(dx, geluGrad4(v128.load(x), v128.load(dy)));
}

/** y[i] = GELU(x[i]) for i < n (y may equal x). */
export function gelu(x: usize, y: usize, n: i32): void {
  const n4 = n & ~3;
  for (let i = 0; i < n4; i += CHUNK) {
    const o = <usize>i << 2;
    geluChunk(x + o, y + o, min(CHUNK, n4 - i));
  }
  const rest = n - n4;
  if (rest > 0) {
    // The last n % 4 values go through a zero-padded vector.
    const o = <usize>n4 << 2;
    v128.store(TAIL, v128.splat<i32>(0));
    memory.copy(TAIL, x + o, <usize>rest << 2);
    geluChunk(TAIL, TAIL, 4);
    memory.copy(y + o, TAIL, <usize>rest << 2);
  }
}

/** dx[i] = dy[i]·GELU'(x[i]) for i < n (dx may equal x or dy). */
export function geluBackward(x: usize, dy: usize, dx: usize, n: i32): void {
  const n4 = n & ~3;
  for (let i = 0; i < n4; i += CHUNK) {
    const o = <usize>i << 2;
    geluBackwardChunk(x + o, dy + o, dx + o, min(CHUNK, n4 - i));
  }
  const rest = n - n4;
  if (rest > 0) {
    const o = <usize>n4 << 2;
    const tx = TAIL;
    const tdy = TAIL + 16;
    v128.store(tx, v128.splat<i32>(0));
    v128.store(tdy, v128.splat<i32>(0));
    memory.copy(tx, x + o, <usize>rest << 2);
    memory.copy(tdy, dy + o, <usize>rest << 2);
    geluBackwardChunk(tx, tdy, tx, 4);
    memory.copy(dx + o, tx, <usize>rest << 2);
  }
}
