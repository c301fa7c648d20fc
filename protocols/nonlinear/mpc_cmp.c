/* Comparisons, selections and exact truncation (see mpc_cmp.h). */
#include "protocols/nonlinear/mpc_cmp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/core/mpc_beaver.h"
#include "protocols/core/mpc_preproc.h"
#include "protocols/core/mpc_share.h"
#include "protocols/nonlinear/mpc_conv.h"
#include "runtime/mpc_wipe.h"

static mpc_err ring_ok(mpc_party *p, mpc_ring r, const char *what) {
	if (mpc_ring_check(r) != MPC_OK)
		return mpc_error(MPC_EINVAL, "%s at party %d: bad ring %d", what, mpc_party_id(p),
		                 (int)r);
	return MPC_OK;
}

static mpc_err nomem(const char *what, int line) {
	return mpc_error(MPC_ENOMEM, "out of memory in %s (%s:%d)", what, __FILE__, line);
}

/* A wiped-on-free bit plane buffer. */
static void planes_free(uint64_t *b, size_t words) {
	if (b) {
		mpc_wipe(b, words * 8);
		free(b);
	}
}

/* bits in 2..k, with the error naming the function */
static mpc_err bits_ok(mpc_party *p, mpc_ring r, unsigned bits, const char *what) {
	mpc_err err;
	if ((err = ring_ok(p, r, what)) != MPC_OK)
		return err;
	if (bits < 2 || bits > mpc_ring_bits(r))
		return mpc_error(MPC_EINVAL, "%s at party %d: %u bits in Z_2^%u (need 2..%u)", what,
		                 mpc_party_id(p), bits, mpc_ring_bits(r), mpc_ring_bits(r));
	return MPC_OK;
}

mpc_err mpc_cmp_ltz_bits(mpc_party *p, mpc_ring r, const void *x, unsigned bits, void *out,
                         size_t n) {
	size_t W = mpc_conv_words(n);
	uint64_t *b;
	mpc_err err;
	if ((err = bits_ok(p, r, bits, "ltz")) != MPC_OK || n == 0)
		return err;
	if ((b = calloc(W, 8)) == NULL)
		return nomem("ltz", __LINE__);
	if ((err = mpc_conv_msb_bits(p, r, x, n, bits, b)) == MPC_OK)
		err = mpc_conv_b2a(p, r, b, n, out);
	planes_free(b, W);
	return err;
}

mpc_err mpc_cmp_ltz(mpc_party *p, mpc_ring r, const void *x, void *out, size_t n) {
	mpc_err err;
	if ((err = ring_ok(p, r, "ltz")) != MPC_OK)
		return err;
	return mpc_cmp_ltz_bits(p, r, x, mpc_ring_bits(r), out, n);
}

mpc_err mpc_cmp_lt_bits(mpc_party *p, mpc_ring r, const void *x, const void *y, unsigned bits,
                        void *out, size_t n) {
	mpc_vec d = {0};
	mpc_err err;
	if ((err = bits_ok(p, r, bits, "lt")) != MPC_OK || n == 0)
		return err;
	if ((err = mpc_vec_init(&d, r, n)) != MPC_OK)
		return err;
	mpc_share_sub(r, d.v, x, y, n);
	err = mpc_cmp_ltz_bits(p, r, d.v, bits, out, n);
	mpc_vec_fini(&d);
	return err;
}

mpc_err mpc_cmp_lt(mpc_party *p, mpc_ring r, const void *x, const void *y, void *out, size_t n) {
	mpc_err err;
	if ((err = ring_ok(p, r, "lt")) != MPC_OK)
		return err;
	return mpc_cmp_lt_bits(p, r, x, y, mpc_ring_bits(r), out, n);
}

mpc_err mpc_cmp_eq(mpc_party *p, mpc_ring r, const void *x, const void *y, void *out, size_t n) {
	size_t W = mpc_conv_words(n);
	mpc_vec d = {0};
	uint64_t *b = NULL;
	mpc_err err;
	if ((err = ring_ok(p, r, "eq")) != MPC_OK || n == 0)
		return err;
	if ((err = mpc_vec_init(&d, r, n)) != MPC_OK)
		return err;
	if ((b = calloc(W, 8)) == NULL) {
		err = nomem("eq", __LINE__);
		goto out;
	}
	mpc_share_sub(r, d.v, x, y, n);
	if ((err = mpc_conv_is_zero(p, r, d.v, n, b)) == MPC_OK)
		err = mpc_conv_b2a(p, r, b, n, out);
out:
	planes_free(b, W);
	mpc_vec_fini(&d);
	return err;
}

