/* A cluster of parties (and a dealer) as forked processes on this machine,
 * for loopback tests and benchmarks. Each party runs a body function; what
 * it writes with mpc_local_emit reaches the parent, which also gets every
 * node's error code and detail text. */
#ifndef MPC_LOCAL_H
#define MPC_LOCAL_H

#include "protocols/core/mpc_party.h"
#include "runtime/mpc_err.h"
#include <stddef.h>
#include <stdint.h>

typedef struct {
	int n_parties;          /* 2 .. 16 */
	int with_dealer;        /* 1: a dealer process, installed as preprocessing */
	int use_tcp;            /* 1: tcp://127.0.0.1 on free ports; 0: ipc:// in /tmp */
	int timeout_ms;         /* per-round deadline; 0: default */
	int connect_timeout_ms; /* 0: 10 s */
	int watchdog_s;         /* the parent kills everything after this; 0: 120 */
	int use_tls;            /* 1: TLS 1.3 on every link, an ephemeral key and
	                           certificate per node, all pinned */
	const char *gen;        /* "ot" or "paillier": dealer-free preprocessing
	                           set up among the parties (with_dealer = 0) */
} mpc_local_config;

typedef struct {
	int exited;        /* 1 if the process exited (rather than being killed) */
	int exit_code;     /* its exit code, or the signal number if killed */
	mpc_err err;       /* what the body (or set-up) returned */
	char detail[1024]; /* the error detail at that node */
	uint8_t *out;      /* bytes emitted (malloc'ed; freed by mpc_local_results_fini) */
	size_t out_len;
	double seconds;              /* the body's wall time at that node */
	uint64_t bytes_sent, rounds; /* the node's network counters after the body */
} mpc_local_result;

/* The body: runs in each party's process after set-up (network, pairwise
 * seeds, dealer). `out_fd` is where mpc_local_emit writes. */
typedef mpc_err (*mpc_local_fn)(mpc_party *p, void *arg);

/* Emit bytes from a party's body to the parent (for example its output
 * shares, which the parent adds up against a plaintext reference). */
mpc_err mpc_local_emit(const void *buf, size_t len) MPC_MUST_CHECK;

/* Run the cluster. res has n_parties + with_dealer entries (the dealer last).
 * MPC_OK when every process ran and exited; the per-node results say how. */
mpc_err mpc_local_run(const mpc_local_config *cfg, mpc_local_fn fn, void *arg,
                      mpc_local_result *res) MPC_MUST_CHECK;
void mpc_local_results_fini(mpc_local_result *res, int n);

/* n (1 .. 17) distinct tcp ports on 127.0.0.1 that the kernel reports free
 * now: all bound to port 0 at once, read back, released. Someone else may
 * take one before it is used. MPC_EINVAL for another n; MPC_ENET naming the
 * cause if a socket fails. */
mpc_err mpc_local_free_ports(int *ports, int n) MPC_MUST_CHECK;

/* Add up the parties' emitted shares (n elements of ring r from each of the
 * n_parties results) into out. MPC_EPROTO if a party emitted another length. */
mpc_err mpc_local_reconstruct(const mpc_local_result *res, int n_parties, mpc_ring r, void *out,
                              size_t n) MPC_MUST_CHECK;

#endif
