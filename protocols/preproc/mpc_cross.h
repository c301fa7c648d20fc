/* Cross products between parties: the one primitive the dealer-free
 * preprocessing backends need. Triples, random shared bits and truncation
 * pairs (protocols/preproc/mpc_gen.c) are all built from batches of
 *
 *     x_i[e] * y_j[e]   shared additively between party i and party j,
 *
 * where x_i is private to party i and y_j private to party j. Two engines
 * make them: oblivious-transfer extension (mpc_cross_ot.c: Gilboa's product
 * over IKNP correlated OTs) and Paillier encryption (mpc_cross_paillier.c).
 * Both are secure against a semi-honest adversary corrupting any number of
 * the other parties: party i's x and party j's y stay hidden from everyone.
 *
 * Every call is collective: all parties call it with the same ring, xbits, n
 * and masks, in the same order. */
#ifndef MPC_CROSS_H
#define MPC_CROSS_H

#include "runtime/mpc_err.h"
#include "runtime/mpc_ring.h"
#include <stddef.h>
#include <stdint.h>

struct mpc_party;

typedef struct {
	const char *name; /* "ot", "paillier" */
	/* One batch. For every ordered pair (i, j), i != j, with i in recv_mask
	 * and j in send_mask (bit i = party i), parties i and j get additive
	 * shares in Z_2^k (k = ring bits) of x_i[e] * y_j[e], e < n. x holds this
	 * party's n values as receiver (only the low xbits bits of each may be
	 * set, 1 <= xbits <= k; NULL when this party is not in recv_mask), y its
	 * n values as sender (NULL when not in send_mask). out (n ring elements,
	 * 16-byte aligned for Z_2^128) is overwritten with the sum of this
	 * party's shares over every pair it is in; zero when it is in none. */
	mpc_err (*cross)(void *ctx, struct mpc_party *p, mpc_ring r, unsigned xbits, size_t n,
	                 const void *x, const void *y, void *out, uint64_t recv_mask,
	                 uint64_t send_mask);
	/* The same over GF(2) on n_words 64-bit words (64 independent bit
	 * products per word): XOR shares of x_i AND y_j. NULL if the engine has
	 * no cheaper way than cross() with xbits = 1 (mpc_gen falls back). */
	mpc_err (*cross_bits)(void *ctx, struct mpc_party *p, size_t n_words, const uint64_t *x,
	                      const uint64_t *y, uint64_t *out, uint64_t recv_mask,
	                      uint64_t send_mask);
	/* Bytes this party sends per element of cross() when every party is
	 * both receiver and sender (for estimates before a run). */
	double (*bytes_per_elem)(void *ctx, int n_parties, mpc_ring r, unsigned xbits);
	/* Wipe secrets and free. NULL ctx does nothing. */
	void (*free)(void *ctx);
} mpc_cross_ops;

typedef struct {
	const mpc_cross_ops *ops;
	void *ctx;
} mpc_cross;

/* Set up the OT engine with every other party: base OTs (Chou-Orlandi on
 * P-256) in both directions of every pair, then IKNP extension on demand.
 * Collective; two rounds. */
mpc_err mpc_cross_ot_new(mpc_cross *out, struct mpc_party *p) MPC_MUST_CHECK;

/* Statistical hiding of the Paillier engine's masks: the sender's mask is
 * uniform below 2^(xbits + k + MPC_CROSS_PAILLIER_SIGMA), that many bits
 * longer than the product x y < 2^(xbits + k), so what the receiver decrypts
 * is within statistical distance 2^-80 of the mask alone, per element
 * (about 2^-53 over 10^8 elements). */
#define MPC_CROSS_PAILLIER_SIGMA 80

/* Slots of x y + mask one plaintext of the Paillier engine packs, for
 * xbits-bit receiver values in ring r and a modulus of modulus_bits: a slot
 * has xbits + k + MPC_CROSS_PAILLIER_SIGMA + 1 bits (the sum never carries
 * into the next) and all slots stay below 2^(modulus_bits - 1) <= N, so the
 * packed value never wraps mod N. 0 if none fits or an argument is bad. */
unsigned mpc_cross_paillier_slots(unsigned modulus_bits, mpc_ring r, unsigned xbits);

/* Set up the Paillier engine: each party makes a key pair with a modulus of
 * modulus_bits (>= 2048) and sends its public key to the others.
 * Collective; one round. */
mpc_err mpc_cross_paillier_new(mpc_cross *out, struct mpc_party *p,
                               unsigned modulus_bits) MPC_MUST_CHECK;

void mpc_cross_free(mpc_cross *c);

#endif
