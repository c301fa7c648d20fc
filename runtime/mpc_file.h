/* Whole-file reads, whole-buffer writes to a descriptor, and writing result
 * files so that a failed job leaves nothing half-written. */
#ifndef MPC_FILE_H
#define MPC_FILE_H

#include "runtime/mpc_err.h"
#include <stddef.h>

/* Read all of path (a regular file, pipe or device) into a new buffer of
 * *len + 1 bytes with buf[*len] == '\0', so text parsers may rely on the NUL
 * (the file itself may hold NULs: use *len). Caller frees; wipe it first with
 * mpc_wipe() if the file holds secrets (growing the buffer wipes the old
 * copy, so no other copy is left behind). Files longer than max_len bytes
 * fail (SIZE_MAX: no limit). MPC_EIO naming the path and the reason (never
 * the contents), MPC_ENOMEM; on error *buf is NULL and *len is 0. */
mpc_err mpc_file_read_all(const char *path, size_t max_len, char **buf, size_t *len) MPC_MUST_CHECK;

/* Write all len bytes of buf to fd, retrying on EINTR and short writes.
 * MPC_EIO naming the descriptor and the reason; errno is left as the failed
 * write(2) set it (EIO if it wrote nothing), for callers that name a path. */
mpc_err mpc_file_write_fd_all(int fd, const void *buf, size_t len) MPC_MUST_CHECK;

/* Read exactly len bytes from fd into buf, retrying on EINTR and short
 * reads. MPC_EIO naming the descriptor (end of file included). */
mpc_err mpc_file_read_fd_all(int fd, void *buf, size_t len) MPC_MUST_CHECK;

/* Write len bytes to path through a temporary file in the same directory,
 * fsync it, and rename(2) it into place. `mode` for a new file (0644, 0600).
 * MPC_EIO naming the path and the reason; on error path is untouched. */
mpc_err mpc_file_write_atomic(const char *path, const void *data, size_t len,
                              unsigned mode) MPC_MUST_CHECK;

#endif
