/** Full-ranking evaluation: ranks, metrics by hand, invariants, and evaluate() with a fake model. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Module } from '../src/engine/nn/module.js';
import { Rng } from '../src/engine/rng.js';
import type { EvalCase, LeaveOneOutSplit } from '../src/data/split.js';
import type { LossResult, Scorer, SequenceBatch, SequentialRecommender } from '../src/models/model.js';
import { METRIC_KS, meanStd, metricsFromRanks, rankOfTarget } from '../src/eval/metrics.js';
import { evaluate, evaluateSplit } from '../src/eval/evaluate.js';

const close = (a: number, b: number, eps = 1e-12, msg = '') =>
  assert.ok(Math.abs(a - b) <= eps, `${msg} ${a} != ${b} (eps ${eps})`);
const row = (xs: number[]) => Float32Array.from(xs);
const ids = (xs: number[]) => Int32Array.from(xs);

/** The definition, written the slow obvious way, to check rankOfTarget against. */
function naiveRank(scores: Float32Array, target: number, exclude: number[] = []): number {
  const N = scores.length - 1;
  const t = scores[target];
  if (Number.isNaN(t)) return N;
  const ex = new Set(exclude);
  let r = 1;
  for (let j = 1; j <= N; j++) {
    if (j === target || ex.has(j)) continue;
    if (Number.isNaN(scores[j]) || scores[j] >= t) r++;
  }
  return r;
}

test('rankOfTarget: hand-computed ranks, pessimistic ties, exclusion, padding ignored', () => {
  // Padding column 0 holds the largest score: it must never count.
  //            pad  1    2    3    4    5
  const s = row([9, 0.1, 0.5, 0.3, 0.5, 0.2]);
  assert.equal(rankOfTarget(s, 3), 3); // 2 and 4 (0.5) are above 0.3
  assert.equal(rankOfTarget(s, 2), 2); // tie with item 4 at the best score: pessimistic -> 2, not 1
  assert.equal(rankOfTarget(s, 4), 2); // same tie from the other side
  assert.equal(rankOfTarget(s, 5), 4); // 2, 3, 4 above 0.2
  assert.equal(rankOfTarget(s, 1), 5); // worst
  // Excluding the tied competitor makes the target first.
  assert.equal(rankOfTarget(s, 2, ids([4])), 1);
  // Repeats, padding 0 and the target itself in the exclusion list: 4 removed once, 2 stays.
  assert.equal(rankOfTarget(s, 2, ids([4, 4, 0, 2, 4])), 1);
  // Excluding an item below the target changes nothing; one above lifts it by one.
  assert.equal(rankOfTarget(s, 3, ids([1])), 3);
  assert.equal(rankOfTarget(s, 3, ids([2])), 2);
  assert.equal(rankOfTarget(s, 3, ids([2, 4, 1])), 1);
  assert.equal(rankOfTarget(s, 3, null), 3);
  assert.equal(rankOfTarget(s, 3, ids([])), 3);
  // Every other item tied with the target: rank N.
  assert.equal(rankOfTarget(row([0, 1, 1, 1, 1]), 2), 4);
  // Infinities compare normally.
  assert.equal(rankOfTarget(row([0, -Infinity, Infinity, 0]), 2), 1);
  assert.equal(rankOfTarget(row([0, -Infinity, Infinity, 0]), 1), 3);
});

test('rankOfTarget: NaN scores are pessimistic', () => {
  const s = row([0, NaN, 0.5, 0.3, 0.1]);
  assert.equal(rankOfTarget(s, 3), 3); // NaN (item 1) and 0.5 (item 2) count as above
  assert.equal(rankOfTarget(s, 2), 2); // NaN counts as above even the best score
  assert.equal(rankOfTarget(s, 1), 4); // NaN target: rank N
  assert.equal(rankOfTarget(s, 1, ids([2, 3])), 4); // still N, whatever is excluded
  assert.equal(rankOfTarget(s, 2, ids([1])), 1); // an excluded NaN does not count
});

