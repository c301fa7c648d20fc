/* Node policy files (node/mpc_policy): a complete file read back through
 * every view, each decision's yes and its refusal naming node, file:line and
 * rule, quotas resolved with an override, every kind of mistake with its
 * exact line, limits, loading from disk, and a conninfo's password kept out
 * of every message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/mpc_policy.h"
#include "tests/support/scratch.h"

#define PW "s3cr3t-pw"

/* line numbers matter: the tests name them */
static const char full[] =
    "; merchant0's policy\n"                                            /* 1 */
    "[node]\n"                                                          /* 2 */
    "name = merchant0\n"                                                /* 3 */
    "[computations]\n"                                                  /* 4 */
    "allow = aggregate_stats, fraud_score\n"                            /* 5 */
    "[peers]\n"                                                         /* 6 */
    "proposers = merchant1, merchant2\n"                                /* 7 */
    "recipients = merchant0,merchant1\n"                                /* 8 */
    "askers = merchant1\n"                                              /* 9 */
    "[dataset txns]\n"                                                  /* 10 */
    "csv = /var/lib/mpc/txns.csv ; the export\n"                        /* 11 */
    "max_amount = 100000\n"                                             /* 12 */
    "max_rows = 1000000\n"                                              /* 13 */
    "budget_epsilon = 4\n"                                              /* 14 */
    "budget_delta = 1e-6\n"                                             /* 15 */
    "[dataset live]\n"                                                  /* 16 */
    "postgres = host=/run/postgresql dbname=shop password=" PW "\n"     /* 17 */
    "query = SELECT amount, fraud FROM txns WHERE day = current_date\n" /* 18 */
    "max_amount = 2.5e3\n"                                              /* 19 */
    "max_rows = 5000\n"                                                 /* 20 */
    "budget_epsilon = 0.5\n"                                            /* 21 */
    "[dp]\n"                                                            /* 22 */
    "max_epsilon = 1\n"                                                 /* 23 */
    "max_delta = 1e-6\n"                                                /* 24 */
    "[quota fraud_score]\n"                                             /* 25 */
    "per_minute = 600\n"                                                /* 26 */
    "per_day = 100000\n"                                                /* 27 */
    "[quota fraud_score merchant1]\n"                                   /* 28 */
    "per_minute = 60\n"                                                 /* 29 */
    "total = unlimited\n";                                              /* 30 */

static const char minimal[] = "[node]\nname = m\n";

static mpc_policy *parse_ok(const char *text) {
	mpc_policy *p = NULL;
	mpc_err e = mpc_policy_parse("policy.ini", text, strlen(text), &p);
	if (e != MPC_OK)
		print_error("%s\n", mpc_error_detail());
	assert_int_equal(e, MPC_OK);
	assert_non_null(p);
	return p;
}

/* `full` with line nr replaced or removed, or a line inserted (scratch_edit). */
static const char *edit(int nr, const char *line) {
	return scratch_edit(full, nr, line, 0);
}
static const char *insert(int nr, const char *line) {
	return scratch_edit(full, nr, line, 1);
}
/* `full` with `line` added at its end (line 31) */
static const char *append(const char *line) {
	static char buf[8192];
	snprintf(buf, sizeof(buf), "%s%s\n", full, line);
	return buf;
}

/* text must fail with MPC_ECONFIG; the detail starts with "policy.ini:LINE: "
 * (just "policy.ini: " for line 0), holds every needle and never the
 * password. */
static void bad(const char *text, int line, const char *n1, const char *n2) {
	mpc_policy *p = (mpc_policy *)&p;
	char prefix[32];
	mpc_err e = mpc_policy_parse("policy.ini", text, strlen(text), &p);
	const char *d = mpc_error_detail();
	if (line > 0)
		snprintf(prefix, sizeof(prefix), "policy.ini:%d: ", line);
	else
		snprintf(prefix, sizeof(prefix), "policy.ini: ");
	int ok = e == MPC_ECONFIG && strncmp(d, prefix, strlen(prefix)) == 0 && strstr(d, n1) &&
	         (n2 == NULL || strstr(d, n2)) && strstr(d, PW) == NULL;
	if (!ok)
		print_error("---\n%s\n--- wanted '%s' '%s' '%s', got %d: %s\n", text, prefix, n1,
		            n2 ? n2 : "", e, d);
	assert_true(ok);
	assert_null(p);
}

