/* The preprocessing store: order, exactly-once across reopen and crashes,
 * corruption, torn journal records, another job's store, file modes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "protocols/mpc_store.h"

static char dir[256];
static const uint8_t hash[32] = {1, 2, 3};
static const mpc_mat_type T64 = {MPC_MAT_TRIPLES, 64, 0};

static int setup(void **st)
{
	(void)st;
	snprintf(dir, sizeof(dir), "/tmp/mpc-store-test-XXXXXX");
	assert_non_null(mkdtemp(dir));
	strcat(dir, "/s");
	return 0;
}

static int teardown(void **st)
{
	char cmd[300];
	(void)st;
	snprintf(cmd, sizeof(cmd), "rm -rf %.*s", (int)(strlen(dir) - 2), dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Element i of the test stream: 24 bytes, all equal to the low byte of i
 * except the first 8, which hold i. */
static void fill(uint8_t *buf, uint64_t first, size_t n)
{
	for (size_t e = 0; e < n; e++) {
		uint64_t i = first + e;
		memset(buf + e * 24, (int)(i & 0xff), 24);
		memcpy(buf + e * 24, &i, 8);
	}
}

static uint64_t idx(const uint8_t *buf, size_t e)
{
	uint64_t i;
	memcpy(&i, buf + e * 24, 8);
	return i;
}

static mpc_store *open_ok(void)
{
	mpc_store *s;
	if (mpc_store_open(&s, dir, "job-1", hash, 1, 3) != MPC_OK)
		fail_msg("%s", mpc_error_detail());
	return s;
}

static void add(mpc_store *s, uint64_t first, size_t n)
{
	uint8_t id[16] = {(uint8_t)first, 7};
	uint8_t *buf = malloc(n * 24);
	fill(buf, first, n);
	assert_int_equal(mpc_store_add(s, T64, id, n, buf), MPC_OK);
	free(buf);
}

static void test_order_and_reopen(void **st)
{
	uint8_t out[300 * 24];
	size_t got;
	(void)st;
	mpc_store *s = open_ok();
	add(s, 0, 100);
	add(s, 100, 100);
	assert_int_equal(mpc_store_available(s, T64), 200);
	assert_int_equal(mpc_store_take(s, T64, 70, out, &got), MPC_OK);
	assert_int_equal(got, 70);
	for (size_t e = 0; e < got; e++)
		assert_int_equal(idx(out, e), e);
	/* across the batch boundary */
	assert_int_equal(mpc_store_take(s, T64, 60, out, &got), MPC_OK);
	assert_int_equal(got, 60);
	for (size_t e = 0; e < got; e++)
		assert_int_equal(idx(out, e), 70 + e);
	mpc_store_pos pos;
	assert_int_equal(mpc_store_position(s, T64, &pos), MPC_OK);
	assert_int_equal(pos.seq, 130);
	assert_int_equal(pos.offset, 30);
	assert_int_equal(pos.batch_id[0], 100);
	mpc_store_close(s);
	/* reopen: continues where it left off; the first batch file is gone */
	s = open_ok();
	assert_int_equal(mpc_store_available(s, T64), 70);
	assert_int_equal(mpc_store_take(s, T64, 300, out, &got), MPC_OK);
	assert_int_equal(got, 70);
	assert_int_equal(idx(out, 0), 130);
	assert_int_equal(idx(out, 69), 199);
	assert_int_equal(mpc_store_take(s, T64, 1, out, &got), MPC_OK);
	assert_int_equal(got, 0);
	/* a new batch continues the sequence */
	add(s, 200, 10);
	assert_int_equal(mpc_store_take(s, T64, 5, out, &got), MPC_OK);
	assert_int_equal(idx(out, 0), 200);
	mpc_store_close(s);
}

static void test_modes(void **st)
{
	struct stat sb;
	char path[700];
	(void)st;
	mpc_store *s = open_ok();
	add(s, 0, 3);
	mpc_store_close(s);
	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	DIR *d = opendir(dir);
	struct dirent *e;
	int files = 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		assert_int_equal(stat(path, &sb), 0);
		assert_int_equal(sb.st_mode & 0777, 0600);
		files++;
	}
	closedir(d);
	assert_int_equal(files, 3); /* STORE, journal, one batch */
	/* a store open to the world is refused */
	chmod(dir, 0777);
	assert_int_equal(mpc_store_open(&s, dir, "job-1", hash, 1, 3), MPC_ECONFIG);
	assert_non_null(strstr(mpc_error_detail(), "chmod 700"));
	chmod(dir, 0700);
}

