/* Preprocessing: the correlated randomness the online protocols consume,
 * behind one interface so that protocol code does not know where it comes
 * from. The engines are in protocols/preproc/: the dealer (mpc_dealer.h),
 * OT extension and Paillier (the generic maker over mpc_cross.h:
 * mpc_gen.h), and the on-disk store in front of a maker
 * (mpc_store_backend.h).
 *
 * Every call is collective: all parties call it with the same arguments in
 * the same order, and each gets its own additive shares. Outputs are secret
 * shares: callers wipe them (mpc_vec_fini does). */
#ifndef MPC_PREPROC_H
#define MPC_PREPROC_H

#include "runtime/mpc_err.h"
#include "runtime/mpc_ring.h"
#include <stddef.h>
#include <stdint.h>

struct mpc_party;

typedef struct {
	const char *name; /* "dealer", ... */
	/* n Beaver triples: shares of a, b, c with c = a*b in the ring. */
	mpc_err (*triples)(void *ctx, struct mpc_party *p, mpc_ring r, size_t n, void *a, void *b,
	                   void *c);
	/* n truncation pairs for f bits: shares of r uniform in the ring and of
	 * r_hi = r >> f (logical shift of r as an unsigned k-bit number). */
	mpc_err (*trunc_pairs)(void *ctx, struct mpc_party *p, mpc_ring r, unsigned f, size_t n,
	                       void *rr, void *r_hi);
	/* n random shared bits: shares in ring r of b uniform in {0, 1}. NULL
	 * if the backend has none. */
	mpc_err (*bits)(void *ctx, struct mpc_party *p, mpc_ring r, size_t n, void *out);
	/* n_words words of 64 bit triples each: XOR shares of a, b and
	 * c = a AND b. NULL if the backend has none. */
	mpc_err (*bit_triples)(void *ctx, struct mpc_party *p, size_t n_words, uint64_t *a,
	                       uint64_t *b, uint64_t *c);
	/* Release the backend's state (wiping its secrets). */
	void (*free)(void *ctx);
} mpc_preproc_ops;

typedef struct {
	const mpc_preproc_ops *ops;
	void *ctx;
} mpc_preproc;

/* n triples in ring r, each vector freshly allocated in t (caller finishes
 * with mpc_triples_fini). MPC_EINVAL if no backend is installed. */
typedef struct {
	mpc_vec a, b, c;
} mpc_triples;

mpc_err mpc_triples_get(struct mpc_party *p, mpc_ring r, size_t n, mpc_triples *t) MPC_MUST_CHECK;
void mpc_triples_fini(mpc_triples *t);

typedef struct {
	unsigned f;
	mpc_vec r, r_hi;
} mpc_truncpairs;

mpc_err mpc_truncpairs_get(struct mpc_party *p, mpc_ring r, unsigned f, size_t n,
                           mpc_truncpairs *t) MPC_MUST_CHECK;
void mpc_truncpairs_fini(mpc_truncpairs *t);

/* n random shared bits in ring r, freshly allocated in out (mpc_vec_fini). */
mpc_err mpc_bits_get(struct mpc_party *p, mpc_ring r, size_t n, mpc_vec *out) MPC_MUST_CHECK;

/* n_words * 64 bit triples (XOR shares, bit-sliced), freshly allocated. */
typedef struct {
	size_t n_words;
	uint64_t *a, *b, *c;
} mpc_bit_triples;

mpc_err mpc_bit_triples_get(struct mpc_party *p, size_t n_words, mpc_bit_triples *t) MPC_MUST_CHECK;
void mpc_bit_triples_fini(mpc_bit_triples *t);

#endif
