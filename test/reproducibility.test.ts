/**
 * Same seed, same run, bit for bit: every model (and CAMMSR's ablations) trained a few steps,
 * and three full trainer runs, hashed and compared against checksums committed in
 * test/fixtures/reproducibility.json. A refactor that changes any number fails here.
 *
 * Runs on the plain TypeScript kernels, whose arithmetic is the same on every machine (the
 * OpenBLAS kernels differ between CPUs in the last bits). Imports only the public entry point,
 * so that moving files inside src/ does not touch this test.
 *
 * After an intended change of numbers: CAMMSR_WRITE_CHECKSUMS=1 node --test
 * dist/test/reproducibility.test.js rewrites the fixture; say why in the commit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Adam,
  StepArena,
  createModel,
  inferenceBatch,
  prepareDataset,
  resolveConfig,
  train,
  trainingBatch,
  useBackend,
  type SequentialRecommender,
} from '../src/index.js';
import { toyData } from './toy-data.js';
import { tempDir } from './temp.js';

useBackend('js');

const FIXTURE = join(
  fileURLToPath(new URL('.', import.meta.url)),
  '../../test/fixtures/reproducibility.json',
);
const WRITE = process.env.CAMMSR_WRITE_CHECKSUMS === '1';
const expected: Record<string, string> = existsSync(FIXTURE) ? JSON.parse(readFileSync(FIXTURE, 'utf8')) : {};
const actual: Record<string, string> = {};

function check(name: string, digest: string) {
  actual[name] = digest;
  if (WRITE) return;
  assert.ok(expected[name], `${name}: no committed checksum (run with CAMMSR_WRITE_CHECKSUMS=1)`);
  assert.equal(digest, expected[name], `${name}: the numbers changed`);
}

const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function modelDigest(model: SequentialRecommender, scores: Float32Array, terms: number[]): string {
  const h = createHash('sha256');
  for (const [name, p] of model.namedParameters()) h.update(name).update(bytes(p.data));
  h.update(bytes(scores)).update(bytes(Float64Array.from(terms)));
  return h.digest('hex');
}

const SMALL = ['dim=8', 'heads=2', 'ffnDim=16', 'layers=1', 'maxLen=6'];

const VARIANTS: [string, string, string[]][] = [
  ['sasrec', 'sasrec', []],
  ['popularity', 'popularity', []],
  ['fusion-sum', 'fusion-sum', []],
  ['fusion-concat', 'fusion-concat', []],
  ['hm4sr', 'hm4sr', []],
  ['cammsr', 'cammsr', []],
  ['cammsr w/o camoe', 'cammsr', ['cammsr.camoe=false']],
  ['cammsr w/o synergy', 'cammsr', ['cammsr.synergy=false']],
  ['cammsr w/o category', 'cammsr', ['cammsr.categoryGuidance=false']],
  ['cammsr w/o mscl', 'cammsr', ['cammsr.lambda=0']],
  ['cammsr literal', 'cammsr', ['cammsr.viewLoss=0', 'cammsr.viewNorm=false', 'cammsr.detachWeights=false']],
  ['cammsr layernorm', 'cammsr', ['cammsr.inputNorm=layernorm', 'cammsr.encoderNorm=dyt']],
  ['cammsr shared all-pairs', 'cammsr', ['cammsr.sharedEncoder=true', 'cammsr.msclPairs=all']],
  ['cammsr id+text no time', 'cammsr', ['cammsr.modalities=id,text', 'cammsr.time=off']],
  ['cammsr scaled', 'cammsr', ['cammsr.categoryWeightScale=modalities', 'cammsr.weightTemperature=0.5']],
];

test('each model and ablation: three Adam steps and the scores after them, bit for bit', () => {
  for (const [name, model, sets] of VARIANTS) {
    const { data, seqs, times } = toyData();
    data.popularity = Float64Array.from({ length: data.items + 1 }, (_, i) => (i * 7) % 5);
    const cfg = resolveConfig({ cli: { model: model as 'cammsr', seed: 5 }, overrides: [...SMALL, ...sets] });
    const m = createModel(cfg, data);
    const terms: number[] = [];
    if (m.trainable) {
      const opt = new Adam(m.parameters(), { lr: 1e-2 });
      const arena = new StepArena();
      m.train();
      for (let step = 0; step < 3; step++) {
        const part = [step * 4, step * 4 + 4] as const;
        const batch = trainingBatch(seqs.slice(...part), cfg.maxLen, times.slice(...part));
        arena.run(() => {
          const loss = m.loss(batch);
          for (const k of Object.keys(loss.terms).sort()) terms.push(loss.terms[k]);
          loss.total.backward();
          opt.step();
          opt.zeroGrad();
        });
      }
      arena.release();
    }
    m.eval();
    const scores = m.scoreLast(inferenceBatch(seqs, cfg.maxLen, times));
    check(`model ${name}`, modelDigest(m, scores, terms));
  }
});

test('the trainer: two epochs of sasrec, fusion-sum and cammsr give the same checkpoint, log and metrics', async () => {
  const root = tempDir('repro');
  const data = join(root, 'synth');
  await prepareDataset({
    format: 'synth',
    out: data,
    synth: { users: 80, items: 40 },
    seed: 4,
    image: 'none',
  });
  for (const model of ['sasrec', 'fusion-sum', 'cammsr']) {
    const out = join(root, model);
    const config = resolveConfig({
      cli: { model: model as 'cammsr', seed: 2 },
      overrides: [...SMALL, 'train.epochs=2', 'train.batchSize=32', 'train.patience=0'],
    });
    const metrics = await train({ data, out, config });
    const log = readFileSync(join(out, 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => {
        const { seconds: _, ...rest } = JSON.parse(l);
        return rest;
      });
    const { trainSeconds: _t, secondsPerEpoch: _s, ...kept } = metrics;
    const h = createHash('sha256')
      .update(readFileSync(join(out, 'best.safetensors')))
      .update(JSON.stringify(log))
      .update(JSON.stringify(kept));
    check(`trainer ${model}`, h.digest('hex'));
  }
});

test.after(() => {
  if (WRITE) writeFileSync(FIXTURE, JSON.stringify(actual, null, 2) + '\n');
});
