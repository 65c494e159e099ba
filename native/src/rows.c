/*
 * Row-wise and element-wise training kernels (rows.h). Loops are written for gcc's
 * auto-vectoriser (binding.gyp: -O3 -march=native -fopenmp-simd): sums over a row in double,
 * as the js reference computes them, and no branches in the element loops.
 */
#include "rows.h"

#include "exp.h"

#include <math.h>
#include <stddef.h>

void rows_layer_norm(const float *x, const float *gamma, const float *beta, double eps, int64_t rows,
                     int64_t d, float *out, float *xhat, float *rstd) {
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = x + r * d;
    float *hr = xhat + r * d;
    float *yr = out + r * d;
    double sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < d; j++) sum += xr[j];
    const double mu = sum / (double)d;
    double var = 0;
#pragma omp simd reduction(+ : var)
    for (int64_t j = 0; j < d; j++) {
      const double c = xr[j] - mu;
      var += c * c;
    }
    const double rs = 1.0 / sqrt(var / (double)d + eps);
    rstd[r] = (float)rs;
#pragma omp simd
    for (int64_t j = 0; j < d; j++) {
      const double h = (xr[j] - mu) * rs;
      hr[j] = (float)h;
      yr[j] = (float)(h * gamma[j] + beta[j]);
    }
  }
}

/* One row's share of the gradients of an affine output gamma ⊙ u + beta (either may be NULL). */
static inline void affine_grads(const float *dy, const float *u, int64_t d, float *g_gamma, float *g_beta) {
  if (g_gamma) {
#pragma omp simd
    for (int64_t j = 0; j < d; j++) g_gamma[j] += dy[j] * u[j];
  }
  if (g_beta) {
#pragma omp simd
    for (int64_t j = 0; j < d; j++) g_beta[j] += dy[j];
  }
}

void rows_layer_norm_backward(const float *dy, const float *xhat, const float *rstd, const float *gamma,
                              int64_t rows, int64_t d, float *gx, bool accumulate, float *g_gamma,
                              float *g_beta) {
  for (int64_t r = 0; r < rows; r++) {
    const float *gr = dy + r * d;
    const float *hr = xhat + r * d;
    affine_grads(gr, hr, d, g_gamma, g_beta);
    if (!gx) continue;
    double sum_g = 0, sum_gx = 0;
#pragma omp simd reduction(+ : sum_g, sum_gx)
    for (int64_t j = 0; j < d; j++) {
      const double gh = (double)gr[j] * gamma[j];
      sum_g += gh;
      sum_gx += gh * hr[j];
    }
    const double f = rstd[r] / (double)d;
    float *xr = gx + r * d;
    if (accumulate) {
#pragma omp simd
      for (int64_t j = 0; j < d; j++)
        xr[j] += (float)(f * ((double)d * gr[j] * gamma[j] - sum_g - hr[j] * sum_gx));
    } else {
#pragma omp simd
      for (int64_t j = 0; j < d; j++)
        xr[j] = (float)(f * ((double)d * gr[j] * gamma[j] - sum_g - hr[j] * sum_gx));
    }
  }
}

void rows_rms_norm(const float *x, const float *gamma, double eps, int64_t rows, int64_t d, float *out,
                   float *norms) {
  const double c = sqrt((double)d);
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = x + r * d;
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < d; j++) s += (double)xr[j] * xr[j];
    /* Not fmax: it drops a NaN, which must reach the row's outputs as in the js reference. */
    const double root = sqrt(s), n = root > eps || root != root ? root : eps;
    norms[r] = (float)n;
    const double k = c / n;
    float *o = out + r * d;
#pragma omp simd
    for (int64_t j = 0; j < d; j++) o[j] = (float)(xr[j] * k * gamma[j]);
  }
}

