/* The exponential mechanism under MPC (see mpc_dp_select.h).
 *
 * Why inverse CDF rather than report-noisy-max with Gumbel noise: the Gumbel
 * noise would need a joint log(-log u) (no such function under MPC here) or
 * a large threshold table per candidate; the weights need one exp per
 * candidate, and the draw one product and k - 1 comparisons.
 *
 * Why the shift c: mpc_math_exp's error is 1.1 units absolute plus 2^-23
 * relative. With exponents <= 0 the largest weight would be 2^F units and the
 * absolute part would dominate (a total variation near k 2^-20); shifted to
 * e^23 2^F it is below k 2^-53.
 *
 * Why uT against 2^B P_j: comparing integers exactly (no truncation of
 * u T / 2^B) leaves u's granularity as the draw's only error. */
#include "protocols/apps/mpc_dp_select.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/core/mpc_beaver.h"
#include "protocols/core/mpc_preproc.h"
#include "protocols/core/mpc_share.h"
#include "protocols/nonlinear/mpc_cmp.h"
#include "protocols/nonlinear/mpc_conv.h"
#include "protocols/nonlinear/mpc_math.h"
#include "runtime/mpc_wipe.h"

#define F MPC_DP_SELECT_FRAC
#define B MPC_DP_SELECT_UBITS

typedef mpc_u128 u128;

/* Public parameters of a selection, the same at every party. */
typedef struct {
	u128 A;        /* exponent multiplier */
	unsigned g;    /* bits truncated from A d (0: exact) */
	unsigned cmpb; /* bits of the comparisons against uT */
	unsigned c;    /* shift of the exponent */
	double eps_used, tv;
} selp;

static unsigned ceil_log2(size_t k) {
	unsigned l = 0;
	while (l < 64 && ((size_t)1 << l) < k)
		l++;
	return l;
}

static mpc_err params(mpc_ring r, unsigned f, size_t k, double eps, double sens, selp *sp) {
	if (r != MPC_Z64 && r != MPC_Z128)
		return mpc_error(MPC_EINVAL, "dp select: ring must be Z_2^64 or Z_2^128");
	if (!isfinite(eps) || !(eps > 0))
		return mpc_error(MPC_EINVAL, "dp select: epsilon must be finite and > 0");
	if (!isfinite(sens) || !(sens > 0))
		return mpc_error(MPC_EINVAL, "dp select: sensitivity must be finite and > 0");
	if (k == 0 || k > MPC_DP_SELECT_MAX_K)
		return mpc_error(MPC_EINVAL, "dp select: %zu candidates (must be 1 .. %zu)", k,
		                 MPC_DP_SELECT_MAX_K);
	if (f >= mpc_ring_bits(r))
		return mpc_error(MPC_EINVAL, "dp select: %u fractional bits in a %u-bit ring", f,
		                 mpc_ring_bits(r));
	/* s = a 2^(F-f): the exponent of one score unit, in units of 2^-F */
	long double s = ldexpl((long double)eps / (2.0L * (long double)sens), F - (int)f);
	if (!(s >= ldexpl(1.0L, -60)))
		return mpc_error(
		    MPC_ERANGE,
		    "dp select: epsilon / (2 sensitivity) = %g is below 2^-60 per unit "
		    "of the scores' grid (2^-%u): use fewer fractional bits",
		    eps / (2.0 * sens), f);
	/* exact (no truncation) when rounding a down to the grid costs at most
	 * 2^-10 of epsilon; otherwise 20 bits of a and one truncation */
	sp->g = 0;
	if (s >= ldexpl(1.0L, 10)) {
		long double A = s >= ldexpl(1.0L, 62) ? ldexpl(1.0L, 62) : floorl(s);
		sp->A = (u128)(uint64_t)A;
	} else {
		while (ldexpl(s, (int)sp->g) < ldexpl(1.0L, 20))
			sp->g++;
		sp->A = (u128)(uint64_t)floorl(ldexpl(s, (int)sp->g));
	}
	/* a' = A 2^-(F - f + g), epsilon' = 2 sensitivity a' */
	long double ap = ldexpl((long double)(uint64_t)sp->A, (int)f - F - (int)sp->g);
	sp->eps_used = (double)(2.0L * (long double)sens * ap);
	if (sp->eps_used > eps) /* rounding of the product: never above epsilon */
		sp->eps_used = eps;
	sp->c = (unsigned)mpc_math_exp_max(F) - 1;
	sp->cmpb = B + 55 + ceil_log2(k);
	double kk = (double)k, eta = sp->g ? ldexp(1.0, -F) : 0.0;
	double W0 = exp((double)sp->c - eta) * ldexp(1.0, F);
	double e0 = ldexp(1.0, -23) + 1.1 * kk / W0;
	sp->tv = k == 1 ? 0.0
	                : 2 * eta + e0 / (1 - e0) + 3 * kk * kk / W0 + kk * ldexp(1.0, -(B + 1)) +
	                      3 * kk * ldexp(1.0, -40);
	return MPC_OK;
}

