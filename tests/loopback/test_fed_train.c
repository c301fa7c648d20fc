/* Federated training between merchants through the real mpc-party binary,
 * each merchant its own process and key, over TLS on loopback:
 *  - 3 and 5 merchants without DP: every merchant writes the same model,
 *    within 0.01 AUC (on a held-out set) of a model trained in the clear on
 *    the union of their rows;
 *  - DP-FedAvg: the noise of the opened sums (each round's opened sum minus
 *    the sum of what the merchants shared, from the MPC_TEST_FED_TRACE hook)
 *    has the stated spread over many rounds (variance against the discrete
 *    Gaussian's, mean 0, within the bound K); the accountant's epsilon equals
 *    the closed form of the Gaussian mechanism composed over R rounds;
 *  - dropouts: with min_parties = 2, a merchant killed in round 3 of 10
 *    leaves the two others to redo the round and train to the end (the same
 *    model at both); with two killed, the last one ends with the reason;
 *  - the job file's DP parameters are checked with FILE:LINE. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "jobs/mpc_fedavg_data.h"
#include "protocols/apps/mpc_dp.h"
#include "protocols/apps/mpc_fedavg.h"
#include "tests/support/mpc_local.h"
#include "tests/support/party.h"

#define NMAX 5

static char bin[128], dir[128];
static char names[NMAX][16];
static char fps[NMAX][128];
static int job_seq;
static int timeout_s = 30, connect_s = 30; /* of the next job file */

static int setup(void **state) {
	const char *n[NMAX];
	(void)state;
	for (int i = 0; i < NMAX; i++) {
		snprintf(names[i], sizeof(names[i]), "m%d", i);
		n[i] = names[i];
	}
	return party_setup(bin, dir, "mpc-fedtrain",
	                   "--merchants 5 --rows 1500 --seed 11 --holdout 4000", n, NMAX, fps);
}

static int teardown(void **state) {
	(void)state;
	return party_remove_dir(dir);
}

/* The job file at path: n merchants, [fed_train] params. Returns the line
 * of the section's first parameter. */
static int write_job(const char *path, int n, const char *params) {
	int ports[NMAX];
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(mpc_local_free_ports(ports, n), MPC_OK);
	fprintf(fp,
	        "[job]\nid = fed-%d-%d\ncomputation = fed_train\ntimeout = %d\n"
	        "connect_timeout = %d\ntransport = tls\npreprocessing = ot\n[fed_train]\n%s\n",
	        (int)getpid(), job_seq++, timeout_s, connect_s, params);
	for (int i = 0; i < n; i++)
		fprintf(fp, "[party %s]\naddress = tcp://127.0.0.1:%d\nfingerprint = %s\n",
		        names[i], ports[i], fps[i]);
	fclose(fp);
	return 9;
}

/* Merchants 0..n-1 run the job, merchant i with env[i] ("NAME=VALUE"; env
 * or env[i] may be NULL); exit codes. */
static void run_env(const char *job, int n, char *const env[NMAX], int codes[NMAX]) {
	pid_t pid[NMAX];
	double t_end[NMAX];
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -f %s/out-* %s/log-* %s/trace-*", dir, dir, dir);
	party_run_cmd(cmd);
	for (int i = 0; i < n; i++) {
		party_args pa;
		char log[256];
		party_args_run(&pa, bin, dir, job, names[i]);
		party_args_add(&pa, "--input");
		party_args_add(&pa, "%s/merchant%d.csv", dir, i);
		party_args_add(&pa, "--output");
		party_args_add(&pa, "%s/out-%s.csv", dir, names[i]);
		snprintf(log, sizeof(log), "%s/log-%s", dir, names[i]);
		pid[i] = party_spawn(party_args_argv(&pa), log, env ? env[i] : NULL);
		assert_true(pid[i] > 0);
	}
	party_wait_all(pid, n, codes, t_end, 300);
}

static void run(const char *job, int n, int codes[NMAX]) {
	run_env(job, n, NULL, codes);
}

static const char *logof(int i) {
	return party_log(dir, names[i]);
}

