/*
 * Fused attention of routed tokens (routed_attention.h). Dot products over a head's dh dims are
 * summed in float, as the reference's GEMMs are; softmax exponentials in double, as its JS loops
 * take them. Threads: the forward splits the sequences, the backward the heads, so that each
 * head's null key and value gradients are summed in one order; every output is the same bits on
 * any thread count.
 */
#include "routed_attention.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exp.h"
#include "parallel.h"
#include "vec.h"

/* Sequences a part takes at the least: fewer do not pay for waking a second thread. */
#define ROUTED_MIN_SEQUENCES 32
/* Probabilities a call holds at the least before it is split over threads. */
#define ROUTED_MIN_PROBABILITIES 65536

/* The first probability of sequence b: its heads' blocks follow those of sequences 0 .. b-1. */
static int64_t sequence_offset(const routed_attention_args *a, int64_t b) {
  int64_t total = 0;
  for (int64_t x = 0; x < b; x++) {
    const int64_t nq = a->query_offsets[x + 1] - a->query_offsets[x];
    const int64_t nk = a->key_offsets[x + 1] - a->key_offsets[x];
    total += a->heads * nq * (nk + 1);
  }
  return total;
}

int64_t routed_probability_count(const routed_attention_args *a) { return sequence_offset(a, a->batch); }

/* Softmax of p[0 .. n) in place. */
static void softmax_row(float *p, int64_t n) {
  float max = -INFINITY;
  for (int64_t j = 0; j < n; j++) max = p[j] > max ? p[j] : max;
  double sum = 0;
  for (int64_t j = 0; j < n; j++) {
    const double e = exp_double((double)p[j] - max);
    p[j] = (float)e;
    sum += e;
  }
  const double inv = 1.0 / sum;
  for (int64_t j = 0; j < n; j++) p[j] = (float)(p[j] * inv);
}

typedef struct {
  const routed_attention_args *a;
  float *probs, *kept, *out;
  const float *d_out;
  float *gq, *gk, *gv, *g_null;
  int fresh;
  float *ds;       /* backward: a row of dS per part, `widest` floats each */
  int64_t widest;  /* the most keys of a sequence, plus the null key */
} routed_job;

/* Sequences [begin, end): their rows of out and their blocks of probs and kept. */
static void forward_part(void *arg, int64_t begin, int64_t end, int part) {
  (void)part;
  const routed_job *j = arg;
  const routed_attention_args *a = j->a;
  const int64_t W = a->width, H = a->heads, dh = W / H;
  int64_t po = sequence_offset(a, begin);
  for (int64_t b = begin; b < end; b++) {
    const int64_t q0 = a->query_offsets[b], nq = a->query_offsets[b + 1] - q0;
    const int64_t k0 = a->key_offsets[b], n = a->key_offsets[b + 1] - k0 + 1;
    for (int64_t h = 0; h < H; h++, po += nq * n) {
      const float *null_k = a->null_kv + h * dh, *null_v = a->null_kv + (H + h) * dh;
      for (int64_t i = 0; i < nq; i++) {
        const float *qi = a->q + (q0 + i) * W + h * dh;
        float *p = j->probs + po + i * n;
        p[0] = (float)(a->scale * dot(qi, null_k, dh));
        for (int64_t x = 1; x < n; x++) p[x] = (float)(a->scale * dot(qi, a->k + (k0 + x - 1) * W + h * dh, dh));
        softmax_row(p, n);
        float *pk = j->kept + po + i * n;
        if (a->bits) {
          const uint32_t *w = a->bits + po + i * n;
          for (int64_t x = 0; x < n; x++) pk[x] = w[x] >= a->threshold ? (float)(p[x] * a->keep) : 0.0f;
        }
        float *o = j->out + (q0 + i) * W + h * dh;
        for (int64_t e = 0; e < dh; e++) o[e] = pk[0] * null_v[e];
        for (int64_t x = 1; x < n; x++) axpy(pk[x], a->v + (k0 + x - 1) * W + h * dh, o, dh);
      }
    }
  }
}

/* A small call stays on the calling thread. */
static int threads_for(const routed_attention_args *a) {
  return routed_probability_count(a) < ROUTED_MIN_PROBABILITIES ? 1 : parallel_threads();
}

void routed_attention_forward(const routed_attention_args *a, float *probs, float *kept, float *out) {
  routed_job job = {.a = a, .probs = probs, .kept = kept, .out = out};
  parallel_rows(a->batch, threads_for(a), ROUTED_MIN_SEQUENCES, forward_part, &job);
}

