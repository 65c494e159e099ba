/* Element-wise vector kernels (vector.h). */
#include "vector.h"

#include <math.h>
#include <string.h>

/* JavaScript never fuses a multiply and an add; neither may these loops, or results would differ
 * from js.ts in the last bit (-march=native lets the compiler contract by default; the backend
 * tests compare bits and fail with contraction on). */
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

void vec_axpy(int64_t n, double alpha, const float *x, float *y, bool overwrite) {
  /* The float sum of two floats equals the float64 sum rounded to float: one loop in float. */
  if (overwrite)
    for (int64_t i = 0; i < n; i++) y[i] = (float)(alpha * (double)x[i]);
  else if (alpha == 1.0)
    for (int64_t i = 0; i < n; i++) y[i] = y[i] + x[i];
  else
    for (int64_t i = 0; i < n; i++) y[i] = (float)((double)y[i] + alpha * (double)x[i]);
}

/* One span of out = a op b, element by element. */
#define VEC_BINARY_LOOP(EXPR)                                                                      \
  for (int64_t j = 0; j < len; j++) {                                                              \
    const float x = a[j], y = b[j];                                                                 \
    out[j] = (EXPR);                                                                               \
  }

/* +, −, ×, ÷ of two floats, rounded once, equal the float64 result rounded to float (53 ≥ 2·24 + 2),
 * so these run in float. */
static void binary_span(vec_op op, const float *a, const float *b, int64_t len, float *out) {
  switch (op) {
    case VEC_ADD: VEC_BINARY_LOOP(x + y) break;
    case VEC_SUB: VEC_BINARY_LOOP(x - y) break;
    case VEC_MUL: VEC_BINARY_LOOP(x * y) break;
    case VEC_DIV: VEC_BINARY_LOOP(x / y) break;
  }
}

void vec_binary_cycle(vec_op op, const float *a, const float *b, int64_t n, int64_t m, float *out) {
  if (m <= 0) return;
  for (int64_t base = 0; base < n; base += m) binary_span(op, a + base, b, m, out + base);
}

#define VEC_SCALAR_LOOP(EXPR)                                                                      \
  for (int64_t j = 0; j < each; j++) {                                                             \
    const float x = ar[j];                                                                          \
    outr[j] = (EXPR);                                                                              \
  }

void vec_binary_repeat(vec_op op, const float *a, const float *b, int64_t n, int64_t each, float *out) {
  if (each <= 0) return;
  for (int64_t r = 0, base = 0; base < n; r++, base += each) {
    const float y = b[r];
    const float *ar = a + base;
    float *outr = out + base;
    switch (op) {
      case VEC_ADD: VEC_SCALAR_LOOP(x + y) break;
      case VEC_SUB: VEC_SCALAR_LOOP(x - y) break;
      case VEC_MUL: VEC_SCALAR_LOOP(x * y) break;
      case VEC_DIV: VEC_SCALAR_LOOP(x / y) break;
    }
  }
}

void vec_add_product_repeat(const float *g, const float *y, int64_t n, int64_t each, float *into) {
  if (each <= 0) return;
  for (int64_t r = 0, base = 0; base < n; r++, base += each) {
    const double yr = y[r];
    for (int64_t j = base; j < base + each; j++) into[j] = (float)((double)into[j] + (double)g[j] * yr);
  }
}

/* Four rows at a time: each row keeps its own sum, added in column order as in js.ts, but four
 * independent chains of float64 adds fill the pipeline where one chain waits on every add's
 * latency (a row of 637 categories took about 4 cycles a column). */
void vec_add_row_dots(const float *g, const float *y, int64_t n, int64_t each, float *into) {
  if (each <= 0) return;
  const int64_t rows = n / each;
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const float *g0 = g + r * each, *y0 = y + r * each;
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int64_t j = 0; j < each; j++) {
      s0 += (double)g0[j] * (double)y0[j];
      s1 += (double)g0[each + j] * (double)y0[each + j];
      s2 += (double)g0[2 * each + j] * (double)y0[2 * each + j];
      s3 += (double)g0[3 * each + j] * (double)y0[3 * each + j];
    }
    into[r] = (float)((double)into[r] + s0);
    into[r + 1] = (float)((double)into[r + 1] + s1);
    into[r + 2] = (float)((double)into[r + 2] + s2);
    into[r + 3] = (float)((double)into[r + 3] + s3);
  }
  for (; r < rows; r++) {
    double s = 0;
    for (int64_t j = r * each; j < (r + 1) * each; j++) s += (double)g[j] * (double)y[j];
    into[r] = (float)((double)into[r] + s);
  }
}