/* e must be a refusal whose detail is exactly want. */
static void refused(mpc_err e, const char *want) {
	if (e != MPC_EREFUSED || strcmp(mpc_error_detail(), want) != 0)
		print_error("wanted %s\n   got %d: %s\n", want, e, mpc_error_detail());
	assert_int_equal(e, MPC_EREFUSED);
	assert_string_equal(mpc_error_detail(), want);
	assert_null(strstr(mpc_error_detail(), PW));
}

#define POL "policy of merchant0 (policy.ini"

static void test_full(void **s) {
	(void)s;
	mpc_policy *p = parse_ok(full);
	assert_string_equal(mpc_policy_node(p), "merchant0");
	assert_string_equal(mpc_policy_path(p), "policy.ini");

	assert_int_equal(mpc_policy_dataset_count(p), 2);
	const mpc_policy_dataset_info *d = NULL;
	assert_int_equal(mpc_policy_dataset(p, "txns", &d), MPC_OK);
	assert_ptr_equal(d, mpc_policy_dataset_at(p, 0));
	assert_string_equal(d->name, "txns");
	assert_int_equal(d->line, 10);
	assert_int_equal(d->source, MPC_POLICY_CSV);
	assert_int_equal(d->source_line, 11);
	assert_string_equal(d->csv, "/var/lib/mpc/txns.csv"); /* comment gone */
	assert_string_equal(d->conninfo, "");
	assert_string_equal(d->query, "");
	assert_int_equal(d->query_line, 0);
	assert_true(d->max_amount == 100000);
	assert_int_equal(d->max_rows, 1000000);
	assert_true(d->budget_epsilon == 4);
	assert_true(d->budget_delta == 1e-6);
	assert_int_equal(d->max_amount_line, 12);
	assert_int_equal(d->max_rows_line, 13);
	assert_int_equal(d->budget_epsilon_line, 14);
	assert_int_equal(d->budget_delta_line, 15);

	assert_int_equal(mpc_policy_dataset(p, "live", &d), MPC_OK);
	assert_ptr_equal(d, mpc_policy_dataset_at(p, 1));
	assert_null(mpc_policy_dataset_at(p, 2));
	assert_int_equal(d->line, 16);
	assert_int_equal(d->source, MPC_POLICY_POSTGRES);
	assert_int_equal(d->source_line, 17);
	assert_string_equal(d->conninfo, "host=/run/postgresql dbname=shop password=" PW);
	assert_string_equal(d->query, "SELECT amount, fraud FROM txns WHERE day = current_date");
	assert_int_equal(d->query_line, 18);
	assert_string_equal(d->csv, "");
	assert_true(d->max_amount == 2500);
	assert_int_equal(d->max_rows, 5000);
	assert_true(d->budget_epsilon == 0.5);
	assert_true(d->budget_delta == 0); /* default */
	assert_int_equal(d->budget_delta_line, 0);

	/* decisions that pass */
	assert_int_equal(mpc_policy_allow_computation(p, "aggregate_stats"), MPC_OK);
	assert_int_equal(mpc_policy_allow_computation(p, "fraud_score"), MPC_OK);
	assert_int_equal(mpc_policy_allow_proposer(p, "merchant1"), MPC_OK);
	assert_int_equal(mpc_policy_allow_proposer(p, "merchant2"), MPC_OK);
	assert_int_equal(mpc_policy_allow_recipient(p, "merchant0"), MPC_OK);
	assert_int_equal(mpc_policy_allow_recipient(p, "merchant1"), MPC_OK);
	assert_int_equal(mpc_policy_allow_asker(p, "merchant1"), MPC_OK);
	assert_int_equal(mpc_policy_check_dp(p, "txns", 1, 1e-6), MPC_OK);
	assert_int_equal(mpc_policy_check_dp(p, "live", 0.25, 0), MPC_OK);

	/* quotas: merchant1's own per_minute and total, the default's per_day */
	mpc_policy_quota q;
	assert_int_equal(mpc_policy_quota_get(p, "fraud_score", "merchant1", &q), MPC_OK);
	assert_string_equal(q.computation, "fraud_score");
	assert_string_equal(q.peer, "merchant1");
	assert_int_equal(q.limit[MPC_POLICY_PER_MINUTE], 60);
	assert_int_equal(q.line[MPC_POLICY_PER_MINUTE], 29);
	assert_true(q.overridden[MPC_POLICY_PER_MINUTE]);
	assert_int_equal(q.limit[MPC_POLICY_PER_DAY], 100000);
	assert_int_equal(q.line[MPC_POLICY_PER_DAY], 27);
	assert_false(q.overridden[MPC_POLICY_PER_DAY]);
	assert_int_equal(q.limit[MPC_POLICY_TOTAL], 0); /* unlimited, said so */
	assert_int_equal(q.line[MPC_POLICY_TOTAL], 30);
	refused(mpc_policy_quota_refuse(p, &q, MPC_POLICY_PER_MINUTE),
	        POL ":29): [quota fraud_score merchant1] per_minute: merchant1 has used its 60 "
	            "per minute");
	refused(mpc_policy_quota_refuse(p, &q, MPC_POLICY_PER_DAY),
	        POL ":27): [quota fraud_score] per_day: merchant1 has used its 100000 per day");
	assert_int_equal(mpc_policy_quota_refuse(p, &q, MPC_POLICY_TOTAL), MPC_EINVAL);
	assert_int_equal(mpc_policy_quota_refuse(p, &q, MPC_POLICY_N_PERIODS), MPC_EINVAL);

	/* another peer: the default alone */
	assert_int_equal(mpc_policy_quota_get(p, "fraud_score", "merchant2", &q), MPC_OK);
	assert_int_equal(q.limit[MPC_POLICY_PER_MINUTE], 600);
	assert_int_equal(q.line[MPC_POLICY_PER_MINUTE], 26);
	assert_false(q.overridden[MPC_POLICY_PER_MINUTE]);
	assert_int_equal(q.limit[MPC_POLICY_TOTAL], 0);
	assert_int_equal(q.line[MPC_POLICY_TOTAL], 0); /* not set anywhere */
	refused(mpc_policy_quota_refuse(p, &q, MPC_POLICY_PER_DAY),
	        POL ":27): [quota fraud_score] per_day: merchant2 has used its 100000 per day");
	/* a computation without quotas: unlimited */
	assert_int_equal(mpc_policy_quota_get(p, "aggregate_stats", "merchant1", &q), MPC_OK);
	for (int k = 0; k < MPC_POLICY_N_PERIODS; k++)
		assert_true(q.limit[k] == 0 && q.line[k] == 0);
	assert_int_equal(mpc_policy_quota_get(p, "fraud_score", "bad name", &q), MPC_EINVAL);
	assert_int_equal(mpc_policy_quota_get(p, NULL, "m", &q), MPC_EINVAL);
	assert_int_equal(mpc_policy_quota_get(p, "fraud_score", "m", NULL), MPC_EINVAL);
	mpc_policy_free(p);
	mpc_policy_free(NULL);
}

