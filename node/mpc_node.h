/* The standing node of a partner (mpc-node): one long-running process that
 * keeps control links to its consortium's peers (node/mpc_link.h), serves
 * the local HTTP API of the merchant's own systems (node/mpc_http.h), and
 * runs the jobs its local policy (node/mpc_policy.h) approves.
 *
 * A job's life. The merchant's systems submit a job file (the format of
 * jobs/mpc_job.h) and a dataset name at one node: POST /jobs. That node, the
 * proposer, checks the job against its own policy, then proposes it over
 * the control links to every other party of the job. Each decides under its
 * own policy: the computation, the proposer, the recipients (every party of
 * an aggregate_stats job sees its outputs), the dataset, the DP parameters
 * ([dp]) and the dataset's remaining privacy budget; a refusal names the
 * node and the rule, and the job ends "refused" everywhere. When every party
 * approved, the proposer charges its own budget ledger and starts, then
 * tells each peer to start: each charges the job's (epsilon, delta) to the
 * dataset in its ledger (fsynced: a job that would pass the budget is
 * refused there and then; jobs approved but not yet charged count against
 * it), and runs its part as a child `mpc-party run` over the job's own TLS
 * session, with the dataset as its input (a CSV file, or a PostgreSQL query
 * handed over in a 0600 file). A job id is used once per node, ever (its
 * directory under STATE/jobs stays). A peer whose control link goes down
 * (no keep-alive answered for a second) fails every job of this node that
 * needs it at once, with the peer named; the node itself stays up, and a
 * later job runs when the link is back. SIGTERM: running jobs are stopped
 * (their peers are sent an abort by mpc-party), the ledger is closed, exit 0.
 *
 * Kinds: aggregate_stats jobs, and fraud_score as a standing scoring
 * service (mpc-party run --serve at every party; POST /score at the
 * asker's node, batched by node/mpc_node_score.c; the model owner's quota
 * per batch). The others are refused by the node: run them with mpc-party. */
#ifndef MPC_NODE_H
#define MPC_NODE_H

#include "node/mpc_node_cfg.h"
#include "runtime/mpc_err.h"

typedef struct mpc_node mpc_node;

/* Load the key, the policy (its [node] name must be the configuration's),
 * the ledger (STATE/ledger) and start the links and the API. MPC_ECONFIG,
 * MPC_EIO, MPC_ENET as the parts give them. */
mpc_err mpc_node_start(const mpc_node_cfg *cfg, mpc_node **out) MPC_MUST_CHECK;

/* Serve until mpc_node_request_stop (or a signal the caller turns into it):
 * reaps jobs' processes, enforces deadlines. Returns when asked to stop. */
void mpc_node_serve(mpc_node *n);

/* Async-signal-safe: make mpc_node_serve return. */
void mpc_node_request_stop(void);

/* Stop running jobs (SIGTERM to their processes, which abort to their
 * peers; SIGKILL after 5 s), stop the API and the links, close the ledger,
 * free. NULL does nothing. */
void mpc_node_stop(mpc_node *n);

#endif
