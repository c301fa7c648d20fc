/* net/ with TLS 1.3: meshes of forked nodes whose links run inside
 * mutually authenticated TLS with pinned certificates, big transfers (timed
 * against plaintext), and what must fail and how: a wrong pin, an unpinned
 * certificate, a node without TLS, a flipped record, plaintext from a TLS
 * peer, a peer that never completes its handshake, and the inner faults.
 * Children report through a pipe and leave with _exit. */
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
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "net/mpc_net.h"
#include "net/mpc_net_fault.h"
#include "net/mpc_tls.h"
#include "protocols/mpc_local.h"
#include "runtime/mpc_log.h"

/* Every node's key and certificate, made once by the parent (the children
 * inherit them), plus one certificate nobody pins. */
static struct {
	EVP_PKEY *key[8];
	X509 *cert[8];
	uint8_t pin[8][32];
	EVP_PKEY *other_key;
	X509 *other_cert;
} cred;

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
	uint64_t absent;    /* nodes never started */
	uint64_t wrong_pin; /* nodes that pin a wrong fingerprint for wrong_pin_of */
	int wrong_pin_of;
	uint64_t other_cert; /* nodes that present an unpinned certificate */
	uint64_t plaintext;  /* nodes without TLS */
	int arg;             /* body-specific */
	int reps;
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
			         "ipc:///tmp/mpc-test-tls-%d-%d-%d", (int)getpid(), run_seq, i);
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
			             getenv("MPC_TEST_TLS_LOG") ? MPC_LOG_DEBUG : MPC_LOG_OFF,
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
	uint8_t pins[MAXN][32];
	mpc_net_tls tls = {.key = cred.key[id], .cert = cred.cert[id], .pins = pins};
	for (int i = 0; i < MPC_SESSION_BYTES; i++)
		cfg.session[i] = (uint8_t)(0xa0 + i);
	memcpy(pins, cred.pin, sizeof(pins));
	if (run.wrong_pin >> id & 1) /* this node pins garbage for node wrong_pin_of */
		pins[run.wrong_pin_of][7] ^= 0x10;
	if (run.other_cert >> id & 1) { /* this node shows a certificate nobody pins */
		tls.key = cred.other_key;
		tls.cert = cred.other_cert;
	}
	if (!(run.plaintext >> id & 1))
		cfg.tls = &tls;
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
	/* TLS adds a little to every chunk, never much */
	for (int i = 0; i < n; i++)
		assert_true(res[i].val[0] < res[i].val[1] + res[i].val[1] / 10 + 200000);
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

/* One big all-to-all round of run.arg MB per link, timed, checked. */
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
		if (b == NULL || recv[p] == NULL)
			_exit(1);
		fill(b, len, key(0, id, p, 3));
		memset(recv[p], 0, len); /* fault the pages in before timing */
		send[p] = b;
		sl[p] = rl[p] = len;
	}
	uint64_t all = ~0ull >> (64 - run.n);
	double best = 1e9;
	err = mpc_net_bcast(net, all, sync, all, sync, 1);
	for (int rep = 0; rep < run.reps && err == MPC_OK; rep++) {
		/* line everyone up so the timing is of the transfer alone */
		err = mpc_net_bcast(net, all, sync, all, sync, 1);
		double t0 = now_s();
		if (err == MPC_OK)
			err = mpc_net_exchange(net, send, sl, recv, rl);
		double t = now_s() - t0;
		best = t < best ? t : best;
	}
	r->secs = best;
	for (int p = 0; p < run.n; p++) {
		if (err == MPC_OK && p != id)
			CHECK(r, count_diff(recv[p], len, key(0, p, id, 3)) == 0);
		free((void *)send[p]);
		free(recv[p]);
	}
	finish(net, r, err);
}

static double big(int mb, int tcp, int plain, int reps) {
	report res[MAXN];
	setup_run(3);
	run.tcp = tcp;
	run.arg = mb;
	run.reps = reps;
	run.plaintext = plain ? ~0ull : 0;
	run_nodes(body_big, res, 50);
	expect_all_ok(res);
	double worst = 0;
	for (int i = 0; i < run.n; i++)
		if (res[i].secs > worst)
			worst = res[i].secs;
	print_message("    3 nodes over %s, %s, %d MB per link: %.3f s (best of %d), %.0f MB/s "
	              "per link, %.0f MB/s in all\n",
	              tcp ? "tcp" : "ipc", plain ? "plaintext" : "TLS", mb, worst, reps, mb / worst,
	              6 * mb / worst);
	return worst;
}

