/* Triples, random bits, truncation pairs and bit triples from cross
 * products (see mpc_gen.h). */
#include "protocols/preproc/mpc_gen.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "protocols/core/mpc_party.h"
#include "runtime/mpc_log.h"
#include "runtime/mpc_wipe.h"

typedef struct {
	mpc_cross eng;
	mpc_gen_stats st;
} gen_ctx;

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t all_mask(int n) {
	return n >= 64 ? ~0ull : (1ull << n) - 1;
}

/* Elements per call: bounds the memory of the temporaries. */
#define GEN_CHUNK ((size_t)1 << 16)

static mpc_err gen_triples(void *vctx, mpc_party *p, mpc_ring r, size_t n, void *a, void *b,
                           void *c) {
	gen_ctx *g = vctx;
	size_t eb = mpc_ring_bytes(r);
	uint64_t all = all_mask(mpc_party_size(p));
	double t0 = now();
	mpc_err err = MPC_OK;

	for (size_t off = 0; off < n && err == MPC_OK; off += GEN_CHUNK) {
		size_t m = n - off < GEN_CHUNK ? n - off : GEN_CHUNK;
		uint8_t *pa = (uint8_t *)a + off * eb, *pb = (uint8_t *)b + off * eb;
		uint8_t *pc = (uint8_t *)c + off * eb;
		if ((err = mpc_party_prg_own(p, pa, m * eb)) != MPC_OK ||
		    (err = mpc_party_prg_own(p, pb, m * eb)) != MPC_OK)
			break;
		err =
		    g->eng.ops->cross(g->eng.ctx, p, r, mpc_ring_bits(r), m, pa, pb, pc, all, all);
		if (err != MPC_OK)
			break;
		/* c = a b + cross terms; mpc_ring_mul writes out = a*b, so add */
		mpc_vec t;
		if ((err = mpc_vec_init(&t, r, m)) != MPC_OK)
			break;
		mpc_ring_mul(r, t.v, pa, pb, m);
		mpc_ring_add(r, pc, pc, t.v, m);
		mpc_vec_fini(&t);
	}
	g->st.triples += err == MPC_OK ? n : 0;
	g->st.seconds += now() - t0;
	return err;
}

/* Random shared bits into out (n elements of r). */
static mpc_err make_bits(gen_ctx *g, mpc_party *p, mpc_ring r, size_t n, void *out) {
	int me = mpc_party_id(p), np = mpc_party_size(p);
	size_t eb = mpc_ring_bytes(r);
	mpc_vec x = {0}, prod = {0}, tmp = {0};
	uint8_t *raw = NULL;
	mpc_err err;

	memset(out, 0, n * eb);
	if (n == 0)
		return MPC_OK;
	if ((err = mpc_vec_init(&x, r, n)) != MPC_OK ||
	    (err = mpc_vec_init(&prod, r, n)) != MPC_OK ||
	    (err = mpc_vec_init(&tmp, r, n)) != MPC_OK)
		goto out;
	if ((raw = malloc(n)) == NULL) {
		err = mpc_error(MPC_ENOMEM, "out of memory for %zu random bits", n);
		goto out;
	}
	/* this party's bit x_i, as a ring element */
	if ((err = mpc_party_prg_own(p, raw, n)) != MPC_OK)
		goto out;
	for (size_t e = 0; e < n; e++)
		mpc_ring_set_i64(r, x.v, e, raw[e] & 1);
	if (me == 0)
		memcpy(out, x.v, n * eb);
	for (int j = 1; j < np; j++) {
		/* prod = y * x_j: cross terms with every holder of y (parties
		 * 0..j-1 hold it so far), plus party j's own y_j x_j (zero: y_j
		 * is still 0 at party j) */
		uint64_t senders = all_mask(j), recv = 1ull << j;
		err = g->eng.ops->cross(g->eng.ctx, p, r, 1, n, me == j ? x.v : NULL,
		                        me < j ? out : NULL, prod.v, recv, senders);
		if (err != MPC_OK)
			goto out;
		/* y <- y + x_j - 2 prod */
		mpc_ring_add(r, tmp.v, prod.v, prod.v, n);
		mpc_ring_sub(r, out, out, tmp.v, n);
		if (me == j)
			mpc_ring_add(r, out, out, x.v, n);
	}
out:
	if (raw) {
		mpc_wipe(raw, n);
		free(raw);
	}
	mpc_vec_fini(&x);
	mpc_vec_fini(&prod);
	mpc_vec_fini(&tmp);
	return err;
}

