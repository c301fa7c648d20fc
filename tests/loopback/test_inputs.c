/* Input parties through the real mpc-party binary, over TLS on loopback:
 * 50 input parties (each its own process and key) submit to 3 compute
 * parties; one is killed in the middle of its submission (after two of the
 * three compute parties acknowledged its share, before any commit). The
 * statistics must equal clear_stats over the union of the 49 others' rows,
 * every compute party must leave out the killed one, a late submission is
 * refused, and a recipient that was not online when the job ended fetches
 * the same bytes later from all three. model_average (secure aggregation of
 * logistic-regression models): 6 input parties' models, one clipped, and
 * the compute parties' own models, against the average computed here. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/support/mpc_local.h"
#include "tests/support/party.h"

#define NC     3  /* compute parties */
#define NI     50 /* input parties */
#define KILLED 13 /* cut short mid-submission */
#define LATE   7  /* a recipient, offline when the job ends */

static char bin[128], dir[128];
static char cmd[4096];
static char names[NC + NI][16];
static char fps[NC + NI][128];

static int setup(void **state) {
	const char *n[NC + NI];
	(void)state;
	for (int i = 0; i < NC + NI; i++) {
		if (i < NC)
			snprintf(names[i], sizeof(names[i]), "c%d", i);
		else
			snprintf(names[i], sizeof(names[i]), "i%02d", i - NC);
		n[i] = names[i];
	}
	return party_setup(bin, dir, "mpc-inputs", "--merchants 50 --rows 120 --seed 5", n, NC + NI,
	                   fps);
}

static int teardown(void **state) {
	(void)state;
	return party_remove_dir(dir);
}

static void write_job(const char *path) {
	int ports[2 * NC];
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(mpc_local_free_ports(ports, 2 * NC), MPC_OK);
	fprintf(fp,
	        "[job]\nid = inputs-%d\ncomputation = aggregate_stats\ntimeout = 20\n"
	        "connect_timeout = 30\ninput_deadline = 20\nmin_inputs = 40\nhold = 120\n"
	        "recipients = c0, i%02d\n"
	        "[aggregate_stats]\nstatistics = count, sum, mean, variance, stddev, min, max, "
	        "histogram, fraud_rate\nhistogram_edges = 10, 50, 100, 500\n"
	        "groups = grocery, travel, online\nmin_cohort = 5\n",
	        (int)getpid(), LATE);
	for (int i = 0; i < NC; i++)
		fprintf(fp,
		        "[party %s]\naddress = tcp://127.0.0.1:%d\nsubmit = 127.0.0.1:%d\n"
		        "fingerprint = %s\n",
		        names[i], ports[i], ports[NC + i], fps[i]);
	for (int i = 0; i < NI; i++)
		fprintf(fp, "[input %s]\nfingerprint = %s\n", names[NC + i], fps[NC + i]);
	fclose(fp);
}

/* `mpc-party submit` as input party i with input (NULL: its merchant file). */
static pid_t submit_file(const char *job, int i, const char *input, const char *env) {
	party_args pa = {0};
	char log[256];
	party_args_add(&pa, "%s/mpc-party", bin);
	party_args_add(&pa, "submit");
	party_args_add(&pa, "--job");
	party_args_add(&pa, "%s", job);
	party_args_add(&pa, "--party");
	party_args_add(&pa, "%s", names[NC + i]);
	party_args_add(&pa, "--keys");
	party_args_add(&pa, "%s/keys-%s", dir, names[NC + i]);
	party_args_add(&pa, "--input");
	if (input)
		party_args_add(&pa, "%s", input);
	else
		party_args_add(&pa, "%s/merchant%d.csv", dir, i);
	snprintf(log, sizeof(log), "%s/log-%s", dir, names[NC + i]);
	return party_spawn(party_args_argv(&pa), log, env);
}

static pid_t submit(const char *job, int i, const char *env) {
	return submit_file(job, i, NULL, env);
}

