/* The [fraud_score] section (jobs/kind_score.h): the model and its shape,
 * the parties' roles, the features and who holds them, the bounds. */
#include "jobs/kind_score.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/mpc_kind.h"

const char *const mpc_score_job_categories[6] = {"grocery",     "fuel",   "restaurant",
                                                 "electronics", "travel", "online"};

/* model, trees, depth (and the required keys) */
static mpc_err parse_model(const mpc_job *j, mpc_score_job *sc) {
	const mpc_job_param *p;
	mpc_err err;

	static const char *const req[] = {"model", "model_owner", "asker", "features"};
	for (int k = 0; k < 4; k++)
		if (mpc_kind_param(j, req[k]) == NULL)
			return mpc_error(MPC_ECONFIG, "%s: [fraud_score] needs '%s = ...'", j->path,
			                 req[k]);
	p = mpc_kind_param(j, "model");
	if (strcmp(p->value, "logreg") == 0)
		sc->model = MPC_SCORE_JOB_LOGREG;
	else if (strcmp(p->value, "tree") == 0)
		sc->model = MPC_SCORE_JOB_TREE;
	else
		return mpc_kind_param_err(
		    j, p,
		    strcmp(p->value, "scorecard") == 0
		        ? "this version of mpc-party scores logreg and tree models (the "
		          "library also has scorecards: mpc_score.h)"
		        : "expected logreg or tree");
	for (int k = 0; k < 2; k++) {
		const char *key = k ? "depth" : "trees";
		const mpc_job_param *q = mpc_kind_param(j, key);
		double v;
		if (q && sc->model != MPC_SCORE_JOB_TREE)
			return mpc_kind_param_err(j, q, "only for model = tree");
		if ((err = mpc_kind_param_count(
		         j, key, k ? 3 : 1, 1,
		         k ? MPC_SCORE_JOB_MAX_DEPTH : MPC_SCORE_JOB_MAX_TREES, &v)) != MPC_OK)
			return err;
		*(k ? &sc->depth : &sc->trees) = (size_t)v;
	}
	return MPC_OK;
}

/* model_owner, asker, layout, key, holders' presence */
static mpc_err parse_roles(const mpc_job *j, mpc_score_job *sc) {
	const mpc_job_param *p;

	p = mpc_kind_param(j, "model_owner");
	if ((sc->owner = mpc_job_party_index(j, p->value)) < 0)
		return mpc_kind_param_err(j, p, "no [party %s] in the job", p->value);
	p = mpc_kind_param(j, "asker");
	if ((sc->asker = mpc_job_party_index(j, p->value)) < 0)
		return mpc_kind_param_err(j, p, "no [party %s] in the job", p->value);
	if ((p = mpc_kind_param(j, "layout")) != NULL) {
		if (strcmp(p->value, "vertical") == 0)
			sc->vertical = 1;
		else if (strcmp(p->value, "horizontal") != 0)
			return mpc_kind_param_err(j, p, "expected horizontal or vertical");
	}
	snprintf(sc->key, sizeof(sc->key), "txn_id");
	if ((p = mpc_kind_param(j, "key")) != NULL) {
		if (strlen(p->value) >= sizeof(sc->key) || strchr(p->value, ','))
			return mpc_kind_param_err(j, p, "expected a column name");
		snprintf(sc->key, sizeof(sc->key), "%.63s", p->value);
	}
	if ((p = mpc_kind_param(j, "holders")) != NULL && !sc->vertical)
		return mpc_kind_param_err(j, p, "only for layout = vertical");
	if (sc->vertical && p == NULL)
		return mpc_kind_param_err(j, mpc_kind_param(j, "layout"),
		                          "vertical needs 'holders = FEATURES @ PARTY "
		                          "| ...' (the features not held by the asker)");
	return MPC_OK;
}

