/* Aggregate statistics: the spec's defaults and checks, the row checks and
 * the filter, the names of the result fields (see mpc_agg.h). */
#include "protocols/apps/mpc_agg.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "protocols/apps/mpc_agg_internal.h"
#include "protocols/nonlinear/mpc_math.h"

void mpc_agg_spec_default(mpc_agg_spec *s) {
	memset(s, 0, sizeof(*s));
	s->stats = MPC_AGG_COUNT | MPC_AGG_SUM | MPC_AGG_MEAN | MPC_AGG_VAR | MPC_AGG_STD;
	s->frac = 16;
	s->max_abs = 1e6;
	s->max_rows = 1e6;
	s->col = 0;
	s->col_y = -1;
	s->fraud_col = -1;
	s->filter_col = -1;
}

int mpc_agg_divides_inside(const mpc_agg_spec *s) {
	return s->divide == MPC_AGG_DIV_INSIDE ||
	       (s->divide == MPC_AGG_DIV_AUTO && !(s->stats & MPC_AGG_COUNT));
}

mpc_err mpc_agg_check_spec(const mpc_agg_spec *s, int np) {
	return mpc_agg_check_spec_for(s, (double)np, "parties");
}

mpc_err mpc_agg_contrib_check(const mpc_agg_spec *s, size_t m_max) {
	if (s->stats & MPC_AGG_QUANT)
		return mpc_error(
		    MPC_ECONFIG,
		    "statistics: quantiles (the median too) cannot be computed from input "
		    "parties' contributions: the search needs each row's owner online; "
		    "drop them or make the owners compute parties");
	/* an empty union is allowed (every cohort suppressed): one contributor's bounds */
	return mpc_agg_check_spec_for(s, m_max ? (double)m_max : 1, "contributors");
}

/* The checks of mpc_agg_check_spec with `owners` owners of rows (`who`:
 * "parties" or "contributors", for the messages). */
mpc_err mpc_agg_check_spec_for(const mpc_agg_spec *s, double owners, const char *who) {
	const unsigned all = (MPC_AGG_FRAUD << 1) - 1;
	if (s->stats == 0 || (s->stats & ~all))
		return mpc_error(MPC_ECONFIG, "statistics: no (or an unknown) statistic asked for");
	if (s->frac > 40 || !(s->max_abs > 0) || !isfinite(s->max_abs) || !(s->max_rows >= 1))
		return mpc_error(MPC_ECONFIG, "statistics: frac_bits must be 0..40, max_abs and "
		                              "max_rows positive");
	if (s->col < 0 || s->col >= MPC_AGG_MAX_COLS)
		return mpc_error(MPC_ECONFIG, "statistics: value column %d out of range", s->col);
	if (mpc_agg_uses_y(s) && (s->col_y < 0 || s->col_y >= MPC_AGG_MAX_COLS))
		return mpc_error(MPC_ECONFIG, "statistics: covariance/correlation need a second "
		                              "column (col_y)");
	if ((s->stats & MPC_AGG_FRAUD) && (s->fraud_col < 0 || s->fraud_col >= MPC_AGG_MAX_COLS))
		return mpc_error(MPC_ECONFIG, "statistics: the fraud rate needs a fraud column");
	if (s->filter_col >= MPC_AGG_MAX_COLS ||
	    (s->filter_col >= 0 && (s->filter_op <= MPC_AGG_NONE || s->filter_op > MPC_AGG_NE ||
	                            !isfinite(s->filter_value))))
		return mpc_error(MPC_ECONFIG, "statistics: bad filter (column, comparison or "
		                              "constant)");
	if (s->stats & MPC_AGG_HIST) {
		if (s->n_edges == 0 || s->n_edges > MPC_AGG_MAX_EDGES || s->edges == NULL)
			return mpc_error(MPC_ECONFIG, "statistics: a histogram needs 1..%d edges",
			                 MPC_AGG_MAX_EDGES);
		for (size_t i = 0; i < s->n_edges; i++)
			if (!isfinite(s->edges[i]) || (i && !(s->edges[i] > s->edges[i - 1])))
				return mpc_error(MPC_ECONFIG,
				                 "statistics: histogram edge %zu is not "
				                 "finite or not above the previous one",
				                 i);
	}
	if (s->stats & MPC_AGG_QUANT) {
		if (s->n_quant == 0 || s->n_quant > MPC_AGG_MAX_QUANT || s->quant == NULL)
			return mpc_error(MPC_ECONFIG, "statistics: quantiles need 1..%d levels",
			                 MPC_AGG_MAX_QUANT);
		for (size_t i = 0; i < s->n_quant; i++) {
			double qd = round(s->quant[i] * (1 << MPC_AGG_QBITS));
			if (!(qd >= 1 && qd <= (1 << MPC_AGG_QBITS) - 1))
				return mpc_error(MPC_ECONFIG,
				                 "statistics: quantile level %zu must "
				                 "lie in [2^-%d, 1 - 2^-%d]",
				                 i, MPC_AGG_QBITS, MPC_AGG_QBITS);
		}
	}
	if (s->n_groups > MPC_AGG_MAX_GROUPS)
		return mpc_error(MPC_ECONFIG, "statistics: at most %d groups", MPC_AGG_MAX_GROUPS);
	long double rows = (long double)owners * s->max_rows;
	long double a = rows * s->max_abs * ldexpl(1, (int)s->frac);
	if (!(a < ldexpl(1, 62)))
		return mpc_error(MPC_ECONFIG,
		                 "statistics: %.0f %s x %.0f rows x values up to %g "
		                 "with %u fractional bits overflow Z_2^128 in the variance; lower "
		                 "max_rows, max_abs or frac_bits",
		                 owners, who, s->max_rows, s->max_abs, s->frac);
	if (s->divide < MPC_AGG_DIV_AUTO || s->divide > MPC_AGG_DIV_CLEAR)
		return mpc_error(MPC_ECONFIG, "statistics: bad division mode %d", (int)s->divide);
	if (!s->dp && mpc_agg_divides_inside(s) && (s->stats & MPC_AGG_STD) &&
	    (s->frac < 8 || s->frac > 20 ||
	     !(s->max_abs * s->max_abs < mpc_math_sqrt_max(s->frac))))
		return mpc_error(MPC_ECONFIG,
		                 "statistics: stddev divided under MPC needs "
		                 "frac_bits 8..20 and max_abs^2 below %g (or ask for count too)",
		                 s->frac >= 8 && s->frac <= 20 ? mpc_math_sqrt_max(s->frac) : 0.0);
	if (s->select != MPC_AGG_SEL_NONE && !s->dp)
		return mpc_error(MPC_ECONFIG,
		                 "statistics: select needs dp (the exponential mechanism "
		                 "takes its share of the DP budget)");
	if (s->dp) {
		mpc_agg_dp_plan plan;
		mpc_err err = mpc_agg_dp_plan_make(s, &plan);
		if (err != MPC_OK)
			return err;
	}
	if (!(rows < ldexpl(1, 62 - MPC_AGG_QBITS)) || !((long double)s->min_cohort < rows + 1))
		return mpc_error(MPC_ECONFIG,
		                 "statistics: %.0f %s x %.0f rows too many for the "
		                 "rank tests, or min_cohort above the largest possible count",
		                 owners, who, s->max_rows);
	return MPC_OK;
}

