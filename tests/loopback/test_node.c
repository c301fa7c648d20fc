/* Three standing nodes (the real mpc-node binary, each its own process, TLS
 * control links with pinned certificates) driven through their local HTTP
 * API with a real HTTP client (curl): a statistics job submitted at one node
 * runs after every node approved it, and its results equal the clear ones
 * (examples/clear_stats) at every node; a job one node's policy refuses ends
 * "refused" naming that node and the rule; a second DP job that would pass a
 * dataset's budget is refused, and the ledger survives kill -9 of a node and
 * its restart; a node killed during a job, or frozen (no abort, sockets
 * open): the others fail the job within 2 s naming it, stay up, see the
 * node again when it restarts, and the next job succeeds; a scoring service
 * of 1000 requests equals clear_score, with the model owner's quota; its
 * stock outlives a kill -9 and restart, never handed out twice (the stores'
 * counts); a job with three input parties, proposed without a dataset,
 * takes their submissions and equals the clear one at its recipients;
 * malformed JSON, an oversized body, a wrong token, an unknown job and a job
 * id used twice get 4xx with a clear message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first */
#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "protocols/preproc/mpc_store.h"
#include "tests/support/mpc_local.h"
#include "tests/support/party.h"
#include "tests/support/pg.h"

#define NP 3

static char bin[128], dir[128];
static char fps[NP][128];
static int api_port[NP], link_port[NP];
static pid_t node_pid[NP];
static const char *const names[NP] = {"alpha", "bravo", "charlie"};
static int job_seq;
/* A PostgreSQL server holding charlie's rows (dataset pgtx at charlie; the
 * others' pgtx is their CSV file), or NULL: test_pg_dataset skips. */
static pgtest *pg;
static char pg_why[512];
static const char token[] = "test-token-0123456789abcdef";
#define SCORE_REQS  1000 /* scoring requests of one transaction each */
#define SCORE_QUOTA 1010 /* the model owner's total for each asker */

/* curl METHOD http://127.0.0.1:PORT/PATH with the token (tok NULL: the
 * right one, "" none), body from file (NULL: none): the status, the body
 * in out (party_slurp's buffer). */
static int http(int node, const char *method, const char *path, const char *body_file,
                const char *tok, char **out) {
	char cmd[2048], resp[256], code[256];
	snprintf(resp, sizeof(resp), "%s/resp-%d", dir, node);
	snprintf(code, sizeof(code), "%s/code-%d", dir, node);
	char auth[200] = "";
	if (tok == NULL || tok[0])
		snprintf(auth, sizeof(auth), "-H 'Authorization: Bearer %s'", tok ? tok : token);
	char data[300] = "";
	if (body_file)
		snprintf(data, sizeof(data),
		         "-H 'Content-Type: application/json' --data-binary @%s", body_file);
	snprintf(cmd, sizeof(cmd),
	         "curl -sS -m 20 -X %s %s %s -o %s -w '%%{http_code}' http://127.0.0.1:%d%s > %s "
	         "2>&1",
	         method, auth, data, resp, api_port[node], path, code);
	party_run_cmd(cmd);
	int status = atoi(party_slurp(code));
	*out = party_slurp(resp);
	return status;
}

static void write_file(const char *path, const char *text, mode_t mode) {
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	chmod(path, mode);
}

/* Node i's policy: max_eps is its [dp] max_epsilon. */
static void write_policy(int i, double max_eps) {
	char path[256], text[3072], pgtx[700];
	if (i == 2 && pg)
		snprintf(
		    pgtx, sizeof(pgtx),
		    "[dataset pgtx]\npostgres = %s\nquery = SELECT amount, fraud, category FROM "
		    "txns2\nmax_amount = 1000000\nmax_rows = 1000000\nbudget_epsilon = 1\n",
		    pgtest_conninfo(pg));
	else
		snprintf(pgtx, sizeof(pgtx),
		         "[dataset pgtx]\ncsv = %s/merchant%d.csv\nmax_amount = 1000000\n"
		         "max_rows = 1000000\nbudget_epsilon = 1\n",
		         dir, i);
	snprintf(path, sizeof(path), "%s/policy-%s.ini", dir, names[i]);
	snprintf(text, sizeof(text),
	         "[node]\nname = %s\n[computations]\nallow = aggregate_stats, fraud_score, "
	         "fed_train\n"
	         "[peers]\nproposers = *\nrecipients = *\naskers = *\n"
	         "[dataset txns]\ncsv = %s/merchant%d.csv\nmax_amount = 1000000\n"
	         "max_rows = 1000000\nbudget_epsilon = 1.5\nbudget_delta = 0.00001\n"
	         "[dataset model]\ncsv = %s/model.csv\nmax_amount = 1\nmax_rows = 1\n"
	         "budget_epsilon = 1\n[dataset fed]\ncsv = %s/merchant%d.csv\n"
	         "max_amount = 1000000\nmax_rows = 1000000\nbudget_epsilon = 1.5\n"
	         "budget_delta = 0.00001\n%s"
	         "[dp]\nmax_epsilon = %g\nmax_delta = 0.00001\nrequire = no\n"
	         "[quota fraud_score]\ntotal = %d\n",
	         names[i], dir, i, dir, dir, i, pgtx, max_eps, SCORE_QUOTA);
	write_file(path, text, 0600);
}

static void write_config(int i) {
	char path[256], text[4096];
	int k = snprintf(text, sizeof(text),
	                 "[node]\nname = %s\nkeys = keys-%s\npolicy = policy-%s.ini\n"
	                 "state = state-%s\napi = 127.0.0.1:%d\ntoken_file = token\n"
	                 "listen = 127.0.0.1:%d\nparty_program = %s/mpc-party\n"
	                 /* small: the sanitizer build makes it slowly; a window
	                  * below the stock, so the store holds some at any time */
	                 "score_stock = 200\nscore_window = 50\n",
	                 names[i], names[i], names[i], names[i], api_port[i], link_port[i], bin);
	for (int p = 0; p < NP; p++)
		if (p != i)
			k += snprintf(text + k, sizeof(text) - (size_t)k,
			              "[peer %s]\naddress = 127.0.0.1:%d\nfingerprint = %s\n",
			              names[p], link_port[p], fps[p]);
	snprintf(path, sizeof(path), "%s/node-%s.ini", dir, names[i]);
	write_file(path, text, 0644);
}