test('rankOfTarget: bad input is rejected', () => {
  const s = row([0, 1, 2]);
  assert.throws(() => rankOfTarget(s, 0), RangeError); // padding is not an item
  assert.throws(() => rankOfTarget(s, 3), RangeError);
  assert.throws(() => rankOfTarget(s, 1.5), RangeError);
  assert.throws(() => rankOfTarget(s, 1, ids([5])), RangeError);
  assert.throws(() => rankOfTarget(s, 1, ids([-1])), RangeError);
  assert.throws(() => rankOfTarget(row([0]), 1), RangeError);
});

test('rankOfTarget agrees with the definition on random rows with many ties and exclusions', () => {
  const rng = new Rng(7);
  for (let trial = 0; trial < 2000; trial++) {
    const N = 1 + rng.int(30);
    // Few distinct values -> many ties; sometimes a NaN.
    const s = new Float32Array(N + 1);
    for (let j = 0; j <= N; j++) s[j] = rng.uniform() < 0.05 ? NaN : rng.int(4);
    const target = 1 + rng.int(N);
    const ex: number[] = [];
    const m = rng.int(N + 3);
    for (let k = 0; k < m; k++) ex.push(rng.int(N + 1)); // includes 0, repeats, maybe the target
    assert.equal(rankOfTarget(s, target, ids(ex)), naiveRank(s, target, ex), `trial ${trial}`);
    assert.equal(rankOfTarget(s, target), naiveRank(s, target), `trial ${trial} (no exclusion)`);
  }
});

test('metricsFromRanks: hand-computed values', () => {
  // ranks 1, 2, 3, 7, 30 over 5 users:
  // @5:  hits 1,2,3  HR = 3/5 = 0.6
  //      NDCG = (1/log2(2) + 1/log2(3) + 1/log2(4)) / 5 = (1 + 0.6309297535714575 + 0.5) / 5
  //      MRR  = (1 + 1/2 + 1/3) / 5 = 0.36666...
  // @10: hits 1,2,3,7  HR = 0.8
  //      NDCG adds 1/log2(8) = 1/3; MRR adds 1/7
  const m = metricsFromRanks([1, 2, 3, 7, 30], [5, 10]);
  assert.deepEqual(Object.keys(m), ['HR@5', 'NDCG@5', 'MRR@5', 'HR@10', 'NDCG@10', 'MRR@10']);
  close(m['HR@5'], 0.6);
  close(m['NDCG@5'], (1 + 0.6309297535714575 + 0.5) / 5);
  close(m['MRR@5'], (1 + 1 / 2 + 1 / 3) / 5);
  close(m['HR@10'], 0.8);
  close(m['NDCG@10'], (1 + 0.6309297535714575 + 0.5 + 1 / 3) / 5);
  close(m['MRR@10'], (1 + 1 / 2 + 1 / 3 + 1 / 7) / 5);
  // Default cut-offs and Int32Array input.
  const d = metricsFromRanks(Int32Array.from([1]));
  assert.deepEqual(METRIC_KS, [5, 10, 20]);
  for (const k of METRIC_KS) for (const name of ['HR', 'NDCG', 'MRR']) assert.equal(d[`${name}@${k}`], 1);
  // One target at rank 2, K = 1: a miss.
  assert.deepEqual(metricsFromRanks([2], [1]), { 'HR@1': 0, 'NDCG@1': 0, 'MRR@1': 0 });
});

test('metricsFromRanks and meanStd reject bad input', () => {
  assert.throws(() => metricsFromRanks([]), RangeError);
  assert.throws(() => metricsFromRanks(new Int32Array(0)), RangeError);
  assert.throws(() => metricsFromRanks([0]), RangeError);
  assert.throws(() => metricsFromRanks([1.5]), RangeError);
  assert.throws(() => metricsFromRanks([1], []), RangeError);
  assert.throws(() => metricsFromRanks([1], [0]), RangeError);
  assert.throws(() => meanStd([]), RangeError);
});

test('meanStd: sample standard deviation over seeds', () => {
  assert.deepEqual(meanStd([0.25]), { mean: 0.25, std: 0 });
  // mean 5, squared deviations 9+1+1+9 = 20, / (4-1) -> sqrt(20/3)
  const r = meanStd([2, 4, 6, 8]);
  close(r.mean, 5);
  close(r.std, Math.sqrt(20 / 3));
  close(meanStd([3, 3, 3]).std, 0);
});

