/* Aggregate statistics over secret-shared rows (see mpc_agg.h): the local
 * row sums, the joint run (shared sums, cohort suppression, the numerator
 * products, the agreed openings) and the result. The spec checks are in
 * mpc_agg_spec.c, the ratios under MPC in mpc_agg_div.c, min/max and
 * quantiles in mpc_agg_order.c, the DP release in mpc_agg_dp.c. */
#include "protocols/apps/mpc_agg.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/apps/mpc_agg_internal.h"
#include "protocols/core/mpc_beaver.h"
#include "protocols/core/mpc_share.h"
#include "protocols/nonlinear/mpc_bool.h"
#include "protocols/nonlinear/mpc_conv.h"
#include "runtime/mpc_wipe.h"

/* The cohorts row i counts in: 0 if the filter drops it, else 1 (cs[0] = 0,
 * all rows) or 2 (cs[1] = 1 + its group). */
int mpc_agg_row_cohorts(const mpc_agg_spec *s, const mpc_agg_rows *rows, size_t i, size_t cs[2]) {
	int nc = 1;
	if (s->filter_col >= 0 && !mpc_agg_filter_pass(s, rows->col[s->filter_col][i]))
		return 0;
	cs[0] = cs[1] = 0;
	if (s->n_groups && rows->group && rows->group[i] != MPC_AGG_NO_GROUP)
		cs[nc++] = 1 + rows->group[i];
	return nc;
}

