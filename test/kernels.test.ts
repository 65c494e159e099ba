/**
 * Every kernel backend agrees with the js reference on random inputs, odd sizes included.
 * On CI (CI=true) the native and wasm backends must be available: a skipped backend there
 * would hide a broken build.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { jsKernels } from '../src/kernels/js.js';
import type { BackendName, Kernels } from '../src/kernels/kernels.js';
import { kernels, loadBackend, probeBackends, useBackend } from '../src/kernels/select.js';
import { Rng } from '../src/engine/rng.js';
import { Tensor } from '../src/engine/tensor.js';
import { causalAttention, lastQueryAttention } from '../src/engine/ops/attention.js';
import { coordinateDescent } from '../src/engine/ops/coordinate-descent.js';
import { routedAttention } from '../src/engine/ops/routed-attention.js';
import { rotateRows } from '../src/engine/ops/rotary.js';
import { COORDINATE_DESCENT } from '../src/models/soft-top-k.js';
import { mul } from '../src/engine/ops/elementwise.js';
import { blasAdvice } from '../src/cli/doctor.js';
import { sum } from '../src/engine/ops/reduce.js';
import { nativeLoads } from './threaded-kernels.js';

const rng = new Rng(11);
const rand = (n: number, s = 1) => Float32Array.from({ length: n }, () => rng.normal() * s);

function close(a: Float32Array, b: Float32Array, rtol: number, atol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: lengths differ`);
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) || Number.isNaN(b[i]) || Math.abs(a[i] - b[i]) > atol + rtol * Math.abs(b[i])) {
      assert.fail(`${what}: element ${i}: ${a[i]} vs reference ${b[i]}`);
    }
  }
}

/** Rows × widths the normalisation kernels are compared on: one element, odd widths, a SIMD width. */
const NORM_SHAPES = [
  [1, 1],
  [7, 13],
  [33, 64],
];
const backends: BackendName[] = ['native', 'wasm'];

