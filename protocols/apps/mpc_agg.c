/* Aggregate statistics over secret-shared rows (see mpc_agg.h). */
#include "protocols/apps/mpc_agg.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/mpc_file.h"
#include "runtime/mpc_log.h"
#include "runtime/mpc_wipe.h"
#include "protocols/core/mpc_beaver.h"
#include "protocols/nonlinear/mpc_bool.h"
#include "protocols/nonlinear/mpc_cmp.h"
#include "protocols/nonlinear/mpc_conv.h"
#include "protocols/nonlinear/mpc_math.h"
#include "protocols/core/mpc_share.h"

/* Per-cohort local sums, in Z_2^128: the first AGG_FIXED slots, then the
 * histogram bucket counts. */
enum { S_N, S_FRAUD, S_SX, S_QX, S_SY, S_QY, S_SXY, AGG_FIXED };

/* Branching of the quantile search: each step tests QARY - 1 candidates per
 * quantile in one batch, so a search over w values takes log_16(w) steps. */
#define QARY 16

#define NOMEM() mpc_error(MPC_ENOMEM, "statistics: out of memory (%s:%d)", __FILE__, __LINE__)

void mpc_agg_spec_default(mpc_agg_spec *s) {
	memset(s, 0, sizeof(*s));
	s->stats = MPC_AGG_COUNT | MPC_AGG_SUM | MPC_AGG_MEAN | MPC_AGG_VAR | MPC_AGG_STD;
	s->frac = 16;
	s->max_abs = 1e6;
	s->max_rows = 1e6;
	s->col = 0;
	s->col_y = -1;
	s->fraud_col = -1;
	s->filter_col = -1;
}

int mpc_agg_divides_inside(const mpc_agg_spec *s) {
	return s->divide == MPC_AGG_DIV_INSIDE ||
	       (s->divide == MPC_AGG_DIV_AUTO && !(s->stats & MPC_AGG_COUNT));
}

static int uses_y(const mpc_agg_spec *s) {
	return (s->stats & (MPC_AGG_COV | MPC_AGG_CORR)) != 0;
}

mpc_err mpc_agg_check_spec(const mpc_agg_spec *s, int np) {
	const unsigned all = (MPC_AGG_FRAUD << 1) - 1;
	if (s->stats == 0 || (s->stats & ~all))
		return mpc_error(MPC_ECONFIG, "statistics: no (or an unknown) statistic asked for");
	if (s->frac > 40 || !(s->max_abs > 0) || !isfinite(s->max_abs) || !(s->max_rows >= 1))
		return mpc_error(MPC_ECONFIG, "statistics: frac_bits must be 0..40, max_abs and "
		                              "max_rows positive");
	if (s->col < 0 || s->col >= MPC_AGG_MAX_COLS)
		return mpc_error(MPC_ECONFIG, "statistics: value column %d out of range", s->col);
	if (uses_y(s) && (s->col_y < 0 || s->col_y >= MPC_AGG_MAX_COLS))
		return mpc_error(MPC_ECONFIG, "statistics: covariance/correlation need a second "
		                              "column (col_y)");
	if ((s->stats & MPC_AGG_FRAUD) && (s->fraud_col < 0 || s->fraud_col >= MPC_AGG_MAX_COLS))
		return mpc_error(MPC_ECONFIG, "statistics: the fraud rate needs a fraud column");
	if (s->filter_col >= MPC_AGG_MAX_COLS ||
	    (s->filter_col >= 0 && (s->filter_op <= MPC_AGG_NONE || s->filter_op > MPC_AGG_NE ||
	                            !isfinite(s->filter_value))))
		return mpc_error(MPC_ECONFIG, "statistics: bad filter (column, comparison or "
		                              "constant)");
	if (s->stats & MPC_AGG_HIST) {
		if (s->n_edges == 0 || s->n_edges > MPC_AGG_MAX_EDGES || s->edges == NULL)
			return mpc_error(MPC_ECONFIG, "statistics: a histogram needs 1..%d edges",
			                 MPC_AGG_MAX_EDGES);
		for (size_t i = 0; i < s->n_edges; i++)
			if (!isfinite(s->edges[i]) || (i && !(s->edges[i] > s->edges[i - 1])))
				return mpc_error(MPC_ECONFIG,
				                 "statistics: histogram edge %zu is not "
				                 "finite or not above the previous one",
				                 i);
	}
	if (s->stats & MPC_AGG_QUANT) {
		if (s->n_quant == 0 || s->n_quant > MPC_AGG_MAX_QUANT || s->quant == NULL)
			return mpc_error(MPC_ECONFIG, "statistics: quantiles need 1..%d levels",
			                 MPC_AGG_MAX_QUANT);
		for (size_t i = 0; i < s->n_quant; i++) {
			double qd = round(s->quant[i] * (1 << MPC_AGG_QBITS));
			if (!(qd >= 1 && qd <= (1 << MPC_AGG_QBITS) - 1))
				return mpc_error(MPC_ECONFIG,
				                 "statistics: quantile level %zu must "
				                 "lie in [2^-%d, 1 - 2^-%d]",
				                 i, MPC_AGG_QBITS, MPC_AGG_QBITS);
		}
	}
	if (s->n_groups > MPC_AGG_MAX_GROUPS)
		return mpc_error(MPC_ECONFIG, "statistics: at most %d groups", MPC_AGG_MAX_GROUPS);
	long double rows = (long double)np * s->max_rows;
	long double a = rows * s->max_abs * ldexpl(1, (int)s->frac);
	if (!(a < ldexpl(1, 62)))
		return mpc_error(MPC_ECONFIG,
		                 "statistics: %d parties x %.0f rows x values up to %g "
		                 "with %u fractional bits overflow Z_2^128 in the variance; lower "
		                 "max_rows, max_abs or frac_bits",
		                 np, s->max_rows, s->max_abs, s->frac);
	if (s->divide < MPC_AGG_DIV_AUTO || s->divide > MPC_AGG_DIV_CLEAR)
		return mpc_error(MPC_ECONFIG, "statistics: bad division mode %d", (int)s->divide);
	if (!s->dp && mpc_agg_divides_inside(s) && (s->stats & MPC_AGG_STD) &&
	    (s->frac < 8 || s->frac > 20 ||
	     !(s->max_abs * s->max_abs < mpc_math_sqrt_max(s->frac))))
		return mpc_error(MPC_ECONFIG,
		                 "statistics: stddev divided under MPC needs "
		                 "frac_bits 8..20 and max_abs^2 below %g (or ask for count too)",
		                 s->frac >= 8 && s->frac <= 20 ? mpc_math_sqrt_max(s->frac) : 0.0);
	if (s->dp) {
		mpc_agg_dp_plan plan;
		mpc_err err = mpc_agg_dp_plan_make(s, &plan);
		if (err != MPC_OK)
			return err;
	}
	if (!(rows < ldexpl(1, 62 - MPC_AGG_QBITS)) || !((long double)s->min_cohort < rows + 1))
		return mpc_error(MPC_ECONFIG,
		                 "statistics: %d parties x %.0f rows too many for the "
		                 "rank tests, or min_cohort above the largest possible count",
		                 np, s->max_rows);
	return MPC_OK;
}

/* The value column is always read (and bounded); the others when used. */
static int col_used(const mpc_agg_spec *s, int c) {
	return c == s->col || (uses_y(s) && c == s->col_y) ||
	       ((s->stats & MPC_AGG_FRAUD) && c == s->fraud_col) || c == s->filter_col;
}

