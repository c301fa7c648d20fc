/* libFuzzer target: the node policy reader (node/mpc_policy). A file that
 * parses must answer every decision (with MPC_OK or a refusal), find each of
 * its datasets by name, resolve quotas, and never show a dataset's conninfo
 * in a message; a file that does not parse leaves nothing behind. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/mpc_kind.h"
#include "node/mpc_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

/* A decision's answer: MPC_OK, or a refusal that shows no conninfo. */
static void answer(const mpc_policy *p, mpc_err e) {
	if (e != MPC_OK && e != MPC_EREFUSED)
		abort();
	if (e == MPC_OK)
		return;
	const char *d = mpc_error_detail();
	if (strncmp(d, "policy of ", 10) != 0)
		abort();
	for (size_t i = 0; i < mpc_policy_dataset_count(p); i++) {
		const mpc_policy_dataset_info *ds = mpc_policy_dataset_at(p, i);
		if (ds->conninfo[0] != '\0' && strstr(d, ds->conninfo) != NULL)
			abort();
	}
}

static void peers(const mpc_policy *p, const char *peer) {
	answer(p, mpc_policy_allow_proposer(p, peer));
	answer(p, mpc_policy_allow_recipient(p, peer));
	answer(p, mpc_policy_allow_asker(p, peer));
	for (size_t k = 0; k < mpc_kind_count(); k++) {
		const char *c = mpc_kind_at(k)->name;
		mpc_policy_quota q;
		answer(p, mpc_policy_allow_computation(p, c));
		if (mpc_policy_quota_get(p, c, peer, &q) != MPC_OK)
			continue; /* not a valid name */
		for (int t = 0; t < MPC_POLICY_N_PERIODS; t++) {
			mpc_err e = mpc_policy_quota_refuse(p, &q, (mpc_policy_period)t);
			if (q.limit[t] == 0 ? e != MPC_EINVAL : e != MPC_EREFUSED)
				abort();
			if (q.limit[t] != 0 && q.line[t] <= 0)
				abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
	mpc_policy *p = NULL;
	static const double dp[][2] = {{0, 0}, {0.5, 0}, {1, 1e-6}, {1e6, 0.5}, {-1, 0}, {1, 1}};

	if (mpc_policy_parse("fuzz.ini", (const char *)data, len, &p) != MPC_OK) {
		if (p != NULL)
			abort(); /* nothing half-made on error */
		return 0;
	}
	const char *node = mpc_policy_node(p);
	if (node == NULL || node[0] == '\0')
		abort();
	peers(p, node);
	peers(p, "merchant1");
	peers(p, "not a name");
	answer(p, mpc_policy_allow_computation(p, "no_such_kind"));
	for (size_t i = 0; i <= mpc_policy_dataset_count(p); i++) {
		const mpc_policy_dataset_info *ds = mpc_policy_dataset_at(p, i), *found = NULL;
		const char *name = ds ? ds->name : "no-such-dataset";
		mpc_err e = mpc_policy_dataset(p, name, &found);
		if (ds ? e != MPC_OK || found != ds : e != MPC_EREFUSED || found != NULL)
			abort();
		if (ds && (ds->source == MPC_POLICY_POSTGRES) != (ds->conninfo[0] != '\0'))
			abort();
		if (ds && !(ds->budget_epsilon > 0 && ds->max_rows >= 1 && ds->max_amount > 0))
			abort();
		for (size_t k = 0; k < sizeof(dp) / sizeof(dp[0]); k++) {
			e = mpc_policy_check_dp(p, name, dp[k][0], dp[k][1]);
			if (k >= 4 && e != MPC_EINVAL) /* not DP parameters */
				abort();
			if (k < 4)
				answer(p, e);
		}
	}
	mpc_policy_free(p);
	return 0;
}
