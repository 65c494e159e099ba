/*
 * Fused attention of routed tokens (routed_attention.h). Dot products over a head's dh dims are
 * summed in float, as the reference's GEMMs are; softmax exponentials in double, as its JS loops
 * take them.
 */
#include "routed_attention.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exp.h"
#include "vec.h"

int64_t routed_probability_count(const routed_attention_args *a) {
  int64_t total = 0;
  for (int64_t b = 0; b < a->batch; b++) {
    const int64_t nq = a->query_offsets[b + 1] - a->query_offsets[b];
    const int64_t nk = a->key_offsets[b + 1] - a->key_offsets[b];
    total += a->heads * nq * (nk + 1);
  }
  return total;
}

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

void routed_attention_forward(const routed_attention_args *a, float *probs, float *kept, float *out) {
  const int64_t W = a->width, H = a->heads, dh = W / H;
  int64_t po = 0;
  for (int64_t b = 0; b < a->batch; b++) {
    const int64_t q0 = a->query_offsets[b], nq = a->query_offsets[b + 1] - q0;
    const int64_t k0 = a->key_offsets[b], n = a->key_offsets[b + 1] - k0 + 1;
    for (int64_t h = 0; h < H; h++, po += nq * n) {
      const float *null_k = a->null_kv + h * dh, *null_v = a->null_kv + (H + h) * dh;
      for (int64_t i = 0; i < nq; i++) {
        const float *qi = a->q + (q0 + i) * W + h * dh;
        float *p = probs + po + i * n;
        p[0] = (float)(a->scale * dot(qi, null_k, dh));
        for (int64_t j = 1; j < n; j++) p[j] = (float)(a->scale * dot(qi, a->k + (k0 + j - 1) * W + h * dh, dh));
        softmax_row(p, n);
        float *pk = kept + po + i * n;
        if (a->bits) {
          const uint32_t *w = a->bits + po + i * n;
          for (int64_t j = 0; j < n; j++) pk[j] = w[j] >= a->threshold ? (float)(p[j] * a->keep) : 0.0f;
        }
        float *o = out + (q0 + i) * W + h * dh;
        for (int64_t e = 0; e < dh; e++) o[e] = pk[0] * null_v[e];
        for (int64_t j = 1; j < n; j++) axpy(pk[j], a->v + (k0 + j - 1) * W + h * dh, o, dh);
      }
    }
  }
}

/* Zeroes columns [col, col + dh) of `rows` rows of g from row r0 (rows `width` floats apart). */
static void zero_block(float *g, int64_t r0, int64_t rows, int64_t width, int64_t col, int64_t dh) {
  if (g)
    for (int64_t r = r0; r < r0 + rows; r++) memset(g + r * width + col, 0, (size_t)dh * sizeof *g);
}

bool routed_attention_backward(const routed_attention_args *a, const float *probs, const float *kept,
                               const float *d_out, float *gq, float *gk, float *gv, float *g_null, int fresh) {
  const int64_t W = a->width, H = a->heads, dh = W / H;
  int64_t widest = 1;
  for (int64_t b = 0; b < a->batch; b++)
    if (a->key_offsets[b + 1] - a->key_offsets[b] + 1 > widest) widest = a->key_offsets[b + 1] - a->key_offsets[b] + 1;
  float *ds = malloc((size_t)widest * sizeof *ds);
  if (!ds) return false;
  const bool scores = gq || gk || g_null;
  int64_t po = 0;
  for (int64_t b = 0; b < a->batch; b++) {
    const int64_t q0 = a->query_offsets[b], nq = a->query_offsets[b + 1] - q0;
    const int64_t k0 = a->key_offsets[b], n = a->key_offsets[b + 1] - k0 + 1;
    for (int64_t h = 0; h < H; h++, po += nq * n) {
      const int64_t col = h * dh;
      const float *null_k = a->null_kv + col, *null_v = a->null_kv + (H + h) * dh;
      zero_block(gq && (fresh & ROUTED_FRESH_GQ) ? gq : NULL, q0, nq, W, col, dh);
      zero_block(gk && (fresh & ROUTED_FRESH_GK) ? gk : NULL, k0, n - 1, W, col, dh);
      zero_block(gv && (fresh & ROUTED_FRESH_GV) ? gv : NULL, k0, n - 1, W, col, dh);
      for (int64_t i = 0; i < nq; i++) {
        const float *p = probs + po + i * n, *pk = kept + po + i * n;
        const float *d_row = d_out + (q0 + i) * W + col;
        if (g_null) axpy(pk[0], d_row, g_null + (H + h) * dh, dh);
        if (gv)
          for (int64_t j = 1; j < n; j++) axpy(pk[j], d_row, gv + (k0 + j - 1) * W + col, dh);
        if (!scores) continue;
        /* dP = dO·[v_null; v]ᵀ, back through dropout, then the softmax: dS = P ⊙ (dP − Σ dP ⊙ P). */
        double s = 0;
        for (int64_t j = 0; j < n; j++) {
          float g = dot(d_row, j == 0 ? null_v : a->v + (k0 + j - 1) * W + col, dh);
          if (a->bits) g = a->bits[po + i * n + j] >= a->threshold ? (float)(g * a->keep) : 0.0f;
          ds[j] = g;
          s += (double)g * p[j];
        }
        for (int64_t j = 0; j < n; j++) ds[j] = (float)(p[j] * (ds[j] - s) * a->scale);
        const float *qi = a->q + (q0 + i) * W + col;
        if (gq) axpy(ds[0], null_k, gq + (q0 + i) * W + col, dh);
        if (g_null) axpy(ds[0], qi, g_null + col, dh);
        for (int64_t j = 1; j < n; j++) {
          const float *kj = a->k + (k0 + j - 1) * W + col;
          if (gq) axpy(ds[j], kj, gq + (q0 + i) * W + col, dh);
          if (gk) axpy(ds[j], qi, gk + (k0 + j - 1) * W + col, dh);
        }
      }
    }
  }
  free(ds);
  return true;
}
