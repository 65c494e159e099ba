/**
 * A small end-to-end training run of the engine on a synthetic next-item task (`cammsr toy`: a
 * seconds-long check that the kernels, autograd and optimiser learn on this machine, without
 * any dataset): each user walks the item catalogue with a fixed user-specific stride, so the
 * next item is predictable from the history.
 */
import { Adam } from '../engine/optim/adam.js';
import { clipGradNorm } from '../engine/optim/grads.js';
import { Rng } from '../engine/rng.js';
import { Sasrec } from '../models/sasrec.js';
import { inferenceBatch, trainingBatch } from '../models/batch.js';

export interface ToyOptions {
  users: number;
  items: number;
  length: number;
  epochs: number;
  batchSize: number;
  dim: number;
  seed: number;
  lr: number;
  onEpoch?: (e: { epoch: number; loss: number; seconds: number }) => void;
}

export interface ToyResult {
  epochs: { epoch: number; loss: number; seconds: number }[];
  /** Fraction of held-out next items ranked in the top 10 among all items. */
  hitRate10: number;
  parameters: number;
}

/** Sequences of length `length + 1`; the last item of each is held out for evaluation. */
export function toySequences(users: number, items: number, length: number, seed: number): Int32Array[] {
  const rng = new Rng(seed);
  const strides = [1, 2, 3, 5, 7];
  return Array.from({ length: users }, () => {
    const stride = strides[rng.int(strides.length)];
    let cur = rng.int(items);
    return Int32Array.from({ length: length + 1 }, () => {
      const id = cur + 1; // ids 1..items, 0 = padding
      cur = (cur + stride) % items;
      return id;
    });
  });
}

export function runToy(opts: ToyOptions): ToyResult {
  const seqs = toySequences(opts.users, opts.items, opts.length, opts.seed);
  const train = seqs.map((s) => s.subarray(0, s.length - 1));
  const model = new Sasrec({
    items: opts.items,
    maxLen: opts.length,
    dim: opts.dim,
    layers: 2,
    heads: 2,
    ffnDim: opts.dim * 4,
    hiddenDropout: 0.1,
    attnDropout: 0.1,
    seed: opts.seed,
  });
  const optim = new Adam(model.parameters(), { lr: opts.lr });
  const rng = new Rng(opts.seed + 1);
  const order = Int32Array.from(train.keys());
  const epochs: ToyResult['epochs'] = [];
  for (let epoch = 1; epoch <= opts.epochs; epoch++) {
    const t0 = performance.now();
    model.train();
    rng.shuffle(order);
    let total = 0;
    let batches = 0;
    for (let i = 0; i < order.length; i += opts.batchSize) {
      const batch = trainingBatch(
        Array.from(order.subarray(i, i + opts.batchSize), (u) => train[u]),
        opts.length,
      );
      optim.zeroGrad();
      const loss = model.loss(batch).total;
      loss.backward();
      clipGradNorm(model.parameters(), 5);
      optim.step();
      total += loss.item();
      batches++;
    }
    const e = { epoch, loss: total / batches, seconds: (performance.now() - t0) / 1000 };
    epochs.push(e);
    opts.onEpoch?.(e);
  }
  model.eval();
  const scores = model.scoreLast(inferenceBatch(train, opts.length));
  let hits = 0;
  seqs.forEach((s, u) => {
    const target = s[s.length - 1];
    const row = scores.subarray(u * (opts.items + 1), (u + 1) * (opts.items + 1));
    let higher = 0;
    // Ties count against the target (pessimistic), so a constant scorer gets no hits.
    for (let j = 1; j <= opts.items; j++) if (j !== target && row[j] >= row[target]) higher++;
    if (higher < 10) hits++;
  });
  return { epochs, hitRate10: hits / seqs.length, parameters: model.parameterCount() };
}
