/*
 * Coordinate descent (coordinate_descent.h): the loops of the JS reference, with exp_double.
 * Rows are independent, so threads split them and every output is the same bits on any count.
 */
#include "coordinate_descent.h"

#include <math.h>
#include <stdlib.h>

#include "exp.h"
#include "parallel.h"

/* Rows a part takes at the least: a row is T iterations over its entries. */
#define DESCENT_MIN_ROWS 64

/* What both directions' parts share: the shape, and a row buffer of `per_part` doubles per part. */
typedef struct {
  const descent_shape *d;
  double *buf;
  int64_t per_part;
} rows_job;

typedef struct {
  rows_job rows; /* first: the part functions cast the rows_job pointer back to this struct */
  const float *s;
  double log_k;
  float *sm, *out;
  uint8_t *active;
} forward_job;

typedef struct {
  rows_job rows;
  const float *sm, *out, *d_out;
  const uint8_t *active;
  float *gs;
} backward_job;

/* Splits rows [0, d->rows) of `job` (a forward_job or backward_job) over the threads, each part
 * with `per_column` doubles of buffer per column. Returns false, having run nothing, when the
 * buffers cannot be allocated. */
static bool run_rows(rows_job *job, int64_t per_column, void (*fn)(void *, int64_t, int64_t, int)) {
  const int threads = parallel_threads(); /* at most PARALLEL_MAX_PARTS */
  job->per_part = per_column * (job->d->n > 0 ? job->d->n : 1);
  job->buf = malloc((size_t)threads * (size_t)job->per_part * sizeof *job->buf);
  if (!job->buf) return false;
  parallel_rows(job->d->rows, threads, DESCENT_MIN_ROWS, fn, job);
  free(job->buf);
  return true;
}

static void forward_rows(void *arg, int64_t begin, int64_t end, int part) {
  const forward_job *job = arg;
  const descent_shape *d = job->rows.d;
  const float *s = job->s;
  float *sm = job->sm, *out = job->out;
  uint8_t *active = job->active;
  const double log_k = job->log_k;
  const int64_t T = d->iterations, n = d->n;
  double *buf = job->rows.buf + part * job->rows.per_part;
  double *sv = buf, *b = buf + n, *z = buf + 2 * n;
  for (int64_t r = begin; r < end; r++) {
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
}

bool descent_forward(const descent_shape *d, const float *s, double log_k, float *sm, uint8_t *active, float *out) {
  forward_job job = {.rows = {.d = d}, .s = s, .log_k = log_k, .sm = sm, .active = active, .out = out};
  return run_rows(&job.rows, 3, forward_rows);
}

static void backward_rows(void *arg, int64_t begin, int64_t end, int part) {
  const backward_job *job = arg;
  const descent_shape *d = job->rows.d;
  const float *sm = job->sm, *out = job->out, *d_out = job->d_out;
  const uint8_t *active = job->active;
  float *gs = job->gs;
  const int64_t T = d->iterations, n = d->n;
  double *buf = job->rows.buf + part * job->rows.per_part;
  double *db = buf, *g = buf + n;
  for (int64_t r = begin; r < end; r++) {
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
}

bool descent_backward(const descent_shape *d, const float *sm, const uint8_t *active, const float *out,
                      const float *d_out, float *gs) {
  backward_job job = {.rows = {.d = d}, .sm = sm, .out = out, .d_out = d_out, .active = active, .gs = gs};
  return run_rows(&job.rows, 2, backward_rows);
}
