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
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>

#include "net/mpc_net.h"
#include "net/mpc_net_fault.h"
#include "runtime/mpc_log.h"

#define MAXN 8

typedef struct {
	int reported;
	mpc_err err; /* what the node ended with */
	int ok;      /* its data checks passed */
	double secs; /* what the node timed (body-specific) */
	uint64_t val[4];
	char detail[700];
	char note[200]; /* the failed check */
} report;

/* What one run looks like; bodies read it (the children inherit it). */
static struct {
	int n;
	int tcp;
	int timeout_ms, connect_timeout_ms;
	size_t chunk;
	uint64_t absent;        /* nodes never started */
	uint64_t other_session; /* nodes with another session id */
	int arg;                /* body-specific */
	int ports[MAXN];
	char addr[MAXN][128];
	const char *addrs[MAXN];
	const char *names[MAXN];
	char name_buf[MAXN][24];
} run;

typedef void (*body_fn)(int id, report *r);

static int run_seq;

static double now_s(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void setup_run(int n) {
	memset(&run, 0, sizeof(run));
	run.n = n;
	run.timeout_ms = 5000;
	run.connect_timeout_ms = 10000;
}

/* Free tcp ports: bind port 0 and read it back, all at once so they differ. */
static void pick_ports(int n) {
	int fds[MAXN];
	for (int i = 0; i < n; i++) {
		struct sockaddr_in sa = {.sin_family = AF_INET};
		socklen_t sl = sizeof(sa);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		assert_true(fds[i] >= 0);
		assert_int_equal(bind(fds[i], (struct sockaddr *)&sa, sizeof(sa)), 0);
		assert_int_equal(getsockname(fds[i], (struct sockaddr *)&sa, &sl), 0);
		run.ports[i] = ntohs(sa.sin_port);
	}
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

static void make_addrs(void) {
	run_seq++;
	if (run.tcp)
		pick_ports(run.n);
	for (int i = 0; i < run.n; i++) {
		if (run.tcp)
			snprintf(run.addr[i], sizeof(run.addr[i]), "tcp://127.0.0.1:%d",
			         run.ports[i]);
		else
			snprintf(run.addr[i], sizeof(run.addr[i]),
			         "ipc:///tmp/mpc-test-net-%d-%d-%d", (int)getpid(), run_seq, i);
		snprintf(run.name_buf[i], sizeof(run.name_buf[i]), "party %d", i);
		run.addrs[i] = run.addr[i];
		run.names[i] = run.name_buf[i];
	}
}

static void remove_ipc(void) {
	for (int i = 0; i < run.n; i++)
		if (strncmp(run.addr[i], "ipc://", 6) == 0)
			unlink(run.addr[i] + 6);
}

static int write_all(int fd, const void *buf, size_t len) {
	const char *p = buf;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static size_t read_all(int fd, void *buf, size_t len) {
	char *p = buf;
	size_t got = 0;
	while (got < len) {
		ssize_t r = read(fd, p + got, len - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

/* Fork one child per node (but the absent ones), collect their reports. */
static void run_nodes(body_fn body, report *out, unsigned watchdog_s) {
	int fds[MAXN];
	pid_t pids[MAXN];

	make_addrs();
	memset(out, 0, sizeof(*out) * (size_t)run.n);
	alarm(watchdog_s);
	for (int i = 0; i < run.n; i++) {
		int pfd[2];
		pids[i] = -1;
		fds[i] = -1;
		if (run.absent >> i & 1)
			continue;
		assert_int_equal(pipe(pfd), 0);
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			report r;
			for (int j = 0; j < i; j++)
				if (fds[j] >= 0)
					close(fds[j]);
			close(pfd[0]);
			alarm(watchdog_s);
			mpc_log_init(run.names[i],
			             getenv("MPC_TEST_NET_LOG") ? MPC_LOG_DEBUG : MPC_LOG_OFF,
			             NULL);
			memset(&r, 0, sizeof(r));
			r.reported = 1;
			r.ok = 1;
			body(i, &r);
			(void)write_all(pfd[1], &r, sizeof(r));
			_exit(0);
		}
		close(pfd[1]);
		fds[i] = pfd[0];
	}
	for (int i = 0; i < run.n; i++) {
		if (fds[i] < 0)
			continue;
		if (read_all(fds[i], &out[i], sizeof(out[i])) != sizeof(out[i]))
			memset(&out[i], 0, sizeof(out[i]));
		close(fds[i]);
		waitpid(pids[i], NULL, 0);
	}
	alarm(0);
	remove_ipc();
	for (int i = 0; i < run.n; i++)
		if (out[i].reported)
			print_message("    node %d: %s%s%s %s (%.2f s)\n", i,
			              mpc_strerror(out[i].err), out[i].detail[0] ? ": " : "",
			              out[i].detail, out[i].note, out[i].secs);
}

/* ---- helpers for the children (no cmocka in here) ---- */

#define CHECK(r, cond)                                                                             \
	do {                                                                                       \
		if (!(cond) && (r)->ok) {                                                          \
			(r)->ok = 0;                                                               \
			snprintf((r)->note, sizeof((r)->note), "line %d: %s", __LINE__, #cond);    \
		}                                                                                  \
	} while (0)

static mpc_err open_node(int id, mpc_net **net) {
	mpc_net_config cfg = {
	    .id = id,
	    .n_nodes = run.n,
	    .addrs = run.addrs,
	    .names = run.names,
	    .timeout_ms = run.timeout_ms,
	    .connect_timeout_ms = run.connect_timeout_ms,
	    .chunk_bytes = run.chunk,
	};
	for (int i = 0; i < MPC_SESSION_BYTES; i++)
		cfg.session[i] = (uint8_t)(0xa0 + i);
	if (run.other_session >> id & 1)
		cfg.session[5] ^= 0x40;
	return mpc_net_open(net, &cfg);
}

/* Record how the node ended, then close (or abort after an error). */
static void finish(mpc_net *net, report *r, mpc_err err) {
	r->err = err;
	if (err != MPC_OK)
		snprintf(r->detail, sizeof(r->detail), "%s", mpc_error_detail());
	if (err == MPC_OK)
		mpc_net_close(net);
	else
		mpc_net_abort(net, err, r->detail);
}

static uint64_t mix(uint64_t x) {
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t key(int round, int from, int to, int salt) {
	return mix((uint64_t)round << 40 ^ (uint64_t)from << 24 ^ (uint64_t)to << 8 ^
	           (uint64_t)salt);
}

static void fill(uint8_t *b, size_t len, uint64_t seed) {
	uint64_t s = mix(seed);
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		s += 0x9e3779b97f4a7c15ull;
		uint64_t v = s ^ (s >> 29);
		memcpy(b + i, &v, 8);
	}
	for (; i < len; i++)
		b[i] = (uint8_t)(mix(s + i));
}

/* Whether b holds what fill(b, len, seed) wrote; *diff counts differing bytes. */
static size_t count_diff(const uint8_t *b, size_t len, uint64_t seed) {
	uint8_t *want = malloc(len ? len : 1);
	size_t diff = 0;
	if (want == NULL)
		return len + 1;
	fill(want, len, seed);
	for (size_t i = 0; i < len; i++)
		diff += b[i] != want[i];
	free(want);
	return diff;
}

/* Lengths of the mesh rounds: a few zeros, mostly small, one big. */
static size_t mesh_len(int round, int from, int to) {
	uint64_t k = key(round, from, to, 1);
	if (k % 5 == 0)
		return 0;
	if (round == 3 && from == 0)
		return 3000000 + (size_t)(k % 1000);
	return 1 + (size_t)(k % 200000);
}

#define MESH_ROUNDS 6

/* All-to-all rounds with random data, checked byte for byte. */
static void body_mesh(int id, report *r) {
	mpc_net *net = NULL;
	const void *send[MAXN] = {0};
	void *recv[MAXN] = {0};
	size_t sl[MAXN], rl[MAXN];
	uint64_t payload = 0;
	mpc_err err = open_node(id, &net);

	if (err != MPC_OK) {
		finish(NULL, r, err);
		return;
	}
	CHECK(r, mpc_net_id(net) == id && mpc_net_size(net) == run.n);
	CHECK(r, strcmp(mpc_net_name(net, (id + 1) % run.n), run.names[(id + 1) % run.n]) == 0);
	for (int round = 0; round < MESH_ROUNDS && err == MPC_OK; round++) {
		for (int p = 0; p < run.n; p++) {
			sl[p] = p == id ? 0 : mesh_len(round, id, p);
			rl[p] = p == id ? 0 : mesh_len(round, p, id);
			payload += sl[p];
			send[p] = NULL;
			recv[p] = NULL;
			if (sl[p]) {
				uint8_t *b = malloc(sl[p]);
				fill(b, sl[p], key(round, id, p, 2));
				send[p] = b;
			}
			if (rl[p])
				recv[p] = malloc(rl[p]);
		}
		err = mpc_net_exchange(net, send, sl, recv, rl);
		for (int p = 0; p < run.n; p++) {
			if (err == MPC_OK && rl[p])
				CHECK(r, count_diff(recv[p], rl[p], key(round, p, id, 2)) == 0);
			free((void *)send[p]);
			free(recv[p]);
		}
	}
	if (err == MPC_OK) {
		CHECK(r, mpc_net_rounds(net) == MESH_ROUNDS);
		CHECK(r, mpc_net_bytes_sent(net) >= payload);
		r->val[0] = mpc_net_bytes_sent(net);
		r->val[1] = payload;
	}
	finish(net, r, err);
}

static void expect_all_ok(const report *res) {
	for (int i = 0; i < run.n; i++) {
		assert_true(res[i].reported);
		assert_int_equal(res[i].err, MPC_OK);
		assert_true(res[i].ok);
	}
}

static void mesh(int n, size_t chunk, int tcp) {
	report res[MAXN];
	setup_run(n);
	run.chunk = chunk;
	run.tcp = tcp;
	run_nodes(body_mesh, res, 40);
	expect_all_ok(res);
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

/* One big all-to-all round of run.arg MB per link, timed. */
static void body_big(int id, report *r) {
	size_t len = (size_t)run.arg << 20;
	mpc_net *net = NULL;
	const void *send[MAXN] = {0};
	void *recv[MAXN] = {0};
	size_t sl[MAXN] = {0}, rl[MAXN] = {0};
	uint8_t sync[MAXN] = {0};
	mpc_err err = open_node(id, &net);

	if (err != MPC_OK) {
		finish(NULL, r, err);
		return;
	}
	for (int p = 0; p < run.n; p++) {
		if (p == id)
			continue;
		uint8_t *b = malloc(len);
		recv[p] = malloc(len);
		CHECK(r, b != NULL && recv[p] != NULL);
		if (b == NULL || recv[p] == NULL)
			_exit(1);
		fill(b, len, key(0, id, p, 3));
		memset(recv[p], 0, len); /* fault the pages in before timing */
		send[p] = b;
		sl[p] = rl[p] = len;
	}
	/* line everyone up so the timing is of the transfer alone */
	err = mpc_net_bcast(net, ~0ull >> (64 - run.n), sync, ~0ull >> (64 - run.n), sync, 1);
	double t0 = now_s();
	if (err == MPC_OK)
		err = mpc_net_exchange(net, send, sl, recv, rl);
	r->secs = now_s() - t0;
	for (int p = 0; p < run.n; p++) {
		if (err == MPC_OK && p != id)
			CHECK(r, count_diff(recv[p], len, key(0, p, id, 3)) == 0);
		free((void *)send[p]);
		free(recv[p]);
	}
	finish(net, r, err);
}

static void big(int mb, int tcp) {
	report res[MAXN];
	setup_run(3);
	run.tcp = tcp;
	run.arg = mb;
	run_nodes(body_big, res, 50);
	expect_all_ok(res);
	double worst = 0;
	for (int i = 0; i < run.n; i++)
		if (res[i].secs > worst)
			worst = res[i].secs;
	print_message("    3 nodes over %s, %d MB per link: %.2f s, %.0f MB/s per link, %.0f MB/s "
	              "in all\n",
	              tcp ? "tcp" : "ipc", mb, worst, mb / worst, 6 * mb / worst);
}

static int env_int(const char *name, int dflt) {
	const char *v = getenv(name);
	return v && atoi(v) > 0 ? atoi(v) : dflt;
}

static void test_big_ipc(void **s) {
	(void)s;
	big(env_int("MPC_TEST_NET_MB", 50), 0);
}

static void test_big_tcp(void **s) {
	(void)s;
	big(env_int("MPC_TEST_NET_TCP_MB", 16), 1);
}

/* Node 0 runs several steps ahead of node 1, which is busy with node 2;
 * node 1 then takes the messages in order, one of them bigger than a chunk. */
#define EARLY_MSGS 6
static size_t early_len(int k) {
	return k == 2 ? 1000000 : (size_t)(100 + 37 * k);
}

static void body_early(int id, report *r) {
	mpc_net *net = NULL;
	uint8_t x[64], y[64];
	mpc_err err = open_node(id, &net);

	if (err != MPC_OK) {
		finish(NULL, r, err);
		return;
	}
	if (id == 0) {
		for (int k = 0; k < EARLY_MSGS && err == MPC_OK; k++) {
			uint8_t *b = malloc(early_len(k));
			fill(b, early_len(k), key(k, 0, 1, 4));
			err = mpc_net_send(net, 1, b, early_len(k));
			free(b);
		}
		if (err == MPC_OK)
			err = mpc_net_recv(net, 1, x, sizeof(x));
		if (err == MPC_OK)
			CHECK(r, count_diff(x, sizeof(x), key(9, 1, 0, 4)) == 0);
	} else if (id == 1) {
		usleep(300000);
		/* node 0's messages wait in the queue meanwhile */
		fill(x, sizeof(x), key(0, 1, 2, 4));
		err = mpc_net_send(net, 2, x, sizeof(x));
		if (err == MPC_OK)
			err = mpc_net_recv(net, 2, y, sizeof(y));
		if (err == MPC_OK)
			CHECK(r, count_diff(y, sizeof(y), key(0, 2, 1, 4)) == 0);
		for (int k = 0; k < EARLY_MSGS && err == MPC_OK; k++) {
			uint8_t *b = malloc(early_len(k));
			err = mpc_net_recv(net, 0, b, early_len(k));
			if (err == MPC_OK)
				CHECK(r, count_diff(b, early_len(k), key(k, 0, 1, 4)) == 0);
			free(b);
		}
		CHECK(r, mpc_net_step_with(net, 0) == EARLY_MSGS);
		fill(x, sizeof(x), key(9, 1, 0, 4));
		if (err == MPC_OK)
			err = mpc_net_send(net, 0, x, sizeof(x));
	} else {
		const void *send[MAXN] = {0, x};
		void *recv[MAXN] = {0, y};
		size_t sl[MAXN] = {0, sizeof(x)}, rl[MAXN] = {0, sizeof(y)};
		fill(x, sizeof(x), key(0, 2, 1, 4));
		err = mpc_net_exchange(net, send, sl, recv, rl);
		if (err == MPC_OK)
			CHECK(r, count_diff(y, sizeof(y), key(0, 1, 2, 4)) == 0);
	}
	finish(net, r, err);
}

static void test_early(void **s) {
	report res[MAXN];
	(void)s;
	setup_run(3);
	run.chunk = 65536;
	run_nodes(body_early, res, 30);
	expect_all_ok(res);
}

/* Unequal lengths in the two directions, zero lengths, an empty round. */
static void body_lengths(int id, report *r) {
	mpc_net *net = NULL;
	mpc_err err = open_node(id, &net);
	uint8_t out[MAXN][300], in[MAXN][300];
	const void *send[MAXN];
	void *recv[MAXN];
	size_t sl[MAXN], rl[MAXN];

	if (err != MPC_OK) {
		finish(NULL, r, err);
		return;
	}
	/* i sends 1 + 100*i + 7*j bytes to j, nothing when (i + j) % 3 == 0 */
	for (int p = 0; p < run.n; p++) {
		sl[p] = (id + p) % 3 == 0 ? 0 : (size_t)(1 + 100 * id + 7 * p);
		rl[p] = (id + p) % 3 == 0 ? 0 : (size_t)(1 + 100 * p + 7 * id);
		fill(out[p], sl[p], key(0, id, p, 5));
		send[p] = out[p];
		recv[p] = in[p];
	}
	err = mpc_net_exchange(net, send, sl, recv, rl);
	for (int p = 0; p < run.n && err == MPC_OK; p++)
		if (p != id)
			CHECK(r, count_diff(in[p], rl[p], key(0, p, id, 5)) == 0);
	/* a round with nothing at all, and NULL arrays */
	if (err == MPC_OK)
		err = mpc_net_exchange(net, NULL, NULL, NULL, NULL);
	if (err == MPC_OK)
		err = mpc_net_send(net, (id + 1) % run.n, NULL, 0);
	if (err == MPC_OK)
		CHECK(r, mpc_net_rounds(net) == 3);
	finish(net, r, err);
}

static void test_lengths(void **s) {
	report res[MAXN];
	(void)s;
	setup_run(3);
	run_nodes(body_lengths, res, 30);
	expect_all_ok(res);
}

/* Node 1 sends 800 bytes where node 0 expects 1600. */
static void body_wrong_length(int id, report *r) {
	mpc_net *net = NULL;
	static uint8_t buf[1600];
	mpc_err err = open_node(id, &net);

	if (err == MPC_OK)
		err = id == 0 ? mpc_net_recv(net, 1, buf, 1600) : mpc_net_send(net, 0, buf, 800);
	if (err == MPC_OK && id == 1)
		err = mpc_net_recv(net, 0, buf, 10); /* node 0 aborts instead */
	finish(net, r, err);
}

static void test_wrong_length(void **s) {
	report res[MAXN];
	(void)s;
	setup_run(2);
	run_nodes(body_wrong_length, res, 30);
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

static void body_bcast(int id, report *r) {
	mpc_net *net = NULL;
	mpc_err err = open_node(id, &net);
	enum { LEN = 5000 };
	uint8_t *out = malloc(LEN), *in = malloc((size_t)run.n * LEN);

	for (int round = 0; round < 4 && err == MPC_OK; round++) {
		uint64_t to = 0, from = 0;
		for (int p = 0; p < run.n; p++) {
			to |= (uint64_t)rel(round, id, p) << p;
			from |= (uint64_t)rel(round, p, id) << p;
		}
		from |= (uint64_t)1 << id; /* our own slot: left alone */
		fill(out, LEN, key(round, id, 0, 6));
		memset(in, 0xee, (size_t)run.n * LEN);
		err = mpc_net_bcast(net, to, out, from, in, LEN);
		for (int p = 0; p < run.n && err == MPC_OK; p++) {
			if (rel(round, p, id)) {
				CHECK(r, count_diff(in + (size_t)p * LEN, LEN,
				                    key(round, p, 0, 6)) == 0);
			} else {
				for (size_t k = 0; k < LEN; k++)
					CHECK(r, in[(size_t)p * LEN + k] == 0xee);
			}
		}
	}
	if (err == MPC_OK) {
		/* a mask beyond the nodes is the caller's bug */
		err = mpc_net_bcast(net, (uint64_t)1 << run.n, out, 0, in, LEN);
		CHECK(r, err == MPC_EINVAL);
		err = MPC_OK;
	}
	free(out);
	free(in);
	finish(net, r, err);
}

static void test_bcast(void **s) {
	report res[MAXN];
	(void)s;
	setup_run(4);
	run_nodes(body_bcast, res, 30);
	expect_all_ok(res);
}

/* Just open (and close): for the set-up failures. */
static void body_open(int id, report *r) {
	mpc_net *net = NULL;
	double t0 = now_s();
	mpc_err err = open_node(id, &net);
	r->secs = now_s() - t0;
	if (err != MPC_OK)
		net = NULL;
	finish(net, r, err);
}

static void test_wrong_session(void **s) {
	report res[MAXN];
	(void)s;
	setup_run(2);
	run.other_session = 1u << 1;
	run.connect_timeout_ms = 2000;
	run_nodes(body_open, res, 30);
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
	report res[MAXN];
	(void)s;
	setup_run(3);
	run.absent = 1u << 2;
	run.connect_timeout_ms = 1500;
	run_nodes(body_open, res, 30);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(res[i].err, MPC_ETIMEDOUT);
		assert_non_null(strstr(res[i].detail, "party 2"));
		assert_non_null(strstr(res[i].detail, run.addr[2]));
		assert_null(strstr(res[i].detail, i ? "party 0" : "party 1"));
		assert_true(res[i].secs < 1.5 + 2);
	}
}

/* Open with node 0's address replaced by a tcp port someone else holds. */
static void body_open_taken(int id, report *r) {
	snprintf(run.addr[id], sizeof(run.addr[id]), "tcp://127.0.0.1:%d", run.arg);
	body_open(id, r);
}

/* A tcp port that someone else holds. */
static void test_bind_fails(void **s) {
	report res[MAXN];
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	(void)s;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	setup_run(2);
	run.absent = 1u << 1;
	run.arg = ntohs(sa.sin_port);
	run.tcp = 1;
	run_nodes(body_open_taken, res, 30);
	close(fd);
	assert_int_equal(res[0].err, MPC_ENET);
	char want[64];
	snprintf(want, sizeof(want), "tcp://127.0.0.1:%d", run.arg);
	assert_non_null(strstr(res[0].detail, want));
}

/* ---- misbehaving node 1, after one good round ---- */

enum { BAD_STALL = 100, BAD_KILL, BAD_ABORT, BAD_CLOSE };
#define BAD_LEN 10000

static mpc_err bad_round(mpc_net *net, int id, int round, report *r, size_t *diff_from_1) {
	uint8_t out[MAXN][BAD_LEN], in[MAXN][BAD_LEN];
	const void *send[MAXN];
	void *recv[MAXN];
	size_t sl[MAXN], rl[MAXN];
	for (int p = 0; p < run.n; p++) {
		sl[p] = rl[p] = p == id ? 0 : BAD_LEN;
		fill(out[p], BAD_LEN, key(round, id, p, 7));
		send[p] = out[p];
		recv[p] = in[p];
	}
	mpc_err err = mpc_net_exchange(net, send, sl, recv, rl);
	for (int p = 0; p < run.n && err == MPC_OK; p++) {
		if (p == id)
			continue;
		size_t d = count_diff(in[p], BAD_LEN, key(round, p, id, 7));
		if (p == 1 && diff_from_1)
			*diff_from_1 = d;
		else
			CHECK(r, d == 0);
	}
	return err;
}

static void body_bad(int id, report *r) {
	mpc_net *net = NULL;
	mpc_err err = open_node(id, &net);
	size_t diff = 0;

	if (err == MPC_OK)
		err = bad_round(net, id, 0, r, NULL);
	if (err == MPC_OK && id == 1) {
		switch (run.arg) {
		case BAD_STALL:
			/* past everyone's deadline; then just leave */
			usleep((unsigned)run.timeout_ms * 1000 + 1500000);
			r->err = MPC_OK;
			return;
		case BAD_KILL:
			raise(SIGKILL);
			break;
		case BAD_ABORT:
			mpc_net_abort(net, MPC_ECHEAT, "MAC check failed\001 at gate 7\n");
			r->err = MPC_OK;
			return;
		case BAD_CLOSE:
			mpc_net_close(net);
			r->err = MPC_OK;
			return;
		default:
			for (int p = 0; p < run.n; p++)
				if (p != 1)
					mpc_net_set_fault(net, p, (mpc_net_fault)run.arg);
		}
	}
	double t0 = now_s();
	if (err == MPC_OK)
		err = bad_round(net, id, 1, r, &diff);
	r->secs = now_s() - t0;
	r->val[0] = diff;
	finish(net, r, err);
}

/* Every other node fails with `want` (or `also`) naming party 1, or hears
 * a peer's abort that does; at least one names party 1 itself. */
static void run_bad(int mode, mpc_err want, mpc_err also, const char *must, double max_s) {
	report res[MAXN];
	int named = 0;
	setup_run(3);
	run.chunk = 4096;
	run.timeout_ms = 1000;
	run.arg = mode;
	run_nodes(body_bad, res, 40);
	for (int i = 0; i < run.n; i++) {
		if (i == 1)
			continue;
		assert_true(res[i].reported);
		assert_true(res[i].ok);
		assert_non_null(strstr(res[i].detail, "party 1"));
		assert_true(res[i].secs < max_s);
		if (res[i].err == want || res[i].err == also) {
			if (must)
				assert_non_null(strstr(res[i].detail, must));
			named++;
		} else {
			assert_int_equal(res[i].err, MPC_EPEER);
		}
	}
	assert_true(named >= 1);
}

static void test_stalled(void **s) {
	(void)s;
	run_bad(BAD_STALL, MPC_ETIMEDOUT, MPC_ETIMEDOUT, "no message from party 1", 1 + 5);
}

static void test_killed(void **s) {
	(void)s;
	run_bad(BAD_KILL, MPC_ETIMEDOUT, MPC_ENET, NULL, 1 + 5);
}

static void test_abort(void **s) {
	(void)s;
	run_bad(BAD_ABORT, MPC_EPEER, MPC_EPEER, "party 1 aborted: MAC check failed? at gate 7?",
	        2);
}

static void test_closed(void **s) {
	(void)s;
	run_bad(BAD_CLOSE, MPC_ECLOSED, MPC_ECLOSED, "party 1 closed the session at step 2", 2);
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
	report res[MAXN];
	(void)s;
	setup_run(3);
	run.chunk = 4096;
	run.arg = MPC_FAULT_FLIP;
	run_nodes(body_bad, res, 30);
	expect_all_ok(res);
	assert_int_equal(res[0].val[0], 1);
	assert_int_equal(res[2].val[0], 1);
}

/* recv_wait: a deadline of its own that keepalives do not extend, and BYE
 * as a clean end. */
static void body_wait(int id, report *r) {
	mpc_net *net = NULL;
	uint8_t b[16] = {0};
	mpc_err err = open_node(id, &net);

	if (err == MPC_OK && id == 0) {
		/* node 1 is alive (it sends keepalives every 0.5 s) but not to us */
		double t0 = now_s();
		err = mpc_net_recv_wait(net, 1, b, sizeof(b), 1200);
		r->secs = now_s() - t0;
		snprintf(r->detail, sizeof(r->detail), "%s", mpc_error_detail());
		CHECK(r, err == MPC_ETIMEDOUT);
		CHECK(r, strstr(mpc_error_detail(), "party 1") != NULL);
		CHECK(r, r->secs > 1.1 && r->secs < 2);
		/* the failure sticks */
		CHECK(r, mpc_net_recv(net, 1, b, 1) == MPC_ETIMEDOUT);
		mpc_net_close(net);
		return;
	}
	if (err == MPC_OK && id == 1) {
		err = mpc_net_recv_wait(net, 2, b, sizeof(b), -1);
		if (err == MPC_OK)
			CHECK(r, b[0] == 42);
		if (err == MPC_OK) {
			err = mpc_net_recv_wait(net, 2, b, sizeof(b), -1);
			CHECK(r, err == MPC_ECLOSED);
			err = MPC_OK;
			CHECK(r, mpc_net_rounds(net) == 2);
		}
	}
	if (err == MPC_OK && id == 2) {
		usleep(1500000);
		b[0] = 42;
		err = mpc_net_send(net, 1, b, sizeof(b));
	}
	finish(net, r, err);
}

static void test_recv_wait(void **s) {
	report res[MAXN];
	(void)s;
	setup_run(3);
	run.timeout_ms = 2000;
	run_nodes(body_wait, res, 30);
	for (int i = 0; i < 3; i++) {
		assert_true(res[i].ok);
		assert_int_equal(res[i].err, MPC_OK);
	}
}

/* ---- hostile bytes: node 1 is a raw nanomsg program ---- */

/* The wire header as net/mpc_net.c defines it (little-endian, packed). */
#define WIRE_HDR 54

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
    {"hello twice", 1, 0, 0, 1, 1, 1, 0, 0, 0, 2, 0, 0, 0, MPC_EPROTO, "hello twice"},
    {"type", 1, 0, 0, 1, 77, 1, 0, 0, 1, 5, 0, 5, 0, MPC_EPROTO, "unknown type 77"},
    {"plen lies", 1, WIRE_HDR + 10, 0, 1, 2, 1, 0, 0, 1, 100, 0, 0xffffffffu, 0, MPC_EPROTO,
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
	uint64_t f[3] = {step, total, offset};
	memset(b, 0, WIRE_HDR);
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)((magic ? magic : 0x3143504du) >> (8 * i));
	b[4] = version;
	b[5] = type;
	b[6] = (uint8_t)from;
	b[7] = (uint8_t)(from >> 8);
	b[8] = (uint8_t)to;
	b[9] = (uint8_t)(to >> 8);
	for (int i = 0; i < MPC_SESSION_BYTES; i++)
		b[10 + i] = (uint8_t)(0xa0 + i);
	if (bad_session)
		b[10 + 3] ^= 1;
	for (int k = 0; k < 3; k++)
		for (int i = 0; i < 8; i++)
			b[26 + 8 * k + i] = (uint8_t)(f[k] >> (8 * i));
	for (int i = 0; i < 4; i++)
		b[50 + i] = (uint8_t)(plen >> (8 * i));
	return WIRE_HDR;
}

static int raw_send(int s, const uint8_t *b, size_t len) {
	return nn_send(s, b, len, 0) == (int)len ? 0 : -1;
}

static const hostile_case *hcase;
static uint64_t fuzz_seed;
static int done_pipe[2]; /* node 0 tells the raw node that it is finished */

/* Node 1 speaks raw nanomsg: a proper hello if asked, then the case (or
 * random messages), then it waits for node 0's abort. */
static void body_raw(report *r) {
	static uint8_t b[WIRE_HDR + 1024];
	const hostile_case *c = hcase;
	int pull = nn_socket(AF_SP, NN_PULL), push = nn_socket(AF_SP, NN_PUSH), ms = 3000;
	size_t len;
	char c1;

	nn_setsockopt(push, NN_SOL_SOCKET, NN_SNDTIMEO, &ms, sizeof(ms));
	CHECK(r, nn_bind(pull, run.addrs[1]) >= 0 && nn_connect(push, run.addrs[0]) >= 0);
	if (c == NULL || c->hello_first) {
		len = encode(b, 0, 1, 1, 1, 0, 0, 0, 2, 0, 0);
		CHECK(r, raw_send(push, b, len) == 0);
	}
	if (c == NULL) {
		/* a good first chunk, then chunks with fields near the right ones */
		static const uint64_t steps[] = {1, 0, 2, 1, 1};
		static const uint64_t totals[] = {100, 99, 101, 100, UINT64_MAX};
		static const uint64_t offs[] = {40, 0, 39, 41, UINT64_MAX - 20};
		static const uint32_t plens[] = {60, 59, 61, 0, 0xffffffffu};
		uint64_t s = fuzz_seed;
		len = encode(b, 0, 1, 2, 1, 0, 0, 1, 100, 0, 40);
		CHECK(r, raw_send(push, b, len + 40) == 0);
		for (int i = 0; i < 20; i++) {
			s = mix(s);
			uint32_t plen = plens[s % 5];
			len = encode(b, 0, 1, s >> 8 & 3 ? 2 : (uint8_t)(1 + (s >> 10) % 6), 1, 0,
			             0, steps[(s >> 16) % 5], totals[(s >> 24) % 5],
			             offs[(s >> 32) % 5], plen);
			if (s >> 40 & 1)
				len += plen < 1000 ? plen : 1000;
			else
				len = (size_t)(s >> 44) % (WIRE_HDR + 200);
			fill(b + WIRE_HDR, sizeof(b) - WIRE_HDR, s);
			if (raw_send(push, b, len) != 0)
				break;
		}
	} else {
		static const char reason[] = "bad\001 input\177xy";
		len = encode(b, c->magic, c->version, c->type, c->from, c->to, c->bad_session,
		             c->step, c->total, c->offset, c->plen);
		memset(b + WIRE_HDR, 'z', sizeof(b) - WIRE_HDR);
		if (c->type == 4 && c->plen == 13)
			memcpy(b + WIRE_HDR, reason, 13);
		len = c->len ? c->len : WIRE_HDR + c->plen;
		CHECK(r, raw_send(push, b, len) == 0);
		if (c->second == 1) {
			len = encode(b, 0, 1, 2, 1, 0, 0, c->step, c->total + 100, c->plen, 10);
			CHECK(r, raw_send(push, b, len + 10) == 0);
		} else if (c->second == 2) {
			len = encode(b, 0, 1, 3, 1, 0, 0, 0, 0, 0, 0);
			CHECK(r, raw_send(push, b, len) == 0);
		}
	}
	/* keep our sockets (and what is in them) until node 0 has judged */
	CHECK(r, read_all(done_pipe[0], &c1, 1) == 1);
	nn_close(push);
	nn_close(pull);
}

static void body_hostile(int id, report *r) {
	static uint8_t b[100];
	mpc_net *net = NULL;
	if (id == 1) {
		body_raw(r);
		return;
	}
	mpc_err err = open_node(id, &net);
	if (err == MPC_OK)
		err = mpc_net_recv(net, 1, b, sizeof(b));
	finish(net, r, err); /* net is NULL if open failed */
	(void)write_all(done_pipe[1], "x", 1);
}

static void test_hostile(void **s) {
	report res[MAXN];
	(void)s;
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		print_message("  case %s\n", hostile[i].name);
		setup_run(2);
		run.timeout_ms = 2000;
		run.connect_timeout_ms = 3000;
		hcase = &hostile[i];
		assert_int_equal(pipe(done_pipe), 0);
		run_nodes(body_hostile, res, 30);
		close(done_pipe[0]);
		close(done_pipe[1]);
		assert_true(res[1].ok);
		assert_int_equal(res[0].err, hostile[i].want);
		assert_non_null(strstr(res[0].detail, hostile[i].must));
	}
}

/* Random plausible headers: any error but a crash or a hang. */
static void test_fuzz(void **s) {
	report res[MAXN];
	(void)s;
	for (int i = 0; i < 30; i++) {
		setup_run(2);
		run.timeout_ms = 1000;
		run.connect_timeout_ms = 3000;
		hcase = NULL;
		fuzz_seed = (uint64_t)i * 7919 + 1;
		assert_int_equal(pipe(done_pipe), 0);
		run_nodes(body_hostile, res, 30);
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