static int env_int(const char *name, int dflt) {
	const char *v = getenv(name);
	return v && atoi(v) > 0 ? atoi(v) : dflt;
}

static void test_big_ipc(void **s) {
	(void)s;
	big(env_int("MPC_TEST_TLS_MB", 50), 0, 0, 1);
}

/* The cost of TLS: 16 MB per link both ways between 3 processes over tcp. */
static void test_big_tcp_cost(void **s) {
	int mb = env_int("MPC_TEST_TLS_TCP_MB", 16), reps = env_int("MPC_TEST_TLS_REPS", 3);
	(void)s;
	double plain = big(mb, 1, 1, reps);
	double tls = big(mb, 1, 0, reps);
	print_message("    TLS / plaintext: %.2f\n", tls / plain);
}

/* ---- failures ---- */

/* Just open (and close). */
static void body_open(int id, report *r) {
	mpc_net *net = NULL;
	double t0 = now_s();
	mpc_err err = open_node(id, &net);
	r->secs = now_s() - t0;
	if (err != MPC_OK)
		net = NULL;
	else
		CHECK(r, mpc_net_uses_tls(net) == !(run.plaintext >> id & 1));
	finish(net, r, err);
}

static void has(const report *r, const char *what) {
	if (strstr(r->detail, what) == NULL)
		print_message("missing \"%s\" in: %s\n", what, r->detail);
	assert_non_null(strstr(r->detail, what));
}

static void fp_text(int node, char out[MPC_TLS_FP_TEXT]) {
	mpc_tls_fingerprint_format(cred.pin[node], out);
}

/* Node `who` pins a wrong fingerprint for node `of`: both end with
 * MPC_ECRYPTO naming each other; the pinning side names both fingerprints. */
static void wrong_pin(int n, int who, int of) {
	report res[MAXN];
	char fp[MPC_TLS_FP_TEXT];
	setup_run(n);
	run.wrong_pin = 1ull << who;
	run.wrong_pin_of = of;
	run.connect_timeout_ms = 4000;
	run_nodes(body_open, res, 30);
	fp_text(of, fp);
	assert_int_equal(res[who].err, MPC_ECRYPTO);
	has(&res[who], "the job file pins sha256:");
	has(&res[who], run.names[of]);
	has(&res[who], run.addr[of]);
	has(&res[who], fp); /* what it presented */
	has(&res[who], "update the fingerprint in the job file");
	assert_int_equal(res[of].err, MPC_ECRYPTO);
	has(&res[of], run.names[who]);
	has(&res[of], "refused our certificate");
	has(&res[of], fp); /* its own certificate, as refused */
	for (int i = 0; i < n; i++) {
		if (i == who || i == of)
			continue;
		/* the others were done already, hear an abort, or see a node
		 * give up before its channel with them was up */
		assert_true(res[i].err == MPC_OK || res[i].err == MPC_EPEER ||
		            res[i].err == MPC_ECRYPTO);
		assert_true(res[i].secs < 2);
	}
}

static void test_wrong_pin_client(void **s) {
	(void)s;
	wrong_pin(2, 0, 1); /* the client refuses the server */
}

static void test_wrong_pin_server(void **s) {
	(void)s;
	wrong_pin(2, 1, 0); /* the server refuses the client */
}

static void test_wrong_pin3(void **s) {
	(void)s;
	wrong_pin(3, 2, 1);
}

/* Node 1 presents a certificate that nobody pins. */
static void test_other_cert(void **s) {
	report res[MAXN];
	(void)s;
	setup_run(3);
	run.other_cert = 1u << 1;
	run.connect_timeout_ms = 4000;
	run_nodes(body_open, res, 30);
	assert_int_equal(res[1].err, MPC_ECRYPTO);
	has(&res[1], "refused our certificate");
	for (int i = 0; i < 3; i += 2) {
		assert_true(res[i].err == MPC_ECRYPTO || res[i].err == MPC_EPEER);
		has(&res[i], "party 1");
	}
	assert_true(res[0].err == MPC_ECRYPTO || res[2].err == MPC_ECRYPTO);
}

/* Node 1 runs without TLS: the TLS nodes refuse its plaintext, it refuses
 * their records; nobody runs a job. */
