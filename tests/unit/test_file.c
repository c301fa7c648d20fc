/* mpc_file_read_all / mpc_file_write_fd_all: regular files, empty files,
 * pipes, the size limit, directories, missing files; NUL termination. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/mpc_file.h"

static char dir[64];

static void put(const char *path, const void *data, size_t len) {
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(mpc_file_write_fd_all(fd, data, len), MPC_OK);
	assert_int_equal(close(fd), 0);
}

static void test_regular(void **s) {
	(void)s;
	char path[128], *buf;
	size_t len;
	snprintf(path, sizeof(path), "%s/a", dir);
	/* a file with a NUL inside and no newline at the end */
	put(path, "ab\0cd", 5);
	assert_int_equal(mpc_file_read_all(path, SIZE_MAX, &buf, &len), MPC_OK);
	assert_int_equal(len, 5);
	assert_memory_equal(buf, "ab\0cd", 6); /* and the NUL after */
	free(buf);
	/* the limit: equal is fine, one less is MPC_EIO naming path, no contents */
	assert_int_equal(mpc_file_read_all(path, 5, &buf, &len), MPC_OK);
	free(buf);
	assert_int_equal(mpc_file_read_all(path, 4, &buf, &len), MPC_EIO);
	assert_null(buf);
	assert_int_equal(len, 0);
	assert_non_null(strstr(mpc_error_detail(), path));
	assert_non_null(strstr(mpc_error_detail(), "limit of 4 bytes"));
	assert_null(strstr(mpc_error_detail(), "cd"));
	/* empty */
	put(path, "", 0);
	assert_int_equal(mpc_file_read_all(path, 0, &buf, &len), MPC_OK);
	assert_int_equal(len, 0);
	assert_int_equal(buf[0], '\0');
	free(buf);
	/* big enough to need several reads: 3 MB of a pattern */
	size_t n = 3u << 20;
	char *big = malloc(n);
	for (size_t i = 0; i < n; i++)
		big[i] = (char)(i * 7 + 3);
	put(path, big, n);
	assert_int_equal(mpc_file_read_all(path, SIZE_MAX, &buf, &len), MPC_OK);
	assert_int_equal(len, n);
	assert_memory_equal(buf, big, n);
	assert_int_equal(buf[n], '\0');
	free(buf);
	free(big);
	unlink(path);
}

static void test_errors(void **s) {
	(void)s;
	char path[128], *buf = (char *)1;
	size_t len = 1;
	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(mpc_file_read_all(path, SIZE_MAX, &buf, &len), MPC_EIO);
	assert_null(buf);
	assert_int_equal(len, 0);
	char want[200];
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
	assert_string_equal(mpc_error_detail(), want);
	assert_int_equal(mpc_file_read_all(dir, SIZE_MAX, &buf, &len), MPC_EIO);
	assert_null(buf);
	assert_non_null(strstr(mpc_error_detail(), "Is a directory"));
	/* writing to a read-only descriptor; a closed pipe */
	int fd = open("/dev/null", O_RDONLY);
	assert_int_equal(mpc_file_write_fd_all(fd, "x", 1), MPC_EIO);
	assert_int_equal(errno, EBADF);
	close(fd);
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	close(pfd[0]);
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(mpc_file_write_fd_all(pfd[1], "x", 1), MPC_EIO);
	assert_int_equal(errno, EPIPE);
	close(pfd[1]);
}

/* A FIFO (no size to trust): the buffer grows, and the limit still holds. */
static void test_fifo(void **s) {
	(void)s;
	char path[128], *buf;
	size_t len, n = 200000;
	snprintf(path, sizeof(path), "%s/fifo", dir);
	for (int round = 0; round < 2; round++) {
		assert_int_equal(mkfifo(path, 0600), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			char *b = malloc(n);
			memset(b, 'q', n);
			int fd = open(path, O_WRONLY);
			signal(SIGPIPE, SIG_IGN);
			int bad = fd < 0 || mpc_file_write_fd_all(fd, b, n) != MPC_OK;
			_exit(round == 0 && bad);
		}
		mpc_err e = mpc_file_read_all(path, round == 0 ? SIZE_MAX : 100000, &buf, &len);
		int st;
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_int_equal(WEXITSTATUS(st), 0);
		if (round == 0) {
			assert_int_equal(e, MPC_OK);
			assert_int_equal(len, n);
			assert_int_equal(buf[0], 'q');
			assert_int_equal(buf[n - 1], 'q');
			assert_int_equal(buf[n], '\0');
			free(buf);
		} else {
			assert_int_equal(e, MPC_EIO);
			assert_non_null(strstr(mpc_error_detail(), "limit of 100000 bytes"));
		}
		unlink(path);
	}
}

int main(void) {
	snprintf(dir, sizeof(dir), "/tmp/mpc-file-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_regular),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_fifo),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(dir);
	return rc;
}
