/*
 * Fused causal multi-head attention over packed variable-length sequences (the kernel of
 * src/engine/ops/attention.ts, whose sgemm-based path is the reference): one call runs every
 * sequence and head, with plain loops instead of two to four tiny GEMM calls per block.
 */
#ifndef CAMMSR_ATTENTION_H
#define CAMMSR_ATTENTION_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
  const float *q, *k, *v;     /* q [Rq, d] (Rq = B with last_only, else R); k, v [R, d] */
  const int32_t *offsets;     /* [B + 1], from 0 to R, non-decreasing */
  int64_t batch, heads, d;
  bool last_only;             /* one query per sequence: its last position */
  double scale;               /* 1/sqrt(d / heads) */
  const uint32_t *bits;       /* dropout words, one per probability; NULL: no dropout */
  uint32_t threshold;
  double keep;                /* 1/(1 - p) */
} attention_args;

/* Sum over sequences and heads of nq·n: the number of probabilities. */
int64_t attention_probability_count(const int32_t *offsets, int64_t batch, int64_t heads, bool last_only);

/* Forward: probs = causal softmax(q·kᵀ·scale) per block (zero above the diagonal), kept = probs
 * after dropout (kept may be probs when there is no dropout), out = kept · v. */
void attention_forward(const attention_args *a, float *probs, float *kept, float *out);

/* Backward from d_out: adds to gq, gk, gv (each may be NULL). Returns false when it cannot
 * allocate its row buffer. */
bool attention_backward(const attention_args *a, const float *probs, const float *kept, const float *d_out,
                        float *gq, float *gk, float *gv);

#endif