static void start_node(int i) {
	char conf[256], log[256];
	snprintf(conf, sizeof(conf), "%s/node-%s.ini", dir, names[i]);
	snprintf(log, sizeof(log), "%s/nodelog-%s", dir, names[i]);
	char *const argv[] = {NULL, (char *)"--config", conf, (char *)"--log-level", (char *)"info",
	                      NULL};
	char prog[200];
	snprintf(prog, sizeof(prog), "%s/mpc-node", bin);
	((char **)argv)[0] = prog;
	node_pid[i] = party_spawn(argv, log, NULL);
	assert_true(node_pid[i] > 0);
}

/* Wait until node i's health shows want_up links up (of NP - 1). */
static int wait_links(int i, int want_up, double secs) {
	double t0 = party_now();
	while (party_now() - t0 < secs) {
		char *out;
		if (http(i, "GET", "/health", NULL, NULL, &out) == 200) {
			int up = 0;
			for (char *p = out; (p = strstr(p, "\"up\":true")) != NULL; p++)
				up++;
			if (up == want_up)
				return 1;
		}
		usleep(100 * 1000);
	}
	return 0;
}

static int load_pg(void);

static int setup(void **state) {
	(void)state;
	if (party_setup(bin, dir, "mpc-node", "--merchants 3 --rows 400 --seed 21", names, NP,
	                fps) != 0)
		return -1;
	char abs[PATH_MAX]; /* the nodes run mpc-party from their configuration */
	if (realpath(bin, abs) == NULL || strlen(abs) >= sizeof(bin))
		return -1;
	memcpy(bin, abs, strlen(abs) + 1);
	int ports[2 * NP];
	if (mpc_local_free_ports(ports, 2 * NP) != MPC_OK)
		return -1;
	char path[256], cmd[1024];
	snprintf(path, sizeof(path), "%s/token", dir);
	write_file(path, token, 0600);
	/* bravo's model, and the transactions alpha has scored */
	snprintf(path, sizeof(path), "%s/model.csv", dir);
	write_file(path,
	           "input,weight\nf0,0.8\nf1,-0.6\nf2,1.1\nf3,0.3\nf4,-1.2\nf5,0.5\nf6,0.9\n"
	           "f7,-0.4\nintercept,-0.7\n",
	           0600);
	snprintf(cmd, sizeof(cmd),
	         "%s/gen_data --merchants 1 --rows %d --seed 5 --out %s/score > /dev/null && "
	         "head -n %d %s/score/merchant0.csv > %s/score/batch.csv",
	         bin, SCORE_REQS, dir, SCORE_REQS + 1, dir, dir);
	if (party_run_cmd(cmd) != 0)
		return -1;
	for (int i = 0; i < NP; i++) {
		api_port[i] = ports[i];
		link_port[i] = ports[NP + i];
	}
	if ((pg = pgtest_start(pg_why, sizeof(pg_why))) != NULL && load_pg() != 0) {
		pgtest_stop(pg);
		return -1;
	}
	for (int i = 0; i < NP; i++) {
		write_policy(i, 5);
		write_config(i);
		start_node(i);
	}
	for (int i = 0; i < NP; i++)
		if (!wait_links(i, NP - 1, 20)) {
			char log[256];
			snprintf(log, sizeof(log), "%s/nodelog-%s", dir, names[i]);
			fprintf(stderr, "node %s: links not up:\n%s\n", names[i], party_slurp(log));
			return -1;
		}
	return 0;
}

/* charlie's merchant2.csv into the table txns2 of the test's server. */
static int load_pg(void) {
	char path[256];
	snprintf(path, sizeof(path), "%s/merchant2.csv", dir);
	const char *csv = party_slurp(path);
	PGconn *c = PQconnectdb(pgtest_conninfo(pg));
	PGresult *r = NULL;
	int ok = PQstatus(c) == CONNECTION_OK;
	if (ok) {
		r = PQexec(c, "CREATE TABLE txns2 (amount numeric, fraud smallint, category text, "
		              "txn_id bigint, card_id bigint, hour int, f0 float8, f1 float8, "
		              "f2 float8, f3 float8, f4 float8, f5 float8, f6 float8, f7 float8)");
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
	}
	if (ok) {
		r = PQexec(c, "COPY txns2 FROM STDIN WITH (FORMAT csv, HEADER true)");
		ok = PQresultStatus(r) == PGRES_COPY_IN;
		PQclear(r);
	}
	ok = ok && PQputCopyData(c, csv, (int)strlen(csv)) == 1 && PQputCopyEnd(c, NULL) == 1;
	if (ok) {
		r = PQgetResult(c);
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
	}
	if (!ok)
		fprintf(stderr, "loading charlie's rows: %s\n", PQerrorMessage(c));
	PQfinish(c);
	return ok ? 0 : -1;
}

/* SIGTERM: every node exits 0 within 10 s. */
static int teardown(void **state) {
	(void)state;
	if (getenv("MPC_TEST_KEEP")) { /* the folder, for a look after a failure */
		fprintf(stderr, "kept: %s\n", dir);
		for (int i = 0; i < NP; i++)
			if (node_pid[i] > 0)
				kill(node_pid[i], SIGTERM);
		return 0;
	}
	int bad = 0;
	for (int i = 0; i < NP; i++)
		if (node_pid[i] > 0)
			kill(node_pid[i], SIGTERM);
	for (int i = 0; i < NP; i++)
		if (node_pid[i] > 0) {
			int code = party_wait(node_pid[i], 10);
			if (code != 0) {
				fprintf(stderr, "node %s: exit %d on SIGTERM\n", names[i], code);
				bad = 1;
			}
		}
	pgtest_stop(pg);
	return party_remove_dir(dir) != 0 || bad ? -1 : 0;
}

