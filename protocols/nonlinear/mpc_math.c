/* Fixed-point reciprocal, division, square root, exp and sigmoid on shares
 * (see mpc_math.h for the methods, domains, bounds and costs): the shared
 * engine. exp and sigmoid are in mpc_math_exp.c, reciprocal, division and
 * square root in mpc_math_div.c; what they share is declared in
 * mpc_math_internal.h.
 *
 * Every function starts with one bit decomposition of its (128-bit) input
 * (mpc_conv_a2b), runs a small boolean circuit on the bit planes (prefix ORs,
 * one-hot decoders: bit triples, one round per AND layer, all elements at
 * once), brings the few planes it needs back to arithmetic shares with one
 * mpc_conv_b2a_planes, and finishes in Z_2^128 with public constants
 * selected by those one-hot vectors (local), Beaver products and mpc_trunc.
 *
 * Public constants are computed at run time with +, -, *, / and sqrt only
 * (correctly rounded in IEEE arithmetic), never libm's exp: every party must
 * derive bit-identical constants, whatever its C library. */
#include "protocols/nonlinear/mpc_math.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/core/mpc_beaver.h"
#include "protocols/core/mpc_preproc.h"
#include "protocols/core/mpc_share.h"
#include "protocols/nonlinear/mpc_bool.h"
#include "protocols/nonlinear/mpc_conv.h"
#include "protocols/nonlinear/mpc_math_internal.h"
#include "runtime/mpc_wipe.h"

/* ------------------------------------------------------------------ */
/* Boolean circuits on bit planes                                      */

mpc_err mpc_math_flush(bc *b) {
	if (b->err != MPC_OK || b->ng == 0) {
		b->ng = 0;
		return b->err;
	}
	if (!b->counting) {
		b->err = mpc_bool_and_layer(b->p, &b->t, b->off, b->g, b->ng, b->W);
		b->off += b->ng * b->W;
	}
	b->n_and += b->ng;
	b->ng = 0;
	return b->err;
}

void mpc_math_ort_init(bc *b, ortree *t, uint64_t *const *pl, size_t m) {
	t->m = m;
	for (size_t i = 0; i < m; i++)
		t->v[i] = pl[i];
	if (m == 0) {
		t->v[0] = P(b); /* zero */
		t->m = 1;
	}
}

int mpc_math_ort_queue(bc *b, ortree *t) {
	size_t k = 0;
	if (t->m <= 1)
		return 0;
	for (size_t i = 0; i + 1 < t->m; i += 2) {
		uint64_t *z = P(b);
		bor(b, z, t->v[i], t->v[i + 1]);
		t->v[k++] = z;
	}
	if (t->m % 2)
		t->v[k++] = t->v[t->m - 1];
	t->m = k;
	return 1;
}

void mpc_math_dec_init(dec *d, const uint64_t *const *bits, int m, unsigned vmin, unsigned vmax) {
	d->bits = bits;
	d->j = m - 1;
	d->vmin = vmin;
	d->vmax = vmax;
	d->ne = 1;
	d->v[0] = 0;
	d->pl[0] = NULL;
}

int mpc_math_dec_queue(bc *b, dec *d) {
	if (d->j < 0)
		return 0;
	for (size_t i = 0; i < d->ne; i++)
		if (d->pl[i]) {
			d->tmp[i] = P(b);
			band(b, d->tmp[i], d->pl[i], d->bits[d->j]);
		}
	return 1;
}

static int dec_wanted(const dec *d, unsigned v, int j) {
	unsigned lo = v << j, hi = ((v + 1) << j) - 1;
	return lo <= d->vmax && hi >= d->vmin;
}

