/*
 * cammsr native kernels: an N-API (version 8) addon over OpenBLAS.
 *
 * Implements the Kernels interface of src/kernels/kernels.ts. src/kernels/js.ts is the
 * reference: every function here matches its semantics (up to float rounding), including
 * how NaN and infinities flow through. Every entry point validates its arguments and the
 * lengths of the arrays it is given, and throws a JS TypeError/RangeError instead of ever
 * touching memory outside them.
 *
 * The element-wise kernels are plain C loops written so that gcc auto-vectorises them (see
 * binding.gyp: -O3 -march=native -fno-math-errno -fno-trapping-math -fopenmp-simd). There is no
 * -ffast-math: it would let the compiler assume that there are no infinities or NaNs, and the
 * reference semantics depend on them (-inf logits are masked entries, for one).
 */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <cblas.h>
#include <node_api.h>

#include "attention.h"
#include "coordinate_descent.h"
#include "routed_attention.h"
#include "parallel.h"
#include "rows.h"
#include "vector.h"

/* Largest integer a JS number holds exactly. */
#define MAX_SAFE_INT 9007199254740991.0
/* Largest dimension, leading dimension or stride OpenBLAS accepts (blasint is 32-bit). */
#define MAX_BLAS_INT 2147483647.0

/* ---------------------------------------------------------------------------------------
 * Argument handling. Helpers return false after throwing; the caller then returns NULL.
 * ------------------------------------------------------------------------------------- */

typedef enum { ERR_PLAIN, ERR_TYPE, ERR_RANGE } err_kind;

static bool throwf(napi_env env, err_kind kind, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return false; /* keep the first error */
  if (kind == ERR_TYPE)
    napi_throw_type_error(env, NULL, msg);
  else if (kind == ERR_RANGE)
    napi_throw_range_error(env, NULL, msg);
  else
    napi_throw_error(env, NULL, msg);
  return false;
}

/* A failed N-API call is a bug or an engine problem, not bad input: report it as an Error. */
static bool napi_ok_or_throw(napi_env env, napi_status status, const char *fn, const char *what) {
  if (status == napi_ok) return true;
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  return throwf(env, ERR_PLAIN, "%s: N-API call failed (%s): %s", fn, what,
                info && info->error_message ? info->error_message : "unknown error");
}

/* Throws and returns NULL from an N-API callback. */
#define THROW(...)                                                                                \
  do {                                                                                           \
    throwf(__VA_ARGS__);                                                                         \
    return NULL;                                                                                 \
  } while (0)

#define NAPI_TRY(env, fn, call)                                                                   \
  do {                                                                                           \
    if (!napi_ok_or_throw((env), (call), (fn), #call)) return NULL;                              \
  } while (0)

/* Fetches exactly `want` arguments (extra ones are an error too: they signal a wrong call). */
static bool get_args(napi_env env, napi_callback_info info, const char *fn, size_t want,
                     napi_value *argv) {
  size_t argc = want;
  if (!napi_ok_or_throw(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL), fn, "get_cb_info"))
    return false;
  if (argc != want)
    return throwf(env, ERR_TYPE, "%s: expected %zu arguments, got %zu", fn, want, argc);
  return true;
}

static bool get_number(napi_env env, napi_value v, const char *fn, const char *name, double *out) {
  napi_valuetype t;
  if (!napi_ok_or_throw(env, napi_typeof(env, v, &t), fn, "typeof")) return false;
  if (t != napi_number) return throwf(env, ERR_TYPE, "%s: %s must be a number", fn, name);
  return napi_ok_or_throw(env, napi_get_value_double(env, v, out), fn, "get_value_double");
}

/* A non-negative integer no larger than `max` (a size, leading dimension or stride). */
static bool get_count(napi_env env, napi_value v, const char *fn, const char *name, double max,
                      int64_t *out) {
  double d;
  if (!get_number(env, v, fn, name, &d)) return false;
  if (!(d >= 0 && d <= max && d == floor(d)))
    return throwf(env, ERR_RANGE, "%s: %s must be an integer in [0, %.0f], got %.17g", fn, name, max, d);
  *out = (int64_t)d;
  return true;
}

static bool get_bool(napi_env env, napi_value v, const char *fn, const char *name, bool *out) {
  napi_valuetype t;
  if (!napi_ok_or_throw(env, napi_typeof(env, v, &t), fn, "typeof")) return false;
  if (t != napi_boolean) return throwf(env, ERR_TYPE, "%s: %s must be a boolean", fn, name);
  return napi_ok_or_throw(env, napi_get_value_bool(env, v, out), fn, "get_value_bool");
}

/* The element pointer and length of a typed array of the given type. N-API's data pointer
 * already includes the view's byteOffset, so subarray views work as they do in JS. */
static bool get_typed(napi_env env, napi_value v, const char *fn, const char *name,
                      napi_typedarray_type want, const char *want_name, void **data, size_t *len) {
  bool is_typed = false;
  if (!napi_ok_or_throw(env, napi_is_typedarray(env, v, &is_typed), fn, "is_typedarray")) return false;
  napi_typedarray_type type = napi_int8_array;
  if (is_typed &&
      !napi_ok_or_throw(env, napi_get_typedarray_info(env, v, &type, len, data, NULL, NULL), fn,
                        "get_typedarray_info"))
    return false;
  if (!is_typed || type != want) return throwf(env, ERR_TYPE, "%s: %s must be a %s", fn, name, want_name);
  return true;
}

static bool get_f32(napi_env env, napi_value v, const char *fn, const char *name, float **data,
                    size_t *len) {
  return get_typed(env, v, fn, name, napi_float32_array, "Float32Array", (void **)data, len);
}

static bool get_i8(napi_env env, napi_value v, const char *fn, const char *name, int8_t **data,
                   size_t *len) {
  return get_typed(env, v, fn, name, napi_int8_array, "Int8Array", (void **)data, len);
}

static bool get_u32(napi_env env, napi_value v, const char *fn, const char *name, uint32_t **data,
                    size_t *len) {
  return get_typed(env, v, fn, name, napi_uint32_array, "Uint32Array", (void **)data, len);
}

/* A Float32Array or null (*data = NULL, *len = 0). */
static bool get_f32_or_null(napi_env env, napi_value v, const char *fn, const char *name, float **data,
                            size_t *len) {
  napi_valuetype t;
  if (!napi_ok_or_throw(env, napi_typeof(env, v, &t), fn, "typeof")) return false;
  if (t != napi_null) return get_typed(env, v, fn, name, napi_float32_array, "Float32Array or null",
                                       (void **)data, len);
  *data = NULL;
  *len = 0;
  return true;
}

/* Checks that an array of `len` elements holds `count` rows×cols matrices with row stride
 * `ld`, matrix i starting at element i·stride. Strides are non-negative, so the last matrix
 * reaches furthest. All values are < 2^31, so the int64 arithmetic cannot overflow. */
static bool check_matrix(napi_env env, const char *fn, const char *name, const char *ld_name,
                         size_t len, int64_t rows, int64_t cols, int64_t ld, int64_t stride,
                         int64_t count) {
  if (rows == 0 || cols == 0 || count == 0) return true; /* nothing is read or written */
  if (ld < cols)
    return throwf(env, ERR_RANGE, "%s: %s = %lld is less than the %lld elements of a stored row of %s",
                  fn, ld_name, (long long)ld, (long long)cols, name);
  int64_t need = (count - 1) * stride + (rows - 1) * ld + cols;
  if ((uint64_t)need > (uint64_t)len) {
    if (count > 1)
      return throwf(env, ERR_RANGE,
                    "%s: %s has %zu elements but %lld matrices of %lldx%lld (%s = %lld, stride %lld) need %lld",
                    fn, name, len, (long long)count, (long long)rows, (long long)cols, ld_name,
                    (long long)ld, (long long)stride, (long long)need);
    return throwf(env, ERR_RANGE, "%s: %s has %zu elements but a %lldx%lld matrix with %s = %lld needs %lld",
                  fn, name, len, (long long)rows, (long long)cols, ld_name, (long long)ld,
                  (long long)need);
  }
  return true;
}

/* rows·cols elements must fit in the array. */
static bool check_rows(napi_env env, const char *fn, const char *name, size_t len, int64_t rows,
                       int64_t cols) {
  uint64_t need;
  if (__builtin_mul_overflow((uint64_t)rows, (uint64_t)cols, &need) || need > (uint64_t)len)
    return throwf(env, ERR_RANGE, "%s: %s has %zu elements but %lld rows of %lld need %.17g", fn, name,
                  len, (long long)rows, (long long)cols, (double)rows * (double)cols);
  return true;
}

static bool check_len(napi_env env, const char *fn, const char *name, size_t len, int64_t n) {
  if ((uint64_t)n > (uint64_t)len)
    return throwf(env, ERR_RANGE, "%s: %s has %zu elements but n = %lld", fn, name, len, (long long)n);
  return true;
}

/* A dropout threshold: an integer in [0, 2^32 - 1], compared with the random words. */
static bool check_threshold(napi_env env, const char *fn, double threshold) {
  if (!(threshold >= 0 && threshold <= 4294967295.0 && threshold == floor(threshold)))
    return throwf(env, ERR_RANGE, "%s: threshold must be an integer in [0, 2^32 - 1], got %.17g", fn, threshold);
  return true;
}

/* Packed sequences' offsets (`what` names them): len >= 1 values from 0, non-decreasing. */
static bool check_rising(napi_env env, const char *fn, const char *what, const int32_t *offsets, size_t len) {
  if (len < 1 || offsets[0] != 0) return throwf(env, ERR_RANGE, "%s: %s must start at 0", fn, what);
  for (size_t b = 0; b + 1 < len; b++)
    if (offsets[b + 1] < offsets[b])
      return throwf(env, ERR_RANGE, "%s: %s decrease at sequence %lld", fn, what, (long long)b);
  return true;
}

/* ---------------------------------------------------------------------------------------
 * GEMM
 * ------------------------------------------------------------------------------------- */

/* C ← beta·C for an m×n matrix, as js.ts does when k = 0 or alpha = 0 (beta = 0 clears, so NaN
 * in C does not survive). The product is taken in double and rounded once, like the JS. */
static void scale_matrix(float *c, int64_t m, int64_t n, int64_t ldc, double beta) {
  for (int64_t i = 0; i < m; i++) {
    float *row = c + i * ldc;
    if (beta == 0)
      memset(row, 0, (size_t)n * sizeof(float));
    else if (beta != 1)
      for (int64_t j = 0; j < n; j++) row[j] = (float)(row[j] * beta);
  }
}

/* One validated GEMM. OpenBLAS handles beta = 0 by writing C without reading it. */
static void gemm_one(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const float *a,
                     int64_t lda, const float *b, int64_t ldb, double beta, float *c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == 0) {
    scale_matrix(c, m, n, ldc, beta);
    return;
  }
  if (m == 1 && tb) {
    /* One row against a transposed B (a user against the item table) is B·aᵀ: sgemv reads B once
       where sgemm first copies it into packed panels (a third of the time on a 12k × 128 table).
       C is cleared first so that beta = 0 ignores NaN there, as the interface promises. */
    if (beta == 0) memset(c, 0, (size_t)n * sizeof(float));
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (blasint)n, (blasint)k, (float)alpha, b, (blasint)ldb, a,
                ta ? (blasint)lda : 1, (float)beta, c, 1);
    return;
  }
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (blasint)m,
              (blasint)n, (blasint)k, (float)alpha, a, (blasint)lda, b, (blasint)ldb, (float)beta, c,
              (blasint)ldc);
}

/* Everything sgemm and sgemmStridedBatched share, read from argv in interface order. */
typedef struct {
  bool ta, tb;
  int64_t m, n, k, lda, ldb, ldc, stride_a, stride_b, stride_c, batch;
  double alpha, beta;
  float *a, *b, *c;
  size_t len_a, len_b, len_c;
} gemm_args;

