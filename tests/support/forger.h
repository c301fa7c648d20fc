/* An outsider on loopback, for tests: it knows what partners publish (every
 * node's address and the job's id, hence its session), holds no key, and
 * sends forged frames to every node's port while a real job runs. Also a
 * tap: a relay in front of one node that hands every frame it carries to
 * the forger, which replays them to every node. */
#ifndef MPC_TEST_FORGER_H
#define MPC_TEST_FORGER_H

#include <stdint.h>
#include <sys/types.h>

#define FORGER_MAX 8

typedef struct {
	int n;                 /* nodes of the job */
	int ports[FORGER_MAX]; /* each node's real port on 127.0.0.1 */
	uint8_t session[16];   /* the job's session id */
	int tap_fd;            /* frames captured by forger_tap_start, or -1 */
	/* Set-up phase until every file here holds `marker` (the nodes' logs
	 * once their channels are up): HELLO, ABORT, DATA, BYE and KEEPALIVE
	 * in the clear, claiming every sender, and every 20 ms junk handshake
	 * records of the first attempts. Then, until killed:
	 * sealed frames of junk under every counter range, junk handshake
	 * records, junk bytes, and replays of what the tap caught. */
	const char *logs[FORGER_MAX];
	int n_logs;
	const char *marker;
} forger_spec;

/* Fork the forger; kill it with SIGTERM when done: it exits 0 if it sent
 * frames in both phases, 1 if not. -1 if fork failed. */
pid_t forger_start(const forger_spec *fs);

/* Fork a relay from 127.0.0.1:listen_port to target_port that passes every
 * byte unchanged and also sends each whole nanomsg message it carries
 * (towards the target) as one datagram on *tap_fd (the other end, for
 * forger_spec.tap_fd). Kill it with SIGKILL when done. -1 on failure. */
pid_t forger_tap_start(int listen_port, int target_port, int *tap_fd);

#endif