void mpc_math_dec_post(bc *b, dec *d) {
	unsigned nv[DMAX];
	const uint64_t *npl[DMAX];
	size_t k = 0;
	int j = d->j;
	for (size_t i = 0; i < d->ne; i++) {
		const uint64_t *one;
		uint64_t *zero = P(b);
		if (d->pl[i] == NULL) {
			one = d->bits[j];
			bnot(b, zero, one);
		} else {
			one = d->tmp[i];
			bxor(b, zero, d->pl[i], one);
		}
		if (dec_wanted(d, 2 * d->v[i], j)) {
			nv[k] = 2 * d->v[i];
			npl[k++] = zero;
		}
		if (dec_wanted(d, 2 * d->v[i] + 1, j)) {
			nv[k] = 2 * d->v[i] + 1;
			npl[k++] = one;
		}
		if (k > DMAX - 2)
			abort(); /* our bug */
	}
	memcpy(d->v, nv, k * sizeof(nv[0]));
	memcpy(d->pl, npl, k * sizeof(npl[0]));
	d->ne = k;
	d->j--;
}

int mpc_math_ks_queue(bc *b, ks *s) {
	uint64_t *q[KB];
	if (s->d >= s->M)
		return 0;
	for (size_t i = 0; i < s->M; i++) {
		if (i + s->d < s->M) {
			q[i] = P(b);
			bor(b, q[i], s->p[i], s->p[i + s->d]);
		} else {
			q[i] = s->p[i];
		}
	}
	memcpy(s->p, q, s->M * sizeof(q[0]));
	s->d *= 2;
	return 1;
}

static void bc_release(bc *b) {
	if (b->mem) {
		mpc_wipe(b->mem, b->used * b->W * 8);
		free(b->mem);
	}
	b->mem = NULL;
}

static mpc_err bc_setup(bc *b, mpc_party *p, size_t n, size_t W, int counting) {
	memset(b, 0, offsetof(bc, g));
	b->ng = 0;
	b->p = p;
	b->king = mpc_party_id(p) == 0;
	b->W = W;
	b->tail = counting || n % 64 == 0 ? ~0ull : (1ull << (n % 64)) - 1;
	b->counting = counting;
	b->cap = CIRC_PLANES;
	b->used = 0;
	b->err = MPC_OK;
	if ((b->mem = calloc(CIRC_PLANES * W, 8)) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory for %zu words of bit planes (%s:%d)",
		                 (size_t)CIRC_PLANES * W, __FILE__, __LINE__);
	return MPC_OK;
}

