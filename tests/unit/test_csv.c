/* The job layer's CSV reader (records, header, limits, numbers) and the
 * readers built on it: transactions, fraud_score's features and models.
 * Good files, and every kind of bad line with its file:line and column,
 * never the offending value. */
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
#include <unistd.h>

#include "jobs/kind_score.h"
#include "jobs/mpc_csv.h"

static mpc_err parse(const char *text, mpc_txns *t) {
	return mpc_txns_parse("m.csv", text, strlen(text), 1e6, t);
}

static void test_good(void **s) {
	(void)s;
	mpc_txns t;
	assert_int_equal(parse("category,amount,fraud,extra\r\ngrocery,12.50,0,x\n\nfuel,-3,1,y\n"
	                       "grocery,+0.125,0,z",
	                       &t),
	                 MPC_OK);
	assert_int_equal(t.n, 3);
	assert_true(t.amount[0] == 12.5 && t.amount[1] == -3 && t.amount[2] == 0.125);
	assert_int_equal(t.fraud[1], 1);
	assert_int_equal(t.n_cats, 2);
	assert_string_equal(t.cats[t.category[2]], "grocery");
	assert_string_equal(t.cats[t.category[1]], "fuel");
	mpc_txns_fini(&t);
	assert_int_equal(parse("amount,fraud,category\n", &t), MPC_OK);
	assert_int_equal(t.n, 0);
	mpc_txns_fini(&t);
}

/* text must fail with code and a detail containing every needle */
static void bad(const char *text, mpc_err code, const char *n1, const char *n2) {
	mpc_txns t;
	mpc_err e = parse(text, &t);
	const char *d = mpc_error_detail();
	if (e != code || strstr(d, n1) == NULL || (n2 && strstr(d, n2) == NULL))
		print_error("text %s: got %d '%s'\n", text, e, d);
	assert_int_equal(e, code);
	assert_non_null(strstr(d, n1));
	if (n2)
		assert_non_null(strstr(d, n2));
	assert_null(t.amount);
	assert_int_equal(t.n, 0);
}

static void test_bad(void **s) {
	(void)s;
	const char *h = "amount,fraud,category\n";
	char buf[256];
	bad("", MPC_EINVAL, "m.csv", "header");
	bad("amount,fraud\n1,0\n", MPC_EINVAL, "m.csv:1", "category");
	bad("amount,amount,fraud,category\n", MPC_EINVAL, "m.csv:1", "twice");
	snprintf(buf, sizeof(buf), "%s1,0,a\n9x7.5,0,a\n", h);
	bad(buf, MPC_EINVAL, "m.csv:3", "amount");
	/* the value itself is secret: not echoed */
	assert_null(strstr(mpc_error_detail(), "9x7"));
	snprintf(buf, sizeof(buf), "%s1e3,0,a\n", h);
	bad(buf, MPC_EINVAL, "m.csv:2", "amount");
	snprintf(buf, sizeof(buf), "%snan,0,a\n", h);
	bad(buf, MPC_EINVAL, "m.csv:2", "amount");
	snprintf(buf, sizeof(buf), "%s,0,a\n", h);
	bad(buf, MPC_EINVAL, "m.csv:2", "amount");
	snprintf(buf, sizeof(buf), "%s1,2,a\n", h);
	bad(buf, MPC_EINVAL, "m.csv:2", "fraud");
	snprintf(buf, sizeof(buf), "%s1,0,\n", h);
	bad(buf, MPC_EINVAL, "m.csv:2", "category");
	snprintf(buf, sizeof(buf), "%s1,0,a b\n", h);
	bad(buf, MPC_EINVAL, "m.csv:2", "category");
	snprintf(buf, sizeof(buf), "%s1,0,a,extra\n", h);
	bad(buf, MPC_EINVAL, "m.csv:2", "fields");
	snprintf(buf, sizeof(buf), "%s\"1\",0,a\n", h);
	bad(buf, MPC_EINVAL, "m.csv:2", "quotes");
	snprintf(buf, sizeof(buf), "%s1,0,a\n1234567.5,0,a\n", h);
	bad(buf, MPC_ERANGE, "m.csv:3", "range");
	assert_null(strstr(mpc_error_detail(), "1234567"));
}

/* Records: blank lines skipped, \r\n taken off, line numbers kept; the
 * header looked up by name. */
