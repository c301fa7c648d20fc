/* Computation kinds: what a job file's `computation = NAME` runs. Each kind
 * is one const ops table in its own file of jobs/ (kind_NAME.c) and one line
 * in the registry (jobs/mpc_kinds.c); mpc-party, the clear references and
 * jobs/mpc_job.c (which names it accepts) find it there by name.
 *
 * A kind's life at one party, as mpc-party drives it:
 *   parse        its section's keys ([NAME] in the job), errors FILE:LINE
 *   load_input   this party's files (--input, --model), before the network
 *   prepare      what must happen before the network is opened (the plan's
 *                simulation forks: protocols/preproc/mpc_plan.h)
 *   run          on the connected network: its public announcements, then
 *                the protocol on the party session->start hands it
 *   write        after the network is closed: prints the figures this party
 *                may see and writes --output atomically (CSV or JSON)
 *   free
 * plan gives the exact material (check, preprocess --for-job); privacy what
 * a run costs a dataset's privacy budget (the node's ledger). A kind never
 * touches sockets: it is handed the connected network and party. */
#ifndef MPC_KIND_H
#define MPC_KIND_H

#include <stddef.h>
#include <stdint.h>

#include "jobs/mpc_job.h"
#include "net/mpc_net.h"
#include "protocols/core/mpc_party.h"
#include "protocols/preproc/mpc_pool.h"
#include "runtime/mpc_err.h"

/* The plan depends on the asker's transaction count (a `rows` argument). */
#define MPC_KIND_PLAN_ROWS 1u

/* A kind run as a standing service (mpc-party serve, for a node): the
 * host's side. The asker's host hands it batches of requests and takes the
 * answers; the model owner's host decides each batch against its quota. */
typedef struct {
	/* The asker's: the next batch, waiting at most idle_ms: *n rows of the
	 * job's d features in *x (the host's, valid until the next call).
	 * MPC_OK with *n = 0: nothing came within idle_ms. MPC_ECLOSED: end
	 * the service. */
	mpc_err (*next)(void *arg, const double **x, size_t *n, int idle_ms);
	/* The asker's: the answers to the batch next gave; refusal non-NULL
	 * (score and flag NULL) when the model owner refused the whole batch. */
	mpc_err (*reply)(void *arg, const double *score, const uint8_t *flag, size_t n,
	                 const char *refusal);
	/* The model owner's: may asker have n more rows scored? MPC_OK, or
	 * MPC_EREFUSED with the refusal as the error detail. NULL: no limit. */
	mpc_err (*admit)(void *arg, const char *asker, uint64_t n);
	/* A durable stock (a store: what it hands out is never handed out
	 * again, across restarts too), all NULL without one: rows' worth of
	 * `one` row's material it holds (the asker's, to decide); make plan
	 * into it (collective); after a change, publish the counts. */
	uint64_t (*stock_rows)(void *arg, const mpc_pool_plan *one);
	mpc_err (*stock_make)(void *arg, mpc_party *p, const mpc_pool_plan *plan);
	void (*stock_report)(void *arg, mpc_party *p, const mpc_pool_plan *one);
	void *arg;
	/* rows' worth of material kept ahead (0: none): in the durable stock
	 * when there is one, window of it in memory (0: all of it);
	 * without one, all of it in memory */
	uint64_t stock, window;
} mpc_kind_service;

/* At a compute party of a job with input parties: the contributions every
 * compute party holds, agreed before the run (tools/party_inbox.c). This
 * party's additive shares of each, m of n elements of ring each, one after
 * another; names[i] the contributor of the i-th (all borrowed). */
typedef struct {
	size_t m, n;
	mpc_ring ring;
	const void *shares;
	const char *const *names;
} mpc_kind_contribs;