/* Number of edges <= v: the bucket of v. */
size_t mpc_agg_bucket_of(const double *e, size_t ne, double v) {
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

static void local_fini(mpc_agg_local *l) {
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

static mpc_err local_sums(const mpc_agg_spec *s, const mpc_agg_rows *rows, mpc_agg_local *l) {
	size_t C = 1 + s->n_groups, H = (s->stats & MPC_AGG_HIST) ? s->n_edges + 1 : 0;
	int qn = (s->stats & MPC_AGG_QUANT) != 0, y = mpc_agg_uses_y(s);
	int fr = (s->stats & MPC_AGG_FRAUD) != 0;
	int64_t M = mpc_agg_enc_bound(s);

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
			int nc = mpc_agg_row_cohorts(s, rows, i, cs);
			if (nc == 0)
				continue;
			if (pass == 0) {
				for (int k = 0; k < nc; k++)
					l->nv[cs[k]]++;
				continue;
			}
			double xd = rows->col[s->col][i];
			int64_t x = mpc_agg_encode(xd, s->frac),
			        yv = y ? mpc_agg_encode(rows->col[s->col_y][i], s->frac) : 0;
			size_t b = H ? mpc_agg_bucket_of(s->edges, s->n_edges, xd) : 0;
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
mpc_err mpc_agg_share_sum(mpc_party *p, mpc_ring r, const void *mine, void *out, void *tmp,
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
mpc_err mpc_agg_open_negative(mpc_party *p, const uint64_t *x, size_t n, uint8_t *bits) {
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

static mpc_err result_init(const mpc_agg_spec *s, mpc_agg_result *r) {
	size_t H = (s->stats & MPC_AGG_HIST) ? s->n_edges + 1 : 0;
	size_t Q = (s->stats & MPC_AGG_QUANT) ? s->n_quant : 0;
	memset(r, 0, sizeof(*r));
	r->selected = -1;
	r->n_groups = s->n_groups;
	if (s->n_groups && !(r->group = calloc(s->n_groups, sizeof(*r->group))))
		return NOMEM();
	for (size_t c = 0; c <= s->n_groups; c++) {
		mpc_agg_stats *st = mpc_agg_cohort(r, c);
		if ((H && !(st->hist = malloc(H * sizeof(double)))) ||
		    (Q && (!(st->quant = malloc(Q * sizeof(double))) ||
		           !(st->quant_lo = malloc(Q * sizeof(double))) ||
		           !(st->quant_hi = malloc(Q * sizeof(double))))))
			return NOMEM();
		stats_nan(st, H, Q);
	}
	return MPC_OK;
}

/* The joint (exact) run's state. */
typedef struct {
	mpc_party *p;
	const mpc_agg_spec *s;
	mpc_agg_result *res;
	double owners;  /* owners of rows: parties, or contributions */
	size_t C, L, H; /* cohorts, local-sum slots per cohort, histogram buckets */
	mpc_u128 *sum;  /* C * L: the shared sums over every party's rows */
	uint64_t *n64;  /* C: the shared counts in Z_2^64 */
	size_t *act;    /* the active (not suppressed) cohorts */
	size_t na;
	size_t per;   /* slots per active cohort in ov: O_FIXED, then the buckets */
	mpc_u128 *ov; /* na * per: the values that may be opened */
	mpc_u128 *n2; /* na: n^2 (ratios under MPC) */
	mpc_u128 *dq; /* na * D_N: the quotients under MPC */
} joint_t;

static void joint_fini(joint_t *j) {
	mpc_wipe_free(j->sum, j->C * j->L * 16);
	mpc_wipe_free(j->n64, j->C * 8);
	mpc_wipe_free(j->ov, j->na * j->per * 16);
	mpc_wipe_free(j->n2, j->na * 16);
	mpc_wipe_free(j->dq, j->na * D_N * 16);
	free(j->act);
}

/* The joint state's arrays for C cohorts of L slots (sum zeroed). */
static mpc_err joint_alloc(joint_t *j, size_t C, size_t L) {
	j->C = C, j->L = L, j->H = L - AGG_FIXED;
	if (!(j->sum = calloc(C * L, 16)) || !(j->n64 = calloc(C, 8)) ||
	    !(j->act = calloc(C, sizeof(size_t))))
		return NOMEM();
	return MPC_OK;
}

/* Every party's local sums, shared: nothing is sent. */
static mpc_err share_local_sums(joint_t *j, const mpc_agg_local *l) {
	size_t n = l->C * l->L;
	mpc_u128 *tmp = calloc(n, 16);
	mpc_err err;
	if ((err = joint_alloc(j, l->C, l->L)) != MPC_OK)
		goto out;
	if (!tmp) {
		err = NOMEM();
		goto out;
	}
	err = mpc_agg_share_sum(j->p, MPC_Z128, l->sums, j->sum, tmp, n);
out:
	mpc_wipe_free(tmp, n * 16);
	return err;
}

/* Cohort suppression inside the computation: open only [n - K < 0];
 * n < 2^62 by the spec check, so n - K does not wrap in Z_2^64. The cohorts
 * that pass are the active ones. */
static mpc_err suppress_small_cohorts(joint_t *j) {
	uint64_t K = j->s->min_cohort > 1 ? j->s->min_cohort : 1;
	int me = mpc_party_id(j->p);
	uint64_t *d = calloc(j->C, 8);
	uint8_t *supp = calloc(j->C, 1);
	mpc_err err;
	if (!d || !supp) {
		err = NOMEM();
		goto out;
	}
	for (size_t c = 0; c < j->C; c++)
		j->n64[c] = (uint64_t)j->sum[c * j->L + S_N];
	for (size_t c = 0; c < j->C; c++)
		d[c] = j->n64[c] - (me == 0 ? K : 0);
	if ((err = mpc_agg_open_negative(j->p, d, j->C, supp)) != MPC_OK)
		goto out;
	for (size_t c = 0; c < j->C; c++) {
		mpc_agg_cohort(j->res, c)->suppressed = supp[c];
		if (!supp[c])
			j->act[j->na++] = c;
	}
out:
	mpc_wipe_free(d, j->C * 8);
	free(supp);
	return err;
}

/* The products of the variance/covariance numerators, for the active
 * cohorts only: nQx - Sx^2, nQy - Sy^2, nSxy - SxSy (exact in Z_2^128),
 * and n^2 for the ratios under MPC; with n, Sx, the fraud count and the
 * buckets they make each active cohort's slots in ov. */
static mpc_err numerators(joint_t *j, const int need[4]) {
	static const int ops[3][4] = {
	    {S_N, S_QX, S_SX, S_SX}, {S_N, S_QY, S_SY, S_SY}, {S_N, S_SXY, S_SX, S_SY}};
	size_t na = j->na, nprod = (size_t)(2 * (need[0] + need[1] + need[2]) + need[3]);
	size_t np = na * nprod + 1;
	mpc_u128 *px = calloc(np, 16), *py = calloc(np, 16), *pz = calloc(np, 16);
	mpc_err err = MPC_OK;
	j->per = O_FIXED + j->H;
	if (!px || !py || !pz || !(j->ov = calloc(na * j->per, 16)) || !(j->n2 = calloc(na, 16)) ||
	    !(j->dq = calloc(na * D_N, 16))) {
		err = NOMEM();
		goto out;
	}
	for (size_t a = 0, k = 0; a < na; a++) {
		const mpc_u128 *v = j->sum + j->act[a] * j->L;
		for (int i = 0; i < 3; i++)
			if (need[i]) {
				px[k] = v[ops[i][0]], py[k++] = v[ops[i][1]];
				px[k] = v[ops[i][2]], py[k++] = v[ops[i][3]];
			}
		if (need[3])
			px[k] = v[S_N], py[k++] = v[S_N];
	}
	if (nprod && (err = mpc_beaver_mul(j->p, MPC_Z128, px, py, pz, na * nprod)) != MPC_OK)
		goto out;
	for (size_t a = 0, k = 0; a < na; a++) {
		const mpc_u128 *v = j->sum + j->act[a] * j->L;
		mpc_u128 *o = j->ov + a * j->per;
		o[O_N] = v[S_N];
		o[O_SX] = v[S_SX];
		o[O_FRAUD] = v[S_FRAUD];
		for (int i = 0; i < 3; i++)
			if (need[i]) {
				o[O_VX + i] = pz[k] - pz[k + 1];
				k += 2;
			}
		if (need[3])
			j->n2[a] = pz[k++];
		memcpy(o + O_FIXED, v + AGG_FIXED, j->H * 16);
	}
out:
	mpc_wipe_free(px, np * 16);
	mpc_wipe_free(py, np * 16);
	mpc_wipe_free(pz, np * 16);
	return err;
}

/* The ratios divided in the clear from the opened n and numerators. */
static void clear_ratios(const mpc_agg_spec *s, mpc_agg_stats *st, const mpc_u128 o[O_FIXED],
                         double n, double vx, double cxy) {
	double sc = ldexp(1, -(int)s->frac);
	unsigned w = s->stats;
	if (w & MPC_AGG_MEAN)
		st->mean = mpc_agg_to_double(o[O_SX]) * sc / n;
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

/* One active cohort's statistics from the opened values ob, read from *k
 * on in the order they were packed. MPC_ECHEAT for an impossible count. */
static mpc_err read_cohort(const joint_t *j, mpc_agg_stats *st, const mpc_u128 *ob, size_t *k,
                           const int want[O_FIXED], const int dwant[D_N], int div) {
	const mpc_agg_spec *s = j->s;
	mpc_u128 o[O_FIXED] = {0}, d[D_N] = {0};
	for (int i = 0; i < O_FIXED; i++)
		if (want[i])
			o[i] = ob[(*k)++];
	double n = (double)o[O_N], sc = ldexp(1, -(int)s->frac);
	if (want[O_N] &&
	    (o[O_N] == 0 || n > j->owners * s->max_rows || (want[O_FRAUD] && o[O_FRAUD] > o[O_N])))
		return mpc_error(MPC_ECHEAT,
		                 "statistics: an opened count is impossible: a "
		                 "party sent wrong shares (party %d, %s:%d)",
		                 mpc_party_id(j->p), __FILE__, __LINE__);
	double vx = mpc_agg_to_double(o[O_VX]) * sc * sc, vy = mpc_agg_to_double(o[O_VY]) * sc * sc;
	double cxy = mpc_agg_to_double(o[O_CXY]) * sc * sc;
	unsigned w = s->stats;
	if (w & MPC_AGG_COUNT)
		st->count = n;
	if (w & MPC_AGG_SUM)
		st->sum = mpc_agg_to_double(o[O_SX]) * sc;
	if (w & MPC_AGG_CORR)
		st->corr = vx > 0 && vy > 0 ? cxy / sqrt(vx * vy) : NAN;
	for (size_t h = 0; h < j->H; h++)
		st->hist[h] = (double)ob[(*k)++];
	if (!div) {
		clear_ratios(s, st, o, n, vx, cxy);
		return MPC_OK;
	}
	for (int i = 0; i < D_N; i++)
		if (dwant[i])
			d[i] = ob[(*k)++];
	st->mean = dwant[D_MEAN] ? mpc_agg_to_double(d[D_MEAN]) * sc : NAN;
	st->fraud_rate = dwant[D_FRAUD] ? mpc_agg_to_double(d[D_FRAUD]) * sc : NAN;
	st->variance = dwant[D_VAR] ? mpc_agg_to_double(d[D_VAR]) * sc : NAN;
	st->cov = dwant[D_COV] ? mpc_agg_to_double(d[D_COV]) * sc : NAN;
	st->stddev = dwant[D_STD] ? mpc_agg_to_double(d[D_STD]) * sc : NAN;
	return MPC_OK;
}

/* The ratios under MPC if so divided, then open exactly the agreed values
 * (the wanted slots, the buckets, the wanted quotients) and read them. */
static mpc_err divide_and_open(joint_t *j, const int want[O_FIXED], const int dwant[D_N]) {
	int div = mpc_agg_divides_inside(j->s);
	size_t nb = j->na * (j->per + D_N), no = 0;
	mpc_u128 *ob = calloc(nb, 16);
	mpc_err err = MPC_OK;
	if (!ob) {
		err = NOMEM();
		goto out;
	}
	if (div &&
	    (err = mpc_agg_ratios_inside(j->p, j->s, j->ov, j->per, j->n2, j->na, j->dq)) != MPC_OK)
		goto out;
	for (size_t a = 0; a < j->na; a++) {
		const mpc_u128 *o = j->ov + a * j->per;
		for (int i = 0; i < O_FIXED; i++)
			if (want[i])
				ob[no++] = o[i];
		for (size_t h = 0; h < j->H; h++)
			ob[no++] = o[O_FIXED + h];
		for (int d = 0; d < D_N; d++)
			if (dwant[d])
				ob[no++] = j->dq[a * D_N + (size_t)d];
	}
	if (no && (err = mpc_open_output(j->p, MPC_Z128, ob, ob, no)) != MPC_OK)
		goto out;
	for (size_t a = 0, k = 0; a < j->na; a++)
		if ((err = read_cohort(j, mpc_agg_cohort(j->res, j->act[a]), ob, &k, want, dwant,
		                       div)) != MPC_OK)
			goto out;
out:
	mpc_wipe_free(ob, nb * 16);
	return err;
}

static mpc_err run_quantiles(const joint_t *j, const mpc_agg_local *l) {
	mpc_agg_stats **qout = calloc(j->na, sizeof(*qout));
	mpc_err err;
	if (!qout)
		return NOMEM();
	for (size_t a = 0; a < j->na; a++)
		qout[a] = mpc_agg_cohort(j->res, j->act[a]);
	err = mpc_agg_quantiles(j->p, j->s, l, j->n64, j->act, j->na, qout);
	free(qout);
	return err;
}

/* min/max from the contributions (cs: m of them, len elements each): row
 * 2a of the matrix holds their maxima of cohort act[a], row 2a + 1 their
 * -minima, each share reduced mod 2^64 (a Z_2^128 additive share reduced is
 * a Z_2^64 additive share of the reduced value, here exact: |value| < 2^62). */
static mpc_err contrib_min_max(const joint_t *j, const mpc_u128 *cs, size_t m, size_t len) {
	size_t rows = 2 * j->na, CL = j->C * j->L, n = rows * m;
	uint64_t *mmx = calloc(n ? n : 1, 8);
	mpc_err err;
	if (!mmx)
		return NOMEM();
	for (size_t a = 0; a < j->na; a++)
		for (size_t i = 0; i < m; i++) {
			const mpc_u128 *e = cs + i * len + CL;
			mmx[2 * a * m + i] = (uint64_t)e[j->act[a]];
			mmx[(2 * a + 1) * m + i] = (uint64_t)e[j->C + j->act[a]];
		}
	err = mpc_agg_max_open(j->p, j->s, mmx, m, j->act, j->na, j->res);
	mpc_wipe_free(mmx, n * 8);
	return err;
}

/* The joint run from the shared sums j->sum on: suppression, numerators,
 * ratios and openings, min/max (from this party's local extremes l, or with
 * l NULL from the m contributions cs) and quantiles (l only). */
static mpc_err joint_finish(joint_t *j, const mpc_agg_local *l, const mpc_u128 *cs, size_t m) {
	const mpc_agg_spec *s = j->s;
	int want[O_FIXED], dwant[D_N], need[4];
	mpc_err err;
	if ((err = suppress_small_cohorts(j)) != MPC_OK || j->na == 0)
		return err;
	mpc_agg_open_plan(s, want, dwant, need);
	if ((err = numerators(j, need)) != MPC_OK ||
	    (err = divide_and_open(j, want, dwant)) != MPC_OK)
		return err;
	if (s->stats & (MPC_AGG_MIN | MPC_AGG_MAX)) {
		err = l ? mpc_agg_min_max(j->p, s, l, j->act, j->na, j->res)
		        : contrib_min_max(j, cs, m, mpc_agg_contrib_len(s));
		if (err != MPC_OK)
			return err;
	}
	if (l && (s->stats & MPC_AGG_QUANT))
		return run_quantiles(j, l);
	return MPC_OK;
}

mpc_err mpc_agg_run(mpc_party *p, const mpc_agg_spec *s, const mpc_agg_rows *rows,
                    mpc_agg_result *res) {
	joint_t j = {.p = p, .s = s, .res = res, .owners = mpc_party_size(p)};
	mpc_agg_local l = {0};
	mpc_err err;

	memset(res, 0, sizeof(*res));
	if ((err = mpc_agg_check_spec(s, mpc_party_size(p))) != MPC_OK ||
	    (err = mpc_agg_check_rows(s, rows, "statistics input")) != MPC_OK ||
	    (err = result_init(s, res)) != MPC_OK)
		goto out;
	if (s->dp) {
		if ((err = mpc_agg_dp_plan_make(s, &res->dp)) == MPC_OK)
			err = mpc_agg_run_dp(p, s, rows, res);
		goto out;
	}
	if ((err = local_sums(s, rows, &l)) != MPC_OK || (err = share_local_sums(&j, &l)) != MPC_OK)
		goto out;
	err = joint_finish(&j, &l, NULL, 0);
out:
	local_fini(&l);
	joint_fini(&j);
	if (err != MPC_OK)
		mpc_agg_result_fini(res);
	return err;
}

/* ---- input parties' contributions ---- */

/* The exact run's contribution: C x L local sums, then (min or max asked
 * for) C local maxima and C -minima, sign-extended. */
static int contrib_extremes(const mpc_agg_spec *s) {
	return !s->dp && (s->stats & (MPC_AGG_MIN | MPC_AGG_MAX));
}

size_t mpc_agg_contrib_len(const mpc_agg_spec *s) {
	size_t C = 1 + s->n_groups, H = (s->stats & MPC_AGG_HIST) ? s->n_edges + 1 : 0;
	if (s->dp)
		return C * mpc_agg_dp_slots(s);
	return C * (AGG_FIXED + H) + (contrib_extremes(s) ? 2 * C : 0);
}

mpc_err mpc_agg_contrib(const mpc_agg_spec *s, const mpc_agg_rows *rows, const char *name,
                        mpc_u128 *out) {
	mpc_agg_local l = {0};
	mpc_agg_dp_plan plan;
	size_t len = mpc_agg_contrib_len(s);
	mpc_err err;

	if ((err = mpc_agg_contrib_check(s, 1)) != MPC_OK ||
	    (err = mpc_agg_check_rows(s, rows, name)) != MPC_OK)
		return err;
	memset(out, 0, len * 16);
	if (s->dp) {
		if ((err = mpc_agg_dp_plan_make(s, &plan)) == MPC_OK)
			mpc_agg_dp_local_sums(s, rows, &plan, out);
		goto out;
	}
	if ((err = local_sums(s, rows, &l)) != MPC_OK)
		goto out;
	memcpy(out, l.sums, l.C * l.L * 16);
	if (contrib_extremes(s))
		for (size_t c = 0; c < l.C; c++) {
			out[l.C * l.L + c] = (mpc_u128)(mpc_i128)l.mx[c];
			out[l.C * l.L + l.C + c] = (mpc_u128)(mpc_i128)l.mn[c];
		}
out:
	local_fini(&l);
	if (err != MPC_OK)
		mpc_wipe(out, len * 16);
	return err;
}

/* The shares of the sums: the first n elements of each contribution, added. */
static void add_contribs(mpc_u128 *sum, const mpc_u128 *cs, size_t m, size_t len, size_t n) {
	for (size_t i = 0; i < m; i++)
		mpc_share_add(MPC_Z128, sum, sum, cs + i * len, n);
}

mpc_err mpc_agg_run_contribs(mpc_party *p, const mpc_agg_spec *s, const mpc_u128 *shares, size_t m,
                             mpc_agg_result *res) {
	joint_t j = {.p = p, .s = s, .res = res, .owners = (double)m};
	size_t len = mpc_agg_contrib_len(s), C = 1 + s->n_groups;
	mpc_u128 *sum = NULL;
	mpc_err err;

	memset(res, 0, sizeof(*res));
	if ((err = mpc_agg_contrib_check(s, m)) != MPC_OK || (err = result_init(s, res)) != MPC_OK)
		goto out;
	if ((m && !shares) || (m && len > SIZE_MAX / 16 / m)) {
		err = mpc_error(MPC_EINVAL, "statistics: %zu contributions: none given or too many",
		                m);
		goto out;
	}
	if (s->dp) {
		if ((err = mpc_agg_dp_plan_make(s, &res->dp)) != MPC_OK)
			goto out;
		if (!(sum = calloc(len ? len : 1, 16))) {
			err = NOMEM();
			goto out;
		}
		add_contribs(sum, shares, m, len, len);
		err = mpc_agg_dp_release(p, s, sum, res);
		goto out;
	}
	/* the exact layout: C x L sums first, then the extremes (contrib_min_max) */
	if ((err = joint_alloc(&j, C, (len - (contrib_extremes(s) ? 2 * C : 0)) / C)) != MPC_OK)
		goto out;
	add_contribs(j.sum, shares, m, len, C * j.L);
	err = joint_finish(&j, NULL, shares, m);
out:
	mpc_wipe_free(sum, len * 16);
	joint_fini(&j);
	if (err != MPC_OK)
		mpc_agg_result_fini(res);
	return err;
}