static mpc_err gen_bits(void *vctx, mpc_party *p, mpc_ring r, size_t n, void *out) {
	gen_ctx *g = vctx;
	size_t eb = mpc_ring_bytes(r);
	double t0 = now();
	mpc_err err = MPC_OK;

	for (size_t off = 0; off < n && err == MPC_OK; off += GEN_CHUNK) {
		size_t m = n - off < GEN_CHUNK ? n - off : GEN_CHUNK;
		err = make_bits(g, p, r, m, (uint8_t *)out + off * eb);
	}
	g->st.bits += err == MPC_OK ? n : 0;
	g->st.seconds += now() - t0;
	return err;
}

#define COMPOSE(T)                                                                                 \
	do {                                                                                       \
		const T *bb = bits.v;                                                              \
		T *rr_ = (T *)rr + off, *rh_ = (T *)r_hi + off;                                    \
		for (size_t e = 0; e < m; e++) {                                                   \
			T s = 0, h = 0;                                                            \
			for (unsigned l = 0; l < k; l++) {                                         \
				T bl = bb[e * k + l];                                              \
				s += bl << l;                                                      \
				if (l >= f)                                                        \
					h += bl << (l - f);                                        \
			}                                                                          \
			rr_[e] = s;                                                                \
			rh_[e] = h;                                                                \
		}                                                                                  \
	} while (0)

static mpc_err gen_trunc(void *vctx, mpc_party *p, mpc_ring r, unsigned f, size_t n, void *rr,
                         void *r_hi) {
	gen_ctx *g = vctx;
	unsigned k = mpc_ring_bits(r);
	size_t per = GEN_CHUNK / k;
	double t0 = now();
	mpc_err err = MPC_OK;

	for (size_t off = 0; off < n && err == MPC_OK; off += per) {
		size_t m = n - off < per ? n - off : per;
		mpc_vec bits;
		if ((err = mpc_vec_init(&bits, r, m * k)) != MPC_OK)
			break;
		if ((err = make_bits(g, p, r, m * k, bits.v)) == MPC_OK) {
			if (r == MPC_Z128)
				COMPOSE(mpc_u128);
			else
				COMPOSE(uint64_t);
		}
		mpc_vec_fini(&bits);
	}
	g->st.trunc_pairs += err == MPC_OK ? n : 0;
	g->st.seconds += now() - t0;
	return err;
}
#undef COMPOSE

static mpc_err gen_bit_triples(void *vctx, mpc_party *p, size_t n_words, uint64_t *a, uint64_t *b,
                               uint64_t *c) {
	gen_ctx *g = vctx;
	uint64_t all = all_mask(mpc_party_size(p));
	double t0 = now();
	mpc_err err;

	if ((err = mpc_party_prg_own(p, a, n_words * 8)) != MPC_OK ||
	    (err = mpc_party_prg_own(p, b, n_words * 8)) != MPC_OK)
		return err;
	if (g->eng.ops->cross_bits) {
		err = g->eng.ops->cross_bits(g->eng.ctx, p, n_words, a, b, c, all, all);
	} else {
		/* one Z_2^64 product per bit; the low bit of additive shares is an
		 * XOR share */
		mpc_vec xa = {0}, yb = {0}, o = {0};
		size_t nb = n_words * 64;
		if ((err = mpc_vec_init(&xa, MPC_Z64, nb)) == MPC_OK &&
		    (err = mpc_vec_init(&yb, MPC_Z64, nb)) == MPC_OK &&
		    (err = mpc_vec_init(&o, MPC_Z64, nb)) == MPC_OK) {
			uint64_t *xv = xa.v, *yv = yb.v, *ov = o.v;
			for (size_t i = 0; i < nb; i++) {
				xv[i] = a[i / 64] >> (i % 64) & 1;
				yv[i] = b[i / 64] >> (i % 64) & 1;
			}
			err =
			    g->eng.ops->cross(g->eng.ctx, p, MPC_Z64, 1, nb, xv, yv, ov, all, all);
			if (err == MPC_OK) {
				memset(c, 0, n_words * 8);
				for (size_t i = 0; i < nb; i++)
					c[i / 64] |= (ov[i] & 1) << (i % 64);
			}
		}
		mpc_vec_fini(&xa);
		mpc_vec_fini(&yb);
		mpc_vec_fini(&o);
	}
	if (err != MPC_OK)
		return err;
	for (size_t w = 0; w < n_words; w++)
		c[w] ^= a[w] & b[w];
	g->st.bit_triple_words += n_words;
	g->st.seconds += now() - t0;
	return MPC_OK;
}

