/** Autograd mechanics, RNG reproducibility, optimizers, clipping and parameter files. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { noGrad, tapeLength } from '../src/engine/autograd.js';
import { firstAbove, Rng } from '../src/engine/rng.js';
import { Tensor, parameter } from '../src/engine/tensor.js';
import { add, addN, mul, scale } from '../src/engine/ops/elementwise.js';
import { sum } from '../src/engine/ops/reduce.js';
import { embedding, reshape } from '../src/engine/ops/shape.js';
import { matmul } from '../src/engine/ops/matmul.js';
import { Adam, AdamW } from '../src/engine/optim/adam.js';
import { clipGradNorm, gradNorm } from '../src/engine/optim/grads.js';
import { Linear } from '../src/engine/nn/layers.js';
import { Module } from '../src/engine/nn/module.js';
import {
  decodeSafetensors,
  decodeSafetensorsSteps,
  encodeSafetensors,
  loadParameterBytes,
  loadParameterFile,
  loadParameters,
  saveParameters,
} from '../src/engine/io/safetensors.js';
import { runSteps } from '../src/engine/steps.js';
import { tempDir } from './temp.js';

test('Rng: the same seed gives the same stream; different seeds differ; moments are right', () => {
  const a = new Rng(123);
  const b = new Rng(123);
  const c = new Rng(124);
  const sa = Array.from({ length: 100 }, () => a.nextU32());
  assert.deepEqual(
    sa,
    Array.from({ length: 100 }, () => b.nextU32()),
  );
  assert.notDeepEqual(
    sa,
    Array.from({ length: 100 }, () => c.nextU32()),
  );
  const r = new Rng(9);
  let s = 0;
  let s2 = 0;
  const n = 20000;
  for (let i = 0; i < n; i++) {
    const x = r.normal();
    s += x;
    s2 += x * x;
  }
  assert.ok(Math.abs(s / n) < 0.03, `mean ${s / n}`);
  assert.ok(Math.abs(s2 / n - 1) < 0.05, `variance ${s2 / n}`);
  const u = Array.from({ length: n }, () => r.uniform());
  assert.ok(u.every((x) => x >= 0 && x < 1));
});

test('Rng.fillU32 continues the exact stream of nextU32 (below and above the native cut-over)', () => {
  const a = new Rng(77);
  const b = new Rng(77);
  for (const n of [37, 1000, 3]) {
    const bulk = new Uint32Array(n);
    a.fillU32(bulk);
    assert.deepEqual(
      Array.from(bulk),
      Array.from({ length: n }, () => b.nextU32()),
    );
    assert.equal(a.nextU32(), b.nextU32());
  }
  assert.deepEqual(a.getState(), b.getState());
});

test('firstAbove: the first index whose cumulative weight exceeds u (inverse-CDF draws), by hand and by frequency', () => {
  // Weights 1, 0, 3, 2: cumulative 1, 1, 4, 6. u in [0, 1) → 0; [1, 4) → 2 (index 1 has weight 0); [4, 6) → 3.
  const cum = [1, 1, 4, 6];
  assert.deepEqual(
    [0, 0.999, 1, 3.999, 4, 5.999].map((u) => firstAbove(cum, u)),
    [0, 0, 2, 2, 3, 3],
  );
  assert.equal(firstAbove([5], 2), 0);
  const rng = new Rng(3);
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < 60_000; i++) counts[firstAbove(cum, rng.uniform() * 6)]++;
  [1, 0, 3, 2].forEach((w, k) =>
    assert.ok(Math.abs(counts[k] / 60_000 - w / 6) < 0.01, `${k}: ${counts[k]}`),
  );
});

test('Rng state round-trips: a restored generator continues the same stream', () => {
  const a = new Rng(5);
  a.normal();
  const state = a.getState();
  const next = [a.nextU32(), a.normal(), a.normal(), a.uniform()];
  const b = new Rng(999);
  b.setState(state);
  assert.deepEqual([b.nextU32(), b.normal(), b.normal(), b.uniform()], next);
  assert.throws(() => b.setState([1, 2]), /four 32-bit words/);
});

test('gradients accumulate over uses of a tensor (x used twice)', () => {
  const x = parameter(Float32Array.of(1, 2, 3), [3]);
  const y = sum(add(mul(x, x), x)); // d/dx = 2x + 1
  y.backward();
  assert.deepEqual(Array.from(x.grad!), [3, 5, 7]);
});

test("a product is its operands' first gradient: written into a fresh buffer, then added (x·x, x·row scalar)", () => {
  // Above the native kernels' cut-over (256 elements), so each backend's kernel runs.
  const n = 4104;
  const x = parameter(
    Float32Array.from({ length: n }, (_, i) => (i % 7) - 3),
    [n],
  );
  sum(mul(x, x)).backward(); // only use of x: the first factor's gradient is written, the second added
  assert.deepEqual(
    Array.from(x.grad!),
    Array.from(x.data, (v) => 2 * v),
  );
  // A per-row scalar: a [1026, 4] times s [1026, 1] (each s[r] repeats over its row).
  const a = parameter(
    Float32Array.from({ length: n }, (_, i) => i / 8),
    [n / 4, 4],
  );
  const s = parameter(
    Float32Array.from({ length: n / 4 }, (_, r) => r - 500),
    [n / 4, 1],
  );
  sum(mul(a, s)).backward();
  assert.deepEqual(
    Array.from(a.grad!),
    Array.from(a.data, (_, i) => s.data[Math.floor(i / 4)]),
  );
  assert.deepEqual(
    Array.from(s.grad!),
    Array.from(s.data, (_, r) => a.data.subarray(4 * r, 4 * r + 4).reduce((t, v) => t + v, 0)),
  );
});

test('giveGrad: a first contribution becomes the gradient (scaled in place); later ones are added', () => {
  const x = parameter(new Float32Array(3), [3]);
  const first = Float32Array.of(1, 2, 3);
  x.giveGrad(first, 2);
  assert.equal(x.grad, first, 'adopted, not copied');
  assert.deepEqual(Array.from(x.grad!), [2, 4, 6]);
  const second = Float32Array.of(1, 1, 1);
  x.giveGrad(second, 0.5);
  assert.deepEqual(Array.from(x.grad!), [2.5, 4.5, 6.5]);
  assert.deepEqual(Array.from(second), [1, 1, 1], 'a later contribution is only read');
  assert.throws(() => x.giveGrad(new Float32Array(2)), /addGrad: 2 values for a tensor of 3/);
});

test("an op's last input takes its output's gradient buffer; repeated inputs and the root stay right", () => {
  // addN(x, x, y) and x·2 + x: every input gets the sum of its uses, whichever takes the buffer.
  const x = parameter(Float32Array.of(1, 2, 3), [3]);
  const y = parameter(Float32Array.of(4, 5, 6), [3]);
  sum(addN(x, x, y)).backward();
  assert.deepEqual(Array.from(x.grad!), [2, 2, 2]);
  assert.deepEqual(Array.from(y.grad!), [1, 1, 1]);
  x.zeroGrad();
  sum(add(scale(x, 2), x)).backward();
  assert.deepEqual(Array.from(x.grad!), [3, 3, 3]);
  // The root of backward keeps its gradient: reshape(x) as the root, with a seed.
  x.zeroGrad();
  const root = reshape(x, [1, 3]);
  root.backward(Float32Array.of(1, 2, 3));
  assert.deepEqual(Array.from(root.grad!), [1, 2, 3]);
  assert.deepEqual(Array.from(x.grad!), [1, 2, 3]);
  assert.notEqual(x.grad, root.grad, "the root's buffer is not handed over");
  x.zeroGrad();
  y.zeroGrad();
  const sumRoot = add(x, y); // an add as the root: y, its last input, may not take the seed's buffer
  sumRoot.backward(Float32Array.of(1, 1, 2));
  assert.deepEqual(Array.from(sumRoot.grad!), [1, 1, 2]);
  assert.deepEqual(Array.from(y.grad!), [1, 1, 2]);
  assert.notEqual(y.grad, sumRoot.grad);
});

test('noGrad records nothing and produces no gradient-carrying outputs', () => {
  const w = parameter(Float32Array.of(1, 2, 3, 4), [2, 2]);
  const before = tapeLength();
  const y = noGrad(() => matmul(w, w));
  assert.equal(tapeLength(), before);
  assert.equal(y.requiresGrad, false);
  assert.throws(() => sum(y).backward(), /does not require a gradient/);
});

test('backward on a non-scalar needs a seed', () => {
  const w = parameter(Float32Array.of(1, 2), [2]);
  assert.throws(() => mul(w, w).backward(), /needs a scalar/);
});

test('Adam: first step moves each weight by lr against the gradient sign; matches a hand computation', () => {
  const p = parameter(Float32Array.of(1, -1, 0.5), [3]);
  const opt = new Adam([p], { lr: 0.1 });
  p.grad = Float32Array.of(2, -3, 0);
  opt.step();
  // m̂ = g, v̂ = g² after one step -> update = lr·g/(|g|+eps)
  assert.ok(Math.abs(p.data[0] - 0.9) < 1e-6);
  assert.ok(Math.abs(p.data[1] - -0.9) < 1e-6);
  assert.equal(p.data[2], 0.5);
  // second step with gradient 1: m = 0.9·0.2... computed by hand for element 0
  p.grad = Float32Array.of(1, 0, 0);
  opt.step();
  const m = 0.9 * (0.1 * 2) + 0.1 * 1;
  const v = 0.999 * (0.001 * 4) + 0.001 * 1;
  const expected = 0.9 - (0.1 / (1 - 0.9 ** 2)) * (m / (Math.sqrt(v) / Math.sqrt(1 - 0.999 ** 2) + 1e-8));
  assert.ok(Math.abs(p.data[0] - expected) < 1e-6, `${p.data[0]} vs ${expected}`);
});

test('AdamW decays weights independently of the gradient; Adam weight decay acts through it', () => {
  const p = parameter(Float32Array.of(2), [1]);
  const opt = new AdamW([p], { lr: 0.1, weightDecay: 0.5 });
  p.grad = Float32Array.of(0);
  opt.step();
  assert.ok(Math.abs(p.data[0] - 2 * (1 - 0.05)) < 1e-6);
  const q = parameter(Float32Array.of(2), [1]);
  const optL2 = new Adam([q], { lr: 0.1, weightDecay: 0.5 });
  q.grad = Float32Array.of(0);
  optL2.step(); // gradient becomes 0.5·2 = 1 -> moves by lr
  assert.ok(Math.abs(q.data[0] - 1.9) < 1e-6);
  assert.throws(() => new Adam([q], { beta1: 1 }), /beta1/);
});

test('lazy sparse Adam updates only the touched rows of an embedding table', () => {
  const table = parameter(
    Float32Array.from({ length: 12 }, (_, i) => i),
    [4, 3],
  );
  const opt = new Adam([table], { lr: 0.1 });
  const out = embedding(table, Int32Array.of(2, 2, 0));
  out.backward(new Float32Array(out.size).fill(1));
  assert.equal(table.grad, null);
  opt.step();
  assert.deepEqual(Array.from(table.data.subarray(3, 6)), [3, 4, 5], 'untouched row 1 unchanged');
  assert.deepEqual(Array.from(table.data.subarray(9, 12)), [9, 10, 11], 'untouched row 3 unchanged');
  assert.ok(Math.abs(table.data[0] - -0.1) < 1e-6 && Math.abs(table.data[6] - 5.9) < 1e-6);
  // Dense (exact) mode gives the same first step on touched rows.
  const t2 = parameter(
    Float32Array.from({ length: 12 }, (_, i) => i),
    [4, 3],
  );
  const o2 = embedding(t2, Int32Array.of(2, 2, 0));
  o2.backward(new Float32Array(o2.size).fill(1));
  new Adam([t2], { lr: 0.1, lazySparse: false }).step();
  assert.deepEqual(Array.from(t2.data), Array.from(table.data));
});

test('a table used both as lookup and output layer gets one merged gradient', () => {
  const table = parameter(Float32Array.of(1, 0, 0, 1), [2, 2]);
  const h = embedding(table, Int32Array.of(1));
  const logits = matmul(h, table, { transB: true }); // [1, 2]
  sum(logits).backward();
  // d/dT of Σ_j <T[1], T[j]> = T[1] for every row j, plus Σ_j T[j] on row 1
  const g = new Float32Array(4);
  g.set(table.grad!);
  table.rowGrad!.addTo(g);
  assert.deepEqual(Array.from(g), [0, 1, 1, 2]);
  assert.ok(Math.abs(gradNorm([table]) - Math.sqrt(6)) < 1e-6);
});

test('clipGradNorm scales dense and sparse gradients to the max norm', () => {
  const a = parameter(Float32Array.of(0, 0), [2]);
  a.grad = Float32Array.of(3, 0);
  const t = parameter(new Float32Array(4), [2, 2]);
  t.rowGradBuffer().add(1, Float32Array.of(0, 4), 0);
  const before = clipGradNorm([a, t], 1);
  assert.ok(Math.abs(before - 5) < 1e-6);
  assert.ok(Math.abs(gradNorm([a, t]) - 1) < 1e-5);
});

class Tiny extends Module {
  readonly a: Linear;
  readonly b: Linear;
  constructor(seed: number, width = 3) {
    super();
    const rng = new Rng(seed);
    this.a = this.child('a', new Linear(2, width, rng));
    this.b = this.child('b', new Linear(width, 1, rng));
  }
}

test('parameters round-trip through safetensors; the file is standard safetensors', () => {
  const dir = tempDir('st');
  const path = join(dir, 'm.safetensors');
  const m1 = new Tiny(1);
  saveParameters(m1, path, { note: 'test' });
  const m2 = new Tiny(2);
  const meta = loadParameters(m2, path);
  assert.equal(meta.note, 'test');
  assert.deepEqual(
    m2.parameters().map((p) => Array.from(p.data)),
    m1.parameters().map((p) => Array.from(p.data)),
  );
  // Standard layout: u64 header length, JSON header with dtype/shape/data_offsets.
  const bytes = readFileSync(path);
  const hlen = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + hlen).toString());
  assert.deepEqual(header['a.weight'].shape, [3, 2]);
  assert.equal(header['a.weight'].dtype, 'F32');
  assert.equal((8 + hlen) % 8, 0);
});

/** A parameter file laid out by hand: `places` gives each tensor's byte range in the data section. */
function handLaidFile(path: string, module: Module, places: Record<string, number>, dataBytes: number): void {
  const header: Record<string, unknown> = { __metadata__: { format: 'cammsr', format_version: '1' } };
  const data = Buffer.alloc(dataBytes, 0xab);
  for (const [name, t] of module.namedParameters()) {
    const at = places[name];
    header[name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [at, at + t.data.byteLength] };
    Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).copy(data, at);
  }
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(path, Buffer.concat([len, json, data]));
}

