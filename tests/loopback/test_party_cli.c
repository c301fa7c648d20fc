/* mpc-party end to end, as a partner runs it: keys made with `mpc-party
 * keygen`, a job file, three parties and a dealer as separate processes on
 * loopback with TLS. Then what goes wrong: a wrong fingerprint, a peer with a
 * different job file, a killed peer, a stalled peer, a man in the middle
 * flipping one byte, a bad job file, a bad CSV. Each asserts the exit code
 * and the message, and that no output file is left behind on failure. And
 * issue 11: a dealer job needs --trust-dealer; duplicate fingerprints or
 * addresses are refused; check validates what run would refuse and speaks
 * JSON; our own address that cannot be bound exits 1; SIGTERM and SIGINT,
 * and a bad CSV, stop the others within 2 s with the reason; a wrong port
 * names the unreachable address. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first */
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jobs/mpc_csv.h"
#include "net/mpc_nodes.h"
#include "protocols/apps/mpc_stats.h"
#include "tests/support/forger.h"
#include "tests/support/mitm.h"
#include "tests/support/mpc_local.h"
#include "tests/support/party.h"

#define NP        3
#define NN        (NP + 1)
#define TIMEOUT_S 2
#define NOBODY_FP "abababababababababababababababababababababababababababababababab"

static char bin[128], dir[128];
static int ports[NN];
static char fps[NN][128];
static const char *const names[NN] = {"alpha", "bravo", "charlie", "dealer"};

/* Keys for every node, and the sample data, once for all tests. */
static int setup(void **state) {
	(void)state;
	return party_setup(bin, dir, "mpc-cli", "--merchants 3 --rows 300 --seed 7", names, NN,
	                   fps);
}

static int teardown(void **state) {
	(void)state;
	return party_remove_dir(dir);
}

typedef struct {
	int addr_port[NN]; /* the port written in the job file (a MITM's, say) */
	const char *fp_override[NN];
	const char *extra_param; /* appended to [aggregate_stats] */
	int connect_timeout;
	const char *preproc; /* dealer (NULL), ot or paillier: no dealer node */
} job_spec;

static int has_dealer(const job_spec *js) {
	return js->preproc == NULL || !strcmp(js->preproc, "dealer");
}

static void write_job(const char *path, const job_spec *js) {
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp,
	        "; test job\n[job]\nid = cli-test-%d\ncomputation = aggregate_stats\n"
	        "ring = 128\nfrac_bits = 16\npreprocessing = %s\ntimeout = %d\n"
	        "connect_timeout = %d\ntransport = tls\n\n[aggregate_stats]\n"
	        "max_amount = 100000\nmax_rows = 100000\n%s\n",
	        (int)getpid(), js->preproc ? js->preproc : "dealer", TIMEOUT_S,
	        js->connect_timeout ? js->connect_timeout : 10,
	        js->extra_param ? js->extra_param : "");
	for (int i = 0; i < NP + has_dealer(js); i++) {
		if (i < NP)
			fprintf(fp, "[party %s]\n", names[i]);
		else
			fprintf(fp, "[dealer]\n");
		fprintf(fp, "address = tcp://127.0.0.1:%d\nfingerprint = %s\n\n",
		        js->addr_port[i] ? js->addr_port[i] : ports[i],
		        js->fp_override[i] ? js->fp_override[i] : fps[i]);
	}
	fclose(fp);
}

typedef struct {
	const char *job[NN]; /* job file per node (NULL: the common one) */
	const char *env[NN]; /* extra environment per node */
	const char *input[NN];
	int skip[NN];        /* don't start this node */
	int listen_port[NN]; /* bind here instead of the job's address */
	int store;           /* --store DIR/store-NAME at the parties */
	int no_trust;        /* leave out --trust-dealer (given to every party otherwise) */
} run_spec;

static pid_t start_node(int i, const char *job, const run_spec *rs) {
	party_args pa;
	char log[600];
	party_args_run(&pa, bin, dir, rs->job[i] ? rs->job[i] : job, names[i]);
	if (i < NP) {
		party_args_add(&pa, "--input");
		if (rs->input[i])
			party_args_add(&pa, "%s", rs->input[i]);
		else
			party_args_add(&pa, "%s/merchant%d.csv", dir, i);
		party_args_add(&pa, "--output");
		party_args_add(&pa, "%s/out-%s.csv", dir, names[i]);
		if (!rs->no_trust)
			party_args_add(&pa, "--trust-dealer");
	}
	if (rs->store && i < NP) {
		party_args_add(&pa, "--store");
		party_args_add(&pa, "%s/store-%s", dir, names[i]);
	}
	if (rs->listen_port[i]) {
		party_args_add(&pa, "--listen");
		party_args_add(&pa, "tcp://127.0.0.1:%d", rs->listen_port[i]);
	}
	snprintf(log, sizeof(log), "%s/log-%s", dir, names[i]);
	return party_spawn(party_args_argv(&pa), log, rs->env[i]);
}

