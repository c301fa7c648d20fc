/* Small helpers the loopback tests share around mpc_local clusters: the
 * deterministic inputs, ring elements of a byte buffer as 128-bit integers,
 * and the check that every node of a run ended well. */
#ifndef MPC_TEST_CLUSTER_H
#define MPC_TEST_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/mpc_ring.h"
#include "tests/support/mpc_local.h"

/* bytes pseudo-random bytes into buf: srand(seed), then one rand() a byte. */
void cluster_fill_random(void *buf, size_t bytes, unsigned seed);

/* Element i of buf (8 or 16 bytes an element, by ring r) as a signed or an
 * unsigned 128-bit integer (Z_2^64: sign- or zero-extended). */
mpc_i128 cluster_get_s(mpc_ring r, const uint8_t *buf, size_t i);
mpc_u128 cluster_get_u(mpc_ring r, const uint8_t *buf, size_t i);

/* cmocka asserts that nodes 0..nodes-1 of a run returned MPC_OK and exited
 * 0, printing "node I: exit C, ERR: DETAIL" for any that did not. */
void cluster_expect_ok(const mpc_local_result *res, int nodes);

#endif
