/* Aggregate statistics with differential privacy (spec.dp != 0): the budget
 * split over the released aggregates and their grids (the DP plan), and the
 * DP run that adds jointly drawn noise before every opening (see mpc_agg.h,
 * "Differential privacy"). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/apps/mpc_agg_internal.h"
#include "protocols/apps/mpc_dp.h"
#include "protocols/apps/mpc_dp_select.h"
#include "protocols/core/mpc_share.h"
#include "runtime/mpc_log.h"
#include "runtime/mpc_wipe.h"

/* Kinds of noisy aggregates: slots of a cohort in the DP run (up to
 * DP_HIST); DP_SEL is the selection's budget item, no slot. */
enum { DP_N, DP_SX, DP_QX, DP_FRAUD, DP_HIST, DP_SEL, DP_KINDS };

static const char *const dp_kind_name[DP_KINDS] = {"count",       "sum",       "sum_squares",
                                                   "fraud_count", "histogram", "select"};

const char *mpc_agg_dp_kind_name(int kind) {
	return kind >= 0 && kind < DP_KINDS ? dp_kind_name[kind] : "?";
}

int mpc_agg_dp_item_is_select(const mpc_agg_dp_item *it) {
	return it->kind == DP_SEL;
}

const char *mpc_agg_select_name(mpc_agg_sel sel) {
	return sel == MPC_AGG_SEL_COUNT ? "count" : sel == MPC_AGG_SEL_FRAUD ? "fraud_count" : NULL;
}

/* The selection's line: no noise, the exponential mechanism's epsilon. */
static void dp_select_line(mpc_agg_dp_item *it, const mpc_agg_dp_plan *pl) {
	const mpc_dp_alloc *a = &it->alloc;
	if (a->mech == MPC_DP_GAUSSIAN)
		snprintf(it->line, sizeof(it->line),
		         "dp %-24s rho %-9.4g (epsilon %.4g: pure epsilon-DP, rho = epsilon^2/2) "
		         "sensitivity 1 exponential mechanism, only the group's name opened",
		         it->label, a->rho, pl->select_epsilon);
	else
		snprintf(it->line, sizeof(it->line),
		         "dp %-24s epsilon %-9.4g sensitivity 1         exponential mechanism, "
		         "only the group's name opened",
		         it->label, pl->select_epsilon);
}

/* The selection's checks and its budget item (appended to plan). */
static mpc_err dp_select_item(const mpc_agg_spec *s, mpc_agg_dp_plan *plan) {
	if (s->select == MPC_AGG_SEL_NONE)
		return MPC_OK;
	if (s->select != MPC_AGG_SEL_COUNT && s->select != MPC_AGG_SEL_FRAUD)
		return mpc_error(MPC_ECONFIG, "statistics: unknown selection %d", (int)s->select);
	if (s->n_groups < 2)
		return mpc_error(MPC_ECONFIG,
		                 "statistics: select needs at least 2 groups to choose from");
	if (s->select == MPC_AGG_SEL_FRAUD &&
	    (s->fraud_col < 0 || s->fraud_col >= MPC_AGG_MAX_COLS))
		return mpc_error(MPC_ECONFIG,
		                 "statistics: select fraud_count needs a fraud column");
	mpc_agg_dp_item *it = &plan->item[plan->n++];
	it->kind = DP_SEL;
	it->groups = 1;
	snprintf(it->label, sizeof(it->label), "select %s (groups)",
	         mpc_agg_select_name(s->select));
	return MPC_OK;
}

/* After the split: the selection's epsilon from its share, checked by the
 * sampler (the item's alloc.stddev is not a noise: stddev 0). */
static mpc_err dp_select_finish(const mpc_agg_spec *s, mpc_agg_dp_plan *plan, mpc_agg_dp_item *it) {
	const mpc_dp_alloc *a = &it->alloc;
	plan->select_epsilon = a->mech == MPC_DP_GAUSSIAN ? sqrt(2 * a->rho) : a->epsilon;
	it->stddev = 0;
	if (mpc_dp_select_info(MPC_Z128, 0, s->n_groups, plan->select_epsilon, 1,
	                       &plan->select_epsilon_used, &plan->select_tv) != MPC_OK)
		return mpc_error(MPC_ECONFIG, "statistics: dp item %s: %s", it->label,
		                 mpc_error_detail());
	dp_select_line(it, plan);
	return MPC_OK;
}