/* Run all nodes; codes[i] gets each exit code; returns the wall time. */
static double run_all(const char *job, const run_spec *rs, int codes[NN], pid_t *pids_out) {
	pid_t pid[NN];
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "rm -f %s/out-*.csv %s/log-*", dir, dir);
	party_run_cmd(cmd);
	double t0 = party_now();
	for (int i = NN - 1; i >= 0; i--)
		pid[i] = rs->skip[i] ? -1 : start_node(i, job, rs);
	if (pids_out) {
		memcpy(pids_out, pid, sizeof(pid));
		return t0;
	}
	for (int i = 0; i < NN; i++)
		codes[i] = pid[i] < 0 ? 0 : party_wait(pid[i], 60);
	return party_now() - t0;
}

static const char *logof(int i) {
	return party_log(dir, names[i]);
}

static int output_exists(int i) {
	return party_output_exists(dir, names[i]);
}

/* Free loopback ports for the nodes, all distinct. */
static void fresh_ports(void) {
	assert_int_equal(mpc_local_free_ports(ports, NN), MPC_OK);
}

static void common_job(char *path, size_t len, const job_spec *js) {
	snprintf(path, len, "%s/job.ini", dir);
	write_job(path, js);
}

/* Every party's output file against the clear computation of the CSVs. */
static void check_outputs(void) {
	char path[700];
	double n = 0, s1 = 0, s2 = 0, fr = 0;
	for (int i = 0; i < NP; i++) {
		mpc_txns t;
		snprintf(path, sizeof(path), "%s/merchant%d.csv", dir, i);
		assert_int_equal(mpc_txns_read(path, 1e9, &t), MPC_OK);
		for (size_t k = 0; k < t.n; k++) {
			n++;
			s1 += t.amount[k];
			s2 += t.amount[k] * t.amount[k];
			fr += t.fraud[k];
		}
		mpc_txns_fini(&t);
	}
	for (int i = 0; i < NP; i++) {
		double cnt = -1, total = -1, var = -1, rate = -1;
		char line[256], key[64];
		double v;
		snprintf(path, sizeof(path), "%s/out-%s.csv", dir, names[i]);
		FILE *fp = fopen(path, "r");
		assert_non_null(fp);
		while (fgets(line, sizeof(line), fp))
			if (sscanf(line, "%63[^,],%lf", key, &v) == 2) {
				if (!strcmp(key, "count"))
					cnt = v;
				if (!strcmp(key, "total"))
					total = v;
				if (!strcmp(key, "variance"))
					var = v;
				if (!strcmp(key, "fraud_rate"))
					rate = v;
			}
		fclose(fp);
		assert_true(cnt == n);
		assert_true(fabs(total - s1) <= n * 0x1p-17 + 1e-6);
		assert_true(fabs(var - (s2 / n - (s1 / n) * (s1 / n))) < 1e-3);
		assert_true(fabs(rate - fr / n) < 1e-12);
	}
}

static void complete(const char *preproc) {
	char job[600];
	job_spec js = {.preproc = preproc};
	run_spec rs = {.skip[NP] = !has_dealer(&js)};
	int codes[NN];
	fresh_ports();
	common_job(job, sizeof(job), &js);
	run_all(job, &rs, codes, NULL);
	for (int i = 0; i < NN; i++) {
		if (codes[i] != 0)
			print_error("%s: exit %d\n%s\n", names[i], codes[i], logof(i));
		assert_int_equal(codes[i], 0);
	}
	check_outputs();
	/* the log says the channel is TLS, and no share value is logged */
	assert_non_null(strstr(logof(0), "TLS"));
	/* and which preprocessing made the triples */
	char by[64];
	snprintf(by, sizeof(by), "preprocessing by %s among the parties", preproc ? preproc : "");
	assert_non_null(strstr(logof(0), has_dealer(&js) ? "from the dealer" : by));
}

static void test_complete(void **s) {
	(void)s;
	complete(NULL);
}
static void test_complete_ot(void **s) {
	(void)s;
	complete("ot");
}
static void test_complete_paillier(void **s) {
	(void)s;
	complete("paillier");
}

static void test_wrong_fingerprint(void **s) {
	(void)s;
	char job[600];
	job_spec js = {0};
	run_spec rs = {0};
	int codes[NN];
	fresh_ports();
	/* everyone pins charlie to a key nobody holds (another party's would be
	 * refused by the job reader: one key behind two entries) */
	js.fp_override[2] = NOBODY_FP;
	common_job(job, sizeof(job), &js);
	run_all(job, &rs, codes, NULL);
	/* charlie's own check refuses its job file (exit 1); the others refuse
	 * charlie's certificate, or hear an abort, or find charlie gone */
	assert_int_equal(codes[2], 1);
	assert_non_null(strstr(logof(2), "fingerprint"));
	int named = 0;
	for (int i = 0; i < NN; i++) {
		if (i == 2)
			continue;
		assert_int_not_equal(codes[i], 0);
		named += strstr(logof(i), "party 2") != NULL || strstr(logof(i), "charlie") != NULL;
		assert_false(i < NP && output_exists(i));
	}
	assert_true(named >= 1);
	/* and now bravo pins a wrong key for charlie while charlie's job is right:
	 * the TLS handshake itself must refuse (exit 7) */
	char job2[700];
	job_spec js2 = {0};
	js2.fp_override[2] = NOBODY_FP;
	snprintf(job2, sizeof(job2), "%s/job-bravo.ini", dir);
	write_job(job2, &js2);
	js.fp_override[2] = NULL;
	common_job(job, sizeof(job), &js);
	rs.job[1] = job2;
	run_all(job, &rs, codes, NULL);
	assert_int_equal(codes[1], 7);
	assert_non_null(strstr(logof(1), "fingerprint"));
	for (int i = 0; i < NP; i++)
		assert_false(output_exists(i));
}

