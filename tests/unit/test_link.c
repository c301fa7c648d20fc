/* node/mpc_link: control links between link sets of one process over
 * 127.0.0.1. Every set starts on port 0; the test then tells the others its
 * port with mpc_links_set_address. Calls, a handler calling on, handler
 * errors, wrong and unknown certificates, a peer stopped and restarted, a
 * silent peer, garbage and oversized frames, concurrent calls, prompt stops
 * and bad configurations. Time bounds are generous: they catch a wait that
 * is wrong by seconds, not a slow machine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the four above first */
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "net/mpc_tls.h"
#include "node/mpc_link.h"
#include "runtime/mpc_log.h"

enum { A, B, C, X, S, N_ID }; /* S: a silent listener (X's certificate pinned for it) */
static const char *names[N_ID] = {"A", "B", "C", "X", "S"};

#define PING_MS 100
#define DOWN_MS 500
#define IO_MS   1000
#define SLACK_S 1.5

static struct {
	EVP_PKEY *key[N_ID];
	X509 *cert[N_ID];
	uint8_t pin[N_ID][32];
} cred;

static mpc_links *set[N_ID];
static uint16_t port[N_ID];

/* The last state each set saw of each peer, and when. */
static pthread_mutex_t ev_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	int up;
	double at;
	int changes;
} ev[N_ID][N_ID];

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int id_of(const char *name) {
	for (int i = 0; i < N_ID; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	fail_msg("unknown name %s", name);
	return -1;
}

static void on_state(void *arg, const char *peer, int up) {
	int self = (int)(intptr_t)arg;
	pthread_mutex_lock(&ev_mu);
	ev[self][id_of(peer)].up = up;
	ev[self][id_of(peer)].at = now();
	ev[self][id_of(peer)].changes++;
	pthread_mutex_unlock(&ev_mu);
}

/* Seconds until self saw peer reach state up, or -1 after max_s. */
static double wait_state(int self, int peer, int up, double max_s) {
	double t0 = now();
	while (now() - t0 < max_s) {
		pthread_mutex_lock(&ev_mu);
		int s = ev[self][peer].up;
		pthread_mutex_unlock(&ev_mu);
		if (s == up)
			return now() - t0;
		usleep(10000);
	}
	return -1;
}

static char *dup_text(const char *s) {
	char *p = strdup(s);
	assert_non_null(p);
	return p;
}

/* "fail": MPC_EREFUSED; "sleep:": 300 ms, then an echo; "via:P:REQ": REQ
 * to P, its answer wrapped; anything else: an echo naming both ends. */
static mpc_err handler(void *arg, const char *peer, const char *req, size_t len, char **resp,
                       size_t *resp_len) {
	int self = (int)(intptr_t)arg;
	char buf[256];
	if (strlen(req) != len) /* binary or big: echo it as it is */
		goto echo;
	if (strcmp(req, "fail") == 0)
		return mpc_error(MPC_EREFUSED, "policy of %s says no to %s", names[self], peer);
	if (strncmp(req, "via:", 4) == 0 && len > 6) {
		char to[2] = {req[4], 0}, *inner = NULL;
		size_t n = 0;
		mpc_err err = mpc_links_call(set[self], to, req + 6, len - 6, &inner, &n, 0);
		if (err)
			return err;
		snprintf(buf, sizeof(buf), "%s relayed [%s]", names[self], inner);
		free(inner);
		*resp = dup_text(buf);
		*resp_len = strlen(buf);
		return MPC_OK;
	}
	if (strncmp(req, "sleep:", 6) == 0)
		usleep(300 * 1000);
	if (len < 200) {
		snprintf(buf, sizeof(buf), "%s got %s from %s", names[self], req, peer);
		*resp = dup_text(buf);
		*resp_len = strlen(buf);
		return MPC_OK;
	}
echo:
	*resp = malloc(len ? len : 1);
	assert_non_null(*resp);
	memcpy(*resp, req, len);
	*resp_len = len;
	return MPC_OK;
}

typedef struct {
	int io_ms;
	size_t max_message;
	int pin_as[N_ID]; /* pin peer i with this id's certificate (0: its own) */
	int cert_as;      /* present this id's certificate (0: our own) */
	const char *listen;
} opts;

/* Start self's set knowing the peers of mask, their addresses from port[]
 * (none yet where 0). */
static mpc_err start_opts(int self, unsigned mask, const opts *o, mpc_links **out) {
	mpc_link_peer peers[N_ID];
	char addr[N_ID][32], listen[32];
	int n = 0, me = o && o->cert_as ? o->cert_as : self;
	for (int i = 0; i < N_ID; i++) {
		if (!(mask >> i & 1))
			continue;
		int pin_id = o && o->pin_as[i] ? o->pin_as[i] : i;
		snprintf(addr[n], sizeof(addr[n]), "127.0.0.1:%u", port[i]);
		peers[n].name = names[i];
		peers[n].address = port[i] ? addr[n] : NULL;
		memcpy(peers[n].pin, cred.pin[pin_id], 32);
		n++;
	}
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", port[self]);
	mpc_links_config cfg = {
	    .self = names[self],
	    .listen = o && o->listen ? o->listen : listen,
	    .key = cred.key[me],
	    .cert = cred.cert[me],
	    .peers = peers,
	    .n_peers = n,
	    .ping_ms = PING_MS,
	    .down_after_ms = DOWN_MS,
	    .io_timeout_ms = o && o->io_ms ? o->io_ms : IO_MS,
	    .max_message = o ? o->max_message : 0,
	    .handler = handler,
	    .handler_arg = (void *)(intptr_t)self,
	    .on_state = on_state,
	    .state_arg = (void *)(intptr_t)self,
	};
	return mpc_links_start(&cfg, out);
}

static void start(int self, unsigned mask, const opts *o) {
	pthread_mutex_lock(&ev_mu);
	memset(ev[self], 0, sizeof(ev[self]));
	pthread_mutex_unlock(&ev_mu);
	mpc_err err = start_opts(self, mask, o, &set[self]);
	if (err)
		fail_msg("start %s: %s: %s", names[self], mpc_strerror(err), mpc_error_detail());
	port[self] = mpc_links_port(set[self]);
	assert_true(port[self] > 0);
}

/* Tell every running set in mask where the others in mask listen. */
static void introduce(unsigned mask) {
	char addr[32];
	for (int i = 0; i < N_ID; i++)
		for (int j = 0; j < N_ID; j++)
			if (i != j && (mask >> i & 1) && (mask >> j & 1) && set[i] && port[j]) {
				snprintf(addr, sizeof(addr), "127.0.0.1:%u", port[j]);
				assert_int_equal(mpc_links_set_address(set[i], names[j], addr),
				                 MPC_OK);
			}
}

static void stop(int self) {
	mpc_links_stop(set[self]);
	set[self] = NULL;
}

static int setup(void **s) {
	(void)s;
	memset(port, 0, sizeof(port));
	memset(set, 0, sizeof(set));
	memset(ev, 0, sizeof(ev));
	return 0;
}

static int teardown(void **s) {
	(void)s;
	for (int i = 0; i < N_ID; i++)
		stop(i);
	return 0;
}

static void call_ok(int from, int to, const char *req, const char *want) {
	char *resp = NULL;
	size_t n = 0;
	mpc_err err = mpc_links_call(set[from], names[to], req, strlen(req), &resp, &n, 0);
	if (err)
		fail_msg("%s -> %s: %s: %s", names[from], names[to], mpc_strerror(err),
		         mpc_error_detail());
	assert_string_equal(resp, want);
	assert_int_equal(n, strlen(want));
	free(resp);
}

static void has(const char *what) {
	if (strstr(mpc_error_detail(), what) == NULL)
		fail_msg("detail \"%s\" lacks \"%s\"", mpc_error_detail(), what);
}

static mpc_link_status status_of(int self, int peer) {
	mpc_link_status st[N_ID];
	int n = mpc_links_status(set[self], st, N_ID);
	for (int i = 0; i < n; i++)
		if (strcmp(st[i].name, names[peer]) == 0)
			return st[i];
	fail_msg("%s has no peer %s", names[self], names[peer]);
	return st[0];
}

#define ABC (1u << A | 1u << B | 1u << C)

static void test_calls(void **s) {
	(void)s;
	start(A, ABC & ~(1u << A), NULL);
	start(B, ABC & ~(1u << B), NULL);
	start(C, ABC & ~(1u << C), NULL);
	introduce(ABC);
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			if (i != j)
				assert_true(wait_state(i, j, 1, 3) >= 0);
	call_ok(A, B, "hello", "B got hello from A");
	call_ok(B, C, "hi", "C got hi from B");
	call_ok(C, A, "", "A got  from C");
	call_ok(A, B, "via:C:deep", "B relayed [C got deep from B]");

	/* a handler's error arrives as its code and detail, after the peer's name */
	char *resp = (char *)1;
	size_t n = 7;
	assert_int_equal(mpc_links_call(set[A], "B", "fail", 4, &resp, &n, 0), MPC_EREFUSED);
	assert_string_equal(mpc_error_detail(), "B: policy of B says no to A");
	assert_null(resp);
	assert_int_equal(n, 0);
	/* ... also through a relay: C's refusal, named by C, then by B */
	assert_int_equal(mpc_links_call(set[A], "B", "via:C:fail", 10, NULL, NULL, 0),
	                 MPC_EREFUSED);
	assert_string_equal(mpc_error_detail(), "B: C: policy of C says no to B");
	assert_int_equal(mpc_links_call(set[A], "Z", "x", 1, NULL, NULL, 0), MPC_EINVAL);
	has("\"Z\"");
	assert_int_equal(mpc_links_call(set[A], "A", "x", 1, NULL, NULL, 0), MPC_EINVAL);

	/* a big binary message, round trip */
	size_t big = 700 * 1000;
	char *msg = malloc(big);
	assert_non_null(msg);
	for (size_t i = 0; i < big; i++)
		msg[i] = (char)(i * 7 + 3);
	assert_int_equal(mpc_links_call(set[A], "C", msg, big, &resp, &n, 0), MPC_OK);
	assert_int_equal(n, big);
	assert_memory_equal(resp, msg, big);
	assert_int_equal(resp[big], 0);
	free(resp);
	/* over max_message (1 MiB): refused before sending */
	free(msg);
	msg = calloc(1, (1 << 20) + 1);
	assert_int_equal(mpc_links_call(set[A], "C", msg, (1 << 20) + 1, NULL, NULL, 0),
	                 MPC_EPROTO);
	free(msg);

	mpc_link_status st = status_of(A, B);
	assert_int_equal(st.up, 1);
	assert_true(st.pings_ok > 0);
	assert_true(st.rtt_ms > 0 && st.rtt_ms < 1000);
	assert_string_equal(st.last_error, "");
	assert_int_equal(st.backoff_ms, PING_MS);
	assert_true(st.since > 1.6e9);
	for (int i = 0; i < 3; i++)
		assert_int_equal(mpc_links_rejected(set[i]), 0);
}

/* A pins X's certificate for B: B's real one is refused, naming both. */
static void test_wrong_pin(void **s) {
	(void)s;
	char want[MPC_TLS_FP_TEXT + 16];
	char fp[MPC_TLS_FP_TEXT];
	opts o = {0};
	o.pin_as[B] = X;
	start(B, 1u << A, NULL);
	start(A, 1u << B, &o);
	introduce(1u << A | 1u << B);
	assert_int_equal(mpc_links_call(set[A], "B", "x", 1, NULL, NULL, 0), MPC_ECRYPTO);
	has("link to B (127.0.0.1:");
	mpc_tls_fingerprint_format(cred.pin[X], fp);
	snprintf(want, sizeof(want), "pinned %s", fp);
	has(want);
	mpc_tls_fingerprint_format(cred.pin[B], fp);
	snprintf(want, sizeof(want), "presented %s", fp);
	has(want);
	usleep(3 * PING_MS * 1000);
	mpc_link_status st = status_of(A, B);
	assert_int_equal(st.up, 0);
	assert_non_null(strstr(st.last_error, "certificate mismatch: pinned sha256:"));
	assert_true(st.pings_failed > 0);

	/* X (a certificate B does not pin) calls B: refused, counted */
	stop(A);
	uint64_t before = mpc_links_rejected(set[B]);
	start(X, 1u << B, NULL);
	assert_int_equal(mpc_links_call(set[X], "B", "x", 1, NULL, NULL, 0), MPC_ECRYPTO);
	has("link to B");
	has("refused us");
	double t0 = now(); /* B counts it on its own thread, maybe after X has returned */
	while (mpc_links_rejected(set[B]) == before && now() - t0 < 3)
		usleep(5000);
	assert_true(mpc_links_rejected(set[B]) > before);
	assert_true(mpc_links_rejected(set[X]) == 0);
}

/* B stops: A sees it down in time, calls fail at once; B restarts on its
 * port: A sees it up again. */
static void test_down_up(void **s) {
	(void)s;
	start(A, 1u << B, NULL);
	start(B, 1u << A, NULL);
	introduce(1u << A | 1u << B);
	assert_true(wait_state(A, B, 1, 3) >= 0);
	double t0 = now();
	stop(B);
	double took = wait_state(A, B, 0, 5);
	assert_true(took >= 0);
	print_message("down seen after %.0f ms (down_after %d, ping %d)\n", took * 1000, DOWN_MS,
	              PING_MS);
	assert_true(now() - t0 < (DOWN_MS + PING_MS) / 1000.0 + SLACK_S);
	t0 = now();
	assert_int_equal(mpc_links_call(set[A], "B", "x", 1, NULL, NULL, 0), MPC_ENET);
	assert_true(now() - t0 < 0.5);
	has("link to B");
	has("refused");
	mpc_link_status st = status_of(A, B);
	assert_int_equal(st.up, 0);
	assert_non_null(strstr(st.last_error, "refused"));
	assert_true(st.backoff_ms >= PING_MS && st.backoff_ms <= MPC_LINK_BACKOFF_MAX_MS);

	usleep(1500 * 1000); /* let the back-off grow */
	t0 = now();
	start(B, 1u << A, NULL); /* on the same port */
	took = wait_state(A, B, 1, MPC_LINK_BACKOFF_MAX_MS / 1000.0 + SLACK_S + 1);
	assert_true(took >= 0);
	print_message("up again after %.0f ms\n", took * 1000);
	call_ok(A, B, "back", "B got back from A");
	pthread_mutex_lock(&ev_mu);
	assert_int_equal(ev[A][B].changes, 3);
	pthread_mutex_unlock(&ev_mu);
}

/* A TCP listener that accepts and never speaks. */
static struct {
	int lfd, fds[16], n;
	atomic_int stop;
	pthread_t t;
} silent;

static void *silent_loop(void *arg) {
	(void)arg;
	while (!atomic_load(&silent.stop)) {
		struct pollfd p = {.fd = silent.lfd, .events = POLLIN};
		if (poll(&p, 1, 20) == 1 && silent.n < 16) {
			int fd = accept(silent.lfd, NULL, NULL);
			if (fd >= 0)
				silent.fds[silent.n++] = fd;
		}
	}
	return NULL;
}

static uint16_t silent_start(void) {
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	silent.lfd = socket(AF_INET, SOCK_STREAM, 0);
	silent.n = 0;
	atomic_store(&silent.stop, 0);
	assert_true(silent.lfd >= 0);
	assert_int_equal(bind(silent.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(silent.lfd, 16), 0);
	assert_int_equal(getsockname(silent.lfd, (struct sockaddr *)&a, &al), 0);
	assert_int_equal(pthread_create(&silent.t, NULL, silent_loop, NULL), 0);
	return ntohs(a.sin_port);
}

static void silent_stop(void) {
	atomic_store(&silent.stop, 1);
	pthread_join(silent.t, NULL);
	for (int i = 0; i < silent.n; i++)
		close(silent.fds[i]);
	close(silent.lfd);
}

static void test_silent(void **s) {
	(void)s;
	port[S] = silent_start();
	start(B, 1u << A, NULL);
	start(A, 1u << B | 1u << S, NULL);
	introduce(1u << A | 1u << B);
	assert_true(wait_state(A, B, 1, 3) >= 0);
	uint64_t pings = status_of(A, B).pings_ok;
	double t0 = now();
	assert_int_equal(mpc_links_call(set[A], "S", "x", 1, NULL, NULL, 0), MPC_ETIMEDOUT);
	double took = now() - t0;
	print_message("silent peer: MPC_ETIMEDOUT after %.0f ms (io_timeout %d)\n", took * 1000,
	              IO_MS);
	has("link to S (127.0.0.1:");
	has("silent for 1000 ms");
	assert_true(took > IO_MS / 1000.0 * 0.9 && took < IO_MS / 1000.0 + SLACK_S);
	/* B's keep-alives went on meanwhile */
	mpc_link_status st = status_of(A, B);
	assert_int_equal(st.up, 1);
	assert_true(st.pings_ok >= pings + 4);
	/* a shorter deadline of its own */
	t0 = now();
	assert_int_equal(mpc_links_call(set[A], "S", "x", 1, NULL, NULL, 200), MPC_ETIMEDOUT);
	assert_true(now() - t0 < 0.2 + SLACK_S);
	st = status_of(A, S);
	assert_int_equal(st.up, 0);
	assert_true(st.pings_ok == 0 && st.pings_failed > 0);
	assert_non_null(strstr(st.last_error, "silent"));
	stop(A);
	silent_stop();
}

static int raw_connect(uint16_t p) {
	struct sockaddr_in a = {
	    .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = htons(p)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static void raw_send(uint16_t p, const void *buf, size_t n) {
	int fd = raw_connect(p);
	if (n)
		assert_int_equal(send(fd, buf, n, MSG_NOSIGNAL), (ssize_t)n);
	char tmp[256];
	struct pollfd pf = {.fd = fd, .events = POLLIN};
	if (poll(&pf, 1, 2000) == 1) /* the server's answer: an alert, or its close */
		(void)!recv(fd, tmp, sizeof(tmp), 0);
	close(fd);
}

static void wait_rejected(int self, uint64_t want) {
	double t0 = now();
	while (mpc_links_rejected(set[self]) < want && now() - t0 < 3)
		usleep(5000);
	assert_int_equal(mpc_links_rejected(set[self]), want);
}

/* Garbage, a TLS hello cut short, an empty connection and an oversized
 * frame from an authenticated peer, too many connections at once: each
 * counted, the listener serves on. */
static void test_garbage(void **s) {
	(void)s;
	opts small = {.max_message = 1000};
	start(A, 1u << B, NULL);
	start(B, 1u << A, &small);
	introduce(1u << A | 1u << B);
	assert_true(wait_state(A, B, 1, 3) >= 0);
	uint64_t r = mpc_links_rejected(set[B]);
	raw_send(port[B], "GET / HTTP/1.0\r\n\r\n", 18);
	wait_rejected(B, ++r);
	uint8_t junk[4096];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 131 + 17);
	raw_send(port[B], junk, sizeof(junk));
	wait_rejected(B, ++r);
	raw_send(port[B], "\x16\x03\x01\xff\xff", 5); /* a handshake record of 64 KiB, cut */
	wait_rejected(B, ++r);
	raw_send(port[B], "\xff\xff\xff\xff", 4);
	wait_rejected(B, ++r);
	raw_send(port[B], NULL, 0);
	wait_rejected(B, ++r);
	char *big = calloc(1, 5000);
	assert_non_null(big);
	assert_int_equal(mpc_links_call(set[A], "B", big, 5000, NULL, NULL, 0), MPC_EPROTO);
	assert_string_equal(mpc_error_detail(), "B: a frame of 5000 bytes (at most 1000)");
	free(big);
	wait_rejected(B, ++r);
	call_ok(A, B, "still", "B got still from A");
	assert_int_equal(status_of(A, B).up, 1);

	/* over MPC_LINK_MAX_CONNS silent connections: the extra ones closed at
	 * once; each counted once, at the cap or when it is dropped */
	int fds[MPC_LINK_MAX_CONNS + 2];
	for (int i = 0; i < MPC_LINK_MAX_CONNS + 2; i++)
		fds[i] = raw_connect(port[B]);
	double t0 = now();
	while (mpc_links_rejected(set[B]) < r + 2 && now() - t0 < 3)
		usleep(5000);
	assert_true(mpc_links_rejected(set[B]) >= r + 2);
	for (int i = 0; i < MPC_LINK_MAX_CONNS + 2; i++)
		close(fds[i]);
	/* (A's keep-alives that came meanwhile were turned away too) */
	r += MPC_LINK_MAX_CONNS + 2;
	t0 = now();
	while (mpc_links_rejected(set[B]) < r && now() - t0 < 3)
		usleep(5000);
	assert_true(mpc_links_rejected(set[B]) >= r);
	assert_true(mpc_links_rejected(set[B]) <= r + status_of(A, B).pings_failed);
	call_ok(A, B, "again", "B got again from A");
	assert_int_equal(mpc_links_rejected(set[A]), 0);
}

typedef struct {
	int id, ok;
} worker;

static void *work(void *arg) {
	worker *w = arg;
	char req[64], want[128], *resp;
	size_t n;
	for (int i = 0; i < 50; i++) {
		snprintf(req, sizeof(req), "w%d-%d", w->id, i);
		snprintf(want, sizeof(want), "B got %s from A", req);
		if (mpc_links_call(set[A], "B", req, strlen(req), &resp, &n, 0) == MPC_OK) {
			w->ok += strcmp(resp, want) == 0 && n == strlen(want);
			free(resp);
		}
	}
	return NULL;
}

static void *slow(void *arg) {
	int *ok = arg;
	*ok = mpc_links_call(set[A], "B", "sleep:", 6, NULL, NULL, 0) == MPC_OK;
	return NULL;
}

/* 200 calls from 4 threads, and 8 slow handlers at once: all succeed, and
 * the slow ones hold up no keep-alive. */
static void test_concurrent(void **s) {
	(void)s;
	pthread_t t[4], u[8];
	worker w[4];
	int slow_ok[8];
	start(A, 1u << B, NULL);
	start(B, 1u << A, NULL);
	introduce(1u << A | 1u << B);
	assert_true(wait_state(A, B, 1, 3) >= 0);
	double t0 = now();
	for (int i = 0; i < 8; i++)
		assert_int_equal(pthread_create(&u[i], NULL, slow, &slow_ok[i]), 0);
	for (int i = 0; i < 4; i++) {
		w[i] = (worker){.id = i};
		assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].ok, 50);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(u[i], NULL);
		assert_true(slow_ok[i]);
	}
	print_message("200 calls from 4 threads and 8 slow ones: %.0f ms\n", (now() - t0) * 1000);
	assert_int_equal(status_of(A, B).up, 1);
	pthread_mutex_lock(&ev_mu);
	assert_int_equal(ev[A][B].changes, 1);
	pthread_mutex_unlock(&ev_mu);
	assert_int_equal(mpc_links_rejected(set[B]), 0);
}

static void *hung_call(void *arg) {
	int *code = arg;
	*code = mpc_links_call(set[A], "S", "x", 1, NULL, NULL, 10000);
	return NULL;
}

/* Stop with a call to a silent peer and a silent inbound connection in
 * progress, and with peers up: well under a second. */
static void test_stop_prompt(void **s) {
	(void)s;
	pthread_t t;
	int code = -1;
	port[S] = silent_start();
	start(B, 1u << A, NULL);
	start(A, 1u << B | 1u << S, NULL);
	introduce(1u << A | 1u << B);
	assert_true(wait_state(A, B, 1, 3) >= 0);
	assert_true(wait_state(B, A, 1, 3) >= 0);
	assert_int_equal(pthread_create(&t, NULL, hung_call, &code), 0);
	int fd = raw_connect(port[A]);
	usleep(200 * 1000);
	double t0 = now();
	stop(A);
	double took = now() - t0;
	pthread_join(t, NULL);
	print_message("stop with a hung call and a silent inbound connection: %.0f ms\n",
	              took * 1000);
	assert_true(took < 1.0);
	assert_int_equal(code, MPC_ESTOPPED);
	close(fd);
	t0 = now();
	stop(B);
	assert_true(now() - t0 < 1.0);
	silent_stop();
}

static void start_bad(mpc_links_config *cfg, mpc_err want, const char *detail) {
	mpc_links *l = (mpc_links *)1;
	assert_int_equal(mpc_links_start(cfg, &l), want);
	assert_null(l);
	has(detail);
}

static void test_config(void **s) {
	(void)s;
	mpc_link_peer peers[2] = {{.name = "B", .address = "127.0.0.1:1"},
	                          {.name = "C", .address = "[::1]:7702"}};
	memcpy(peers[0].pin, cred.pin[B], 32);
	memcpy(peers[1].pin, cred.pin[C], 32);
	mpc_links_config cfg = {.self = "A",
	                        .listen = "127.0.0.1:0",
	                        .key = cred.key[A],
	                        .cert = cred.cert[A],
	                        .peers = peers,
	                        .n_peers = 2};
	cfg.listen = "127.0.0.1";
	start_bad(&cfg, MPC_ECONFIG, "expected HOST:PORT");
	cfg.listen = "127.0.0.1:70000";
	start_bad(&cfg, MPC_ECONFIG, "port 0..65535");
	cfg.listen = "127.0.0.1:0";
	cfg.self = "A B";
	start_bad(&cfg, MPC_ECONFIG, "our name");
	cfg.self = "A";
	cfg.key = cred.key[B];
	start_bad(&cfg, MPC_ECONFIG, "do not go together");
	cfg.key = cred.key[A];
	peers[1].address = "::1:7702";
	start_bad(&cfg, MPC_ECONFIG, "peer C: address");
	peers[1].address = "[::1]:7702";
	peers[1].name = "B";
	start_bad(&cfg, MPC_ECONFIG, "the same name");
	peers[1].name = "A";
	start_bad(&cfg, MPC_ECONFIG, "other than ours");
	peers[1].name = "C";
	memcpy(peers[1].pin, cred.pin[B], 32);
	start_bad(&cfg, MPC_ECONFIG, "the same pin");
	memcpy(peers[1].pin, cred.pin[C], 32);
	cfg.n_peers = 0;
	start_bad(&cfg, MPC_ECONFIG, "0 peers");
	cfg.n_peers = 2;

	/* a port in use: MPC_ENET naming the address and the reason */
	mpc_links *l = NULL;
	assert_int_equal(mpc_links_start(&cfg, &l), MPC_OK);
	char addr[32];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", mpc_links_port(l));
	cfg.listen = addr;
	start_bad(&cfg, MPC_ENET, "Address already in use");
	has(addr);
	assert_int_equal(mpc_links_set_address(l, "Z", "127.0.0.1:1"), MPC_EINVAL);
	assert_int_equal(mpc_links_set_address(l, "B", "127.0.0.1"), MPC_ECONFIG);
	assert_int_equal(mpc_links_set_address(l, "B", NULL), MPC_OK);
	assert_int_equal(mpc_links_call(l, "B", "x", 1, NULL, NULL, 0), MPC_ENET);
	has("no address");
	mpc_link_status st[2];
	assert_int_equal(mpc_links_status(l, st, 2), 2);
	assert_int_equal(st[0].up, 0);
	mpc_links_stop(l);
	mpc_links_stop(NULL);
}

/* IPv6 loopback, where the machine has it. */
static void test_ipv6(void **s) {
	(void)s;
	opts o = {.listen = "[::1]:0"};
	mpc_links *l = NULL;
	if (start_opts(B, 1u << A, &o, &l) == MPC_ENET) {
		print_message("no IPv6 loopback here: %s\n", mpc_error_detail());
		return;
	}
	set[B] = l;
	port[B] = mpc_links_port(l);
	start(A, 1u << B, NULL);
	char addr[32];
	snprintf(addr, sizeof(addr), "[::1]:%u", port[B]);
	assert_int_equal(mpc_links_set_address(set[A], "B", addr), MPC_OK);
	call_ok(A, B, "six", "B got six from A");
}

int main(void) {
	mpc_log_init("test", MPC_LOG_ERROR, NULL);
	for (int i = 0; i < N_ID; i++) {
		if (mpc_tls_ephemeral(names[i], &cred.key[i], &cred.cert[i]) != MPC_OK ||
		    mpc_tls_fingerprint(cred.cert[i], cred.pin[i]) != MPC_OK)
			return 1;
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_calls, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_pin, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_down_up, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_silent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stop_prompt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ipv6, setup, teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	for (int i = 0; i < N_ID; i++) {
		EVP_PKEY_free(cred.key[i]);
		X509_free(cred.cert[i]);
	}
	return rc;
}
