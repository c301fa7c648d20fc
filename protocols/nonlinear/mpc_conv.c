/* Arithmetic <-> boolean conversions (see mpc_conv.h).
 *
 * The circuits work on bit planes of W words and run their ANDs layer by
 * layer: every AND of a layer (over all planes and all elements) goes into
 * one mpc_bool_and_layer round. Each circuit is written once, as a function
 * over an engine, and run twice: first with counting set and W = 1 (no
 * network, no PRG, no inputs read, no outputs written) to count the AND
 * planes, then for real after one mpc_bit_triples_get for all of them. */
#include "protocols/nonlinear/mpc_conv.h"

#include <stdlib.h>
#include <string.h>

#include "protocols/core/mpc_preproc.h"
#include "protocols/core/mpc_share.h"
#include "protocols/nonlinear/mpc_bool.h"
#include "runtime/mpc_wipe.h"

typedef struct {
	mpc_party *p; /* NULL when only counting for mpc_conv_and_count */
	int me, np;
	size_t W;
	int counting;
	size_t n_and; /* AND planes flushed so far */
	mpc_bit_triples t;
	size_t off; /* words of t used */
	mpc_bool_gate *g;
	size_t ng, cap;
	/* every block allocated, wiped and freed by eng_release */
	struct blk {
		uint64_t *v;
		size_t words;
	} * blk;
	size_t nblk, capblk;
	mpc_err err;
} eng;

/* A zeroed block of `planes` planes (NULL with e->err set on failure). */
static uint64_t *eng_alloc(eng *e, size_t planes) {
	size_t words = planes * e->W;
	if (e->err != MPC_OK)
		return NULL;
	if (e->nblk == e->capblk) {
		size_t cap = e->capblk ? 2 * e->capblk : 16;
		struct blk *nb = realloc(e->blk, cap * sizeof(*nb));
		if (nb == NULL) {
			e->err = mpc_error(MPC_ENOMEM, "out of memory (%s:%d)", __FILE__, __LINE__);
			return NULL;
		}
		e->blk = nb;
		e->capblk = cap;
	}
	uint64_t *v = calloc(words ? words : 1, 8);
	if (v == NULL) {
		e->err = mpc_error(MPC_ENOMEM, "out of memory for %zu words of bit planes (%s:%d)",
		                   words, __FILE__, __LINE__);
		return NULL;
	}
	e->blk[e->nblk++] = (struct blk){v, words};
	return v;
}

static void eng_release(eng *e) {
	for (size_t i = 0; i < e->nblk; i++) {
		mpc_wipe(e->blk[i].v, e->blk[i].words * 8);
		free(e->blk[i].v);
	}
	free(e->blk);
	e->blk = NULL;
	e->nblk = e->capblk = 0;
	free(e->g);
	e->g = NULL;
	e->ng = e->cap = 0;
}

/* Queue z = x & y (or z ^= x & y) for the current layer. */
static void gate(eng *e, const uint64_t *x, const uint64_t *y, uint64_t *z, int acc) {
	if (e->err != MPC_OK)
		return;
	if (mpc_bool_gates_push(&e->g, &e->ng, &e->cap, (mpc_bool_gate){x, y, z, acc}) != MPC_OK)
		e->err = mpc_error(MPC_ENOMEM, "out of memory (%s:%d)", __FILE__, __LINE__);
}

/* Run the queued layer (one round). */
static mpc_err flush(eng *e) {
	if (e->err != MPC_OK || e->ng == 0)
		return e->err;
	e->err =
	    mpc_bool_gates_flush(e->p, &e->t, &e->off, e->g, &e->ng, e->W, e->counting, &e->n_and);
	return e->err;
}

/* Share the bit planes `in` of party `owner` (NULL elsewhere) into out. */
static mpc_err eng_input(eng *e, int owner, const uint64_t *in, uint64_t *out, size_t words) {
	if (e->err == MPC_OK && !e->counting)
		e->err = mpc_bool_input(e->p, owner, in, out, words);
	return e->err;
}

typedef mpc_err (*circuit)(eng *e, void *arg);