static void test_refusals(void **s) {
	(void)s;
	mpc_policy *p = parse_ok(full);
	const mpc_policy_dataset_info *d = (const mpc_policy_dataset_info *)&d;

	refused(mpc_policy_allow_computation(p, "federated_avg"),
	        POL ":5): [computations] allow: federated_avg is not a computation this node "
	            "runs");
	refused(mpc_policy_allow_proposer(p, "merchant0"),
	        POL ":7): [peers] proposers: merchant0 may not propose jobs to this node");
	refused(mpc_policy_allow_recipient(p, "merchant2"),
	        POL ":8): [peers] recipients: merchant2 may not receive outputs");
	refused(mpc_policy_allow_asker(p, "merchant2"),
	        POL ":9): [peers] askers: merchant2 may not ask queries of this node's model");
	/* a name from outside that is not a name is not echoed */
	refused(mpc_policy_allow_asker(p, "merchant1\nforged line"),
	        POL ":9): [peers] askers: a peer without a valid party name may not ask queries "
	            "of this node's model");
	refused(mpc_policy_allow_computation(p, "x y"),
	        POL ":5): [computations] allow: (not a valid name) is not a computation this "
	            "node runs");
	refused(mpc_policy_dataset(p, "nope", &d),
	        POL "): [dataset nope]: no such dataset (this policy names 2)");
	assert_null(d);
	refused(mpc_policy_check_dp(p, "nope", 1, 0),
	        POL "): [dataset nope]: no such dataset (this policy names 2)");
	refused(mpc_policy_check_dp(p, "txns", 1.5, 0),
	        POL ":23): [dp] max_epsilon: epsilon 1.5 is more than 1, the most one job may "
	            "spend");
	refused(mpc_policy_check_dp(p, "txns", 0.5, 1e-5),
	        POL ":24): [dp] max_delta: delta 1e-05 is more than 1e-06, the most one job may "
	            "spend");
	refused(mpc_policy_check_dp(p, "live", 0, 0),
	        POL ":22): [dp] require: not given, so a release from dataset live must carry DP "
	            "noise (write require = no to allow exact ones)");
	/* not DP parameters at all */
	assert_int_equal(mpc_policy_check_dp(p, "txns", -1, 0), MPC_EINVAL);
	assert_int_equal(mpc_policy_check_dp(p, "txns", 0, 1e-6), MPC_EINVAL);
	assert_int_equal(mpc_policy_check_dp(p, "txns", 1, 1), MPC_EINVAL);
	assert_int_equal(mpc_policy_check_dp(p, "txns", 0.0 / 0.0, 0), MPC_EINVAL);
	assert_int_equal(mpc_policy_check_dp(p, "txns", 1.0 / 0.0, 0), MPC_EINVAL);
	assert_int_equal(mpc_policy_check_dp(p, NULL, 1, 0), MPC_EINVAL);
	assert_int_equal(mpc_policy_allow_proposer(NULL, "m"), MPC_EINVAL);
	assert_int_equal(mpc_policy_allow_recipient(p, NULL), MPC_EINVAL);
	assert_int_equal(mpc_policy_allow_computation(p, NULL), MPC_EINVAL);
	assert_int_equal(mpc_policy_dataset(p, "txns", NULL), MPC_EINVAL);
	refused(mpc_policy_refuse(p, 14, "[dataset txns] budget_epsilon", "%s", "spent"),
	        POL ":14): [dataset txns] budget_epsilon: spent");
	refused(mpc_policy_refuse(p, 0, "r", "w"), POL "): r: w");
	mpc_policy_free(p);

	/* require = yes said; require = no */
	p = parse_ok(insert(25, "require = yes"));
	refused(mpc_policy_check_dp(p, "txns", 0, 0),
	        POL ":25): [dp] require: a release from dataset txns must carry DP noise");
	mpc_policy_free(p);
	p = parse_ok(insert(25, "require = no"));
	assert_int_equal(mpc_policy_check_dp(p, "txns", 0, 0), MPC_OK);
	mpc_policy_free(p);
	/* no max_delta: delta must be 0 */
	p = parse_ok(edit(24, NULL));
	assert_int_equal(mpc_policy_check_dp(p, "txns", 1, 0), MPC_OK);
	refused(mpc_policy_check_dp(p, "txns", 1, 1e-9),
	        POL ":22): [dp] max_delta: delta 1e-09 is more than 0, the most one job may "
	            "spend (not given: 0)");
	mpc_policy_free(p);
}