/* Zeroes columns [col, col + dh) of `rows` rows of g from row r0 (rows `width` floats apart). */
static void zero_block(float *g, int64_t r0, int64_t rows, int64_t width, int64_t col, int64_t dh) {
  if (g)
    for (int64_t r = r0; r < r0 + rows; r++) memset(g + r * width + col, 0, (size_t)dh * sizeof *g);
}

/* Heads [begin, end), each over every sequence in order: their columns of gq, gk and gv, and
 * their rows of g_null. */
static void backward_part(void *arg, int64_t begin, int64_t end, int part) {
  const routed_job *j = arg;
  const routed_attention_args *a = j->a;
  const int64_t W = a->width, H = a->heads, dh = W / H;
  float *ds = j->ds + part * j->widest;
  float *gq = j->gq, *gk = j->gk, *gv = j->gv, *g_null = j->g_null;
  const bool scores = gq || gk || g_null;
  for (int64_t h = begin; h < end; h++) {
    const int64_t col = h * dh;
    const float *null_k = a->null_kv + col, *null_v = a->null_kv + (H + h) * dh;
    int64_t first = 0; /* the first probability of sequence b */
    for (int64_t b = 0; b < a->batch; b++) {
      const int64_t q0 = a->query_offsets[b], nq = a->query_offsets[b + 1] - q0;
      const int64_t k0 = a->key_offsets[b], n = a->key_offsets[b + 1] - k0 + 1;
      const int64_t po = first + h * nq * n;
      first += H * nq * n;
      zero_block(gq && (j->fresh & ROUTED_FRESH_GQ) ? gq : NULL, q0, nq, W, col, dh);
      zero_block(gk && (j->fresh & ROUTED_FRESH_GK) ? gk : NULL, k0, n - 1, W, col, dh);
      zero_block(gv && (j->fresh & ROUTED_FRESH_GV) ? gv : NULL, k0, n - 1, W, col, dh);
      for (int64_t i = 0; i < nq; i++) {
        const float *p = j->probs + po + i * n, *pk = j->kept + po + i * n;
        const float *d_row = j->d_out + (q0 + i) * W + col;
        if (g_null) axpy(pk[0], d_row, g_null + (H + h) * dh, dh);
        if (gv)
          for (int64_t x = 1; x < n; x++) axpy(pk[x], d_row, gv + (k0 + x - 1) * W + col, dh);
        if (!scores) continue;
        /* dP = dO·[v_null; v]ᵀ, back through dropout, then the softmax: dS = P ⊙ (dP − Σ dP ⊙ P). */
        double s = 0;
        for (int64_t x = 0; x < n; x++) {
          float g = dot(d_row, x == 0 ? null_v : a->v + (k0 + x - 1) * W + col, dh);
          if (a->bits) g = a->bits[po + i * n + x] >= a->threshold ? (float)(g * a->keep) : 0.0f;
          ds[x] = g;
          s += (double)g * p[x];
        }
        for (int64_t x = 0; x < n; x++) ds[x] = (float)(p[x] * (ds[x] - s) * a->scale);
        const float *qi = a->q + (q0 + i) * W + col;
        if (gq) axpy(ds[0], null_k, gq + (q0 + i) * W + col, dh);
        if (g_null) axpy(ds[0], qi, g_null + col, dh);
        for (int64_t x = 1; x < n; x++) {
          const float *kx = a->k + (k0 + x - 1) * W + col;
          if (gq) axpy(ds[x], kx, gq + (q0 + i) * W + col, dh);
          if (gk) axpy(ds[x], qi, gk + (k0 + x - 1) * W + col, dh);
        }
      }
    }
  }
}

bool routed_attention_backward(const routed_attention_args *a, const float *probs, const float *kept,
                               const float *d_out, float *gq, float *gk, float *gv, float *g_null, int fresh) {
  int64_t widest = 1;
  for (int64_t b = 0; b < a->batch; b++)
    if (a->key_offsets[b + 1] - a->key_offsets[b] + 1 > widest) widest = a->key_offsets[b + 1] - a->key_offsets[b] + 1;
  /* Every part's row buffer before any part runs: out of memory leaves the gradients untouched. */
  const int threads = threads_for(a); /* at most PARALLEL_MAX_PARTS */
  float *ds = malloc((size_t)threads * (size_t)widest * sizeof *ds);
  if (!ds) return false;
  routed_job job = {.a = a, .probs = (float *)probs, .kept = (float *)kept, .d_out = d_out, .gq = gq, .gk = gk,
                    .gv = gv, .g_null = g_null, .fresh = fresh, .ds = ds, .widest = widest};
  parallel_rows(a->heads, threads, 1, backward_part, &job);
  free(ds);
  return true;
}
