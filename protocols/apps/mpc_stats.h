/* Joint statistics over every party's transactions: count, total, mean,
 * variance and standard deviation of amounts, and fraud rate.
 *
 * Each party sums its own rows locally (n_i, frauds_i, A_i = sum of amounts,
 * Q_i = sum of squared amounts, amounts in fixed point as exact integers in
 * Z_2^128), shares those four numbers (which sends nothing), and the parties
 * add the shares. The variance's numerator n*Q - A^2 is computed on shares
 * with one Beaver round, exactly, so Q itself is never opened. Opened to all:
 * n, frauds, A and n*Q - A^2 — exactly what the outputs determine, so the
 * opening reveals nothing beyond the outputs. (The outputs themselves reveal
 * what any aggregate does: with two parties each learns the other's totals.)
 *
 * Accuracy: each amount is encoded with error at most 2^-(F+1); after that
 * everything is exact. So the total is within n*2^-(F+1) of the true one,
 * the mean within 2^-(F+1), the variance within 2^-F * max|a - mean| + 2^-(2F+2).
 *
 * Why this is not mpc_agg (protocols/apps/mpc_agg.h) with these six
 * statistics: mpc_agg opens the same four values (n, frauds, A, n*Q - A^2,
 * the same doubles after division) but first tests every cohort's size
 * under MPC, even with min_cohort 0 (K = max(K, 1)): the msb of n - 1 in
 * Z_2^64, opening the bit [n < 1]. That bit tells nothing n does not, yet at
 * 3 parties it costs 244 bit-triple words and 9 more rounds (measured at
 * party 0 with a dealer: 2 rounds and 472 bytes sent here, 11 rounds and
 * 9268 bytes there); an empty union is "suppressed" there, MPC_ECHEAT here;
 * and mpc_agg_check_spec also needs parties x max_rows < 2^42 (its rank
 * tests), which refuses some jobs this accepts. So the statistics kind's
 * legacy preset (jobs/kind_stats.c) runs this, with its material (2 triples
 * Z_2^128) and its "statistic,value" output. mpc_agg would match it if,
 * with K <= 1 and n among the opened values, it skipped the test and called
 * a cohort suppressed when its opened n is 0. */
#ifndef MPC_STATS_H
#define MPC_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "protocols/core/mpc_party.h"
#include "runtime/mpc_err.h"

typedef struct {
	unsigned frac;     /* fractional bits, 0..40 (default 16) */
	double max_amount; /* every |amount| <= this (default 10^6) */
	double max_rows;   /* rows per party <= this (default 10^6) */
} mpc_stats_params;

#define MPC_STATS_N 6
/* Preprocessing one run consumes: Beaver triples in Z_2^128 (the product of
 * the count and the sum of squares, and of the total with itself). */
#define MPC_STATS_TRIPLES 2
/* This party's rows, in memory (borrowed): jobs/mpc_agg_io.h makes them
 * from a transaction file. */
typedef struct {
	size_t n;
	const double *amount; /* n, |amount| <= max_amount */
	const uint8_t *fraud; /* n, 0 or 1 */
} mpc_stats_rows;

typedef struct {
	double v[MPC_STATS_N]; /* in the order of mpc_stats_names */
} mpc_stats_result;

/* "count", "total", "mean", "variance", "stddev", "fraud_rate" */
extern const char *const mpc_stats_names[MPC_STATS_N];

void mpc_stats_params_default(mpc_stats_params *sp);
/* The public bounds must keep n*Q - A^2 inside Z_2^128: parties x max_rows x
 * max_amount x 2^F < 2^62. MPC_ECONFIG saying which to lower. */
mpc_err mpc_stats_check_params(const mpc_stats_params *sp, int n_parties) MPC_MUST_CHECK;
/* This party's rows against the bounds (amounts were checked on reading);
 * MPC_ERANGE naming `name`. */
mpc_err mpc_stats_check_input(const mpc_stats_params *sp, const mpc_stats_rows *rows,
                              const char *name) MPC_MUST_CHECK;
/* Run the computation (collective; needs a preprocessing source for 2
 * triples in Z_2^128). Every party gets the result. */
mpc_err mpc_stats_run(mpc_party *p, const mpc_stats_params *sp, const mpc_stats_rows *rows,
                      mpc_stats_result *out) MPC_MUST_CHECK;

#endif
