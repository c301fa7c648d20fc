/* Node lists, session ids, and the exit codes of the programs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first */
#include <cmocka.h>

#include <string.h>

#include "net/mpc_nodes.h"
#include "net/mpc_peer.h"

static void test_parse(void **s) {
	(void)s;
	mpc_nodes n;
	assert_int_equal(mpc_nodes_parse(&n, "tcp://127.0.0.1:7000,ipc:///tmp/a,tcp://h:1", 1),
	                 MPC_OK);
	assert_int_equal(n.n, 3);
	assert_int_equal(n.n_parties, 2);
	assert_int_equal(n.dealer, 2);
	assert_string_equal(n.addrs[1], "ipc:///tmp/a");
	assert_string_equal(n.names[0], "party 0");
	assert_string_equal(n.names[2], "dealer");
	mpc_nodes_fini(&n);
	assert_int_equal(mpc_nodes_parse(&n, "tcp://a:1,tcp://b:2", 0), MPC_OK);
	assert_int_equal(n.dealer, -1);
	assert_int_equal(n.n_parties, 2);
	mpc_nodes_fini(&n);
}

static void test_bad(void **s) {
	(void)s;
	mpc_nodes n;
	assert_int_equal(mpc_nodes_parse(&n, "tcp://a:1", 0), MPC_ECONFIG);
	assert_int_equal(mpc_nodes_parse(&n, "tcp://a:1,tcp://b:2", 1), MPC_ECONFIG);
	assert_int_equal(mpc_nodes_parse(&n, "tcp://a:1,http://b:2", 0), MPC_ECONFIG);
	assert_non_null(strstr(mpc_error_detail(), "address 2"));
	assert_int_equal(mpc_nodes_parse(&n, "tcp://a:1,tcp://b:99999", 0), MPC_ECONFIG);
	assert_int_equal(mpc_nodes_parse(&n, "tcp://a:1,tcp://b", 0), MPC_ECONFIG);
	assert_int_equal(mpc_nodes_parse(&n, "tcp://a:1,,tcp://b:3", 0), MPC_ECONFIG);
	assert_int_equal(mpc_nodes_parse(&n, "", 0), MPC_ECONFIG);
}

static void test_loopback(void **s) {
	(void)s;
	mpc_nodes n;
	assert_int_equal(mpc_nodes_loopback(&n, 3, 1, 9000), MPC_OK);
	assert_int_equal(n.n, 4);
	assert_string_equal(n.addrs[3], "tcp://127.0.0.1:9003");
	mpc_nodes_fini(&n);
	assert_int_equal(mpc_nodes_loopback(&n, 3, 1, 65534), MPC_ECONFIG);
}

static void test_session(void **s) {
	(void)s;
	uint8_t a[MPC_SESSION_BYTES], b[MPC_SESSION_BYTES], c[MPC_SESSION_BYTES];
	assert_int_equal(mpc_session_derive(a, "job-1"), MPC_OK);
	assert_int_equal(mpc_session_derive(b, "job-1"), MPC_OK);
	assert_int_equal(mpc_session_derive(c, "job-2"), MPC_OK);
	assert_memory_equal(a, b, sizeof(a));
	assert_memory_not_equal(a, c, sizeof(a));
}

static void test_exit_codes(void **s) {
	(void)s;
	assert_int_equal(mpc_exit_code(MPC_OK), 0);
	assert_int_equal(mpc_exit_code(MPC_ECONFIG), MPC_EXIT_USAGE);
	assert_int_equal(mpc_exit_code(MPC_ERANGE), MPC_EXIT_INPUT);
	assert_int_equal(mpc_exit_code(MPC_ETIMEDOUT), MPC_EXIT_NET);
	assert_int_equal(mpc_exit_code(MPC_EPROTO), MPC_EXIT_PROTO);
	assert_int_equal(mpc_exit_code(MPC_EPEER), MPC_EXIT_ABORTED);
	assert_int_equal(mpc_exit_code(MPC_ENOMEM), MPC_EXIT_INTERNAL);
	assert_int_equal(mpc_exit_code(MPC_ECRYPTO), MPC_EXIT_CRYPTO);
}

int main(void) {
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),      cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_loopback),   cmocka_unit_test(test_session),
	    cmocka_unit_test(test_exit_codes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
