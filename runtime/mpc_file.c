/* Atomic file writes: temporary file, fsync, rename. */
#include "mpc_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

mpc_err mpc_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
	size_t plen = strlen(path);
	char *tmp = malloc(plen + 32);
	const char *p = data;
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
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			err = mpc_error(MPC_EIO, "%s: cannot write: %s", path, strerror(errno));
			break;
		}
		p += w;
		len -= (size_t)w;
	}
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
