/* A full mesh of forked mpc_net nodes for the net/ tests (test_net,
 * test_tls): the parent forks one child per node, each child runs a body
 * that fills a report, writes it back through a pipe and leaves with _exit;
 * the parent collects the reports and asserts on them. Children never call
 * cmocka asserts: they record failed checks with NODES_CHECK. Also the
 * deterministic data the bodies send and check, and the common bodies. */
#ifndef MPC_TEST_NODES_H
#define MPC_TEST_NODES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "net/mpc_net.h"
#include "runtime/mpc_err.h"

#define NODES_MAX 8

/* What one node reports to the parent. */
typedef struct {
	int reported;
	mpc_err err; /* what the node ended with */
	int ok;      /* its data checks passed */
	double secs; /* what the node timed (body-specific) */
	uint64_t val[4];
	char detail[700];
	char note[200]; /* the failed check */
} nodes_report;

/* A body: runs in node id's child and fills r (reported and ok are set). */
typedef void (*nodes_body_fn)(int id, nodes_report *r);

/* How a body opens its node (the test's own settings on top of
 * nodes_net_config); nodes_body_mesh and nodes_body_big call it. */
typedef mpc_err (*nodes_open_fn)(int id, mpc_net **net);

/* What one run looks like; bodies read it (the children inherit it). */
typedef struct {
	int n;
	int tcp; /* tcp://127.0.0.1 on free ports; else ipc:// in /tmp */
	int timeout_ms, connect_timeout_ms;
	size_t chunk;
	uint64_t absent; /* nodes never started */
	int arg;         /* body-specific */
	int reps;        /* nodes_body_big: timed repetitions */
	const char *tag; /* names the ipc files and the log switch MPC_TEST_<TAG>_LOG */
	nodes_open_fn open;
	int ports[NODES_MAX];
	char addr[NODES_MAX][128];
	const char *addrs[NODES_MAX];
	const char *names[NODES_MAX]; /* "party 0", "party 1", ... */
	char name_buf[NODES_MAX][24];
} nodes_mesh;

/* The current run (one per test binary). */
extern nodes_mesh nodes;

/* The 54 bytes of a wire header in the clear (net/mpc_wire.h), for raw
 * nanomsg peers and outsiders: magic (0: ours), version, type, sender,
 * receiver, session (NULL: the harness's), step, total length, offset,
 * payload length. Returns NODES_WIRE_HDR. */
#define NODES_WIRE_HDR 54
size_t nodes_wire_hdr(uint8_t *b, uint32_t magic, uint8_t version, uint8_t type, uint16_t from,
                      uint16_t to, const uint8_t *session, uint64_t step, uint64_t total,
                      uint64_t offset, uint32_t plen);

/* Start a run of n nodes: everything zero but timeouts of 5 s per round and
 * 10 s to connect; tag ("net", "tls") and open as described above. */
void nodes_setup(int n, const char *tag, nodes_open_fn open);

/* Fork one child per node (but the absent ones), each running body under a
 * watchdog of watchdog_s, and collect their reports into out[0..n-1] (all
 * zero for a node that reported nothing); prints one line per report. */
void nodes_run(nodes_body_fn body, nodes_report *out, unsigned watchdog_s);

/* Record a failed check (the first one) in r; for the children. */
#define NODES_CHECK(r, cond)                                                                       \
	do {                                                                                       \
		if (!(cond) && (r)->ok) {                                                          \
			(r)->ok = 0;                                                               \
			snprintf((r)->note, sizeof((r)->note), "line %d: %s", __LINE__, #cond);    \
		}                                                                                  \
	} while (0)

/* The common part of node id's configuration: addresses, names, timeouts,
 * chunk and the session id every node shares. */
void nodes_net_config(int id, mpc_net_config *cfg);

/* Record how the node ended, then close (or abort after an error). */
void nodes_finish(mpc_net *net, nodes_report *r, mpc_err err);

/* Write all of buf (retrying on EINTR): 0, or -1 on an error. */
int nodes_write_all(int fd, const void *buf, size_t len);

/* Read up to len bytes (retrying on EINTR) until end of file or an error;
 * returns how many arrived. */
size_t nodes_read_all(int fd, void *buf, size_t len);

/* Monotonic seconds. */
double nodes_now(void);

/* The value of environment variable name if a positive integer, else dflt. */
int nodes_env_int(const char *name, int dflt);

/* A 64-bit mixer (splitmix64's finaliser). */
uint64_t nodes_mix(uint64_t x);

/* The seed of what `from` sends `to` in `round` of a test (salt: which). */
uint64_t nodes_key(int round, int from, int to, int salt);

/* Fill b with len bytes determined by seed. */
void nodes_fill(uint8_t *b, size_t len, uint64_t seed);

/* How many bytes of b differ from what nodes_fill(., len, seed) writes
 * (len + 1 if out of memory). */
size_t nodes_count_diff(const uint8_t *b, size_t len, uint64_t seed);

/* Every node of the run reported MPC_OK with its checks passed (parent). */
void nodes_expect_all_ok(const nodes_report *res);

/* r's detail contains what (parent; prints the detail if not). */
void nodes_has(const nodes_report *r, const char *what);

/* Six all-to-all rounds of random lengths (some zero, one of 3 MB) checked
 * byte for byte; val[0] = bytes sent, val[1] = payload. */
void nodes_body_mesh(int id, nodes_report *r);

/* One all-to-all round of nodes.arg MB per link, timed nodes.reps times
 * after a synchronising broadcast each; secs = the best; data checked. */
void nodes_body_big(int id, nodes_report *r);

/* What node 1 does after a good round in the failure tests (via nodes.arg),
 * besides an mpc_net_fault. */
enum { NODES_BAD_STALL = 100, NODES_BAD_KILL, NODES_BAD_ABORT, NODES_BAD_CLOSE };

/* Misbehave as mode says: stall past everyone's deadline, die by SIGKILL,
 * abort ("MAC check failed\001 at gate 7\n") or close, after which the body
 * returns at once (1, with r->err = MPC_OK); or arm the mpc_net_fault mode
 * for the next message to every other node (0). */
int nodes_misbehave(mpc_net *net, nodes_report *r, int mode);

/* After node 1 misbehaved (parent): every other node reported, passed its
 * checks, names party 1, took less than max_s, and ended with want or also
 * (then its detail contains must, unless NULL) or heard a peer's abort
 * (MPC_EPEER); at least one ended with want or also. */
void nodes_expect_bad(const nodes_report *res, mpc_err want, mpc_err also, const char *must,
                      double max_s);

#endif