void rows_rms_norm_backward(const float *dy, const float *x, const float *norms, const float *gamma, double eps,
                            int64_t rows, int64_t d, float *gx, bool accumulate, float *g_gamma) {
  const double c = sqrt((double)d);
  const float clamped = (float)eps;
  for (int64_t r = 0; r < rows; r++) {
    const float *gr = dy + r * d, *xr = x + r * d;
    const double inv = 1.0 / norms[r], k = c * inv;
    double dot = 0;
    if (g_gamma)
      for (int64_t j = 0; j < d; j++) g_gamma[j] += (float)(gr[j] * xr[j] * k);
#pragma omp simd reduction(+ : dot)
    for (int64_t j = 0; j < d; j++) dot += gr[j] * xr[j] * k * gamma[j];
    if (!gx) continue;
    /* Clamped to eps (the norm holds eps rounded to float): x/eps has no projection term. */
    const double back = norms[r] <= clamped ? 0 : dot * inv;
    float *o = gx + r * d;
    if (accumulate) {
#pragma omp simd
      for (int64_t j = 0; j < d; j++) o[j] += (float)((gr[j] * gamma[j] * c - xr[j] * back) * inv);
    } else {
#pragma omp simd
      for (int64_t j = 0; j < d; j++) o[j] = (float)((gr[j] * gamma[j] * c - xr[j] * back) * inv);
    }
  }
}

/* tanh(y) = sign(y)·(1 - 2/(e^{2|y|} + 1)), in double: the subtraction loses about 1e-16 in
 * absolute terms, far below a float's precision for |y| >= 1e-6; below that tanh(y) = y to
 * within y²/3. |y| is capped at 20 (tanh(20) is 1 in double). NaN stays NaN through the
 * arithmetic (the cap's comparison is false for it): neither fmin nor an explicit y != y test,
 * since gcc 12 vectorises the loops that call this with neither of them. */
static inline double tanh_d(double y) {
  const double abs_y = fabs(y);
  const double a = abs_y > 20.0 ? 20.0 : abs_y;
  const double e = exp_double(2.0 * a);
  const double t = copysign(1.0 - 2.0 / (e + 1.0), y);
  return a < 1e-6 ? y : t;
}

void rows_dyt(const float *x, double alpha, const float *gamma, const float *beta, int64_t rows, int64_t d,
              float *out, float *t) {
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = x + r * d;
    float *tr = t + r * d;
    float *yr = out + r * d;
#pragma omp simd
    for (int64_t j = 0; j < d; j++) {
      const double th = tanh_d(alpha * xr[j]);
      tr[j] = (float)th;
      yr[j] = (float)(gamma[j] * th + beta[j]);
    }
  }
}

void rows_tanh(const float *x, int64_t n, float *y) {
#pragma omp simd
  for (int64_t i = 0; i < n; i++) y[i] = (float)tanh_d(x[i]);
}

double rows_dyt_backward(const float *dy, const float *x, const float *t, double alpha, const float *gamma,
                         int64_t rows, int64_t d, float *gx, bool accumulate, float *g_gamma, float *g_beta) {
  double g_alpha = 0;
  for (int64_t r = 0; r < rows; r++) {
    const float *gr = dy + r * d;
    const float *xr = x + r * d;
    const float *tr = t + r * d;
    float *xg = gx ? gx + r * d : NULL;
    double row_alpha = 0;
#pragma omp simd reduction(+ : row_alpha)
    for (int64_t j = 0; j < d; j++) {
      const double pre = (double)gr[j] * gamma[j] * (1.0 - (double)tr[j] * tr[j]);
      row_alpha += pre * xr[j];
    }
    g_alpha += row_alpha;
    if (xg && accumulate) {
#pragma omp simd
      for (int64_t j = 0; j < d; j++) xg[j] += (float)((double)gr[j] * gamma[j] * (1.0 - (double)tr[j] * tr[j]) * alpha);
    } else if (xg) {
#pragma omp simd
      for (int64_t j = 0; j < d; j++) xg[j] = (float)((double)gr[j] * gamma[j] * (1.0 - (double)tr[j] * tr[j]) * alpha);
    }
    affine_grads(gr, tr, d, g_gamma, g_beta);
  }
  return g_alpha;
}

void rows_dropout(const float *x, const uint32_t *bits, uint32_t threshold, double keep, int64_t n,
                  float *out, float *scale) {
  /* No `restrict` on bits and scale (they may alias); element i's word is loaded before its scale
   * is stored, in scalar and vector code alike. The product is taken in double with the exact
   * keep and rounded once, as the js reference does (scale holds keep rounded to float). */
  const float keep_f = (float)keep;
  for (int64_t i = 0; i < n; i++) {
    const bool kept = bits[i] >= threshold;
    scale[i] = kept ? keep_f : 0.0f;
    out[i] = kept ? (float)(x[i] * keep) : 0.0f;
  }
}
