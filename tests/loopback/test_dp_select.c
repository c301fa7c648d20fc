/* Loopback: the exponential mechanism (mpc_dp_select.h) run by 3 real
 * processes with dealer-free (OT) preprocessing:
 *  - histograms of many selections (batched, one session each) against
 *    P(i) proportional to exp(epsilon s_i / (2 sensitivity)) by a
 *    chi-square test at significance 10^-4, and the same histograms must NOT
 *    fit exp(epsilon s_i / sensitivity) (a wrong factor of 2 is caught):
 *    counts in Z_2^64 (exact exponent, two score vectors in one batch, the
 *    second permuted and shifted) and fixed point in Z_2^128 (truncated
 *    exponent, negative and fractional scores, k = 5);
 *  - equal scores give the uniform distribution; a huge gap always the
 *    maximum; k = 1 gives 0 with no message;
 *  - bad parameters are refused by every party before any message;
 *  - the plan found by mpc_plan_simulate equals what the run consumed.
 * The selections are truly random (every party's PRG is seeded from the
 * OS), so each chi-square check fails by chance with probability 10^-4. */
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
#include <time.h>

#include "protocols/apps/mpc_dp_select.h"
#include "protocols/core/mpc_share.h"
#include "protocols/preproc/mpc_gen.h"
#include "protocols/preproc/mpc_plan.h"
#include "tests/support/mpc_local.h"

#define NP    3
#define MAX_M 4000
#define MAX_K 8

/* The job, made in the parent before fork. */
static struct {
	mpc_ring ring;
	unsigned f;
	size_t m, k;
	double eps, sens;
	int64_t s[MAX_M * MAX_K]; /* clear scores in units of 2^-f (party 0's input) */
	int refuse;               /* 1: expect an error, report it, send nothing */
	int dealer;               /* 1: a dealer instead of the parties' OT generation */
} job;

/* What each party reports after the body. */
typedef struct {
	double seconds;
	uint64_t rounds, bytes;
	mpc_gen_stats gen; /* material consumed */
	int32_t err;       /* refuse: the error returned */
	char detail[200];
} meter;

