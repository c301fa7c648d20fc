/* The [aggregate_stats] section (jobs/kind_stats.h): one reader per key
 * group, each naming FILE:LINE, the section and the key in its errors. */
#include "jobs/kind_stats.h"

#include <stdio.h>
#include <string.h>

#include "jobs/mpc_csv.h"
#include "jobs/mpc_kind.h"

#define err_at mpc_kind_param_err
#define param  mpc_kind_param

/* statistics = count, sum, ... (median adds the level 0.5) */
static mpc_err parse_statistics(const mpc_job *j, mpc_stats_job *a) {
	static const struct {
		const char *name;
		unsigned bit;
	} st[] = {{"count", MPC_AGG_COUNT},    {"sum", MPC_AGG_SUM},
	          {"total", MPC_AGG_SUM},      {"mean", MPC_AGG_MEAN},
	          {"variance", MPC_AGG_VAR},   {"stddev", MPC_AGG_STD},
	          {"min", MPC_AGG_MIN},        {"max", MPC_AGG_MAX},
	          {"median", MPC_AGG_QUANT},   {"quantiles", MPC_AGG_QUANT},
	          {"histogram", MPC_AGG_HIST}, {"fraud_rate", MPC_AGG_FRAUD}};
	const size_t nst = sizeof(st) / sizeof(st[0]);
	const mpc_job_param *p = param(j, "statistics");
	mpc_agg_spec *s = &a->spec;
	char buf[256], *it[32];
	int n;

	if (p == NULL)
		return MPC_OK;
	snprintf(buf, sizeof(buf), "%s", p->value);
	if ((n = mpc_kind_split(buf, it, 32)) < 0)
		return err_at(j, p, "expected a comma-separated list of statistics");
	s->stats = 0;
	for (int i = 0; i < n; i++) {
		size_t k = 0;
		while (k < nst && strcmp(it[i], st[k].name) != 0)
			k++;
		if (k == nst)
			return err_at(j, p,
			              "item %d: unknown statistic (count, sum, mean, "
			              "variance, stddev, min, max, median, quantiles, histogram, "
			              "fraud_rate)",
			              i + 1);
		s->stats |= st[k].bit;
		if (strcmp(it[i], "median") == 0) {
			if (s->n_quant >= MPC_AGG_MAX_QUANT)
				return err_at(j, p, "more than %d quantile levels",
				              MPC_AGG_MAX_QUANT);
			a->quant[s->n_quant++] = 0.5;
		}
	}
	return MPC_OK;
}

/* quantiles = levels in (0, 1) */
static mpc_err parse_quantiles(const mpc_job *j, mpc_stats_job *a) {
	const mpc_job_param *p = param(j, "quantiles");
	mpc_agg_spec *s = &a->spec;
	char buf[256], *it[MPC_AGG_MAX_QUANT];
	int n;

	if (p == NULL) {
		if ((p = param(j, "statistics")) != NULL && (s->stats & MPC_AGG_QUANT) &&
		    s->n_quant == 0)
			return err_at(j, p,
			              "quantiles is listed: give the levels in 'quantiles = ...'");
		return MPC_OK;
	}
	snprintf(buf, sizeof(buf), "%s", p->value);
	if ((n = mpc_kind_split(buf, it, MPC_AGG_MAX_QUANT - 1)) < 0)
		return err_at(j, p, "expected a comma-separated list of levels in (0, 1)");
	for (int i = 0; i < n; i++) {
		double q;
		if (!mpc_kind_number(it[i], &q) || !(q > 0 && q < 1))
			return err_at(j, p, "item %d: expected a level in (0, 1)", i + 1);
		if (s->n_quant >= MPC_AGG_MAX_QUANT)
			return err_at(j, p, "more than %d quantile levels", MPC_AGG_MAX_QUANT);
		a->quant[s->n_quant++] = q;
	}
	if (!(s->stats & MPC_AGG_QUANT))
		return err_at(j, p, "given, but statistics lists neither median nor quantiles");
	return MPC_OK;
}

/* histogram_edges = increasing numbers */
static mpc_err parse_edges(const mpc_job *j, mpc_stats_job *a) {
	const mpc_job_param *p = param(j, "histogram_edges");
	mpc_agg_spec *s = &a->spec;
	char buf[256], *e[128];
	int n;

	if (p == NULL) {
		if (s->stats & MPC_AGG_HIST)
			return err_at(j, param(j, "statistics"),
			              "histogram is listed: give 'histogram_edges = ...'");
		return MPC_OK;
	}
	snprintf(buf, sizeof(buf), "%s", p->value);
	if ((n = mpc_kind_split(buf, e, 128)) < 0)
		return err_at(j, p, "expected a comma-separated list of numbers");
	for (int i = 0; i < n; i++) {
		if (!mpc_kind_number(e[i], &a->edges[i]))
			return err_at(j, p, "item %d: expected a number", i + 1);
		if (i && !(a->edges[i] > a->edges[i - 1]))
			return err_at(j, p, "item %d: edges must increase", i + 1);
	}
	s->n_edges = (size_t)n;
	s->edges = a->edges;
	if (!(s->stats & MPC_AGG_HIST))
		return err_at(j, p, "given, but statistics does not list histogram");
	return MPC_OK;
}

