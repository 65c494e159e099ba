/**
 * The chronological leave-one-out split: for each user the last item is the test target, the
 * second-to-last the validation target, and everything before is training data. Users with
 * fewer than MIN_EVAL_LENGTH interactions keep their whole sequence for training and are not
 * evaluated (they would have no training history).
 *
 * The cold-start protocol (`coldItems` > 0) holds a set of items out of training entirely, as
 * new items would be (cold-items.ts chooses them). Their interactions are removed from the
 * training sequences and from the histories before the validation target; the test history
 * still ends with the validation item, cold or not, as a user's history does once a new item
 * has been bought. Targets among them are cold targets (EvalCase.cold). A user whose history
 * is all cold items has no validation case.
 */
import type { Dataset } from './dataset.js';
import { selectColdItems } from './cold-items.js';

export const MIN_EVAL_LENGTH = 3;

export interface EvalCase {
  /** Internal user id (1-based). */
  user: number;
  /** Items before the target, oldest first. */
  history: Int32Array;
  /** Seconds of each history item, when the dataset has timestamps. */
  times?: Float64Array;
  target: number;
  /** Under the cold-start protocol: whether the target is a held-out item. */
  cold?: boolean;
  /**
   * Under the cold-start protocol: every item before the target, held-out ones included (what
   * history masking removes; `history` is what the model reads).
   */
  seen?: Int32Array;
}

/**
 * Evaluation cases read a batch at a time: an array of cases is one; a split whose sequences
 * stay on disk makes each slice's cases when asked (training-split.ts).
 */
export interface EvalCases {
  readonly length: number;
  slice(start: number, end: number): EvalCase[];
}

export interface LeaveOneOutSplit {
  /** Training sequence of every user (index u - 1), oldest first. */
  train: Int32Array[];
  /** Seconds of each training item, when the dataset has timestamps. */
  trainTimes?: Float64Array[];
  validation: EvalCase[];
  test: EvalCase[];
  /** Under the cold-start protocol: 1 for each held-out item (index = item id). */
  coldItems?: Uint8Array;
}

export interface SplitOptions {
  /** Fraction of items held out of training (0 = the warm protocol). */
  coldItems?: number;
  /** Seed of the held-out set when the dataset has no timestamps. */
  coldSeed?: number;
}

export function leaveOneOut(ds: Dataset, opts: SplitOptions = {}): LeaveOneOutSplit {
  const cold = (opts.coldItems ?? 0) > 0 ? selectColdItems(ds, opts.coldItems!, opts.coldSeed ?? 1) : null;
  const split: LeaveOneOutSplit = { train: [], validation: [], test: [] };
  if (ds.manifest.timestamps) split.trainTimes = [];
  if (cold) split.coldItems = cold;
  for (let u = 1; u <= ds.users; u++) {
    const s = ds.sequence(u);
    const t = ds.timesSlice(u, 0, s.length) ?? undefined;
    const n = s.length;
    const head = n < MIN_EVAL_LENGTH ? n : n - 2;
    const { items, times } = cold
      ? withoutCold(s, t, head, cold)
      : { items: s.subarray(0, head), times: t?.subarray(0, head) };
    split.train.push(items);
    if (times) split.trainTimes!.push(times);
    if (n < MIN_EVAL_LENGTH) continue;
    const flag = (target: number, before: number) =>
      cold ? { cold: cold[target] === 1, seen: s.subarray(0, before) } : {};
    // Times only when the dataset has them (the key is absent otherwise).
    if (items.length > 0)
      split.validation.push({
        user: u,
        history: items,
        ...(times ? { times } : {}),
        target: s[n - 2],
        ...flag(s[n - 2], n - 2),
      });
    const history = cold ? append(items, s[n - 2]) : s.subarray(0, n - 1);
    const historyTimes = t ? (cold ? appendTime(times!, t[n - 2]) : t.subarray(0, n - 1)) : undefined;
    split.test.push({
      user: u,
      history,
      ...(historyTimes ? { times: historyTimes } : {}),
      target: s[n - 1],
      ...flag(s[n - 1], n - 1),
    });
  }
  return split;
}

/** The first `head` items of a sequence without the held-out ones (and their times). */
function withoutCold(s: Int32Array, t: Float64Array | undefined, head: number, cold: Uint8Array) {
  const keep: number[] = [];
  for (let i = 0; i < head; i++) if (cold[s[i]] !== 1) keep.push(i);
  return {
    items: Int32Array.from(keep, (i) => s[i]),
    times: t ? Float64Array.from(keep, (i) => t[i]) : undefined,
  };
}

function append(items: Int32Array, item: number): Int32Array {
  const out = new Int32Array(items.length + 1);
  out.set(items);
  out[items.length] = item;
  return out;
}

function appendTime(times: Float64Array, time: number): Float64Array {
  const out = new Float64Array(times.length + 1);
  out.set(times);
  out[times.length] = time;
  return out;
}
