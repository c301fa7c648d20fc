/* Loopback, 3 parties, dealer-free OT preprocessing: joint fraud scoring
 * (protocols/apps/mpc_score.h) against a double-precision evaluation of the same
 * model. Logistic regression on 10^4 x 32 (horizontal, weights from another
 * party; OT cross products) within the documented tolerance, flags equal
 * outside the tolerance band, the other parties' buffers untouched and
 * nothing emitted by them; vertical with keys matched across 3 merchants
 * (the owner also a holder), a shared model (Beaver and cross), a missing key
 * failing everywhere; a scorecard; a depth-4 tree and an ensemble of 3
 * trees (cross and Beaver); online rounds equal at n = 10 and n = 1000
 * (the OT engine's own rounds set apart).
 * MPC_SCORE_BENCH=1 adds the timings of the README (10^4 x 32). */
/* cmocka.h needs these first */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first */
#include <cmocka.h>
/* clang-format on */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "protocols/apps/mpc_score.h"
#include "protocols/core/mpc_share.h"
#include "protocols/core/mpc_share_tap.h"
#include "protocols/preproc/mpc_cross.h"
#include "protocols/preproc/mpc_pool.h"
#include "tests/support/mpc_local.h"

#define NP        3
#define NMAX      10000
#define DMAX      32
#define TMAX      3
#define DEPTH_MAX 4

enum { M_LOGREG, M_CARD, M_TREE };

/* The job, made in the parent before fork: each party reads only what it
 * owns (its columns, or the model at the owner). */
static struct {
	int model, use_cross, asker, owner, vertical, use_keys, shared, drop_key;
	int rounds_mode; /* 1: pool record/fill, emit online rounds (all parties) */
	int attack;      /* 1: the asker plays an owner-asker's attack (test_owner_asker) */
	size_t extra;    /* bytes the asker emits after its scores and flags */
	int bench;       /* 1: time the phases, emit them */
	size_t n, d;
	int hold[DMAX];
	double *x; /* n x d, the clear features (all of them) */
	double w[DMAX], b, thr;
	/* scorecard */
	size_t bins[DMAX];
	double cuts[DMAX * 8], points[DMAX * 8], base;
	/* trees */
	size_t ntree, depth;
	uint32_t feat[TMAX * 15];
	double tthr[TMAX * 15], leaf[TMAX * 16];
	char (*keys)[16];
} job;

static double logit(double t) {
	return log(t / (1 - t));
}

static double urand(double lo, double hi) {
	return lo + (hi - lo) * (rand() / (RAND_MAX + 1.0));
}

/* What a semi-honest owner-asker keeps (job.attack): its own outputs of
 * every cross() it sent in, by receiver, and what each peer sent it in the
 * final opening (through the test-only tap of mpc_open_to). */
static mpc_u128 *att_co[NP];
static size_t att_co_n[NP];
static mpc_u128 *att_recv[NP];

static void att_tap(void *ctx, int from, mpc_ring r, const void *share, size_t n) {
	(void)ctx;
	/* the first chunk's first job.n elements: the scores (the flags follow) */
	if (r != MPC_Z128 || from < 0 || from >= NP || att_recv[from] != NULL)
		return;
	size_t m = n < job.n ? n : job.n;
	if ((att_recv[from] = calloc(job.n, sizeof(mpc_u128))) != NULL)
		memcpy(att_recv[from], share, m * sizeof(mpc_u128));
}

/* Counting wrapper around the OT engine: rounds spent inside cross(). */
static uint64_t cross_rounds;
static mpc_cross inner_eng;
static mpc_err wrap_cross(void *ctx, struct mpc_party *p, mpc_ring r, unsigned xbits, size_t n,
                          const void *x, const void *y, void *out, uint64_t rm, uint64_t sm) {
	(void)ctx;
	uint64_t r0 = mpc_net_rounds(mpc_party_net(p));
	mpc_err err = inner_eng.ops->cross(inner_eng.ctx, p, r, xbits, n, x, y, out, rm, sm);
	cross_rounds += mpc_net_rounds(mpc_party_net(p)) - r0;
	int me = mpc_party_id(p);
	if (err == MPC_OK && job.attack && (sm >> me & 1) && !(rm >> me & 1) && r == MPC_Z128) {
		/* one receiver per call in the scorecard: a holder */
		int h = __builtin_ctzll(rm);
		if (h < NP && att_co[h] == NULL && (att_co[h] = malloc(n * sizeof(mpc_u128)))) {
			memcpy(att_co[h], out, n * sizeof(mpc_u128));
			att_co_n[h] = n;
		}
	}
	return err;
}
static const mpc_cross_ops wrap_ops = {.name = "counting", .cross = wrap_cross};

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* This party's inputs for the current job. */
typedef struct {
	mpc_score_data data;
	double *cols;
	const char **jk, **mk;
	_Alignas(16) mpc_u128 shares[DMAX + 1];
} inputs;