for (const name of backends) {
  const probe = probeBackends().find((p) => p.name === name)!;
  const required = process.env.CI === 'true';
  const skip = !probe.available && !required ? `unavailable: ${probe.reason}` : false;
  test(`${name} backend loads`, { skip }, () => {
    assert.ok(probe.available, `${name} backend must load on CI: ${probe.reason}`);
  });

  const k = (): Kernels => loadBackend(name);

  test(
    `${name} sgemm matches js for all transposes, odd sizes, padded leading dims and offsets`,
    { skip },
    () => {
      const sizes = [1, 3, 17, 65, 130];
      let cases = 0;
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          for (let t = 0; t < 6; t++) {
            const m = sizes[rng.int(sizes.length)];
            const n = sizes[rng.int(sizes.length)];
            const kk = sizes[rng.int(sizes.length)];
            const pad = rng.int(3);
            const lda = (transA ? m : kk) + pad;
            const ldb = (transB ? kk : n) + pad;
            const ldc = n + pad;
            const off = rng.int(5);
            const a = rand(off + (transA ? kk : m) * lda);
            const b = rand(off + (transB ? n : kk) * ldb);
            const c0 = rand(off + m * ldc);
            const beta = [0, 1, 0.5][t % 3];
            const alpha = [1, -0.7][t % 2];
            const cRef = Float32Array.from(c0);
            const cOut = Float32Array.from(c0);
            jsKernels.sgemm(
              transA,
              transB,
              m,
              n,
              kk,
              alpha,
              a.subarray(off),
              lda,
              b.subarray(off),
              ldb,
              beta,
              cRef.subarray(off),
              ldc,
            );
            k().sgemm(
              transA,
              transB,
              m,
              n,
              kk,
              alpha,
              a.subarray(off),
              lda,
              b.subarray(off),
              ldb,
              beta,
              cOut.subarray(off),
              ldc,
            );
            close(
              cOut,
              cRef,
              1e-4,
              1e-4 * Math.sqrt(kk),
              `sgemm ${transA ? 'T' : 'N'}${transB ? 'T' : 'N'} ${m}x${n}x${kk}`,
            );
            cases++;
          }
        }
      }
      assert.equal(cases, 24);
    },
  );

  test(`${name} sgemm with beta = 0 ignores NaN in C`, { skip }, () => {
    const a = rand(6);
    const b = rand(6);
    const c = new Float32Array(4).fill(NaN);
    k().sgemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2);
    assert.ok(c.every((v) => Number.isFinite(v)));
  });

  test(
    `${name} one row against a transposed B (the scoring product) matches js, NaN in C ignored at beta = 0`,
    { skip },
    () => {
      for (const transA of [false, true])
        for (const [alpha, beta] of [
          [1, 0],
          [-0.7, 0.5],
          [0.3, 1],
        ]) {
          const n = 300;
          const kk = 70;
          const lda = transA ? 3 : kk; // op(A) is 1×k: a row, or a column with stride lda
          const ldb = kk + 2;
          const a = rand(transA ? kk * lda : kk);
          const b = rand(n * ldb);
          const c0 = rand(n);
          if (beta === 0) c0.fill(NaN, 0, 10);
          const cRef = Float32Array.from(c0);
          const cOut = Float32Array.from(c0);
          jsKernels.sgemm(transA, true, 1, n, kk, alpha, a, lda, b, ldb, beta, cRef, n);
          k().sgemm(transA, true, 1, n, kk, alpha, a, lda, b, ldb, beta, cOut, n);
          assert.ok(cOut.every((v) => Number.isFinite(v)));
          close(cOut, cRef, 1e-4, 1e-4 * Math.sqrt(kk), `1x${n}x${kk} transA ${transA} beta ${beta}`);
        }
    },
  );

  test(`${name} batched sgemm matches js (attention shapes)`, { skip }, () => {
    for (const [transA, transB] of [
      [false, true],
      [false, false],
      [true, false],
    ] as const) {
      const [m, n, kk, batch] = [7, 9, 5, 6];
      const a = rand(batch * m * kk);
      const b = rand(batch * kk * n);
      const cRef = new Float32Array(batch * m * n);
      const cOut = new Float32Array(batch * m * n);
      const lda = transA ? m : kk;
      const ldb = transB ? kk : n;
      jsKernels.sgemmStridedBatched(
        transA,
        transB,
        m,
        n,
        kk,
        1,
        a,
        lda,
        m * kk,
        b,
        ldb,
        kk * n,
        0,
        cRef,
        n,
        m * n,
        batch,
      );
      k().sgemmStridedBatched(
        transA,
        transB,
        m,
        n,
        kk,
        1,
        a,
        lda,
        m * kk,
        b,
        ldb,
        kk * n,
        0,
        cOut,
        n,
        m * n,
        batch,
      );
      close(cOut, cRef, 1e-4, 1e-4, `batched ${transA}${transB}`);
    }
  });

  test(`${name} softmaxRows matches js, with -Infinity entries and a fully masked row`, { skip }, () => {
    for (const cols of [1, 5, 33, 1001]) {
      const rows = 4;
      const x = rand(rows * cols, 3);
      x[1] = -Infinity;
      x.fill(-Infinity, 2 * cols, 3 * cols);
      const ref = Float32Array.from(x);
      const out = Float32Array.from(x);
      jsKernels.softmaxRows(ref, rows, cols);
      k().softmaxRows(out, rows, cols);
      close(out, ref, 1e-5, 1e-7, `softmax cols=${cols}`);
      assert.ok(out.subarray(2 * cols, 3 * cols).every((v) => v === 0));
    }
  });

  test(
    `${name} crossEntropyRows matches js (loss and in-place gradient) and rejects bad targets`,
    { skip },
    () => {
      for (const cols of [2, 17, 12101]) {
        const rows = 5;
        const x = rand(rows * cols, 4);
        const t = Int32Array.from({ length: rows }, () => rng.int(cols));
        const ref = Float32Array.from(x);
        const out = Float32Array.from(x);
        const lRef = jsKernels.crossEntropyRows(ref, rows, cols, t, 0.2);
        const lOut = k().crossEntropyRows(out, rows, cols, t, 0.2);
        assert.ok(Math.abs(lOut - lRef) <= 1e-4 * Math.abs(lRef), `loss ${lOut} vs ${lRef}`);
        close(out, ref, 1e-4, 1e-8, `cross-entropy gradient cols=${cols}`);
      }
      assert.throws(
        () => k().crossEntropyRows(new Float32Array(6), 2, 3, Int32Array.of(1, 3), 1),
        RangeError,
      );
      // Large enough to be split over threads (native): the same rows, the loss up to summation order.
      const before = k().threads();
      k().setThreads(3);
      try {
        const [rows, cols] = [97, 12101];
        const x = rand(rows * cols, 4);
        const t = Int32Array.from({ length: rows }, () => rng.int(cols));
        const ref = Float32Array.from(x);
        const out = Float32Array.from(x);
        const lRef = jsKernels.crossEntropyRows(ref, rows, cols, t, 1 / rows);
        const lOut = k().crossEntropyRows(out, rows, cols, t, 1 / rows);
        assert.ok(Math.abs(lOut - lRef) <= 1e-6 * Math.abs(lRef), `threaded loss ${lOut} vs ${lRef}`);
        close(out, ref, 1e-4, 1e-9, 'threaded cross-entropy gradient');
      } finally {
        k().setThreads(before);
      }
    },
  );

  test(
    `${name} softTargetCrossEntropyRows matches js (repeated and missing targets, an offset first row, threads) and rejects bad targets`,
    { skip },
    () => {
      // Rows 2.. of a target list: row 0 has two targets (one repeated), row 1 none, row 2 one.
      const offsets = Int32Array.of(0, 1, 2, 5, 5, 6);
      const weights = Float32Array.of(1, 1, 1, 0.5, 0.5, 0.25);
      const before = k().threads();
      try {
        for (const [threads, cols] of [
          [1, 7],
          [1, 12101],
          [3, 12101 * 40],
        ]) {
          k().setThreads(threads);
          const items = Int32Array.of(0, 1, 3, 3, cols - 1, 2);
          const rows = 3;
          const x = rand(rows * cols, 4);
          const [ref, out] = [Float32Array.from(x), Float32Array.from(x)];
          const lRef = jsKernels.softTargetCrossEntropyRows(ref, rows, cols, offsets, items, weights, 2, 0.2);
          const lOut = k().softTargetCrossEntropyRows(out, rows, cols, offsets, items, weights, 2, 0.2);
          assert.ok(Math.abs(lOut - lRef) <= 1e-5 * Math.abs(lRef), `loss ${lOut} vs ${lRef} (cols ${cols})`);
          close(out, ref, 1e-4, 1e-9, `soft-target gradient (cols ${cols}, ${threads} threads)`);
          assert.ok(
            out.subarray(cols, 2 * cols).every((g) => g === 0),
            'a row without targets has no loss and no gradient',
          );
        }
      } finally {
        k().setThreads(before);
      }
      // A row without targets adds no loss, even with a logit that makes its logZ infinite.
      for (const kern of [k(), jsKernels]) {
        const row = Float32Array.of(1, Infinity, 2);
        const none = [Int32Array.of(0, 0), new Int32Array(0), new Float32Array(0)] as const;
        assert.equal(
          kern.softTargetCrossEntropyRows(row, 1, 3, ...none, 0, 1),
          0,
          `${kern.name}: empty row's loss`,
        );
        assert.throws(
          () => kern.softTargetCrossEntropyRows(new Float32Array(2), 1, 3, ...none, 0, 1),
          RangeError,
        );
      }
      const x = new Float32Array(6);
      const call = (o: Int32Array, it: Int32Array, first = 0) =>
        k().softTargetCrossEntropyRows(x, 2, 3, o, it, new Float32Array(it.length), first, 1);
      assert.throws(
        () => call(Int32Array.of(0, 1, 2), Int32Array.of(1, 3)),
        /target 3 of row 1 not in \[0, 3\)/,
      );
      assert.throws(() => call(Int32Array.of(0, 2, 1), Int32Array.of(1, 2)), /offsets of row 1 must rise/);
      assert.throws(() => call(Int32Array.of(0, 1, 2), Int32Array.of(1, 2), 1), /need 4 offsets, got 3/);
    },
  );

  test(
    `${name} rejects arrays too short for the given dimensions instead of reading out of bounds`,
    { skip },
    () => {
      const a = new Float32Array(6);
      assert.throws(
        () => k().sgemm(false, false, 2, 2, 3, 1, a, 3, new Float32Array(5), 2, 0, new Float32Array(4), 2),
        RangeError,
      );
      assert.throws(
        () => k().sgemm(false, false, 2, 2, 3, 1, a, 3, new Float32Array(6), 2, 0, new Float32Array(3), 2),
        RangeError,
      );
      assert.throws(() => k().softmaxRows(new Float32Array(5), 2, 3), RangeError);
    },
  );

  test(`${name} bceWithLogits matches js (loss sum and σ(x) − y), for large |x|`, { skip }, () => {
    const n = 2 * 637 + 5; // not a multiple of any vector width
    const x = rand(n, 12);
    x[0] = 40;
    x[1] = -40;
    x[2] = 1e-9;
    x[3] = -1e30;
    const y = Float32Array.from({ length: n }, (_, i) => (i % 7 === 0 ? 1 : 0));
    const d = new Float32Array(n);
    const dRef = new Float32Array(n);
    const l = k().bceWithLogits(x, y, d, n);
    const lRef = jsKernels.bceWithLogits(x, y, dRef, n);
    assert.ok(Math.abs(l - lRef) <= 1e-5 * lRef, `loss ${l} vs ${lRef}`);
    close(d, dRef, 1e-5, 1e-7, 'bce gradient');
    // Hand-computed: x = 0, y = 1 -> ln 2 and σ(0) − 1 = −0.5; x = 40, y = 0 -> 40 and 1.
    const two = new Float32Array(2);
    const s = k().bceWithLogits(Float32Array.of(0, 40), Float32Array.of(1, 0), two, 2);
    assert.ok(Math.abs(s - (Math.LN2 + 40)) < 1e-5, String(s));
    assert.deepEqual(Array.from(two), [-0.5, 1]);
    assert.throws(() => k().bceWithLogits(x, y, new Float32Array(3), n), RangeError);
  });

  test(`${name} scoreInt8Rows matches js over subarray views, and checks its arrays`, { skip }, () => {
    const B = 3;
    const n = 131;
    const dim = 37; // not a multiple of any vector width
    const users = rand(B * dim);
    const codes = Int8Array.from({ length: (n + 2) * dim }, () => rng.int(255) - 127);
    const scales = Float32Array.from({ length: n + 2 }, () => rng.uniform() / 127);
    // Rows 2..n+1, as a block of the table is passed.
    const view = codes.subarray(2 * dim);
    const out = new Float32Array(B * n);
    const ref = new Float32Array(B * n);
    k().scoreInt8Rows(users, B, view, scales.subarray(2), n, dim, out);
    jsKernels.scoreInt8Rows(users, B, view, scales.subarray(2), n, dim, ref);
    close(out, ref, 1e-5, 1e-6, 'scoreInt8Rows');
    assert.throws(() => k().scoreInt8Rows(users, B, view, scales, n + 3, dim, out), RangeError);
    assert.throws(
      () => k().scoreInt8Rows(users, B, view, scales, n, dim, new Float32Array(B * n - 1)),
      RangeError,
    );
  });

  test(`${name} GELU forward and backward match js`, { skip }, () => {
    const n = 1037;
    const x = rand(n, 3);
    const dy = rand(n);
    const y = new Float32Array(n);
    const yRef = new Float32Array(n);
    k().gelu(x, y, n);
    jsKernels.gelu(x, yRef, n);
    close(y, yRef, 1e-5, 1e-6, 'gelu');
    const dx = new Float32Array(n);
    const dxRef = new Float32Array(n);
    k().geluBackward(x, dy, dx, n);
    jsKernels.geluBackward(x, dy, dxRef, n);
    close(dx, dxRef, 1e-5, 1e-6, 'gelu backward');
  });

  test(
    `${name} layer norm forward and backward match js (odd widths, written and accumulated)`,
    { skip },
    () => {
      for (const [rows, d] of NORM_SHAPES) {
        const x = rand(rows * d, 3);
        const gamma = rand(d);
        const beta = rand(d);
        const outs = [0, 1].map(() => ({
          y: new Float32Array(rows * d),
          xhat: new Float32Array(rows * d),
          rstd: new Float32Array(rows),
        }));
        k().layerNorm(x, gamma, beta, 1e-5, rows, d, outs[0].y, outs[0].xhat, outs[0].rstd);
        jsKernels.layerNorm(x, gamma, beta, 1e-5, rows, d, outs[1].y, outs[1].xhat, outs[1].rstd);
        close(outs[0].y, outs[1].y, 1e-5, 1e-6, 'layerNorm out');
        close(outs[0].xhat, outs[1].xhat, 1e-5, 1e-6, 'layerNorm xhat');
        close(outs[0].rstd, outs[1].rstd, 1e-5, 1e-6, 'layerNorm rstd');
        const dy = rand(rows * d);
        for (const accumulate of [false, true]) {
          const start = rand(rows * d);
          const grads = [0, 1].map(() => ({
            gx: Float32Array.from(start),
            gg: rand(d),
            gb: new Float32Array(d),
          }));
          grads[1].gg.set(grads[0].gg);
          const { xhat, rstd } = outs[1];
          const [a, b] = grads;
          k().layerNormBackward(dy, xhat, rstd, gamma, rows, d, a.gx, accumulate, a.gg, a.gb);
          jsKernels.layerNormBackward(dy, xhat, rstd, gamma, rows, d, b.gx, accumulate, b.gg, b.gb);
          close(a.gx, b.gx, 1e-4, 1e-5, `layerNorm gx (accumulate ${accumulate})`);
          close(a.gg, b.gg, 1e-5, 1e-5, 'layerNorm gGamma');
          close(a.gb, b.gb, 1e-5, 1e-5, 'layerNorm gBeta');
        }
        // Null targets are skipped: only gBeta is asked for here.
        const gb = new Float32Array(d);
        k().layerNormBackward(dy, outs[1].xhat, outs[1].rstd, gamma, rows, d, null, false, null, gb);
        const ref = new Float32Array(d);
        for (let i = 0; i < rows * d; i++) ref[i % d] += dy[i];
        close(gb, ref, 1e-5, 1e-5, 'layerNorm gBeta alone');
      }
      const short = new Float32Array(5);
      assert.throws(
        () =>
          k().layerNorm(
            new Float32Array(6),
            rand(3),
            rand(3),
            1e-5,
            2,
            3,
            short,
            new Float32Array(6),
            rand(2),
          ),
        RangeError,
      );
      assert.throws(
        () => k().layerNormBackward(rand(6), rand(6), rand(2), rand(3), 2, 3, short, false, null, null),
        RangeError,
      );
    },
  );

  test(
    `${name} RMSNorm forward and backward match js (odd widths, a zero row, written and accumulated)`,
    { skip },
    () => {
      for (const [rows, d] of NORM_SHAPES) {
        const x = rand(rows * d, 3);
        x.fill(0, 0, d); // a zero row: its norm is clamped to eps
        const gamma = rand(d);
        const outs = [0, 1].map(() => ({ y: new Float32Array(rows * d), norms: new Float32Array(rows) }));
        k().rmsNorm(x, gamma, 1e-12, rows, d, outs[0].y, outs[0].norms);
        jsKernels.rmsNorm(x, gamma, 1e-12, rows, d, outs[1].y, outs[1].norms);
        close(outs[0].y, outs[1].y, 1e-5, 1e-6, 'rmsNorm out');
        close(outs[0].norms, outs[1].norms, 1e-5, 1e-6, 'rmsNorm norms');
        const dy = rand(rows * d);
        for (const accumulate of [false, true]) {
          const start = rand(rows * d);
          const [a, b] = [0, 1].map(() => ({
            gx: Float32Array.from(start),
            gg: new Float32Array(d).fill(0.5),
          }));
          const { norms } = outs[1];
          k().rmsNormBackward(dy, x, norms, gamma, 1e-12, rows, d, a.gx, accumulate, a.gg);
          jsKernels.rmsNormBackward(dy, x, norms, gamma, 1e-12, rows, d, b.gx, accumulate, b.gg);
          // Relative: the zero row's gradient is u / eps, about 1e12.
          const rel = (u: Float32Array, v: Float32Array, what: string) =>
            u.forEach((g, i) =>
              assert.ok(Math.abs(g - v[i]) <= 1e-5 * Math.max(1, Math.abs(v[i])), `${what}[${i}]`),
            );
          rel(a.gx, b.gx, `rmsNorm gx (accumulate ${accumulate})`);
          rel(a.gg, b.gg, 'rmsNorm gGamma');
        }
        // Null targets are skipped: only gGamma is asked for here.
        const gg = new Float32Array(d);
        k().rmsNormBackward(dy, x, outs[1].norms, gamma, 1e-12, rows, d, null, false, gg);
        const ref = new Float32Array(d);
        jsKernels.rmsNormBackward(dy, x, outs[1].norms, gamma, 1e-12, rows, d, null, false, ref);
        close(gg, ref, 1e-5, 1e-5, 'rmsNorm gGamma alone');
      }
      // A NaN reaches its row's norm and outputs (not dropped by a max with eps).
      const nan = rand(6);
      nan[4] = NaN;
      for (const kern of [k(), jsKernels]) {
        const [y, norms] = [new Float32Array(6), new Float32Array(2)];
        kern.rmsNorm(nan, rand(3), 1e-12, 2, 3, y, norms);
        assert.ok(Number.isNaN(norms[1]) && y.subarray(3).every(Number.isNaN), `${kern.name}: NaN row`);
        assert.ok(!Number.isNaN(norms[0]), `${kern.name}: the other row`);
      }
      assert.throws(
        () => k().rmsNorm(new Float32Array(6), rand(3), 1e-12, 2, 3, new Float32Array(5), rand(2)),
        RangeError,
      );
      assert.throws(
        () =>
          k().rmsNormBackward(
            rand(6),
            rand(6),
            rand(2),
            rand(3),
            1e-12,
            2,
            3,
            new Float32Array(5),
            false,
            null,
          ),
        RangeError,
      );
    },
  );

  test(`${name} tanh matches js over its whole range, and in place`, { skip }, () => {
    const n = 4099;
    const x = rand(n, 4);
    // As in DyT below: tiny (where 1 − 2/(e^{2y} + 1) cancels), saturated, infinite, NaN, −0.
    x.set([1e-9, -3e-7, 2e-6, -1e-3, 9.5, -30, Infinity, -Infinity, NaN, -0, 0.5493, 1e-40], 0);
    const [y, ref] = [new Float32Array(n), new Float32Array(n)];
    k().tanh(x, y, n);
    jsKernels.tanh(x, ref, n);
    assert.ok(Number.isNaN(y[8]) && Object.is(y[9], -0), 'NaN stays NaN, −0 stays −0');
    assert.deepEqual([y[4], y[5], y[6], y[7]], [1, -1, 1, -1]);
    y[8] = ref[8] = 0;
    close(y, ref, 2e-7, 1e-30, 'tanh');
    const inPlace = x.slice();
    k().tanh(inPlace, inPlace, n);
    inPlace[8] = 0;
    assert.deepEqual(bitsOf(inPlace), bitsOf(y));
    assert.throws(() => k().tanh(x, new Float32Array(n - 1), n), RangeError);
  });

  test(`${name} DyT forward and backward match js, tanh over its whole range`, { skip }, () => {
    const [rows, d] = [9, 37];
    const n = rows * d;
    const x = rand(n, 4);
    // tanh's hard cases: tiny (where 1 − 2/(e^{2y} + 1) cancels), saturated, infinite, NaN, −0.
    x.set([1e-9, -3e-7, 2e-6, -1e-3, 9.5, -30, Infinity, -Infinity, NaN, -0, 0.5493], 0);
    const gamma = rand(d);
    const beta = rand(d);
    const alpha = 0.7;
    const fwd = (kern: Kernels) => {
      const out = new Float32Array(n);
      const t = new Float32Array(n);
      kern.dyt(x, alpha, gamma, beta, rows, d, out, t);
      return { out, t };
    };
    const a = fwd(k());
    const b = fwd(jsKernels);
    assert.ok(
      Number.isNaN(a.t[8]) && Number.isNaN(a.out[8]) && Object.is(a.t[9], -0),
      'NaN stays NaN, −0 stays −0',
    );
    for (const v of [a.t, b.t, a.out, b.out]) v[8] = 0;
    close(a.t, b.t, 2e-7, 1e-30, 'tanh');
    close(a.out, b.out, 1e-6, 1e-6, 'dyt out');
    x.fill(0, 6, 9); // ±Infinity (0·∞) and NaN would make α's gradient NaN
    const ref = fwd(jsKernels);
    const dy = rand(n);
    for (const accumulate of [false, true]) {
      const start = rand(n);
      const grads = [0, 1].map(() => ({
        gx: Float32Array.from(start),
        gg: new Float32Array(d),
        gb: new Float32Array(d),
      }));
      const ga = [k(), jsKernels].map((kern, i) =>
        kern.dytBackward(
          dy,
          x,
          ref.t,
          alpha,
          gamma,
          rows,
          d,
          grads[i].gx,
          accumulate,
          grads[i].gg,
          grads[i].gb,
        ),
      );
      close(grads[0].gx, grads[1].gx, 1e-5, 1e-6, `dyt gx (accumulate ${accumulate})`);
      close(grads[0].gg, grads[1].gg, 1e-5, 1e-6, 'dyt gGamma');
      close(grads[0].gb, grads[1].gb, 1e-5, 1e-6, 'dyt gBeta');
      assert.ok(Math.abs(ga[0] - ga[1]) <= 1e-5 * (1 + Math.abs(ga[1])), `dyt gAlpha ${ga[0]} vs ${ga[1]}`);
    }
    assert.throws(() => k().dyt(x, alpha, gamma, beta, rows + 1, d, a.out, a.t), RangeError);
    assert.throws(
      () => k().dytBackward(dy, x, ref.t, alpha, gamma, rows, d, new Float32Array(n - 1), false, null, null),
      RangeError,
    );
  });

  test(`${name} dropout matches js exactly, with the words in the scale buffer`, { skip }, () => {
    const n = 1031;
    const x = rand(n);
    x[3] = NaN;
    x[4] = Infinity;
    const words = new Uint32Array(n);
    rng.fillU32(words);
    words[3] = 0; // dropped: a NaN input gives 0
    words[4] = 0xffffffff; // kept: Infinity stays Infinity
    const run = (kern: Kernels) => {
      const scale = new Float32Array(n);
      const bits = new Uint32Array(scale.buffer);
      bits.set(words);
      const out = new Float32Array(n);
      kern.dropout(x, bits, Math.floor(0.3 * 4294967296), 1 / 0.7, n, out, scale);
      return { out, scale };
    };
    const a = run(k());
    const b = run(jsKernels);
    assert.deepEqual(a.scale, b.scale);
    assert.deepEqual(a.out, b.out);
    assert.equal(a.out[3], 0);
    assert.equal(a.out[4], Infinity);
    assert.throws(
      () => k().dropout(x, words, 1, 2, n + 1, new Float32Array(n + 1), new Float32Array(n + 1)),
      RangeError,
    );
  });

  test(`${name} vector kernels match js bit for bit, below and above the native cut-over`, { skip }, () => {
    const ops = ['add', 'sub', 'mul', 'div'] as const;
    for (const rows of [3, 97, 99]) {
      const m = 64;
      const n = rows * m; // 192 runs the js loops in every backend, 6,208 and 6,336 the native ones
      const a = specials(rand(n));
      const b = specials(rand(n));
      for (const op of ops) {
        for (const period of [m, n]) {
          const [x, y] = [new Float32Array(n), new Float32Array(n)];
          k().binaryCycle(op, a, b, x, n, period);
          jsKernels.binaryCycle(op, a, b, y, n, period);
          assert.deepEqual(bitsOf(x), bitsOf(y), `binaryCycle ${op} n ${n} m ${period}`);
        }
        const [x, y] = [new Float32Array(n), new Float32Array(n)];
        k().binaryRepeat(op, a, b, x, n, m);
        jsKernels.binaryRepeat(op, a, b, y, n, m);
        assert.deepEqual(bitsOf(x), bitsOf(y), `binaryRepeat ${op} n ${n}`);
        const inPlace = a.slice();
        k().binaryCycle(op, inPlace, b, inPlace, n, m);
        jsKernels.binaryCycle(op, a, b, y, n, m);
        assert.deepEqual(bitsOf(inPlace), bitsOf(y), `binaryCycle ${op} in place`);
      }
      for (const alpha of [1, -0.37, 1 / 3]) {
        for (const beta of [0, 1] as const) {
          const [x, y] = [b.slice(), b.slice()];
          k().axpy(n, alpha, a, x, beta);
          jsKernels.axpy(n, alpha, a, y, beta);
          assert.deepEqual(bitsOf(x), bitsOf(y), `axpy alpha ${alpha} beta ${beta} n ${n}`);
        }
      }
      const g = rand(rows);
      const [p, q] = [b.slice(), b.slice()];
      k().addProductRepeat(a, g, p, n, m);
      jsKernels.addProductRepeat(a, g, q, n, m);
      assert.deepEqual(bitsOf(p), bitsOf(q), `addProductRepeat n ${n}`);
      // Row dots four rows at a time natively: 97 rows leave one over, 99 three.
      const [u, v] = [g.slice(), g.slice()];
      k().addRowDots(a, b, u, n, m);
      jsKernels.addRowDots(a, b, v, n, m);
      assert.deepEqual(bitsOf(u), bitsOf(v), `addRowDots n ${n}`);
    }
  });

  test(
    `${name} indexedAddRows matches js bit for bit (scatter and gather, repeated rows) and checks every index first`,
    { skip },
    () => {
      const w = 37;
      const count = 20;
      for (const n of [3, 90]) {
        // 3 rows of 37 run the js loop in every backend, 90 (3,330 floats) the native one.
        const rows = Int32Array.from({ length: n }, (_, i) => (i * 7 + (i % 3)) % count); // repeats
        const few = specials(rand(n * w));
        const many = specials(rand(count * w));
        for (const scatter of [true, false]) {
          const [src, base] = scatter ? [few, many] : [many, few];
          const [x, y] = [base.slice(), base.slice()];
          k().indexedAddRows(src, rows, x, w, scatter);
          jsKernels.indexedAddRows(src, rows, y, w, scatter);
          assert.deepEqual(bitsOf(x), bitsOf(y), `n ${n} scatter ${scatter}`);
        }
      }
      // A hand-computed scatter: row 1 gets both of the first two source rows, in order.
      const dst = Float32Array.of(0, 0, 10, 20, 0, 0);
      k().indexedAddRows(Float32Array.of(1, 2, 3, 4, 5, 6), Int32Array.of(1, 1, 0), dst, 2, true);
      assert.deepEqual(Array.from(dst), [5, 6, 14, 26, 0, 0]);
      const gathered = new Float32Array(4);
      k().indexedAddRows(Float32Array.of(1, 2, 3, 4, 5, 6), Int32Array.of(2, 0), gathered, 2, false);
      assert.deepEqual(Array.from(gathered), [5, 6, 1, 2]);
      for (const kern of [k(), jsKernels]) {
        const n = 300; // above the native cut-over with width 1
        const rows = new Int32Array(n);
        rows[n - 1] = 5; // the last index out of range: nothing may be written before the throw
        const target = new Float32Array(5);
        assert.throws(
          () => kern.indexedAddRows(new Float32Array(n).fill(1), rows, target, 1, true),
          /indexedAddRows: row 5 \(at 299\) out of range \[0, 5\)/,
        );
        assert.ok(
          target.every((v) => v === 0),
          `${kern.name}: nothing written`,
        );
        assert.throws(
          () => kern.indexedAddRows(new Float32Array(n - 1), new Int32Array(n), new Float32Array(5), 1, true),
          /src has 299 elements, 300 rows of 1 need 300/,
        );
        rows[n - 1] = -1;
        const gatherInto = new Float32Array(n);
        assert.throws(
          () => kern.indexedAddRows(new Float32Array(5).fill(1), rows, gatherInto, 1, false),
          /indexedAddRows: row -1 \(at 299\) out of range \[0, 5\)/,
        );
        assert.ok(
          gatherInto.every((v) => v === 0),
          `${kern.name}: nothing gathered`,
        );
        assert.throws(
          () =>
            kern.indexedAddRows(new Float32Array(5), new Int32Array(n), new Float32Array(n - 1), 1, false),
          /dst has 299 elements, 300 rows of 1 need 300/,
        );
        assert.throws(
          () => kern.indexedAddRows(new Float32Array(5), new Int32Array(n), new Float32Array(n), 1.5, true),
          /width must be a non-negative integer, got 1.5/,
        );
        // Nothing to add: no rows, or rows of no floats (any index then names no data).
        const untouched = Float32Array.of(1, 2);
        kern.indexedAddRows(new Float32Array(0), new Int32Array(0), untouched, 2, true);
        kern.indexedAddRows(new Float32Array(0), Int32Array.of(7, -3), untouched, 0, true);
        assert.deepEqual(Array.from(untouched), [1, 2]);
      }
    },
  );

  test(
    `${name} gatherRows copies rows through an index bit for bit and checks every index first`,
    { skip },
    () => {
      const count = 20;
      for (const w of [5, 37]) {
        for (const n of [3, 90]) {
          // 3 rows run the js loop in every backend, 90 the native one; width 5 the js element loop.
          const rows = Int32Array.from({ length: n }, (_, i) => (i * 7 + (i % 3)) % count); // repeats
          const src = specials(rand(count * w));
          const [x, y] = [rand(n * w + 3), rand(n * w + 3)];
          y.set(x);
          k().gatherRows(src, rows, x, w);
          jsKernels.gatherRows(src, rows, y, w);
          assert.deepEqual(bitsOf(x), bitsOf(y), `n ${n} width ${w}`);
          for (let i = 0; i < n; i++)
            assert.deepEqual(
              bitsOf(x.subarray(i * w, (i + 1) * w)),
              bitsOf(src.subarray(rows[i] * w, (rows[i] + 1) * w)),
              `row ${i}`,
            );
        }
      }
      // Hand-computed: rows 2, 0, 2 of [[1, 2], [3, 4], [5, -0]]; the tail past 3 rows is left alone.
      const out = new Float32Array(7).fill(9);
      k().gatherRows(Float32Array.of(1, 2, 3, 4, 5, -0), Int32Array.of(2, 0, 2), out, 2);
      assert.deepEqual(Array.from(out), [5, -0, 1, 2, 5, -0, 9]);
      for (const kern of [k(), jsKernels]) {
        const n = 300; // above the native cut-over with width 1
        const rows = new Int32Array(n);
        rows[n - 1] = -1; // the last index out of range: nothing may be written before the throw
        const into = new Float32Array(n);
        assert.throws(
          () => kern.gatherRows(new Float32Array(5).fill(1), rows, into, 1),
          /gatherRows: row -1 \(at 299\) out of range \[0, 5\)/,
        );
        assert.ok(
          into.every((v) => v === 0),
          `${kern.name}: nothing gathered`,
        );
        rows[n - 1] = 5;
        assert.throws(
          () => kern.gatherRows(new Float32Array(5), rows, into, 1),
          /gatherRows: row 5 \(at 299\)/,
        );
        assert.throws(
          () => kern.gatherRows(new Float32Array(5), new Int32Array(n), new Float32Array(n - 1), 1),
          /gatherRows: dst has 299 elements, 300 rows of 1 need 300/,
        );
        assert.throws(
          () => kern.gatherRows(new Float32Array(5), new Int32Array(n), new Float32Array(n), 1.5),
          /gatherRows: width must be a non-negative integer, got 1.5/,
        );
        // Nothing to copy: no rows, or rows of no floats (any index then names no data).
        const untouched = Float32Array.of(1, 2);
        kern.gatherRows(new Float32Array(0), new Int32Array(0), untouched, 2);
        kern.gatherRows(new Float32Array(0), Int32Array.of(7, -3), untouched, 0);
        assert.deepEqual(Array.from(untouched), [1, 2]);
      }
    },
  );

  test(`${name} axpy fuses no multiply-add: y + alpha·x rounds the product first`, { skip }, () => {
    // In float64, (1/3)·3 rounds to 1, so −1 + 1 = 0; a fused multiply-add keeps the product's
    // exact value, 1 − 2⁻⁵⁴, and gives −2⁻⁵⁴. Above the cut-over, so the native loop runs.
    const n = 4100;
    const y = new Float32Array(n).fill(-1);
    k().axpy(n, 1 / 3, new Float32Array(n).fill(3), y, 1);
    assert.ok(
      y.every((v) => v === 0),
      `y[0] = ${y[0]}`,
    );
  });

  test(
    `${name} copyRows matches js between strided layouts, and refuses blocks outside their arrays`,
    { skip },
    () => {
      // 3 rows run the js loop in every backend, 97 (of 64) the native one.
      for (const rows of [3, 97]) {
        const [w, srcStride, dstStride] = [64, 130, 200];
        const src = rand(7 + rows * srcStride);
        const a = rand(11 + rows * dstStride);
        const ref = a.slice();
        k().copyRows([src, 7, srcStride], [a, 11, dstStride], rows, w);
        jsKernels.copyRows([src, 7, srcStride], [ref, 11, dstStride], rows, w);
        assert.deepEqual(bitsOf(a), bitsOf(ref), `rows ${rows}`);
        assert.deepEqual(a.subarray(11, 11 + w), src.subarray(7, 7 + w));
        assert.deepEqual(a.subarray(0, 11), ref.subarray(0, 11), 'nothing before the block written');
        // One buffer, source and destination overlapping: as TypedArray.set (a memmove).
        const [one, two] = [src.slice(), src.slice()];
        k().copyRows([one, 0, srcStride], [one, 5, srcStride], rows, w);
        jsKernels.copyRows([two, 0, srcStride], [two, 5, srcStride], rows, w);
        assert.deepEqual(bitsOf(one), bitsOf(two), `overlapping, rows ${rows}`);
        // addRows: the same blocks added, special values included, nothing outside them touched.
        const [sums, sumsRef] = [specials(a.slice()), specials(a.slice())];
        const addend = specials(src.slice());
        k().addRows([addend, 7, srcStride], [sums, 11, dstStride], rows, w);
        jsKernels.addRows([addend, 7, srcStride], [sumsRef, 11, dstStride], rows, w);
        assert.deepEqual(bitsOf(sums), bitsOf(sumsRef), `addRows, rows ${rows}`);
        assert.equal(sums[11 + w], specials(a.slice())[11 + w], 'nothing between the rows written');
      }
      const src = rand(1000);
      for (const kern of [k(), jsKernels]) {
        for (const fn of ['copyRows', 'addRows'] as const) {
          assert.throws(
            () => kern[fn]([src, 0, 64], [new Float32Array(1000), 0, 64], 16, 64),
            new RegExp(`${fn}: src has 1000 elements, 16 rows of 64 from 0 every 64 need 1024`),
          );
          assert.throws(() => kern[fn]([src, 0, 64], [new Float32Array(4096), 0, 32], 8, 64), /width/);
        }
      }
    },
  );

  test(`${name} xoshiroWords matches js bit for bit and leaves the same state`, { skip }, () => {
    for (const n of [100, 5000]) {
      const start = Uint32Array.of(0x9e3779b9, 1, 0xffffffff, 12345);
      const [sa, sb] = [start.slice(), start.slice()];
      const [a, b] = [new Uint32Array(n + 1), new Uint32Array(n + 1)];
      k().xoshiroWords(sa, a, n);
      jsKernels.xoshiroWords(sb, b, n);
      assert.deepEqual(a, b, `words n ${n}`);
      assert.deepEqual(sa, sb, `state n ${n}`);
      assert.equal(a[n], 0, 'nothing written past n');
    }
    assert.throws(() => k().xoshiroWords(new Uint32Array(3), new Uint32Array(300), 300), RangeError);
    assert.throws(() => k().xoshiroWords(new Uint32Array(4), new Uint32Array(299), 300), RangeError);
  });

  test(`${name} vector kernels refuse a period that does not divide n and arrays too short`, { skip }, () => {
    const n = 4160; // above the native cut-over
    const [a, out] = [rand(n), new Float32Array(n)];
    for (const kern of [k(), jsKernels]) {
      assert.throws(
        () => kern.binaryCycle('add', a, a, out, n, 63),
        /binaryCycle: m = 63 does not divide n = 4160/,
      );
      assert.throws(
        () => kern.binaryRepeat('mul', a, a, out, n, 0),
        /binaryRepeat: each = 0 does not divide n = 4160/,
      );
      assert.throws(
        () => kern.addProductRepeat(a, a, out, n, 7),
        /addProductRepeat: each = 7 does not divide/,
      );
      assert.throws(() => kern.addRowDots(a, a, out, n, 7), /addRowDots: each = 7 does not divide/);
      assert.throws(() => kern.addRowDots(a, a.subarray(0, 64), out, n, 64), RangeError);
      assert.throws(() => kern.binaryCycle('add', a, a, out, n + 64, 64), RangeError);
      assert.throws(() => kern.binaryRepeat('add', a, a.subarray(0, 64), out, n, 64), RangeError);
      assert.throws(() => kern.axpy(n + 1, 2, a, out, 1), RangeError);
      assert.throws(() => kern.axpy(n, 2, a, out, 0.5 as 0), /axpy: beta must be 0 or 1, got 0.5/);
    }
  });

  test(
    `${name} gated block kernels match js bit for bit, and refuse blocks outside the rows`,
    { skip },
    () => {
      const [experts, width, d] = [3, 2 * 67, 67];
      for (const rows of [3, 97]) {
        // 3 rows (201 elements a block) run the js loops in every backend, 97 (6,499) the native ones.
        const [y, gates, gOut] = [specials(rand(rows * width)), rand(rows * experts), rand(rows * width)];
        for (const expert of [0, 2]) {
          const [a, b] = [rand(rows * width), new Float32Array(rows * width)];
          b.set(a);
          k().gatedBlockAdd(y, gates, experts, expert, rows, width, d, d, a);
          jsKernels.gatedBlockAdd(y, gates, experts, expert, rows, width, d, d, b);
          assert.deepEqual(bitsOf(a), bitsOf(b), `gatedBlockAdd rows ${rows} expert ${expert}`);
          for (const [withGy, withGg] of [
            [true, true],
            [false, true],
            [true, false],
          ]) {
            const start = [rand(rows * width), rand(rows * experts)];
            const grads = () => [withGy ? start[0].slice() : null, withGg ? start[1].slice() : null] as const;
            const [p, q] = [grads(), grads()];
            k().gatedBlockBackward(y, gates, experts, expert, rows, width, 0, d, gOut, ...p);
            jsKernels.gatedBlockBackward(y, gates, experts, expert, rows, width, 0, d, gOut, ...q);
            p.forEach(
              (g, i) => g && assert.deepEqual(bitsOf(g), bitsOf(q[i]!), `backward ${i}, rows ${rows}`),
            );
          }
        }
      }
      const rows = 97;
      const [y, gates, out] = [rand(rows * width), rand(rows * experts), new Float32Array(rows * width)];
      for (const kern of [k(), jsKernels]) {
        assert.throws(
          () => kern.gatedBlockAdd(y, gates, experts, 3, rows, width, 0, d, out),
          /expert 3 of 3/,
        );
        assert.throws(
          () => kern.gatedBlockAdd(y, gates, experts, 0, rows, width, 68, d, out),
          /columns \[68, 135\) of 134/,
        );
        assert.throws(
          () => kern.gatedBlockAdd(y, gates.subarray(1), experts, 0, rows, width, 0, d, out),
          RangeError,
        );
        assert.throws(
          () =>
            kern.gatedBlockBackward(y, gates, experts, 0, rows, width, 0, d, out, null, gates.subarray(1)),
          RangeError,
        );
      }
    },
  );

  test(`${name} Adam update matches js bit for bit, with L2 and decoupled weight decay`, { skip }, () => {
    for (const n of [100, 5000]) {
      for (const [weightDecay, decoupled] of [
        [0, false],
        [0.01, false],
        [0.05, true],
      ] as const) {
        const start = rand(n);
        const state = () => ({ w: start.slice(), m: new Float32Array(n), v: new Float32Array(n) });
        const [x, y] = [state(), state()];
        for (let t = 1; t <= 3; t++) {
          const g = rand(n);
          const h = {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weightDecay,
            decoupled,
            stepSize: 1e-3 / (1 - 0.9 ** t),
            rbc2: 1 / Math.sqrt(1 - 0.999 ** t),
          };
          k().adamUpdate(x.w, g, x.m, x.v, n, h);
          jsKernels.adamUpdate(y.w, g, y.m, y.v, n, h);
        }
        for (const f of ['w', 'm', 'v'] as const)
          assert.deepEqual(bitsOf(x[f]), bitsOf(y[f]), `${f}, n ${n}, decay ${weightDecay} ${decoupled}`);
      }
    }
  });
}