static void write_body(const char *job, const char *dataset, const char *id, char body[256]);

/* The body of a submission of a job with these [aggregate_stats] lines,
 * in dir/body-ID.json; the id in id. */
static void make_job_body(const char *comp, const char *params, const char *dataset, char id[64],
                          char body[256]) {
	int jp[NP];
	assert_int_equal(mpc_local_free_ports(jp, NP), MPC_OK);
	snprintf(id, 64, "node-test-%d-%d", (int)getpid(), job_seq++);
	char job[4096];
	int k = snprintf(job, sizeof(job),
	                 "[job]\nid = %s\ncomputation = %s\nring = 128\n"
	                 "frac_bits = 16\npreprocessing = ot\ntimeout = 10\nconnect_timeout = 20\n"
	                 "[%s]\n%s\n",
	                 id, comp, comp, params);
	for (int i = 0; i < NP; i++)
		k += snprintf(job + k, sizeof(job) - (size_t)k,
		              "[party %s]\naddress = tcp://127.0.0.1:%d\nfingerprint = %s\n",
		              names[i], jp[i], fps[i]);
	write_body(job, dataset, id, body);
}

/* dir/job-ID.ini holding job, and the body of its submission (dataset ""
 * for none) in dir/body-ID.json. */
static void write_body(const char *job, const char *dataset, const char *id, char body[256]) {
	char path[256];
	snprintf(path, sizeof(path), "%s/job-%s.ini", dir, id);
	write_file(path, job, 0644);
	/* the JSON body: the job text as a JSON string (jq-free: python is not
	 * assumed; escape by hand) */
	char esc[16384];
	size_t e = 0;
	for (const char *p = job; *p && e + 3 < sizeof(esc); p++) {
		if (*p == '\n') {
			esc[e++] = '\\';
			esc[e++] = 'n';
		} else if (*p == '"' || *p == '\\') {
			esc[e++] = '\\';
			esc[e++] = *p;
		} else {
			esc[e++] = *p;
		}
	}
	esc[e] = '\0';
	snprintf(body, 256, "%s/body-%s.json", dir, id);
	FILE *fp = fopen(body, "w");
	assert_non_null(fp);
	if (dataset[0])
		fprintf(fp, "{\"job\": \"%s\", \"dataset\": \"%s\"}", esc, dataset);
	else
		fprintf(fp, "{\"job\": \"%s\"}", esc);
	fclose(fp);
}

static void make_body(const char *params, char id[64], char body[256]) {
	make_job_body("aggregate_stats", params, "txns", id, body);
}

/* Poll node i's view of job id until it is no longer proposed, approved or
 * running: its state word, "" on timeout. */
static const char *wait_job(int i, const char *id, double secs) {
	static char state[32];
	char path[128], *out;
	snprintf(path, sizeof(path), "/jobs/%s", id);
	double t0 = party_now();
	while (party_now() - t0 < secs) {
		if (http(i, "GET", path, NULL, NULL, &out) == 200) {
			char *s = strstr(out, "\"state\":\"");
			if (s && sscanf(s + 9, "%31[a-z]", state) == 1 &&
			    strcmp(state, "proposed") && strcmp(state, "approved") &&
			    strcmp(state, "running")) {
				if (strcmp(state, "done") !=
				    0) /* say why, for the reader of the log */
					fprintf(stderr, "node %s: job %s: %s\n", names[i], id, out);
				return state;
			}
		}
		usleep(50 * 1000);
	}
	return "";
}

/* The refusal of the last submission the node refused at once (its own
 * policy: 403). */
static char refusal[2048];

/* Submit at node i and wait for the job to end there: its state. */
static const char *submit(int i, const char *params, char id[64]) {
	char body[256], *out;
	make_body(params, id, body);
	int st = http(i, "POST", "/jobs", body, NULL, &out);
	if (st == 403) {
		snprintf(refusal, sizeof(refusal), "%s", out);
		return "refused";
	}
	if (st != 202)
		fprintf(stderr, "submit: %d %s\n", st, out);
	assert_int_equal(st, 202);
	return wait_job(i, id, 60);
}

static void expect_agree(int i, const char *id) {
	char path[128], *out, res[256], job[256];
	snprintf(path, sizeof(path), "/jobs/%s/result", id);
	assert_int_equal(http(i, "GET", path, NULL, NULL, &out), 200);
	snprintf(res, sizeof(res), "%s/result-%s-%s.csv", dir, id, names[i]);
	write_file(res, out, 0600);
	snprintf(job, sizeof(job), "%s/job-%s.ini", dir, id);
	if (!party_clear_stats_agrees(bin, dir, job, res))
		fail_msg("node %s: result differs from the clear one (above)", names[i]);
}

static const char stats_params[] = "max_amount = 100000\nmax_rows = 100000\n"
                                   "statistics = count, sum, mean, min, max, fraud_rate\n"
                                   "groups = grocery, travel, electronics\nmin_cohort = 20";

static void test_stats_job(void **state) {
	(void)state;
	char id[64];
	assert_string_equal(submit(0, stats_params, id), "done");
	for (int i = 0; i < NP; i++) {
		assert_string_equal(wait_job(i, id, 30), "done");
		expect_agree(i, id);
	}
}

/* fed_train through the three nodes: DP-FedAvg on each node's dataset, the
 * same model at every node, the budget charged; a second training that
 * would pass the dataset's budget (1.5) is refused by the ledger. */