static mpc_err make_inputs(mpc_party *p, inputs *in) {
	int me = mpc_party_id(p);
	size_t n = job.n, d = job.d, q = 0;
	memset(in, 0, sizeof(*in));
	for (size_t k = 0; k < d; k++)
		q += job.hold[k] == me;
	in->data = (mpc_score_data){.n = n, .d = d, .col_holder = job.hold, .x_max = 16};
	in->cols = calloc(n * (q ? q : 1), sizeof(double));
	in->jk = calloc(n, sizeof(char *));
	in->mk = calloc(n, sizeof(char *));
	if (!in->cols || !in->jk || !in->mk)
		return mpc_error(MPC_ENOMEM, "test: out of memory");
	/* with keys, party me's records are in reversed order, and the dropping
	 * party lacks job key 7 (its slot gets a key outside the job) */
	size_t my_n = 0;
	for (size_t i = 0; i < n; i++) {
		size_t src = job.use_keys ? n - 1 - i : i;
		in->jk[i] = job.use_keys ? job.keys[i] : NULL;
		if (job.use_keys)
			in->mk[my_n] =
			    (job.drop_key && me == 1 && src == 7) ? "not-in-job" : job.keys[src];
		for (size_t k = 0, c = 0; k < d; k++)
			if (job.hold[k] == me)
				in->cols[my_n * q + c++] = job.x[src * d + k];
		my_n++;
	}
	in->data.x = q ? in->cols : NULL;
	if (job.use_keys) {
		in->data.keys = in->jk;
		in->data.my_keys = in->mk;
		in->data.my_n = my_n;
	}
	if (job.shared) {
		/* additive shares of the encoded model: party 0 the value minus
		 * the others' random shares */
		for (size_t k = 0; k <= d; k++) {
			mpc_u128 v =
			    (mpc_u128)(mpc_i128)llround(ldexp(k < d ? job.w[k] : job.b, 16));
			/* the same r1, r2 at every party: derived from k only */
			mpc_u128 r1 = ((mpc_u128)(k * 0x9E3779B97F4A7C15ull) << 64) ^
			              (k * 0xC2B2AE3D27D4EB4Full + 1);
			mpc_u128 r2 = ((mpc_u128)(k * 0x165667B19E3779F9ull) << 64) ^
			              (k * 0x27D4EB2F165667C5ull + 3);
			in->shares[k] = me == 0 ? v - r1 - r2 : me == 1 ? r1 : r2;
		}
	}
	return MPC_OK;
}

static void free_inputs(inputs *in) {
	free(in->cols);
	free(in->jk);
	free(in->mk);
}

static mpc_err score_once(mpc_party *p, const mpc_score_opts *o, inputs *in, double *score,
                          uint8_t *flag) {
	int me = mpc_party_id(p);
	int own = me == job.owner;
	switch (job.model) {
	case M_LOGREG: {
		mpc_score_logreg_model m = {.owner = job.shared ? MPC_SCORE_SHARED : job.owner,
		                            .w = own ? job.w : NULL,
		                            .b = own ? job.b : 0,
		                            .shares = job.shared ? in->shares : NULL,
		                            .w_max = 4,
		                            .threshold = job.thr};
		return mpc_score_logreg(p, o, &in->data, &m, score, flag);
	}
	case M_CARD: {
		mpc_score_card_model m = {.owner = job.owner,
		                          .n_bins = job.bins,
		                          .cuts = job.cuts,
		                          .points = own ? job.points : NULL,
		                          .base = own ? job.base : 0,
		                          .p_max = 1000,
		                          .threshold = job.thr};
		return mpc_score_scorecard(p, o, &in->data, &m, score, flag);
	}
	default: {
		mpc_score_tree_model m = {.owner = job.owner,
		                          .n_trees = job.ntree,
		                          .depth = job.depth,
		                          .feature = own ? job.feat : NULL,
		                          .thr = own ? job.tthr : NULL,
		                          .leaf = own ? job.leaf : NULL,
		                          .base = own ? job.base : 0,
		                          .v_max = 100,
		                          .threshold = job.thr};
		return mpc_score_tree(p, o, &in->data, &m, score, flag);
	}
	}
}