/* Count the circuit's AND planes, fetch their bit triples, run it. */
static mpc_err run_circuit(mpc_party *p, size_t W, circuit fn, void *arg) {
	eng e = {.p = p, .me = mpc_party_id(p), .np = mpc_party_size(p), .W = 1, .counting = 1};
	mpc_err err = fn(&e, arg);
	size_t n_and = e.n_and;
	eng_release(&e);
	if (err != MPC_OK)
		return err;
	e = (eng){.p = p, .me = mpc_party_id(p), .np = mpc_party_size(p), .W = W};
	if (n_and > 0 && (err = mpc_bit_triples_get(p, n_and * W, &e.t)) != MPC_OK)
		return err;
	err = fn(&e, arg);
	if (err == MPC_OK && e.n_and != n_and)
		err = mpc_error(MPC_EINVAL,
		                "internal: circuit used %zu AND planes, counted %zu (%s:%d)",
		                e.n_and, n_and, __FILE__, __LINE__);
	eng_release(&e);
	mpc_bit_triples_fini(&e.t);
	return err;
}

/* 64x64 bit transpose in place: bit j of a[i] becomes bit i of a[j]. */
static void transpose64(uint64_t a[64]) {
	uint64_t m = 0x00000000FFFFFFFFull;
	for (unsigned j = 32; j != 0; j >>= 1, m ^= m << j)
		for (unsigned k = 0; k < 64; k = ((k | j) + 1) & ~j) {
			uint64_t t = ((a[k] >> j) ^ a[k | j]) & m;
			a[k] ^= t << j;
			a[k | j] ^= t;
		}
}

/* planes (bits * W words) = bits 0..bits-1 of the n elements of x, sliced;
 * bits of the last word beyond n are zero. */
static void to_planes(mpc_ring r, const void *x, size_t n, unsigned bits, uint64_t *planes,
                      size_t W) {
	uint64_t a[64];
	for (size_t w = 0; w < W; w++) {
		size_t base = w * 64, cnt = n - base < 64 ? n - base : 64;
		for (unsigned half = 0; half * 64 < bits; half++) {
			for (size_t i = 0; i < 64; i++) {
				if (i >= cnt)
					a[i] = 0;
				else if (r == MPC_Z64)
					a[i] = ((const uint64_t *)x)[base + i];
				else
					a[i] = (uint64_t)(((const mpc_u128 *)x)[base + i] >>
					                  (64 * half));
			}
			transpose64(a);
			for (unsigned l = 0; l < 64 && half * 64 + l < bits; l++)
				planes[(size_t)(half * 64 + l) * W + w] = a[l];
		}
	}
	mpc_wipe(a, sizeof(a));
}

/* Zero the bits beyond n in the last word of each of `planes` planes. */
static void mask_tail(uint64_t *b, size_t planes, size_t n, size_t W) {
	if (n % 64 == 0)
		return;
	uint64_t keep = (1ull << (n % 64)) - 1;
	for (size_t l = 0; l < planes; l++)
		b[l * W + W - 1] &= keep;
}

static void xor_into(uint64_t *z, const uint64_t *x, size_t words) {
	for (size_t w = 0; w < words; w++)
		z[w] ^= x[w];
}

/* Every party's share of x as one of N XOR-shared B-bit numbers: num[j]
 * (B planes) is party j's share. */
static mpc_err share_numbers(eng *e, mpc_ring r, const void *x, size_t n, unsigned B,
                             uint64_t **num) {
	size_t W = e->W;
	uint64_t *mine = eng_alloc(e, B);
	for (int j = 0; j < e->np; j++)
		num[j] = eng_alloc(e, B);
	if (e->err != MPC_OK)
		return e->err;
	if (!e->counting)
		to_planes(r, x, n, B, mine, W);
	for (int j = 0; j < e->np; j++)
		if (eng_input(e, j, j == e->me ? mine : NULL, num[j], (size_t)B * W) != MPC_OK)
			return e->err;
	return MPC_OK;
}

