/* The configuration of a standing node (mpc-node --config node.ini): who
 * this node is, where its key, policy and state are, where it listens, and
 * its consortium's peers with their pinned certificates. INI, read with
 * jobs/mpc_ini:
 *
 *   [node]        name = this node's party name in job files (required; the
 *                 policy's [node] name must be the same)
 *                 keys = DIR (key.pem, cert.pem of mpc-party keygen; required)
 *                 policy = FILE (node/mpc_policy.h; required)
 *                 state = DIR (ledger, quota journal, jobs, store; required;
 *                 created 0700)
 *                 api = HOST:PORT, the local HTTP API (required; a loopback
 *                 address unless api_remote = yes)
 *                 token_file = FILE, the API's bearer token (required; 0600)
 *                 listen = HOST:PORT, the control links (required)
 *                 party_program = PATH of mpc-party (default: beside the
 *                 node's own program)
 *                 job_timeout = seconds a job may run, (0, 86400] (3600)
 *                 score_stock = rows' worth of material a scoring service
 *                 keeps ahead in its store (STATE/stock), 0..1000000 (2000)
 *                 score_window = rows' worth of that stock held in memory,
 *                 0..1000000 (0: all of it; at most score_stock)
 *   [peer NAME]   address = HOST:PORT of its control listener;
 *                 fingerprint = its certificate's SHA-256 (as in job files)
 *                 1 to MPC_NODE_MAX_PEERS peers, names other than our own
 *
 * Relative paths are taken from the configuration file's directory. Every
 * mistake: MPC_ECONFIG "FILE:LINE: [section] key: what was expected". */
#ifndef MPC_NODE_CFG_H
#define MPC_NODE_CFG_H

#include "runtime/mpc_err.h"
#include <stddef.h>
#include <stdint.h>

#define MPC_NODE_MAX_PEERS 15
#define MPC_NODE_PATH_MAX  512

typedef struct {
	char name[33];
	char address[256]; /* HOST:PORT */
	uint8_t fingerprint[32];
	int line;
} mpc_node_peer_cfg;

typedef struct {
	char path[MPC_NODE_PATH_MAX]; /* the file read */
	char name[33];
	char keys[MPC_NODE_PATH_MAX], policy[MPC_NODE_PATH_MAX], state[MPC_NODE_PATH_MAX];
	char token_file[MPC_NODE_PATH_MAX], party_program[MPC_NODE_PATH_MAX];
	char api[256], listen[256];
	int api_remote;
	double job_timeout_s;
	uint64_t score_stock, score_window;
	int n_peers;
	mpc_node_peer_cfg peers[MPC_NODE_MAX_PEERS];
} mpc_node_cfg;

/* Read and check the configuration. MPC_EIO if it cannot be read,
 * MPC_ECONFIG for a mistake. party_program is left "" when not given (the
 * program fills in its default). */
mpc_err mpc_node_cfg_load(const char *path, mpc_node_cfg *out) MPC_MUST_CHECK;
/* The same from memory; dir: where relative paths are taken from. */
mpc_err mpc_node_cfg_parse(const char *name, const char *dir, const char *text, size_t len,
                           mpc_node_cfg *out) MPC_MUST_CHECK;
/* Index of the peer called name, or -1. */
int mpc_node_cfg_peer(const mpc_node_cfg *c, const char *name);

#endif
