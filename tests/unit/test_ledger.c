/* The privacy budget ledger: charges and totals, refusal past the limit
 * (nothing written), persistence, a torn last record cut off, a damaged
 * middle record refused, two opens, bad inputs, file and directory modes, a
 * full disk during a charge, and charges killed at random moments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first */
#include <cmocka.h>

#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "node/mpc_ledger.h"
#include "tests/support/scratch.h"

#define REC 256 /* bytes of one record (node/mpc_ledger.c) */

static char dir[256], path[300];
static const mpc_ledger_budget BIG = {1e9, 1.0};

static int setup(void **st) {
	(void)st;
	scratch_dir(dir, sizeof(dir), "ledger");
	snprintf(path, sizeof(path), "%s/ledger", dir);
	return 0;
}

static int teardown(void **st) {
	(void)st;
	return scratch_remove(dir);
}

static mpc_ledger *open_ok(void) {
	mpc_ledger *l;
	if (mpc_ledger_open(path, &l) != MPC_OK)
		fail_msg("%s", mpc_error_detail());
	return l;
}

static void charge_ok(mpc_ledger *l, const char *ds, double eps, double delta, double rho,
                      const mpc_ledger_budget *lim) {
	if (mpc_ledger_charge(l, ds, "job-1", "stats", eps, delta, rho, lim) != MPC_OK)
		fail_msg("%s", mpc_error_detail());
}

static mpc_ledger_total spent(mpc_ledger *l, const char *ds) {
	mpc_ledger_total t;
	if (mpc_ledger_spent(l, ds, &t) != MPC_OK)
		fail_msg("%s", mpc_error_detail());
	return t;
}

static void test_charge_and_spent(void **st) {
	(void)st;
	mpc_ledger *l = open_ok();
	assert_string_equal(mpc_ledger_path(l), path);
	mpc_ledger_total t = spent(l, "sales");
	assert_true(t.epsilon == 0 && t.delta == 0 && t.rho == 0 && t.count == 0);
	charge_ok(l, "sales", 0.5, 1e-6, 0, &BIG);
	charge_ok(l, "sales", 0.25, 0, 0.125, &BIG);
	charge_ok(l, "fraud.v2_x-1", 1.0, 0, 0, &BIG);
	assert_int_equal(mpc_ledger_charge(l, "sales", "job-2", "round 3", 0.125, 1e-6, 0.5, &BIG),
	                 MPC_OK);
	t = spent(l, "sales");
	assert_true(t.epsilon == 0.875);
	assert_true(t.delta == 1e-6 + 0.0 + 1e-6);
	assert_true(t.rho == 0.625);
	assert_int_equal(t.count, 3);
	t = spent(l, "fraud.v2_x-1");
	assert_true(t.epsilon == 1.0 && t.count == 1);
	assert_int_equal(scratch_size(path), 5 * REC);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	mpc_ledger_close(l);
	mpc_ledger_close(NULL);
}

/* Up to the limit exactly is allowed; past it (epsilon or delta) is
 * MPC_EREFUSED, names the dataset, spent, asked and limit, and writes
 * nothing. Other datasets are not affected. */
