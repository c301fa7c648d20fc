/* Loopback: transactions from a real PostgreSQL server (jobs/mpc_pg.h), a
 * throwaway cluster started and stopped here (tests/support/pg.h; skipped,
 * saying what to install, where none can be started). 20,000 rows loaded
 * from the very CSV file the test writes read back equal, field by field,
 * to mpc_txns_read's (negative, integer, signed, bound-exact and many-digit
 * amounts; columns in another order, an extra one); bad values fail with the
 * same code and message from both paths (row N for file:line), NULLs name
 * row and column; missing and doubled columns, bad, writing, multi-statement
 * and slow queries, data exceptions, refused, silent and unparsable
 * connections fail with their codes, fast; no message ever holds a value or
 * the connection string's password. Then a real aggregate: two parties and
 * a dealer, one reading the database and one the file, against the clear
 * sums. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first */
#include <cmocka.h>

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "jobs/mpc_agg_io.h"
#include "jobs/mpc_pg.h"
#include "tests/support/mpc_local.h"
#include "tests/support/pg.h"

#define ROWS   20000
#define BOUND  100000.0
#define SECRET "SECRETPW"
#define QUERY  "SELECT category, amount, note, fraud FROM txns ORDER BY id"

static pgtest *server;
static char csv_path[] = "/tmp/test_pg_XXXXXX";
static char conninfo[256]; /* the server's, with password=SECRET (trust ignores it) */