/* The value column is always read (and bounded); the others when used. */
static int col_used(const mpc_agg_spec *s, int c) {
	return c == s->col || (mpc_agg_uses_y(s) && c == s->col_y) ||
	       ((s->stats & MPC_AGG_FRAUD || s->select == MPC_AGG_SEL_FRAUD) &&
	        c == s->fraud_col) ||
	       c == s->filter_col;
}

mpc_err mpc_agg_check_rows(const mpc_agg_spec *s, const mpc_agg_rows *rows, const char *name) {
	if ((double)rows->n > s->max_rows)
		return mpc_error(MPC_ERANGE, "%s: %zu rows, more than max_rows %.0f", name, rows->n,
		                 s->max_rows);
	for (int c = 0; c < MPC_AGG_MAX_COLS; c++) {
		if (!col_used(s, c))
			continue;
		if ((size_t)c >= rows->n_cols || (rows->n && rows->col[c] == NULL))
			return mpc_error(MPC_ERANGE, "%s: no column %d", name, c);
		/* only encoded columns are bounded; the filter and fraud columns are
		 * only compared in the clear: any finite value */
		int bounded = c == s->col || (mpc_agg_uses_y(s) && c == s->col_y);
		for (size_t i = 0; i < rows->n; i++) {
			double v = rows->col[c][i];
			if (!isfinite(v) || (bounded && !(fabs(v) <= s->max_abs)))
				return mpc_error(MPC_ERANGE,
				                 "%s: row %zu: column %d is not finite or "
				                 "above max_abs %g",
				                 name, i + 1, c, s->max_abs);
		}
	}
	if (rows->group && s->n_groups)
		for (size_t i = 0; i < rows->n; i++)
			if (rows->group[i] != MPC_AGG_NO_GROUP && rows->group[i] >= s->n_groups)
				return mpc_error(MPC_ERANGE,
				                 "%s: row %zu: group index out of range", name,
				                 i + 1);
	return MPC_OK;
}

int mpc_agg_filter_pass(const mpc_agg_spec *s, double v) {
	double c = s->filter_value;
	switch (s->filter_op) {
	case MPC_AGG_LT:
		return v < c;
	case MPC_AGG_LE:
		return v <= c;
	case MPC_AGG_GT:
		return v > c;
	case MPC_AGG_GE:
		return v >= c;
	case MPC_AGG_EQ:
		return v == c;
	case MPC_AGG_NE:
		return v != c;
	default:
		return 1;
	}
}

const char *mpc_agg_stat_field(size_t i, const mpc_agg_stats *st, unsigned *bit, double *v) {
	static const struct {
		unsigned bit;
		const char *name;
		size_t off;
	} f[] = {{MPC_AGG_COUNT, "count", offsetof(mpc_agg_stats, count)},
	         {MPC_AGG_SUM, "sum", offsetof(mpc_agg_stats, sum)},
	         {MPC_AGG_MEAN, "mean", offsetof(mpc_agg_stats, mean)},
	         {MPC_AGG_VAR, "variance", offsetof(mpc_agg_stats, variance)},
	         {MPC_AGG_STD, "stddev", offsetof(mpc_agg_stats, stddev)},
	         {MPC_AGG_MIN, "min", offsetof(mpc_agg_stats, min)},
	         {MPC_AGG_MAX, "max", offsetof(mpc_agg_stats, max)},
	         {MPC_AGG_FRAUD, "fraud_rate", offsetof(mpc_agg_stats, fraud_rate)},
	         {MPC_AGG_COV, "cov", offsetof(mpc_agg_stats, cov)},
	         {MPC_AGG_CORR, "corr", offsetof(mpc_agg_stats, corr)}};
	if (i >= sizeof(f) / sizeof(f[0]))
		return NULL;
	*bit = f[i].bit;
	memcpy(v, (const char *)st + f[i].off, sizeof(*v));
	return f[i].name;
}