test('a parameter file is read straight into the parameters, every byte handed over once and in order, holes included', () => {
  const dir = tempDir('st');
  const source = new Tiny(1);
  // Tiny's tensors (24, 12, 12 and 4 bytes) in reverse order of name, with holes and a tail.
  const path = join(dir, 'holes.safetensors');
  handLaidFile(path, source, { 'b.weight': 4, 'b.bias': 20, 'a.weight': 40, 'a.bias': 68 }, 90);
  const seen: Uint8Array[] = [];
  const target = new Tiny(2);
  const meta = loadParameterFile(target, path, (b) => seen.push(Uint8Array.from(b)));
  assert.equal(meta.format, 'cammsr');
  assert.deepEqual(Buffer.concat(seen), readFileSync(path));
  assert.deepEqual(
    target.parameters().map((p) => Array.from(p.data)),
    source.parameters().map((p) => Array.from(p.data)),
  );
  // The same values as loading the bytes read whole.
  const fromBytes = new Tiny(3);
  loadParameterBytes(fromBytes, readFileSync(path), path);
  assert.deepEqual(
    fromBytes.parameters().map((p) => Array.from(p.data)),
    target.parameters().map((p) => Array.from(p.data)),
  );
  // Overlapping tensors are refused before any parameter changes.
  const overlap = join(dir, 'overlap.safetensors');
  handLaidFile(overlap, source, { 'b.weight': 0, 'b.bias': 8, 'a.weight': 40, 'a.bias': 68 }, 90);
  const untouched = new Tiny(4);
  const before = untouched.parameters().map((p) => Array.from(p.data));
  assert.throws(
    () => loadParameterFile(untouched, overlap),
    /overlap\.safetensors: tensor "b\.bias" overlaps the one before it/,
  );
  assert.throws(
    () => loadParameterBytes(untouched, readFileSync(overlap), overlap),
    /overlaps the one before it/,
  );
  assert.deepEqual(
    untouched.parameters().map((p) => Array.from(p.data)),
    before,
  );
});

