/** Items without a trained ID embedding: the learned unseen row, and ID masking in training. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Adam } from '../src/engine/optim/adam.js';
import { Rng } from '../src/engine/rng.js';
import { Tensor } from '../src/engine/tensor.js';
import { Cammsr } from '../src/models/cammsr.js';
import { FusionSasrec } from '../src/models/fusion.js';
import { inferenceBatch, trainingBatch } from '../src/models/batch.js';
import { UnseenItems, unseenMask } from '../src/models/unseen-items.js';
import { TrainingCandidates } from '../src/models/model.js';
import { Sasrec } from '../src/models/sasrec.js';
import { TOY_ITEMS, toyCammsrConfig, toyData } from './toy-data.js';

const N = TOY_ITEMS;
/** Items 5 and 9 were never seen in training; the others were. */
const counts = () => Float64Array.from({ length: N + 1 }, (_, i) => (i === 0 || i === 5 || i === 9 ? 0 : 3));
const small = { dim: 8, ffnDim: 16, layers: 1, heads: 2, maxLen: 10, seed: 4 };

test('unseenMask: items with no training interaction, never the padding row', () => {
  assert.deepEqual(Array.from(unseenMask(Float64Array.of(0, 2, 0, 1))), [0, 0, 1, 0]);
});

test('draw: the unseen items always; in training about idMask of the others too', () => {
  const m = new UnseenItems(unseenMask(counts()), 4, 0.3);
  assert.equal(m.draw(false, new Rng(1)), m.unseen, 'no masking when not training');
  let masked = 0;
  for (let t = 0; t < 200; t++) {
    const d = m.draw(true, new Rng(t));
    assert.equal(d[0], 0);
    assert.equal(d[5], 1);
    assert.equal(d[9], 1);
    for (let i = 1; i <= N; i++) if (i !== 5 && i !== 9) masked += d[i];
  }
  const rate = masked / (200 * (N - 2));
  assert.ok(Math.abs(rate - 0.3) < 0.03, `masked ${rate}`);
  assert.throws(() => new UnseenItems(m.unseen, 4, 1), /idMask must be in \[0, 1\)/);
});

test('apply: masked rows become the unseen row, the others stay; gradients reach both', () => {
  const m = new UnseenItems(Uint8Array.of(0, 1, 0), 2, 0);
  m.row.data.set([7, 8]);
  const w = new Tensor(Float32Array.of(0, 0, 1, 2, 3, 4), [3, 2], true);
  const out = m.apply(w, Uint8Array.of(0, 1, 0));
  assert.deepEqual(Array.from(out.data), [0, 0, 7, 8, 3, 4]);
  // d(sum of row 1 and row 2)/d(...): row 1 comes from the unseen row, row 2 from w.
  out.backward(Float32Array.of(0, 0, 1, 1, 1, 1));
  assert.deepEqual(Array.from(m.row.grad!), [1, 1]);
  assert.deepEqual(Array.from(w.grad!), [0, 0, 0, 0, 1, 1]);
});

for (const kind of ['cammsr', 'fusion-sum'] as const) {
  test(`${kind}: unseen items score by content; with the option off they keep their own ID rows`, () => {
    const { data } = toyData();
    data.popularity = counts();
    const make = (unseenItems: boolean, idMask = 0) =>
      kind === 'cammsr'
        ? new Cammsr(toyCammsrConfig({ ...small, unseenItems, idMask }), data)
        : new FusionSasrec({ ...toyCammsrConfig({ ...small, unseenItems, idMask }), mode: 'sum' }, data);
    const on = make(true);
    const off = make(false);
    assert.ok(on.unseen && !off.unseen);
    // Only the ID view of items 5 and 9 differs between the two: their rows are the (zero) unseen row.
    const idTable = on.unseen!.apply(on.idEmb!.weight, on.unseen!.unseen).data;
    assert.deepEqual(Array.from(idTable.subarray(5 * 8, 6 * 8)), new Array(8).fill(0));
    assert.deepEqual(
      Array.from(idTable.subarray(4 * 8, 5 * 8)),
      Array.from(off.idEmb!.weight.data.subarray(4 * 8, 5 * 8)),
    );
    on.eval();
    off.eval();
    const h = inferenceBatch([Int32Array.of(1, 2, 3)], 10);
    const a = on.scoreLast(h);
    const b = off.scoreLast(h);
    assert.notEqual(a[5], b[5]);
    assert.equal(a[4], b[4], 'a seen item scores as without the option');
  });

  test(`${kind}: with idMask the unseen row learns (it gets gradients from masked seen items)`, () => {
    const { data, seqs, times } = toyData();
    data.popularity = counts();
    const model =
      kind === 'cammsr'
        ? new Cammsr(toyCammsrConfig({ ...small, unseenItems: true, idMask: 0.5 }), data)
        : new FusionSasrec(
            { ...toyCammsrConfig({ ...small, unseenItems: true, idMask: 0.5 }), mode: 'sum' },
            data,
          );
    const opt = new Adam(model.parameters(), { lr: 1e-2 });
    model.train();
    const { total } = model.loss(trainingBatch(seqs, 10, times));
    total.backward();
    opt.step();
    assert.ok(
      model.unseen!.row.data.some((x) => x !== 0),
      'the unseen row moved',
    );
  });
}

test('held-out items are not candidates of the training softmax: their rows get no gradient', () => {
  const heldOut = new Uint8Array(N + 1);
  heldOut[5] = 1;
  heldOut[9] = 1;
  const c = new TrainingCandidates(heldOut);
  assert.equal(c.ids.length, N - 1, 'padding and the 28 other items');
  assert.deepEqual(Array.from(c.positions(Int32Array.of(0, 4, 6, 10))), [0, 4, 5, 8]);
  assert.throws(
    () => c.positions(Int32Array.of(5)),
    /item 5 is held out of training but is a training target/,
  );
  assert.equal(TrainingCandidates.of({}), null);
  assert.equal(
    TrainingCandidates.of({ heldOut: new Uint8Array(4) }),
    null,
    'nothing held out: the full table',
  );

  const { seqs } = toyData();
  // Training sequences without the held-out items, as the split makes them.
  const train = seqs.map((s) => s.filter((i) => !heldOut[i]));
  const gradRows = (held?: Uint8Array) => {
    const m = new Sasrec({
      items: N,
      maxLen: 10,
      dim: 8,
      layers: 1,
      heads: 2,
      ffnDim: 16,
      hiddenDropout: 0,
      attnDropout: 0,
      seed: 2,
      heldOut: held,
    });
    m.loss(trainingBatch(train, 10)).total.backward();
    const g = m.itemEmb.weight.grad!;
    return (i: number) => g.subarray(i * 8, (i + 1) * 8).some((x) => x !== 0);
  };
  const held = gradRows(heldOut);
  assert.ok(!held(5) && !held(9), 'held-out rows: no gradient');
  assert.ok(held(4), 'a candidate row gets its negative gradient');
  const all = gradRows();
  assert.ok(all(5) && all(9), 'without the protocol every row is a negative');
});
