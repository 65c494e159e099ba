/**
 * What training and evaluation read of a leave-one-out split (split.ts), as ranges rather than
 * arrays per user, so that the split of a log kept on disk is never materialised: the trainer
 * reads the few items of each batch's windows, the evaluator a batch of cases at a time.
 *
 * memorySplit wraps a split made by leaveOneOut (any protocol); streamedSplit reads a dataset's
 * sequences directly (the warm protocol: a user's training sequence is its sequence without
 * the last two items), in memory or on disk, with nothing per user but the offsets the
 * dataset already holds and a list of the evaluated users.
 */
import type { Dataset } from './dataset.js';
import { MIN_EVAL_LENGTH, type EvalCase, type EvalCases, type LeaveOneOutSplit } from './split.js';

export interface TrainingSplit {
  /** Users, index k = internal user k + 1. */
  readonly users: number;
  /** Whether training items carry timestamps (trainTimes). */
  readonly timed: boolean;
  /** Length of user k's training sequence. */
  trainLength(k: number): number;
  /** Items [start, end) of user k's training sequence (the caller must not write to them). */
  trainItems(k: number, start: number, end: number): Int32Array;
  /** Seconds of the same items; null without timestamps. */
  trainTimes(k: number, start: number, end: number): Float64Array | null;
  readonly validation: EvalCases;
  readonly test: EvalCases;
  /** Under the cold-start protocol: 1 for each held-out item (index = item id). */
  readonly coldItems?: Uint8Array;
}

/** A split made by leaveOneOut, read through the TrainingSplit face. */
export function memorySplit(split: LeaveOneOutSplit): TrainingSplit {
  const { train, trainTimes } = split;
  return {
    users: train.length,
    timed: trainTimes !== undefined,
    trainLength: (k) => train[k].length,
    trainItems: (k, start, end) => train[k].subarray(start, end),
    trainTimes: (k, start, end) => trainTimes?.[k].subarray(start, end) ?? null,
    validation: split.validation,
    test: split.test,
    ...(split.coldItems ? { coldItems: split.coldItems } : {}),
  };
}

/** The warm leave-one-out split of `ds`, read from its sequences as needed (equal to memorySplit(leaveOneOut(ds))). */
export function streamedSplit(ds: Dataset): TrainingSplit {
  const head = (u: number) => {
    const n = ds.sequenceLength(u);
    return n < MIN_EVAL_LENGTH ? n : n - 2;
  };
  // Past the training sequence are the validation and test targets: a read there is a bug.
  const training = (k: number, end: number) => {
    if (end > head(k + 1))
      throw new RangeError(
        `user ${k + 1}'s training sequence has ${head(k + 1)} items; ${end} were asked for`,
      );
    return end;
  };
  const evaluated: number[] = [];
  for (let u = 1; u <= ds.users; u++) if (ds.sequenceLength(u) >= MIN_EVAL_LENGTH) evaluated.push(u);
  const users = Int32Array.from(evaluated);
  return {
    users: ds.users,
    timed: ds.manifest.timestamps,
    trainLength: (k) => head(k + 1),
    trainItems: (k, start, end) => ds.sequenceSlice(k + 1, start, training(k, end)),
    trainTimes: (k, start, end) => ds.timesSlice(k + 1, start, training(k, end)),
    validation: casesOf(ds, users, 2),
    test: casesOf(ds, users, 1),
  };
}

/** The cases whose target is the `fromEnd`-th last item of each user's sequence. */
function casesOf(ds: Dataset, users: Int32Array, fromEnd: 1 | 2): EvalCases {
  const make = (u: number): EvalCase => {
    const n = ds.sequenceLength(u);
    const at = n - fromEnd;
    // One read per case: the history, the target after it.
    const items = ds.sequenceSlice(u, 0, at + 1);
    const times = ds.timesSlice(u, 0, at);
    return { user: u, history: items.subarray(0, at), ...(times ? { times } : {}), target: items[at] };
  };
  return {
    length: users.length,
    slice: (start, end) => Array.from(users.subarray(start, end), make),
  };
}

/** Training interactions of each item (index = item id; 0 = padding). */
export function trainPopularity(split: TrainingSplit, items: number): Float64Array {
  const counts = new Float64Array(items + 1);
  for (let k = 0; k < split.users; k++)
    for (const i of split.trainItems(k, 0, split.trainLength(k))) counts[i]++;
  return counts;
}
