/* net/: full meshes of forked nodes over ipc:// and tcp://, early messages,
 * lengths, broadcast masks, and every failure the module must name: wrong
 * session, missing, stalled, killed, aborting, closing and misbehaving peers,
 * hostile bytes. Children report through a pipe and leave with _exit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the four above first */
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>

#include "net/mpc_net.h"
#include "net/mpc_net_fault.h"
#include "tests/support/nodes.h"

/* What one run adds to nodes (tests/support/nodes.h). */
static struct { uint64_t other_session; /* nodes with another session id */ } run;

static mpc_err open_node(int id, mpc_net **net) {
	mpc_net_config cfg;
	nodes_net_config(id, &cfg);
	if (run.other_session >> id & 1)
		cfg.session[5] ^= 0x40;
	return mpc_net_open(net, &cfg);
}

static void setup_run(int n) {
	nodes_setup(n, "net", open_node);
	memset(&run, 0, sizeof(run));
}

static void mesh(int n, size_t chunk, int tcp) {
	nodes_report res[NODES_MAX];
	setup_run(n);
	nodes.chunk = chunk;
	nodes.tcp = tcp;
	nodes_run(nodes_body_mesh, res, 40);
	nodes_expect_all_ok(res);
}

static void test_mesh2(void **s) {
	(void)s;
	mesh(2, 0, 0);
}

static void test_mesh3_small_chunks(void **s) {
	(void)s;
	mesh(3, 4093, 0);
}

static void test_mesh5(void **s) {
	(void)s;
	mesh(5, 65536, 0);
}

static void test_mesh3_tcp(void **s) {
	(void)s;
	mesh(3, 0, 1);
}

static void big(int mb, int tcp) {
	nodes_report res[NODES_MAX];
	setup_run(3);
	nodes.tcp = tcp;
	nodes.arg = mb;
	nodes.reps = 1;
	nodes_run(nodes_body_big, res, 50);
	nodes_expect_all_ok(res);
	double worst = 0;
	for (int i = 0; i < nodes.n; i++)
		if (res[i].secs > worst)
			worst = res[i].secs;
	print_message("    3 nodes over %s, %d MB per link: %.2f s, %.0f MB/s per link, %.0f MB/s "
	              "in all\n",
	              tcp ? "tcp" : "ipc", mb, worst, mb / worst, 6 * mb / worst);
}

static void test_big_ipc(void **s) {
	(void)s;
	big(nodes_env_int("MPC_TEST_NET_MB", 50), 0);
}

static void test_big_tcp(void **s) {
	(void)s;
	big(nodes_env_int("MPC_TEST_NET_TCP_MB", 16), 1);
}

/* Node 0 runs several steps ahead of node 1, which is busy with node 2;
 * node 1 then takes the messages in order, one of them bigger than a chunk. */
#define EARLY_MSGS 6
static size_t early_len(int k) {
	return k == 2 ? 1000000 : (size_t)(100 + 37 * k);
}

static void body_early(int id, nodes_report *r) {
	mpc_net *net = NULL;
	uint8_t x[64], y[64];
	mpc_err err = open_node(id, &net);

	if (err != MPC_OK) {
		nodes_finish(NULL, r, err);
		return;
	}
	if (id == 0) {
		for (int k = 0; k < EARLY_MSGS && err == MPC_OK; k++) {
			uint8_t *b = malloc(early_len(k));
			nodes_fill(b, early_len(k), nodes_key(k, 0, 1, 4));
			err = mpc_net_send(net, 1, b, early_len(k));
			free(b);
		}
		if (err == MPC_OK)
			err = mpc_net_recv(net, 1, x, sizeof(x));
		if (err == MPC_OK)
			NODES_CHECK(r, nodes_count_diff(x, sizeof(x), nodes_key(9, 1, 0, 4)) == 0);
	} else if (id == 1) {
		usleep(300000);
		/* node 0's messages wait in the queue meanwhile */
		nodes_fill(x, sizeof(x), nodes_key(0, 1, 2, 4));
		err = mpc_net_send(net, 2, x, sizeof(x));
		if (err == MPC_OK)
			err = mpc_net_recv(net, 2, y, sizeof(y));
		if (err == MPC_OK)
			NODES_CHECK(r, nodes_count_diff(y, sizeof(y), nodes_key(0, 2, 1, 4)) == 0);
		for (int k = 0; k < EARLY_MSGS && err == MPC_OK; k++) {
			uint8_t *b = malloc(early_len(k));
			err = mpc_net_recv(net, 0, b, early_len(k));
			if (err == MPC_OK)
				NODES_CHECK(r, nodes_count_diff(b, early_len(k),
				                                nodes_key(k, 0, 1, 4)) == 0);
			free(b);
		}
		NODES_CHECK(r, mpc_net_step_with(net, 0) == EARLY_MSGS);
		nodes_fill(x, sizeof(x), nodes_key(9, 1, 0, 4));
		if (err == MPC_OK)
			err = mpc_net_send(net, 0, x, sizeof(x));
	} else {
		const void *send[NODES_MAX] = {0, x};
		void *recv[NODES_MAX] = {0, y};
		size_t sl[NODES_MAX] = {0, sizeof(x)}, rl[NODES_MAX] = {0, sizeof(y)};
		nodes_fill(x, sizeof(x), nodes_key(0, 2, 1, 4));
		err = mpc_net_exchange(net, send, sl, recv, rl);
		if (err == MPC_OK)
			NODES_CHECK(r, nodes_count_diff(y, sizeof(y), nodes_key(0, 1, 2, 4)) == 0);
	}
	nodes_finish(net, r, err);
}

