/* The transaction CSV reader: good files, and every kind of bad line with
 * its file:line and column, never the offending value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobs/mpc_csv.h"

static mpc_err parse(const char *text, mpc_txns *t)
{
	return mpc_txns_parse("m.csv", text, strlen(text), 1e6, t);
}

static void test_good(void **s)
{
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
static void bad(const char *text, mpc_err code, const char *n1, const char *n2)
{
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

static void test_bad(void **s)
{
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

static void test_file(void **s)
{
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