static void test_fed_train_job(void **state) {
	(void)state;
	char id[64], body[256], path[128], *out, first[8192] = "";
	/* epsilon 0.4 for one merchant's data added or removed is 0.8057 for
	 * any change to its rows (4 rho), what the ledger charges */
	static const char fed[] = "rounds = 4\nepochs = 1\ndp = gaussian\nepsilon = 0.4\n"
	                          "delta = 1e-6\nclip = 0.5\nclip_steps = 8";
	make_job_body("fed_train", fed, "fed", id, body);
	assert_int_equal(http(0, "POST", "/jobs", body, NULL, &out), 202);
	assert_string_equal(wait_job(0, id, 120), "done");
	for (int i = 0; i < NP; i++) {
		assert_string_equal(wait_job(i, id, 30), "done");
		snprintf(path, sizeof(path), "/jobs/%s/result", id);
		assert_int_equal(http(i, "GET", path, NULL, NULL, &out), 200);
		assert_non_null(strstr(out, "input,weight\n"));
		if (i == 0)
			snprintf(first, sizeof(first), "%s", out);
		else
			assert_string_equal(out, first);
	}
	assert_int_equal(http(1, "GET", "/metrics", NULL, NULL, &out), 200);
	if (!strstr(out, "mpc_node_budget_epsilon{dataset=\"fed\",kind=\"spent\"} 0.8057"))
		fail_msg("bravo did not charge the training:\n%s", out);
	make_job_body("fed_train", fed, "fed", id, body);
	assert_int_equal(http(0, "POST", "/jobs", body, NULL, &out), 403);
	if (!strstr(out, "policy of alpha") || !strstr(out, "has spent epsilon 0.8057"))
		fail_msg("the refusal does not name alpha and the budget: %s", out);
}

/* A dataset from PostgreSQL: charlie's rows come from the server, the same
 * rows as its CSV file, and every node's results equal the clear ones. */
static void test_pg_dataset(void **state) {
	(void)state;
	if (pg == NULL) {
		print_message("skipping: %s\n", pg_why);
		skip();
	}
	char id[64], body[256], *out;
	make_job_body("aggregate_stats", stats_params, "pgtx", id, body);
	assert_int_equal(http(0, "POST", "/jobs", body, NULL, &out), 202);
	assert_string_equal(wait_job(0, id, 60), "done");
	for (int i = 0; i < NP; i++) {
		assert_string_equal(wait_job(i, id, 30), "done");
		expect_agree(i, id);
	}
	char path[512]; /* the conninfo's file is gone with the job */
	snprintf(path, sizeof(path), "%s/state-charlie/jobs/%s/input.pg", dir, id);
	assert_int_not_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/state-charlie/jobs/%s/log", dir, id);
	assert_non_null(strstr(party_slurp(path), "transactions from the PostgreSQL dataset"));
}

static void test_refused_by_policy(void **state) {
	(void)state;
	char id[64], path[128], *out;
	write_policy(2, 1); /* charlie: at most epsilon 1 per job */
	kill(node_pid[2], SIGTERM);
	assert_int_equal(party_wait(node_pid[2], 10), 0);
	start_node(2);
	assert_true(wait_links(0, NP - 1, 20) && wait_links(2, NP - 1, 20));
	assert_string_equal(submit(0,
	                           "max_amount = 100000\nmax_rows = 100000\nstatistics = count\n"
	                           "dp = laplace\nepsilon = 1.2",
	                           id),
	                    "refused");
	snprintf(path, sizeof(path), "/jobs/%s", id);
	assert_int_equal(http(0, "GET", path, NULL, NULL, &out), 200);
	if (!strstr(out, "policy of charlie") || !strstr(out, "max_epsilon"))
		fail_msg("the refusal names neither charlie nor the rule: %s", out);
	write_policy(2, 5);
}

static void test_budget_survives_kill(void **state) {
	(void)state;
	char id[64], *out;
	static const char dp1[] =
	    "max_amount = 100000\nmax_rows = 100000\nstatistics = count, sum\n"
	    "dp = laplace\nepsilon = 1";
	assert_string_equal(submit(0, dp1, id), "done");
	refusal[0] = '\0';
	assert_string_equal(submit(0, dp1, id), "refused"); /* 2 > 1.5, at alpha itself */
	if (!strstr(refusal, "policy of alpha") || !strstr(refusal, "budget_epsilon"))
		fail_msg("the refusal does not name alpha and the budget: %s", refusal);
	/* bravo dies hard, and comes back with its ledger */
	kill(node_pid[1], SIGKILL);
	party_wait(node_pid[1], 5);
	start_node(1);
	assert_true(wait_links(1, NP - 1, 20) && wait_links(0, NP - 1, 20));
	assert_int_equal(http(1, "GET", "/metrics", NULL, NULL, &out), 200);
	if (!strstr(out, "mpc_node_budget_epsilon{dataset=\"txns\",kind=\"spent\"} 1\n"))
		fail_msg("bravo forgot its spending:\n%s", out);
	/* bravo's own ledger refuses the same job now */
	refusal[0] = '\0';
	assert_string_equal(submit(1, dp1, id), "refused");
	if (!strstr(refusal, "policy of bravo") || !strstr(refusal, "has spent epsilon 1 "))
		fail_msg("bravo's refusal: %s", refusal);
	static const char dp04[] = "max_amount = 100000\nmax_rows = 100000\nstatistics = count\n"
	                           "dp = laplace\nepsilon = 0.4";
	assert_string_equal(submit(1, dp04, id), "done");
}

/* Alpha and bravo fail job id within 2 s of t0 (3 s: slack for a loaded
 * CI machine), with why in the job's error. */
static void expect_failed_at_others(const char *id, double t0, const char *why) {
	char path[128], *out;
	snprintf(path, sizeof(path), "/jobs/%s", id);
	for (int i = 0; i < 2; i++) {
		const char *st = wait_job(i, id, 10);
		double dt = party_now() - t0;
		if (strcmp(st, "failed") != 0 || dt > 3.0)
			fail_msg("node %s: job %s after %.2f s", names[i], st, dt);
		print_message("node %s: job failed %.2f s after charlie stopped\n", names[i], dt);
		http(i, "GET", path, NULL, NULL, &out);
		if (!strstr(out, why))
			fail_msg("node %s: the failure does not say '%s': %s", names[i], why, out);
	}
}

