/* The parameters of mpc-party's computations, read from the job file's
 * computation section: shared by tools/mpc-party.c and the clear-text
 * references (examples/clear_stats.c), so both use exactly the same spec.
 *
 * [aggregate_stats]
 *   max_amount = 1000000     bound on |amount| (refused beyond it)
 *   max_rows = 1000000       bound on rows per party
 *   statistics = count, sum, mean, variance, stddev, min, max, median,
 *                quantiles, histogram, fraud_rate
 *   quantiles = 0.25, 0.75   levels for `quantiles` (median adds 0.5)
 *   histogram_edges = 10, 50, 100    buckets x < 10, 10 <= x < 50, ...
 *   groups = grocery, travel          categories, each its own cohort
 *   min_cohort = 10                   cohorts of fewer rows are suppressed
 *   filter = amount > 1000            amount|fraud  < <= > >= == !=  number
 *   divide = auto|inside|clear        where ratios are divided
 *   dp = none|laplace|gaussian, epsilon = 1.0, delta = 1e-6 (gaussian)
 * Without any of statistics ... delta, the job is the original
 * aggregate_stats (count, total, mean, variance, stddev, fraud_rate: the
 * mpc_stats computation and its output format). */
#ifndef PARTY_JOBS_H
#define PARTY_JOBS_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/mpc_job.h"
#include "jobs/mpc_agg_io.h"
#include "runtime/mpc_err.h"
#include "runtime/mpc_wipe.h"
#include <stdint.h>

#define PJ_FN static __attribute__((unused))
#define PJ_MAX_GROUPS 64

typedef struct {
	int legacy;                /* 1: the original computation (mpc_stats) */
	double max_amount, max_rows;
	mpc_agg_spec spec;
	double edges[MPC_AGG_MAX_EDGES];
	double quant[MPC_AGG_MAX_QUANT];
	char group_text[256];
	const char *groups[PJ_MAX_GROUPS];
} pj_agg;

PJ_FN const mpc_job_param *pj_param(const mpc_job *j, const char *key)
{
	for (int i = 0; i < j->n_params; i++)
		if (strcmp(j->params[i].key, key) == 0)
			return &j->params[i];
	return NULL;
}

