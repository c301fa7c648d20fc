/* Aggregate statistics: ratios divided under MPC (MPC_AGG_DIV_INSIDE):
 * exact long division of the shared numerators by the shared counts, and
 * mpc_math_sqrt for the standard deviation (see mpc_agg.h). */
#include <stdlib.h>
#include <string.h>

#include "protocols/apps/mpc_agg_internal.h"
#include "protocols/core/mpc_beaver.h"
#include "protocols/nonlinear/mpc_cmp.h"
#include "protocols/nonlinear/mpc_math.h"
#include "runtime/mpc_wipe.h"

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

/* What is opened (want, dwant) and which numerators are computed (need:
 * nQx - Sx^2, nQy - Sy^2, nSxy - SxSy, n^2). */
void mpc_agg_open_plan(const mpc_agg_spec *s, int want[O_FIXED], int dwant[D_N], int need[4]) {
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
mpc_err mpc_agg_ratios_inside(mpc_party *p, const mpc_agg_spec *s, const mpc_u128 *ov, size_t per,
                              const mpc_u128 *n2, size_t na, mpc_u128 *dq) {
	int dummy[O_FIXED], dwant[D_N], need[4];
	unsigned F = s->frac;
	long double M = (long double)mpc_agg_enc_bound(s), mv = M * M / ldexpl(1, (int)F);
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
	mpc_agg_open_plan(s, dummy, dwant, need);
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
