/* Multiplication of shared vectors with Beaver triples, and fixed-point
 * multiplication with probabilistic truncation.
 *
 * Beaver: with a triple (a, b, c = a*b), open d = x - a and e = y - b; then
 * x*y = c + d*b + e*a + d*e (the public d*e added by party 0). A vector of n
 * products costs one round in which each party sends 2n elements to each of
 * the N-1 others: 32 bytes per product per party at N = 3 in Z_2^64. The
 * opened d and e are uniformly random and reveal nothing.
 *
 * The split prepare / (open) / finalize lets independent operations share a
 * round: prepare several, open their masked values together with one
 * mpc_open, then finalize each. */
#ifndef MPC_BEAVER_H
#define MPC_BEAVER_H

#include "protocols/core/mpc_party.h"
#include "protocols/core/mpc_preproc.h"
#include "runtime/mpc_err.h"
#include "runtime/mpc_ring.h"
#include <stddef.h>

/* Masked values of a batch of n products: de[0..n) = x - a, de[n..2n) = y - b.
 * `de` has room for 2n elements. After mpc_open(de) it holds d and e. */
void mpc_beaver_prepare(mpc_ring r, const mpc_triples *t, const void *x, const void *y, void *de,
                        size_t n);
/* z = c + d*b + e*a (+ d*e at party 0), from the opened de. z may alias x or y. */
void mpc_beaver_finalize(const mpc_party *p, mpc_ring r, const mpc_triples *t, const void *de,
                         void *z, size_t n);

/* z = x * y element-wise, n products with triples t (consumed: the caller
 * still finishes t). One round. */
mpc_err mpc_beaver_mul_with(mpc_party *p, mpc_ring r, const mpc_triples *t, const void *x,
                            const void *y, void *z, size_t n) MPC_MUST_CHECK;
/* The same, fetching n triples from the party's preprocessing source first. */
mpc_err mpc_beaver_mul(mpc_party *p, mpc_ring r, const void *x, const void *y, void *z,
                       size_t n) MPC_MUST_CHECK;

/* m dot products of length len in one round: z[i] = sum_k x[i*len+k] * y[i*len+k].
 * Uses m*len triples; sends 2*m*len elements per peer. */
mpc_err mpc_beaver_dot(mpc_party *p, mpc_ring r, const void *x, const void *y, void *z, size_t m,
                       size_t len) MPC_MUST_CHECK;

/* Probabilistic truncation: out ~ x / 2^f for shared x with |x| < 2^(k-41)
 * (as a signed k-bit number). One round with a truncation pair (r, r >> f):
 * open c = x + 2^(k-41) + r, then out = (c >> f) - (r >> f) - 2^(k-41-f).
 *  - Error: out - x/2^f lies in (-1, 1], i.e. at most one unit in the last
 *    place (the result is floor(x/2^f) or floor(x/2^f) + 1).
 *  - Failure: when x + 2^(k-41) + r wraps mod 2^k the result is off by
 *    about 2^(k-f); this happens with probability (x + 2^(k-41)) / 2^k,
 *    below 2^-40 for every x in range. Outside the range the result is wrong.
 *  - Privacy: c is uniform whatever x is.
 * For F = 16 fractional bits this means a product of two fixed-point values
 * (2F = 32 fractional bits) must satisfy |v1*v2| < 2^(k-41-32): 2^55 in
 * Z_2^128; in Z_2^64 only 2^-9, so fixed-point products belong in Z_2^128. */
mpc_err mpc_trunc(mpc_party *p, mpc_ring r, unsigned f, const void *x, void *out,
                  size_t n) MPC_MUST_CHECK;
/* As mpc_trunc with the bound 2^l instead of 2^(k-41) (l <= k-2); failure
 * probability (x + 2^l) / 2^k < 2^(l+1-k). For tests of the failure rate. */
mpc_err mpc_trunc_bound(mpc_party *p, mpc_ring r, unsigned f, unsigned l, const void *x, void *out,
                        size_t n) MPC_MUST_CHECK;

/* As mpc_trunc with truncation pairs fetched beforehand (tp->f bits, at
 * least n pairs; the caller still finishes tp). */
mpc_err mpc_trunc_with(mpc_party *p, mpc_ring r, const mpc_truncpairs *tp, const void *x, void *out,
                       size_t n) MPC_MUST_CHECK;

/* Fixed-point product with f fractional bits: z = trunc(x * y). Two rounds.
 * Range and error as for mpc_trunc on the product x*y (2f fractional bits). */
mpc_err mpc_fixed_mul(mpc_party *p, mpc_ring r, unsigned f, const void *x, const void *y, void *z,
                      size_t n) MPC_MUST_CHECK;
/* The same with preprocessing fetched beforehand (the online phase only). */
mpc_err mpc_fixed_mul_with(mpc_party *p, mpc_ring r, const mpc_triples *t, const mpc_truncpairs *tp,
                           const void *x, const void *y, void *z, size_t n) MPC_MUST_CHECK;

#endif
