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

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "net/mpc_net.h"
#include "net/mpc_net_fault.h"
#include "net/mpc_tls.h"
#include "tests/support/mpc_local.h"
#include "tests/support/nodes.h"

/* Every node's key and certificate, made once by the parent (the children
 * inherit them), plus one certificate nobody pins. */
static struct {
	EVP_PKEY *key[8];
	X509 *cert[8];
	uint8_t pin[8][32];
	EVP_PKEY *other_key;
	X509 *other_cert;
} cred;

/* What one run adds to nodes (tests/support/nodes.h). */
static struct {
	uint64_t wrong_pin; /* nodes that pin a wrong fingerprint for wrong_pin_of */
	int wrong_pin_of;
	uint64_t other_cert; /* nodes that present an unpinned certificate */
	uint64_t plaintext;  /* nodes without TLS */
	uint64_t threads;    /* nodes that seal and open large frames with two threads */
	size_t bad_len;      /* body_bad's message length (0: BAD_LEN) */
} run;

static mpc_err open_node(int id, mpc_net **net) {
	mpc_net_config cfg;
	uint8_t pins[NODES_MAX][32];
	mpc_net_tls tls = {.key = cred.key[id], .cert = cred.cert[id], .pins = pins};
	nodes_net_config(id, &cfg);
	memcpy(pins, cred.pin, sizeof(pins));
	if (run.wrong_pin >> id & 1) /* this node pins garbage for node wrong_pin_of */
		pins[run.wrong_pin_of][7] ^= 0x10;
	if (run.other_cert >> id & 1) { /* this node shows a certificate nobody pins */
		tls.key = cred.other_key;
		tls.cert = cred.other_cert;
	}
	if (!(run.plaintext >> id & 1))
		cfg.tls = &tls;
	cfg.crypto_threads = run.threads >> id & 1 ? 2 : 1;
	return mpc_net_open(net, &cfg);
}

static void setup_run(int n) {
	nodes_setup(n, "tls", open_node);
	memset(&run, 0, sizeof(run));
}