/* The owner-asker's guess of holder h's partial score, transaction by
 * transaction: the share h sent it plus its own outputs of the cross products
 * h received (h's share was its products' receiver side, and the two sides
 * add up to the products). Exact before shares were re-randomised. NP x n
 * elements, zero where h held nothing, then NP bytes: 1 where the owner has
 * both halves of its guess for h. */
static mpc_err emit_guesses(size_t n) {
	mpc_u128 *g = calloc(NP * n, sizeof(mpc_u128));
	uint8_t have[NP] = {0};
	mpc_err err;
	if (g == NULL)
		return mpc_error(MPC_ENOMEM, "test: out of memory");
	for (int h = 0; h < NP; h++) {
		if (att_co[h] == NULL || att_recv[h] == NULL)
			continue;
		size_t q = att_co_n[h] / n;
		have[h] = 1;
		for (size_t i = 0; i < n; i++) {
			mpc_u128 v = att_recv[h][i];
			for (size_t k = 0; k < q; k++)
				v += att_co[h][i * q + k];
			g[(size_t)h * n + i] = v;
		}
	}
	err = mpc_local_emit(g, NP * n * sizeof(mpc_u128));
	if (err == MPC_OK)
		err = mpc_local_emit(have, sizeof(have));
	free(g);
	return err;
}

static mpc_err body(mpc_party *p, void *arg) {
	int me = mpc_party_id(p);
	size_t n = job.n;
	inputs in;
	mpc_cross eng = {0}, wrapped = {&wrap_ops, NULL};
	double *score = malloc(n * sizeof(double));
	uint8_t *flag = malloc(n);
	mpc_err err;
	double t0 = now();
	(void)arg;

	if (score == NULL || flag == NULL)
		return mpc_error(MPC_ENOMEM, "test: out of memory");
	memset(score, 0xAB, n * sizeof(double));
	memset(flag, 0xCD, n);
	if ((err = make_inputs(p, &in)) != MPC_OK)
		goto out;
	if (job.use_cross) {
		if ((err = mpc_cross_ot_new(&eng, p)) != MPC_OK)
			goto out;
		inner_eng = eng;
	}
	mpc_score_opts o = {.asker = job.asker, .cross = job.use_cross ? &wrapped : NULL};
	if (job.attack && me == job.asker)
		mpc_share_set_open_tap(att_tap, NULL);
	if (job.rounds_mode || job.bench) {
		/* record a plan, fill the pool, then the online run */
		double t1, t2, t3;
		mpc_pool_plan plan;
		if ((err = mpc_pool_install(p)) != MPC_OK)
			goto out;
		t1 = now();
		if ((err = score_once(p, &o, &in, score, flag)) != MPC_OK ||
		    (err = mpc_pool_plan_get(mpc_party_preproc(p), &plan)) != MPC_OK)
			goto out;
		t2 = now();
		if (job.bench == 1 && me == 0) {
			fprintf(stderr,
			        "  plan: %llu triples Z128, %llu bits Z128, %llu bits Z64, %llu "
			        "bit-triple words",
			        (unsigned long long)plan.triples[1],
			        (unsigned long long)plan.bits[1], (unsigned long long)plan.bits[0],
			        (unsigned long long)plan.bit_triple_words);
			for (uint32_t k = 0; k < plan.n_trunc; k++)
				fprintf(stderr, ", %llu trunc pairs (%u, f=%u)",
				        (unsigned long long)plan.trunc[k].n,
				        plan.trunc[k].ring_bits, plan.trunc[k].f);
			fprintf(stderr, "\n");
		}
		if (job.bench == 2 && (err = mpc_pool_plan_scale(&plan, 20)) != MPC_OK)
			goto out;
		if ((err = mpc_pool_fill(p, &plan)) != MPC_OK)
			goto out;
		t3 = now();
		uint64_t r0 = mpc_net_rounds(mpc_party_net(p)), c0 = cross_rounds;
		uint64_t b0 = mpc_net_bytes_sent(mpc_party_net(p));
		int reps = job.bench == 2 ? 20 : 1;
		double lat[20];
		for (int k = 0; k < reps && err == MPC_OK; k++) {
			double s = now();
			err = score_once(p, &o, &in, score, flag);
			lat[k] = now() - s;
		}
		if (err != MPC_OK)
			goto out;
		uint64_t rec[4] = {mpc_net_rounds(mpc_party_net(p)) - r0, cross_rounds - c0,
		                   mpc_pool_get_stats(mpc_party_preproc(p))->misses,
		                   mpc_net_bytes_sent(mpc_party_net(p)) - b0};
		double tm[5] = {t1 - t0, t2 - t1, t3 - t2, 0, 0};
		for (int k = 0; k < reps; k++)
			tm[3] += lat[k] / reps;
		tm[4] = lat[reps - 1];
		if ((err = mpc_local_emit(rec, sizeof(rec))) != MPC_OK ||
		    (err = mpc_local_emit(tm, sizeof(tm))) != MPC_OK)
			goto out;
	} else if ((err = score_once(p, &o, &in, score, flag)) != MPC_OK) {
		goto out;
	}
	if (me == job.asker) {
		double tt = now() - t0;
		if ((err = mpc_local_emit(score, n * sizeof(double))) != MPC_OK ||
		    (err = mpc_local_emit(flag, n)) != MPC_OK ||
		    (err = mpc_local_emit(&tt, sizeof(tt))) != MPC_OK)
			goto out;
		if (job.attack && (err = emit_guesses(n)) != MPC_OK)
			goto out;
	} else {
		/* nothing for the others: their buffers are as they left them */
		for (size_t i = 0; i < n; i++) {
			uint64_t v;
			memcpy(&v, &score[i], 8);
			if (v != 0xABABABABABABABABull || flag[i] != 0xCD) {
				err = mpc_error(MPC_ECHEAT, "party %d got output %zu", me, i);
				goto out;
			}
		}
	}
out:
	if (job.use_cross)
		mpc_cross_free(&eng);
	free_inputs(&in);
	free(score);
	free(flag);
	return err;
}