static mpc_err run_circ(mpc_party *p, size_t n, circ_fn fn, const void *arg, const uint64_t *xb,
                        uint64_t *outp) {
	static const uint64_t zeros[KB];
	bc *b = malloc(sizeof(*b));
	size_t n_and;
	mpc_err err;

	if (b == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory (%s:%d)", __FILE__, __LINE__);
	if ((err = bc_setup(b, p, n, 1, 1)) == MPC_OK)
		err = fn(b, zeros, arg, NULL);
	if (err == MPC_OK)
		err = b->err;
	n_and = b->n_and;
	bc_release(b);
	if (err != MPC_OK)
		goto out;
	if ((err = bc_setup(b, p, n, mpc_conv_words(n), 0)) != MPC_OK)
		goto out;
	if (n_and > 0 && (err = mpc_bit_triples_get(p, n_and * b->W, &b->t)) != MPC_OK) {
		bc_release(b);
		goto out;
	}
	err = fn(b, xb, arg, outp);
	if (err == MPC_OK && (err = b->err) == MPC_OK && b->n_and != n_and)
		err = mpc_error(MPC_EINVAL,
		                "internal: circuit used %zu AND planes, counted %zu (%s:%d)",
		                b->n_and, n_and, __FILE__, __LINE__);
	bc_release(b);
	if (n_and > 0)
		mpc_bit_triples_fini(&b->t);
out:
	mpc_wipe(b, sizeof(*b));
	free(b);
	return err;
}

/* ------------------------------------------------------------------ */
/* Parameters                                                          */

#define F_MIN 8
#define F_MAX 20

mpc_err mpc_math_check(mpc_party *p, mpc_ring r, unsigned f, const void *x, const void *out,
                       size_t n, const char *what) {
	if (r != MPC_Z128)
		return mpc_error(
		    MPC_EINVAL,
		    "mpc_math_%s at party %d: fixed-point functions need Z_2^128 (in Z_2^%u "
		    "the products of two fixed-point values overflow mpc_trunc's range)",
		    what, mpc_party_id(p), mpc_ring_bits(r));
	if (f < F_MIN || f > F_MAX)
		return mpc_error(MPC_EINVAL,
		                 "mpc_math_%s at party %d: %u fractional bits (supported: %d..%d)",
		                 what, mpc_party_id(p), f, F_MIN, F_MAX);
	if (n > 0 && (x == NULL || out == NULL))
		return mpc_error(MPC_EINVAL, "mpc_math_%s at party %d: NULL vector", what,
		                 mpc_party_id(p));
	return MPC_OK;
}

/* ------------------------------------------------------------------ */
/* Arithmetic helpers                                                  */

/* z = trunc(x * y, sh) (sh = 0: exact product). */
mpc_err mpc_math_bmul(mpc_party *p, const u128 *x, const u128 *y, u128 *z, size_t n, unsigned sh) {
	mpc_err err = mpc_beaver_mul(p, RING, x, y, z, n);
	if (err == MPC_OK && sh > 0)
		err = mpc_trunc(p, RING, sh, z, z, n);
	return err;
}

/* acc <- ((c3 t + c2) t + c1) t + c0 with exact products (three triples of
 * t, from slot k0 on). c[] holds n elements each; acc gets the result. */
mpc_err mpc_math_horner3(mpc_party *p, const mpc_triples *t, size_t k0, u128 *const c[4],
                         const u128 *tt, u128 *acc, size_t n) {
	mpc_err err = MPC_OK;
	memcpy(acc, c[3], n * 16);
	for (int k = 2; k >= 0 && err == MPC_OK; k--) {
		mpc_triples s = slice(t, k0 + (size_t)(2 - k), n);
		if ((err = mpc_beaver_mul_with(p, RING, &s, acc, tt, acc, n)) == MPC_OK)
			for (size_t i = 0; i < n; i++)
				acc[i] += c[k][i];
	}
	return err;
}

mpc_err mpc_math_scratch_init(scratch *s, size_t cnt, size_t n) {
	s->n = n;
	s->cnt = cnt;
	if ((s->v = calloc(cnt * n > 0 ? cnt * n : 1, 16)) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory for %zu shares (%s:%d)", cnt * n,
		                 __FILE__, __LINE__);
	return MPC_OK;
}

void mpc_math_scratch_fini(scratch *s) {
	if (s->v) {
		mpc_wipe(s->v, s->cnt * s->n * 16);
		free(s->v);
	}
	s->v = NULL;
}

/* Bit-decompose x (all 128 bits), run circuit fn, and bring its `planes`
 * output planes back to arithmetic shares in A (planes * n elements). */
mpc_err mpc_math_bits_circ_b2a(mpc_party *p, const u128 *x, size_t n, circ_fn fn, const void *arg,
                               size_t planes, u128 *A) {
	size_t W = mpc_conv_words(n);
	uint64_t *xb = calloc(KB * W, 8), *bo = calloc(planes * W > 0 ? planes * W : 1, 8);
	mpc_err err;
	if (xb == NULL || bo == NULL) {
		err = mpc_error(MPC_ENOMEM, "out of memory for bit planes (%s:%d)", __FILE__,
		                __LINE__);
		goto out;
	}
	if ((err = mpc_conv_a2b(p, RING, x, n, KB, xb)) != MPC_OK ||
	    (err = run_circ(p, n, fn, arg, xb, bo)) != MPC_OK)
		goto out;
	err = mpc_conv_b2a_planes(p, RING, bo, planes, n, A);
out:
	mpc_wipe_free(xb, KB * W * 8);
	mpc_wipe_free(bo, planes * W * 8);
	return err;
}

mpc_err mpc_math_chunked(mpc_party *p, unsigned f, core_fn fn, const void *x, void *out, size_t n) {
	mpc_err err = MPC_OK;
	for (size_t off = 0; off < n && err == MPC_OK; off += CHUNK) {
		size_t m = n - off < CHUNK ? n - off : CHUNK;
		err = fn(p, f, (const u128 *)x + off, (u128 *)out + off, m);
	}
	return err;
}
