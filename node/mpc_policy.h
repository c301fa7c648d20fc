/* A node's local policy (issue 13): one INI file per node, read with
 * jobs/mpc_ini, saying what this node computes, for whom, from which data:
 *
 *   [node]                   name = this node's party name in job files
 *                            ([A-Za-z0-9._-]{1,32}); required
 *   [computations]           allow = kinds of the registry (jobs/mpc_kind.h),
 *                            comma-separated; no "*": a new kind is never
 *                            allowed by default. Not given: none allowed
 *   [peers]                  proposers, recipients, askers = party names,
 *                            comma-separated, or "*" (any peer of the job).
 *                            A list not given allows nobody
 *   [dataset NAME]           csv = ABSOLUTE PATH, or postgres = libpq conninfo
 *                            (key=value words or a postgres[ql]:// URI) with
 *                            query = SELECT ... (or WITH ...); max_amount in
 *                            [1e-9, 1e15], max_rows = 1..1e12 whole,
 *                            budget_epsilon in (0, 1e6] (required);
 *                            budget_delta in [0, 1) (0)
 *   [dp]                     per job: max_epsilon in (0, 1e6] (not given: no
 *                            DP release), max_delta in [0, 1) (0), require =
 *                            yes|no (yes: a release must carry DP noise)
 *   [quota COMPUTATION]      per asker, the default: per_minute, per_day,
 *   [quota COMPUTATION PEER] total = 1..1e15 whole, or "unlimited"; an
 *                            override for one peer (named in [peers] askers
 *                            or proposers) takes the default's keys it lacks
 *
 * Lines hold at most MPC_POLICY_MAX_TEXT characters (';' after a blank starts
 * a comment, even inside a query). Every section and key at most once; at
 * most MPC_POLICY_MAX_PEERS names per list, MPC_POLICY_MAX_DATASETS datasets,
 * MPC_POLICY_MAX_QUOTAS quota sections. Mistakes: MPC_ECONFIG "FILE:LINE:
 * [section] key: what was expected". No message ever holds a conninfo or a
 * query (a conninfo may carry a password); the policy wipes them when freed.
 *
 * Decisions return MPC_OK, or MPC_EREFUSED with the refusal in the error
 * detail: "policy of NODE (FILE:LINE): RULE: why", the line being that of the
 * rule that refuses (just FILE when the rule is a key not given). MPC_EINVAL
 * for NULL arguments or numbers that are no DP parameters at all. */
#ifndef MPC_POLICY_H
#define MPC_POLICY_H

#include "runtime/mpc_err.h"
#include <stddef.h>
#include <stdint.h>

#define MPC_POLICY_NAME_MAX     32   /* characters of a node, peer or dataset name */
#define MPC_POLICY_MAX_PEERS    64   /* names in one [peers] list */
#define MPC_POLICY_MAX_DATASETS 32   /* [dataset NAME] sections */
#define MPC_POLICY_MAX_QUOTAS   64   /* [quota ...] sections */
#define MPC_POLICY_MAX_TEXT     1024 /* characters of a line (= MPC_INI_MAX_LINE) */

typedef struct mpc_policy mpc_policy;

typedef enum { MPC_POLICY_CSV, MPC_POLICY_POSTGRES } mpc_policy_source;

/* A named dataset, as the policy gives it. Lines are the policy file's; 0:
 * the key was not given (its default applies). */
typedef struct {
	char name[MPC_POLICY_NAME_MAX + 1];
	int line; /* of its [dataset NAME] header */
	mpc_policy_source source;
	int source_line;                        /* of csv or postgres */
	char csv[MPC_POLICY_MAX_TEXT + 1];      /* MPC_POLICY_CSV: the file's absolute path */
	char conninfo[MPC_POLICY_MAX_TEXT + 1]; /* MPC_POLICY_POSTGRES: secret (a password?) */
	char query[MPC_POLICY_MAX_TEXT + 1];    /* MPC_POLICY_POSTGRES: never print it either */
	int query_line;
	double max_amount; /* |amount| bound */
	uint64_t max_rows;
	double budget_epsilon, budget_delta; /* the whole budget, basic composition */
	int max_amount_line, max_rows_line, budget_epsilon_line, budget_delta_line;
} mpc_policy_dataset_info;

typedef enum {
	MPC_POLICY_PER_MINUTE,
	MPC_POLICY_PER_DAY,
	MPC_POLICY_TOTAL,
	MPC_POLICY_N_PERIODS
} mpc_policy_period;