/* Carry-save (3 -> 2) layers until two B-bit numbers remain (mod 2^B):
 * s = a ^ b ^ c, carry = ((a ^ c) & (b ^ c)) ^ c shifted up one; B - 1 AND
 * planes per compressor, one round per layer. num is rewritten in place. */
static mpc_err csa(eng *e, uint64_t **num, size_t *cnt, unsigned B) {
	size_t W = e->W;
	uint64_t *tmp = eng_alloc(e, (*cnt / 3) * B);
	if (e->err != MPC_OK)
		return e->err;
	while (*cnt > 2) {
		size_t groups = *cnt / 3, out = 0;
		for (size_t q = 0; q < groups; q++) {
			uint64_t *a = num[3 * q], *b = num[3 * q + 1], *c = num[3 * q + 2];
			uint64_t *t1 = tmp + q * B * W;
			for (size_t i = 0; i < (size_t)(B - 1) * W; i++)
				t1[i] = a[i] ^ c[i];
			for (size_t i = 0; i < (size_t)B * W; i++) {
				c[i] ^= b[i]; /* t2 = b ^ c */
				a[i] ^= c[i]; /* s */
			}
			/* b becomes the carry base: b_l = c_(l-1) = t2_(l-1) ^ b_(l-1) */
			for (unsigned l = B - 1; l >= 1; l--)
				for (size_t w = 0; w < W; w++)
					b[l * W + w] = c[(l - 1) * W + w] ^ b[(l - 1) * W + w];
			memset(b, 0, W * 8);
			for (unsigned l = 0; l + 1 < B; l++)
				gate(e, t1 + l * W, c + l * W, b + (l + 1) * W, 1);
			num[out++] = a;
			num[out++] = b;
		}
		for (size_t i = 3 * groups; i < *cnt; i++)
			num[out++] = num[i];
		*cnt = out;
		if (flush(e) != MPC_OK)
			return e->err;
	}
	return MPC_OK;
}

/* sum (B planes) = a + b mod 2^B with a Sklansky prefix adder: g = a & b,
 * p = a ^ b, then ceil(log2(B-1)) layers of (G, P) combinations, XOR for OR
 * since G and P & G' are exclusive. Each position i with bit d set takes
 * the prefix of the top of the lower half of its 2^(d+1) block. */
static mpc_err sklansky(eng *e, const uint64_t *a, const uint64_t *b, unsigned B, uint64_t *sum) {
	size_t W = e->W, m = B - 1;
	uint64_t *P = eng_alloc(e, B), *G = eng_alloc(e, m ? m : 1);
	if (e->err != MPC_OK)
		return e->err;
	for (size_t i = 0; i < (size_t)B * W; i++) {
		P[i] = a[i] ^ b[i];
		sum[i] = P[i];
	}
	for (size_t l = 0; l < m; l++)
		gate(e, a + l * W, b + l * W, G + l * W, 0);
	if (flush(e) != MPC_OK)
		return e->err;
	for (size_t s = 1; s < m; s <<= 1) {
		for (size_t i = 0; i < m; i++) {
			if (!(i & s))
				continue;
			size_t j = (i & ~(2 * s - 1)) + s - 1;
			gate(e, P + i * W, G + j * W, G + i * W, 1);
			if (i >= 2 * s)
				gate(e, P + i * W, P + j * W, P + i * W, 0);
		}
		if (flush(e) != MPC_OK)
			return e->err;
	}
	for (size_t l = 1; l < B; l++)
		xor_into(sum + l * W, G + (l - 1) * W, W);
	return MPC_OK;
}

/* Segments of (G, P) nodes (lowest position first) reduced to one node each
 * by a balanced tree, all segments in the same layers: G = G_hi ^ P_hi &
 * G_lo, P = P_hi & P_lo. G NULL: P only (an AND tree). The lowest node's P
 * is computed only if need_p (nothing below it to carry in). Node arrays
 * are rewritten; the result is node 0. */
typedef struct {
	uint64_t **G, **P;
	size_t n;
	int need_p;
} seg;

