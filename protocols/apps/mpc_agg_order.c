/* Aggregate statistics: order statistics. min/max over the parties' local
 * extremes, and the quantile search: a QARY-ary bisection over the encoded
 * value range whose rank tests open only comparison bits (see mpc_agg.h). */
#include <math.h>
#include <stdlib.h>

#include "protocols/apps/mpc_agg_internal.h"
#include "protocols/core/mpc_share.h"
#include "protocols/nonlinear/mpc_cmp.h"
#include "runtime/mpc_wipe.h"

/* Branching of the quantile search: each step tests QARY - 1 candidates per
 * quantile in one batch, so a search over w values takes log_16(w) steps. */
#define QARY 16

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

mpc_err mpc_agg_quantiles(mpc_party *p, const mpc_agg_spec *s, const mpc_agg_local *l,
                          const uint64_t *n64, const size_t *act, size_t na, mpc_agg_stats **qout) {
	int sides = s->quant_lower ? 1 : 2;
	size_t T = na * s->n_quant * (size_t)sides, cap = T * (QARY - 1);
	int me = mpc_party_id(p);
	int64_t M = mpc_agg_enc_bound(s);
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
		if ((err = mpc_agg_share_sum(p, MPC_Z64, mine, sh, tmp, m)) != MPC_OK)
			goto out;
		for (size_t t = 0, i = 0; t < T; t++)
			for (int k = 0; k < q[t].k; k++, i++) {
				uint64_t z = (sh[i] << MPC_AGG_QBITS) - q[t].qd * n64[q[t].c];
				if (me == 0)
					z -= (uint64_t)q[t].side;
				sh[i] = z;
			}
		/* the only values opened: [test < 0], implied by the final quantile */
		if ((err = mpc_agg_open_negative(p, sh, m, bits)) != MPC_OK)
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

mpc_err mpc_agg_max_open(mpc_party *p, const mpc_agg_spec *s, const uint64_t *mmx, size_t k,
                         const size_t *act, size_t na, mpc_agg_result *res) {
	size_t m = 2 * na;
	uint64_t *mmo = calloc(m ? m : 1, 8);
	mpc_err err = MPC_OK;
	if (!mmo) {
		err = NOMEM();
		goto out;
	}
	if ((err = mpc_cmp_max(p, MPC_Z64, mmx, m, k, mmo, NULL)) != MPC_OK ||
	    (err = mpc_open_output(p, MPC_Z64, mmo, mmo, m)) != MPC_OK)
		goto out;
	for (size_t a = 0; a < na; a++) {
		mpc_agg_stats *st = mpc_agg_cohort(res, act[a]);
		if (s->stats & MPC_AGG_MAX)
			st->max = ldexp((double)(int64_t)mmo[2 * a], -(int)s->frac);
		if (s->stats & MPC_AGG_MIN)
			st->min = -ldexp((double)(int64_t)mmo[2 * a + 1], -(int)s->frac);
	}
out:
	/* on an error before the opening it holds shares of the maxima */
	mpc_wipe_free(mmo, m * 8);
	return err;
}

mpc_err mpc_agg_min_max(mpc_party *p, const mpc_agg_spec *s, const mpc_agg_local *l,
                        const size_t *act, size_t na, mpc_agg_result *res) {
	int np = mpc_party_size(p), me = mpc_party_id(p);
	size_t m = 2 * na;
	uint64_t *mm = calloc(m, 8), *mmx = calloc(m * (size_t)np, 8), *mmo = calloc(m, 8);
	mpc_err err = MPC_OK;
	if (!mm || !mmx || !mmo) {
		err = NOMEM();
		goto out;
	}
	for (size_t a = 0; a < na; a++) {
		mm[2 * a] = (uint64_t)l->mx[act[a]];
		mm[2 * a + 1] = (uint64_t)l->mn[act[a]];
	}
	for (int owner = 0; owner < np; owner++) {
		if ((err = mpc_input(p, owner, MPC_Z64, owner == me ? mm : NULL, mmo, m)) != MPC_OK)
			goto out;
		for (size_t i = 0; i < m; i++)
			mmx[i * (size_t)np + (size_t)owner] = mmo[i];
	}
	err = mpc_agg_max_open(p, s, mmx, (size_t)np, act, na, res);
out:
	if (mm && mmx) {
		mpc_wipe(mm, m * 8);
		mpc_wipe(mmx, m * (size_t)np * 8);
	}
	mpc_wipe_free(mmo, m * 8);
	free(mm);
	free(mmx);
	return err;
}