/* groups = category names, each its own cohort */
static mpc_err parse_groups(const mpc_job *j, mpc_stats_job *a) {
	const mpc_job_param *p = param(j, "groups");
	char *it[MPC_STATS_JOB_MAX_GROUPS];
	int n;

	if (p == NULL)
		return MPC_OK;
	snprintf(a->group_text, sizeof(a->group_text), "%s", p->value);
	if ((n = mpc_kind_split(a->group_text, it, MPC_STATS_JOB_MAX_GROUPS)) < 0)
		return err_at(j, p, "expected a comma-separated list of at most %d category names",
		              MPC_STATS_JOB_MAX_GROUPS);
	for (int i = 0; i < n; i++) {
		if (strlen(it[i]) > MPC_CSV_MAX_CATEGORY ||
		    it[i][strspn(it[i], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		                        "0123456789_.-")] != '\0')
			return err_at(j, p,
			              "item %d: a category is 1 to %d characters of "
			              "[A-Za-z0-9_.-]",
			              i + 1, MPC_CSV_MAX_CATEGORY);
		for (int k = 0; k < i; k++)
			if (strcmp(it[k], it[i]) == 0)
				return err_at(j, p, "item %d repeats item %d", i + 1, k + 1);
		a->groups[i] = it[i];
	}
	a->spec.n_groups = (size_t)n;
	return MPC_OK;
}

/* min_cohort = K; filter = COLUMN OP NUMBER; divide = auto|inside|clear */
static mpc_err parse_filter(const mpc_job *j, mpc_agg_spec *s) {
	static const char *const ops[] = {"<", "<=", ">", ">=", "==", "!="};
	const mpc_job_param *p;
	double K = 0;
	mpc_err err;

	if ((err = mpc_kind_param_count(j, "min_cohort", 0, 0, 1e12, &K)) != MPC_OK)
		return err;
	s->min_cohort = (uint64_t)K;
	if ((p = param(j, "filter")) != NULL) {
		char col[32], op[4], val[64], extra[2];
		double v;
		if (sscanf(p->value, "%31[a-z_] %3[<>=!] %63s %1s", col, op, val, extra) != 3 ||
		    !mpc_kind_number(val, &v))
			return err_at(j, p,
			              "expected 'COLUMN OP NUMBER', e.g. 'amount > 1000' (COLUMN "
			              "amount or fraud, OP < <= > >= == !=)");
		if (strcmp(col, "amount") == 0)
			s->filter_col = 0;
		else if (strcmp(col, "fraud") == 0)
			s->filter_col = 1;
		else
			return err_at(j, p, "the column must be amount or fraud");
		for (int k = 0; k < 6; k++)
			if (strcmp(op, ops[k]) == 0)
				s->filter_op = (mpc_agg_op)(MPC_AGG_LT + k);
		if (s->filter_op == MPC_AGG_NONE)
			return err_at(j, p, "the comparison must be one of < <= > >= == !=");
		s->filter_value = v;
	}
	if ((p = param(j, "divide")) != NULL) {
		if (strcmp(p->value, "auto") == 0)
			s->divide = MPC_AGG_DIV_AUTO;
		else if (strcmp(p->value, "inside") == 0)
			s->divide = MPC_AGG_DIV_INSIDE;
		else if (strcmp(p->value, "clear") == 0)
			s->divide = MPC_AGG_DIV_CLEAR;
		else
			return err_at(j, p, "expected auto, inside or clear");
	}
	return MPC_OK;
}