/** The bits of each float: equal arrays of bits are equal results, NaN and −0 included. */
function bitsOf(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

/** x with a NaN, infinities, zeros of both signs and a subnormal among its values. */
function specials(x: Float32Array): Float32Array {
  x.set([NaN, Infinity, -Infinity, 0, -0, 1e-40], 5);
  return x;
}

/** fn's result with `backend` as the engine's kernels, the previous ones restored after. */
function withBackend<T>(backend: BackendName, fn: () => T): T {
  const previous = kernels().name;
  useBackend(backend);
  try {
    return fn();
  } finally {
    useBackend(previous);
  }
}

test('fused causal attention (native) matches the GEMM-per-block path, forward and backward, with dropout and last-query', (t) => {
  if (!nativeLoads(t)) return;
  assert.ok(loadBackend('native').causalAttention, 'the native backend has the fused kernel');
  assert.equal(jsKernels.causalAttention, undefined, 'the js backend runs the GEMM path');
  // Sequences of 3, 1, 0, 7 and 12 positions; the last-query form needs no empty sequence.
  const offsets = Int32Array.of(0, 3, 4, 4, 11, 23);
  const lastOffsets = Int32Array.of(0, 3, 4, 11, 23);
  const R = 23;
  const [d, heads] = [12, 3];
  const inputs = { q: rand(R * d), qLast: rand(4 * d), k: rand(R * d), v: rand(R * d) };
  const weights = rand(R * d);
  const run = (backend: BackendName, lastOnly: boolean, p: number) =>
    withBackend(backend, () => {
      const q = lastOnly
        ? new Tensor(Float32Array.from(inputs.qLast), [4, d], true)
        : new Tensor(Float32Array.from(inputs.q), [R, d], true);
      const k = new Tensor(Float32Array.from(inputs.k), [R, d], true);
      const v = new Tensor(Float32Array.from(inputs.v), [R, d], true);
      const out = lastOnly
        ? lastQueryAttention(q, k, v, lastOffsets, heads, p, new Rng(5), p > 0)
        : causalAttention(q, k, v, offsets, heads, p, new Rng(5), p > 0);
      sum(mul(out, new Tensor(weights.slice(0, out.size), out.shape))).backward();
      return { out: out.data, gq: q.grad!, gk: k.grad!, gv: v.grad! };
    });
  for (const lastOnly of [false, true]) {
    for (const p of [0, 0.4]) {
      const a = run('native', lastOnly, p);
      const b = run('js', lastOnly, p);
      const what = `lastOnly ${lastOnly}, dropout ${p}`;
      close(a.out, b.out, 1e-5, 1e-6, `out (${what})`);
      close(a.gq, b.gq, 1e-4, 1e-5, `gQ (${what})`);
      close(a.gk, b.gk, 1e-4, 1e-5, `gK (${what})`);
      close(a.gv, b.gv, 1e-4, 1e-5, `gV (${what})`);
    }
  }
  // Bad arguments are refused before any memory is touched.
  const K = loadBackend('native');
  const args = (offs: Int32Array, probs = new Float32Array(2000)) =>
    [inputs.q, inputs.k, inputs.v, offs, heads, d, false, 0.5, null, 0, 1, probs, probs] as const;
  const out = new Float32Array(R * d);
  assert.throws(() => K.causalAttention!(...args(Int32Array.of(0, 5, 3)), out), /offsets decrease/);
  assert.throws(() => K.causalAttention!(...args(Int32Array.of(0, R + 1)), out), /q has/);
  assert.throws(() => K.causalAttention!(...args(offsets), out.subarray(1)), /out has/);
  assert.throws(() => K.causalAttention!(...args(offsets, new Float32Array(10)), out), /probs has/);
});

test('fused causal attention (native) gives the same bits on one thread and on two', (t) => {
  if (!nativeLoads(t)) return;
  const K = loadBackend('native');
  const lengths = Array.from({ length: 101 }, (_, b) => (b * 7) % 13); // 0 .. 12, enough to split
  const offsets = new Int32Array(lengths.length + 1);
  lengths.forEach((n, b) => (offsets[b + 1] = offsets[b] + n));
  const [d, heads, B, R] = [8, 2, lengths.length, offsets[lengths.length]];
  const [q, k, v, qLast, dOut] = [rand(R * d), rand(R * d), rand(R * d), rand(B * d), rand(R * d)];
  const run = (threads: number, lastOnly: boolean) => {
    K.setThreads(threads);
    assert.equal(K.threads(), threads);
    const count = lengths.reduce((sum, n) => sum + heads * (lastOnly ? Math.min(n, 1) : n) * n, 0);
    const bits = new Uint32Array(count);
    new Rng(3).fillU32(bits);
    const [probs, kept] = [new Float32Array(count), new Float32Array(count)];
    const rows = lastOnly ? B : R;
    const args = [
      lastOnly ? qLast : q,
      k,
      v,
      offsets,
      heads,
      d,
      lastOnly,
      0.5,
      bits,
      2 ** 31,
      2,
      probs,
      kept,
    ] as const;
    const out = new Float32Array(rows * d);
    K.causalAttention!(...args, out);
    const [gq, gk, gv] = [new Float32Array(rows * d), new Float32Array(R * d), new Float32Array(R * d)];
    K.causalAttentionBackward!(...args, dOut.subarray(0, rows * d), gq, gk, gv);
    return [probs, kept, out, gq, gk, gv].map(bitsOf);
  };
  const threadsBefore = K.threads();
  try {
    for (const lastOnly of [false, true]) {
      const [one, two] = [run(1, lastOnly), run(2, lastOnly)];
      one.forEach((x, i) => assert.deepEqual(x, two[i], `array ${i}, lastOnly ${lastOnly}`));
    }
  } finally {
    K.setThreads(threadsBefore);
  }
});

test('routed attention (native) matches the GEMM-per-block path, forward and backward, with dropout and empty sides', (t) => {
  if (!nativeLoads(t)) return;
  assert.ok(loadBackend('native').routedAttention, 'the native backend has the fused kernel');
  assert.equal(jsKernels.routedAttention, undefined, 'the js backend runs the GEMM path');
  // (queries, keys) per sequence: (3, 2), (1, 0) (the null key alone), (0, 4), (4, 5), (2, 1).
  const queryOffsets = Int32Array.of(0, 3, 4, 4, 8, 10);
  const keyOffsets = Int32Array.of(0, 2, 2, 6, 11, 12);
  const [Q, R, width, heads] = [10, 12, 8, 2];
  const inputs = { q: rand(Q * width), k: rand(R * width), v: rand(R * width), nullKv: rand(2 * width) };
  const weights = rand(Q * width);
  const run = (backend: BackendName, p: number) =>
    withBackend(backend, () => {
      const [q, k, v] = (['q', 'k', 'v'] as const).map(
        (name) => new Tensor(Float32Array.from(inputs[name]), [name === 'q' ? Q : R, width], true),
      );
      const nullKv = new Tensor(Float32Array.from(inputs.nullKv), [2, width], true);
      const opts = { heads, queryOffsets, keyOffsets, dropout: p, rng: new Rng(5), training: p > 0 };
      const out = routedAttention(q, k, v, nullKv, opts);
      sum(mul(out, new Tensor(weights, out.shape))).backward();
      return { out: out.data, gq: q.grad!, gk: k.grad!, gv: v.grad!, gn: nullKv.grad! };
    });
  for (const p of [0, 0.4]) {
    const a = run('native', p);
    const b = run('js', p);
    close(a.out, b.out, 1e-5, 1e-6, `out (dropout ${p})`);
    for (const g of ['gq', 'gk', 'gv', 'gn'] as const) close(a[g], b[g], 1e-4, 1e-5, `${g} (dropout ${p})`);
  }
  // Fresh gradients: whatever they held, the kernel's result is the bits of adding to zeros,
  // without dropout (kept is probs) and with it.
  const Kn = loadBackend('native');
  const count = 76; // heads × Σ queries × (keys + 1)
  const geometry = [
    inputs.q,
    inputs.k,
    inputs.v,
    inputs.nullKv,
    queryOffsets,
    keyOffsets,
    heads,
    width,
  ] as const;
  const dOut = rand(Q * width);
  const words = new Uint32Array(count);
  new Rng(9).fillU32(words);
  for (const bits of [null, words]) {
    const probs = new Float32Array(count);
    const kept = bits ? new Float32Array(count) : probs;
    const probability = [1 / Math.sqrt(width / heads), bits, 2 ** 31, bits ? 2 : 1, probs, kept] as const;
    Kn.routedAttention!(...geometry, ...probability, new Float32Array(Q * width));
    const backward = (fill: number, fresh: number, gk = new Float32Array(R * width).fill(fill)) => {
      const [gq, gv] = [new Float32Array(Q * width).fill(fill), new Float32Array(R * width).fill(fill)];
      Kn.routedAttentionBackward!(...geometry, ...probability, dOut, gq, gk, gv, null, fresh);
      return [gq, gk, gv].map(bitsOf);
    };
    const what = bits ? 'with dropout' : 'without dropout';
    const zeroed = backward(0, 0);
    zeroed.forEach((g, i) =>
      assert.ok(
        g.some((x) => x !== 0),
        `${what}: gradient ${i} is not all zeros`,
      ),
    );
    assert.deepEqual(backward(NaN, 7), zeroed, `${what}: fresh gQ, gK and gV full of NaN`);
    assert.deepEqual(
      backward(NaN, 5, new Float32Array(R * width)),
      zeroed,
      `${what}: gK not fresh (zeros, added to)`,
    );
    const added = backward(1, 0);
    added.forEach((g, i) =>
      assert.ok(
        g.some((x, j) => x !== zeroed[i][j]),
        `${what}: without the flag gradient ${i} is added to what the buffer holds`,
      ),
    );
  }
  // Bad arguments are refused before any memory is touched.
  const K = loadBackend('native');
  const probs = new Float32Array(500);
  const args = (qo: Int32Array, ko: Int32Array, p = probs) =>
    [inputs.q, inputs.k, inputs.v, inputs.nullKv, qo, ko, heads, width, 0.5, null, 0, 1, p, p] as const;
  const out = new Float32Array(Q * width);
  assert.throws(
    () => K.routedAttention!(...args(Int32Array.of(0, 5, 3, 4, 8, 10), keyOffsets), out),
    /query offsets decrease/,
  );
  assert.throws(
    () => K.routedAttention!(...args(queryOffsets, Int32Array.of(0, 12)), out),
    /query offsets and/,
  );
  assert.throws(
    () => K.routedAttention!(...args(queryOffsets, Int32Array.of(0, 2, 2, 6, 11, 13)), out),
    /key offsets end at 13/,
  );
  assert.throws(() => K.routedAttention!(...args(queryOffsets, keyOffsets), out.subarray(1)), /out has/);
  assert.throws(
    () => K.routedAttention!(...args(queryOffsets, keyOffsets, new Float32Array(10)), out),
    /probs has/,
  );
});

test('coordinate descent (native) matches its JS loops, forward and backward, with masked entries', (t) => {
  if (!nativeLoads(t)) return;
  assert.ok(loadBackend('native').coordinateDescent, 'the native backend has the kernel');
  const [B, n] = [5, 23];
  const scores = rand(B * n, 2);
  const mask = Float32Array.from({ length: B * n }, (_, i) =>
    Math.floor(i / n) === 2 || i % 7 === 3 ? 0 : 1,
  );
  const weights = rand(B * n);
  const run = (backend: BackendName) =>
    withBackend(backend, () => {
      const s = new Tensor(Float32Array.from(scores), [B, n], true);
      const p = coordinateDescent(s, 4.5, mask, COORDINATE_DESCENT);
      sum(mul(p, new Tensor(weights, [B, n]))).backward();
      return { p: p.data, g: s.grad! };
    });
  const a = run('native');
  const b = run('js');
  close(a.p, b.p, 1e-5, 1e-7, 'p');
  close(a.g, b.g, 1e-4, 1e-6, 'gradient');
  assert.ok(
    a.p.subarray(2 * n, 3 * n).every((v) => v === 0),
    'a row with nothing valid keeps nothing',
  );
  // Bad packing is refused before any memory is touched.
  const K = loadBackend('native');
  const eps = Float64Array.of(4, 2, 1);
  const call = (index: Int32Array, start: Int32Array, sm = new Float32Array(40)) =>
    K.coordinateDescent!(
      4,
      index,
      start,
      eps,
      sm,
      new Uint8Array(40),
      new Float32Array(8),
      1,
      new Float32Array(8),
    );
  assert.throws(() => call(Int32Array.of(0, 4), Int32Array.of(0, 2)), /not a column/);
  assert.throws(() => call(Int32Array.of(0, 1), Int32Array.of(0, 2, 1)), /start/);
  assert.throws(() => call(Int32Array.of(0, 1, 2, 3, 0), Int32Array.of(0, 5)), /start/);
  assert.throws(() => call(Int32Array.of(0, 1), Int32Array.of(0, 2), new Float32Array(3)), /sm has/);
});

test('routed attention and coordinate descent (native) give the same bits on one, two and three threads', (t) => {
  if (!nativeLoads(t)) return;
  const K = loadBackend('native');
  // Large enough to split: 128 sequences (the forward splits sequences, 32 a part at the least),
  // 4 heads × Σ queries × (keys + 1) ≥ 65,536 probabilities (the backward splits heads), 256 rows
  // of scores (64 a part).
  const B = 128;
  // Sequences without queries or without keys at the parts' edges (two and three parts).
  const [noQueries, noKeys] = [
    [42, 63, 85],
    [43, 64, 86],
  ];
  const queries = (b: number) => (noQueries.includes(b) ? 0 : 8 + (b % 9));
  const keys = (b: number) => (noKeys.includes(b) ? 0 : ((b * 5) % 23) + 4);
  const queryOffsets = new Int32Array(B + 1);
  const keyOffsets = new Int32Array(B + 1);
  for (let b = 0; b < B; b++) {
    queryOffsets[b + 1] = queryOffsets[b] + queries(b);
    keyOffsets[b + 1] = keyOffsets[b] + keys(b);
  }
  const [Q, R, width, heads] = [queryOffsets[B], keyOffsets[B], 32, 4];
  const inputs = { q: rand(Q * width), k: rand(R * width), v: rand(R * width), nullKv: rand(2 * width) };
  const weights = rand(Q * width);
  const [rows, n] = [256, 40];
  const scores = rand(rows * n, 2);
  // Row 128 (where two parts meet) has nothing valid.
  const mask = Float32Array.from({ length: rows * n }, (_, i) =>
    i % 11 === 4 || Math.floor(i / n) === 128 ? 0 : 1,
  );
  const scoreWeights = rand(rows * n);
  const run = (threads: number) =>
    withBackend('native', () => {
      K.setThreads(threads);
      const [q, k, v] = (['q', 'k', 'v'] as const).map(
        (name) => new Tensor(Float32Array.from(inputs[name]), [name === 'q' ? Q : R, width], true),
      );
      const nullKv = new Tensor(Float32Array.from(inputs.nullKv), [2, width], true);
      const opts = { heads, queryOffsets, keyOffsets, dropout: 0.3, rng: new Rng(5), training: true };
      const out = routedAttention(q, k, v, nullKv, opts);
      sum(mul(out, new Tensor(weights, out.shape))).backward();
      const s = new Tensor(Float32Array.from(scores), [rows, n], true);
      const p = coordinateDescent(s, 6.5, mask, COORDINATE_DESCENT);
      sum(mul(p, new Tensor(scoreWeights, [rows, n]))).backward();
      return [out.data, q.grad!, k.grad!, v.grad!, nullKv.grad!, p.data, s.grad!].map(bitsOf);
    });
  const before = K.threads();
  try {
    const one = run(1);
    for (const threads of [2, 3]) {
      const many = run(threads);
      ['out', 'gq', 'gk', 'gv', 'g_null', 'p', 'gs'].forEach((name, i) =>
        assert.deepEqual(many[i], one[i], `${name}, ${threads} threads`),
      );
    }
  } finally {
    K.setThreads(before);
  }
});

test('rotary (native) matches its JS loop bit for bit, written and added, and checks its positions', (t) => {
  if (!nativeLoads(t)) return;
  const K = loadBackend('native');
  assert.ok(K.rotary, 'the native backend has the kernel');
  const [rows, half, top] = [37, 16, 60];
  const cos = Float64Array.from({ length: top * half }, (_, i) => Math.cos(i * 0.37));
  const sin = Float64Array.from({ length: top * half }, (_, i) => Math.sin(i * 0.37));
  const positions = Int32Array.from({ length: rows }, (_, r) => (r * 7) % top);
  const src = specials(rand(rows * 2 * half, 3));
  for (const sign of [1, -1] as const)
    for (const add of [false, true]) {
      const [a, b] = [rand(rows * 2 * half), new Float32Array(rows * 2 * half)];
      b.set(a);
      K.rotary(src, a, cos, sin, positions, rows, half, sign, add);
      rotateRows(src, b, cos, sin, positions, rows, half, sign, add);
      assert.deepEqual(bitsOf(a), bitsOf(b), `sign ${sign}, add ${add}`);
    }
  const dst = new Float32Array(rows * 2 * half);
  const call = (p: Int32Array, d = dst) => K.rotary!(src, d, cos, sin, p, rows, half, 1, false);
  assert.throws(
    () => call(Int32Array.from(positions).fill(top, 5, 6)),
    /position 60 \(row 5\) outside the table of 60/,
  );
  assert.throws(() => call(Int32Array.from(positions).fill(-1, 36)), /position -1 \(row 36\)/);
  assert.ok(
    dst.every((v) => v === 0),
    'nothing written before a bad position is found',
  );
  assert.throws(() => call(positions.subarray(1)), /36 positions for 37 rows/);
  assert.throws(() => call(positions, dst.subarray(1)), /dst has/);
});

test('js layer norm: hand-computed rows, and the gradient of a sum of outputs', () => {
  const out = new Float32Array(3);
  const xhat = new Float32Array(3);
  const rstd = new Float32Array(1);
  // x = [1, 2, 3]: μ = 2, σ² = 2/3, x̂ = [−1, 0, 1]·√1.5; γ = [1, 2, 1], β = [0, 0, 1].
  jsKernels.layerNorm(
    Float32Array.of(1, 2, 3),
    Float32Array.of(1, 2, 1),
    Float32Array.of(0, 0, 1),
    0,
    1,
    3,
    out,
    xhat,
    rstd,
  );
  const s = Math.sqrt(1.5);
  close(xhat, Float32Array.of(-s, 0, s), 1e-6, 1e-7, 'x̂');
  close(out, Float32Array.of(-s, 0, s + 1), 1e-6, 1e-7, 'out');
  close(rstd, Float32Array.of(s), 1e-6, 1e-7, 'rstd');
  // dy = 1 everywhere, γ = 1: LayerNorm's output sums to Σβ whatever x is, so gx = 0.
  const gx = Float32Array.of(5, 5, 5);
  const gg = new Float32Array(3);
  jsKernels.layerNormBackward(
    Float32Array.of(1, 1, 1),
    xhat,
    rstd,
    Float32Array.of(1, 1, 1),
    1,
    3,
    gx,
    false,
    gg,
    null,
  );
  close(gx, new Float32Array(3), 0, 1e-6, 'gx');
  close(gg, xhat, 0, 0, 'gGamma = x̂');
});

test('js vector kernels: hand-computed values', () => {
  const y = Float32Array.of(1, 2, 3, 4);
  jsKernels.axpy(4, 0.5, Float32Array.of(2, 4, 6, 8), y, 1);
  assert.deepEqual(Array.from(y), [2, 4, 6, 8]);
  jsKernels.axpy(4, -2, Float32Array.of(1, 0, 3, 0.5), y, 0);
  assert.deepEqual(Array.from(y), [-2, -0, -6, -1]);
  const out = new Float32Array(4);
  jsKernels.binaryCycle('sub', Float32Array.of(10, 20, 30, 40), Float32Array.of(1, 2), out, 4, 2);
  assert.deepEqual(Array.from(out), [9, 18, 29, 38]);
  jsKernels.binaryRepeat('div', Float32Array.of(10, 20, 30, 40), Float32Array.of(10, 5), out, 4, 2);
  assert.deepEqual(Array.from(out), [1, 2, 6, 8]);
  const into = Float32Array.of(1, 1, 1, 1);
  jsKernels.addProductRepeat(Float32Array.of(1, 2, 3, 4), Float32Array.of(2, -1), into, 4, 2);
  assert.deepEqual(Array.from(into), [3, 5, -2, -3]);
  const block = new Float32Array(6);
  jsKernels.copyRows([Float32Array.of(1, 2, 3, 4, 5, 6), 1, 3], [block, 0, 3], 2, 2);
  assert.deepEqual(Array.from(block), [2, 3, 0, 5, 6, 0]);
  jsKernels.addRows([Float32Array.of(1, 2, 3, 4, 5, 6), 0, 3], [block, 1, 3], 2, 2);
  assert.deepEqual(Array.from(block), [2, 4, 2, 5, 10, 5]); // [2, 3 + 1, 0 + 2, 5, 6 + 4, 0 + 5]
  const dots = Float32Array.of(1, 1);
  jsKernels.addRowDots(Float32Array.of(1, 2, 3, 4), Float32Array.of(2, -1, 0.5, 1), dots, 4, 2);
  assert.deepEqual(Array.from(dots), [1, 6.5]); // 1 + (2 − 2), 1 + (1.5 + 4)
  // One Adam step from zero moments moves each weight by lr against its gradient's sign.
  const w = Float32Array.of(1, 1);
  const h = {
    lr: 0.1,
    beta1: 0.9,
    beta2: 0.999,
    eps: 0,
    weightDecay: 0,
    decoupled: false,
    stepSize: 0.1 / 0.1,
    rbc2: 1 / Math.sqrt(0.001),
  };
  jsKernels.adamUpdate(w, Float32Array.of(3, -0.5), new Float32Array(2), new Float32Array(2), 2, h);
  assert.ok(Math.abs(w[0] - 0.9) < 1e-6 && Math.abs(w[1] - 1.1) < 1e-6, `w = ${Array.from(w)}`);
});

test('js scoreInt8Rows: hand-computed scores of two users against two rows', () => {
  const users = Float32Array.of(1, 2, -1, 0.5);
  const codes = Int8Array.of(3, -4, 127, -128);
  const out = new Float32Array(4);
  jsKernels.scoreInt8Rows(users, 2, codes, Float32Array.of(0.5, 0.25), 2, 2, out);
  // user 0: 3 − 8 = −5 (× 0.5), 127 − 256 = −129 (× 0.25); user 1: −3 − 2 = −5, −127 − 64 = −191.
  assert.deepEqual(Array.from(out), [-2.5, -32.25, -2.5, -47.75]);
});

test('js sgemm: hand-computed 2x3 · 3x2 product', () => {
  const a = Float32Array.of(1, 2, 3, 4, 5, 6);
  const b = Float32Array.of(7, 8, 9, 10, 11, 12);
  const c = new Float32Array(4);
  jsKernels.sgemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2);
  assert.deepEqual(Array.from(c), [58, 64, 139, 154]);
  jsKernels.sgemm(true, true, 2, 2, 3, 1, a, 2, b, 3, 0, c, 2); // (3x2)ᵀ · (2x3)ᵀ
  assert.deepEqual(Array.from(c), [
    1 * 7 + 3 * 8 + 5 * 9,
    1 * 10 + 3 * 11 + 5 * 12,
    2 * 7 + 4 * 8 + 6 * 9,
    2 * 10 + 4 * 11 + 6 * 12,
  ]);
});

