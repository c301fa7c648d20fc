/* Aggregate statistics over the union of every party's rows: count, sum,
 * mean, variance, standard deviation, min, max, histogram, quantiles,
 * covariance and correlation of two columns, fraud rate; over all rows and
 * per group (a category list known in advance), optionally over the rows
 * that pass a filter, with cohorts smaller than K suppressed.
 *
 * Each row belongs to one party, which knows it in the clear. So whatever is
 * a sum over rows is computed locally by the owner over its own rows and
 * then shared (mpc_input sends nothing): count, fraud count, sums, sums of
 * squares and products, histogram bucket counts (the owner finds its row's
 * bucket itself), group membership and the filter (the owner evaluates the
 * predicate on its own row; nothing it sends depends on the outcome except
 * through uniformly random shares). No comparison under MPC is needed for
 * those. Comparisons under MPC appear only where values of different parties
 * meet: the cohort-size test [count >= K], min/max over the parties' local
 * minima/maxima, and the rank tests of the quantile bisection.
 *
 * What is opened (per cohort = "all rows" or one group; ring Z_2^128 for
 * sums, Z_2^64 for comparisons):
 *   - always: the bit [count >= max(K, 1)]. For a suppressed cohort nothing
 *     else is ever opened (its shares are discarded), so its result says
 *     only "suppressed" (count < K, possibly empty). With dp the test is on
 *     the noisy count instead, which is opened for every cohort, suppressed
 *     ones included (see below).
 *   - count: n. sum: the sum A. histogram: the bucket counts only.
 *   - Ratios divided in the clear (MPC_AGG_DIV_CLEAR) open their numerator
 *     and denominator: fraud_rate opens the fraud count and n; mean opens n
 *     and A; variance and stddev open n and n*Q - A^2 (Q = sum of squares);
 *     cov opens n and n*Sxy - Sx*Sy. Given n (and the ratio) these are
 *     determined, so when count is an output this reveals nothing more.
 *   - Divided under MPC (MPC_AGG_DIV_INSIDE: exact long division, and
 *     mpc_math_sqrt for stddev) only the requested ratios are opened,
 *     rounded down to multiples of 2^-F: asking for the mean reveals the
 *     mean, not n or A. MPC_AGG_DIV_AUTO (the default) divides in the clear
 *     when count is asked for and under MPC otherwise.
 *   - corr (both modes) opens n*Sxy - Sx*Sy, n*Qx - Sx^2 and n*Qy - Sy^2:
 *     it reveals n^2 times the covariance and both variances.
 *   - min/max: the value only.
 *   - quantiles: with n rows sorted v_1 <= ... <= v_n and q' = round(q 2^20)/2^20,
 *     the lower quantile is v_ceil(q'n) (the smallest v with at least q'n
 *     rows <= v) and the upper one v_(floor(q'n)+1). The search opens only
 *     comparison bits implied by them, so it reveals the lower and upper
 *     quantiles, which are equal unless q'n is an integer. The default result
 *     is their midpoint (the textbook median for q = 0.5: for an even n it
 *     reveals both middle values, returned in quant_lo/quant_hi); with
 *     quant_lower only the lower quantile is searched for and revealed.
 * Nothing else of the rows is revealed; with two parties every aggregate of
 * course tells each party the other's aggregate.
 * Input parties (mpc_agg_contrib) contribute local aggregates, never rows; the compute parties
 * (mpc_agg_run_contribs) see the same openings as above: the contributions' extremes are
 * compared under MPC, nothing of a single contribution is opened.
 *
 * Accuracy: values are encoded in fixed point with F fractional bits (error
 * <= 2^-(F+1) per value, exact arithmetic afterwards, so the sum is within
 * n 2^-(F+1), the mean within 2^-(F+1), the variance within
 * 2^-F max|x - mean| + 2^-2F); ratios divided under MPC are rounded down to
 * a multiple of 2^-F (stddev: mpc_math_sqrt's bound on top); min, max and
 * quantiles are data values as encoded. Counts, histograms, filters and
 * group membership are exact (decided on the doubles at the owner).
 * Variance and covariance are population statistics (divided by n).
 * Suppression does not stop differencing: see the README. */
#ifndef MPC_AGG_H
#define MPC_AGG_H

#include "protocols/apps/mpc_dp.h"
#include "protocols/core/mpc_party.h"
#include "runtime/mpc_err.h"
#include <stddef.h>
#include <stdint.h>