mpc_err mpc_cmp_select(mpc_party *p, mpc_ring r, const void *b, const void *x, const void *y,
                       void *out, size_t n) {
	mpc_vec d = {0};
	mpc_err err;
	if ((err = ring_ok(p, r, "select")) != MPC_OK || n == 0)
		return err;
	if ((err = mpc_vec_init(&d, r, n)) != MPC_OK)
		return err;
	mpc_share_sub(r, d.v, x, y, n);
	if ((err = mpc_beaver_mul(p, r, b, d.v, d.v, n)) == MPC_OK)
		mpc_share_add(r, out, y, d.v, n);
	mpc_vec_fini(&d);
	return err;
}

mpc_err mpc_cmp_relu(mpc_party *p, mpc_ring r, const void *x, void *out, size_t n) {
	mpc_vec b = {0};
	mpc_err err;
	if ((err = ring_ok(p, r, "relu")) != MPC_OK || n == 0)
		return err;
	if ((err = mpc_vec_init(&b, r, n)) != MPC_OK)
		return err;
	/* x * (1 - [x < 0]) = x - x * [x < 0] */
	if ((err = mpc_cmp_ltz(p, r, x, b.v, n)) == MPC_OK &&
	    (err = mpc_beaver_mul(p, r, x, b.v, b.v, n)) == MPC_OK)
		mpc_share_sub(r, out, x, b.v, n);
	mpc_vec_fini(&b);
	return err;
}

/* A tournament: each level compares neighbours 2t and 2t+1 of every vector
 * in one batched comparison, then selects values and indices in one
 * multiplication round. b = 1 picks the right one, so on a tie the left
 * (smaller index) one stays. */