static void test_early(void **s) {
	nodes_report res[NODES_MAX];
	(void)s;
	setup_run(3);
	nodes.chunk = 65536;
	nodes_run(body_early, res, 30);
	nodes_expect_all_ok(res);
}

/* Unequal lengths in the two directions, zero lengths, an empty round. */
static void body_lengths(int id, nodes_report *r) {
	mpc_net *net = NULL;
	mpc_err err = open_node(id, &net);
	uint8_t out[NODES_MAX][300], in[NODES_MAX][300];
	const void *send[NODES_MAX];
	void *recv[NODES_MAX];
	size_t sl[NODES_MAX], rl[NODES_MAX];

	if (err != MPC_OK) {
		nodes_finish(NULL, r, err);
		return;
	}
	/* i sends 1 + 100*i + 7*j bytes to j, nothing when (i + j) % 3 == 0 */
	for (int p = 0; p < nodes.n; p++) {
		sl[p] = (id + p) % 3 == 0 ? 0 : (size_t)(1 + 100 * id + 7 * p);
		rl[p] = (id + p) % 3 == 0 ? 0 : (size_t)(1 + 100 * p + 7 * id);
		nodes_fill(out[p], sl[p], nodes_key(0, id, p, 5));
		send[p] = out[p];
		recv[p] = in[p];
	}
	err = mpc_net_exchange(net, send, sl, recv, rl);
	for (int p = 0; p < nodes.n && err == MPC_OK; p++)
		if (p != id)
			NODES_CHECK(r, nodes_count_diff(in[p], rl[p], nodes_key(0, p, id, 5)) == 0);
	/* a round with nothing at all, and NULL arrays */
	if (err == MPC_OK)
		err = mpc_net_exchange(net, NULL, NULL, NULL, NULL);
	if (err == MPC_OK)
		err = mpc_net_send(net, (id + 1) % nodes.n, NULL, 0);
	if (err == MPC_OK)
		NODES_CHECK(r, mpc_net_rounds(net) == 3);
	nodes_finish(net, r, err);
}

static void test_lengths(void **s) {
	nodes_report res[NODES_MAX];
	(void)s;
	setup_run(3);
	nodes_run(body_lengths, res, 30);
	nodes_expect_all_ok(res);
}

/* Node 1 sends 800 bytes where node 0 expects 1600. */
static void body_wrong_length(int id, nodes_report *r) {
	mpc_net *net = NULL;
	static uint8_t buf[1600];
	mpc_err err = open_node(id, &net);

	if (err == MPC_OK)
		err = id == 0 ? mpc_net_recv(net, 1, buf, 1600) : mpc_net_send(net, 0, buf, 800);
	if (err == MPC_OK && id == 1)
		err = mpc_net_recv(net, 0, buf, 10); /* node 0 aborts instead */
	nodes_finish(net, r, err);
}