static void test_node_killed_during_job(void **state) {
	(void)state;
	char id[64], body[256], *out;
	make_body("max_amount = 100000\nmax_rows = 100000\n"
	          "statistics = count, median, quantiles\nquantiles = 0.1, 0.25, 0.75, 0.9\n"
	          "groups = grocery, travel, electronics, online\nmin_cohort = 10",
	          id, body);
	assert_int_equal(http(0, "POST", "/jobs", body, NULL, &out), 202);
	char path[128];
	snprintf(path, sizeof(path), "/jobs/%s", id);
	double t0 = party_now();
	while (party_now() - t0 < 20) { /* running everywhere */
		http(2, "GET", path, NULL, NULL, &out);
		if (strstr(out, "\"state\":\"running\""))
			break;
		usleep(20 * 1000);
	}
	if (!strstr(out, "\"state\":\"running\""))
		fail_msg("charlie: job %s not running: %s", id, out);
	usleep(300 * 1000);
	kill(node_pid[2], SIGKILL);
	double t_kill = party_now();
	party_wait(node_pid[2], 5);
	expect_failed_at_others(id, t_kill, "charlie");
	assert_true(wait_links(0, 1, 5)); /* alpha is up, and sees bravo */
	start_node(2);
	assert_true(wait_links(0, NP - 1, 20) && wait_links(2, NP - 1, 20));
	assert_string_equal(submit(0, stats_params, id), "done");
	for (int i = 0; i < NP; i++) { /* the others may end a moment later */
		assert_string_equal(wait_job(i, id, 30), "done");
		expect_agree(i, id);
	}
}

/* The children of pid (its job processes), from /proc. */
static int children(pid_t pid, pid_t *out, int max) {
	char cmd[128];
	int n = 0;
	snprintf(cmd, sizeof(cmd), "pgrep -P %d", (int)pid);
	FILE *p = popen(cmd, "r");
	while (p && n < max && fscanf(p, "%d", &out[n]) == 1)
		n++;
	if (p)
		pclose(p);
	return n;
}

/* A node that falls silent (its machine frozen: node and job processes
 * stopped, no abort sent, sockets open): the others fail the job within
 * 2 s, naming it, through the control link's keep-alives alone. */
static void test_node_frozen_during_job(void **state) {
	(void)state;
	char id[64], body[256], path[128], *out;
	make_body("max_amount = 100000\nmax_rows = 100000\n"
	          "statistics = count, median, quantiles\nquantiles = 0.1, 0.25, 0.75, 0.9\n"
	          "groups = grocery, travel, electronics, online\nmin_cohort = 10",
	          id, body);
	assert_int_equal(http(0, "POST", "/jobs", body, NULL, &out), 202);
	snprintf(path, sizeof(path), "/jobs/%s", id);
	pid_t kids[8];
	int nk = 0;
	double t0 = party_now();
	while (party_now() - t0 < 20 && nk == 0) { /* charlie's job process is there */
		nk = children(node_pid[2], kids, 8);
		usleep(10 * 1000);
	}
	assert_true(nk > 0);
	kill(node_pid[2], SIGSTOP);
	for (int k = 0; k < nk; k++)
		kill(kids[k], SIGSTOP);
	double t_stop = party_now();
	expect_failed_at_others(id, t_stop, "peer charlie went down");
	kill(node_pid[2], SIGKILL);
	for (int k = 0; k < nk; k++)
		kill(kids[k], SIGKILL);
	kill(node_pid[2], SIGCONT);
	party_wait(node_pid[2], 5);
	start_node(2);
	assert_true(wait_links(0, NP - 1, 20) && wait_links(2, NP - 1, 20));
	assert_string_equal(submit(2, stats_params, id), "done");
	for (int i = 0; i < NP; i++) { /* the others may end a moment later */
		assert_string_equal(wait_job(i, id, 30), "done");
		expect_agree(i, id);
	}
}

/* Row i's f0..f7 of the scoring data, as a JSON list. */
static void score_row(FILE *csv, char *out, size_t cap) {
	char line[1024], *f[32];
	int nf = 0;
	assert_non_null(fgets(line, sizeof(line), csv));
	line[strcspn(line, "\r\n")] = '\0';
	for (char *p = strtok(line, ","); p && nf < 32; p = strtok(NULL, ","))
		f[nf++] = p;
	assert_int_equal(nf, 14); /* amount,fraud,category,txn_id,card_id,hour,f0..f7 */
	snprintf(out, cap, "[%s,%s,%s,%s,%s,%s,%s,%s]", f[6], f[7], f[8], f[9], f[10], f[11], f[12],
	         f[13]);
}

/* A scoring service of bravo's model submitted at node `asker`, which
 * asks; returns when it runs. */
static void start_scoring(int asker, char id[64]) {
	char params[512], body[256], path[128], *out;
	snprintf(params, sizeof(params),
	         "model = logreg\nmodel_owner = bravo\nasker = %s\nfeatures = f0-f7\n"
	         "threshold = 0.5\nmax_rows = 100000\nmax_feature = 16\nmax_weight = 4",
	         names[asker]);
	make_job_body("fraud_score", params, "model", id, body);
	assert_int_equal(http(asker, "POST", "/jobs", body, NULL, &out), 202);
	snprintf(path, sizeof(path), "/jobs/%s", id);
	double t0 = party_now();
	while (party_now() - t0 < 30) {
		http(asker, "GET", path, NULL, NULL, &out);
		if (!strstr(out, "\"state\":\"proposed\""))
			break;
		usleep(20 * 1000);
	}
	if (!strstr(out, "\"state\":\"running\""))
		fail_msg("the service is not running: %s", out);
}

/* A scoring service: bravo's model, alpha asks; 1000 requests of one
 * transaction through alpha's API, 16 at a time (batched by the node), equal
 * clear_score; past bravo's quota, 429 naming it; cancelled, 409. */