/* One peer's limits for one computation, resolved: each from the override
 * [quota COMPUTATION PEER] if it sets it, else from [quota COMPUTATION]. */
typedef struct {
	char computation[MPC_POLICY_NAME_MAX + 1], peer[MPC_POLICY_NAME_MAX + 1];
	uint64_t limit[MPC_POLICY_N_PERIODS]; /* 0 = unlimited */
	int line[MPC_POLICY_N_PERIODS];       /* where set; 0 = nowhere (unlimited) */
	int overridden[MPC_POLICY_N_PERIODS]; /* 1: set by the peer's own section */
} mpc_policy_quota;

/* Read and check a policy file. MPC_EIO if it cannot be read, MPC_ECONFIG
 * for a mistake (see above). On error *out is NULL. Caller frees with
 * mpc_policy_free. The file's bytes are wiped before they are freed. */
mpc_err mpc_policy_load(const char *path, mpc_policy **out) MPC_MUST_CHECK;
/* The same from memory (len bytes, NUL not needed); name is used in
 * messages. Borrows text (the caller wipes it). */
mpc_err mpc_policy_parse(const char *name, const char *text, size_t len,
                         mpc_policy **out) MPC_MUST_CHECK;
/* Wipes (conninfos, queries) and frees. NULL does nothing. */
void mpc_policy_free(mpc_policy *p);

/* This node's name, and the file the policy was read from. Borrowed. */
const char *mpc_policy_node(const mpc_policy *p);
const char *mpc_policy_path(const mpc_policy *p);

/* May this node run the computation (a kind's name)? */
mpc_err mpc_policy_allow_computation(const mpc_policy *p, const char *computation) MPC_MUST_CHECK;
/* May peer propose jobs to this node? ("*" allows any peer: that the peer is
 * one of the job's is the caller's check.) */
mpc_err mpc_policy_allow_proposer(const mpc_policy *p, const char *peer) MPC_MUST_CHECK;
/* May peer receive a job's outputs? */
mpc_err mpc_policy_allow_recipient(const mpc_policy *p, const char *peer) MPC_MUST_CHECK;
/* May peer ask queries (fraud_score) of this node's model? */
mpc_err mpc_policy_allow_asker(const mpc_policy *p, const char *peer) MPC_MUST_CHECK;
/* May one job release from dataset with (epsilon, delta)? epsilon = delta =
 * 0: a release without DP noise (refused unless [dp] require = no). Against
 * the [dp] per-job limits only: the cumulative budget is the ledger's.
 * MPC_EINVAL for a number that is not finite, negative, delta >= 1 or delta
 * without epsilon. */
mpc_err mpc_policy_check_dp(const mpc_policy *p, const char *dataset, double epsilon,
                            double delta) MPC_MUST_CHECK;
/* The dataset called name in *out (borrowed from p), or a refusal naming it
 * when the policy has none of that name (*out NULL). */
mpc_err mpc_policy_dataset(const mpc_policy *p, const char *name,
                           const mpc_policy_dataset_info **out) MPC_MUST_CHECK;
/* The i-th dataset in file order, NULL past the end; how many. */
const mpc_policy_dataset_info *mpc_policy_dataset_at(const mpc_policy *p, size_t i);
size_t mpc_policy_dataset_count(const mpc_policy *p);
/* peer's limits for computation into *out (all unlimited when the policy has
 * no quota for it). MPC_EINVAL for NULL or an invalid name. Limits only:
 * counting is the caller's. */
mpc_err mpc_policy_quota_get(const mpc_policy *p, const char *computation, const char *peer,
                             mpc_policy_quota *out) MPC_MUST_CHECK;
/* The refusal for a quota q (from mpc_policy_quota_get) that is used up in
 * period: "policy of NODE (FILE:LINE): [quota C PEER] per_day: PEER has used
 * its N per day". Returns MPC_EREFUSED (MPC_EINVAL for bad arguments). */
mpc_err mpc_policy_quota_refuse(const mpc_policy *p, const mpc_policy_quota *q,
                                mpc_policy_period period);
/* A refusal in this policy's format, for the modules that enforce what the
 * policy states (the budget ledger): "policy of NODE (FILE:LINE): RULE:
 * why" (FILE alone when line is 0). Returns MPC_EREFUSED. */
mpc_err mpc_policy_refuse(const mpc_policy *p, int line, const char *rule, const char *fmt, ...)
    MPC_PRINTF(4, 5);

#endif