static void expect_ok(const int *codes, int n) {
	int bad = 0;
	for (int i = 0; i < n; i++)
		bad |= codes[i] != 0;
	for (int i = 0; i < NMAX && bad; i++) { /* every log's end */
		const char *lg = logof(i);
		size_t len = strlen(lg);
		print_error("%s: exit %d\n%s\n", names[i], i < n ? codes[i] : -1,
		            lg + (len > 900 ? len - 900 : 0));
	}
	for (int i = 0; i < n; i++) {
		assert_int_equal(codes[i], 0);
	}
}

/* The model merchant i wrote, in w (d doubles). */
static void read_model(int i, double *w, size_t d) {
	char path[256];
	snprintf(path, sizeof(path), "%s/out-%s.csv", dir, names[i]);
	char *m = strdup(party_slurp(path));
	size_t k = 0;
	assert_non_null(m);
	for (char *line = strtok(m, "\n"); line; line = strtok(NULL, "\n")) {
		char *comma = strchr(line, ',');
		if (strncmp(line, "input,", 6) == 0 || strncmp(line, "parameter,", 10) == 0 ||
		    comma == NULL)
			continue;
		assert_true(k < d);
		w[k++] = strtod(comma + 1, NULL);
	}
	assert_int_equal(k, d);
	free(m);
}

/* The held-out rows H and the union U of merchants 0..n-1. */
static void load(int n, mpc_fedavg_data *H, mpc_fedavg_data *U) {
	mpc_fedavg_data D[NMAX];
	char path[256];
	memset(D, 0, sizeof(D));
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/merchant%d.csv", dir, i);
		assert_int_equal(mpc_fedavg_data_read(path, &D[i]), MPC_OK);
	}
	assert_int_equal(mpc_fedavg_data_concat(D, n, U), MPC_OK);
	for (int i = 0; i < n; i++)
		mpc_fedavg_data_fini(&D[i]);
	snprintf(path, sizeof(path), "%s/holdout.csv", dir);
	assert_int_equal(mpc_fedavg_data_read(path, H), MPC_OK);
}

/* Without DP: the same model everywhere, within 0.01 AUC of the clear one. */
static void federated_vs_clear(int n) {
	char job[256];
	int codes[NMAX];
	mpc_fedavg_data H, U;
	snprintf(job, sizeof(job), "%s/fed-%d.ini", dir, n);
	write_job(job, n, "rounds = 40\nepochs = 2\nweighted = yes");
	run(job, n, codes);
	expect_ok(codes, n);
	load(n, &H, &U);
	double *w = calloc(U.d, sizeof(double)), *w2 = calloc(U.d, sizeof(double));
	double *wc = calloc(U.d, sizeof(double));
	assert_true(w && w2 && wc);
	read_model(0, w, U.d);
	for (int i = 1; i < n; i++) {
		read_model(i, w2, U.d);
		assert_memory_equal(w, w2, U.d * sizeof(double));
	}
	mpc_fedavg_params fp;
	mpc_fedavg_params_default(&fp);
	assert_int_equal(mpc_fedavg_train(&U, wc, &fp, 40, 7), MPC_OK); /* to convergence */
	mpc_fedavg_metrics mf = mpc_fedavg_eval(&H, w, -1), mc = mpc_fedavg_eval(&H, wc, -1);
	print_message("%d merchants: federated AUC %.4f log-loss %.4f; clear on the union "
	              "AUC %.4f log-loss %.4f (%lld held-out rows)\n",
	              n, mf.auc, mf.logloss, mc.auc, mc.logloss, (long long)mf.n);
	assert_true(mc.auc > 0.8);
	assert_true(fabs(mf.auc - mc.auc) <= 0.01);
	free(w);
	free(w2);
	free(wc);
	mpc_fedavg_data_fini(&H);
	mpc_fedavg_data_fini(&U);
}

static void test_three_merchants(void **state) {
	(void)state;
	federated_vs_clear(3);
}

static void test_five_merchants(void **state) {
	(void)state;
	federated_vs_clear(5);
}

/* A network with one hidden layer of 8 units through the same aggregation:
 * the same parameters at every merchant, against the same network trained
 * in the clear on the union. */
