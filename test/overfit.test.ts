/** End-to-end: a small SASRec-shaped model memorises a tiny synthetic next-item task. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Adam } from '../src/engine/optim/adam.js';
import { Sasrec } from '../src/models/sasrec.js';
import { trainingBatch } from '../src/models/batch.js';
import { runToy, toySequences } from '../src/train/toy.js';

test('a SASRec-shaped model overfits a tiny next-item task (loss falls to near 0)', () => {
  const seqs = toySequences(16, 40, 12, 3);
  const model = new Sasrec({
    items: 40,
    maxLen: 12,
    dim: 32,
    layers: 2,
    heads: 2,
    ffnDim: 64,
    hiddenDropout: 0,
    attnDropout: 0,
    seed: 1,
  });
  const opt = new Adam(model.parameters(), { lr: 1e-2 });
  const batch = trainingBatch(seqs, 12);
  let first = 0;
  let last = 0;
  for (let step = 0; step < 150; step++) {
    opt.zeroGrad();
    const loss = model.loss(batch).total;
    loss.backward();
    opt.step();
    if (step === 0) first = loss.item();
    last = loss.item();
  }
  assert.ok(
    Math.abs(first - Math.log(41)) < 0.3,
    `initial loss ${first} should be about ln(41) = ${Math.log(41)}`,
  );
  assert.ok(last < 0.05, `final loss ${last} should be near 0`);
});

test('the same seed gives bit-identical training on the same backend', () => {
  const opts = { users: 64, items: 30, length: 8, epochs: 2, batchSize: 16, dim: 16, lr: 3e-3, seed: 5 };
  const a = runToy(opts);
  const b = runToy(opts);
  assert.deepEqual(
    a.epochs.map((e) => e.loss),
    b.epochs.map((e) => e.loss),
  );
  const c = runToy({ ...opts, seed: 6 });
  assert.notDeepEqual(
    a.epochs.map((e) => e.loss),
    c.epochs.map((e) => e.loss),
  );
});

test('the toy job learns: held-out next items rank in the top 10 far above chance', () => {
  const r = runToy({
    users: 256,
    items: 100,
    length: 15,
    epochs: 8,
    batchSize: 32,
    dim: 32,
    lr: 5e-3,
    seed: 1,
  });
  assert.ok(r.epochs[r.epochs.length - 1].loss < r.epochs[0].loss - 1, 'loss falls');
  assert.ok(r.hitRate10 > 0.5, `HR@10 ${r.hitRate10} should be far above chance (0.1)`);
});
