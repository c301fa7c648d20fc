/* Test-only: observe the shares the receiver of mpc_open_to gets, so that a
 * test can check what an asker could compute from them (tests/loopback/
 * test_score.c: an owner-asker learns no holder's partial score). Never used
 * by the programs. */
#ifndef MPC_SHARE_TAP_H
#define MPC_SHARE_TAP_H

#include "runtime/mpc_ring.h"
#include <stddef.h>

/* Called at the receiver, once per peer and chunk, with the n elements of
 * ring r that peer `from` sent, before they are added up. */
typedef void (*mpc_share_tap_fn)(void *ctx, int from, mpc_ring r, const void *share, size_t n);

/* Install fn (NULL: none) for this process; ctx is passed back. */
void mpc_share_set_open_tap(mpc_share_tap_fn fn, void *ctx);

#endif
