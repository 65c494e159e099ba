/** The heuristic fusion baselines: what "sum" and "concat" mean for the item table the sequence model reads. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noGrad } from '../src/engine/autograd.js';
import { addN } from '../src/engine/ops/elementwise.js';
import { linear } from '../src/engine/ops/matmul.js';
import { concat } from '../src/engine/ops/shape.js';
import { Adam } from '../src/engine/optim/adam.js';
import { FusionSasrec } from '../src/models/fusion.js';
import { trainingBatch } from '../src/models/batch.js';
import { TOY_ITEMS, toyCammsrConfig, toyData } from './toy-data.js';

const fusion = (mode: 'sum' | 'concat') =>
  new FusionSasrec(
    { ...toyCammsrConfig({ dim: 8, ffnDim: 16, layers: 1, heads: 2, maxLen: 10, seed: 4 }), mode },
    toyData().data,
  );

/** The modality views [ẽ_id, ẽ_text, ẽ_image], each [N + 1, d]. */
const views = (m: FusionSasrec) => [m.idEmb!.weight, ...m.content.items.map((c) => c.table())];

test('fusion-sum: each item is the sum of its ID, text and image views, with no fusion layer', () => {
  const m = fusion('sum');
  assert.equal(m.kind, 'fusion-sum');
  assert.equal(m.fuse, null);
  assert.equal(m.content.items.length, 2);
  const expected = noGrad(() => addN(...views(m))).data;
  assert.deepEqual(m.scorer().items, expected);
  assert.equal(m.scorer().dim, 8);
});

test('fusion-concat: each item is a learned projection of the concatenated views', () => {
  const m = fusion('concat');
  assert.equal(m.kind, 'fusion-concat');
  assert.deepEqual(m.fuse!.weight.shape, [8, 3 * 8]);
  const expected = noGrad(() => linear(concat(views(m), -1), m.fuse!.weight, m.fuse!.bias)).data;
  assert.deepEqual(m.scorer().items, expected);
  // Not the sum: the projection mixes dimensions across views.
  const sum = noGrad(() => addN(...views(m))).data;
  assert.notDeepEqual(Array.from(m.scorer().items), Array.from(sum));
});

test('both fusions learn: a few steps lower the next-item loss on the toy sequences', () => {
  const { seqs, times } = toyData();
  const batch = trainingBatch(seqs, 10, times);
  for (const mode of ['sum', 'concat'] as const) {
    const m = fusion(mode);
    m.train();
    const opt = new Adam(m.parameters(), { lr: 1e-2 });
    const first = m.loss(batch).total;
    const start = first.item();
    first.backward();
    opt.step();
    opt.zeroGrad();
    for (let s = 0; s < 20; s++) {
      const l = m.loss(batch).total;
      l.backward();
      opt.step();
      opt.zeroGrad();
    }
    const end = m.loss(batch).total;
    end.backward(); // the tape holds everything since the last backward: drop it
    opt.zeroGrad();
    assert.ok(end.item() < start - 0.1, `${mode}: ${start} -> ${end.item()}`);
    assert.equal(
      m.scoreLast(trainingBatch(seqs.slice(0, 2), 10, times.slice(0, 2))).length,
      2 * (TOY_ITEMS + 1),
    );
  }
});

test('a content table built in steps of a few rows equals the table built at once (to rounding), missing rows included', () => {
  const m = fusion('sum');
  for (const c of m.content.items) {
    const whole = noGrad(() => c.table());
    for (const rows of [1, 4, 7, TOY_ITEMS + 1, 1000]) {
      const steps = c.tableSteps(rows);
      let yields = 0;
      let step = steps.next();
      for (; !step.done; step = steps.next()) yields++;
      assert.equal(yields, Math.ceil((TOY_ITEMS + 1) / rows) - 1, `one yield between blocks of ${rows}`);
      assert.deepEqual(step.value.shape, whole.shape);
      // The same products row by row; a one-row block may round differently (a native GEMV).
      const worst = step.value.data.reduce((m, x, i) => Math.max(m, Math.abs(x - whole.data[i])), 0);
      assert.ok(worst < 1e-6, `blocks of ${rows} rows: differ by ${worst}`);
    }
  }
});