/* What a policy that leaves things out allows: nothing. */
static void test_defaults(void **s) {
	(void)s;
	mpc_policy *p = parse_ok(minimal);
	const char *pol = "policy of m (policy.ini): ";
	char want[256];
	assert_int_equal(mpc_policy_dataset_count(p), 0);
	snprintf(want, sizeof(want),
	         "%s[computations] allow: not given, so this node runs no "
	         "computation",
	         pol);
	refused(mpc_policy_allow_computation(p, "aggregate_stats"), want);
	snprintf(want, sizeof(want),
	         "%s[peers] proposers: not given, so no peer may propose jobs "
	         "to this node",
	         pol);
	refused(mpc_policy_allow_proposer(p, "a"), want);
	snprintf(want, sizeof(want),
	         "%s[peers] recipients: not given, so no peer may receive "
	         "outputs",
	         pol);
	refused(mpc_policy_allow_recipient(p, "a"), want);
	snprintf(want, sizeof(want), "%s[dataset d]: no such dataset (this policy names 0)", pol);
	refused(mpc_policy_check_dp(p, "d", 1, 0), want);
	mpc_policy_free(p);

	/* a [peers] section without the key: its line is cited; "*" is any
	 * peer; no [dp] allows no DP release */
	p = parse_ok("[node]\nname = m\n[peers]\naskers = *\n"
	             "[dataset d]\ncsv = /d.csv\nmax_amount = 1\nmax_rows = 1\n"
	             "budget_epsilon = 1\n");
	assert_int_equal(mpc_policy_allow_asker(p, "anyone"), MPC_OK);
	refused(mpc_policy_allow_proposer(p, "a"),
	        "policy of m (policy.ini:3): [peers] proposers: not given, so no peer may "
	        "propose jobs to this node");
	refused(mpc_policy_check_dp(p, "d", 1, 0),
	        "policy of m (policy.ini): [dp] max_epsilon: not given, so no DP release is "
	        "allowed");
	refused(mpc_policy_check_dp(p, "d", 0, 0),
	        "policy of m (policy.ini): [dp] require: not given, so a release from dataset d "
	        "must carry DP noise (write require = no to allow exact ones)");
	mpc_policy_free(p);

	/* an override needs no default; an override's peer may be a proposer */
	p = parse_ok("[node]\nname = m\n[peers]\nproposers = b\n[quota aggregate_stats b]\n"
	             "per_day = 3\n");
	mpc_policy_quota q;
	assert_int_equal(mpc_policy_quota_get(p, "aggregate_stats", "b", &q), MPC_OK);
	assert_int_equal(q.limit[MPC_POLICY_PER_DAY], 3);
	assert_int_equal(q.limit[MPC_POLICY_PER_MINUTE], 0);
	assert_true(q.overridden[MPC_POLICY_PER_DAY]);
	mpc_policy_free(p);
}

