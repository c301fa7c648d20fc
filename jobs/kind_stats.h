/* computation = aggregate_stats (jobs/kind_stats.c): its section's
 * parameters, shared by mpc-party (through the registry) and the clear-text
 * reference (examples/clear_stats.c), so both use exactly the same spec.
 *
 * [aggregate_stats]
 *   max_amount = 1000000     bound on |amount| (refused beyond it)
 *   max_rows = 1000000       bound on rows per party
 *   statistics = count, sum, mean, variance, stddev, min, max, median,
 *                quantiles, histogram, fraud_rate
 *   quantiles = 0.25, 0.75   levels for `quantiles` (median adds 0.5)
 *   histogram_edges = 10, 50, 100    buckets x < 10, 10 <= x < 50, ...
 *   groups = grocery, travel          categories, each its own cohort
 *   min_cohort = 10                   cohorts of fewer rows are suppressed
 *   filter = amount > 1000            amount|fraud  < <= > >= == !=  number
 *   divide = auto|inside|clear        where ratios are divided
 *   dp = none|laplace|gaussian, epsilon = 1.0, delta = 1e-6 (gaussian)
 *   select = count|fraud_count        with dp and groups: also the group with
 *                                     the highest one (exponential mechanism)
 * Without any of statistics ... select, the job is the legacy preset: count,
 * total, mean, variance, stddev, fraud_rate (protocols/apps/mpc_stats.h and
 * its "statistic,value" output format). */
#ifndef KIND_STATS_H
#define KIND_STATS_H

#include "jobs/mpc_job.h"
#include "protocols/apps/mpc_agg.h"
#include "runtime/mpc_err.h"

#define MPC_STATS_JOB_MAX_GROUPS 64

typedef struct {
	int legacy; /* 1: the legacy preset (mpc_stats) */
	double max_amount, max_rows;
	mpc_agg_spec spec; /* points into edges, quant */
	double edges[MPC_AGG_MAX_EDGES];
	double quant[MPC_AGG_MAX_QUANT];
	char group_text[256];
	const char *groups[MPC_STATS_JOB_MAX_GROUPS]; /* point into group_text */
} mpc_stats_job;

/* Read the job's [aggregate_stats] section into *a (not moved afterwards:
 * spec points into it). MPC_ECONFIG "FILE:LINE: [aggregate_stats] key: what". */
mpc_err mpc_stats_job_parse(const mpc_job *j, mpc_stats_job *a) MPC_MUST_CHECK;
/* The spec of a state the kind's parse made (mpc_kind_find("aggregate_stats")). */
const mpc_stats_job *mpc_stats_job_of(const void *kind_state);

#endif