test('decoding with views reads aligned tensors in place and copies unaligned ones, the same values either way', () => {
  const a = Float32Array.from([1.5, -2, 3.25, 0, 1e-30, -0]);
  const b = Float32Array.from([7, 8, 9]);
  const bytes = encodeSafetensors({ a: { data: a, shape: [2, 3] }, b: { data: b, shape: [3] } });
  const copied = runSteps(decodeSafetensorsSteps(bytes, 'x'));
  const viewed = runSteps(decodeSafetensorsSteps(bytes, 'x', { views: true }));
  for (const name of ['a', 'b']) {
    assert.deepEqual(viewed.tensors.get(name), copied.tensors.get(name));
    assert.notEqual(copied.tensors.get(name)!.data.buffer, bytes.buffer, 'decoded without views: a copy');
  }
  assert.equal(viewed.tensors.get('a')!.data.buffer, bytes.buffer, 'aligned: a view of the bytes');
  // The same file one byte into a larger buffer: its tensors are not aligned there, so they are copied.
  const shifted = new Uint8Array(bytes.length + 1);
  shifted.set(bytes, 1);
  const unaligned = runSteps(decodeSafetensorsSteps(shifted.subarray(1), 'x', { views: true }));
  for (const name of ['a', 'b']) {
    assert.deepEqual(unaligned.tensors.get(name), copied.tensors.get(name));
    assert.notEqual(unaligned.tensors.get(name)!.data.buffer, shifted.buffer);
  }
});

