/* Coordinate descent (coordinate_descent.h): the loops of the JS reference, with exp_double. */
#include "coordinate_descent.h"

#include <math.h>
#include <stdlib.h>

#include "exp.h"

bool descent_forward(const descent_shape *d, const float *s, double log_k, float *sm, uint8_t *active, float *out) {
  const int64_t T = d->iterations, n = d->n;
  double *buf = malloc((size_t)(3 * (n > 0 ? n : 1)) * sizeof *buf);
  if (!buf) return false;
  double *sv = buf, *b = buf + n, *z = buf + 2 * n;
  for (int64_t r = 0; r < d->rows; r++) {
    const int64_t m = d->start[r + 1] - d->start[r];
    const int32_t *cols = d->index + d->start[r];
    if (m == 0) continue;
    for (int64_t j = 0; j < m; j++) {
      sv[j] = s[r * n + cols[j]];
      b[j] = -sv[j];
    }
    double ar = 0;
    for (int64_t t = 0; t < T; t++) {
      const double inv = 1.0 / d->eps[t];
      double max = -INFINITY;
      for (int64_t j = 0; j < m; j++) {
        z[j] = (sv[j] + b[j]) * inv;
        max = z[j] > max ? z[j] : max;
      }
      double total = 0;
#pragma omp simd reduction(+ : total)
      for (int64_t j = 0; j < m; j++) {
        z[j] = exp_double(z[j] - max);
        total += z[j];
      }
      ar = d->eps[t] * (log_k - max - log(total));
      const int64_t at = T * d->start[r] + t * m;
      const double norm = 1.0 / total;
      for (int64_t j = 0; j < m; j++) {
        sm[at + j] = (float)(z[j] * norm);
        const double x = sv[j] + ar;
        active[at + j] = x > 0;
        b[j] = x > 0 ? -x : 0;
      }
    }
    for (int64_t j = 0; j < m; j++) out[r * n + cols[j]] = (float)exp_double((sv[j] + ar + b[j]) / d->eps[T]);
  }
  free(buf);
  return true;
}

bool descent_backward(const descent_shape *d, const float *sm, const uint8_t *active, const float *out,
                      const float *d_out, float *gs) {
  const int64_t T = d->iterations, n = d->n;
  double *buf = malloc((size_t)(2 * (n > 0 ? n : 1)) * sizeof *buf);
  if (!buf) return false;
  double *db = buf, *g = buf + n;
  for (int64_t r = 0; r < d->rows; r++) {
    const int64_t m = d->start[r + 1] - d->start[r];
    const int32_t *cols = d->index + d->start[r];
    /* p = exp(u), u = (s + a + b)/eps_T. */
    double da = 0;
    for (int64_t j = 0; j < m; j++) {
      const double du = ((double)d_out[r * n + cols[j]] * out[r * n + cols[j]]) / d->eps[T];
      db[j] = du;
      da += du;
      g[j] = du;
    }
    for (int64_t t = T - 1; t >= 0; t--) {
      const int64_t at = T * d->start[r] + t * m;
      for (int64_t j = 0; j < m; j++) {
        const double gb = active[at + j] ? -db[j] : 0;
        g[j] += gb;
        da += gb;
      }
      for (int64_t j = 0; j < m; j++) {
        const double dz = -d->eps[t] * da * sm[at + j];
        g[j] += dz / d->eps[t];
        db[j] = dz / d->eps[t];
      }
      da = 0;
    }
    for (int64_t j = 0; j < m; j++) gs[r * n + cols[j]] += (float)(g[j] - db[j]); /* b_{-1} = -s */
  }
  free(buf);
  return true;
}
