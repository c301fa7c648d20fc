/* Forked meshes of mpc_net nodes for the net/ tests: see nodes.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the four above first */
#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "net/mpc_net_fault.h"
#include "runtime/mpc_file.h"
#include "runtime/mpc_log.h"
#include "tests/support/mpc_local.h"
#include "tests/support/nodes.h"

nodes_mesh nodes;

static int run_seq;

void nodes_setup(int n, const char *tag, nodes_open_fn open) {
	memset(&nodes, 0, sizeof(nodes));
	nodes.n = n;
	nodes.timeout_ms = 5000;
	nodes.connect_timeout_ms = 10000;
	nodes.tag = tag;
	nodes.open = open;
}

static void make_addrs(void) {
	run_seq++;
	if (nodes.tcp)
		assert_int_equal(mpc_local_free_ports(nodes.ports, nodes.n), MPC_OK);
	for (int i = 0; i < nodes.n; i++) {
		if (nodes.tcp)
			snprintf(nodes.addr[i], sizeof(nodes.addr[i]), "tcp://127.0.0.1:%d",
			         nodes.ports[i]);
		else
			snprintf(nodes.addr[i], sizeof(nodes.addr[i]),
			         "ipc:///tmp/mpc-test-%s-%d-%d-%d", nodes.tag, (int)getpid(),
			         run_seq, i);
		snprintf(nodes.name_buf[i], sizeof(nodes.name_buf[i]), "party %d", i);
		nodes.addrs[i] = nodes.addr[i];
		nodes.names[i] = nodes.name_buf[i];
	}
}

static void remove_ipc(void) {
	for (int i = 0; i < nodes.n; i++)
		if (strncmp(nodes.addr[i], "ipc://", 6) == 0)
			unlink(nodes.addr[i] + 6);
}

/* MPC_TEST_<TAG>_LOG set: the children log at debug level. */
static int log_wanted(void) {
	char name[64];
	size_t k = (size_t)snprintf(name, sizeof(name), "MPC_TEST_%s_LOG", nodes.tag);
	for (size_t i = 9; i < k && i < sizeof(name); i++)
		name[i] = (char)toupper((unsigned char)name[i]);
	return getenv(name) != NULL;
}

int nodes_write_all(int fd, const void *buf, size_t len) {
	return mpc_file_write_fd_all(fd, buf, len) == MPC_OK ? 0 : -1;
}

size_t nodes_read_all(int fd, void *buf, size_t len) {
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

void nodes_run(nodes_body_fn body, nodes_report *out, unsigned watchdog_s) {
	int fds[NODES_MAX];
	pid_t pids[NODES_MAX];

	make_addrs();
	memset(out, 0, sizeof(*out) * (size_t)nodes.n);
	alarm(watchdog_s);
	for (int i = 0; i < nodes.n; i++) {
		int pfd[2];
		pids[i] = -1;
		fds[i] = -1;
		if (nodes.absent >> i & 1)
			continue;
		assert_int_equal(pipe(pfd), 0);
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			nodes_report r;
			for (int j = 0; j < i; j++)
				if (fds[j] >= 0)
					close(fds[j]);
			close(pfd[0]);
			alarm(watchdog_s);
			mpc_log_init(nodes.names[i], log_wanted() ? MPC_LOG_DEBUG : MPC_LOG_OFF,
			             NULL);
			memset(&r, 0, sizeof(r));
			r.reported = 1;
			r.ok = 1;
			body(i, &r);
			(void)nodes_write_all(pfd[1], &r, sizeof(r));
			_exit(0);
		}
		close(pfd[1]);
		fds[i] = pfd[0];
	}
	for (int i = 0; i < nodes.n; i++) {
		if (fds[i] < 0)
			continue;
		if (nodes_read_all(fds[i], &out[i], sizeof(out[i])) != sizeof(out[i]))
			memset(&out[i], 0, sizeof(out[i]));
		close(fds[i]);
		waitpid(pids[i], NULL, 0);
	}
	alarm(0);
	remove_ipc();
	for (int i = 0; i < nodes.n; i++)
		if (out[i].reported)
			print_message("    node %d: %s%s%s %s (%.2f s)\n", i,
			              mpc_strerror(out[i].err), out[i].detail[0] ? ": " : "",
			              out[i].detail, out[i].note, out[i].secs);
}

void nodes_net_config(int id, mpc_net_config *cfg) {
	*cfg = (mpc_net_config){
	    .id = id,
	    .n_nodes = nodes.n,
	    .addrs = nodes.addrs,
	    .names = nodes.names,
	    .timeout_ms = nodes.timeout_ms,
	    .connect_timeout_ms = nodes.connect_timeout_ms,
	    .chunk_bytes = nodes.chunk,
	};
	for (int i = 0; i < MPC_SESSION_BYTES; i++)
		cfg->session[i] = (uint8_t)(0xa0 + i);
}