static void test_scoring_service(void **state) {
	(void)state;
	char id[64], path[512], row[512], *out;
	start_scoring(0, id);
	/* the requests: one body file each, one curl running 16 at a time */
	snprintf(path, sizeof(path), "%s/score/batch.csv", dir);
	FILE *csv = fopen(path, "r"), *cfg;
	assert_non_null(csv);
	assert_non_null(fgets(row, sizeof(row), csv)); /* header */
	snprintf(path, sizeof(path), "%s/curl.cfg", dir);
	assert_non_null(cfg = fopen(path, "w"));
	for (int i = 0; i < SCORE_REQS; i++) {
		char b[1200];
		score_row(csv, row, sizeof(row));
		snprintf(path, sizeof(path), "%s/sreq-%d.json", dir, i);
		snprintf(b, sizeof(b), "{\"service\": \"%s\", \"transactions\": [%s]}", id, row);
		write_file(path, b, 0600);
		fprintf(cfg,
		        "%surl = \"http://127.0.0.1:%d/score\"\nheader = \"Authorization: Bearer "
		        "%s\"\ndata-binary = \"@%s\"\noutput = \"%s/sresp-%d.json\"\n",
		        i ? "next\n" : "", api_port[0], token, path, dir, i);
	}
	fclose(csv);
	fclose(cfg);
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
	         "curl -sS --no-progress-meter --parallel --parallel-max 16 -K %s/curl.cfg > "
	         "%s/curl.log 2>&1",
	         dir, dir);
	if (party_run_cmd(cmd) != 0) {
		snprintf(path, sizeof(path), "%s/curl.log", dir);
		fail_msg("curl: %s", party_slurp(path));
	}
	/* the answers, as the asker's scores file, against the clear */
	snprintf(path, sizeof(path), "%s/scores.csv", dir);
	FILE *sc = fopen(path, "w");
	assert_non_null(sc);
	fprintf(sc, "row,score,flag\n");
	for (int i = 0; i < SCORE_REQS; i++) {
		double v;
		int f;
		snprintf(path, sizeof(path), "%s/sresp-%d.json", dir, i);
		out = party_slurp(path);
		if (sscanf(out, "{\"scores\":[%lf],\"flags\":[%d]}", &v, &f) != 2)
			fail_msg("request %d: %s", i, out);
		fprintf(sc, "%d,%.12f,%d\n", i + 1, v, f);
	}
	fclose(sc);
	snprintf(cmd, sizeof(cmd),
	         "%s/clear_score --job %s/job-%s.ini --model %s/model.csv --input "
	         "%s/score/batch.csv --compare %s/scores.csv > %s/clear-score.txt 2>&1",
	         bin, dir, id, dir, dir, dir, dir);
	int rc = party_run_cmd(cmd);
	snprintf(path, sizeof(path), "%s/clear-score.txt", dir);
	if (rc != 0 || !strstr(party_slurp(path), "AGREE"))
		fail_msg("the scores differ from clear_score:\n%s", party_slurp(path));
	/* 1000 used of bravo's 1010: 20 more are refused whole */
	snprintf(path, sizeof(path), "%s/sreq-big.json", dir);
	FILE *big = fopen(path, "w");
	assert_non_null(big);
	fprintf(big, "{\"service\": \"%s\", \"transactions\": [", id);
	for (int i = 0; i < 20; i++)
		fprintf(big, "%s[0,0,0,0,0,0,0,0]", i ? "," : "");
	fprintf(big, "]}");
	fclose(big);
	assert_int_equal(http(0, "POST", "/score", path, NULL, &out), 429);
	if (!strstr(out, "policy of bravo") || !strstr(out, "total"))
		fail_msg("the refusal names neither bravo nor its quota: %s", out);
	assert_int_equal(http(0, "GET", "/metrics", NULL, NULL, &out), 200);
	if (!strstr(out, "mpc_node_score_requests_total{result=\"ok\"} 1000\n"))
		fail_msg("alpha's metrics:\n%s", out);
	/* the service ends with its job */
	snprintf(path, sizeof(path), "/jobs/%s/cancel", id);
	assert_int_equal(http(0, "POST", path, NULL, NULL, &out), 200);
	snprintf(path, sizeof(path), "%s/sreq-0.json", dir);
	assert_int_equal(http(0, "POST", "/score", path, NULL, &out), 409);
}

/* Rows first+1 .. first+n of the scoring data, one request each through
 * node `asker`'s API to service id: the answers equal clear_score. */
static void score_rows(int asker, const char *id, int first, int n) {
	char path[512], row[512], line[1024], cmd[1024], *out;
	snprintf(path, sizeof(path), "%s/score/batch.csv", dir);
	FILE *csv = fopen(path, "r");
	snprintf(path, sizeof(path), "%s/part-%s.csv", dir, id);
	FILE *part = fopen(path, "w");
	snprintf(path, sizeof(path), "%s/part-scores-%s.csv", dir, id);
	FILE *sc = fopen(path, "w");
	assert_true(csv && part && sc);
	assert_non_null(fgets(line, sizeof(line), csv));
	fputs(line, part);
	fprintf(sc, "row,score,flag\n");
	for (int i = 0; i < first; i++)
		assert_non_null(fgets(line, sizeof(line), csv));
	for (int i = 0; i < n; i++) {
		long at = ftell(csv);
		assert_non_null(fgets(line, sizeof(line), csv));
		fputs(line, part);
		fseek(csv, at, SEEK_SET);
		score_row(csv, row, sizeof(row));
		snprintf(path, sizeof(path), "%s/one-%s.json", dir, id);
		snprintf(line, sizeof(line), "{\"service\": \"%s\", \"transactions\": [%s]}", id,
		         row);
		write_file(path, line, 0600);
		double v;
		int f;
		assert_int_equal(http(asker, "POST", "/score", path, NULL, &out), 200);
		if (sscanf(out, "{\"scores\":[%lf],\"flags\":[%d]}", &v, &f) != 2)
			fail_msg("request %d: %s", i, out);
		fprintf(sc, "%d,%.12f,%d\n", i + 1, v, f);
	}
	fclose(csv);
	fclose(part);
	fclose(sc);
	snprintf(cmd, sizeof(cmd),
	         "%s/clear_score --job %s/job-%s.ini --model %s/model.csv --input "
	         "%s/part-%s.csv --compare %s/part-scores-%s.csv > %s/part-clear.txt 2>&1",
	         bin, dir, id, dir, dir, id, dir, id, dir);
	int rc = party_run_cmd(cmd);
	snprintf(path, sizeof(path), "%s/part-clear.txt", dir);
	if (rc != 0 || !strstr(party_slurp(path), "AGREE"))
		fail_msg("the scores differ from clear_score:\n%s", party_slurp(path));
}