static void test_reader(void **s) {
	(void)s;
	const char *text = "a,b,c\r\n\r\n1,2,3\n\n x,,z\r\n4,5,6";
	const mpc_csv_opts o = {.header = 1};
	mpc_csv *c;
	char **f;
	int n;
	assert_int_equal(mpc_csv_open_mem("r.csv", text, strlen(text), &o, &c), MPC_OK);
	assert_int_equal(mpc_csv_col(c, "c"), 2);
	assert_int_equal(mpc_csv_col(c, "d"), -1);
	assert_int_equal(mpc_csv_lines(c), 6);
	char *const *names;
	assert_int_equal(mpc_csv_header(c, &names), 3);
	assert_string_equal(names[1], "b");
	assert_int_equal(mpc_csv_next(c, &f, &n), MPC_OK);
	assert_int_equal(n, 3);
	assert_int_equal(mpc_csv_line(c), 3);
	assert_string_equal(f[2], "3");
	double v;
	assert_int_equal(mpc_csv_number(c, 1, &v), MPC_OK);
	assert_true(v == 2);
	assert_int_equal(mpc_csv_next(c, &f, &n), MPC_OK);
	assert_int_equal(mpc_csv_line(c), 5);
	assert_string_equal(f[0], " x");
	assert_string_equal(f[1], "");
	assert_string_equal(f[2], "z");
	/* a number error names file:line and the column, never the value */
	assert_int_equal(mpc_csv_number(c, 0, &v), MPC_EINVAL);
	assert_string_equal(mpc_error_detail(), "r.csv:5: column a: expected a number");
	assert_int_equal(mpc_csv_number(c, 1, &v), MPC_EINVAL);
	assert_int_equal(mpc_csv_next(c, &f, &n), MPC_OK);
	assert_int_equal(mpc_csv_line(c), 6);
	assert_string_equal(f[0], "4");
	assert_int_equal(mpc_csv_next(c, &f, &n), MPC_OK);
	assert_int_equal(n, 0);
	assert_int_equal(mpc_csv_next(c, &f, &n), MPC_OK);
	assert_int_equal(n, 0);
	mpc_csv_close(c);
	/* no header: the column's number; numbers with exponents */
	text = "1.5e3,-2,+.5\nnan,0x10,inf\n";
	assert_int_equal(mpc_csv_open_mem("r.csv", text, strlen(text), NULL, &c), MPC_OK);
	assert_int_equal(mpc_csv_col(c, "1.5e3"), -1);
	assert_int_equal(mpc_csv_next(c, &f, &n), MPC_OK);
	assert_int_equal(n, 3);
	double w[3];
	for (int i = 0; i < 3; i++)
		assert_int_equal(mpc_csv_number(c, i, &w[i]), MPC_OK);
	assert_true(w[0] == 1500 && w[1] == -2 && w[2] == 0.5);
	assert_int_equal(mpc_csv_next(c, &f, &n), MPC_OK);
	for (int i = 0; i < 3; i++)
		assert_int_equal(mpc_csv_number(c, i, &v), MPC_EINVAL);
	assert_string_equal(mpc_error_detail(), "r.csv:2: column 3: expected a number");
	assert_int_equal(mpc_csv_error(c, MPC_ERANGE, "column %s: too big", "x"), MPC_ERANGE);
	assert_string_equal(mpc_error_detail(), "r.csv:2: column x: too big");
	mpc_csv_close(c);
	mpc_csv_close(NULL);
}

/* open_mem must fail (at open or at some record) with a detail holding n1
 * and n2 and not the secret `not`. */
static void reader_bad(const char *text, const mpc_csv_opts *o, const char *n1, const char *n2,
                       const char * not ) {
	mpc_csv *c = NULL;
	char **f;
	int n = 1;
	mpc_err e = mpc_csv_open_mem("b.csv", text, strlen(text), o, &c);
	while (e == MPC_OK && n > 0)
		e = mpc_csv_next(c, &f, &n);
	mpc_csv_close(c);
	const char *d = mpc_error_detail();
	if (e != MPC_EINVAL || !strstr(d, n1) || (n2 && !strstr(d, n2)) || (not &&strstr(d, not )))
		print_error("text %s: got %d '%s'\n", text, e, d);
	assert_int_equal(e, MPC_EINVAL);
	assert_non_null(strstr(d, n1));
	if (n2)
		assert_non_null(strstr(d, n2));
	if (not )
		assert_null(strstr(d, not ));
}

