/* Scoring quotas: the per-minute window (refused with the policy's message,
 * allowed again 60 s later), the per-day count reset at UTC midnight, the
 * total across close and open, an asker's override, no quota at all, n > 1,
 * reservations written ahead in blocks (not one record per take), takes
 * killed at random moments, a torn last record cut off, damaged records
 * refused, a second open refused, bad inputs and file modes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first */
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "node/mpc_policy.h"
#include "node/mpc_quota.h"
#include "tests/support/scratch.h"

#define REC    256 /* bytes of one record (node/mpc_quota.c) */
#define MIN_MS 60000LL
#define DAY_MS 86400000LL
#define DAY0   20000LL                     /* a UTC day (2024-10-04) */
#define T0     (DAY0 * DAY_MS + 3600000LL) /* 01:00 that day */

/* line numbers matter: the refusals name them */
static const char policy_text[] = "[node]\n"                               /* 1 */
                                  "name = bank0\n"                         /* 2 */
                                  "[computations]\n"                       /* 3 */
                                  "allow = fraud_score, aggregate_stats\n" /* 4 */
                                  "[peers]\n"                              /* 5 */
                                  "askers = m1, m2, m3\n"                  /* 6 */
                                  "[quota fraud_score]\n"                  /* 7 */
                                  "per_minute = 10\n"                      /* 8 */
                                  "per_day = 50\n"                         /* 9 */
                                  "total = 120\n"                          /* 10 */
                                  "[quota fraud_score m2]\n"               /* 11 */
                                  "per_minute = 1000\n"                    /* 12 */
                                  "per_day = unlimited\n"                  /* 13 */
                                  "total = 1000000\n";                     /* 14 */

static char dir[256], path[300];
static mpc_policy *pol;

static int setup(void **st) {
	(void)st;
	scratch_dir(dir, sizeof(dir), "quota");
	snprintf(path, sizeof(path), "%s/quota", dir);
	if (mpc_policy_parse("policy.ini", policy_text, strlen(policy_text), &pol) != MPC_OK)
		fail_msg("%s", mpc_error_detail());
	return 0;
}

static int teardown(void **st) {
	(void)st;
	mpc_policy_free(pol);
	pol = NULL;
	return scratch_remove(dir);
}

static mpc_quota *open_ok(void) {
	mpc_quota *q;
	if (mpc_quota_open(path, &q) != MPC_OK)
		fail_msg("%s", mpc_error_detail());
	return q;
}

static void take_ok(mpc_quota *q, const char *comp, const char *asker, uint64_t n, int64_t now) {
	if (mpc_quota_take(q, pol, comp, asker, n, now) != MPC_OK)
		fail_msg("%s", mpc_error_detail());
}

static void refused(mpc_quota *q, const char *comp, const char *asker, uint64_t n, int64_t now,
                    const char *want) {
	mpc_err e = mpc_quota_take(q, pol, comp, asker, n, now);
	if (e != MPC_EREFUSED || strcmp(mpc_error_detail(), want) != 0)
		fail_msg("wanted %s\n   got %d: %s", want, e, mpc_error_detail());
}

/* minute, day, total used */
static void used_is(mpc_quota *q, const char *comp, const char *asker, int64_t now, uint64_t m,
                    uint64_t d, uint64_t t) {
	uint64_t um, ud, ut;
	if (mpc_quota_used(q, comp, asker, now, &um, &ud, &ut) != MPC_OK)
		fail_msg("%s", mpc_error_detail());
	if (um != m || ud != d || ut != t)
		fail_msg("%s/%s: used %llu/%llu/%llu, wanted %llu/%llu/%llu", comp, asker,
		         (unsigned long long)um, (unsigned long long)ud, (unsigned long long)ut,
		         (unsigned long long)m, (unsigned long long)d, (unsigned long long)t);
}

#define MINUTE_M1                                                                                  \
	"policy of bank0 (policy.ini:8): [quota fraud_score] per_minute: m1 has used its 10 per "  \
	"minute"
#define DAY_M1                                                                                     \
	"policy of bank0 (policy.ini:9): [quota fraud_score] per_day: m1 has used its 50 per day"
#define TOTAL_M1                                                                                   \
	"policy of bank0 (policy.ini:10): [quota fraud_score] total: m1 has used its 120 in total"

