/* Boolean sharing: input, open, AND and AND layers (see mpc_bool.h). */
#include "protocols/nonlinear/mpc_bool.h"

#include <stdlib.h>
#include <string.h>

#include "protocols/core/mpc_preproc.h"
#include "protocols/core/mpc_share.h"
#include "runtime/mpc_wipe.h"

mpc_err mpc_bool_input(mpc_party *p, int owner, const uint64_t *in, uint64_t *out, size_t words) {
	int me = mpc_party_id(p), np = mpc_party_size(p);

	if (owner < 0 || owner >= np || (me == owner && in == NULL && words > 0))
		return mpc_error(MPC_EINVAL, "boolean input owned by party %d of %d", owner, np);
	if (words == 0)
		return MPC_OK;
	if (me != owner)
		return mpc_party_prg_pair(p, owner, out, words * 8);
	/* the owner's share: its value XOR every other party's stream (the
	 * streams are bytes: chunked draws stay in step with the peers' one) */
	memcpy(out, in, words * 8);
	return mpc_bool_rerandomise(p, out, words);
}

mpc_err mpc_bool_rerandomise(mpc_party *p, uint64_t *share, size_t words) {
	int np = mpc_party_size(p), me = mpc_party_id(p);
	size_t cap = words < ((size_t)1 << 16) ? words : ((size_t)1 << 16);
	uint64_t *r;
	mpc_err err = MPC_OK;

	if (words == 0)
		return MPC_OK;
	if ((r = malloc(cap * 8)) == NULL)
		return mpc_error(MPC_ENOMEM, "mpc_bool_rerandomise: out of memory");
	for (int j = 0; j < np && err == MPC_OK; j++) {
		if (j == me)
			continue;
		for (size_t off = 0; off < words && err == MPC_OK; off += cap) {
			size_t m = words - off < cap ? words - off : cap;
			if ((err = mpc_party_prg_pair(p, j, r, m * 8)) != MPC_OK)
				break;
			for (size_t w = 0; w < m; w++)
				share[off + w] ^= r[w];
		}
	}
	mpc_wipe(r, cap * 8);
	free(r);
	return err;
}

