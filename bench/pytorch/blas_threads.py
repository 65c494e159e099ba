"""Command line and thread set-up shared by the PyTorch reference step benchmarks."""

import argparse
import ctypes
import sys


def pin_blas_threads(n):
    """Debian's torch calls the system libblas (OpenBLAS, pthread build) whose
    own thread pool ignores torch.set_num_threads and defaults to all cores.
    Pin it too, so --threads 1 is really single-threaded. Returns the BLAS
    thread count, or None if the loaded BLAS is not OpenBLAS."""
    with open("/proc/self/maps") as f:
        paths = {line.split()[-1] for line in f if "libopenblas" in line}
    if not paths:
        return None
    lib = ctypes.CDLL(sorted(paths)[0])  # already loaded: same handle torch uses
    lib.openblas_set_num_threads(n)
    return lib.openblas_get_num_threads()


def parse_step_args(doc):
    """The options every step benchmark takes (same names as our bench/step.ts passes)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch-file", required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = ap.parse_args()
    if args.steps < 1 or args.warmup < 0 or args.threads < 1:
        sys.exit("need --steps >= 1, --warmup >= 0, --threads >= 1")
    return args


def set_threads(torch, n):
    """Pins torch's intra-op threads, its inter-op pool (before any parallel work starts) and
    OpenBLAS's own pool to n. Returns OpenBLAS's thread count (None if not OpenBLAS)."""
    torch.set_num_interop_threads(1)
    torch.set_num_threads(n)
    return pin_blas_threads(n)