/* Up to the limit within a minute, then refused (nothing counted), until
 * 60 s after the latest take of the window. */
static void test_minute(void **st) {
	(void)st;
	mpc_quota *q = open_ok();
	for (int i = 0; i < 10; i++)
		take_ok(q, "fraud_score", "m1", 1, T0 + i * 10);
	used_is(q, "fraud_score", "m1", T0 + 90, 10, 10, 10);
	refused(q, "fraud_score", "m1", 1, T0 + 100, MINUTE_M1);
	refused(q, "fraud_score", "m1", 1, T0 + 90 + MIN_MS - 1, MINUTE_M1);
	used_is(q, "fraud_score", "m1", T0 + 90 + MIN_MS - 1, 10, 10, 10);
	used_is(q, "fraud_score", "m1", T0 + 90 + MIN_MS, 0, 10, 10);
	/* n > 1: all ten at once; then eleven never fit */
	take_ok(q, "fraud_score", "m1", 10, T0 + 90 + MIN_MS);
	refused(q, "fraud_score", "m1", 1, T0 + 90 + MIN_MS + 5000, MINUTE_M1);
	refused(q, "fraud_score", "m1", 11, T0 + 10 * MIN_MS, MINUTE_M1);
	/* a sliding window: takes leave it one by one */
	int64_t t = T0 + 20 * MIN_MS;
	take_ok(q, "fraud_score", "m1", 4, t);
	take_ok(q, "fraud_score", "m1", 6, t + 30000);
	refused(q, "fraud_score", "m1", 1, t + MIN_MS - 1, MINUTE_M1);
	take_ok(q, "fraud_score", "m1", 4, t + MIN_MS);
	refused(q, "fraud_score", "m1", 1, t + MIN_MS, MINUTE_M1);
	used_is(q, "fraud_score", "m1", t + MIN_MS, 10, 34, 34);
	/* n = 0 counts nothing, even when refused would follow */
	assert_int_equal(mpc_quota_take(q, pol, "fraud_score", "m1", 0, t + MIN_MS), MPC_OK);
	/* other askers have their own counts */
	used_is(q, "fraud_score", "m3", t, 0, 0, 0);
	take_ok(q, "fraud_score", "m3", 10, t);
	mpc_quota_close(q);
	mpc_quota_close(NULL);
}

/* The day's count starts again at UTC midnight; the total stays. */
static void test_day(void **st) {
	(void)st;
	mpc_quota *q = open_ok();
	for (int i = 0; i < 5; i++)
		take_ok(q, "fraud_score", "m1", 10, T0 + i * MIN_MS);
	refused(q, "fraud_score", "m1", 1, T0 + 10 * MIN_MS, DAY_M1);
	refused(q, "fraud_score", "m1", 1, (DAY0 + 1) * DAY_MS - 1, DAY_M1);
	used_is(q, "fraud_score", "m1", (DAY0 + 1) * DAY_MS - 1, 0, 50, 50);
	used_is(q, "fraud_score", "m1", (DAY0 + 1) * DAY_MS, 0, 0, 50);
	take_ok(q, "fraud_score", "m1", 5, (DAY0 + 1) * DAY_MS);
	/* a clock that steps back counts on the later day, and in its minute */
	take_ok(q, "fraud_score", "m1", 5, (DAY0 + 1) * DAY_MS - 2 * MIN_MS);
	refused(q, "fraud_score", "m1", 1, (DAY0 + 1) * DAY_MS - 2 * MIN_MS, MINUTE_M1);
	used_is(q, "fraud_score", "m1", (DAY0 + 1) * DAY_MS, 10, 10, 60);
	for (int i = 1; i < 5; i++)
		take_ok(q, "fraud_score", "m1", 10, (DAY0 + 1) * DAY_MS + i * MIN_MS);
	refused(q, "fraud_score", "m1", 1, (DAY0 + 1) * DAY_MS + 9 * MIN_MS, DAY_M1);
	/* day 2: the total (120) runs out first, and is named before the day */
	take_ok(q, "fraud_score", "m1", 10, (DAY0 + 2) * DAY_MS);
	take_ok(q, "fraud_score", "m1", 10, (DAY0 + 2) * DAY_MS + MIN_MS);
	refused(q, "fraud_score", "m1", 1, (DAY0 + 2) * DAY_MS + 2 * MIN_MS, TOTAL_M1);
	refused(q, "fraud_score", "m1", 1, (DAY0 + 3) * DAY_MS, TOTAL_M1);
	used_is(q, "fraud_score", "m1", (DAY0 + 3) * DAY_MS, 0, 0, 120);
	mpc_quota_close(q);
}

