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
#include "parallel.h"
#include "vec.h"

/* Below this many sequences per part the attention runs on the calling thread (waking a pool
 * worker costs up to about 20 microseconds; a Beauty batch's 256 sequences take about a
 * millisecond). */
#define ATTENTION_MIN_SEQUENCES 32

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

/* The offset of sequence b's first probability (its blocks follow those of sequences 0 .. b-1). */
static int64_t probability_offset(const attention_args *a, int64_t b) {
  return attention_probability_count(a->offsets, b, a->heads, a->last_only);
}

/* A part of a call over sequences [begin, end), for parallel_rows: each sequence's rows of out,
 * probs and kept (or of gq, gk and gv) are its own, so parts write disjoint memory and the
 * result does not depend on how the sequences are split. */
typedef struct {
  const attention_args *a;
  float *probs, *kept, *out;
  const float *d_out;
  float *gq, *gk, *gv;
  float *ds;       /* backward: a row of dS per part, `longest` floats each */
  int64_t longest; /* the longest sequence */
} attention_job;

static void forward_part(void *arg, int64_t begin, int64_t end, int part) {
  (void)part;
  const attention_job *j = arg;
  const attention_args *a = j->a;
  const int64_t d = a->d, dh = d / a->heads;
  int64_t po = probability_offset(a, begin);
  for (int64_t b = begin; b < end; b++) {
    const int64_t k0 = a->offsets[b], n = a->offsets[b + 1] - k0, nq = queries_of(a, n);
    const int64_t q0 = a->last_only ? b : k0;
    for (int64_t h = 0; h < a->heads; h++, po += nq * n) {
      for (int64_t t = 0; t < nq; t++) {
        const int64_t i = n - nq + t;
        const float *qt = a->q + (q0 + t) * d + h * dh;
        float *p = j->probs + po + t * n;
        for (int64_t x = 0; x <= i; x++) p[x] = (float)(a->scale * dot(qt, a->k + (k0 + x) * d + h * dh, dh));
        softmax_prefix(p, i, n);
        float *pk = j->kept + po + t * n;
        if (a->bits) {
          const uint32_t *w = a->bits + po + t * n;
          for (int64_t x = 0; x < n; x++) pk[x] = w[x] >= a->threshold ? (float)(p[x] * a->keep) : 0.0f;
        }
        float *o = j->out + (q0 + t) * d + h * dh;
        for (int64_t e = 0; e < dh; e++) o[e] = 0;
        for (int64_t x = 0; x <= i; x++) axpy(pk[x], a->v + (k0 + x) * d + h * dh, o, dh);
      }
    }
  }
}

void attention_forward(const attention_args *a, float *probs, float *kept, float *out) {
  attention_job job = {.a = a, .probs = probs, .kept = kept, .out = out};
  parallel_rows(a->batch, parallel_threads(), ATTENTION_MIN_SEQUENCES, forward_part, &job);
}

static void backward_part(void *arg, int64_t begin, int64_t end, int part) {
  const attention_job *j = arg;
  const attention_args *a = j->a;
  const int64_t d = a->d, dh = d / a->heads;
  float *ds = j->ds + part * j->longest;
  float *gq = j->gq, *gk = j->gk, *gv = j->gv;
  int64_t po = probability_offset(a, begin);
  for (int64_t b = begin; b < end; b++) {
    const int64_t k0 = a->offsets[b], n = a->offsets[b + 1] - k0, nq = queries_of(a, n);
    const int64_t q0 = a->last_only ? b : k0;
    for (int64_t h = 0; h < a->heads; h++, po += nq * n) {
      for (int64_t t = 0; t < nq; t++) {
        const int64_t i = n - nq + t, col = h * dh;
        const float *p = j->probs + po + t * n, *pk = j->kept + po + t * n;
        const float *d_row = j->d_out + (q0 + t) * d + col;
        if (gv)
          for (int64_t x = 0; x <= i; x++) axpy(pk[x], d_row, gv + (k0 + x) * d + col, dh);
        if (!gq && !gk) continue;
        /* dP = dO·vᵀ, back through dropout, then the softmax: dS = P ⊙ (dP − Σ dP ⊙ P). */
        double s = 0;
        for (int64_t x = 0; x <= i; x++) {
          float g = dot(d_row, a->v + (k0 + x) * d + col, dh);
          if (a->bits) g = a->bits[po + t * n + x] >= a->threshold ? (float)(g * a->keep) : 0.0f;
          ds[x] = g;
          s += (double)g * p[x];
        }
        for (int64_t x = 0; x <= i; x++) ds[x] = (float)(p[x] * (ds[x] - s) * a->scale);
        const float *qt = a->q + (q0 + t) * d + col;
        for (int64_t x = 0; x <= i; x++) {
          const float *kx = a->k + (k0 + x) * d + col;
          if (gq) axpy(ds[x], kx, gq + (q0 + t) * d + col, dh);
          if (gk) axpy(ds[x], qt, gk + (k0 + x) * d + col, dh);
        }
      }
    }
  }
}

bool attention_backward(const attention_args *a, const float *probs, const float *kept, const float *d_out,
                        float *gq, float *gk, float *gv) {
  int64_t longest = 1;
  for (int64_t b = 0; b < a->batch; b++)
    if (a->offsets[b + 1] - a->offsets[b] > longest) longest = a->offsets[b + 1] - a->offsets[b];
  /* Every part's row buffer before any part runs: out of memory leaves the gradients untouched. */
  const int threads = parallel_threads();
  float *ds = malloc((size_t)threads * (size_t)longest * sizeof *ds);
  if (!ds) return false;
  attention_job job = {.a = a, .probs = (float *)probs, .kept = (float *)kept, .d_out = d_out,
                       .gq = gq, .gk = gk, .gv = gv, .ds = ds, .longest = longest};
  parallel_rows(a->batch, threads, ATTENTION_MIN_SEQUENCES, backward_part, &job);
  free(ds);
  return true;
}