static mpc_err tournament(mpc_party *p, mpc_ring r, const void *x, size_t m, size_t len,
                          unsigned bits, void *best, void *arg, int want_max) {
	size_t eb = mpc_ring_bytes(r), L = len;
	int king = mpc_party_id(p) == 0, first = 1;
	mpc_vec v = {0}, ix = {0}, nv = {0}, ni = {0}, lo = {0}, hi = {0}, b = {0}, xs = {0},
	        ys = {0};
	mpc_err err;

	if ((err = bits_ok(p, r, bits, want_max ? "max" : "min")) != MPC_OK || m == 0)
		return err;
	if (len == 0)
		return mpc_error(MPC_EINVAL, "%s at party %d: vectors of length 0",
		                 want_max ? "max" : "min", mpc_party_id(p));
	if (m > SIZE_MAX / 16 / len)
		return mpc_error(MPC_EINVAL,
		                 "%s at party %d: %zu vectors of length %zu is too large",
		                 want_max ? "max" : "min", mpc_party_id(p), m, len);
	if ((err = mpc_vec_init(&v, r, m * len)) != MPC_OK ||
	    (err = mpc_vec_init(&ix, r, m * len)) != MPC_OK)
		goto out;
	memcpy(v.v, x, m * len * eb);
	if (king)
		for (size_t i = 0; i < m; i++)
			for (size_t j = 0; j < len; j++)
				mpc_ring_set_i64(r, ix.v, i * len + j, (int64_t)j);
	while (L > 1) {
		size_t P = L / 2, L2 = (L + 1) / 2, tot = m * P;
		uint8_t *V = v.v, *I = ix.v;
		if ((err = mpc_vec_init(&nv, r, m * L2)) != MPC_OK ||
		    (err = mpc_vec_init(&ni, r, m * L2)) != MPC_OK ||
		    (err = mpc_vec_init(&lo, r, tot)) != MPC_OK ||
		    (err = mpc_vec_init(&hi, r, tot)) != MPC_OK ||
		    (err = mpc_vec_init(&b, r, tot)) != MPC_OK ||
		    (err = mpc_vec_init(&xs, r, 2 * tot)) != MPC_OK ||
		    (err = mpc_vec_init(&ys, r, 2 * tot)) != MPC_OK)
			goto out;
		uint8_t *LO = lo.v, *HI = hi.v, *YS = ys.v;
		for (size_t i = 0; i < m; i++)
			for (size_t t = 0; t < P; t++) {
				size_t k = i * P + t, a = i * L + 2 * t;
				memcpy(LO + k * eb, V + a * eb, eb);
				memcpy(HI + k * eb, V + (a + 1) * eb, eb);
				/* index difference (public 1 on the first level) */
				mpc_ring_sub(r, YS + (tot + k) * eb, I + (a + 1) * eb, I + a * eb,
				             1);
			}
		if ((err = want_max ? mpc_cmp_lt_bits(p, r, lo.v, hi.v, bits, b.v, tot)
		                    : mpc_cmp_lt_bits(p, r, hi.v, lo.v, bits, b.v, tot)) != MPC_OK)
			goto out;
		mpc_share_sub(r, ys.v, hi.v, lo.v, tot);
		memcpy(xs.v, b.v, tot * eb);
		memcpy((uint8_t *)xs.v + tot * eb, b.v, tot * eb);
		size_t nmul = (arg != NULL && !first) ? 2 * tot : tot;
		if ((err = mpc_beaver_mul(p, r, xs.v, ys.v, ys.v, nmul)) != MPC_OK)
			goto out;
		if (arg != NULL && first)
			memcpy(YS + tot * eb, b.v, tot * eb); /* b * 1 */
		uint8_t *NV = nv.v, *NI = ni.v;
		for (size_t i = 0; i < m; i++) {
			for (size_t t = 0; t < P; t++) {
				size_t k = i * P + t, a = i * L + 2 * t, o = i * L2 + t;
				mpc_ring_add(r, NV + o * eb, LO + k * eb, YS + k * eb, 1);
				mpc_ring_add(r, NI + o * eb, I + a * eb, YS + (tot + k) * eb, 1);
			}
			if (L % 2) {
				memcpy(NV + (i * L2 + P) * eb, V + (i * L + L - 1) * eb, eb);
				memcpy(NI + (i * L2 + P) * eb, I + (i * L + L - 1) * eb, eb);
			}
		}
		mpc_vec_fini(&v);
		mpc_vec_fini(&ix);
		v = nv;
		ix = ni;
		nv = ni = (mpc_vec){0};
		mpc_vec_fini(&lo);
		mpc_vec_fini(&hi);
		mpc_vec_fini(&b);
		mpc_vec_fini(&xs);
		mpc_vec_fini(&ys);
		L = L2;
		first = 0;
	}
	memcpy(best, v.v, m * eb);
	if (arg != NULL)
		memcpy(arg, ix.v, m * eb);
out:
	mpc_vec_fini(&v);
	mpc_vec_fini(&ix);
	mpc_vec_fini(&nv);
	mpc_vec_fini(&ni);
	mpc_vec_fini(&lo);
	mpc_vec_fini(&hi);
	mpc_vec_fini(&b);
	mpc_vec_fini(&xs);
	mpc_vec_fini(&ys);
	return err;
}

mpc_err mpc_cmp_max_bits(mpc_party *p, mpc_ring r, const void *x, size_t m, size_t len,
                         unsigned bits, void *max, void *argmax) {
	return tournament(p, r, x, m, len, bits, max, argmax, 1);
}

mpc_err mpc_cmp_min_bits(mpc_party *p, mpc_ring r, const void *x, size_t m, size_t len,
                         unsigned bits, void *min, void *argmin) {
	return tournament(p, r, x, m, len, bits, min, argmin, 0);
}

mpc_err mpc_cmp_max(mpc_party *p, mpc_ring r, const void *x, size_t m, size_t len, void *max,
                    void *argmax) {
	mpc_err err;
	if ((err = ring_ok(p, r, "max")) != MPC_OK)
		return err;
	return tournament(p, r, x, m, len, mpc_ring_bits(r), max, argmax, 1);
}

mpc_err mpc_cmp_min(mpc_party *p, mpc_ring r, const void *x, size_t m, size_t len, void *min,
                    void *argmin) {
	mpc_err err;
	if ((err = ring_ok(p, r, "min")) != MPC_OK)
		return err;
	return tournament(p, r, x, m, len, mpc_ring_bits(r), min, argmin, 0);
}

