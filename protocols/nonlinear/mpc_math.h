/* Fixed-point functions on shares: reciprocal, division, square root, exp,
 * sigmoid. Inputs and outputs are fixed-point shares with f fractional bits
 * (runtime/mpc_fixed.h). Each function's domain and its accuracy against a
 * double-precision reference are stated below and held by
 * tests/loopback/test_math.c. Collective; rounds do not depend on n (up to
 * 2^17 elements per call; longer vectors are done in passes of 2^17), save
 * that an opening large enough for mpc_open's king rule (mpc_open_choice:
 * N >= 3) takes two rounds instead of one.
 * out may alias x (and y); n = 0 does nothing.
 *
 * Ring and precision: Z_2^128 only, 8 <= f <= 20 (default 16). Z_2^64 or
 * another f is MPC_EINVAL with a message (a 64-bit ring has no room for the
 * products of two fixed-point values: see README "Numbers").
 *
 * Method (all five): one bit decomposition of the 128-bit input
 * (mpc_conv_a2b: 1010 bit triples per element at 3 parties, 883 at 2), a
 * small boolean circuit on the bit planes (prefix OR / one-hot decoders), the
 * few planes needed back to arithmetic shares with one mpc_conv_b2a_planes
 * (one random shared bit each), public constants selected locally by those
 * one-hot shares, then Beaver products and mpc_trunc (probabilistic: each
 * truncation has failure probability < 2^-40, see mpc_beaver.h; the bounds
 * below hold whenever no truncation fails). Nothing is opened but uniformly
 * masked values: the functions reveal nothing (the outputs stay shared).
 *
 * In the bounds, "ulp" is 2^-f; x is the exact fixed-point input (its
 * decoded value) and the reference is libm's double function of it.
 * Costs are per element at 3 parties (bit triples: AND gates; "bits":
 * random shared bits in Z_2^128; a truncation pair in Z_2^128 is made from
 * 128 random bits by OT); rounds are online rounds (a2b included; the
 * preprocessing's own rounds depend on the backend). */
#ifndef MPC_MATH_H
#define MPC_MATH_H

#include "protocols/core/mpc_party.h"
#include "runtime/mpc_err.h"
#include "runtime/mpc_ring.h"
#include <stddef.h>

/* out ~ 1/x.
 * Domain: every representable x != 0. Bound: |out - 1/x| <= 2 ulp +
 * 2^-30 |1/x|. |x| > 2^f gives 0 or 1 ulp (the true value is below half an
 * ulp); recip(0) = 0 (or 1 ulp).
 * Method: y = |x| from the bits (x XOR sign), its leading one L by a suffix
 * OR, the one-hot of L split by sign gives the shared scales 2^(K-L-1) and
 * 2^(2f-L) (local), z = |x| 2^-(L+1) in [1/2, 1], y0 = 2.8187 - 15/8 z,
 * three Newton steps y <- y (2 - z y) at 40 fractional bits, out = y scaled.
 * Cost: a2b + about 300 bit triples (1310 in all at 3 parties), 2(2f+1)
 * bits, 8 triples, 7 truncation pairs; 36 rounds (a2b included). */
mpc_err mpc_math_recip(mpc_party *p, mpc_ring r, unsigned f, const void *x, void *out,
                       size_t n) MPC_MUST_CHECK;

/* Fractional bits of the internal reciprocal of mpc_math_div. */
#define MPC_MATH_DIV_G(f) ((f) + 16)

/* out ~ x / y = x * (2^g / y) / 2^g with g = f + 16 (the reciprocal of y at
 * g fractional bits, as in mpc_math_recip). Domain: y != 0 representable,
 * |x / y| < 2^(86 - 2f - 16) (2^38 at f = 16). Bound: |out - x/y| <= 1 ulp
 * + 3 |x| 2^-g + 2^-26 |x/y|. y = 0 gives 0 (or 1 ulp). Cost: a2b + about
 * 420 bit triples, 2(2f+17) bits, 9 triples, 9 truncation pairs; 39
 * rounds. */
mpc_err mpc_math_div(mpc_party *p, mpc_ring r, unsigned f, const void *x, const void *y, void *out,
                     size_t n) MPC_MUST_CHECK;