static mpc_err select_run(mpc_party *p, size_t *idx) {
	size_t n = job.m * job.k, e = mpc_ring_bytes(job.ring);
	uint8_t *in = NULL, *x = calloc(n ? n : 1, e);
	mpc_err err;
	if (x == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	if (mpc_party_id(p) == 0 && (in = calloc(n ? n : 1, e)) != NULL)
		for (size_t i = 0; i < n; i++)
			mpc_ring_set_i64(job.ring, in, i, job.s[i]);
	if (mpc_party_id(p) == 0 && in == NULL)
		err = mpc_error(MPC_ENOMEM, "out of memory");
	else if (job.refuse) /* no input: it must fail before any message */
		err = mpc_dp_select_batch(p, job.ring, job.f, x, job.m, job.k, job.eps, job.sens,
		                          idx);
	else if ((err = mpc_input(p, 0, job.ring, in, x, n)) == MPC_OK)
		err = mpc_dp_select_batch(p, job.ring, job.f, x, job.m, job.k, job.eps, job.sens,
		                          idx);
	free(in);
	free(x);
	return err;
}

static mpc_err body(mpc_party *p, void *arg) {
	const mpc_gen_stats *gs = mpc_gen_get_stats(mpc_party_preproc(p));
	mpc_gen_stats g0 = gs ? *gs : (mpc_gen_stats){0};
	uint64_t r0 = mpc_net_rounds(mpc_party_net(p)), b0 = mpc_net_bytes_sent(mpc_party_net(p));
	meter mt = {0};
	uint64_t *out = calloc(MAX_M, sizeof(uint64_t));
	size_t *idx = calloc(MAX_M, sizeof(size_t));
	struct timespec t0, t1;
	mpc_err err;
	(void)arg;
	if (out == NULL || idx == NULL) {
		err = mpc_error(MPC_ENOMEM, "out of memory");
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = select_run(p, idx);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (job.refuse) {
		mt.err = (int32_t)err;
		snprintf(mt.detail, sizeof(mt.detail), "%s", mpc_error_detail());
	} else if (err != MPC_OK) {
		goto out;
	}
	mt.seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
	mt.rounds = mpc_net_rounds(mpc_party_net(p)) - r0;
	mt.bytes = mpc_net_bytes_sent(mpc_party_net(p)) - b0;
	if (gs) {
		mt.gen.triples = gs->triples - g0.triples;
		mt.gen.trunc_pairs = gs->trunc_pairs - g0.trunc_pairs;
		mt.gen.bits = gs->bits - g0.bits;
		mt.gen.bit_triple_words = gs->bit_triple_words - g0.bit_triple_words;
	}
	for (size_t v = 0; v < job.m && !job.refuse; v++)
		out[v] = idx[v];
	if ((err = mpc_local_emit(out, MAX_M * sizeof(uint64_t))) == MPC_OK)
		err = mpc_local_emit(&mt, sizeof(mt));
out:
	free(out);
	free(idx);
	return err;
}

/* Run the job; idx gets the m indices (all parties must agree), *mt party
 * 0's meter. */
static void run(uint64_t *idx, meter *mt) {
	mpc_local_config cfg = {.n_parties = NP,
	                        .with_dealer = job.dealer,
	                        .gen = job.dealer ? NULL : "ot",
	                        .timeout_ms = 60000,
	                        .watchdog_s = 120};
	mpc_local_result res[NP + 1];
	size_t want = MAX_M * sizeof(uint64_t) + sizeof(meter);
	assert_int_equal(mpc_local_run(&cfg, body, NULL, res), MPC_OK);
	for (int i = 0; i < NP; i++) {
		if (res[i].err != MPC_OK || !res[i].exited || res[i].exit_code != 0)
			print_error("party %d: exit %d, %s: %s\n", i, res[i].exit_code,
			            mpc_strerror(res[i].err), res[i].detail);
		assert_int_equal(res[i].err, MPC_OK);
		assert_int_equal(res[i].out_len, want);
		if (i == 0) {
			memcpy(idx, res[0].out, MAX_M * sizeof(uint64_t));
			memcpy(mt, res[0].out + MAX_M * sizeof(uint64_t), sizeof(meter));
		}
		/* every party learns the same indices */
		assert_memory_equal(res[i].out, idx, job.m * sizeof(uint64_t));
	}
	if (job.dealer)
		assert_int_equal(res[NP].err, MPC_OK);
	mpc_local_results_fini(res, NP + job.dealer);
	for (size_t v = 0; v < job.m && !job.refuse; v++)
		assert_true(idx[v] < job.k);
}

static void new_job(mpc_ring r, unsigned f, size_t m, size_t k, double eps, double sens) {
	memset(&job, 0, sizeof(job));
	job.ring = r;
	job.f = f;
	job.m = m;
	job.k = k;
	job.eps = eps;
	job.sens = sens;
}

/* Chi-square of counts obs[0..k) (n in all) against probabilities
 * proportional to exp(c s_j) (s in real units). */
static double chi2(const double *obs, const double *s, size_t k, double c, double n) {
	double z = 0, x = 0, mx = s[0];
	for (size_t j = 1; j < k; j++)
		mx = fmax(mx, s[j]);
	for (size_t j = 0; j < k; j++)
		z += exp(c * (s[j] - mx));
	for (size_t j = 0; j < k; j++) {
		double ex = n * exp(c * (s[j] - mx)) / z;
		x += (obs[j] - ex) * (obs[j] - ex) / ex;
	}
	return x;
}

/* Upper 10^-4 critical value of chi-square with df = 1..4 degrees of
 * freedom (tables). */
static double crit(size_t df) {
	static const double c[5] = {0, 15.137, 18.421, 21.108, 23.513};
	assert_true(df >= 1 && df <= 4);
	return c[df];
}

/* Histogram the selections v = first, first+stride, ... (all with scores
 * s, real units) and test them: they fit exp(eps s / (2 sens)) at 10^-4 and
 * do not fit exp(eps s / sens). */
static void check_fit(const uint64_t *idx, size_t first, size_t stride, const double *s,
                      const char *what) {
	double obs[MAX_K] = {0}, n = 0;
	for (size_t v = first; v < job.m; v += stride, n++)
		obs[idx[v]]++;
	double a = job.eps / (2 * job.sens), c = crit(job.k - 1);
	double good = chi2(obs, s, job.k, a, n), bad = chi2(obs, s, job.k, 2 * a, n);
	print_message("    %s: %.0f selections, histogram", what, n);
	for (size_t j = 0; j < job.k; j++)
		print_message(" %.0f", obs[j]);
	print_message("; chi-square %.2f (critical %.2f at 10^-4, %zu df), against the wrong "
	              "factor exp(eps s / sens) %.1f\n",
	              good, c, job.k - 1, bad);
	if (good > c)
		fail_msg("%s: chi-square %g > %g", what, good, c);
	if (bad <= c)
		fail_msg("%s: the histogram also fits exp(eps s / sens) (%g)", what, bad);
}

static void report(const meter *mt, const char *what) {
	if (job.dealer) {
		print_message(
		    "    %s: %zu selections of %zu in %.2f s, %llu rounds, %.0f bytes sent "
		    "(party 0) per selection (dealer: online only)\n",
		    what, job.m, job.k, mt->seconds, (unsigned long long)mt->rounds,
		    (double)mt->bytes / (double)job.m);
		return;
	}
	print_message("    %s: %zu selections of %zu in %.2f s, %llu rounds, %.0f bytes sent "
	              "(party 0) per selection with OT generation; per selection %.0f bit triples, "
	              "%.1f random "
	              "bits, %.2f triples, %.2f truncation pairs\n",
	              what, job.m, job.k, mt->seconds, (unsigned long long)mt->rounds,
	              (double)mt->bytes / (double)job.m,
	              64.0 * (double)mt->gen.bit_triple_words / (double)job.m,
	              (double)mt->gen.bits / (double)job.m, (double)mt->gen.triples / (double)job.m,
	              (double)mt->gen.trunc_pairs / (double)job.m);
}

/* Counts in Z_2^64, epsilon 0.9 (a = 0.45: the exponent is exact, a
 * rounded down to 20 bits): half the batch scores {0, 1, 2, 3}, the other
 * half {103, 100, 102, 101}. */
static void test_counts(void **st) {
	(void)st;
	static uint64_t idx[MAX_M];
	meter mt;
	double s1[4] = {0, 1, 2, 3}, s2[4] = {103, 100, 102, 101};
	double eu, tv;
	new_job(MPC_Z64, 0, 4000, 4, 0.9, 1.0);
	job.dealer = 1;
	assert_int_equal(mpc_dp_select_info(MPC_Z64, 0, 4, 0.9, 1.0, &eu, &tv), MPC_OK);
	print_message("    epsilon used %.9g of 0.9, total variation <= %.3g\n", eu, tv);
	assert_true(eu <= 0.9 && eu > 0.9 * (1 - 1e-6) && tv < 2e-7);
	for (size_t v = 0; v < job.m; v++)
		for (size_t j = 0; j < 4; j++)
			job.s[v * 4 + j] = (int64_t)(v % 2 ? s2[j] : s1[j]);
	run(idx, &mt);
	report(&mt, "counts, Z_2^64");
	check_fit(idx, 0, 2, s1, "scores 0 1 2 3");
	check_fit(idx, 1, 2, s2, "scores 103 100 102 101");
}

/* Fixed point with 16 fractional bits in Z_2^128 (a 2^4 < 2^10: the
 * exponent is truncated), k = 5, negative and fractional scores. */
static void test_fixed(void **st) {
	(void)st;
	static uint64_t idx[MAX_M];
	meter mt;
	double s[5] = {0.5, 1.25, -0.75, 2.0, 1.0};
	double eu, tv;
	new_job(MPC_Z128, 16, 1500, 5, 1.3, 0.5);
	job.dealer = 1;
	assert_int_equal(mpc_dp_select_info(MPC_Z128, 16, 5, 1.3, 0.5, &eu, &tv), MPC_OK);
	print_message("    epsilon used %.9g of 1.3, total variation <= %.3g\n", eu, tv);
	assert_true(eu <= 1.3 && eu > 1.3 * (1 - 1e-6) && tv < 3e-6);
	for (size_t v = 0; v < job.m; v++)
		for (size_t j = 0; j < 5; j++)
			job.s[v * 5 + j] = (int64_t)ldexp(s[j], 16);
	run(idx, &mt);
	report(&mt, "fixed point f = 16, Z_2^128");
	check_fit(idx, 0, 1, s, "scores 0.5 1.25 -0.75 2 1");
}

/* Equal scores: uniform (and the wrong factor changes nothing, so only the
 * fit is tested). A gap of 10^6 at epsilon 1: always the maximum. k = 1:
 * index 0, no message, no material. */
static void test_edges(void **st) {
	(void)st;
	static uint64_t idx[MAX_M];
	meter mt;
	new_job(MPC_Z64, 0, 600, 3, 1.0, 1.0);
	for (size_t i = 0; i < job.m * 3; i++)
		job.s[i] = 42;
	run(idx, &mt);
	double obs[3] = {0}, s[3] = {0, 0, 0}, c = crit(2);
	for (size_t v = 0; v < job.m; v++)
		obs[idx[v]]++;
	double x = chi2(obs, s, 3, 1.0, (double)job.m);
	print_message("    equal scores: %.0f %.0f %.0f, chi-square %.2f (critical %.2f)\n", obs[0],
	              obs[1], obs[2], x, c);
	assert_true(x <= c);

	new_job(MPC_Z128, 0, 200, 3, 1.0, 1.0);
	job.dealer = 1;
	for (size_t v = 0; v < job.m; v++) {
		job.s[v * 3] = 0;
		job.s[v * 3 + 1] = 1000000;
		job.s[v * 3 + 2] = 5;
	}
	run(idx, &mt);
	for (size_t v = 0; v < job.m; v++)
		assert_int_equal(idx[v], 1);
	print_message("    gap 10^6: %zu of %zu selections the maximum\n", job.m, job.m);

	new_job(MPC_Z64, 0, 5, 1, 1.0, 1.0);
	job.dealer = 1;
	run(idx, &mt);
	for (size_t v = 0; v < job.m; v++)
		assert_int_equal(idx[v], 0);
	assert_true(mt.bytes == 0 && mt.rounds == 0 && mt.gen.bits == 0 &&
	            mt.gen.bit_triple_words == 0);
}

/* Each bad parameter is refused by every party, before any message. */
static void test_refuse(void **st) {
	(void)st;
	struct {
		double eps, sens;
		size_t m, k;
		const char *what;
	} bad[] = {{0, 1, 1, 3, "epsilon"},      {-1, 1, 1, 3, "epsilon"},
	           {NAN, 1, 1, 3, "epsilon"},    {1, 0, 1, 3, "sensitivity"},
	           {1, -2, 1, 3, "sensitivity"}, {1, INFINITY, 1, 3, "sensitivity"},
	           {1, 1, 1, 0, "0 candidates"}, {1, 1, 0, 3, "no selection"}};
	for (size_t t = 0; t < sizeof(bad) / sizeof(bad[0]); t++) {
		static uint64_t idx[MAX_M];
		meter mt;
		new_job(MPC_Z64, 0, bad[t].m, bad[t].k, bad[t].eps, bad[t].sens);
		job.refuse = 1;
		job.dealer = 1;
		run(idx, &mt);
		print_message("    refused: %s\n", mt.detail);
		assert_int_equal(mt.err, MPC_EINVAL);
		assert_non_null(strstr(mt.detail, bad[t].what));
		assert_true(mt.bytes == 0 && mt.rounds == 0);
	}
	assert_int_equal(mpc_dp_select_info(MPC_Z64, 64, 3, 1, 1, NULL, NULL), MPC_EINVAL);
	assert_int_equal(mpc_dp_select_info(MPC_Z128, 100, 3, 1e-9, 1, NULL, NULL), MPC_ERANGE);
	assert_int_equal(mpc_dp_select_info(MPC_Z64, 0, MPC_DP_SELECT_MAX_K + 1, 1, 1, NULL, NULL),
	                 MPC_EINVAL);
}

/* ---- the plan ---- */

static mpc_err plan_fn(mpc_party *p, const mpc_cross *zc, void *arg) {
	size_t idx[MAX_M];
	uint8_t *x = calloc(job.m * job.k, mpc_ring_bytes(job.ring));
	(void)zc;
	(void)arg;
	if (x == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	mpc_err err =
	    mpc_dp_select_batch(p, job.ring, job.f, x, job.m, job.k, job.eps, job.sens, idx);
	free(x);
	return err;
}

/* The simulated plan (zero material) asks for exactly what the real run's
 * generator made: counts in Z_2^64 with an exact exponent, and fixed point
 * in Z_2^128 with a truncated one. */
static void test_plan(void **st) {
	(void)st;
	struct {
		mpc_ring r;
		unsigned f;
		size_t k;
		double eps;
	} shape[2] = {{MPC_Z64, 0, 4, 0.9}, {MPC_Z128, 8, 6, 0.3}};
	for (int t = 0; t < 2; t++) {
		static uint64_t idx[MAX_M];
		meter mt;
		mpc_pool_plan pl;
		char buf[256];
		new_job(shape[t].r, shape[t].f, 64, shape[t].k, shape[t].eps, 1.0);
		for (size_t i = 0; i < job.m * job.k; i++)
			job.s[i] = (int64_t)(i % 7);
		assert_int_equal(mpc_plan_simulate(NP, plan_fn, NULL, &pl), MPC_OK);
		run(idx, &mt);
		report(&mt, t ? "plan check, Z_2^128 f = 8" : "plan check, Z_2^64");
		print_message("    plan: %s\n", mpc_plan_format(&pl, buf, sizeof(buf)));
		uint64_t tr = 0;
		for (uint32_t i = 0; i < pl.n_trunc; i++)
			tr += pl.trunc[i].n;
		assert_true(pl.bit_triple_words == mt.gen.bit_triple_words);
		assert_true(pl.bits[0] + pl.bits[1] == mt.gen.bits);
		assert_true(pl.triples[0] + pl.triples[1] == mt.gen.triples);
		assert_true(tr == mt.gen.trunc_pairs);
	}
}

int main(void) {
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_refuse), cmocka_unit_test(test_edges),
	    cmocka_unit_test(test_counts), cmocka_unit_test(test_fixed),
	    cmocka_unit_test(test_plan),
	};
	if (getenv("MPC_TEST_FILTER"))
		cmocka_set_test_filter(getenv("MPC_TEST_FILTER"));
	return cmocka_run_group_tests_name("dp_select", tests, NULL, NULL);
}
