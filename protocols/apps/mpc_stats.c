/* Joint transaction statistics. */
#include "protocols/apps/mpc_stats.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "protocols/core/mpc_beaver.h"
#include "protocols/core/mpc_share.h"
#include "runtime/mpc_fixed.h"
#include "runtime/mpc_wipe.h"

const char *const mpc_stats_names[MPC_STATS_N] = {"count",    "total",  "mean",
                                                  "variance", "stddev", "fraud_rate"};

void mpc_stats_params_default(mpc_stats_params *sp) {
	sp->frac = MPC_FIXED_DEFAULT_FRAC;
	sp->max_amount = 1e6;
	sp->max_rows = 1e6;
}

mpc_err mpc_stats_check_params(const mpc_stats_params *sp, int np) {
	if (sp->frac > 40 || !(sp->max_amount > 0) || !(sp->max_rows >= 1))
		return mpc_error(MPC_ECONFIG, "statistics: frac_bits must be 0..40, max_amount and "
		                              "max_rows positive");
	long double a = (long double)np * sp->max_rows * sp->max_amount * ldexpl(1, (int)sp->frac);
	if (!(a < ldexpl(1, 62)))
		return mpc_error(MPC_ECONFIG,
		                 "statistics: %d parties x %.0f rows x amounts up to %g "
		                 "with %u fractional bits overflow Z_2^128 in the variance; lower "
		                 "max_rows, max_amount or frac_bits",
		                 np, sp->max_rows, sp->max_amount, sp->frac);
	return MPC_OK;
}

mpc_err mpc_stats_check_input(const mpc_stats_params *sp, const mpc_stats_rows *t,
                              const char *name) {
	if ((double)t->n > sp->max_rows)
		return mpc_error(MPC_ERANGE, "%s: %zu rows, more than max_rows %.0f", name, t->n,
		                 sp->max_rows);
	return MPC_OK;
}

/* Local sums in Z_2^128: count, frauds, sum of encoded amounts, sum of squares. */
static mpc_err local_sums(const mpc_stats_rows *t, const mpc_stats_params *sp, mpc_u128 out[4]) {
	mpc_u128 enc = 0;
	mpc_err err = MPC_OK;

	memset(out, 0, 4 * sizeof(mpc_u128));
	out[0] = t->n;
	for (size_t i = 0; i < t->n && err == MPC_OK; i++) {
		/* the reader checked |amount| <= max_amount; the slack covers rounding */
		err = mpc_fixed_encode(MPC_Z128, sp->frac, sp->max_amount * (1 + 1e-12) + 1,
		                       &t->amount[i], &enc, 1);
		out[1] += t->fraud[i];
		out[2] += enc;
		out[3] += enc * enc;
	}
	mpc_wipe(&enc, sizeof(enc));
	return err;
}

static double ring_to_double(mpc_u128 v, int frac_bits) {
	return ldexp((double)(long double)(mpc_i128)v, -frac_bits);
}

mpc_err mpc_stats_run(mpc_party *p, const mpc_stats_params *sp, const mpc_stats_rows *t,
                      mpc_stats_result *res) {
	int np = mpc_party_size(p);
	mpc_u128 mine[4], sum[4] = {0}, share[4], x[2], y[2], z[2], open[4];
	mpc_err err;

	if ((err = mpc_stats_check_params(sp, np)) != MPC_OK ||
	    (err = local_sums(t, sp, mine)) != MPC_OK)
		goto out;
	/* every party's four sums, shared without sending anything */
	for (int owner = 0; owner < np; owner++) {
		err =
		    mpc_input(p, owner, MPC_Z128, owner == mpc_party_id(p) ? mine : NULL, share, 4);
		if (err != MPC_OK)
			goto out;
		mpc_share_add(MPC_Z128, sum, sum, share, 4);
	}
	/* [n*Q, A*A] in one round */
	x[0] = sum[0], y[0] = sum[3];
	x[1] = sum[2], y[1] = sum[2];
	if ((err = mpc_beaver_mul(p, MPC_Z128, x, y, z, 2)) != MPC_OK)
		goto out;
	open[0] = sum[0];
	open[1] = sum[1];
	open[2] = sum[2];
	open[3] = z[0] - z[1];
	/* outputs: fresh shares before they are opened */
	if ((err = mpc_open_output(p, MPC_Z128, open, open, 4)) != MPC_OK)
		goto out;
	double n = (double)open[0];
	/* the joint count can be checked against the public bounds */
	if (open[0] == 0 || n > np * sp->max_rows || open[1] > open[0]) {
		err = mpc_error(MPC_ECHEAT,
		                "statistics: the opened count (%.0f) or fraud count is "
		                "impossible: a party sent wrong shares",
		                n);
		goto out;
	}
	res->v[0] = n;
	res->v[1] = ring_to_double(open[2], (int)sp->frac);
	res->v[2] = res->v[1] / n;
	res->v[3] = ring_to_double(open[3], 2 * (int)sp->frac) / (n * n);
	res->v[4] = sqrt(res->v[3] > 0 ? res->v[3] : 0);
	res->v[5] = (double)open[1] / n;
out:
	mpc_wipe(mine, sizeof(mine));
	mpc_wipe(sum, sizeof(sum));
	mpc_wipe(share, sizeof(share));
	mpc_wipe(x, sizeof(x));
	mpc_wipe(y, sizeof(y));
	mpc_wipe(z, sizeof(z));
	return err;
}
