/* Differentially private selection under MPC: the exponential mechanism.
 * Given k candidates whose scores s_0..s_{k-1} are secret-shared, pick index
 * i with probability proportional to exp(epsilon s_i / (2 sensitivity)) and
 * open only i: never a score, a weight, the randomness or a probability.
 *
 * Construction (F = MPC_DP_SELECT_FRAC = 20, B = MPC_DP_SELECT_UBITS = 40,
 * a = epsilon / (2 sensitivity), scores in ring r with f fractional bits):
 *  1. M = max_i s_i (mpc_cmp_max; in Z_2^128 mpc_cmp_max_bits on 64 bits),
 *     d_i = s_i - M <= 0; from Z_2^64, d is lifted to Z_2^128 (bit
 *     decomposition, random shared bits of Z_2^128).
 *  2. The exponent in units of 2^-F: X_i = A d_i with the public integer
 *     A = min(floor(a 2^(F-f)), 2^62), exact, when a 2^(F-f) >= 2^10 (for
 *     counts, f = 0: a >= 2^-10); otherwise X_i = trunc(A d_i / 2^g),
 *     A = floor(a 2^(F-f+g)) in [2^20, 2^21) (one probabilistic truncation:
 *     error at most one unit of 2^-F). a' = A 2^-(F-f+g) <= a (A rounded
 *     down): epsilon' = 2 sensitivity a' is within 2^-10 of epsilon
 *     (relative) on the exact path, 2^-20 on the other, unless A is clamped
 *     at 2^62 (a gap of one score unit is then worth over 2^42 in the
 *     exponent: the maximum is always chosen anyway).
 *  3. w_i = mpc_math_exp(X_i + c) at F fractional bits, c = x_max(F) - 1
 *     = 23: the largest weight is e^23 2^F ~ 2^53 units, so exp's absolute
 *     error (1.1 units) is negligible next to its relative one (2^-23).
 *  4. P_j = w_0 + ... + w_j, T = P_{k-1} (local); u = sum_b 2^b r_b from B
 *     random shared bits (uniform in [0, 2^B), unknown to any N-1 parties);
 *     uT by one Beaver product (exact, no truncation).
 *  5. index = #{j < k-1 : P_j 2^B <= uT} by k-1 comparisons
 *     (mpc_cmp_lt_bits, B + 55 + ceil(log2 k) bits), converted and summed
 *     locally; only the index is opened (mpc_open_output).
 *
 * Distribution sampled. Given the weights w (computed as above),
 *   P(index = i) = (ceil(2^B P_i / T) - ceil(2^B P_{i-1} / T)) / 2^B
 * (P_{-1} = 0), within 2^-B of w_i / T; and w_i is within 1.1 units +
 * 2^-23 w*_i of w*_i = exp(X_i 2^-F + c) 2^F. With no truncation and no
 * exp error this is exactly the exponential mechanism at
 * epsilon' = 2 sensitivity a' <= epsilon.
 *
 * Exactness. Against the exact exponential mechanism at epsilon' (hence
 * against an epsilon-DP mechanism), the total variation per selection is at
 * most (mpc_dp_select_info)
 *   2 eta + e0 / (1 - e0) + 3 k^2 / W0 + k 2^-(B+1) + 3 k 2^-40,
 * e0 = 2^-23 + 1.1 k / W0, W0 = e^(c - eta) 2^F, eta = 2^-F if step 2
 * truncates and 0 otherwise: the exponent's rounding, exp's error, a weight
 * of -1 unit (exp of a very negative x), u's granularity, truncation
 * failures. About 1.2e-7 (k <= 1000, no truncation), 2.1e-6 with it. A
 * mechanism within total variation d of an epsilon-DP one is
 * (epsilon, (1 + e^epsilon) d)-DP.
 *
 * Cost per selection (3 parties, measured by tests/loopback/test_dp_select):
 * k exps (about 1,260 bit triples, 69 + bits of Z_2^128, 4 triples and 2
 * truncation pairs each), k - 1 comparisons at the max (64-bit) and k - 1
 * against uT (B + 55 + ceil(log2 k) bits), 40 random bits of Z_2^128, one
 * triple; from Z_2^64 also a lift (about 436 bit triples and 64 bits of
 * Z_2^128 per candidate). k = 4 counts in Z_2^64: 8,585 bit triples, 594
 * random bits, 20 triples, 8 truncation pairs; k = 6 in Z_2^128 with a
 * truncated exponent: 10,591, 488, 30, 18. Online rounds do not depend on
 * the number of selections m of a batch: 65 at k = 4 (Z_2^64), 67 at
 * k = 5 (Z_2^128), the max taking one more comparison level per doubling
 * of k. The plan is found by mpc_plan_simulate like any computation
 * (control flow follows only k, m, r, f, epsilon, sensitivity and N); the
 * test checks it against the generator's counters.
 *
 * Contract: every party passes the same r, f, m, k, epsilon, sensitivity;
 * in Z_2^128 each |s_i| < 2^62 units, in Z_2^64 the scores of a vector
 * differ by less than 2^63 (mpc_cmp_max's contract); otherwise the index
 * is wrong, not an error. */
#ifndef MPC_DP_SELECT_H
#define MPC_DP_SELECT_H

#include "protocols/core/mpc_party.h"
#include "runtime/mpc_err.h"
#include "runtime/mpc_ring.h"
#include <stddef.h>

/* Fractional bits of the exponent and of the weights. */
#define MPC_DP_SELECT_FRAC 20
/* Bits of the uniform u. */
#define MPC_DP_SELECT_UBITS 40
/* Most candidates per selection. */
#define MPC_DP_SELECT_MAX_K ((size_t)1 << 20)

/* The epsilon' <= epsilon the sampler realises for k candidates whose scores
 * have f fractional bits in ring r, and its total-variation bound per
 * selection against the exact exponential mechanism at epsilon'. MPC_EINVAL
 * (with a message naming the parameter) for epsilon or sensitivity not
 * finite or <= 0, k = 0 or above MPC_DP_SELECT_MAX_K, a bad ring, f >= the
 * ring's bits; MPC_ERANGE when a 2^(F-f) < 2^-60 (scores on too fine a
 * grid for this epsilon). Either out-pointer may be NULL. */
mpc_err mpc_dp_select_info(mpc_ring r, unsigned f, size_t k, double epsilon, double sensitivity,
                           double *epsilon_used, double *tv_bound) MPC_MUST_CHECK;

/* m independent selections: vector v (scores[v*k .. v*k+k), ring r, f
 * fractional bits) gives index[v] in [0, k). Collective; the same
 * parameters at every party. Errors of mpc_dp_select_info, and MPC_EINVAL
 * for m = 0 or NULL pointers, before any message; k = 1 gives 0 with no
 * message and no material. MPC_EPROTO if an opened index is out of range
 * (never, with honest parties). Rounds do not depend on m. */
mpc_err mpc_dp_select_batch(mpc_party *p, mpc_ring r, unsigned f, const void *scores, size_t m,
                            size_t k, double epsilon, double sensitivity,
                            size_t *index) MPC_MUST_CHECK;

/* One selection: mpc_dp_select_batch with m = 1. */
mpc_err mpc_dp_select(mpc_party *p, mpc_ring r, unsigned f, const void *scores, size_t k,
                      double epsilon, double sensitivity, size_t *index) MPC_MUST_CHECK;

#endif
