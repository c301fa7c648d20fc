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
 * the mean within 2^-(F+1), the variance within 2^-F * max|a - mean| + 2^-(2F+2). */
#ifndef MPC_STATS_H
#define MPC_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/mpc_err.h"
#include "protocols/core/mpc_party.h"

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
	const double *amount;  /* n, |amount| <= max_amount */
	const uint8_t *fraud;  /* n, 0 or 1 */
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