test('loading refuses bad files clearly and leaves the model untouched', () => {
  const dir = tempDir('st');
  const good = join(dir, 'good.safetensors');
  saveParameters(new Tiny(1), good);
  const target = new Tiny(3);
  const snapshot = target.parameters().map((p) => Array.from(p.data));
  const untouched = () =>
    assert.deepEqual(
      target.parameters().map((p) => Array.from(p.data)),
      snapshot,
    );

  const wrongShape = join(dir, 'wide.safetensors');
  saveParameters(new Tiny(1, 4), wrongShape);
  assert.throws(
    () => loadParameters(target, wrongShape),
    /"a\.weight" has shape \[4, 2\], the model expects \[3, 2\]/,
  );
  untouched();

  const truncated = join(dir, 'truncated.safetensors');
  writeFileSync(truncated, readFileSync(good).subarray(0, 40));
  assert.throws(
    () => loadParameters(target, truncated),
    /truncated\.safetensors: header length \d+ exceeds the file size/,
  );
  untouched();

  const short = join(dir, 'short.safetensors');
  writeFileSync(short, readFileSync(good).subarray(0, readFileSync(good).length - 4));
  assert.throws(() => loadParameters(target, short), /do not hold .* float32 values/);
  untouched();

  const foreign = join(dir, 'foreign.safetensors');
  const enc = encodeSafetensors({ x: { data: new Float32Array(2), shape: [2] } });
  const hdr = JSON.parse(enc.subarray(8, 8 + Number(enc.readBigUInt64LE(0))).toString());
  hdr.__metadata__ = { format: 'pt' };
  const json = Buffer.from(JSON.stringify(hdr));
  const lenBuf = Buffer.alloc(8);
  lenBuf.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(foreign, Buffer.concat([lenBuf, json, new Uint8Array(8)]));
  assert.throws(() => loadParameters(target, foreign), /not a cammsr parameter file/);

  const future = join(dir, 'future.safetensors');
  hdr.__metadata__ = { format: 'cammsr', format_version: '99' };
  const j2 = Buffer.from(JSON.stringify(hdr));
  lenBuf.writeBigUInt64LE(BigInt(j2.length));
  writeFileSync(future, Buffer.concat([lenBuf, j2, new Uint8Array(8)]));
  assert.throws(() => loadParameters(target, future), /format version 99 is not supported/);

  const garbage = join(dir, 'garbage.safetensors');
  const g = Buffer.alloc(20);
  g.writeBigUInt64LE(4n);
  g.write('{{{{', 8);
  writeFileSync(garbage, g);
  assert.throws(() => loadParameters(target, garbage), /header is not valid JSON/);
  untouched();
  assert.throws(() => decodeSafetensors(new Uint8Array(3), 'x'), /too short/);
});

test('saving is atomic: no temp file is left behind and a failed write keeps the old file', () => {
  const dir = tempDir('st');
  const path = join(dir, 'm.safetensors');
  saveParameters(new Tiny(1), path);
  const before = readFileSync(path);
  assert.throws(() => saveParameters(new Tiny(2), join(dir, 'missing-dir', 'm.safetensors')));
  assert.deepEqual(readFileSync(path), before);
  assert.ok(existsSync(path));
  const t = new Tensor(new Float32Array(1), [1]);
  assert.equal(t.requiresGrad, false);
});
