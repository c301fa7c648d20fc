/* Loopback: federated averaging with secure aggregation
 * (protocols/apps/mpc_fedavg.h, its files read by jobs/mpc_fedavg_data.h),
 * three merchants as forked parties on tcp, on data from gen_data's model
 * (jobs/mpc_synth.h) with a fixed seed. Checked against a plaintext
 * reference computed here: every round's opened average equals the plain
 * average of what the merchants shared within the fixed-point bound, the
 * whole run matches plain federated averaging, the shared model beats every
 * merchant's local-only model on held-out data, weighting and noise do what
 * they say, and merchants whose files differ in layout stop with an error. */
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
#include <sys/stat.h>
#include <unistd.h>

#include "jobs/mpc_fedavg_data.h"
#include "jobs/mpc_synth.h"
#include "protocols/apps/mpc_fedavg.h"
#include "tests/support/mpc_local.h"

#define NP       3
#define FEATURES 16
#define ROWS     300

static char dir[64], dir_small[80], dir_mixed[80], holdout[128];

/* The job, public and the same at every party. */
typedef struct {
	mpc_fedavg_params train;
	const char *dir;     /* DIR/merchant<i>.csv is party i's file */
	const char *holdout; /* NULL: none */
	int trace;           /* also emit every round's shared-in and opened vectors */
} fa_job;

static mpc_err emit_trace(void *arg, const double *v, size_t d) {
	(void)arg;
	return mpc_local_emit(v, d * sizeof(double));
}

/* The party body (arg: a const fa_job *). Emits, with trace, per round the
 * d doubles it shared and the d doubles of the opened average; then the
 * shared model (d doubles) and its mpc_fedavg_report. */
static mpc_err fa_party(mpc_party *p, void *arg) {
	const fa_job *job = arg;
	mpc_fedavg_data D, H;
	mpc_fedavg_report rep;
	double *w = NULL;
	mpc_err err;

	if ((err = mpc_fedavg_data_load(job->dir, mpc_party_id(p), job->holdout, &D, &H)) != MPC_OK)
		goto out;
	if ((w = calloc(D.d + 1, sizeof(double))) == NULL) {
		err = mpc_error(MPC_ENOMEM, "out of memory");
		goto out;
	}
	if ((err = mpc_fedavg_run(p, &job->train, &D, job->holdout ? &H : NULL,
	                          job->trace ? emit_trace : NULL, NULL, w, &rep)) != MPC_OK)
		goto out;
	if ((err = mpc_local_emit(w, D.d * sizeof(double))) == MPC_OK)
		err = mpc_local_emit(&rep, sizeof(rep));
out:
	free(w);
	mpc_fedavg_data_fini(&D);
	mpc_fedavg_data_fini(&H);
	return err;
}