static bool read_gemm_args(napi_env env, const char *fn, napi_value *argv, bool batched, gemm_args *g) {
  /* batched: (ta, tb, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, batch) */
  const int s = batched ? 1 : 0; /* each stride shifts the later arguments by one */
  g->stride_a = g->stride_b = g->stride_c = 0;
  g->batch = 1;
  if (!get_bool(env, argv[0], fn, "transA", &g->ta) || !get_bool(env, argv[1], fn, "transB", &g->tb) ||
      !get_count(env, argv[2], fn, "m", MAX_BLAS_INT, &g->m) ||
      !get_count(env, argv[3], fn, "n", MAX_BLAS_INT, &g->n) ||
      !get_count(env, argv[4], fn, "k", MAX_BLAS_INT, &g->k) ||
      !get_number(env, argv[5], fn, "alpha", &g->alpha) ||
      !get_f32(env, argv[6], fn, "a", &g->a, &g->len_a) ||
      !get_count(env, argv[7], fn, "lda", MAX_BLAS_INT, &g->lda) ||
      (batched && !get_count(env, argv[8], fn, "strideA", MAX_BLAS_INT, &g->stride_a)) ||
      !get_f32(env, argv[8 + s], fn, "b", &g->b, &g->len_b) ||
      !get_count(env, argv[9 + s], fn, "ldb", MAX_BLAS_INT, &g->ldb) ||
      (batched && !get_count(env, argv[11], fn, "strideB", MAX_BLAS_INT, &g->stride_b)) ||
      !get_number(env, argv[10 + 2 * s], fn, "beta", &g->beta) ||
      !get_f32(env, argv[11 + 2 * s], fn, "c", &g->c, &g->len_c) ||
      !get_count(env, argv[12 + 2 * s], fn, "ldc", MAX_BLAS_INT, &g->ldc) ||
      (batched && !get_count(env, argv[15], fn, "strideC", MAX_BLAS_INT, &g->stride_c)) ||
      (batched && !get_count(env, argv[16], fn, "batch", MAX_BLAS_INT, &g->batch)))
    return false;

  /* op(A) is m×k: stored m×k, or k×m when transposed (likewise B: k×n, or n×k). */
  if (g->m == 0 || g->n == 0) return true; /* C is empty: nothing is read or written */
  if (!check_matrix(env, fn, "c", "ldc", g->len_c, g->m, g->n, g->ldc, g->stride_c, g->batch))
    return false;
  if (g->k == 0) return true; /* only C is touched (scaled by beta) */
  return check_matrix(env, fn, "a", "lda", g->len_a, g->ta ? g->k : g->m, g->ta ? g->m : g->k, g->lda,
                      g->stride_a, g->batch) &&
         check_matrix(env, fn, "b", "ldb", g->len_b, g->tb ? g->n : g->k, g->tb ? g->k : g->n, g->ldb,
                      g->stride_b, g->batch);
}

static napi_value Sgemm(napi_env env, napi_callback_info info) {
  napi_value argv[13];
  gemm_args g;
  if (!get_args(env, info, "sgemm", 13, argv) || !read_gemm_args(env, "sgemm", argv, false, &g)) return NULL;
  gemm_one(g.ta, g.tb, g.m, g.n, g.k, g.alpha, g.a, g.lda, g.b, g.ldb, g.beta, g.c, g.ldc);
  return NULL;
}

/* The whole batch in one N-API call; each GEMM goes to OpenBLAS, which threads the large ones. */
static napi_value SgemmStridedBatched(napi_env env, napi_callback_info info) {
  const char *fn = "sgemmStridedBatched";
  napi_value argv[17];
  gemm_args g;
  if (!get_args(env, info, fn, 17, argv) || !read_gemm_args(env, fn, argv, true, &g)) return NULL;
  for (int64_t i = 0; i < g.batch; i++)
    gemm_one(g.ta, g.tb, g.m, g.n, g.k, g.alpha, g.a + i * g.stride_a, g.lda, g.b + i * g.stride_b, g.ldb,
             g.beta, g.c + i * g.stride_c, g.ldc);
  return NULL;
}

/* ---------------------------------------------------------------------------------------
 * exp, vectorisable
 * ------------------------------------------------------------------------------------- */

static inline uint32_t f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u); /* compiles to a register move; vectorises */
  return u;
}

static inline float f32_from_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/*
 * exp(hi + lo) in float, where lo is a small correction to hi (the rounding error of how hi was
 * computed): carrying it keeps the result within ~1 ulp of exp of the exact argument, where a
 * rounded argument alone would cost |hi|·2^-24 relative (1e-6 at hi = -17).
 * libm's expf is a function call gcc cannot vectorise, so this is the usual Cody-Waite
 * reduction to r in [-ln2/2, ln2/2] plus Cephes' degree-6 polynomial, in branch-free code.
 * Special values: hi < -104 (incl. -inf) gives 0 (the true result is below half the smallest
 * denormal); hi > 88.72 gives +inf; NaN stays NaN. Results in the denormal range are
 * correctly scaled: 2^n is applied as two normal factors.
 */
static inline float exp_hilo(float hi, float lo) {
  const float shifter = 12582912.0f; /* 1.5·2^23: adding it rounds to an integer, kept in the low bits */
  const float log2e = 1.44269504088896341f;
  const float ln2_hi = 0.693359375f; /* ln 2 split so that n·ln2_hi is exact for |n| <= 2^8 */
  const float ln2_lo = -2.12194440e-4f;
  const bool overflow = hi > 88.72283f;
  lo = hi > -104.0f ? lo : 0.0f; /* lo may be NaN when hi = ±inf (inf - inf); it no longer matters */
  hi = hi < -104.0f ? -104.0f : hi; /* comparisons are false for NaN: NaN passes through */
  hi = hi > 88.72283f ? 88.72283f : hi;

  const float t = hi * log2e + shifter;
  const float n = t - shifter;                          /* round(hi / ln2), in [-150, 128] */
  const float r = ((hi - n * ln2_hi) - n * ln2_lo) + lo; /* exp(hi + lo) = 2^n · exp(r) */
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;

  /* 2^n as 2^n1 · 2^n2 with both halves in the normal range, so denormal results are right. */
  const int32_t ni = (int32_t)(f32_bits(t) - f32_bits(shifter));
  const int32_t n1 = ni / 2, n2 = ni - n1;
  const float s1 = f32_from_bits((uint32_t)(n1 + 127) << 23);
  const float s2 = f32_from_bits((uint32_t)(n2 + 127) << 23);
  const float e = p * s1 * s2;
  return overflow ? INFINITY : e;
}

/* exp(x - m) from the exact difference: s + err == x - m (Knuth's TwoSum). */
static inline float exp_diff(float x, float m) {
  const float s = x - m;
  const float z = s - x;
  const float err = (x - (s - z)) + (-m - z);
  return exp_hilo(s, err);
}

/* ---------------------------------------------------------------------------------------
 * Row-wise softmax and cross-entropy
 * ------------------------------------------------------------------------------------- */

/*
 * max over x[0..n) ignoring NaN, -INFINITY if there is no larger value: exactly the
 * `if (v > max) max = v` of js.ts. With `omp simd` each vector lane keeps its own maximum with
 * this same NaN-ignoring compare (vmaxps has exactly these semantics), so no lane ever holds
 * NaN when the lanes are combined; the lanes start at -INFINITY (IEEE infinities are honoured
 * because there is no -ffast-math), so an all -inf (or all NaN) row gives -INFINITY.
 */
static float row_max(const float *x, size_t n) {
  float m = -INFINITY;
#pragma omp simd reduction(max : m)
  for (size_t j = 0; j < n; j++) m = x[j] > m ? x[j] : m;
  return m;
}

/* x[j] ← exp(x[j] - m); returns the sum in double. The pragma allows reassociating the sum
 * (in double, across vector lanes) and nothing else. */
static double exp_shift_sum(float *x, size_t n, float m) {
  double sum = 0;
#pragma omp simd reduction(+ : sum)
  for (size_t j = 0; j < n; j++) {
    const float e = exp_diff(x[j], m);
    x[j] = e;
    sum += e;
  }
  return sum;
}

static void scale_row(float *x, size_t n, float s) {
  for (size_t j = 0; j < n; j++) x[j] *= s;
}

static napi_value SoftmaxRows(napi_env env, napi_callback_info info) {
  const char *fn = "softmaxRows";
  napi_value argv[3];
  float *x;
  size_t len;
  int64_t rows, cols;
  if (!get_args(env, info, fn, 3, argv) || !get_f32(env, argv[0], fn, "x", &x, &len) ||
      !get_count(env, argv[1], fn, "rows", MAX_SAFE_INT, &rows) ||
      !get_count(env, argv[2], fn, "cols", MAX_SAFE_INT, &cols) || !check_rows(env, fn, "x", len, rows, cols))
    return NULL;
  for (int64_t r = 0; r < rows; r++) {
    float *row = x + r * cols;
    const float m = row_max(row, (size_t)cols);
    if (m == -INFINITY) { /* only -inf (or NaN) entries: all probabilities are 0, as in js.ts */
      memset(row, 0, (size_t)cols * sizeof(float));
      continue;
    }
    const double sum = exp_shift_sum(row, (size_t)cols, m); /* >= 1: the max contributes exp(0) */
    scale_row(row, (size_t)cols, (float)(1.0 / sum));
  }
  return NULL;
}

/* Rows [begin, end) of a crossEntropyRows call: the loss into partial[part], the gradient in place. */
typedef struct {
  float *x;
  const int32_t *targets;
  int64_t cols;
  double grad_scale;
  double partial[PARALLEL_MAX_PARTS];
} ce_rows_job;

/* Below this many logits a part is not worth a thread. */
#define CE_MIN_ELEMENTS 262144

/* The rows of `cols` that make up `elements` (at least the rows a part must have to be worth a
 * thread; parallel_rows takes 0 as 1). */
static int64_t rows_holding(int64_t elements, int64_t cols) { return elements / (cols > 0 ? cols : 1); }

static void ce_rows_part(void *arg, int64_t begin, int64_t end, int part) {
  ce_rows_job *j = arg;
  double total = 0;
  for (int64_t r = begin; r < end; r++) {
    float *row = j->x + r * j->cols;
    const int32_t t = j->targets[r];
    const float m = row_max(row, (size_t)j->cols);
    const float xt = row[t];
    /* With exp(x - m) stored, softmax = e / sum; one multiply per element instead of the second
     * exp(x - logZ) of js.ts (same value up to rounding). An all -inf row gives NaN, as in js.ts. */
    const double sum = exp_shift_sum(row, (size_t)j->cols, m);
    total += ((double)m + log(sum)) - (double)xt; /* logZ - x[t] */
    scale_row(row, (size_t)j->cols, (float)(j->grad_scale / sum));
    row[t] = (float)((double)row[t] - j->grad_scale);
  }
  j->partial[part] = total;
}

static napi_value CrossEntropyRows(napi_env env, napi_callback_info info) {
  const char *fn = "crossEntropyRows";
  napi_value argv[5];
  float *x;
  int32_t *targets;
  size_t len, len_t;
  int64_t rows, cols;
  double grad_scale;
  if (!get_args(env, info, fn, 5, argv) || !get_f32(env, argv[0], fn, "logits", &x, &len) ||
      !get_count(env, argv[1], fn, "rows", MAX_SAFE_INT, &rows) ||
      !get_count(env, argv[2], fn, "cols", MAX_SAFE_INT, &cols) ||
      !get_typed(env, argv[3], fn, "targets", napi_int32_array, "Int32Array", (void **)&targets, &len_t) ||
      !get_number(env, argv[4], fn, "gradScale", &grad_scale) ||
      !check_rows(env, fn, "logits", len, rows, cols))
    return NULL;
  if ((uint64_t)rows > (uint64_t)len_t)
    THROW(env, ERR_RANGE, "%s: targets has %zu elements but rows = %lld", fn, len_t, (long long)rows);
  /* Validate every target before writing anything (js.ts throws at the first bad row, after
   * having overwritten the rows before it; the message is the same). */
  for (int64_t r = 0; r < rows; r++)
    if (targets[r] < 0 || targets[r] >= cols)
      THROW(env, ERR_RANGE, "%s: target %d of row %lld not in [0, %lld)", fn, (int)targets[r], (long long)r,
            (long long)cols);

  ce_rows_job job = {x, targets, cols, grad_scale, {0}};
  /* Rows split over the kernel threads; each part sums its own losses, added in part order. */
  const int parts = parallel_rows(rows, parallel_threads(), rows_holding(CE_MIN_ELEMENTS, cols), ce_rows_part, &job);
  double total = 0;
  for (int p = 0; p < parts; p++) total += job.partial[p];
  napi_value out;
  NAPI_TRY(env, fn, napi_create_double(env, total, &out));
  return out;
}