static void test_different_job(void **s) {
	(void)s;
	char job[600], other[700];
	job_spec js = {0};
	run_spec rs = {0};
	int codes[NN];
	fresh_ports();
	common_job(job, sizeof(job), &js);
	js.extra_param = "; a partner changed a parameter\n";
	snprintf(other, sizeof(other), "%s/job-other.ini", dir);
	FILE *fp = fopen(job, "r");
	char buf[8192];
	size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	char *at = strstr(buf, "max_rows = 100000");
	assert_non_null(at);
	memcpy(at, "max_rows = 100001", 17);
	fp = fopen(other, "w");
	fputs(buf, fp);
	fclose(fp);
	rs.job[2] = other;
	run_all(job, &rs, codes, NULL);
	int named = 0;
	for (int i = 0; i < NN; i++) {
		assert_int_not_equal(codes[i], 0);
		named += strstr(logof(i), "max_rows") != NULL;
	}
	assert_true(named >= 1);
	for (int i = 0; i < NP; i++)
		assert_false(output_exists(i));
}

/* charlie pauses after agreeing the job (a test hook): killed, or stalled */
static void peer_trouble(int kill_it, const char *preproc) {
	char job[600];
	job_spec js = {.preproc = preproc};
	run_spec rs = {.skip[NP] = !has_dealer(&js)};
	pid_t pid[NN];
	int codes[NN];
	fresh_ports();
	common_job(job, sizeof(job), &js);
	rs.env[2] = kill_it ? "MPC_TEST_PAUSE_MS=20000" : "MPC_TEST_PAUSE_MS=5000";
	double t0 = run_all(job, &rs, codes, pid);
	if (kill_it) {
		for (int k = 0; k < 500 && !strstr(logof(2), "same job"); k++)
			usleep(20000);
		kill(pid[2], SIGKILL);
	}
	double t_kill = party_now();
	for (int i = 0; i < NN; i++)
		codes[i] = pid[i] < 0 ? 0 : party_wait(pid[i], 30);
	double took = party_now() - (kill_it ? t_kill : t0);
	for (int i = 0; i < NN; i++) {
		if (i == 2 || rs.skip[i])
			continue;
		print_message("  %s: exit %d\n", names[i], codes[i]);
		assert_true(codes[i] == 3 || codes[i] == 5);
		assert_false(i < NP && output_exists(i));
	}
	assert_true(strstr(logof(0), "party 2") || strstr(logof(1), "party 2"));
	/* within the deadline plus 5 s */
	assert_true(took < TIMEOUT_S + 5 + (kill_it ? 0 : 1));
	if (kill_it)
		assert_int_equal(codes[2], -SIGKILL);
	else
		assert_int_not_equal(codes[2], 0);
}

static void test_killed_peer(void **s) {
	(void)s;
	peer_trouble(1, NULL);
}
static void test_stalled_peer(void **s) {
	(void)s;
	peer_trouble(0, NULL);
}
static void test_killed_peer_ot(void **s) {
	(void)s;
	peer_trouble(1, "ot");
}

static void test_mitm(void **s) {
	(void)s;
	char job[600];
	job_spec js = {0};
	run_spec rs = {0};
	int codes[NN];
	fresh_ports();
	/* bravo binds its real port; the job file names the MITM's port */
	int mitm_port;
	assert_int_equal(mpc_local_free_ports(&mitm_port, 1), MPC_OK);
	js.addr_port[1] = mitm_port;
	rs.listen_port[1] = ports[1];
	common_job(job, sizeof(job), &js);
	/* flip one byte inside the TLS records (past HELLO: the handshake or the
	 * job agreement; the whole stream of this small job is about 3 KB) */
	pid_t m = mitm_start(mitm_port, ports[1], 1500);
	assert_true(m > 0);
	run_all(job, &rs, codes, NULL);
	kill(m, SIGKILL);
	waitpid(m, NULL, 0);
	/* the flipped frame is dropped at bravo, never taken: the gap it leaves
	 * (or, inside the handshake, the broken handshake) ends the job for
	 * everyone, and bravo says what it dropped */
	int named = 0;
	for (int i = 0; i < NN; i++) {
		print_message("  exit %d\n", codes[i]);
		assert_int_not_equal(codes[i], 0);
		named += strstr(logof(i), "failed authentication") != NULL ||
		         strstr(logof(i), "TLS handshake") != NULL;
	}
	assert_true(named >= 1);
	for (int i = 0; i < NP; i++)
		assert_false(output_exists(i));
}