static void rm_files(const char *d) {
	char path[256];
	for (int m = 0; m < NP; m++) {
		snprintf(path, sizeof(path), "%s/merchant%d.csv", d, m);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/holdout.csv", d);
	unlink(path);
	rmdir(d);
}

/* Three merchants of ~300 rows and 16 features, a held-out set of 4000; a
 * second set with 4 features; and a directory mixing the two. */
static int setup(void **state) {
	(void)state;
	mpc_synth_params sp;
	snprintf(dir, sizeof(dir), "/tmp/mpc-fedavg-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	mpc_synth_params_default(&sp);
	sp.merchants = NP;
	sp.rows = ROWS;
	sp.features = FEATURES;
	sp.holdout = 4000;
	sp.seed = 2024;
	if (mpc_synth_write(&sp, dir) != MPC_OK)
		return -1;
	snprintf(holdout, sizeof(holdout), "%s/holdout.csv", dir);
	snprintf(dir_small, sizeof(dir_small), "%s/small", dir);
	sp.features = 4;
	sp.holdout = 0;
	if (mpc_synth_write(&sp, dir_small) != MPC_OK)
		return -1;
	snprintf(dir_mixed, sizeof(dir_mixed), "%s/mixed", dir);
	if (mkdir(dir_mixed, 0700) != 0)
		return -1;
	for (int m = 0; m < NP; m++) {
		char from[256], to[256];
		snprintf(from, sizeof(from), "%s/merchant%d.csv", m == NP - 1 ? dir_small : dir, m);
		snprintf(to, sizeof(to), "%s/merchant%d.csv", dir_mixed, m);
		if (symlink(from, to) != 0)
			return -1;
	}
	return 0;
}

static int teardown(void **state) {
	(void)state;
	rm_files(dir_mixed);
	rm_files(dir_small);
	rm_files(dir);
	return 0;
}

static void params(fa_job *fp) {
	memset(fp, 0, sizeof(*fp));
	mpc_fedavg_params_default(&fp->train);
	fp->dir = dir;
	fp->holdout = holdout;
	fp->train.rounds = 8;
	fp->train.epochs = 2;
	fp->trace = 1;
}

/* One party's emitted bytes, taken apart. */
typedef struct {
	const double *in, *avg; /* per round: d doubles shared, d doubles opened */
	const double *shared;   /* d */
	mpc_fedavg_report rep;
} party_out;

static void run(const fa_job *fp, int tls, size_t d, party_out *po, mpc_local_result *res) {
	mpc_local_config cfg = {
	    .n_parties = NP, .use_tcp = 1, .use_tls = tls, .timeout_ms = 30000, .watchdog_s = 60};
	assert_int_equal(mpc_local_run(&cfg, fa_party, (void *)fp, res), MPC_OK);
	size_t want =
	    ((size_t)fp->train.rounds * 2 + 1) * d * sizeof(double) + sizeof(mpc_fedavg_report);
	for (int i = 0; i < NP; i++) {
		if (res[i].err != MPC_OK)
			print_error("party %d: %s: %s\n", i, mpc_strerror(res[i].err),
			            res[i].detail);
		assert_int_equal(res[i].err, MPC_OK);
		assert_int_equal(res[i].exit_code, 0);
		assert_int_equal(res[i].out_len, want);
		/* the doubles sit at 8-byte offsets of a malloc'ed buffer */
		const double *o = (const double *)(void *)res[i].out;
		po[i].in = o;
		po[i].avg = o + d;
		po[i].shared = o + (size_t)fp->train.rounds * 2 * d;
		memcpy(&po[i].rep, res[i].out + want - sizeof(mpc_fedavg_report),
		       sizeof(mpc_fedavg_report));
		assert_int_equal(po[i].rep.d, (int64_t)d);
	}
}

/* Round r's vector of party i. */
static const double *in_at(const party_out *po, int i, int r, size_t d) {
	return po[i].in + (size_t)r * 2 * d;
}
static const double *avg_at(const party_out *po, int i, int r, size_t d) {
	return po[i].avg + (size_t)r * 2 * d;
}

static void read_all(mpc_fedavg_data *D, mpc_fedavg_data *H, const char *d) {
	for (int m = 0; m < NP; m++) {
		char path[256];
		snprintf(path, sizeof(path), "%s/merchant%d.csv", d, m);
		assert_int_equal(mpc_fedavg_data_read(path, &D[m]), MPC_OK);
	}
	if (H)
		assert_int_equal(mpc_fedavg_data_read(holdout, H), MPC_OK);
}

/* Plain average, three merchants: exact to the fixed-point bound, the same
 * run as plain federated averaging, and better than going alone. */
static void test_plain_average(void **s) {
	(void)s;
	fa_job fp;
	params(&fp);
	size_t d = MPC_FEDAVG_EXTRA + FEATURES;
	party_out po[NP];
	mpc_local_result res[NP];
	run(&fp, 0, d, po, res);

	/* 1. every round: all parties opened the same average, and it is the
	 * plaintext average of what they shared within 2^-(F+1) */
	double bound = ldexp(1, -(int)fp.train.frac - 1), worst = 0;
	for (int r = 0; r < fp.train.rounds; r++)
		for (size_t k = 0; k < d; k++) {
			double plain = 0;
			for (int i = 0; i < NP; i++)
				plain += in_at(po, i, r, d)[k];
			plain /= NP;
			for (int i = 0; i < NP; i++) {
				assert_true(avg_at(po, i, r, d)[k] == avg_at(po, 0, r, d)[k]);
				double e = fabs(avg_at(po, i, r, d)[k] - plain);
				worst = fmax(worst, e);
				assert_true(e <= bound + 1e-13 * fabs(plain));
			}
		}
	print_message("worst |secure - plain average| %.3g (bound %.3g)\n", worst, bound);
	for (int i = 0; i < NP; i++)
		assert_memory_equal(po[i].shared, avg_at(po, 0, fp.train.rounds - 1, d),
		                    d * sizeof(double));

	/* 2. the whole run against federated averaging in the clear (the same
	 * training, an exact average): the fixed-point rounding barely moves it */
	mpc_fedavg_data D[NP], H;
	read_all(D, &H, dir);
	double w[MPC_FEDAVG_EXTRA + FEATURES] = {0}, v[NP][MPC_FEDAVG_EXTRA + FEATURES];
	for (int r = 0; r < fp.train.rounds; r++) {
		for (int m = 0; m < NP; m++) {
			memcpy(v[m], w, sizeof(w));
			assert_int_equal(mpc_fedavg_train(&D[m], v[m], &fp.train, fp.train.epochs,
			                                  (uint64_t)r * 64 + (uint64_t)m),
			                 MPC_OK);
			if (r == 0) /* the first round starts from the same zero model */
				for (size_t k = 0; k < d; k++)
					assert_true(fabs(v[m][k] - in_at(po, m, 0, d)[k]) < 1e-12);
		}
		for (size_t k = 0; k < d; k++)
			w[k] = (v[0][k] + v[1][k] + v[2][k]) / NP;
	}
	for (size_t k = 0; k < d; k++)
		assert_true(fabs(w[k] - po[0].shared[k]) < 1e-6);

	/* 3. on held-out data the shared model beats every merchant's own, in
	 * AUC and in log-loss; and the reports are what the parent computes */
	mpc_fedavg_metrics sh = mpc_fedavg_eval(&H, w, -1);
	for (int i = 0; i < NP; i++) {
		const mpc_fedavg_report *rp = &po[i].rep;
		assert_int_equal(rp->rows, (int64_t)D[i].n);
		assert_int_equal(rp->local_all.n, (int64_t)H.n);
		assert_true(fabs(rp->shared_all.auc - sh.auc) < 1e-4);
		print_message("merchant %d (%lld rows): AUC local %.4f shared %.4f, log-loss local "
		              "%.4f shared %.4f\n",
		              i, (long long)rp->rows, rp->local_all.auc, rp->shared_all.auc,
		              rp->local_all.logloss, rp->shared_all.logloss);
		assert_true(rp->shared_all.auc > rp->local_all.auc + 0.01);
		assert_true(rp->shared_all.logloss < rp->local_all.logloss);
		assert_true(rp->shared_all.auc > 0.8);
	}
	for (int m = 0; m < NP; m++)
		mpc_fedavg_data_fini(&D[m]);
	mpc_fedavg_data_fini(&H);
	mpc_local_results_fini(res, NP);
}

/* Weighted by row counts, with local noise, over TLS, 20 fractional bits:
 * the opened total is the sum of rows, the average is the row-weighted
 * plaintext average of the noisy vectors within N * 2^-(F+1) / total, and the
 * noise has the spread asked for. */
static void test_weighted_noise(void **s) {
	(void)s;
	fa_job fp;
	params(&fp);
	fp.train.weighted = 1;
	fp.train.noise = 0.02;
	fp.train.frac = 20;
	fp.train.rounds = 4;
	size_t d = MPC_FEDAVG_EXTRA + FEATURES;
	party_out po[NP];
	mpc_local_result res[NP];
	run(&fp, 1, d, po, res);

	int64_t total = 0;
	for (int i = 0; i < NP; i++)
		total += po[i].rep.rows;
	for (int i = 0; i < NP; i++)
		assert_int_equal(po[i].rep.total_rows, total);
	double bound = NP * ldexp(1, -(int)fp.train.frac - 1) / (double)total;
	for (int r = 0; r < fp.train.rounds; r++)
		for (size_t k = 0; k < d; k++) {
			double plain = 0;
			for (int i = 0; i < NP; i++)
				plain += (double)po[i].rep.rows * in_at(po, i, r, d)[k];
			plain /= (double)total;
			for (int i = 0; i < NP; i++)
				assert_true(fabs(avg_at(po, i, r, d)[k] - plain) <= bound + 1e-12);
		}
	/* round 0 without noise would be the same training from zero */
	mpc_fedavg_data D[NP];
	read_all(D, NULL, dir);
	double ss = 0;
	for (int m = 0; m < NP; m++) {
		double v[MPC_FEDAVG_EXTRA + FEATURES] = {0};
		assert_int_equal(
		    mpc_fedavg_train(&D[m], v, &fp.train, fp.train.epochs, (uint64_t)m), MPC_OK);
		for (size_t k = 0; k < d; k++)
			ss += (in_at(po, m, 0, d)[k] - v[k]) * (in_at(po, m, 0, d)[k] - v[k]);
		mpc_fedavg_data_fini(&D[m]);
	}
	double sd = sqrt(ss / (double)(NP * d));
	print_message("noise: sample spread %.4f for sigma %.4f\n", sd, fp.train.noise);
	assert_true(sd > 0.6 * fp.train.noise && sd < 1.4 * fp.train.noise);
	mpc_local_results_fini(res, NP);
}

/* A merchant whose file has other feature columns: everyone stops before
 * anything is shared, at least one party naming the mismatch. */
static void test_layout_mismatch(void **s) {
	(void)s;
	fa_job fp;
	params(&fp);
	fp.dir = dir_mixed;
	fp.holdout = NULL;
	mpc_local_config cfg = {
	    .n_parties = NP, .use_tcp = 1, .timeout_ms = 20000, .watchdog_s = 60};
	mpc_local_result res[NP];
	assert_int_equal(mpc_local_run(&cfg, fa_party, &fp, res), MPC_OK);
	/* every party sees the mismatch after the layout round; which of them
	 * records its own ECONFIG before a peer's abort arrives is a race */
	int named = 0;
	for (int i = 0; i < NP; i++) {
		assert_true(res[i].err == MPC_ECONFIG || res[i].err == MPC_EPEER);
		assert_int_equal(res[i].out_len, 0);
		if (res[i].err == MPC_ECONFIG && strstr(res[i].detail, "feature columns differ"))
			named++;
	}
	assert_true(named >= 1);
	mpc_local_results_fini(res, NP);
}

/* The CSV reader: gen_data's layout, and errors that name file:line and the
 * column but never a value. */
static void test_reader(void **s) {
	(void)s;
	mpc_fedavg_data D;
	char path[256];
	snprintf(path, sizeof(path), "%s/merchant0.csv", dir);
	assert_int_equal(mpc_fedavg_data_read(path, &D), MPC_OK);
	assert_int_equal(D.F, FEATURES);
	assert_int_equal(D.d, MPC_FEDAVG_EXTRA + FEATURES);
	assert_true(D.n >= ROWS && D.n <= ROWS + ROWS / 5);
	for (size_t i = 0; i < D.n; i++) {
		const double *x = D.x + i * D.d;
		double cats = 0;
		for (int c = 0; c < MPC_FEDAVG_N_CATS; c++)
			cats += x[3 + FEATURES + c];
		assert_true(x[0] == 1 && cats == 1 && D.y[i] <= 1 && D.merchant[i] == -1);
	}
	mpc_fedavg_data_fini(&D);
	snprintf(path, sizeof(path), "%s/bad.csv", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "amount,fraud,category,hour,f0\n12.5,0,fuel,3,0.25\n99.75,0,fuel,3,7.77x\n");
	fclose(f);
	assert_int_equal(mpc_fedavg_data_read(path, &D), MPC_EINVAL);
	assert_non_null(strstr(mpc_error_detail(), "bad.csv:3: column f0"));
	assert_null(strstr(mpc_error_detail(), "7.77"));
	unlink(path);
}

int main(void) {
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reader),
	    cmocka_unit_test(test_plain_average),
	    cmocka_unit_test(test_weighted_noise),
	    cmocka_unit_test(test_layout_mismatch),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