test('invariants on random rankings: 0 <= MRR@K <= NDCG@K <= HR@K <= 1, HR monotone in K', () => {
  const rng = new Rng(11);
  const N = 40;
  const ks = Array.from({ length: N + 1 }, (_, i) => i + 1);
  const ranks: number[] = [];
  for (let u = 0; u < 500; u++) {
    const s = new Float32Array(N + 1);
    for (let j = 1; j <= N; j++) s[j] = rng.int(10); // ties on purpose
    const ex: number[] = [];
    for (let k = rng.int(8); k > 0; k--) ex.push(1 + rng.int(N));
    const r = rankOfTarget(s, 1 + rng.int(N), ids(ex));
    assert.ok(r >= 1 && r <= N);
    ranks.push(r);
    check(metricsFromRanks([r], ks), `single rank ${r}`);
  }
  check(metricsFromRanks(ranks, ks), 'average');
  // Past N every target is a hit.
  assert.equal(metricsFromRanks(ranks, [N])[`HR@${N}`], 1);

  function check(m: Record<string, number>, what: string) {
    let prevHr = 0;
    for (const k of ks) {
      const hr = m[`HR@${k}`];
      const ndcg = m[`NDCG@${k}`];
      const mrr = m[`MRR@${k}`];
      const eps = 1e-12; // averages of the per-target inequalities may differ in the last bit
      assert.ok(0 <= mrr && mrr <= ndcg + eps && ndcg <= hr + eps && hr <= 1, `${what} @${k}`);
      assert.ok(hr >= prevHr, `${what}: HR@${k} < HR at a smaller K`);
      prevHr = hr;
    }
  }
});

test('a perfect ranker scores 1 on every metric', () => {
  const rng = new Rng(3);
  const N = 100;
  const ranks: number[] = [];
  for (let u = 0; u < 200; u++) {
    const s = new Float32Array(N + 1);
    for (let j = 1; j <= N; j++) s[j] = rng.uniform();
    const target = 1 + rng.int(N);
    s[target] = 2; // strictly above every other item
    ranks.push(rankOfTarget(s, target));
  }
  for (const v of Object.values(metricsFromRanks(ranks))) assert.equal(v, 1);
});

test('a random ranker gets HR@K ≈ K/N and the matching NDCG', () => {
  const rng = new Rng(2024);
  const N = 200;
  const U = 20000;
  const s = new Float32Array(N + 1);
  const ranks = new Int32Array(U);
  for (let u = 0; u < U; u++) {
    for (let j = 1; j <= N; j++) s[j] = rng.uniform();
    ranks[u] = rankOfTarget(s, 1 + rng.int(N));
  }
  const m = metricsFromRanks(ranks);
  for (const K of METRIC_KS) {
    const p = K / N;
    const sd = Math.sqrt((p * (1 - p)) / U); // binomial standard error
    close(m[`HR@${K}`], p, 5 * sd, `HR@${K}`);
    // Rank is uniform on 1..N: E[NDCG@K] = (1/N) sum_{r<=K} 1/log2(r+1).
    let e = 0;
    for (let r = 1; r <= K; r++) e += 1 / Math.log2(r + 1) / N;
    close(m[`NDCG@${K}`], e, 5 * sd, `NDCG@${K}`);
  }
});

test('a constant scorer ranks every target last (pessimistic ties)', () => {
  const N = 50;
  const s = new Float32Array(N + 1).fill(0.5);
  const ranks = Array.from({ length: N }, (_, i) => rankOfTarget(s, i + 1));
  assert.ok(ranks.every((r) => r === N));
  const m = metricsFromRanks(ranks);
  assert.equal(m['HR@10'], 0);
  assert.equal(m['NDCG@20'], 0);
  // With masking, last among what remains: N minus the distinct excluded items.
  assert.equal(rankOfTarget(s, 7, ids([1, 2, 2, 7, 3])), N - 3);
});

/**
 * A stand-in SequentialRecommender: the score row is a lookup table row chosen by the last
 * item of the window. Records every batch it sees and the training flag at scoring time.
 */