static void test_refuse_past_limit(void **st) {
	(void)st;
	const mpc_ledger_budget lim = {1.0, 1e-5};
	mpc_ledger *l = open_ok();
	charge_ok(l, "sales", 0.5, 0, 0, &lim);
	charge_ok(l, "sales", 0.5, 0, 0, &lim);
	long sz = scratch_size(path);
	assert_int_equal(mpc_ledger_charge(l, "sales", "job-9", "stats", 0.001, 0, 0, &lim),
	                 MPC_EREFUSED);
	assert_int_equal(scratch_size(path), sz);
	scratch_detail_has("dataset sales");
	scratch_detail_has("spent epsilon 1,");
	scratch_detail_has("asks epsilon 0.001");
	scratch_detail_has("limit of epsilon 1,");
	scratch_detail_has("job-9");
	scratch_detail_has(path);
	/* delta alone */
	charge_ok(l, "other", 0, 1e-5, 0, &lim);
	assert_int_equal(mpc_ledger_charge(l, "other", "job-3", "x", 0, 1e-6, 0, &lim),
	                 MPC_EREFUSED);
	scratch_detail_has("delta");
	/* zero cost fits even at the limit */
	charge_ok(l, "sales", 0, 0, 0.5, &lim);
	/* a larger limit lets it go on */
	const mpc_ledger_budget more = {2.0, 1e-5};
	charge_ok(l, "sales", 1.0, 0, 0, &more);
	assert_int_equal(mpc_ledger_charge(l, "sales", "j", "x", 1e-9, 0, 0, &more), MPC_EREFUSED);
	mpc_ledger_total t = spent(l, "sales");
	assert_true(t.epsilon == 2.0 && t.count == 4 && t.rho == 0.5);
	assert_int_equal(scratch_size(path), (1 + 5) * REC);
	/* decimal budgets: 0.1 + 0.1 + 0.1 > 0.3 in doubles, and still fits */
	const mpc_ledger_budget dec = {0.3, 0};
	for (int i = 0; i < 3; i++)
		charge_ok(l, "dec", 0.1, 0, 0, &dec);
	assert_true(spent(l, "dec").epsilon > 0.3);
	assert_int_equal(mpc_ledger_charge(l, "dec", "j", "x", 1e-9, 0, 0, &dec), MPC_EREFUSED);
	assert_int_equal(mpc_ledger_charge(l, "dec", "j", "x", 0, 1e-300, 0, &dec), MPC_EREFUSED);
	/* sums past the largest double */
	const mpc_ledger_budget huge = {DBL_MAX, 1};
	charge_ok(l, "huge", 1e308, 0, 1e308, &huge);
	assert_int_equal(mpc_ledger_charge(l, "huge", "j", "x", 1e308, 0, 0, &huge), MPC_EREFUSED);
	assert_int_equal(mpc_ledger_charge(l, "huge", "j", "x", 0, 0, 1e308, &huge), MPC_EREFUSED);
	scratch_detail_has("largest double");
	assert_int_equal(scratch_size(path), (1 + 9) * REC);
	mpc_ledger_close(l);
	/* the refusal holds after reopening */
	l = open_ok();
	assert_int_equal(mpc_ledger_charge(l, "sales", "j", "x", 1e-9, 0, 0, &more), MPC_EREFUSED);
	mpc_ledger_close(l);
}

static void test_persistence(void **st) {
	(void)st;
	mpc_ledger *l = open_ok();
	for (int i = 0; i < 600; i++) /* more than one read block */
		charge_ok(l, i % 3 ? "a" : "b", 0.25, 0.0009765625, 0.5, &BIG);
	mpc_ledger_close(l);
	l = open_ok();
	mpc_ledger_total a = spent(l, "a"), b = spent(l, "b");
	assert_int_equal(a.count, 400);
	assert_int_equal(b.count, 200);
	assert_true(a.epsilon == 100 && b.epsilon == 50);
	assert_true(a.delta == 400 * 0.0009765625 && b.rho == 100);
	charge_ok(l, "a", 0.25, 0, 0, &BIG);
	mpc_ledger_close(l);
	l = open_ok();
	assert_int_equal(spent(l, "a").count, 401);
	mpc_ledger_close(l);
	assert_int_equal(scratch_size(path), 602 * REC);
}

/* A partial record at the end, or a damaged last record, is cut off on
 * open; later charges work and persist. */