mpc_err mpc_dp_select_info(mpc_ring r, unsigned f, size_t k, double epsilon, double sensitivity,
                           double *epsilon_used, double *tv_bound) {
	selp sp;
	mpc_err err = params(r, f, k, epsilon, sensitivity, &sp);
	if (err != MPC_OK)
		return err;
	if (epsilon_used)
		*epsilon_used = sp.eps_used;
	if (tv_bound)
		*tv_bound = sp.tv;
	return MPC_OK;
}

/* Signed Z_2^64 shares d (n elements) to Z_2^128 shares of the same signed
 * values: the 64 bits of d (a2b), each to Z_2^128 (b2a), summed with weights
 * 2^l and -2^63 for the sign bit. */
static mpc_err lift(mpc_party *p, const uint64_t *d, size_t n, u128 *out) {
	size_t W = mpc_conv_words(n);
	uint64_t *pl = calloc(64 * W, sizeof(uint64_t));
	mpc_vec b = {0};
	mpc_err err;
	if (pl == NULL) {
		err = mpc_error(MPC_ENOMEM, "dp select: out of memory (%s:%d)", __FILE__, __LINE__);
		goto out;
	}
	if ((err = mpc_conv_a2b(p, MPC_Z64, d, n, 64, pl)) != MPC_OK ||
	    (err = mpc_vec_init(&b, MPC_Z128, 64 * n)) != MPC_OK ||
	    (err = mpc_conv_b2a_planes(p, MPC_Z128, pl, 64, n, b.v)) != MPC_OK)
		goto out;
	const u128 *bv = b.v;
	for (size_t i = 0; i < n; i++) {
		u128 x = 0;
		for (unsigned l = 0; l < 63; l++)
			x += bv[(size_t)l * n + i] << l;
		out[i] = x - (bv[(size_t)63 * n + i] << 63);
	}
out:
	mpc_wipe_free(pl, pl ? 64 * W * sizeof(uint64_t) : 0);
	mpc_vec_fini(&b);
	return err;
}

/* X (m k elements of Z_2^128, F fractional bits) = a' (s - max) + c. */
static mpc_err exponents(mpc_party *p, mpc_ring r, const selp *sp, const void *scores, size_t m,
                         size_t k, u128 *X) {
	size_t n = m * k, e = mpc_ring_bytes(r);
	mpc_vec mx = {0}, d = {0};
	mpc_err err;
	if ((err = mpc_vec_init(&mx, r, m)) != MPC_OK || (err = mpc_vec_init(&d, r, n)) != MPC_OK)
		goto out;
	/* in Z_2^128 the scores are below 2^62 in magnitude: 64 bits suffice */
	err = r == MPC_Z64 ? mpc_cmp_max(p, r, scores, m, k, mx.v, NULL)
	                   : mpc_cmp_max_bits(p, r, scores, m, k, 64, mx.v, NULL);
	if (err != MPC_OK)
		goto out;
	for (size_t v = 0; v < m; v++)
		for (size_t j = 0; j < k; j++)
			mpc_ring_sub(r, (uint8_t *)d.v + (v * k + j) * e,
			             (const uint8_t *)scores + (v * k + j) * e,
			             (uint8_t *)mx.v + v * e, 1);
	if (r == MPC_Z64) {
		if ((err = lift(p, d.v, n, X)) != MPC_OK)
			goto out;
	} else {
		memcpy(X, d.v, n * sizeof(u128));
	}
	mpc_ring_scale(MPC_Z128, X, X, &sp->A, n);
	if (sp->g > 0 && (err = mpc_trunc(p, MPC_Z128, sp->g, X, X, n)) != MPC_OK)
		goto out;
	if (mpc_party_id(p) == 0) {
		u128 C = (u128)sp->c << F;
		mpc_ring_add_const(MPC_Z128, X, X, &C, n);
	}
out:
	mpc_vec_fini(&mx);
	mpc_vec_fini(&d);
	return err;
}

/* From the weights w (m k elements, overwritten by their prefix sums) to
 * the opened indices. */