static void test_plaintext_node(void **s) {
	report res[MAXN];
	(void)s;
	setup_run(2);
	run.plaintext = 1u << 1;
	run.connect_timeout_ms = 3000;
	run_nodes(body_mesh, res, 30);
	/* either node 0 refuses node 1's clear message itself, or it hears node
	 * 1's clear abort first, which during set-up is the peer's word,
	 * marked unauthenticated; or, when ipc:// loses that abort (nanomsg
	 * drops what a closing sender has queued: README, Known limitations),
	 * it times out in the handshake and says to check TLS at party 1 */
	assert_true(res[0].err == MPC_ECRYPTO || res[0].err == MPC_EPEER ||
		    res[0].err == MPC_ETIMEDOUT);
	has(&res[0], "party 1");
	has(&res[0], res[0].err == MPC_ECRYPTO   ? "outside TLS"
		     : res[0].err == MPC_EPEER ? "not authenticated"
					       : "is it running with TLS on?");
	assert_int_equal(res[1].err, MPC_EPROTO);
	has(&res[1], "party 0");
	has(&res[1], "speaks TLS");
}

/* ---- misbehaving node 1, after one good round ---- */

enum { BAD_ABORT = 100, BAD_CLOSE };
#define BAD_LEN 10000

static mpc_err bad_round(mpc_net *net, int id, int round, report *r) {
	static uint8_t out[MAXN][BAD_LEN], in[MAXN][BAD_LEN];
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
	for (int p = 0; p < run.n && err == MPC_OK; p++)
		if (p != id)
			r->val[p] = count_diff(in[p], BAD_LEN, key(round, p, id, 7));
	return err;
}