/* Run the job; returns the results (caller finishes them). */
static void run(mpc_local_result *res, mpc_err want) {
	mpc_local_config cfg = {
	    .n_parties = NP, .gen = "ot", .timeout_ms = 60000, .watchdog_s = 300};
	assert_int_equal(mpc_local_run(&cfg, body, NULL, res), MPC_OK);
	for (int i = 0; i < NP; i++) {
		if (res[i].err != want)
			print_error("party %d: %s: %s\n", i, mpc_strerror(res[i].err),
			            res[i].detail);
		assert_int_equal(res[i].err, want);
	}
}

/* ---- references ---- */

/* Scores and flags of the asker against the double model. */
static void check_logreg(const mpc_local_result *res, size_t off) {
	size_t n = job.n, d = job.d, band = 0;
	const uint8_t *out = res[job.asker].out + off;
	double maxerr = 0;
	assert_int_equal(res[job.asker].out_len, off + n * 9 + 8);
	for (size_t i = 0; i < n; i++) {
		double z = job.b, l1 = fabs(job.b);
		for (size_t k = 0; k < d; k++) {
			z += job.w[k] * job.x[i * d + k];
			l1 += fabs(job.w[k]) + fabs(job.x[i * d + k]);
		}
		double eps = ldexp(l1, -17) + (double)(d + 1) * ldexp(1, -33);
		double want = 1 / (1 + exp(-z)), got;
		memcpy(&got, out + 8 * i, 8);
		double tol = MPC_SCORE_SIGMOID_ERR + (eps + ldexp(1, -16)) / 4;
		if (fabs(got - want) > maxerr)
			maxerr = fabs(got - want);
		if (!(fabs(got - want) <= tol))
			print_error("transaction %zu: score %.9f, double %.9f, tolerance %.3g\n", i,
			            got, want, tol);
		assert_true(fabs(got - want) <= tol);
		uint8_t fl = out[8 * n + i];
		assert_true(fl <= 1);
		/* exact on the encoded values, in the band too */
		mpc_i128 L = (mpc_i128)round(ldexp(job.b, job.shared ? 16 : 32))
		             << (job.shared ? 16 : 0);
		for (size_t k = 0; k < d; k++)
			L += (mpc_i128)round(ldexp(job.w[k], 16)) *
			     (mpc_i128)round(ldexp(job.x[i * d + k], 16));
		assert_int_equal(fl, L > (mpc_i128)llround(ldexp(logit(job.thr), 32)));
		if (fabs(z - logit(job.thr)) > eps + ldexp(1, -32))
			assert_int_equal(fl, z > logit(job.thr));
		else
			band++;
	}
	print_message("  logreg n=%zu d=%zu: max score error %.3g, %zu in the band\n", n, d, maxerr,
	              band);
}