/* `mpc-party fetch` as input party i into out: its exit code. */
static int fetch(const char *job, int i, const char *out) {
	snprintf(cmd, sizeof(cmd),
	         "%s/mpc-party fetch --job %s --party %s --keys %s/keys-%s --output %s --wait 30 "
	         "> %s/log-fetch-%s 2>&1",
	         bin, job, names[NC + i], dir, names[NC + i], out, dir, names[NC + i]);
	return party_run_cmd(cmd);
}

static void test_fifty_inputs(void **state) {
	char job[256], out0[256], fetched[256], log[1024];
	pid_t cp[NC], ip[NI];
	int codes[NI];
	double t_end[NI];
	(void)state;
	snprintf(job, sizeof(job), "%s/inputs.ini", dir);
	snprintf(out0, sizeof(out0), "%s/out-c0.csv", dir);
	snprintf(fetched, sizeof(fetched), "%s/fetched.csv", dir);
	write_job(job);
	for (int i = 0; i < NC; i++) {
		party_args pa = {0};
		party_args_run(&pa, bin, dir, job, names[i]);
		if (i == 0) {
			party_args_add(&pa, "--output");
			party_args_add(&pa, "%s", out0);
		}
		snprintf(log, sizeof(log), "%s/log-%s", dir, names[i]);
		cp[i] = party_spawn(party_args_argv(&pa), log, NULL);
	}
	for (int i = 0; i < NI; i++)
		ip[i] = submit(job, i, i == KILLED ? "MPC_TEST_SUBMIT_KILL_AFTER=2" : NULL);
	party_wait_all(ip, NI, codes, t_end, 90);
	for (int i = 0; i < NI; i++) {
		if (codes[i] != (i == KILLED ? -9 : 0))
			print_error("%s: exit %d\n%s\n", names[NC + i], codes[i],
			            party_log(dir, names[NC + i]));
		assert_int_equal(codes[i], i == KILLED ? -9 : 0);
	}
	/* every other input party got a receipt and a commit from each */
	const char *l = party_log(dir, names[NC + 0]);
	assert_non_null(strstr(l, "compute party c2 committed contribution"));
	assert_non_null(strstr(l, "submitted: every one of the 3 compute parties"));

	/* the job runs after the input deadline; c0 writes, then all hold */
	struct stat st;
	double end = party_now() + 90;
	while (stat(out0, &st) != 0 && party_now() < end)
		usleep(100000);
	assert_int_equal(stat(out0, &st), 0);
	for (int i = 0; i < NC; i++) {
		l = party_log(dir, names[i]);
		const char *line = strstr(l, "49 of 50 input parties contributed:");
		if (line == NULL)
			print_error("%s\n", l);
		assert_non_null(line);
		const char *eol = strchr(line, '\n');
		char who[8];
		snprintf(who, sizeof(who), " i%02d", KILLED);
		const char *k = strstr(line, who);
		assert_true(k == NULL || (eol && k > eol)); /* not among the contributors */
		assert_non_null(strstr(l,
		                       "not counted (absent, or not held by every compute party): "
		                       "i13"));
	}
	/* the clear reference over the 49 counted merchants' rows */
	int n = snprintf(cmd, sizeof(cmd), "%s/clear_stats --job %s --compare %s", bin, job, out0);
	for (int i = 0; i < NI; i++)
		if (i != KILLED)
			n += snprintf(cmd + n, sizeof(cmd) - (size_t)n, " %s/merchant%d.csv", dir,
			              i);
	snprintf(cmd + n, sizeof(cmd) - (size_t)n, " > %s/clear.txt 2>&1", dir);
	int rc = party_run_cmd(cmd);
	snprintf(log, sizeof(log), "%s/clear.txt", dir);
	if (rc != 0 || strstr(party_slurp(log), "AGREE") == NULL)
		print_error("%s\n", party_slurp(log));
	assert_int_equal(rc, 0);

	/* too late: the window is closed, and the answer says so */
	pid_t late = submit(job, KILLED, NULL);
	assert_int_not_equal(party_wait(late, 60), 0);
	assert_non_null(strstr(party_log(dir, names[NC + KILLED]), "input window closed"));
	/* not a recipient */
	snprintf(log, sizeof(log), "%s/nope.csv", dir);
	assert_int_not_equal(fetch(job, 8, log), 0);
	snprintf(log, sizeof(log), "%s/log-fetch-%s", dir, names[NC + 8]);
	assert_non_null(strstr(party_slurp(log), "not among the recipients"));

	/* the offline recipient comes back and fetches: the same bytes */
	assert_int_equal(fetch(job, LATE, fetched), 0);
	char *a = strdup(party_slurp(out0));
	assert_non_null(a);
	assert_string_equal(a, party_slurp(fetched));
	free(a);
	/* every recipient has fetched: the compute parties end, all well */
	party_wait_all(cp, NC, codes, t_end, 30);
	for (int i = 0; i < NC; i++) {
		if (codes[i] != 0)
			print_error("%s: exit %d\n%s\n", names[i], codes[i],
			            party_log(dir, names[i]));
		assert_int_equal(codes[i], 0);
	}
	/* c1 and c2 are not recipients: they wrote nothing */
	assert_non_null(strstr(party_log(dir, "c1"), "not among its recipients"));
}