/* The total holds across close and open, which keeps exact counts. */
static void test_total_reopen(void **st) {
	(void)st;
	mpc_quota *q = open_ok();
	int64_t t = T0;
	for (int i = 0; i < 11; i++, t += MIN_MS + (i % 5 == 0 ? DAY_MS : 0))
		take_ok(q, "fraud_score", "m1", 10, t);
	used_is(q, "fraud_score", "m1", t, 0, 10, 110);
	mpc_quota_close(q);
	q = open_ok();
	used_is(q, "fraud_score", "m1", t, 0, 10, 110);
	refused(q, "fraud_score", "m1", 11, t + DAY_MS, TOTAL_M1);
	take_ok(q, "fraud_score", "m1", 9, t + DAY_MS);
	mpc_quota_close(q);
	q = open_ok();
	take_ok(q, "fraud_score", "m1", 1, t + 2 * DAY_MS);
	mpc_quota_close(q);
	q = open_ok();
	refused(q, "fraud_score", "m1", 1, t + 3 * DAY_MS, TOTAL_M1);
	used_is(q, "fraud_score", "m1", t + 3 * DAY_MS, 0, 0, 120);
	mpc_quota_close(q);
	/* close rewrote the journal whole: a header and one record per pair */
	assert_int_equal(scratch_size(path), 2 * REC);
}

/* m2's own section: its per_minute (line 12, named with m2), no per_day,
 * its total; n > 1 throughout. */
static void test_override(void **st) {
	(void)st;
	mpc_quota *q = open_ok();
	take_ok(q, "fraud_score", "m2", 1000, T0);
	refused(q, "fraud_score", "m2", 1, T0 + 1,
	        "policy of bank0 (policy.ini:12): [quota fraud_score m2] per_minute: m2 has used "
	        "its 1000 per minute");
	for (int i = 1; i < 100; i++) /* 100000 in a day: no per_day for m2 */
		take_ok(q, "fraud_score", "m2", 1000, T0 + i * MIN_MS);
	used_is(q, "fraud_score", "m2", T0 + 99 * MIN_MS, 1000, 100000, 100000);
	refused(q, "fraud_score", "m2", 1001, T0 + 200 * MIN_MS,
	        "policy of bank0 (policy.ini:12): [quota fraud_score m2] per_minute: m2 has used "
	        "its 1000 per minute");
	/* m1 still has the default */
	take_ok(q, "fraud_score", "m1", 10, T0);
	refused(q, "fraud_score", "m1", 1, T0, MINUTE_M1);
	mpc_quota_close(q);
}

/* No [quota] section for the computation: unlimited, yet counted. */
static void test_unlimited(void **st) {
	(void)st;
	mpc_quota *q = open_ok();
	for (int i = 0; i < 100; i++)
		take_ok(q, "aggregate_stats", "m1", 10000000000000ull, T0);
	used_is(q, "aggregate_stats", "m1", T0, 1000000000000000ull, 1000000000000000ull,
	        1000000000000000ull);
	assert_int_equal(mpc_quota_take(q, pol, "aggregate_stats", "m1", MPC_QUOTA_MAX_N + 1, T0),
	                 MPC_EINVAL);
	/* an asker the policy does not name: limits are the policy's business */
	take_ok(q, "aggregate_stats", "someone-else", 5, T0);
	mpc_quota_close(q);
	q = open_ok();
	used_is(q, "aggregate_stats", "m1", T0, 0, 1000000000000000ull, 1000000000000000ull);
	used_is(q, "aggregate_stats", "someone-else", T0 + DAY_MS, 0, 0, 5);
	mpc_quota_close(q);
}