static void test_hidden_layer(void **state) {
	char job[256];
	int codes[NMAX], n = 3, H = 8;
	mpc_fedavg_data Ho, U;
	(void)state;
	snprintf(job, sizeof(job), "%s/fed-mlp.ini", dir);
	write_job(job, n, "rounds = 30\nepochs = 2\nweighted = yes\nhidden = 8");
	run(job, n, codes);
	expect_ok(codes, n);
	assert_non_null(strstr(logof(0), "(145 parameters, one hidden layer)"));
	load(n, &Ho, &U);
	size_t P = mpc_fedavg_nparams(H, U.d);
	double *w = calloc(P, sizeof(double)), *w2 = calloc(P, sizeof(double));
	double *wc = calloc(P, sizeof(double));
	assert_true(w && w2 && wc);
	read_model(0, w, P);
	for (int i = 1; i < n; i++) {
		read_model(i, w2, P);
		assert_memory_equal(w, w2, P * sizeof(double));
	}
	mpc_fedavg_params fp;
	mpc_fedavg_params_default(&fp);
	fp.hidden = H;
	mpc_fedavg_init(H, U.d, wc);
	assert_int_equal(mpc_fedavg_train(&U, wc, &fp, 60, 7), MPC_OK);
	mpc_fedavg_metrics mf = mpc_fedavg_eval_model(&Ho, H, w, -1);
	mpc_fedavg_metrics mc = mpc_fedavg_eval_model(&Ho, H, wc, -1);
	print_message("hidden layer of 8: federated AUC %.4f log-loss %.4f; clear on the union "
	              "AUC %.4f log-loss %.4f\n",
	              mf.auc, mf.logloss, mc.auc, mc.logloss);
	assert_true(mf.auc > 0.85 && fabs(mf.auc - mc.auc) <= 0.02);
	free(w);
	free(w2);
	free(wc);
	mpc_fedavg_data_fini(&Ho);
	mpc_fedavg_data_fini(&U);
}

/* "KEY VALUE" after key in s: VALUE. */
static double after(const char *s, const char *key) {
	const char *t = s ? strstr(s, key) : NULL;
	assert_non_null(t);
	return strtod(t + strlen(key), NULL);
}

/* The trace of merchant i: rows of d numbers, "share" and "open" alternating. */
static int read_trace(int i, size_t d, double *share, double *open, int max) {
	char path[256];
	snprintf(path, sizeof(path), "%s/trace-%s", dir, names[i]);
	char *t = strdup(party_slurp(path));
	int r = 0, line = 0;
	assert_non_null(t);
	for (char *l = strtok(t, "\n"); l; l = strtok(NULL, "\n"), line++) {
		int is_open = strncmp(l, "open", 4) == 0;
		assert_int_equal(is_open, line % 2);
		assert_true(r < max);
		char *p = l + (is_open ? 4 : 5);
		for (size_t k = 0; k < d; k++)
			(is_open ? open : share)[(size_t)r * d + k] = strtod(p, &p);
		r += is_open;
	}
	free(t);
	return r;
}

#define DP_ROUNDS 40