void nodes_finish(mpc_net *net, nodes_report *r, mpc_err err) {
	r->err = err;
	if (err != MPC_OK)
		snprintf(r->detail, sizeof(r->detail), "%s", mpc_error_detail());
	if (err == MPC_OK)
		mpc_net_close(net);
	else
		mpc_net_abort(net, err, r->detail);
}

double nodes_now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int nodes_env_int(const char *name, int dflt) {
	const char *v = getenv(name);
	return v && atoi(v) > 0 ? atoi(v) : dflt;
}

uint64_t nodes_mix(uint64_t x) {
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

uint64_t nodes_key(int round, int from, int to, int salt) {
	return nodes_mix((uint64_t)round << 40 ^ (uint64_t)from << 24 ^ (uint64_t)to << 8 ^
	                 (uint64_t)salt);
}

void nodes_fill(uint8_t *b, size_t len, uint64_t seed) {
	uint64_t s = nodes_mix(seed);
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		s += 0x9e3779b97f4a7c15ull;
		uint64_t v = s ^ (s >> 29);
		memcpy(b + i, &v, 8);
	}
	for (; i < len; i++)
		b[i] = (uint8_t)(nodes_mix(s + i));
}

size_t nodes_count_diff(const uint8_t *b, size_t len, uint64_t seed) {
	uint8_t *want = malloc(len ? len : 1);
	size_t diff = 0;
	if (want == NULL)
		return len + 1;
	nodes_fill(want, len, seed);
	for (size_t i = 0; i < len; i++)
		diff += b[i] != want[i];
	free(want);
	return diff;
}

void nodes_expect_all_ok(const nodes_report *res) {
	for (int i = 0; i < nodes.n; i++) {
		assert_true(res[i].reported);
		assert_int_equal(res[i].err, MPC_OK);
		assert_true(res[i].ok);
	}
}

void nodes_has(const nodes_report *r, const char *what) {
	if (strstr(r->detail, what) == NULL)
		print_message("missing \"%s\" in: %s\n", what, r->detail);
	assert_non_null(strstr(r->detail, what));
}

/* Lengths of the mesh rounds: a few zeros, mostly small, one big. */
static size_t mesh_len(int round, int from, int to) {
	uint64_t k = nodes_key(round, from, to, 1);
	if (k % 5 == 0)
		return 0;
	if (round == 3 && from == 0)
		return 3000000 + (size_t)(k % 1000);
	return 1 + (size_t)(k % 200000);
}

#define MESH_ROUNDS 6

void nodes_body_mesh(int id, nodes_report *r) {
	mpc_net *net = NULL;
	const void *send[NODES_MAX] = {0};
	void *recv[NODES_MAX] = {0};
	size_t sl[NODES_MAX], rl[NODES_MAX];
	uint64_t payload = 0;
	mpc_err err = nodes.open(id, &net);

	if (err != MPC_OK) {
		nodes_finish(NULL, r, err);
		return;
	}
	NODES_CHECK(r, mpc_net_id(net) == id && mpc_net_size(net) == nodes.n);
	NODES_CHECK(
	    r, strcmp(mpc_net_name(net, (id + 1) % nodes.n), nodes.names[(id + 1) % nodes.n]) == 0);
	for (int round = 0; round < MESH_ROUNDS && err == MPC_OK; round++) {
		for (int p = 0; p < nodes.n; p++) {
			sl[p] = p == id ? 0 : mesh_len(round, id, p);
			rl[p] = p == id ? 0 : mesh_len(round, p, id);
			payload += sl[p];
			send[p] = NULL;
			recv[p] = NULL;
			if (sl[p]) {
				uint8_t *b = malloc(sl[p]);
				nodes_fill(b, sl[p], nodes_key(round, id, p, 2));
				send[p] = b;
			}
			if (rl[p])
				recv[p] = malloc(rl[p]);
		}
		err = mpc_net_exchange(net, send, sl, recv, rl);
		for (int p = 0; p < nodes.n; p++) {
			if (err == MPC_OK && rl[p])
				NODES_CHECK(r, nodes_count_diff(recv[p], rl[p],
				                                nodes_key(round, p, id, 2)) == 0);
			free((void *)send[p]);
			free(recv[p]);
		}
	}
	if (err == MPC_OK) {
		NODES_CHECK(r, mpc_net_rounds(net) == MESH_ROUNDS);
		NODES_CHECK(r, mpc_net_bytes_sent(net) >= payload);
		r->val[0] = mpc_net_bytes_sent(net);
		r->val[1] = payload;
	}
	nodes_finish(net, r, err);
}