class FakeModel extends Module implements SequentialRecommender {
  readonly kind = 'fake';
  readonly trainable = false;
  readonly calls: { size: number; windows: number[][]; training: boolean }[] = [];
  fail = false;

  constructor(
    readonly maxLen: number,
    readonly items: number,
    readonly table: Float32Array, // [(N + 1) x (N + 1)]: row = last item, column = scored item
  ) {
    super();
  }

  readonly ranksUnseenItems = true;

  loss(): LossResult {
    throw new Error('FakeModel.loss: not used by evaluation');
  }

  scorer(): Scorer {
    throw new Error('FakeModel.scorer: not used by evaluation');
  }

  lastScorer() {
    return (batch: SequenceBatch) => this.scoreLast(batch);
  }

  scoreLast(batch: SequenceBatch): Float32Array {
    if (this.fail) throw new Error('model failure');
    const W = this.items + 1;
    const out = new Float32Array(batch.size * W);
    const windows: number[][] = [];
    for (let b = 0; b < batch.size; b++) {
      const w = Array.from(batch.items.subarray(batch.offsets[b], batch.offsets[b + 1]));
      windows.push(w);
      out.set(this.table.subarray(w[w.length - 1] * W, (w[w.length - 1] + 1) * W), b * W);
    }
    this.calls.push({ size: batch.size, windows, training: this.training });
    return out;
  }
}

function randomSetup(seed: number, N: number, U: number, maxLen: number) {
  const rng = new Rng(seed);
  const table = new Float32Array((N + 1) * (N + 1));
  for (let i = 0; i < table.length; i++) table[i] = rng.int(20); // ties included
  const cases: EvalCase[] = [];
  for (let u = 1; u <= U; u++) {
    const h = new Int32Array(1 + rng.int(2 * maxLen));
    for (let i = 0; i < h.length; i++) h[i] = 1 + rng.int(N);
    cases.push({ user: u, history: h, target: 1 + rng.int(N) });
  }
  return { model: new FakeModel(maxLen, N, table), cases };
}

/** What evaluate() must produce: each case ranked on its table row (the last history item's). */
function expectedRanks(model: FakeModel, cases: EvalCase[], mask: boolean): number[] {
  const W = model.items + 1;
  return cases.map((c) => {
    const last = c.history[c.history.length - 1];
    const s = model.table.slice(last * W, (last + 1) * W);
    return naiveRank(s, c.target, mask ? Array.from(c.history) : []);
  });
}

test('evaluate: same ranks for every batch size; batches cover the cases in order', () => {
  const { model, cases } = randomSetup(5, 30, 10, 4);
  const want = expectedRanks(model, cases, false);
  for (const batchSize of [1, 3, 10, 256]) {
    model.calls.length = 0;
    const progress: [number, number][] = [];
    const res = evaluate(model, cases, { batchSize, progress: (d, t) => progress.push([d, t]) });
    assert.deepEqual(Array.from(res.ranks), want, `batchSize ${batchSize}`);
    assert.equal(res.users, cases.length);
    assert.deepEqual(res.metrics, metricsFromRanks(want));
    const sizes = model.calls.map((c) => c.size);
    const expectSizes: number[] = [];
    for (let s = 0; s < cases.length; s += batchSize) expectSizes.push(Math.min(batchSize, cases.length - s));
    assert.deepEqual(sizes, expectSizes, `batch sizes for batchSize ${batchSize}`);
    assert.deepEqual(
      progress,
      expectSizes.map((_, i) => [Math.min(cases.length, (i + 1) * batchSize), cases.length]),
    );
  }
});

test('evaluate: windows are the most recent maxLen items of each history', () => {
  const maxLen = 4;
  const { model, cases } = randomSetup(9, 25, 12, maxLen);
  assert.ok(cases.some((c) => c.history.length > maxLen) && cases.some((c) => c.history.length < maxLen));
  evaluate(model, cases, { batchSize: 5 });
  const windows = model.calls.flatMap((c) => c.windows);
  assert.deepEqual(
    windows,
    cases.map((c) => Array.from(c.history.subarray(Math.max(0, c.history.length - maxLen)))),
  );
});

