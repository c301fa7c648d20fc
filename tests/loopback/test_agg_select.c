/* Loopback: the statistics job's private selection (mpc_agg_spec.select,
 * jobs/kind_stats_parse.c's `select`): 3 real processes with OT-made
 * preprocessing over rows where one group's fraud count, and another
 * group's row count, are far ahead, so the exponential mechanism picks them
 * (a wrong group with probability below 3 e^-40); the selection's budget
 * share (Laplace: the epsilons add up to the job's; Gaussian: the rho shares,
 * epsilon_sel = sqrt(2 rho_sel)); the same through input parties'
 * contributions; the section's errors naming FILE:LINE. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first */
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "jobs/kind_stats.h"
#include "tests/support/mpc_local.h"

#define NP 3
#define G  4
/* rows per party: group 0 has the most rows, group 2 the most frauds */
static const size_t rows_in[G] = {300, 60, 120, 40};
static const size_t frauds_in[G] = {3, 5, 110, 2};

static struct {
	mpc_agg_spec spec;
	size_t n;
	double *amount, *fraud;
	uint32_t *grp;
	mpc_u128 *sh[NP]; /* contributions' shares (test_select_contribs) */
	size_t len;
} job;

static void rows_make(void) {
	size_t n = 0;
	for (int g = 0; g < G; g++)
		n += rows_in[g];
	job.n = n;
	job.amount = calloc(n, sizeof(double));
	job.fraud = calloc(n, sizeof(double));
	job.grp = calloc(n, sizeof(uint32_t));
	assert_true(job.amount && job.fraud && job.grp);
	for (size_t g = 0, i = 0; g < G; g++)
		for (size_t r = 0; r < rows_in[g]; r++, i++) {
			job.amount[i] = (double)((i * 37) % 900) + 1;
			job.fraud[i] = r < frauds_in[g];
			job.grp[i] = (uint32_t)g;
		}
}

static void spec_make(int mech, mpc_agg_sel sel) {
	mpc_agg_spec_default(&job.spec);
	job.spec.stats = MPC_AGG_COUNT | MPC_AGG_FRAUD;
	job.spec.fraud_col = 1;
	job.spec.max_abs = 1000;
	job.spec.max_rows = 10000;
	job.spec.n_groups = G;
	job.spec.dp = mech;
	job.spec.dp_epsilon = 2;
	job.spec.dp_delta = mech == MPC_DP_GAUSSIAN ? 1e-6 : 0;
	job.spec.select = sel;
}

/* What a party emits: the index chosen and the plan's selection epsilon. */
typedef struct {
	double selected, eps;
} out_rec;

static mpc_err emit(mpc_agg_result *res) {
	out_rec o = {res->selected, res->dp.select_epsilon};
	mpc_agg_result_fini(res);
	return mpc_local_emit(&o, sizeof(o));
}

/* Every party holds the same rows (3 copies of the data set). */
static mpc_err body(mpc_party *p, void *arg) {
	mpc_agg_rows rows = {
	    .n = job.n, .n_cols = 2, .col = {job.amount, job.fraud}, .group = job.grp};
	mpc_agg_result res;
	mpc_err err;
	(void)arg;
	if ((err = mpc_agg_run(p, &job.spec, &rows, &res)) != MPC_OK)
		return err;
	return emit(&res);
}

/* Compute party k holds shares of NP contributions, each the whole data set. */
static mpc_err body_contrib(mpc_party *p, void *arg) {
	mpc_agg_result res;
	mpc_err err;
	(void)arg;
	if ((err = mpc_agg_run_contribs(p, &job.spec, job.sh[mpc_party_id(p)], NP, &res)) != MPC_OK)
		return err;
	return emit(&res);
}

static void contrib_share(void) {
	mpc_agg_rows rows = {
	    .n = job.n, .n_cols = 2, .col = {job.amount, job.fraud}, .group = job.grp};
	job.len = mpc_agg_contrib_len(&job.spec);
	mpc_u128 *x = calloc(job.len, 16);
	assert_non_null(x);
	for (int k = 0; k < NP; k++)
		assert_non_null(job.sh[k] = calloc(NP * job.len, 16));
	assert_int_equal(mpc_agg_contrib(&job.spec, &rows, "merchant", x), MPC_OK);
	for (size_t c = 0; c < NP; c++) {
		mpc_u128 *last = job.sh[NP - 1] + c * job.len;
		memcpy(last, x, job.len * 16);
		for (int k = 0; k < NP - 1; k++) {
			mpc_u128 *r = job.sh[k] + c * job.len;
			assert_int_equal(RAND_bytes((uint8_t *)r, (int)(job.len * 16)), 1);
			for (size_t e = 0; e < job.len; e++)
				last[e] -= r[e];
		}
	}
	free(x);
}