/* The kinds of material a scoring service of the test's model uses. */
#define STOCK_KINDS 5
static const mpc_mat_type stock_kinds[STOCK_KINDS] = {{MPC_MAT_TRIPLES, 128, 0},
                                                      {MPC_MAT_TRUNC, 128, 16},
                                                      {MPC_MAT_TRUNC, 128, 69},
                                                      {MPC_MAT_BITS, 128, 0},
                                                      {MPC_MAT_BIT_TRIPLES, 1, 0}};

/* Party i's stock of charlie's service of bravo's model, from its store (as
 * soon as no process holds it): per kind, consumed (elements ever handed
 * out) and available. */
static void stock_counts(int i, uint64_t used[STOCK_KINDS], uint64_t avail[STOCK_KINDS]) {
	char sdir[512], job[65];
	uint8_t hash[32];
	int party, np;
	mpc_store *st = NULL;
	snprintf(sdir, sizeof(sdir), "%s/state-%s/stock", dir, names[i]);
	DIR *d = opendir(sdir);
	struct dirent *e;
	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, "charlie-bravo-", 14) == 0)
			break;
	assert_non_null(e);
	snprintf(sdir + strlen(sdir), sizeof(sdir) - strlen(sdir), "/%s", e->d_name);
	closedir(d);
	assert_int_equal(mpc_store_identity(sdir, job, hash, &party, &np), 0);
	assert_int_equal(party, i);
	double t0 = party_now();
	while (mpc_store_open(&st, sdir, job, hash, party, np) != MPC_OK) {
		if (party_now() - t0 > 20)
			fail_msg("%s: %s", sdir, mpc_error_detail());
		usleep(50 * 1000); /* the service's process still holds it */
	}
	for (int k = 0; k < STOCK_KINDS; k++) {
		mpc_store_pos pos;
		assert_int_equal(mpc_store_position(st, stock_kinds[k], &pos), MPC_OK);
		used[k] = pos.seq;
		avail[k] = mpc_store_available(st, stock_kinds[k]);
	}
	mpc_store_close(st);
}

/* A scoring service's stock lives in a store at every party and outlives
 * the service: charlie's service of bravo's model scores, charlie's node is
 * killed (kill -9) under it; what the stores handed out is counted; after
 * charlie's restart a second service of the same pair takes up the stock
 * where the first left it: every party's store hands out only elements past
 * everything any party handed out before (the counts move forward, in step
 * at all three), and its scores equal clear_score. */
static void test_stock_survives_restart(void **state) {
	(void)state;
	char id1[64], id2[64], path[128], *out;
	uint64_t used1[NP][STOCK_KINDS], avail1[NP][STOCK_KINDS];
	uint64_t used2[NP][STOCK_KINDS], avail2[NP][STOCK_KINDS];
	start_scoring(2, id1);
	score_rows(2, id1, 0, 10);
	kill(node_pid[2], SIGKILL); /* the asker's node: its process gets SIGTERM */
	assert_int_equal(party_wait(node_pid[2], 10), -SIGKILL);
	node_pid[2] = 0;
	assert_string_equal(wait_job(1, id1, 10), "failed");
	for (int i = 0; i < NP; i++)
		stock_counts(i, used1[i], avail1[i]);
	for (int k = 0; k < STOCK_KINDS; k++)
		for (int i = 0; i < NP; i++) /* durable: some served, some left */
			if (used1[i][k] == 0 || avail1[i][k] == 0)
				fail_msg("party %s, kind %d: %llu handed out, %llu left", names[i],
				         k, (unsigned long long)used1[i][k],
				         (unsigned long long)avail1[i][k]);
	start_node(2);
	assert_true(wait_links(0, NP - 1, 20) && wait_links(2, NP - 1, 20));
	start_scoring(2, id2);
	score_rows(2, id2, 10, 10);
	assert_int_equal(http(2, "GET", "/metrics", NULL, NULL, &out), 200);
	if (!strstr(out, "mpc_node_stock{job=\"") || !strstr(out, "where=\"memory\"}"))
		fail_msg("charlie's metrics show no stock:\n%s", out);
	snprintf(path, sizeof(path), "/jobs/%s/cancel", id2);
	assert_int_equal(http(2, "POST", path, NULL, NULL, &out), 200);
	for (int i = 0; i < NP; i++)
		stock_counts(i, used2[i], avail2[i]);
	for (int k = 0; k < STOCK_KINDS; k++) {
		uint64_t most = 0;
		for (int i = 0; i < NP; i++)
			most = used1[i][k] > most ? used1[i][k] : most;
		for (int i = 0; i < NP; i++)
			if (used2[i][k] != used2[0][k] || used2[i][k] <= most)
				fail_msg(
				    "kind %d: party %s handed out up to %llu, after %llu before "
				    "(at most %llu at any party)",
				    k, names[i], (unsigned long long)used2[i][k],
				    (unsigned long long)used1[i][k], (unsigned long long)most);
		print_message("stock kind %d: first service: handed out %llu at most, %llu left; "
		              "after the restart: %llu at all three parties\n",
		              k, (unsigned long long)most, (unsigned long long)avail1[0][k],
		              (unsigned long long)used2[0][k]);
	}
}

/* A job with input parties through the nodes: proposed without a dataset,
 * approved by all three, each node's process takes the submissions of three
 * input parties (mpc-party submit, their own keys, merchants 0..2's rows);
 * the recipients' results equal the clear ones over the union, and the
 * node that is not a recipient says so instead of a result. */
