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