/* Rows [begin, end) of a softTargetCrossEntropyRows call, as ce_rows_part. */
typedef struct {
  float *x;
  const int32_t *offsets, *items;
  const float *weights;
  int64_t cols, first;
  double grad_scale;
  double partial[PARALLEL_MAX_PARTS];
} soft_ce_job;

static void soft_ce_rows_part(void *arg, int64_t begin, int64_t end, int part) {
  soft_ce_job *j = arg;
  double total = 0;
  for (int64_t r = begin; r < end; r++) {
    float *row = j->x + r * j->cols;
    const int32_t q0 = j->offsets[j->first + r], q1 = j->offsets[j->first + r + 1];
    double mass = 0, picked = 0;
    for (int32_t q = q0; q < q1; q++) {
      mass += j->weights[q];
      picked += (double)j->weights[q] * row[j->items[q]];
    }
    const float m = row_max(row, (size_t)j->cols);
    const double sum = exp_shift_sum(row, (size_t)j->cols, m);
    /* Σ w (logZ − x[t]); a row without targets adds nothing (not 0 · logZ, NaN when logZ is not finite). */
    if (q1 > q0) total += mass * ((double)m + log(sum)) - picked;
    scale_row(row, (size_t)j->cols, (float)(j->grad_scale * mass / sum));
    for (int32_t q = q0; q < q1; q++)
      row[j->items[q]] = (float)((double)row[j->items[q]] - j->grad_scale * j->weights[q]);
  }
  j->partial[part] = total;
}

static napi_value SoftTargetCrossEntropyRows(napi_env env, napi_callback_info info) {
  const char *fn = "softTargetCrossEntropyRows";
  napi_value argv[8];
  float *x, *weights;
  int32_t *offsets, *items;
  size_t len, len_o, len_i, len_w;
  int64_t rows, cols, first;
  double grad_scale;
  if (!get_args(env, info, fn, 8, argv) || !get_f32(env, argv[0], fn, "logits", &x, &len) ||
      !get_count(env, argv[1], fn, "rows", MAX_SAFE_INT, &rows) ||
      !get_count(env, argv[2], fn, "cols", MAX_SAFE_INT, &cols) ||
      !get_typed(env, argv[3], fn, "offsets", napi_int32_array, "Int32Array", (void **)&offsets, &len_o) ||
      !get_typed(env, argv[4], fn, "items", napi_int32_array, "Int32Array", (void **)&items, &len_i) ||
      !get_f32(env, argv[5], fn, "weights", &weights, &len_w) ||
      !get_count(env, argv[6], fn, "first", MAX_SAFE_INT, &first) ||
      !get_number(env, argv[7], fn, "gradScale", &grad_scale) || !check_rows(env, fn, "logits", len, rows, cols))
    return NULL;
  if ((uint64_t)(first + rows + 1) > (uint64_t)len_o)
    THROW(env, ERR_RANGE, "%s: rows %lld..%lld need %lld offsets, got %zu", fn, (long long)first,
          (long long)(first + rows), (long long)(first + rows + 1), len_o);
  if (len_w < len_i) THROW(env, ERR_RANGE, "%s: %zu weights for %zu items", fn, len_w, len_i);
  /* Validate every row's targets before writing anything. */
  for (int64_t r = first; r < first + rows; r++) {
    if (!(offsets[r] >= 0 && offsets[r] <= offsets[r + 1] && (size_t)offsets[r + 1] <= len_i))
      THROW(env, ERR_RANGE, "%s: offsets of row %lld must rise within %zu items", fn, (long long)(r - first), len_i);
    for (int32_t q = offsets[r]; q < offsets[r + 1]; q++)
      if (items[q] < 0 || items[q] >= cols)
        THROW(env, ERR_RANGE, "%s: target %d of row %lld not in [0, %lld)", fn, (int)items[q],
              (long long)(r - first), (long long)cols);
  }
  soft_ce_job job = {x, offsets, items, weights, cols, first, grad_scale, {0}};
  const int parts =
      parallel_rows(rows, parallel_threads(), rows_holding(CE_MIN_ELEMENTS, cols), soft_ce_rows_part, &job);
  double total = 0;
  for (int p = 0; p < parts; p++) total += job.partial[p];
  napi_value out;
  NAPI_TRY(env, fn, napi_create_double(env, total, &out));
  return out;
}

/* ---------------------------------------------------------------------------------------
 * Binary cross-entropy with logits (the category losses: hundreds of labels per position)
 * ------------------------------------------------------------------------------------- */

/*
 * log(1 + e) for e in [0, 1] as 2·atanh(s), s = e / (2 + e) in [0, 1/3]: the odd series to s^13
 * is within 1e-8 (below float resolution), vectorises, and has no cancellation for tiny e
 * (where log1p(e) ≈ e), unlike log(1 + e).
 */
static inline float log1p_unit(float e) {
  const float s = e / (2.0f + e);
  const float s2 = s * s;
  float p = 1.0f / 13.0f;
  p = p * s2 + 1.0f / 11.0f;
  p = p * s2 + 1.0f / 9.0f;
  p = p * s2 + 1.0f / 7.0f;
  p = p * s2 + 1.0f / 5.0f;
  p = p * s2 + 1.0f / 3.0f;
  p = p * s2 + 1.0f;
  return 2.0f * s * p;
}

static napi_value BceWithLogits(napi_env env, napi_callback_info info) {
  const char *fn = "bceWithLogits";
  napi_value argv[4];
  float *x, *y, *diff;
  size_t len_x, len_y, len_d;
  int64_t n;
  if (!get_args(env, info, fn, 4, argv) || !get_f32(env, argv[0], fn, "x", &x, &len_x) ||
      !get_f32(env, argv[1], fn, "y", &y, &len_y) || !get_f32(env, argv[2], fn, "diff", &diff, &len_d) ||
      !get_count(env, argv[3], fn, "n", MAX_SAFE_INT, &n) || !check_len(env, fn, "x", len_x, n) ||
      !check_len(env, fn, "y", len_y, n) || !check_len(env, fn, "diff", len_d, n))
    return NULL;
  double total = 0;
#pragma omp simd reduction(+ : total)
  for (int64_t i = 0; i < n; i++) {
    const float v = x[i];
    const float e = exp_hilo(-fabsf(v), 0.0f); /* in (0, 1] */
    const float inv = 1.0f / (1.0f + e);
    total += (double)((v > 0.0f ? v : 0.0f) - v * y[i] + log1p_unit(e));
    diff[i] = (v >= 0.0f ? inv : e * inv) - y[i]; /* σ(v) - y without overflow */
  }
  napi_value out;
  NAPI_TRY(env, fn, napi_create_double(env, total, &out));
  return out;
}

/* ---------------------------------------------------------------------------------------
 * Scores against an 8-bit item table (serving large catalogs): the table is a quarter of the
 * bytes of a float32 one, and reading it is most of a request over a million items. The users
 * of a call take the block in turn (a block of a batch is small enough to stay in cache).
 * ------------------------------------------------------------------------------------- */

/* One user against n rows of codes. With AVX-512 (or AVX2) 16 (8) codes are widened to float in
 * two instructions and four rows are summed at once, so that each row's horizontal sum is paid
 * once and four sums are in flight; gcc does not vectorise the widening by itself. */
#if defined(__AVX512F__)
#define INT8_LANES 16
typedef __m512 vsum;
static inline vsum vzero(void) { return _mm512_setzero_ps(); }
static inline vsum vfma_codes(vsum acc, const float *u, const int8_t *q) {
  const __m512 codes = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)q)));
  return _mm512_fmadd_ps(_mm512_loadu_ps(u), codes, acc);
}
static inline float vhsum(vsum v) { return _mm512_reduce_add_ps(v); }
#elif defined(__AVX2__) && defined(__FMA__)
#define INT8_LANES 8
typedef __m256 vsum;
static inline vsum vzero(void) { return _mm256_setzero_ps(); }
static inline vsum vfma_codes(vsum acc, const float *u, const int8_t *q) {
  const __m256 codes = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)q)));
  return _mm256_fmadd_ps(_mm256_loadu_ps(u), codes, acc);
}
static inline float vhsum(vsum v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}
#endif

static void score_int8_user(const float *u, const int8_t *codes, const float *scales, int64_t n,
                            int64_t dim, float *out) {
  int64_t i = 0;
#ifdef INT8_LANES
  const int64_t vec = dim - dim % INT8_LANES;
  for (; i + 4 <= n; i += 4) {
    const int8_t *r = codes + i * dim;
    vsum s0 = vzero(), s1 = vzero(), s2 = vzero(), s3 = vzero();
    for (int64_t j = 0; j < vec; j += INT8_LANES) {
      s0 = vfma_codes(s0, u + j, r + j);
      s1 = vfma_codes(s1, u + j, r + dim + j);
      s2 = vfma_codes(s2, u + j, r + 2 * dim + j);
      s3 = vfma_codes(s3, u + j, r + 3 * dim + j);
    }
    float d[4] = {vhsum(s0), vhsum(s1), vhsum(s2), vhsum(s3)};
    for (int64_t j = vec; j < dim; j++)
      for (int q = 0; q < 4; q++) d[q] += u[j] * (float)r[q * dim + j];
    for (int q = 0; q < 4; q++) out[i + q] = scales[i + q] * d[q];
  }
#endif
  for (; i < n; i++) {
    const int8_t *r = codes + i * dim;
    float d = 0;
    for (int64_t j = 0; j < dim; j++) d += u[j] * (float)r[j];
    out[i] = scales[i] * d;
  }
}

static napi_value ScoreInt8Rows(napi_env env, napi_callback_info info) {
  /* (users, B, codes, scales, n, dim, out) */
  const char *fn = "scoreInt8Rows";
  napi_value argv[7];
  float *users, *scales, *out;
  int8_t *codes;
  size_t len_u, len_c, len_s, len_o;
  int64_t B, n, dim;
  if (!get_args(env, info, fn, 7, argv) || !get_f32(env, argv[0], fn, "users", &users, &len_u) ||
      !get_count(env, argv[1], fn, "B", MAX_BLAS_INT, &B) || !get_i8(env, argv[2], fn, "codes", &codes, &len_c) ||
      !get_f32(env, argv[3], fn, "scales", &scales, &len_s) ||
      !get_count(env, argv[4], fn, "n", MAX_BLAS_INT, &n) || !get_count(env, argv[5], fn, "dim", MAX_BLAS_INT, &dim) ||
      !get_f32(env, argv[6], fn, "out", &out, &len_o) || !check_rows(env, fn, "users", len_u, B, dim) ||
      !check_rows(env, fn, "codes", len_c, n, dim) || !check_len(env, fn, "scales", len_s, n) ||
      !check_rows(env, fn, "out", len_o, B, n))
    return NULL;
  for (int64_t b = 0; b < B; b++) score_int8_user(users + b * dim, codes, scales, n, dim, out + b * n);
  return NULL;
}

/* ---------------------------------------------------------------------------------------
 * GELU (exact, erf-based), with erf by Abramowitz & Stegun 7.1.26 as js.ts computes it. Not
 * libm's erff: that is more accurate, but A&S differs from the true erf by up to 1e-2 relative
 * in GELU's negative tail, and the js reference defines the values; erff does not vectorise
 * either. The rational part is evaluated in double (4 lanes instead of 8, still cheap) to stay
 * within ~2e-7 of the formula; exp(-v²/2) in float via exp_hilo.
 * ------------------------------------------------------------------------------------- */

/* exp(-v²/2) from the exact square: a float product is exact in double (24 + 24 bits < 53). */
static inline float exp_half_square(float v) {
  const double h = -0.5 * ((double)v * (double)v);
  const float hi = (float)h;
  return exp_hilo(hi, (float)(h - (double)hi));
}

/* With x = v/√2: 1 + erf(x) = 2 - poly(t)·exp(-x²) for x >= 0, and poly(t)·exp(-x²) for x < 0,
 * t = 1/(1 + p·|x|). Returns poly(t)/2, so that Φ(v) = hp·e (v < 0) or 1 - hp·e (v >= 0), with
 * e = exp(-v²/2): written this way there is no cancellation in the tail. */