static void test_input_parties(void **state) {
	(void)state;
	enum { NI = 3 };
	char cmd[1024], ifp[NI][128], id[64], body[256], job[8192], *out;
	int jp[2 * NP];
	for (int i = 0; i < NI; i++) {
		snprintf(cmd, sizeof(cmd),
		         "%s/mpc-party keygen --out %s/keys-in%d --name in%d > %s/kg-in%d", bin,
		         dir, i, i, dir, i);
		assert_int_equal(party_run_cmd(cmd), 0);
		snprintf(cmd, sizeof(cmd), "%s/kg-in%d", dir, i);
		char *t = strstr(party_slurp(cmd), "fingerprint: ");
		assert_non_null(t);
		assert_int_equal(sscanf(t + 13, "%127s", ifp[i]), 1);
	}
	assert_int_equal(mpc_local_free_ports(jp, 2 * NP), MPC_OK);
	snprintf(id, sizeof(id), "node-test-%d-%d", (int)getpid(), job_seq++);
	int k = snprintf(job, sizeof(job),
	                 "[job]\nid = %s\ncomputation = aggregate_stats\ntimeout = 10\n"
	                 "connect_timeout = 20\ninput_deadline = 60\nrecipients = alpha, bravo\n"
	                 "[aggregate_stats]\n%s\n",
	                 id, stats_params);
	for (int i = 0; i < NP; i++)
		k += snprintf(job + k, sizeof(job) - (size_t)k,
		              "[party %s]\naddress = tcp://127.0.0.1:%d\nsubmit = 127.0.0.1:%d\n"
		              "fingerprint = %s\n",
		              names[i], jp[i], jp[NP + i], fps[i]);
	for (int i = 0; i < NI; i++)
		k += snprintf(job + k, sizeof(job) - (size_t)k, "[input in%d]\nfingerprint = %s\n",
		              i, ifp[i]);
	/* a dataset is refused: the rows are the input parties' */
	write_body(job, "txns", id, body);
	assert_int_equal(http(0, "POST", "/jobs", body, NULL, &out), 400);
	assert_non_null(strstr(out, "names no dataset"));
	write_body(job, "", id, body); /* refused before its id was taken: the same id */
	assert_int_equal(http(0, "POST", "/jobs", body, NULL, &out), 202);
	pid_t sp[NI];
	int codes[NI];
	double t_end[NI];
	for (int i = 0; i < NI; i++) {
		snprintf(cmd, sizeof(cmd),
		         "%s/mpc-party submit --job %s/job-%s.ini --party in%d --keys %s/keys-in%d "
		         "--input %s/merchant%d.csv --wait 60 > %s/log-in%d 2>&1",
		         bin, dir, id, i, dir, i, dir, i, dir, i);
		sp[i] = party_spawn_sh(cmd, "/dev/null");
	}
	party_wait_all(sp, NI, codes, t_end, 90);
	for (int i = 0; i < NI; i++) {
		snprintf(cmd, sizeof(cmd), "%s/log-in%d", dir, i);
		if (codes[i] != 0)
			print_error("in%d: exit %d\n%s\n", i, codes[i], party_slurp(cmd));
		assert_int_equal(codes[i], 0);
	}
	for (int i = 0; i < NP; i++)
		assert_string_equal(wait_job(i, id, 60), "done");
	expect_agree(0, id);
	expect_agree(1, id);
	snprintf(cmd, sizeof(cmd), "/jobs/%s/result", id);
	assert_int_equal(http(2, "GET", cmd, NULL, NULL, &out), 409);
	assert_non_null(strstr(out, "not among its recipients"));
}

static void test_api_errors(void **state) {
	(void)state;
	char path[256], *out;
	snprintf(path, sizeof(path), "%s/bad.json", dir);
	write_file(path, "{\"job\": \"[job]\\nid = x\", ", 0600);
	assert_int_equal(http(0, "POST", "/jobs", path, NULL, &out), 400);
	assert_non_null(strstr(out, "\"error\""));
	write_file(path, "{\"job\": \"[job]\\nid = x\\n\", \"dataset\": \"txns\"}", 0600);
	assert_int_equal(http(0, "POST", "/jobs", path, NULL, &out), 400); /* no computation */
	assert_non_null(strstr(out, "computation"));
	assert_int_equal(http(0, "GET", "/health", NULL, "wrong-token-0123456789", &out), 401);
	assert_int_equal(http(0, "GET", "/health", NULL, "", &out), 401);
	assert_int_equal(http(0, "GET", "/jobs/nope", NULL, NULL, &out), 404);
	assert_int_equal(http(0, "DELETE", "/jobs", NULL, NULL, &out), 405);
	assert_int_equal(http(0, "GET", "/jobs", NULL, NULL, &out), 200);
	assert_non_null(strstr(out, "\"state\":\"refused\"")); /* the jobs so far, listed */
	assert_non_null(strstr(out, "\"state\":\"cancelled\""));
	/* a body over the limit (1 MiB) */
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("{\"job\": \"", fp);
	for (int i = 0; i < (1 << 20); i++)
		fputc('a', fp);
	fputs("\"}", fp);
	fclose(fp);
	assert_int_equal(http(0, "POST", "/jobs", path, NULL, &out), 413);
	/* an id used before */
	char id[64], body[256];
	make_body(stats_params, id, body);
	assert_int_equal(http(0, "POST", "/jobs", body, NULL, &out), 202);
	assert_string_equal(wait_job(0, id, 60), "done");
	assert_int_equal(http(0, "POST", "/jobs", body, NULL, &out), 409);
	assert_non_null(strstr(out, "used"));
	assert_true(wait_links(0, NP - 1, 5)); /* and nothing crashed */
}

int main(void) {
	alarm(600); /* a hang fails the test instead of CI */
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stats_job),
	    cmocka_unit_test(test_pg_dataset),
	    cmocka_unit_test(test_refused_by_policy),
	    cmocka_unit_test(test_budget_survives_kill),
	    cmocka_unit_test(test_fed_train_job),
	    cmocka_unit_test(test_node_killed_during_job),
	    cmocka_unit_test(test_node_frozen_during_job),
	    cmocka_unit_test(test_scoring_service),
	    cmocka_unit_test(test_stock_survives_restart),
	    cmocka_unit_test(test_input_parties),
	    cmocka_unit_test(test_api_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