/* features = names, fA-fB ranges, categories */
mpc_err mpc_score_job_parse_features(const mpc_job *j, mpc_score_job *sc) {
	const mpc_job_param *p;
	char buf[256], *it[MPC_SCORE_JOB_MAX_FEATURES];
	int n;

	if ((p = mpc_kind_param(j, "features")) == NULL)
		return mpc_error(MPC_ECONFIG, "%s: [%s] features: missing (required)", j->path,
		                 j->computation);
	snprintf(buf, sizeof(buf), "%s", p->value);
	if ((n = mpc_kind_split(buf, it, MPC_SCORE_JOB_MAX_FEATURES)) < 0)
		return mpc_kind_param_err(j, p, "expected a comma-separated list of feature names");
	for (int i = 0; i < n; i++) {
		int a, b;
		char extra;
		if (sscanf(it[i], "f%d-f%d%c", &a, &b, &extra) == 2) {
			if (a < 0 || b < a || b > 999)
				return mpc_kind_param_err(
				    j, p, "item %d: a range fA-fB needs 0 <= A <= B <= 999", i + 1);
			for (int k = a; k <= b; k++) {
				if (sc->d == MPC_SCORE_JOB_MAX_FEATURES)
					return mpc_kind_param_err(j, p, "more than %d features",
					                          MPC_SCORE_JOB_MAX_FEATURES);
				snprintf(sc->feat[sc->d++], MPC_SCORE_JOB_FEAT_NAME, "f%d", k);
			}
			continue;
		}
		if (strcmp(it[i], "categories") == 0) {
			for (int k = 0; k < 6; k++) {
				if (sc->d == MPC_SCORE_JOB_MAX_FEATURES)
					return mpc_kind_param_err(j, p, "more than %d features",
					                          MPC_SCORE_JOB_MAX_FEATURES);
				snprintf(sc->feat[sc->d++], MPC_SCORE_JOB_FEAT_NAME, "category_%s",
				         mpc_score_job_categories[k]);
			}
			continue;
		}
		if (strlen(it[i]) >= MPC_SCORE_JOB_FEAT_NAME ||
		    it[i]
		      [strspn(it[i],
		              "abcdefghijklmnopqrstuvwxyz0123456789_ABCDEFGHIJKLMNOPQRSTUVWXYZ.-")])
			return mpc_kind_param_err(
			    j, p,
			    "item %d: a feature name is 1 to %d characters of "
			    "[A-Za-z0-9_.-]",
			    i + 1, MPC_SCORE_JOB_FEAT_NAME - 1);
		if (sc->d == MPC_SCORE_JOB_MAX_FEATURES)
			return mpc_kind_param_err(j, p, "more than %d features",
			                          MPC_SCORE_JOB_MAX_FEATURES);
		snprintf(sc->feat[sc->d++], MPC_SCORE_JOB_FEAT_NAME, "%s", it[i]);
	}
	for (size_t a = 0; a < sc->d; a++)
		for (size_t b = 0; b < a; b++)
			if (strcmp(sc->feat[a], sc->feat[b]) == 0)
				return mpc_kind_param_err(j, p, "feature %s is listed twice",
				                          sc->feat[a]);
	for (size_t k = 0; k < sc->d; k++)
		sc->holder[k] = sc->asker;
	return MPC_OK;
}

