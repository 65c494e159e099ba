/*
 * Row-wise and element-wise training kernels (layer norm, dropout): plain C over float arrays,
 * no N-API. cammsr_native.c validates the arguments and calls these; src/kernels/js.ts is the
 * reference they match up to float rounding.
 */
#ifndef CAMMSR_ROWS_H
#define CAMMSR_ROWS_H

#include <stdbool.h>
#include <stdint.h>

/* LayerNorm forward over `rows` rows of d: xhat = (x - mean)·rstd, rstd = 1/sqrt(var + eps)
 * (biased variance), out = gamma ⊙ xhat + beta. Writes out and xhat [rows·d], rstd [rows]. */
void rows_layer_norm(const float *x, const float *gamma, const float *beta, double eps, int64_t rows,
                     int64_t d, float *out, float *xhat, float *rstd);

/* LayerNorm backward from dy: with ĝ = dy ⊙ gamma, gx = rstd/d·(d·ĝ - Σĝ - xhat·Σ(ĝ⊙xhat)),
 * written (or added, when accumulate) into gx unless it is NULL; g_gamma += Σ_rows dy⊙xhat and
 * g_beta += Σ_rows dy unless NULL. */
void rows_layer_norm_backward(const float *dy, const float *xhat, const float *rstd, const float *gamma,
                              int64_t rows, int64_t d, float *gx, bool accumulate, float *g_gamma,
                              float *g_beta);

/* RMSNorm forward: norms[r] = n = max(‖x_r‖₂, eps) (sum of squares in double), out = x·√d/n ⊙ gamma. */
void rows_rms_norm(const float *x, const float *gamma, double eps, int64_t rows, int64_t d, float *out,
                   float *norms);

/* RMSNorm backward from dy: with x̂ = x/n and u = dy ⊙ gamma·√d, gx = (u − x̂(x̂·u))/n (u/n where the
 * norm was clamped to eps), written (or added, when accumulate) unless gx is NULL; g_gamma +=
 * Σ_rows dy ⊙ x̂·√d unless NULL. */
void rows_rms_norm_backward(const float *dy, const float *x, const float *norms, const float *gamma, double eps,
                            int64_t rows, int64_t d, float *gx, bool accumulate, float *g_gamma);

/* DyT forward: t = tanh(alpha·x) and out = gamma ⊙ t + beta, over `rows` rows of d. */
void rows_dyt(const float *x, double alpha, const float *gamma, const float *beta, int64_t rows, int64_t d,
              float *out, float *t);

/* DyT backward from dy, x and the forward's t: with p = dy ⊙ gamma ⊙ (1 - t²), gx = alpha·p written
 * (or added, when accumulate) unless gx is NULL, g_gamma += Σ_rows dy ⊙ t and g_beta += Σ_rows dy
 * unless NULL. Returns Σ p ⊙ x, alpha's gradient. */
double rows_dyt_backward(const float *dy, const float *x, const float *t, double alpha, const float *gamma,
                         int64_t rows, int64_t d, float *gx, bool accumulate, float *g_gamma, float *g_beta);

/* y[i] = tanh(x[i]) for i < n, in double and rounded once (y may be x). */
void rows_tanh(const float *x, int64_t n, float *y);

/* Inverted dropout's mask and product: scale[i] = bits[i] >= threshold ? keep : 0, and
 * out[i] = x[i]·scale[i], or 0 where dropped (even when x[i] is not finite). bits may share
 * scale's memory: each word is read before its element of scale is written. */
void rows_dropout(const float *x, const uint32_t *bits, uint32_t threshold, double keep, int64_t n,
                  float *out, float *scale);

#endif