static void check_others(const mpc_local_result *res, size_t each) {
	for (int i = 0; i < NP; i++)
		if (i != job.asker)
			assert_int_equal(res[i].out_len, each);
}

static void setup_features(size_t n, size_t d, unsigned seed) {
	srand(seed);
	free(job.x);
	job.x = malloc(n * d * sizeof(double));
	assert_non_null(job.x);
	job.n = n, job.d = d;
	/* multiples of 2^-10: never within 2^-16 of a tree threshold (odd
	 * multiples of 2^-11) */
	for (size_t e = 0; e < n * d; e++)
		job.x[e] = ldexp(floor(urand(-4, 4) * 1024), -10);
}

static void setup_logreg(size_t n, size_t d, unsigned seed) {
	setup_features(n, d, seed);
	for (size_t k = 0; k < d; k++)
		job.w[k] = urand(-0.5, 0.5);
	job.b = 0.1;
	job.thr = 0.6;
	job.model = M_LOGREG;
	/* every 50th transaction within about 1e-6 of the threshold */
	for (size_t i = 0; i < n; i += 50) {
		double z = job.b;
		for (size_t k = 0; k + 1 < d; k++)
			z += job.w[k] * job.x[i * d + k];
		double v = (logit(job.thr) - z + 1e-6 * ((double)(i / 50 % 3) - 1)) / job.w[d - 1];
		if (fabs(v) < 15)
			job.x[i * d + d - 1] = v;
	}
}

static void reset_job(void) {
	double *x = job.x;
	char(*keys)[16] = job.keys;
	memset(&job, 0, sizeof(job));
	job.x = x;
	job.keys = keys;
}

static void make_keys(size_t n) {
	free(job.keys);
	job.keys = malloc(n * sizeof(*job.keys));
	assert_non_null(job.keys);
	for (size_t i = 0; i < n; i++)
		snprintf(job.keys[i], sizeof(job.keys[i]), "tx-%08zu", i * 7919 % 100000007);
}

/* ---- tests ---- */

/* 10^4 x 32, all features at party 0 (the asker), weights at party 1. */
static void test_logreg_horizontal(void **s) {
	(void)s;
	mpc_local_result res[NP];
	reset_job();
	setup_logreg(NMAX, 32, 11);
	job.use_cross = 1, job.asker = 0, job.owner = 1;
	for (size_t k = 0; k < job.d; k++)
		job.hold[k] = 0;
	run(res, MPC_OK);
	check_logreg(res, 0);
	check_others(res, 0);
	double tt;
	memcpy(&tt, res[0].out + res[0].out_len - 8, 8);
	print_message("  end to end (cross engine set-up, OT preprocessing, online): %.2f s\n", tt);
	mpc_local_results_fini(res, NP);
}

/* Columns k % 3 at party k % 3, matched by keys; the owner (party 2) also
 * holds columns; party 1 asks. */
static void test_logreg_vertical(void **s) {
	(void)s;
	mpc_local_result res[NP];
	reset_job();
	setup_logreg(1000, 32, 12);
	make_keys(job.n);
	job.use_cross = 1, job.asker = 1, job.owner = 2, job.vertical = 1, job.use_keys = 1;
	for (size_t k = 0; k < job.d; k++)
		job.hold[k] = (int)(k % 3);
	run(res, MPC_OK);
	check_logreg(res, 0);
	check_others(res, 0);
	mpc_local_results_fini(res, NP);
}

/* A model given as shares, with Beaver triples and with cross products
 * (every party then sends its weight shares to each holder's OTs). */
static void test_logreg_shared(void **s) {
	(void)s;
	for (int cross = 0; cross <= 1; cross++) {
		mpc_local_result res[NP];
		reset_job();
		setup_logreg(300, 12, 13);
		job.use_cross = cross, job.asker = 2, job.owner = -1, job.shared = 1;
		for (size_t k = 0; k < job.d; k++)
			job.hold[k] = (int)(k * 3 / job.d);
		run(res, MPC_OK);
		check_logreg(res, 0);
		check_others(res, 0);
		mpc_local_results_fini(res, NP);
	}
}

/* Party 1 lacks one job key: every party fails; the detail names the index,
 * not the key. */