static inline double half_poly(float v) {
  const double ax = fabs((double)v) * 0.70710678118654752;
  const double t = 1.0 / (1.0 + 0.3275911 * ax);
  return 0.5 * t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
}

/* Below this many elements a part of an element-wise kernel is not worth a thread. Alone, with
 * the pool's workers awake, GELU or layer norm over 147,456 floats takes half the time on two
 * threads; within a training step it does not: the data sits in the first core's cache, the
 * worker may have gone to sleep, and dropout over that size was slower split. Over 589,824
 * floats GELU takes half the time in a step too. Kernels split only where each element or row
 * is computed alone, so that the result does not depend on the thread count. */
#define ELEMENTWISE_MIN_ELEMENTS 131072

typedef struct {
  const float *x, *dy;
  float *y;
} gelu_job;

/* No `restrict`: y may be x (in place); gcc checks for overlap at run time. */
static void gelu_part(void *arg, int64_t begin, int64_t end, int part) {
  (void)part;
  const gelu_job *j = arg;
  for (int64_t i = begin; i < end; i++) {
    const float v = j->x[i];
    const double q = half_poly(v) * exp_half_square(v);
    j->y[i] = (float)(v < 0 ? v * q : v * (1.0 - q)); /* v·Φ(v) */
  }
}

static void gelu_backward_part(void *arg, int64_t begin, int64_t end, int part) {
  (void)part;
  const gelu_job *j = arg;
  const double inv_sqrt_2pi = 0.39894228040143268;
  for (int64_t i = begin; i < end; i++) {
    const float v = j->x[i];
    const double hp = half_poly(v), vc = v * inv_sqrt_2pi;
    const double e = exp_half_square(v);
    /* GELU'(v) = Φ(v) + v·φ(v), φ(v) = e/√(2π). Factoring out e keeps the sum accurate where the
     * two terms cancel (around v = -0.75, GELU's minimum). */
    const double d = v < 0 ? e * (hp + vc) : 1.0 + e * (vc - hp);
    j->y[i] = (float)(j->dy[i] * d);
  }
}

/* Reads the (x, y, n) of an element-wise kernel y = f(x), both arrays at least n long. */
static bool read_unary(napi_env env, napi_callback_info info, const char *fn, float **x, float **y, int64_t *n) {
  napi_value argv[3];
  size_t len_x, len_y;
  return get_args(env, info, fn, 3, argv) && get_f32(env, argv[0], fn, "x", x, &len_x) &&
         get_f32(env, argv[1], fn, "y", y, &len_y) && get_count(env, argv[2], fn, "n", MAX_SAFE_INT, n) &&
         check_len(env, fn, "x", len_x, *n) && check_len(env, fn, "y", len_y, *n);
}

static napi_value Gelu(napi_env env, napi_callback_info info) {
  float *x, *y;
  int64_t n;
  if (!read_unary(env, info, "gelu", &x, &y, &n)) return NULL;
  gelu_job job = {x, NULL, y};
  parallel_rows(n, parallel_threads(), ELEMENTWISE_MIN_ELEMENTS, gelu_part, &job);
  return NULL;
}

static napi_value Tanh(napi_env env, napi_callback_info info) {
  float *x, *y;
  int64_t n;
  if (!read_unary(env, info, "tanh", &x, &y, &n)) return NULL;
  rows_tanh(x, n, y);
  return NULL;
}

static napi_value GeluBackward(napi_env env, napi_callback_info info) {
  const char *fn = "geluBackward";
  napi_value argv[4];
  float *x, *dy, *dx;
  size_t len_x, len_dy, len_dx;
  int64_t n;
  if (!get_args(env, info, fn, 4, argv) || !get_f32(env, argv[0], fn, "x", &x, &len_x) ||
      !get_f32(env, argv[1], fn, "dy", &dy, &len_dy) || !get_f32(env, argv[2], fn, "dx", &dx, &len_dx) ||
      !get_count(env, argv[3], fn, "n", MAX_SAFE_INT, &n) || !check_len(env, fn, "x", len_x, n) ||
      !check_len(env, fn, "dy", len_dy, n) || !check_len(env, fn, "dx", len_dx, n))
    return NULL;
  gelu_job job = {x, dy, dx};
  parallel_rows(n, parallel_threads(), ELEMENTWISE_MIN_ELEMENTS, gelu_backward_part, &job);
  return NULL;
}

/* ---------------------------------------------------------------------------------------
 * Layer norm, DyT and dropout (the arithmetic is in rows.c)
 * ------------------------------------------------------------------------------------- */

typedef struct {
  const float *x, *gamma, *beta;
  double eps;
  int64_t d;
  float *out, *xhat, *rstd;
} layer_norm_job;

static void layer_norm_part(void *arg, int64_t begin, int64_t end, int part) {
  (void)part;
  const layer_norm_job *j = arg;
  const int64_t o = begin * j->d;
  rows_layer_norm(j->x + o, j->gamma, j->beta, j->eps, end - begin, j->d, j->out + o, j->xhat + o, j->rstd + begin);
}

static napi_value LayerNorm(napi_env env, napi_callback_info info) {
  const char *fn = "layerNorm";
  napi_value argv[9];
  float *x, *gamma, *beta, *out, *xhat, *rstd;
  size_t len_x, len_g, len_b, len_o, len_h, len_r;
  double eps;
  int64_t rows, d;
  if (!get_args(env, info, fn, 9, argv) || !get_f32(env, argv[0], fn, "x", &x, &len_x) ||
      !get_f32(env, argv[1], fn, "gamma", &gamma, &len_g) || !get_f32(env, argv[2], fn, "beta", &beta, &len_b) ||
      !get_number(env, argv[3], fn, "eps", &eps) || !get_count(env, argv[4], fn, "rows", MAX_SAFE_INT, &rows) ||
      !get_count(env, argv[5], fn, "d", MAX_SAFE_INT, &d) || !get_f32(env, argv[6], fn, "out", &out, &len_o) ||
      !get_f32(env, argv[7], fn, "xhat", &xhat, &len_h) || !get_f32(env, argv[8], fn, "rstd", &rstd, &len_r) ||
      !check_rows(env, fn, "x", len_x, rows, d) || !check_rows(env, fn, "out", len_o, rows, d) ||
      !check_rows(env, fn, "xhat", len_h, rows, d) || !check_len(env, fn, "gamma", len_g, d) ||
      !check_len(env, fn, "beta", len_b, d) || !check_len(env, fn, "rstd", len_r, rows))
    return NULL;
  if (d == 0 && rows > 0) THROW(env, ERR_RANGE, "%s: d must be positive", fn);
  layer_norm_job job = {x, gamma, beta, eps, d, out, xhat, rstd};
  parallel_rows(rows, parallel_threads(), rows_holding(ELEMENTWISE_MIN_ELEMENTS, d), layer_norm_part, &job);
  return NULL;
}

static napi_value LayerNormBackward(napi_env env, napi_callback_info info) {
  const char *fn = "layerNormBackward";
  napi_value argv[10];
  float *dy, *xhat, *rstd, *gamma, *gx, *g_gamma, *g_beta;
  size_t len_dy, len_h, len_r, len_g, len_gx, len_gg, len_gb;
  int64_t rows, d;
  bool accumulate;
  if (!get_args(env, info, fn, 10, argv) || !get_f32(env, argv[0], fn, "dy", &dy, &len_dy) ||
      !get_f32(env, argv[1], fn, "xhat", &xhat, &len_h) || !get_f32(env, argv[2], fn, "rstd", &rstd, &len_r) ||
      !get_f32(env, argv[3], fn, "gamma", &gamma, &len_g) ||
      !get_count(env, argv[4], fn, "rows", MAX_SAFE_INT, &rows) ||
      !get_count(env, argv[5], fn, "d", MAX_SAFE_INT, &d) || !get_f32_or_null(env, argv[6], fn, "gx", &gx, &len_gx) ||
      !get_bool(env, argv[7], fn, "accumulate", &accumulate) ||
      !get_f32_or_null(env, argv[8], fn, "gGamma", &g_gamma, &len_gg) ||
      !get_f32_or_null(env, argv[9], fn, "gBeta", &g_beta, &len_gb) ||
      !check_rows(env, fn, "dy", len_dy, rows, d) || !check_rows(env, fn, "xhat", len_h, rows, d) ||
      !check_len(env, fn, "rstd", len_r, rows) || !check_len(env, fn, "gamma", len_g, d) ||
      (gx && !check_rows(env, fn, "gx", len_gx, rows, d)) || (g_gamma && !check_len(env, fn, "gGamma", len_gg, d)) ||
      (g_beta && !check_len(env, fn, "gBeta", len_gb, d)))
    return NULL;
  rows_layer_norm_backward(dy, xhat, rstd, gamma, rows, d, gx, accumulate, g_gamma, g_beta);
  return NULL;
}

static napi_value RmsNorm(napi_env env, napi_callback_info info) {
  const char *fn = "rmsNorm";
  napi_value argv[7];
  float *x, *gamma, *out, *norms;
  size_t len_x, len_g, len_o, len_n;
  double eps;
  int64_t rows, d;
  if (!get_args(env, info, fn, 7, argv) || !get_f32(env, argv[0], fn, "x", &x, &len_x) ||
      !get_f32(env, argv[1], fn, "gamma", &gamma, &len_g) || !get_number(env, argv[2], fn, "eps", &eps) ||
      !get_count(env, argv[3], fn, "rows", MAX_SAFE_INT, &rows) || !get_count(env, argv[4], fn, "d", MAX_SAFE_INT, &d) ||
      !get_f32(env, argv[5], fn, "out", &out, &len_o) || !get_f32(env, argv[6], fn, "norms", &norms, &len_n) ||
      !check_rows(env, fn, "x", len_x, rows, d) || !check_rows(env, fn, "out", len_o, rows, d) ||
      !check_len(env, fn, "gamma", len_g, d) || !check_len(env, fn, "norms", len_n, rows))
    return NULL;
  if (!(eps > 0)) THROW(env, ERR_RANGE, "%s: eps must be positive, got %.17g", fn, eps);
  rows_rms_norm(x, gamma, eps, rows, d, out, norms);
  return NULL;
}

static napi_value RmsNormBackward(napi_env env, napi_callback_info info) {
  const char *fn = "rmsNormBackward";
  napi_value argv[10];
  float *dy, *x, *norms, *gamma, *gx, *g_gamma;
  size_t len_dy, len_x, len_n, len_g, len_gx, len_gg;
  double eps;
  int64_t rows, d;
  bool accumulate;
  if (!get_args(env, info, fn, 10, argv) || !get_f32(env, argv[0], fn, "dy", &dy, &len_dy) ||
      !get_f32(env, argv[1], fn, "x", &x, &len_x) || !get_f32(env, argv[2], fn, "norms", &norms, &len_n) ||
      !get_f32(env, argv[3], fn, "gamma", &gamma, &len_g) || !get_number(env, argv[4], fn, "eps", &eps) ||
      !get_count(env, argv[5], fn, "rows", MAX_SAFE_INT, &rows) || !get_count(env, argv[6], fn, "d", MAX_SAFE_INT, &d) ||
      !get_f32_or_null(env, argv[7], fn, "gx", &gx, &len_gx) || !get_bool(env, argv[8], fn, "accumulate", &accumulate) ||
      !get_f32_or_null(env, argv[9], fn, "gGamma", &g_gamma, &len_gg) ||
      !check_rows(env, fn, "dy", len_dy, rows, d) || !check_rows(env, fn, "x", len_x, rows, d) ||
      !check_len(env, fn, "norms", len_n, rows) || !check_len(env, fn, "gamma", len_g, d) ||
      (gx && !check_rows(env, fn, "gx", len_gx, rows, d)) || (g_gamma && !check_len(env, fn, "gGamma", len_gg, d)))
    return NULL;
  if (!(eps > 0)) THROW(env, ERR_RANGE, "%s: eps must be positive, got %.17g", fn, eps);
  rows_rms_norm_backward(dy, x, norms, gamma, eps, rows, d, gx, accumulate, g_gamma);
  return NULL;
}