static void test_torn_tail(void **st) {
	(void)st;
	mpc_ledger *l = open_ok();
	for (int i = 0; i < 3; i++)
		charge_ok(l, "sales", 0.5, 0, 0, &BIG);
	mpc_ledger_close(l);
	uint8_t junk[100];
	memset(junk, 0x5a, sizeof(junk));
	int fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(fd);
	l = open_ok();
	assert_int_equal(scratch_size(path), 4 * REC);
	assert_int_equal(spent(l, "sales").count, 3);
	charge_ok(l, "sales", 0.5, 0, 0, &BIG);
	mpc_ledger_close(l);
	/* the last full record damaged */
	scratch_flip(path, 4 * REC + 60);
	l = open_ok();
	assert_int_equal(scratch_size(path), 4 * REC);
	assert_true(spent(l, "sales").epsilon == 1.5);
	charge_ok(l, "sales", 0.25, 0, 0, &BIG);
	mpc_ledger_close(l);
	l = open_ok();
	mpc_ledger_total t = spent(l, "sales");
	assert_true(t.epsilon == 1.75 && t.count == 4);
	mpc_ledger_close(l);
}

/* A damaged record with anything after it, an intact record out of order,
 * and a damaged header refuse to open (MPC_EIO naming the file and the
 * record) and change nothing. */
static void test_damaged_middle(void **st) {
	(void)st;
	mpc_ledger *l = open_ok();
	for (int i = 0; i < 4; i++)
		charge_ok(l, "sales", 0.5, 0, 0, &BIG);
	mpc_ledger_close(l);
	long sz = scratch_size(path);
	mpc_ledger *bad = (mpc_ledger *)&bad;
	scratch_flip(path, 2 * REC + 35);
	assert_int_equal(mpc_ledger_open(path, &bad), MPC_EIO);
	assert_null(bad);
	scratch_detail_has(path);
	scratch_detail_has("record 2 ");
	assert_int_equal(scratch_size(path), sz);
	scratch_flip(path, 2 * REC + 35);
	/* swap records 1 and 2: both intact, out of order */
	uint8_t r1[REC], r2[REC];
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, r1, REC, REC), REC);
	assert_int_equal(pread(fd, r2, REC, 2 * REC), REC);
	assert_int_equal(pwrite(fd, r2, REC, REC), REC);
	assert_int_equal(pwrite(fd, r1, REC, 2 * REC), REC);
	assert_int_equal(mpc_ledger_open(path, &bad), MPC_EIO);
	scratch_detail_has("record 1 ");
	scratch_detail_has("out of order");
	assert_int_equal(pwrite(fd, r1, REC, REC), REC);
	assert_int_equal(pwrite(fd, r2, REC, 2 * REC), REC);
	close(fd);
	/* a damaged header */
	scratch_flip(path, 100);
	assert_int_equal(mpc_ledger_open(path, &bad), MPC_EIO);
	scratch_detail_has("record 0 ");
	scratch_flip(path, 100);
	l = open_ok();
	assert_int_equal(spent(l, "sales").count, 4);
	mpc_ledger_close(l);
}

/* A second open in this process, and one in another process while a child
 * holds the ledger, are refused naming the holder's pid. */