mpc_err mpc_bool_open(mpc_party *p, const uint64_t *share, uint64_t *out, size_t words) {
	int np = mpc_party_size(p), me = mpc_party_id(p);
	uint64_t *all;
	mpc_err err;

	if (words == 0)
		return MPC_OK;
	if ((all = calloc((size_t)np * words, 8)) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	memcpy(all + (size_t)me * words, share, words * 8);
	if ((err = mpc_party_bcast(p, all + (size_t)me * words, all, words * 8)) == MPC_OK) {
		memset(out, 0, words * 8);
		for (int j = 0; j < np; j++)
			for (size_t w = 0; w < words; w++)
				out[w] ^= all[(size_t)j * words + w];
	}
	free(all);
	return err;
}

/* z = c ^ (d & b) ^ (e & a) ^ [party 0] (d & e), with d = x ^ a and
 * e = y ^ b opened; de holds d then e (this party's shares on entry). */
mpc_err mpc_bool_and_many(mpc_party *p, const uint64_t *a, const uint64_t *b, const uint64_t *c,
                          const uint64_t *const *x, const uint64_t *const *y, uint64_t *const *z,
                          size_t n, size_t words, uint64_t *de) {
	int king = mpc_party_id(p) == 0;
	size_t tot = n * words;
	mpc_err err;

	for (size_t g = 0; g < n; g++)
		for (size_t w = 0; w < words; w++) {
			de[g * words + w] = x[g][w] ^ a[g * words + w];
			de[tot + g * words + w] = y[g][w] ^ b[g * words + w];
		}
	if ((err = mpc_bool_open(p, de, de, 2 * tot)) != MPC_OK)
		return err;
	for (size_t g = 0; g < n; g++)
		for (size_t w = 0; w < words; w++) {
			size_t i = g * words + w;
			uint64_t d = de[i], e = de[tot + i];
			z[g][w] = c[i] ^ (d & b[i]) ^ (e & a[i]) ^ (king ? d & e : 0);
		}
	return MPC_OK;
}

mpc_err mpc_bool_and(mpc_party *p, const uint64_t *x, const uint64_t *y, uint64_t *z,
                     size_t words) {
	mpc_bit_triples t;
	uint64_t *de;
	mpc_err err;

	if (words == 0)
		return MPC_OK;
	if ((err = mpc_bit_triples_get(p, words, &t)) != MPC_OK)
		return err;
	if ((de = malloc(2 * words * 8)) == NULL) {
		mpc_bit_triples_fini(&t);
		return mpc_error(MPC_ENOMEM, "out of memory");
	}
	err = mpc_bool_and_many(p, t.a, t.b, t.c, &x, &y, &z, 1, words, de);
	free(de);
	mpc_bit_triples_fini(&t);
	return err;
}

mpc_err mpc_bool_gates_push(mpc_bool_gate **g, size_t *n, size_t *cap, mpc_bool_gate gate) {
	if (*n == *cap) {
		size_t nc = *cap ? 2 * *cap : 256;
		mpc_bool_gate *ng = realloc(*g, nc * sizeof(*ng));
		if (ng == NULL)
			return MPC_ENOMEM;
		*g = ng;
		*cap = nc;
	}
	(*g)[(*n)++] = gate;
	return MPC_OK;
}

mpc_err mpc_bool_gates_flush(mpc_party *p, const mpc_bit_triples *t, size_t *off,
                             const mpc_bool_gate *g, size_t *ng, size_t words, int counting,
                             size_t *n_and) {
	mpc_err err = MPC_OK;
	if (!counting) {
		err = mpc_bool_and_layer(p, t, *off, g, *ng, words);
		*off += *ng * words;
	}
	*n_and += *ng;
	*ng = 0;
	return err;
}

mpc_err mpc_bool_and_layer(mpc_party *p, const mpc_bit_triples *t, size_t off,
                           const mpc_bool_gate *g, size_t n, size_t words) {
	int king = mpc_party_id(p) == 0;
	size_t tot = n * words;
	uint64_t *de;
	mpc_err err;

	if (tot == 0)
		return MPC_OK;
	if (off > t->n_words || t->n_words - off < tot)
		return mpc_error(MPC_EINVAL,
		                 "AND layer of %zu words at party %d: %zu bit-triple words "
		                 "left (%s:%d)",
		                 tot, mpc_party_id(p), off > t->n_words ? 0 : t->n_words - off,
		                 __FILE__, __LINE__);
	if ((de = malloc(2 * tot * 8)) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory for an AND layer of %zu words", tot);
	const uint64_t *a = t->a + off, *b = t->b + off, *c = t->c + off;
	for (size_t k = 0; k < n; k++)
		for (size_t w = 0; w < words; w++) {
			de[k * words + w] = g[k].x[w] ^ a[k * words + w];
			de[tot + k * words + w] = g[k].y[w] ^ b[k * words + w];
		}
	/* all masked inputs first (outputs may alias inputs), then the open in
	 * pieces that bound mpc_bool_open's N-fold buffer */
	err = MPC_OK;
	for (size_t o = 0; o < 2 * tot && err == MPC_OK; o += MPC_OPEN_MAX_ELEMS) {
		size_t len = 2 * tot - o < MPC_OPEN_MAX_ELEMS ? 2 * tot - o : MPC_OPEN_MAX_ELEMS;
		err = mpc_bool_open(p, de + o, de + o, len);
	}
	if (err == MPC_OK)
		for (size_t k = 0; k < n; k++) {
			uint64_t *z = g[k].z;
			for (size_t w = 0; w < words; w++) {
				size_t i = k * words + w;
				uint64_t d = de[i], e = de[tot + i];
				uint64_t v = c[i] ^ (d & b[i]) ^ (e & a[i]) ^ (king ? d & e : 0);
				z[w] = g[k].acc ? z[w] ^ v : v;
			}
		}
	mpc_wipe(de, 2 * tot * 8);
	free(de);
	return err;
}

mpc_err mpc_bool_open_output(mpc_party *p, uint64_t *share, uint64_t *out, size_t words) {
	mpc_err err = mpc_bool_rerandomise(p, share, words);
	return err == MPC_OK ? mpc_bool_open(p, share, out, words) : err;
}