static void test_bad_job(void **s) {
	(void)s;
	char path[600], cmd[1400];
	snprintf(path, sizeof(path), "%s/bad.ini", dir);
	FILE *fp = fopen(path, "w");
	fprintf(fp, "[job]\nid = x\ncomputation = aggregate_stats\nring = 96\n");
	fclose(fp);
	snprintf(cmd, sizeof(cmd),
	         "%s/mpc-party run --job %s --party alpha --keys %s/keys-alpha "
	         "> %s/log-bad 2>&1",
	         bin, path, dir, dir);
	assert_int_equal(party_run_cmd(cmd), 1);
	snprintf(cmd, sizeof(cmd), "%s/log-bad", dir);
	char *log = party_slurp(cmd);
	assert_non_null(strstr(log, "bad.ini:4"));
	assert_non_null(strstr(log, "ring"));
}

static void test_bad_csv(void **s) {
	(void)s;
	char job[600], csv[600];
	job_spec js = {.connect_timeout = 3};
	run_spec rs = {0};
	int codes[NN];
	fresh_ports();
	common_job(job, sizeof(job), &js);
	snprintf(csv, sizeof(csv), "%s/bad.csv", dir);
	FILE *fp = fopen(csv, "w");
	fprintf(fp, "amount,fraud,category\n10.5,0,food\n12,7,food\n");
	fclose(fp);
	rs.input[1] = csv;
	pid_t pid[NN];
	double t_end[NN];
	run_all(job, &rs, codes, pid);
	party_wait_all(pid, NN, codes, t_end, 30);
	assert_int_equal(codes[1], 2);
	assert_non_null(strstr(logof(1), "bad.csv:3"));
	assert_non_null(strstr(logof(1), "fraud"));
	/* bravo found it before connecting, then connected only to tell the
	 * others: they stop within 2 s of it with its reason, not by waiting
	 * for its HELLO until the connect timeout */
	for (int i = 0; i < NN; i++) {
		if (i == 1)
			continue;
		double after = t_end[i] - t_end[1];
		print_message("  %s: exit %d, %.2f s after bravo\n", names[i], codes[i], after);
		if (codes[i] != 5)
			print_error("%s: exit %d\n%s\n", names[i], codes[i], logof(i));
		assert_int_equal(codes[i], 5);
		assert_true(after < 2.0);
		assert_non_null(strstr(logof(i), "bravo (party 1) aborted: bravo stopped: "));
		assert_non_null(strstr(logof(i), "bad.csv:3"));
		assert_false(i < NP && output_exists(i));
	}
}

/* mpc-party preprocess at the three parties (args after the common ones). */
static void preprocess_all(const char *job, const char *what, int codes[NP]) {
	pid_t pid[NP];
	for (int i = 0; i < NP; i++) {
		char store[600], keys[600], log[600];
		snprintf(store, sizeof(store), "%s/store-%s", dir, names[i]);
		snprintf(keys, sizeof(keys), "%s/keys-%s", dir, names[i]);
		snprintf(log, sizeof(log), "%s/pre-%s", dir, names[i]);
		char prog[300];
		snprintf(prog, sizeof(prog), "%s/mpc-party", bin);
		char *argv[] = {
		    prog,     "preprocess", "--job",   (char *)job, "--party",    (char *)names[i],
		    "--keys", keys,         "--store", store,       (char *)what, "10",
		    NULL};
		pid[i] = party_spawn(argv, log, NULL);
	}
	for (int i = 0; i < NP; i++)
		codes[i] = party_wait(pid[i], 60);
}

/* Triples Z_2^128 left in party i's store, from `preprocess --status`. */
static long stored_triples(const char *job, int i) {
	char store[600], keys[600], log[600], prog[300];
	snprintf(store, sizeof(store), "%s/store-%s", dir, names[i]);
	snprintf(keys, sizeof(keys), "%s/keys-%s", dir, names[i]);
	snprintf(log, sizeof(log), "%s/status-%s", dir, names[i]);
	snprintf(prog, sizeof(prog), "%s/mpc-party", bin);
	char *argv[] = {
	    prog,     "preprocess", "--status", "--job", (char *)job, "--party", (char *)names[i],
	    "--keys", keys,         "--store",  store,   NULL};
	assert_int_equal(party_wait(party_spawn(argv, log, NULL), 20), 0);
	const char *t = strstr(party_slurp(log), "triples Z_2^128");
	return t ? atol(t + strlen("triples Z_2^128")) : 0;
}

/* Material made ahead of time is consumed from the store, never twice: a
 * party killed just before it takes its share of the store leaves the stores
 * out of step; the next run detects it, every party skips to the furthest
 * position, and the results are still right. */