/* ---- model_average: the averaging step of federated training ---- */

#define NM 6 /* models from input parties i00..i05 */

/* Model i's weights (f0..f3, intercept): deterministic, model 2 far outside
 * the clip bound. */
static void model_weights(int i, double w[5]) {
	for (int k = 0; k < 5; k++)
		w[k] = ((i * 7 + k * 3) % 11 - 5) * 0.37 + (i == 2 ? 6.5 : 0);
}

static void write_model(const char *path, const double w[5]) {
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "input,weight\nintercept,%.10f\n", w[4]);
	for (int k = 0; k < 4; k++)
		fprintf(fp, "f%d,%.10f\n", k, w[k]);
	fclose(fp);
}

/* The average of models first..first+n-1 after clipping to L2 norm `clip`. */
static void clear_average(int first, int n, double clip, double avg[5]) {
	memset(avg, 0, 5 * sizeof(double));
	for (int i = first; i < first + n; i++) {
		double w[5], norm = 0;
		model_weights(i, w);
		for (int k = 0; k < 5; k++)
			norm += w[k] * w[k];
		norm = sqrt(norm);
		for (int k = 0; k < 5; k++)
			avg[k] += (norm > clip ? w[k] * clip / norm : w[k]) / n;
	}
}

/* An output model file against avg (input,weight lines). */
static void expect_model(const char *path, const double avg[5]) {
	char *t = party_slurp(path), name[32];
	double v;
	int seen = 0;
	for (char *line = strtok(t, "\n"); line; line = strtok(NULL, "\n")) {
		if (sscanf(line, "%31[^,],%lf", name, &v) != 2 || strcmp(name, "input") == 0)
			continue;
		int k = strcmp(name, "intercept") == 0 ? 4 : name[1] - '0';
		assert_true(k >= 0 && k < 5);
		if (fabs(v - avg[k]) > 1e-4)
			print_error("%s: %s = %.8f, expected %.8f\n", path, name, v, avg[k]);
		assert_true(fabs(v - avg[k]) <= 1e-4);
		seen++;
	}
	assert_int_equal(seen, 5);
}