mpc_err mpc_agg_check_rows(const mpc_agg_spec *s, const mpc_agg_rows *rows, const char *name) {
	if ((double)rows->n > s->max_rows)
		return mpc_error(MPC_ERANGE, "%s: %zu rows, more than max_rows %.0f", name, rows->n,
		                 s->max_rows);
	for (int c = 0; c < MPC_AGG_MAX_COLS; c++) {
		if (!col_used(s, c))
			continue;
		if ((size_t)c >= rows->n_cols || (rows->n && rows->col[c] == NULL))
			return mpc_error(MPC_ERANGE, "%s: no column %d", name, c);
		/* only encoded columns are bounded; the filter and fraud columns are
		 * only compared in the clear: any finite value */
		int bounded = c == s->col || (uses_y(s) && c == s->col_y);
		for (size_t i = 0; i < rows->n; i++) {
			double v = rows->col[c][i];
			if (!isfinite(v) || (bounded && !(fabs(v) <= s->max_abs)))
				return mpc_error(MPC_ERANGE,
				                 "%s: row %zu: column %d is not finite or "
				                 "above max_abs %g",
				                 name, i + 1, c, s->max_abs);
		}
	}
	if (rows->group && s->n_groups)
		for (size_t i = 0; i < rows->n; i++)
			if (rows->group[i] != MPC_AGG_NO_GROUP && rows->group[i] >= s->n_groups)
				return mpc_error(MPC_ERANGE,
				                 "%s: row %zu: group index out of range", name,
				                 i + 1);
	return MPC_OK;
}

int mpc_agg_filter_pass(const mpc_agg_spec *s, double v) {
	double c = s->filter_value;
	switch (s->filter_op) {
	case MPC_AGG_LT:
		return v < c;
	case MPC_AGG_LE:
		return v <= c;
	case MPC_AGG_GT:
		return v > c;
	case MPC_AGG_GE:
		return v >= c;
	case MPC_AGG_EQ:
		return v == c;
	case MPC_AGG_NE:
		return v != c;
	default:
		return 1;
	}
}

/* The cohorts row i counts in: 0 if the filter drops it, else 1 (cs[0] = 0,
 * all rows) or 2 (cs[1] = 1 + its group). */
static int row_cohorts(const mpc_agg_spec *s, const mpc_agg_rows *rows, size_t i, size_t cs[2]) {
	int nc = 1;
	if (s->filter_col >= 0 && !mpc_agg_filter_pass(s, rows->col[s->filter_col][i]))
		return 0;
	cs[0] = cs[1] = 0;
	if (s->n_groups && rows->group && rows->group[i] != MPC_AGG_NO_GROUP)
		cs[nc++] = 1 + rows->group[i];
	return nc;
}

