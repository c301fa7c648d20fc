/* Conversions between arithmetic shares (Z_2^k) and boolean (XOR) shares.
 *
 * Boolean shares of n values of `bits` bits are bit-sliced planes: plane l
 * (bit l, 0 = least significant) is words [l*W, (l+1)*W), W = ceil(n/64),
 * element i in bit i%64 of word i/64 (the layout of mpc_bool.h). Bits of the
 * last word beyond n are zero at every party.
 *
 * A2B needs no new kind of preprocessing: each party shares its own
 * arithmetic share bit by bit (sending nothing, mpc_bool_input), and the N
 * bit-sliced numbers are added under XOR sharing with bit triples (carry-save
 * layers down to two numbers, then a parallel-prefix adder: O(log k)
 * rounds). B2A uses one random shared bit r per element (mpc_bits_get): the
 * XOR share of r at party j is the least significant bit of its arithmetic
 * share (2^k is even, so the LSB of a sum is the XOR of the LSBs); c = b ^ r
 * is opened (uniform, reveals nothing) and b = c + r - 2cr locally.
 *
 * Costs per element (exact counts: mpc_conv_and_count): a carry-save layer
 * takes k - 1 ANDs and one round per 3 -> 2 step (N = 2: none, N = 3: one
 * layer, N = 5: three); a2b then k - 1 + a Sklansky prefix (436 ANDs, 8
 * rounds at N = 3 in Z_2^64), msb g = a & b and a (G, P) tree (244 ANDs,
 * 8 rounds), is_zero a (k - 1)-AND tree (126 ANDs, 7 rounds). msb_bits
 * runs the msb circuit on the low b bits of the shares: (N - 2)(b - 1) +
 * 3b - 5 - ceil(log2(b - 1)) ANDs in either ring (msb: b = k; at N = 3
 * b = 24: 85, 32: 117, 41: 152), ceil(log2(b - 1)) + 1 rounds after the
 * carry-save layers. Each AND opens 2 bits to each other party. Every call
 * fetches all its bit triples with one mpc_bit_triples_get, and
 * inputs/outputs may alias. */
#ifndef MPC_CONV_H
#define MPC_CONV_H

#include "protocols/core/mpc_party.h"
#include "runtime/mpc_err.h"
#include "runtime/mpc_ring.h"
#include <stddef.h>
#include <stdint.h>

/* Words per bit plane for n elements. */
static inline size_t mpc_conv_words(size_t n) {
	return (n + 63) / 64;
}

/* Bit decomposition: out (bits * W words) gets XOR shares of the low `bits`
 * bits (1 <= bits <= k) of the shared x (n elements of ring r), i.e. of
 * x mod 2^bits. Collective. */
mpc_err mpc_conv_a2b(mpc_party *p, mpc_ring r, const void *x, size_t n, unsigned bits,
                     uint64_t *out) MPC_MUST_CHECK;

/* The most significant bit of each shared x (bit k-1: x < 0 as a signed
 * number), as XOR shares in W words. Cheaper than a full mpc_conv_a2b (only
 * the carry into the top bit is computed). Collective. */
mpc_err mpc_conv_msb(mpc_party *p, mpc_ring r, const void *x, size_t n,
                     uint64_t *out) MPC_MUST_CHECK;

/* Bit bits-1 of x mod 2^bits (2 <= bits <= k) for each shared x, as XOR
 * shares in W words: the msb circuit on the low `bits` bits of every share
 * (x mod 2^bits is the sum mod 2^bits of the shares mod 2^bits). It is
 * [x < 0] when -2^(bits-1) <= x < 2^(bits-1) as a signed number, and
 * meaningless for x outside that range (the caller's contract). bits = k
 * is mpc_conv_msb. Costs mpc_conv_and_count(4, r, N, bits) ANDs per
 * element. Collective. */
mpc_err mpc_conv_msb_bits(mpc_party *p, mpc_ring r, const void *x, size_t n, unsigned bits,
                          uint64_t *out) MPC_MUST_CHECK;

/* XOR shares (W words) of [x == 0] for each shared x (exact, any value).
 * Party 0 subtracts 1, the N shares are reduced to two numbers u + v = x - 1
 * with carry-save layers, and x == 0 iff u XOR v is all ones (u + v = 2^k - 1
 * has no carries): k - 1 more ANDs in a log-depth tree. Collective. */
mpc_err mpc_conv_is_zero(mpc_party *p, mpc_ring r, const void *x, size_t n,
                         uint64_t *out) MPC_MUST_CHECK;

/* Compare public c (n elements, the same at every party) with shared x as
 * unsigned k-bit numbers: out (2 * W words) gets XOR shares of
 * [c mod 2^f < x mod 2^f] in words [0, W) and [c < x] in [W, 2W)
 * (1 <= f < k). One bit decomposition of x and one prefix circuit; one fetch
 * of bit triples. Collective. */
mpc_err mpc_conv_lt_public(mpc_party *p, mpc_ring r, const void *c, const void *x, size_t n,
                           unsigned f, uint64_t *out) MPC_MUST_CHECK;

/* XOR-shared bits (one plane, W words) to arithmetic shares of 0/1 in ring r
 * (n elements in out). One round, n random shared bits. Collective. */
mpc_err mpc_conv_b2a(mpc_party *p, mpc_ring r, const uint64_t *b, size_t n,
                     void *out) MPC_MUST_CHECK;

/* The same for `planes` planes of n elements at once (b: planes * W words;
 * out: planes * n elements, plane-major). One round, planes * n random
 * shared bits. Collective. */
mpc_err mpc_conv_b2a_planes(mpc_party *p, mpc_ring r, const uint64_t *b, size_t planes, size_t n,
                            void *out) MPC_MUST_CHECK;

/* AND gates (bit triples, one per bit per AND) each call consumes per
 * element at N parties in ring r: for budgeting preprocessing.
 * kind: 0 a2b (k bits), 1 msb, 2 is_zero, 3 lt_public (f bits), 4 msb_bits
 * (f bits, 2 <= f <= k; f = k gives the count of kind 1). 0 for bad
 * arguments. */
size_t mpc_conv_and_count(int kind, mpc_ring r, int n_parties, unsigned f);

#endif