/* Statistics (bits of mpc_agg_spec.stats). */
enum {
	MPC_AGG_COUNT = 1 << 0,
	MPC_AGG_SUM = 1 << 1,
	MPC_AGG_MEAN = 1 << 2,
	MPC_AGG_VAR = 1 << 3,
	MPC_AGG_STD = 1 << 4,
	MPC_AGG_MIN = 1 << 5,
	MPC_AGG_MAX = 1 << 6,
	MPC_AGG_HIST = 1 << 7,  /* needs edges */
	MPC_AGG_QUANT = 1 << 8, /* needs quantiles */
	MPC_AGG_COV = 1 << 9,   /* needs col_y */
	MPC_AGG_CORR = 1 << 10, /* needs col_y */
	MPC_AGG_FRAUD = 1 << 11 /* needs fraud_col */
};

/* Filter comparisons: keep rows with column `op` value. */
typedef enum {
	MPC_AGG_NONE = 0,
	MPC_AGG_LT,
	MPC_AGG_LE,
	MPC_AGG_GT,
	MPC_AGG_GE,
	MPC_AGG_EQ,
	MPC_AGG_NE
} mpc_agg_op;

/* A private selection (spec.select, with dp and at least 2 groups): the
 * group with the highest score, released by the exponential mechanism. */
typedef enum {
	MPC_AGG_SEL_NONE = 0,
	MPC_AGG_SEL_COUNT, /* the group with the most rows */
	MPC_AGG_SEL_FRAUD  /* the group with the most fraud rows (needs fraud_col) */
} mpc_agg_sel;

/* Where the ratios (mean, variance, stddev, cov, fraud rate) are divided. */
typedef enum {
	MPC_AGG_DIV_AUTO = 0, /* in the clear if count is asked for (the opened
	                         sums then tell nothing more), else under MPC */
	MPC_AGG_DIV_INSIDE,   /* under MPC: only the ratios are opened */
	MPC_AGG_DIV_CLEAR     /* in the clear: n and the numerators are opened */
} mpc_agg_div;

#define MPC_AGG_MAX_COLS   16
#define MPC_AGG_MAX_EDGES  1024
#define MPC_AGG_MAX_QUANT  64
#define MPC_AGG_MAX_GROUPS 4096
/* Quantile levels are used as round(q * 2^20) / 2^20. */
#define MPC_AGG_QBITS 20
/* Group index of a row in none of the listed groups (it still counts in "all"). */
#define MPC_AGG_NO_GROUP UINT32_MAX

/* What to compute; the same at every party (borrows the arrays). */
typedef struct {
	unsigned stats;      /* MPC_AGG_* bits */
	unsigned frac;       /* fixed-point fractional bits F, 0..40 (default 16) */
	double max_abs;      /* every |value| in col and col_y <= this (default 10^6) */
	double max_rows;     /* rows per party <= this (default 10^6) */
	int col;             /* the value column (default 0) */
	int col_y;           /* second column for cov/corr; -1 none */
	int fraud_col;       /* 0/1 column for the fraud rate (nonzero = fraud); -1 none */
	size_t n_edges;      /* histogram: strictly increasing edges e_0 < ... */
	const double *edges; /* buckets: x < e_0, e_0 <= x < e_1, ..., x >= e_last */
	size_t n_quant;      /* quantile levels, each 0 < q < 1 (0.5: median) */
	const double *quant;
	int quant_lower;     /* 1: lower quantiles only; 0: midpoints (see below) */
	size_t n_groups;     /* 0: no grouped statistics */
	uint64_t min_cohort; /* K: cohorts with fewer rows are suppressed (0, 1: only empty) */
	mpc_agg_div divide;  /* where ratios are divided (default AUTO) */
	int filter_col;      /* -1: no filter */
	mpc_agg_op filter_op;
	double filter_value; /* public constant */
	int dp;              /* 0: exact; MPC_DP_LAPLACE or MPC_DP_GAUSSIAN: noisy
	                        releases (see "Differential privacy" below) */
	double dp_epsilon;   /* the whole run's budget (> 0) */
	double dp_delta;     /* Gaussian only, 0 < delta < 1; 0 for Laplace */
	mpc_agg_sel select;  /* with dp: also select the top group (see below) */
} mpc_agg_spec;