static void test_errors(void **s) {
	(void)s;
	/* sections */
	bad(insert(4, "[nodes]"), 4, "unknown section; expected [node], [computations]", NULL);
	bad(insert(4, "[dataset]"), 4, "[dataset NAME]: expected one name", NULL);
	bad(insert(4, "[dataset a b]"), 4, "[dataset NAME]: expected one name", NULL);
	bad(insert(4, "[dataset a/b]"), 4, "[dataset NAME]: expected one name", NULL);
	bad(insert(4, "[peers x]"), 4, "[peers]: takes no name after peers", NULL);
	bad(insert(22, "[node]"), 22, "[node]: section given twice (first on line 2)", NULL);
	bad(insert(22, "[peers]"), 22, "[peers]: section given twice (first on line 6)", NULL);
	bad(insert(22, "[dataset txns]\ncsv = /x"), 22,
	    "[dataset txns]: section given twice (first on line 10)", NULL);
	bad(append("[quota fraud_score]"), 31,
	    "[quota fraud_score]: section given twice (first on line 25)", NULL);
	bad(append("[quota fraud_score merchant1]"), 31,
	    "[quota fraud_score merchant1]: section given twice (first on line 28)", NULL);
	bad(insert(25, "[quota fraud]"), 25, "unknown computation fraud;", NULL);
	bad(insert(25, "[quota pw=" PW "]"), 25, "unknown computation (not a valid name)",
	    NULL); /* not a name: not echoed */
	bad(insert(25, "[quota fraud_scor]"), 25, "[quota COMPUTATION [PEER]]: unknown computation",
	    "this version knows aggregate_stats, fraud_score, model_average or fed_train");
	bad(insert(25, "[quota fraud_score a b]"), 25, "[quota COMPUTATION [PEER]]: expected",
	    NULL);
	bad(insert(25, "[quota fraud_score a:b]"), 25, "expected a peer's name", NULL);
	bad(edit(28, "[quota fraud_score merchant3]"), 28,
	    "[quota fraud_score merchant3]: merchant3 is named in neither [peers] askers nor "
	    "[peers] proposers",
	    NULL);
}

