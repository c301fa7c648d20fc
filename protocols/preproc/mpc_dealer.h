/* The dealer backend: an independent crypto provider, a separate process
 * that is never one of the merchants. It is TRUSTED WITH EVERYTHING: it knows
 * every triple, so a dealer that colludes with any party (or reads the
 * opened values off the wire) learns all secrets. Use it for tests and for
 * deployments that really have such a provider.
 *
 * It gives all four kinds of material: Beaver triples and truncation pairs
 * (additive shares), random shared bits (additive shares of a bit that only
 * the dealer draws) and bit triples (XOR shares of a, b, c = a AND b, 64 to
 * a word).
 *
 * Traffic is minimal: at set-up the dealer sends each party a 16-byte seed.
 * Parties 0..N-2 then draw their shares of everything from that seed without
 * talking to anyone; only party N-1 asks the dealer, who answers with the
 * one correction that makes the shares add up (8 or 16 bytes per triple,
 * pair or bit; 8 bytes per word of 64 bit triples). */
#ifndef MPC_DEALER_H
#define MPC_DEALER_H

#include "net/mpc_net.h"
#include "protocols/core/mpc_party.h"
#include "protocols/core/mpc_preproc.h"

/* Elements per request to the dealer; larger calls are split. */
#define MPC_DEALER_CHUNK (1u << 20)

/* Party side: receive the seed from the dealer (node `dealer_node` of the
 * party's network) and install the dealer backend on p. Collective. */
mpc_err mpc_dealer_connect(mpc_party *p, int dealer_node) MPC_MUST_CHECK;

/* Dealer side: send each party (nodes 0..n_parties-1 of net) its seed, then
 * serve party n_parties-1's requests until it closes the session (MPC_OK),
 * or no request comes for idle_timeout_ms (-1: wait forever), or a request
 * is malformed. Logs that it is trusted. Counts what it served in *served
 * (may be NULL). */
mpc_err mpc_dealer_serve(mpc_net *net, int n_parties, int idle_timeout_ms,
                         uint64_t *served) MPC_MUST_CHECK;

#endif