static void test_wrong_length(void **s) {
	nodes_report res[NODES_MAX];
	(void)s;
	setup_run(2);
	nodes_run(body_wrong_length, res, 30);
	assert_int_equal(res[0].err, MPC_EPROTO);
	assert_non_null(strstr(res[0].detail, "party 1 sent 800 bytes at step 1"));
	assert_non_null(strstr(res[0].detail, "expected 1600"));
	assert_int_equal(res[1].err, MPC_EPEER);
	assert_non_null(strstr(res[1].detail, "party 0 aborted"));
}

/* Broadcast with masks: i sends to j when rel(round, i, j). */
static int rel(int round, int i, int j) {
	return i != j && (i * 3 + j + round) % 4 != 0;
}

static void body_bcast(int id, nodes_report *r) {
	mpc_net *net = NULL;
	mpc_err err = open_node(id, &net);
	enum { LEN = 5000 };
	uint8_t *out = malloc(LEN), *in = malloc((size_t)nodes.n * LEN);

	for (int round = 0; round < 4 && err == MPC_OK; round++) {
		uint64_t to = 0, from = 0;
		for (int p = 0; p < nodes.n; p++) {
			to |= (uint64_t)rel(round, id, p) << p;
			from |= (uint64_t)rel(round, p, id) << p;
		}
		from |= (uint64_t)1 << id; /* our own slot: left alone */
		nodes_fill(out, LEN, nodes_key(round, id, 0, 6));
		memset(in, 0xee, (size_t)nodes.n * LEN);
		err = mpc_net_bcast(net, to, out, from, in, LEN);
		for (int p = 0; p < nodes.n && err == MPC_OK; p++) {
			if (rel(round, p, id)) {
				NODES_CHECK(r, nodes_count_diff(in + (size_t)p * LEN, LEN,
				                                nodes_key(round, p, 0, 6)) == 0);
			} else {
				for (size_t k = 0; k < LEN; k++)
					NODES_CHECK(r, in[(size_t)p * LEN + k] == 0xee);
			}
		}
	}
	if (err == MPC_OK) {
		/* a mask beyond the nodes is the caller's bug */
		err = mpc_net_bcast(net, (uint64_t)1 << nodes.n, out, 0, in, LEN);
		NODES_CHECK(r, err == MPC_EINVAL);
		err = MPC_OK;
	}
	free(out);
	free(in);
	nodes_finish(net, r, err);
}

static void test_bcast(void **s) {
	nodes_report res[NODES_MAX];
	(void)s;
	setup_run(4);
	nodes_run(body_bcast, res, 30);
	nodes_expect_all_ok(res);
}

/* Just open (and close): for the set-up failures. */
static void body_open(int id, nodes_report *r) {
	mpc_net *net = NULL;
	double t0 = nodes_now();
	mpc_err err = open_node(id, &net);
	r->secs = nodes_now() - t0;
	if (err != MPC_OK)
		net = NULL;
	nodes_finish(net, r, err);
}

static void test_wrong_session(void **s) {
	nodes_report res[NODES_MAX];
	(void)s;
	setup_run(2);
	run.other_session = 1u << 1;
	nodes.connect_timeout_ms = 2000;
	nodes_run(body_open, res, 30);
	int named = 0;
	for (int i = 0; i < 2; i++) {
		assert_true(res[i].err == MPC_EPROTO || res[i].err == MPC_ETIMEDOUT);
		if (res[i].err == MPC_EPROTO) {
			assert_non_null(strstr(res[i].detail, "another session"));
			assert_non_null(strstr(res[i].detail, i ? "party 0" : "party 1"));
			named++;
		}
	}
	assert_true(named >= 1);
}

static void test_never_started(void **s) {
	nodes_report res[NODES_MAX];
	(void)s;
	setup_run(3);
	nodes.absent = 1u << 2;
	nodes.connect_timeout_ms = 1500;
	nodes_run(body_open, res, 30);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(res[i].err, MPC_ETIMEDOUT);
		assert_non_null(strstr(res[i].detail, "party 2"));
		assert_non_null(strstr(res[i].detail, nodes.addr[2]));
		assert_null(strstr(res[i].detail, i ? "party 0" : "party 1"));
		assert_true(res[i].secs < 1.5 + 2);
	}
}

/* Open with node 0's address replaced by a tcp port someone else holds. */
static void body_open_taken(int id, nodes_report *r) {
	snprintf(nodes.addr[id], sizeof(nodes.addr[id]), "tcp://127.0.0.1:%d", nodes.arg);
	body_open(id, r);
}

