/** The sampled softmax: what is drawn, the logQ correction, its limit, and training with it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { effectiveSampledSoftmax, FULL_SOFTMAX_MAX_ITEMS, resolveConfig } from '../src/config/index.js';
import { Adam } from '../src/engine/optim/adam.js';
import { linearCrossEntropy } from '../src/engine/ops/loss.js';
import { slice } from '../src/engine/ops/shape.js';
import { scale } from '../src/engine/ops/elementwise.js';
import { Rng } from '../src/engine/rng.js';
import { trainingBatch } from '../src/models/batch.js';
import { nextItemLoss } from '../src/models/model.js';
import { NegativeSampler } from '../src/models/sampled-softmax.js';
import { Sasrec } from '../src/models/sasrec.js';
import { createModel } from '../src/train/create-model.js';
import type { Tensor } from '../src/engine/tensor.js';
import { gradCheck, randomTensor } from './gradcheck.js';
import { TOY_ITEMS, toyData } from './toy-data.js';

test('draws: every target once, drawn items from the pool only (no padding, no held-out item), ascending', () => {
  const heldOut = Uint8Array.of(0, 0, 1, 0, 0, 1, 0); // items 2 and 5 held out
  const s = new NegativeSampler({ negatives: 50, alpha: 0 }, 6, undefined, heldOut);
  const rng = new Rng(3);
  for (let step = 0; step < 20; step++) {
    const targets = Int32Array.of(4, 1, 4, 6);
    const c = s.draw(targets, rng);
    assert.ok(
      c.ids.every((id, k) => k === 0 || id > c.ids[k - 1]),
      'ascending and distinct',
    );
    assert.ok(
      c.ids.every((id) => id >= 1 && heldOut[id] === 0),
      `drew ${c.ids}`,
    );
    assert.deepEqual(
      Array.from(c.positions, (p) => c.ids[p]),
      Array.from(targets),
    );
    assert.equal(c.offsets.length, c.ids.length);
  }
  // A held-out target (which the split never makes) is refused plainly, not an infinite logit.
  assert.throws(() => s.draw(Int32Array.of(4, 2), rng), /item 2 is held out of training \(or padding\)/);
  // 50 uniform draws over 4 items: all of them, every time.
  assert.deepEqual(Array.from(s.draw(Int32Array.of(1), rng).ids), [1, 3, 4, 6]);
});

test('the proposal is popularity^alpha over the pool (counts + 1), uniform at alpha 0', () => {
  const counts = Float64Array.of(0, 0, 1, 3, 7); // weights (c + 1): 1, 2, 4, 8
  for (const alpha of [1, 0]) {
    const s = new NegativeSampler({ negatives: 1, alpha }, 4, counts, undefined);
    const rng = new Rng(11);
    const seen = new Float64Array(5);
    const draws = 40000;
    // Item 1 never a target, so a draw of one negative shows which item the proposal chose.
    for (let k = 0; k < draws; k++) {
      const ids = s.draw(Int32Array.of(1), rng).ids;
      seen[ids[ids.length - 1]]++;
    }
    const w = alpha === 1 ? [1, 2, 4, 8] : [1, 1, 1, 1];
    const total = w.reduce((a, b) => a + b, 0);
    // Items 2..4: the last id is the drawn one unless the draw was item 1 (then ids = [1]).
    for (let i = 2; i <= 4; i++) {
      const expected = w[i - 1] / total;
      assert.ok(
        Math.abs(seen[i] / draws - expected) < 0.01,
        `alpha ${alpha}, item ${i}: ${seen[i] / draws} vs ${expected}`,
      );
    }
  }
});

test('the logQ correction by hand: −log(1 − (1 − q_j)^K (1 − f_j)^R)', () => {
  // Three items, counts 1, 2, 0 -> f = 1/3, 2/3, 0; alpha 1 -> q ∝ 2, 3, 1 = 1/3, 1/2, 1/6.
  const s = new NegativeSampler({ negatives: 2, alpha: 1 }, 3, Float64Array.of(0, 1, 2, 0), undefined);
  const c = s.draw(Int32Array.of(1), new Rng(1));
  const q = [0, 1 / 3, 1 / 2, 1 / 6];
  const f = [0, 1 / 3, 2 / 3, 0];
  c.ids.forEach((j, k) => {
    const p = 1 - (1 - q[j]) ** 2 * (1 - f[j]) ** 1;
    assert.ok(Math.abs(c.offsets[k] - -Math.log(p)) < 1e-6, `item ${j}: ${c.offsets[k]} vs ${-Math.log(p)}`);
  });
  assert.ok(c.ids.includes(1));
});

test('when every item is certainly a candidate, the sampled loss is the full softmax over the items', () => {
  const rng = new Rng(5);
  const h = randomTensor([6, 4], rng, 1, false);
  const table = randomTensor([TOY_ITEMS + 1, 4], rng, 1, false);
  const targets = Int32Array.of(3, 7, 7, 30, 1, 12);
  const batch = { targets } as unknown as Parameters<typeof nextItemLoss>[2];
  // 100,000 uniform draws over 30 items: p_j = 1 to float precision, so every offset is 0.
  const sampler = new NegativeSampler({ negatives: 100000, alpha: 0 }, TOY_ITEMS, undefined, undefined);
  const sampled = nextItemLoss(h, table, batch, null, { sampler, rng: new Rng(2) }).item();
  // The full softmax over items 1..N (the sampler never draws padding).
  const items = slice(table, 0, 1, TOY_ITEMS + 1);
  const full = linearCrossEntropy(
    h,
    items,
    targets.map((t) => t - 1),
  ).item();
  assert.ok(Math.abs(sampled - full) < 1e-5, `${sampled} vs ${full}`);
});

test('sampled loss gradients (the same draws for every evaluation)', () => {
  const targets = Int32Array.of(2, 5, 9, 5);
  const batch = { targets } as unknown as Parameters<typeof nextItemLoss>[2];
  const sampler = new NegativeSampler(
    { negatives: 4, alpha: 0.5 },
    12,
    Float64Array.from({ length: 13 }, (_, i) => i % 4),
    undefined,
  );
  const rng = new Rng(9);
  gradCheck(
    (h, table) => nextItemLoss(h, table, batch, null, { sampler, rng: new Rng(7) }),
    [randomTensor([4, 3], rng), randomTensor([13, 3], rng)],
  );
});

test('a computed item table gets the sampled rows as a dense gradient (gradient check through a scale)', () => {
  const targets = Int32Array.of(2, 5, 9, 5);
  const batch = { targets } as unknown as Parameters<typeof nextItemLoss>[2];
  const sampler = new NegativeSampler({ negatives: 4, alpha: 0.5 }, 12, undefined, undefined);
  const rng = new Rng(13);
  // The table is an op's output, as CAMMSR's item side is: its row gradient must reach the leaf.
  gradCheck(
    (h, table) => nextItemLoss(h, scale(table, 1.5), batch, null, { sampler, rng: new Rng(3) }),
    [randomTensor([4, 3], rng), randomTensor([13, 3], rng)],
  );
});

test('a parameter table gets a row gradient over the candidates only, and Adam updates only those rows', () => {
  const rng = new Rng(21);
  const h = randomTensor([3, 4], rng);
  const table = randomTensor([101, 4], rng);
  const batch = { targets: Int32Array.of(4, 50, 4) } as unknown as Parameters<typeof nextItemLoss>[2];
  const sampler = new NegativeSampler({ negatives: 5, alpha: 0 }, 100, undefined, undefined);
  const before = Float32Array.from(table.data);
  const loss = nextItemLoss(h, table, batch, null, { sampler, rng: new Rng(4) });
  loss.backward();
  assert.equal(table.grad, null, 'no dense [N, d] gradient');
  const rows = new Set(table.rowGrad!.rows);
  assert.ok(rows.has(4) && rows.has(50) && rows.size <= 2 + 5, `rows ${[...rows]}`);
  new Adam([table], { lr: 0.1 }).step();
  for (let r = 0; r < 101; r++) {
    const changed = table.data.subarray(r * 4, r * 4 + 4).some((v, j) => v !== before[r * 4 + j]);
    assert.equal(changed, rows.has(r), `row ${r}`);
  }
});

test("train.softmax 'auto' is the full softmax up to the documented size, sampled above; explicit values win", () => {
  const auto = resolveConfig();
  assert.equal(auto.train.softmax, 'auto');
  assert.equal(effectiveSampledSoftmax(auto, FULL_SOFTMAX_MAX_ITEMS), false);
  assert.equal(effectiveSampledSoftmax(auto, FULL_SOFTMAX_MAX_ITEMS + 1), true);
  assert.equal(effectiveSampledSoftmax(resolveConfig({ overrides: ['train.softmax=sampled'] }), 10), true);
  assert.equal(effectiveSampledSoftmax(resolveConfig({ overrides: ['train.softmax=full'] }), 1e7), false);
  assert.throws(() => resolveConfig({ overrides: ['train.negatives=0'] }), /negatives/);
});

/** A small model for the toy catalog. */
const SMALL = ['dim=8', 'ffnDim=16', 'layers=1', 'heads=2', 'maxLen=10'];

