/* mpc-dealer: the trusted dealer, an independent crypto provider that hands
 * out Beaver triples, truncation pairs, random shared bits and bit triples
 * (see protocols/preproc/mpc_dealer.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/mpc_peer.h"
#include "protocols/preproc/mpc_dealer.h"

static void usage(FILE *out) {
	fprintf(out,
	        "usage: mpc-dealer --nodes A0,...,AN-1,DEALER --dealer --session JOB "
	        "[options]\n\n"
	        "Serves the parties' preprocessing until the last party closes the "
	        "session.\nThe dealer is trusted with every secret: run it at an "
	        "independent provider.\n\noptions:\n%s"
	        "  --idle-timeout SEC     give up when no request comes for this long "
	        "(default 600)\n",
	        mpc_peer_usage);
}

int main(int argc, char **argv) {
	mpc_peer_opts o;
	mpc_net *net = NULL;
	double idle_s = 600;
	uint64_t served = 0;
	mpc_err err;

	mpc_peer_opts_init(&o);
	for (int i = 1; i < argc; i++) {
		int r = mpc_peer_opt(&o, argc, argv, &i);
		if (r < 0)
			return MPC_EXIT_USAGE;
		if (r > 0)
			continue;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--idle-timeout") == 0 && i + 1 < argc) {
			idle_s = strtod(argv[++i], NULL);
			if (!(idle_s > 0)) {
				fprintf(stderr, "--idle-timeout: expected seconds\n");
				return MPC_EXIT_USAGE;
			}
			continue;
		}
		fprintf(stderr, "mpc-dealer: unknown option '%s' (see --help)\n", argv[i]);
		return MPC_EXIT_USAGE;
	}
	mpc_log_init("dealer", o.level, NULL);
	if ((err = mpc_peer_opts_finish(&o, "dealer")) != MPC_OK) {
		fprintf(stderr, "mpc-dealer: %s\n", mpc_error_detail());
		mpc_peer_opts_fini(&o);
		return MPC_EXIT_USAGE;
	}
	if ((err = mpc_peer_open(&o, &net)) != MPC_OK) {
		int code = mpc_peer_fail(NULL, err, "connecting");
		mpc_peer_opts_fini(&o);
		return code;
	}
	err = mpc_dealer_serve(net, o.parsed.n_parties, (int)(idle_s * 1000), &served);
	if (err != MPC_OK) {
		int code = mpc_peer_fail(net, err, "serving preprocessing");
		mpc_peer_opts_fini(&o);
		return code;
	}
	mpc_net_close(net);
	mpc_peer_opts_fini(&o);
	return 0;
}
