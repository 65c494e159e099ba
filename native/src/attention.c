/*
 * Fused causal attention (attention.h). Block (b, h) holds the nq × n probabilities of sequence b
 * (n keys; its queries are positions n - nq .. n - 1) and head h, blocks in order b·heads + h.
 * Query t sees keys 0 .. n - nq + t. Dot products over a head's dh dims are summed in float, as
 * the GEMMs of the reference path are; softmax exponentials in double, as its JS loops take them.
 */
#include "attention.h"

#include <math.h>
#include <stdlib.h>

#include "exp.h"
#include "vec.h"

static inline int64_t queries_of(const attention_args *a, int64_t n) {
  return a->last_only ? (n > 0 ? 1 : 0) : n;
}

int64_t attention_probability_count(const int32_t *offsets, int64_t batch, int64_t heads, bool last_only) {
  int64_t total = 0;
  for (int64_t b = 0; b < batch; b++) {
    const int64_t n = offsets[b + 1] - offsets[b];
    total += heads * (last_only ? (n > 0 ? 1 : 0) : n) * n;
  }
  return total;
}

/* Causal softmax of one row of scores over keys 0..i, in place; the rest of the row becomes 0. */
static void softmax_prefix(float *p, int64_t i, int64_t n) {
  float max = -INFINITY;
  for (int64_t j = 0; j <= i; j++) max = p[j] > max ? p[j] : max;
  double sum = 0;
  for (int64_t j = 0; j <= i; j++) {
    const double e = exp_double((double)p[j] - max);
    p[j] = (float)e;
    sum += e;
  }
  const double inv = 1.0 / sum;
  for (int64_t j = 0; j <= i; j++) p[j] = (float)(p[j] * inv);
  for (int64_t j = i + 1; j < n; j++) p[j] = 0;
}

void attention_forward(const attention_args *a, float *probs, float *kept, float *out) {
  const int64_t d = a->d, dh = d / a->heads;
  int64_t po = 0;
  for (int64_t b = 0; b < a->batch; b++) {
    const int64_t k0 = a->offsets[b], n = a->offsets[b + 1] - k0, nq = queries_of(a, n);
    const int64_t q0 = a->last_only ? b : k0;
    for (int64_t h = 0; h < a->heads; h++, po += nq * n) {
      for (int64_t t = 0; t < nq; t++) {
        const int64_t i = n - nq + t;
        const float *qt = a->q + (q0 + t) * d + h * dh;
        float *p = probs + po + t * n;
        for (int64_t j = 0; j <= i; j++) p[j] = (float)(a->scale * dot(qt, a->k + (k0 + j) * d + h * dh, dh));
        softmax_prefix(p, i, n);
        float *pk = kept + po + t * n;
        if (a->bits) {
          const uint32_t *w = a->bits + po + t * n;
          for (int64_t j = 0; j < n; j++) pk[j] = w[j] >= a->threshold ? (float)(p[j] * a->keep) : 0.0f;
        }
        float *o = out + (q0 + t) * d + h * dh;
        for (int64_t e = 0; e < dh; e++) o[e] = 0;
        for (int64_t j = 0; j <= i; j++) axpy(pk[j], a->v + (k0 + j) * d + h * dh, o, dh);
      }
    }
  }
}

bool attention_backward(const attention_args *a, const float *probs, const float *kept, const float *d_out,
                        float *gq, float *gk, float *gv) {
  const int64_t d = a->d, dh = d / a->heads;
  int64_t longest = 1;
  for (int64_t b = 0; b < a->batch; b++)
    if (a->offsets[b + 1] - a->offsets[b] > longest) longest = a->offsets[b + 1] - a->offsets[b];
  float *ds = malloc((size_t)longest * sizeof *ds);
  if (!ds) return false;
  int64_t po = 0;
  for (int64_t b = 0; b < a->batch; b++) {
    const int64_t k0 = a->offsets[b], n = a->offsets[b + 1] - k0, nq = queries_of(a, n);
    const int64_t q0 = a->last_only ? b : k0;
    for (int64_t h = 0; h < a->heads; h++, po += nq * n) {
      for (int64_t t = 0; t < nq; t++) {
        const int64_t i = n - nq + t, col = h * dh;
        const float *p = probs + po + t * n, *pk = kept + po + t * n;
        const float *d_row = d_out + (q0 + t) * d + col;
        if (gv)
          for (int64_t j = 0; j <= i; j++) axpy(pk[j], d_row, gv + (k0 + j) * d + col, dh);
        if (!gq && !gk) continue;
        /* dP = dO·vᵀ, back through dropout, then the softmax: dS = P ⊙ (dP − Σ dP ⊙ P). */
        double s = 0;
        for (int64_t j = 0; j <= i; j++) {
          float g = dot(d_row, a->v + (k0 + j) * d + col, dh);
          if (a->bits) g = a->bits[po + t * n + j] >= a->threshold ? (float)(g * a->keep) : 0.0f;
          ds[j] = g;
          s += (double)g * p[j];
        }
        for (int64_t j = 0; j <= i; j++) ds[j] = (float)(p[j] * (ds[j] - s) * a->scale);
        const float *qt = a->q + (q0 + t) * d + col;
        for (int64_t j = 0; j <= i; j++) {
          const float *kj = a->k + (k0 + j) * d + col;
          if (gq) axpy(ds[j], kj, gq + (q0 + t) * d + col, dh);
          if (gk) axpy(ds[j], qt, gk + (k0 + j) * d + col, dh);
        }
      }
    }
  }
  free(ds);
  return true;
}
