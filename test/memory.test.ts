/** The step arena: zeroed reusable buffers, and training through it changes no number. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { floats, scratch, StepArena } from '../src/engine/memory.js';
import { Adam } from '../src/engine/optim/adam.js';
import { Cammsr } from '../src/models/cammsr.js';
import type { SequenceBatch, SequentialRecommender } from '../src/models/model.js';
import { Sasrec } from '../src/models/sasrec.js';
import { FusionSasrec } from '../src/models/fusion.js';
import { prefixBatch, trainingBatch } from '../src/models/batch.js';
import { resolveConfig } from '../src/config/index.js';
import { createModel } from '../src/train/create-model.js';
import { Rng } from '../src/engine/rng.js';
import { Tensor } from '../src/engine/tensor.js';
import { reshape, slice } from '../src/engine/ops/shape.js';
import { rotary } from '../src/engine/ops/rotary.js';
import { addN, mul } from '../src/engine/ops/elementwise.js';
import { sum } from '../src/engine/ops/reduce.js';
import { TOY_ITEMS, toyCammsrConfig, toyData } from './toy-data.js';

test('floats: fresh zeroed arrays outside an arena, zeroed reused views inside; scratch: not zeroed', () => {
  const plain = floats(5);
  assert.deepEqual(Array.from(plain), [0, 0, 0, 0, 0]);
  const arena = new StepArena();
  const first = arena.run(() => {
    const a = floats(10);
    a.fill(7);
    return a;
  });
  const second = arena.run(() => floats(10));
  // The same memory again (that is the point), handed out zeroed.
  assert.equal(second.buffer, first.buffer);
  assert.equal(second.byteOffset, first.byteOffset);
  assert.deepEqual(Array.from(second), new Array(10).fill(0));
  // Views never overlap within a run, and stay 16-byte aligned.
  arena.run(() => {
    const a = floats(3);
    const b = floats(5);
    assert.ok(b.byteOffset >= a.byteOffset + 16);
    assert.equal(b.byteOffset % 16, 0);
  });
  // A request larger than a slab gets a slab of its own.
  const big = arena.run(() => floats(9 << 20));
  assert.equal(big.length, 9 << 20);
  assert.ok(arena.stats().peakFloats >= 9 << 20);
  // scratch hands the same memory out as it is.
  arena.run(() => floats(10).fill(7));
  assert.deepEqual(Array.from(arena.run(() => scratch(10))), new Array(10).fill(7));
  assert.deepEqual(Array.from(scratch(3)), [0, 0, 0]);
  // Outside run, floats is ordinary again.
  assert.notEqual(floats(10).buffer, first.buffer);
});

test('StepArena: runs do not nest, release is refused inside a run, an error ends the run', () => {
  const arena = new StepArena();
  assert.throws(() => arena.run(() => arena.run(() => 0)), /already active/);
  assert.throws(() => arena.run(() => arena.release()), /inside run/);
  assert.throws(() =>
    arena.run(() => {
      throw new Error('boom');
    }),
  );
  // The failed run deactivated the arena.
  assert.notEqual(floats(4).buffer, arena.run(() => floats(4)).buffer);
});

const small = { maxLen: 12, dim: 8, layers: 2, heads: 2, ffnDim: 16, hiddenDropout: 0.3, attnDropout: 0.3 };

/**
 * Fills every slab of the arena with NaN, so that an op that reads a buffer it did not write
 * (a `scratch` buffer used as if zeroed) turns the next step's numbers into NaN.
 */
function poison(arena: StepArena): void {
  const held = arena.stats().heldFloats;
  arena.run(() => {
    for (let n = 0; n < held; n += 1 << 16) floats(1 << 16).fill(NaN);
  });
}

/** Six batches of varied sequences of the toy catalog. */
function sequenceBatches(): SequenceBatch[] {
  const { seqs, times } = toyData();
  return Array.from({ length: 6 }, (_, step) => {
    const pick = Array.from({ length: 6 + ((step * 5) % 12) }, (_, i) => (i * 7 + step * 3) % seqs.length);
    return trainingBatch(
      pick.map((u) => seqs[u]),
      12,
      pick.map((u) => times[u]),
    );
  });
}

/**
 * Trains one step per batch, with or without an arena (poisoned before each step); returns the
 * losses and the parameters.
 */
function trainSteps(make: () => SequentialRecommender, arena: StepArena | null, batches = sequenceBatches()) {
  const model = make();
  model.train();
  const opt = new Adam(model.parameters(), { lr: 1e-2 });
  const losses: number[] = [];
  for (const batch of batches) {
    const run = () => {
      const { total } = model.loss(batch);
      total.backward();
      opt.step();
      opt.zeroGrad();
      return total.item();
    };
    if (arena) poison(arena);
    losses.push(arena ? arena.run(run) : run());
  }
  return { losses, params: model.parameters().map((p) => Array.from(p.data)) };
}

