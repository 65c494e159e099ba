/** CAMMSR: the SASRec plumbing check, gradients through the whole model, ablations, diagnostics. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gradCheck } from './gradcheck.js';
import { Adam } from '../src/engine/optim/adam.js';
import { Cammsr, type CammsrConfig } from '../src/models/cammsr.js';
import { Sasrec } from '../src/models/sasrec.js';
import { inferenceBatch, trainingBatch } from '../src/models/batch.js';
import { TOY_CATEGORIES, TOY_ITEMS, toyCammsrConfig, toyData } from './toy-data.js';

const N = TOY_ITEMS;
const C = TOY_CATEGORIES;

const small = (over: Partial<CammsrConfig> = {}): CammsrConfig => ({
  ...toyCammsrConfig(),
  maxLen: 10,
  dim: 8,
  ffnDim: 16,
  heads: 2,
  layers: 1,
  modalities: ['id', 'text', 'image'],
  time: true,
  ...over,
});

test('plumbing: ID-only CAMMSR without CAMoE, MSCL or DyT trains exactly like SASRec', () => {
  const { data, seqs } = toyData();
  const common = {
    maxLen: 10,
    dim: 8,
    layers: 2,
    heads: 2,
    ffnDim: 16,
    hiddenDropout: 0.3,
    attnDropout: 0.3,
    seed: 9,
  };
  const sas = new Sasrec({ ...common, items: N });
  const cam = new Cammsr(
    {
      ...toyCammsrConfig(),
      ...common,
      modalities: ['id'],
      camoe: false,
      lambda: 0,
      inputNorm: 'layernorm',
      time: false,
    },
    data,
  );
  const o1 = new Adam(sas.parameters(), { lr: 1e-2 });
  const o2 = new Adam(cam.parameters(), { lr: 1e-2 });
  const batch = trainingBatch(seqs, 10);
  for (let step = 0; step < 4; step++) {
    o1.zeroGrad();
    o2.zeroGrad();
    // One graph per backward: the tape holds everything recorded since the last backward.
    const a = sas.loss(batch).total;
    a.backward();
    const b = cam.loss(batch).total;
    b.backward();
    assert.equal(b.item(), a.item(), `step ${step}: losses must be bit-identical`);
    o1.step();
    o2.step();
  }
  sas.eval();
  cam.eval();
  assert.deepEqual(cam.scoreLast(batch), sas.scoreLast(batch));
});

for (const [label, weighting] of [
  ['defaults: normalised views, view losses, detached weights', {}],
  ["the spec's literal weighting", { viewNorm: false, viewLoss: 0, detachWeights: false }],
] as [string, Partial<CammsrConfig>][]) {
  test(`gradients of the full loss (SR + category + MSCL, time, missing text) match finite differences: ${label}`, () => {
    const { data, seqs, times } = toyData();
    const model = new Cammsr(
      small({ hiddenDropout: 0, attnDropout: 0, lambda: 0.5, beta: 1, ...weighting }),
      data,
    );
    const batch = trainingBatch(seqs.slice(0, 5), 10, times.slice(0, 5));
    const state = model.rng.getState();
    const f = () => {
      model.rng.setState(state); // the same swap positions on every evaluation
      return model.loss(batch).total;
    };
    const r = f();
    assert.ok(r.item() > 0);
    const params = model
      .namedParameters()
      .filter(([n]) =>
        /text\.projection\.weight|camoe\.experts\.0\.weight|category_query|category_view_norms\.0|gates\.1|image\.missing|text\.missing|time_embedding/.test(
          n,
        ),
      );
    assert.ok(params.length >= 6, params.map(([n]) => n).join(', '));
    gradCheck(
      f,
      params.map(([, p]) => p),
      { maxChecks: 6, eps: 3e-3, rtol: 5e-2, atol: 5e-4 },
    );
  });
}

test("each modality's share of the scores sums to the model's scores", () => {
  const { data, seqs, times } = toyData();
  const model = new Cammsr(small(), data);
  model.eval();
  const batch = inferenceBatch(seqs.slice(0, 6), 10, times.slice(0, 6));
  const parts = model.scoreLastByModality(batch);
  const all = model.scoreLast(batch);
  assert.equal(parts.length, 3);
  for (let i = 0; i < all.length; i++) {
    const sum = parts[0][i] + parts[1][i] + parts[2][i];
    assert.ok(Math.abs(sum - all[i]) <= 1e-5 * (1 + Math.abs(all[i])), `${sum} vs ${all[i]}`);
  }
});

test('modality weights are a distribution; diagnostics report them overall, per category and per gate', () => {
  const { data, seqs, times } = toyData();
  const model = new Cammsr(small(), data);
  const { terms } = model.loss(trainingBatch(seqs, 10, times));
  assert.ok(terms.sr > 0 && terms.cp > 0 && terms.mscl > 0, JSON.stringify(terms));
  // L = L_SR + β·(L_CP + viewLoss·L_views) + λ·L_MSCL with β = 1, viewLoss = 1, λ = 0.1
  assert.ok(terms.views > 0, JSON.stringify(terms));
  assert.ok(Math.abs(terms.total - (terms.sr + terms.cp + terms.views + 0.1 * terms.mscl)) < 1e-4);
  const d = model.diagnostics() as {
    positions: number;
    modalityWeights: Record<string, number>;
    gates: Record<string, number[]>;
    categoryWeights: (Record<string, number> | null)[];
  };
  const w = d.modalityWeights;
  assert.ok(Math.abs(w.id + w.text + w.image - 1) < 1e-5);
  assert.equal(d.categoryWeights.length, C);
  for (const g of Object.values(d.gates)) assert.ok(Math.abs(g.reduce((a, b) => a + b, 0) - 1) < 1e-5);
  assert.equal((model.diagnostics() as { positions: number }).positions, 0, 'reset after reading');
});

test('every ablation changes the model it names: its parameters, its loss terms or its training step', () => {
  const { data, seqs, times } = toyData();
  const batch = trainingBatch(seqs, 10, times);
  const probe = trainingBatch(seqs.slice(0, 3), 10, times.slice(0, 3));
  /** Parameter names, loss terms, and the scores after one Adam step (dropout off, so only the step differs). */
  const run = (v: Partial<CammsrConfig>) => {
    const model = new Cammsr(small({ hiddenDropout: 0, attnDropout: 0, ...v }), data);
    const names = model.namedParameters().map(([n, p]) => `${n}:${p.shape.join('x')}`);
    const opt = new Adam(model.parameters(), { lr: 1e-2 });
    const { total, terms } = model.loss(batch);
    total.backward();
    opt.step();
    model.eval();
    const scores = model.scoreLast(probe);
    assert.equal(scores.length, 3 * (N + 1), JSON.stringify(v));
    assert.ok(Number.isFinite(total.item()), JSON.stringify(v));
    return { model, names, terms, scores: Array.from(scores) };
  };
  const base = run({});
  assert.deepEqual(Object.keys(base.terms).sort(), ['cp', 'mscl', 'sr', 'total', 'views']);
  const has = (names: string[], part: string) => names.some((n) => n.includes(part));
  const variants: [Partial<CammsrConfig>, (r: ReturnType<typeof run>) => void][] = [
    [{ camoe: false }, (r) => (assert.equal(r.model.camoe, null), assert.equal(r.terms.cp, undefined))],
    [
      { weighting: 'uniform', beta: 0 },
      (r) => {
        assert.equal(r.terms.cp, undefined);
        assert.ok(!has(r.names, 'category_query'));
        const w = (r.model.diagnostics() as { modalityWeights: Record<string, number> }).modalityWeights;
        for (const x of Object.values(w)) assert.ok(Math.abs(x - 1 / 3) < 1e-6);
      },
    ],
    [
      {
        weighting: 'static',
        staticInit: [0, 1, 1],
        categoryHead: 'concat',
        lambda: 0,
        inputNorm: 'layernorm',
      },
      (r) => {
        assert.ok(r.model.camoe!.staticWeights, 'static weights are parameters');
        assert.ok(has(r.names, 'category_head'));
      },
    ],
    [{ synergy: false }, (r) => assert.notDeepEqual(r.names, base.names)],
    [{ lambda: 0 }, (r) => assert.equal(r.terms.mscl, undefined)],
    [{ inputNorm: 'layernorm' }, (r) => assert.notDeepEqual(r.names, base.names)],
    [{ encoderNorm: 'dyt' }, (r) => assert.notDeepEqual(r.names, base.names)],
    [{ time: false }, (r) => assert.ok(!has(r.names, 'time_embedding') && has(base.names, 'time_embedding'))],
    [{ modalities: ['id', 'text'] }, (r) => assert.ok(!has(r.names, 'image.') && has(base.names, 'image.'))],
    [{ msclPairs: 'all' }, (r) => assert.notEqual(r.terms.mscl, base.terms.mscl)],
    [{ weightScale: 3 }, (r) => assert.equal(r.terms.cp, base.terms.cp)],
    [{ weightTemperature: 0.5 }, () => {}],
    [{ gateTemperature: 2 }, () => {}],
    [{ viewLoss: 0 }, (r) => assert.equal(r.terms.views, undefined)],
    [{ viewNorm: false }, (r) => assert.ok(r.names.length < base.names.length)],
    [{ detachWeights: false }, (r) => assert.deepEqual(r.terms, base.terms, 'the same forward pass')],
    [{ sharedEncoder: true }, (r) => assert.equal(r.model.interest.items.length, 1)],
  ];
  for (const [v, specific] of variants) {
    const r = run(v);
    specific(r);
    // Whatever else: the flag is not silently ignored. The model, its loss or its first step differs.
    const same =
      JSON.stringify([r.names, r.terms, r.scores]) === JSON.stringify([base.names, base.terms, base.scores]);
    assert.ok(!same, `${JSON.stringify(v)} changes nothing`);
  }
  assert.throws(
    () => new Cammsr(small({ modalities: ['id', 'image'] }), { ...data, image: undefined }),
    /no image features/,
  );
  assert.throws(() => new Cammsr(small(), { ...data, timestamps: false }), /need a dataset with timestamps/);
});

