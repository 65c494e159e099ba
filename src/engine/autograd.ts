/**
 * Reverse-mode automatic differentiation on a tape. Ops record a node when gradients are
 * enabled and one of their inputs requires a gradient. Nodes are recorded in execution
 * order, so walking the tape backwards visits every node after all of its consumers: no
 * topological sort is needed.
 */
import { recycle } from './memory.js';
import type { Tensor } from './tensor.js';

interface TapeNode {
  readonly output: Tensor;
  /** Reads output.grad (never null when called) and accumulates into its inputs' gradients. */
  readonly backward: () => void;
}

let tape: TapeNode[] = [];
let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn without recording anything (inference, evaluation, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/**
 * True when an op on these inputs must record a node. Ops call this first and skip building
 * backward closures (and keeping intermediates alive) when it is false.
 */
export function needsGrad(...inputs: (Tensor | null | undefined)[]): boolean {
  if (!gradEnabled) return false;
  for (const t of inputs) if (t && t.requiresGrad) return true;
  return false;
}

/** Records `backward` for `output`, which becomes a gradient-carrying tensor. */
export function record(output: Tensor, backward: () => void): Tensor {
  output.requiresGrad = true;
  tape.push({ output, backward });
  return output;
}

/** Number of nodes waiting on the tape (tests use it to check that no-grad records nothing). */
export function tapeLength(): number {
  return tape.length;
}

/** Drops the tape without running it (e.g. after an evaluation forward pass with gradients on). */
export function clearTape(): void {
  tape = [];
}

/** The tensor backward() was called on, while its backward pass runs. */
let backwardRoot: Tensor | null = null;

/**
 * Whether `t` is the root of the running backward pass: its gradient stays readable afterwards,
 * so an op may not hand it to an input (Tensor.takeGradOf).
 */
export function isBackwardRoot(t: Tensor): boolean {
  return t === backwardRoot;
}

export function runBackward(root: Tensor, seed?: Float32Array): void {
  if (!root.requiresGrad) throw new Error('backward() called on a tensor that does not require a gradient');
  if (seed === undefined && root.size !== 1) {
    throw new Error(`backward() without a seed needs a scalar, got shape [${root.shape.join(', ')}]`);
  }
  const g = root.gradBuffer();
  if (seed) {
    if (seed.length !== root.size)
      throw new RangeError(`backward seed has ${seed.length} elements, expected ${root.size}`);
    for (let i = 0; i < g.length; i++) g[i] += seed[i];
  } else {
    g[0] += 1;
  }
  const nodes = tape;
  tape = [];
  backwardRoot = root;
  try {
    propagate(nodes, root);
  } finally {
    backwardRoot = null;
  }
}

/** Runs the nodes' backward closures, last first. */
function propagate(nodes: TapeNode[], root: Tensor): void {
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i];
    // A computed table gathered by row (embedding) got a row gradient: its own backward reads
    // the dense one. (Parameters are never on the tape: theirs stay sparse for the optimiser.)
    const rg = node.output.rowGrad;
    if (rg !== null && rg.count > 0) {
      rg.addTo(node.output.gradBuffer());
      rg.clear();
    }
    if (node.output.grad !== null) node.backward();
    // Intermediate gradients are no longer needed once propagated; parameters keep theirs.
    if (node.output !== root && node.output.grad !== null) {
      recycle(node.output.grad);
      node.output.grad = null;
    }
  }
}