static void test_reader_bad(void **s) {
	(void)s;
	const mpc_csv_opts hdr = {.header = 1, .expect = "a,b"};
	const mpc_csv_opts small = {.max_fields = 3, .max_line = 10};
	reader_bad("", &hdr, "b.csv: empty file", "expected a header line a,b", NULL);
	reader_bad("\r\n\n", &hdr, "b.csv: empty file", NULL, NULL);
	reader_bad("a,b,a\n", &hdr, "b.csv:1", "column 'a' appears twice", NULL);
	reader_bad("a,b\n1,2\n1,2,secret7\n", &hdr, "b.csv:3", "3 fields, the header has 2",
	           "secret7");
	reader_bad("a,b\n1\n", &hdr, "b.csv:2", "1 fields, the header has 2", NULL);
	reader_bad("1,2\n1,2,3,4\n", &small, "b.csv:2", "more than 3 columns", NULL);
	reader_bad("1,2\n\n12345678901\n", &small, "b.csv:3", "longer than 10 bytes", "12345");
	reader_bad("1234567890\r\n1,\"secret\"\n", &small, "b.csv:2", "quotes", "secret");
	/* a NUL byte: the length is given, not found */
	mpc_csv *c;
	char **f;
	int n;
	assert_int_equal(mpc_csv_open_mem("b.csv", "1,2\n3,4\0,5\n", 10, NULL, &c), MPC_OK);
	assert_int_equal(mpc_csv_next(c, &f, &n), MPC_OK);
	assert_int_equal(mpc_csv_next(c, &f, &n), MPC_EINVAL);
	assert_non_null(strstr(mpc_error_detail(), "b.csv:2: quotes and NUL"));
	mpc_csv_close(c);
}