void nodes_body_big(int id, nodes_report *r) {
	size_t len = (size_t)nodes.arg << 20;
	mpc_net *net = NULL;
	const void *send[NODES_MAX] = {0};
	void *recv[NODES_MAX] = {0};
	size_t sl[NODES_MAX] = {0}, rl[NODES_MAX] = {0};
	uint8_t sync[NODES_MAX] = {0};
	mpc_err err = nodes.open(id, &net);

	if (err != MPC_OK) {
		nodes_finish(NULL, r, err);
		return;
	}
	for (int p = 0; p < nodes.n; p++) {
		if (p == id)
			continue;
		uint8_t *b = malloc(len);
		recv[p] = malloc(len);
		if (b == NULL || recv[p] == NULL)
			_exit(1);
		nodes_fill(b, len, nodes_key(0, id, p, 3));
		memset(recv[p], 0, len); /* fault the pages in before timing */
		send[p] = b;
		sl[p] = rl[p] = len;
	}
	uint64_t all = ~0ull >> (64 - nodes.n);
	double best = 1e9;
	err = mpc_net_bcast(net, all, sync, all, sync, 1);
	for (int rep = 0; rep < nodes.reps && err == MPC_OK; rep++) {
		/* line everyone up so the timing is of the transfer alone */
		err = mpc_net_bcast(net, all, sync, all, sync, 1);
		double t0 = nodes_now();
		if (err == MPC_OK)
			err = mpc_net_exchange(net, send, sl, recv, rl);
		double t = nodes_now() - t0;
		best = t < best ? t : best;
	}
	r->secs = best;
	for (int p = 0; p < nodes.n; p++) {
		if (err == MPC_OK && p != id)
			NODES_CHECK(r, nodes_count_diff(recv[p], len, nodes_key(0, p, id, 3)) == 0);
		free((void *)send[p]);
		free(recv[p]);
	}
	nodes_finish(net, r, err);
}

int nodes_misbehave(mpc_net *net, nodes_report *r, int mode) {
	switch (mode) {
	case NODES_BAD_STALL:
		/* past everyone's deadline; then just leave */
		usleep((unsigned)nodes.timeout_ms * 1000 + 1500000);
		r->err = MPC_OK;
		return 1;
	case NODES_BAD_KILL:
		raise(SIGKILL);
		return 1;
	case NODES_BAD_ABORT:
		mpc_net_abort(net, MPC_ECHEAT, "MAC check failed\001 at gate 7\n");
		r->err = MPC_OK;
		return 1;
	case NODES_BAD_CLOSE:
		mpc_net_close(net);
		r->err = MPC_OK;
		return 1;
	default:
		for (int p = 0; p < nodes.n; p++)
			if (p != mpc_net_id(net))
				mpc_net_set_fault(net, p, (mpc_net_fault)mode);
		return 0;
	}
}

void nodes_expect_bad(const nodes_report *res, mpc_err want, mpc_err also, const char *must,
                      double max_s) {
	int named = 0;
	for (int i = 0; i < nodes.n; i++) {
		if (i == 1)
			continue;
		assert_true(res[i].reported);
		assert_true(res[i].ok);
		nodes_has(&res[i], "party 1");
		assert_true(res[i].secs < max_s);
		if (res[i].err == want || res[i].err == also) {
			if (must)
				nodes_has(&res[i], must);
			named++;
		} else {
			assert_int_equal(res[i].err, MPC_EPEER);
		}
	}
	assert_true(named >= 1);
}

size_t nodes_wire_hdr(uint8_t *b, uint32_t magic, uint8_t version, uint8_t type, uint16_t from,
                      uint16_t to, const uint8_t *session, uint64_t step, uint64_t total,
                      uint64_t offset, uint32_t plen) {
	uint64_t f[3] = {step, total, offset};
	memset(b, 0, NODES_WIRE_HDR);
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)((magic ? magic : 0x3143504du) >> (8 * i));
	b[4] = version;
	b[5] = type;
	b[6] = (uint8_t)from;
	b[7] = (uint8_t)(from >> 8);
	b[8] = (uint8_t)to;
	b[9] = (uint8_t)(to >> 8);
	for (int i = 0; i < MPC_SESSION_BYTES; i++)
		b[10 + i] = session ? session[i] : (uint8_t)(0xa0 + i);
	for (int k = 0; k < 3; k++)
		for (int i = 0; i < 8; i++)
			b[26 + 8 * k + i] = (uint8_t)(f[k] >> (8 * i));
	for (int i = 0; i < 4; i++)
		b[50 + i] = (uint8_t)(plen >> (8 * i));
	return NODES_WIRE_HDR;
}