static void test_second_open(void **st) {
	int up[2], down[2];
	char want[64], go;
	(void)st;
	mpc_ledger *l = open_ok(), *l2 = NULL;
	assert_int_equal(mpc_ledger_open(path, &l2), MPC_ECONFIG);
	assert_null(l2);
	snprintf(want, sizeof(want), "pid %ld ", (long)getpid());
	scratch_detail_has(want);
	scratch_detail_has(path);
	mpc_ledger_close(l);
	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	pid_t pid = fork();
	if (pid == 0) {
		mpc_ledger *c;
		close(up[0]);
		close(down[1]);
		if (mpc_ledger_open(path, &c) != MPC_OK ||
		    mpc_ledger_charge(c, "sales", "job-1", "stats", 1, 0, 0, &BIG) != MPC_OK)
			_exit(1);
		if (write(up[1], "x", 1) != 1 || read(down[0], &go, 1) != 1)
			_exit(2);
		mpc_ledger_close(c);
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	assert_int_equal(read(up[0], &go, 1), 1);
	assert_int_equal(mpc_ledger_open(path, &l), MPC_ECONFIG);
	snprintf(want, sizeof(want), "pid %ld ", (long)pid);
	scratch_detail_has(want);
	assert_int_equal(write(down[1], "x", 1), 1);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(up[0]);
	close(down[1]);
	l = open_ok();
	assert_int_equal(spent(l, "sales").count, 1);
	mpc_ledger_close(l);
}

static void test_bad_inputs(void **st) {
	(void)st;
	char long_name[80];
	memset(long_name, 'a', 65);
	long_name[65] = '\0';
	mpc_ledger *l = open_ok();
	long sz = scratch_size(path);
	const double bad_values[] = {-0.1, NAN, INFINITY, -INFINITY};
	for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
		double v = bad_values[i];
		assert_int_equal(mpc_ledger_charge(l, "d", "j", "s", v, 0, 0, &BIG), MPC_EINVAL);
		scratch_detail_has("dataset d");
		assert_int_equal(mpc_ledger_charge(l, "d", "j", "s", 0.1, v, 0, &BIG), MPC_EINVAL);
		assert_int_equal(mpc_ledger_charge(l, "d", "j", "s", 0.1, 0, v, &BIG), MPC_EINVAL);
		const mpc_ledger_budget lim = {v, 0};
		assert_int_equal(mpc_ledger_charge(l, "d", "j", "s", 0.1, 0, 0, &lim), MPC_EINVAL);
	}
	const char *bad_names[] = {"", "a b", "a/b", "é", "a\n", long_name};
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		mpc_ledger_total t;
		assert_int_equal(mpc_ledger_charge(l, bad_names[i], "j", "s", 0.1, 0, 0, &BIG),
		                 MPC_EINVAL);
		scratch_detail_has("bad dataset name");
		assert_int_equal(mpc_ledger_charge(l, "d", bad_names[i], "s", 0.1, 0, 0, &BIG),
		                 MPC_EINVAL);
		scratch_detail_has("bad job id");
		assert_int_equal(mpc_ledger_spent(l, bad_names[i], &t), MPC_EINVAL);
	}
	assert_int_equal(mpc_ledger_charge(l, NULL, "j", "s", 0.1, 0, 0, &BIG), MPC_EINVAL);
	assert_int_equal(mpc_ledger_charge(l, "d", "j", "", 0.1, 0, 0, &BIG), MPC_EINVAL);
	assert_int_equal(mpc_ledger_charge(l, "d", "j", "a\tb", 0.1, 0, 0, &BIG), MPC_EINVAL);
	assert_int_equal(mpc_ledger_charge(l, "d", "j", long_name, 0.1, 0, 0, &BIG), MPC_EINVAL);
	assert_int_equal(mpc_ledger_charge(l, "d", "j", "s", 0.1, 0, 0, NULL), MPC_EINVAL);
	assert_int_equal(scratch_size(path), sz);
	/* the longest names and label fit; -0 is 0 */
	long_name[64] = '\0';
	assert_int_equal(mpc_ledger_charge(l, long_name, long_name,
	                                   "0123456789012345678901234567890123456789", -0.0, 0, 0,
	                                   &BIG),
	                 MPC_OK);
	mpc_ledger_close(l);
	l = open_ok();
	assert_int_equal(spent(l, long_name).count, 1);
	assert_false(signbit(spent(l, long_name).epsilon));
	mpc_ledger_close(l);
	assert_int_equal(mpc_ledger_open("", &l), MPC_EINVAL);
}

/* A group-writable directory or file, a file that is not a ledger, an
 * empty file. */
static void test_modes(void **st) {
	mpc_ledger *l;
	(void)st;
	assert_int_equal(chmod(dir, 0770), 0);
	assert_int_equal(mpc_ledger_open(path, &l), MPC_ECONFIG);
	scratch_detail_has("writable by group");
	assert_int_equal(scratch_size(path), -1);
	assert_int_equal(chmod(dir, 0700), 0);
	l = open_ok();
	mpc_ledger_close(l);
	assert_int_equal(chmod(path, 0620), 0);
	assert_int_equal(mpc_ledger_open(path, &l), MPC_ECONFIG);
	scratch_detail_has("chmod 600");
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(truncate(path, 0), 0);
	assert_int_equal(mpc_ledger_open(path, &l), MPC_EIO);
	scratch_detail_has("not a ledger");
	int fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(write(fd, "some,csv,file\n", 14), 14);
	close(fd);
	assert_int_equal(mpc_ledger_open(path, &l), MPC_EIO);
	scratch_detail_has("not a ledger");
	assert_int_equal(scratch_size(path), 1400); /* never cut */
}

