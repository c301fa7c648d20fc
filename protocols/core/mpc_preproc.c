/* Allocation helpers around the preprocessing interface. */
#include "protocols/core/mpc_preproc.h"

#include "protocols/core/mpc_party.h"

#include <stdlib.h>

#include "runtime/mpc_wipe.h"

mpc_err mpc_triples_get(struct mpc_party *p, mpc_ring r, size_t n, mpc_triples *t) {
	mpc_preproc *pre = mpc_party_preproc(p);
	mpc_err err;

	*t = (mpc_triples){0};
	if (pre->ops == NULL || pre->ops->triples == NULL)
		return mpc_error(MPC_EINVAL, "no preprocessing backend gives triples");
	if ((err = mpc_vec_init(&t->a, r, n)) != MPC_OK ||
	    (err = mpc_vec_init(&t->b, r, n)) != MPC_OK ||
	    (err = mpc_vec_init(&t->c, r, n)) != MPC_OK)
		goto fail;
	if ((err = pre->ops->triples(pre->ctx, p, r, n, t->a.v, t->b.v, t->c.v)) != MPC_OK)
		goto fail;
	return MPC_OK;
fail:
	mpc_triples_fini(t);
	return err;
}

void mpc_triples_fini(mpc_triples *t) {
	mpc_vec_fini(&t->a);
	mpc_vec_fini(&t->b);
	mpc_vec_fini(&t->c);
}

mpc_err mpc_truncpairs_get(struct mpc_party *p, mpc_ring r, unsigned f, size_t n,
                           mpc_truncpairs *t) {
	mpc_preproc *pre = mpc_party_preproc(p);
	mpc_err err;

	*t = (mpc_truncpairs){.f = f};
	if (pre->ops == NULL || pre->ops->trunc_pairs == NULL)
		return mpc_error(MPC_EINVAL, "no preprocessing backend gives truncation pairs");
	if (f == 0 || f >= mpc_ring_bits(r))
		return mpc_error(MPC_EINVAL, "truncation by %u bits in Z_2^%u", f,
		                 mpc_ring_bits(r));
	if ((err = mpc_vec_init(&t->r, r, n)) != MPC_OK ||
	    (err = mpc_vec_init(&t->r_hi, r, n)) != MPC_OK)
		goto fail;
	if ((err = pre->ops->trunc_pairs(pre->ctx, p, r, f, n, t->r.v, t->r_hi.v)) != MPC_OK)
		goto fail;
	return MPC_OK;
fail:
	mpc_truncpairs_fini(t);
	return err;
}

void mpc_truncpairs_fini(mpc_truncpairs *t) {
	mpc_vec_fini(&t->r);
	mpc_vec_fini(&t->r_hi);
}

mpc_err mpc_bits_get(struct mpc_party *p, mpc_ring r, size_t n, mpc_vec *out) {
	mpc_preproc *pre = mpc_party_preproc(p);
	mpc_err err;

	*out = (mpc_vec){0};
	if (pre->ops == NULL || pre->ops->bits == NULL)
		return mpc_error(MPC_EINVAL,
		                 "the %s preprocessing backend gives no random shared bits",
		                 pre->ops ? pre->ops->name : "(no)");
	if ((err = mpc_vec_init(out, r, n)) != MPC_OK)
		return err;
	if ((err = pre->ops->bits(pre->ctx, p, r, n, out->v)) != MPC_OK)
		mpc_vec_fini(out);
	return err;
}

mpc_err mpc_bit_triples_get(struct mpc_party *p, size_t n_words, mpc_bit_triples *t) {
	mpc_preproc *pre = mpc_party_preproc(p);
	mpc_err err;

	*t = (mpc_bit_triples){0};
	if (pre->ops == NULL || pre->ops->bit_triples == NULL)
		return mpc_error(MPC_EINVAL, "the %s preprocessing backend gives no bit triples",
		                 pre->ops ? pre->ops->name : "(no)");
	t->a = calloc(n_words ? n_words : 1, 8);
	t->b = calloc(n_words ? n_words : 1, 8);
	t->c = calloc(n_words ? n_words : 1, 8);
	t->n_words = n_words;
	if (!t->a || !t->b || !t->c) {
		mpc_bit_triples_fini(t);
		return mpc_error(MPC_ENOMEM, "out of memory for %zu bit-triple words", n_words);
	}
	if ((err = pre->ops->bit_triples(pre->ctx, p, n_words, t->a, t->b, t->c)) != MPC_OK)
		mpc_bit_triples_fini(t);
	return err;
}

void mpc_bit_triples_fini(mpc_bit_triples *t) {
	uint64_t *v[3] = {t->a, t->b, t->c};
	for (int i = 0; i < 3; i++)
		if (v[i]) {
			mpc_wipe(v[i], t->n_words * 8);
			free(v[i]);
		}
	*t = (mpc_bit_triples){0};
}
