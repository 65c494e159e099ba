"""Thread pinning shared by the PyTorch reference benchmarks."""

import ctypes


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