/* A tcp port that someone else holds. */
static void test_bind_fails(void **s) {
	nodes_report res[NODES_MAX];
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	(void)s;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	setup_run(2);
	nodes.absent = 1u << 1;
	nodes.arg = ntohs(sa.sin_port);
	nodes.tcp = 1;
	nodes_run(body_open_taken, res, 30);
	close(fd);
	/* our own address: a configuration error (exit 1), naming the cause */
	assert_int_equal(res[0].err, MPC_ECONFIG);
	assert_non_null(strstr(res[0].detail, "has this port"));
	char want[64];
	snprintf(want, sizeof(want), "tcp://127.0.0.1:%d", nodes.arg);
	assert_non_null(strstr(res[0].detail, want));
}

/* ---- misbehaving node 1, after one good round ---- */

#define BAD_LEN 10000

static mpc_err bad_round(mpc_net *net, int id, int round, nodes_report *r, size_t *diff_from_1) {
	uint8_t out[NODES_MAX][BAD_LEN], in[NODES_MAX][BAD_LEN];
	const void *send[NODES_MAX];
	void *recv[NODES_MAX];
	size_t sl[NODES_MAX], rl[NODES_MAX];
	for (int p = 0; p < nodes.n; p++) {
		sl[p] = rl[p] = p == id ? 0 : BAD_LEN;
		nodes_fill(out[p], BAD_LEN, nodes_key(round, id, p, 7));
		send[p] = out[p];
		recv[p] = in[p];
	}
	mpc_err err = mpc_net_exchange(net, send, sl, recv, rl);
	for (int p = 0; p < nodes.n && err == MPC_OK; p++) {
		if (p == id)
			continue;
		size_t d = nodes_count_diff(in[p], BAD_LEN, nodes_key(round, p, id, 7));
		if (p == 1 && diff_from_1)
			*diff_from_1 = d;
		else
			NODES_CHECK(r, d == 0);
	}
	return err;
}

static void body_bad(int id, nodes_report *r) {
	mpc_net *net = NULL;
	mpc_err err = open_node(id, &net);
	size_t diff = 0;

	if (err == MPC_OK)
		err = bad_round(net, id, 0, r, NULL);
	if (err == MPC_OK && id == 1 && nodes_misbehave(net, r, nodes.arg))
		return;
	double t0 = nodes_now();
	if (err == MPC_OK)
		err = bad_round(net, id, 1, r, &diff);
	r->secs = nodes_now() - t0;
	r->val[0] = diff;
	nodes_finish(net, r, err);
}

/* Every other node fails with `want` (or `also`) naming party 1, or hears
 * a peer's abort that does; at least one names party 1 itself. */
static void run_bad(int mode, mpc_err want, mpc_err also, const char *must, double max_s) {
	nodes_report res[NODES_MAX];
	setup_run(3);
	nodes.chunk = 4096;
	nodes.timeout_ms = 1000;
	nodes.arg = mode;
	nodes_run(body_bad, res, 40);
	nodes_expect_bad(res, want, also, must, max_s);
}

static void test_stalled(void **s) {
	(void)s;
	run_bad(NODES_BAD_STALL, MPC_ETIMEDOUT, MPC_ETIMEDOUT, "no message from party 1", 1 + 5);
}

static void test_killed(void **s) {
	(void)s;
	run_bad(NODES_BAD_KILL, MPC_ETIMEDOUT, MPC_ENET, NULL, 1 + 5);
}

static void test_abort(void **s) {
	(void)s;
	run_bad(NODES_BAD_ABORT, MPC_EPEER, MPC_EPEER,
	        "party 1 aborted: MAC check failed? at gate 7?", 2);
}

static void test_closed(void **s) {
	(void)s;
	run_bad(NODES_BAD_CLOSE, MPC_ECLOSED, MPC_ECLOSED, "party 1 closed the session at step 2",
	        2);
}

static void test_fault_truncate(void **s) {
	(void)s;
	run_bad(MPC_FAULT_TRUNCATE, MPC_EPROTO, MPC_EPROTO, "truncated chunk at step 2", 2);
}

static void test_fault_wrong_step(void **s) {
	(void)s;
	run_bad(MPC_FAULT_WRONG_STEP, MPC_EPROTO, MPC_EPROTO, "step 7 where step 2 was due", 2);
}