static void write_avg_job(const char *path, int inputs) {
	int ports[2 * NC];
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(mpc_local_free_ports(ports, 2 * NC), MPC_OK);
	fprintf(fp,
	        "[job]\nid = avg-%d-%d\ncomputation = model_average\ntimeout = 20\n"
	        "connect_timeout = 30\n%s"
	        "[model_average]\nfeatures = f0-f3\nmax_weight = 8\nclip = 4\n",
	        (int)getpid(), inputs, inputs ? "input_deadline = 60\nrecipients = c1, i04\n" : "");
	for (int i = 0; i < NC; i++) {
		fprintf(fp, "[party %s]\naddress = tcp://127.0.0.1:%d\nfingerprint = %s\n",
		        names[i], ports[i], fps[i]);
		if (inputs)
			fprintf(fp, "submit = 127.0.0.1:%d\n", ports[NC + i]);
	}
	for (int i = 0; i < inputs; i++)
		fprintf(fp, "[input %s]\nfingerprint = %s\n", names[NC + i], fps[NC + i]);
	fclose(fp);
}

static void test_model_average(void **state) {
	char job[256], path[1024], out[256];
	pid_t cp[NC], ip[NM];
	int codes[NM];
	double t_end[NM], w[5], avg[5];
	(void)state;
	for (int i = 0; i < NM; i++) {
		snprintf(path, sizeof(path), "%s/model%d.csv", dir, i);
		model_weights(i, w);
		write_model(path, w);
	}
	/* 1. from input parties: c1 and i04 receive */
	snprintf(job, sizeof(job), "%s/avg-inputs.ini", dir);
	snprintf(out, sizeof(out), "%s/avg-c1.csv", dir);
	write_avg_job(job, NM);
	for (int i = 0; i < NC; i++) {
		party_args pa = {0};
		party_args_run(&pa, bin, dir, job, names[i]);
		party_args_add(&pa, "--output");
		party_args_add(&pa, "%s/avg-%s.csv", dir, names[i]);
		snprintf(path, sizeof(path), "%s/log-%s", dir, names[i]);
		cp[i] = party_spawn(party_args_argv(&pa), path, NULL);
	}
	for (int i = 0; i < NM; i++) {
		snprintf(path, sizeof(path), "%s/model%d.csv", dir, i);
		ip[i] = submit_file(job, i, path, NULL);
	}
	party_wait_all(ip, NM, codes, t_end, 60);
	for (int i = 0; i < NM; i++)
		assert_int_equal(codes[i], 0);
	assert_non_null(strstr(party_log(dir, names[NC + 2]), "clipped to 4"));
	snprintf(path, sizeof(path), "%s/avg-i04.csv", dir);
	assert_int_equal(fetch(job, 4, path), 0);
	party_wait_all(cp, NC, codes, t_end, 60);
	for (int i = 0; i < NC; i++) {
		if (codes[i] != 0)
			print_error("%s: exit %d\n%s\n", names[i], codes[i],
			            party_log(dir, names[i]));
		assert_int_equal(codes[i], 0);
	}
	clear_average(0, NM, 4, avg);
	expect_model(out, avg);
	expect_model(path, avg);
	snprintf(path, sizeof(path), "%s/avg-c0.csv", dir); /* not a recipient */
	assert_int_equal(access(path, F_OK), -1);

	/* 2. without input parties: each compute party's own --model */
	snprintf(job, sizeof(job), "%s/avg-own.ini", dir);
	write_avg_job(job, 0);
	for (int i = 0; i < NC; i++) {
		party_args pa = {0};
		party_args_run(&pa, bin, dir, job, names[i]);
		party_args_add(&pa, "--model");
		party_args_add(&pa, "%s/model%d.csv", dir, i);
		party_args_add(&pa, "--output");
		party_args_add(&pa, "%s/own-%s.csv", dir, names[i]);
		snprintf(path, sizeof(path), "%s/log-%s", dir, names[i]);
		cp[i] = party_spawn(party_args_argv(&pa), path, NULL);
	}
	party_wait_all(cp, NC, codes, t_end, 60);
	clear_average(0, NC, 4, avg);
	for (int i = 0; i < NC; i++) {
		assert_int_equal(codes[i], 0);
		snprintf(path, sizeof(path), "%s/own-%s.csv", dir, names[i]);
		expect_model(path, avg);
	}
}

int main(void) {
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fifty_inputs),
	    cmocka_unit_test(test_model_average),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