/* A full disk during a charge (RLIMIT_FSIZE in a child): MPC_EIO, nothing
 * recorded, the handle charges nothing more; the next open is clean. */
static void test_full_disk(void **st) {
	(void)st;
	mpc_ledger *l = open_ok();
	charge_ok(l, "sales", 0.5, 0, 0, &BIG);
	mpc_ledger_close(l);
	long sz = scratch_size(path);
	for (int room = 0; room < 2; room++) {
		pid_t pid = fork();
		if (pid == 0) {
			mpc_ledger *c;
			signal(SIGXFSZ, SIG_IGN);
			if (mpc_ledger_open(path, &c) != MPC_OK)
				_exit(1);
			struct rlimit rl = {(rlim_t)(sz + room * 30), (rlim_t)(sz + room * 30)};
			if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
				_exit(2);
			if (mpc_ledger_charge(c, "sales", "j", "s", 0.5, 0, 0, &BIG) != MPC_EIO)
				_exit(3);
			if (mpc_ledger_charge(c, "sales", "j", "s", 0.5, 0, 0, &BIG) != MPC_EIO)
				_exit(4);
			mpc_ledger_close(c);
			_exit(0);
		}
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
		assert_int_equal(scratch_size(path), sz);
	}
	l = open_ok();
	assert_int_equal(spent(l, "sales").count, 1);
	mpc_ledger_close(l);
}

/* A child charges in a loop and reports each confirmed charge's count;
 * SIGKILL at a random moment. On reopen the count is the last confirmed
 * one or one more (a charge written but not yet confirmed), never less,
 * and the totals are exactly count times the charge. */
static void test_crash(void **st) {
	const double eps = 0.25, delta = 1.0 / 1048576, rho = 0.5;
	(void)st;
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	uint64_t before = 0;
	for (int round = 0; round < 6; round++) {
		int p[2];
		assert_int_equal(pipe(p), 0);
		pid_t pid = fork();
		if (pid == 0) {
			mpc_ledger *c;
			close(p[0]);
			if (mpc_ledger_open(path, &c) != MPC_OK)
				_exit(1);
			uint64_t n = before;
			for (;;) {
				if (mpc_ledger_charge(c, "sales", "job-c", "round", eps, delta, rho,
				                      &BIG) != MPC_OK)
					_exit(2);
				n++;
				if (write(p[1], &n, sizeof(n)) != (ssize_t)sizeof(n))
					_exit(3);
			}
		}
		close(p[1]);
		uint64_t last = before, n;
		/* at least one confirmed charge, then a random moment */
		assert_int_equal(read(p[0], &last, sizeof(last)), (ssize_t)sizeof(last));
		usleep((useconds_t)(rand() % 20000));
		assert_int_equal(kill(pid, SIGKILL), 0);
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));
		while (read(p[0], &n, sizeof(n)) == (ssize_t)sizeof(n))
			last = n;
		close(p[0]);
		mpc_ledger *l = open_ok();
		mpc_ledger_total t = spent(l, "sales");
		mpc_ledger_close(l);
		if (t.count < last || t.count > last + 1)
			fail_msg("round %d: %llu charges confirmed, ledger holds %llu", round,
			         (unsigned long long)last, (unsigned long long)t.count);
		assert_true(t.epsilon == (double)t.count * eps);
		assert_true(t.delta == (double)t.count * delta);
		assert_true(t.rho == (double)t.count * rho);
		assert_int_equal(scratch_size(path), (long)(1 + t.count) * REC);
		before = t.count;
	}
}

int main(void) {
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_charge_and_spent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refuse_past_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_persistence, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_damaged_middle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_second_open, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_inputs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_modes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_full_disk, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_crash, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