static void test_missing_key(void **s) {
	(void)s;
	mpc_local_result res[NP];
	reset_job();
	setup_logreg(50, 6, 14);
	make_keys(job.n);
	job.use_cross = 1, job.asker = 0, job.owner = 2, job.use_keys = 1, job.drop_key = 1;
	for (size_t k = 0; k < job.d; k++)
		job.hold[k] = (int)(k % 3);
	mpc_local_config cfg = {
	    .n_parties = NP, .gen = "ot", .timeout_ms = 60000, .watchdog_s = 300};
	assert_int_equal(mpc_local_run(&cfg, body, NULL, res), MPC_OK);
	/* the first to fail aborts the job: the others see its abort */
	for (int i = 0; i < NP; i++) {
		print_message("  party %d: %s: %s\n", i, mpc_strerror(res[i].err), res[i].detail);
		assert_true(res[i].err == MPC_EINVAL || (i != 1 && res[i].err == MPC_EPEER));
	}
	assert_int_equal(res[1].err, MPC_EINVAL);
	assert_non_null(strstr(res[1].detail, "job index 7"));
	assert_null(strstr(res[1].detail, job.keys[7]));
	assert_non_null(strstr(res[0].detail, "party 1"));
	assert_non_null(strstr(res[2].detail, "party 1"));
	mpc_local_results_fini(res, NP);
}

static void check_sum(const mpc_local_result *res, const double *want, double tol) {
	size_t n = job.n, band = 0;
	const uint8_t *out = res[job.asker].out;
	assert_int_equal(res[job.asker].out_len, n * 9 + 8 + job.extra);
	for (size_t i = 0; i < n; i++) {
		double got;
		memcpy(&got, out + 8 * i, 8);
		if (!(fabs(got - want[i]) <= tol))
			print_error("transaction %zu: %.9f, double %.9f\n", i, got, want[i]);
		assert_true(fabs(got - want[i]) <= tol);
		uint8_t fl = out[8 * n + i];
		if (fabs(want[i] - job.thr) > tol)
			assert_int_equal(fl, want[i] > job.thr);
		else
			band++;
		assert_true(fl <= 1);
	}
	print_message("  n=%zu: %zu in the band\n", n, band);
}

static void setup_card(size_t n, size_t d, unsigned seed) {
	setup_features(n, d, seed);
	job.model = M_CARD;
	size_t c = 0, pc = 0;
	for (size_t k = 0; k < job.d; k++) {
		job.hold[k] = (int)((k + 1) % 3);
		job.bins[k] = 2 + k % 4;
		for (size_t b = 0; b + 1 < job.bins[k]; b++)
			job.cuts[c++] = -3 + 6.0 * (double)(b + 1) / (double)job.bins[k];
		for (size_t b = 0; b < job.bins[k]; b++)
			job.points[pc++] = urand(-40, 40) + 0.37;
	}
	job.base = 17.25, job.thr = 20;
}

/* The scorecard in the clear: the points of transaction i's bins of the
 * features held by `who` (-1: all of them, plus the base). */
static double card_partial(size_t i, int who) {
	double sc = who < 0 ? job.base : 0;
	size_t c0 = 0, p0 = 0;
	for (size_t k = 0; k < job.d; k++) {
		size_t b = 0;
		while (b + 1 < job.bins[k] && job.cuts[c0 + b] <= job.x[i * job.d + k])
			b++;
		if (who < 0 || job.hold[k] == who)
			sc += job.points[p0 + b];
		c0 += job.bins[k] - 1;
		p0 += job.bins[k];
	}
	return sc;
}

static void test_scorecard(void **s) {
	(void)s;
	mpc_local_result res[NP];
	reset_job();
	setup_card(1000, 8, 21);
	make_keys(job.n);
	job.use_cross = 1, job.asker = 1, job.owner = 0, job.use_keys = 1;
	run(res, MPC_OK);
	double *want = malloc(job.n * sizeof(double));
	for (size_t i = 0; i < job.n; i++)
		want[i] = card_partial(i, -1);
	check_sum(res, want, (double)(job.d + 1) * ldexp(1, -17));
	check_others(res, 0);
	free(want);
	mpc_local_results_fini(res, NP);
}

/* The owner of the scorecard asks for the scores (allowed) and keeps its
 * transcript. In cross mode holder h's share of a score is its partial
 * score P_h (the points of its own features' bins) minus the owner's side
 * of the Gilboa products; without fresh shares before the opening, the
 * owner adds its side back and reads every P_h, not only their sum. The
 * scores must still be right, and the owner's guess of each P_h must be
 * wrong for every transaction (a uniform 128-bit value lands within the
 * tolerance with probability about 2^-100). */