static void test_fault_replay(void **s) {
	(void)s;
	run_bad(MPC_FAULT_REPLAY, MPC_EPROTO, MPC_EPROTO, "replayed step 1 where step 2", 2);
}

static void test_fault_wrong_session(void **s) {
	(void)s;
	run_bad(MPC_FAULT_WRONG_SESSION, MPC_EPROTO, MPC_EPROTO, "another session at step 2", 2);
}

/* A flipped bit goes through this layer: exactly one byte differs. */
static void test_fault_flip(void **s) {
	nodes_report res[NODES_MAX];
	(void)s;
	setup_run(3);
	nodes.chunk = 4096;
	nodes.arg = MPC_FAULT_FLIP;
	nodes_run(body_bad, res, 30);
	nodes_expect_all_ok(res);
	assert_int_equal(res[0].val[0], 1);
	assert_int_equal(res[2].val[0], 1);
}

/* recv_wait: a deadline of its own that keepalives do not extend, and BYE
 * as a clean end. */
static void body_wait(int id, nodes_report *r) {
	mpc_net *net = NULL;
	uint8_t b[16] = {0};
	mpc_err err = open_node(id, &net);

	if (err == MPC_OK && id == 0) {
		/* node 1 is alive (it sends keepalives every 0.5 s) but not to us */
		double t0 = nodes_now();
		err = mpc_net_recv_wait(net, 1, b, sizeof(b), 1200);
		r->secs = nodes_now() - t0;
		snprintf(r->detail, sizeof(r->detail), "%s", mpc_error_detail());
		NODES_CHECK(r, err == MPC_ETIMEDOUT);
		NODES_CHECK(r, strstr(mpc_error_detail(), "party 1") != NULL);
		NODES_CHECK(r, r->secs > 1.1 && r->secs < 2);
		/* the failure sticks */
		NODES_CHECK(r, mpc_net_recv(net, 1, b, 1) == MPC_ETIMEDOUT);
		mpc_net_close(net);
		return;
	}
	if (err == MPC_OK && id == 1) {
		err = mpc_net_recv_wait(net, 2, b, sizeof(b), -1);
		if (err == MPC_OK)
			NODES_CHECK(r, b[0] == 42);
		if (err == MPC_OK) {
			err = mpc_net_recv_wait(net, 2, b, sizeof(b), -1);
			NODES_CHECK(r, err == MPC_ECLOSED);
			err = MPC_OK;
			NODES_CHECK(r, mpc_net_rounds(net) == 2);
		}
	}
	if (err == MPC_OK && id == 2) {
		usleep(1500000);
		b[0] = 42;
		err = mpc_net_send(net, 1, b, sizeof(b));
	}
	nodes_finish(net, r, err);
}

static void test_recv_wait(void **s) {
	nodes_report res[NODES_MAX];
	(void)s;
	setup_run(3);
	nodes.timeout_ms = 2000;
	nodes_run(body_wait, res, 30);
	for (int i = 0; i < 3; i++) {
		assert_true(res[i].ok);
		assert_int_equal(res[i].err, MPC_OK);
	}
}

/* ---- hostile bytes: node 1 is a raw nanomsg program ---- */

/* The wire header as net/mpc_wire.h defines it (little-endian, packed). */

typedef struct {
	const char *name;
	int hello_first;
	size_t len; /* bytes on the wire (0: header + plen) */
	uint32_t magic;
	uint8_t version, type;
	uint16_t from, to;
	int bad_session;
	uint64_t step, total, offset;
	uint32_t plen;
	int second; /* also send a second chunk: offset plen, total + 100 */
	mpc_err want;
	const char *must;
} hostile_case;