/* Runs fn at NP parties: every one succeeds with the same record. */
static out_rec run_all(mpc_local_fn fn) {
	mpc_local_config cfg = {
	    .n_parties = NP, .gen = "ot", .timeout_ms = 30000, .watchdog_s = 120};
	mpc_local_result res[NP + 1];
	out_rec o;
	assert_int_equal(mpc_local_run(&cfg, fn, NULL, res), MPC_OK);
	for (int i = 0; i < NP; i++) {
		if (res[i].err != MPC_OK || res[i].exit_code != 0)
			print_error("party %d: %s: %s\n", i, mpc_strerror(res[i].err),
			            res[i].detail);
		assert_int_equal(res[i].err, MPC_OK);
		assert_int_equal(res[i].exit_code, 0);
		assert_int_equal(res[i].out_len, sizeof(out_rec));
		assert_memory_equal(res[i].out, res[0].out, sizeof(out_rec));
	}
	memcpy(&o, res[0].out, sizeof(o));
	mpc_local_results_fini(res, NP);
	return o;
}

/* The plan's items: the selection last, its epsilon the share the split
 * gave it; the items' budgets add up to the job's. */
static void check_plan(const mpc_agg_spec *s, size_t items) {
	mpc_agg_dp_plan pl;
	assert_int_equal(mpc_agg_dp_plan_make(s, &pl), MPC_OK);
	assert_int_equal(pl.n, items);
	const mpc_agg_dp_item *sel = &pl.item[pl.n - 1];
	assert_true(mpc_agg_dp_item_is_select(sel));
	assert_string_equal(mpc_agg_dp_kind_name(sel->kind), "select");
	assert_true(sel->stddev == 0 && sel->sensitivity == 1);
	double sum = 0;
	for (size_t i = 0; i < pl.n; i++)
		sum += s->dp == MPC_DP_LAPLACE ? pl.item[i].alloc.epsilon : pl.item[i].alloc.rho;
	if (s->dp == MPC_DP_LAPLACE) {
		assert_true(fabs(sum - s->dp_epsilon) < 1e-12 * s->dp_epsilon);
		assert_true(fabs(pl.select_epsilon - s->dp_epsilon / (double)items) < 1e-12);
	} else {
		double rho = mpc_dp_zcdp_rho(s->dp_epsilon, s->dp_delta);
		assert_true(fabs(sum - rho) < 1e-12 * rho);
		assert_true(fabs(pl.select_epsilon - sqrt(2 * rho / (double)items)) < 1e-12);
	}
	assert_true(pl.select_epsilon_used <= pl.select_epsilon &&
	            pl.select_epsilon_used >= pl.select_epsilon * (1 - 1.0 / 1024));
	assert_true(pl.select_tv > 0 && pl.select_tv < 1e-5);
	print_message("   %s\n", sel->line);
}

/* fraud_count: group 2 (330 fraud rows against at most 15: a gap of 315).
 * count: group 0 (900 rows against 360). Laplace: 5 items (count and
 * fraud_count for all and the groups, the selection), eps_sel = 0.4:
 * a wrong group has probability at most 3 e^-63. */
static void test_select_far_ahead(void **st) {
	(void)st;
	spec_make(MPC_DP_LAPLACE, MPC_AGG_SEL_FRAUD);
	check_plan(&job.spec, 5);
	out_rec o = run_all(body);
	assert_true(o.selected == 2);
	assert_true(fabs(o.eps - 0.4) < 1e-15);
	job.spec.select = MPC_AGG_SEL_COUNT;
	o = run_all(body);
	assert_true(o.selected == 0);
}

/* The Gaussian: the selection takes a share of rho. */
static void test_select_gaussian(void **st) {
	(void)st;
	spec_make(MPC_DP_GAUSSIAN, MPC_AGG_SEL_FRAUD);
	check_plan(&job.spec, 5);
	job.spec.stats = MPC_AGG_COUNT; /* 3 items: count (all, groups), selection */
	check_plan(&job.spec, 3);
	out_rec o = run_all(body);
	assert_true(o.selected == 2);
}

/* Input parties: NP contributions of the whole data set among NP compute
 * parties select the same groups. */
static void test_select_contribs(void **st) {
	(void)st;
	spec_make(MPC_DP_LAPLACE, MPC_AGG_SEL_FRAUD);
	contrib_share();
	out_rec o = run_all(body_contrib);
	assert_true(o.selected == 2);
	for (int k = 0; k < NP; k++) {
		free(job.sh[k]);
		job.sh[k] = NULL;
	}
}