/* Reservations reach ahead: 50 takes of one write one record, not 50. */
static void test_blocks(void **st) {
	(void)st;
	mpc_quota *q = open_ok();
	assert_int_equal(scratch_size(path), REC);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	for (int i = 0; i < 50; i++)
		take_ok(q, "fraud_score", "m1", 1, T0 + i * 10 * 1000);
	assert_int_equal(scratch_size(path), 2 * REC);
	take_ok(q, "fraud_score", "m1", 1, (DAY0 + 1) * DAY_MS); /* a new day */
	assert_int_equal(scratch_size(path), 3 * REC);
	/* no limit: 4096 at a time */
	for (int i = 0; i < 4097; i++)
		take_ok(q, "aggregate_stats", "m1", 1, T0);
	assert_int_equal(scratch_size(path), 4 * REC);
	take_ok(q, "aggregate_stats", "m1", 1, T0);
	assert_int_equal(scratch_size(path), 5 * REC);
	mpc_quota_close(q);
	assert_int_equal(scratch_size(path), 3 * REC);
}

/* A child takes in a loop and reports each success; SIGKILL at a random
 * moment. On reopen the count is at least what the child got (the whole
 * reservation counts), and what can still be taken plus what the children
 * got never passes the total, and falls short of it by at most one block
 * per crash. */
static void test_crash(void **st) {
	const uint64_t limit = 1000000, block = limit / 64;
	const int rounds = 5;
	(void)st;
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	uint64_t got = 0;
	int64_t now = T0;
	for (int round = 0; round < rounds; round++) {
		int p[2];
		assert_int_equal(pipe(p), 0);
		pid_t pid = fork();
		if (pid == 0) {
			mpc_quota *c;
			close(p[0]);
			if (mpc_quota_open(path, &c) != MPC_OK)
				_exit(1);
			uint64_t n = 0;
			for (int64_t t = now;; t += 100) { /* 600 a minute: under 1000 */
				mpc_err e = mpc_quota_take(c, pol, "fraud_score", "m2", 1, t);
				if (e == MPC_EREFUSED)
					pause();
				if (e != MPC_OK)
					_exit(2);
				n++;
				if (write(p[1], &n, sizeof(n)) != (ssize_t)sizeof(n))
					_exit(3);
			}
		}
		close(p[1]);
		uint64_t last = 0, n;
		struct timespec t0, t1;
		long wait_us = rand() % 60000;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(read(p[0], &last, sizeof(last)), (ssize_t)sizeof(last));
		do {
			if (read(p[0], &n, sizeof(n)) == (ssize_t)sizeof(n))
				last = n;
			clock_gettime(CLOCK_MONOTONIC, &t1);
		} while ((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000 <
		         wait_us);
		assert_int_equal(kill(pid, SIGKILL), 0);
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));
		while (read(p[0], &n, sizeof(n)) == (ssize_t)sizeof(n))
			last = n;
		close(p[0]);
		got += last;
		mpc_quota *q = open_ok();
		uint64_t total;
		assert_int_equal(mpc_quota_used(q, "fraud_score", "m2", now, NULL, NULL, &total),
		                 MPC_OK);
		if (total < got || total > got + (uint64_t)(round + 1) * (block + 1))
			fail_msg("round %d: children got %llu, the journal counts %llu", round,
			         (unsigned long long)got, (unsigned long long)total);
		mpc_quota_close(q);
		now += 3 * DAY_MS;
	}
	/* take what is left, in ever smaller requests, a minute apart */
	mpc_quota *q = open_ok();
	uint64_t more = 0;
	for (uint64_t n = 1000; n > 0; n /= 10) {
		while (mpc_quota_take(q, pol, "fraud_score", "m2", n, now) == MPC_OK) {
			more += n;
			now += MIN_MS;
		}
		scratch_detail_has("total: m2 has used its 1000000 in total");
	}
	mpc_quota_close(q);
	if (got + more > limit || got + more < limit - (uint64_t)rounds * (block + 1))
		fail_msg("children got %llu, then %llu more: limit %llu", (unsigned long long)got,
		         (unsigned long long)more, (unsigned long long)limit);
}