static inline uint32_t rotl32(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

void vec_xoshiro_words(uint32_t state[4], uint32_t *out, int64_t n) {
  uint32_t s0 = state[0], s1 = state[1], s2 = state[2], s3 = state[3];
  for (int64_t i = 0; i < n; i++) {
    out[i] = rotl32(s1 * 5, 7) * 9;
    const uint32_t t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl32(s3, 11);
  }
  state[0] = s0;
  state[1] = s1;
  state[2] = s2;
  state[3] = s3;
}

void vec_gated_block_add(const vec_gated_block *b, float *out) {
  for (int64_t r = 0; r < b->rows; r++) {
    const double gk = b->gates[r * b->experts + b->expert];
    const int64_t base = r * b->width + b->column;
    for (int64_t j = base; j < base + b->d; j++) out[j] = (float)((double)out[j] + gk * (double)b->y[j]);
  }
}

void vec_gated_block_backward(const vec_gated_block *b, const float *g_out, float *gy, float *g_gates) {
  for (int64_t r = 0; r < b->rows; r++) {
    const double gk = b->gates[r * b->experts + b->expert];
    const int64_t base = r * b->width + b->column;
    if (gy)
      for (int64_t j = base; j < base + b->d; j++) gy[j] = (float)((double)gy[j] + gk * (double)g_out[j]);
    if (!g_gates) continue;
    /* In column order, as JavaScript adds (no -ffast-math: the compiler keeps the order). */
    double dot = 0;
    for (int64_t j = base; j < base + b->d; j++) dot += (double)b->y[j] * (double)g_out[j];
    float *gg = g_gates + r * b->experts + b->expert;
    *gg = (float)((double)*gg + dot);
  }
}

void vec_adam(const vec_adam_args *h, int64_t n, float *w, const float *g, float *m, float *v) {
  const double b1 = h->beta1, b2 = h->beta2, c1 = 1 - b1, c2 = 1 - b2, wd = h->weight_decay;
  const double lr_wd = h->lr * wd;
  for (int64_t j = 0; j < n; j++) {
    double gi = g[j];
    if (wd != 0) {
      if (h->decoupled)
        w[j] = (float)((double)w[j] - lr_wd * (double)w[j]);
      else
        gi += wd * (double)w[j];
    }
    const double mi = b1 * (double)m[j] + c1 * gi;
    const double vi = b2 * (double)v[j] + c2 * gi * gi;
    m[j] = (float)mi;
    v[j] = (float)vi;
    w[j] = (float)((double)w[j] - (h->step_size * mi) / (sqrt(vi) * h->rbc2 + h->eps));
  }
}

void vec_indexed_add_rows(const float *src, const int32_t *rows, int64_t n, float *dst, int64_t w, bool scatter) {
  for (int64_t i = 0; i < n; i++) {
    const float *s = src + (scatter ? i : (int64_t)rows[i]) * w;
    float *d = dst + (scatter ? (int64_t)rows[i] : i) * w;
    for (int64_t j = 0; j < w; j++) d[j] += s[j];
  }
}

void vec_gather_rows(const float *src, const int32_t *rows, int64_t n, float *dst, int64_t w) {
  for (int64_t i = 0; i < n; i++) memcpy(dst + i * w, src + (int64_t)rows[i] * w, (size_t)w * sizeof *dst);
}

void vec_add_rows(const float *src, int64_t ss, float *dst, int64_t ds, int64_t rows, int64_t w) {
  for (int64_t r = 0; r < rows; r++) {
    const float *a = src + r * ss;
    float *b = dst + r * ds;
    for (int64_t j = 0; j < w; j++) b[j] = b[j] + a[j];
  }
}

void vec_rotary(const float *src, float *dst, const double *cos, const double *sin, const int32_t *positions,
                int64_t rows, int64_t half, double sign, bool add) {
  for (int64_t r = 0; r < rows; r++) {
    const float *x1 = src + r * 2 * half, *x2 = x1 + half;
    float *d1 = dst + r * 2 * half, *d2 = d1 + half;
    const double *c = cos + (int64_t)positions[r] * half, *sn = sin + (int64_t)positions[r] * half;
    for (int64_t i = 0; i < half; i++) {
      const double s = sign * sn[i], a = x1[i], b = x2[i];
      const float u = (float)(a * c[i] - b * s), v = (float)(b * c[i] + a * s);
      /* The float sum of two floats is their float64 sum rounded: js.ts adds fround(u) in float64. */
      d1[i] = add ? d1[i] + u : u;
      d2[i] = add ? d2[i] + v : v;
    }
  }
}