/* Number of edges <= v: the bucket of v. */
static size_t bucket_of(const double *e, size_t ne, double v) {
	size_t lo = 0, hi = ne;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (e[mid] <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int cmp_i64(const void *a, const void *b) {
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Rows of a sorted array <= v. */
static uint64_t count_le(const int64_t *a, size_t n, int64_t v) {
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (a[mid] <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Everything a party computes over its own rows. */
typedef struct {
	size_t C, L;      /* cohorts, slots per cohort */
	mpc_u128 *sums;   /* C * L */
	int64_t *mx, *mn; /* C: local max and min of encoded x (sentinels if none) */
	int64_t **vals;   /* C sorted arrays of encoded x (quantiles only) */
	size_t *nv;
} local_t;

static void local_fini(local_t *l) {
	mpc_wipe_free(l->sums, l->C * l->L * sizeof(mpc_u128));
	if (l->mx) {
		mpc_wipe(l->mx, l->C * 8);
		mpc_wipe(l->mn, l->C * 8);
	}
	free(l->mx);
	free(l->mn);
	if (l->vals)
		for (size_t c = 0; c < l->C; c++)
			mpc_wipe_free(l->vals[c], l->nv[c] * 8);
	free(l->vals);
	free(l->nv);
	memset(l, 0, sizeof(*l));
}

static int64_t encode(double v, unsigned f) {
	return (int64_t)llround(ldexp(v, (int)f));
}

/* The largest encoded magnitude of a value within max_abs. */
static int64_t enc_bound(const mpc_agg_spec *s) {
	return encode(s->max_abs, s->frac);
}

static mpc_err local_sums(const mpc_agg_spec *s, const mpc_agg_rows *rows, local_t *l) {
	size_t C = 1 + s->n_groups, H = (s->stats & MPC_AGG_HIST) ? s->n_edges + 1 : 0;
	int qn = (s->stats & MPC_AGG_QUANT) != 0, y = uses_y(s);
	int fr = (s->stats & MPC_AGG_FRAUD) != 0;
	int64_t M = enc_bound(s);

	l->C = C;
	l->L = AGG_FIXED + H;
	l->sums = calloc(C * l->L, sizeof(mpc_u128));
	l->mx = malloc(C * 8);
	l->mn = malloc(C * 8);
	if (!l->sums || !l->mx || !l->mn)
		return NOMEM();
	for (size_t c = 0; c < C; c++)
		l->mx[c] = l->mn[c] = -(M + 1); /* mn holds -min: the sentinel loses both maxima */
	if (qn) {
		l->vals = calloc(C, sizeof(*l->vals));
		l->nv = calloc(C, sizeof(*l->nv));
		if (!l->vals || !l->nv)
			return NOMEM();
	}
	/* two passes when quantiles need per-cohort arrays: count, then fill */
	for (int pass = qn ? 0 : 1; pass < 2; pass++) {
		if (pass == 1 && qn)
			for (size_t c = 0; c < C; c++) {
				l->vals[c] = malloc((l->nv[c] ? l->nv[c] : 1) * 8);
				if (!l->vals[c])
					return NOMEM();
				l->nv[c] = 0;
			}
		for (size_t i = 0; i < rows->n; i++) {
			size_t cs[2];
			int nc = row_cohorts(s, rows, i, cs);
			if (nc == 0)
				continue;
			if (pass == 0) {
				for (int k = 0; k < nc; k++)
					l->nv[cs[k]]++;
				continue;
			}
			double xd = rows->col[s->col][i];
			int64_t x = encode(xd, s->frac),
			        yv = y ? encode(rows->col[s->col_y][i], s->frac) : 0;
			size_t b = H ? bucket_of(s->edges, s->n_edges, xd) : 0;
			for (int k = 0; k < nc; k++) {
				size_t c = cs[k];
				mpc_u128 *o = l->sums + c * l->L;
				o[S_N] += 1;
				if (fr)
					o[S_FRAUD] += rows->col[s->fraud_col][i] != 0;
				o[S_SX] += (mpc_u128)(mpc_i128)x;
				o[S_QX] += (mpc_u128)((mpc_i128)x * x);
				if (y) {
					o[S_SY] += (mpc_u128)(mpc_i128)yv;
					o[S_QY] += (mpc_u128)((mpc_i128)yv * yv);
					o[S_SXY] += (mpc_u128)((mpc_i128)x * yv);
				}
				if (H)
					o[AGG_FIXED + b] += 1;
				if (x > l->mx[c])
					l->mx[c] = x;
				if (-x > l->mn[c])
					l->mn[c] = -x;
				if (qn)
					l->vals[c][l->nv[c]++] = x;
			}
		}
	}
	if (qn)
		for (size_t c = 0; c < C; c++)
			qsort(l->vals[c], l->nv[c], 8, cmp_i64);
	return MPC_OK;
}

/* out = shares of the sum over parties of each party's vector `mine` (n
 * elements of ring r). Sends nothing. `tmp` has room for n elements. */
static mpc_err share_sum(mpc_party *p, mpc_ring r, const void *mine, void *out, void *tmp,
                         size_t n) {
	int np = mpc_party_size(p), me = mpc_party_id(p);
	mpc_err err;
	memset(out, 0, n * mpc_ring_bytes(r));
	for (int owner = 0; owner < np; owner++) {
		if ((err = mpc_input(p, owner, r, owner == me ? mine : NULL, tmp, n)) != MPC_OK)
			return err;
		mpc_share_add(r, out, out, tmp, n);
	}
	return MPC_OK;
}

/* Open the XOR-shared bits [x < 0] of n shared Z_2^64 values into bits[]. */
static mpc_err open_negative(mpc_party *p, const uint64_t *x, size_t n, uint8_t *bits) {
	size_t W = mpc_conv_words(n);
	uint64_t *b = calloc(W ? W : 1, 8);
	mpc_err err;
	if (!b)
		return NOMEM();
	if ((err = mpc_conv_msb(p, MPC_Z64, x, n, b)) == MPC_OK &&
	    (err = mpc_bool_open_output(p, b, b, W)) == MPC_OK)
		for (size_t i = 0; i < n; i++)
			bits[i] = (uint8_t)(b[i / 64] >> (i % 64) & 1);
	free(b);
	return err;
}

/* One search of the quantile bisection: the smallest v in (lo, hi] with
 * D * #{x <= v} - qd * n - side >= 0 (false at lo, true at hi). */
typedef struct {
	size_t c;    /* cohort */
	uint64_t qd; /* round(q * 2^QBITS) */
	int side;    /* 0: lower quantile, 1: upper */
	int64_t lo, hi;
	int k; /* candidates this step */
	int64_t cand[QARY - 1];
} search_t;

static mpc_err quantiles(mpc_party *p, const mpc_agg_spec *s, const local_t *l, const uint64_t *n64,
                         const size_t *act, size_t na, mpc_agg_stats **qout) {
	int sides = s->quant_lower ? 1 : 2;
	size_t T = na * s->n_quant * (size_t)sides, cap = T * (QARY - 1);
	int me = mpc_party_id(p);
	int64_t M = enc_bound(s);
	search_t *q = calloc(T ? T : 1, sizeof(*q));
	uint64_t *mine = calloc(cap ? cap : 1, 8), *sh = calloc(cap ? cap : 1, 8),
	         *tmp = calloc(cap ? cap : 1, 8);
	uint8_t *bits = calloc(cap ? cap : 1, 1);
	mpc_err err = MPC_OK;
	if (!q || !mine || !sh || !tmp || !bits) {
		err = NOMEM();
		goto out;
	}
	for (size_t a = 0, t = 0; a < na; a++)
		for (size_t j = 0; j < s->n_quant; j++)
			for (int side = 0; side < sides; side++, t++) {
				q[t].c = act[a];
				q[t].qd = (uint64_t)round(s->quant[j] * (1 << MPC_AGG_QBITS));
				q[t].side = side;
				q[t].lo = -M - 1;
				q[t].hi = M;
			}
	for (;;) {
		size_t m = 0;
		for (size_t t = 0; t < T; t++) {
			uint64_t w = (uint64_t)(q[t].hi - q[t].lo);
			q[t].k = w > 1 ? (int)(w - 1 < QARY - 1 ? w - 1 : QARY - 1) : 0;
			for (int i = 1; i <= q[t].k; i++) {
				/* distinct, strictly inside (lo, hi) since k + 1 <= w */
				int64_t c = q[t].lo + (int64_t)((mpc_u128)w * (unsigned)i /
				                                (unsigned)(q[t].k + 1));
				q[t].cand[i - 1] = c;
				mine[m++] = count_le(l->vals[q[t].c], l->nv[q[t].c], c);
			}
		}
		if (m == 0)
			break;
		/* the joint counts below each candidate; no party's own count is opened */
		if ((err = share_sum(p, MPC_Z64, mine, sh, tmp, m)) != MPC_OK)
			goto out;
		for (size_t t = 0, i = 0; t < T; t++)
			for (int k = 0; k < q[t].k; k++, i++) {
				uint64_t z = (sh[i] << MPC_AGG_QBITS) - q[t].qd * n64[q[t].c];
				if (me == 0)
					z -= (uint64_t)q[t].side;
				sh[i] = z;
			}
		/* the only values opened: [test < 0], implied by the final quantile */
		if ((err = open_negative(p, sh, m, bits)) != MPC_OK)
			goto out;
		for (size_t t = 0, i = 0; t < T; t++) {
			int64_t lo = q[t].lo, hi = q[t].hi;
			for (int k = 0; k < q[t].k; k++, i++) {
				if (bits[i])
					lo = q[t].cand[k] > lo ? q[t].cand[k] : lo;
				else if (q[t].cand[k] < hi)
					hi = q[t].cand[k];
			}
			if (!(lo < hi)) {
				err = mpc_error(MPC_ECHEAT,
				                "statistics: the quantile search at party %d "
				                "got inconsistent comparisons (%s:%d)",
				                me, __FILE__, __LINE__);
				goto out;
			}
			q[t].lo = lo;
			q[t].hi = hi;
		}
	}
	for (size_t a = 0, t = 0; a < na; a++)
		for (size_t j = 0; j < s->n_quant; j++, t += (size_t)sides) {
			mpc_agg_stats *st = qout[a];
			double lo = ldexp((double)q[t].hi, -(int)s->frac);
			double hi = sides == 2 ? ldexp((double)q[t + 1].hi, -(int)s->frac) : NAN;
			st->quant_lo[j] = lo;
			st->quant_hi[j] = hi;
			/* exact: both are multiples of 2^-F far below 2^53 */
			st->quant[j] = sides == 2 ? (lo + hi) / 2 : lo;
		}
out:
	if (mine)
		mpc_wipe(mine, cap * 8);
	if (sh)
		mpc_wipe(sh, cap * 8);
	if (tmp)
		mpc_wipe(tmp, cap * 8);
	free(q);
	free(mine);
	free(sh);
	free(tmp);
	free(bits);
	return err;
}

/* m exact divisions in Z_2^128, all in lockstep: q[i] = floor(a[i] / b[i])
 * for shared b[i] >= 1 and |a[i] / b[i]| < 2^(lq[i] - 1) (signed) or
 * 0 <= a[i] / b[i] < 2^lq[i] (nonneg). Restoring long division, one quotient
 * bit a step: t = r - b 2^j, c = [t >= 0], r -= c b 2^j, q += c 2^j. Signed
 * numerators are offset by b 2^(lq - 1) first (and the quotient back by
 * 2^(lq - 1)). Needs b 2^lq < 2^126 so that no t wraps. Only uniformly masked
 * values are opened. a is overwritten (it becomes the remainder). */
static mpc_err divide(mpc_party *p, mpc_u128 *a, const mpc_u128 *b, const int *nonneg,
                      const unsigned *lq, size_t m, mpc_u128 *q) {
	int me = mpc_party_id(p);
	unsigned steps = 0;
	mpc_u128 *t = calloc(m + 1, 16), *c = calloc(m + 1, 16), *bb = calloc(m + 1, 16);
	size_t *idx = calloc(m + 1, sizeof(size_t));
	mpc_err err = MPC_OK;
	if (!t || !c || !bb || !idx) {
		err = NOMEM();
		goto out;
	}
	for (size_t i = 0; i < m; i++) {
		q[i] = 0;
		if (!nonneg[i])
			a[i] += b[i] << (lq[i] - 1);
		if (lq[i] > steps)
			steps = lq[i];
	}
	for (unsigned j = steps; j-- > 0;) {
		size_t k = 0;
		for (size_t i = 0; i < m; i++)
			if (j < lq[i]) {
				idx[k] = i;
				t[k++] = a[i] - (b[i] << j);
			}
		if ((err = mpc_cmp_ltz(p, MPC_Z128, t, c, k)) != MPC_OK)
			goto out;
		for (size_t u = 0; u < k; u++) {
			c[u] = (me == 0 ? 1 : 0) - c[u]; /* [t >= 0] */
			bb[u] = b[idx[u]];
		}
		if ((err = mpc_beaver_mul(p, MPC_Z128, c, bb, bb, k)) != MPC_OK)
			goto out;
		for (size_t u = 0; u < k; u++) {
			a[idx[u]] -= bb[u] << j;
			q[idx[u]] += c[u] << j;
		}
	}
	for (size_t i = 0; i < m; i++)
		if (!nonneg[i] && me == 0)
			q[i] -= (mpc_u128)1 << (lq[i] - 1);
out:
	if (t) {
		mpc_wipe(t, (m + 1) * 16);
		mpc_wipe(c, (m + 1) * 16);
		mpc_wipe(bb, (m + 1) * 16);
	}
	free(t);
	free(c);
	free(bb);
	free(idx);
	return err;
}

/* Bits of the smallest power of two above v >= 0. */
static unsigned bits_above(long double v) {
	unsigned b = 0;
	while (ldexpl(1, (int)b) <= v)
		b++;
	return b;
}

static void stats_nan(mpc_agg_stats *st, size_t H, size_t Q) {
	st->count = st->sum = st->mean = st->variance = st->stddev = NAN;
	st->min = st->max = st->fraud_rate = st->cov = st->corr = NAN;
	for (size_t i = 0; st->hist && i < H; i++)
		st->hist[i] = NAN;
	for (size_t i = 0; st->quant && i < Q; i++)
		st->quant[i] = st->quant_lo[i] = st->quant_hi[i] = NAN;
}

void mpc_agg_result_fini(mpc_agg_result *r) {
	if (!r)
		return;
	for (size_t c = 0; c <= r->n_groups; c++) {
		mpc_agg_stats *st = c ? (r->group ? &r->group[c - 1] : NULL) : &r->all;
		if (st) {
			free(st->hist);
			free(st->quant);
			free(st->quant_lo);
			free(st->quant_hi);
		}
	}
	free(r->group);
	memset(r, 0, sizeof(*r));
}

static mpc_agg_stats *cohort(mpc_agg_result *r, size_t c) {
	return c ? &r->group[c - 1] : &r->all;
}

static mpc_err result_init(const mpc_agg_spec *s, mpc_agg_result *r) {
	size_t H = (s->stats & MPC_AGG_HIST) ? s->n_edges + 1 : 0;
	size_t Q = (s->stats & MPC_AGG_QUANT) ? s->n_quant : 0;
	memset(r, 0, sizeof(*r));
	r->n_groups = s->n_groups;
	if (s->n_groups && !(r->group = calloc(s->n_groups, sizeof(*r->group))))
		return NOMEM();
	for (size_t c = 0; c <= s->n_groups; c++) {
		mpc_agg_stats *st = cohort(r, c);
		if ((H && !(st->hist = malloc(H * sizeof(double)))) ||
		    (Q && (!(st->quant = malloc(Q * sizeof(double))) ||
		           !(st->quant_lo = malloc(Q * sizeof(double))) ||
		           !(st->quant_hi = malloc(Q * sizeof(double))))))
			return NOMEM();
		stats_nan(st, H, Q);
	}
	return MPC_OK;
}

static double i128_to_double(mpc_u128 v) {
	return (double)(long double)(mpc_i128)v;
}

/* Slots of a cohort's values that may be opened in the clear mode, and
 * the quotients computed when dividing under MPC. */
enum { O_N, O_SX, O_FRAUD, O_VX, O_VY, O_CXY, O_FIXED };
enum { D_MEAN, D_FRAUD, D_VAR, D_COV, D_STD, D_N };

/* What is opened (want, dwant) and which numerators are computed (need:
 * nQx - Sx^2, nQy - Sy^2, nSxy - SxSy, n^2). */
static void open_plan(const mpc_agg_spec *s, int want[O_FIXED], int dwant[D_N], int need[4]) {
	unsigned st = s->stats;
	int div = mpc_agg_divides_inside(s);
	unsigned ratios = MPC_AGG_MEAN | MPC_AGG_VAR | MPC_AGG_STD | MPC_AGG_FRAUD | MPC_AGG_COV;
	want[O_N] = (st & MPC_AGG_COUNT) || (!div && (st & ratios));
	want[O_SX] = (st & MPC_AGG_SUM) || (!div && (st & MPC_AGG_MEAN));
	want[O_FRAUD] = !div && (st & MPC_AGG_FRAUD);
	want[O_VX] = (st & MPC_AGG_CORR) || (!div && (st & (MPC_AGG_VAR | MPC_AGG_STD)));
	want[O_VY] = (st & MPC_AGG_CORR) != 0;
	want[O_CXY] = (st & MPC_AGG_CORR) || (!div && (st & MPC_AGG_COV));
	dwant[D_MEAN] = div && (st & MPC_AGG_MEAN);
	dwant[D_FRAUD] = div && (st & MPC_AGG_FRAUD);
	dwant[D_VAR] = div && (st & MPC_AGG_VAR);
	dwant[D_COV] = div && (st & MPC_AGG_COV);
	dwant[D_STD] = div && (st & MPC_AGG_STD);
	need[0] = (st & (MPC_AGG_VAR | MPC_AGG_STD | MPC_AGG_CORR)) != 0;
	need[1] = (st & MPC_AGG_CORR) != 0;
	need[2] = (st & (MPC_AGG_COV | MPC_AGG_CORR)) != 0;
	need[3] = div && (st & (MPC_AGG_VAR | MPC_AGG_STD | MPC_AGG_COV));
}

/* The ratios under MPC for the na active cohorts: dq gets
 * D_N shared quotients per cohort, each floor(value * 2^F). ov holds the
 * cohorts' slots, n2 their n^2. */
static mpc_err ratios_inside(mpc_party *p, const mpc_agg_spec *s, const mpc_u128 *ov, size_t per,
                             const mpc_u128 *n2, size_t na, mpc_u128 *dq) {
	int dummy[O_FIXED], dwant[D_N], need[4];
	unsigned F = s->frac;
	long double M = (long double)enc_bound(s), mv = M * M / ldexpl(1, (int)F);
	/* quotient bounds: |mean| <= M, fraud rate <= 2^F, 0 <= var and |cov| <= max_abs^2 */
	const unsigned lqs[4] = {bits_above(M) + 1, F + 1, bits_above(mv), bits_above(mv) + 1};
	const int nn[4] = {0, 1, 1, 0};
	size_t m = 0;
	mpc_u128 *a = calloc(4 * na + 1, 16), *b = calloc(4 * na + 1, 16),
	         *q = calloc(4 * na + 1, 16);
	mpc_u128 *var = calloc(na + 1, 16);
	int *nonneg = calloc(4 * na + 1, sizeof(int));
	unsigned *lq = calloc(4 * na + 1, sizeof(unsigned));
	size_t *where = calloc(4 * na + 1, sizeof(size_t));
	mpc_err err = MPC_OK;
	open_plan(s, dummy, dwant, need);
	int use[4] = {dwant[D_MEAN], dwant[D_FRAUD], dwant[D_VAR] || dwant[D_STD], dwant[D_COV]};
	if (!a || !b || !q || !var || !nonneg || !lq || !where) {
		err = NOMEM();
		goto out;
	}
	memset(dq, 0, na * D_N * 16);
	for (size_t c = 0; c < na; c++) {
		const mpc_u128 *o = ov + c * per;
		const mpc_u128 num[4] = {o[O_SX], o[O_FRAUD] << F, o[O_VX], o[O_CXY]};
		const mpc_u128 den[4] = {o[O_N], o[O_N], n2[c] << F, n2[c] << F};
		for (int d = 0; d < 4; d++)
			if (use[d]) {
				a[m] = num[d];
				b[m] = den[d];
				nonneg[m] = nn[d];
				lq[m] = lqs[d];
				where[m++] = c * D_N + (size_t)d;
			}
	}
	if ((err = divide(p, a, b, nonneg, lq, m, q)) != MPC_OK)
		goto out;
	for (size_t i = 0; i < m; i++)
		dq[where[i]] = q[i];
	if (dwant[D_STD]) {
		for (size_t c = 0; c < na; c++)
			var[c] = dq[c * D_N + D_VAR];
		if ((err = mpc_math_sqrt(p, MPC_Z128, F, var, var, na)) != MPC_OK)
			goto out;
		for (size_t c = 0; c < na; c++)
			dq[c * D_N + D_STD] = var[c];
	}
out:
	if (a) {
		mpc_wipe(a, (4 * na + 1) * 16);
		mpc_wipe(b, (4 * na + 1) * 16);
		mpc_wipe(q, (4 * na + 1) * 16);
	}
	if (var)
		mpc_wipe(var, (na + 1) * 16);
	free(a);
	free(b);
	free(q);
	free(var);
	free(nonneg);
	free(lq);
	free(where);
	return err;
}

/* ---- differential privacy (see mpc_agg.h) ---- */

/* Kinds of noisy aggregates: slots of a cohort in the DP run. */
enum { DP_N, DP_SX, DP_QX, DP_FRAUD, DP_HIST, DP_KINDS };

static const char *const dp_kind_name[DP_KINDS] = {"count", "sum", "sum_squares", "fraud_count",
                                                    "histogram"};

const char *mpc_agg_dp_kind_name(int kind) {
	return kind >= 0 && kind < DP_KINDS ? dp_kind_name[kind] : "?";
}

static void dp_line(mpc_agg_dp_item *it) {
	const mpc_dp_alloc *a = &it->alloc;
	char grid[48];
	if (it->grid == 0)
		snprintf(grid, sizeof(grid), "1");
	else if (it->grid > 0)
		snprintf(grid, sizeof(grid), "2^-%d", it->grid);
	else
		snprintf(grid, sizeof(grid), "2^%d", -it->grid);
	if (a->mech == MPC_DP_GAUSSIAN)
		snprintf(it->line, sizeof(it->line),
		         "dp %-24s rho %-9.4g (epsilon %.4g at delta %.3g) sensitivity %-9.4g "
		         "noise stddev %-9.4g (discrete Gaussian, grid %s)",
		         it->label, a->rho, a->epsilon, a->delta, it->sensitivity, it->stddev, grid);
	else
		snprintf(it->line, sizeof(it->line),
		         "dp %-24s epsilon %-9.4g sensitivity %-9.4g noise stddev %-9.4g "
		         "(discrete Laplace, grid %s)",
		         it->label, a->epsilon, it->sensitivity, it->stddev, grid);
}

/* Sensitivity in grid units of kind k on grid g. */
static long double dp_sens_units(const mpc_agg_spec *s, int k, int g) {
	long double v = k == DP_SX ? (long double)s->max_abs : (long double)s->max_abs * s->max_abs;
	if (k != DP_SX && k != DP_QX)
		return 1;
	long double u = roundl(ldexpl(v, g));
	return u < 1 ? 1 : u;
}

static void dp_set_stat(const mpc_agg_spec *s, mpc_agg_dp_item *it) {
	long double u = dp_sens_units(s, it->kind, it->grid);
	it->stat.name = it->label;
	it->stat.weight = 1;
	if (it->grid >= 0) {
		it->stat.sensitivity = (double)ldexpl(u, -it->grid);
		it->stat.frac = (unsigned)it->grid;
	} else { /* the split works in grid units */
		it->stat.sensitivity = (double)u;
		it->stat.frac = 0;
	}
	it->sensitivity = (double)ldexpl(u, -it->grid);
}

mpc_err mpc_agg_dp_plan_make(const mpc_agg_spec *s, mpc_agg_dp_plan *plan) {
	mpc_dp_stat st[MPC_AGG_DP_MAX];
	mpc_dp_alloc al[MPC_AGG_DP_MAX];
	unsigned w = s->stats;
	int use[DP_KINDS];
	mpc_err err;

	memset(plan, 0, sizeof(*plan));
	if (s->dp == 0)
		return MPC_OK;
	if (s->dp != MPC_DP_LAPLACE && s->dp != MPC_DP_GAUSSIAN)
		return mpc_error(MPC_ECONFIG, "statistics: unknown dp mechanism %d", s->dp);
	const unsigned ok = MPC_AGG_COUNT | MPC_AGG_SUM | MPC_AGG_MEAN | MPC_AGG_VAR | MPC_AGG_STD |
	                    MPC_AGG_HIST | MPC_AGG_FRAUD;
	if (w & ~ok)
		return mpc_error(MPC_ECONFIG, "statistics: with dp only count, sum, mean, variance, "
		                              "stddev, histogram and fraud_rate can be released "
		                              "(min, max, quantiles, cov, corr have no mechanism here)");
	use[DP_N] = 1;
	use[DP_SX] = (w & (MPC_AGG_SUM | MPC_AGG_MEAN | MPC_AGG_VAR | MPC_AGG_STD)) != 0;
	use[DP_QX] = (w & (MPC_AGG_VAR | MPC_AGG_STD)) != 0;
	use[DP_FRAUD] = (w & MPC_AGG_FRAUD) != 0;
	use[DP_HIST] = (w & MPC_AGG_HIST) != 0;
	for (int scope = 0; scope < (s->n_groups ? 2 : 1); scope++)
		for (int k = 0; k < DP_KINDS; k++) {
			if (!use[k])
				continue;
			mpc_agg_dp_item *it = &plan->item[plan->n++];
			it->kind = k;
			it->groups = scope;
			snprintf(it->label, sizeof(it->label), "%s (%s)", dp_kind_name[k],
			         scope ? "groups" : "all");
		}
	/* the grids: each sum's noise gets a moderate number of units (its
	 * scale = sensitivity / share does not depend on the grid, up to the
	 * rounding of the sensitivity) */
	double lnd = s->dp == MPC_DP_GAUSSIAN && s->dp_delta > 0 && s->dp_delta < 1 ? -log(s->dp_delta)
	                                                                            : 0;
	double r = sqrt(lnd + s->dp_epsilon) - sqrt(lnd), nitems = (double)plan->n;
	for (size_t i = 0; i < plan->n; i++) {
		mpc_agg_dp_item *it = &plan->item[i];
		it->grid = 0;
		if (it->kind != DP_SX && it->kind != DP_QX)
			continue;
		double sens = it->kind == DP_SX ? s->max_abs : s->max_abs * s->max_abs;
		double scale = s->dp == MPC_DP_LAPLACE ? sens * nitems / s->dp_epsilon
		                                       : sens / sqrt(2 * r * r / nitems);
		int nominal = it->kind == DP_SX ? (int)s->frac : 2 * (int)s->frac;
		double g = floor((s->dp == MPC_DP_LAPLACE ? 40 : 6) - log2(scale));
		it->grid = !isfinite(g) || g >= nominal ? nominal : g < -60 ? -60 : (int)g;
	}
	for (size_t i = 0; i < plan->n; i++) {
		dp_set_stat(s, &plan->item[i]);
		st[i] = plan->item[i].stat;
	}
	if ((err = mpc_dp_budget_split((mpc_dp_mech)s->dp, s->dp_epsilon, s->dp_delta, st, plan->n,
	                               al)) != MPC_OK)
		return err;
	for (size_t i = 0; i < plan->n; i++) {
		mpc_agg_dp_item *it = &plan->item[i];
		it->alloc = al[i];
		it->stddev = it->grid >= 0 ? al[i].stddev : ldexp(al[i].stddev, -it->grid);
		/* every row's grid value must fit comfortably (exact sums in Z_2^128) */
		if (it->kind == DP_QX || it->kind == DP_SX) {
			long double u = dp_sens_units(s, it->kind, it->grid);
			if (!(u < ldexpl(1, 62)))
				return mpc_error(MPC_ECONFIG, "statistics: dp item %s: max_abs too large "
				                              "for this budget", it->label);
		}
		dp_line(it);
	}
	return MPC_OK;
}

/* The item of kind k for a cohort (c = 0: all), or NULL. */
static const mpc_agg_dp_item *dp_item(const mpc_agg_dp_plan *pl, int k, size_t c) {
	for (size_t i = 0; i < pl->n; i++)
		if (pl->item[i].kind == k && pl->item[i].groups == (c > 0))
			return &pl->item[i];
	return NULL;
}

static mpc_i128 grid_value(double v, int g) {
	return (mpc_i128)llroundl(ldexpl((long double)v, g));
}

/* The DP run: local aggregates on their grids, shared; noisy counts opened
 * for every cohort; the other noisy aggregates of the cohorts not
 * suppressed by their noisy count. */
static mpc_err run_dp(mpc_party *p, const mpc_agg_spec *s, const mpc_agg_rows *rows,
                      mpc_agg_result *res) {
	const mpc_agg_dp_plan *pl = &res->dp;
	size_t C = 1 + s->n_groups, H = (s->stats & MPC_AGG_HIST) ? s->n_edges + 1 : 0;
	size_t L = 4 + H; /* n, sx, qx, fraud, buckets */
	const mpc_agg_dp_item *isx = dp_item(pl, DP_SX, 0), *iqx = dp_item(pl, DP_QX, 0);
	const mpc_agg_dp_item *gsx = dp_item(pl, DP_SX, 1), *gqx = dp_item(pl, DP_QX, 1);
	mpc_u128 *loc = NULL, *sum = NULL, *tmp = NULL, *ob = NULL;
	mpc_dp_alloc *al = NULL;
	double *nn = NULL;
	size_t *act = NULL, na = 0;
	mpc_err err = MPC_OK;

	if (!(loc = calloc(C * L, 16)) || !(sum = calloc(C * L, 16)) || !(tmp = calloc(C * L, 16)) ||
	    !(ob = calloc(C * L, 16)) || !(al = calloc(C * L, sizeof(*al))) ||
	    !(act = calloc(C, sizeof(size_t))) || !(nn = calloc(C, sizeof(double)))) {
		err = NOMEM();
		goto out;
	}
	for (size_t i = 0; i < rows->n; i++) {
		size_t cs[2];
		int nc = row_cohorts(s, rows, i, cs);
		if (nc == 0)
			continue;
		double x = rows->col[s->col][i];
		size_t b = H ? bucket_of(s->edges, s->n_edges, x) : 0;
		for (int k = 0; k < nc; k++) {
			mpc_u128 *o = loc + cs[k] * L;
			const mpc_agg_dp_item *sx = cs[k] ? gsx : isx, *qx = cs[k] ? gqx : iqx;
			o[DP_N] += 1;
			if (sx)
				o[DP_SX] += (mpc_u128)grid_value(x, sx->grid);
			if (qx)
				o[DP_QX] += (mpc_u128)grid_value(x * x, qx->grid);
			if (s->stats & MPC_AGG_FRAUD)
				o[DP_FRAUD] += rows->col[s->fraud_col][i] != 0;
			if (H)
				o[DP_HIST + b] += 1;
		}
	}
	if ((err = share_sum(p, MPC_Z128, loc, sum, tmp, C * L)) != MPC_OK)
		goto out;
	for (size_t i = 0; i < pl->n; i++)
		mpc_info("%s", pl->item[i].line);
	/* 1. noisy counts of every cohort, opened: the suppression test */
	for (size_t c = 0; c < C; c++) {
		ob[c] = sum[c * L + DP_N];
		al[c] = dp_item(pl, DP_N, c)->alloc;
	}
	if ((err = mpc_dp_add_noise(p, MPC_Z128, al, ob, C)) != MPC_OK ||
	    (err = mpc_open_output(p, MPC_Z128, ob, ob, C)) != MPC_OK)
		goto out;
	double K = s->min_cohort > 1 ? (double)s->min_cohort : 1;
	for (size_t c = 0; c < C; c++) {
		mpc_agg_stats *st = cohort(res, c);
		double n = i128_to_double(ob[c]);
		st->suppressed = !(n >= K);
		nn[c] = n;
		if (!st->suppressed) {
			act[na++] = c;
			if (s->stats & MPC_AGG_COUNT)
				st->count = n;
		}
	}
	/* 2. the other noisy aggregates of the active cohorts */
	size_t m = 0;
	for (size_t a = 0; a < na; a++) {
		size_t c = act[a];
		for (size_t k = DP_SX; k < L; k++) {
			const mpc_agg_dp_item *it = dp_item(pl, k < DP_HIST ? (int)k : DP_HIST, c);
			if (!it || (k == DP_FRAUD && !(s->stats & MPC_AGG_FRAUD)))
				continue;
			ob[m] = sum[c * L + k];
			al[m++] = it->alloc;
		}
	}
	if (m && ((err = mpc_dp_add_noise(p, MPC_Z128, al, ob, m)) != MPC_OK ||
	          (err = mpc_open_output(p, MPC_Z128, ob, ob, m)) != MPC_OK))
		goto out;
	for (size_t a = 0, j = 0; a < na; a++) {
		size_t c = act[a];
		mpc_agg_stats *st = cohort(res, c);
		double n = nn[c], sx = NAN, qx = NAN; /* the ratios use the noisy count */
		for (size_t k = DP_SX; k < L; k++) {
			const mpc_agg_dp_item *it = dp_item(pl, k < DP_HIST ? (int)k : DP_HIST, c);
			if (!it || (k == DP_FRAUD && !(s->stats & MPC_AGG_FRAUD)))
				continue;
			double v = ldexp(i128_to_double(ob[j++]), -it->grid);
			if (k == DP_SX)
				sx = v;
			else if (k == DP_QX)
				qx = v;
			else if (k == DP_FRAUD)
				st->fraud_rate = fmin(1, fmax(0, v / n));
			else
				st->hist[k - DP_HIST] = fmax(0, v);
		}
		unsigned w = s->stats;
		if (w & MPC_AGG_SUM)
			st->sum = sx;
		if (w & MPC_AGG_MEAN)
			st->mean = sx / n;
		if (w & (MPC_AGG_VAR | MPC_AGG_STD)) {
			double mu = sx / n, var = fmax(0, qx / n - mu * mu);
			if (w & MPC_AGG_VAR)
				st->variance = var;
			if (w & MPC_AGG_STD)
				st->stddev = sqrt(var);
		}
	}
out:
	mpc_wipe_free(loc, C * L * 16);
	mpc_wipe_free(sum, C * L * 16);
	mpc_wipe_free(tmp, C * L * 16);
	mpc_wipe_free(ob, C * L * 16);
	free(al);
	free(act);
	free(nn);
	return err;
}

mpc_err mpc_agg_run(mpc_party *p, const mpc_agg_spec *s, const mpc_agg_rows *rows,
                    mpc_agg_result *res) {
	int np = mpc_party_size(p), me = mpc_party_id(p);
	local_t l = {0};
	mpc_u128 *sum = NULL, *tmp = NULL, *px = NULL, *py = NULL, *pz = NULL, *ov = NULL;
	mpc_u128 *n2 = NULL, *dq = NULL, *ob = NULL;
	uint64_t *n64 = NULL, *mm = NULL, *mmx = NULL, *mmo = NULL;
	uint8_t *supp = NULL;
	size_t *act = NULL, na = 0, C = 0, L = 0, H = 0, per = 0, nprod = 0;
	mpc_agg_stats **qout = NULL;
	int want[O_FIXED], dwant[D_N], need[4];
	mpc_err err;

	memset(res, 0, sizeof(*res));
	if ((err = mpc_agg_check_spec(s, np)) != MPC_OK ||
	    (err = mpc_agg_check_rows(s, rows, "statistics input")) != MPC_OK ||
	    (err = result_init(s, res)) != MPC_OK)
		goto out;
	if (s->dp) {
		if ((err = mpc_agg_dp_plan_make(s, &res->dp)) == MPC_OK)
			err = run_dp(p, s, rows, res);
		goto out;
	}
	if ((err = local_sums(s, rows, &l)) != MPC_OK)
		goto out;
	C = l.C, L = l.L, H = L - AGG_FIXED;
	if (!(sum = calloc(C * L, 16)) || !(tmp = calloc(C * L, 16)) || !(n64 = calloc(C, 8)) ||
	    !(supp = calloc(C, 1)) || !(act = calloc(C, sizeof(size_t)))) {
		err = NOMEM();
		goto out;
	}
	/* every party's local sums, shared: nothing is sent */
	if ((err = share_sum(p, MPC_Z128, l.sums, sum, tmp, C * L)) != MPC_OK)
		goto out;

	/* cohort suppression inside the computation: open only [n - K < 0];
	 * n < 2^62 by the spec check, so n - K does not wrap in Z_2^64 */
	uint64_t K = s->min_cohort > 1 ? s->min_cohort : 1;
	for (size_t c = 0; c < C; c++)
		n64[c] = (uint64_t)sum[c * L + S_N];
	for (size_t c = 0; c < C; c++)
		((uint64_t *)tmp)[c] = n64[c] - (me == 0 ? K : 0);
	if ((err = open_negative(p, (uint64_t *)tmp, C, supp)) != MPC_OK)
		goto out;
	for (size_t c = 0; c < C; c++) {
		cohort(res, c)->suppressed = supp[c];
		if (!supp[c])
			act[na++] = c;
	}
	if (na == 0)
		goto out;

	/* the products of the variance/covariance numerators, for the active
	 * cohorts only: nQx - Sx^2, nQy - Sy^2, nSxy - SxSy (exact in Z_2^128),
	 * and n^2 for the ratios under MPC */
	open_plan(s, want, dwant, need);
	per = O_FIXED + H;
	nprod = (size_t)(2 * (need[0] + need[1] + need[2]) + need[3]);
	if (!(px = calloc(na * nprod + 1, 16)) || !(py = calloc(na * nprod + 1, 16)) ||
	    !(pz = calloc(na * nprod + 1, 16)) || !(ov = calloc(na * per, 16)) ||
	    !(n2 = calloc(na, 16)) || !(dq = calloc(na * D_N, 16)) ||
	    !(ob = calloc(na * (per + D_N), 16))) {
		err = NOMEM();
		goto out;
	}
	for (size_t a = 0, k = 0; a < na; a++) {
		const mpc_u128 *v = sum + act[a] * L;
		static const int ops[3][4] = {
		    {S_N, S_QX, S_SX, S_SX}, {S_N, S_QY, S_SY, S_SY}, {S_N, S_SXY, S_SX, S_SY}};
		for (int i = 0; i < 3; i++)
			if (need[i]) {
				px[k] = v[ops[i][0]], py[k++] = v[ops[i][1]];
				px[k] = v[ops[i][2]], py[k++] = v[ops[i][3]];
			}
		if (need[3])
			px[k] = v[S_N], py[k++] = v[S_N];
	}
	if (nprod && (err = mpc_beaver_mul(p, MPC_Z128, px, py, pz, na * nprod)) != MPC_OK)
		goto out;
	for (size_t a = 0, k = 0; a < na; a++) {
		const mpc_u128 *v = sum + act[a] * L;
		mpc_u128 *o = ov + a * per;
		o[O_N] = v[S_N];
		o[O_SX] = v[S_SX];
		o[O_FRAUD] = v[S_FRAUD];
		for (int i = 0; i < 3; i++)
			if (need[i]) {
				o[O_VX + i] = pz[k] - pz[k + 1];
				k += 2;
			}
		if (need[3])
			n2[a] = pz[k++];
		memcpy(o + O_FIXED, v + AGG_FIXED, H * 16);
	}
	int div = mpc_agg_divides_inside(s);
	if (div && (err = ratios_inside(p, s, ov, per, n2, na, dq)) != MPC_OK)
		goto out;
	/* open exactly the agreed values: pack the wanted slots */
	size_t no = 0;
	for (size_t a = 0; a < na; a++) {
		const mpc_u128 *o = ov + a * per;
		for (int i = 0; i < O_FIXED; i++)
			if (want[i])
				ob[no++] = o[i];
		for (size_t h = 0; h < H; h++)
			ob[no++] = o[O_FIXED + h];
		for (int d = 0; d < D_N; d++)
			if (dwant[d])
				ob[no++] = dq[a * D_N + (size_t)d];
	}
	if (no && (err = mpc_open_output(p, MPC_Z128, ob, ob, no)) != MPC_OK)
		goto out;
	for (size_t a = 0, k = 0; a < na; a++) {
		mpc_u128 o[O_FIXED] = {0}, d[D_N] = {0};
		mpc_agg_stats *st = cohort(res, act[a]);
		for (int i = 0; i < O_FIXED; i++)
			if (want[i])
				o[i] = ob[k++];
		double n = (double)o[O_N], sc = ldexp(1, -(int)s->frac);
		if (want[O_N] && (o[O_N] == 0 || n > np * s->max_rows ||
		                  (want[O_FRAUD] && o[O_FRAUD] > o[O_N]))) {
			err = mpc_error(MPC_ECHEAT,
			                "statistics: an opened count is impossible: a "
			                "party sent wrong shares (party %d, %s:%d)",
			                me, __FILE__, __LINE__);
			goto out;
		}
		double vx = i128_to_double(o[O_VX]) * sc * sc,
		       vy = i128_to_double(o[O_VY]) * sc * sc;
		double cxy = i128_to_double(o[O_CXY]) * sc * sc;
		unsigned w = s->stats;
		if (w & MPC_AGG_COUNT)
			st->count = n;
		if (w & MPC_AGG_SUM)
			st->sum = i128_to_double(o[O_SX]) * sc;
		if (w & MPC_AGG_CORR)
			st->corr = vx > 0 && vy > 0 ? cxy / sqrt(vx * vy) : NAN;
		for (size_t h = 0; h < H; h++)
			st->hist[h] = (double)ob[k++];
		if (div) {
			for (int i = 0; i < D_N; i++)
				if (dwant[i])
					d[i] = ob[k++];
			st->mean = dwant[D_MEAN] ? i128_to_double(d[D_MEAN]) * sc : NAN;
			st->fraud_rate = dwant[D_FRAUD] ? i128_to_double(d[D_FRAUD]) * sc : NAN;
			st->variance = dwant[D_VAR] ? i128_to_double(d[D_VAR]) * sc : NAN;
			st->cov = dwant[D_COV] ? i128_to_double(d[D_COV]) * sc : NAN;
			st->stddev = dwant[D_STD] ? i128_to_double(d[D_STD]) * sc : NAN;
			continue;
		}
		if (w & MPC_AGG_MEAN)
			st->mean = i128_to_double(o[O_SX]) * sc / n;
		if (w & (MPC_AGG_VAR | MPC_AGG_STD)) {
			double var = vx / (n * n);
			if (w & MPC_AGG_VAR)
				st->variance = var;
			if (w & MPC_AGG_STD)
				st->stddev = sqrt(var > 0 ? var : 0);
		}
		if (w & MPC_AGG_FRAUD)
			st->fraud_rate = (double)o[O_FRAUD] / n;
		if (w & MPC_AGG_COV)
			st->cov = cxy / (n * n);
	}

	/* min/max: each party's local extreme, shared; a max over the N of them */
	if (s->stats & (MPC_AGG_MIN | MPC_AGG_MAX)) {
		size_t m = 2 * na;
		if (!(mm = calloc(m, 8)) || !(mmx = calloc(m * (size_t)np, 8)) ||
		    !(mmo = calloc(m, 8))) {
			err = NOMEM();
			goto out;
		}
		for (size_t a = 0; a < na; a++) {
			mm[2 * a] = (uint64_t)l.mx[act[a]];
			mm[2 * a + 1] = (uint64_t)l.mn[act[a]];
		}
		for (int owner = 0; owner < np; owner++) {
			if ((err = mpc_input(p, owner, MPC_Z64, owner == me ? mm : NULL, mmo, m)) !=
			    MPC_OK)
				goto out;
			for (size_t i = 0; i < m; i++)
				mmx[i * (size_t)np + (size_t)owner] = mmo[i];
		}
		if ((err = mpc_cmp_max(p, MPC_Z64, mmx, m, (size_t)np, mmo, NULL)) != MPC_OK ||
		    (err = mpc_open_output(p, MPC_Z64, mmo, mmo, m)) != MPC_OK)
			goto out;
		for (size_t a = 0; a < na; a++) {
			mpc_agg_stats *st = cohort(res, act[a]);
			if (s->stats & MPC_AGG_MAX)
				st->max = ldexp((double)(int64_t)mmo[2 * a], -(int)s->frac);
			if (s->stats & MPC_AGG_MIN)
				st->min = -ldexp((double)(int64_t)mmo[2 * a + 1], -(int)s->frac);
		}
	}

	if (s->stats & MPC_AGG_QUANT) {
		if (!(qout = calloc(na, sizeof(*qout)))) {
			err = NOMEM();
			goto out;
		}
		for (size_t a = 0; a < na; a++)
			qout[a] = cohort(res, act[a]);
		if ((err = quantiles(p, s, &l, n64, act, na, qout)) != MPC_OK)
			goto out;
	}
out:
	local_fini(&l);
	if (sum)
		mpc_wipe(sum, C * L * 16);
	if (tmp)
		mpc_wipe(tmp, C * L * 16);
	if (n64)
		mpc_wipe(n64, C * 8);
	if (pz) {
		mpc_wipe(px, (na * nprod + 1) * 16);
		mpc_wipe(py, (na * nprod + 1) * 16);
		mpc_wipe(pz, (na * nprod + 1) * 16);
	}
	if (ov)
		mpc_wipe(ov, na * per * 16);
	if (ob) {
		mpc_wipe(n2, na * 16);
		mpc_wipe(dq, na * D_N * 16);
		mpc_wipe(ob, na * (per + D_N) * 16);
	}
	free(n2);
	free(dq);
	free(ob);
	if (mmx) {
		mpc_wipe(mm, 2 * na * 8);
		mpc_wipe(mmx, 2 * na * (size_t)np * 8);
	}
	free(sum);
	free(tmp);
	free(n64);
	free(px);
	free(py);
	free(pz);
	free(ov);
	free(mm);
	free(mmx);
	free(mmo);
	free(supp);
	free(act);
	free(qout);
	if (err != MPC_OK)
		mpc_agg_result_fini(res);
	return err;
}

const char *mpc_agg_stat_field(size_t i, const mpc_agg_stats *st, unsigned *bit, double *v) {
	static const struct {
		unsigned bit;
		const char *name;
		size_t off;
	} f[] = {{MPC_AGG_COUNT, "count", offsetof(mpc_agg_stats, count)},
	         {MPC_AGG_SUM, "sum", offsetof(mpc_agg_stats, sum)},
	         {MPC_AGG_MEAN, "mean", offsetof(mpc_agg_stats, mean)},
	         {MPC_AGG_VAR, "variance", offsetof(mpc_agg_stats, variance)},
	         {MPC_AGG_STD, "stddev", offsetof(mpc_agg_stats, stddev)},
	         {MPC_AGG_MIN, "min", offsetof(mpc_agg_stats, min)},
	         {MPC_AGG_MAX, "max", offsetof(mpc_agg_stats, max)},
	         {MPC_AGG_FRAUD, "fraud_rate", offsetof(mpc_agg_stats, fraud_rate)},
	         {MPC_AGG_COV, "cov", offsetof(mpc_agg_stats, cov)},
	         {MPC_AGG_CORR, "corr", offsetof(mpc_agg_stats, corr)}};
	if (i >= sizeof(f) / sizeof(f[0]))
		return NULL;
	*bit = f[i].bit;
	memcpy(v, (const char *)st + f[i].off, sizeof(*v));
	return f[i].name;
}