/* A child opens, takes n at now and exits without closing. */
static void crash_after_take(uint64_t n, int64_t now) {
	pid_t pid = fork();
	if (pid == 0) {
		mpc_quota *c;
		if (mpc_quota_open(path, &c) != MPC_OK)
			_exit(1);
		_exit(mpc_quota_take(c, pol, "fraud_score", "m1", n, now) == MPC_OK ? 0 : 2);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* A partial record at the end is cut off; so is a damaged last append. A
 * damaged record among those the file was written with is refused even
 * when it is the last. */
static void test_torn_tail(void **st) {
	(void)st;
	mpc_quota *q = open_ok();
	take_ok(q, "fraud_score", "m1", 3, T0);
	mpc_quota_close(q);
	assert_int_equal(scratch_size(path), 2 * REC);
	uint8_t junk[100];
	memset(junk, 0x5a, sizeof(junk));
	int fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(fd);
	q = open_ok();
	assert_int_equal(scratch_size(path), 2 * REC);
	used_is(q, "fraud_score", "m1", T0, 0, 3, 3);
	mpc_quota_close(q);
	/* after a clean close the reservations are exact: a take appends; a
	 * child takes 2 and dies without closing. Reopened, the whole
	 * reservation counts: 5 + 64 in total, 5 + 45 (up to 50) in the day */
	crash_after_take(2, T0);
	assert_int_equal(scratch_size(path), 3 * REC);
	q = open_ok();
	used_is(q, "fraud_score", "m1", T0, 0, 50, 69);
	mpc_quota_close(q);
	assert_int_equal(scratch_size(path), 2 * REC);
	/* the appended record damaged: cut off as torn */
	crash_after_take(2, T0 + DAY_MS);
	assert_int_equal(scratch_size(path), 3 * REC);
	scratch_flip(path, 2 * REC + 40);
	q = open_ok();
	assert_int_equal(scratch_size(path), 2 * REC);
	used_is(q, "fraud_score", "m1", T0, 0, 50, 69);
	mpc_quota_close(q);
	/* the last record, written whole, damaged */
	scratch_flip(path, REC + 40);
	assert_int_equal(mpc_quota_open(path, &q), MPC_EIO);
	assert_null(q);
	scratch_detail_has("record 1 ");
	scratch_detail_has("written whole");
	scratch_flip(path, REC + 40);
	/* cut short */
	assert_int_equal(truncate(path, REC + 10), 0);
	assert_int_equal(mpc_quota_open(path, &q), MPC_EIO);
	scratch_detail_has("record 1 ");
}

/* A damaged record with more after it, an intact record out of order and a
 * damaged header refuse the open (MPC_EIO naming the file and the record)
 * and change nothing. */
static void test_damaged(void **st) {
	(void)st;
	mpc_quota *q = open_ok();
	take_ok(q, "fraud_score", "m1", 1, T0);
	take_ok(q, "fraud_score", "m2", 1, T0);
	take_ok(q, "fraud_score", "m3", 1, T0);
	mpc_quota_close(q);
	long sz = scratch_size(path);
	assert_int_equal(sz, 4 * REC);
	scratch_flip(path, REC + 35);
	q = (mpc_quota *)&q;
	assert_int_equal(mpc_quota_open(path, &q), MPC_EIO);
	assert_null(q);
	scratch_detail_has(path);
	scratch_detail_has("record 1 ");
	assert_int_equal(scratch_size(path), sz);
	scratch_flip(path, REC + 35);
	uint8_t r1[REC], r2[REC];
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, r1, REC, REC), REC);
	assert_int_equal(pread(fd, r2, REC, 2 * REC), REC);
	assert_int_equal(pwrite(fd, r2, REC, REC), REC);
	assert_int_equal(pwrite(fd, r1, REC, 2 * REC), REC);
	assert_int_equal(mpc_quota_open(path, &q), MPC_EIO);
	scratch_detail_has("record 1 ");
	scratch_detail_has("out of order");
	assert_int_equal(pwrite(fd, r1, REC, REC), REC);
	assert_int_equal(pwrite(fd, r2, REC, 2 * REC), REC);
	close(fd);
	scratch_flip(path, 100);
	assert_int_equal(mpc_quota_open(path, &q), MPC_EIO);
	scratch_detail_has("record 0 ");
	scratch_flip(path, 100);
	assert_int_equal(scratch_size(path), sz);
	q = open_ok();
	used_is(q, "fraud_score", "m3", T0, 0, 1, 1);
	mpc_quota_close(q);
}