static void test_store_crash(void **s) {
	(void)s;
	char job[600];
	job_spec js = {.preproc = "ot"};
	run_spec rs = {.skip[NP] = 1, .store = 1};
	int codes[NN];
	fresh_ports();
	common_job(job, sizeof(job), &js);
	preprocess_all(job, "--triples", codes);
	for (int i = 0; i < NP; i++) {
		if (codes[i] != 0)
			print_error("%s: preprocess exit %d\n", names[i], codes[i]);
		assert_int_equal(codes[i], 0);
		assert_int_equal(stored_triples(job, i), 10);
	}
	/* a complete run takes MPC_STATS_TRIPLES (2) from every store */
	run_all(job, &rs, codes, NULL);
	for (int i = 0; i < NP; i++) {
		assert_int_equal(codes[i], 0);
		assert_int_equal(stored_triples(job, i), 8);
	}
	assert_non_null(strstr(logof(0), "2 from the store"));
	/* charlie dies just before taking: alpha and bravo have taken theirs */
	rs.env[2] = "MPC_TEST_CRASH_AT_TAKE=before";
	run_all(job, &rs, codes, NULL);
	assert_int_equal(codes[2], -SIGKILL);
	assert_true(codes[0] == 3 || codes[0] == 5);
	assert_int_equal(stored_triples(job, 0), 6);
	assert_int_equal(stored_triples(job, 2), 8);
	/* the next run sees the stores out of step and skips ahead: nobody
	 * uses what alpha and bravo took, and the results are right */
	rs.env[2] = NULL;
	run_all(job, &rs, codes, NULL);
	for (int i = 0; i < NP; i++) {
		if (codes[i] != 0)
			print_error("%s: exit %d\n%s\n", names[i], codes[i], logof(i));
		assert_int_equal(codes[i], 0);
		assert_int_equal(stored_triples(job, i), 4);
	}
	assert_non_null(strstr(logof(2), "out of step"));
	check_outputs();
	/* a party killed just after taking: all took; the next run goes on */
	rs.env[1] = "MPC_TEST_CRASH_AT_TAKE=after";
	run_all(job, &rs, codes, NULL);
	assert_int_equal(codes[1], -SIGKILL);
	rs.env[1] = NULL;
	for (int i = 0; i < NP; i++)
		assert_int_equal(stored_triples(job, i), 2);
	run_all(job, &rs, codes, NULL);
	for (int i = 0; i < NP; i++) {
		assert_int_equal(codes[i], 0);
		assert_int_equal(stored_triples(job, i), 0);
	}
	check_outputs();
	/* empty stores: the material is made on demand */
	run_all(job, &rs, codes, NULL);
	for (int i = 0; i < NP; i++)
		assert_int_equal(codes[i], 0);
	assert_non_null(
	    strstr(logof(0), "this run took: 2 triples Z_2^128; 0 from the store, 2 made now"));
	check_outputs();
}

/* One mpc-party command line (after the program), stdout and stderr to
 * DIR/NAME.out and DIR/NAME.err; the exit code. */
static int cli(const char *name, const char *fmt, ...) MPC_PRINTF(2, 3);
static int cli(const char *name, const char *fmt, ...) {
	char args[1500], cmd[2400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "%s/mpc-party %s > %s/%s.out 2> %s/%s.err", bin, args, dir, name,
	         dir, name);
	return party_run_cmd(cmd);
}

static const char *cli_file(const char *name, const char *ext) {
	char path[600];
	snprintf(path, sizeof(path), "%s/%s.%s", dir, name, ext);
	return party_slurp(path);
}

/* preprocessing = dealer only by each merchant's --trust-dealer: check and
 * run refuse without it (before connecting: nobody else is started), saying
 * what the dealer can learn and how to consent; with it the job runs
 * (test_complete). The dealer itself needs no consent. */
static void test_dealer_consent(void **s) {
	(void)s;
	char job[600];
	job_spec js = {0};
	fresh_ports();
	common_job(job, sizeof(job), &js);
	char out[600];
	snprintf(out, sizeof(out), "%s/out-bravo.csv", dir);
	unlink(out); /* an earlier test's */
	for (int run = 0; run < 2; run++) {
		int rc = cli("consent",
		             "%s --job %s --party bravo --keys %s/keys-bravo --input "
		             "%s/merchant1.csv --output %s",
		             run ? "run" : "check", job, dir, dir, out);
		const char *err = cli_file("consent", "err");
		if (rc != 1)
			print_error("exit %d: %s\n", rc, err);
		assert_int_equal(rc, 1);
		assert_non_null(strstr(err, "--trust-dealer"));
		assert_non_null(strstr(err, "every input and every output"));
	}
	/* nothing was run: no output */
	assert_false(output_exists(1));
}

/* One key behind two entries, or one address: refused by check with
 * file:line naming both entries. */