/* Who runs the kind, and with which files (all borrowed). */
typedef struct {
	const mpc_job *job;
	int self; /* party index; job->n_parties at the dealer */
	int is_dealer;
	const char *party;                  /* this party's name as given on the command line */
	const char *input, *model, *output; /* NULL when not given */
	int json;                           /* --format json */
	int dry;                            /* check: read and validate this party's files only */
	const mpc_kind_service *service;    /* mpc-party serve; NULL for run and check */
	/* instead of input: a file (mode 0600, made by the node) of three lines,
	 * "dataset NAME", a libpq conninfo and a query, the rows read through
	 * jobs/mpc_pg.h (aggregate_stats); NULL when not given */
	const char *input_pg;
	/* a compute party of a job with input parties: set for run (NULL for
	 * load_input, prepare and check, which know only the job) */
	const mpc_kind_contribs *contribs;
	int quiet; /* write: the file only, nothing printed (outputs held for a recipient) */
} mpc_kind_io;

/* What load_input read, for check's summary. */
typedef struct {
	int input_read, model_read;
	size_t rows;
	char model[160];
} mpc_kind_summary;

typedef struct mpc_kind_session mpc_kind_session;
struct mpc_kind_session {
	const mpc_kind_io *io;
	mpc_net *net; /* connected: every node has agreed the job */
	/* The host's: at a party, a new party on net with the job's
	 * preprocessing for plan (owned by the session: the host frees it); at
	 * the dealer (plan NULL), serve the parties until they are done, *p =
	 * NULL. */
	mpc_err (*start)(mpc_kind_session *s, const mpc_pool_plan *plan, mpc_party **p);
	/* The host's, for a kind that goes on without parties that dropped out
	 * (fed_train's min_parties), after a round failed: free the party start
	 * made, leave the network (telling the peers), meet the parties of
	 * *alive (bit i: the job's party i) again and go on with those that come
	 * within the job's connect_timeout: *alive becomes them, net a network
	 * among them and *p a new party on it (its id: this party's rank among
	 * them) whose material is made as it is used, among them only (never a
	 * store's). MPC_EPEER naming the missing when fewer than min_parties
	 * come. NULL where the host cannot (a dealer). */
	mpc_err (*regroup)(mpc_kind_session *s, uint64_t *alive, int attempt, int min_parties,
	                   mpc_party **p);
	void *host;
	int bad_input; /* set by run: its error is this party's input's */
};

typedef struct mpc_kind {
	const char *name;  /* the job file's computation, and its section */
	const char *doing; /* "computing": for messages naming the stage */
	unsigned flags;    /* MPC_KIND_PLAN_ROWS */
	/* The section's keys: a new state in *st (caller frees with free).
	 * MPC_ECONFIG "FILE:LINE: [NAME] key: what". */
	mpc_err (*parse)(const mpc_job *job, void **st);
	/* The exact material one run consumes, simulated (no network); rows:
	 * the asker's transactions where flags has MPC_KIND_PLAN_ROWS. *upper:
	 * the plan is an upper bound (a suppressed cohort skips its share). */
	mpc_err (*plan)(void *st, uint64_t rows, mpc_pool_plan *out, int *upper);
	/* The asker's transaction count if this party's own --input says it
	 * (0: not known here). NULL for kinds without MPC_KIND_PLAN_ROWS. */
	mpc_err (*input_rows)(void *st, const mpc_kind_io *io, uint64_t *rows);
	/* Check the section against the job (every node, the dealer too) and
	 * read this party's files. *bad_input: the error is the input's.
	 * MPC_ECONFIG without bad_input: a missing file or a bad parameter. */
	mpc_err (*load_input)(void *st, const mpc_kind_io *io, mpc_kind_summary *sum,
	                      int *bad_input);
	/* Before the network is opened. */
	mpc_err (*prepare)(void *st, const mpc_kind_io *io);
	/* The computation on the connected network (see mpc_kind_session). */
	mpc_err (*run)(void *st, mpc_kind_session *s);
	/* After the network is closed, at a party (not the dealer). MPC_EPROTO
	 * if an output cannot be what an honest run gives. */
	mpc_err (*write)(void *st, const mpc_kind_io *io);
	void (*free)(void *st);
	/* What one run releases under differential privacy, for a node's
	 * budget ledger (node/mpc_ledger.h): the whole run's epsilon and delta
	 * (basic composition over its releases), 0 and 0 when its outputs are
	 * exact. NULL: the kind's outputs are never DP releases of a dataset
	 * (fraud_score: a query answered with a model). */
	mpc_err (*privacy)(void *st, double *epsilon, double *delta);
	/* The standing service on the connected network, until the asker's
	 * host ends it (io->service). NULL: the kind has none. */
	mpc_err (*serve)(void *st, mpc_kind_session *s);
	/* Input parties (NULL: the kind takes none; a job with [input NAME]
	 * sections is then refused). contrib_len: the elements (and ring) of one
	 * contribution, the same at every party. contribute: an input party's
	 * contribution from its io->input, in the clear, into *vec (n elements;
	 * caller wipes and frees); *bad_input as for load_input. */
	mpc_err (*contrib_len)(void *st, mpc_ring *ring, size_t *n);
	mpc_err (*contribute)(void *st, const mpc_kind_io *io, void **vec, size_t *n,
	                      int *bad_input);
} mpc_kind;