static const hostile_case hostile[] = {
    {"short", 0, 3, 0, 1, 2, 1, 0, 0, 0, 0, 0, 0, 0, MPC_EPROTO, "shorter than a header"},
    {"magic", 0, 0, 0xdeadbeef, 1, 2, 1, 0, 0, 1, 5, 0, 5, 0, MPC_EPROTO, "not ours"},
    {"version", 0, 0, 0, 9, 1, 1, 0, 0, 0, 2, 0, 0, 0, MPC_EPROTO, "not ours"},
    {"from", 0, 0, 0, 1, 1, 7, 0, 0, 0, 2, 0, 0, 0, MPC_EPROTO, "unknown node 7"},
    {"from self", 0, 0, 0, 1, 1, 0, 0, 0, 0, 2, 0, 0, 0, MPC_EPROTO, "unknown node 0"},
    {"to", 0, 0, 0, 1, 1, 1, 5, 0, 0, 2, 0, 0, 0, MPC_EPROTO, "meant for node 5"},
    {"data first", 0, 0, 0, 1, 2, 1, 0, 0, 1, 5, 0, 5, 0, MPC_EPROTO, "before hello"},
    {"hello session", 0, 0, 0, 1, 1, 1, 0, 1, 0, 2, 0, 0, 0, MPC_EPROTO, "another session"},
    {"hello nodes", 0, 0, 0, 1, 1, 1, 0, 0, 0, 3, 0, 0, 0, MPC_EPROTO, "3 nodes"},
    {"hello step", 1, 0, 0, 1, 1, 1, 0, 0, 2, 2, 0, 0, 0, MPC_EPROTO, "malformed hello"},
    {"hello twice", 1, 0, 0, 1, 1, 1, 0, 0, 0, 2, 0, 0, 0, MPC_EPROTO, "hello twice"},
    {"type", 1, 0, 0, 1, 77, 1, 0, 0, 1, 5, 0, 5, 0, MPC_EPROTO, "unknown type 77"},
    {"plen lies", 1, NODES_WIRE_HDR + 10, 0, 1, 2, 1, 0, 0, 1, 100, 0, 0xffffffffu, 0, MPC_EPROTO,
     "truncated chunk at step 1"},
    {"offset", 1, 0, 0, 1, 2, 1, 0, 0, 1, 100, UINT64_MAX - 5, 10, 0, MPC_EPROTO,
     "expected offset 0"},
    {"plen > total", 1, 0, 0, 1, 2, 1, 0, 0, 1, 10, 0, 20, 0, MPC_EPROTO,
     "chunk of 20 bytes at offset 0 of a 10-byte"},
    {"empty chunk", 1, 0, 0, 1, 2, 1, 0, 0, 1, 10, 0, 0, 0, MPC_EPROTO, "chunk of 0 bytes"},
    {"step 0", 1, 0, 0, 1, 2, 1, 0, 0, 0, 10, 0, 10, 0, MPC_EPROTO, "replayed step 0"},
    {"length change", 1, 0, 0, 1, 2, 1, 0, 0, 1, 100, 0, 50, 1, MPC_EPROTO,
     "changed the length of step 1"},
    {"wrong length", 1, 0, 0, 1, 2, 1, 0, 0, 1, 99, 0, 99, 0, MPC_EPROTO,
     "sent 99 bytes at step 1 (round 1), expected 100"},
    {"bye mid-message", 1, 0, 0, 1, 2, 1, 0, 0, 1, 100, 0, 50, 2, MPC_EPROTO,
     "in the middle of step 1"},
    {"abort", 1, 0, 0, 1, 4, 1, 0, 0, 0, 13, 0, 13, 0, MPC_EPEER, "party 1 aborted: bad? input?x"},
    {"abort too long", 1, 0, 0, 1, 4, 1, 0, 0, 0, 600, 0, 600, 0, MPC_EPEER, "(malformed abort)"},
    {"keepalive", 1, 0, 0, 1, 5, 1, 0, 0, 0, 0, 0, 4, 0, MPC_EPROTO, "malformed keepalive"},
};

static size_t encode(uint8_t *b, uint32_t magic, uint8_t version, uint8_t type, uint16_t from,
                     uint16_t to, int bad_session, uint64_t step, uint64_t total, uint64_t offset,
                     uint32_t plen) {
	size_t len =
	    nodes_wire_hdr(b, magic, version, type, from, to, NULL, step, total, offset, plen);
	if (bad_session)
		b[10 + 3] ^= 1;
	return len;
}

static int raw_send(int s, const uint8_t *b, size_t len) {
	return nn_send(s, b, len, 0) == (int)len ? 0 : -1;
}

static const hostile_case *hcase;
static uint64_t fuzz_seed;
static int done_pipe[2]; /* node 0 tells the raw node that it is finished */

/* Node 1 speaks raw nanomsg: a proper hello if asked, then the case (or
 * random messages), then it waits for node 0's abort. */
