/* Writing result files so that a failed job leaves nothing half-written. */
#ifndef MPC_FILE_H
#define MPC_FILE_H

#include <stddef.h>
#include "mpc_err.h"

/* Write len bytes to path through a temporary file in the same directory,
 * fsync it, and rename(2) it into place. `mode` for a new file (0644, 0600).
 * MPC_EIO naming the path and the reason; on error path is untouched. */
mpc_err mpc_file_write_atomic(const char *path, const void *data, size_t len,
			      unsigned mode) MPC_MUST_CHECK;

#endif
