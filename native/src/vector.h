/*
 * Element-wise vector kernels behind the engine's broadcast arithmetic, gradient accumulation
 * and Adam: plain C over float arrays, no N-API. Each computes exactly what its loop in
 * src/kernels/js.ts computes, bit for bit: the same operations in the same order, in float64
 * where JavaScript computes in float64, rounded to float32 where it stores, and no fused
 * multiply-adds (vector.c turns contraction off). So moving these loops out of JavaScript
 * changes no result.
 */
#ifndef CAMMSR_VECTOR_H
#define CAMMSR_VECTOR_H

#include <stdbool.h>
#include <stdint.h>

/* The element-wise operations of vec_binary_*, in the order of src/kernels/kernels.ts. */
typedef enum { VEC_ADD = 0, VEC_SUB = 1, VEC_MUL = 2, VEC_DIV = 3 } vec_op;

/* y[i] = y[i] + alpha·x[i] for i < n (the product and sum in float64), or with overwrite
 * y[i] = alpha·x[i] (y not read). */
void vec_axpy(int64_t n, double alpha, const float *x, float *y, bool overwrite);

/* out[i] = a[i] op b[i mod m] for i < n (m divides n; m = n: same shapes). */
void vec_binary_cycle(vec_op op, const float *a, const float *b, int64_t n, int64_t m, float *out);

/* out[i] = a[i] op b[i / each] for i < n (one b per run of `each`). */
void vec_binary_repeat(vec_op op, const float *a, const float *b, int64_t n, int64_t each, float *out);

/* into[i] = into[i] + g[i]·y[i / each] for i < n (in float64). */
void vec_add_product_repeat(const float *g, const float *y, int64_t n, int64_t each, float *into);

/* into[r] = into[r] + Σ_{j < each} g[r·each + j]·y[r·each + j] for r < n / each: each row's sum
 * in float64, in column order. */
void vec_add_row_dots(const float *g, const float *y, int64_t n, int64_t each, float *into);

/* For i < n in order, each a float add: scatter, dst row rows[i] += src row i; gather, dst row i
 * += src row rows[i] (rows of w floats; the indices already checked). */
void vec_indexed_add_rows(const float *src, const int32_t *rows, int64_t n, float *dst, int64_t w, bool scatter);

/* dst row i = src row rows[i] for i < n (rows of w floats, the indices already checked), bits as
 * they are. */
void vec_gather_rows(const float *src, const int32_t *rows, int64_t n, float *dst, int64_t w);

/* dst row r += src row r for r < rows (rows of w floats, `ss` and `ds` floats apart), each a
 * float add. */
void vec_add_rows(const float *src, int64_t ss, float *dst, int64_t ds, int64_t rows, int64_t w);

/* Rotary positions over rows of 2·half floats, row r at positions[r] (already checked against
 * the table): with c = cos[p·half + i] and s = sign·sin[p·half + i], in float64,
 * u = x1·c − x2·s and v = x2·c + x1·s, each rounded to float and written to dst or (add) added. */
void vec_rotary(const float *src, float *dst, const double *cos, const double *sin, const int32_t *positions,
                int64_t rows, int64_t half, double sign, bool add);

/* out[i] for i < n: the next n words of xoshiro128** from state[4], left where the stream stops. */
void vec_xoshiro_words(uint32_t state[4], uint32_t *out, int64_t n);

/* One expert's share of a block-gated mixture: y [rows, width], gates [rows, experts], the block
 * of columns [column, column + d). */
typedef struct {
  const float *y, *gates;
  int64_t experts, expert, rows, width, column, d;
} vec_gated_block;

/* out[r, column + j] += gates[r, expert]·y[r, column + j] for j < d (in float64). */
void vec_gated_block_add(const vec_gated_block *b, float *out);

/* Its backward: gy[r, column + j] += gate·g_out (gy may be NULL) and g_gates[r, expert] += Σ_j
 * y·g_out, the sum in float64 in column order (g_gates may be NULL). */
void vec_gated_block_backward(const vec_gated_block *b, const float *g_out, float *gy, float *g_gates);

/* Adam's hyper-parameters for one update (stepSize = lr / (1 - beta1^t), rbc2 = 1/√(1 - beta2^t)). */
typedef struct {
  double lr, beta1, beta2, eps, weight_decay, step_size, rbc2;
  bool decoupled;
} vec_adam_args;

/* One Adam (or AdamW, decoupled) update of n weights w from gradients g, moments m and v. */
void vec_adam(const vec_adam_args *h, int64_t n, float *w, const float *g, float *m, float *v);

#endif