static void body_raw(nodes_report *r) {
	static uint8_t b[NODES_WIRE_HDR + 1024];
	const hostile_case *c = hcase;
	int pull = nn_socket(AF_SP, NN_PULL), push = nn_socket(AF_SP, NN_PUSH), ms = 3000;
	size_t len;
	char c1;

	nn_setsockopt(push, NN_SOL_SOCKET, NN_SNDTIMEO, &ms, sizeof(ms));
	NODES_CHECK(r, nn_bind(pull, nodes.addrs[1]) >= 0 && nn_connect(push, nodes.addrs[0]) >= 0);
	if (c == NULL || c->hello_first) { /* step 1: it has node 0's hello */
		len = encode(b, 0, 1, 1, 1, 0, 0, 1, 2, 0, 0);
		NODES_CHECK(r, raw_send(push, b, len) == 0);
	}
	if (c == NULL) {
		/* a good first chunk, then chunks with fields near the right ones */
		static const uint64_t steps[] = {1, 0, 2, 1, 1};
		static const uint64_t totals[] = {100, 99, 101, 100, UINT64_MAX};
		static const uint64_t offs[] = {40, 0, 39, 41, UINT64_MAX - 20};
		static const uint32_t plens[] = {60, 59, 61, 0, 0xffffffffu};
		uint64_t s = fuzz_seed;
		len = encode(b, 0, 1, 2, 1, 0, 0, 1, 100, 0, 40);
		NODES_CHECK(r, raw_send(push, b, len + 40) == 0);
		for (int i = 0; i < 20; i++) {
			s = nodes_mix(s);
			uint32_t plen = plens[s % 5];
			len = encode(b, 0, 1, s >> 8 & 3 ? 2 : (uint8_t)(1 + (s >> 10) % 6), 1, 0,
			             0, steps[(s >> 16) % 5], totals[(s >> 24) % 5],
			             offs[(s >> 32) % 5], plen);
			if (s >> 40 & 1)
				len += plen < 1000 ? plen : 1000;
			else
				len = (size_t)(s >> 44) % (NODES_WIRE_HDR + 200);
			nodes_fill(b + NODES_WIRE_HDR, sizeof(b) - NODES_WIRE_HDR, s);
			if (raw_send(push, b, len) != 0)
				break;
		}
	} else {
		static const char reason[] = "bad\001 input\177xy";
		len = encode(b, c->magic, c->version, c->type, c->from, c->to, c->bad_session,
		             c->step, c->total, c->offset, c->plen);
		memset(b + NODES_WIRE_HDR, 'z', sizeof(b) - NODES_WIRE_HDR);
		if (c->type == 4 && c->plen == 13)
			memcpy(b + NODES_WIRE_HDR, reason, 13);
		len = c->len ? c->len : NODES_WIRE_HDR + c->plen;
		NODES_CHECK(r, raw_send(push, b, len) == 0);
		if (c->second == 1) {
			len = encode(b, 0, 1, 2, 1, 0, 0, c->step, c->total + 100, c->plen, 10);
			NODES_CHECK(r, raw_send(push, b, len + 10) == 0);
		} else if (c->second == 2) {
			len = encode(b, 0, 1, 3, 1, 0, 0, 0, 0, 0, 0);
			NODES_CHECK(r, raw_send(push, b, len) == 0);
		}
	}
	/* keep our sockets (and what is in them) until node 0 has judged */
	NODES_CHECK(r, nodes_read_all(done_pipe[0], &c1, 1) == 1);
	nn_close(push);
	nn_close(pull);
}

static void body_hostile(int id, nodes_report *r) {
	static uint8_t b[100];
	mpc_net *net = NULL;
	if (id == 1) {
		body_raw(r);
		return;
	}
	mpc_err err = open_node(id, &net);
	if (err == MPC_OK)
		err = mpc_net_recv(net, 1, b, sizeof(b));
	nodes_finish(net, r, err); /* net is NULL if open failed */
	(void)nodes_write_all(done_pipe[1], "x", 1);
}

static void test_hostile(void **s) {
	nodes_report res[NODES_MAX];
	(void)s;
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		print_message("  case %s\n", hostile[i].name);
		setup_run(2);
		nodes.timeout_ms = 2000;
		nodes.connect_timeout_ms = 3000;
		hcase = &hostile[i];
		assert_int_equal(pipe(done_pipe), 0);
		nodes_run(body_hostile, res, 30);
		close(done_pipe[0]);
		close(done_pipe[1]);
		assert_true(res[1].ok);
		assert_int_equal(res[0].err, hostile[i].want);
		assert_non_null(strstr(res[0].detail, hostile[i].must));
	}
}