static void dp_line(mpc_agg_dp_item *it) {
	const mpc_dp_alloc *a = &it->alloc;
	char grid[48];
	if (it->grid == 0)
		snprintf(grid, sizeof(grid), "1");
	else if (it->grid > 0)
		snprintf(grid, sizeof(grid), "2^-%d", it->grid);
	else
		snprintf(grid, sizeof(grid), "2^%d", -it->grid);
	if (a->mech == MPC_DP_GAUSSIAN)
		snprintf(it->line, sizeof(it->line),
		         "dp %-24s rho %-9.4g (epsilon %.4g at delta %.3g) sensitivity %-9.4g "
		         "noise stddev %-9.4g (discrete Gaussian, grid %s)",
		         it->label, a->rho, a->epsilon, a->delta, it->sensitivity, it->stddev,
		         grid);
	else
		snprintf(it->line, sizeof(it->line),
		         "dp %-24s epsilon %-9.4g sensitivity %-9.4g noise stddev %-9.4g "
		         "(discrete Laplace, grid %s)",
		         it->label, a->epsilon, it->sensitivity, it->stddev, grid);
}

/* Sensitivity in grid units of kind k on grid g. */
static long double dp_sens_units(const mpc_agg_spec *s, int k, int g) {
	long double v = k == DP_SX ? (long double)s->max_abs : (long double)s->max_abs * s->max_abs;
	if (k != DP_SX && k != DP_QX)
		return 1;
	long double u = roundl(ldexpl(v, g));
	return u < 1 ? 1 : u;
}

static void dp_set_stat(const mpc_agg_spec *s, mpc_agg_dp_item *it) {
	long double u = dp_sens_units(s, it->kind, it->grid);
	it->stat.name = it->label;
	it->stat.weight = 1;
	if (it->grid >= 0) {
		it->stat.sensitivity = (double)ldexpl(u, -it->grid);
		it->stat.frac = (unsigned)it->grid;
	} else { /* the split works in grid units */
		it->stat.sensitivity = (double)u;
		it->stat.frac = 0;
	}
	it->sensitivity = (double)ldexpl(u, -it->grid);
}

