/* Statistics (protocols/apps/mpc_agg.h, mpc_stats.h) and files:
 * transaction rows in, results out. */
#ifndef MPC_AGG_IO_H
#define MPC_AGG_IO_H

#include "jobs/mpc_csv.h"
#include "protocols/apps/mpc_agg.h"
#include "protocols/apps/mpc_stats.h"

/* Rows of a transaction file as columns amount (0) and fraud (1), groups by
 * category name: row i's group is the index of its category in names[0..n)
 * (MPC_AGG_NO_GROUP if absent). `fraud` (t->n doubles) and `group` (t->n)
 * are caller storage. */
void mpc_agg_rows_from_txns(const mpc_txns *t, const char *const *names, size_t n_names,
                            double *fraud, uint32_t *group, mpc_agg_rows *out);

/* Write the result as CSV ("cohort,statistic,value" lines, "suppressed" as
 * the value of a suppressed cohort's "status") or JSON, atomically. group
 * names label the groups (NULL: "group<i>"). */
mpc_err mpc_agg_write(const char *path, int json, const mpc_agg_spec *s,
                      const char *const *group_names, const mpc_agg_result *r) MPC_MUST_CHECK;

/* Rows of a transaction file for mpc_stats_run (borrows t's columns). */
void mpc_stats_rows_from_txns(const mpc_txns *t, mpc_stats_rows *out);

/* Write an mpc_stats result as CSV ("statistic,value" lines) or JSON (an
 * object), atomically. */
mpc_err mpc_stats_write(const char *path, int json, const mpc_stats_result *r) MPC_MUST_CHECK;

#endif
