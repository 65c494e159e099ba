/**
 * The peer systems through the same bundle and service as every model: a trained MOCA and MMSR
 * export a bundle whose reloaded model scores as the run's did, and the service answers with
 * them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { resolveConfig } from '../src/config/index.js';
import { prepareDataset } from '../src/data/prepare.js';
import { inferenceBatch } from '../src/models/batch.js';
import { exportBundle, loadBundle } from '../src/serve/bundle.js';
import { buildService } from '../src/serve/service.js';
import { openStore } from '../src/serve/store/open.js';
import { loadRun, train } from '../src/train/trainer.js';
import { tempDir } from './temp.js';

const SETTINGS: Record<'moca' | 'mmsr', string[]> = {
  moca: ['dim=16', 'heads=2', 'moca.experts=2'],
  mmsr: ['dim=16', 'mmsr.clusters=4'],
};

for (const model of ['moca', 'mmsr'] as const) {
  const sets = SETTINGS[model];
  test(`${model}: a bundle scores as its run, and the service recommends with it`, async () => {
    const root = tempDir(`peers-${model}`);
    const data = join(root, 'synth');
    await prepareDataset({ format: 'synth', out: data, synth: { users: 60, items: 40 }, seed: 4 });
    const config = resolveConfig({
      cli: { model, seed: 1 },
      overrides: [...sets, 'maxLen=10', 'train.epochs=1', 'train.batchSize=64'],
    });
    await train({ data, out: join(root, 'run'), config });
    exportBundle(join(root, 'run'), join(root, 'bundle'));
    const history = inferenceBatch([Int32Array.of(3, 1, 4)], 10);
    const run = loadRun(join(root, 'run')).model.scoreLast(history);
    const served = loadBundle(join(root, 'bundle')).model.scoreLast(history);
    run.forEach((v, i) => assert.ok(Math.abs(v - served[i]) < 1e-5, `${i}: ${v} vs ${served[i]}`));
    const store = await openStore(`sqlite:${join(root, 'events.db')}`);
    const { app } = await buildService({ bundle: join(root, 'bundle'), store });
    try {
      const ids = loadBundle(join(root, 'bundle')).catalog.ids().slice(0, 3);
      const r = await app.inject({
        method: 'POST',
        url: '/v1/recommendations',
        payload: { history: ids, k: 5 },
      });
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(r.json().model, model);
      assert.equal(r.json().items.length, 5);
    } finally {
      await app.close();
      await store.close();
    }
  });
}
