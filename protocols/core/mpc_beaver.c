/* Beaver multiplication, dot products, truncation. */
#include "protocols/core/mpc_beaver.h"

#include "runtime/mpc_wipe.h"
#include <stdlib.h>
#include <string.h>

#include "protocols/core/mpc_share.h"

void mpc_beaver_prepare(mpc_ring r, const mpc_triples *t, const void *x, const void *y, void *de,
                        size_t n) {
	size_t eb = mpc_ring_bytes(r);
	mpc_ring_sub(r, de, x, t->a.v, n);
	mpc_ring_sub(r, (uint8_t *)de + n * eb, y, t->b.v, n);
}

#define FINALIZE(T)                                                                                \
	do {                                                                                       \
		const T *a = t->a.v, *b = t->b.v, *c = t->c.v, *d = de, *e = d + n;                \
		T *zz = z;                                                                         \
		if (king)                                                                          \
			for (size_t i = 0; i < n; i++)                                             \
				zz[i] = c[i] + d[i] * b[i] + e[i] * a[i] + d[i] * e[i];            \
		else                                                                               \
			for (size_t i = 0; i < n; i++)                                             \
				zz[i] = c[i] + d[i] * b[i] + e[i] * a[i];                          \
	} while (0)

void mpc_beaver_finalize(const mpc_party *p, mpc_ring r, const mpc_triples *t, const void *de,
                         void *z, size_t n) {
	int king = mpc_party_id(p) == 0;
	if (r == MPC_Z128)
		FINALIZE(mpc_u128);
	else
		FINALIZE(uint64_t);
}

mpc_err mpc_beaver_mul_with(mpc_party *p, mpc_ring r, const mpc_triples *t, const void *x,
                            const void *y, void *z, size_t n) {
	mpc_vec de = {0};
	mpc_err err;

	if (mpc_ring_check(r) != MPC_OK || t->a.ring != r || t->a.n < n)
		return mpc_error(MPC_EINVAL,
		                 "mpc_beaver_mul: %zu triples in Z_2^%u for %zu products", t->a.n,
		                 mpc_ring_bits(t->a.ring), n);
	if (n == 0)
		return MPC_OK;
	if ((err = mpc_vec_init(&de, r, 2 * n)) != MPC_OK)
		return err;
	mpc_beaver_prepare(r, t, x, y, de.v, n);
	if ((err = mpc_open(p, r, de.v, de.v, 2 * n)) == MPC_OK)
		mpc_beaver_finalize(p, r, t, de.v, z, n);
	mpc_vec_fini(&de);
	return err;
}

mpc_err mpc_beaver_mul(mpc_party *p, mpc_ring r, const void *x, const void *y, void *z, size_t n) {
	mpc_triples t;
	mpc_err err = mpc_triples_get(p, r, n, &t);
	if (err == MPC_OK)
		err = mpc_beaver_mul_with(p, r, &t, x, y, z, n);
	mpc_triples_fini(&t);
	return err;
}

#define DOT(T)                                                                                     \
	do {                                                                                       \
		const T *a = t.a.v, *b = t.b.v, *c = t.c.v, *d = de.v, *e = d + total;             \
		T *zz = z;                                                                         \
		for (size_t i = 0; i < m; i++) {                                                   \
			T s = 0;                                                                   \
			for (size_t k = i * len; k < (i + 1) * len; k++) {                         \
				s += c[k] + d[k] * b[k] + e[k] * a[k];                             \
				if (king)                                                          \
					s += d[k] * e[k];                                          \
			}                                                                          \
			zz[i] = s;                                                                 \
		}                                                                                  \
	} while (0)

mpc_err mpc_beaver_dot(mpc_party *p, mpc_ring r, const void *x, const void *y, void *z, size_t m,
                       size_t len) {
	size_t total = m * len;
	int king = mpc_party_id(p) == 0;
	mpc_triples t = {0};
	mpc_vec de = {0};
	mpc_err err;

	if (len != 0 && total / len != m)
		return mpc_error(MPC_EINVAL, "mpc_beaver_dot: %zu x %zu elements overflow", m, len);
	if (total == 0) {
		memset(z, 0, m * mpc_ring_bytes(r));
		return MPC_OK;
	}
	if ((err = mpc_triples_get(p, r, total, &t)) != MPC_OK)
		return err;
	if ((err = mpc_vec_init(&de, r, 2 * total)) != MPC_OK)
		goto out;
	mpc_beaver_prepare(r, &t, x, y, de.v, total);
	if ((err = mpc_open(p, r, de.v, de.v, 2 * total)) != MPC_OK)
		goto out;
	if (r == MPC_Z128)
		DOT(mpc_u128);
	else
		DOT(uint64_t);
out:
	mpc_vec_fini(&de);
	mpc_triples_fini(&t);
	return err;
}