/* MPC_ECONFIG "FILE:LINE: [section] key: what" */
PJ_FN mpc_err MPC_PRINTF(3, 4) pj_err(const mpc_job *j, const mpc_job_param *p, const char *fmt, ...)
{
	char what[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return mpc_error(MPC_ECONFIG, "%s:%d: [%s] %s: %s", j->path, p->line, j->computation, p->key,
			 what);
}

/* Split a comma-separated list in place (buf is a copy of the value):
 * trimmed, non-empty items. -1 if an item is empty or there are more than max. */
PJ_FN int pj_split(char *buf, char **items, int max)
{
	int n = 0;
	for (char *s = buf;;) {
		char *c = strchr(s, ',');
		if (c)
			*c = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
		size_t len = strlen(s);
		while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			s[--len] = '\0';
		if (len == 0 || n == max)
			return -1;
		items[n++] = s;
		if (!c)
			return n;
		s = c + 1;
	}
}

PJ_FN int pj_number(const char *s, double *out)
{
	char *end;
	if (s[strspn(s, "0123456789+-.eE")] != '\0')
		return 0;
	*out = strtod(s, &end);
	return end != s && *end == '\0' && isfinite(*out);
}

PJ_FN mpc_err pj_agg_parse(const mpc_job *j, pj_agg *a)
{
	static const char *const known[] = {"max_amount", "max_rows",  "statistics", "quantiles",
					    "histogram_edges", "groups", "min_cohort", "filter",
					    "divide", "dp", "epsilon", "delta"};
	const size_t nk = sizeof(known) / sizeof(known[0]);
	char buf[256], *it[MPC_AGG_MAX_QUANT > PJ_MAX_GROUPS ? MPC_AGG_MAX_QUANT : PJ_MAX_GROUPS];
	const mpc_job_param *p;
	mpc_agg_spec *s = &a->spec;
	mpc_err err;
	int n;

	memset(a, 0, sizeof(*a));
	a->legacy = 1;
	for (int i = 0; i < j->n_params; i++) {
		size_t k = 0;
		while (k < nk && strcmp(j->params[i].key, known[k]) != 0)
			k++;
		if (k == nk)
			return pj_err(j, &j->params[i], "unknown parameter of aggregate_stats (known: "
				      "max_amount, max_rows, statistics, quantiles, histogram_edges, "
				      "groups, min_cohort, filter, divide, dp, epsilon, delta)");
		if (k >= 2)
			a->legacy = 0;
	}
	if ((err = mpc_job_param_double(j, "max_amount", 1e6, 1e-9, 1e15, &a->max_amount)) != MPC_OK ||
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
	if ((p = pj_param(j, "statistics")) != NULL) {
		static const struct {
			const char *name;
			unsigned bit;
		} st[] = {{"count", MPC_AGG_COUNT},	  {"sum", MPC_AGG_SUM},
			  {"total", MPC_AGG_SUM},	  {"mean", MPC_AGG_MEAN},
			  {"variance", MPC_AGG_VAR},	  {"stddev", MPC_AGG_STD},
			  {"min", MPC_AGG_MIN},		  {"max", MPC_AGG_MAX},
			  {"median", MPC_AGG_QUANT},	  {"quantiles", MPC_AGG_QUANT},
			  {"histogram", MPC_AGG_HIST},	  {"fraud_rate", MPC_AGG_FRAUD}};
		snprintf(buf, sizeof(buf), "%s", p->value);
		if ((n = pj_split(buf, it, 32)) < 0)
			return pj_err(j, p, "expected a comma-separated list of statistics");
		s->stats = 0;
		for (int i = 0; i < n; i++) {
			size_t k = 0;
			while (k < sizeof(st) / sizeof(st[0]) && strcmp(it[i], st[k].name) != 0)
				k++;
			if (k == sizeof(st) / sizeof(st[0]))
				return pj_err(j, p, "item %d: unknown statistic (count, sum, mean, "
					      "variance, stddev, min, max, median, quantiles, histogram, "
					      "fraud_rate)", i + 1);
			s->stats |= st[k].bit;
			if (strcmp(it[i], "median") == 0) {
				if (s->n_quant >= MPC_AGG_MAX_QUANT)
					return pj_err(j, p, "more than %d quantile levels",
						      MPC_AGG_MAX_QUANT);
				a->quant[s->n_quant++] = 0.5;
			}
		}
	}
	if ((p = pj_param(j, "quantiles")) != NULL) {
		snprintf(buf, sizeof(buf), "%s", p->value);
		if ((n = pj_split(buf, it, MPC_AGG_MAX_QUANT - 1)) < 0)
			return pj_err(j, p, "expected a comma-separated list of levels in (0, 1)");
		for (int i = 0; i < n; i++) {
			double q;
			if (!pj_number(it[i], &q) || !(q > 0 && q < 1))
				return pj_err(j, p, "item %d: expected a level in (0, 1)", i + 1);
			if (s->n_quant >= MPC_AGG_MAX_QUANT)
				return pj_err(j, p, "more than %d quantile levels", MPC_AGG_MAX_QUANT);
			a->quant[s->n_quant++] = q;
		}
		if (!(s->stats & MPC_AGG_QUANT))
			return pj_err(j, p, "given, but statistics lists neither median nor quantiles");
	} else if ((p = pj_param(j, "statistics")) != NULL && (s->stats & MPC_AGG_QUANT) &&
		   s->n_quant == 0) {
		return pj_err(j, p, "quantiles is listed: give the levels in 'quantiles = ...'");
	}
	s->quant = a->quant;
	if ((p = pj_param(j, "histogram_edges")) != NULL) {
		snprintf(buf, sizeof(buf), "%s", p->value);
		char *e[128];
		if ((n = pj_split(buf, e, 128)) < 0)
			return pj_err(j, p, "expected a comma-separated list of numbers");
		for (int i = 0; i < n; i++) {
			if (!pj_number(e[i], &a->edges[i]))
				return pj_err(j, p, "item %d: expected a number", i + 1);
			if (i && !(a->edges[i] > a->edges[i - 1]))
				return pj_err(j, p, "item %d: edges must increase", i + 1);
		}
		s->n_edges = (size_t)n;
		s->edges = a->edges;
		if (!(s->stats & MPC_AGG_HIST))
			return pj_err(j, p, "given, but statistics does not list histogram");
	} else if (s->stats & MPC_AGG_HIST) {
		return pj_err(j, pj_param(j, "statistics"),
			      "histogram is listed: give 'histogram_edges = ...'");
	}
	if ((p = pj_param(j, "groups")) != NULL) {
		snprintf(a->group_text, sizeof(a->group_text), "%s", p->value);
		if ((n = pj_split(a->group_text, it, PJ_MAX_GROUPS)) < 0)
			return pj_err(j, p, "expected a comma-separated list of at most %d category "
				      "names", PJ_MAX_GROUPS);
		for (int i = 0; i < n; i++) {
			if (strlen(it[i]) > MPC_CSV_MAX_CATEGORY ||
			    it[i][strspn(it[i], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					 "0123456789_.-")] != '\0')
				return pj_err(j, p, "item %d: a category is 1 to %d characters of "
					      "[A-Za-z0-9_.-]", i + 1, MPC_CSV_MAX_CATEGORY);
			for (int k = 0; k < i; k++)
				if (strcmp(it[k], it[i]) == 0)
					return pj_err(j, p, "item %d repeats item %d", i + 1, k + 1);
			a->groups[i] = it[i];
		}
		s->n_groups = (size_t)n;
	}
	double K = 0;
	if ((err = mpc_job_param_double(j, "min_cohort", 0, 0, 1e12, &K)) != MPC_OK)
		return err;
	if (K != floor(K))
		return pj_err(j, pj_param(j, "min_cohort"), "expected a whole number");
	s->min_cohort = (uint64_t)K;
	if ((p = pj_param(j, "filter")) != NULL) {
		char col[32], op[4], val[64], extra[2];
		static const char *const ops[] = {"<", "<=", ">", ">=", "==", "!="};
		double v;
		if (sscanf(p->value, "%31[a-z_] %3[<>=!] %63s %1s", col, op, val, extra) != 3 ||
		    !pj_number(val, &v))
			return pj_err(j, p, "expected 'COLUMN OP NUMBER', e.g. 'amount > 1000' (COLUMN "
				      "amount or fraud, OP < <= > >= == !=)");
		if (strcmp(col, "amount") == 0)
			s->filter_col = 0;
		else if (strcmp(col, "fraud") == 0)
			s->filter_col = 1;
		else
			return pj_err(j, p, "the column must be amount or fraud");
		for (int k = 0; k < 6; k++)
			if (strcmp(op, ops[k]) == 0)
				s->filter_op = (mpc_agg_op)(MPC_AGG_LT + k);
		if (s->filter_op == MPC_AGG_NONE)
			return pj_err(j, p, "the comparison must be one of < <= > >= == !=");
		s->filter_value = v;
	}
	if ((p = pj_param(j, "divide")) != NULL) {
		if (strcmp(p->value, "auto") == 0)
			s->divide = MPC_AGG_DIV_AUTO;
		else if (strcmp(p->value, "inside") == 0)
			s->divide = MPC_AGG_DIV_INSIDE;
		else if (strcmp(p->value, "clear") == 0)
			s->divide = MPC_AGG_DIV_CLEAR;
		else
			return pj_err(j, p, "expected auto, inside or clear");
	}
	const mpc_job_param *pdp = pj_param(j, "dp"), *peps = pj_param(j, "epsilon"),
			    *pdelta = pj_param(j, "delta");
	if (pdp && strcmp(pdp->value, "none") != 0) {
		mpc_dp_mech m;
		if (mpc_dp_mech_parse(pdp->value, &m) != MPC_OK)
			return pj_err(j, pdp, "expected none, laplace or gaussian");
		s->dp = (int)m;
		if (peps == NULL)
			return pj_err(j, pdp, "needs 'epsilon = ...' (the whole run's budget)");
		if ((err = mpc_job_param_double(j, "epsilon", 0, 1e-6, 1e6, &s->dp_epsilon)) != MPC_OK)
			return err;
		if (m == MPC_DP_GAUSSIAN) {
			if (pdelta == NULL)
				return pj_err(j, pdp, "gaussian needs 'delta = ...' (0 < delta < 1)");
			if ((err = mpc_job_param_double(j, "delta", 0, 1e-300, 0.5, &s->dp_delta)) !=
			    MPC_OK)
				return err;
		} else if (pdelta) {
			return pj_err(j, pdelta, "only for dp = gaussian (the Laplace noise is pure "
				      "epsilon-DP)");
		}
		mpc_agg_dp_plan plan;
		if ((err = mpc_agg_dp_plan_make(s, &plan)) != MPC_OK)
			return pj_err(j, pdp, "%s", mpc_error_detail());
	} else if (peps || pdelta) {
		return pj_err(j, peps ? peps : pdelta, "given, but there is no 'dp = laplace' or "
			      "'dp = gaussian'");
	}
	return MPC_OK;
}

/* ---- [fraud_score] ----
 *   model = logreg|tree            logistic regression (a fed_avg model file),
 *                                  or an ensemble of complete decision trees
 *   trees = 1, depth = 3           tree: the public shape (1..16 trees, depth 1..8)
 *   model_owner = NAME             the party that supplies --model FILE
 *   asker = NAME                   the party that supplies --input FILE and
 *                                  alone receives the scores and flags
 *   features = f0-f7, log_amount, night, categories
 *                                  the model's inputs in order: columns of
 *                                  the asker's CSV, fA-fB ranges, and the
 *                                  derived log_amount = (ln amount - 4)/1.5,
 *                                  night = [hour < 6], category_NAME =
 *                                  [category == NAME], categories = the six
 *                                  gen_data categories (fed_avg's layout)
 *   threshold = 0.5                flag = score > threshold: in (0, 1) for
 *                                  logreg, any number for trees
 *   layout = horizontal            every feature at the asker, or vertical:
 *   holders = f4-f7 @ merchant2 | night @ merchant0
 *                                  (vertical) features held by other parties
 *                                  than the asker (which holds the rest); rows
 *                                  matched by the key column:
 *   key = txn_id                   the asker's keys, in its order, are the
 *                                  job's public transaction list
 *   max_rows = 1000000             bound on the asker's transactions
 *   max_feature = 1024             public bound on |feature|
 *   max_weight = 1024              public bound on |weight|, |intercept|
 *                                  (trees: |leaf value|, |base|) */

#define PJ_MAX_FEATURES 64
#define PJ_MAX_PARTIES_H 16
#define PJ_FEAT_NAME 40

enum { PJ_LOGREG = 0, PJ_TREE = 1 };
#define PJ_MAX_DEPTH 8
#define PJ_MAX_TREES 16

typedef struct {
	int owner, asker;
	int model;            /* PJ_LOGREG or PJ_TREE */
	size_t trees, depth;  /* tree: public shape (complete trees) */
	double threshold, max_rows, max_feature, max_weight;
	size_t d;
	char feat[PJ_MAX_FEATURES][PJ_FEAT_NAME];
	int vertical;                /* layout = vertical */
	int holder[PJ_MAX_FEATURES]; /* party holding feature k (horizontal: the asker) */
	char key[64];                /* the column matching rows (vertical; and the id
					written beside the scores): default txn_id */
} pj_score;

static const char *const pj_categories[6] = {"grocery", "fuel", "restaurant", "electronics",
					     "travel", "online"};

PJ_FN mpc_err pj_score_parse(const mpc_job *j, pj_score *sc)
{
	static const char *const known[] = {"model",	 "model_owner", "asker",       "features",
					    "threshold", "layout",	"max_rows",    "max_feature",
					    "max_weight", "trees",	"depth",       "key",
					    "holders"};
	const size_t nk = sizeof(known) / sizeof(known[0]);
	const mpc_job_param *p;
	char buf[256], *it[PJ_MAX_FEATURES];
	mpc_err err;
	int n;

	memset(sc, 0, sizeof(*sc));
	for (int i = 0; i < j->n_params; i++) {
		size_t k = 0;
		while (k < nk && strcmp(j->params[i].key, known[k]) != 0)
			k++;
		if (k == nk)
			return pj_err(j, &j->params[i], "unknown parameter of fraud_score (known: model, "
				      "model_owner, asker, features, threshold, layout, max_rows, "
				      "max_feature, max_weight, trees, depth, key, holders)");
	}
	static const char *const req[] = {"model", "model_owner", "asker", "features"};
	for (int k = 0; k < 4; k++)
		if (pj_param(j, req[k]) == NULL)
			return mpc_error(MPC_ECONFIG, "%s: [fraud_score] needs '%s = ...'", j->path,
					 req[k]);
	p = pj_param(j, "model");
	if (strcmp(p->value, "logreg") == 0)
		sc->model = PJ_LOGREG;
	else if (strcmp(p->value, "tree") == 0)
		sc->model = PJ_TREE;
	else
		return pj_err(j, p, strcmp(p->value, "scorecard") == 0
				       ? "this version of mpc-party scores logreg and tree models (the "
					 "library also has scorecards: mpc_score.h)"
				       : "expected logreg or tree");
	for (int k = 0; k < 2; k++) {
		const char *key = k ? "depth" : "trees";
		const mpc_job_param *q = pj_param(j, key);
		double v;
		if (q && sc->model != PJ_TREE)
			return pj_err(j, q, "only for model = tree");
		if ((err = mpc_job_param_double(j, key, k ? 3 : 1, 1, k ? PJ_MAX_DEPTH : PJ_MAX_TREES,
						&v)) != MPC_OK)
			return err;
		if (v != floor(v))
			return pj_err(j, q, "expected a whole number");
		*(k ? &sc->depth : &sc->trees) = (size_t)v;
	}
	p = pj_param(j, "model_owner");
	if ((sc->owner = mpc_job_party_index(j, p->value)) < 0)
		return pj_err(j, p, "no [party %s] in the job", p->value);
	p = pj_param(j, "asker");
	if ((sc->asker = mpc_job_party_index(j, p->value)) < 0)
		return pj_err(j, p, "no [party %s] in the job", p->value);
	if ((p = pj_param(j, "layout")) != NULL) {
		if (strcmp(p->value, "vertical") == 0)
			sc->vertical = 1;
		else if (strcmp(p->value, "horizontal") != 0)
			return pj_err(j, p, "expected horizontal or vertical");
	}
	snprintf(sc->key, sizeof(sc->key), "txn_id");
	if ((p = pj_param(j, "key")) != NULL) {
		if (strlen(p->value) >= sizeof(sc->key) || strchr(p->value, ','))
			return pj_err(j, p, "expected a column name");
		snprintf(sc->key, sizeof(sc->key), "%.63s", p->value);
	}
	if ((p = pj_param(j, "holders")) != NULL && !sc->vertical)
		return pj_err(j, p, "only for layout = vertical");
	if (sc->vertical && p == NULL)
		return pj_err(j, pj_param(j, "layout"), "vertical needs 'holders = FEATURES @ PARTY "
			      "| ...' (the features not held by the asker)");
	p = pj_param(j, "features");
	snprintf(buf, sizeof(buf), "%s", p->value);
	if ((n = pj_split(buf, it, PJ_MAX_FEATURES)) < 0)
		return pj_err(j, p, "expected a comma-separated list of feature names");
	for (int i = 0; i < n; i++) {
		int a, b;
		char extra;
		if (sscanf(it[i], "f%d-f%d%c", &a, &b, &extra) == 2) {
			if (a < 0 || b < a || b > 999)
				return pj_err(j, p, "item %d: a range fA-fB needs 0 <= A <= B <= 999",
					      i + 1);
			for (int k = a; k <= b; k++) {
				if (sc->d == PJ_MAX_FEATURES)
					return pj_err(j, p, "more than %d features", PJ_MAX_FEATURES);
				snprintf(sc->feat[sc->d++], PJ_FEAT_NAME, "f%d", k);
			}
			continue;
		}
		if (strcmp(it[i], "categories") == 0) {
			for (int k = 0; k < 6; k++) {
				if (sc->d == PJ_MAX_FEATURES)
					return pj_err(j, p, "more than %d features", PJ_MAX_FEATURES);
				snprintf(sc->feat[sc->d++], PJ_FEAT_NAME, "category_%s", pj_categories[k]);
			}
			continue;
		}
		if (strlen(it[i]) >= PJ_FEAT_NAME ||
		    it[i][strspn(it[i], "abcdefghijklmnopqrstuvwxyz0123456789_ABCDEFGHIJKLMNOPQRSTUVWXYZ.-")])
			return pj_err(j, p, "item %d: a feature name is 1 to %d characters of "
				      "[A-Za-z0-9_.-]", i + 1, PJ_FEAT_NAME - 1);
		if (sc->d == PJ_MAX_FEATURES)
			return pj_err(j, p, "more than %d features", PJ_MAX_FEATURES);
		snprintf(sc->feat[sc->d++], PJ_FEAT_NAME, "%s", it[i]);
	}
	for (size_t a = 0; a < sc->d; a++)
		for (size_t b = 0; b < a; b++)
			if (strcmp(sc->feat[a], sc->feat[b]) == 0)
				return pj_err(j, p, "feature %s is listed twice", sc->feat[a]);
	for (size_t k = 0; k < sc->d; k++)
		sc->holder[k] = sc->asker;
	if (sc->vertical) {
		p = pj_param(j, "holders");
		char hb[256], *grp[PJ_MAX_PARTIES_H];
		int ng = 0;
		snprintf(hb, sizeof(hb), "%s", p->value);
		char *t = hb;
		for (; t && ng < PJ_MAX_PARTIES_H;) {
			char *bar = strchr(t, '|');
			if (bar)
				*bar = '\0';
			grp[ng++] = t;
			t = bar ? bar + 1 : NULL;
		}
		if (t != NULL)
			return pj_err(j, p, "more than %d groups", PJ_MAX_PARTIES_H);
		for (int g = 0; g < ng; g++) {
			char *at = strchr(grp[g], '@'), party[64];
			if (!at || sscanf(at + 1, " %63s", party) != 1)
				return pj_err(j, p, "group %d: expected 'FEATURES @ PARTY'", g + 1);
			*at = '\0';
			int who = mpc_job_party_index(j, party);
			if (who < 0)
				return pj_err(j, p, "group %d: no [party %s] in the job", g + 1, party);
			char *fl[PJ_MAX_FEATURES];
			int nf = pj_split(grp[g], fl, PJ_MAX_FEATURES);
			if (nf < 0)
				return pj_err(j, p, "group %d: expected a comma-separated list of features",
					      g + 1);
			for (int i = 0; i < nf; i++) {
				int a, b, hit = 0;
				char extra;
				int range = sscanf(fl[i], "f%d-f%d%c", &a, &b, &extra) == 2;
				for (size_t k = 0; k < sc->d; k++) {
					int m = 0;
					if (range)
						m = sc->feat[k][0] == 'f' && atoi(sc->feat[k] + 1) >= a &&
						    atoi(sc->feat[k] + 1) <= b &&
						    sc->feat[k][1 + strspn(sc->feat[k] + 1, "0123456789")] == '\0' &&
						    sc->feat[k][1] >= '0' && sc->feat[k][1] <= '9';
					else if (strcmp(fl[i], "categories") == 0)
						m = strncmp(sc->feat[k], "category_", 9) == 0;
					else
						m = strcmp(fl[i], sc->feat[k]) == 0;
					if (m) {
						if (sc->holder[k] != sc->asker)
							return pj_err(j, p, "feature %s has two holders",
								      sc->feat[k]);
						sc->holder[k] = who;
						hit = 1;
					}
				}
				if (!hit)
					return pj_err(j, p, "group %d: %s is not among the features",
						      g + 1, fl[i]);
			}
		}
	}
	if ((err = mpc_job_param_double(j, "threshold", 0.5, sc->model == PJ_TREE ? -1e9 : 1e-9,
					sc->model == PJ_TREE ? 1e9 : 1 - 1e-9, &sc->threshold)) !=
		    MPC_OK ||
	    (err = mpc_job_param_double(j, "max_rows", 1e6, 1, 1e8, &sc->max_rows)) != MPC_OK ||
	    (err = mpc_job_param_double(j, "max_feature", 1024, 1e-6, 1048576, &sc->max_feature)) !=
		    MPC_OK ||
	    (err = mpc_job_param_double(j, "max_weight", 1024, 1e-6, 1048576, &sc->max_weight)) !=
		    MPC_OK)
		return err;
	return MPC_OK;
}

/* Fields of one CSV line, in place (no quotes). */
PJ_FN int pj_fields(char *line, char **f, int max)
{
	int n = 0;
	for (char *s = line;;) {
		char *c = strchr(s, ',');
		if (n == max)
			return -1;
		f[n++] = s;
		if (!c)
			return n;
		*c = '\0';
		s = c + 1;
	}
}

/* The features party `who` holds (all of them, horizontally, at the asker):
 * x (n x q, row-major, q = its features, caller frees) in the job's order,
 * and its key column (sc->key) if present (ids: n strings of 40, or NULL;
 * required in the vertical layout). Errors name file:line and the column,
 * never a value. */
PJ_FN mpc_err pj_read_features(const char *path, const pj_score *sc, int who, double **x_out,
			       size_t *n_out, char (**ids_out)[40])
{
	enum { MAXC = 256 };
	FILE *fp = fopen(path, "r");
	char line[8192], *f[MAXC];
	int ncol, src[PJ_MAX_FEATURES], c_amount = -1, c_hour = -1, c_cat = -1, c_id = -1;
	char names[MAXC][64];
	double *x = NULL;
	char(*ids)[40] = NULL;
	size_t n = 0, cap = 0, ln = 1;
	mpc_err err = MPC_OK;

	*x_out = NULL;
	*ids_out = NULL;
	*n_out = 0;
	if (fp == NULL)
		return mpc_error(MPC_EIO, "%s: cannot open", path);
	if (!fgets(line, sizeof(line), fp)) {
		fclose(fp);
		return mpc_error(MPC_EINVAL, "%s:1: no header line", path);
	}
	line[strcspn(line, "\r\n")] = '\0';
	if ((ncol = pj_fields(line, f, MAXC)) < 0) {
		fclose(fp);
		return mpc_error(MPC_EINVAL, "%s:1: more than %d columns", path, MAXC);
	}
	for (int c = 0; c < ncol; c++) {
		snprintf(names[c], sizeof(names[c]), "%s", f[c]);
		c_amount = strcmp(f[c], "amount") == 0 ? c : c_amount;
		c_hour = strcmp(f[c], "hour") == 0 ? c : c_hour;
		c_cat = strcmp(f[c], "category") == 0 ? c : c_cat;
		c_id = strcmp(f[c], sc->key) == 0 ? c : c_id;
	}
	size_t q = 0;
	for (size_t k = 0; k < sc->d; k++)
		q += sc->holder[k] == who;
	if (sc->vertical && c_id < 0) {
		fclose(fp);
		return mpc_error(MPC_EINVAL, "%s:1: no key column %s (layout = vertical matches rows "
				 "by it)", path, sc->key);
	}
	/* src >= 0: that column; -1 log_amount, -2 night, -3 - k: category k */
	for (size_t k = 0; k < sc->d; k++) {
		const char *nm = sc->feat[k];
		src[k] = INT32_MIN;
		if (sc->holder[k] != who)
			continue;
		for (int c = 0; c < ncol; c++)
			if (strcmp(names[c], nm) == 0)
				src[k] = c;
		if (src[k] != INT32_MIN)
			continue;
		if (strcmp(nm, "log_amount") == 0 && c_amount >= 0)
			src[k] = -1;
		else if (strcmp(nm, "night") == 0 && c_hour >= 0)
			src[k] = -2;
		else if (strncmp(nm, "category_", 9) == 0 && c_cat >= 0)
			src[k] = -3 - (int)k;
		else {
			fclose(fp);
			return mpc_error(MPC_EINVAL, "%s:1: feature %s: no such column (nor one to "
					 "derive it from)", path, nm);
		}
	}
	while (fgets(line, sizeof(line), fp)) {
		ln++;
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		if (pj_fields(line, f, MAXC) != ncol) {
			err = mpc_error(MPC_EINVAL, "%s:%zu: not %d fields as the header", path, ln, ncol);
			goto out;
		}
		if ((double)n + 1 > sc->max_rows) {
			err = mpc_error(MPC_ERANGE, "%s:%zu: more than max_rows = %.0f transactions",
					path, ln, sc->max_rows);
			goto out;
		}
		if (n == cap) {
			size_t old = cap, row = (q ? q : 1) * sizeof(double);
			cap = cap ? 2 * cap : 1024;
			/* not realloc: it may leave a copy of the features unwiped */
			double *nx = malloc(cap * row);
			char(*ni)[40] = malloc(cap * sizeof(*ids));
			if (!nx || !ni) {
				free(nx);
				free(ni);
				cap = old;
				err = mpc_error(MPC_ENOMEM, "%s: out of memory", path);
				goto out;
			}
			if (old) {
				memcpy(nx, x, old * row);
				memcpy(ni, ids, old * sizeof(*ids));
			}
			mpc_wipe_free(x, old * row);
			mpc_wipe_free(ids, old * sizeof(*ids));
			x = nx;
			ids = ni;
		}
		if (c_id >= 0 && strlen(f[c_id]) >= 40) {
			err = mpc_error(MPC_EINVAL, "%s:%zu: column %s: a key has at most 39 characters",
					path, ln, sc->key);
			goto out;
		}
		snprintf(ids[n], 40, "%s", c_id >= 0 ? f[c_id] : "");
		for (size_t k = 0, kk = 0; k < sc->d; k++) {
			double v = 0;
			if (sc->holder[k] != who)
				continue;
			const char *col = src[k] >= 0 ? names[src[k]] : src[k] == -1 ? "amount"
								  : src[k] == -2 ? "hour" : "category";
			if (src[k] >= 0 && !pj_number(f[src[k]], &v))
				err = mpc_error(MPC_EINVAL, "%s:%zu: column %s: expected a number", path,
						ln, col);
			else if (src[k] == -1 && (!pj_number(f[c_amount], &v) || !(v > 0)))
				err = mpc_error(MPC_EINVAL, "%s:%zu: column amount: expected a positive "
						"number (for log_amount)", path, ln);
			else if (src[k] == -2 && (!pj_number(f[c_hour], &v) || !(v >= 0 && v < 24)))
				err = mpc_error(MPC_EINVAL, "%s:%zu: column hour: expected 0..23", path, ln);
			if (err != MPC_OK)
				goto out;
			if (src[k] == -1)
				v = (log(v) - 4) / 1.5;
			else if (src[k] == -2)
				v = v < 6;
			else if (src[k] <= -3)
				v = strcmp(f[c_cat], sc->feat[k] + 9) == 0;
			if (!(fabs(v) < sc->max_feature)) {
				err = mpc_error(MPC_ERANGE, "%s:%zu: feature %s: beyond max_feature = %g",
						path, ln, sc->feat[k], sc->max_feature);
				goto out;
			}
			x[n * q + kk++] = v;
		}
		n++;
	}
out:
	fclose(fp);
	mpc_wipe(line, sizeof(line));
	if (err != MPC_OK) {
		if (x)
			mpc_wipe(x, cap * (q ? q : 1) * sizeof(double));
		free(x);
		free(ids);
		return err;
	}
	if (c_id < 0) {
		free(ids);
		ids = NULL;
	}
	*x_out = x;
	*ids_out = ids;
	*n_out = n;
	return MPC_OK;
}

/* The model owner's file: CSV "input,weight", an "intercept" line and one
 * line per feature of the job (any order; fed_avg --model writes it). w: d. */
PJ_FN mpc_err pj_read_logreg(const char *path, const pj_score *sc, double *w, double *b)
{
	FILE *fp = fopen(path, "r");
	char line[512], *f[4];
	int seen[PJ_MAX_FEATURES + 1] = {0};
	size_t ln = 0;
	mpc_err err = MPC_OK;

	if (fp == NULL)
		return mpc_error(MPC_EIO, "%s: cannot open", path);
	while (err == MPC_OK && fgets(line, sizeof(line), fp)) {
		ln++;
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0' || (ln == 1 && strcmp(line, "input,weight") == 0))
			continue;
		double v;
		if (pj_fields(line, f, 4) != 2 || !pj_number(f[1], &v)) {
			err = mpc_error(MPC_EINVAL, "%s:%zu: expected 'input,weight'", path, ln);
			break;
		}
		if (!(fabs(v) < sc->max_weight)) {
			err = mpc_error(MPC_ERANGE, "%s:%zu: weight of %s beyond max_weight = %g", path,
					ln, f[0], sc->max_weight);
			break;
		}
		size_t k = 0;
		if (strcmp(f[0], "intercept") == 0)
			k = sc->d;
		else
			while (k < sc->d && strcmp(f[0], sc->feat[k]) != 0)
				k++;
		if (k == sc->d && strcmp(f[0], "intercept") != 0)
			err = mpc_error(MPC_EINVAL, "%s:%zu: input %s is not among the job's features",
					path, ln, f[0]);
		else if (seen[k]++)
			err = mpc_error(MPC_EINVAL, "%s:%zu: input %s given twice", path, ln, f[0]);
		else if (k == sc->d)
			*b = v;
		else
			w[k] = v;
	}
	fclose(fp);
	mpc_wipe(line, sizeof(line));
	for (size_t k = 0; err == MPC_OK && k <= sc->d; k++)
		if (!seen[k])
			err = mpc_error(MPC_EINVAL, "%s: no weight for %s", path,
					k < sc->d ? sc->feat[k] : "intercept");
	return err;
}

/* A tree ensemble (model = tree): CSV "kind,tree,index,feature,value" with
 *   base,,,,B                  the score's constant
 *   node,T,J,FEATURE,THRESHOLD internal node J (heap order, 0..2^depth-2) of
 *                              tree T: go to 2J+1 if x[FEATURE] < THRESHOLD
 *   leaf,T,L,,VALUE            leaf L (0..2^depth-1, left to right)
 * every node and leaf exactly once. feature: trees * (2^depth-1) indices,
 * thr the same, leaf trees * 2^depth. Errors name the file and line, never
 * a value. */
PJ_FN mpc_err pj_read_tree(const char *path, const pj_score *sc, uint32_t *feature, double *thr,
			   double *leaf, double *base)
{
	size_t nodes = ((size_t)1 << sc->depth) - 1, leaves = (size_t)1 << sc->depth;
	size_t tot = sc->trees * (nodes + leaves) + 1;
	unsigned char *seen = calloc(tot, 1);
	FILE *fp = fopen(path, "r");
	char line[512], *f[6];
	size_t ln = 0;
	mpc_err err = MPC_OK;

	if (fp == NULL || seen == NULL) {
		if (fp)
			fclose(fp);
		free(seen);
		return mpc_error(fp ? MPC_ENOMEM : MPC_EIO, "%s: cannot open", path);
	}
	while (err == MPC_OK && fgets(line, sizeof(line), fp)) {
		ln++;
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0' || (ln == 1 && strncmp(line, "kind,", 5) == 0))
			continue;
		double v, t = 0, idx = 0;
		if (pj_fields(line, f, 6) != 5 || !pj_number(f[4], &v)) {
			err = mpc_error(MPC_EINVAL, "%s:%zu: expected 'kind,tree,index,feature,value'",
					path, ln);
			break;
		}
		int is_base = strcmp(f[0], "base") == 0, is_node = strcmp(f[0], "node") == 0,
		    is_leaf = strcmp(f[0], "leaf") == 0;
		if (!is_base && !is_node && !is_leaf) {
			err = mpc_error(MPC_EINVAL, "%s:%zu: kind must be base, node or leaf", path, ln);
			break;
		}
		if (!is_base && (!pj_number(f[1], &t) || !pj_number(f[2], &idx) || t != floor(t) ||
				 idx != floor(idx) || t < 0 || t >= (double)sc->trees || idx < 0 ||
				 idx >= (double)(is_node ? nodes : leaves))) {
			err = mpc_error(MPC_EINVAL, "%s:%zu: tree 0..%zu and %s index 0..%zu expected",
					path, ln, sc->trees - 1, is_node ? "node" : "leaf",
					(is_node ? nodes : leaves) - 1);
			break;
		}
		size_t ti = (size_t)t, ii = (size_t)idx;
		size_t slot = is_base ? tot - 1 : is_node ? ti * nodes + ii
						    : sc->trees * nodes + ti * leaves + ii;
		if (seen[slot]++) {
			err = mpc_error(MPC_EINVAL, "%s:%zu: given twice", path, ln);
			break;
		}
		if (is_node) {
			size_t k = 0;
			while (k < sc->d && strcmp(f[3], sc->feat[k]) != 0)
				k++;
			if (k == sc->d) {
				err = mpc_error(MPC_EINVAL, "%s:%zu: feature %s is not among the job's",
						path, ln, f[3]);
				break;
			}
			if (!(fabs(v) < sc->max_feature)) {
				err = mpc_error(MPC_ERANGE, "%s:%zu: threshold beyond max_feature = %g",
						path, ln, sc->max_feature);
				break;
			}
			feature[slot] = (uint32_t)k;
			thr[slot] = v;
		} else if (!(fabs(v) < sc->max_weight)) {
			err = mpc_error(MPC_ERANGE, "%s:%zu: value beyond max_weight = %g", path, ln,
					sc->max_weight);
		} else if (is_base) {
			*base = v;
		} else {
			leaf[ti * leaves + ii] = v;
		}
	}
	fclose(fp);
	mpc_wipe(line, sizeof(line));
	for (size_t k = 0; err == MPC_OK && k < tot; k++)
		if (!seen[k])
			err = k == tot - 1 ? mpc_error(MPC_EINVAL, "%s: no base line", path)
			      : k < sc->trees * nodes
				? mpc_error(MPC_EINVAL, "%s: tree %zu has no node %zu", path, k / nodes,
					    k % nodes)
				: mpc_error(MPC_EINVAL, "%s: tree %zu has no leaf %zu", path,
					    (k - sc->trees * nodes) / leaves,
					    (k - sc->trees * nodes) % leaves);
	free(seen);
	return err;
}

/* The double evaluation of a tree ensemble on one transaction; *near: some
 * node on the path compares a feature within 2^-16 of its threshold. */
PJ_FN double pj_tree_eval(const pj_score *sc, const uint32_t *feature, const double *thr,
			  const double *leaf, double base, const double *x, int *near)
{
	size_t nodes = ((size_t)1 << sc->depth) - 1, leaves = (size_t)1 << sc->depth;
	double s = base;
	*near = 0;
	for (size_t t = 0; t < sc->trees; t++) {
		size_t j = 0;
		while (j < nodes) {
			double v = x[feature[t * nodes + j]], c = thr[t * nodes + j];
			*near |= fabs(v - c) <= ldexp(1, -16);
			j = v < c ? 2 * j + 1 : 2 * j + 2;
		}
		s += leaf[t * leaves + (j - nodes)];
	}
	(void)leaves;
	return s;
}

#endif