typedef struct {
  const float *x;
  double alpha;
  const float *gamma, *beta;
  int64_t d;
  float *out, *t;
} dyt_job;

static void dyt_part(void *arg, int64_t begin, int64_t end, int part) {
  (void)part;
  const dyt_job *j = arg;
  const int64_t o = begin * j->d;
  rows_dyt(j->x + o, j->alpha, j->gamma, j->beta, end - begin, j->d, j->out + o, j->t + o);
}

static napi_value Dyt(napi_env env, napi_callback_info info) {
  const char *fn = "dyt";
  napi_value argv[8];
  float *x, *gamma, *beta, *out, *t;
  size_t len_x, len_g, len_b, len_o, len_t;
  double alpha;
  int64_t rows, d;
  if (!get_args(env, info, fn, 8, argv) || !get_f32(env, argv[0], fn, "x", &x, &len_x) ||
      !get_number(env, argv[1], fn, "alpha", &alpha) || !get_f32(env, argv[2], fn, "gamma", &gamma, &len_g) ||
      !get_f32(env, argv[3], fn, "beta", &beta, &len_b) || !get_count(env, argv[4], fn, "rows", MAX_SAFE_INT, &rows) ||
      !get_count(env, argv[5], fn, "d", MAX_SAFE_INT, &d) || !get_f32(env, argv[6], fn, "out", &out, &len_o) ||
      !get_f32(env, argv[7], fn, "t", &t, &len_t) || !check_rows(env, fn, "x", len_x, rows, d) ||
      !check_rows(env, fn, "out", len_o, rows, d) || !check_rows(env, fn, "t", len_t, rows, d) ||
      !check_len(env, fn, "gamma", len_g, d) || !check_len(env, fn, "beta", len_b, d))
    return NULL;
  dyt_job job = {x, alpha, gamma, beta, d, out, t};
  parallel_rows(rows, parallel_threads(), rows_holding(ELEMENTWISE_MIN_ELEMENTS, d), dyt_part, &job);
  return NULL;
}

static napi_value DytBackward(napi_env env, napi_callback_info info) {
  const char *fn = "dytBackward";
  napi_value argv[11];
  float *dy, *x, *t, *gamma, *gx, *g_gamma, *g_beta;
  size_t len_dy, len_x, len_t, len_g, len_gx, len_gg, len_gb;
  double alpha;
  int64_t rows, d;
  bool accumulate;
  if (!get_args(env, info, fn, 11, argv) || !get_f32(env, argv[0], fn, "dy", &dy, &len_dy) ||
      !get_f32(env, argv[1], fn, "x", &x, &len_x) || !get_f32(env, argv[2], fn, "t", &t, &len_t) ||
      !get_number(env, argv[3], fn, "alpha", &alpha) || !get_f32(env, argv[4], fn, "gamma", &gamma, &len_g) ||
      !get_count(env, argv[5], fn, "rows", MAX_SAFE_INT, &rows) ||
      !get_count(env, argv[6], fn, "d", MAX_SAFE_INT, &d) || !get_f32_or_null(env, argv[7], fn, "gx", &gx, &len_gx) ||
      !get_bool(env, argv[8], fn, "accumulate", &accumulate) ||
      !get_f32_or_null(env, argv[9], fn, "gGamma", &g_gamma, &len_gg) ||
      !get_f32_or_null(env, argv[10], fn, "gBeta", &g_beta, &len_gb) ||
      !check_rows(env, fn, "dy", len_dy, rows, d) || !check_rows(env, fn, "x", len_x, rows, d) ||
      !check_rows(env, fn, "t", len_t, rows, d) || !check_len(env, fn, "gamma", len_g, d) ||
      (gx && !check_rows(env, fn, "gx", len_gx, rows, d)) || (g_gamma && !check_len(env, fn, "gGamma", len_gg, d)) ||
      (g_beta && !check_len(env, fn, "gBeta", len_gb, d)))
    return NULL;
  napi_value out;
  NAPI_TRY(env, fn,
           napi_create_double(env, rows_dyt_backward(dy, x, t, alpha, gamma, rows, d, gx, accumulate, g_gamma, g_beta),
                              &out));
  return out;
}

typedef struct {
  const float *x;
  const uint32_t *bits;
  uint32_t threshold;
  double keep;
  float *out, *scale;
} dropout_job;

/* bits may be scale's memory: a part reads and writes only its own elements. */
static void dropout_part(void *arg, int64_t begin, int64_t end, int part) {
  (void)part;
  const dropout_job *j = arg;
  rows_dropout(j->x + begin, j->bits + begin, j->threshold, j->keep, end - begin, j->out + begin, j->scale + begin);
}

static napi_value Dropout(napi_env env, napi_callback_info info) {
  const char *fn = "dropout";
  napi_value argv[7];
  float *x, *out, *scale;
  uint32_t *bits;
  size_t len_x, len_bits, len_o, len_s;
  double threshold, keep;
  int64_t n;
  if (!get_args(env, info, fn, 7, argv) || !get_f32(env, argv[0], fn, "x", &x, &len_x) ||
      !get_u32(env, argv[1], fn, "bits", &bits, &len_bits) || !get_number(env, argv[2], fn, "threshold", &threshold) ||
      !get_number(env, argv[3], fn, "keep", &keep) || !get_count(env, argv[4], fn, "n", MAX_SAFE_INT, &n) ||
      !get_f32(env, argv[5], fn, "out", &out, &len_o) || !get_f32(env, argv[6], fn, "scale", &scale, &len_s) ||
      !check_len(env, fn, "x", len_x, n) || !check_len(env, fn, "bits", len_bits, n) ||
      !check_len(env, fn, "out", len_o, n) || !check_len(env, fn, "scale", len_s, n) ||
      !check_threshold(env, fn, threshold))
    return NULL;
  dropout_job job = {x, bits, (uint32_t)threshold, keep, out, scale};
  parallel_rows(n, parallel_threads(), ELEMENTWISE_MIN_ELEMENTS, dropout_part, &job);
  return NULL;
}

/* ---------------------------------------------------------------------------------------
 * Element-wise vector kernels (the arithmetic is in vector.c)
 * ------------------------------------------------------------------------------------- */

static bool get_op(napi_env env, napi_value v, const char *fn, vec_op *op) {
  double d;
  if (!get_number(env, v, fn, "op", &d)) return false;
  if (!(d == VEC_ADD || d == VEC_SUB || d == VEC_MUL || d == VEC_DIV))
    return throwf(env, ERR_RANGE, "%s: op must be 0 (add), 1 (sub), 2 (mul) or 3 (div), got %.17g", fn, d);
  *op = (vec_op)(int)d;
  return true;
}

/* How many runs of `each` make up n (0 when each is 0, which check_period allows only for n = 0). */
static int64_t runs_of(int64_t n, int64_t each) { return each == 0 ? 0 : n / each; }

/* `period` (a cycle's length or a run's) must be positive and divide n. */
static bool check_period(napi_env env, const char *fn, const char *name, int64_t n, int64_t period) {
  if (period == 0 ? n != 0 : n % period != 0)
    return throwf(env, ERR_RANGE, "%s: %s = %lld does not divide n = %lld", fn, name, (long long)period,
                  (long long)n);
  return true;
}

static napi_value Axpy(napi_env env, napi_callback_info info) {
  const char *fn = "axpy";
  napi_value argv[5];
  float *x, *y;
  size_t len_x, len_y;
  int64_t n;
  double alpha, beta;
  if (!get_args(env, info, fn, 5, argv) || !get_count(env, argv[0], fn, "n", MAX_SAFE_INT, &n) ||
      !get_number(env, argv[1], fn, "alpha", &alpha) || !get_f32(env, argv[2], fn, "x", &x, &len_x) ||
      !get_f32(env, argv[3], fn, "y", &y, &len_y) || !get_number(env, argv[4], fn, "beta", &beta) ||
      !check_len(env, fn, "x", len_x, n) || !check_len(env, fn, "y", len_y, n))
    return NULL;
  if (beta != 0 && beta != 1) THROW(env, ERR_RANGE, "%s: beta must be 0 or 1, got %.17g", fn, beta);
  vec_axpy(n, alpha, x, y, beta == 0);
  return NULL;
}

/* binaryCycle(op, a, b, out, n, m) and binaryRepeat(op, a, b, out, n, each): b has n / period
 * elements for a run (repeat), `period` for a cycle. */
static napi_value binary_call(napi_env env, napi_callback_info info, const char *fn, bool cycle) {
  napi_value argv[6];
  vec_op op;
  float *a, *b, *out;
  size_t len_a, len_b, len_o;
  int64_t n, period;
  if (!get_args(env, info, fn, 6, argv) || !get_op(env, argv[0], fn, &op) ||
      !get_f32(env, argv[1], fn, "a", &a, &len_a) || !get_f32(env, argv[2], fn, "b", &b, &len_b) ||
      !get_f32(env, argv[3], fn, "out", &out, &len_o) || !get_count(env, argv[4], fn, "n", MAX_SAFE_INT, &n) ||
      !get_count(env, argv[5], fn, cycle ? "m" : "each", MAX_SAFE_INT, &period) ||
      !check_period(env, fn, cycle ? "m" : "each", n, period) || !check_len(env, fn, "a", len_a, n) ||
      !check_len(env, fn, "out", len_o, n) ||
      !check_len(env, fn, "b", len_b, cycle ? period : runs_of(n, period)))
    return NULL;
  if (cycle)
    vec_binary_cycle(op, a, b, n, period, out);
  else
    vec_binary_repeat(op, a, b, n, period, out);
  return NULL;
}

static napi_value BinaryCycle(napi_env env, napi_callback_info info) {
  return binary_call(env, info, "binaryCycle", true);
}

static napi_value BinaryRepeat(napi_env env, napi_callback_info info) {
  return binary_call(env, info, "binaryRepeat", false);
}

/* addProductRepeat and addRowDots: g [n], and y and into, one of which holds a value per run of
 * `each` (y for addProductRepeat, into for addRowDots: `dots`). */
static napi_value per_run_call(napi_env env, napi_callback_info info, const char *fn, bool dots) {
  napi_value argv[5];
  float *g, *y, *into;
  size_t len_g, len_y, len_i;
  int64_t n, each;
  if (!get_args(env, info, fn, 5, argv) || !get_f32(env, argv[0], fn, "g", &g, &len_g) ||
      !get_f32(env, argv[1], fn, "y", &y, &len_y) || !get_f32(env, argv[2], fn, "into", &into, &len_i) ||
      !get_count(env, argv[3], fn, "n", MAX_SAFE_INT, &n) || !get_count(env, argv[4], fn, "each", MAX_SAFE_INT, &each) ||
      !check_period(env, fn, "each", n, each) || !check_len(env, fn, "g", len_g, n) ||
      !check_len(env, fn, "y", len_y, dots ? n : runs_of(n, each)) ||
      !check_len(env, fn, "into", len_i, dots ? runs_of(n, each) : n))
    return NULL;
  if (dots)
    vec_add_row_dots(g, y, n, each, into);
  else
    vec_add_product_repeat(g, y, n, each, into);
  return NULL;
}

static napi_value AddProductRepeat(napi_env env, napi_callback_info info) {
  return per_run_call(env, info, "addProductRepeat", false);
}

static napi_value AddRowDots(napi_env env, napi_callback_info info) {
  return per_run_call(env, info, "addRowDots", true);
}

/* indexedAddRows' and gatherRows' arrays, read and checked: rows.length rows of `width` on the
 * plain side (src when scattering, dst when gathering), every index a row of the other side.
 * False, with a JS exception pending, when they do not fit. */
