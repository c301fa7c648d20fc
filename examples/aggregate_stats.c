/* aggregate_stats: merchants compute the joint count, total, mean and
 * variance of their transaction amounts and the joint fraud rate, without
 * showing each other their transactions. The computation, and what it
 * reveals, is in protocols/apps/mpc_stats.h; this is its command-line front end
 * for nodes given by address (mpc-party runs the same from a job file). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/mpc_agg_io.h"
#include "jobs/mpc_csv.h"
#include "net/mpc_peer.h"
#include "protocols/apps/mpc_stats.h"
#include "protocols/preproc/mpc_dealer.h"

static void usage(FILE *out) {
	fprintf(out,
	        "usage: aggregate_stats --party I --nodes A0,A1,... --session JOB --input FILE.csv "
	        "[options]\n\n"
	        "Joint count, total, mean, variance of amounts and fraud rate over every "
	        "party's\ntransactions (CSV with columns amount,fraud,category).\n\noptions:\n%s"
	        "  --input FILE           this party's transactions\n"
	        "  --output FILE          write the results as CSV (statistic,value), atomically\n"
	        "  --frac F               fixed-point fractional bits (default 16)\n"
	        "  --max-amount A         largest |amount| allowed (default 1000000)\n"
	        "  --max-rows R           most rows a party may have (default 1000000)\n",
	        mpc_peer_usage);
}

typedef struct {
	const char *input, *output;
	mpc_stats_params sp;
} opts;

int main(int argc, char **argv) {
	opts op = {0};
	mpc_peer_opts o;
	mpc_txns t = {0};
	mpc_stats_rows rows = {0};
	mpc_net *net = NULL;
	mpc_party *p = NULL;
	mpc_stats_result res;
	mpc_err err;
	int code = 0;

	mpc_stats_params_default(&op.sp);
	mpc_peer_opts_init(&o);
	for (int i = 1; i < argc; i++) {
		int r = mpc_peer_opt(&o, argc, argv, &i);
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (r < 0)
			return MPC_EXIT_USAGE;
		if (r > 0)
			continue;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		}
		char *end = NULL;
		if (strcmp(argv[i], "--input") == 0 && v)
			op.input = v;
		else if (strcmp(argv[i], "--output") == 0 && v)
			op.output = v;
		else if (strcmp(argv[i], "--frac") == 0 && v)
			op.sp.frac = (unsigned)strtoul(v, &end, 10);
		else if (strcmp(argv[i], "--max-amount") == 0 && v)
			op.sp.max_amount = strtod(v, &end);
		else if (strcmp(argv[i], "--max-rows") == 0 && v)
			op.sp.max_rows = strtod(v, &end);
		else {
			fprintf(stderr,
			        "aggregate_stats: unknown option or missing value '%s' "
			        "(see --help)\n",
			        argv[i]);
			return MPC_EXIT_USAGE;
		}
		if (end && *end != '\0') {
			fprintf(stderr, "aggregate_stats: %s: expected a number\n", argv[i]);
			return MPC_EXIT_USAGE;
		}
		i++;
	}
	char who[32];
	snprintf(who, sizeof(who), "party %d", o.id);
	mpc_log_init(who, o.level, NULL);
	err = mpc_peer_opts_finish(&o, "party");
	if (err == MPC_OK && op.input == NULL)
		err = mpc_error(MPC_ECONFIG, "--input is required");
	if (err == MPC_OK)
		err = mpc_stats_check_params(&op.sp, o.parsed.n_parties);
	if (err != MPC_OK) {
		fprintf(stderr, "aggregate_stats: %s\n", mpc_error_detail());
		code = MPC_EXIT_USAGE;
		goto out;
	}
	/* all input is checked before the first byte moves */
	if ((err = mpc_txns_read(op.input, op.sp.max_amount, &t)) == MPC_OK) {
		mpc_stats_rows_from_txns(&t, &rows);
		err = mpc_stats_check_input(&op.sp, &rows, op.input);
	}
	if (err != MPC_OK) {
		code = mpc_peer_fail(NULL, err, "reading input");
		goto out;
	}
	mpc_info("read %zu transactions from %s", t.n, op.input);
	if ((err = mpc_peer_open(&o, &net)) != MPC_OK) {
		code = mpc_peer_fail(NULL, err, "connecting");
		net = NULL;
		goto out;
	}
	if ((err = mpc_party_new(&p, net, o.parsed.n_parties)) != MPC_OK ||
	    (o.parsed.dealer >= 0 && (err = mpc_dealer_connect(p, o.parsed.dealer)) != MPC_OK)) {
		code = mpc_peer_fail(net, err, "setting up");
		net = NULL;
		goto out;
	}
	if (o.parsed.dealer < 0) {
		code = mpc_peer_fail(net,
		                     mpc_error(MPC_ECONFIG, "no preprocessing: give a dealer "
		                                            "(--dealer)"),
		                     "setting up");
		net = NULL;
		goto out;
	}
	if ((err = mpc_stats_run(p, &op.sp, &rows, &res)) != MPC_OK) {
		code = mpc_peer_fail(net, err, "computing");
		net = NULL;
		goto out;
	}
	printf("joint statistics over %d merchants (party %d)\n", o.parsed.n_parties, o.id);
	for (int i = 0; i < MPC_STATS_N; i++)
		printf("  %-11s %.6f\n", mpc_stats_names[i], res.v[i]);
	fflush(stdout);
	if (op.output && (err = mpc_stats_write(op.output, 0, &res)) != MPC_OK) {
		code = mpc_peer_fail(NULL, err, "writing output");
		goto out;
	}
out:
	mpc_party_free(p);
	if (net)
		mpc_net_close(net);
	mpc_txns_fini(&t);
	mpc_peer_opts_fini(&o);
	return code;
}