static void test_errors_keys(void **s) {
	(void)s;
	bad("name = m\n", 1, "a key before any section: the file starts with [node]", NULL);
	bad("", 0, "no [node] section (it names this node)", NULL);
	bad("[node]\n", 1, "[node] name: missing (required)", NULL);
	bad(edit(3, "name = merchant 0"), 3, "[node] name: expected this node's party name", NULL);
	bad(edit(3, "nam = m"), 3, "[node] nam: unknown key; [node] takes name", NULL);
	bad(insert(4, "name = m"), 4, "[node] name: given twice (first on line 3)", NULL);
	bad(edit(3, "name ="), 3, "[node] name: no value after the =", NULL);
	bad(edit(3, "= m"), 3, "[node]: syntax error: expected key = value (no key", NULL);
	/* lists */
	bad(edit(5, "allow = aggregate_stats, fraud"), 5,
	    "[computations] allow: unknown computation fraud; this version knows "
	    "aggregate_stats, fraud_score, model_average or fed_train",
	    NULL);
	bad(edit(5, "allow = *"), 5, "[computations] allow: '*' is not allowed here", NULL);
	bad(edit(5, "allow = fraud_score,,aggregate_stats"), 5, "item 2 is empty", NULL);
	bad(edit(5, "allow = fraud_score,"), 5, "item 2 is empty", NULL);
	bad(edit(5, "allow = fraud_score, fraud_score"), 5, "fraud_score listed twice", NULL);
	bad(insert(6, "allow = fraud_score"), 6,
	    "[computations] allow: given twice (first on line 5)", NULL);
	bad(edit(7, "proposers = merchant1, *"), 7,
	    "[peers] proposers: '*' (any peer) stands alone", NULL);
	bad(edit(7, "proposers = a b"), 7, "[peers] proposers: item 1: expected a name of 1 to 32",
	    "(or '*' alone)");
	bad(edit(9, "asker = merchant1"), 9,
	    "[peers] asker: unknown key; [peers] takes proposers, recipients or askers", NULL);
	bad(insert(10, "askers = merchant2"), 10, "[peers] askers: given twice (first on line 9)",
	    NULL);
	/* datasets */
	bad(edit(11, "csv = txns.csv"), 11, "[dataset txns] csv: expected an absolute path", NULL);
	bad(edit(11, NULL), 10, "[dataset txns]: no source: give csv = PATH, or postgres", NULL);
	bad(insert(12, "postgres = host=h password=" PW), 12,
	    "[dataset txns] postgres: csv is given too (line 11): a dataset has one source", NULL);
	bad(insert(18, "csv = /x.csv"), 18, "[dataset live] csv: postgres is given too (line 17)",
	    NULL);
	bad(insert(12, "query = SELECT 1"), 12,
	    "[dataset txns] query: only with postgres (this dataset is the CSV file of line 11)",
	    NULL);
	bad(edit(18, NULL), 16, "[dataset live] query: missing: postgres needs query = SELECT",
	    NULL);
	bad(edit(18, "query = DELETE FROM txns"), 18,
	    "[dataset live] query: expected a query that "
	    "reads",
	    NULL);
	bad(edit(18, "query = SELECTION"), 18, "[dataset live] query: expected", NULL);
	bad(edit(17, "postgres = " PW), 17, "[dataset live] postgres: expected a libpq conninfo",
	    NULL);
	bad(insert(18, "postgres = password=" PW), 18,
	    "[dataset live] postgres: given twice (first on line 17)", NULL);
	bad(insert(18, "password = " PW), 18,
	    "[dataset live] password: unknown key; [dataset live] "
	    "takes csv, postgres, query",
	    NULL);
	bad(insert(18, "host=/run " PW), 18, "[dataset live] host: unknown key", NULL);
	bad(insert(18, PW), 18, "syntax error: expected key = value", NULL);
	bad(insert(18, "Query = " PW), 18, "[dataset live]: unknown key;", NULL); /* not echoed */
	bad(edit(12, NULL), 10, "[dataset txns] max_amount: missing (required)", NULL);
	bad(edit(13, NULL), 10, "[dataset txns] max_rows: missing (required)", NULL);
	bad(edit(14, NULL), 10, "[dataset txns] budget_epsilon: missing (required)", NULL);
	bad(edit(21, NULL), 16, "[dataset live] budget_epsilon: missing (required)", NULL);
	bad(edit(12, "max_amount = 0"), 12,
	    "[dataset txns] max_amount: expected a number from 1e-9", NULL);
	bad(edit(12, "max_amount = 1e16"), 12, "max_amount: expected", NULL);
	bad(edit(12, "max_amount = inf"), 12, "max_amount: expected", NULL);
	bad(edit(12, "max_amount = 0x10"), 12, "max_amount: expected", NULL);
	bad(edit(13, "max_rows = 1.5"), 13, "[dataset txns] max_rows: expected a whole number",
	    NULL);
	bad(edit(13, "max_rows = 0"), 13, "max_rows: expected a whole number", NULL);
	bad(edit(13, "max_rows = 1000000000001"), 13, "max_rows: expected a whole number", NULL);
	bad(edit(13, "max_rows = 99999999999999999999"), 13, "max_rows: expected", NULL);
	bad(edit(14, "budget_epsilon = 0"), 14, "budget_epsilon: expected a number more than 0",
	    NULL);
	bad(edit(14, "budget_epsilon = nan"), 14, "budget_epsilon: expected", NULL);
	bad(edit(15, "budget_delta = 1"), 15,
	    "budget_delta: expected a number from 0 to less than 1", NULL);
	bad(edit(15, "budget_delta = -1e-9"), 15, "budget_delta: expected", NULL);
	/* dp */
	bad(edit(23, "max_epsilon = 0"), 23, "[dp] max_epsilon: expected a number more than 0",
	    NULL);
	bad(edit(23, "max_epsilon = 1e7"), 23, "[dp] max_epsilon: expected", NULL);
	bad(edit(24, "max_delta = 1"), 24, "[dp] max_delta: expected a number from 0 to less",
	    NULL);
	bad(edit(24, "require = maybe"), 24, "[dp] require: expected yes", NULL);
	bad(edit(24, "max_eps = 1"), 24,
	    "[dp] max_eps: unknown key; [dp] takes max_epsilon, "
	    "max_delta or require",
	    NULL);
	bad(insert(24, "max_epsilon = 2"), 24, "[dp] max_epsilon: given twice (first on line 23)",
	    NULL);
	/* quotas */
	bad(edit(26, "per_minute = 0"), 26,
	    "[quota fraud_score] per_minute: 0 is no quota: write "
	    "'unlimited'",
	    NULL);
	bad(edit(26, "per_minute = -5"), 26, "per_minute: expected a whole number from 1", NULL);
	bad(edit(26, "per_minute = 1e3"), 26, "per_minute: expected a whole number", NULL);
	bad(edit(27, "per_day = 1000000000000001"), 27, "per_day: expected a whole number", NULL);
	bad(edit(27, "per_hour = 5"), 27,
	    "[quota fraud_score] per_hour: unknown key; [quota "
	    "fraud_score] takes per_minute, per_day or total",
	    NULL);
	bad(insert(30, "per_minute = 6"), 30,
	    "[quota fraud_score merchant1] per_minute: given twice (first on line 29)", NULL);
	bad(scratch_edit(edit(30, NULL), 29, NULL, 0), 28,
	    "[quota fraud_score merchant1]: sets no limit (per_minute, per_day or total)", NULL);
}