static bool read_indexed_rows(napi_env env, const char *fn, napi_value *argv, bool scatter, float **src,
                              int32_t **rows, int64_t *n, float **dst, int64_t *width) {
  size_t len_s, len_r, len_d;
  if (!get_f32(env, argv[0], fn, "src", src, &len_s) ||
      !get_typed(env, argv[1], fn, "rows", napi_int32_array, "Int32Array", (void **)rows, &len_r) ||
      !get_f32(env, argv[2], fn, "dst", dst, &len_d) || !get_count(env, argv[3], fn, "width", MAX_SAFE_INT, width))
    return false;
  const size_t plain = scatter ? len_s : len_d, indexed = scatter ? len_d : len_s;
  *n = (int64_t)len_r;
  if (*width > 0 && (uint64_t)*n > (uint64_t)plain / (uint64_t)*width)
    return throwf(env, ERR_RANGE, "%s: %s has %zu elements, %lld rows of %lld need %.0f", fn, scatter ? "src" : "dst",
                  plain, (long long)*n, (long long)*width,
                  (double)*n * (double)*width); /* n·width may not fit in int64 */
  if (*width == 0) return true;
  /* Every index before any write (js.ts checks them first too; the message is the same). */
  const int64_t count = (int64_t)(indexed / (size_t)*width);
  for (int64_t i = 0; i < *n; i++)
    if ((*rows)[i] < 0 || (*rows)[i] >= count)
      return throwf(env, ERR_RANGE, "%s: row %d (at %lld) out of range [0, %lld)", fn, (int)(*rows)[i], (long long)i,
                    (long long)count);
  return true;
}

/* indexedAddRows(src, rows, dst, width, scatter) adds through the index; gatherRows(src, rows, dst,
 * width) copies (a gather, without the flag). */
static napi_value indexed_rows_call(napi_env env, napi_callback_info info, const char *fn, bool copy) {
  napi_value argv[5];
  float *src, *dst;
  int32_t *rows;
  int64_t n, width;
  bool scatter = false;
  if (!get_args(env, info, fn, copy ? 4 : 5, argv) || (!copy && !get_bool(env, argv[4], fn, "scatter", &scatter)) ||
      !read_indexed_rows(env, fn, argv, scatter, &src, &rows, &n, &dst, &width) || width == 0)
    return NULL;
  if (copy)
    vec_gather_rows(src, rows, n, dst, width);
  else
    vec_indexed_add_rows(src, rows, n, dst, width, scatter);
  return NULL;
}

static napi_value IndexedAddRows(napi_env env, napi_callback_info info) {
  return indexed_rows_call(env, info, "indexedAddRows", false);
}

static napi_value GatherRows(napi_env env, napi_callback_info info) {
  return indexed_rows_call(env, info, "gatherRows", true);
}

/* A row block of copyRows: `rows` rows of `width` floats from `start`, `stride` apart, inside the
 * array and (stride >= width) not overlapping one another. */
static bool check_row_block(napi_env env, const char *fn, const char *name, size_t len, int64_t start,
                            int64_t stride, int64_t rows, int64_t width) {
  if (width > stride)
    return throwf(env, ERR_RANGE, "%s: %s needs width <= stride, got width %lld, stride %lld", fn, name,
                  (long long)width, (long long)stride);
  if (rows == 0) return true;
  /* Each term is below 2^53 (get_count), so only (rows - 1)·stride can overflow: checked by division. */
  if (rows - 1 > (INT64_MAX - start - width) / (stride > 0 ? stride : 1))
    return throwf(env, ERR_RANGE, "%s: %s: %lld rows every %lld do not fit in an array", fn, name,
                  (long long)rows, (long long)stride);
  const int64_t need = start + (rows - 1) * stride + width;
  if ((uint64_t)need > (uint64_t)len)
    return throwf(env, ERR_RANGE, "%s: %s has %zu elements, %lld rows of %lld from %lld every %lld need %lld", fn,
                  name, len, (long long)rows, (long long)width, (long long)start, (long long)stride, (long long)need);
  return true;
}

/* copyRows' and addRows' arguments: two row blocks (array, start, stride) and rows × width. */
typedef struct {
  float *src, *dst;
  int64_t s0, ss, d0, ds, rows, width;
} row_blocks;

static bool get_row_blocks(napi_env env, napi_callback_info info, const char *fn, row_blocks *r) {
  napi_value argv[8];
  size_t len_s, len_d;
  return get_args(env, info, fn, 8, argv) && get_f32(env, argv[0], fn, "src", &r->src, &len_s) &&
         get_count(env, argv[1], fn, "src start", MAX_SAFE_INT, &r->s0) &&
         get_count(env, argv[2], fn, "src stride", MAX_SAFE_INT, &r->ss) &&
         get_f32(env, argv[3], fn, "dst", &r->dst, &len_d) &&
         get_count(env, argv[4], fn, "dst start", MAX_SAFE_INT, &r->d0) &&
         get_count(env, argv[5], fn, "dst stride", MAX_SAFE_INT, &r->ds) &&
         get_count(env, argv[6], fn, "rows", MAX_SAFE_INT, &r->rows) &&
         get_count(env, argv[7], fn, "width", MAX_SAFE_INT, &r->width) &&
         check_row_block(env, fn, "src", len_s, r->s0, r->ss, r->rows, r->width) &&
         check_row_block(env, fn, "dst", len_d, r->d0, r->ds, r->rows, r->width);
}

static napi_value CopyRows(napi_env env, napi_callback_info info) {
  row_blocks r;
  if (!get_row_blocks(env, info, "copyRows", &r)) return NULL;
  /* memmove: src and dst may be views of one buffer, as TypedArray.set allows. */
  for (int64_t i = 0; i < r.rows; i++)
    memmove(r.dst + r.d0 + i * r.ds, r.src + r.s0 + i * r.ss, (size_t)r.width * sizeof(float));
  return NULL;
}

static napi_value AddRows(napi_env env, napi_callback_info info) {
  row_blocks r;
  if (!get_row_blocks(env, info, "addRows", &r)) return NULL;
  vec_add_rows(r.src + r.s0, r.ss, r.dst + r.d0, r.ds, r.rows, r.width);
  return NULL;
}

static napi_value Rotary(napi_env env, napi_callback_info info) {
  const char *fn = "rotary";
  napi_value argv[9];
  float *src, *dst;
  double *cos, *sin, sign;
  int32_t *positions;
  size_t len_s, len_d, len_c, len_n, len_p;
  int64_t rows, half;
  bool add;
  if (!get_args(env, info, fn, 9, argv) || !get_f32(env, argv[0], fn, "src", &src, &len_s) ||
      !get_f32(env, argv[1], fn, "dst", &dst, &len_d) ||
      !get_typed(env, argv[2], fn, "cos", napi_float64_array, "Float64Array", (void **)&cos, &len_c) ||
      !get_typed(env, argv[3], fn, "sin", napi_float64_array, "Float64Array", (void **)&sin, &len_n) ||
      !get_typed(env, argv[4], fn, "positions", napi_int32_array, "Int32Array", (void **)&positions, &len_p) ||
      !get_count(env, argv[5], fn, "rows", MAX_SAFE_INT, &rows) ||
      !get_count(env, argv[6], fn, "half", MAX_SAFE_INT, &half) || !get_number(env, argv[7], fn, "sign", &sign) ||
      !get_bool(env, argv[8], fn, "add", &add))
    return NULL;
  if (sign != 1.0 && sign != -1.0) THROW(env, ERR_RANGE, "%s: sign must be 1 or -1, got %g", fn, sign);
  if (len_c != len_n) THROW(env, ERR_RANGE, "%s: cos has %zu values, sin %zu", fn, len_c, len_n);
  if (half > 0 && (uint64_t)rows > (uint64_t)len_s / (uint64_t)(2 * half))
    THROW(env, ERR_RANGE, "%s: src has %zu elements, %lld rows of %lld need more", fn, len_s, (long long)rows,
          (long long)(2 * half));
  if (half > 0 && (uint64_t)rows > (uint64_t)len_d / (uint64_t)(2 * half))
    THROW(env, ERR_RANGE, "%s: dst has %zu elements, %lld rows of %lld need more", fn, len_d, (long long)rows,
          (long long)(2 * half));
  if ((uint64_t)rows > (uint64_t)len_p)
    THROW(env, ERR_RANGE, "%s: %zu positions for %lld rows", fn, len_p, (long long)rows);
  /* Every position inside the table before any write. */
  const int64_t top = half > 0 ? (int64_t)(len_c / (size_t)half) : 0;
  for (int64_t r = 0; r < rows; r++)
    if (positions[r] < 0 || positions[r] >= top)
      THROW(env, ERR_RANGE, "%s: position %d (row %lld) outside the table of %lld positions", fn, (int)positions[r],
            (long long)r, (long long)top);
  vec_rotary(src, dst, cos, sin, positions, rows, half, sign, add);
  return NULL;
}

static napi_value XoshiroWords(napi_env env, napi_callback_info info) {
  const char *fn = "xoshiroWords";
  napi_value argv[3];
  uint32_t *state, *out;
  size_t len_s, len_o;
  int64_t n;
  if (!get_args(env, info, fn, 3, argv) || !get_u32(env, argv[0], fn, "state", &state, &len_s) ||
      !get_u32(env, argv[1], fn, "out", &out, &len_o) || !get_count(env, argv[2], fn, "n", MAX_SAFE_INT, &n) ||
      !check_len(env, fn, "state", len_s, 4) || !check_len(env, fn, "out", len_o, n))
    return NULL;
  vec_xoshiro_words(state, out, n);
  return NULL;
}

/* Reads and checks the first 8 arguments of gatedBlockAdd and gatedBlockBackward (GatedBlockArgs). */
static bool read_gated_block(napi_env env, const char *fn, napi_value *argv, vec_gated_block *b) {
  float *y, *gates;
  size_t len_y, len_g;
  if (!get_f32(env, argv[0], fn, "y", &y, &len_y) || !get_f32(env, argv[1], fn, "gates", &gates, &len_g) ||
      !get_count(env, argv[2], fn, "experts", MAX_SAFE_INT, &b->experts) ||
      !get_count(env, argv[3], fn, "expert", MAX_SAFE_INT, &b->expert) ||
      !get_count(env, argv[4], fn, "rows", MAX_SAFE_INT, &b->rows) ||
      !get_count(env, argv[5], fn, "width", MAX_SAFE_INT, &b->width) ||
      !get_count(env, argv[6], fn, "column", MAX_SAFE_INT, &b->column) ||
      !get_count(env, argv[7], fn, "d", MAX_SAFE_INT, &b->d) || !check_rows(env, fn, "y", len_y, b->rows, b->width) ||
      !check_rows(env, fn, "gates", len_g, b->rows, b->experts))
    return false;
  if (b->expert >= b->experts || b->column + b->d > b->width)
    return throwf(env, ERR_RANGE, "%s: expert %lld of %lld, columns [%lld, %lld) of %lld", fn, (long long)b->expert,
                  (long long)b->experts, (long long)b->column, (long long)(b->column + b->d), (long long)b->width);
  b->y = y;
  b->gates = gates;
  return true;
}

static napi_value GatedBlockAdd(napi_env env, napi_callback_info info) {
  const char *fn = "gatedBlockAdd";
  napi_value argv[9];
  vec_gated_block b;
  float *out;
  size_t len_o;
  if (!get_args(env, info, fn, 9, argv) || !read_gated_block(env, fn, argv, &b) ||
      !get_f32(env, argv[8], fn, "out", &out, &len_o) || !check_rows(env, fn, "out", len_o, b.rows, b.width))
    return NULL;
  vec_gated_block_add(&b, out);
  return NULL;
}

static napi_value GatedBlockBackward(napi_env env, napi_callback_info info) {
  const char *fn = "gatedBlockBackward";
  napi_value argv[11];
  vec_gated_block b;
  float *g_out, *gy, *g_gates;
  size_t len_o, len_gy, len_gg;
  if (!get_args(env, info, fn, 11, argv) || !read_gated_block(env, fn, argv, &b) ||
      !get_f32(env, argv[8], fn, "gOut", &g_out, &len_o) || !get_f32_or_null(env, argv[9], fn, "gy", &gy, &len_gy) ||
      !get_f32_or_null(env, argv[10], fn, "gGates", &g_gates, &len_gg) ||
      !check_rows(env, fn, "gOut", len_o, b.rows, b.width) || (gy && !check_rows(env, fn, "gy", len_gy, b.rows, b.width)) ||
      (g_gates && !check_rows(env, fn, "gGates", len_gg, b.rows, b.experts)))
    return NULL;
  vec_gated_block_backward(&b, g_out, gy, g_gates);
  return NULL;
}