static void mesh(int n, size_t chunk, int tcp) {
	nodes_report res[NODES_MAX];
	setup_run(n);
	nodes.chunk = chunk;
	nodes.tcp = tcp;
	nodes_run(nodes_body_mesh, res, 40);
	nodes_expect_all_ok(res);
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

static double big(int mb, int tcp, int plain, int reps) {
	nodes_report res[NODES_MAX];
	setup_run(3);
	nodes.tcp = tcp;
	nodes.arg = mb;
	nodes.reps = reps;
	run.plaintext = plain ? ~0ull : 0;
	nodes_run(nodes_body_big, res, 50);
	nodes_expect_all_ok(res);
	double worst = 0;
	for (int i = 0; i < nodes.n; i++)
		if (res[i].secs > worst)
			worst = res[i].secs;
	print_message("    3 nodes over %s, %s, %d MB per link: %.3f s (best of %d), %.0f MB/s "
	              "per link, %.0f MB/s in all\n",
	              tcp ? "tcp" : "ipc", plain ? "plaintext" : "TLS", mb, worst, reps, mb / worst,
	              6 * mb / worst);
	return worst;
}

static void test_big_ipc(void **s) {
	(void)s;
	big(nodes_env_int("MPC_TEST_TLS_MB", 50), 0, 0, 1);
}

/* The cost of TLS: 16 MB per link both ways between 3 processes over tcp. */
static void test_big_tcp_cost(void **s) {
	int mb = nodes_env_int("MPC_TEST_TLS_TCP_MB", 16),
	    reps = nodes_env_int("MPC_TEST_TLS_REPS", 3);
	(void)s;
	double plain = big(mb, 1, 1, reps);
	double tls = big(mb, 1, 0, reps);
	print_message("    TLS / plaintext: %.2f\n", tls / plain);
}

/* ---- failures ---- */

/* Just open (and close). */
static void body_open(int id, nodes_report *r) {
	mpc_net *net = NULL;
	double t0 = nodes_now();
	mpc_err err = open_node(id, &net);
	r->secs = nodes_now() - t0;
	if (err != MPC_OK)
		net = NULL;
	else
		NODES_CHECK(r, mpc_net_uses_tls(net) == !(run.plaintext >> id & 1));
	nodes_finish(net, r, err);
}

static void fp_text(int node, char out[MPC_TLS_FP_TEXT]) {
	mpc_tls_fingerprint_format(cred.pin[node], out);
}

/* Node `who` pins a wrong fingerprint for node `of`: both end with
 * MPC_ECRYPTO naming each other; the pinning side names both fingerprints. */
static void wrong_pin(int n, int who, int of) {
	nodes_report res[NODES_MAX];
	char fp[MPC_TLS_FP_TEXT];
	setup_run(n);
	run.wrong_pin = 1ull << who;
	run.wrong_pin_of = of;
	nodes.connect_timeout_ms = 4000;
	nodes_run(body_open, res, 30);
	fp_text(of, fp);
	assert_int_equal(res[who].err, MPC_ECRYPTO);
	nodes_has(&res[who], "the job file pins sha256:");
	nodes_has(&res[who], nodes.names[of]);
	nodes_has(&res[who], nodes.addr[of]);
	nodes_has(&res[who], fp); /* what it presented */
	nodes_has(&res[who], "update the fingerprint in the job file");
	assert_int_equal(res[of].err, MPC_ECRYPTO);
	nodes_has(&res[of], nodes.names[who]);
	nodes_has(&res[of], "refused our certificate");
	nodes_has(&res[of], fp); /* its own certificate, as refused */
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
	nodes_report res[NODES_MAX];
	(void)s;
	setup_run(3);
	run.other_cert = 1u << 1;
	nodes.connect_timeout_ms = 4000;
	nodes_run(body_open, res, 30);
	assert_int_equal(res[1].err, MPC_ECRYPTO);
	nodes_has(&res[1], "refused our certificate");
	for (int i = 0; i < 3; i += 2) {
		assert_true(res[i].err == MPC_ECRYPTO || res[i].err == MPC_EPEER);
		nodes_has(&res[i], "party 1");
	}
	assert_true(res[0].err == MPC_ECRYPTO || res[2].err == MPC_ECRYPTO);
}

/* Node 1 runs without TLS: the TLS nodes refuse its plaintext, it refuses
 * their records; nobody runs a job. */
static void test_plaintext_node(void **s) {
	nodes_report res[NODES_MAX];
	(void)s;
	setup_run(2);
	run.plaintext = 1u << 1;
	nodes.connect_timeout_ms = 3000;
	nodes_run(nodes_body_mesh, res, 30);
	/* either node 0 refuses node 1's clear message itself, or it hears node
	 * 1's clear abort first, which during set-up is the peer's word,
	 * marked unauthenticated; or, when ipc:// loses that abort (nanomsg
	 * drops what a closing sender has queued: README, Known limitations),
	 * it times out in the handshake and says to check TLS at party 1 */
	assert_true(res[0].err == MPC_ECRYPTO || res[0].err == MPC_EPEER ||
	            res[0].err == MPC_ETIMEDOUT);
	nodes_has(&res[0], "party 1");
	nodes_has(&res[0], res[0].err == MPC_ECRYPTO ? "outside TLS"
	                   : res[0].err == MPC_EPEER ? "not authenticated"
	                                             : "is it running with TLS on?");
	assert_int_equal(res[1].err, MPC_EPROTO);
	nodes_has(&res[1], "party 0");
	nodes_has(&res[1], "speaks TLS");
}

/* ---- misbehaving node 1, after one good round ---- */

#define BAD_LEN 10000
#define BAD_MAX 200000

static mpc_err bad_round(mpc_net *net, int id, int round, nodes_report *r) {
	static uint8_t out[NODES_MAX][BAD_MAX], in[NODES_MAX][BAD_MAX];
	size_t len = run.bad_len ? run.bad_len : BAD_LEN;
	const void *send[NODES_MAX];
	void *recv[NODES_MAX];
	size_t sl[NODES_MAX], rl[NODES_MAX];
	for (int p = 0; p < nodes.n; p++) {
		sl[p] = rl[p] = p == id ? 0 : len;
		nodes_fill(out[p], len, nodes_key(round, id, p, 7));
		send[p] = out[p];
		recv[p] = in[p];
	}
	mpc_err err = mpc_net_exchange(net, send, sl, recv, rl);
	for (int p = 0; p < nodes.n && err == MPC_OK; p++)
		if (p != id)
			r->val[p] = nodes_count_diff(in[p], len, nodes_key(round, p, id, 7));
	return err;
}

static void body_bad(int id, nodes_report *r) {
	mpc_net *net = NULL;
	mpc_err err = open_node(id, &net);

	if (err == MPC_OK)
		err = bad_round(net, id, 0, r);
	for (int p = 0; p < nodes.n; p++)
		NODES_CHECK(r, r->val[p] == 0);
	if (err == MPC_OK && id == 1 && nodes_misbehave(net, r, nodes.arg))
		return;
	double t0 = nodes_now();
	if (err == MPC_OK)
		err = bad_round(net, id, 1, r);
	r->secs = nodes_now() - t0;
	nodes_finish(net, r, err);
}

/* Every other node fails with `want` naming party 1 (and `must`), or hears
 * a peer's abort that does; at least one names party 1 itself. */
static void run_bad(int mode, mpc_err want, const char *must, double max_s) {
	nodes_report res[NODES_MAX];
	setup_run(3);
	nodes.chunk = 4096;
	nodes.timeout_ms = 1000;
	nodes.arg = mode;
	nodes_run(body_bad, res, 40);
	nodes_expect_bad(res, want, want, must, max_s);
}

/* A frame tampered with on the way is dropped, never taken; the gap it
 * leaves in party 1's stream is what ends the round, naming the drop. */
static void test_flip_record(void **s) {
	(void)s;
	run_bad(MPC_FAULT_FLIP_RECORD, MPC_EPROTO,
	        "chunks lost or reordered; 1 frame claiming to come from party 1 dropped, the "
	        "last one failed authentication",
	        2);
}

/* The same on a frame of two records sealed and opened by two threads: the
 * second record is hit and the whole frame is dropped. It was the message's
 * only frame: the round waits, and ends when party 1 closes having sent
 * more than arrived (or at the deadline), naming the drop. */
static void test_flip_record_split(void **s) {
	nodes_report res[NODES_MAX];
	(void)s;
	setup_run(3);
	run.threads = ~0ull;
	run.bad_len = BAD_MAX;
	nodes.timeout_ms = 1000;
	nodes.arg = MPC_FAULT_FLIP_RECORD;
	nodes_run(body_bad, res, 40);
	nodes_expect_bad(res, MPC_EPROTO, MPC_ETIMEDOUT,
	                 "1 frame claiming to come from party 1 dropped, the last one failed "
	                 "authentication",
	                 4);
}

/* Frames of two records between nodes with and without a second thread:
 * the data arrives intact either way. */
static void test_mesh3_threads(void **s) {
	nodes_report res[NODES_MAX];
	(void)s;
	setup_run(3);
	run.threads = 1u << 0 | 1u << 2;
	nodes_run(nodes_body_mesh, res, 40);
	nodes_expect_all_ok(res);
	setup_run(3);
	run.threads = 1u << 0 | 1u << 2;
	nodes.arg = 20;
	nodes.reps = 1;
	nodes_run(nodes_body_big, res, 50);
	nodes_expect_all_ok(res);
}

static void test_abort(void **s) {
	(void)s;
	run_bad(NODES_BAD_ABORT, MPC_EPEER, "party 1 aborted: MAC check failed? at gate 7?", 2);
}

static void test_closed(void **s) {
	(void)s;
	run_bad(NODES_BAD_CLOSE, MPC_ECLOSED, "party 1 closed the session at step 2", 2);
}

/* One sealed frame per chunk: a chunk shorter than its header says is seen
 * as such, as without TLS. */
static void test_fault_truncate(void **s) {
	(void)s;
	run_bad(MPC_FAULT_TRUNCATE, MPC_EPROTO, "party 1 sent a truncated chunk at step 2", 2);
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

static int raw_mode;     /* what node 1 does after hello */
static int done_pipe[2]; /* node 0 tells the raw node that it is finished */

/* from node 1 to node 0 */
static size_t encode(uint8_t *b, uint8_t type, uint64_t step, uint64_t total, uint32_t plen) {
	return nodes_wire_hdr(b, 0, 1, type, 1, 0, NULL, step, total, 0, plen);
}

enum { RAW_SILENT, RAW_DATA, RAW_GARBAGE };

static void body_raw(nodes_report *r) {
	static uint8_t b[NODES_WIRE_HDR + 100];
	int pull = nn_socket(AF_SP, NN_PULL), push = nn_socket(AF_SP, NN_PUSH), ms = 3000;
	size_t len;
	char c1;

	nn_setsockopt(push, NN_SOL_SOCKET, NN_SNDTIMEO, &ms, sizeof(ms));
	NODES_CHECK(r, nn_bind(pull, nodes.addrs[1]) >= 0 && nn_connect(push, nodes.addrs[0]) >= 0);
	len = encode(b, 1, 1, 2, 0); /* step 1: it has node 0's hello */
	NODES_CHECK(r, nn_send(push, b, len, 0) == (int)len);
	if (raw_mode == RAW_DATA) {
		/* a plaintext DATA message, well formed, as a plaintext peer sends it */
		len = encode(b, 2, 1, 100, 100);
		memset(b + NODES_WIRE_HDR, 'z', 100);
		NODES_CHECK(r, nn_send(push, b, len + 100, 0) == (int)(len + 100));
	} else if (raw_mode == RAW_GARBAGE) {
		/* a T_TLS message of attempt 0 whose records are garbage */
		b[10] = b[11] = 0;
		memcpy(b + 12, "\x16\x03\x03\x00\x20", 5);
		memset(b + 17, 0x5a, 32);
		b[5] = 6;
		NODES_CHECK(r, nn_send(push, b, 49, 0) == 49);
	}
	/* keep our sockets (and what is in them) until node 0 has judged */
	NODES_CHECK(r, nodes_read_all(done_pipe[0], &c1, 1) == 1);
	nn_close(push);
	nn_close(pull);
}

static void body_vs_raw(int id, nodes_report *r) {
	mpc_net *net = NULL;
	if (id == 1) {
		body_raw(r);
		return;
	}
	double t0 = nodes_now();
	mpc_err err = open_node(id, &net);
	r->secs = nodes_now() - t0;
	nodes_finish(err == MPC_OK ? net : NULL, r, err);
	(void)nodes_write_all(done_pipe[1], "x", 1);
}

static void vs_raw(int mode, nodes_report *res) {
	setup_run(2);
	nodes.timeout_ms = 2000;
	nodes.connect_timeout_ms = 1500;
	raw_mode = mode;
	assert_int_equal(pipe(done_pipe), 0);
	nodes_run(body_vs_raw, res, 30);
	close(done_pipe[0]);
	close(done_pipe[1]);
	assert_true(res[1].ok);
}

/* Node 1 says hello and never answers the TLS handshake. */
static void test_silent_peer(void **s) {
	nodes_report res[NODES_MAX];
	(void)s;
	vs_raw(RAW_SILENT, res);
	assert_int_equal(res[0].err, MPC_ETIMEDOUT);
	nodes_has(&res[0], "party 1");
	nodes_has(&res[0], "never completed the TLS handshake");
	nodes_has(&res[0], nodes.addr[1]);
	assert_true(res[0].secs > 1.4 && res[0].secs < 4);
}

/* Node 1 sends a plaintext DATA message where TLS is required: dropped,
 * never taken; the set-up times out and says what was dropped. */
static void test_plaintext_data(void **s) {
	nodes_report res[NODES_MAX];
	(void)s;
	vs_raw(RAW_DATA, res);
	assert_int_equal(res[0].err, MPC_ETIMEDOUT);
	nodes_has(&res[0], "party 1");
	nodes_has(&res[0], "the last one came in the clear (type 2), where this job requires TLS");
}

/* Node 1 sends records that are not TLS: anyone could, so they do not end
 * the set-up; the handshake starts again (and, node 1 being no TLS node,
 * never completes: the timeout names what broke it). */
static void test_garbage_records(void **s) {
	nodes_report res[NODES_MAX];
	(void)s;
	vs_raw(RAW_GARBAGE, res);
	assert_int_equal(res[0].err, MPC_ETIMEDOUT);
	nodes_has(&res[0], "party 1");
	nodes_has(&res[0], "broke the TLS handshake");
	nodes_has(&res[0], "it starts again");
	assert_true(res[0].secs > 1.4);
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
	    cmocka_unit_test(test_flip_record_split),
	    cmocka_unit_test(test_mesh3_threads),
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