static void test_limits(void **s) {
	(void)s;
	char text[16384];
	size_t k = (size_t)snprintf(text, sizeof(text), "[node]\nname = m\n");
	for (int i = 0; i <= MPC_POLICY_MAX_DATASETS; i++)
		k += (size_t)snprintf(text + k, sizeof(text) - k,
		                      "[dataset d%d]\ncsv = /d\nmax_amount = 1\nmax_rows = 1\n"
		                      "budget_epsilon = 1\n",
		                      i);
	bad(text, 3 + 5 * MPC_POLICY_MAX_DATASETS, "too many datasets: at most 32", NULL);
	/* one fewer: fine */
	char *cut = strstr(text, "[dataset d32]");
	assert_non_null(cut);
	*cut = '\0';
	mpc_policy *p = parse_ok(text);
	assert_int_equal(mpc_policy_dataset_count(p), MPC_POLICY_MAX_DATASETS);
	mpc_policy_free(p);

	/* names in a list */
	k = (size_t)snprintf(text, sizeof(text), "[node]\nname = m\n[peers]\naskers = p0");
	for (int i = 1; i < MPC_POLICY_MAX_PEERS; i++)
		k += (size_t)snprintf(text + k, sizeof(text) - k, ",p%d", i);
	snprintf(text + k, sizeof(text) - k, "\n");
	p = parse_ok(text);
	assert_int_equal(mpc_policy_allow_asker(p, "p63"), MPC_OK);
	mpc_policy_free(p);
	snprintf(text + k, sizeof(text) - k, ",p64\n");
	bad(text, 4, "[peers] askers: more than 64 names", NULL);

	/* quota sections */
	k = (size_t)snprintf(text, sizeof(text), "[node]\nname = m\n[peers]\naskers = *\n");
	for (int i = 0; i <= MPC_POLICY_MAX_QUOTAS; i++)
		k += (size_t)snprintf(text + k, sizeof(text) - k,
		                      "[quota fraud_score p%d]\ntotal = 1\n", i);
	bad(text, 5 + 2 * MPC_POLICY_MAX_QUOTAS, "too many quota sections: at most 64", NULL);

	/* a long line: a long query fits, one character more does not */
	char line[MPC_POLICY_MAX_TEXT + 2];
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	memcpy(line, "query = SELECT ", 15);
	bad(edit(18, line), 18, "line too long (at most 1024 characters)", NULL);
	line[sizeof(line) - 2] = '\0';
	p = parse_ok(edit(18, line));
	const mpc_policy_dataset_info *d;
	assert_int_equal(mpc_policy_dataset(p, "live", &d), MPC_OK);
	assert_int_equal(strlen(d->query), MPC_POLICY_MAX_TEXT - 8);
	mpc_policy_free(p);
}