static void test_owner_asker(void **s) {
	(void)s;
	mpc_local_result res[NP];
	reset_job();
	setup_card(200, 6, 23);
	job.use_cross = 1, job.asker = 0, job.owner = 0, job.attack = 1;
	job.extra = NP * job.n * sizeof(mpc_u128) + NP;
	run(res, MPC_OK);
	size_t n = job.n;
	double *want = malloc(n * sizeof(double)), tol = (double)(job.d + 1) * ldexp(1, -17);
	assert_non_null(want);
	for (size_t i = 0; i < n; i++)
		want[i] = card_partial(i, -1);
	check_sum(res, want, tol);
	check_others(res, 0);
	const uint8_t *g = res[job.asker].out + n * 9 + 8;
	for (int h = 1; h < NP; h++) {
		size_t hits = 0;
		/* the owner saw both halves: its products with h, h's share */
		assert_int_equal(g[NP * n * sizeof(mpc_u128) + (size_t)h], 1);
		for (size_t i = 0; i < n; i++) {
			mpc_u128 v;
			memcpy(&v, g + ((size_t)h * n + i) * sizeof(v), sizeof(v));
			double got = ldexp((double)(mpc_i128)v, -16);
			hits += fabs(got - card_partial(i, h)) <= tol;
		}
		print_message("  holder %d: the owner-asker's guess of its partial score right "
		              "for %zu of %zu transactions\n",
		              h, hits, n);
		assert_int_equal(hits, 0);
	}
	free(want);
	mpc_local_results_fini(res, NP);
}

static void setup_trees(size_t ntree, size_t depth, unsigned seed) {
	size_t J = ((size_t)1 << depth) - 1, L = (size_t)1 << depth;
	srand(seed);
	job.model = M_TREE, job.ntree = ntree, job.depth = depth;
	for (size_t g = 0; g < ntree * J; g++) {
		job.feat[g] = (uint32_t)(rand() % (int)job.d);
		job.tthr[g] = ldexp(2 * floor(urand(-3, 3) * 1024) + 1, -11);
	}
	for (size_t l = 0; l < ntree * L; l++)
		job.leaf[l] = urand(-5, 5);
	job.base = 0.5, job.thr = 1.0;
}

static void tree_reference(double *want) {
	size_t J = ((size_t)1 << job.depth) - 1, L = (size_t)1 << job.depth;
	for (size_t i = 0; i < job.n; i++) {
		double sc = job.base;
		for (size_t t = 0; t < job.ntree; t++) {
			size_t node = 0;
			for (size_t lv = 0; lv < job.depth; lv++) {
				size_t g = t * J + node;
				node = 2 * node +
				       (job.x[i * job.d + job.feat[g]] < job.tthr[g] ? 1 : 2);
			}
			sc += job.leaf[t * L + node - J];
		}
		want[i] = sc;
	}
}

static void run_trees(size_t n, size_t ntree, size_t depth, int cross, int vertical,
                      unsigned seed) {
	mpc_local_result res[NP];
	reset_job();
	setup_features(n, 10, seed);
	setup_trees(ntree, depth, seed + 1);
	job.use_cross = cross, job.asker = 0, job.owner = 2;
	for (size_t k = 0; k < job.d; k++)
		job.hold[k] = vertical ? (int)(k % 3) : 0;
	run(res, MPC_OK);
	double *want = malloc(n * sizeof(double));
	tree_reference(want);
	check_sum(res, want, (double)(ntree + 1) * ldexp(1, -17));
	check_others(res, 0);
	free(want);
	mpc_local_results_fini(res, NP);
}

static void test_tree(void **s) {
	(void)s;
	run_trees(400, 1, 4, 1, 0, 31); /* one tree of depth 4, horizontal */
	run_trees(400, 3, 3, 1, 1, 32); /* three trees of depth 3, vertical */
	run_trees(64, 2, 4, 0, 1, 33);  /* Beaver mode */
	run_trees(200, 1, 1, 1, 0, 34); /* a stump: no AND layer */
}

/* Online rounds (pool filled beforehand) at n = 10 and n = 1000: equal in
 * Beaver mode; in cross mode equal once the OT engine's rounds (2 per 2^16
 * OTs and pair) are taken out. */