/* text into a new temporary file named by path (a mkstemp template) */
static void put(char *path, const char *text) {
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* A fraud_score job of features f0, log_amount, night, category_fuel (the
 * last at party 1) and the key txn_id. */
static void score_job(mpc_score_job *sc) {
	static const char *const feat[] = {"f0", "log_amount", "night", "category_fuel"};
	memset(sc, 0, sizeof(*sc));
	sc->d = 4;
	for (size_t k = 0; k < sc->d; k++)
		snprintf(sc->feat[k], sizeof(sc->feat[k]), "%s", feat[k]);
	sc->holder[3] = 1;
	sc->max_rows = 3;
	sc->max_feature = 100;
	sc->max_weight = 10;
	sc->trees = 1;
	sc->depth = 1;
	snprintf(sc->key, sizeof(sc->key), "txn_id");
}

/* read_features on text must fail with a detail holding n1 and n2, not the
 * secret `not`. */
static void features_bad(const mpc_score_job *sc, int who, const char *text, mpc_err code,
                         const char *n1, const char *n2, const char * not ) {
	char path[] = "/tmp/mpc-test-feat-XXXXXX";
	double *x;
	size_t n;
	char(*ids)[40];
	put(path, text);
	mpc_err e = mpc_score_job_read_features(path, sc, who, &x, &n, &ids);
	unlink(path);
	const char *d = mpc_error_detail();
	/* the secret is looked for outside the file name, whose random part
	 * may hold it ("-5" in /tmp/mpc-test-feat-5ehkUN) */
	char rest[1024];
	const char *at = strstr(d, path);
	snprintf(rest, sizeof(rest), "%.*s|%s", at ? (int)(at - d) : (int)strlen(d), d,
	         at ? at + strlen(path) : "");
	if (e != code || !strstr(d, n1) || (n2 && !strstr(d, n2)) || (not &&strstr(rest, not )))
		print_error("text %s: got %d '%s'\n", text, e, d);
	assert_int_equal(e, code);
	assert_non_null(strstr(d, n1));
	assert_non_null(strstr(d, "/tmp/mpc-test-feat-"));
	if (n2)
		assert_non_null(strstr(d, n2));
	if (not )
		assert_null(strstr(rest, not ));
	assert_null(x);
	assert_null(ids);
}

static void test_features(void **s) {
	(void)s;
	mpc_score_job sc;
	score_job(&sc);
	char path[] = "/tmp/mpc-test-feat-XXXXXX";
	put(path, "txn_id,amount,hour,category,f0\r\n\nt1,54.6,3,fuel,0.5\nt2,1,12,food,-2\n");
	double *x;
	size_t n;
	char(*ids)[40];
	assert_int_equal(mpc_score_job_read_features(path, &sc, 0, &x, &n, &ids), MPC_OK);
	assert_int_equal(n, 2);
	assert_string_equal(ids[1], "t2");
	assert_true(x[0] == 0.5 && fabs(x[1] - (log(54.6) - 4) / 1.5) < 1e-12 && x[2] == 1);
	assert_true(x[3] == -2 && x[4] == -4 / 1.5 && x[5] == 0);
	free(x);
	free(ids);
	/* party 1 holds category_fuel alone */
	assert_int_equal(mpc_score_job_read_features(path, &sc, 1, &x, &n, &ids), MPC_OK);
	assert_true(n == 2 && x[0] == 1 && x[1] == 0);
	free(x);
	free(ids);
	unlink(path);
	const char *h = "txn_id,amount,hour,category,f0\n";
	char buf[512];
	features_bad(&sc, 0, "", MPC_EINVAL, "empty file", NULL, NULL);
	features_bad(&sc, 0, "amount,hour,category\n", MPC_EINVAL, ":1: feature f0: no such column",
	             NULL, NULL);
	features_bad(&sc, 0, "f0,hour,category\n", MPC_EINVAL, ":1: feature log_amount", NULL,
	             NULL);
	snprintf(buf, sizeof(buf), "%st1,5,3,fuel,0.5\n\nt2,5,3,fuel,0.5,77\n", h);
	features_bad(&sc, 0, buf, MPC_EINVAL, ":4: 6 fields, the header has 5", NULL, "77");
	snprintf(buf, sizeof(buf), "%st1,5,3,fuel,9x7\n", h);
	features_bad(&sc, 0, buf, MPC_EINVAL, ":2: column f0: expected a number", NULL, "9x7");
	snprintf(buf, sizeof(buf), "%st1,-5,3,fuel,1\n", h);
	features_bad(&sc, 0, buf, MPC_EINVAL, ":2: column amount: expected a positive", NULL, "-5");
	snprintf(buf, sizeof(buf), "%st1,5,24,fuel,1\n", h);
	features_bad(&sc, 0, buf, MPC_EINVAL, ":2: column hour: expected 0..23", NULL, "24");
	snprintf(buf, sizeof(buf), "%st1,5,3,fuel,123.25\n", h);
	features_bad(&sc, 0, buf, MPC_ERANGE, ":2: feature f0: beyond max_feature", NULL, "123");
	snprintf(buf, sizeof(buf), "%s%s,5,3,fuel,1\n", h,
	         "0123456789012345678901234567890123456789");
	features_bad(&sc, 0, buf, MPC_EINVAL, ":2: column txn_id: a key has at most 39", NULL,
	             "0123456789");
	snprintf(buf, sizeof(buf), "%sa,5,3,fuel,1\nb,5,3,fuel,1\nc,5,3,fuel,1\nd,5,3,fuel,1\n", h);
	features_bad(&sc, 0, buf, MPC_ERANGE, ":5: more than max_rows = 3", NULL, NULL);
	features_bad(&sc, 0, "f0,amount,hour,amount\n", MPC_EINVAL,
	             ":1: column 'amount' appears twice", NULL, NULL);
	sc.vertical = 1;
	features_bad(&sc, 0, "f0,amount,hour\n", MPC_EINVAL, ":1: no key column txn_id", NULL,
	             NULL);
	double *x2;
	assert_int_equal(mpc_score_job_read_features("/nonexistent/f.csv", &sc, 0, &x2, &n, &ids),
	                 MPC_EIO);
	assert_non_null(strstr(mpc_error_detail(), "/nonexistent/f.csv"));
}

/* The logistic regression's weights and the tree ensemble. */
static void test_models(void **s) {
	(void)s;
	mpc_score_job sc;
	score_job(&sc);
	char path[] = "/tmp/mpc-test-model-XXXXXX";
	double w[4], b;
	put(path, "input,weight\r\nnight,1.5\n\nintercept,-2e-1\nf0,1\nlog_amount,0\n"
	          "category_fuel,-3\n");
	assert_int_equal(mpc_score_job_read_logreg(path, &sc, w, &b), MPC_OK);
	assert_true(w[0] == 1 && w[1] == 0 && w[2] == 1.5 && w[3] == -3 && b == -0.2);
	unlink(path);
	static const struct {
		const char *text, *n1;
		mpc_err code;
	} bad[] = {
	    {"f0,1\nf0,2\n", ":2: input f0 given twice", MPC_EINVAL},
	    {"f0,1\nf9,2\n", ":2: input f9 is not among", MPC_EINVAL},
	    {"\nf0,1,2\n", ":2: expected 'input,weight'", MPC_EINVAL},
	    {"f0,12.75\n", ":1: weight of f0 beyond max_weight", MPC_ERANGE},
	    {"f0,1\n", ": no weight for log_amount", MPC_EINVAL},
	    {"input,weight\nf0,1\ninput,weight\n", ":3: expected 'input,weight'", MPC_EINVAL},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char p[] = "/tmp/mpc-test-model-XXXXXX";
		put(p, bad[i].text);
		mpc_err e = mpc_score_job_read_logreg(p, &sc, w, &b);
		unlink(p);
		if (e != bad[i].code || !strstr(mpc_error_detail(), bad[i].n1))
			print_error("%s: got %d '%s'\n", bad[i].text, e, mpc_error_detail());
		assert_int_equal(e, bad[i].code);
		assert_non_null(strstr(mpc_error_detail(), bad[i].n1));
		assert_null(strstr(mpc_error_detail(), "12.75"));
	}
	/* one tree of depth 1: node 0, leaves 0 and 1, the base */
	uint32_t feature[1];
	double thr[1], leaf[2], base;
	char t[] = "/tmp/mpc-test-tree-XXXXXX";
	put(t, "kind,tree,index,feature,value\r\nleaf,0,1,,2.5\nbase,,,,0.5\n\nnode,0,0,night,0.5\n"
	       "leaf,0,0,,-1\n");
	assert_int_equal(mpc_score_job_read_tree(t, &sc, feature, thr, leaf, &base), MPC_OK);
	assert_true(feature[0] == 2 && thr[0] == 0.5 && leaf[0] == -1 && leaf[1] == 2.5 &&
	            base == 0.5);
	unlink(t);
	static const struct {
		const char *text, *n1;
		mpc_err code;
	} tbad[] = {
	    {"base,,,,1\nbase,,,,1\n", ":2: given twice", MPC_EINVAL},
	    {"root,0,0,f0,1\n", ":1: kind must be base, node or leaf", MPC_EINVAL},
	    {"leaf,0,2,,1\n", ":1: tree 0..0 and leaf index 0..1 expected", MPC_EINVAL},
	    {"node,0,0,f9,1\n", ":1: feature f9 is not among", MPC_EINVAL},
	    {"\nnode,0,0,f0,123.5\n", ":2: threshold beyond max_feature", MPC_ERANGE},
	    {"leaf,0,0,,12.75\n", ":1: value beyond max_weight", MPC_ERANGE},
	    {"leaf,0,0,1\n", ":1: expected 'kind,tree,index,feature,value'", MPC_EINVAL},
	    {"base,,,,1\nnode,0,0,f0,1\nleaf,0,0,,1\n", ": tree 0 has no leaf 1", MPC_EINVAL},
	    {"node,0,0,f0,1\nleaf,0,0,,1\nleaf,0,1,,1\n", ": no base line", MPC_EINVAL},
	};
	for (size_t i = 0; i < sizeof(tbad) / sizeof(tbad[0]); i++) {
		char p[] = "/tmp/mpc-test-tree-XXXXXX";
		put(p, tbad[i].text);
		mpc_err e = mpc_score_job_read_tree(p, &sc, feature, thr, leaf, &base);
		unlink(p);
		if (e != tbad[i].code || !strstr(mpc_error_detail(), tbad[i].n1))
			print_error("%s: got %d '%s'\n", tbad[i].text, e, mpc_error_detail());
		assert_int_equal(e, tbad[i].code);
		assert_non_null(strstr(mpc_error_detail(), tbad[i].n1));
		assert_null(strstr(mpc_error_detail(), "12"));
	}
}

static void test_file(void **s) {
	(void)s;
	char path[] = "/tmp/mpc-test-csv-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *text = "amount,fraud,category\n5,1,a\n";
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	mpc_txns t;
	assert_int_equal(mpc_txns_read(path, 10, &t), MPC_OK);
	assert_int_equal(t.n, 1);
	mpc_txns_fini(&t);
	unlink(path);
	assert_int_equal(mpc_txns_read(path, 10, &t), MPC_EIO);
	assert_non_null(strstr(mpc_error_detail(), path));
}

int main(void) {
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),       cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_file),       cmocka_unit_test(test_reader),
	    cmocka_unit_test(test_reader_bad), cmocka_unit_test(test_features),
	    cmocka_unit_test(test_models),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