static void test_duplicate_entries(void **s) {
	(void)s;
	char job[600];
	job_spec js = {0};
	fresh_ports();
	js.fp_override[3] = fps[0]; /* alpha's key named as the dealer's too */
	common_job(job, sizeof(job), &js);
	int rc = cli("dup", "check --job %s --party alpha --keys %s/keys-alpha --trust-dealer", job,
	             dir);
	const char *err = cli_file("dup", "err");
	assert_int_equal(rc, 1);
	/* [dealer] is at line 28 of write_job's file, its fingerprint at 30;
	 * alpha's at 18 */
	if (!strstr(err, "job.ini:30: [dealer] fingerprint: the same as party alpha's (line 18)"))
		print_error("%s\n", err);
	assert_non_null(strstr(err, "job.ini:30: [dealer] fingerprint: the same as party alpha's "
	                            "(line 18)"));
	js.fp_override[3] = NULL;
	js.addr_port[2] = ports[1];
	common_job(job, sizeof(job), &js);
	rc = cli("dup", "check --job %s --party alpha --keys %s/keys-alpha --trust-dealer", job,
	         dir);
	err = cli_file("dup", "err");
	assert_int_equal(rc, 1);
	assert_non_null(strstr(err, "job.ini:25: [party charlie] address: the same as party "
	                            "bravo's (line 21)"));
}

/* check validates what run would refuse, with run's own code, before
 * connecting (nobody else is started): an unknown key, a bad input CSV; and
 * --format json gives one object on stdout, for failure and success. */
static void test_check_validates(void **s) {
	(void)s;
	char job[600], csv[600];
	job_spec js = {.extra_param = "max_amout = 5"};
	fresh_ports();
	common_job(job, sizeof(job), &js);
	int rc = cli("chk", "check --job %s --party alpha --keys %s/keys-alpha --trust-dealer", job,
	             dir);
	const char *err = cli_file("chk", "err");
	if (rc != 1 || !strstr(err, "job.ini:15"))
		print_error("exit %d: %s\n", rc, err);
	assert_int_equal(rc, 1);
	assert_non_null(strstr(err, "job.ini:15"));
	assert_non_null(strstr(err, "max_amout"));
	/* the same as JSON: ok false, the error with file:line, nothing else on stdout */
	rc = cli("chk",
	         "check --job %s --party alpha --keys %s/keys-alpha --trust-dealer "
	         "--format json",
	         job, dir);
	assert_int_equal(rc, 1);
	const char *out = cli_file("chk", "out");
	assert_true(out[0] == '{');
	assert_non_null(strstr(out, "}\n"));
	assert_int_equal(strlen(strstr(out, "}\n")), 2); /* one object, one line */
	assert_non_null(strstr(out, "\"ok\":false"));
	assert_non_null(strstr(out, "\"exit_code\":1"));
	assert_non_null(strstr(out, "\"party\":\"alpha\""));
	assert_non_null(strstr(out, "\"computation\":\"aggregate_stats\""));
	assert_non_null(strstr(out, "\"error\":\""));
	assert_non_null(strstr(out, "job.ini:15"));
	/* a bad input file: file:line and the column */
	js.extra_param = NULL;
	common_job(job, sizeof(job), &js);
	snprintf(csv, sizeof(csv), "%s/bad-check.csv", dir);
	FILE *fp = fopen(csv, "w");
	assert_non_null(fp);
	fprintf(fp, "amount,fraud,category\n10.5,0,food\n12,0,food\n7,7,food\n");
	fclose(fp);
	rc = cli("chk",
	         "check --job %s --party alpha --keys %s/keys-alpha --trust-dealer "
	         "--input %s --format json",
	         job, dir, csv);
	out = cli_file("chk", "out");
	if (rc != 2)
		print_error("exit %d: %s\n%s\n", rc, out, cli_file("chk", "err"));
	assert_int_equal(rc, 2);
	assert_non_null(strstr(out, "\"ok\":false"));
	assert_non_null(strstr(out, "bad-check.csv:4"));
	assert_non_null(strstr(out, "fraud"));
	assert_non_null(strstr(cli_file("chk", "err"), "bad-check.csv:4"));
	/* success: every node checks at once; each prints its JSON object */
	pid_t pid[NN];
	int codes[NN];
	double t_end[NN];
	for (int i = 0; i < NN; i++) {
		char input[300] = "", cmd[2400], log[600];
		if (i < NP)
			snprintf(input, sizeof(input), " --trust-dealer --input %s/merchant%d.csv",
			         dir, i);
		snprintf(cmd, sizeof(cmd),
		         "%s/mpc-party check --job %s --party %s --keys %s/keys-%s%s "
		         "--format json > %s/json-%d.out 2> %s/json-%d.err",
		         bin, job, names[i], dir, names[i], input, dir, i, dir, i);
		snprintf(log, sizeof(log), "%s/json-%d.sh", dir, i);
		pid[i] = party_spawn_sh(cmd, log);
		assert_true(pid[i] > 0);
	}
	party_wait_all(pid, NN, codes, t_end, 60);
	for (int i = 0; i < NN; i++) {
		char name[32];
		snprintf(name, sizeof(name), "json-%d", i);
		out = cli_file(name, "out");
		if (codes[i] != 0 || !strstr(out, "\"ok\":true"))
			print_error("%s: exit %d: %s\n%s\n", names[i], codes[i], out,
			            cli_file(name, "err"));
		assert_int_equal(codes[i], 0);
		assert_true(out[0] == '{');
		assert_non_null(strstr(out, "\"ok\":true"));
		assert_non_null(strstr(out, "\"exit_code\":0,\"error\":null"));
		assert_non_null(strstr(out, "\"round_trip_ms\":"));
		if (i < NP) {
			/* the rows of merchant i's file, as the reader counts them */
			char path[600], want[64];
			mpc_txns t;
			snprintf(path, sizeof(path), "%s/merchant%d.csv", dir, i);
			assert_int_equal(mpc_txns_read(path, 1e9, &t), MPC_OK);
			snprintf(want, sizeof(want), "\"rows\":%zu,", t.n);
			mpc_txns_fini(&t);
			assert_non_null(strstr(out, want));
		} else {
			assert_non_null(strstr(out, "\"input\":null"));
		}
		/* every other node listed, confirmed */
		for (int p = 0; p < NN; p++)
			if (p != i)
				assert_non_null(strstr(out, names[p]));
		assert_null(strstr(out, "\"ok\":false"));
	}
}