mpc_err mpc_agg_dp_plan_make(const mpc_agg_spec *s, mpc_agg_dp_plan *plan) {
	mpc_dp_stat st[MPC_AGG_DP_MAX];
	mpc_dp_alloc al[MPC_AGG_DP_MAX];
	unsigned w = s->stats;
	int use[DP_KINDS];
	mpc_err err;

	memset(plan, 0, sizeof(*plan));
	if (s->dp == 0)
		return MPC_OK;
	if (s->dp != MPC_DP_LAPLACE && s->dp != MPC_DP_GAUSSIAN)
		return mpc_error(MPC_ECONFIG, "statistics: unknown dp mechanism %d", s->dp);
	const unsigned ok = MPC_AGG_COUNT | MPC_AGG_SUM | MPC_AGG_MEAN | MPC_AGG_VAR | MPC_AGG_STD |
	                    MPC_AGG_HIST | MPC_AGG_FRAUD;
	if (w & ~ok)
		return mpc_error(MPC_ECONFIG,
		                 "statistics: with dp only count, sum, mean, variance, "
		                 "stddev, histogram and fraud_rate can be released "
		                 "(min, max, quantiles, cov, corr have no mechanism here)");
	use[DP_N] = 1;
	use[DP_SX] = (w & (MPC_AGG_SUM | MPC_AGG_MEAN | MPC_AGG_VAR | MPC_AGG_STD)) != 0;
	use[DP_QX] = (w & (MPC_AGG_VAR | MPC_AGG_STD)) != 0;
	use[DP_FRAUD] = (w & MPC_AGG_FRAUD) != 0;
	use[DP_HIST] = (w & MPC_AGG_HIST) != 0;
	use[DP_SEL] = 0; /* its own item below */
	for (int scope = 0; scope < (s->n_groups ? 2 : 1); scope++)
		for (int k = 0; k < DP_KINDS; k++) {
			if (!use[k])
				continue;
			mpc_agg_dp_item *it = &plan->item[plan->n++];
			it->kind = k;
			it->groups = scope;
			snprintf(it->label, sizeof(it->label), "%s (%s)", dp_kind_name[k],
			         scope ? "groups" : "all");
		}
	if ((err = dp_select_item(s, plan)) != MPC_OK)
		return err;
	/* the grids: each sum's noise gets a moderate number of units (its
	 * scale = sensitivity / share does not depend on the grid, up to the
	 * rounding of the sensitivity) */
	double lnd =
	    s->dp == MPC_DP_GAUSSIAN && s->dp_delta > 0 && s->dp_delta < 1 ? -log(s->dp_delta) : 0;
	double r = sqrt(lnd + s->dp_epsilon) - sqrt(lnd), nitems = (double)plan->n;
	for (size_t i = 0; i < plan->n; i++) {
		mpc_agg_dp_item *it = &plan->item[i];
		it->grid = 0;
		if (it->kind != DP_SX && it->kind != DP_QX)
			continue;
		double sens = it->kind == DP_SX ? s->max_abs : s->max_abs * s->max_abs;
		double scale = s->dp == MPC_DP_LAPLACE ? sens * nitems / s->dp_epsilon
		                                       : sens / sqrt(2 * r * r / nitems);
		int nominal = it->kind == DP_SX ? (int)s->frac : 2 * (int)s->frac;
		double g = floor((s->dp == MPC_DP_LAPLACE ? 40 : 6) - log2(scale));
		it->grid = !isfinite(g) || g >= nominal ? nominal : g < -60 ? -60 : (int)g;
	}
	for (size_t i = 0; i < plan->n; i++) {
		dp_set_stat(s, &plan->item[i]);
		st[i] = plan->item[i].stat;
	}
	if ((err = mpc_dp_budget_split((mpc_dp_mech)s->dp, s->dp_epsilon, s->dp_delta, st, plan->n,
	                               al)) != MPC_OK)
		return err;
	for (size_t i = 0; i < plan->n; i++) {
		mpc_agg_dp_item *it = &plan->item[i];
		it->alloc = al[i];
		if (it->kind == DP_SEL) {
			if ((err = dp_select_finish(s, plan, it)) != MPC_OK)
				return err;
			continue;
		}
		it->stddev = it->grid >= 0 ? al[i].stddev : ldexp(al[i].stddev, -it->grid);
		/* every row's grid value must fit comfortably (exact sums in Z_2^128) */
		if (it->kind == DP_QX || it->kind == DP_SX) {
			long double u = dp_sens_units(s, it->kind, it->grid);
			if (!(u < ldexpl(1, 62)))
				return mpc_error(MPC_ECONFIG,
				                 "statistics: dp item %s: max_abs too large "
				                 "for this budget",
				                 it->label);
		}
		dp_line(it);
	}
	return MPC_OK;
}

/* The item of kind k for a cohort (c = 0: all), or NULL. */
static const mpc_agg_dp_item *dp_item(const mpc_agg_dp_plan *pl, int k, size_t c) {
	for (size_t i = 0; i < pl->n; i++)
		if (pl->item[i].kind == k && pl->item[i].groups == (c > 0))
			return &pl->item[i];
	return NULL;
}

static mpc_i128 grid_value(double v, int g) {
	return (mpc_i128)llroundl(ldexpl((long double)v, g));
}

size_t mpc_agg_dp_slots(const mpc_agg_spec *s) {
	return DP_HIST + ((s->stats & MPC_AGG_HIST) ? s->n_edges + 1 : 0);
}

/* Added to loc: L = mpc_agg_dp_slots(s) slots per cohort (n, sx, qx, fraud,
 * then the H buckets), each on its item's grid. */