static void test_other_job(void **st)
{
	mpc_store *s = open_ok();
	uint8_t other[32] = {9};
	(void)st;
	mpc_store_close(s);
	assert_int_equal(mpc_store_open(&s, dir, "job-1", other, 1, 3), MPC_ECONFIG);
	assert_non_null(strstr(mpc_error_detail(), "hash"));
	assert_int_equal(mpc_store_open(&s, dir, "job-2", hash, 1, 3), MPC_ECONFIG);
	assert_non_null(strstr(mpc_error_detail(), "job id"));
	assert_int_equal(mpc_store_open(&s, dir, "job-1", hash, 2, 3), MPC_ECONFIG);
	assert_non_null(strstr(mpc_error_detail(), "party"));
	assert_int_equal(mpc_store_open(&s, dir, "job-1", hash, 1, 4), MPC_ECONFIG);
	assert_non_null(strstr(mpc_error_detail(), "party count"));
}

static void test_corrupt_batch(void **st)
{
	uint8_t out[10 * 24];
	size_t got;
	char path[700];
	(void)st;
	mpc_store *s = open_ok();
	add(s, 0, 10);
	mpc_store_close(s);
	/* flip one payload byte */
	DIR *d = opendir(dir);
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, ".bat"))
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
	closedir(d);
	int fd = open(path, O_RDWR);
	uint8_t b;
	assert_int_equal(pread(fd, &b, 1, 100), 1);
	b ^= 1;
	assert_int_equal(pwrite(fd, &b, 1, 100), 1);
	close(fd);
	s = open_ok();
	assert_int_equal(mpc_store_take(s, T64, 5, out, &got), MPC_EIO);
	assert_int_equal(got, 0);
	assert_non_null(strstr(mpc_error_detail(), "corrupt"));
	assert_non_null(strstr(mpc_error_detail(), strrchr(path, '/') + 1));
	mpc_store_close(s);
}

static void test_torn_journal(void **st)
{
	uint8_t out[10 * 24];
	size_t got;
	char path[700];
	(void)st;
	mpc_store *s = open_ok();
	add(s, 0, 10);
	assert_int_equal(mpc_store_take(s, T64, 3, out, &got), MPC_OK);
	mpc_store_close(s);
	/* half a record at the end, as a crash inside the append leaves */
	snprintf(path, sizeof(path), "%s/journal", dir);
	int fd = open(path, O_WRONLY | O_APPEND);
	assert_int_equal(write(fd, "\x01\x00\x00\x00\x40\x00", 6), 6);
	close(fd);
	s = open_ok();
	assert_int_equal(mpc_store_available(s, T64), 7);
	assert_int_equal(mpc_store_take(s, T64, 1, out, &got), MPC_OK);
	assert_int_equal(idx(out, 0), 3);
	mpc_store_close(s);
}

static void test_skip(void **st)
{
	uint8_t out[24];
	size_t got;
	(void)st;
	mpc_store *s = open_ok();
	add(s, 0, 10);
	assert_int_equal(mpc_store_skip_to(s, T64, 4), MPC_OK);
	assert_int_equal(mpc_store_skip_to(s, T64, 2), MPC_EINVAL);
	assert_int_equal(mpc_store_take(s, T64, 1, out, &got), MPC_OK);
	assert_int_equal(idx(out, 0), 4);
	mpc_store_close(s);
}

/* A child takes material and dies by SIGKILL right after; another takes
 * and dies before finishing its copy. Whatever was taken (or recorded) is
 * never returned again. */
static void test_crash(void **st)
{
	uint8_t out[100 * 24];
	size_t got;
	(void)st;
	mpc_store *s = open_ok();
	add(s, 0, 100);
	mpc_store_close(s);
	for (int round = 0; round < 3; round++) {
		pid_t pid = fork();
		if (pid == 0) {
			mpc_store *c;
			size_t g;
			uint8_t buf[10 * 24];
			if (mpc_store_open(&c, dir, "job-1", hash, 1, 3) != MPC_OK ||
			    mpc_store_take(c, T64, 10, buf, &g) != MPC_OK)
				_exit(1);
			kill(getpid(), SIGKILL);
			_exit(2);
		}
		int status;
		waitpid(pid, &status, 0);
		assert_true(WIFSIGNALED(status));
	}
	s = open_ok();
	assert_int_equal(mpc_store_available(s, T64), 70);
	assert_int_equal(mpc_store_take(s, T64, 100, out, &got), MPC_OK);
	assert_int_equal(got, 70);
	for (size_t e = 0; e < got; e++)
		assert_int_equal(idx(out, e), 30 + e);
	mpc_store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_order_and_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_job, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_journal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_skip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
