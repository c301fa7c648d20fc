/* Internals of the aggregate statistics (mpc_agg.h) shared by its files:
 * mpc_agg_spec.c (spec and row checks), mpc_agg.c (local row sums, the joint
 * run with cohorts and suppression, input parties' contributions), mpc_agg_div.c (ratios divided
 * under MPC), mpc_agg_order.c (min/max and the quantile search), mpc_agg_dp.c (the DP plan and the
 * noisy release). Not installed, not for callers. */
#ifndef MPC_AGG_INTERNAL_H
#define MPC_AGG_INTERNAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "protocols/apps/mpc_agg.h"
#include "protocols/core/mpc_party.h"
#include "runtime/mpc_err.h"

#define NOMEM() mpc_error(MPC_ENOMEM, "statistics: out of memory (%s:%d)", __FILE__, __LINE__)

/* Per-cohort local sums, in Z_2^128: the first AGG_FIXED slots, then the
 * histogram bucket counts. */
enum { S_N, S_FRAUD, S_SX, S_QX, S_SY, S_QY, S_SXY, AGG_FIXED };

/* Slots of a cohort's values that may be opened in the clear mode, and
 * the quotients computed when dividing under MPC. */
enum { O_N, O_SX, O_FRAUD, O_VX, O_VY, O_CXY, O_FIXED };
enum { D_MEAN, D_FRAUD, D_VAR, D_COV, D_STD, D_N };

/* Everything a party computes over its own rows. */
typedef struct {
	size_t C, L;      /* cohorts, slots per cohort */
	mpc_u128 *sums;   /* C * L */
	int64_t *mx, *mn; /* C: local max and min of encoded x (sentinels if none) */
	int64_t **vals;   /* C sorted arrays of encoded x (quantiles only) */
	size_t *nv;
} mpc_agg_local;

static inline int mpc_agg_uses_y(const mpc_agg_spec *s) {
	return (s->stats & (MPC_AGG_COV | MPC_AGG_CORR)) != 0;
}

static inline int64_t mpc_agg_encode(double v, unsigned f) {
	return (int64_t)llround(ldexp(v, (int)f));
}

/* The largest encoded magnitude of a value within max_abs. */
static inline int64_t mpc_agg_enc_bound(const mpc_agg_spec *s) {
	return mpc_agg_encode(s->max_abs, s->frac);
}

static inline double mpc_agg_to_double(mpc_u128 v) {
	return (double)(long double)(mpc_i128)v;
}

/* The result of cohort c (0: all rows, 1 + g: group g). */
static inline mpc_agg_stats *mpc_agg_cohort(mpc_agg_result *r, size_t c) {
	return c ? &r->group[c - 1] : &r->all;
}

/* The cohorts row i counts in: 0 if the filter drops it, else 1 (cs[0] = 0,
 * all rows) or 2 (cs[1] = 1 + its group). */
int mpc_agg_row_cohorts(const mpc_agg_spec *s, const mpc_agg_rows *rows, size_t i, size_t cs[2]);
/* Number of edges <= v: the bucket of v. */
size_t mpc_agg_bucket_of(const double *e, size_t ne, double v);

/* out = shares of the sum over parties of each party's vector `mine` (n
 * elements of ring r). Sends nothing. `tmp` has room for n elements. */
mpc_err mpc_agg_share_sum(mpc_party *p, mpc_ring r, const void *mine, void *out, void *tmp,
                          size_t n) MPC_MUST_CHECK;
/* Open the XOR-shared bits [x < 0] of n shared Z_2^64 values into bits[]. */
mpc_err mpc_agg_open_negative(mpc_party *p, const uint64_t *x, size_t n,
                              uint8_t *bits) MPC_MUST_CHECK;

/* What is opened (want, dwant) and which numerators are computed (need:
 * nQx - Sx^2, nQy - Sy^2, nSxy - SxSy, n^2). */
void mpc_agg_open_plan(const mpc_agg_spec *s, int want[O_FIXED], int dwant[D_N], int need[4]);
/* The ratios under MPC for the na active cohorts: dq gets D_N shared
 * quotients per cohort, each floor(value * 2^F). ov holds the cohorts'
 * slots (per of them each), n2 their n^2. */
mpc_err mpc_agg_ratios_inside(mpc_party *p, const mpc_agg_spec *s, const mpc_u128 *ov, size_t per,
                              const mpc_u128 *n2, size_t na, mpc_u128 *dq) MPC_MUST_CHECK;

/* min/max of the na active cohorts act[]: each party's local extreme,
 * shared; a max over the N of them; opened into res. */
mpc_err mpc_agg_min_max(mpc_party *p, const mpc_agg_spec *s, const mpc_agg_local *l,
                        const size_t *act, size_t na, mpc_agg_result *res) MPC_MUST_CHECK;
/* The second half of min/max: mmx holds (2 na) x k shared Z_2^64 values (row
 * 2a: the maxima of cohort act[a] to compare, row 2a + 1: the -minima, one
 * column per owner); the max of each row, opened into res. */
mpc_err mpc_agg_max_open(mpc_party *p, const mpc_agg_spec *s, const uint64_t *mmx, size_t k,
                         const size_t *act, size_t na, mpc_agg_result *res) MPC_MUST_CHECK;
/* The quantile search over the na active cohorts act[] (n64: the shared
 * counts of every cohort); results into qout[a] for act[a]. */
mpc_err mpc_agg_quantiles(mpc_party *p, const mpc_agg_spec *s, const mpc_agg_local *l,
                          const uint64_t *n64, const size_t *act, size_t na,
                          mpc_agg_stats **qout) MPC_MUST_CHECK;

/* The DP run (res->dp holds its plan): local aggregates on their grids,
 * shared; noisy counts opened for every cohort; the other noisy aggregates
 * of the cohorts not suppressed by their noisy count. */
mpc_err mpc_agg_run_dp(mpc_party *p, const mpc_agg_spec *s, const mpc_agg_rows *rows,
                       mpc_agg_result *res) MPC_MUST_CHECK;
/* The DP run from the shared grid sums `sum` (C x mpc_agg_dp_slots(s), as
 * mpc_agg_dp_local_sums lays them out) on: the noisy releases into res. */
mpc_err mpc_agg_dp_release(mpc_party *p, const mpc_agg_spec *s, const mpc_u128 *sum,
                           mpc_agg_result *res) MPC_MUST_CHECK;
/* Slots per cohort of the DP run's local aggregates: n, sx, qx, fraud, buckets. */
size_t mpc_agg_dp_slots(const mpc_agg_spec *s);
/* Adds the DP aggregates of these rows (checked) on the grids of plan pl to
 * loc: C x mpc_agg_dp_slots(s) elements. */
void mpc_agg_dp_local_sums(const mpc_agg_spec *s, const mpc_agg_rows *rows,
                           const mpc_agg_dp_plan *pl, mpc_u128 *loc);

/* mpc_agg_check_spec with `owners` owners of rows instead of parties
 * (`who` names them in the messages: "parties", "contributors"). */
mpc_err mpc_agg_check_spec_for(const mpc_agg_spec *s, double owners,
                               const char *who) MPC_MUST_CHECK;

#endif
