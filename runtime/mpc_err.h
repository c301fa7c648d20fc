/* Error codes, error detail text, and the attribute that makes callers check. */
#ifndef MPC_ERR_H
#define MPC_ERR_H

#define MPC_MUST_CHECK   __attribute__((warn_unused_result))
#define MPC_PRINTF(a, b) __attribute__((format(printf, a, b)))

typedef enum {
	MPC_OK = 0,
	MPC_ENOMEM,    /* out of memory */
	MPC_EINVAL,    /* bad argument (our caller's bug or bad user input) */
	MPC_ERANGE,    /* a value is outside the documented range */
	MPC_ENET,      /* transport failure: cannot bind, connect, send */
	MPC_ETIMEDOUT, /* a peer did not answer within the deadline */
	MPC_EPROTO,    /* a peer sent something malformed, out of step, or from another session */
	MPC_ECHEAT,    /* a consistency check failed */
	MPC_ECRYPTO,   /* a cryptographic library call failed */
	MPC_ECONFIG,   /* bad configuration */
	MPC_EIO,       /* file input/output failed */
	MPC_EPEER,     /* a peer aborted the job and told us why */
	MPC_ECLOSED,   /* a peer closed the session normally while we expected data */
	MPC_ESTOPPED,  /* this process was asked to stop (SIGTERM, SIGINT) */
	MPC_EREFUSED,  /* a node's local policy or privacy budget refuses it */
	MPC_ERR_COUNT
} mpc_err;

/* Short fixed description of a code; never NULL. */
const char *mpc_strerror(mpc_err e);

/* Record a detail message for the current thread and return `code`. The text
 * names who and where (peer, step, file:line) and never holds secret values. */
mpc_err mpc_error(mpc_err code, const char *fmt, ...) MPC_PRINTF(2, 3);

/* The last detail recorded on this thread ("" if none). Borrowed; valid until
 * the next mpc_error() on this thread. */
const char *mpc_error_detail(void);

/* Forget the recorded detail. */
void mpc_error_clear(void);

#endif