/* A local mistake in this party's own address is a configuration error
 * (exit 1), not a network one. */
static void test_cannot_listen(void **s) {
	(void)s;
	char job[600], bad[700];
	job_spec js = {0};
	fresh_ports();
	common_job(job, sizeof(job), &js);
	char *text = strdup(party_slurp(job));
	char needle[64], *at;
	snprintf(needle, sizeof(needle), "tcp://127.0.0.1:%d", ports[0]);
	assert_non_null(at = strstr(text, needle));
	at[14] = 'l'; /* tcp://127.0.0.l:PORT */
	snprintf(bad, sizeof(bad), "%s/job-listen.ini", dir);
	FILE *fp = fopen(bad, "w");
	fputs(text, fp);
	fclose(fp);
	free(text);
	int rc = cli("listen",
	             "run --job %s --party alpha --keys %s/keys-alpha --trust-dealer "
	             "--input %s/merchant0.csv",
	             bad, dir, dir);
	const char *err = cli_file("listen", "err");
	if (rc != 1)
		print_error("exit %d: %s\n", rc, err);
	assert_int_equal(rc, 1);
	assert_non_null(strstr(err, "cannot listen on tcp://127.0.0.l:"));
	/* a port in use: bravo's taken by a listening socket of ours */
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)ports[1])};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 1), 0);
	rc = cli("listen",
	         "run --job %s --party bravo --keys %s/keys-bravo --trust-dealer "
	         "--input %s/merchant1.csv",
	         job, dir, dir);
	close(fd);
	err = cli_file("listen", "err");
	if (rc != 1)
		print_error("exit %d: %s\n", rc, err);
	assert_int_equal(rc, 1);
	assert_non_null(strstr(err, "cannot listen"));
}

/* charlie is stopped by a signal mid-run (paused after agreeing the job, a
 * test hook): it exits 8 and every other node stops within 2 s of it,
 * exit 5, naming charlie and the signal. */
static void signalled(int sig, const char *signame) {
	char job[600];
	job_spec js = {.connect_timeout = 5};
	run_spec rs = {0};
	pid_t pid[NN];
	int codes[NN];
	double t_end[NN];
	fresh_ports();
	common_job(job, sizeof(job), &js);
	rs.env[2] = "MPC_TEST_PAUSE_MS=20000";
	run_all(job, &rs, codes, pid);
	for (int k = 0; k < 500 && !strstr(logof(2), "same job"); k++)
		usleep(20000);
	usleep(100000);
	kill(pid[2], sig);
	party_wait_all(pid, NN, codes, t_end, 20);
	if (codes[2] != 8)
		print_error("charlie: exit %d\n%s\n", codes[2], logof(2));
	assert_int_equal(codes[2], 8);
	assert_non_null(strstr(logof(2), signame));
	for (int i = 0; i < NN; i++) {
		if (i == 2)
			continue;
		double after = t_end[i] - t_end[2];
		print_message("  %s: exit %d, %.2f s after charlie\n", names[i], codes[i], after);
		if (codes[i] != 5 || !strstr(logof(i), signame))
			print_error("%s\n", logof(i));
		assert_int_equal(codes[i], 5);
		assert_true(after < 2.0);
		assert_non_null(strstr(logof(i), "charlie"));
		assert_non_null(strstr(logof(i), signame));
		assert_false(i < NP && output_exists(i));
	}
}

static void test_sigterm(void **s) {
	(void)s;
	signalled(SIGTERM, "SIGTERM");
}
static void test_sigint(void **s) {
	(void)s;
	signalled(SIGINT, "SIGINT");
}

/* A wrong port for bravo in alpha's job file: alpha's error names the
 * address it could not reach (short connect timeout). */