/* DP: the noise's spread over 40 rounds x d coordinates; the accountant. */
static void test_dp_noise_and_accountant(void **state) {
	char job[256];
	int codes[NMAX], n = 3;
	(void)state;
	snprintf(job, sizeof(job), "%s/fed-dp.ini", dir);
	write_job(job, n,
	          "rounds = 40\nepochs = 1\ndp = gaussian\nepsilon = 16\ndelta = 1e-6\n"
	          "clip = 0.5\nclip_steps = 8");
	char *env[NMAX] = {0};
	for (int i = 0; i < n; i++)
		assert_true(asprintf(&env[i], "MPC_TEST_FED_TRACE=%s/trace-%s", dir, names[i]) > 0);
	run_env(job, n, env, codes);
	for (int i = 0; i < n; i++)
		free(env[i]);
	expect_ok(codes, n);
	size_t d = 17;
	double *sh = calloc(NMAX * DP_ROUNDS * d, sizeof(double));
	double *op = calloc(NMAX * DP_ROUNDS * d, sizeof(double));
	assert_true(sh && op);
	for (int i = 0; i < n; i++)
		assert_int_equal(read_trace(i, d, sh + (size_t)i * DP_ROUNDS * d,
		                            op + (size_t)i * DP_ROUNDS * d, DP_ROUNDS),
		                 DP_ROUNDS);
	/* the accountant's line, before training */
	const char *lg = logof(0);
	double sigma = after(strstr(lg, "discrete Gaussian"), "sigma ");
	double bound = after(lg, "shared updates within ");
	double rho = after(lg, "releases of 17 coordinates, each rho ");
	double K = after(lg, "|noise| <= ");
	/* the closed form: R releases of sensitivity B, sigma; rho-zCDP */
	double rho_r = bound * bound / (2 * sigma * sigma);
	assert_true(fabs(rho_r - rho) <= 1e-5 * rho);
	double R = DP_ROUNDS, L = log(1e6), eps = R * rho_r + 2 * sqrt(R * rho_r * L);
	double spent = after(strstr(lg, "after training"), "epsilon ");
	print_message("accountant: sigma %.6g units, B %.6g, rho %.6g per round: closed-form "
	              "epsilon %.6f, reported %.6f (the job's 16)\n",
	              sigma, bound, rho_r, eps, spent);
	assert_true(fabs(eps - spent) <= 1e-5 * eps);
	assert_true(fabs(spent - 16) <= 1e-4);
	/* B from its definition: S = 8, d = 17 */
	assert_true(fabs(bound - sqrt(64 + 17.0 / 4 + 16)) <= 1e-5);
	/* the noise: opened sum - the sum of the shares, the same at everyone */
	double sum = 0, sum2 = 0, m = (double)(DP_ROUNDS * d);
	for (size_t k = 0; k < DP_ROUNDS * d; k++) {
		double z = op[k];
		for (int i = 0; i < n; i++) {
			assert_true(op[(size_t)i * DP_ROUNDS * d + k] == op[k]);
			z -= sh[(size_t)i * DP_ROUNDS * d + k];
		}
		assert_true(z == floor(z) && fabs(z) <= K);
		sum += z;
		sum2 += z * z;
	}
	double sd = mpc_dp_gauss_stddev(sigma), var = sum2 / m - (sum / m) * (sum / m);
	print_message("noise over %g samples: mean %.3f, stddev %.3f (stated %.3f)\n", m, sum / m,
	              sqrt(var), sd);
	/* 5 standard errors: the variance's is sqrt(2/m) relative */
	assert_true(fabs(var / (sd * sd) - 1) <= 5 * sqrt(2 / m));
	assert_true(fabs(sum / m) <= 5 * sd / sqrt(m));
	free(sh);
	free(op);
}

/* A bad DP parameter: every merchant refuses it with FILE:LINE. */
static void refused(const char *params, int line, const char *what) {
	char job[256], want[512];
	int codes[NMAX];
	snprintf(job, sizeof(job), "%s/fed-bad.ini", dir);
	write_job(job, 3, params);
	run(job, 3, codes);
	for (int i = 0; i < 3; i++)
		assert_int_not_equal(codes[i], 0);
	snprintf(want, sizeof(want), "fed-bad.ini:%d: [fed_train] %s", line, what);
	if (strstr(logof(0), want) == NULL)
		print_error("wanted \"%s\" in\n%s\n", want, logof(0));
	assert_non_null(strstr(logof(0), want));
}

static void test_dp_refusals(void **state) {
	(void)state;
	refused("epsilon = 1", 9, "epsilon: given, but there is no 'dp = gaussian'");
	refused("dp = laplace\nepsilon = 1", 9, "dp: expected none or gaussian");
	refused("dp = gaussian", 9, "dp: needs 'epsilon = ...'");
	refused("dp = gaussian\nepsilon = 1\nweighted = yes", 11, "weighted: with dp");
	refused("dp = gaussian\nepsilon = 1\nmin_parties = 4", 11, "min_parties:");
	refused("weighted = yes\nmin_parties = 2", 9,
	        "weighted: with min_parties, averaging is unweighted");
	/* beyond the sampler: said with what to change */
	char job[256];
	int codes[NMAX];
	snprintf(job, sizeof(job), "%s/fed-bad.ini", dir);
	write_job(job, 3, "dp = gaussian\nepsilon = 0.01\nrounds = 100");
	run(job, 3, codes);
	assert_int_not_equal(codes[0], 0);
	assert_non_null(strstr(logof(0), "is beyond the sampler"));
	assert_non_null(strstr(logof(0), "raise epsilon, lower rounds, or lower clip_steps"));
}

/* Merchants killed (SIGKILL) in round 3 of 10 (kill[i]); the others'
 * exit codes in codes. */