test('CAMMSR_BACKEND selects a backend and an unknown name is a clear error', () => {
  const run = (backend: string) =>
    execFileSync(process.execPath, ['dist/src/cli/main.js', 'doctor', '--json'], {
      env: { ...process.env, CAMMSR_BACKEND: backend },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  const out = run('js').trim().split('\n');
  assert.equal(JSON.parse(out[out.length - 1]).selected, 'js');
  assert.throws(() => run('cuda'), /unknown kernel backend "cuda"/);
});

test("native: OpenBLAS's threads spin 2^16 cycles unless OPENBLAS_THREAD_TIMEOUT says otherwise, and the variable is not left set", (t) => {
  if (!nativeLoads(t)) return;
  // OpenBLAS reads the variable once, when it loads: a fresh process for each case.
  const load = (timeout: string | undefined) => {
    const env = { ...process.env };
    delete env.OPENBLAS_THREAD_TIMEOUT;
    if (timeout !== undefined) env.OPENBLAS_THREAD_TIMEOUT = timeout;
    const script =
      "import('./dist/src/kernels/native.js').then((m) => { const d = m.loadNativeKernels().describe();" +
      ' console.log(JSON.stringify({ read: d.openblasThreadTimeout, left: process.env.OPENBLAS_THREAD_TIMEOUT ?? null })); });';
    return JSON.parse(execFileSync(process.execPath, ['-e', script], { env, encoding: 'utf8' })) as {
      read?: number;
      left: string | null;
    };
  };
  const own = load(undefined);
  if (own.read === undefined) {
    assert.ok(process.env.CI !== 'true', 'the Debian OpenBLAS on CI reports its thread timeout');
    t.skip('this OpenBLAS does not report its thread timeout');
    return;
  }
  assert.deepEqual(own, { read: 16, left: null });
  assert.deepEqual(load('20'), { read: 20, left: '20' });
  // What OpenBLAS does with it: clamped to [4, 30], its default (28) when not a number.
  assert.deepEqual(load('40'), { read: 30, left: '40' });
  assert.deepEqual(load('abc'), { read: 28, left: 'abc' });
});

test('doctor advises AVX-512 kernels only where OpenBLAS runs older ones on an AVX-512 CPU', () => {
  const native = (core: string, avx512f: boolean, config = 'OpenBLAS 0.3.21 DYNAMIC_ARCH Haswell') => ({
    backend: 'native',
    openblasConfig: config,
    openblasCore: core,
    avx512f,
  });
  const pinned = blasAdvice(native('Haswell', true), { OPENBLAS_CORETYPE: 'Haswell' });
  assert.equal(pinned.length, 1);
  assert.match(
    pinned[0],
    /runs its Haswell kernels on a CPU with AVX-512 because OPENBLAS_CORETYPE=Haswell is set/,
  );
  assert.match(pinned[0], /OPENBLAS_CORETYPE=SkylakeX/);
  assert.match(
    blasAdvice(native('Zen', true), {})[0],
    /chose its Zen kernels for this CPU, which has AVX-512/,
  );
  // Nothing to say: AVX-512 kernels already (any spelling), no AVX-512, no native backend, a
  // build that cannot switch kernels, or one already asked for AVX-512 kernels it lacks.
  assert.deepEqual(blasAdvice(native('SkylakeX', true), {}), []);
  assert.deepEqual(blasAdvice(native('COOPERLAKE', true), {}), []);
  assert.deepEqual(blasAdvice(native('Haswell', false), { OPENBLAS_CORETYPE: 'Haswell' }), []);
  assert.deepEqual(blasAdvice(undefined, {}), []);
  assert.deepEqual(blasAdvice(native('Haswell', true, 'OpenBLAS 0.3.21 Haswell'), {}), []);
  assert.deepEqual(blasAdvice(native('Haswell', true), { OPENBLAS_CORETYPE: 'skylakex' }), []);
});

test(
  'the committed wasm module is reproducible from its source',
  {
    skip:
      !probeBackends()[1].available && process.env.CI !== 'true'
        ? 'the wasm backend is unavailable here (CI always runs this check)'
        : false,
  },
  () => {
    // Exits non-zero (and execFileSync throws) if a rebuild differs from wasm/kernels.wasm.
    execFileSync(process.execPath, ['scripts/build-wasm.mjs', '--check'], { stdio: 'pipe' });
  },
);