test('every trainable model learns with a sampled softmax, reproducibly for a seed', () => {
  const { data, seqs, times } = toyData();
  const batch = trainingBatch(seqs, 10, times);
  const overrides = ['train.softmax=sampled', 'train.negatives=8', ...SMALL];
  for (const model of ['sasrec', 'fusion-sum', 'fusion-concat', 'hm4sr', 'cammsr']) {
    const run = () => {
      const m = createModel(resolveConfig({ overrides: [...overrides, `model=${model}`] }), data) as Sasrec;
      m.train();
      const opt = new Adam(m.parameters(), { lr: 1e-2 });
      const losses: number[] = [];
      for (let s = 0; s < 25; s++) {
        const l = m.loss(batch).total;
        losses.push(l.item());
        l.backward();
        opt.step();
        opt.zeroGrad();
      }
      return losses;
    };
    const a = run();
    assert.ok(a[a.length - 1] < a[0] - 0.1, `${model}: ${a[0]} -> ${a[a.length - 1]}`);
    assert.deepEqual(run(), a, `${model}: the same losses for the same seed`);
  }
});

test("a step's item side over its own items only equals the whole catalog's, for every model with content towers", () => {
  const { data, seqs, times } = toyData();
  // Two items never trained (their ID view is the learned unseen row) and ID masking on.
  data.popularity = Float64Array.from({ length: TOY_ITEMS + 1 }, (_, i) =>
    i === 0 || i === 4 || i === 11 ? 0 : i,
  );
  const batch = trainingBatch(seqs, 10, times);
  const overrides = ['train.softmax=sampled', 'train.negatives=6', ...SMALL];
  /** A parameter's whole gradient: its dense part plus its sparse rows. */
  const gradOf = (p: Tensor) => {
    const g = p.grad ? Float32Array.from(p.grad) : new Float32Array(p.size);
    p.rowGrad?.addTo(g);
    return g;
  };
  for (const model of ['fusion-sum', 'fusion-concat', 'hm4sr', 'cammsr']) {
    for (const idMask of [0, 0.3]) {
      const step = (stepRows: boolean) => {
        const config = resolveConfig({ overrides: [...overrides, `model=${model}`, `idMask=${idMask}`] });
        const m = createModel(config, data) as unknown as Sasrec & { stepRows: boolean };
        assert.equal(m.stepRows, false, 'a catalog this small takes the whole-catalog way');
        m.stepRows = stepRows;
        m.train();
        const { total } = m.loss(batch);
        total.backward();
        return { loss: total.item(), grads: m.parameters().map(gradOf), rng: m.rng!.getState() };
      };
      const whole = step(false);
      const own = step(true);
      const what = `${model}, idMask ${idMask}`;
      assert.ok(Math.abs(own.loss - whole.loss) < 1e-5, `${what}: ${own.loss} vs ${whole.loss}`);
      assert.deepEqual(own.rng, whole.rng, `${what}: the same random draws`);
      whole.grads.forEach((g, k) => {
        const worst = g.reduce((w, v, j) => Math.max(w, Math.abs(v - own.grads[k][j])), 0);
        assert.ok(worst < 1e-5, `${what}: parameter ${k} differs by ${worst}`);
      });
    }
  }
});
