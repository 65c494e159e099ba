/** Matrix products through the selected kernel backend: matmul (with transposes), batched matmul, linear. */
import { scratch } from '../memory.js';
import { needsGrad, record } from '../autograd.js';
import { kernels } from '../../kernels/select.js';
import { Tensor } from '../tensor.js';

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
}

/**
 * Gradients of C = op(A)·op(B) (batched over `batch` strided matrices) into A's and B's
 * gradients: each written by one GEMM, with beta 0 when it is the tensor's first contribution
 * (no zero fill) and 1 after. The targets are taken one after the other, so A = B works.
 */
function gemmBackward(
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  a: Tensor,
  b: Tensor,
  gC: Float32Array,
  batch: number,
): void {
  const K = kernels();
  const lda = transA ? m : k;
  const ldb = transB ? k : n;
  const sA = m * k;
  const sB = k * n;
  const sC = m * n;
  if (a.requiresGrad) {
    const { buf: gA, beta } = a.gradTarget();
    if (!transA)
      K.sgemmStridedBatched(false, !transB, m, k, n, 1, gC, n, sC, b.data, ldb, sB, beta, gA, lda, sA, batch);
    else
      K.sgemmStridedBatched(transB, true, k, m, n, 1, b.data, ldb, sB, gC, n, sC, beta, gA, lda, sA, batch);
  }
  if (b.requiresGrad) {
    const { buf: gB, beta } = b.gradTarget();
    if (!transB)
      K.sgemmStridedBatched(!transA, false, k, n, m, 1, a.data, lda, sA, gC, n, sC, beta, gB, ldb, sB, batch);
    else
      K.sgemmStridedBatched(true, transA, n, k, m, 1, gC, n, sC, a.data, lda, sA, beta, gB, ldb, sB, batch);
  }
}

function dims(a: Tensor, b: Tensor, transA: boolean, transB: boolean, what: string) {
  const ra = a.rank;
  const rb = b.rank;
  const m = transA ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = transA ? a.shape[ra - 2] : a.shape[ra - 1];
  const kb = transB ? b.shape[rb - 1] : b.shape[rb - 2];
  const n = transB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (k !== kb) {
    throw new RangeError(
      `${what}: inner dimensions differ: [${a.shape.join(', ')}]${transA ? 'ᵀ' : ''} · [${b.shape.join(', ')}]${transB ? 'ᵀ' : ''}`,
    );
  }
  return { m, n, k };
}

/** op(A)·op(B) for 2-D A and B. */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  if (a.rank !== 2 || b.rank !== 2)
    throw new RangeError(`matmul needs 2-D tensors, got ranks ${a.rank} and ${b.rank}`);
  const { m, n, k } = dims(a, b, transA, transB, 'matmul');
  const out = new Tensor(scratch(m * n), [m, n]); // the GEMM (beta 0) writes every element
  kernels().sgemm(transA, transB, m, n, k, 1, a.data, transA ? m : k, b.data, transB ? k : n, 0, out.data, n);
  if (!needsGrad(a, b)) return out;
  return record(out, () => {
    gemmBackward(transA, transB, m, n, k, a, b, out.grad!, 1);
  });
}

/** Batched op(A)·op(B) over the leading dims: A [..., m, k], B [..., k, n] with equal leading dims. */
export function bmm(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  if (a.rank < 3 || a.rank !== b.rank)
    throw new RangeError(`bmm needs tensors of equal rank >= 3, got ${a.rank} and ${b.rank}`);
  const lead = a.shape.slice(0, -2);
  if (lead.some((d, i) => d !== b.shape[i])) {
    throw new RangeError(`bmm: batch dims differ: [${a.shape.join(', ')}] and [${b.shape.join(', ')}]`);
  }
  const { m, n, k } = dims(a, b, transA, transB, 'bmm');
  const batch = lead.reduce((p, d) => p * d, 1);
  const out = new Tensor(scratch(batch * m * n), [...lead, m, n]);
  kernels().sgemmStridedBatched(
    transA,
    transB,
    m,
    n,
    k,
    1,
    a.data,
    transA ? m : k,
    m * k,
    b.data,
    transB ? k : n,
    k * n,
    0,
    out.data,
    n,
    m * n,
    batch,
  );
  if (!needsGrad(a, b)) return out;
  return record(out, () => {
    gemmBackward(transA, transB, m, n, k, a, b, out.grad!, batch);
  });
}

/**
 * y = x·Wᵀ + bias with x [..., in], W [out, in] (PyTorch's layout), bias [out] or null.
 * The bias add is fused into the GEMM's output pass.
 */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  const inF = weight.shape[1];
  const outF = weight.shape[0];
  if (weight.rank !== 2 || x.shape[x.rank - 1] !== inF) {
    throw new RangeError(
      `linear: input [${x.shape.join(', ')}] does not match weight [${weight.shape.join(', ')}]`,
    );
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== outF)) {
    throw new RangeError(`linear: bias [${bias.shape.join(', ')}] should be [${outF}]`);
  }
  const rows = x.size / inF;
  const outShape = [...x.shape.slice(0, -1), outF];
  const out = new Tensor(scratch(rows * outF), outShape); // bias rows or beta 0 write it all
  let beta = 0;
  if (bias) {
    for (let r = 0; r < rows; r++) out.data.set(bias.data, r * outF);
    beta = 1;
  }
  kernels().sgemm(false, true, rows, outF, inF, 1, x.data, inF, weight.data, inF, beta, out.data, outF);
  if (!needsGrad(x, weight, bias)) return out;
  return record(out, () => {
    const g = out.grad!;
    const K = kernels();
    if (x.requiresGrad) {
      const { buf, beta } = x.gradTarget();
      K.sgemm(false, false, rows, inF, outF, 1, g, outF, weight.data, inF, beta, buf, inF);
    }
    if (weight.requiresGrad) {
      const { buf, beta } = weight.gradTarget();
      K.sgemm(true, false, outF, inF, rows, 1, g, outF, x.data, inF, beta, buf, inF);
    }
    if (bias?.requiresGrad) {
      const gb = bias.gradBuffer();
      for (let r = 0; r < rows; r++) {
        const o = r * outF;
        for (let j = 0; j < outF; j++) gb[j] += g[o + j];
      }
    }
  });
}
