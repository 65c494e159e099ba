/** Training-free content rankers (experiments/instruments/content-signal.ts): hand-computed ranks and statistics. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Dataset, type FeatureMatrix } from '../src/data/dataset.js';
import type { PlantedStructure } from '../src/data/importers/synth.js';
import { leaveOneOut, type EvalCase } from '../src/data/split.js';
import { contentSignal, hitsByCategory, spearman } from '../experiments/instruments/content-signal.js';
import { sharedSynthDataset } from './synth-fixture.js';

const ids = (xs: number[]) => Int32Array.from(xs);
/** A feature matrix from rows of items 1..N (null = the item lacks the modality). */
function features(rows: (number[] | null)[]): FeatureMatrix {
  const dim = rows.find((r) => r)!.length;
  const matrix = new Float32Array((rows.length + 1) * dim);
  const mask = new Uint8Array(rows.length + 1);
  rows.forEach((r, i) => {
    if (!r) return;
    matrix.set(r, (i + 1) * dim);
    mask[i + 1] = 1;
  });
  return { matrix, dim, mask };
}

// Items 1..4. Transitions: 1→2 twice, 2→3 twice, 2→4 once. Popularity: 2, 3, 2, 1.
const train = [ids([1, 2, 3]), ids([1, 2, 4]), ids([2, 3])];
const cases: EvalCase[] = [
  { user: 1, history: ids([1]), target: 2 },
  { user: 2, history: ids([3, 2]), target: 4 },
  { user: 3, history: ids([3]), target: 1 },
];
const input = {
  items: 4,
  train,
  cases,
  features: {
    text: features([
      [1, 0],
      [2, 0],
      [0, 1],
      [1, 1],
    ]),
    image: features([[0, 1], [0, 3], null, [1, 0]]),
  },
};
const byName = (rows: { ranker: string; ranks: Int32Array }[]) =>
  Object.fromEntries(rows.map((r) => [r.ranker, Array.from(r.ranks)]));

test('contentSignal: hand-computed ranks of every ranker (ties pessimistic, missing features last)', () => {
  const { rows, cases: n } = contentSignal(input);
  assert.equal(n, 3);
  assert.deepEqual(
    rows.map((r) => r.ranker),
    ['popularity', 'transitions', 'text, last item', 'text, history', 'image, last item', 'image, history'],
  );
  assert.deepEqual(byName(rows), {
    // Target 2 is the most popular; target 4 the least (rank 4); target 1 ties with item 3 (2 each).
    popularity: [1, 4, 3],
    // 1 → 2 seen twice: rank 1. After 2: 3 (twice) above 4 (once). After 3: nothing follows 3
    // in training, so popularity decides (item 2 above, item 3 ties: rank 3).
    transitions: [1, 2, 3],
    // Last item 1 = (1, 0): items 1 and 2 score 1 (target 2 ties with 1: rank 2); item 4 0.71.
    // Last item 2 = (1, 0): target 4 (0.71) below items 1 and 2. Last item 3 = (0, 1): target 1
    // scores 0 and ties with item 2 (0); item 3 (1) and item 4 (0.71) above.
    'text, last item': [2, 3, 4],
    // History [3, 2]: the sum (1, 1) scores item 4 1.41, items 1..3 1 each: rank 1.
    'text, history': [2, 1, 4],
    // Image: item 3 lacks the modality and ranks last. Last item 1 = (0, 1): target 2 ties with 1.
    // Last item 2: target 4 scores 0, items 1 and 2 score 1. Last item 3 has no image: every
    // candidate scores 0 (item 3 itself -∞), so target 1 ties with items 2 and 4: rank 3.
    'image, last item': [2, 3, 3],
    // History [3, 2]: item 3 adds nothing, so as for the last item alone.
    'image, history': [2, 3, 3],
  });
  const pop = rows[0].metrics;
  assert.ok(Math.abs(pop['MRR@5'] - (1 + 1 / 4 + 1 / 3) / 3) < 1e-12);
});

test('contentSignal: history masking leaves the history out of the ranking, never the target', () => {
  const ranks = byName(contentSignal(input, { maskHistory: true }).rows);
  // Case 2 masks items 3 and 2: transitions ranks 4 first; case 3 masks item 3.
  assert.deepEqual(ranks.transitions, [1, 1, 2]);
  // Case 1 masks item 1, its tie; case 2 masks item 2 (above the target); case 3 masks item 3.
  assert.deepEqual(ranks['text, last item'], [1, 2, 3]);
  // historyLength 1 turns the history ranker into the last-item ranker.
  const short = contentSignal(input, { historyLength: 1 }).rows;
  assert.deepEqual(byName(short)['text, history'], byName(short)['text, last item']);
});

test('contentSignal: hits beyond transitions and the pair cosines, by hand', () => {
  const { rows, cosines } = contentSignal(input, { hitsAt: 1 });
  const beyond = Object.fromEntries(rows.map((r) => [r.ranker, r.beyondTransitions]));
  // Transitions has case 1 at rank 1 only; "text, history" has case 2 at rank 1: one case in 3.
  assert.equal(beyond.transitions, 0);
  assert.equal(beyond['text, history'], 1 / 3);
  assert.equal(beyond['text, last item'], 0);
  // Consecutive text pairs: (1,2) 1, (2,3) 0, (1,2) 1, (2,4) 0.71, (2,3) 0.
  const text = cosines.find((c) => c.modality === 'text')!;
  assert.equal(text.pairs, 5);
  assert.ok(Math.abs(text.consecutive - (2 + Math.SQRT1_2) / 5) < 1e-6);
  assert.ok(text.random >= -1 && text.random <= 1);
  // Image pairs need both items to have an image: (1,2) twice and (2,4); cosines 1, 1, 0.
  const image = cosines.find((c) => c.modality === 'image')!;
  assert.equal(image.pairs, 3);
  assert.ok(Math.abs(image.consecutive - 2 / 3) < 1e-6);
  // The random pairs are seeded: the same seed gives the same mean.
  assert.equal(
    contentSignal(input, { seed: 7 }).cosines[0].random,
    contentSignal(input, { seed: 7 }).cosines[0].random,
  );
});