/* A second open, in this process or another, is refused naming the pid. */
static void test_second_open(void **st) {
	char want[64];
	(void)st;
	mpc_quota *q = open_ok(), *q2 = NULL;
	assert_int_equal(mpc_quota_open(path, &q2), MPC_ECONFIG);
	assert_null(q2);
	snprintf(want, sizeof(want), "pid %ld ", (long)getpid());
	scratch_detail_has(want);
	scratch_detail_has(path);
	mpc_quota_close(q);
	/* a child holds it: the parent is refused, naming the child */
	int up[2], down[2];
	char go;
	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	pid_t pid = fork();
	if (pid == 0) {
		mpc_quota *c;
		close(up[0]);
		close(down[1]);
		if (mpc_quota_open(path, &c) != MPC_OK)
			_exit(1);
		if (write(up[1], "x", 1) != 1 || read(down[0], &go, 1) != 1)
			_exit(2);
		mpc_quota_close(c);
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	assert_int_equal(read(up[0], &go, 1), 1);
	assert_int_equal(mpc_quota_open(path, &q), MPC_ECONFIG);
	snprintf(want, sizeof(want), "pid %ld ", (long)pid);
	scratch_detail_has(want);
	assert_int_equal(write(down[1], "x", 1), 1);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(up[0]);
	close(down[1]);
	q = open_ok();
	mpc_quota_close(q);
}

static void test_bad_inputs(void **st) {
	(void)st;
	char long_name[80];
	memset(long_name, 'a', 65);
	long_name[65] = '\0';
	mpc_quota *q = open_ok();
	const char *bad[] = {"", "a b", "a/b", "é", "a\n", long_name, NULL};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(mpc_quota_take(q, pol, bad[i], "m1", 1, T0), MPC_EINVAL);
		assert_int_equal(mpc_quota_take(q, pol, "fraud_score", bad[i], 1, T0), MPC_EINVAL);
		assert_int_equal(mpc_quota_used(q, "fraud_score", bad[i], T0, NULL, NULL, NULL),
		                 MPC_EINVAL);
	}
	scratch_detail_has("bad computation or asker name");
	assert_int_equal(mpc_quota_take(q, pol, "fraud_score", "m1", 1, -1), MPC_EINVAL);
	assert_int_equal(mpc_quota_take(q, NULL, "fraud_score", "m1", 1, T0), MPC_EINVAL);
	assert_int_equal(mpc_quota_take(NULL, pol, "fraud_score", "m1", 1, T0), MPC_EINVAL);
	assert_int_equal(mpc_quota_used(NULL, "fraud_score", "m1", T0, NULL, NULL, NULL),
	                 MPC_EINVAL);
	/* 64 characters are a name, but longer than the policy's (32) */
	long_name[64] = '\0';
	assert_int_equal(mpc_quota_take(q, pol, "fraud_score", long_name, 1, T0), MPC_EINVAL);
	used_is(q, "fraud_score", long_name, T0, 0, 0, 0);
	assert_int_equal(scratch_size(path), REC);
	mpc_quota_close(q);
	assert_int_equal(mpc_quota_open("", &q), MPC_EINVAL);
	assert_int_equal(mpc_quota_open(NULL, &q), MPC_EINVAL);
}

/* A group-writable directory or file, a file that is not a journal. */
static void test_modes(void **st) {
	mpc_quota *q;
	(void)st;
	assert_int_equal(chmod(dir, 0770), 0);
	assert_int_equal(mpc_quota_open(path, &q), MPC_ECONFIG);
	scratch_detail_has("writable by group");
	assert_int_equal(scratch_size(path), -1);
	assert_int_equal(chmod(dir, 0700), 0);
	q = open_ok();
	mpc_quota_close(q);
	assert_int_equal(chmod(path, 0620), 0);
	assert_int_equal(mpc_quota_open(path, &q), MPC_ECONFIG);
	scratch_detail_has("chmod 600");
	assert_int_equal(chmod(path, 0600), 0);
	int fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(write(fd, "some,csv,file\n", 14), 14);
	close(fd);
	assert_int_equal(mpc_quota_open(path, &q), MPC_EIO);
	scratch_detail_has("not a quota journal");
	assert_int_equal(scratch_size(path), 1400); /* never cut */
}

int main(void) {
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_minute, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_day, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_total_reopen, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_override, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unlimited, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_blocks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_crash, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_damaged, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_second_open, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_inputs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_modes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
