/** content-knn: cosine neighbours of the last item's content, per modality and summed, no training. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { resolveConfig } from '../src/config/index.js';
import { prepareDataset } from '../src/data/prepare.js';
import { inferenceBatch } from '../src/models/batch.js';
import type { ModelData } from '../src/models/model.js';
import { createModel } from '../src/train/create-model.js';
import { train } from '../src/train/trainer.js';
import { tempDir } from './temp.js';

/** 3 items: text [1,0], [1,1], [0,2]; image [0,1], none, [3,0]. */
const data = (): ModelData => ({
  items: 3,
  text: { dim: 2, matrix: Float32Array.of(0, 0, 1, 0, 1, 1, 0, 2), mask: Uint8Array.of(0, 1, 1, 1) },
  image: { dim: 2, matrix: Float32Array.of(0, 0, 0, 1, 0, 0, 3, 0), mask: Uint8Array.of(0, 1, 0, 1) },
  timestamps: false,
});
const knn = (...overrides: string[]) =>
  createModel(resolveConfig({ cli: { model: 'content-knn' }, overrides }), data());
const near = (a: Float32Array, b: number[]) =>
  b.forEach((x, i) => assert.ok(a[i] === x || Math.abs(a[i] - x) < 1e-6, `score ${i}: ${a[i]} vs ${x}`));

test('scores: the sum of the cosines to the last item over the chosen modalities (hand-computed)', () => {
  const last1 = inferenceBatch([Int32Array.of(3, 1)], 50);
  // item 1: 1 + 1; item 2: cos([1,0],[1,1]) + 0 (no image); item 3: 0 + cos([0,1],[3,0]).
  // The last item (1) is not its own neighbour: -Infinity; the scorer alone still gives its cosine.
  near(knn().scoreLast(last1), [0, -Infinity, Math.SQRT1_2, 0]);
  near(knn('contentKnn.modalities=text').scoreLast(last1), [0, -Infinity, Math.SQRT1_2, 0]);
  near(knn('contentKnn.modalities=image').scoreLast(last1), [0, -Infinity, 0, 0]);
  const s = knn().scorer();
  near(s.users(last1), [1, 0, 0, 1]);
  // Two users at once: the second's last item is 3 (item 2: cos([0,2],[1,1]) = 1/√2).
  const two = knn().scoreLast(inferenceBatch([Int32Array.of(1), Int32Array.of(2, 3)], 50));
  near(two.subarray(4), [0, 0, Math.SQRT1_2, -Infinity]);
});

test('the face of a model without training: nothing to train, ranks unseen items, clear errors', () => {
  const m = knn();
  assert.equal(m.kind, 'content-knn');
  assert.equal(m.trainable, false);
  assert.equal(m.ranksUnseenItems, true);
  assert.throws(() => m.loss(inferenceBatch([Int32Array.of(1)], 50)), /nothing to train/);
  const textOnly = { ...data(), image: undefined };
  assert.throws(
    () =>
      createModel(
        resolveConfig({ cli: { model: 'content-knn' }, overrides: ['contentKnn.modalities=image'] }),
        textOnly,
      ),
    /contentKnn\.modalities: the dataset has no image features \(it has text\)/,
  );
  assert.throws(
    () => createModel(resolveConfig({ cli: { model: 'content-knn' } }), { items: 3, timestamps: false }),
    /content-knn: the dataset has no text or image features/,
  );
});

test('the trainer accepts it: no epochs, final metrics on both splits', async () => {
  const root = tempDir('knn');
  const dir = join(root, 'synth');
  await prepareDataset({
    format: 'synth',
    out: dir,
    synth: { users: 80, items: 40 },
    seed: 2,
    image: 'none',
  });
  const m = await train({
    data: dir,
    out: join(root, 'run'),
    config: resolveConfig({ cli: { model: 'content-knn' } }),
  });
  assert.equal(m.epochs, 0);
  assert.equal(m.parameters, 0);
  assert.ok(m.test['HR@20'] > 0, 'content neighbours find some next items on the synthetic catalog');
});
