/* What every command-line node shares: its options, opening its network,
 * and turning an error into a message and an exit code. */
#ifndef MPC_PEER_H
#define MPC_PEER_H

#include "net/mpc_net.h"
#include "net/mpc_nodes.h"
#include "runtime/mpc_err.h"
#include "runtime/mpc_log.h"

/* Exit codes of all our programs (documented in the README). */
enum {
	MPC_EXIT_OK = 0,
	MPC_EXIT_USAGE = 1,    /* bad command line or configuration */
	MPC_EXIT_INPUT = 2,    /* bad input data (CSV, out-of-range value), file I/O */
	MPC_EXIT_NET = 3,      /* a peer could not be reached, went silent or closed */
	MPC_EXIT_PROTO = 4,    /* a peer sent malformed or out-of-step data, or a check failed */
	MPC_EXIT_ABORTED = 5,  /* a peer aborted the job */
	MPC_EXIT_INTERNAL = 6, /* out of memory, internal failure */
	MPC_EXIT_CRYPTO = 7,   /* TLS: a certificate did not match its pin, or the channel was
	                        * tampered with */
	MPC_EXIT_STOPPED = 8   /* stopped by SIGTERM or SIGINT (the peers were told) */
};

/* Exit code for an error. */
int mpc_exit_code(mpc_err e);

typedef struct {
	int id;              /* --party */
	const char *nodes;   /* --nodes */
	int with_dealer;     /* --dealer: the last address is the dealer's */
	int insecure;        /* --insecure-plaintext: required, these nodes have no TLS */
	const char *job;     /* --session */
	double timeout_s;    /* --timeout */
	double connect_s;    /* --connect-timeout */
	mpc_log_level level; /* --log-level */
	mpc_nodes parsed;
} mpc_peer_opts;

/* The help text of the common options. */
extern const char mpc_peer_usage[];

void mpc_peer_opts_init(mpc_peer_opts *o);
/* If argv[*i] is a common option, consume it (and its value) and return 1;
 * 0 if it is not ours; -1 with a message on stderr if its value is bad. */
int mpc_peer_opt(mpc_peer_opts *o, int argc, char **argv, int *i);
/* Check and parse what was given; `self` is what this program is ("party",
 * "dealer"). MPC_ECONFIG with a message. */
mpc_err mpc_peer_opts_finish(mpc_peer_opts *o, const char *self) MPC_MUST_CHECK;
/* Open the network for node o->id (logs who we are first). */
mpc_err mpc_peer_open(const mpc_peer_opts *o, mpc_net **net) MPC_MUST_CHECK;
void mpc_peer_opts_fini(mpc_peer_opts *o);

/* Report err (with its detail) in the log, send ABORT to the peers if net is
 * open, free the net and return the exit code. */
int mpc_peer_fail(mpc_net *net, mpc_err err, const char *what);

#endif
