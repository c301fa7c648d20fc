/* Inside the node (mpc_node.c, mpc_node_peer.c, mpc_node_api.c): the job
 * table and the functions the three share. Everything under n->mu. */
#ifndef MPC_NODE_INTERNAL_H
#define MPC_NODE_INTERNAL_H

#include <openssl/types.h>
#include <pthread.h>
#include <sys/types.h>

#include "jobs/mpc_job.h"
#include "node/mpc_http.h"
#include "node/mpc_ledger.h"
#include "node/mpc_link.h"
#include "node/mpc_node.h"
#include "node/mpc_policy.h"

#define NODE_MAX_JOBS 1024

typedef enum {
	JOB_PROPOSED, /* at the proposer: asking the peers */
	JOB_APPROVED, /* at a peer: approved, waiting for the proposer's start */
	JOB_RUNNING,
	JOB_DONE,
	JOB_FAILED,
	JOB_REFUSED,
	JOB_CANCELLED,
	JOB_N_STATES
} node_job_state;

typedef struct {
	char id[65];
	char proposer[33], dataset[33], computation[64];
	char *text; /* the job file as submitted */
	size_t len;
	mpc_job *job;
	node_job_state state;
	char error[1024];
	double created, started, ended;      /* unix seconds; 0: not yet */
	double t_created, t_started, t_term; /* node_mono(): deadlines; t_term: SIGTERM sent */
	double epsilon, delta;               /* what a run costs the dataset */
	pid_t pid;                           /* the mpc-party process while running */
	/* fraud_score: a standing scoring service (mpc-party run --serve) */
	int service, asker, owner; /* job party indices */
	size_t d;                  /* features a transaction */
	double max_feature;
	struct node_service *svc;    /* at the asker's node, while running */
	int spawn_pending;           /* running: the serve loop starts the process */
	int parties_mask;            /* job party indices other than ours */
	int self;                    /* our party index in the job */
	double max_amount, max_rows; /* aggregate_stats: the job's bounds */
	int training;                /* fed_train: the dataset is a CSV file of rows */
	int inputs;                  /* the job has input parties: no dataset here (their
	                                submissions reach the job's process directly) */
} node_job;

struct mpc_node {
	mpc_node_cfg cfg;
	pthread_mutex_t mu;
	mpc_policy *policy;
	mpc_ledger *ledger;
	mpc_links *links;
	mpc_http *http;
	EVP_PKEY *key;
	X509 *cert;
	uint8_t fingerprint[32];
	node_job *jobs[NODE_MAX_JOBS];
	int n_jobs;
	int link_up[MPC_NODE_MAX_PEERS];
	uint64_t jobs_refused_total, jobs_failed_total;
	struct node_service *services; /* every service dispatcher made, freed at stop */
	int stopping;                  /* SIGTERM: no new work */
	int proposers;                 /* proposal threads running (n->idle signals 0) */
	pthread_cond_t idle;
	uint64_t score_ok, score_refused, score_failed; /* requests answered */
	uint64_t score_stock;                           /* [node] score_stock */
};

extern const char *const node_job_state_names[JOB_N_STATES];

/* The job of that id, or NULL (under mu). */
node_job *node_job_find(mpc_node *n, const char *id);
/* Parse and check a job text for this node, proposed by `proposer` (our
 * own name when submitted here) for dataset: the job's form (we and the
 * proposer are parties, every other party is a configured peer with the
 * pinned fingerprint, no dealer, a kind the node runs), then this node's
 * policy and the dataset's remaining budget. On success a new job in *out
 * (state JOB_PROPOSED, not in the table, its directory made: an id used
 * before is refused). MPC_EINVAL for a malformed job (the detail says
 * what), MPC_EREFUSED for a refusal naming this node and the rule. */
mpc_err node_job_admit(mpc_node *n, const char *text, size_t len, const char *proposer,
                       const char *dataset, node_job **out) MPC_MUST_CHECK;
/* Add to the table (under mu). MPC_ENOMEM when full. */
mpc_err node_job_add(mpc_node *n, node_job *j) MPC_MUST_CHECK;
void node_job_free(node_job *j);
/* Charge the ledger and start the job's mpc-party process (under mu).
 * MPC_EREFUSED (budget), MPC_EIO, MPC_ENOMEM; the job is then failed. */
mpc_err node_job_launch(mpc_node *n, node_job *j) MPC_MUST_CHECK;
/* End a job that is not over: SIGTERM its process if any, state and
 * message (under mu). */
void node_job_end(mpc_node *n, node_job *j, node_job_state st, const char *fmt, ...)
    MPC_PRINTF(4, 5);
/* STATE/jobs/ID/NAME into out. */
void node_job_path(const mpc_node *n, const node_job *j, const char *name, char *out, size_t cap);

/* The control plane (mpc_node_peer.c): the links' request handler, and the
 * proposer's work for a job just admitted (runs on its own thread). */
mpc_err node_peer_handle(void *arg, const char *peer, const char *req, size_t req_len, char **resp,
                         size_t *resp_len);
mpc_err node_peer_propose(mpc_node *n, const char *id) MPC_MUST_CHECK;
/* Tell the job's other parties to cancel it (best effort). */
void node_peer_cancel(mpc_node *n, const char *id, const int *peers, int n_peers,
                      const char *reason);

/* Scoring services (mpc_node_score.c): at the asker's node, a dispatcher
 * per running service batches the API's concurrent requests into one
 * evaluation. Start it when the job's process starts (under mu); end it
 * when the job ends (under mu: pending requests fail); free all at stop. */
mpc_err node_service_start(mpc_node *n, node_job *j) MPC_MUST_CHECK;
void node_service_end(node_job *j);
void node_service_free_all(mpc_node *n);
/* POST /score (takes and drops mu itself). */
void node_score_route(mpc_node *n, const mpc_http_request *req, mpc_http_response *r);

/* The local API (mpc_node_api.c). */
void node_api_handle(void *arg, const mpc_http_request *req, mpc_http_response *resp);

double node_now(void);  /* unix seconds, for display */
double node_mono(void); /* monotonic seconds, for deadlines */

/* A scoring service's stock directory (mpc_node.c). */
void node_stock_dir(mpc_node *n, const node_job *j, char *buf, size_t len);

#endif