static void online_rounds(int model, int cross, size_t n, uint64_t *total, uint64_t *xr) {
	mpc_local_result res[NP];
	reset_job();
	if (model == M_LOGREG)
		setup_logreg(n, 8, 41);
	else {
		setup_features(n, 6, 42);
		setup_trees(2, 2, 43);
	}
	job.use_cross = cross, job.asker = 0, job.owner = 1, job.rounds_mode = 1;
	for (size_t k = 0; k < job.d; k++)
		job.hold[k] = (int)(k % 3);
	run(res, MPC_OK);
	uint64_t rec[4];
	memcpy(rec, res[0].out, sizeof(rec));
	assert_int_equal(rec[2], 0); /* no pool miss */
	*total = rec[0], *xr = rec[1];
	if (model == M_LOGREG)
		check_logreg(res, sizeof(rec) + 5 * sizeof(double));
	mpc_local_results_fini(res, NP);
}

static void test_rounds(void **s) {
	(void)s;
	for (int model = M_LOGREG; model <= M_TREE; model += M_TREE - M_LOGREG)
		for (int cross = 0; cross <= 1; cross++) {
			uint64_t t10, x10, t1k, x1k;
			online_rounds(model, cross, 10, &t10, &x10);
			online_rounds(model, cross, 1000, &t1k, &x1k);
			print_message(
			    "  %s, %s: online rounds %llu at n = 10 (%llu in OT), %llu at n = "
			    "1000 (%llu in OT)\n",
			    model == M_LOGREG ? "logreg" : "2 trees", cross ? "cross" : "Beaver",
			    (unsigned long long)t10, (unsigned long long)x10,
			    (unsigned long long)t1k, (unsigned long long)x1k);
			assert_int_equal(t10 - x10, t1k - x1k);
			if (!cross)
				assert_int_equal(x10 + x1k, 0);
		}
}

/* Timings for the README (not asserted). */
static void bench(void) {
	for (int cross = 1; cross >= 0; cross--) {
		mpc_local_result res[NP];
		reset_job();
		setup_logreg(NMAX, 32, 51);
		job.use_cross = cross, job.asker = 0, job.owner = 1, job.bench = 1;
		for (size_t k = 0; k < job.d; k++)
			job.hold[k] = 0;
		run(res, MPC_OK);
		uint64_t rec[4];
		double tm[5];
		memcpy(rec, res[0].out, sizeof(rec));
		memcpy(tm, res[0].out + sizeof(rec), sizeof(tm));
		print_message(
		    "  bench %s 10^4 x 32: set-up %.3f s, end to end (record run) %.3f s, "
		    "fill %.3f s, online %.3f s (%llu rounds, %llu in OT, %.1f MB sent by "
		    "the asker)\n",
		    cross ? "cross" : "Beaver", tm[0], tm[1], tm[2], tm[3],
		    (unsigned long long)rec[0], (unsigned long long)rec[1], rec[3] / 1e6);
		mpc_local_results_fini(res, NP);
		/* one request with preprocessing in stock */
		reset_job();
		setup_logreg(1, 32, 52);
		job.use_cross = cross, job.asker = 0, job.owner = 1, job.bench = 2;
		for (size_t k = 0; k < job.d; k++)
			job.hold[k] = 0;
		run(res, MPC_OK);
		memcpy(rec, res[0].out, sizeof(rec));
		memcpy(tm, res[0].out + sizeof(rec), sizeof(tm));
		print_message(
		    "  bench %s one request: %.2f ms mean of 20 (last %.2f ms), %llu rounds "
		    "for 20\n",
		    cross ? "cross" : "Beaver", 1e3 * tm[3], 1e3 * tm[4],
		    (unsigned long long)rec[0]);
		mpc_local_results_fini(res, NP);
	}
}

int main(void) {
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_logreg_horizontal),
	    cmocka_unit_test(test_logreg_vertical),
	    cmocka_unit_test(test_logreg_shared),
	    cmocka_unit_test(test_missing_key),
	    cmocka_unit_test(test_scorecard),
	    cmocka_unit_test(test_owner_asker),
	    cmocka_unit_test(test_tree),
	    cmocka_unit_test(test_rounds),
	};
	const char *only = getenv("MPC_SCORE_ONLY");
	int failed;
	if (getenv("MPC_SCORE_BENCH")) {
		bench();
		return 0;
	}
	if (only) {
		for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
			if (strstr(tests[i].name, only)) {
				const struct CMUnitTest one[] = {tests[i]};
				if (cmocka_run_group_tests_name(only, one, NULL, NULL))
					return 1;
			}
		return 0;
	}
	failed = cmocka_run_group_tests_name("score", tests, NULL, NULL);
	free(job.x);
	free(job.keys);
	return failed ? 1 : 0;
}
