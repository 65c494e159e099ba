/*
 * Fork-join over a range of rows (or sequences, heads) for the kernels (OpenBLAS threads its GEMMs
 * itself). The workers persist between calls: starting a thread costs about 50 microseconds,
 * waking a sleeping one about 20, and one still spinning after the last call under one. An idle
 * worker spins about as long as OpenBLAS's threads do after a GEMM, then sleeps, so it does not
 * compete with them for long.
 */
#ifndef CAMMSR_PARALLEL_H
#define CAMMSR_PARALLEL_H

#include <stdint.h>

/* The most parts parallel_rows makes (a caller's per-part results need this many slots). */
#define PARALLEL_MAX_PARTS 64

/* Runs fn(ctx, begin, end, part) over [0, n) cut into at most `threads` contiguous parts of at
 * least `min_rows` rows each (part 0 on the calling thread), and returns when all are done.
 * Returns the number of parts used; when a thread cannot be started its part runs on the
 * calling thread, so the work is always done. */
int parallel_rows(int64_t n, int threads, int64_t min_rows, void (*fn)(void *, int64_t, int64_t, int), void *ctx);

/* The thread count the kernels may use (set by setThreads, with OpenBLAS's). */
int parallel_threads(void);
void parallel_set_threads(int threads);

/* Pool workers started so far (reported by describe()). */
int parallel_workers(void);

#endif
