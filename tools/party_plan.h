/* What one of mpc-party's jobs consumes, exactly: the job's computation run
 * at every party on this machine (protocols/preproc/mpc_plan.h), on dummy data of the
 * job's public shapes, against a counting backend.
 *
 * Shapes: aggregate_stats consumes the same whatever each party's row count
 * (every party sums its rows locally), except that cohorts suppressed during
 * the run (min_cohort, or a DP noisy count below it) skip their remaining
 * work: the dummy data fills every cohort, so the plan is the one where no
 * cohort is suppressed, the most a run can take. fraud_score consumes per
 * transaction of the asker: `rows` must be the asker's row count (announced
 * by the asker at the start of a run).
 *
 * Also: the binding of a preprocessing store, what determines its material. */
#ifndef PARTY_PLAN_H
#define PARTY_PLAN_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "jobs/mpc_job.h"
#include "protocols/apps/mpc_agg.h"
#include "protocols/core/mpc_party.h"
#include "protocols/preproc/mpc_plan.h"
#include "protocols/apps/mpc_score.h"
#include "protocols/apps/mpc_stats.h"
#include "tools/party_jobs.h"

enum { PP_STATS = 1, PP_AGG = 2, PP_SCORE = 3 };

typedef struct {
	const mpc_job *job;
	int kind;           /* PP_* */
	const pj_agg *agg;  /* PP_STATS, PP_AGG (borrowed) */
	const pj_score *sc; /* PP_SCORE (borrowed) */
	uint64_t rows;      /* PP_SCORE: the asker's transactions */
} pp_job;

/* A value of the filter column that passes the filter (within max_abs when
 * the filter is on the value column). */
PJ_FN double pp_filter_pass(const mpc_agg_spec *s) {
	double c = s->filter_value, cand[6] = {c, c + 1, c - 1, c + 1e-3, c - 1e-3, 0};
	for (int i = 0; i < 6; i++) {
		double v = cand[i];
		if (mpc_agg_filter_pass(s, v) && (s->filter_col != s->col || fabs(v) <= s->max_abs))
			return v;
	}
	return c;
}

PJ_FN mpc_err pp_sim_stats(mpc_party *p, const mpc_cross *zc, void *arg) {
	const pp_job *pj = arg;
	mpc_stats_params sp;
	double amount = 0;
	uint8_t fraud = 0;
	uint32_t cat = 0;
	mpc_txns t = {.n = 1, .amount = &amount, .fraud = &fraud, .category = &cat};
	mpc_stats_result res;
	(void)zc;
	mpc_stats_params_default(&sp);
	sp.frac = pj->job->frac_bits;
	sp.max_amount = pj->agg->max_amount;
	sp.max_rows = pj->agg->max_rows;
	return mpc_stats_run(p, &sp, &t, &res);
}

/* Every cohort gets at least K rows over all parties (so none is suppressed
 * by its count), spread over the parties. */
PJ_FN mpc_err pp_sim_agg(mpc_party *p, const mpc_cross *zc, void *arg) {
	const pp_job *pj = arg;
	const mpc_agg_spec *s = &pj->agg->spec;
	int np = mpc_party_size(p);
	uint64_t K = s->min_cohort > 1 ? s->min_cohort : 1;
	size_t G = s->n_groups ? s->n_groups : 1,
	       per = (size_t)((K + (uint64_t)np - 1) / (uint64_t)np);
	mpc_agg_rows rows;
	mpc_agg_result res;
	mpc_err err;
	(void)zc;

	/* DP: a noisy count must reach K too; the zero material makes the noise
	 * a fixed public value, so a margin of rows covers it */
	if (s->dp)
		per += 16;
	size_t n = G * per;
	if ((double)n > s->max_rows) /* then no run can fill every cohort either */
		n = (size_t)s->max_rows;
	double *col0 = calloc(n + 1, sizeof(double)), *col1 = calloc(n + 1, sizeof(double));
	uint32_t *grp = calloc(n + 1, sizeof(uint32_t));
	if (!col0 || !col1 || !grp) {
		err = mpc_error(MPC_ENOMEM, "out of memory");
		goto out;
	}
	double fv = s->filter_col >= 0 ? pp_filter_pass(s) : 0;
	for (size_t i = 0; i < n; i++) {
		col0[i] = s->filter_col == 0 ? fv : 0;
		col1[i] = s->filter_col == 1 ? fv : 0;
		grp[i] = s->n_groups ? (uint32_t)(i % s->n_groups) : MPC_AGG_NO_GROUP;
	}
	memset(&rows, 0, sizeof(rows));
	rows.n = n;
	rows.n_cols = 2;
	rows.col[0] = col0;
	rows.col[1] = col1;
	rows.group = grp;
	if ((err = mpc_agg_run(p, s, &rows, &res)) == MPC_OK)
		mpc_agg_result_fini(&res);
out:
	free(col0);
	free(col1);
	free(grp);
	return err;
}

/* The asker's `rows` transactions of zeros, every holder's columns, and a
 * model of zeros at the owner. */
