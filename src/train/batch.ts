/** Turning item sequences into packed batches (see SequenceBatch). */
import type { SequenceBatch } from '../models/sasrec.js';

function pack(windows: { items: Int32Array; targets?: Int32Array }[]): SequenceBatch {
  const offsets = new Int32Array(windows.length + 1);
  windows.forEach((w, b) => (offsets[b + 1] = offsets[b] + w.items.length));
  const R = offsets[windows.length];
  const items = new Int32Array(R);
  const positions = new Int32Array(R);
  const targets = new Int32Array(R);
  windows.forEach((w, b) => {
    const o = offsets[b];
    items.set(w.items, o);
    if (w.targets) targets.set(w.targets, o);
    for (let i = 0; i < w.items.length; i++) positions[o + i] = i;
  });
  return { size: windows.length, offsets, items, positions, targets };
}

/**
 * One training window per sequence: inputs = seq[:-1], targets = seq[1:], keeping the most
 * recent `maxLen` positions. Sequences shorter than 2 items give an empty window.
 */
export function trainingBatch(seqs: readonly Int32Array[], maxLen: number): SequenceBatch {
  return pack(
    seqs.map((s) => {
      const n = Math.max(0, Math.min(maxLen, s.length - 1));
      const start = s.length - 1 - n;
      return { items: s.subarray(start, start + n), targets: s.subarray(start + 1, start + 1 + n) };
    }),
  );
}

/** Inputs for predicting the item after each history (the last `maxLen` items of each). */
export function inferenceBatch(histories: readonly Int32Array[], maxLen: number): SequenceBatch {
  return pack(histories.map((h) => ({ items: h.subarray(Math.max(0, h.length - maxLen)) })));
}
