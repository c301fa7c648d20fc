/* Helpers shared by the loopback tests (see cluster.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first */
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "tests/support/cluster.h"

void cluster_fill_random(void *buf, size_t bytes, unsigned seed) {
	uint8_t *b = buf;
	srand(seed);
	for (size_t i = 0; i < bytes; i++)
		b[i] = (uint8_t)rand();
}

mpc_i128 cluster_get_s(mpc_ring r, const uint8_t *buf, size_t i) {
	if (r == MPC_Z64) {
		int64_t v;
		memcpy(&v, buf + 8 * i, 8);
		return v;
	}
	mpc_i128 v;
	memcpy(&v, buf + 16 * i, 16);
	return v;
}

mpc_u128 cluster_get_u(mpc_ring r, const uint8_t *buf, size_t i) {
	if (r == MPC_Z64) {
		uint64_t v;
		memcpy(&v, buf + 8 * i, 8);
		return v;
	}
	mpc_u128 v;
	memcpy(&v, buf + 16 * i, 16);
	return v;
}

void cluster_expect_ok(const mpc_local_result *res, int nodes) {
	for (int i = 0; i < nodes; i++) {
		if (res[i].err != MPC_OK || !res[i].exited || res[i].exit_code != 0)
			print_error("node %d: exit %d, %s: %s\n", i, res[i].exit_code,
			            mpc_strerror(res[i].err), res[i].detail);
		assert_int_equal(res[i].err, MPC_OK);
		assert_int_equal(res[i].exit_code, 0);
	}
}
