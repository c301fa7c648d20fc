/* Error codes and per-thread error detail text. */
#include "runtime/mpc_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define DETAIL_MAX 1024

static _Thread_local char detail[DETAIL_MAX];

static const char *const names[MPC_ERR_COUNT] = {
    [MPC_OK] = "success",
    [MPC_ENOMEM] = "out of memory",
    [MPC_EINVAL] = "invalid argument",
    [MPC_ERANGE] = "value out of range",
    [MPC_ENET] = "network failure",
    [MPC_ETIMEDOUT] = "timed out waiting for a peer",
    [MPC_EPROTO] = "protocol violation by a peer",
    [MPC_ECHEAT] = "consistency check failed",
    [MPC_ECRYPTO] = "cryptographic library failure",
    [MPC_ECONFIG] = "bad configuration",
    [MPC_EIO] = "input/output error",
    [MPC_EPEER] = "a peer aborted the job",
    [MPC_ECLOSED] = "a peer closed the session",
    [MPC_ESTOPPED] = "stopped by a signal",
    [MPC_EREFUSED] = "refused by policy",
};

const char *mpc_strerror(mpc_err e) {
	if ((unsigned)e >= MPC_ERR_COUNT || !names[e])
		return "unknown error";
	return names[e];
}

mpc_err mpc_error(mpc_err code, const char *fmt, ...) {
	/* Format into a temporary first: callers may pass mpc_error_detail() as an
	 * argument to add context, and vsnprintf must not read what it writes. */
	char tmp[DETAIL_MAX];
	va_list ap;

	if (!fmt) {
		detail[0] = '\0';
		return code;
	}
	va_start(ap, fmt);
	int len = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (len < 0)
		tmp[0] = '\0';
	memcpy(detail, tmp, sizeof(detail));
	detail[DETAIL_MAX - 1] = '\0';
	return code;
}

const char *mpc_error_detail(void) {
	return detail;
}

void mpc_error_clear(void) {
	detail[0] = '\0';
}
