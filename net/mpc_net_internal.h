/* Internals of net/ shared by its files; not for callers, not to be
 * installed (NOINST_HEADERS in the Makefile).
 *
 *   mpc_net.c        the public API: open, close, abort, rounds, deadlines,
 *                    keepalives, stop
 *   mpc_link.c       the links' set-up and teardown: configuration, sockets,
 *                    HELLO, polling, freeing
 *   mpc_handshake.c  each link's TLS handshake: T_TLS records in, restarts,
 *                    failures named, the set-up loop
 *   mpc_send.c       the send path: the outgoing queue (T_TLS records and
 *                    T_SEC frames), sealing, the chunk pump, control messages
 *   mpc_recv.c       the receive path: T_SEC frames opened, every message
 *                    checked and acted on, early chunks queued, drops counted
 *   mpc_net_hooks.c  test hooks only (MPC_TEST_HOOKS): fault injection in
 *                    the send path and the fuzz entry
 *
 * The per-chunk paths stay within one file each (mpc_send.c, mpc_recv.c);
 * what they share with the others is inline here or in mpc_wire.h. */
#ifndef MPC_NET_INTERNAL_H
#define MPC_NET_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <openssl/types.h>

#include "net/mpc_frame.h"
#include "net/mpc_net.h"
#include "net/mpc_net_fault.h"
#include "net/mpc_tls.h"
#include "net/mpc_wire.h"
#include "runtime/mpc_err.h"

#define POLL_MAX_MS 100
/* set-up: our HELLO again until the peer says it has it (mpc_link_hello) */
#define HELLO_RESEND_MS 500

typedef unsigned long long ull;

/* A received chunk kept until the caller asks for its step. */
typedef struct {
	void *msg;     /* nanomsg buffer holding header and payload */
	uint8_t *data; /* the payload in it (decrypted with TLS) */
	uint64_t step, offset, total;
	uint32_t plen;
} early_chunk;

/* Ciphertext sealed into a T_TLS message, waiting for the socket. */
typedef struct {
	void *msg;
	size_t len;
} out_msg;

/* Fault injection (mpc_net_fault.h), used only by the test hooks of
 * mpc_net_hooks.c; here in every build so that the layout of peer does not
 * depend on MPC_TEST_HOOKS (hooked and plain objects share it). */
typedef struct {
	mpc_net_fault armed; /* for the next DATA message */
	mpc_net_fault tx;    /* applies to the message in flight */
	int replay;          /* REPLAY: the stale chunk is still to go out */
	int flip_record;     /* MPC_FAULT_FLIP_RECORD armed */
	uint64_t prev_total; /* the previous message's length and first chunk size */
	uint32_t prev_plen;
} link_fault;

typedef struct {
	char *addr, *name;
	int sock; /* our PUSH socket to the peer, -1 if none */
	mpc_net *net;
	int idx;

	/* TLS (net->tls): the handshake, then the sealed frames. */
	SSL *ssl;
	mpc_tls_link link;
	int tls_done;         /* handshake complete, frame keys ready */
	int tls_confirmed;    /* a sealed frame from the peer opened */
	int tls_dead;         /* failed: the SSL object is not used again */
	unsigned hs_gen;      /* the handshake attempt (16 bits on the wire) */
	unsigned hs_restarts; /* how often it started again */
	uint8_t *ob;          /* the T_TLS message being filled (handshake) */
	size_t ob_len, ob_cap;
	out_msg *oq; /* T_TLS and T_SEC messages, in order */
	size_t oq_head, oq_len, oq_cap;
	mpc_frame_dir tx_key, rx_key;
	uint64_t tx_seq;             /* the next frame's counter */
	uint64_t rx_seq;             /* the lowest counter still acceptable */
	uint64_t dropped;            /* frames claiming to be from this peer, dropped */
	char note[REASON_MAX + 160]; /* the last one, for a timeout's message */

	/* Sending. */
	uint64_t tx_steps; /* DATA messages started towards the peer */
	int tx_active;
	const uint8_t *tx_buf;
	size_t tx_len, tx_off;
	void *tx_msg; /* a chunk prepared but not yet taken by the socket */
	size_t tx_msg_bytes;
	size_t tx_msg_plen; /* how far it moves tx_off (0: a replayed chunk) */
	link_fault fault;
	int64_t last_accept; /* ms: when the socket last took a chunk */
	int64_t next_keepalive;
	int hello_sent, bye_sent, abort_sent;
	/* Set-up: our HELLO is sent again every HELLO_RESEND_MS until the
	 * peer's HELLO says it has ours (hello_acked; a HELLO handed to an
	 * address whose previous listener is still closing is lost), and once
	 * it does, one more that says we have its (ack_final). */
	int hello_acked, ack_sent, ack_final;
	int64_t next_hello;

	/* Receiving. Chunks from one peer come in order over its one connection,
	 * so where its DATA stream must be (step, offset) is checked on arrival,
	 * asked for or not; only the length check waits for the request. */
	int hello, bye, aborted;
	uint64_t rx_step, rx_off, rx_total;
	uint64_t consumed; /* messages handed to the caller */
	early_chunk *q;
	size_t q_head, q_len, q_cap;
	int64_t last_heard, last_data;
	uint64_t early_bytes; /* held in q */
	char reason[REASON_MAX + 1];

	/* The current request: message consumed + 1, want_len bytes into dst. */
	int want;
	uint8_t *dst;
	size_t want_len, got;
} peer;

