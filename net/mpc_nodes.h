/* Node lists and session ids for the command-line programs. */
#ifndef MPC_NODES_H
#define MPC_NODES_H

#include "net/mpc_net.h"
#include "runtime/mpc_err.h"
#include <stdint.h>

typedef struct {
	int n_parties; /* nodes 0..n_parties-1 are parties */
	int dealer;    /* node id of the dealer, or -1 */
	int n;         /* all nodes */
	char **addrs;  /* n URLs */
	char **names;  /* "party 0", ..., "dealer" */
} mpc_nodes;

/* Parse a comma-separated list of nanomsg URLs (tcp://host:port or
 * ipc:///path), one per party, then one more for the dealer if with_dealer.
 * MPC_ECONFIG with the position and what was expected. Caller calls _fini. */
mpc_err mpc_nodes_parse(mpc_nodes *out, const char *list, int with_dealer) MPC_MUST_CHECK;
/* Build n_parties (+ dealer) addresses: tcp://127.0.0.1:<base_port + i>. */
mpc_err mpc_nodes_loopback(mpc_nodes *out, int n_parties, int with_dealer,
                           int base_port) MPC_MUST_CHECK;
void mpc_nodes_fini(mpc_nodes *nodes);

/* Session id: the first 16 bytes of SHA-256("mpc session v1" || job). Every
 * node of a run must use the same string; use a fresh one per run. */
mpc_err mpc_session_derive(uint8_t out[MPC_SESSION_BYTES], const char *job) MPC_MUST_CHECK;

#endif