/* Differential privacy (spec.dp != 0). Noise drawn jointly under MPC
 * (mpc_dp) is added to the shares of each released aggregate before it is
 * opened; nothing exact is ever opened. Neighbouring data sets differ by one
 * row (added or removed) at any party. The released aggregates, per cohort
 * scope ("all", and the groups together: a row is in at most one group, so
 * the groups share one budget item by parallel composition):
 *   count        sensitivity 1 (always released: the suppression test and
 *                every ratio use it)
 *   sum          max_abs        (if sum, mean, variance or stddev is asked)
 *   sum_squares  max_abs^2      (variance, stddev)
 *   fraud_count  1              (fraud_rate)
 *   histogram    1 for the whole bucket vector (L1 and L2)
 * The budget (epsilon; for the Gaussian the zCDP rho that epsilon and delta
 * give) is split equally over these items (sequential composition). Each
 * sum is computed on a grid 2^-g chosen from the noise scale (g <= F for
 * the sum, <= 2F for the sum of squares, possibly negative: each row rounds
 * its own value to the grid), so the noise has at most 2^40 (Laplace) or
 * 2^6 (Gaussian) units. Everything else is post-processing in the clear:
 * mean = sum/count, variance = max(0, sum_squares/count - mean^2), stddev,
 * fraud_rate = fraud_count/count clamped to [0, 1], counts and buckets
 * clamped at 0. Suppression uses the noisy count: a cohort whose noisy
 * count is below max(K, 1) is suppressed (its noisy count was opened; its
 * other aggregates are neither noised nor opened, their budget is unused).
 * min, max, quantiles, cov and corr have no mechanism here: refused.
 *
 * Selection (spec.select, dp and n_groups >= 2): one more budget item,
 * "select (groups)", the index of the group with the highest count (or
 * fraud count) drawn by the exponential mechanism (mpc_dp_select) over the
 * exact shared scores of every group, suppressed ones included: group g
 * with probability proportional to exp(eps_sel s_g / 2), sensitivity 1
 * (one row moves one group's score by 1). Only the index is opened. Laplace:
 * eps_sel is the item's share of epsilon. Gaussian: the item's share of
 * rho, and eps_sel = sqrt(2 rho_share) (an eps-DP mechanism is
 * (eps^2/2)-zCDP, Bun, Steinke 2016; the tighter eps^2/8 of bounded-range
 * mechanisms is not used). fraud_rate cannot be selected: a group of one
 * row moves its rate by 1, so its sensitivity is 1 on a score in [0, 1]. */
#define MPC_AGG_DP_MAX 12
typedef struct {
	char label[48];             /* e.g. "count (all)", "sum (groups)" */
	int kind;                   /* internal slot */
	int groups;                 /* 0: the "all" cohort, 1: every group */
	int grid;                   /* released on multiples of 2^-grid */
	double sensitivity;         /* real units */
	double stddev;              /* of the noise, real units */
	mpc_dp_stat stat;           /* as given to mpc_dp_budget_split (units of the grid
	                               when grid < 0) */
	mpc_dp_alloc alloc;         /* its share; alloc.units is the sampler's parameter */
	char line[MPC_DP_LINE_MAX]; /* printable: label, budget share, sensitivity,
	                               noise stddev, grid */
} mpc_agg_dp_item;

typedef struct {
	size_t n; /* 0: no DP */
	mpc_agg_dp_item item[MPC_AGG_DP_MAX];
	double select_epsilon;      /* spec.select: the selection's epsilon (0: none) */
	double select_epsilon_used; /* the epsilon' <= select_epsilon the sampler realises */
	double select_tv;           /* its total-variation bound (mpc_dp_select_info) */
} mpc_agg_dp_plan;

/* The budget split of a DP spec: the same at every party, public, for
 * printing before the run (mpc_agg_run logs it too). MPC_ECONFIG for a
 * statistic without a mechanism, a bad epsilon/delta, or a noise scale the
 * samplers cannot take (naming the item). plan->n = 0 when s->dp == 0. */
mpc_err mpc_agg_dp_plan_make(const mpc_agg_spec *s, mpc_agg_dp_plan *plan) MPC_MUST_CHECK;

/* One party's rows, column-major (borrowed). */
typedef struct {
	size_t n;                            /* rows */
	size_t n_cols;                       /* columns, <= MPC_AGG_MAX_COLS */
	const double *col[MPC_AGG_MAX_COLS]; /* col[c][i] */
	const uint32_t *group; /* group of row i (< n_groups or MPC_AGG_NO_GROUP); NULL: none */
} mpc_agg_rows;

/* Statistics of one cohort. Fields not asked for, and all fields of a
 * suppressed cohort, are NaN. */
typedef struct {
	int suppressed; /* 1: fewer than max(K, 1) rows; nothing else revealed */
	double count, sum, mean, variance, stddev, min, max, fraud_rate, cov, corr;
	double *hist; /* n_edges + 1 bucket counts (NULL if not asked for) */
	/* quantiles (NULL if not asked for), n_quant each: quant is the midpoint
	 * (quant_lo + quant_hi) / 2, or quant_lo if quant_lower; quant_lo and
	 * quant_hi (NaN if quant_lower) are what the search reveals */
	double *quant, *quant_lo, *quant_hi;
} mpc_agg_stats;

typedef struct {
	mpc_agg_stats all; /* over every (filtered) row */
	size_t n_groups;
	mpc_agg_stats *group; /* n_groups entries */
	mpc_agg_dp_plan dp;   /* the budget split used (dp.n = 0: exact run) */
	int selected;         /* spec.select: the group chosen (< n_groups); -1 none */
} mpc_agg_result;