static mpc_err draw(mpc_party *p, const selp *sp, u128 *w, size_t m, size_t k, size_t *index) {
	size_t nc = m * (k - 1);
	mpc_vec bits = {0}, u = {0}, T = {0}, L = {0}, R = {0}, idx = {0};
	mpc_err err;
	if ((err = mpc_vec_init(&u, MPC_Z128, m)) != MPC_OK ||
	    (err = mpc_vec_init(&T, MPC_Z128, m)) != MPC_OK ||
	    (err = mpc_vec_init(&idx, MPC_Z128, m)) != MPC_OK ||
	    (err = mpc_vec_init(&L, MPC_Z128, nc)) != MPC_OK ||
	    (err = mpc_vec_init(&R, MPC_Z128, nc)) != MPC_OK ||
	    (err = mpc_bits_get(p, MPC_Z128, m * B, &bits)) != MPC_OK)
		goto out;
	u128 *uv = u.v, *Tv = T.v, *Lv = L.v, *Rv = R.v, *iv = idx.v;
	const u128 *bv = bits.v;
	for (size_t v = 0; v < m; v++) {
		u128 *P = w + v * k;
		for (size_t j = 1; j < k; j++)
			P[j] += P[j - 1];
		Tv[v] = P[k - 1];
		for (unsigned b = 0; b < B; b++)
			uv[v] += bv[v * B + b] << b;
	}
	/* uT < 2^B T: exact, no truncation */
	if ((err = mpc_beaver_mul(p, MPC_Z128, uv, Tv, uv, m)) != MPC_OK)
		goto out;
	for (size_t v = 0; v < m; v++)
		for (size_t j = 0; j + 1 < k; j++) {
			Lv[v * (k - 1) + j] = uv[v];
			Rv[v * (k - 1) + j] = w[v * k + j] << B;
		}
	/* L <- [uT < 2^B P_j]; index = (k - 1) - sum_j of those */
	if ((err = mpc_cmp_lt_bits(p, MPC_Z128, Lv, Rv, sp->cmpb, Lv, nc)) != MPC_OK)
		goto out;
	for (size_t v = 0; v < m; v++) {
		u128 s = mpc_party_id(p) == 0 ? (u128)(k - 1) : 0;
		for (size_t j = 0; j + 1 < k; j++)
			s -= Lv[v * (k - 1) + j];
		iv[v] = s;
	}
	if ((err = mpc_open_output(p, MPC_Z128, iv, iv, m)) != MPC_OK)
		goto out;
	for (size_t v = 0; v < m; v++) {
		if (iv[v] >= (u128)k) {
			err = mpc_error(MPC_EPROTO,
			                "dp select: opened index of selection %zu out of range", v);
			goto out;
		}
		index[v] = (size_t)iv[v];
	}
out:
	mpc_vec_fini(&bits);
	mpc_vec_fini(&u);
	mpc_vec_fini(&T);
	mpc_vec_fini(&L);
	mpc_vec_fini(&R);
	mpc_vec_fini(&idx);
	return err;
}

mpc_err mpc_dp_select_batch(mpc_party *p, mpc_ring r, unsigned f, const void *scores, size_t m,
                            size_t k, double epsilon, double sensitivity, size_t *index) {
	selp sp;
	mpc_vec X = {0};
	mpc_err err = params(r, f, k, epsilon, sensitivity, &sp);
	if (err != MPC_OK)
		return err;
	if (p == NULL || scores == NULL || index == NULL)
		return mpc_error(MPC_EINVAL, "dp select: NULL party, scores or index");
	if (m == 0)
		return mpc_error(MPC_EINVAL, "dp select: no selection (m = 0)");
	if (m > SIZE_MAX / (k * 64 * sizeof(u128)))
		return mpc_error(MPC_EINVAL,
		                 "dp select: %zu selections of %zu candidates: too many", m, k);
	if (k == 1) {
		for (size_t v = 0; v < m; v++)
			index[v] = 0;
		return MPC_OK;
	}
	if ((err = mpc_vec_init(&X, MPC_Z128, m * k)) != MPC_OK ||
	    (err = exponents(p, r, &sp, scores, m, k, X.v)) != MPC_OK ||
	    (err = mpc_math_exp(p, MPC_Z128, F, X.v, X.v, m * k)) != MPC_OK)
		goto out;
	err = draw(p, &sp, X.v, m, k, index);
out:
	mpc_vec_fini(&X);
	return err;
}

mpc_err mpc_dp_select(mpc_party *p, mpc_ring r, unsigned f, const void *scores, size_t k,
                      double epsilon, double sensitivity, size_t *index) {
	return mpc_dp_select_batch(p, r, f, scores, 1, k, epsilon, sensitivity, index);
}