static mpc_err tree(eng *e, seg *sg, size_t ns) {
	for (;;) {
		int any = 0;
		for (size_t k = 0; k < ns; k++) {
			seg *s = &sg[k];
			size_t n = s->n;
			if (n <= 1)
				continue;
			any = 1;
			for (size_t t = 0; t < n / 2; t++) {
				size_t lo = 2 * t, hi = 2 * t + 1;
				if (s->G)
					gate(e, s->P[hi], s->G[lo], s->G[hi], 1);
				if (!s->G || s->need_p || t > 0)
					gate(e, s->P[hi], s->P[lo], s->P[hi], 0);
				if (s->G)
					s->G[t] = s->G[hi];
				s->P[t] = s->P[hi];
			}
			if (n % 2) {
				if (s->G)
					s->G[n / 2] = s->G[n - 1];
				s->P[n / 2] = s->P[n - 1];
			}
			s->n = (n + 1) / 2;
		}
		if (!any)
			return e->err;
		if (flush(e) != MPC_OK)
			return e->err;
	}
}

static mpc_err check_args(mpc_party *p, mpc_ring r, const char *what) {
	if (mpc_ring_check(r) != MPC_OK)
		return mpc_error(MPC_EINVAL, "%s at party %d: bad ring %d", what, mpc_party_id(p),
		                 (int)r);
	return MPC_OK;
}

/* ---- a2b ---- */

/* The arguments of a2b, msb (and msb_bits) and is_zero: bits is the width
 * of the numbers added (k for msb and is_zero). */
typedef struct {
	mpc_ring r;
	const void *x;
	size_t n;
	unsigned bits;
	uint64_t *out;
} bits_arg;

/* The parties' shares of A->x mod 2^A->bits as numbers, added by the CSA
 * down to two, then fin(two numbers) into `planes` planes of A->out. */