/* Defaults: count, sum, mean, variance, stddev of column 0, F = 16, bounds
 * 10^6, no groups, no filter, K = 0. */
void mpc_agg_spec_default(mpc_agg_spec *s);
/* The spec is consistent and its bounds keep every sum in range:
 * parties x max_rows x max_abs x 2^F < 2^62 (products in Z_2^128) and
 * parties x max_rows < 2^(62 - MPC_AGG_QBITS) (rank tests in Z_2^64);
 * stddev divided under MPC needs 8 <= F <= 20 and max_abs^2 below
 * mpc_math_sqrt_max(F).
 * MPC_ECONFIG saying what to change. */
mpc_err mpc_agg_check_spec(const mpc_agg_spec *s, int n_parties) MPC_MUST_CHECK;

/* 1 if a row whose filter column holds v passes s's filter (always, with
 * no filter operator). */
int mpc_agg_filter_pass(const mpc_agg_spec *s, double v);
/* This party's rows against the spec: row count, columns present, used
 * values finite and within max_abs, group indices. MPC_ERANGE naming `name`
 * and the row (never the value). */
mpc_err mpc_agg_check_rows(const mpc_agg_spec *s, const mpc_agg_rows *rows,
                           const char *name) MPC_MUST_CHECK;

/* 1 if the ratios of this spec are divided under MPC (DIV_INSIDE, or AUTO
 * without count among the statistics). */
int mpc_agg_divides_inside(const mpc_agg_spec *s);

/* Run the computation (collective: every party calls it with the same spec
 * and its own rows). Needs a preprocessing source (triples in Z_2^128, bits
 * and bit triples for comparisons). Every party gets the same result; caller
 * calls mpc_agg_result_fini. */
mpc_err mpc_agg_run(mpc_party *p, const mpc_agg_spec *s, const mpc_agg_rows *rows,
                    mpc_agg_result *out) MPC_MUST_CHECK;
void mpc_agg_result_fini(mpc_agg_result *r);

/* Elements (Z_2^128) of one input party's contribution under spec s: the exact run's local
 * sums per cohort, then (min or max asked for) its local max per cohort and its local -min per
 * cohort (sign-extended), or the DP run's grid sums. Quantiles cannot be contributed (the
 * length ignores them, never 0; see mpc_agg_contrib_check). */
size_t mpc_agg_contrib_len(const mpc_agg_spec *s);
/* MPC_ECONFIG (saying what to change) if s cannot be computed from m_max contributions:
 * quantiles/median (they need each row's owner online during the search), or the bounds of
 * mpc_agg_check_spec with m_max contributors (at least 1) in place of parties. */
mpc_err mpc_agg_contrib_check(const mpc_agg_spec *s, size_t m_max) MPC_MUST_CHECK;
/* An input party's contribution over its own rows, in the clear: out has
 * mpc_agg_contrib_len(s) elements (wiped on error). The spec as mpc_agg_contrib_check(s, 1);
 * the rows like mpc_agg_check_rows (MPC_ERANGE naming `name` and the row). */
mpc_err mpc_agg_contrib(const mpc_agg_spec *s, const mpc_agg_rows *rows, const char *name,
                        mpc_u128 *out) MPC_MUST_CHECK;
/* The run over m contributions (collective among the compute parties, same s and m at each):
 * shares (borrowed) holds this party's additive shares mod 2^128 of each contribution,
 * m * mpc_agg_contrib_len(s) elements, contribution after contribution in the same order at
 * every compute party. Every one gets the result mpc_agg_run over the union of the
 * contributors' rows would give (min/max: the max of the contributions' extremes under MPC).
 * m = 0: an empty union, every cohort suppressed (dp: by its noisy count of 0). */
mpc_err mpc_agg_run_contribs(mpc_party *p, const mpc_agg_spec *s, const mpc_u128 *shares, size_t m,
                             mpc_agg_result *out) MPC_MUST_CHECK;

/* The name of a DP item's kind (mpc_agg_dp_item.kind): "count", "sum",
 * "sum_squares", "fraud_count", "histogram" or "select". */
const char *mpc_agg_dp_kind_name(int kind);
/* 1 if a DP item is the selection (no noise: its stddev is 0). */
int mpc_agg_dp_item_is_select(const mpc_agg_dp_item *it);
/* The score a selection ranks by: "count", "fraud_count" (or NULL: none). */
const char *mpc_agg_select_name(mpc_agg_sel sel);

/* The i-th scalar statistic of mpc_agg_stats in the order mpc_agg_write
 * writes them (count, sum, mean, variance, stddev, min, max, fraud_rate, cov,
 * corr): its name there, or NULL past the last. *bit is the flag of
 * mpc_agg_spec.stats that asks for it, *v its value in st. */
const char *mpc_agg_stat_field(size_t i, const mpc_agg_stats *st, unsigned *bit, double *v);

#endif
