/**
 * Helpers of the native kernel tests: whether the native backend loads, and the element-wise
 * kernels that split over threads run once on fixed inputs (the thread-pool test and the worker
 * thread it starts import this file).
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { Kernels } from '../src/kernels/kernels.js';
import { probeBackends } from '../src/kernels/select.js';
import { Rng } from '../src/engine/rng.js';

/** Whether the native backend loads; where it cannot (never on CI) the test is skipped. */
export function nativeLoads(t: TestContext): boolean {
  const native = probeBackends().find((p) => p.name === 'native')!;
  if (native.available) return true;
  assert.ok(process.env.CI !== 'true', `native backend must load on CI: ${native.reason}`);
  t.skip(`native unavailable: ${native.reason}`);
  return false;
}

/**
 * Odd sizes above the kernels' split thresholds (131,072 elements a part), so that the cut falls
 * inside a vector loop's stride: 4,003 rows of 67 make two parts, 8,009 rows four.
 */
export const POOL_WIDTH = 67;

export interface PoolInputs {
  rows: number;
  x: Float32Array;
  dy: Float32Array;
  gamma: Float32Array;
  beta: Float32Array;
  words: Uint32Array;
}

export function poolInputs(seed: number, rows = 4003): PoolInputs {
  const rng = new Rng(seed);
  const n = rows * POOL_WIDTH;
  const rand = (count: number, scale = 1) => Float32Array.from({ length: count }, () => rng.normal() * scale);
  const words = new Uint32Array(n);
  rng.fillU32(words);
  return { rows, x: rand(n, 2), dy: rand(n), gamma: rand(POOL_WIDTH), beta: rand(POOL_WIDTH), words };
}

/** Every output of gelu, its backward, layer norm, DyT and dropout, as bit patterns. */
export function runPoolKernels(K: Kernels, { rows, x, dy, gamma, beta, words }: PoolInputs): Uint32Array[] {
  const [d, n] = [POOL_WIDTH, rows * POOL_WIDTH];
  const [y, dx] = [new Float32Array(n), new Float32Array(n)];
  K.gelu(x, y, n);
  K.geluBackward(x, dy, dx, n);
  const [ln, xhat, rstd] = [new Float32Array(n), new Float32Array(n), new Float32Array(rows)];
  K.layerNorm(x, gamma, beta, 1e-5, rows, d, ln, xhat, rstd);
  const [dyt, tanh] = [new Float32Array(n), new Float32Array(n)];
  K.dyt(x, 0.7, gamma, beta, rows, d, dyt, tanh);
  const [dropped, scale] = [new Float32Array(n), new Float32Array(n)];
  new Uint32Array(scale.buffer).set(words); // the op passes its random words in the scale buffer
  K.dropout(x, new Uint32Array(scale.buffer), 2 ** 31, 2, n, dropped, scale);
  return [y, dx, ln, xhat, rstd, dyt, tanh, dropped, scale].map((a) => new Uint32Array(a.buffer));
}
