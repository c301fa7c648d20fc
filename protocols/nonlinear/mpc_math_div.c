/* Fixed-point reciprocal, division and square root on shares (see
 * mpc_math.h; the engine they share with the other functions is in
 * mpc_math.c). */
#include "protocols/nonlinear/mpc_math.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/core/mpc_beaver.h"
#include "protocols/core/mpc_preproc.h"
#include "protocols/core/mpc_share.h"
#include "protocols/nonlinear/mpc_math_internal.h"
#include "runtime/mpc_wipe.h"

/* ------------------------------------------------------------------ */
/* Reciprocal and division                                             */

/* Leading-one position L of y = |x| (the bits of x XOR its sign), one-hot
 * over L in 0..M-1 (none if y >= 2^M), split by sign: ep_i = [L = i, x > 0],
 * en_i = [L = i, x < 0]; x = -1 ulp (y = 0) counts as L = 0, x < 0. */
static mpc_err recip_circ(bc *b, const uint64_t *xb, const void *varg, uint64_t *outp) {
	size_t M = *(const size_t *)varg, W = b->W, k = 0;
	const uint64_t *s = xb + 127 * W;
	uint64_t *y[127], *q[KB], *o[KB], *en[KB];
	ortree t;
	ks sc;
	mpc_err err;

	for (int l = 0; l < 127; l++) {
		y[l] = P(b);
		bxor(b, y[l], xb + (size_t)l * W, s);
	}
	mpc_math_ort_init(b, &t, y + M, 127 - M);
	sc.M = M;
	sc.d = 1;
	memcpy(sc.p, y, M * sizeof(y[0]));
	for (;;) {
		int a = mpc_math_ort_queue(b, &t), c = mpc_math_ks_queue(b, &sc);
		if (!a && !c)
			break;
		if ((err = mpc_math_flush(b)) != MPC_OK)
			return err;
	}
	uint64_t *H = t.v[0];
	for (size_t i = 0; i < M; i++) {
		q[i] = P(b);
		bor(b, q[i], sc.p[i], H);
	}
	if ((err = mpc_math_flush(b)) != MPC_OK)
		return err;
	for (size_t i = 0; i < M; i++) {
		o[i] = P(b);
		bxor(b, o[i], q[i], i + 1 < M ? q[i + 1] : H);
	}
	uint64_t *none = P(b), *m1 = P(b);
	bnot(b, none, q[0]);
	for (size_t i = 0; i < M; i++) {
		en[i] = P(b);
		band(b, en[i], o[i], s);
	}
	band(b, m1, none, s);
	if ((err = mpc_math_flush(b)) != MPC_OK)
		return err;
	for (size_t i = 0; i < M; i++) {
		uint64_t *ep = o[i]; /* o_i ^ en_i, in place */
		bxor(b, ep, o[i], en[i]);
	}
	bxor(b, en[0], en[0], m1);
	for (size_t i = 0; i < M; i++)
		emit(b, outp, &k, o[i]);
	for (size_t i = 0; i < M; i++)
		emit(b, outp, &k, en[i]);
	return MPC_OK;
}

