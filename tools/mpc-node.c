/* mpc-node: the standing node of a partner (node/mpc_node.h): control links
 * to its consortium's peers, the local HTTP API, jobs by local policy. */
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/mpc_node.h"
#include "runtime/mpc_log.h"

static const char usage_text[] =
    "usage: mpc-node --config NODE.ini [--log-level debug|info|warn|error]\n"
    "\n"
    "Runs this partner's node until SIGTERM or SIGINT: keeps TLS control links to\n"
    "the peers of NODE.ini (pinned certificates, keep-alives), serves the local\n"
    "HTTP API (bearer token) and runs the jobs its policy approves, each as an\n"
    "mpc-party process. See the README's \"The standing node\".\n"
    "\n"
    "exit codes: 0 stopped by SIGTERM or SIGINT (running jobs were ended and\n"
    "their peers told), 1 usage or configuration, 3 cannot listen, 6 internal,\n"
    "7 key or certificate.\n";

static void on_signal(int signo) {
	(void)signo;
	mpc_node_request_stop();
}

static int exit_code(mpc_err e) {
	switch (e) {
	case MPC_ENET:
		return 3;
	case MPC_ECRYPTO:
		return 7;
	case MPC_ENOMEM:
		return 6;
	default:
		return 1;
	}
}

/* mpc-party beside this program. */
static void default_party_program(char *out, size_t cap) {
	char self[512];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		snprintf(out, cap, "mpc-party");
		return;
	}
	self[n] = '\0';
	snprintf(out, cap, "%s/mpc-party", dirname(self));
}

int main(int argc, char **argv) {
	const char *config = NULL, *level = "info";
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage_text, stdout);
			return 0;
		}
		if (i + 1 < argc && strcmp(argv[i], "--config") == 0)
			config = argv[++i];
		else if (i + 1 < argc && strcmp(argv[i], "--log-level") == 0)
			level = argv[++i];
		else {
			fprintf(stderr, "mpc-node: unknown or incomplete argument %s\n%s", argv[i],
			        usage_text);
			return 1;
		}
	}
	mpc_log_level lvl;
	if (config == NULL || mpc_log_level_parse(level, &lvl) != MPC_OK) {
		fprintf(stderr, "mpc-node: %s\n%s",
		        config ? "bad --log-level" : "--config is required", usage_text);
		return 1;
	}
	static mpc_node_cfg cfg;
	mpc_err err = mpc_node_cfg_load(config, &cfg);
	if (err != MPC_OK) {
		fprintf(stderr, "mpc-node: %s\n", mpc_error_detail());
		return exit_code(err);
	}
	if (cfg.party_program[0] == '\0')
		default_party_program(cfg.party_program, sizeof(cfg.party_program));
	char who[64];
	snprintf(who, sizeof(who), "node %s", cfg.name);
	mpc_log_init(who, lvl, NULL);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	mpc_node *n;
	if ((err = mpc_node_start(&cfg, &n)) != MPC_OK) {
		mpc_logerr("cannot start: %s", mpc_error_detail());
		return exit_code(err);
	}
	mpc_node_serve(n);
	mpc_info("stopping: ending running jobs, closing the ledger");
	mpc_node_stop(n);
	mpc_info("stopped");
	return 0;
}
