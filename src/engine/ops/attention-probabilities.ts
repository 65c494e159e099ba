/**
 * The probabilities an attention op keeps for its backward pass, with their dropout: the same for
 * the causal attention of the sequence encoders and MOCA's routed attention, and passed to their
 * fused kernels in the same order.
 */
import { scratch, scratchWords } from '../memory.js';
import type { Rng } from '../rng.js';

export interface Probabilities {
  /** 1/√(head width), applied to the scores. */
  scale: number;
  /** Dropout's random words, one per probability (null: no dropout). */
  bits: Uint32Array | null;
  /** A probability is kept where its word is at least this. */
  threshold: number;
  /** 1/(1 − p): what kept probabilities are multiplied by. */
  keep: number;
  /** The softmax output. */
  probs: Float32Array;
  /** probs after dropout (probs itself without dropout). */
  kept: Float32Array;
}

/** Buffers for `count` probabilities and, in training with dropout p > 0, their dropout words. */
export function probabilities(
  count: number,
  scale: number,
  p: number,
  rng: Rng | undefined,
  training: boolean,
  what: string,
): Probabilities {
  const drop = training && p > 0;
  if (drop && !rng) throw new Error(`${what}: dropout in training mode needs an Rng`);
  // Unfilled: both attention ops, on every path, write each probability of every block (the
  // causal ones zeros above the diagonal), and every kept value.
  const probs = scratch(count);
  const kept = drop ? scratch(count) : probs;
  const bits = drop ? scratchWords(count) : null;
  if (bits) rng!.fillU32(bits);
  return { scale, bits, threshold: Math.floor(p * 4294967296), keep: drop ? 1 / (1 - p) : 1, probs, kept };
}

/** The arguments the fused attention kernels take after their inputs' geometry, in their order. */
export const probabilityArgs = (p: Probabilities) =>
  [p.scale, p.bits, p.threshold, p.keep, p.probs, p.kept] as const;
