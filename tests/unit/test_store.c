/* The preprocessing store: order, exactly-once across reopen and crashes,
 * corruption, torn journal records, junk in the middle of the journal, two
 * processes on one store, a full disk during a take, consumed material
 * overwritten, another job's store, file modes. Every test that takes
 * material checks that no element is ever handed out twice (`note`). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first */
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "protocols/preproc/mpc_store.h"

static char dir[256];
static const uint8_t hash[32] = {1, 2, 3};
static const mpc_mat_type T64 = {MPC_MAT_TRIPLES, 64, 0};
#define JREC 80 /* bytes of one journal record (protocols/preproc/mpc_store.c) */

/* which elements of the test stream were handed out, by any process */
static uint8_t seen[1024];

static int setup(void **st) {
	(void)st;
	memset(seen, 0, sizeof(seen));
	snprintf(dir, sizeof(dir), "/tmp/mpc-store-test-XXXXXX");
	assert_non_null(mkdtemp(dir));
	strcat(dir, "/s");
	return 0;
}

static int teardown(void **st) {
	char cmd[300];
	(void)st;
	snprintf(cmd, sizeof(cmd), "rm -rf %.*s", (int)(strlen(dir) - 2), dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Element i of the test stream: 24 bytes, all equal to the low byte of i
 * except the first 8, which hold i. */
static void fill(uint8_t *buf, uint64_t first, size_t n) {
	for (size_t e = 0; e < n; e++) {
		uint64_t i = first + e;
		memset(buf + e * 24, (int)(i & 0xff), 24);
		memcpy(buf + e * 24, &i, 8);
	}
}

static uint64_t idx(const uint8_t *buf, size_t e) {
	uint64_t i;
	memcpy(&i, buf + e * 24, 8);
	return i;
}

/* Record elements handed out; fails if any was handed out before. */
static void note(const uint8_t *out, size_t got) {
	for (size_t e = 0; e < got; e++) {
		uint64_t i = idx(out, e);
		assert_true(i < sizeof(seen));
		if (seen[i])
			fail_msg("element %llu handed out twice", (unsigned long long)i);
		seen[i] = 1;
	}
}

/* Take n, note them, and check they are the next `n` from `first`. */
static void take_note(mpc_store *s, size_t n, uint64_t first) {
	uint8_t out[64 * 24];
	size_t got;
	assert_true(n <= 64);
	if (mpc_store_take(s, T64, n, out, &got) != MPC_OK)
		fail_msg("%s", mpc_error_detail());
	assert_int_equal(got, n);
	note(out, got);
	for (size_t e = 0; e < got; e++)
		assert_int_equal(idx(out, e), first + e);
}

static void path_of(char *buf, size_t len, const char *name) {
	snprintf(buf, len, "%s/%s", dir, name);
}

static long size_of(const char *name) {
	char path[700];
	struct stat sb;
	path_of(path, sizeof(path), name);
	return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

static void append(const char *name, const void *buf, size_t len) {
	char path[700];
	path_of(path, sizeof(path), name);
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

static mpc_store *open_ok(void) {
	mpc_store *s;
	if (mpc_store_open(&s, dir, "job-1", hash, 1, 3) != MPC_OK)
		fail_msg("%s", mpc_error_detail());
	return s;
}

static void add(mpc_store *s, uint64_t first, size_t n) {
	uint8_t id[16] = {(uint8_t)first, 7};
	uint8_t *buf = malloc(n * 24);
	fill(buf, first, n);
	assert_int_equal(mpc_store_add(s, T64, id, n, buf), MPC_OK);
	free(buf);
}

static void test_order_and_reopen(void **st) {
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

static void test_modes(void **st) {
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
	assert_int_equal(files, 4); /* STORE, LOCK, journal, one batch */
	/* a store open to the world is refused */
	chmod(dir, 0777);
	assert_int_equal(mpc_store_open(&s, dir, "job-1", hash, 1, 3), MPC_ECONFIG);
	assert_non_null(strstr(mpc_error_detail(), "chmod 700"));
	chmod(dir, 0700);
}

static void test_other_job(void **st) {
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

static void test_corrupt_batch(void **st) {
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

/* A torn tail (a crash or a full disk inside an append): junk after the last
 * good record, shorter than a record or a whole garbled one, is cut off on
 * open and later takes are recorded properly. Before, a take recorded after
 * 20 junk bytes was lost on replay and the next open handed its triples out
 * again. */
static void test_torn_tail(void **st) {
	static const uint8_t junk[JREC] = {0x4d, 0x50, 0x43, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
	(void)st;
	mpc_store *s = open_ok();
	add(s, 0, 100);
	take_note(s, 3, 0);
	mpc_store_close(s);
	append("journal", junk, 20);
	s = open_ok();
	assert_int_equal(size_of("journal"), JREC); /* cut back to the good record */
	assert_int_equal(mpc_store_available(s, T64), 97);
	take_note(s, 2, 3);
	take_note(s, 2, 5);
	mpc_store_close(s);
	s = open_ok();
	take_note(s, 2, 7);
	mpc_store_close(s);
	/* a whole garbled last record, as a crash that extended the file
	 * before writing it leaves: cut off too */
	append("journal", junk, JREC);
	s = open_ok();
	assert_int_equal(size_of("journal"), 4 * JREC);
	take_note(s, 4, 9);
	mpc_store_close(s);
	s = open_ok();
	take_note(s, 1, 13);
	mpc_store_close(s);
}

/* Corruption in the middle: a damaged record followed by anything, or an
 * intact record out of its place, makes open refuse (MPC_EIO naming the
 * journal and the byte), every time; nothing is served from such a store. */
static void test_journal_junk_in_middle(void **st) {
	static const uint8_t junk[2 * JREC] = {1, 2, 3};
	uint8_t orig[4 * JREC], bad[6 * JREC];
	char path[700];
	mpc_store *s = open_ok();
	(void)st;
	add(s, 0, 100);
	for (int i = 0; i < 4; i++)
		take_note(s, 2, 2 * (uint64_t)i);
	mpc_store_close(s);
	path_of(path, sizeof(path), "journal");
	assert_int_equal(size_of("journal"), 4 * JREC);
	int fd = open(path, O_RDWR);
	assert_int_equal(pread(fd, orig, sizeof(orig), 0), (ssize_t)sizeof(orig));
	/* 0: one flipped byte in record 1 of 4; 1: junk appended (one whole bad
	 * record and 20 bytes); 2: a good record repeated at the end (a journal
	 * spliced or replayed); 3: 20 junk bytes, then a good record */
	for (int c = 0; c < 4; c++) {
		size_t len = sizeof(orig);
		long at = 0;
		memcpy(bad, orig, sizeof(orig));
		if (c == 0) {
			bad[JREC + 33] ^= 1;
			at = JREC;
		} else if (c == 1) {
			memcpy(bad + len, junk, JREC + 20);
			len += JREC + 20;
			at = 4 * JREC;
		} else if (c == 2) {
			memcpy(bad + len, orig + JREC, JREC);
			len += JREC;
			at = 4 * JREC;
		} else {
			memcpy(bad + len, junk, 20);
			memcpy(bad + len + 20, orig + 3 * JREC, JREC);
			len += 20 + JREC;
			at = 4 * JREC;
		}
		assert_int_equal(ftruncate(fd, 0), 0);
		assert_int_equal(pwrite(fd, bad, len, 0), (ssize_t)len);
		for (int again = 0; again < 2; again++) {
			char want[64];
			assert_int_equal(mpc_store_open(&s, dir, "job-1", hash, 1, 3), MPC_EIO);
			assert_null(s);
			assert_non_null(strstr(mpc_error_detail(), path));
			snprintf(want, sizeof(want), "corrupt at byte %ld of %zu", at, len);
			if (strstr(mpc_error_detail(), want) == NULL)
				fail_msg("case %d: %s", c, mpc_error_detail());
			assert_non_null(strstr(mpc_error_detail(), "mpc-party preprocess"));
			/* left as it was: not repaired, not cut */
			assert_int_equal(size_of("journal"), (long)len);
		}
	}
	/* the journal as it was: the store serves on from where it was */
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(pwrite(fd, orig, sizeof(orig), 0), (ssize_t)sizeof(orig));
	close(fd);
	s = open_ok();
	take_note(s, 5, 8);
	mpc_store_close(s);
}

/* Consumed material is overwritten with zeros in its batch file, and a
 * fully consumed batch is zeroed and deleted; so a journal that lost its
 * last record (as a restored one would) finds zeros where the journal's
 * digest expects material, and refuses rather than hand it out again. */
static void test_consumed_overwritten(void **st) {
	uint8_t buf[10 * 24], out[24];
	char path[700], name[300] = "";
	size_t got;
	(void)st;
	mpc_store *s = open_ok();
	add(s, 0, 10);
	add(s, 10, 10);
	DIR *d = opendir(dir);
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, "0000000000000000.bat"))
			snprintf(name, sizeof(name), "%s", e->d_name);
	closedir(d);
	assert_true(name[0] != '\0');
	path_of(path, sizeof(path), name);
	take_note(s, 3, 0);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, sizeof(buf), 80), (ssize_t)sizeof(buf));
	close(fd);
	for (size_t i = 0; i < 3 * 24; i++)
		assert_int_equal(buf[i], 0);
	for (size_t e2 = 3; e2 < 10; e2++)
		assert_int_equal(idx(buf, e2), e2); /* the rest untouched */
	take_note(s, 2, 3);
	/* skipped material is overwritten too */
	assert_int_equal(mpc_store_skip_to(s, T64, 7), MPC_OK);
	fd = open(path, O_RDONLY);
	assert_int_equal(pread(fd, buf, sizeof(buf), 80), (ssize_t)sizeof(buf));
	close(fd);
	for (size_t i = 0; i < 7 * 24; i++)
		assert_int_equal(buf[i], 0);
	take_note(s, 2, 7);
	mpc_store_close(s);
	/* the journal loses its last two records (the skip and take 7..8), as
	 * a restored one would: the store refuses instead of serving 5.. again */
	uint8_t saved[4 * JREC];
	char jpath[700];
	path_of(jpath, sizeof(jpath), "journal");
	fd = open(jpath, O_RDONLY);
	assert_int_equal(pread(fd, saved, sizeof(saved), 0), (ssize_t)sizeof(saved));
	close(fd);
	assert_int_equal(truncate(jpath, 2 * JREC), 0);
	s = open_ok();
	assert_int_equal(mpc_store_take(s, T64, 1, out, &got), MPC_EIO);
	assert_int_equal(got, 0);
	assert_non_null(strstr(mpc_error_detail(), "corrupt"));
	assert_int_equal(mpc_store_skip_to(s, T64, 9), MPC_EIO);
	mpc_store_close(s);
	/* the journal back: the first batch is finished, zeroed and deleted */
	fd = open(jpath, O_WRONLY);
	assert_int_equal(pwrite(fd, saved, sizeof(saved), 0), (ssize_t)sizeof(saved));
	close(fd);
	s = open_ok();
	take_note(s, 1, 9);
	assert_int_equal(size_of(name), -1);
	/* an interrupted add's temporary file (secret too) is gone on open */
	mpc_store_close(s);
	append("k1-r64-f0-00000000000000ff.bat.tmp", buf, 24);
	s = open_ok();
	assert_int_equal(size_of("k1-r64-f0-00000000000000ff.bat.tmp"), -1);
	take_note(s, 1, 10);
	mpc_store_close(s);
}

/* A crash after the journal record and before the zeros (simulated by
 * putting the batch file's old bytes back): the next open writes the zeros,
 * and what is left still verifies and is served once. */
static void test_crash_before_zeros(void **st) {
	uint8_t before[80 + 10 * 24], now[80 + 10 * 24];
	char path[700], name[300] = "";
	(void)st;
	mpc_store *s = open_ok();
	add(s, 0, 10);
	DIR *d = opendir(dir);
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, ".bat"))
			snprintf(name, sizeof(name), "%s", e->d_name);
	closedir(d);
	path_of(path, sizeof(path), name);
	int fd = open(path, O_RDWR);
	assert_int_equal(pread(fd, before, sizeof(before), 0), (ssize_t)sizeof(before));
	take_note(s, 4, 0);
	mpc_store_close(s);
	assert_int_equal(pwrite(fd, before, sizeof(before), 0), (ssize_t)sizeof(before));
	s = open_ok();
	assert_int_equal(pread(fd, now, sizeof(now), 0), (ssize_t)sizeof(now));
	for (size_t i = 80; i < 80 + 4 * 24; i++)
		assert_int_equal(now[i], 0);
	assert_memory_equal(now + 80 + 4 * 24, before + 80 + 4 * 24, 6 * 24);
	take_note(s, 6, 4);
	mpc_store_close(s);
	close(fd);
	assert_int_equal(size_of(name), -1);
}

/* A journal longer than one read block (512 records) replays whole, and
 * damage past the first block is found at its byte. */
static void test_long_journal(void **st) {
	char path[700];
	(void)st;
	mpc_store *s = open_ok();
	add(s, 0, 1000);
	for (uint64_t i = 0; i < 600; i++)
		take_note(s, 1, i);
	mpc_store_close(s);
	assert_int_equal(size_of("journal"), 600 * JREC);
	s = open_ok();
	take_note(s, 5, 600);
	mpc_store_close(s);
	path_of(path, sizeof(path), "journal");
	int fd = open(path, O_RDWR);
	uint8_t b;
	assert_int_equal(pread(fd, &b, 1, 550 * JREC + 70), 1);
	b ^= 0x80;
	assert_int_equal(pwrite(fd, &b, 1, 550 * JREC + 70), 1);
	close(fd);
	assert_int_equal(mpc_store_open(&s, dir, "job-1", hash, 1, 3), MPC_EIO);
	assert_non_null(strstr(mpc_error_detail(), "corrupt at byte 44000 of 48080"));
}

/* A child holds the store open; the parent's open is refused naming the
 * child's pid and the directory; a second open in one process is refused
 * too. Once the child is gone the parent goes on where it stopped. */
static void test_two_processes(void **st) {
	int up[2], down[2];
	uint8_t out[10 * 24];
	(void)st;
	mpc_store *s = open_ok();
	add(s, 0, 100);
	/* in one process */
	mpc_store *s2 = NULL;
	char want[64];
	assert_int_equal(mpc_store_open(&s2, dir, "job-1", hash, 1, 3), MPC_ECONFIG);
	assert_null(s2);
	snprintf(want, sizeof(want), "pid %ld ", (long)getpid());
	assert_non_null(strstr(mpc_error_detail(), want));
	take_note(s, 2, 0);
	mpc_store_close(s);
	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	pid_t pid = fork();
	if (pid == 0) {
		mpc_store *c;
		size_t g = 0;
		char go;
		close(up[0]);
		close(down[1]);
		if (mpc_store_open(&c, dir, "job-1", hash, 1, 3) != MPC_OK ||
		    mpc_store_take(c, T64, 10, out, &g) != MPC_OK || g != 10)
			_exit(1);
		if (write(up[1], out, sizeof(out)) != (ssize_t)sizeof(out))
			_exit(2);
		/* hold the store until the parent has tried */
		if (read(down[0], &go, 1) != 1)
			_exit(3);
		mpc_store_close(c);
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	size_t have = 0;
	while (have < sizeof(out)) {
		ssize_t r = read(up[0], out + have, sizeof(out) - have);
		assert_true(r > 0);
		have += (size_t)r;
	}
	note(out, 10);
	assert_int_equal(mpc_store_open(&s, dir, "job-1", hash, 1, 3), MPC_ECONFIG);
	assert_null(s);
	snprintf(want, sizeof(want), "pid %ld ", (long)pid);
	if (strstr(mpc_error_detail(), want) == NULL || strstr(mpc_error_detail(), dir) == NULL)
		fail_msg("%s", mpc_error_detail());
	assert_non_null(strstr(mpc_error_detail(), "wait for"));
	assert_int_equal(write(down[1], "x", 1), 1);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(up[0]);
	close(down[1]);
	s = open_ok();
	take_note(s, 5, 12);
	mpc_store_close(s);
}

/* A full disk during a take (a small RLIMIT_FSIZE in a child: the journal
 * append is cut short, then fails): nothing is handed out, the journal is
 * cut back, the handle takes nothing more, and the next open hands out
 * exactly what the failed take would have, once. */
static void test_full_disk(void **st) {
	(void)st;
	mpc_store *s = open_ok();
	add(s, 0, 100);
	take_note(s, 3, 0);
	mpc_store_close(s);
	long jlen = size_of("journal");
	assert_int_equal(jlen, JREC);
	for (int limit = 0; limit < 2; limit++) {
		pid_t pid = fork();
		if (pid == 0) {
			mpc_store *c;
			uint8_t out[5 * 24];
			size_t g = 99;
			signal(SIGXFSZ, SIG_IGN);
			if (mpc_store_open(&c, dir, "job-1", hash, 1, 3) != MPC_OK)
				_exit(1);
			/* room for 30 bytes of the record, or none */
			struct rlimit rl = {(rlim_t)(jlen + (limit ? 30 : 0)),
			                    (rlim_t)(jlen + (limit ? 30 : 0))};
			if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
				_exit(2);
			memset(out, 0xee, sizeof(out));
			if (mpc_store_take(c, T64, 5, out, &g) != MPC_EIO || g != 0)
				_exit(3);
			for (size_t i = 0; i < sizeof(out); i++)
				if (out[i] != 0 && out[i] != 0xee)
					_exit(4); /* material left in the buffer */
			if (mpc_store_take(c, T64, 5, out, &g) == MPC_OK || g != 0)
				_exit(5);
			mpc_store_close(c);
			_exit(0);
		}
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
		assert_int_equal(size_of("journal"), jlen);
	}
	s = open_ok();
	take_note(s, 5, 3);
	mpc_store_close(s);
	s = open_ok();
	take_note(s, 1, 8);
	mpc_store_close(s);
}

static void test_skip(void **st) {
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
static void test_crash(void **st) {
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

int main(void) {
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_order_and_reopen, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_modes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_other_job, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_journal_junk_in_middle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_consumed_overwritten, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_crash_before_zeros, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_long_journal, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_two_processes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_full_disk, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_skip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_crash, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