const models: [string, () => SequentialRecommender][] = [
  [
    'CAMMSR (ID + text + image, time, categories, MSCL over all pairs)',
    () =>
      new Cammsr(
        {
          ...toyCammsrConfig(),
          ...small,
          seed: 2,
          modalities: ['id', 'text', 'image'],
          time: true,
          msclPairs: 'all',
        },
        toyData().data,
      ),
  ],
  ['SASRec', () => new Sasrec({ ...small, seed: 2, items: TOY_ITEMS })],
  [
    'fusion-concat',
    () =>
      new FusionSasrec(
        {
          ...small,
          initStd: 0.02,
          layerNormEps: 1e-12,
          inputNorm: 'layernorm',
          encoderNorm: 'layernorm',
          dytAlpha: 0.5,
          seed: 2,
          mode: 'concat',
          modalities: ['id', 'text', 'image'],
          unseenItems: false,
          idMask: 0,
        },
        toyData().data,
      ),
  ],
];

for (const [name, make] of models) {
  test(`training through a StepArena gives bit-identical losses and parameters: ${name}`, () => {
    const plain = trainSteps(make, null);
    const arena = new StepArena();
    const pooled = trainSteps(make, arena);
    assert.ok(arena.stats().peakFloats > 0, 'the arena served the steps');
    assert.deepEqual(pooled.losses, plain.losses);
    assert.deepEqual(pooled.params, plain.params);
  });
}

test("slice's and rotary's gradients through a poisoned arena: written when first, added after", () => {
  const rng = new Rng(5);
  const [R, C] = [40, 16]; // slices of 256 floats or more: the native copyRows and addRows run
  const inputs = [0, 1, 2].map(() => Float32Array.from({ length: R * C }, () => rng.normal()));
  const weights = Float32Array.from({ length: R * C }, () => rng.normal());
  const weighted = (t: Tensor) => sum(mul(t, new Tensor(weights.subarray(0, t.size), t.shape)));
  const positions = Int32Array.from({ length: R * 4 }, (_, i) => i % 5);
  const grads = (arena: StepArena | null) => {
    const [a, b, c] = inputs.map((x) => new Tensor(x.slice(), [R, C], true));
    // Backward runs in reverse: a's later row slice (outer 1) writes first, the earlier one adds;
    // b's column slice (strided rows) writes first, its rotation adds; c's rotation writes.
    const run = () => {
      addN(
        weighted(slice(a, 0, 0, 18)),
        weighted(slice(a, 0, 22, 39)),
        weighted(rotary(reshape(b, [R * 4, 4]), positions)),
        weighted(slice(b, 1, 2, 15)),
        weighted(rotary(reshape(c, [R * 4, 4]), positions)),
      ).backward();
      return [a, b, c].map((t) => Array.from(new Uint32Array(t.grad!.buffer, t.grad!.byteOffset, R * C)));
    };
    if (arena) poison(arena);
    return arena ? arena.run(run) : run();
  };
  const plain = grads(null);
  const arena = new StepArena();
  grads(arena);
  assert.deepEqual(grads(arena), plain, 'the same bits');
  for (const row of [18, 21, 39])
    assert.ok(
      plain[0].slice(C * row, C * row + C).every((v) => v === 0),
      `a's row ${row} is in no slice: +0`,
    );
});

for (const kind of ['moca', 'mmsr']) {
  test(`training per prefix through a poisoned StepArena gives bit-identical losses and parameters: ${kind}`, () => {
    const { data, seqs } = toyData();
    const config = resolveConfig({
      overrides: [`model=${kind}`, 'dim=8', 'ffnDim=16', 'layers=1', 'heads=2', 'maxLen=12'],
    });
    const batches = Array.from({ length: 4 }, (_, step) =>
      prefixBatch(
        seqs,
        Int32Array.from(seqs, (s, i) => 1 + ((i + step) % (s.length - 1))),
        12,
      ),
    );
    const make = () => createModel(config, data);
    const plain = trainSteps(make, null, batches);
    const pooled = trainSteps(make, new StepArena(), batches);
    assert.ok(plain.losses.every(Number.isFinite));
    assert.deepEqual(pooled.losses, plain.losses);
    assert.deepEqual(pooled.params, plain.params);
  });
}

test('StepArena with small slabs: views never straddle a slab, a larger request gets its own, all zeroed on reuse', () => {
  const arena = new StepArena(16);
  const sizes = [10, 5, 16, 3, 40, 7];
  const fill = () =>
    sizes.map((n, k) => {
      const v = floats(n);
      assert.ok(
        v.every((x) => x === 0),
        `view ${k} zeroed`,
      );
      v.fill(k + 1);
      return v;
    });
  const first = arena.run(fill);
  // Every view kept its own values: none overlaps another (a straddling view would).
  first.forEach((v, k) =>
    assert.ok(
      v.every((x) => x === k + 1),
      `view ${k} intact`,
    ),
  );
  assert.ok(arena.stats().heldFloats >= 40 + 16, 'the 40-float request got a slab of its own size');
  const held = arena.stats().heldFloats;
  const second = arena.run(fill);
  second.forEach((v, k) =>
    assert.ok(
      v.every((x) => x === k + 1),
      `view ${k} intact on reuse`,
    ),
  );
  assert.equal(arena.stats().heldFloats, held, 'the same requests reuse the same slabs');
  arena.release();
  assert.equal(arena.stats().heldFloats, 0);
});
