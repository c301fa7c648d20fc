/* Faults: a party killed mid-protocol, a party that stalls past the
 * deadline, a party that sends a truncated, wrong-step, replayed or
 * wrong-session message. The others must end with the right error, naming
 * the peer, within timeout + 5 s, and nothing may crash or hang. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first */
#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "net/mpc_net_fault.h"
#include "protocols/core/mpc_beaver.h"
#include "protocols/core/mpc_share.h"
#include "tests/support/mpc_local.h"

#define TIMEOUT_MS 2000
#define N          1000
#define BAD        1 /* the misbehaving party */

typedef enum { KILL, STALL, INJECT } mode;
static struct {
	mode m;
	mpc_net_fault fault;
} plan;

static mpc_err body(mpc_party *p, void *arg) {
	uint64_t x[N], y[N], z[N];
	mpc_err err;
	(void)arg;
	for (size_t i = 0; i < N; i++)
		x[i] = i, y[i] = 3 * i;
	/* one good round first, so the fault is mid-protocol */
	if ((err = mpc_beaver_mul(p, MPC_Z64, x, y, z, N)) != MPC_OK)
		return err;
	if (mpc_party_id(p) == BAD) {
		if (plan.m == KILL)
			raise(SIGKILL);
		if (plan.m == STALL)
			sleep(TIMEOUT_MS / 1000 + 3);
		if (plan.m == INJECT)
			for (int j = 0; j < mpc_party_size(p); j++)
				if (j != BAD)
					mpc_net_set_fault(mpc_party_net(p), j, plan.fault);
	}
	return mpc_beaver_mul(p, MPC_Z64, x, y, z, N);
}

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Run 3 parties + dealer; every honest party must fail with one of the
 * accepted errors and name party BAD (or report that a peer aborted). */
static void run_fault(mpc_err want, mpc_err also) {
	mpc_local_config cfg = {.n_parties = 3,
	                        .with_dealer = 1,
	                        .use_tcp = 0,
	                        .timeout_ms = TIMEOUT_MS,
	                        .watchdog_s = 40};
	mpc_local_result res[4];
	double t0 = now();
	assert_int_equal(mpc_local_run(&cfg, body, NULL, res), MPC_OK);
	double took = now() - t0;
	int named = 0;
	for (int i = 0; i < 4; i++) {
		print_message("  node %d: exit %d, %s: %s\n", i, res[i].exit_code,
		              mpc_strerror(res[i].err), res[i].detail);
		if (i == BAD) {
			if (plan.m == KILL)
				assert_false(res[i].exited);
			continue;
		}
		/* no crash: every other node exited by itself, with an error */
		assert_true(res[i].exited);
		assert_int_not_equal(res[i].err, MPC_OK);
		assert_int_not_equal(res[i].exit_code, 0);
		if (res[i].err == want || res[i].err == also) {
			assert_non_null(strstr(res[i].detail, "party 1"));
			named++;
		} else {
			/* the others may instead hear a peer's abort */
			assert_int_equal(res[i].err, MPC_EPEER);
		}
	}
	assert_true(named >= 1);
	/* every node ended within the deadline plus 5 s (plus set-up) */
	assert_true(took < TIMEOUT_MS / 1000.0 + 5 + 3);
	mpc_local_results_fini(res, 4);
}

static void test_killed(void **s) {
	(void)s;
	plan.m = KILL;
	run_fault(MPC_ETIMEDOUT, MPC_ENET);
}

static void test_stalled(void **s) {
	(void)s;
	plan.m = STALL;
	run_fault(MPC_ETIMEDOUT, MPC_ETIMEDOUT);
}

static void inject(mpc_net_fault f) {
	plan.m = INJECT;
	plan.fault = f;
	run_fault(MPC_EPROTO, MPC_EPROTO);
}

static void test_truncated(void **s) {
	(void)s;
	inject(MPC_FAULT_TRUNCATE);
}
static void test_wrong_step(void **s) {
	(void)s;
	inject(MPC_FAULT_WRONG_STEP);
}
static void test_replayed(void **s) {
	(void)s;
	inject(MPC_FAULT_REPLAY);
}
static void test_wrong_session(void **s) {
	(void)s;
	inject(MPC_FAULT_WRONG_SESSION);
}

int main(void) {
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_killed),    cmocka_unit_test(test_stalled),
	    cmocka_unit_test(test_truncated), cmocka_unit_test(test_wrong_step),
	    cmocka_unit_test(test_replayed),  cmocka_unit_test(test_wrong_session),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
