# The native kernel backend: an N-API addon (plain C) over OpenBLAS.
# Built by scripts/build-native.mjs (the package's install script); by hand: `node-gyp rebuild`
# in this directory. It is built on the machine that uses it, hence -march=native.
{
  'targets': [
    {
      'target_name': 'cammsr_native',
      'sources': ['src/cammsr_native.c', 'src/rows.c', 'src/attention.c', 'src/coordinate_descent.c', 'src/routed_attention.c', 'src/parallel.c', 'src/vector.c'],
      'defines': ['NAPI_VERSION=8'],
      'cflags': [
        '-std=gnu11',
        '-O3',
        '-march=native',
        # math.h functions need not set errno (lets gcc inline/vectorise them). Deliberately no
        # -ffast-math: the kernels must keep IEEE infinities and NaN (see the C file).
        '-fno-math-errno',
        # FP exceptions are never inspected; lets gcc if-convert (and so vectorise) the GELU loops
        '-fno-trapping-math',
        # honour `#pragma omp simd` (no OpenMP runtime is involved)
        '-fopenmp-simd',
        '-Wall',
        '-Wextra',
        '-Wno-unused-parameter',
        # OpenBLAS' include directory (Debian: /usr/include/x86_64-linux-gnu/openblas-pthread);
        # empty when pkg-config does not know OpenBLAS and cblas.h is on the default path
        '<!@(pkg-config --cflags-only-I openblas 2>/dev/null || true)',
      ],
      'cflags!': ['-O2'],
      # The kernel pool's threads (src/parallel.c) outlive every call: the library must not be
      # unmapped when a worker_threads Worker that loaded it ends (Node closes its addons then).
      'ldflags': ['-Wl,-z,nodelete'],
      'libraries': [
        '<!@(pkg-config --libs openblas 2>/dev/null || echo -lopenblas)',
        '-lm',
      ],
    },
  ],
}
