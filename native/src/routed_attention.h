/*
 * Fused attention of routed tokens (MOCA's conditional-attention experts; the kernel of
 * src/engine/ops/routed-attention.ts, whose JS loops with a GEMM per block are the reference):
 * one call runs every sequence and head. Sequence b has queries [qo_b, qo_{b+1}) and keys and
 * values [ko_b, ko_{b+1}), and every query also sees its head's learned null key and value.
 */
#ifndef CAMMSR_ROUTED_ATTENTION_H
#define CAMMSR_ROUTED_ATTENTION_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
  const float *q, *k, *v;         /* q [Q, width]; k, v [K, width] */
  const float *null_kv;           /* [2, heads, dh]: the null keys, then the null values */
  const int32_t *query_offsets;   /* [B + 1], from 0 to Q, non-decreasing */
  const int32_t *key_offsets;     /* [B + 1], from 0 to K, non-decreasing */
  int64_t batch, heads, width;
  double scale;                   /* 1/sqrt(width / heads) */
  const uint32_t *bits;           /* dropout words, one per probability; NULL: no dropout */
  uint32_t threshold;
  double keep;                    /* 1/(1 - p) */
} routed_attention_args;

/* Sum over sequences and heads of nq·(nk + 1): the number of probabilities. */
int64_t routed_probability_count(const routed_attention_args *a);

/* Forward: block (b, h), in order b·heads + h, holds nq × (nk + 1) probabilities, column 0 the
 * null key's: probs = softmax([q·k_null, q·k_j]·scale), kept = probs after dropout (may be
 * probs when there is no dropout), out = kept · [v_null; v_j]. */
void routed_attention_forward(const routed_attention_args *a, float *probs, float *kept, float *out);

/* Which of gq, gk and gv hold no gradient yet (bits of routed_attention_backward's `fresh`). */
enum { ROUTED_FRESH_GQ = 1, ROUTED_FRESH_GK = 2, ROUTED_FRESH_GV = 4 };

/* Backward from d_out: adds to gq, gk, gv and g_null ([2, heads, dh]); each may be NULL. A fresh
 * one's contents are ignored: each (sequence, head) block zeroes its rows of it before adding, as
 * a zero-filled buffer would be (the blocks cover every row and column once), while they are in
 * cache. Returns false, having written nothing, when it cannot allocate its row buffers (one per
 * part: the heads are split over the kernel threads). */
bool routed_attention_backward(const routed_attention_args *a, const float *probs, const float *kept,
                               const float *d_out, float *gq, float *gk, float *gv, float *g_null, int fresh);

#endif