static void run_killing(const char *params, const int *kill, int codes[NMAX]) {
	char job[256];
	char *env[NMAX] = {0};
	timeout_s = 4;
	connect_s = 8;
	snprintf(job, sizeof(job), "%s/fed-drop.ini", dir);
	write_job(job, 3, params);
	timeout_s = connect_s = 30;
	for (int i = 0; i < 3; i++)
		env[i] = kill[i] ? "MPC_TEST_FED_KILL_ROUND=3" : NULL;
	run_env(job, 3, env, codes);
}

/* min_parties = 2: m2 dies in round 3 of 10; m0 and m1 redo round 3 without
 * it and train to the end, the same model at both. */
static void test_dropout(void **state) {
	int codes[NMAX], kill[3] = {0, 0, 1};
	mpc_fedavg_data H, U;
	(void)state;
	run_killing("rounds = 10\nepochs = 1\nmin_parties = 2", kill, codes);
	expect_ok(codes, 2);
	assert_int_not_equal(codes[2], 0);
	assert_non_null(strstr(logof(2), "killing this party in round 3"));
	for (int i = 0; i < 2; i++) {
		assert_non_null(strstr(logof(i), "going on with 2 parties without m2"));
		assert_non_null(strstr(logof(i), "round 3 is redone by 2 parties"));
		assert_non_null(strstr(logof(i), "trained to the end by m0 m1 (2 of 3 parties)"));
	}
	load(2, &H, &U);
	double *w = calloc(U.d, sizeof(double)), *w1 = calloc(U.d, sizeof(double));
	assert_true(w && w1);
	read_model(0, w, U.d);
	read_model(1, w1, U.d);
	assert_memory_equal(w, w1, U.d * sizeof(double));
	mpc_fedavg_metrics m = mpc_fedavg_eval(&H, w, -1);
	print_message("m2 killed in round 3 of 10: the model of m0 and m1 has AUC %.4f\n", m.auc);
	assert_true(m.auc > 0.8);
	free(w);
	free(w1);
	mpc_fedavg_data_fini(&H);
	mpc_fedavg_data_fini(&U);
	/* with DP: the redone round's opening is counted, within the budget
	 * (10 rounds + 1 party that may drop out = 11 releases accounted) */
	run_killing("rounds = 10\nepochs = 1\nmin_parties = 2\ndp = gaussian\nepsilon = 8\n"
	            "clip = 0.5\nclip_steps = 8",
	            kill, codes);
	expect_ok(codes, 2);
	for (int i = 0; i < 2; i++) {
		const char *lg = logof(i);
		assert_non_null(strstr(lg, "up to 11 releases of 17 coordinates"));
		double opened = after(strstr(lg, "after training: "), "after training: ");
		double eps = after(strstr(lg, "after training: "), "epsilon ");
		print_message("%s: %g noisy sums opened, epsilon %g of 8\n", names[i], opened, eps);
		assert_true(opened >= 10 && opened <= 11 && eps <= 8 + 1e-9);
	}
}

/* Below the minimum: m1 and m2 die; m0 ends with the reason, no model. */
static void test_dropout_below_minimum(void **state) {
	int codes[NMAX], kill[3] = {0, 1, 1};
	(void)state;
	run_killing("rounds = 10\nepochs = 1\nmin_parties = 2", kill, codes);
	assert_int_not_equal(codes[0], 0);
	if (strstr(logof(0), "only 1 of the job's 3 parties are left (min_parties = 2): m1, m2") ==
	    NULL)
		print_error("%s\n", logof(0));
	assert_non_null(
	    strstr(logof(0), "only 1 of the job's 3 parties are left (min_parties = 2): m1, m2"));
	assert_int_equal(party_output_exists(dir, "m0"), 0);
}

int main(void) {
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dp_refusals),
	    cmocka_unit_test(test_three_merchants),
	    cmocka_unit_test(test_five_merchants),
	    cmocka_unit_test(test_hidden_layer),
	    cmocka_unit_test(test_dp_noise_and_accountant),
	    cmocka_unit_test(test_dropout),
	    cmocka_unit_test(test_dropout_below_minimum),
	};
	if (getenv("MPC_TEST_FILTER")) /* e.g. MPC_TEST_FILTER='test_dropout*' */
		cmocka_set_test_filter(getenv("MPC_TEST_FILTER"));
	return cmocka_run_group_tests(tests, setup, teardown);
}