/* The kind called name, or NULL. */
const mpc_kind *mpc_kind_find(const char *name);
/* Kinds a program checks it was given, by comparing the pointer mpc_kind_find
 * returns (never the name): the clear references (examples/clear_stats.c,
 * examples/clear_score.c). The registry (jobs/mpc_kinds.c) lists every kind. */
extern const mpc_kind mpc_kind_stats; /* jobs/kind_stats.c */
extern const mpc_kind mpc_kind_score; /* jobs/kind_score.c */
extern const mpc_kind mpc_kind_avg;   /* jobs/kind_avg.c (the node, with input parties) */
extern const mpc_kind mpc_kind_fed;   /* jobs/kind_fed.c (the node: a CSV dataset) */
/* The i-th kind of the registry, NULL past the end. */
const mpc_kind *mpc_kind_at(size_t i);
size_t mpc_kind_count(void);

/* ---- helpers for the kind files ---- */

/* plan and prepare of a kind that uses no preprocessing (inputs and
 * openings only): the empty plan, exact; nothing to prepare. */
mpc_err mpc_kind_plan_none(void *st, uint64_t rows, mpc_pool_plan *out, int *upper);
mpc_err mpc_kind_prepare_none(void *st, const mpc_kind_io *io);

/* The parameter of the computation's section, or NULL. Borrowed. */
const mpc_job_param *mpc_kind_param(const mpc_job *j, const char *key);
/* MPC_ECONFIG "FILE:LINE: [section] key: what". */
mpc_err mpc_kind_param_err(const mpc_job *j, const mpc_job_param *p, const char *fmt, ...)
    MPC_PRINTF(3, 4);
/* Split a comma-separated list in place (buf is a copy of the value):
 * trimmed, non-empty items. -1 if an item is empty or there are more than
 * max. */
int mpc_kind_split(char *buf, char **items, int max);
/* mpc_job_param_double for a whole number: also MPC_ECONFIG "FILE:LINE:
 * [NAME] key: expected a whole number" for one with a fraction. */
mpc_err mpc_kind_param_count(const mpc_job *j, const char *key, double dflt, double lo, double hi,
                             double *out) MPC_MUST_CHECK;
/* A finite decimal number (no hex, inf, nan): 1, else 0. */
int mpc_kind_number(const char *s, double *out);
/* Refuse a parameter not in known[0..n): "FILE:LINE: [NAME] key: unknown
 * parameter of NAME (known: k0, k1, ...)". */
mpc_err mpc_kind_known_keys(const mpc_job *j, const char *const *known, size_t n) MPC_MUST_CHECK;

#endif
