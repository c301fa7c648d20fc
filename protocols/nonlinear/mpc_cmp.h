/* Comparisons and selections on arithmetic shares, built on mpc_conv.h.
 * Values are signed k-bit numbers (two's complement in Z_2^k); results of
 * comparisons are arithmetic shares of 0 or 1 in the same ring. Every
 * function is collective, handles n elements in a number of rounds that does
 * not depend on n (save one more where the masked opening is large enough
 * for mpc_open's king rule, mpc_open_choice, at N >= 3), and reveals nothing
 * (only uniformly masked values are opened). Outputs may alias inputs. */
#ifndef MPC_CMP_H
#define MPC_CMP_H

#include "protocols/core/mpc_party.h"
#include "runtime/mpc_err.h"
#include "runtime/mpc_ring.h"
#include <stddef.h>

/* out = [x < 0]: mpc_conv_msb then mpc_conv_b2a. At 3 parties in Z_2^64:
 * 9 rounds, 244 bit triples and 1 random bit per element, 122 bytes sent
 * per element per party. */
mpc_err mpc_cmp_ltz(mpc_party *p, mpc_ring r, const void *x, void *out, size_t n) MPC_MUST_CHECK;
/* out = [x < y], correct when |x - y| < 2^(k-1) (x - y does not wrap). */
mpc_err mpc_cmp_lt(mpc_party *p, mpc_ring r, const void *x, const void *y, void *out,
                   size_t n) MPC_MUST_CHECK;
/* out = [x < 0] for x known to satisfy -2^(bits-1) <= x < 2^(bits-1)
 * (2 <= bits <= k): only the low `bits` bits of the shares enter the
 * circuit, whose sign bit is that of x in range. Outside the range the
 * result is WRONG (bit bits-1 of x mod 2^bits, not the sign): keeping x in
 * range is the caller's contract, like mpc_trunc's. Cost per element:
 * mpc_conv_and_count(4, r, N, bits) bit triples, (N - 2)(bits - 1) +
 * 3 bits - 5 - ceil(log2(bits - 1)) (at 3 parties: 85 at bits = 24, 117 at
 * 32, 152 at 41, against 244 for ltz in Z_2^64 and 499 in Z_2^128), and
 * 1 random bit; ceil(log2(bits - 1)) + 2 rounds after the carry-save
 * layers. bits = k is mpc_cmp_ltz. */
mpc_err mpc_cmp_ltz_bits(mpc_party *p, mpc_ring r, const void *x, unsigned bits, void *out,
                         size_t n) MPC_MUST_CHECK;
/* out = [x < y] when -2^(bits-1) <= x - y < 2^(bits-1) (e.g. both in
 * [-2^(bits-2), 2^(bits-2))), wrong otherwise: mpc_cmp_ltz_bits of x - y,
 * the same cost. bits = k is mpc_cmp_lt. */
mpc_err mpc_cmp_lt_bits(mpc_party *p, mpc_ring r, const void *x, const void *y, unsigned bits,
                        void *out, size_t n) MPC_MUST_CHECK;
/* out = [x == y] (exact, any values). */
mpc_err mpc_cmp_eq(mpc_party *p, mpc_ring r, const void *x, const void *y, void *out,
                   size_t n) MPC_MUST_CHECK;
/* out = b ? x : y, for shared b in {0, 1} (one multiplication). */
mpc_err mpc_cmp_select(mpc_party *p, mpc_ring r, const void *b, const void *x, const void *y,
                       void *out, size_t n) MPC_MUST_CHECK;
/* out = max(x, 0). */
mpc_err mpc_cmp_relu(mpc_party *p, mpc_ring r, const void *x, void *out, size_t n) MPC_MUST_CHECK;
/* m vectors of length len (x[i*len + j]): max[i] (and min[i]) over j, and
 * argmax[i] (the smallest j attaining it) if argmax is not NULL. A tree:
 * ceil(log2 len) comparison levels. Values must differ by less than 2^(k-1). */
mpc_err mpc_cmp_max(mpc_party *p, mpc_ring r, const void *x, size_t m, size_t len, void *max,
                    void *argmax) MPC_MUST_CHECK;
mpc_err mpc_cmp_min(mpc_party *p, mpc_ring r, const void *x, size_t m, size_t len, void *min,
                    void *argmin) MPC_MUST_CHECK;
/* The same with mpc_cmp_lt_bits: correct when the difference of any two
 * values of a vector lies in [-2^(bits-1), 2^(bits-1)) (e.g. all values in
 * [-2^(bits-2), 2^(bits-2))), wrong otherwise (the caller's contract); each
 * level costs what mpc_cmp_lt_bits costs on its pairs. 2 <= bits <= k. */
mpc_err mpc_cmp_max_bits(mpc_party *p, mpc_ring r, const void *x, size_t m, size_t len,
                         unsigned bits, void *max, void *argmax) MPC_MUST_CHECK;
mpc_err mpc_cmp_min_bits(mpc_party *p, mpc_ring r, const void *x, size_t m, size_t len,
                         unsigned bits, void *min, void *argmin) MPC_MUST_CHECK;

/* Exact truncation: out = floor(x / 2^f) (arithmetic shift of the signed x)
 * with no rounding error and no failure probability, for every x (in
 * particular |x| < 2^(k-2)). One truncation pair, one open, a bit
 * decomposition of the mask and a comparison with the opened value: dearer
 * than mpc_trunc. 1 <= f < k. */
mpc_err mpc_trunc_exact(mpc_party *p, mpc_ring r, unsigned f, const void *x, void *out,
                        size_t n) MPC_MUST_CHECK;

#endif