/* With y = x + 2^(k-1) in [0, 2^k) (any signed x) and c = y + r mod 2^k
 * opened: y = c - r + 2^k [c < r], so with c = c_hi 2^f + c_lo and
 * r = r_hi 2^f + r_lo,
 *   floor(y / 2^f) = c_hi - r_hi - [c_lo < r_lo] + 2^(k-f) [c < r]
 * exactly (c_lo - r_lo lies in (-2^f, 2^f)), and
 * floor(x / 2^f) = floor(y / 2^f) - 2^(k-1-f). */
mpc_err mpc_trunc_exact(mpc_party *p, mpc_ring r, unsigned f, const void *x, void *out, size_t n) {
	size_t eb = mpc_ring_bytes(r), W = mpc_conv_words(n);
	unsigned k = mpc_ring_bits(r);
	int king = mpc_party_id(p) == 0;
	mpc_truncpairs tp = {0};
	mpc_vec c = {0}, bits = {0};
	uint64_t *lt = NULL;
	mpc_err err;

	if ((err = ring_ok(p, r, "trunc_exact")) != MPC_OK)
		return err;
	if (f < 1 || f >= k)
		return mpc_error(MPC_EINVAL, "exact truncation at party %d: %u bits in Z_2^%u",
		                 mpc_party_id(p), f, k);
	if (n == 0)
		return MPC_OK;
	if ((err = mpc_truncpairs_get(p, r, f, n, &tp)) != MPC_OK ||
	    (err = mpc_vec_init(&c, r, n)) != MPC_OK ||
	    (err = mpc_vec_init(&bits, r, 2 * n)) != MPC_OK)
		goto out;
	if ((lt = calloc(2 * W, 8)) == NULL) {
		err = nomem("trunc_exact", __LINE__);
		goto out;
	}
	_Alignas(16) uint8_t half[16] = {0}, lowc[16] = {0};
	if (r == MPC_Z64) {
		uint64_t h = 1ull << 63, l = (uint64_t)1 << (63 - f);
		memcpy(half, &h, 8);
		memcpy(lowc, &l, 8);
	} else {
		mpc_u128 h = (mpc_u128)1 << 127, l = (mpc_u128)1 << (127 - f);
		memcpy(half, &h, 16);
		memcpy(lowc, &l, 16);
	}
	mpc_share_add(r, c.v, x, tp.r.v, n);
	if (king)
		mpc_ring_add_const(r, c.v, c.v, half, n);
	if ((err = mpc_open(p, r, c.v, c.v, n)) != MPC_OK)
		goto out;
	if ((err = mpc_conv_lt_public(p, r, c.v, tp.r.v, n, f, lt)) != MPC_OK ||
	    (err = mpc_conv_b2a_planes(p, r, lt, 2, n, bits.v)) != MPC_OK)
		goto out;
	/* out = (c >> f) - r_hi - [c_lo < r_lo] + 2^(k-f) [c < r] - 2^(k-1-f) */
	uint8_t *B = bits.v;
	_Alignas(16) uint8_t scale[16] = {0};
	if (r == MPC_Z64) {
		uint64_t s = (uint64_t)1 << (64 - f);
		memcpy(scale, &s, 8);
	} else {
		mpc_u128 s = (mpc_u128)1 << (128 - f);
		memcpy(scale, &s, 16);
	}
	mpc_ring_scale(r, B + n * eb, B + n * eb, scale, n);
	mpc_ring_shr(r, c.v, c.v, f, n);
	mpc_ring_neg(r, lowc, lowc, 1);
	mpc_ring_add_const(r, c.v, c.v, lowc, n);
	if (!king)
		memset(c.v, 0, n * eb);
	mpc_ring_sub(r, c.v, c.v, tp.r_hi.v, n);
	mpc_ring_sub(r, c.v, c.v, B, n);
	mpc_ring_add(r, out, c.v, B + n * eb, n);
out:
	planes_free(lt, 2 * W);
	mpc_truncpairs_fini(&tp);
	mpc_vec_fini(&c);
	mpc_vec_fini(&bits);
	return err;
}
