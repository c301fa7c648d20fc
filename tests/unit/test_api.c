/* The local API's bodies (node/mpc_api): POST /jobs read back, and each
 * refusal with its message: not JSON (line and column), a key twice, not an
 * object, "job" missing, not a string, empty, too long, holding a NUL, a bad
 * dataset, an unknown key (named, or not shown when it is not a plain word). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/mpc_api.h"
#include "tests/support/scratch.h"

static void ok(const char *body, const char *job, const char *dataset) {
	mpc_api_submit s;
	mpc_err e = mpc_api_parse_submit(body, strlen(body), &s);
	if (e != MPC_OK)
		fail_msg("%s: %s", body, mpc_error_detail());
	assert_string_equal(s.job_text, job);
	assert_int_equal(s.job_len, strlen(job));
	assert_string_equal(s.dataset, dataset);
	mpc_api_submit_free(&s);
	assert_null(s.job_text);
	assert_int_equal(s.job_len, 0);
}

/* body (len bytes) is refused with MPC_EINVAL, *out zeroed, and the detail
 * holds want (and want2 if not NULL). */
static void bad_n(const char *body, size_t len, const char *want, const char *want2) {
	mpc_api_submit s;
	memset(&s, 0x5a, sizeof(s));
	mpc_err e = mpc_api_parse_submit(body, len, &s);
	if (e != MPC_EINVAL)
		fail_msg("%.60s: %d %s", body, e, mpc_error_detail());
	assert_null(s.job_text);
	assert_int_equal(s.job_len, 0);
	assert_string_equal(s.dataset, "");
	scratch_detail_has(want);
	if (want2 != NULL)
		scratch_detail_has(want2);
}

static void bad(const char *body, const char *want, const char *want2) {
	bad_n(body, strlen(body), want, want2);
}

static void test_good(void **st) {
	(void)st;
	ok("{\"job\": \"[job]\\nid = j1\\n\", \"dataset\": \"txns-2024.v_1\"}", "[job]\nid = j1\n",
	   "txns-2024.v_1");
	ok("{\"job\":\"x\"}", "x", "");
	ok(" \n{\"dataset\":\"d\",\"job\":\"caf\\u00e9 \\\"q\\\"\"}\n ", "caf\xc3\xa9 \"q\"", "d");
	char name[40];
	memset(name, 'n', 32);
	name[32] = '\0';
	char body[128];
	snprintf(body, sizeof(body), "{\"job\":\"x\",\"dataset\":\"%s\"}", name);
	ok(body, "x", name);

	/* exactly the limit; the body need not end in NUL */
	size_t n = MPC_API_MAX_JOB_TEXT;
	char *big = malloc(n + 32);
	assert_non_null(big);
	memcpy(big, "{\"job\":\"", 8);
	memset(big + 8, 'a', n);
	memcpy(big + 8 + n, "\"}XXXX", 6); /* past len: never read */
	mpc_api_submit s;
	assert_int_equal(mpc_api_parse_submit(big, 8 + n + 2, &s), MPC_OK);
	assert_int_equal(s.job_len, n);
	assert_int_equal(strlen(s.job_text), n);
	mpc_api_submit_free(&s);
	/* one more */
	memset(big + 8, 'a', n + 1);
	memcpy(big + 8 + n + 1, "\"}", 2);
	char want[80];
	snprintf(want, sizeof(want), "\"job\" is %zu bytes; at most %zu", n + 1, n);
	bad_n(big, 8 + n + 3, want, NULL);
	free(big);
	mpc_api_submit_free(NULL);
}

static void test_refusals(void **st) {
	(void)st;
	bad("", "empty", "JSON object");
	bad_n(NULL, 0, "empty", NULL);
	bad("{\"job\": \"x\",}", "not JSON: line 1, column 13", NULL);
	bad("{\"job\": \"x\"}\n{}", "not JSON: line 2", "end of file expected");
	bad("{\"job\":\"x\",\n \"job\":\"y\"}", "not JSON: line 2", "duplicate object key");
	bad("{\"job\": \"\xff\"}", "not JSON: line 1, column 9", "byte 0xff");
	bad_n("{\"job\":\"x\"}", 8, "not JSON", NULL); /* cut short by len */
	bad("[\"job\"]", "expected a JSON object, not an array", NULL);
	bad("\"job\"", "expected a JSON object, not a string", NULL);
	bad("42", "not a number", NULL);
	bad("null", "not null", NULL);
	bad("{}", "\"job\" missing", NULL);
	bad("{\"dataset\":\"d\"}", "\"job\" missing", NULL);
	bad("{\"job\": 5}", "\"job\" must be a string", "not a number");
	bad("{\"job\": null}", "\"job\" must be a string", "not null");
	bad("{\"job\": [\"x\"]}", "\"job\" must be a string", "not an array");
	bad("{\"job\": \"\"}", "\"job\" is empty", NULL);
	bad("{\"job\": \"[job]\\u0000id = x\"}", "NUL", "at byte 5");
	bad("{\"job\":\"x\",\"dataset\":\"\"}", "\"dataset\" must be a name of 1 to 32", NULL);
	bad("{\"job\":\"x\",\"dataset\":\"a/b\"}", "\"dataset\" must be a name", NULL);
	bad("{\"job\":\"x\",\"dataset\":\"a b\"}", "\"dataset\" must be a name", NULL);
	bad("{\"job\":\"x\",\"dataset\":\"d\\u0000e\"}", "\"dataset\" must be a name", NULL);
	bad("{\"job\":\"x\",\"dataset\":\"123456789012345678901234567890123\"}",
	    "\"dataset\" must be a name", NULL);
	bad("{\"job\":\"x\",\"dataset\":7}", "\"dataset\" must be a string", "not a number");
	bad("{\"job\":\"x\",\"priority\":1}", "unknown key \"priority\"", "\"job\" and optionally");
	bad("{\"priority\":1,\"job\":\"x\"}", "unknown key \"priority\"", NULL);
	bad("{\"job\":\"x\",\"<script>\":1}", "unknown key (not shown", NULL);
	assert_null(strstr(mpc_error_detail(), "<script>"));
	bad("{\"job\":\"x\",\"Job\":1}", "unknown key \"Job\"", NULL);
	/* deep nesting: jansson's depth limit, no crash */
	size_t depth = 100000;
	char *deep = malloc(depth + 1);
	assert_non_null(deep);
	memset(deep, '[', depth);
	deep[depth] = '\0';
	bad(deep, "not JSON", NULL);
	free(deep);
}

int main(void) {
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),
	    cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