void mpc_agg_dp_local_sums(const mpc_agg_spec *s, const mpc_agg_rows *rows,
                           const mpc_agg_dp_plan *pl, mpc_u128 *loc) {
	size_t L = mpc_agg_dp_slots(s), H = L - DP_HIST;
	const mpc_agg_dp_item *isx = dp_item(pl, DP_SX, 0), *iqx = dp_item(pl, DP_QX, 0);
	const mpc_agg_dp_item *gsx = dp_item(pl, DP_SX, 1), *gqx = dp_item(pl, DP_QX, 1);
	for (size_t i = 0; i < rows->n; i++) {
		size_t cs[2];
		int nc = mpc_agg_row_cohorts(s, rows, i, cs);
		if (nc == 0)
			continue;
		double x = rows->col[s->col][i];
		size_t b = H ? mpc_agg_bucket_of(s->edges, s->n_edges, x) : 0;
		for (int k = 0; k < nc; k++) {
			mpc_u128 *o = loc + cs[k] * L;
			const mpc_agg_dp_item *sx = cs[k] ? gsx : isx, *qx = cs[k] ? gqx : iqx;
			o[DP_N] += 1;
			if (sx)
				o[DP_SX] += (mpc_u128)grid_value(x, sx->grid);
			if (qx)
				o[DP_QX] += (mpc_u128)grid_value(x * x, qx->grid);
			if ((s->stats & MPC_AGG_FRAUD) || s->select == MPC_AGG_SEL_FRAUD)
				o[DP_FRAUD] += rows->col[s->fraud_col][i] != 0;
			if (H)
				o[DP_HIST + b] += 1;
		}
	}
}

/* The item released in slot k (< L) of cohort c, or NULL if none. */
static const mpc_agg_dp_item *dp_slot_item(const mpc_agg_spec *s, const mpc_agg_dp_plan *pl,
                                           size_t k, size_t c) {
	const mpc_agg_dp_item *it = dp_item(pl, k < DP_HIST ? (int)k : DP_HIST, c);
	if (!it || (k == DP_FRAUD && !(s->stats & MPC_AGG_FRAUD)))
		return NULL;
	return it;
}

/* A cohort's statistics from its opened noisy aggregates (ob, read from
 * *j on) and its noisy count n: post-processing in the clear. */
static void dp_read_cohort(const mpc_agg_spec *s, const mpc_agg_dp_plan *pl, size_t L, size_t c,
                           double n, const mpc_u128 *ob, size_t *j, mpc_agg_stats *st) {
	double sx = NAN, qx = NAN; /* the ratios use the noisy count */
	for (size_t k = DP_SX; k < L; k++) {
		const mpc_agg_dp_item *it = dp_slot_item(s, pl, k, c);
		if (!it)
			continue;
		double v = ldexp(mpc_agg_to_double(ob[(*j)++]), -it->grid);
		if (k == DP_SX)
			sx = v;
		else if (k == DP_QX)
			qx = v;
		else if (k == DP_FRAUD)
			st->fraud_rate = fmin(1, fmax(0, v / n));
		else
			st->hist[k - DP_HIST] = fmax(0, v);
	}
	unsigned w = s->stats;
	if (w & MPC_AGG_SUM)
		st->sum = sx;
	if (w & MPC_AGG_MEAN)
		st->mean = sx / n;
	if (w & (MPC_AGG_VAR | MPC_AGG_STD)) {
		double mu = sx / n, var = fmax(0, qx / n - mu * mu);
		if (w & MPC_AGG_VAR)
			st->variance = var;
		if (w & MPC_AGG_STD)
			st->stddev = sqrt(var);
	}
}

mpc_err mpc_agg_run_dp(mpc_party *p, const mpc_agg_spec *s, const mpc_agg_rows *rows,
                       mpc_agg_result *res) {
	size_t n = (1 + s->n_groups) * mpc_agg_dp_slots(s);
	mpc_u128 *loc = calloc(n, 16), *sum = calloc(n, 16), *tmp = calloc(n, 16);
	mpc_err err;
	if (!loc || !sum || !tmp) {
		err = NOMEM();
		goto out;
	}
	mpc_agg_dp_local_sums(s, rows, &res->dp, loc);
	if ((err = mpc_agg_share_sum(p, MPC_Z128, loc, sum, tmp, n)) != MPC_OK)
		goto out;
	err = mpc_agg_dp_release(p, s, sum, res);
out:
	mpc_wipe_free(loc, n * 16);
	mpc_wipe_free(sum, n * 16);
	mpc_wipe_free(tmp, n * 16);
	return err;
}