/* out ~ 2^g / x (g fractional bits) for x with f fractional bits. */
static mpc_err recip_core(mpc_party *p, unsigned f, unsigned g, const u128 *x, u128 *out,
                          size_t n) {
	size_t M = g + f + 1;
	unsigned F2 = 85 - g - f < 40 ? 85 - g - f : 40, K = F2 > M ? F2 : (unsigned)M;
	scratch A = {0}, V = {0};
	int king = mpc_party_id(p) == 0;
	mpc_err err;

	if ((err = mpc_math_scratch_init(&A, 2 * M, n)) != MPC_OK ||
	    (err = mpc_math_scratch_init(&V, 5, n)) != MPC_OK)
		goto out;
	if ((err = mpc_math_bits_circ_b2a(p, x, n, recip_circ, &M, 2 * M, A.v)) != MPC_OK)
		goto out;
	u128 *c = sv(&V, 0), *c2 = sv(&V, 1), *Z = sv(&V, 2), *Y = sv(&V, 3), *m = sv(&V, 4);
	for (size_t i = 0; i < M; i++) {
		u128 a = (u128)1 << (K - i - 1), a2 = (u128)1 << (g + f - i);
		axpy(c, sv(&A, i), a, n);
		axpy(c, sv(&A, M + i), -a, n);
		axpy(c2, sv(&A, i), a2, n);
		axpy(c2, sv(&A, M + i), -a2, n);
	}
	/* z = |x| / 2^(L+1) in [1/2, 1], F2 bits */
	if ((err = mpc_math_bmul(p, x, c, Z, n, K - F2)) != MPC_OK)
		goto out;
	/* y0 = 2.8187 - 15/8 z (F2 + 3 bits); Newton y <- y (2 - z y) */
	affine(king, Y, Z, (u128)0 - 15, fx(2.8187, (int)F2 + 3), n);
	for (int it = 0; it < 3; it++) {
		unsigned sh = it == 0 ? F2 + 3 : F2;
		if ((err = mpc_math_bmul(p, Z, Y, m, n, sh)) != MPC_OK)
			goto out;
		affine(king, m, m, (u128)0 - 1, (u128)2 << F2, n);
		if ((err = mpc_math_bmul(p, Y, m, Y, n, sh)) != MPC_OK)
			goto out;
	}
	/* 2^g / x = y * 2^(g + f - L - 1) * sign */
	err = mpc_math_bmul(p, Y, c2, out, n, F2 + 1);
out:
	mpc_math_scratch_fini(&A);
	mpc_math_scratch_fini(&V);
	return err;
}

/* ------------------------------------------------------------------ */
/* Square root                                                         */

/* Leading-one one-hot of x over 0..M-1 (none if x >= 2^M or x < 0), and
 * sat = [x >= 2^M, x >= 0]. Out: o_0..o_{M-1}, sat. */
static mpc_err sqrt_circ(bc *b, const uint64_t *xb, const void *varg, uint64_t *outp) {
	size_t M = *(const size_t *)varg, W = b->W, k = 0;
	uint64_t *hi[KB], *q[KB];
	ortree t;
	ks sc;
	mpc_err err;

	for (size_t l = M; l < KB; l++)
		hi[l - M] = (uint64_t *)(xb + l * W);
	mpc_math_ort_init(b, &t, hi, KB - M);
	sc.M = M;
	sc.d = 1;
	for (size_t l = 0; l < M; l++)
		sc.p[l] = (uint64_t *)(xb + l * W);
	for (;;) {
		int a = mpc_math_ort_queue(b, &t), c = mpc_math_ks_queue(b, &sc);
		if (!a && !c)
			break;
		if ((err = mpc_math_flush(b)) != MPC_OK)
			return err;
	}
	uint64_t *H = t.v[0], *nb = P(b), *sat = P(b);
	bnot(b, nb, xb + 127 * W);
	for (size_t i = 0; i < M; i++) {
		q[i] = P(b);
		bor(b, q[i], sc.p[i], H);
	}
	band(b, sat, H, nb);
	if ((err = mpc_math_flush(b)) != MPC_OK)
		return err;
	for (size_t i = 0; i < M; i++) {
		uint64_t *o = P(b);
		bxor(b, o, q[i], i + 1 < M ? q[i + 1] : H);
		emit(b, outp, &k, o);
	}
	emit(b, outp, &k, sat);
	return MPC_OK;
}

#define SQRT_F2 39u

static size_t sqrt_M(unsigned f) {
	return 2 * (83 - SQRT_F2) - f < 86 ? 2 * (83 - SQRT_F2) - f : 86;
}