static void test_wrong_port(void **s) {
	(void)s;
	char job[600], job_a[700], addr[64];
	job_spec js = {.connect_timeout = 3};
	run_spec rs = {0};
	int codes[NN], wrong;
	fresh_ports();
	common_job(job, sizeof(job), &js);
	assert_int_equal(mpc_local_free_ports(&wrong, 1), MPC_OK);
	js.addr_port[1] = wrong;
	snprintf(job_a, sizeof(job_a), "%s/job-alpha.ini", dir);
	write_job(job_a, &js);
	rs.job[0] = job_a;
	double took = run_all(job, &rs, codes, NULL);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", wrong);
	if (!strstr(logof(0), addr))
		print_error("alpha: exit %d\n%s\n", codes[0], logof(0));
	assert_int_not_equal(codes[0], 0);
	assert_non_null(strstr(logof(0), addr));
	/* told apart from a node that is reached but never says hello */
	char unreachable[128];
	snprintf(unreachable, sizeof(unreachable), "cannot reach bravo (party 1) at tcp://%s",
	         addr);
	if (!strstr(logof(0), unreachable))
		snprintf(unreachable, sizeof(unreachable), "cannot reach bravo at tcp://%s", addr);
	assert_non_null(strstr(logof(0), unreachable));
	assert_non_null(strstr(logof(0), "nothing accepts connections there"));
	/* the others reach alpha, which never says hello to them */
	assert_non_null(strstr(logof(1), "accepted our connection but never said hello"));
	for (int i = 0; i < NN; i++)
		assert_int_not_equal(codes[i], 0);
	assert_true(took < 3 + 10);
}

/* An outsider who knows every address and the job (so its session) but
 * holds no key sends to every node's port: at set-up hellos, aborts and
 * data in the clear claiming every party; while the job runs junk sealed
 * frames under every counter, junk handshake records, junk bytes, and
 * replays of every frame a tap in front of bravo caught. Nothing it sends
 * is taken: the job completes with the clear results, and every party says
 * that it dropped frames. */
static void test_forgery(void **s) {
	(void)s;
	char job[600], id[64], logs[NP][700];
	job_spec js = {.preproc = "ot"};
	run_spec rs = {.skip[NP] = 1};
	forger_spec fs = {.n = NP, .marker = "every peer has the same job"};
	int codes[NN], tap_port, tap_fd = -1;
	pid_t pid[NN];
	fresh_ports();
	assert_int_equal(mpc_local_free_ports(&tap_port, 1), MPC_OK);
	js.addr_port[1] = tap_port; /* alpha and charlie reach bravo through the tap */
	rs.listen_port[1] = ports[1];
	common_job(job, sizeof(job), &js);
	snprintf(id, sizeof(id), "cli-test-%d", (int)getpid());
	assert_int_equal(mpc_session_derive(fs.session, id), MPC_OK);
	pid_t tap = forger_tap_start(tap_port, ports[1], &tap_fd);
	assert_true(tap > 0);
	fs.tap_fd = tap_fd;
	for (int i = 0; i < NP; i++) {
		fs.ports[i] = ports[i];
		snprintf(logs[i], sizeof(logs[i]), "%s/log-%s", dir, names[i]);
		fs.logs[fs.n_logs++] = logs[i];
	}
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "rm -f %s/out-*.csv %s/log-*", dir, dir);
	party_run_cmd(cmd);
	pid_t forger = forger_start(&fs); /* before the parties: set-up included */
	assert_true(forger > 0);
	usleep(100000);
	run_all(job, &rs, codes, pid);
	for (int i = 0; i < NN; i++)
		codes[i] = pid[i] < 0 ? 0 : party_wait(pid[i], 60);
	kill(forger, SIGTERM);
	int forger_code = party_wait(forger, 10);
	kill(tap, SIGKILL);
	waitpid(tap, NULL, 0);
	close(tap_fd);
	for (int i = 0; i < NP; i++) {
		if (codes[i] != 0)
			print_error("%s: exit %d\n%s\n", names[i], codes[i], logof(i));
		assert_int_equal(codes[i], 0);
		assert_non_null(strstr(logof(i), "dropped a frame"));
	}
	check_outputs();
	/* it sent in both phases, and replayed what the tap caught */
	assert_int_equal(forger_code, 0);
}

int main(void) {
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_complete),          cmocka_unit_test(test_complete_ot),
	    cmocka_unit_test(test_complete_paillier), cmocka_unit_test(test_killed_peer_ot),
	    cmocka_unit_test(test_store_crash),       cmocka_unit_test(test_wrong_fingerprint),
	    cmocka_unit_test(test_different_job),     cmocka_unit_test(test_killed_peer),
	    cmocka_unit_test(test_stalled_peer),      cmocka_unit_test(test_mitm),
	    cmocka_unit_test(test_bad_job),           cmocka_unit_test(test_bad_csv),
	    cmocka_unit_test(test_dealer_consent),    cmocka_unit_test(test_duplicate_entries),
	    cmocka_unit_test(test_check_validates),   cmocka_unit_test(test_cannot_listen),
	    cmocka_unit_test(test_sigterm),           cmocka_unit_test(test_sigint),
	    cmocka_unit_test(test_wrong_port),        cmocka_unit_test(test_forgery),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