static napi_value AdamUpdate(napi_env env, napi_callback_info info) {
  const char *fn = "adamUpdate";
  napi_value argv[13];
  float *w, *g, *m, *v;
  size_t len_w, len_g, len_m, len_v;
  int64_t n;
  vec_adam_args h;
  if (!get_args(env, info, fn, 13, argv) || !get_f32(env, argv[0], fn, "w", &w, &len_w) ||
      !get_f32(env, argv[1], fn, "g", &g, &len_g) || !get_f32(env, argv[2], fn, "m", &m, &len_m) ||
      !get_f32(env, argv[3], fn, "v", &v, &len_v) || !get_count(env, argv[4], fn, "n", MAX_SAFE_INT, &n) ||
      !get_number(env, argv[5], fn, "lr", &h.lr) || !get_number(env, argv[6], fn, "beta1", &h.beta1) ||
      !get_number(env, argv[7], fn, "beta2", &h.beta2) || !get_number(env, argv[8], fn, "eps", &h.eps) ||
      !get_number(env, argv[9], fn, "weightDecay", &h.weight_decay) ||
      !get_bool(env, argv[10], fn, "decoupled", &h.decoupled) ||
      !get_number(env, argv[11], fn, "stepSize", &h.step_size) || !get_number(env, argv[12], fn, "rbc2", &h.rbc2) ||
      !check_len(env, fn, "w", len_w, n) || !check_len(env, fn, "g", len_g, n) || !check_len(env, fn, "m", len_m, n) ||
      !check_len(env, fn, "v", len_v, n))
    return NULL;
  vec_adam(&h, n, w, g, m, v);
  return NULL;
}

/* ---------------------------------------------------------------------------------------
 * Fused causal attention (the arithmetic is in attention.c)
 * ------------------------------------------------------------------------------------- */

/* Reads and checks the first 13 arguments both directions share: q, k, v, offsets, heads, d,
 * lastOnly, scale, bits, threshold, keep, probs, kept. */
static bool read_attention(napi_env env, const char *fn, napi_value *argv, attention_args *a, float **probs,
                           float **kept) {
  float *q, *k, *v;
  int32_t *offsets;
  uint32_t *bits = NULL;
  size_t len_q, len_k, len_v, len_off, len_bits = 0, len_p, len_kept;
  int64_t heads, d;
  bool last_only;
  double scale, threshold, keep;
  napi_valuetype bits_type;
  if (!get_f32(env, argv[0], fn, "q", &q, &len_q) || !get_f32(env, argv[1], fn, "k", &k, &len_k) ||
      !get_f32(env, argv[2], fn, "v", &v, &len_v) ||
      !get_typed(env, argv[3], fn, "offsets", napi_int32_array, "Int32Array", (void **)&offsets, &len_off) ||
      !get_count(env, argv[4], fn, "heads", MAX_BLAS_INT, &heads) || !get_count(env, argv[5], fn, "d", MAX_BLAS_INT, &d) ||
      !get_bool(env, argv[6], fn, "lastOnly", &last_only) || !get_number(env, argv[7], fn, "scale", &scale) ||
      !napi_ok_or_throw(env, napi_typeof(env, argv[8], &bits_type), fn, "typeof") ||
      (bits_type != napi_null && !get_u32(env, argv[8], fn, "bits", &bits, &len_bits)) ||
      !get_number(env, argv[9], fn, "threshold", &threshold) || !get_number(env, argv[10], fn, "keep", &keep) ||
      !get_f32(env, argv[11], fn, "probs", probs, &len_p) || !get_f32(env, argv[12], fn, "kept", kept, &len_kept))
    return false;
  if (heads < 1 || d % heads != 0)
    return throwf(env, ERR_RANGE, "%s: width %lld is not a multiple of %lld heads", fn, (long long)d, (long long)heads);
  if (!check_rising(env, fn, "offsets", offsets, len_off) || !check_threshold(env, fn, threshold)) return false;
  const int64_t batch = (int64_t)len_off - 1;
  const int64_t rows = offsets[batch];
  const int64_t count = attention_probability_count(offsets, batch, heads, last_only);
  if (!check_rows(env, fn, "q", len_q, last_only ? batch : rows, d) || !check_rows(env, fn, "k", len_k, rows, d) ||
      !check_rows(env, fn, "v", len_v, rows, d) || !check_len(env, fn, "probs", len_p, count) ||
      !check_len(env, fn, "kept", len_kept, count) || (bits && !check_len(env, fn, "bits", len_bits, count)))
    return false;
  *a = (attention_args){q, k, v, offsets, batch, heads, d, last_only, scale, bits, (uint32_t)threshold, keep};
  return true;
}

static napi_value CausalAttention(napi_env env, napi_callback_info info) {
  const char *fn = "causalAttention";
  napi_value argv[14];
  attention_args a;
  float *probs, *kept, *out;
  size_t len_out;
  if (!get_args(env, info, fn, 14, argv) || !read_attention(env, fn, argv, &a, &probs, &kept) ||
      !get_f32(env, argv[13], fn, "out", &out, &len_out) ||
      !check_rows(env, fn, "out", len_out, a.last_only ? a.batch : a.offsets[a.batch], a.d))
    return NULL;
  attention_forward(&a, probs, kept, out);
  return NULL;
}

static napi_value CausalAttentionBackward(napi_env env, napi_callback_info info) {
  const char *fn = "causalAttentionBackward";
  napi_value argv[17];
  attention_args a;
  float *probs, *kept, *d_out, *gq, *gk, *gv;
  size_t len_do, len_gq, len_gk, len_gv;
  if (!get_args(env, info, fn, 17, argv) || !read_attention(env, fn, argv, &a, &probs, &kept) ||
      !get_f32(env, argv[13], fn, "dOut", &d_out, &len_do) || !get_f32_or_null(env, argv[14], fn, "gQ", &gq, &len_gq) ||
      !get_f32_or_null(env, argv[15], fn, "gK", &gk, &len_gk) || !get_f32_or_null(env, argv[16], fn, "gV", &gv, &len_gv))
    return NULL;
  const int64_t rows = a.offsets[a.batch], rq = a.last_only ? a.batch : rows;
  if (!check_rows(env, fn, "dOut", len_do, rq, a.d) || (gq && !check_rows(env, fn, "gQ", len_gq, rq, a.d)) ||
      (gk && !check_rows(env, fn, "gK", len_gk, rows, a.d)) || (gv && !check_rows(env, fn, "gV", len_gv, rows, a.d)))
    return NULL;
  if (!attention_backward(&a, probs, kept, d_out, gq, gk, gv)) THROW(env, ERR_PLAIN, "%s: out of memory", fn);
  return NULL;
}

/* ---------------------------------------------------------------------------------------
 * Fused attention of routed tokens (MOCA; the arithmetic is in routed_attention.c)
 * ------------------------------------------------------------------------------------- */

/* Checks one side's offsets (`what`): [B + 1], from 0, non-decreasing, ending at `rows`. */
static bool check_offsets(napi_env env, const char *fn, const char *what, const int32_t *offsets, int64_t batch,
                          int64_t rows) {
  if (!check_rising(env, fn, what, offsets, (size_t)batch + 1)) return false;
  if (offsets[batch] != rows)
    return throwf(env, ERR_RANGE, "%s: %s end at %lld, expected %lld rows", fn, what,
                  (long long)offsets[batch], (long long)rows);
  return true;
}

/* Reads and checks the first 14 arguments both directions share: q, k, v, nullKv, queryOffsets,
 * keyOffsets, heads, width, scale, bits, threshold, keep, probs, kept. */
static bool read_routed(napi_env env, const char *fn, napi_value *argv, routed_attention_args *a, float **probs,
                        float **kept) {
  float *q, *k, *v, *null_kv;
  int32_t *qo, *ko;
  uint32_t *bits = NULL;
  size_t len_q, len_k, len_v, len_n, len_qo, len_ko, len_bits = 0, len_p, len_kept;
  int64_t heads, width;
  double scale, threshold, keep;
  napi_valuetype bits_type;
  if (!get_f32(env, argv[0], fn, "q", &q, &len_q) || !get_f32(env, argv[1], fn, "k", &k, &len_k) ||
      !get_f32(env, argv[2], fn, "v", &v, &len_v) || !get_f32(env, argv[3], fn, "nullKv", &null_kv, &len_n) ||
      !get_typed(env, argv[4], fn, "queryOffsets", napi_int32_array, "Int32Array", (void **)&qo, &len_qo) ||
      !get_typed(env, argv[5], fn, "keyOffsets", napi_int32_array, "Int32Array", (void **)&ko, &len_ko) ||
      !get_count(env, argv[6], fn, "heads", MAX_BLAS_INT, &heads) ||
      !get_count(env, argv[7], fn, "width", MAX_BLAS_INT, &width) || !get_number(env, argv[8], fn, "scale", &scale) ||
      !napi_ok_or_throw(env, napi_typeof(env, argv[9], &bits_type), fn, "typeof") ||
      (bits_type != napi_null && !get_u32(env, argv[9], fn, "bits", &bits, &len_bits)) ||
      !get_number(env, argv[10], fn, "threshold", &threshold) || !get_number(env, argv[11], fn, "keep", &keep) ||
      !get_f32(env, argv[12], fn, "probs", probs, &len_p) || !get_f32(env, argv[13], fn, "kept", kept, &len_kept))
    return false;
  if (heads < 1 || width % heads != 0)
    return throwf(env, ERR_RANGE, "%s: width %lld is not a multiple of %lld heads", fn, (long long)width,
                  (long long)heads);
  if (len_qo < 1 || len_qo != len_ko)
    return throwf(env, ERR_RANGE, "%s: %zu query offsets and %zu key offsets (one more than the sequences each)", fn,
                  len_qo, len_ko);
  if (!check_threshold(env, fn, threshold)) return false;
  const int64_t batch = (int64_t)len_qo - 1;
  if (width == 0 || len_q % (size_t)width != 0 || len_k % (size_t)width != 0)
    return throwf(env, ERR_RANGE, "%s: q has %zu and k %zu values, not rows of %lld", fn, len_q, len_k,
                  (long long)width);
  const int64_t nq = (int64_t)(len_q / (size_t)width), nk = (int64_t)(len_k / (size_t)width);
  if (!check_offsets(env, fn, "query offsets", qo, batch, nq) || !check_offsets(env, fn, "key offsets", ko, batch, nk) ||
      !check_rows(env, fn, "v", len_v, nk, width) || !check_rows(env, fn, "nullKv", len_n, 2, width))
    return false;
  *a = (routed_attention_args){q, k, v, null_kv, qo, ko, batch, heads, width, scale, bits, (uint32_t)threshold, keep};
  const int64_t count = routed_probability_count(a);
  return check_len(env, fn, "probs", len_p, count) && check_len(env, fn, "kept", len_kept, count) &&
         (!bits || check_len(env, fn, "bits", len_bits, count));
}

static napi_value RoutedAttention(napi_env env, napi_callback_info info) {
  const char *fn = "routedAttention";
  napi_value argv[15];
  routed_attention_args a;
  float *probs, *kept, *out;
  size_t len_out;
  if (!get_args(env, info, fn, 15, argv) || !read_routed(env, fn, argv, &a, &probs, &kept) ||
      !get_f32(env, argv[14], fn, "out", &out, &len_out) ||
      !check_rows(env, fn, "out", len_out, a.query_offsets[a.batch], a.width))
    return NULL;
  routed_attention_forward(&a, probs, kept, out);
  return NULL;
}

static napi_value RoutedAttentionBackward(napi_env env, napi_callback_info info) {
  const char *fn = "routedAttentionBackward";
  napi_value argv[20];
  routed_attention_args a;
  float *probs, *kept, *d_out, *gq, *gk, *gv, *gn;
  size_t len_do, len_gq, len_gk, len_gv, len_gn;
  int64_t fresh;
  if (!get_args(env, info, fn, 20, argv) || !read_routed(env, fn, argv, &a, &probs, &kept) ||
      !get_count(env, argv[19], fn, "fresh", 7, &fresh) ||
      !get_f32(env, argv[14], fn, "dOut", &d_out, &len_do) || !get_f32_or_null(env, argv[15], fn, "gQ", &gq, &len_gq) ||
      !get_f32_or_null(env, argv[16], fn, "gK", &gk, &len_gk) || !get_f32_or_null(env, argv[17], fn, "gV", &gv, &len_gv) ||
      !get_f32_or_null(env, argv[18], fn, "gNullKv", &gn, &len_gn))
    return NULL;
  const int64_t rq = a.query_offsets[a.batch], rk = a.key_offsets[a.batch];
  if (!check_rows(env, fn, "dOut", len_do, rq, a.width) || (gq && !check_rows(env, fn, "gQ", len_gq, rq, a.width)) ||
      (gk && !check_rows(env, fn, "gK", len_gk, rk, a.width)) || (gv && !check_rows(env, fn, "gV", len_gv, rk, a.width)) ||
      (gn && !check_rows(env, fn, "gNullKv", len_gn, 2, a.width)))
    return NULL;
  if (!routed_attention_backward(&a, probs, kept, d_out, gq, gk, gv, gn, (int)fresh))
    THROW(env, ERR_PLAIN, "%s: out of memory", fn);
  return NULL;
}

