/* Unit tests: error codes, error detail, logger. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/mpc_err.h"
#include "runtime/mpc_log.h"

static void test_strerror(void **state) {
	(void)state;
	for (int i = 0; i < MPC_ERR_COUNT; i++) {
		const char *s = mpc_strerror((mpc_err)i);
		assert_non_null(s);
		assert_true(strlen(s) > 0);
		assert_string_not_equal(s, "unknown error");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(s, mpc_strerror((mpc_err)j));
	}
	assert_string_equal(mpc_strerror(MPC_ERR_COUNT), "unknown error");
	assert_string_equal(mpc_strerror((mpc_err)-1), "unknown error");
	assert_string_equal(mpc_strerror((mpc_err)1000), "unknown error");
}

static void test_detail(void **state) {
	(void)state;
	mpc_error_clear();
	assert_string_equal(mpc_error_detail(), "");
	assert_int_equal(mpc_error(MPC_EPROTO, "peer %d step %u: bad tag", 3, 17u), MPC_EPROTO);
	assert_string_equal(mpc_error_detail(), "peer 3 step 17: bad tag");
	assert_int_equal(mpc_error(MPC_OK, "%s", ""), MPC_OK);
	assert_string_equal(mpc_error_detail(), "");
	assert_int_equal(mpc_error(MPC_EIO, "x"), MPC_EIO);
	mpc_error_clear();
	assert_string_equal(mpc_error_detail(), "");

	/* adding context to the previous detail is safe */
	(void)mpc_error(MPC_EIO, "open foo.csv");
	assert_int_equal(mpc_error(MPC_ECONFIG, "loading job: %s", mpc_error_detail()),
	                 MPC_ECONFIG);
	assert_string_equal(mpc_error_detail(), "loading job: open foo.csv");

	/* long text is truncated, still terminated */
	char big[3000];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(mpc_error(MPC_EINVAL, "%s%s", big, "tail"), MPC_EINVAL);
	size_t len = strlen(mpc_error_detail());
	assert_true(len > 500 && len < 1024);
	assert_null(strstr(mpc_error_detail(), "tail"));
	mpc_error_clear();
}

static void *thread_main(void *arg) {
	(void)arg;
	/* a fresh thread sees no detail, and its own does not leak out */
	if (mpc_error_detail()[0] != '\0')
		return (void *)1;
	(void)mpc_error(MPC_ENET, "from the thread");
	if (strcmp(mpc_error_detail(), "from the thread") != 0)
		return (void *)2;
	return NULL;
}

static void test_detail_per_thread(void **state) {
	(void)state;
	pthread_t t;
	void *ret = (void *)99;
	(void)mpc_error(MPC_EIO, "main thread");
	assert_int_equal(pthread_create(&t, NULL, thread_main, NULL), 0);
	assert_int_equal(pthread_join(t, &ret), 0);
	assert_null(ret);
	assert_string_equal(mpc_error_detail(), "main thread");
	mpc_error_clear();
}

static void test_level_parse(void **state) {
	(void)state;
	static const struct {
		const char *s;
		mpc_log_level l;
	} good[] = {{"debug", MPC_LOG_DEBUG}, {"info", MPC_LOG_INFO}, {"warn", MPC_LOG_WARN},
	            {"error", MPC_LOG_ERROR}, {"off", MPC_LOG_OFF},   {"DEBUG", MPC_LOG_DEBUG},
	            {"Warn", MPC_LOG_WARN}};
	mpc_log_level l;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		l = (mpc_log_level)-1;
		assert_int_equal(mpc_log_level_parse(good[i].s, &l), MPC_OK);
		assert_int_equal(l, good[i].l);
	}
	assert_int_equal(mpc_log_level_parse("", &l), MPC_EINVAL);
	assert_int_equal(mpc_log_level_parse("verbose", &l), MPC_EINVAL);
	assert_int_equal(mpc_log_level_parse("info ", &l), MPC_EINVAL);
	assert_int_equal(mpc_log_level_parse(NULL, &l), MPC_EINVAL);
	assert_int_equal(mpc_log_level_parse("info", NULL), MPC_EINVAL);
}

/* Checks one line "YYYY-MM-DDTHH:MM:SSZ [who] LEVEL: msg" and returns msg. */
static const char *check_line(const char *line, const char *who, const char *level) {
	static const char pat[] = "dddd-dd-ddTdd:dd:ddZ ";
	for (size_t i = 0; i < sizeof(pat) - 1; i++) {
		if (pat[i] == 'd')
			assert_true(line[i] >= '0' && line[i] <= '9');
		else
			assert_int_equal(line[i], pat[i]);
	}
	const char *p = line + sizeof(pat) - 1;
	char expect[128];
	snprintf(expect, sizeof(expect), "[%s] %s: ", who, level);
	assert_memory_equal(p, expect, strlen(expect));
	return p + strlen(expect);
}

static void test_log(void **state) {
	(void)state;
	FILE *f = tmpfile();
	char line[4096];
	assert_non_null(f);

	mpc_log_init("party 2", MPC_LOG_INFO, f);
	mpc_debug("hidden %d", 1);
	mpc_info("hello %d", 42);
	mpc_warn("careful");
	mpc_logerr("broken: %s", "yes");
	mpc_info("two\nlines\n");
	mpc_log(MPC_LOG_OFF, "never");
	mpc_log_init("dealer", MPC_LOG_DEBUG, f);
	mpc_debug("now visible");
	mpc_log_init("x", MPC_LOG_OFF, f);
	mpc_logerr("silenced");
	mpc_log_init(NULL, MPC_LOG_WARN, f);
	mpc_info("filtered");
	mpc_warn("default who");

	/* a long line is written whole */
	char big[3000];
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	mpc_log_init("party 2", MPC_LOG_INFO, f);
	mpc_info("%s!", big);

	rewind(f);
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(check_line(line, "party 2", "INFO"), "hello 42\n");
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(check_line(line, "party 2", "WARN"), "careful\n");
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(check_line(line, "party 2", "ERROR"), "broken: yes\n");
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(check_line(line, "party 2", "INFO"), "two lines\n");
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(check_line(line, "dealer", "DEBUG"), "now visible\n");
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(check_line(line, "mpc", "WARN"), "default who\n");
	assert_non_null(fgets(line, sizeof(line), f));
	const char *msg = check_line(line, "party 2", "INFO");
	assert_int_equal(strlen(msg), sizeof(big) + 1);
	assert_memory_equal(msg, big, sizeof(big) - 1);
	assert_string_equal(msg + sizeof(big) - 1, "!\n");
	assert_null(fgets(line, sizeof(line), f));
	fclose(f);

	/* back to the defaults: who "mpc", INFO, stderr */
	mpc_log_init(NULL, MPC_LOG_INFO, NULL);
}

int main(void) {
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_strerror),
	    cmocka_unit_test(test_detail),
	    cmocka_unit_test(test_detail_per_thread),
	    cmocka_unit_test(test_level_parse),
	    cmocka_unit_test(test_log),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
