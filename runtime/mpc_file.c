/* Whole-file reads, full writes to a descriptor, atomic file writes. */
#include "runtime/mpc_file.h"

#include "runtime/mpc_wipe.h"
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Move the first n bytes of *b to a new buffer of ncap bytes. realloc() could
 * leave the old block unwiped, and the contents may be secret. */
static int grow(char **b, size_t n, size_t ncap) {
	char *nb = malloc(ncap);
	if (nb == NULL)
		return -1;
	if (n > 0)
		memcpy(nb, *b, n);
	mpc_wipe(*b, n);
	free(*b);
	*b = nb;
	return 0;
}

mpc_err mpc_file_read_all(const char *path, size_t max_len, char **buf, size_t *len) {
	struct stat st;
	char *b = NULL;
	size_t n = 0, cap = 65536;
	mpc_err err = MPC_OK;
	int fd;

	*buf = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mpc_error(MPC_EIO, "%s: cannot open: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		err = mpc_error(MPC_EIO, "%s: cannot stat: %s", path, strerror(errno));
		goto out;
	}
	if (S_ISREG(st.st_mode)) {
		if ((uintmax_t)st.st_size > max_len)
			goto too_long;
		if ((uintmax_t)st.st_size >= SIZE_MAX) {
			err = mpc_error(MPC_ENOMEM, "%s: out of memory", path);
			goto out;
		}
		/* one buffer of the file's size, and a byte to read the end of
		 * file (and later the NUL) without growing */
		cap = (size_t)st.st_size + 1;
	}
	if ((b = malloc(cap)) == NULL) {
		err = mpc_error(MPC_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	for (;;) {
		if (n == cap) { /* a pipe, or a file that grew while we read */
			size_t ncap = cap > SIZE_MAX / 2 ? SIZE_MAX : 2 * cap;
			if (max_len < SIZE_MAX - 2 && ncap > max_len + 2)
				ncap = max_len + 2; /* enough to see it is too long */
			if (ncap == cap || grow(&b, n, ncap) != 0) {
				err = mpc_error(MPC_ENOMEM, "%s: out of memory", path);
				goto out;
			}
			cap = ncap;
		}
		ssize_t r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = mpc_error(MPC_EIO, "%s: cannot read: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max_len)
			goto too_long;
	}
	b[n] = '\0'; /* n < cap: the last read had room */
	*buf = b;
	*len = n;
	b = NULL;
	goto out;
too_long:
	err = mpc_error(MPC_EIO, "%s: longer than the limit of %zu bytes", path, max_len);
out:
	if (b) {
		mpc_wipe(b, n);
		free(b);
	}
	close(fd);
	return err;
}

mpc_err mpc_file_write_fd_all(int fd, const void *buf, size_t len) {
	const char *p = buf;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = w == 0 ? EIO : errno;
			mpc_error(MPC_EIO, "write to descriptor %d: %s", fd, strerror(e));
			errno = e;
			return MPC_EIO;
		}
		p += w;
		len -= (size_t)w;
	}
	return MPC_OK;
}

mpc_err mpc_file_read_fd_all(int fd, void *buf, size_t len) {
	char *p = buf;
	while (len > 0) {
		ssize_t r = read(fd, p, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return mpc_error(MPC_EIO, "read from descriptor %d: %s", fd,
			                 r == 0 ? "end of file" : strerror(errno));
		p += r;
		len -= (size_t)r;
	}
	return MPC_OK;
}

mpc_err mpc_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode) {
	size_t plen = strlen(path);
	char *tmp = malloc(plen + 32);
	mpc_err err = MPC_OK;
	int fd;

	if (tmp == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	snprintf(tmp, plen + 32, "%s.tmp.%ld", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
	if (fd < 0) {
		err = mpc_error(MPC_EIO, "%s: cannot create: %s", tmp, strerror(errno));
		goto out;
	}
	if (mpc_file_write_fd_all(fd, data, len) != MPC_OK)
		err = mpc_error(MPC_EIO, "%s: cannot write: %s", path, strerror(errno));
	if (err == MPC_OK && fsync(fd) != 0)
		err = mpc_error(MPC_EIO, "%s: cannot sync: %s", path, strerror(errno));
	if (close(fd) != 0 && err == MPC_OK)
		err = mpc_error(MPC_EIO, "%s: cannot close: %s", path, strerror(errno));
	if (err == MPC_OK && rename(tmp, path) != 0)
		err = mpc_error(MPC_EIO, "%s: cannot rename into place: %s", path, strerror(errno));
	if (err != MPC_OK)
		unlink(tmp);
out:
	free(tmp);
	return err;
}