static void gen_free(void *vctx) {
	gen_ctx *g = vctx;
	if (g == NULL)
		return;
	mpc_cross_free(&g->eng);
	free(g);
}

static const mpc_preproc_ops gen_ops_ot = {
    .name = "ot",
    .triples = gen_triples,
    .trunc_pairs = gen_trunc,
    .bits = gen_bits,
    .bit_triples = gen_bit_triples,
    .free = gen_free,
};
static const mpc_preproc_ops gen_ops_paillier = {
    .name = "paillier",
    .triples = gen_triples,
    .trunc_pairs = gen_trunc,
    .bits = gen_bits,
    .bit_triples = gen_bit_triples,
    .free = gen_free,
};

mpc_err mpc_gen_backend(mpc_preproc *out, mpc_cross engine) {
	gen_ctx *g = calloc(1, sizeof(*g));
	*out = (mpc_preproc){0};
	if (g == NULL) {
		mpc_cross_free(&engine);
		return mpc_error(MPC_ENOMEM, "out of memory");
	}
	g->eng = engine;
	out->ops = strcmp(engine.ops->name, "paillier") == 0 ? &gen_ops_paillier : &gen_ops_ot;
	out->ctx = g;
	return MPC_OK;
}

const mpc_gen_stats *mpc_gen_get_stats(const mpc_preproc *pre) {
	if (pre == NULL || (pre->ops != &gen_ops_ot && pre->ops != &gen_ops_paillier))
		return NULL;
	return &((const gen_ctx *)pre->ctx)->st;
}

double mpc_gen_bytes_per(const mpc_preproc *pre, int np, int kind, mpc_ring r) {
	if (mpc_gen_get_stats(pre) == NULL)
		return 0;
	const mpc_cross *e = &((const gen_ctx *)pre->ctx)->eng;
	if (e->ops->bytes_per_elem == NULL)
		return 0;
	unsigned k = mpc_ring_bits(r);
	/* a bit: N-1 steps, step j with j senders: half the all-pairs cost */
	double bit = e->ops->bytes_per_elem(e->ctx, np, r, 1) / 2;
	switch (kind) {
	case 1:
		return e->ops->bytes_per_elem(e->ctx, np, r, k);
	case 2:
		return bit * k;
	case 3:
		return bit;
	case 4: /* per peer: 64 OTs of 16 bytes, and 64 tau bits; or 64 single products */
		return e->ops->cross_bits ? (np - 1) * (64 * 16 + 8.0)
		                          : 64 * e->ops->bytes_per_elem(e->ctx, np, MPC_Z64, 1);
	}
	return 0;
}

mpc_err mpc_gen_new(mpc_preproc *out, mpc_party *p, const char *engine, unsigned modulus_bits) {
	mpc_cross eng;
	mpc_err err;

	*out = (mpc_preproc){0};
	if (strcmp(engine, "ot") == 0)
		err = mpc_cross_ot_new(&eng, p);
	else if (strcmp(engine, "paillier") == 0)
		err = mpc_cross_paillier_new(&eng, p, modulus_bits ? modulus_bits : 2048);
	else
		return mpc_error(MPC_EINVAL, "unknown preprocessing engine '%s' (ot, paillier)",
		                 engine);
	if (err != MPC_OK)
		return err;
	mpc_info("preprocessing by %s among the parties: no dealer, secure against up to %d "
	         "semi-honest parties",
	         engine, mpc_party_size(p) - 1);
	return mpc_gen_backend(out, eng);
}

mpc_err mpc_gen_install(mpc_party *p, const char *engine, unsigned modulus_bits) {
	mpc_preproc pre;
	mpc_err err;

	if ((err = mpc_gen_new(&pre, p, engine, modulus_bits)) != MPC_OK)
		return err;
	mpc_party_set_preproc(p, pre);
	return MPC_OK;
}