/* v += c (a public constant, reduced to the ring) at party 0 only. */
static void add_const_at_king(const mpc_party *p, mpc_ring r, void *v, mpc_u128 c, size_t n) {
	uint64_t c64 = (uint64_t)c;
	if (mpc_party_id(p) == 0)
		mpc_ring_add_const(r, v, v, r == MPC_Z128 ? (const void *)&c : (const void *)&c64,
		                   n);
}

/* The truncation itself, with the bound 2^l and pairs in tp. */
static mpc_err trunc_core(mpc_party *p, mpc_ring r, unsigned l, const mpc_truncpairs *tp,
                          const void *x, void *out, size_t n) {
	unsigned k = mpc_ring_bits(r), f = tp->f;
	mpc_vec c = {0};
	mpc_u128 big = (mpc_u128)1 << l, off = (mpc_u128)1 << (l - f);
	mpc_err err;

	if (mpc_ring_check(r) != MPC_OK || f == 0 || l < f || l + 2 > k || tp->r.ring != r ||
	    tp->r.n < n)
		return mpc_error(MPC_EINVAL,
		                 "truncation by %u bits with bound 2^%u in Z_2^%u "
		                 "(%zu pairs for %zu values)",
		                 f, l, k, tp->r.n, n);
	if (n == 0)
		return MPC_OK;
	if ((err = mpc_vec_init(&c, r, n)) != MPC_OK)
		return err;
	/* c = x + 2^l + r: the 2^l makes the value non-negative, r hides it */
	mpc_ring_add(r, c.v, x, tp->r.v, n);
	add_const_at_king(p, r, c.v, big, n);
	if ((err = mpc_open(p, r, c.v, c.v, n)) == MPC_OK) {
		/* out = (c >> f) - 2^(l-f) - r_hi; c is public, so only party 0 uses it */
		if (mpc_party_id(p) == 0)
			mpc_ring_shr(r, c.v, c.v, f, n);
		else
			memset(c.v, 0, n * mpc_ring_bytes(r));
		add_const_at_king(p, r, c.v, -off, n);
		mpc_ring_sub(r, out, c.v, tp->r_hi.v, n);
	}
	mpc_vec_fini(&c);
	return err;
}

mpc_err mpc_trunc_bound(mpc_party *p, mpc_ring r, unsigned f, unsigned l, const void *x, void *out,
                        size_t n) {
	mpc_truncpairs tp;
	mpc_err err;

	if (mpc_ring_check(r) != MPC_OK || f == 0 || l < f || l + 2 > mpc_ring_bits(r))
		return mpc_error(MPC_EINVAL, "truncation by %u bits with bound 2^%u in Z_2^%u", f,
		                 l, mpc_ring_bits(r));
	if (n == 0)
		return MPC_OK;
	if ((err = mpc_truncpairs_get(p, r, f, n, &tp)) != MPC_OK)
		return err;
	err = trunc_core(p, r, l, &tp, x, out, n);
	mpc_truncpairs_fini(&tp);
	return err;
}

mpc_err mpc_trunc(mpc_party *p, mpc_ring r, unsigned f, const void *x, void *out, size_t n) {
	return mpc_trunc_bound(p, r, f, mpc_ring_bits(r) - 41, x, out, n);
}

mpc_err mpc_trunc_with(mpc_party *p, mpc_ring r, const mpc_truncpairs *tp, const void *x, void *out,
                       size_t n) {
	return trunc_core(p, r, mpc_ring_bits(r) - 41, tp, x, out, n);
}

mpc_err mpc_fixed_mul(mpc_party *p, mpc_ring r, unsigned f, const void *x, const void *y, void *z,
                      size_t n) {
	mpc_err err = mpc_beaver_mul(p, r, x, y, z, n);
	if (err == MPC_OK)
		err = mpc_trunc(p, r, f, z, z, n);
	return err;
}

mpc_err mpc_fixed_mul_with(mpc_party *p, mpc_ring r, const mpc_triples *t, const mpc_truncpairs *tp,
                           const void *x, const void *y, void *z, size_t n) {
	mpc_err err = mpc_beaver_mul_with(p, r, t, x, y, z, n);
	if (err == MPC_OK)
		err = mpc_trunc_with(p, r, tp, z, z, n);
	return err;
}
