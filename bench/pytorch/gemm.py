#!/usr/bin/python3
"""GFLOP/s of torch.mm for the GEMM shapes of a SASRec training step
(developer-only reference benchmark).

Usage:
    /usr/bin/python3 bench/pytorch/gemm.py --threads N [--json]

For each forward product C = A @ B (A: m x k, B: k x n) we also time the two
backward products autograd issues: dA = dC @ B^T and dB = A^T @ dC. Transposes
are views of contiguous tensors (as in autograd), so BLAS sees the transpose
flags rather than a copy.
"""

import argparse
import json
import os
import statistics
import sys
import time

# Debian's torch runs its own ops on libgomp threads but GEMMs on OpenBLAS's
# separate pthread pool. By default idle gomp threads spin-wait after every
# parallel region and steal the cores OpenBLAS needs (measured: 2 threads
# slower than 1). Passive waiting removes that; must be set before torch
# loads libgomp. An explicit OMP_WAIT_POLICY in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch

from blas_threads import pin_blas_threads  # noqa: E402 (after torch loads OpenBLAS)

# (m, k, n) for C[m x n] = A[m x k] @ B[k x n]
SHAPES = [
    (256, 64, 12101),  # logits: rows x d  @  d x items
    (12800, 64, 256),  # FFN up: (B*L) x d  @  d x ffn   (256 * 50 = 12800)
    (12800, 64, 64),   # Q/K/V/O projections: (B*L) x d  @  d x d
]
REPEATS = 15        # timings per product; we report the median
TARGET_S = 0.02     # each timing runs enough calls to last about this long


def time_op(fn):
    """Median seconds per call of fn()."""
    for _ in range(3):  # warm up (BLAS thread pool, page faults)
        fn()
    # Calibrate calls per timing so short products are not timer-dominated.
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-7)
    iters = max(1, int(TARGET_S / one))
    samples = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        samples.append((time.perf_counter() - t0) / iters)
    return statistics.median(samples)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = ap.parse_args()
    if args.threads < 1:
        sys.exit("need --threads >= 1")

    torch.set_num_interop_threads(1)
    torch.set_num_threads(args.threads)
    blas_threads = pin_blas_threads(args.threads)
    torch.manual_seed(1)

    results = []
    for m, k, n in SHAPES:
        a = torch.randn(m, k)
        b = torch.randn(k, n)
        dc = torch.randn(m, n)
        out_c = torch.empty(m, n)
        out_da = torch.empty(m, k)
        out_db = torch.empty(k, n)
        # out= avoids timing the allocator; all three have 2*m*n*k flops.
        cases = [
            (f"C[{m}x{n}] = A[{m}x{k}] @ B[{k}x{n}]", lambda: torch.mm(a, b, out=out_c)),
            (f"dA[{m}x{k}] = dC[{m}x{n}] @ B^T[{n}x{k}]", lambda: torch.mm(dc, b.t(), out=out_da)),
            (f"dB[{k}x{n}] = A^T[{k}x{m}] @ dC[{m}x{n}]", lambda: torch.mm(a.t(), dc, out=out_db)),
        ]
        flops = 2.0 * m * n * k
        for name, fn in cases:
            sec = time_op(fn)
            results.append({"shape": name, "gflops": round(flops / sec / 1e9, 2), "ms": round(sec * 1e3, 4)})

    threads = torch.get_num_threads()
    print(f"PyTorch torch.mm  torch {torch.__version__}  threads {threads}  BLAS threads {blas_threads}  "
          f"OMP_WAIT_POLICY {os.environ['OMP_WAIT_POLICY']}  (median of {REPEATS})")
    width = max(len(r["shape"]) for r in results)
    print(f"  {'product':<{width}} {'ms':>9} {'GFLOP/s':>9}")
    for r in results:
        print(f"  {r['shape']:<{width}} {r['ms']:>9.3f} {r['gflops']:>9.2f}")
    if args.json:
        print(json.dumps({
            "threads": threads,
            "blas_threads": blas_threads,
            "omp_wait_policy": os.environ["OMP_WAIT_POLICY"],
            "torch_version": torch.__version__,
            "results": results,
        }))

if __name__ == "__main__":
    main()