/* Random plausible headers: any error but a crash or a hang. */
static void test_fuzz(void **s) {
	nodes_report res[NODES_MAX];
	(void)s;
	for (int i = 0; i < 30; i++) {
		setup_run(2);
		nodes.timeout_ms = 1000;
		nodes.connect_timeout_ms = 3000;
		hcase = NULL;
		fuzz_seed = (uint64_t)i * 7919 + 1;
		assert_int_equal(pipe(done_pipe), 0);
		nodes_run(body_hostile, res, 30);
		close(done_pipe[0]);
		close(done_pipe[1]);
		assert_true(res[0].reported);
		assert_true(res[0].err == MPC_OK || res[0].err == MPC_EPROTO ||
		            res[0].err == MPC_EPEER);
	}
}

/* Bad configurations fail before any socket exists (safe in the parent). */
static void test_bad_config(void **s) {
	const char *addrs[2] = {"ipc:///tmp/mpc-test-net-x0", "ipc:///tmp/mpc-test-net-x1"};
	const char *no_addr[2] = {"ipc:///tmp/mpc-test-net-x0", NULL};
	mpc_net_config ok = {.id = 0, .n_nodes = 2, .addrs = addrs};
	mpc_net_config c;
	mpc_net *net = (mpc_net *)&ok;
	(void)s;
	assert_int_equal(mpc_net_open(NULL, &ok), MPC_EINVAL);
	assert_int_equal(mpc_net_open(&net, NULL), MPC_EINVAL);
	assert_null(net);
	c = ok, c.n_nodes = 1;
	assert_int_equal(mpc_net_open(&net, &c), MPC_EINVAL);
	c = ok, c.n_nodes = MPC_NET_MAX_NODES + 1;
	assert_int_equal(mpc_net_open(&net, &c), MPC_EINVAL);
	c = ok, c.id = 2;
	assert_int_equal(mpc_net_open(&net, &c), MPC_EINVAL);
	c = ok, c.addrs = no_addr;
	assert_int_equal(mpc_net_open(&net, &c), MPC_EINVAL);
	c = ok, c.timeout_ms = -1;
	assert_int_equal(mpc_net_open(&net, &c), MPC_EINVAL);
	c = ok, c.chunk_bytes = (size_t)1 << 30;
	assert_int_equal(mpc_net_open(&net, &c), MPC_EINVAL);
	assert_null(net);
	mpc_net_close(NULL);
	mpc_net_abort(NULL, MPC_EINVAL, "x");
	assert_string_equal(mpc_net_name(NULL, 0), "unknown node");
	assert_int_equal(mpc_net_bytes_sent(NULL), 0);
	assert_int_equal(mpc_net_exchange(NULL, NULL, NULL, NULL, NULL), MPC_EINVAL);
}

int main(void) {
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad_config),
	    cmocka_unit_test(test_mesh2),
	    cmocka_unit_test(test_mesh3_small_chunks),
	    cmocka_unit_test(test_mesh5),
	    cmocka_unit_test(test_mesh3_tcp),
	    cmocka_unit_test(test_big_ipc),
	    cmocka_unit_test(test_big_tcp),
	    cmocka_unit_test(test_early),
	    cmocka_unit_test(test_lengths),
	    cmocka_unit_test(test_wrong_length),
	    cmocka_unit_test(test_bcast),
	    cmocka_unit_test(test_wrong_session),
	    cmocka_unit_test(test_never_started),
	    cmocka_unit_test(test_bind_fails),
	    cmocka_unit_test(test_stalled),
	    cmocka_unit_test(test_killed),
	    cmocka_unit_test(test_abort),
	    cmocka_unit_test(test_closed),
	    cmocka_unit_test(test_fault_truncate),
	    cmocka_unit_test(test_fault_wrong_step),
	    cmocka_unit_test(test_fault_replay),
	    cmocka_unit_test(test_fault_wrong_session),
	    cmocka_unit_test(test_fault_flip),
	    cmocka_unit_test(test_recv_wait),
	    cmocka_unit_test(test_hostile),
	    cmocka_unit_test(test_fuzz),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
