/* Common options and failure handling of the command-line nodes. */
#include "net/mpc_peer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char mpc_peer_usage[] =
    "  --party I              this node's index in --nodes (0-based)\n"
    "  --nodes A0,A1,...      every node's address: tcp://HOST:PORT or ipc:///PATH,\n"
    "                         the parties first, then the dealer's with --dealer\n"
    "  --dealer               the last address is the dealer's\n"
    "  --session JOB          the same fresh string at every node of one run\n"
    "  --timeout SEC          per-round deadline (default 30)\n"
    "  --connect-timeout SEC  how long to wait for late peers (default 60)\n"
    "  --log-level LEVEL      debug, info, warn, error (default info)\n"
    "  --insecure-plaintext   required: these programs talk without TLS, for loopback\n"
    "                         only (mpc-party is the one with TLS)\n";

int mpc_exit_code(mpc_err e) {
	switch (e) {
	case MPC_OK:
		return MPC_EXIT_OK;
	case MPC_EINVAL:
	case MPC_ECONFIG:
	case MPC_EREFUSED:
		return MPC_EXIT_USAGE;
	case MPC_ERANGE:
	case MPC_EIO:
		return MPC_EXIT_INPUT;
	case MPC_ENET:
	case MPC_ETIMEDOUT:
	case MPC_ECLOSED:
		return MPC_EXIT_NET;
	case MPC_EPROTO:
	case MPC_ECHEAT:
		return MPC_EXIT_PROTO;
	case MPC_EPEER:
		return MPC_EXIT_ABORTED;
	case MPC_ECRYPTO:
		return MPC_EXIT_CRYPTO;
	case MPC_ESTOPPED:
		return MPC_EXIT_STOPPED;
	default:
		return MPC_EXIT_INTERNAL;
	}
}

void mpc_peer_opts_init(mpc_peer_opts *o) {
	memset(o, 0, sizeof(*o));
	o->id = -1;
	o->timeout_s = MPC_NET_DEFAULT_TIMEOUT_MS / 1000.0;
	o->connect_s = MPC_NET_DEFAULT_CONNECT_TIMEOUT_MS / 1000.0;
	o->level = MPC_LOG_INFO;
	o->parsed.dealer = -1;
}

static int seconds(const char *opt, const char *v, double *out) {
	char *end;
	double d = v ? strtod(v, &end) : 0;
	if (v == NULL || *end != '\0' || !(d > 0 && d <= 86400)) {
		fprintf(stderr, "%s: expected seconds between 0 and 86400\n", opt);
		return -1;
	}
	*out = d;
	return 1;
}

int mpc_peer_opt(mpc_peer_opts *o, int argc, char **argv, int *i) {
	const char *a = argv[*i];
	const char *v = *i + 1 < argc ? argv[*i + 1] : NULL;
	int takes = strcmp(a, "--party") == 0 || strcmp(a, "--nodes") == 0 ||
	            strcmp(a, "--session") == 0 || strcmp(a, "--timeout") == 0 ||
	            strcmp(a, "--connect-timeout") == 0 || strcmp(a, "--log-level") == 0;
	if (strcmp(a, "--dealer") == 0) {
		o->with_dealer = 1;
		return 1;
	}
	if (strcmp(a, "--insecure-plaintext") == 0) {
		o->insecure = 1;
		return 1;
	}
	if (!takes)
		return 0;
	if (v == NULL) {
		fprintf(stderr, "%s: needs a value\n", a);
		return -1;
	}
	(*i)++;
	if (strcmp(a, "--party") == 0) {
		char *end;
		long id = strtol(v, &end, 10);
		if (*end != '\0' || id < 0 || id >= MPC_NET_MAX_NODES) {
			fprintf(stderr, "--party: expected a node index from 0\n");
			return -1;
		}
		o->id = (int)id;
	} else if (strcmp(a, "--nodes") == 0) {
		o->nodes = v;
	} else if (strcmp(a, "--session") == 0) {
		o->job = v;
	} else if (strcmp(a, "--timeout") == 0) {
		return seconds(a, v, &o->timeout_s);
	} else if (strcmp(a, "--connect-timeout") == 0) {
		return seconds(a, v, &o->connect_s);
	} else if (mpc_log_level_parse(v, &o->level) != MPC_OK) {
		fprintf(stderr, "--log-level: expected debug, info, warn or error\n");
		return -1;
	}
	return 1;
}

mpc_err mpc_peer_opts_finish(mpc_peer_opts *o, const char *self) {
	mpc_err err;
	if (!o->insecure)
		return mpc_error(MPC_ECONFIG,
		                 "this program has no TLS: shares would travel in "
		                 "clear. Confirm with --insecure-plaintext (loopback only), or use "
		                 "mpc-party with a job file");
	if (o->nodes == NULL)
		return mpc_error(MPC_ECONFIG, "--nodes is required");
	if (o->job == NULL)
		return mpc_error(MPC_ECONFIG, "--session is required (the same fresh string at "
		                              "every node)");
	if ((err = mpc_nodes_parse(&o->parsed, o->nodes, o->with_dealer)) != MPC_OK)
		return err;
	if (strcmp(self, "dealer") == 0) {
		if (o->parsed.dealer < 0)
			return mpc_error(MPC_ECONFIG, "the dealer needs --dealer (its address last "
			                              "in --nodes)");
		if (o->id < 0)
			o->id = o->parsed.dealer;
		if (o->id != o->parsed.dealer)
			return mpc_error(MPC_ECONFIG,
			                 "--party %d: the dealer is node %d (the last "
			                 "address)",
			                 o->id, o->parsed.dealer);
	} else if (o->id < 0 || o->id >= o->parsed.n_parties) {
		return mpc_error(MPC_ECONFIG, "--party must be between 0 and %d",
		                 o->parsed.n_parties - 1);
	}
	return MPC_OK;
}

mpc_err mpc_peer_open(const mpc_peer_opts *o, mpc_net **net) {
	mpc_net_config cfg = {
	    .id = o->id,
	    .n_nodes = o->parsed.n,
	    .addrs = (const char *const *)o->parsed.addrs,
	    .names = (const char *const *)o->parsed.names,
	    .timeout_ms = (int)(o->timeout_s * 1000),
	    .connect_timeout_ms = (int)(o->connect_s * 1000),
	};
	mpc_err err = mpc_session_derive(cfg.session, o->job);
	if (err != MPC_OK)
		return err;
	mpc_warn("INSECURE: plaintext links (--insecure-plaintext): anyone who can read the "
	         "traffic learns every input");
	mpc_info("%s of %d parties%s, listening on %s", o->parsed.names[o->id], o->parsed.n_parties,
	         o->parsed.dealer >= 0 ? " and a dealer" : "", o->parsed.addrs[o->id]);
	return mpc_net_open(net, &cfg);
}

void mpc_peer_opts_fini(mpc_peer_opts *o) {
	mpc_nodes_fini(&o->parsed);
}

int mpc_peer_fail(mpc_net *net, mpc_err err, const char *what) {
	const char *d = mpc_error_detail();
	char reason[512];
	snprintf(reason, sizeof(reason), "%s: %s%s%s", what, mpc_strerror(err), *d ? ": " : "", d);
	mpc_logerr("%s", reason);
	/* a peer's abort or a dead peer: tell the others anyway, they may be waiting */
	if (net)
		mpc_net_abort(net, err, reason);
	return mpc_exit_code(err);
}