struct mpc_net {
	int id, n;
	int pull;
	int tls;
	SSL_CTX *tls_ctx;
	mpc_frame_worker *worker;         /* seals and opens half of large frames; NULL: none */
	uint8_t tls_fp[MPC_TLS_FP_BYTES]; /* our certificate's */
	int timeout_ms, connect_timeout_ms, keepalive_ms;
	size_t chunk;
	uint8_t session[MPC_SESSION_BYTES];
	peer *peers;
	uint64_t bytes_sent, rounds;
	uint64_t dropped; /* frames dropped (mpc_net_dropped) */
	int64_t next_drop_warn;
	int closing; /* close(): drop everything but BYE and ABORT */
	int opened;  /* mpc_net_open finished: set-up aborts no longer come in clear */
	mpc_err failed;
	char failed_detail[1024];
};

static inline int64_t now_ms(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int tls_usable(const peer *pr) {
	return pr->tls_done && !pr->tls_dead;
}

/* A header of ours from this node to p, the fields after `to` zero. */
static inline void init_hdr(const mpc_net *net, int p, int type, wire_hdr *h) {
	memset(h, 0, sizeof(*h));
	h->magic = WIRE_MAGIC;
	h->version = WIRE_VERSION;
	h->type = (uint8_t)type;
	h->from = (uint16_t)net->id;
	h->to = (uint16_t)p;
	memcpy(h->session, net->session, MPC_SESSION_BYTES);
}

/* The payload bytes of p's next DATA chunk, and its header. */
static inline size_t chunk_len(const mpc_net *net, const peer *pr) {
	size_t plen = pr->tx_len - pr->tx_off;
	return plen > net->chunk ? net->chunk : plen;
}

static inline void data_hdr(const mpc_net *net, int p, size_t plen, wire_hdr *h) {
	const peer *pr = &net->peers[p];
	init_hdr(net, p, T_DATA, h);
	h->step = pr->tx_steps;
	h->total = pr->tx_len;
	h->offset = pr->tx_off;
	h->plen = (uint32_t)plen;
}

/* ---- mpc_net.c ---- */

/* MPC_ESTOPPED once mpc_net_stop was called, naming the signal. */
mpc_err mpc_net_check_stop(const mpc_net *net) MPC_MUST_CHECK;

/* ---- mpc_link.c ---- */

/* Copy cfg (already checked) into a zeroed net: peers, names, timeouts. */
mpc_err mpc_link_config(mpc_net *net, const mpc_net_config *cfg) MPC_MUST_CHECK;
/* Bind our PULL socket, connect a PUSH socket to every peer. */
mpc_err mpc_link_open_sockets(mpc_net *net) MPC_MUST_CHECK;
/* Exchange HELLO with every peer within the connect timeout. */
mpc_err mpc_link_hello(mpc_net *net) MPC_MUST_CHECK;
/* Through HELLO with peer pr: each side has the other's, and knows it. */
int mpc_link_hello_done(const peer *pr);
/* Through HELLO (tls = 0) or the TLS handshake (tls = 1) with peer pr. */
int mpc_link_setup_done(const peer *pr, int tls);
/* For a set-up timeout: the peers not yet past HELLO (tls = 0) or the TLS
 * handshake (tls = 1), what we know of each, into list; returns how many. */
int mpc_link_missing(mpc_net *net, int tls, char *list, size_t cap);
/* Sleep until something arrives, a socket in out_mask can take a message,
 * or ms (at most POLL_MAX_MS) pass. */
mpc_err mpc_link_poll(mpc_net *net, uint64_t out_mask, int64_t ms) MPC_MUST_CHECK;
/* Close the sockets and free everything, wiping what was decrypted. */
void mpc_link_destroy(mpc_net *net);

/* ---- mpc_handshake.c ---- */

/* TLS context, fingerprint, worker thread and one SSL object per peer. */
mpc_err mpc_handshake_setup(mpc_net *net, const mpc_net_tls *tls, int cfg_threads) MPC_MUST_CHECK;
/* Every link's handshake, until every peer is confirmed or the connect
 * timeout passes. */
mpc_err mpc_handshake_run(mpc_net *net) MPC_MUST_CHECK;
/* A T_TLS message off the wire. Takes ownership of msg. */
mpc_err mpc_handshake_message(mpc_net *net, void *msg, size_t len) MPC_MUST_CHECK;

/* ---- mpc_send.c ---- */

/* The BIO's output (mpc_tls_link.out): whole records for pr's T_TLS queue. */
int mpc_send_tls_out(void *arg, const void *buf, size_t len);
/* Queue an empty T_TLS of the current attempt: a restarted server asks for
 * a new ClientHello. */
mpc_err mpc_send_restart_notice(peer *pr) MPC_MUST_CHECK;
/* Discard what waits to be sent to pr (ciphertext and handshake records). */
void mpc_send_drop_queue(peer *pr);
/* Seal what waits for p and hand its socket what it takes now. */
mpc_err mpc_send_flush(mpc_net *net, int p, int *progress) MPC_MUST_CHECK;
/* Flush every peer (with TLS); *out_mask gets those whose socket is full. */
mpc_err mpc_send_flush_all(mpc_net *net, int *progress, uint64_t *out_mask) MPC_MUST_CHECK;
/* Seal one message (hdr, then plen bytes of payload) as a T_SEC frame at
 * the end of p's queue. */
mpc_err mpc_send_seal(mpc_net *net, int p, const uint8_t *hdr, const uint8_t *payload,
                      size_t plen) MPC_MUST_CHECK;
/* HELLO, BYE, ABORT, KEEPALIVE; *sent: the socket (or, with TLS, the
 * queue) took it. */
mpc_err mpc_send_ctl(mpc_net *net, int p, int type, uint64_t step, uint64_t total,
                     const char *payload, uint32_t plen, int *sent) MPC_MUST_CHECK;
/* Start the next DATA message to p: len > 0 bytes from buf, borrowed. */
void mpc_send_start(mpc_net *net, int p, const void *buf, size_t len);
/* Send p as many chunks as its socket takes now. */
mpc_err mpc_send_pump(mpc_net *net, int p, int *progress) MPC_MUST_CHECK;
/* Forget the message in flight to pr (close, abort). */
void mpc_send_drop(peer *pr);

/* ---- mpc_recv.c ---- */

/* Take what has arrived, without waiting. Closing callers ignore its
 * result, hence no MPC_MUST_CHECK. */
mpc_err mpc_recv_pull(mpc_net *net, int *progress);
/* One message off the wire. Takes ownership of msg. */
mpc_err mpc_recv_dispatch(mpc_net *net, void *msg, size_t len, int64_t now) MPC_MUST_CHECK;
/* Feed the request of p from the chunks that arrived before it. */
mpc_err mpc_recv_drain_early(mpc_net *net, int p) MPC_MUST_CHECK;
/* Drop a frame that does not come from an authenticated peer: count it,
 * warn at most once a second. p: the peer it claims to come from, -1. */
void mpc_recv_drop_frame(mpc_net *net, int p, const char *fmt, ...) MPC_PRINTF(3, 4);
/* "; <what was dropped>" when frames claiming to come from pr were
 * dropped, else "": the likely reason for a gap in its stream. */
const char *mpc_recv_drop_note(const peer *pr, char *buf, size_t cap);

/* ---- mpc_net_hooks.c: test hooks, only with MPC_TEST_HOOKS ---- */
#ifdef MPC_TEST_HOOKS
/* A message starts: the armed fault applies to it. */
void mpc_fault_start(mpc_net *net, peer *pr);
/* Whether p's next chunk carries a fault (and is built by the hooks). */
static inline int mpc_fault_due(const peer *pr) {
	return pr->fault.replay || pr->fault.tx != MPC_FAULT_NONE;
}
/* Build p's next chunk, fault included, into pr->tx_msg (plaintext). */
mpc_err mpc_fault_build_chunk(mpc_net *net, int p) MPC_MUST_CHECK;
/* With TLS: build p's next chunk with its fault, seal it, move on. */
mpc_err mpc_fault_seal_chunk(mpc_net *net, int p) MPC_MUST_CHECK;
/* FLIP_RECORD: spoil the sealed frame m (len bytes) of message hdr. */
void mpc_fault_flip_record(peer *pr, const uint8_t *hdr, uint8_t *m, size_t len);
#endif

#endif
