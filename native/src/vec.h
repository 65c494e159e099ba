/*
 * Short vector helpers of the attention kernels: a head's dot product (summed in float, as the
 * GEMMs of their reference paths are) and y += a·x.
 */
#ifndef CAMMSR_VEC_H
#define CAMMSR_VEC_H

#include <stdint.h>

static inline float dot(const float *x, const float *y, int64_t n) {
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t e = 0; e < n; e++) s += x[e] * y[e];
  return s;
}

static inline void axpy(float a, const float *x, float *y, int64_t n) {
#pragma omp simd
  for (int64_t e = 0; e < n; e++) y[e] += a * x[e];
}

#endif