test('evaluate: maskHistory removes the FULL history except the target', () => {
  const N = 6;
  // Every table row ranks item 1 best, then 2, ... (scores 6, 5, ..., 1).
  const table = new Float32Array((N + 1) * (N + 1));
  for (let r = 0; r <= N; r++) for (let j = 1; j <= N; j++) table[r * (N + 1) + j] = N + 1 - j;
  const model = new FakeModel(1, N, table); // maxLen 1: the model sees only the last item
  const cases: EvalCase[] = [
    { user: 1, history: ids([1, 2, 1]), target: 4 }, // unmasked 4; masked: 1 and 2 gone -> 2
    { user: 2, history: ids([4, 1]), target: 4 }, // repeat: 4 stays rankable; masked -> 3
    { user: 3, history: ids([1, 2, 3]), target: 5 }, // masked uses items beyond the window -> 2
    { user: 4, history: ids([6]), target: 3 }, // masking a lower item changes nothing -> 3
  ];
  assert.deepEqual(Array.from(evaluate(model, cases).ranks), [4, 4, 5, 3]);
  assert.deepEqual(Array.from(evaluate(model, cases, { maskHistory: false }).ranks), [4, 4, 5, 3]);
  assert.deepEqual(Array.from(evaluate(model, cases, { maskHistory: true }).ranks), [2, 3, 2, 3]);
  // Random cross-check against the definition, with several batch sizes.
  const rnd = randomSetup(13, 20, 40, 3);
  const want = expectedRanks(rnd.model, rnd.cases, true);
  for (const batchSize of [1, 7, 100])
    assert.deepEqual(
      Array.from(evaluate(rnd.model, rnd.cases, { maskHistory: true, batchSize }).ranks),
      want,
    );
  // Masking can only improve ranks.
  const plain = evaluate(rnd.model, rnd.cases).ranks;
  assert.ok(want.every((r, i) => r <= plain[i]));
});

test('evaluate: scores in eval mode and restores the previous mode, also on error', () => {
  const { model, cases } = randomSetup(17, 10, 5, 3);
  assert.equal(model.training, true);
  evaluate(model, cases, { batchSize: 2 });
  assert.ok(model.calls.length > 0 && model.calls.every((c) => c.training === false));
  assert.equal(model.training, true);
  model.eval();
  evaluate(model, cases);
  assert.equal(model.training, false);
  model.train();
  model.fail = true;
  assert.throws(() => evaluate(model, cases), /model failure/);
  assert.equal(model.training, true);
});

test('evaluate: rejects empty input, empty histories, bad batch sizes and malformed score buffers', () => {
  const { model, cases } = randomSetup(19, 10, 3, 3);
  assert.throws(() => evaluate(model, []), RangeError);
  assert.throws(() => evaluate(model, cases, { batchSize: 0 }), RangeError);
  assert.throws(() => evaluate(model, [{ user: 1, history: ids([]), target: 1 }]), /empty history/);
  assert.throws(() => evaluate(model, [{ user: 1, history: ids([1]), target: 11 }]), RangeError);
  const broken = new FakeModel(3, 10, model.table);
  broken.scoreLast = () => new Float32Array(5); // not B x (N + 1)
  assert.throws(() => evaluate(broken, cases), /returned 5 scores/);
});

test('evaluateSplit picks the validation or test cases', () => {
  const { model, cases } = randomSetup(23, 12, 8, 3);
  const split: LeaveOneOutSplit = { train: [], validation: cases.slice(0, 3), test: cases.slice(3) };
  assert.equal(evaluateSplit(model, split, 'validation').users, 3);
  const t = evaluateSplit(model, split, 'test', { ks: [1, 2] });
  assert.equal(t.users, 5);
  assert.deepEqual(Array.from(t.ranks), expectedRanks(model, cases.slice(3), false));
  assert.deepEqual(Object.keys(t.metrics), ['HR@1', 'NDCG@1', 'MRR@1', 'HR@2', 'NDCG@2', 'MRR@2']);
  assert.throws(() => evaluateSplit(model, split, 'train' as 'test'), RangeError);
});