/* Refused specs (the library's checks). */
static void test_select_bad_spec(void **st) {
	(void)st;
	spec_make(MPC_DP_LAPLACE, MPC_AGG_SEL_FRAUD);
	assert_int_equal(mpc_agg_check_spec(&job.spec, NP), MPC_OK);
	job.spec.dp = 0;
	assert_int_equal(mpc_agg_check_spec(&job.spec, NP), MPC_ECONFIG);
	assert_non_null(strstr(mpc_error_detail(), "select needs dp"));
	job.spec.dp = MPC_DP_LAPLACE;
	job.spec.n_groups = 1;
	assert_int_equal(mpc_agg_check_spec(&job.spec, NP), MPC_ECONFIG);
	assert_non_null(strstr(mpc_error_detail(), "at least 2 groups"));
	job.spec.n_groups = G;
	job.spec.stats = MPC_AGG_COUNT;
	job.spec.fraud_col = -1;
	assert_int_equal(mpc_agg_check_spec(&job.spec, NP), MPC_ECONFIG);
	assert_non_null(strstr(mpc_error_detail(), "select fraud_count needs a fraud column"));
	job.spec.fraud_col = 1;
	job.spec.select = (mpc_agg_sel)7;
	assert_int_equal(mpc_agg_check_spec(&job.spec, NP), MPC_ECONFIG);
}

/* ---- the job file's section ---- */

/* A job whose [aggregate_stats] section (line 4) holds `params` (from line 5). */
static mpc_err parse_job(const char *params, mpc_stats_job *a) {
	char text[2048];
	mpc_job *j = NULL;
	snprintf(text, sizeof(text),
	         "[job]\nid = j\ncomputation = aggregate_stats\n[aggregate_stats]\n%s\n"
	         "[party a]\naddress = tcp://h:1\nfingerprint = "
	         "fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0efeeedecebeae9e8e7e6e5e4e3e2e1e0\n"
	         "[party b]\naddress = tcp://h:2\nfingerprint = "
	         "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
	         params);
	mpc_err err = mpc_job_parse("sel.ini", text, strlen(text), &j);
	if (err == MPC_OK)
		err = mpc_stats_job_parse(j, a);
	mpc_job_free(j);
	return err;
}

static void bad(const char *params, const char *where, const char *what) {
	mpc_stats_job a;
	assert_int_equal(parse_job(params, &a), MPC_ECONFIG);
	const char *d = mpc_error_detail();
	if (!strstr(d, where) || !strstr(d, what))
		print_error("wanted '%s' and '%s' in: %s\n", where, what, d);
	assert_non_null(strstr(d, where));
	assert_non_null(strstr(d, what));
}

static void test_select_parse(void **st) {
	(void)st;
	mpc_stats_job a;
	assert_int_equal(parse_job("groups = grocery, travel, online\ndp = laplace\nepsilon = 1\n"
	                           "select = fraud_count",
	                           &a),
	                 MPC_OK);
	assert_int_equal(a.spec.select, MPC_AGG_SEL_FRAUD);
	assert_false(a.legacy);
	assert_int_equal(parse_job("groups = a, b\ndp = gaussian\nepsilon = 1\ndelta = 1e-6\n"
	                           "select = count",
	                           &a),
	                 MPC_OK);
	assert_int_equal(a.spec.select, MPC_AGG_SEL_COUNT);
	bad("groups = a, b\nselect = count",
	    "sel.ini:6: [aggregate_stats] select: ", "needs 'dp = laplace' or 'dp = gaussian'");
	bad("dp = laplace\nepsilon = 1\nselect = count",
	    "sel.ini:7: [aggregate_stats] select: ", "needs 'groups = ...' with at least 2 groups");
	bad("groups = a\ndp = laplace\nepsilon = 1\nselect = count",
	    "sel.ini:8: [aggregate_stats] select: ", "at least 2 groups");
	bad("groups = a, b\ndp = laplace\nepsilon = 1\nselect = amount",
	    "sel.ini:8: [aggregate_stats] select: ", "expected count or fraud_count");
	bad("groups = a, b\ndp = laplace\nepsilon = 1\n\nselect = fraud_rate",
	    "sel.ini:9: [aggregate_stats] select: ", "fraud_rate cannot be selected");
}

int main(void) {
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_select_parse),     cmocka_unit_test(test_select_bad_spec),
	    cmocka_unit_test(test_select_far_ahead), cmocka_unit_test(test_select_gaussian),
	    cmocka_unit_test(test_select_contribs),
	};
	rows_make();
	if (getenv("MPC_TEST_FILTER"))
		cmocka_set_test_filter(getenv("MPC_TEST_FILTER"));
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	free(job.amount);
	free(job.fraud);
	free(job.grp);
	return failed ? 1 : 0;
}