test('contentSignal: bad input is named', () => {
  assert.throws(() => contentSignal({ ...input, cases: [] }), /no cases/);
  assert.throws(
    () => contentSignal({ ...input, cases: [{ user: 9, history: ids([]), target: 1 }] }),
    /user 9 has an empty history/,
  );
  assert.throws(() => contentSignal(input, { historyLength: 0 }), /historyLength/);
  assert.throws(
    () =>
      contentSignal({
        ...input,
        features: { text: { matrix: new Float32Array(3), dim: 2, mask: new Uint8Array(5) } },
      }),
    /the text features have 3 values, expected \(4 \+ 1\) × 2/,
  );
});

test('hitsByCategory: HR@k per target category, by hand', () => {
  const rows = [
    { ranker: 'a', ranks: ids([1, 5, 2, 20]) },
    { ranker: 'b', ranks: ids([30, 1, 1, 1]) },
  ];
  // Case 0: category 0; case 1: categories 0 and 1 (1 listed twice counts once); case 2: none;
  // case 3: category 1.
  const cats = [ids([0]), ids([0, 1, 1]), ids([]), ids([1])];
  assert.deepEqual(hitsByCategory(rows, cats, { k: 2 }), [
    { category: 0, cases: 2, hits: { a: 1 / 2, b: 1 / 2 } },
    { category: 1, cases: 2, hits: { a: 0, b: 1 } },
  ]);
  assert.deepEqual(
    hitsByCategory(rows, [ids([3]), ids([3]), ids([2]), ids([3])], { k: 10, minCases: 2 }).map((c) => [
      c.category,
      c.cases,
      c.hits.a,
    ]),
    [[3, 3, 2 / 3]],
  );
  assert.throws(() => hitsByCategory(rows, cats.slice(1)), /a has 4 ranks for 3 cases/);
});

test('contentSignal on the synthetic data: per-category hits show the planted driving modality', async () => {
  // The instrument's positive control: where the generator plants which signal predicts the
  // next item, the per-category hits of the matching ranker must stand out.
  const ds = Dataset.load(await sharedSynthDataset());
  const split = leaveOneOut(ds);
  const features: Record<string, FeatureMatrix> = {};
  for (const [m, f] of Object.entries(ds.content.features)) if (f) features[m] = f;
  const { rows } = contentSignal({ items: ds.items, train: split.train, cases: split.test, features });
  const planted = (ds.manifest.extra as { planted: PlantedStructure }).planted.drivingModality;
  const cats = hitsByCategory(
    rows.filter((r) => r.ranker === 'transitions' || r.ranker.endsWith(', last item')),
    split.test.map((c) => ds.itemCategories(c.target)),
    { minCases: 50 },
  );
  assert.equal(cats.length, 8);
  for (const c of cats) {
    const name = ds.manifest.categories.names[c.category];
    const h = { id: c.hits.transitions, text: c.hits['text, last item'], image: c.hits['image, last item'] };
    const driving = planted[name];
    // Content-driven: the driving modality's neighbours far ahead of the other modality's
    // (transitions also predict there: items are seen often at this size). ID-driven: the
    // transitions far ahead of both content rankers.
    const rivals =
      driving === 'id' ? (['text', 'image'] as const) : ([driving === 'text' ? 'image' : 'text'] as const);
    for (const m of rivals)
      assert.ok(h[driving] > 5 * h[m], `${name} (${driving}-driven): ${JSON.stringify(h)}`);
  }
});

test('spearman: hand-computed correlations, ties at their average rank', () => {
  assert.equal(spearman([1, 2, 3, 4], [10, 20, 30, 40]), 1);
  assert.equal(spearman([1, 2, 3, 4], [4, 3, 2, 1]), -1);
  // Ranks 0,1,2,3 against 2,0,3,1; deviations from 1.5: (−1.5)(0.5) + (−0.5)(−1.5) +
  // (0.5)(1.5) + (1.5)(−0.5) = 0: no correlation.
  assert.equal(spearman([1, 2, 3, 4], [3, 1, 4, 2]), 0);
  // b ties its first two values (average rank 0.5): ranks 0.5, 0.5, 2, 3 against 0, 1, 2, 3.
  // Deviations of b: −1, −1, 0.5, 1.5; of a: −1.5, −0.5, 0.5, 1.5. Σ = 1.5 + 0.5 + 0.25 + 2.25 = 4.5;
  // Σa² = 5, Σb² = 1 + 1 + 0.25 + 2.25 = 4.5: ρ = 4.5 / √(5 · 4.5) = 0.9487.
  assert.ok(Math.abs(spearman([1, 2, 3, 4], [7, 7, 8, 9]) - 4.5 / Math.sqrt(22.5)) < 1e-12);
  assert.ok(Number.isNaN(spearman([1, 2, 3], [5, 5, 5])));
  assert.throws(() => spearman([1, 2], [1]), /2 values against 1/);
});