PJ_FN mpc_err pp_sim_score(mpc_party *p, const mpc_cross *zc, void *arg) {
	const pp_job *pj = arg;
	const pj_score *sc = pj->sc;
	int me = mpc_party_id(p);
	size_t n = (size_t)pj->rows, q = 0, nodes = 0, leaves = 0;
	double *x = NULL, *w = NULL, *thr = NULL, *leaf = NULL, *score = NULL;
	uint32_t *feat = NULL;
	uint8_t *flag = NULL;
	char(*kb)[24] = NULL;
	const char **keys = NULL;
	mpc_err err = MPC_OK;

	for (size_t k = 0; k < sc->d; k++)
		q += sc->holder[k] == me;
	if (sc->model == PJ_TREE) {
		nodes = sc->trees * (((size_t)1 << sc->depth) - 1);
		leaves = sc->trees * ((size_t)1 << sc->depth);
	}
	if (!(x = calloc(n * q + 1, sizeof(double))) || !(w = calloc(sc->d + 1, sizeof(double))) ||
	    !(thr = calloc(nodes + 1, sizeof(double))) ||
	    !(leaf = calloc(leaves + 1, sizeof(double))) ||
	    !(feat = calloc(nodes + 1, sizeof(uint32_t))) ||
	    !(score = calloc(n + 1, sizeof(double))) || !(flag = calloc(n + 1, 1)) ||
	    !(kb = calloc(n + 1, sizeof(*kb))) || !(keys = calloc(n + 1, sizeof(*keys)))) {
		err = mpc_error(MPC_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(kb[i], sizeof(kb[i]), "k%zu", i);
		keys[i] = kb[i];
	}
	mpc_score_opts so = {.asker = sc->asker,
	                     .cross = pj->job->preprocessing == MPC_JOB_DEALER ? NULL : zc};
	mpc_score_data sd = {
	    .n = n, .d = sc->d, .holder = sc->asker, .x = x, .x_max = sc->max_feature};
	if (sc->vertical) {
		sd.col_holder = sc->holder;
		sd.keys = keys;
		sd.my_keys = keys;
		sd.my_n = me == sc->asker || q > 0 ? n : 0;
	}
	int owner = me == sc->owner;
	if (sc->model == PJ_TREE) {
		mpc_score_tree_model tm = {.owner = sc->owner,
		                           .n_trees = sc->trees,
		                           .depth = sc->depth,
		                           .feature = owner ? feat : NULL,
		                           .thr = owner ? thr : NULL,
		                           .leaf = owner ? leaf : NULL,
		                           .v_max = sc->max_weight,
		                           .threshold = sc->threshold};
		err = mpc_score_tree(p, &so, &sd, &tm, score, flag);
	} else {
		mpc_score_logreg_model m = {.owner = sc->owner,
		                            .w = owner ? w : NULL,
		                            .w_max = sc->max_weight,
		                            .threshold = sc->threshold};
		err = mpc_score_logreg(p, &so, &sd, &m, score, flag);
	}
out:
	free(x);
	free(w);
	free(thr);
	free(leaf);
	free(feat);
	free(score);
	free(flag);
	free(kb);
	free(keys);
	return err;
}

/* The plan of the job (see above). MPC_ECONFIG for a computation without
 * one; the simulation's errors otherwise. */
PJ_FN mpc_err pp_plan(pp_job *pj, mpc_pool_plan *out) {
	mpc_plan_fn fn = pj->kind == PP_STATS   ? pp_sim_stats
	                 : pj->kind == PP_AGG   ? pp_sim_agg
	                 : pj->kind == PP_SCORE ? pp_sim_score
	                                        : NULL;
	*out = (mpc_pool_plan){0};
	if (fn == NULL)
		return mpc_error(MPC_ECONFIG, "%s: no material plan for computation = %s",
		                 pj->job->path, pj->job->computation);
	return mpc_plan_simulate(pj->job->n_parties, fn, pj, out);
}

/* What determines a store's material, hashed: the parties' certificate
 * fingerprints in job order (material is shares among exactly those parties),
 * the ring, the fractional bits and the engine. Not the rest of the job file:
 * fixing a column name or a threshold keeps the store. The job id is bound
 * separately (mpc_store_open): it names the store's directory. */
PJ_FN mpc_err pp_store_binding(const mpc_job *j, uint8_t out[32]) {
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	char head[160];
	unsigned len = 0;
	int ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
	int n = snprintf(head, sizeof(head),
	                 "mpc store binding v2\nparties %d\nring %u\nfrac %u\n"
	                 "engine %s\n",
	                 j->n_parties, mpc_ring_bits(j->ring), j->frac_bits,
	                 j->preprocessing == MPC_JOB_PAILLIER ? "paillier"
	                 : j->preprocessing == MPC_JOB_DEALER ? "dealer"
	                                                      : "ot");
	ok = ok && EVP_DigestUpdate(md, head, (size_t)n) == 1;
	/* without fingerprints (plaintext test jobs) the names stand for the
	 * identities */
	for (int i = 0; i < j->n_parties && ok; i++)
		ok = j->parties[i].has_fingerprint
		         ? EVP_DigestUpdate(md, j->parties[i].fingerprint, 32) == 1
		         : EVP_DigestUpdate(md, j->parties[i].name,
		                            strlen(j->parties[i].name) + 1) == 1;
	ok = ok && EVP_DigestFinal_ex(md, out, &len) == 1 && len == 32;
	EVP_MD_CTX_free(md);
	return ok ? MPC_OK : mpc_error(MPC_ECRYPTO, "SHA-256 failed (%s:%d)", __FILE__, __LINE__);
}

#endif