static void body_bad(int id, report *r) {
	mpc_net *net = NULL;
	mpc_err err = open_node(id, &net);

	if (err == MPC_OK)
		err = bad_round(net, id, 0, r);
	for (int p = 0; p < run.n; p++)
		CHECK(r, r->val[p] == 0);
	if (err == MPC_OK && id == 1) {
		switch (run.arg) {
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
		err = bad_round(net, id, 1, r);
	r->secs = now_s() - t0;
	finish(net, r, err);
}

/* Every other node fails with `want` naming party 1 (and `must`), or hears
 * a peer's abort that does; at least one names party 1 itself. */
static void run_bad(int mode, mpc_err want, const char *must, double max_s) {
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
		has(&res[i], "party 1");
		assert_true(res[i].secs < max_s);
		if (res[i].err == want) {
			if (must)
				has(&res[i], must);
			named++;
		} else {
			assert_int_equal(res[i].err, MPC_EPEER);
		}
	}
	assert_true(named >= 1);
}

static void test_flip_record(void **s) {
	(void)s;
	run_bad(MPC_FAULT_FLIP_RECORD, MPC_ECRYPTO,
	        "record from party 1 failed authentication at step 2", 2);
}

static void test_abort(void **s) {
	(void)s;
	run_bad(BAD_ABORT, MPC_EPEER, "party 1 aborted: MAC check failed? at gate 7?", 2);
}

static void test_closed(void **s) {
	(void)s;
	run_bad(BAD_CLOSE, MPC_ECLOSED, "party 1 closed the session at step 2", 2);
}

/* Inside TLS the stream has no message boundaries: what follows the
 * truncated chunk is read as its rest, and the next header is garbage. */
static void test_fault_truncate(void **s) {
	(void)s;
	run_bad(MPC_FAULT_TRUNCATE, MPC_EPROTO, "garbled message inside TLS", 2);
}

static void test_fault_wrong_step(void **s) {
	(void)s;
	run_bad(MPC_FAULT_WRONG_STEP, MPC_EPROTO, "step 7 where step 2 was due", 2);
}

static void test_fault_replay(void **s) {
	(void)s;
	run_bad(MPC_FAULT_REPLAY, MPC_EPROTO, "replayed step 1 where step 2", 2);
}

static void test_fault_wrong_session(void **s) {
	(void)s;
	run_bad(MPC_FAULT_WRONG_SESSION, MPC_EPROTO, "another session at step 2", 2);
}

/* ---- node 1 is a raw nanomsg program that says hello in the clear ---- */

#define WIRE_HDR 54
static int raw_mode;     /* what node 1 does after hello */
static int done_pipe[2]; /* node 0 tells the raw node that it is finished */

static size_t encode(uint8_t *b, uint8_t type, uint64_t step, uint64_t total, uint32_t plen) {
	memset(b, 0, WIRE_HDR);
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(0x3143504du >> (8 * i));
	b[4] = 1;
	b[5] = type;
	b[6] = 1; /* from 1 to 0 */
	for (int i = 0; i < MPC_SESSION_BYTES; i++)
		b[10 + i] = (uint8_t)(0xa0 + i);
	for (int i = 0; i < 8; i++) {
		b[26 + i] = (uint8_t)(step >> (8 * i));
		b[34 + i] = (uint8_t)(total >> (8 * i));
	}
	for (int i = 0; i < 4; i++)
		b[50 + i] = (uint8_t)(plen >> (8 * i));
	return WIRE_HDR;
}

enum { RAW_SILENT, RAW_DATA, RAW_GARBAGE };

static void body_raw(report *r) {
	static uint8_t b[WIRE_HDR + 100];
	int pull = nn_socket(AF_SP, NN_PULL), push = nn_socket(AF_SP, NN_PUSH), ms = 3000;
	size_t len;
	char c1;

	nn_setsockopt(push, NN_SOL_SOCKET, NN_SNDTIMEO, &ms, sizeof(ms));
	CHECK(r, nn_bind(pull, run.addrs[1]) >= 0 && nn_connect(push, run.addrs[0]) >= 0);
	len = encode(b, 1, 0, 2, 0);
	CHECK(r, nn_send(push, b, len, 0) == (int)len);
	if (raw_mode == RAW_DATA) {
		/* a plaintext DATA message, well formed, as a plaintext peer sends it */
		len = encode(b, 2, 1, 100, 100);
		memset(b + WIRE_HDR, 'z', 100);
		CHECK(r, nn_send(push, b, len + 100, 0) == (int)(len + 100));
	} else if (raw_mode == RAW_GARBAGE) {
		/* a T_TLS message whose records are garbage */
		memcpy(b + 10, "\x16\x03\x03\x00\x20", 5);
		memset(b + 15, 0x5a, 32);
		b[5] = 6;
		CHECK(r, nn_send(push, b, 47, 0) == 47);
	}
	/* keep our sockets (and what is in them) until node 0 has judged */
	CHECK(r, read_all(done_pipe[0], &c1, 1) == 1);
	nn_close(push);
	nn_close(pull);
}

static void body_vs_raw(int id, report *r) {
	mpc_net *net = NULL;
	if (id == 1) {
		body_raw(r);
		return;
	}
	double t0 = now_s();
	mpc_err err = open_node(id, &net);
	r->secs = now_s() - t0;
	finish(err == MPC_OK ? net : NULL, r, err);
	(void)write_all(done_pipe[1], "x", 1);
}

static void vs_raw(int mode, report *res) {
	setup_run(2);
	run.timeout_ms = 2000;
	run.connect_timeout_ms = 1500;
	raw_mode = mode;
	assert_int_equal(pipe(done_pipe), 0);
	run_nodes(body_vs_raw, res, 30);
	close(done_pipe[0]);
	close(done_pipe[1]);
	assert_true(res[1].ok);
}

/* Node 1 says hello and never answers the TLS handshake. */
static void test_silent_peer(void **s) {
	report res[MAXN];
	(void)s;
	vs_raw(RAW_SILENT, res);
	assert_int_equal(res[0].err, MPC_ETIMEDOUT);
	has(&res[0], "TLS handshake with party 1");
	has(&res[0], run.addr[1]);
	assert_true(res[0].secs > 1.4 && res[0].secs < 4);
}

/* Node 1 sends a plaintext DATA message where TLS is required. */
static void test_plaintext_data(void **s) {
	report res[MAXN];
	(void)s;
	vs_raw(RAW_DATA, res);
	assert_int_equal(res[0].err, MPC_ECRYPTO);
	has(&res[0], "party 1");
	has(&res[0], "outside TLS");
}

/* Node 1 sends records that are not TLS. */
static void test_garbage_records(void **s) {
	report res[MAXN];
	(void)s;
	vs_raw(RAW_GARBAGE, res);
	assert_int_equal(res[0].err, MPC_ECRYPTO);
	has(&res[0], "party 1");
}

/* ---- the loopback cluster with TLS (and a dealer) ---- */

static mpc_err local_body(mpc_party *p, void *arg) {
	uint64_t mine = 1000 + (uint64_t)mpc_party_id(p), all[4] = {0};
	mpc_err err;
	(void)arg;
	if (!mpc_net_uses_tls(mpc_party_net(p)))
		return mpc_error(MPC_ECONFIG, "no TLS");
	if ((err = mpc_party_bcast(p, &mine, all, sizeof(mine))) != MPC_OK)
		return err;
	all[mpc_party_id(p)] = mine;
	return mpc_local_emit(all, sizeof(all));
}

static void test_local_tls(void **s) {
	mpc_local_config cfg = {.n_parties = 3, .with_dealer = 1, .use_tls = 1, .watchdog_s = 30};
	mpc_local_result res[4];
	(void)s;
	assert_int_equal(mpc_local_run(&cfg, local_body, NULL, res), MPC_OK);
	for (int i = 0; i < 4; i++) {
		if (res[i].err != MPC_OK)
			print_message("node %d: %s\n", i, res[i].detail);
		assert_int_equal(res[i].err, MPC_OK);
	}
	for (int i = 0; i < 3; i++) {
		uint64_t all[4];
		assert_int_equal(res[i].out_len, sizeof(all));
		memcpy(all, res[i].out, sizeof(all));
		for (int j = 0; j < 3; j++)
			assert_int_equal(all[j], 1000 + j);
	}
	mpc_local_results_fini(res, 4);
}

/* ---- set-up, in the parent ---- */

static void test_fingerprint(void **s) {
	char t[MPC_TLS_FP_TEXT];
	uint8_t fp[32];
	(void)s;
	assert_int_equal(mpc_tls_fingerprint(cred.cert[0], fp), MPC_OK);
	assert_memory_equal(fp, cred.pin[0], 32);
	assert_memory_not_equal(cred.pin[0], cred.pin[1], 32);
	mpc_tls_fingerprint_format(fp, t);
	assert_int_equal(strlen(t), 7 + 32 * 3 - 1);
	assert_memory_equal(t, "sha256:", 7);
	assert_true(t[9] == ':' && t[MPC_TLS_FP_TEXT - 2] != ':');
}

static void test_bad_config(void **s) {
	const char *addrs[2] = {"ipc:///tmp/mpc-test-tls-x0", "ipc:///tmp/mpc-test-tls-x1"};
	uint8_t pins[2][32] = {{0}};
	mpc_net_tls tls = {.key = cred.key[0], .cert = cred.cert[0], .pins = pins};
	mpc_net_config c = {.id = 0, .n_nodes = 2, .addrs = addrs, .tls = &tls};
	mpc_net *net = NULL;
	(void)s;
	tls.key = NULL;
	assert_int_equal(mpc_net_open(&net, &c), MPC_EINVAL);
	tls.key = cred.key[0];
	tls.pins = NULL;
	assert_int_equal(mpc_net_open(&net, &c), MPC_EINVAL);
	tls.pins = pins;
	tls.cert = cred.cert[1]; /* not our key's */
	assert_int_equal(mpc_net_open(&net, &c), MPC_ECONFIG);
	assert_null(net);
	assert_int_equal(mpc_net_uses_tls(NULL), 0);
}

static int make_creds(void **s) {
	(void)s;
	for (int i = 0; i < 8; i++) {
		char name[24];
		snprintf(name, sizeof(name), "party %d", i);
		if (mpc_tls_ephemeral(name, &cred.key[i], &cred.cert[i]) != MPC_OK ||
		    mpc_tls_fingerprint(cred.cert[i], cred.pin[i]) != MPC_OK)
			return -1;
	}
	return mpc_tls_ephemeral("intruder", &cred.other_key, &cred.other_cert) == MPC_OK ? 0 : -1;
}

static int free_creds(void **s) {
	(void)s;
	for (int i = 0; i < 8; i++) {
		EVP_PKEY_free(cred.key[i]);
		X509_free(cred.cert[i]);
	}
	EVP_PKEY_free(cred.other_key);
	X509_free(cred.other_cert);
	return 0;
}

int main(void) {
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fingerprint),
	    cmocka_unit_test(test_bad_config),
	    cmocka_unit_test(test_mesh2),
	    cmocka_unit_test(test_mesh3_small_chunks),
	    cmocka_unit_test(test_mesh5),
	    cmocka_unit_test(test_mesh3_tcp),
	    cmocka_unit_test(test_big_ipc),
	    cmocka_unit_test(test_big_tcp_cost),
	    cmocka_unit_test(test_wrong_pin_client),
	    cmocka_unit_test(test_wrong_pin_server),
	    cmocka_unit_test(test_wrong_pin3),
	    cmocka_unit_test(test_other_cert),
	    cmocka_unit_test(test_plaintext_node),
	    cmocka_unit_test(test_flip_record),
	    cmocka_unit_test(test_abort),
	    cmocka_unit_test(test_closed),
	    cmocka_unit_test(test_fault_truncate),
	    cmocka_unit_test(test_fault_wrong_step),
	    cmocka_unit_test(test_fault_replay),
	    cmocka_unit_test(test_fault_wrong_session),
	    cmocka_unit_test(test_silent_peer),
	    cmocka_unit_test(test_plaintext_data),
	    cmocka_unit_test(test_garbage_records),
	    cmocka_unit_test(test_local_tls),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, make_creds, free_creds);
}
