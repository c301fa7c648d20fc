/* A computing party: its id among N parties, the network it talks through,
 * its PRG streams (its own, and one per pair of parties agreed at set-up) and
 * its preprocessing source. Protocols never touch sockets: they ask the party
 * for a round. Nodes 0..N-1 of the network are the parties; further nodes
 * (a dealer) may follow. */
#ifndef MPC_PARTY_H
#define MPC_PARTY_H

#include "net/mpc_net.h"
#include "protocols/core/mpc_preproc.h"
#include "runtime/mpc_err.h"
#include "runtime/mpc_ring.h"
#include <stddef.h>
#include <stdint.h>

typedef struct mpc_party mpc_party; /* opaque */

/* How mpc_open reaches every party (protocols/core/mpc_share.h states the
 * rule AUTO applies). */
typedef enum {
	MPC_OPEN_AUTO = 0,   /* by N, size and the threshold below (the default) */
	MPC_OPEN_ALL_TO_ALL, /* always all-to-all: one round, (N-1)*n elements */
	MPC_OPEN_KING,       /* always the rotating king: two rounds, ~2(N-1)/N*n */
} mpc_open_mode;

/* AUTO's default threshold: the bytes per party a king opening must save
 * before its extra round pays, about one round trip's worth of bandwidth
 * (1 MiB: a 50 ms round trip at ~170 Mbit/s). */
#define MPC_OPEN_KING_THRESHOLD_DEFAULT ((size_t)1 << 20)

/* Make party `mpc_net_id(net)` of n_parties (2 <= n_parties <= nodes of net)
 * and agree pairwise seeds with every other party: the lower id of each pair
 * draws the seed and sends it (one round; the channel must be confidential
 * for this to be secure: see README). Borrows net (it must outlive the
 * party). Caller frees with mpc_party_free. */
mpc_err mpc_party_new(mpc_party **out, mpc_net *net, int n_parties) MPC_MUST_CHECK;
/* Wipe seeds and free; frees the preprocessing source. NULL does nothing. */
void mpc_party_free(mpc_party *p);

int mpc_party_id(const mpc_party *p);
int mpc_party_size(const mpc_party *p);
mpc_net *mpc_party_net(mpc_party *p);

/* Install the preprocessing source; takes ownership (freed with the party,
 * or at once on the next install). */
void mpc_party_set_preproc(mpc_party *p, mpc_preproc pre);
/* The source (borrowed); ops is NULL until one is installed. */
mpc_preproc *mpc_party_preproc(mpc_party *p);

/* Set how this party's opens go (mode, and AUTO's threshold in bytes saved
 * per party). Every party of the cluster must set the same rule before the
 * same opens, or their messages differ in length and the round fails with
 * MPC_EPROTO. MPC_EINVAL for an unknown mode. */
mpc_err mpc_party_set_open_rule(mpc_party *p, mpc_open_mode mode,
                                size_t threshold_bytes) MPC_MUST_CHECK;
/* The rule set (a new party: MPC_OPEN_AUTO and
 * MPC_OPEN_KING_THRESHOLD_DEFAULT). */
mpc_open_mode mpc_party_open_mode(const mpc_party *p);
size_t mpc_party_open_threshold(const mpc_party *p);

/* Next len bytes of the stream shared with party j (j != self). Both parties
 * must draw the same lengths in the same order. */
mpc_err mpc_party_prg_pair(mpc_party *p, int j, void *out, size_t len) MPC_MUST_CHECK;
/* Next len bytes of this party's own stream. */
mpc_err mpc_party_prg_own(mpc_party *p, void *out, size_t len) MPC_MUST_CHECK;

/* One round among the parties: send `len` bytes from buf to every other
 * party, receive `len` bytes from each into recv + j*len (recv has N slots;
 * slot self is untouched). */
mpc_err mpc_party_bcast(mpc_party *p, const void *buf, void *recv, size_t len) MPC_MUST_CHECK;

#endif