static double now_s(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static PGconn *db(void) {
	PGconn *c = PQconnectdb(pgtest_conninfo(server));
	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("connect: %s", PQerrorMessage(c));
	return c;
}

/* Run sql (params: n text values) on c; it must succeed. */
static void exec(PGconn *c, const char *sql, int n, const char *const *params) {
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
}

/* The amount of row i, in one of the shapes a file may hold. */
static void amount_text(size_t i, char *buf, size_t size) {
	long v = (long)((i * 2654435761u) % 19999999) - 9999999; /* cents */
	switch (i % 8) {
	case 0:
		snprintf(buf, size, "%.2f", v / 100.0);
		break;
	case 1:
		snprintf(buf, size, "%ld", v / 100);
		break;
	case 2:
		snprintf(buf, size, "-0.%06ld", labs(v) % 1000000);
		break;
	case 3:
		snprintf(buf, size, "+%ld.5", labs(v) / 1000);
		break;
	case 4:
		snprintf(buf, size, i % 16 == 4 ? "100000" : "-100000.00");
		break;
	case 5:
		snprintf(buf, size, "0");
		break;
	case 6:
		snprintf(buf, size, ".%02ld", labs(v) % 100);
		break;
	default:
		snprintf(buf, size, "%ld.%03ld", v / 1000, labs(v) % 1000);
		break;
	}
}

/* The CSV file, and the same bytes copied into table txns. */
static void make_data(void) {
	static const char *const cats[] = {"food",
	                                   "travel",
	                                   "fuel",
	                                   "Online_shop",
	                                   "a.b-c",
	                                   "X",
	                                   "abcdefghijklmnopqrstuvwxyz012345"};
	size_t cap = 64 + (size_t)ROWS * 96, len = 0;
	char *text = malloc(cap), amount[48];
	assert_non_null(text);
	len += (size_t)snprintf(text, cap, "category,amount,note,fraud\n");
	for (size_t i = 0; i < ROWS; i++) {
		amount_text(i, amount, sizeof(amount));
		len += (size_t)snprintf(text + len, cap - len, "%s,%s,n%zu,%d\n",
		                        cats[(i * 7 + i / 13) % 7], amount, i, i % 11 == 3);
	}
	int fd = mkstemp(csv_path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);

	PGconn *c = db();
	exec(c,
	     "CREATE TABLE txns (id bigserial PRIMARY KEY, category text, amount numeric, "
	     "note text, fraud smallint)",
	     0, NULL);
	exec(c, "CREATE TABLE bad (id int PRIMARY KEY, amount text, fraud text, category text)", 0,
	     NULL);
	PGresult *r = PQexec(c, "COPY txns (category, amount, note, fraud) FROM STDIN "
	                        "WITH (FORMAT csv, HEADER true)");
	assert_int_equal(PQresultStatus(r), PGRES_COPY_IN);
	PQclear(r);
	assert_int_equal(PQputCopyData(c, text, (int)len), 1);
	assert_int_equal(PQputCopyEnd(c, NULL), 1);
	r = PQgetResult(c);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		fail_msg("copy: %s", PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
	free(text);
}

static void no_secret(void) {
	const char *d = mpc_error_detail();
	if (strstr(d, SECRET) != NULL)
		fail_msg("the password in a message: %s", d);
}

static void expect_equal(const mpc_txns *a, const mpc_txns *b) {
	assert_int_equal(a->n, b->n);
	assert_int_equal(a->n_cats, b->n_cats);
	for (size_t k = 0; k < a->n_cats; k++)
		assert_string_equal(a->cats[k], b->cats[k]);
	for (size_t i = 0; i < a->n; i++) {
		if (a->amount[i] != b->amount[i])
			fail_msg("row %zu: amount %.17g and %.17g", i + 1, a->amount[i],
			         b->amount[i]);
		assert_int_equal(a->fraud[i], b->fraud[i]);
		assert_int_equal(a->category[i], b->category[i]);
	}
}

/* Every row from the database equals the file's; also as text columns, and
 * an empty result. */
static void test_equal_csv(void **st) {
	(void)st;
	mpc_txns f, d;
	double t0 = now_s();
	assert_int_equal(mpc_txns_read(csv_path, BOUND, &f), MPC_OK);
	double t1 = now_s();
	if (mpc_txns_read_pg("dataset txns", conninfo, QUERY, NULL, BOUND, &d) != MPC_OK)
		fail_msg("%s", mpc_error_detail());
	print_message("%d rows: file %.3f s, database %.3f s\n", ROWS, t1 - t0, now_s() - t1);
	assert_int_equal(f.n, ROWS);
	assert_int_equal(f.n_cats, 7);
	expect_equal(&f, &d);
	mpc_txns_fini(&d);
	assert_int_equal(mpc_txns_read_pg("dataset txns", conninfo,
	                                  "SELECT amount::text AS amount, fraud::text AS fraud, "
	                                  "category FROM txns ORDER BY id",
	                                  NULL, BOUND, &d),
	                 MPC_OK);
	expect_equal(&f, &d);
	mpc_txns_fini(&d);
	assert_int_equal(mpc_txns_read_pg("dataset txns", conninfo,
	                                  "SELECT * FROM txns WHERE false", NULL, BOUND, &d),
	                 MPC_OK);
	assert_int_equal(d.n, 0);
	mpc_txns_fini(&d);
	mpc_txns_fini(&f);
}

/* One bad row after a good one, through both paths: the same code, and
 * the same message after "t.csv:3: " and "dataset t row 2: ". */
static void fails_alike(const char *amount, const char *fraud, const char *category, mpc_err want) {
	char csv[256], file_msg[1024];
	mpc_txns t;
	snprintf(csv, sizeof(csv), "amount,fraud,category\n1,0,a\n%s,%s,%s\n", amount, fraud,
	         category);
	assert_int_equal(mpc_txns_parse("t.csv", csv, strlen(csv), 1000, &t), want);
	snprintf(file_msg, sizeof(file_msg), "%s", mpc_error_detail());
	assert_int_equal(strncmp(file_msg, "t.csv:3: ", 9), 0);

	PGconn *c = db();
	const char *const row[] = {amount, fraud, category};
	exec(c, "TRUNCATE bad", 0, NULL);
	exec(c, "INSERT INTO bad VALUES (1, '1', '0', 'a')", 0, NULL);
	exec(c, "INSERT INTO bad VALUES (2, $1, $2, $3)", 3, row);
	PQfinish(c);
	assert_int_equal(mpc_txns_read_pg("dataset t", conninfo,
	                                  "SELECT amount, fraud, category FROM bad ORDER BY id",
	                                  NULL, 1000, &t),
	                 want);
	const char *d = mpc_error_detail();
	if (strncmp(d, "dataset t row 2: ", 17) != 0 || strcmp(d + 17, file_msg + 9) != 0)
		fail_msg("file: '%s', database: '%s'", file_msg, d);
	for (int k = 0; k < 3; k++)
		if (strlen(row[k]) >= 3 && strstr(d, row[k]) != NULL)
			fail_msg("the value '%s' in '%s'", row[k], d);
	no_secret();
	mpc_txns_fini(&t);
}

static void test_values_fail_alike(void **st) {
	(void)st;
	static const char *const amounts[] = {"12abc", "1e3", "0x10", "inf",   "nan",
	                                      "",      " 1",  "--1",  "1.2.3", "12-"};
	for (size_t i = 0; i < sizeof(amounts) / sizeof(*amounts); i++)
		fails_alike(amounts[i], "0", "food", MPC_EINVAL);
	fails_alike("1000.01", "0", "food", MPC_ERANGE);
	fails_alike("-1000.5", "1", "food", MPC_ERANGE);
	fails_alike("5", "2", "food", MPC_EINVAL);
	fails_alike("5", "true", "food", MPC_EINVAL);
	fails_alike("5", "01", "food", MPC_EINVAL);
	fails_alike("5", "1", "bad cat", MPC_EINVAL);
	fails_alike("5", "1", "", MPC_EINVAL);
	fails_alike("5", "1", "abcdefghijklmnopqrstuvwxyz0123456", MPC_EINVAL);
}

/* A NULL in each column: the row and the column, nothing else. */
static void test_nulls(void **st) {
	(void)st;
	static const char *const cols[] = {"amount", "fraud", "category"};
	char sql[256], want[128];
	mpc_txns t;
	for (int k = 0; k < 3; k++) {
		PGconn *c = db();
		exec(c, "TRUNCATE bad", 0, NULL);
		exec(c,
		     "INSERT INTO bad VALUES (1, '1', '0', 'a'), (2, '2', '1', 'b'), (3, '3', '0', "
		     "'c')",
		     0, NULL);
		snprintf(sql, sizeof(sql), "UPDATE bad SET %s = NULL WHERE id = 3", cols[k]);
		exec(c, sql, 0, NULL);
		PQfinish(c);
		assert_int_equal(mpc_txns_read_pg("dataset t", conninfo,
		                                  "SELECT * FROM bad ORDER BY id", NULL, 1000, &t),
		                 MPC_EINVAL);
		snprintf(want, sizeof(want), "dataset t row 3: column %s: no value (NULL)",
		         cols[k]);
		assert_string_equal(mpc_error_detail(), want);
		assert_int_equal(t.n, 0);
		mpc_txns_fini(&t);
	}
}

/* read_pg must fail with code and a detail holding n1 (and n2), fast. */
static void pg_fails(const char *conn, const char *query, const mpc_pg_opts *o, mpc_err code,
                     const char *n1, const char *n2, double max_s) {
	mpc_txns t;
	double t0 = now_s();
	mpc_err err = mpc_txns_read_pg("dataset t", conn, query, o, 1000, &t);
	double s = now_s() - t0;
	const char *d = mpc_error_detail();
	print_message("%.2f s: %s\n", s, d);
	if (err != code || strstr(d, n1) == NULL || (n2 && strstr(d, n2) == NULL))
		fail_msg("%s: %s (want %s, '%s')", mpc_strerror(err), d, mpc_strerror(code), n1);
	if (s > max_s)
		fail_msg("%.2f s, more than %.1f s", s, max_s);
	no_secret();
	assert_int_equal(t.n, 0);
	mpc_txns_fini(&t);
}

static void test_columns(void **st) {
	(void)st;
	pg_fails(conninfo, "SELECT amount, fraud FROM txns", NULL, MPC_EINVAL,
	         "dataset t: the query's result has no 'category' column", NULL, 10);
	pg_fails(conninfo, "SELECT 1 AS amount, 2 AS amount, 0 AS fraud, 'a' AS category", NULL,
	         MPC_EINVAL, "column 'amount' twice", NULL, 10);
	/* names are exact, as in a file's header */
	pg_fails(conninfo, "SELECT 1 AS \"Amount\", 0 AS fraud, 'a' AS category", NULL, MPC_EINVAL,
	         "no 'amount' column", NULL, 10);
	pg_fails(conninfo, "SET work_mem = '8MB'", NULL, MPC_EINVAL, "returned no rows", NULL, 10);
}

static void test_query_errors(void **st) {
	(void)st;
	mpc_pg_opts quick = {.query_timeout_s = 1};
	pg_fails(conninfo, "SELEC amount, fraud, category FROM txns", NULL, MPC_EIO, "syntax error",
	         "42601", 10);
	pg_fails(conninfo, "SELECT * FROM no_such_table", NULL, MPC_EIO, "does not exist", "42P01",
	         10);
	/* a data exception's message quotes the value: the SQLSTATE alone */
	pg_fails(conninfo, "SELECT 'SECRETVALUE'::numeric AS amount, 0 AS fraud, 'a' AS category",
	         NULL, MPC_EIO, "22P02", "not shown", 10);
	assert_null(strstr(mpc_error_detail(), "SECRETVALUE"));
	/* the session is read-only, and one statement only */
	pg_fails(conninfo,
	         "INSERT INTO bad VALUES (9, '1', '0', 'a') RETURNING amount, fraud, category",
	         NULL, MPC_EIO, "read-only", "25006", 10);
	pg_fails(conninfo, "SELECT 1 AS amount; DROP TABLE txns", NULL, MPC_EIO,
	         "multiple commands", NULL, 10);
	/* a slow query is cancelled by the server's statement_timeout */
	pg_fails(conninfo, "SELECT pg_sleep(5)::text AS amount, '0' AS fraud, 'a' AS category",
	         &quick, MPC_ETIMEDOUT, "57014", NULL, 3);
}

/* A listening socket that never accepts: the kernel completes the
 * handshake, the server never answers. */
static int silent_listener(int *port) {
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s, 4), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return s;
}

static void test_connection_errors(void **st) {
	(void)st;
	char conn[300];
	int port, ports[1];
	mpc_pg_opts quick = {.connect_timeout_s = 2};

	assert_int_equal(mpc_local_free_ports(ports, 1), MPC_OK);
	snprintf(conn, sizeof(conn), "host=127.0.0.1 port=%d user=mpc password=" SECRET, ports[0]);
	pg_fails(conn, QUERY, NULL, MPC_ENET, "dataset t: cannot connect to the database",
	         "refused", 2);
	int s = silent_listener(&port);
	/* a server that never answers: our connect_timeout binds over the
	 * conninfo's own */
	snprintf(conn, sizeof(conn), "host=127.0.0.1 port=%d connect_timeout=600 password=" SECRET,
	         port);
	pg_fails(conn, QUERY, &quick, MPC_ENET, "cannot connect", "timeout", 5);
	close(s);
	snprintf(conn, sizeof(conn), "%s dbname=no_such_db", conninfo);
	pg_fails(conn, QUERY, NULL, MPC_ENET, "no_such_db", "does not exist", 10);
	/* libpq's parser would quote the text: we say only that it failed */
	pg_fails("host=127.0.0.1 password=" SECRET " XYZZY", QUERY, NULL, MPC_ECONFIG,
	         "cannot be parsed", NULL, 1);
	assert_null(strstr(mpc_error_detail(), "XYZZY"));
	pg_fails("postgresql://mpc:" SECRET "%zz@127.0.0.1/x", QUERY, NULL, MPC_ECONFIG,
	         "cannot be parsed", NULL, 1);
}

/* The aggregate: party 0 reads the database, party 1 the file. */
static struct {
	mpc_agg_spec spec;
	const char *names[8];
	size_t n_names;
} agg;

static mpc_err agg_body(mpc_party *p, void *arg) {
	mpc_txns t;
	mpc_agg_rows rows;
	mpc_agg_result res;
	(void)arg;
	mpc_err err = mpc_party_id(p) == 0
	                  ? mpc_txns_read_pg("dataset txns", conninfo, QUERY, NULL, BOUND, &t)
	                  : mpc_txns_read(csv_path, BOUND, &t);
	if (err != MPC_OK)
		return err;
	double *fraud = malloc(t.n * sizeof(double));
	uint32_t *grp = malloc(t.n * sizeof(uint32_t));
	if (fraud == NULL || grp == NULL)
		err = MPC_ENOMEM;
	if (err == MPC_OK) {
		mpc_agg_rows_from_txns(&t, agg.names, agg.n_names, fraud, grp, &rows);
		err = mpc_agg_run(p, &agg.spec, &rows, &res);
	}
	if (err == MPC_OK) {
		double o[3 * 9];
		for (size_t g = 0; g <= agg.n_names; g++) {
			const mpc_agg_stats *s = g == 0 ? &res.all : &res.group[g - 1];
			o[3 * g] = s->count, o[3 * g + 1] = s->sum, o[3 * g + 2] = s->fraud_rate;
		}
		err = mpc_local_emit(o, 3 * (agg.n_names + 1) * sizeof(double));
		mpc_agg_result_fini(&res);
	}
	free(fraud);
	free(grp);
	mpc_txns_fini(&t);
	return err;
}

static void test_aggregate(void **st) {
	(void)st;
	mpc_txns f;
	mpc_local_result res[3];
	mpc_local_config cfg = {.n_parties = 2, .with_dealer = 1, .watchdog_s = 120};
	double want[3 * 9] = {0};

	assert_int_equal(mpc_txns_read(csv_path, BOUND, &f), MPC_OK);
	mpc_agg_spec_default(&agg.spec);
	agg.spec.stats = MPC_AGG_COUNT | MPC_AGG_SUM | MPC_AGG_MEAN | MPC_AGG_FRAUD;
	agg.spec.fraud_col = 1;
	agg.spec.max_abs = BOUND;
	agg.spec.max_rows = ROWS;
	agg.n_names = f.n_cats;
	agg.spec.n_groups = f.n_cats;
	for (size_t k = 0; k < f.n_cats; k++)
		agg.names[k] = f.cats[k];
	/* both parties hold the same rows: every count and sum twice */
	for (size_t i = 0; i < f.n; i++) {
		size_t cohort[2] = {0, f.category[i] + 1}; /* all, and its category */
		for (int j = 0; j < 2; j++) {
			want[3 * cohort[j]] += 2;
			want[3 * cohort[j] + 1] += 2 * f.amount[i];
			want[3 * cohort[j] + 2] += 2 * f.fraud[i];
		}
	}
	assert_int_equal(mpc_local_run(&cfg, agg_body, NULL, res), MPC_OK);
	for (int i = 0; i < 2; i++)
		if (res[i].err != MPC_OK)
			fail_msg("party %d: %s", i, res[i].detail);
	assert_int_equal(res[0].out_len, 3 * (f.n_cats + 1) * sizeof(double));
	const double *o = (const double *)res[0].out;
	for (size_t g = 0; g <= f.n_cats; g++) {
		assert_true(o[3 * g] == want[3 * g]);
		if (fabs(o[3 * g + 1] - want[3 * g + 1]) > 0.5)
			fail_msg("cohort %zu: sum %.6f, clear %.6f", g, o[3 * g + 1],
			         want[3 * g + 1]);
		if (fabs(o[3 * g + 2] - want[3 * g + 2] / want[3 * g]) > 1e-3)
			fail_msg("cohort %zu: fraud rate %.6f", g, o[3 * g + 2]);
	}
	print_message("aggregate over %zu + %zu rows: sum %.2f (clear %.2f)\n", f.n, f.n, o[1],
	              want[1]);
	mpc_local_results_fini(res, 3);
	mpc_txns_fini(&f);
}

int main(void) {
	char why[600];
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_equal_csv),    cmocka_unit_test(test_values_fail_alike),
	    cmocka_unit_test(test_nulls),        cmocka_unit_test(test_columns),
	    cmocka_unit_test(test_query_errors), cmocka_unit_test(test_connection_errors),
	    cmocka_unit_test(test_aggregate),
	};
	alarm(300);
	if ((server = pgtest_start(why, sizeof(why))) == NULL) {
		printf("test_pg: skipped: %s\n", why);
		return 0;
	}
	snprintf(conninfo, sizeof(conninfo), "%s password=" SECRET, pgtest_conninfo(server));
	make_data();
	if (getenv("MPC_TEST_FILTER"))
		cmocka_set_test_filter(getenv("MPC_TEST_FILTER"));
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	pgtest_stop(server);
	unlink(csv_path);
	return failed ? 1 : 0;
}