/* The selection over the groups' exact shared scores (slot DP_N or
 * DP_FRAUD of sum, L slots per cohort): only the chosen index is opened. It
 * runs whatever the suppression (the plan does not depend on the data). */
static mpc_err dp_select_run(mpc_party *p, const mpc_agg_spec *s, const mpc_u128 *sum, size_t L,
                             mpc_agg_result *res) {
	size_t G = s->n_groups, slot = s->select == MPC_AGG_SEL_FRAUD ? DP_FRAUD : DP_N, idx = 0;
	mpc_u128 *sc = calloc(G, 16);
	mpc_err err;
	if (!sc)
		return NOMEM();
	for (size_t g = 0; g < G; g++)
		sc[g] = sum[(1 + g) * L + slot];
	err = mpc_dp_select(p, MPC_Z128, 0, sc, G, res->dp.select_epsilon, 1, &idx);
	if (err == MPC_OK)
		res->selected = (int)idx;
	mpc_wipe_free(sc, G * 16);
	return err;
}

mpc_err mpc_agg_dp_release(mpc_party *p, const mpc_agg_spec *s, const mpc_u128 *sum,
                           mpc_agg_result *res) {
	const mpc_agg_dp_plan *pl = &res->dp;
	size_t C = 1 + s->n_groups, L = mpc_agg_dp_slots(s);
	mpc_u128 *ob = NULL;
	mpc_dp_alloc *al = NULL;
	double *nn = NULL;
	size_t *act = NULL, na = 0;
	mpc_err err = MPC_OK;

	if (!(ob = calloc(C * L, 16)) || !(al = calloc(C * L, sizeof(*al))) ||
	    !(act = calloc(C, sizeof(size_t))) || !(nn = calloc(C, sizeof(double)))) {
		err = NOMEM();
		goto out;
	}
	for (size_t i = 0; i < pl->n; i++)
		mpc_info("%s", pl->item[i].line);
	/* 1. noisy counts of every cohort, opened: the suppression test */
	for (size_t c = 0; c < C; c++) {
		ob[c] = sum[c * L + DP_N];
		al[c] = dp_item(pl, DP_N, c)->alloc;
	}
	if ((err = mpc_dp_add_noise(p, MPC_Z128, al, ob, C)) != MPC_OK ||
	    (err = mpc_open_output(p, MPC_Z128, ob, ob, C)) != MPC_OK)
		goto out;
	double K = s->min_cohort > 1 ? (double)s->min_cohort : 1;
	for (size_t c = 0; c < C; c++) {
		mpc_agg_stats *st = mpc_agg_cohort(res, c);
		double n = mpc_agg_to_double(ob[c]);
		st->suppressed = !(n >= K);
		nn[c] = n;
		if (!st->suppressed) {
			act[na++] = c;
			if (s->stats & MPC_AGG_COUNT)
				st->count = n;
		}
	}
	/* 2. the other noisy aggregates of the active cohorts */
	size_t m = 0;
	for (size_t a = 0; a < na; a++)
		for (size_t k = DP_SX; k < L; k++) {
			const mpc_agg_dp_item *it = dp_slot_item(s, pl, k, act[a]);
			if (!it)
				continue;
			ob[m] = sum[act[a] * L + k];
			al[m++] = it->alloc;
		}
	if (m && ((err = mpc_dp_add_noise(p, MPC_Z128, al, ob, m)) != MPC_OK ||
	          (err = mpc_open_output(p, MPC_Z128, ob, ob, m)) != MPC_OK))
		goto out;
	for (size_t a = 0, j = 0; a < na; a++)
		dp_read_cohort(s, pl, L, act[a], nn[act[a]], ob, &j, mpc_agg_cohort(res, act[a]));
	/* 3. the selection, if asked for */
	if (s->select != MPC_AGG_SEL_NONE)
		err = dp_select_run(p, s, sum, L, res);
out:
	mpc_wipe_free(ob, C * L * 16);
	free(al);
	free(act);
	free(nn);
	return err;
}