/* out ~ sqrt(x).
 * Domain: 0 <= x < mpc_math_sqrt_max(f) = 2^(88 - 2f) (2^56 at f = 16).
 * Bound: |out - sqrt(x)| <= 2 ulp + 2^-30 sqrt(x). x beyond the domain gives
 * sqrt(mpc_math_sqrt_max(f)) (clamped); x < 0 gives 0 (or 1 ulp).
 * Method: leading one L of x, z = x 2^-(L+1) in [1/2, 1), y0 = 1.78993 -
 * 13/16 z, three Newton steps y <- y (3 - z y^2) / 2 towards 1/sqrt(z) at 39
 * fractional bits, out = z y 2^((L+1+f)/2) (the half power of two is a
 * public constant selected by L). Cost: a2b + about 520 bit triples,
 * 89 - f bits, 12 triples, 12 truncation pairs; 44 rounds. */
mpc_err mpc_math_sqrt(mpc_party *p, mpc_ring r, unsigned f, const void *x, void *out,
                      size_t n) MPC_MUST_CHECK;
/* The upper end of mpc_math_sqrt's domain for f fractional bits. */
double mpc_math_sqrt_max(unsigned f);

/* out ~ e^x.
 * Domain: x < mpc_math_exp_max(f) (27 at f = 16, 24 at f = 20, 33 at f = 8);
 * larger x gives e^x_max (clamped); x < -(f+2) ln 2 - 1, where e^x is below
 * a quarter ulp, gives 0 (or 1 ulp). Bound: |out - e^x| <= 1.1 ulp +
 * 2^-23 e^x (also checked by exact emulation of the integer pipeline, with
 * either outcome of each truncation, on every x in [-(f+2), x_max + 1):
 * 1.05 ulp + 2^-23.9 e^x). Method: n = floor(x) is read from x's bits when
 * x is in [-64, 64) (the bits above f+6 equal the sign) and selects the
 * constant e^n (one-hot, local); the top 4 fraction bits select one of 16
 * cubics for e^(frac) (Chebyshev
 * interpolation, coefficients selected locally) evaluated by Horner with
 * exact products on the remaining f - 4 bits, then one product e^n * e^frac.
 * Cost: a2b + about 250 bit triples, f - 4 + 16 + (number of n) + 1 bits
 * (69 at f = 16), 4 triples, 2 truncation pairs; 26 rounds. */
mpc_err mpc_math_exp(mpc_party *p, mpc_ring r, unsigned f, const void *x, void *out,
                     size_t n) MPC_MUST_CHECK;
/* The clamp point x_max of mpc_math_exp for f fractional bits. */
double mpc_math_exp_max(unsigned f);

/* out ~ 1 / (1 + e^-x).
 * Domain: every representable x (saturating: |x| >= 16 gives 1 or 0).
 * Bound: |out - sigmoid(x)| <= 2^-f + 2^-(f+2) (1.25 ulp), for 8 <= f <= 20
 * (exact emulation of the integer pipeline over every x in [-17, 17], for
 * each f: polynomial error at most 0.17 ulp, plus the truncation's < 1 ulp).
 * Method: s = sign, y = x XOR s (= |x|, or |x| - 1 ulp for x < 0, which the
 * negative-side polynomials absorb exactly), segments of width 1/2 (f <= 16)
 * or 1/4 on [0, 16): the segment bits are decoded to a one-hot, split by
 * sign and by [|x| >= 16] (OR of the high bits), and select (locally) the
 * four coefficients of that segment's cubic, sigmoid(x) = P(t) or
 * 1 - P(t + 1 ulp) in the local variable t (the f - h low bits), evaluated
 * by Horner with exact products (no truncation) and one final truncation.
 * Cost: a2b + about 200 bit triples (1210 with the a2b at 3 parties, 1083
 * at 2), f - h + 2^(h+5) + 1 bits (80 at f = 16, f + 127 at f = 17..20),
 * 3 triples, 1 truncation pair; 25 rounds (a2b included). */
mpc_err mpc_math_sigmoid(mpc_party *p, mpc_ring r, unsigned f, const void *x, void *out,
                         size_t n) MPC_MUST_CHECK;

#endif
