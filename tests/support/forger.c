/* The outsider and its tap: see forger.h. */
#include "tests/support/forger.h"

#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/support/mitm.h"
#include "tests/support/nodes.h"
#include "tests/support/party.h"

#define MAX_CAUGHT 512

enum { T_HELLO = 1, T_DATA, T_BYE, T_ABORT, T_KEEPALIVE, T_TLS, T_SEC };

static volatile sig_atomic_t stop;

static void on_term(int sig) {
	(void)sig;
	stop = 1;
}

static void put(uint8_t *b, uint64_t v, int bytes) {
	for (int i = 0; i < bytes; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

/* A message in the clear, as a node of the job would send it. */
static size_t clear_msg(uint8_t *b, const forger_spec *fs, int type, int from, int to,
                        uint64_t step, const char *payload) {
	size_t plen = payload ? strlen(payload) : 0;
	nodes_wire_hdr(b, 0, 1, (uint8_t)type, (uint16_t)from, (uint16_t)to, fs->session, step,
	               type == T_HELLO ? (uint64_t)fs->n : plen, 0, (uint32_t)plen);
	memcpy(b + NODES_WIRE_HDR, payload ? payload : "", plen);
	return NODES_WIRE_HDR + plen;
}

/* A frame that looks sealed or like handshake records: a real header
 * claiming `from`, then junk. */
static size_t junk_frame(uint8_t *b, int type, int from, int to, uint64_t counter, size_t len) {
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)rand();
	put(b, 0x3143504du, 4);
	b[4] = 1;
	b[5] = (uint8_t)type;
	put(b + 6, (uint64_t)from, 2);
	put(b + 8, (uint64_t)to, 2);
	if (type == T_SEC) {
		put(b + 10, counter, 8);
	} else { /* handshake attempt `counter`, an application data record */
		put(b + 10, counter, 2);
		memcpy(b + 12, "\x17\x03\x03\x00\x40", 5);
	}
	return len;
}

static int all_up(const forger_spec *fs) {
	for (int i = 0; i < fs->n_logs; i++)
		if (strstr(party_slurp(fs->logs[i]), fs->marker) == NULL)
			return 0;
	return 1;
}

static int run(const forger_spec *fs) {
	static uint8_t b[70000], *caught[MAX_CAUGHT];
	static size_t caught_len[MAX_CAUGHT];
	int sock[FORGER_MAX], n_caught = 0, ms = 50, ivl = 2;
	long setup_sent = 0, run_sent = 0;

	for (int t = 0; t < fs->n; t++) {
		char addr[64];
		snprintf(addr, sizeof(addr), "tcp://127.0.0.1:%d", fs->ports[t]);
		sock[t] = nn_socket(AF_SP, NN_PUSH);
		/* retry the connection often: the nodes are not up yet */
		if (sock[t] < 0 ||
		    nn_setsockopt(sock[t], NN_SOL_SOCKET, NN_SNDTIMEO, &ms, sizeof(ms)) < 0 ||
		    nn_setsockopt(sock[t], NN_SOL_SOCKET, NN_RECONNECT_IVL, &ivl, sizeof(ivl)) <
		        0 ||
		    nn_setsockopt(sock[t], NN_SOL_SOCKET, NN_RECONNECT_IVL_MAX, &ivl, sizeof(ivl)) <
		        0 ||
		    nn_connect(sock[t], addr) < 0)
			return 1;
	}
	srand((unsigned)getpid());
	/* set-up: hellos and aborts in the clear, claiming every sender, and
	 * now and then junk handshake records of the first attempts */
	for (int round = 0; !stop && !all_up(fs); round++) {
		if (round % 20 == 0)
			for (int t = 0; t < fs->n; t++)
				for (int c = 0; c < fs->n; c++) {
					size_t len =
					    junk_frame(b, T_TLS, c, t, (uint64_t)(round / 20 % 3),
					               12 + 5 + 64);
					setup_sent += nn_send(sock[t], b, len, NN_DONTWAIT) > 0;
				}
		for (int t = 0; t < fs->n; t++)
			for (int c = 0; c <= fs->n; c++) {
				static const int types[] = {T_HELLO, T_ABORT, T_DATA, T_BYE,
				                            T_KEEPALIVE};
				for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++) {
					size_t len =
					    clear_msg(b, fs, types[k], c, t, types[k] == T_DATA,
					              types[k] == T_ABORT  ? "forged abort"
					              : types[k] == T_DATA ? "12345678"
					                                   : NULL);
					setup_sent += nn_send(sock[t], b, len, NN_DONTWAIT) > 0;
				}
			}
		usleep(1000);
	}
	/* the job runs: junk of every kind, and replays */
	while (!stop) {
		ssize_t r;
		while (fs->tap_fd >= 0 && n_caught < MAX_CAUGHT &&
		       (r = recv(fs->tap_fd, b, sizeof(b), MSG_DONTWAIT)) > 0) {
			if ((caught[n_caught] = malloc((size_t)r)) == NULL)
				break;
			memcpy(caught[n_caught], b, (size_t)r);
			caught_len[n_caught++] = (size_t)r;
		}
		for (int t = 0; t < fs->n; t++) {
			for (int c = 0; c <= fs->n; c++) {
				static const uint64_t counters[] = {0, 1,   2,    3,
				                                    7, 100, 1000, UINT64_MAX};
				uint64_t ctr = counters[rand() % 8];
				size_t len = junk_frame(b, T_SEC, c, t, ctr,
				                        18 + 54 + 16 + (size_t)(rand() % 200));
				run_sent += nn_send(sock[t], b, len, NN_DONTWAIT) > 0;
				len =
				    junk_frame(b, T_TLS, c, t, (uint64_t)(rand() % 4), 12 + 5 + 64);
				run_sent += nn_send(sock[t], b, len, NN_DONTWAIT) > 0;
				len = clear_msg(b, fs, c % 2 ? T_ABORT : T_HELLO, c, t, 0,
				                c % 2 ? "forged" : NULL);
				run_sent += nn_send(sock[t], b, len, NN_DONTWAIT) > 0;
			}
			size_t len = 1 + (size_t)(rand() % 300);
			for (size_t i = 0; i < len; i++)
				b[i] = (uint8_t)rand();
			run_sent += nn_send(sock[t], b, len, NN_DONTWAIT) > 0;
			for (int i = 0; i < n_caught; i++)
				run_sent +=
				    nn_send(sock[t], caught[i], caught_len[i], NN_DONTWAIT) > 0;
		}
		usleep(3000);
	}
	for (int t = 0; t < fs->n; t++)
		nn_close(sock[t]);
	fprintf(stderr, "forger: %ld frames at set-up, %ld while the job ran, %d replayed\n",
	        setup_sent, run_sent, n_caught);
	return setup_sent > 0 && run_sent > 0 && (fs->tap_fd < 0 || n_caught > 0) ? 0 : 1;
}

pid_t forger_start(const forger_spec *fs) {
	pid_t pid = fork();
	if (pid == 0) {
		struct sigaction sa = {.sa_handler = on_term};
		sigaction(SIGTERM, &sa, NULL);
		_exit(run(fs));
	}
	return pid;
}

pid_t forger_tap_start(int listen_port, int target_port, int *tap_fd) {
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) != 0)
		return -1;
	int big = 4 << 20;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	pid_t pid = mitm_tap_start(listen_port, target_port, sv[0]);
	close(sv[0]);
	if (pid < 0) {
		close(sv[1]);
		return -1;
	}
	*tap_fd = sv[1];
	return pid;
}