/* holders = FEATURES @ PARTY | ... (layout = vertical) */
static mpc_err parse_holders(const mpc_job *j, mpc_score_job *sc) {
	const mpc_job_param *p;

	if (!sc->vertical)
		return MPC_OK;
	p = mpc_kind_param(j, "holders");
	char hb[256], *grp[MPC_SCORE_JOB_MAX_GROUPS];
	int ng = 0;
	snprintf(hb, sizeof(hb), "%s", p->value);
	char *t = hb;
	for (; t && ng < MPC_SCORE_JOB_MAX_GROUPS;) {
		char *bar = strchr(t, '|');
		if (bar)
			*bar = '\0';
		grp[ng++] = t;
		t = bar ? bar + 1 : NULL;
	}
	if (t != NULL)
		return mpc_kind_param_err(j, p, "more than %d groups", MPC_SCORE_JOB_MAX_GROUPS);
	for (int g = 0; g < ng; g++) {
		char *at = strchr(grp[g], '@'), party[64];
		if (!at || sscanf(at + 1, " %63s", party) != 1)
			return mpc_kind_param_err(j, p, "group %d: expected 'FEATURES @ PARTY'",
			                          g + 1);
		*at = '\0';
		int who = mpc_job_party_index(j, party);
		if (who < 0)
			return mpc_kind_param_err(j, p, "group %d: no [party %s] in the job", g + 1,
			                          party);
		char *fl[MPC_SCORE_JOB_MAX_FEATURES];
		int nf = mpc_kind_split(grp[g], fl, MPC_SCORE_JOB_MAX_FEATURES);
		if (nf < 0)
			return mpc_kind_param_err(
			    j, p, "group %d: expected a comma-separated list of features", g + 1);
		for (int i = 0; i < nf; i++) {
			int a, b, hit = 0;
			char extra;
			int range = sscanf(fl[i], "f%d-f%d%c", &a, &b, &extra) == 2;
			for (size_t k = 0; k < sc->d; k++) {
				int m = 0;
				if (range)
					m = sc->feat[k][0] == 'f' && atoi(sc->feat[k] + 1) >= a &&
					    atoi(sc->feat[k] + 1) <= b &&
					    sc->feat[k][1 + strspn(sc->feat[k] + 1,
					                           "0123456789")] == '\0' &&
					    sc->feat[k][1] >= '0' && sc->feat[k][1] <= '9';
				else if (strcmp(fl[i], "categories") == 0)
					m = strncmp(sc->feat[k], "category_", 9) == 0;
				else
					m = strcmp(fl[i], sc->feat[k]) == 0;
				if (m) {
					if (sc->holder[k] != sc->asker)
						return mpc_kind_param_err(
						    j, p, "feature %s has two holders",
						    sc->feat[k]);
					sc->holder[k] = who;
					hit = 1;
				}
			}
			if (!hit)
				return mpc_kind_param_err(
				    j, p, "group %d: %s is not among the features", g + 1, fl[i]);
		}
	}
	return MPC_OK;
}

mpc_err mpc_score_job_parse(const mpc_job *j, mpc_score_job *sc) {
	static const char *const known[] = {
	    "model",       "model_owner", "asker", "features", "threshold", "layout", "max_rows",
	    "max_feature", "max_weight",  "trees", "depth",    "key",       "holders"};
	mpc_err err;

	memset(sc, 0, sizeof(*sc));
	if ((err = mpc_kind_known_keys(j, known, sizeof(known) / sizeof(known[0]))) != MPC_OK ||
	    (err = parse_model(j, sc)) != MPC_OK || (err = parse_roles(j, sc)) != MPC_OK ||
	    (err = mpc_score_job_parse_features(j, sc)) != MPC_OK ||
	    (err = parse_holders(j, sc)) != MPC_OK)
		return err;
	if ((err = mpc_job_param_double(
	         j, "threshold", 0.5, sc->model == MPC_SCORE_JOB_TREE ? -1e9 : 1e-9,
	         sc->model == MPC_SCORE_JOB_TREE ? 1e9 : 1 - 1e-9, &sc->threshold)) != MPC_OK ||
	    (err = mpc_job_param_double(j, "max_rows", 1e6, 1, 1e8, &sc->max_rows)) != MPC_OK ||
	    (err = mpc_job_param_double(j, "max_feature", 1024, 1e-6, 1048576, &sc->max_feature)) !=
	        MPC_OK ||
	    (err = mpc_job_param_double(j, "max_weight", 1024, 1e-6, 1048576, &sc->max_weight)) !=
	        MPC_OK)
		return err;
	return MPC_OK;
}
