/* Additive secret sharing: input, open, and local linear operations.
 * A shared vector is, at each party, an array of n ring elements; the secret
 * is the sum of all parties' arrays mod 2^k. */
#ifndef MPC_SHARE_H
#define MPC_SHARE_H

#include "protocols/core/mpc_party.h"
#include "runtime/mpc_err.h"
#include "runtime/mpc_ring.h"
#include <stddef.h>

/* Largest number of elements one open sends in one round; longer opens are
 * split into rounds of this size to bound memory (one round per 2^21
 * elements). */
#define MPC_OPEN_MAX_ELEMS ((size_t)1 << 21)

/* Party `owner` shares the n elements `in` (read only at the owner; others
 * pass NULL). Every party gets its share in `out`. Sends nothing: party
 * j != owner draws its share from the stream it shares with the owner, and
 * the owner keeps in - (sum of those). Collective; n must be agreed. */
mpc_err mpc_input(mpc_party *p, int owner, mpc_ring r, const void *in, void *out,
                  size_t n) MPC_MUST_CHECK;

/* Open to all: every party learns the secret in out (which may be share
 * itself). Opens the shares as they are: for masked values (Beaver d and e,
 * truncation, comparison masks); outputs go through mpc_open_output. Per
 * chunk of MPC_OPEN_MAX_ELEMS elements, one of two openings:
 *  - all-to-all: every party sends its whole share to every other party; one
 *    round, (N-1)*n elements sent per party;
 *  - rotating king: the n elements are cut into N contiguous slices (sizes
 *    differ by at most one; n < N leaves some empty); every party sends its
 *    share of slice j to party j, which adds the N shares up, and in a second
 *    round sends the opened slice to every other party; two rounds, about
 *    2(N-1)/N*n elements sent per party (n - s + (N-1)*s exactly, s its own
 *    slice). Semi-honest, it reveals no more than all-to-all: the king of a
 *    slice sees the shares of a value that everybody learns anyway, and the
 *    others see only the sum.
 * The party's rule (mpc_party_set_open_rule) picks: mpc_open_choice. */
mpc_err mpc_open(mpc_party *p, mpc_ring r, const void *share, void *out, size_t n) MPC_MUST_CHECK;

/* The opening mpc_open uses for n elements of ring r at party p:
 * MPC_OPEN_ALL_TO_ALL or MPC_OPEN_KING. A forced mode is used as set. AUTO
 * (the default) picks all-to-all for N = 2 (the king saves nothing there)
 * and whenever the bytes the king saves per party,
 *   ((N-1) - 2(N-1)/N) * n * element bytes  =  (N-1)(N-2)/N * n * bytes,
 * are at most the party's threshold (default MPC_OPEN_KING_THRESHOLD_DEFAULT,
 * about one round trip's worth of bandwidth, the price of the king's second
 * round); the king above it. Small latency-bound opens (comparisons, a
 * scoring request, truncations of a few thousand values) stay one round.
 * It depends only on n, N, the ring and the configured rule, which every
 * party must agree on; so all parties choose alike. */
mpc_open_mode mpc_open_choice(const mpc_party *p, mpc_ring r, size_t n);

/* Open to party `to` only: the others send their shares to it and learn
 * nothing; out is written at `to` only (others may pass NULL). One round.
 * The shares are re-randomised first (mpc_share_rerandomise on a copy, chunk
 * by chunk), so `to` sees uniform shares summing to the value, whatever
 * structure the callers' shares had: no partial result of a party reaches
 * it. Draws n elements from every pairwise stream at every party, the
 * receiver included. */
mpc_err mpc_open_to(mpc_party *p, int to, mpc_ring r, const void *share, void *out,
                    size_t n) MPC_MUST_CHECK;

/* Add a fresh sharing of zero to the n shared elements in place: for every
 * other party j, the next n elements of the stream shared with j, added if
 * this party's id is the lower of the pair, subtracted otherwise; the pair's
 * two draws cancel, so the shared value is unchanged and, as long as two
 * parties are honest, their shares are uniform given their sum. Call it
 * before opening an output whose shares may carry a party's partial result.
 * Sends nothing, consumes no preprocessing; collective: every party calls it
 * with the same n at the same point, or the pairwise streams fall out of
 * step. MPC_EINVAL (bad ring), MPC_ENOMEM, PRG errors. */
mpc_err mpc_share_rerandomise(mpc_party *p, mpc_ring r, void *share, size_t n) MPC_MUST_CHECK;

/* Open an output to all: mpc_share_rerandomise on share (in place), then
 * mpc_open into out (which may alias share). */
mpc_err mpc_open_output(mpc_party *p, mpc_ring r, void *share, void *out, size_t n) MPC_MUST_CHECK;

/* Local linear operations on shares. */
/* out = a + b, a - b, -a, c*a (public element c). */
void mpc_share_add(mpc_ring r, void *out, const void *a, const void *b, size_t n);
void mpc_share_sub(mpc_ring r, void *out, const void *a, const void *b, size_t n);
void mpc_share_neg(mpc_ring r, void *out, const void *a, size_t n);
void mpc_share_scale(mpc_ring r, void *out, const void *a, const void *c, size_t n);
/* out = a + pub (pub a public vector): only party 0 adds, others copy. */
void mpc_share_add_public(mpc_party *p, mpc_ring r, void *out, const void *a, const void *pub,
                          size_t n);

#endif