static void test_load(void **s) {
	(void)s;
	char path[] = "/tmp/test_policy_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, full, strlen(full)), (ssize_t)strlen(full));
	close(fd);
	mpc_policy *p = NULL;
	assert_int_equal(mpc_policy_load(path, &p), MPC_OK);
	assert_string_equal(mpc_policy_path(p), path);
	char want[128];
	snprintf(want, sizeof(want),
	         "policy of merchant0 (%s:9): [peers] askers: x may not ask queries of this "
	         "node's model",
	         path);
	refused(mpc_policy_allow_asker(p, "x"), want);
	mpc_policy_free(p);

	/* a mistake names the file */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	const char *t = edit(3, "name = ");
	assert_int_equal(write(fd, t, strlen(t)), (ssize_t)strlen(t));
	close(fd);
	p = (mpc_policy *)&p;
	assert_int_equal(mpc_policy_load(path, &p), MPC_ECONFIG);
	assert_null(p);
	snprintf(want, sizeof(want), "%s:3: [node] name: no value after the =", path);
	assert_string_equal(mpc_error_detail(), want);
	unlink(path);
	p = (mpc_policy *)&p;
	assert_int_equal(mpc_policy_load(path, &p), MPC_EIO);
	assert_null(p);
	assert_int_equal(mpc_policy_load(NULL, &p), MPC_EINVAL);
	assert_int_equal(mpc_policy_parse("x", NULL, 1, &p), MPC_EINVAL);
	assert_int_equal(mpc_policy_parse("x", full, strlen(full), NULL), MPC_EINVAL);
}

/* The password shows in no message: every error above checked it; here the
 * reader's own messages for the conninfo's line. */
static void test_password(void **s) {
	(void)s;
	const char nul[] = "[node]\nname = m\n[dataset d]\npostgres = password=" PW "\0\n";
	mpc_policy *p = NULL;
	assert_int_equal(mpc_policy_parse("policy.ini", nul, sizeof(nul) - 1, &p), MPC_ECONFIG);
	assert_string_equal(mpc_error_detail(), "policy.ini:4: a NUL byte: a policy file is text");
	/* a URI with the password in it, a bad line after it */
	bad(edit(17, "postgres = postgresql://shop:" PW "@db/shop\n]"), 18,
	    "syntax error: expected key = value", NULL);
	bad(edit(17, "postgres = postgresql://shop:" PW "@db/shop\nquery = UPDATE"), 18,
	    "query: expected a query that reads", NULL);
	p = parse_ok(edit(17, "postgres = postgres://shop:" PW "@db/shop"));
	const mpc_policy_dataset_info *d;
	assert_int_equal(mpc_policy_dataset(p, "live", &d), MPC_OK);
	assert_string_equal(d->conninfo, "postgres://shop:" PW "@db/shop");
	refused(mpc_policy_check_dp(p, "live", 2, 0),
	        POL ":23): [dp] max_epsilon: epsilon 2 is more than 1, the most one job may "
	            "spend");
	mpc_policy_free(p);
}

int main(void) {
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full),        cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_defaults),    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_errors_keys), cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_load),        cmocka_unit_test(test_password),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
