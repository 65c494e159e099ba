/* A vectorisable exp in double, shared by the row kernels (rows.c, attention.c). */
#ifndef CAMMSR_EXP_H
#define CAMMSR_EXP_H

#include <stdint.h>

/* exp(x) in double, in a form gcc vectorises (libm's exp does not vectorise without
 * -ffast-math): x = k·ln2 + r with |r| <= ln2/2, exp(r) by its Taylor series to r^11 (relative
 * error below 1e-14), and 2^k put into the exponent bits. */
static inline double exp_double(double x) {
  /* Outside [-708, 709] 2^k is not a normal double; exp(-708) is 0 in float anyway. NaN passes. */
  x = x < -708.0 ? -708.0 : x > 709.0 ? 709.0 : x;
  const double shifter = 6755399441055744.0; /* 1.5·2^52: adding it rounds to an integer in the low bits */
  const double kd = x * 1.4426950408889634 + shifter;
  uint64_t bits;
  __builtin_memcpy(&bits, &kd, sizeof bits);
  const double k = kd - shifter;
  const double r = (x - k * 0.6931471805598903) - k * 5.497923018708371e-14; /* ln2 split in two */
  double p = 1.0 / 39916800;
  p = p * r + 1.0 / 3628800;
  p = p * r + 1.0 / 362880;
  p = p * r + 1.0 / 40320;
  p = p * r + 1.0 / 5040;
  p = p * r + 1.0 / 720;
  p = p * r + 1.0 / 120;
  p = p * r + 1.0 / 24;
  p = p * r + 1.0 / 6;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  /* The low bits of `bits` hold k (plus 2^51, which the shift drops): 2^k = (k + 1023) << 52. */
  const uint64_t scale_bits = (bits << 52) + ((uint64_t)1023 << 52);
  double scale;
  __builtin_memcpy(&scale, &scale_bits, sizeof scale);
  return p * scale;
}

#endif