static mpc_err add_shares(eng *e, const bits_arg *A, size_t planes,
                          mpc_err (*fin)(eng *, const uint64_t *, const uint64_t *, unsigned,
                                         uint64_t *)) {
	unsigned B = A->bits;
	size_t cnt = (size_t)e->np;
	uint64_t **num = calloc(cnt, sizeof(*num));
	mpc_err err;
	if (num == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory (%s:%d)", __FILE__, __LINE__);
	if ((err = share_numbers(e, A->r, A->x, A->n, B, num)) == MPC_OK &&
	    (err = csa(e, num, &cnt, B)) == MPC_OK) {
		uint64_t *res = eng_alloc(e, planes);
		if ((err = e->err) == MPC_OK && (err = fin(e, num[0], num[1], B, res)) == MPC_OK &&
		    !e->counting) {
			memcpy(A->out, res, planes * e->W * 8);
			mask_tail(A->out, planes, A->n, e->W);
		}
	}
	free(num);
	return err;
}

static mpc_err a2b_fn(eng *e, void *va) {
	bits_arg *A = va;
	return add_shares(e, A, A->bits, sklansky);
}

mpc_err mpc_conv_a2b(mpc_party *p, mpc_ring r, const void *x, size_t n, unsigned bits,
                     uint64_t *out) {
	mpc_err err;
	if ((err = check_args(p, r, "a2b")) != MPC_OK)
		return err;
	if (bits < 1 || bits > mpc_ring_bits(r))
		return mpc_error(MPC_EINVAL, "a2b at party %d: %u bits in Z_2^%u", mpc_party_id(p),
		                 bits, mpc_ring_bits(r));
	if (n == 0)
		return MPC_OK;
	bits_arg A = {r, x, n, bits, out};
	return run_circuit(p, mpc_conv_words(n), a2b_fn, &A);
}

/* ---- msb ---- */

/* The carry into bit B-1 of a + b and the top bit of the sum, into out
 * (one plane): g = a & b, p = a ^ b over bits 0..B-2 and a (G, P) tree. */
static mpc_err top_bit(eng *e, const uint64_t *a, const uint64_t *b, unsigned B, uint64_t *out) {
	size_t W = e->W, m = B - 1;
	uint64_t *G = eng_alloc(e, m), *P = eng_alloc(e, m);
	uint64_t **gp = calloc(2 * m, sizeof(*gp));
	mpc_err err = e->err;
	if (gp == NULL)
		err = mpc_error(MPC_ENOMEM, "out of memory (%s:%d)", __FILE__, __LINE__);
	if (err != MPC_OK)
		goto out;
	for (size_t l = 0; l < m; l++) {
		for (size_t w = 0; w < W; w++)
			P[l * W + w] = a[l * W + w] ^ b[l * W + w];
		gate(e, a + l * W, b + l * W, G + l * W, 0);
		gp[l] = G + l * W;
		gp[m + l] = P + l * W;
	}
	if ((err = flush(e)) != MPC_OK)
		goto out;
	seg s = {gp, gp + m, m, 0};
	if ((err = tree(e, &s, 1)) != MPC_OK)
		goto out;
	for (size_t w = 0; w < W; w++)
		out[w] = a[m * W + w] ^ b[m * W + w] ^ s.G[0][w];
out:
	free(gp);
	return err;
}

/* Bit B-1 of the sum mod 2^B of the parties' shares mod 2^B, that is of
 * x mod 2^B (B = A->bits; msb also serves msb_bits): the low B bits of every
 * share are added as B-bit numbers. */
static mpc_err msb_fn(eng *e, void *va) {
	bits_arg *A = va;
	return add_shares(e, A, 1, top_bit);
}

mpc_err mpc_conv_msb_bits(mpc_party *p, mpc_ring r, const void *x, size_t n, unsigned bits,
                          uint64_t *out) {
	mpc_err err;
	if ((err = check_args(p, r, "msb")) != MPC_OK)
		return err;
	if (bits < 2 || bits > mpc_ring_bits(r))
		return mpc_error(MPC_EINVAL, "msb at party %d: %u bits in Z_2^%u (need 2..%u)",
		                 mpc_party_id(p), bits, mpc_ring_bits(r), mpc_ring_bits(r));
	if (n == 0)
		return MPC_OK;
	bits_arg A = {.r = r, .x = x, .n = n, .bits = bits, .out = out};
	return run_circuit(p, mpc_conv_words(n), msb_fn, &A);
}

mpc_err mpc_conv_msb(mpc_party *p, mpc_ring r, const void *x, size_t n, uint64_t *out) {
	mpc_err err;
	if ((err = check_args(p, r, "msb")) != MPC_OK)
		return err;
	return mpc_conv_msb_bits(p, r, x, n, mpc_ring_bits(r), out);
}

/* ---- is_zero ---- */

static mpc_err zero_fn(eng *e, void *va) {
	bits_arg *A = va;
	unsigned B = mpc_ring_bits(A->r);
	size_t W = e->W, cnt = (size_t)e->np;
	uint64_t **num = calloc(cnt, sizeof(*num)), **pp = calloc(B, sizeof(*pp));
	mpc_err err;
	if (num == NULL || pp == NULL) {
		err = mpc_error(MPC_ENOMEM, "out of memory (%s:%d)", __FILE__, __LINE__);
		goto out;
	}
	/* A->x already holds x - 1 */
	if ((err = share_numbers(e, A->r, A->x, A->n, B, num)) != MPC_OK ||
	    (err = csa(e, num, &cnt, B)) != MPC_OK)
		goto out;
	/* x == 0 iff u ^ v is all ones: the AND of its planes */
	for (unsigned l = 0; l < B; l++) {
		xor_into(num[0] + l * W, num[1] + l * W, W);
		pp[l] = num[0] + l * W;
	}
	seg s = {NULL, pp, B, 1};
	if ((err = tree(e, &s, 1)) != MPC_OK)
		goto out;
	if (!e->counting) {
		memcpy(A->out, s.P[0], W * 8);
		mask_tail(A->out, 1, A->n, W);
	}
out:
	free(num);
	free(pp);
	return err;
}

mpc_err mpc_conv_is_zero(mpc_party *p, mpc_ring r, const void *x, size_t n, uint64_t *out) {
	mpc_vec xm = {0};
	mpc_err err;
	if ((err = check_args(p, r, "is_zero")) != MPC_OK)
		return err;
	if (n == 0)
		return MPC_OK;
	if ((err = mpc_vec_init(&xm, r, n)) != MPC_OK)
		return err;
	memcpy(xm.v, x, n * mpc_ring_bytes(r));
	if (mpc_party_id(p) == 0) {
		_Alignas(16) uint8_t one[16] = {0};
		mpc_ring_set_i64(r, one, 0, -1);
		mpc_ring_add_const(r, xm.v, xm.v, one, n);
	}
	bits_arg A = {.r = r, .x = xm.v, .n = n, .bits = mpc_ring_bits(r), .out = out};
	err = run_circuit(p, mpc_conv_words(n), zero_fn, &A);
	mpc_vec_fini(&xm);
	return err;
}

/* ---- comparison with a public value ---- */

typedef struct {
	mpc_ring r;
	const void *c, *x;
	size_t n;
	unsigned f;
	uint64_t *out;
} ltp_arg;

static mpc_err ltp_fn(eng *e, void *va) {
	ltp_arg *A = va;
	unsigned B = mpc_ring_bits(A->r), f = A->f;
	size_t W = e->W, cnt = (size_t)e->np;
	uint64_t **num = calloc(cnt, sizeof(*num)), **gp = calloc(2 * B, sizeof(*gp));
	uint64_t *xb = NULL, *cb = NULL, *G = NULL, *P = NULL;
	mpc_err err;
	if (num == NULL || gp == NULL) {
		err = mpc_error(MPC_ENOMEM, "out of memory (%s:%d)", __FILE__, __LINE__);
		goto out;
	}
	/* the bits of x */
	if ((err = share_numbers(e, A->r, A->x, A->n, B, num)) != MPC_OK ||
	    (err = csa(e, num, &cnt, B)) != MPC_OK)
		goto out;
	xb = eng_alloc(e, B);
	cb = eng_alloc(e, B);
	G = eng_alloc(e, B);
	P = eng_alloc(e, B);
	if ((err = e->err) != MPC_OK || (err = sklansky(e, num[0], num[1], B, xb)) != MPC_OK)
		goto out;
	if (!e->counting)
		to_planes(A->r, A->c, A->n, B, cb, W);
	/* c < x on a prefix: generate where c_l = 0 and x_l = 1, propagate
	 * where they are equal (local: c is public) */
	for (size_t i = 0; i < (size_t)B * W; i++) {
		G[i] = xb[i] & ~cb[i];
		P[i] = xb[i] ^ (e->me == 0 ? ~cb[i] : 0);
	}
	for (unsigned l = 0; l < B; l++) {
		gp[l] = G + l * W;
		gp[B + l] = P + l * W;
	}
	seg s[2] = {{gp, gp + B, f, 0}, {gp + f, gp + B + f, B - f, 1}};
	if ((err = tree(e, s, 2)) != MPC_OK)
		goto out;
	gate(e, s[1].P[0], s[0].G[0], s[1].G[0], 1);
	if ((err = flush(e)) != MPC_OK)
		goto out;
	if (!e->counting) {
		memcpy(A->out, s[0].G[0], W * 8);
		memcpy(A->out + W, s[1].G[0], W * 8);
		mask_tail(A->out, 2, A->n, W);
	}
out:
	free(num);
	free(gp);
	return err;
}

mpc_err mpc_conv_lt_public(mpc_party *p, mpc_ring r, const void *c, const void *x, size_t n,
                           unsigned f, uint64_t *out) {
	mpc_err err;
	if ((err = check_args(p, r, "lt_public")) != MPC_OK)
		return err;
	if (f < 1 || f >= mpc_ring_bits(r))
		return mpc_error(MPC_EINVAL, "lt_public at party %d: %u low bits in Z_2^%u",
		                 mpc_party_id(p), f, mpc_ring_bits(r));
	if (n == 0)
		return MPC_OK;
	ltp_arg A = {r, c, x, n, f, out};
	return run_circuit(p, mpc_conv_words(n), ltp_fn, &A);
}

/* ---- b2a ---- */

mpc_err mpc_conv_b2a_planes(mpc_party *p, mpc_ring r, const uint64_t *b, size_t planes, size_t n,
                            void *out) {
	size_t W = mpc_conv_words(n), tot = planes * n;
	int king = mpc_party_id(p) == 0;
	mpc_vec rb = {0};
	uint64_t *cw = NULL;
	mpc_err err;

	if ((err = check_args(p, r, "b2a")) != MPC_OK)
		return err;
	if (n != 0 && planes > SIZE_MAX / 16 / n)
		return mpc_error(MPC_EINVAL,
		                 "b2a at party %d: %zu planes of %zu elements is too large",
		                 mpc_party_id(p), planes, n);
	if (tot == 0)
		return MPC_OK;
	if ((err = mpc_bits_get(p, r, tot, &rb)) != MPC_OK)
		return err;
	if ((cw = calloc(planes * W, 8)) == NULL) {
		err = mpc_error(MPC_ENOMEM, "out of memory (%s:%d)", __FILE__, __LINE__);
		goto out;
	}
	/* c = b ^ r, r's XOR share being the low bit of its arithmetic share */
	for (size_t l = 0; l < planes; l++)
		for (size_t i = 0; i < n; i++) {
			size_t e = l * n + i;
			uint64_t lsb = r == MPC_Z64 ? ((uint64_t *)rb.v)[e] & 1
			                            : (uint64_t)(((mpc_u128 *)rb.v)[e] & 1);
			cw[l * W + i / 64] |= lsb << (i % 64);
		}
	for (size_t w = 0; w < planes * W; w++)
		cw[w] ^= b[w];
	mask_tail(cw, planes, n, W);
	if ((err = mpc_bool_open(p, cw, cw, planes * W)) != MPC_OK)
		goto out;
	/* b = c + r - 2cr: r where c = 0, 1 - r where c = 1 */
	for (size_t l = 0; l < planes; l++)
		for (size_t i = 0; i < n; i++) {
			size_t e = l * n + i;
			int c = (int)(cw[l * W + i / 64] >> (i % 64) & 1);
			if (r == MPC_Z64) {
				uint64_t v = ((uint64_t *)rb.v)[e];
				((uint64_t *)out)[e] = c ? (uint64_t)king - v : v;
			} else {
				mpc_u128 v = ((mpc_u128 *)rb.v)[e];
				((mpc_u128 *)out)[e] = c ? (mpc_u128)king - v : v;
			}
		}
out:
	if (cw) {
		mpc_wipe(cw, planes * W * 8);
		free(cw);
	}
	mpc_vec_fini(&rb);
	return err;
}

mpc_err mpc_conv_b2a(mpc_party *p, mpc_ring r, const uint64_t *b, size_t n, void *out) {
	return mpc_conv_b2a_planes(p, r, b, 1, n, out);
}

/* ---- counting ---- */

size_t mpc_conv_and_count(int kind, mpc_ring r, int n_parties, unsigned f) {
	static const uint8_t zero[16];
	uint64_t dummy[2];
	eng e = {.p = NULL, .me = 0, .np = n_parties, .W = 1, .counting = 1};
	mpc_err err;
	if (mpc_ring_check(r) != MPC_OK || n_parties < 2)
		return 0;
	bits_arg a = {r, zero, 1, mpc_ring_bits(r), dummy};
	bits_arg m = {.r = r, .x = zero, .n = 1, .bits = mpc_ring_bits(r), .out = dummy};
	ltp_arg l = {r, zero, zero, 1, f, dummy};
	switch (kind) {
	case 0:
		err = a2b_fn(&e, &a);
		break;
	case 1:
		err = msb_fn(&e, &m);
		break;
	case 2:
		err = zero_fn(&e, &m);
		break;
	case 3:
		err = f >= 1 && f < mpc_ring_bits(r) ? ltp_fn(&e, &l) : MPC_EINVAL;
		break;
	case 4:
		m.bits = f;
		err = f >= 2 && f <= mpc_ring_bits(r) ? msb_fn(&e, &m) : MPC_EINVAL;
		break;
	default:
		err = MPC_EINVAL;
	}
	size_t n = e.n_and;
	eng_release(&e);
	return err == MPC_OK ? n : 0;
}
