/* Logger: every line carries a UTC timestamp, who is speaking (party id or
 * "dealer") and the level. Callers never pass secret values to it. */
#ifndef MPC_LOG_H
#define MPC_LOG_H

#include "runtime/mpc_err.h"
#include <stdio.h>

typedef enum {
	MPC_LOG_DEBUG,
	MPC_LOG_INFO,
	MPC_LOG_WARN,
	MPC_LOG_ERROR,
	MPC_LOG_OFF
} mpc_log_level;

/* Set who speaks ("party 1", "dealer"), the minimum level and the stream
 * (NULL means stderr). Borrows `out`; copies `who`. Not thread-safe; call once
 * at start-up. */
void mpc_log_init(const char *who, mpc_log_level min, FILE *out);

/* Parse "debug", "info", "warn", "error", "off"; MPC_EINVAL otherwise. */
mpc_err mpc_log_level_parse(const char *s, mpc_log_level *out) MPC_MUST_CHECK;

void mpc_log(mpc_log_level lvl, const char *fmt, ...) MPC_PRINTF(2, 3);

#define mpc_debug(...)  mpc_log(MPC_LOG_DEBUG, __VA_ARGS__)
#define mpc_info(...)   mpc_log(MPC_LOG_INFO, __VA_ARGS__)
#define mpc_warn(...)   mpc_log(MPC_LOG_WARN, __VA_ARGS__)
#define mpc_logerr(...) mpc_log(MPC_LOG_ERROR, __VA_ARGS__)

#endif
