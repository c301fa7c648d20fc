/* Files and texts for the unit tests (tests/support/scratch.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first */
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/mpc_err.h"
#include "tests/support/scratch.h"

void scratch_dir(char *dir, size_t n, const char *tag) {
	snprintf(dir, n, "/tmp/mpc-%s-test-XXXXXX", tag);
	assert_non_null(mkdtemp(dir));
}

int scratch_remove(const char *dir) {
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

long scratch_size(const char *path) {
	struct stat sb;
	return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

void scratch_flip(const char *path, long off) {
	int fd = open(path, O_RDWR);
	uint8_t b;
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, off), 1);
	b = (uint8_t)~b;
	assert_int_equal(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

void scratch_detail_has(const char *what) {
	if (strstr(mpc_error_detail(), what) == NULL)
		fail_msg("\"%s\" not in: %s", what, mpc_error_detail());
}

const char *scratch_edit(const char *base, int nr, const char *line, int insert) {
	static char buf[8192];
	char *copy = strdup(base); /* base may be buf */
	const char *p = copy;
	size_t k = 0;
	assert_non_null(copy);
	for (int i = 1; *p; i++) {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) + 1 : strlen(p);
		if (i == nr && line)
			k += (size_t)snprintf(buf + k, sizeof(buf) - k, "%s\n", line);
		if (i != nr || insert) {
			memcpy(buf + k, p, len);
			k += len;
		}
		p += len;
	}
	buf[k] = '\0';
	free(copy);
	return buf;
}