/* ---------------------------------------------------------------------------------------
 * Coordinate descent (MOCA's routers; the arithmetic is in coordinate_descent.c)
 * ------------------------------------------------------------------------------------- */

/* Reads n, index, start, eps, sm and active (argv[0..5]) and checks that they describe packed
 * rows: start rising from 0, every index a column in [0, n), a row no wider than n, and sm and
 * active holding T values per valid entry. */
static bool read_descent(napi_env env, const char *fn, napi_value *argv, descent_shape *d, float **sm,
                         uint8_t **active) {
  int32_t *index, *start;
  double *eps;
  size_t len_index, len_start, len_eps, len_sm, len_active;
  if (!get_count(env, argv[0], fn, "n", MAX_BLAS_INT, &d->n) ||
      !get_typed(env, argv[1], fn, "index", napi_int32_array, "Int32Array", (void **)&index, &len_index) ||
      !get_typed(env, argv[2], fn, "start", napi_int32_array, "Int32Array", (void **)&start, &len_start) ||
      !get_typed(env, argv[3], fn, "eps", napi_float64_array, "Float64Array", (void **)&eps, &len_eps) ||
      !get_f32(env, argv[4], fn, "sm", sm, &len_sm) ||
      !get_typed(env, argv[5], fn, "active", napi_uint8_array, "Uint8Array", (void **)active, &len_active))
    return false;
  if (len_start < 1 || start[0] != 0) return throwf(env, ERR_RANGE, "%s: start must begin at 0", fn);
  if (len_eps < 1) return throwf(env, ERR_RANGE, "%s: eps needs at least the final temperature", fn);
  d->rows = (int64_t)len_start - 1;
  for (int64_t r = 0; r < d->rows; r++)
    if (start[r + 1] < start[r] || start[r + 1] - start[r] > d->n)
      return throwf(env, ERR_RANGE, "%s: row %lld's entries (start) must rise by at most n = %lld", fn,
                    (long long)r, (long long)d->n);
  const int64_t valid = start[d->rows];
  if (!check_len(env, fn, "index", len_index, valid)) return false;
  for (int64_t i = 0; i < valid; i++)
    if (index[i] < 0 || index[i] >= d->n)
      return throwf(env, ERR_RANGE, "%s: index %d at %lld is not a column in [0, %lld)", fn, (int)index[i],
                    (long long)i, (long long)d->n);
  d->iterations = (int64_t)len_eps - 1;
  d->index = index;
  d->start = start;
  d->eps = eps;
  return check_rows(env, fn, "sm", len_sm, d->iterations, valid) &&
         check_rows(env, fn, "active", len_active, d->iterations, valid);
}

static napi_value CoordinateDescent(napi_env env, napi_callback_info info) {
  const char *fn = "coordinateDescent";
  napi_value argv[9];
  descent_shape d;
  float *sm, *s, *out;
  uint8_t *active;
  size_t len_s, len_out;
  double log_k;
  if (!get_args(env, info, fn, 9, argv) || !read_descent(env, fn, argv, &d, &sm, &active) ||
      !get_f32(env, argv[6], fn, "s", &s, &len_s) || !get_number(env, argv[7], fn, "logK", &log_k) ||
      !get_f32(env, argv[8], fn, "out", &out, &len_out) || !check_rows(env, fn, "s", len_s, d.rows, d.n) ||
      !check_rows(env, fn, "out", len_out, d.rows, d.n))
    return NULL;
  if (!descent_forward(&d, s, log_k, sm, active, out)) THROW(env, ERR_PLAIN, "%s: out of memory", fn);
  return NULL;
}

static napi_value CoordinateDescentBackward(napi_env env, napi_callback_info info) {
  const char *fn = "coordinateDescentBackward";
  napi_value argv[9];
  descent_shape d;
  float *sm, *out, *d_out, *gs;
  uint8_t *active;
  size_t len_out, len_do, len_gs;
  if (!get_args(env, info, fn, 9, argv) || !read_descent(env, fn, argv, &d, &sm, &active) ||
      !get_f32(env, argv[6], fn, "out", &out, &len_out) || !get_f32(env, argv[7], fn, "dOut", &d_out, &len_do) ||
      !get_f32(env, argv[8], fn, "gs", &gs, &len_gs) || !check_rows(env, fn, "out", len_out, d.rows, d.n) ||
      !check_rows(env, fn, "dOut", len_do, d.rows, d.n) || !check_rows(env, fn, "gs", len_gs, d.rows, d.n))
    return NULL;
  if (!descent_backward(&d, sm, active, out, d_out, gs)) THROW(env, ERR_PLAIN, "%s: out of memory", fn);
  return NULL;
}

/* ---------------------------------------------------------------------------------------
 * Threads and build facts
 * ------------------------------------------------------------------------------------- */

static napi_value Threads(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  NAPI_TRY(env, "threads", napi_create_int32(env, openblas_get_num_threads(), &out));
  return out;
}

static napi_value SetThreads(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int64_t n;
  if (!get_args(env, info, "setThreads", 1, argv) ||
      !get_count(env, argv[0], "setThreads", "n", MAX_BLAS_INT, &n))
    return NULL;
  if (n < 1) THROW(env, ERR_RANGE, "setThreads: n must be at least 1, got %lld", (long long)n);
  openblas_set_num_threads((int)n); /* OpenBLAS caps it at the thread count it was built for */
  parallel_set_threads(openblas_get_num_threads());
  return NULL;
}

static bool set_string(napi_env env, napi_value obj, const char *key, const char *value) {
  napi_value v;
  /* OpenBLAS' strings carry a trailing space. */
  size_t n = strlen(value);
  while (n > 0 && value[n - 1] == ' ') n--;
  return napi_create_string_utf8(env, value, n, &v) == napi_ok &&
         napi_set_named_property(env, obj, key, v) == napi_ok;
}

static bool set_int(napi_env env, napi_value obj, const char *key, int64_t value) {
  napi_value v;
  return napi_create_int64(env, value, &v) == napi_ok && napi_set_named_property(env, obj, key, v) == napi_ok;
}

static bool set_bool(napi_env env, napi_value obj, const char *key, bool value) {
  napi_value v;
  return napi_get_boolean(env, value, &v) == napi_ok && napi_set_named_property(env, obj, key, v) == napi_ok;
}

/* What OpenBLAS read from OPENBLAS_THREAD_TIMEOUT when it loaded (0: unset or not a number). Not in
 * cblas.h; weak, so that a build without it still loads (describe then leaves it out). */
extern int openblas_thread_timeout(void) __attribute__((weak));

/* The spin its threads use, log2 of cycles: its default 28 for 0, else the value clamped to
 * [4, 30], as blas_server.c does. */
static int effective_thread_timeout(void) {
  const int t = openblas_thread_timeout();
  return t <= 0 ? 28 : t < 4 ? 4 : t > 30 ? 30 : t;
}

static napi_value Describe(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value obj;
  NAPI_TRY(env, "describe", napi_create_object(env, &obj));
  uint32_t napi_runtime = 0;
  NAPI_TRY(env, "describe", napi_get_version(env, &napi_runtime));
  const int par = openblas_get_parallel();
  const char *parallel = par == OPENBLAS_SEQUENTIAL ? "sequential"
                         : par == OPENBLAS_THREAD   ? "pthreads"
                         : par == OPENBLAS_OPENMP   ? "openmp"
                                                    : "unknown";
#if defined(__clang__)
  const char *compiler = "clang " __clang_version__;
#elif defined(__GNUC__)
  const char *compiler = "gcc " __VERSION__;
#else
  const char *compiler = "unknown";
#endif
  bool ok = set_string(env, obj, "openblasConfig", openblas_get_config()) &&
            set_string(env, obj, "openblasCore", openblas_get_corename()) &&
            set_string(env, obj, "openblasParallel", parallel) &&
            set_int(env, obj, "openblasThreads", openblas_get_num_threads()) &&
            set_int(env, obj, "openblasProcs", openblas_get_num_procs()) &&
            set_int(env, obj, "kernelPoolWorkers", parallel_workers()) &&
            (!openblas_thread_timeout || set_int(env, obj, "openblasThreadTimeout", effective_thread_timeout())) &&
            set_int(env, obj, "blasIntBits", (int64_t)(8 * sizeof(blasint))) &&
            set_string(env, obj, "compiler", compiler) &&
            set_int(env, obj, "napiVersion", NAPI_VERSION) && set_int(env, obj, "napiRuntimeVersion", napi_runtime) &&
#ifdef __AVX512F__
            set_bool(env, obj, "avx512f", true) &&
#else
            set_bool(env, obj, "avx512f", false) &&
#endif
#ifdef __AVX2__
            set_bool(env, obj, "avx2", true) &&
#else
            set_bool(env, obj, "avx2", false) &&
#endif
#ifdef __FMA__
            set_bool(env, obj, "fma", true);
#else
            set_bool(env, obj, "fma", false);
#endif
  if (!ok) THROW(env, ERR_PLAIN, "describe: could not build the result object");
  return obj;
}

/* ---------------------------------------------------------------------------------------
 * Module
 * ------------------------------------------------------------------------------------- */

#define METHOD(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_enumerable, NULL}

NAPI_MODULE_INIT() {
  const napi_property_descriptor props[] = {
      METHOD("sgemm", Sgemm),
      METHOD("sgemmStridedBatched", SgemmStridedBatched),
      METHOD("softmaxRows", SoftmaxRows),
      METHOD("crossEntropyRows", CrossEntropyRows),
      METHOD("softTargetCrossEntropyRows", SoftTargetCrossEntropyRows),
      METHOD("bceWithLogits", BceWithLogits),
      METHOD("scoreInt8Rows", ScoreInt8Rows),
      METHOD("gelu", Gelu),
      METHOD("geluBackward", GeluBackward),
      METHOD("tanh", Tanh),
      METHOD("layerNorm", LayerNorm),
      METHOD("layerNormBackward", LayerNormBackward),
      METHOD("rmsNorm", RmsNorm),
      METHOD("rmsNormBackward", RmsNormBackward),
      METHOD("dyt", Dyt),
      METHOD("dytBackward", DytBackward),
      METHOD("dropout", Dropout),
      METHOD("axpy", Axpy),
      METHOD("binaryCycle", BinaryCycle),
      METHOD("binaryRepeat", BinaryRepeat),
      METHOD("addProductRepeat", AddProductRepeat),
      METHOD("addRowDots", AddRowDots),
      METHOD("indexedAddRows", IndexedAddRows),
      METHOD("gatherRows", GatherRows),
      METHOD("xoshiroWords", XoshiroWords),
      METHOD("copyRows", CopyRows),
      METHOD("addRows", AddRows),
      METHOD("rotary", Rotary),
      METHOD("adamUpdate", AdamUpdate),
      METHOD("gatedBlockAdd", GatedBlockAdd),
      METHOD("gatedBlockBackward", GatedBlockBackward),
      METHOD("causalAttention", CausalAttention),
      METHOD("causalAttentionBackward", CausalAttentionBackward),
      METHOD("routedAttention", RoutedAttention),
      METHOD("routedAttentionBackward", RoutedAttentionBackward),
      METHOD("coordinateDescent", CoordinateDescent),
      METHOD("coordinateDescentBackward", CoordinateDescentBackward),
      METHOD("threads", Threads),
      METHOD("setThreads", SetThreads),
      METHOD("describe", Describe),
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  parallel_set_threads(openblas_get_num_threads());
  return exports;
}