/* dp = none|laplace|gaussian, epsilon, delta */
static mpc_err parse_dp(const mpc_job *j, mpc_agg_spec *s) {
	const mpc_job_param *pdp = param(j, "dp"), *peps = param(j, "epsilon"),
	                    *pdelta = param(j, "delta");
	mpc_err err;

	if (!pdp || strcmp(pdp->value, "none") == 0) {
		if (peps || pdelta)
			return err_at(j, peps ? peps : pdelta,
			              "given, but there is no 'dp = laplace' or 'dp = gaussian'");
		return MPC_OK;
	}
	mpc_dp_mech m;
	if (mpc_dp_mech_parse(pdp->value, &m) != MPC_OK)
		return err_at(j, pdp, "expected none, laplace or gaussian");
	s->dp = (int)m;
	if (peps == NULL)
		return err_at(j, pdp, "needs 'epsilon = ...' (the whole run's budget)");
	if ((err = mpc_job_param_double(j, "epsilon", 0, 1e-6, 1e6, &s->dp_epsilon)) != MPC_OK)
		return err;
	if (m == MPC_DP_GAUSSIAN) {
		if (pdelta == NULL)
			return err_at(j, pdp, "gaussian needs 'delta = ...' (0 < delta < 1)");
		if ((err = mpc_job_param_double(j, "delta", 0, 1e-300, 0.5, &s->dp_delta)) !=
		    MPC_OK)
			return err;
	} else if (pdelta) {
		return err_at(j, pdelta,
		              "only for dp = gaussian (the Laplace noise is pure epsilon-DP)");
	}
	mpc_agg_dp_plan plan;
	if ((err = mpc_agg_dp_plan_make(s, &plan)) != MPC_OK)
		return err_at(j, pdp, "%s", mpc_error_detail());
	return MPC_OK;
}

/* select = count|fraud_count: the group with the highest score, by the
 * exponential mechanism (after dp and groups, which it needs) */
static mpc_err parse_select(const mpc_job *j, mpc_agg_spec *s) {
	const mpc_job_param *p = param(j, "select");
	mpc_agg_dp_plan plan;
	if (p == NULL)
		return MPC_OK;
	if (strcmp(p->value, "count") == 0)
		s->select = MPC_AGG_SEL_COUNT;
	else if (strcmp(p->value, "fraud_count") == 0)
		s->select = MPC_AGG_SEL_FRAUD;
	else if (strcmp(p->value, "fraud_rate") == 0)
		return err_at(j, p,
		              "fraud_rate cannot be selected: a group of one row moves its rate by "
		              "1, so its sensitivity is as large as the score itself; select "
		              "fraud_count or count");
	else
		return err_at(j, p,
		              "expected count or fraud_count (the group with the highest one)");
	if (s->dp == 0)
		return err_at(j, p,
		              "needs 'dp = laplace' or 'dp = gaussian' (the selection takes its "
		              "share of epsilon)");
	if (s->n_groups < 2)
		return err_at(j, p, "needs 'groups = ...' with at least 2 groups to choose from");
	if (mpc_agg_dp_plan_make(s, &plan) != MPC_OK)
		return err_at(j, p, "%s", mpc_error_detail());
	return MPC_OK;
}

mpc_err mpc_stats_job_parse(const mpc_job *j, mpc_stats_job *a) {
	static const char *const known[] = {
	    "max_amount", "max_rows",   "statistics", "quantiles", "histogram_edges",
	    "groups",     "min_cohort", "filter",     "divide",    "dp",
	    "epsilon",    "delta",      "select"};
	mpc_agg_spec *s = &a->spec;
	mpc_err err;

	memset(a, 0, sizeof(*a));
	if ((err = mpc_kind_known_keys(j, known, sizeof(known) / sizeof(known[0]))) != MPC_OK)
		return err;
	/* a key beyond the bounds leaves the legacy preset */
	a->legacy = 1;
	for (int i = 0; i < j->n_params; i++)
		if (strcmp(j->params[i].key, "max_amount") != 0 &&
		    strcmp(j->params[i].key, "max_rows") != 0)
			a->legacy = 0;
	if ((err = mpc_job_param_double(j, "max_amount", 1e6, 1e-9, 1e15, &a->max_amount)) !=
	        MPC_OK ||
	    (err = mpc_job_param_double(j, "max_rows", 1e6, 1, 1e12, &a->max_rows)) != MPC_OK)
		return err;
	mpc_agg_spec_default(s);
	s->frac = j->frac_bits;
	s->max_abs = a->max_amount;
	s->max_rows = a->max_rows;
	s->col = 0;
	s->fraud_col = 1;
	if (a->legacy)
		return MPC_OK;
	if ((err = parse_statistics(j, a)) != MPC_OK || (err = parse_quantiles(j, a)) != MPC_OK)
		return err;
	s->quant = a->quant;
	if ((err = parse_edges(j, a)) != MPC_OK || (err = parse_groups(j, a)) != MPC_OK ||
	    (err = parse_filter(j, s)) != MPC_OK || (err = parse_dp(j, s)) != MPC_OK ||
	    (err = parse_select(j, s)) != MPC_OK)
		return err;
	return MPC_OK;
}
