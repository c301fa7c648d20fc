/* Dealer-free preprocessing made by the parties themselves from cross
 * products (mpc_cross.h), with the OT or the Paillier engine:
 *
 *   triples      a, b random at each party; c_i = a_i b_i + shares of every
 *                a_i b_j and a_j b_i (one cross() with xbits = k).
 *   random bits  each party draws a bit x_i; the XOR x_0 ^ ... ^ x_{N-1} is
 *                built as an arithmetic share step by step,
 *                y <- y + x_j - 2 y x_j (N-1 cross() calls with xbits = 1;
 *                N(N-1)/2 products per bit in all).
 *   trunc pairs  k random bits b_l per pair: r = sum 2^l b_l,
 *                r_hi = sum_{l>=f} 2^(l-f) b_l (exact: r_hi = r >> f).
 *   bit triples  a, b random words; c_i = a_i & b_i ^ XOR shares of every
 *                a_i & b_j (cross_bits(), or cross() on single bits).
 *
 * Secure against a semi-honest adversary corrupting up to N-1 parties, as the
 * engine is: every value a party sees is either its own or a share/message
 * that is uniformly random given its view. */
#ifndef MPC_GEN_H
#define MPC_GEN_H

#include "protocols/core/mpc_preproc.h"
#include "protocols/preproc/mpc_cross.h"
#include "runtime/mpc_err.h"

struct mpc_party;

/* The preprocessing backend over an engine (taken over: freed with it).
 * Install with mpc_party_set_preproc. */
mpc_err mpc_gen_backend(mpc_preproc *out, mpc_cross engine) MPC_MUST_CHECK;

/* Set up an engine by name ("ot" or "paillier"; modulus bits for Paillier, 0
 * for 2048) and make the backend over it, without installing it. Collective. */
mpc_err mpc_gen_new(mpc_preproc *out, struct mpc_party *p, const char *engine,
                    unsigned modulus_bits) MPC_MUST_CHECK;

/* Estimated bytes this party sends to make one element of type (kind:
 * 1 triples, 2 truncation pairs, 3 bits, 4 words of 64 bit triples) in ring
 * r, from the engine's message sizes. 0 if pre is not a mpc_gen backend. */
double mpc_gen_bytes_per(const mpc_preproc *pre, int n_parties, int kind, mpc_ring r);

/* Set up an engine by name ("ot" or "paillier", modulus bits for Paillier;
 * 0 means 2048) and install the backend at p. Collective. */
mpc_err mpc_gen_install(struct mpc_party *p, const char *engine,
                        unsigned modulus_bits) MPC_MUST_CHECK;

/* Counters of what this backend made (for reports and benchmarks). */
typedef struct {
	uint64_t triples, trunc_pairs, bits, bit_triple_words;
	double seconds;
} mpc_gen_stats;
/* NULL if pre is not a mpc_gen backend. */
const mpc_gen_stats *mpc_gen_get_stats(const mpc_preproc *pre);

#endif