static mpc_err sqrt_core(mpc_party *p, unsigned f, const u128 *x, u128 *out, size_t n) {
	size_t M = sqrt_M(f);
	unsigned F2 = SQRT_F2, K = (unsigned)M > F2 ? (unsigned)M : F2;
	scratch A = {0}, V = {0};
	int king = mpc_party_id(p) == 0;
	mpc_err err;

	if ((err = mpc_math_scratch_init(&A, M + 1, n)) != MPC_OK ||
	    (err = mpc_math_scratch_init(&V, 6, n)) != MPC_OK)
		goto out;
	if ((err = mpc_math_bits_circ_b2a(p, x, n, sqrt_circ, &M, M + 1, A.v)) != MPC_OK)
		goto out;
	u128 *c = sv(&V, 0), *c2 = sv(&V, 1), *Z = sv(&V, 2), *Y = sv(&V, 3), *m = sv(&V, 4);
	u128 *m2 = sv(&V, 5);
	for (size_t i = 0; i < M; i++) {
		axpy(c, sv(&A, i), (u128)1 << (K - i - 1), n);
		/* sqrt(x) 2^f = sqrt(z) 2^((L + 1 + f) / 2), with 3 more bits */
		axpy(c2, sv(&A, i),
		     fx(sqrt(ldexp(1.0, (int)(i + 1 + f) % 2)), (int)(i + 1 + f) / 2 + 3), n);
	}
	if ((err = mpc_math_bmul(p, x, c, Z, n, K - F2)) != MPC_OK)
		goto out;
	/* y0 = 1.78993 - 13/16 z (F2 + 4 bits); Newton y <- y (3 - z y^2) / 2 */
	affine(king, Y, Z, (u128)0 - 13, fx(1.7899333, (int)F2 + 4), n);
	for (int it = 0; it < 3; it++) {
		unsigned sh = it == 0 ? F2 + 4 : F2;
		if ((err = mpc_math_bmul(p, Z, Y, m, n, sh)) != MPC_OK ||
		    (err = mpc_math_bmul(p, m, Y, m2, n, sh)) != MPC_OK)
			goto out;
		affine(king, m2, m2, (u128)0 - 1, (u128)3 << F2, n);
		if ((err = mpc_math_bmul(p, Y, m2, Y, n, sh + 1)) != MPC_OK)
			goto out;
	}
	if ((err = mpc_math_bmul(p, Z, Y, Y, n, F2)) != MPC_OK ||
	    (err = mpc_math_bmul(p, Y, c2, out, n, F2 + 3)) != MPC_OK)
		goto out;
	/* x >= 2^(M - f): sqrt(2^(M - f)) */
	axpy(out, sv(&A, M), fx(sqrt(ldexp(1.0, (int)(M - f) % 2)), (int)(M - f) / 2 + (int)f), n);
out:
	mpc_math_scratch_fini(&A);
	mpc_math_scratch_fini(&V);
	return err;
}

static mpc_err recip_f(mpc_party *p, unsigned f, const u128 *x, u128 *out, size_t n) {
	return recip_core(p, f, f, x, out, n);
}

mpc_err mpc_math_recip(mpc_party *p, mpc_ring r, unsigned f, const void *x, void *out, size_t n) {
	mpc_err err = mpc_math_check(p, r, f, x, out, n, "recip");
	return err != MPC_OK ? err : mpc_math_chunked(p, f, recip_f, x, out, n);
}

mpc_err mpc_math_div(mpc_party *p, mpc_ring r, unsigned f, const void *x, const void *y, void *out,
                     size_t n) {
	mpc_err err = mpc_math_check(p, r, f, x, out, n, "div");
	unsigned g = MPC_MATH_DIV_G(f);
	if (err == MPC_OK && n > 0 && y == NULL)
		err =
		    mpc_error(MPC_EINVAL, "mpc_math_div at party %d: NULL vector", mpc_party_id(p));
	for (size_t off = 0; off < n && err == MPC_OK; off += CHUNK) {
		size_t m = n - off < CHUNK ? n - off : CHUNK;
		u128 *t = calloc(m, 16);
		if (t == NULL)
			return mpc_error(MPC_ENOMEM, "out of memory (%s:%d)", __FILE__, __LINE__);
		if ((err = recip_core(p, f, g, (const u128 *)y + off, t, m)) == MPC_OK)
			err = mpc_math_bmul(p, (const u128 *)x + off, t, (u128 *)out + off, m, g);
		mpc_wipe_free(t, m * 16);
	}
	return err;
}

mpc_err mpc_math_sqrt(mpc_party *p, mpc_ring r, unsigned f, const void *x, void *out, size_t n) {
	mpc_err err = mpc_math_check(p, r, f, x, out, n, "sqrt");
	return err != MPC_OK ? err : mpc_math_chunked(p, f, sqrt_core, x, out, n);
}

double mpc_math_sqrt_max(unsigned f) {
	return ldexp(1.0, (int)(sqrt_M(f) - f));
}
