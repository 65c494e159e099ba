/**
 * The chronological leave-one-out split: for each user the last item is the test target, the
 * second-to-last the validation target, and everything before is training data. Users with
 * fewer than MIN_EVAL_LENGTH interactions keep their whole sequence for training and are not
 * evaluated (they would have no training history).
 */
import type { Dataset } from './dataset.js';

export const MIN_EVAL_LENGTH = 3;

export interface EvalCase {
  /** Internal user id (1-based). */
  user: number;
  /** Items before the target, oldest first. */
  history: Int32Array;
  /** Seconds of each history item, when the dataset has timestamps. */
  times?: Float64Array;
  target: number;
}

export interface LeaveOneOutSplit {
  /** Training sequence of every user (index u - 1), oldest first. */
  train: Int32Array[];
  validation: EvalCase[];
  test: EvalCase[];
}

export function leaveOneOut(ds: Dataset): LeaveOneOutSplit {
  const train: Int32Array[] = [];
  const validation: EvalCase[] = [];
  const test: EvalCase[] = [];
  const allTimes = ds.content.times;
  for (let u = 1; u <= ds.users; u++) {
    const s = ds.sequence(u);
    const t = allTimes ? allTimes.subarray(ds.content.offsets[u - 1], ds.content.offsets[u]) : undefined;
    const n = s.length;
    if (n < MIN_EVAL_LENGTH) {
      train.push(s);
      continue;
    }
    train.push(s.subarray(0, n - 2));
    // Times only when the dataset has them (the key is absent otherwise).
    const hv = t ? { times: t.subarray(0, n - 2) } : {};
    const ht = t ? { times: t.subarray(0, n - 1) } : {};
    validation.push({ user: u, history: s.subarray(0, n - 2), ...hv, target: s[n - 2] });
    test.push({ user: u, history: s.subarray(0, n - 1), ...ht, target: s[n - 1] });
  }
  return { train, validation, test };
}