test('sharedEncoder: one interest encoder serves every modality', () => {
  const { data, seqs, times } = toyData();
  const own = new Cammsr(small(), data);
  const shared = new Cammsr(small({ sharedEncoder: true }), data);
  const count = (m: Cammsr) => m.interest.parameters().reduce((n, p) => n + p.size, 0);
  assert.equal(own.interest.items.length, 3);
  assert.equal(shared.interest.items.length, 1);
  assert.equal(count(own), 3 * count(shared));
  // Perturb the first encoder: with one encoder per modality only the ID tower's scores move,
  // with a shared encoder every tower's do.
  const batch = inferenceBatch(seqs.slice(0, 2), 10, times.slice(0, 2));
  for (const [model, moved] of [
    [own, [true, false, false]],
    [shared, [true, true, true]],
  ] as const) {
    model.eval();
    const before = model.scoreLastByModality(batch);
    for (const p of model.interest.items[0].parameters()) for (let i = 0; i < p.size; i++) p.data[i] += 0.05;
    const after = model.scoreLastByModality(batch);
    const changed = before.map((b, m) => b.some((x, i) => Math.abs(x - after[m][i]) > 1e-6));
    assert.deepEqual(changed, moved);
  }
});

test('a small CAMMSR learns: training loss falls well below its start', () => {
  const { data, seqs, times } = toyData();
  const model = new Cammsr(small({ hiddenDropout: 0.1, attnDropout: 0.1 }), data);
  const opt = new Adam(model.parameters(), { lr: 1e-2 });
  const batch = trainingBatch(seqs, 10, times);
  let first = 0;
  let last = 0;
  for (let s = 0; s < 60; s++) {
    opt.zeroGrad();
    const l = model.loss(batch);
    l.total.backward();
    opt.step();
    if (s === 0) first = l.terms.sr;
    last = l.terms.sr;
  }
  assert.ok(Math.abs(first - Math.log(N + 1)) < 0.5, `initial next-item loss ${first} ≈ ln(N+1)`);
  assert.ok(last < first / 2, `next-item loss ${first} -> ${last}`);
});
