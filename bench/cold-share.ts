/**
 * Where new items stand in a cold-start run's lists: the share of the top-10 slots that go to
 * held-out (cold) items, beside their share of the targets and of the catalog, and the mean and
 * spread (standard deviation within a user's scores, averaged over users) of cold and warm
 * items' scores. A model whose cold items score well on average but with a narrower spread than
 * trained items puts few of them at the top, where warm items' tails are.
 */
import { evaluate } from '../src/eval/evaluate.js';
import type { EvalCase } from '../src/data/split.js';
import type { SequenceBatch, SequentialRecommender } from '../src/models/model.js';
import { topK } from '../src/serve/top-k.js';

const NOTHING: ReadonlySet<number> = new Set();

export interface ColdShare {
  top10Share: number;
  targetShare: number;
  catalogShare: number;
  cold: { mean: number; std: number };
  warm: { mean: number; std: number };
}

/**
 * Mean and standard deviation of the row's finite scores over the items with flag `want`
 * (content-knn gives the last item itself −∞: it is not its own neighbour).
 */
function moments(row: Float32Array, cold: Uint8Array, want: number): [number, number] {
  let n = 0;
  let sum = 0;
  let sq = 0;
  for (let i = 1; i < row.length; i++)
    if (cold[i] === want && Number.isFinite(row[i])) {
      n++;
      sum += row[i];
      sq += row[i] * row[i];
    }
  const mean = sum / n;
  return [mean, Math.sqrt(Math.max(0, sq / n - mean * mean))];
}

export function coldShare(
  model: SequentialRecommender,
  cases: readonly EvalCase[],
  cold: Uint8Array,
): ColdShare {
  let inTop = 0;
  const acc = { cm: 0, cs: 0, wm: 0, ws: 0 };
  const scores = (batch: SequenceBatch) => {
    const s = model.scoreLast(batch);
    const width = s.length / batch.size;
    for (let b = 0; b < batch.size; b++) {
      const row = s.subarray(b * width, (b + 1) * width);
      inTop += topK(s, b * width, width - 1, 10, NOTHING).filter((i) => cold[i]).length;
      const [cm, cs] = moments(row, cold, 1);
      const [wm, ws] = moments(row, cold, 0);
      Object.assign(acc, { cm: acc.cm + cm, cs: acc.cs + cs, wm: acc.wm + wm, ws: acc.ws + ws });
    }
    return s;
  };
  evaluate(model, cases, { coldItems: cold, scores });
  const n = cases.length;
  const items = cold.length - 1;
  return {
    top10Share: inTop / (10 * n),
    targetShare: cases.filter((c) => c.cold).length / n,
    catalogShare: cold.reduce((a, b) => a + b, 0) / items,
    cold: { mean: acc.cm / n, std: acc.cs / n },
    warm: { mean: acc.wm / n, std: acc.ws / n },
  };
}
