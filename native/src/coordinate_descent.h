/*
 * CoLT5's soft top-k by coordinate descent (MOCA's routers), fused: the kernel of
 * src/engine/ops/coordinate-descent.ts, whose JS loops are the reference. Rows are packed to
 * their valid entries: row r's are index[start[r] .. start[r + 1]), columns of an n-wide row.
 */
#ifndef CAMMSR_COORDINATE_DESCENT_H
#define CAMMSR_COORDINATE_DESCENT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
  int64_t rows, n, iterations; /* iterations T; eps has T + 1 temperatures (the last: the final one) */
  const int32_t *index, *start;
  const double *eps;
} descent_shape;

/* p = exp((s + a + b)/eps_T) at the valid entries (out is not written elsewhere); keeps each
 * iteration's softmax in sm and ReLU pattern in active (row r's at T·start[r] + t·m_r). Returns
 * false when it cannot allocate its row buffers. */
bool descent_forward(const descent_shape *d, const float *s, double log_k, float *sm, uint8_t *active, float *out);

/* Adds the gradient from d_out (through every iteration) to gs at the valid entries. */
bool descent_backward(const descent_shape *d, const float *sm, const uint8_t *active, const float *out,
                      const float *d_out, float *gs);

#endif
