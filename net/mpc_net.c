/* Rounds of messages over a nanomsg mesh: one PULL socket per node, one PUSH
 * socket per peer, logical messages cut into chunks that each carry a header
 * checked field by field on arrival. */
#include "net/mpc_net.h"
#include "net/mpc_frame.h"
#include "net/mpc_net_fault.h"
#include "net/mpc_tls.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>
#include <nanomsg/tcp.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "runtime/mpc_bytes.h"
#include "runtime/mpc_log.h"
#include "runtime/mpc_wipe.h"

/* Wire header, little-endian, packed:
 *   0 magic u32 "MPC1"   4 version u8   5 type u8   6 from u16   8 to u16
 *  10 session[16]       26 step u64    34 total_len u64        42 offset u64
 *  50 payload_len u32   54 payload
 * HELLO: step 0, total_len = number of nodes. DATA: step >= 1 (per directed
 * link), the chunk's offset in a message of total_len bytes. BYE: step = the
 * number of DATA messages the sender sent us. ABORT: the payload is the
 * reason. KEEPALIVE: step = the step the sender waits for from us, 0 if none.
 *
 * With TLS, only HELLO travels as above, in the clear; it asks for nothing
 * but a TLS handshake, whose records travel as T_TLS:
 *   0 magic u32   4 version u8   5 type u8 (T_TLS)   6 from u16   8 to u16
 *  10 attempt u16   12 TLS handshake records
 * Anyone can send records, so a handshake broken by records that are not
 * the peer's starts again as attempt + 1 (the client with a new
 * ClientHello, the server with an empty T_TLS that asks for one); records
 * of an earlier attempt are dropped. Only what an outsider cannot forge
 * ends the set-up: a certificate whose fingerprint is not the pinned one,
 * or a certificate alert from the peer.
 * Once the handshake with a peer is done, every message to it (DATA, BYE,
 * ABORT, KEEPALIVE) is one sealed frame, T_SEC:
 *   0 magic u32   4 version u8   5 type u8 (T_SEC)   6 from u16   8 to u16
 *  10 counter u64   18 split u32
 *  22 record 1: the message above, encrypted: its 54-byte header and 10 zero
 *     bytes, then the first `split` bytes of its payload; a 16-byte tag
 *     record 2, if the payload is longer: the rest of it, encrypted; a tag
 * AES-128-OCB under the direction's key exported from the handshake
 * (mpc_frame.h); the first 22 bytes are each record's additional data, the
 * counter the first record's nonce and counter + 1 the second's. Two
 * records let a second thread seal or open half of a large frame. Counters only go up: a frame at or below one already opened is a
 * replay. A frame that does not open, claims another sender or comes before
 * its channel is dropped and counted, never fatal: only a peer holding the
 * pinned key can change a job's state. */
#define WIRE_MAGIC   0x3143504du
#define WIRE_VERSION 1
#define HDR_BYTES    54
#define TLS_HDR      12
/* A handshake broken this often by records that are not the peer's ends
 * the set-up (someone floods the port). A peer's attempts only move one at
 * a time; one further ahead than HS_AHEAD is no peer's. */
#define HS_ATTEMPTS  1000
#define HS_AHEAD     16
#define SEC_HDR      22
#define SEC_INNER    64 /* the inner header and 10 zero bytes: whole cipher blocks */
#define SEC_OVER     (SEC_HDR + SEC_INNER - HDR_BYTES + MPC_FRAME_TAG) /* one record */
/* Payloads from this size are sealed as two records, one by the worker. */
#define SPLIT_MIN    ((size_t)64 << 10)
enum { T_HELLO = 1, T_DATA, T_BYE, T_ABORT, T_KEEPALIVE, T_TLS, T_SEC };

#define DEFAULT_CHUNK ((size_t)1 << 20)
#define MAX_CHUNK     ((size_t)64 << 20)  /* bounds what a peer can make nanomsg allocate */
/* Bytes one peer may send ahead of our requests. Our largest message is one
 * round of 2^21 Z_2^128 pairs (64 MiB); a peer is at most a round or two
 * ahead. With TLS only an authenticated peer gets this far. */
#define EARLY_MAX     ((uint64_t)256 << 20)
/* What one queued chunk costs: the frame as received, and our entry. */
#define EARLY_COST(plen) ((uint64_t)(plen) + SEC_OVER + HDR_BYTES + sizeof(early_chunk) + 64)
/* Dropped frames: one warning a second at most. */
#define DROP_WARN_MS  1000
#define REASON_MAX    512
#define SOCK_BUF      (4 << 20)
#define POLL_MAX_MS   100
/* nanomsg has no working linger: a message handed over just before nn_close
 * may never leave, and over ipc:// a receiver that is not reading when the
 * sender closes loses what it had not taken yet (tcp:// keeps it in the
 * kernel). Hence the BYE handshake and a short pause before nn_close. */
#define CLOSE_WAIT_MS  5000
#define ABORT_WAIT_MS  200
/* Set-up failed: how long the handshakes under way may take to finish, so
 * that our abort can reach those peers authenticated. */
#define SETUP_ABORT_MS 1000
#define FLUSH_PAUSE_MS 50
#define RECV_BATCH     16 /* messages taken before we look at our sends again */
/* A peer that only sends keepalives (it waits for someone else) holds us at
 * most this many timeouts before we give up on it. */
#define KEEPALIVE_SPAN 4

typedef struct {
	uint32_t magic;
	uint8_t version, type;
	uint16_t from, to;
	uint8_t session[MPC_SESSION_BYTES];
	uint64_t step, total, offset;
	uint32_t plen;
} wire_hdr;

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

typedef struct {
	char *addr, *name;
	int sock; /* our PUSH socket to the peer, -1 if none */
	mpc_net *net;
	int idx;

	/* TLS (net->tls): the handshake, then the sealed frames. */
	SSL *ssl;
	mpc_tls_link link;
	int tls_done;      /* handshake complete, frame keys ready */
	int tls_confirmed; /* a sealed frame from the peer opened */
	int tls_dead;      /* failed: the SSL object is not used again */
	int flip_record;   /* MPC_FAULT_FLIP_RECORD armed */
	unsigned hs_gen;      /* the handshake attempt (16 bits on the wire) */
	unsigned hs_restarts; /* how often it started again */
	uint8_t *ob;       /* the T_TLS message being filled (handshake) */
	size_t ob_len, ob_cap;
	out_msg *oq; /* T_TLS and T_SEC messages, in order */
	size_t oq_head, oq_len, oq_cap;
	mpc_frame_dir tx_key, rx_key;
	uint64_t tx_seq;      /* the next frame's counter */
	uint64_t rx_seq;      /* the lowest counter still acceptable */
	uint64_t dropped;     /* frames claiming to be from this peer, dropped */
	char note[REASON_MAX + 160]; /* the last one, for a timeout's message */

	/* Sending. */
	uint64_t tx_steps; /* DATA messages started towards the peer */
	int tx_active;
	const uint8_t *tx_buf;
	size_t tx_len, tx_off;
	mpc_net_fault tx_fault; /* applies to the message in flight */
	int tx_replay;          /* REPLAY: the stale chunk is still to go out */
	void *tx_msg;           /* a chunk prepared but not yet taken by the socket */
	size_t tx_msg_bytes, tx_msg_plen;
	int tx_msg_stale;
	uint64_t prev_total; /* the previous message's length and first chunk size */
	uint32_t prev_plen;
	mpc_net_fault fault; /* armed for the next DATA message */
	int64_t last_accept; /* ms: when the socket last took a chunk */
	int64_t next_keepalive;
	int hello_sent, bye_sent, abort_sent;

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
	mpc_frame_worker *worker; /* seals and opens half of large frames; NULL: none */
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

typedef unsigned long long ull;

/* mpc_net_stop: the signal that asked this process to stop, 0 if none. */
static volatile sig_atomic_t stop_signo;

void mpc_net_stop(int signo) {
	stop_signo = signo > 0 ? signo : -1;
}

int mpc_net_stop_signal(void) {
	return stop_signo;
}

/* MPC_ESTOPPED once a stop was asked for, naming the signal. */
static mpc_err check_stop(const mpc_net *net) {
	int s = stop_signo;
	if (s == 0)
		return MPC_OK;
	return mpc_error(MPC_ESTOPPED, "%s stopped by %s (round %llu)",
	                 net->peers[net->id].name,
	                 s == SIGTERM ? "SIGTERM" : s == SIGINT ? "SIGINT" : "a signal",
	                 (ull)net->rounds);
}

static int64_t now_ms(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void encode_hdr(uint8_t *b, const wire_hdr *h) {
	mpc_put32(b, h->magic);
	b[4] = h->version;
	b[5] = h->type;
	mpc_put16(b + 6, h->from);
	mpc_put16(b + 8, h->to);
	memcpy(b + 10, h->session, MPC_SESSION_BYTES);
	mpc_put64(b + 26, h->step);
	mpc_put64(b + 34, h->total);
	mpc_put64(b + 42, h->offset);
	mpc_put32(b + 50, h->plen);
}

static void decode_hdr(wire_hdr *h, const uint8_t *b) {
	h->magic = mpc_get32(b);
	h->version = b[4];
	h->type = b[5];
	h->from = mpc_get16(b + 6);
	h->to = mpc_get16(b + 8);
	memcpy(h->session, b + 10, MPC_SESSION_BYTES);
	h->step = mpc_get64(b + 26);
	h->total = mpc_get64(b + 34);
	h->offset = mpc_get64(b + 42);
	h->plen = mpc_get32(b + 50);
}

static void init_hdr(const mpc_net *net, int p, int type, wire_hdr *h) {
	memset(h, 0, sizeof(*h));
	h->magic = WIRE_MAGIC;
	h->version = WIRE_VERSION;
	h->type = (uint8_t)type;
	h->from = (uint16_t)net->id;
	h->to = (uint16_t)p;
	memcpy(h->session, net->session, MPC_SESSION_BYTES);
}

/* Reasons come from another machine: keep them printable and short. */
static void sanitize(char *dst, size_t cap, const char *src, size_t len) {
	size_t i;
	if (len > cap - 1)
		len = cap - 1;
	for (i = 0; i < len && src[i] != '\0'; i++)
		dst[i] = src[i] >= 0x20 && src[i] <= 0x7e ? src[i] : '?';
	dst[i] = '\0';
}

/* Hand one prepared message to p's socket without waiting. *sent tells
 * whether it took it; if so, the message belongs to nanomsg now. */
static mpc_err push_msg(mpc_net *net, int p, void **msg, size_t bytes, int *sent) {
	peer *pr = &net->peers[p];
	*sent = 0;
	for (;;) {
		if (nn_send(pr->sock, msg, NN_MSG, NN_DONTWAIT) >= 0) {
			*msg = NULL;
			*sent = 1;
			net->bytes_sent += bytes;
			pr->last_accept = now_ms();
			return MPC_OK;
		}
		int e = nn_errno();
		if (e == EAGAIN)
			return MPC_OK;
		if (e != EINTR)
			return mpc_error(MPC_ENET, "cannot send to %s (%s): %s", pr->name, pr->addr,
			                 nn_strerror(e));
	}
}

/* ---- TLS, sending: OpenSSL writes whole records into the T_TLS message
 * being filled; full messages are sealed and queued, and go out in order as
 * the socket takes them. ---- */

/* Room for records in one T_TLS message: about a chunk, at least two
 * records, within what a receiver accepts. */
static size_t ob_room(const mpc_net *net) {
	size_t room = net->chunk + (32 << 10);
	return room > MAX_CHUNK ? MAX_CHUNK : room;
}

/* Room for one more message at the end of p's queue. */
static int oq_reserve(peer *pr) {
	if (pr->oq_head > 0 && pr->oq_head + pr->oq_len == pr->oq_cap) {
		memmove(pr->oq, pr->oq + pr->oq_head, pr->oq_len * sizeof(*pr->oq));
		pr->oq_head = 0;
	}
	if (pr->oq_len == pr->oq_cap) {
		size_t cap = pr->oq_cap ? 2 * pr->oq_cap : 8;
		out_msg *q = realloc(pr->oq, cap * sizeof(*q));
		if (q == NULL)
			return -1;
		pr->oq = q;
		pr->oq_cap = cap;
	}
	return 0;
}

/* Discard what waits to be sent to p (ciphertext and handshake records). */
static void drop_queue(peer *pr) {
	if (pr->ob != NULL)
		nn_freemsg(pr->ob);
	pr->ob = NULL;
	pr->ob_len = pr->ob_cap = 0;
	for (size_t i = 0; i < pr->oq_len; i++)
		nn_freemsg(pr->oq[pr->oq_head + i].msg);
	pr->oq_head = pr->oq_len = 0;
}

/* Queue the handshake records OpenSSL wrote as one T_TLS message. */
static int seal(peer *pr) {
	if (pr->ob == NULL)
		return 0;
	if (pr->ob_len <= TLS_HDR)
		return 0; /* keep the empty buffer for the next records */
	if (oq_reserve(pr) != 0)
		return -1;
	mpc_put32(pr->ob, WIRE_MAGIC);
	pr->ob[4] = WIRE_VERSION;
	pr->ob[5] = T_TLS;
	mpc_put16(pr->ob + 6, (uint16_t)pr->net->id);
	mpc_put16(pr->ob + 8, (uint16_t)pr->idx);
	mpc_put16(pr->ob + 10, (uint16_t)pr->hs_gen);
	/* nanomsg shrinks a message in place */
	void *m = nn_reallocmsg(pr->ob, pr->ob_len);
	if (m == NULL)
		return -1;
	pr->oq[pr->oq_head + pr->oq_len++] = (out_msg){m, pr->ob_len};
	pr->ob = NULL;
	pr->ob_len = pr->ob_cap = 0;
	return 0;
}

/* The BIO's output: whole records, appended to the message being filled. */
static int tls_out(void *arg, const void *buf, size_t len) {
	peer *pr = arg;
	if (pr->ob != NULL && pr->ob_len + len > pr->ob_cap && seal(pr) != 0)
		return -1;
	if (pr->ob == NULL) {
		size_t room = ob_room(pr->net);
		size_t cap = TLS_HDR + (len > room ? len : room);
		if ((pr->ob = nn_allocmsg(cap, 0)) == NULL)
			return -1;
		pr->ob_cap = cap;
		pr->ob_len = TLS_HDR;
	}
	memcpy(pr->ob + pr->ob_len, buf, len);
	pr->ob_len += len;
	return 0;
}

/* Seal what OpenSSL wrote for p and hand the socket what it takes now.
 * Nothing goes before our HELLO. */
static mpc_err flush_peer(mpc_net *net, int p, int *progress) {
	peer *pr = &net->peers[p];
	mpc_err err;
	int sent;

	if (seal(pr) != 0)
		return mpc_error(MPC_ENOMEM, "out of memory for a message to %s", pr->name);
	while (pr->oq_len > 0 && pr->hello_sent) {
		out_msg *o = &pr->oq[pr->oq_head];
		if ((err = push_msg(net, p, &o->msg, o->len, &sent)) != MPC_OK || !sent)
			return err;
		*progress = 1;
		pr->oq_head++;
		if (--pr->oq_len == 0)
			pr->oq_head = 0;
	}
	return MPC_OK;
}

/* Flush every peer; *out_mask gets those whose socket is full. */
static mpc_err flush_all(mpc_net *net, int *progress, uint64_t *out_mask) {
	mpc_err err;
	if (!net->tls)
		return MPC_OK;
	for (int p = 0; p < net->n; p++) {
		if (p == net->id)
			continue;
		if ((err = flush_peer(net, p, progress)) != MPC_OK)
			return err;
		if (net->peers[p].oq_len > 0)
			*out_mask |= (uint64_t)1 << p;
	}
	return MPC_OK;
}

static int tls_usable(const peer *pr) {
	return pr->tls_done && !pr->tls_dead;
}

/* Seal one message for p (its header, then plen bytes of payload, each
 * encrypted straight from where it is) as one T_SEC frame at the end of p's
 * queue, behind the handshake records still there. */
static mpc_err sec_seal(mpc_net *net, int p, const uint8_t *hdr, const uint8_t *payload,
                        size_t plen) {
	peer *pr = &net->peers[p];
	size_t split = net->worker && plen >= SPLIT_MIN ? (plen / 2) & ~(size_t)15 : plen;
	int parts = split < plen ? 2 : 1;
	size_t len = SEC_OVER + HDR_BYTES + plen + (size_t)(parts - 1) * MPC_FRAME_TAG;
	uint8_t *m, *rec2, inner[SEC_INNER] = {0};
	long w;
	int ok;

	if (!tls_usable(pr))
		return mpc_error(MPC_ECRYPTO, "no TLS channel with %s (%s)", pr->name, pr->addr);
	if (seal(pr) != 0 || oq_reserve(pr) != 0 || (m = nn_allocmsg(len, 0)) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory for a message to %s", pr->name);
	mpc_put32(m, WIRE_MAGIC);
	m[4] = WIRE_VERSION;
	m[5] = T_SEC;
	mpc_put16(m + 6, (uint16_t)net->id);
	mpc_put16(m + 8, (uint16_t)p);
	mpc_put64(m + 10, pr->tx_seq);
	mpc_put32(m + 18, (uint32_t)split);
	memcpy(inner, hdr, HDR_BYTES);
	rec2 = m + SEC_HDR + SEC_INNER + split + MPC_FRAME_TAG;
	if (parts == 2) /* the second half on the worker, meanwhile the first here */
		mpc_frame_worker_post(net->worker, 1, &pr->tx_key, pr->tx_seq + 1, m, SEC_HDR, rec2,
		                      payload + split, plen - split, rec2 + plen - split);
	ok = mpc_frame_begin(&pr->tx_key, 1, pr->tx_seq, m, SEC_HDR) == 0 &&
	     mpc_frame_update(&pr->tx_key, m + SEC_HDR, inner, SEC_INNER) == SEC_INNER &&
	     (w = split > 0 ? mpc_frame_update(&pr->tx_key, m + SEC_HDR + SEC_INNER, payload,
	                                       split)
	                    : 0) >= 0 &&
	     mpc_frame_seal_end(&pr->tx_key, m + SEC_HDR + SEC_INNER + w,
	                        m + SEC_HDR + SEC_INNER + split) == 0;
	if (parts == 2 && mpc_frame_worker_wait(net->worker) != 0)
		ok = 0;
	if (!ok) {
		nn_freemsg(m);
		ERR_clear_error();
		return mpc_error(MPC_ECRYPTO, "cannot seal a message to %s (%s)", pr->name,
		                 pr->addr);
	}
	pr->tx_seq += (uint64_t)parts; /* a counter is never used twice, sent or not */
	if (pr->flip_record && hdr[5] == T_DATA) {
		m[len - MPC_FRAME_TAG - 1] ^= 0x01; /* the last record's last ciphertext byte */
		pr->flip_record = 0;
	}
	pr->oq[pr->oq_head + pr->oq_len++] = (out_msg){m, len};
	return MPC_OK;
}

/* HELLO, BYE, ABORT, KEEPALIVE: small, rebuilt on every attempt (plaintext);
 * with TLS (all but HELLO), sealed and queued at once: *sent = 1. */
static mpc_err send_ctl(mpc_net *net, int p, int type, uint64_t step, uint64_t total,
                        const char *payload, uint32_t plen, int *sent) {
	wire_hdr h;
	uint8_t *msg;
	mpc_err err;

	*sent = 0;
	if (net->tls && type != T_HELLO) {
		uint8_t b[HDR_BYTES];
		int progress = 0;
		if (plen > REASON_MAX)
			plen = REASON_MAX;
		init_hdr(net, p, type, &h);
		h.step = step;
		h.total = total;
		h.plen = plen;
		encode_hdr(b, &h);
		if ((err = sec_seal(net, p, b, (const uint8_t *)payload, plen)) != MPC_OK)
			return err;
		*sent = 1;
		return flush_peer(net, p, &progress);
	}
	msg = nn_allocmsg(HDR_BYTES + plen, 0);
	if (msg == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory for a message to %s",
		                 net->peers[p].name);
	init_hdr(net, p, type, &h);
	h.step = step;
	h.total = total;
	h.plen = plen;
	encode_hdr(msg, &h);
	if (plen)
		memcpy(msg + HDR_BYTES, payload, plen);
	void *m = msg;
	err = push_msg(net, p, &m, HDR_BYTES + plen, sent);
	if (m != NULL)
		nn_freemsg(m);
	return err;
}

static void start_tx(mpc_net *net, int p, const void *buf, size_t len) {
	peer *pr = &net->peers[p];
	pr->tx_steps++;
	pr->tx_active = 1;
	pr->tx_buf = buf;
	pr->tx_len = len;
	pr->tx_off = 0;
	pr->tx_fault = pr->fault;
	pr->fault = MPC_FAULT_NONE;
	pr->tx_replay = pr->tx_fault == MPC_FAULT_REPLAY;
}

/* Build the next chunk to p (faults included) in a nanomsg buffer. */
static mpc_err prepare_chunk(mpc_net *net, int p) {
	peer *pr = &net->peers[p];
	wire_hdr h;
	size_t plen, wire_plen;
	uint8_t *msg;

	init_hdr(net, p, T_DATA, &h);
	if (pr->tx_replay) {
		plen = pr->prev_plen ? pr->prev_plen : 1;
		h.step = pr->tx_steps - 1;
		h.total = pr->prev_total ? pr->prev_total : plen;
		wire_plen = plen;
	} else {
		plen = pr->tx_len - pr->tx_off;
		if (plen > net->chunk)
			plen = net->chunk;
		wire_plen = plen;
		if (pr->tx_fault == MPC_FAULT_TRUNCATE && pr->tx_off == 0)
			wire_plen = plen / 2;
		h.step = pr->tx_steps + (pr->tx_fault == MPC_FAULT_WRONG_STEP ? 5 : 0);
		h.total = pr->tx_len;
		h.offset = pr->tx_off;
		if (pr->tx_fault == MPC_FAULT_WRONG_SESSION)
			h.session[0] ^= 0x01;
	}
	h.plen = (uint32_t)plen;
	msg = nn_allocmsg(HDR_BYTES + wire_plen, 0);
	if (msg == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory for a message to %s", pr->name);
	encode_hdr(msg, &h);
	if (pr->tx_replay) {
		memset(msg + HDR_BYTES, 0, wire_plen);
	} else {
		memcpy(msg + HDR_BYTES, pr->tx_buf + pr->tx_off, wire_plen);
		if (pr->tx_fault == MPC_FAULT_FLIP && pr->tx_off == 0)
			msg[HDR_BYTES] ^= 0x01;
		if (pr->tx_off == 0) {
			pr->prev_total = pr->tx_len;
			pr->prev_plen = (uint32_t)plen;
		}
	}
	pr->tx_msg = msg;
	pr->tx_msg_bytes = HDR_BYTES + wire_plen;
	pr->tx_msg_plen = plen;
	pr->tx_msg_stale = pr->tx_replay;
	return MPC_OK;
}

/* With TLS: seal the next chunk only when the previous one has left, so
 * that at most about a chunk of ciphertext waits in memory. The header and
 * the payload are encrypted straight from their buffers; a chunk with a
 * fault is built in full first (and wiped), as without TLS. The message is
 * done when its last frame has left. */
static mpc_err pump_tx_tls(mpc_net *net, int p, int *progress) {
	peer *pr = &net->peers[p];
	mpc_err err;

	for (;;) {
		if ((err = flush_peer(net, p, progress)) != MPC_OK)
			return err;
		if (pr->oq_len > 0)
			return MPC_OK; /* the socket is full */
		if (pr->tx_off == pr->tx_len && !pr->tx_replay) {
			pr->tx_active = 0;
			pr->tx_fault = MPC_FAULT_NONE;
			return MPC_OK;
		}
		if (pr->tx_replay || pr->tx_fault != MPC_FAULT_NONE) {
			if ((err = prepare_chunk(net, p)) != MPC_OK)
				return err;
			err = sec_seal(net, p, pr->tx_msg, (uint8_t *)pr->tx_msg + HDR_BYTES,
			               pr->tx_msg_bytes - HDR_BYTES);
			mpc_wipe(pr->tx_msg, pr->tx_msg_bytes);
			nn_freemsg(pr->tx_msg);
			pr->tx_msg = NULL;
			if (err != MPC_OK)
				return err;
			if (pr->tx_msg_stale)
				pr->tx_replay = 0;
			else
				pr->tx_off += pr->tx_msg_plen;
			continue;
		}
		wire_hdr h;
		uint8_t hb[HDR_BYTES];
		size_t plen = pr->tx_len - pr->tx_off;
		if (plen > net->chunk)
			plen = net->chunk;
		init_hdr(net, p, T_DATA, &h);
		h.step = pr->tx_steps;
		h.total = pr->tx_len;
		h.offset = pr->tx_off;
		h.plen = (uint32_t)plen;
		encode_hdr(hb, &h);
		if (pr->tx_off == 0) {
			pr->prev_total = pr->tx_len;
			pr->prev_plen = (uint32_t)plen;
		}
		if ((err = sec_seal(net, p, hb, pr->tx_buf + pr->tx_off, plen)) != MPC_OK)
			return err;
		pr->tx_off += plen;
	}
}

/* Send p as many chunks as its socket takes now. */
static mpc_err pump_tx(mpc_net *net, int p, int *progress) {
	peer *pr = &net->peers[p];
	mpc_err err;
	int sent;

	if (net->tls)
		return pump_tx_tls(net, p, progress);
	while (pr->tx_active) {
		if (pr->tx_msg == NULL && (err = prepare_chunk(net, p)) != MPC_OK)
			return err;
		if ((err = push_msg(net, p, &pr->tx_msg, pr->tx_msg_bytes, &sent)) != MPC_OK ||
		    !sent)
			return err;
		*progress = 1;
		if (pr->tx_msg_stale) {
			pr->tx_replay = 0;
			continue;
		}
		pr->tx_off += pr->tx_msg_plen;
		if (pr->tx_off == pr->tx_len) {
			pr->tx_active = 0;
			pr->tx_fault = MPC_FAULT_NONE;
		}
	}
	return MPC_OK;
}

static void drop_tx(peer *pr) {
	if (pr->tx_msg) {
		mpc_wipe(pr->tx_msg, pr->tx_msg_bytes);
		nn_freemsg(pr->tx_msg);
	}
	pr->tx_msg = NULL;
	pr->tx_active = 0;
}

/* Copy a chunk of the requested message into the caller's buffer. */
static mpc_err deliver(mpc_net *net, int p, uint64_t off, uint64_t total, const uint8_t *data,
                       uint32_t plen) {
	peer *pr = &net->peers[p];
	if (off == 0 && total != pr->want_len)
		return mpc_error(
		    MPC_EPROTO, "%s sent %llu bytes at step %llu (round %llu), expected %zu",
		    pr->name, (ull)total, (ull)pr->consumed + 1, (ull)net->rounds, pr->want_len);
	/* the wire checks made chunks contiguous within total == want_len.
	 * Without TLS, buffers are not wiped: they hold what crossed the wire
	 * anyway. With TLS, a direct read has put the data in place already. */
	if (off != pr->got || plen > pr->want_len - pr->got)
		return mpc_error(MPC_EPROTO,
		                 "%s: chunk at offset %llu of step %llu out of place (round %llu)",
		                 pr->name, (ull)off, (ull)pr->consumed + 1, (ull)net->rounds);
	if (data != pr->dst + off)
		memcpy(pr->dst + off, data, plen);
	pr->got += plen;
	if (pr->got == pr->want_len) {
		pr->want = 0;
		pr->consumed++;
	}
	return MPC_OK;
}

static mpc_err enqueue(mpc_net *net, int p, void *msg, const uint8_t *data, const wire_hdr *h) {
	peer *pr = &net->peers[p];
	if (pr->early_bytes + EARLY_COST(h->plen) > EARLY_MAX)
		return mpc_error(MPC_EPROTO,
		                 "%s ran more than %llu MiB ahead of what we asked "
		                 "for (at step %llu, round %llu)",
		                 pr->name, (ull)(EARLY_MAX >> 20), (ull)h->step, (ull)net->rounds);
	if (pr->q_head > 0 && pr->q_head + pr->q_len == pr->q_cap) {
		memmove(pr->q, pr->q + pr->q_head, pr->q_len * sizeof(*pr->q));
		pr->q_head = 0;
	}
	if (pr->q_len == pr->q_cap) {
		size_t cap = pr->q_cap ? 2 * pr->q_cap : 16;
		early_chunk *q = realloc(pr->q, cap * sizeof(*q));
		if (q == NULL)
			return mpc_error(MPC_ENOMEM, "out of memory queueing a message from %s",
			                 pr->name);
		pr->q = q;
		pr->q_cap = cap;
	}
	early_chunk *e = &pr->q[pr->q_head + pr->q_len++];
	e->msg = msg;
	e->data = (uint8_t *)data;
	e->step = h->step;
	e->offset = h->offset;
	e->total = h->total;
	e->plen = h->plen;
	pr->early_bytes += EARLY_COST(h->plen);
	return MPC_OK;
}

/* Feed the request of p from the chunks that arrived before it. */
static mpc_err drain_early(mpc_net *net, int p) {
	peer *pr = &net->peers[p];
	mpc_err err = MPC_OK;
	while (pr->want && pr->q_len > 0 && err == MPC_OK) {
		early_chunk e = pr->q[pr->q_head];
		pr->q_head++;
		if (--pr->q_len == 0)
			pr->q_head = 0;
		pr->early_bytes -= EARLY_COST(e.plen);
		if (e.step != pr->consumed + 1)
			err = mpc_error(
			    MPC_EPROTO, "%s: queued step %llu where step %llu was due (round %llu)",
			    pr->name, (ull)e.step, (ull)pr->consumed + 1, (ull)net->rounds);
		else
			err = deliver(net, p, e.offset, e.total, e.data, e.plen);
		if (net->tls) /* decrypted payload */
			mpc_wipe(e.data, e.plen);
		nn_freemsg(e.msg);
	}
	return err;
}

/* "; <what was dropped>" when frames claiming to come from p were dropped:
 * the likely reason for a gap in its stream. */
static const char *drop_note(const peer *pr, char *buf, size_t cap) {
	if (pr->dropped == 0)
		return "";
	snprintf(buf, cap, "; %s", pr->note);
	return buf;
}

static mpc_err check_data(mpc_net *net, int p, const wire_hdr *h, size_t len) {
	peer *pr = &net->peers[p];
	ull due = pr->rx_step, round = net->rounds;
	char note[sizeof(pr->note) + 4];

	if (len - HDR_BYTES != h->plen)
		return mpc_error(MPC_EPROTO,
		                 "%s sent %s chunk at step %llu (%zu payload bytes, "
		                 "header says %lu; round %llu)",
		                 pr->name,
		                 len - HDR_BYTES < h->plen ? "a truncated" : "an oversized", due,
		                 len - HDR_BYTES, (unsigned long)h->plen, round);
	if (h->step < pr->rx_step)
		return mpc_error(MPC_EPROTO,
		                 "%s replayed step %llu where step %llu was due (round %llu)",
		                 pr->name, (ull)h->step, due, round);
	if (h->step > pr->rx_step)
		return mpc_error(MPC_EPROTO,
		                 "%s sent step %llu where step %llu was due (round "
		                 "%llu): a message was skipped or lost%s",
		                 pr->name, (ull)h->step, due, round,
		                 drop_note(pr, note, sizeof(note)));
	if (h->offset != pr->rx_off)
		return mpc_error(MPC_EPROTO,
		                 "%s sent a chunk at offset %llu of step %llu, "
		                 "expected offset %llu (round %llu): chunks lost or reordered%s",
		                 pr->name, (ull)h->offset, due, (ull)pr->rx_off, round,
		                 drop_note(pr, note, sizeof(note)));
	if (h->offset > 0 && h->total != pr->rx_total)
		return mpc_error(MPC_EPROTO,
		                 "%s changed the length of step %llu from %llu to "
		                 "%llu bytes mid-message (round %llu)",
		                 pr->name, due, (ull)pr->rx_total, (ull)h->total, round);
	if (h->plen == 0 || h->plen > h->total - h->offset)
		return mpc_error(MPC_EPROTO,
		                 "%s sent a chunk of %lu bytes at offset %llu of a "
		                 "%llu-byte message at step %llu (round %llu)",
		                 pr->name, (unsigned long)h->plen, (ull)h->offset, (ull)h->total,
		                 due, round);
	return MPC_OK;
}

/* Check one message and act on it: b is its header, payload its payload,
 * len both together. via: -1 for a message off the wire without TLS; p for
 * a message that came in a sealed frame from p. Takes ownership of msg (the
 * nanomsg buffer holding them; with TLS the header and payload are wiped;
 * NULL if the payload was decrypted into place already). */
static mpc_err handle(mpc_net *net, int via, void *msg, const uint8_t *b, const uint8_t *payload,
                      size_t len, int64_t now) {
	mpc_err err = MPC_OK;
	wire_hdr h;
	peer *pr;
	int p;

	if (len < HDR_BYTES) {
		err = mpc_error(MPC_EPROTO,
		                "received a %zu-byte message, shorter than a header (round %llu)",
		                len, (ull)net->rounds);
		goto out;
	}
	decode_hdr(&h, b);
	if (h.magic != WIRE_MAGIC || h.version != WIRE_VERSION) {
		err = mpc_error(MPC_EPROTO,
		                "received a message that is not ours (magic %08lx, "
		                "version %u; claims to be from node %u; round %llu)",
		                (unsigned long)h.magic, h.version, h.from, (ull)net->rounds);
		goto out;
	}
	if (h.from >= net->n || h.from == net->id) {
		err = mpc_error(MPC_EPROTO,
		                "received a message from unknown node %u (we are node "
		                "%d of %d; round %llu)",
		                h.from, net->id, net->n, (ull)net->rounds);
		goto out;
	}
	p = h.from;
	pr = &net->peers[p];
	if (via >= 0 && p != via) {
		err = mpc_error(MPC_EPROTO,
		                "%s sent, inside its TLS channel, a message from %s (round %llu)",
		                net->peers[via].name, pr->name, (ull)net->rounds);
		goto out;
	}
	if (h.to != net->id) {
		err = mpc_error(MPC_EPROTO,
		                "%s sent a message meant for node %u to us (node %d): "
		                "different node list?",
		                pr->name, h.to, net->id);
		goto out;
	}
	int same_session = CRYPTO_memcmp(h.session, net->session, MPC_SESSION_BYTES) == 0;
	if (via >= 0 && h.type == T_HELLO) {
		err = mpc_error(MPC_EPROTO, "%s said hello inside its TLS channel", pr->name);
		goto out;
	}
	if (net->closing) {
		if (same_session && h.type == T_BYE)
			pr->bye = 1;
		if (same_session && h.type == T_ABORT)
			pr->aborted = 1;
		goto out;
	}
	/* A HELLO from another session is the expected symptom of a wrong job
	 * file; say so rather than calling it malformed. */
	if (h.type == T_HELLO && !same_session) {
		err = mpc_error(MPC_EPROTO, "%s is in another session (different job file?)",
		                pr->name);
		goto out;
	}
	if (!same_session) {
		err = mpc_error(MPC_EPROTO,
		                "%s sent a message from another session at step %llu (round %llu)",
		                pr->name, (ull)pr->rx_step, (ull)net->rounds);
		goto out;
	}
	if (h.type == T_HELLO) {
		if (pr->hello)
			err = mpc_error(MPC_EPROTO,
			                "%s said hello twice (restarted?) at step %llu "
			                "(round %llu)",
			                pr->name, (ull)pr->rx_step, (ull)net->rounds);
		else if (len != HDR_BYTES || h.step || h.offset || h.plen)
			err = mpc_error(MPC_EPROTO, "%s sent a malformed hello", pr->name);
		else if (h.total != (uint64_t)net->n)
			err = mpc_error(MPC_EPROTO,
			                "%s has %llu nodes in its job, we have %d "
			                "(different node list?)",
			                pr->name, (ull)h.total, net->n);
		pr->hello = 1;
		pr->last_heard = now;
		goto out;
	}
	if (!pr->hello) {
		err =
		    mpc_error(MPC_EPROTO, "%s sent a message of type %u before hello (round %llu)",
		              pr->name, h.type, (ull)net->rounds);
		goto out;
	}
	if (pr->bye) {
		err = mpc_error(MPC_EPROTO,
		                "%s sent a message of type %u after closing the "
		                "session (round %llu)",
		                pr->name, h.type, (ull)net->rounds);
		goto out;
	}
	switch (h.type) {
	case T_DATA:
		if ((err = check_data(net, p, &h, len)) != MPC_OK)
			goto out;
		pr->rx_off += h.plen;
		if (pr->rx_off == h.total) {
			pr->rx_step++;
			pr->rx_off = 0;
		} else {
			pr->rx_total = h.total;
		}
		pr->last_heard = pr->last_data = now;
		if (pr->want && pr->q_len == 0 && h.step == pr->consumed + 1) {
			err = deliver(net, p, h.offset, h.total, payload, h.plen);
			goto out;
		}
		if (msg == NULL) /* our bug: a direct read is only chosen for delivery */
			abort();
		if ((err = enqueue(net, p, msg, payload, &h)) == MPC_OK)
			return MPC_OK; /* the queue owns msg now */
		goto out;
	case T_BYE:
		if (len != HDR_BYTES || h.offset || h.plen || h.total)
			err = mpc_error(MPC_EPROTO, "%s sent a malformed bye", pr->name);
		else if (pr->rx_off != 0)
			err = mpc_error(MPC_EPROTO,
			                "%s closed the session in the middle of step %llu "
			                "(round %llu)",
			                pr->name, (ull)pr->rx_step, (ull)net->rounds);
		else if (h.step != pr->rx_step - 1) {
			char note[sizeof(pr->note) + 4];
			err = mpc_error(MPC_EPROTO,
			                "%s closed the session after sending %llu "
			                "messages, we received %llu (round %llu)%s",
			                pr->name, (ull)h.step, (ull)pr->rx_step - 1,
			                (ull)net->rounds, drop_note(pr, note, sizeof(note)));
		}
		pr->bye = 1;
		pr->last_heard = now;
		goto out;
	case T_ABORT:
		if (h.step || h.offset || h.plen > REASON_MAX || h.total != h.plen ||
		    len - HDR_BYTES != h.plen)
			sanitize(pr->reason, sizeof(pr->reason), "(malformed abort)", 17);
		else
			sanitize(pr->reason, sizeof(pr->reason), (const char *)payload, h.plen);
		pr->aborted = 1;
		err = mpc_error(MPC_EPEER, "%s aborted: %s", pr->name, pr->reason);
		goto out;
	case T_KEEPALIVE:
		if (len != HDR_BYTES || h.offset || h.plen || h.total) {
			err = mpc_error(MPC_EPROTO, "%s sent a malformed keepalive", pr->name);
			goto out;
		}
		/* A peer blocked on a message we have not started yet is no sign
		 * of progress: two nodes waiting on each other must time out. */
		if (h.step == 0 || h.step <= pr->tx_steps)
			pr->last_heard = now;
		goto out;
	default:
		err = mpc_error(MPC_EPROTO,
		                "%s sent a message of unknown type %u at step %llu (round %llu)",
		                pr->name, h.type, (ull)pr->rx_step, (ull)net->rounds);
		goto out;
	}
out:
	if (msg != NULL) {
		if (via >= 0 && len > HDR_BYTES) /* a decrypted payload */
			mpc_wipe((uint8_t *)payload, len - HDR_BYTES);
		nn_freemsg(msg);
	}
	return err;
}

/* ---- TLS, receiving ---- */

/* Alerts that say the peer did not accept our certificate. */
static int cert_alert(unsigned long e) {
	int a = ERR_GET_REASON(e) - SSL_AD_REASON_OFFSET;
	return ERR_GET_LIB(e) == ERR_LIB_SSL &&
	       ((a >= SSL_AD_BAD_CERTIFICATE && a <= SSL_AD_UNKNOWN_CA) ||
	        a == SSL_AD_CERTIFICATE_REQUIRED || a == SSL_AD_ACCESS_DENIED);
}

/* Name what went wrong on p's channel after SSL call result ret; the
 * channel is not used again. */
static mpc_err tls_fail(mpc_net *net, int p, int ret) {
	peer *pr = &net->peers[p];
	int e = SSL_get_error(pr->ssl, ret);
	unsigned long last = ERR_peek_last_error();
	const char *alert = e == SSL_ERROR_SSL ? mpc_tls_peer_alert() : NULL;
	char ours[MPC_TLS_FP_TEXT], pin[MPC_TLS_FP_TEXT], seen[MPC_TLS_FP_TEXT], ebuf[256];
	ull step = pr->rx_step, round = net->rounds;
	mpc_err err;

	mpc_tls_fingerprint_format(net->tls_fp, ours);
	mpc_tls_fingerprint_format(pr->link.pin, pin);
	mpc_tls_fingerprint_format(pr->link.seen, seen);
	mpc_tls_last_error(ebuf, sizeof(ebuf));
	if (pr->link.verified && !pr->link.pin_ok)
		err = mpc_error(MPC_ECRYPTO,
		                "the job file pins %s for %s, but %s at %s presented %s: update "
		                "the fingerprint in the job file, or check that nothing else "
		                "answers at that address",
		                pin, pr->name, pr->name, pr->addr, seen);
	else if (!pr->tls_confirmed && alert && cert_alert(last))
		err = mpc_error(MPC_ECRYPTO,
		                "%s at %s refused our certificate %s (TLS alert: %s): the other "
		                "side pins another fingerprint for us; check its job file",
		                pr->name, pr->addr, ours, alert);
	else if (!pr->tls_done && !pr->link.verified && e == SSL_ERROR_SSL &&
	         ERR_GET_REASON(last) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
		err = mpc_error(MPC_ECRYPTO,
		                "%s at %s presented no certificate: this job pins %s for it",
		                pr->name, pr->addr, pin);
	else if (!pr->tls_done)
		err = mpc_error(MPC_ECRYPTO, "TLS handshake with %s at %s failed: %s%s%s", pr->name,
		                pr->addr, alert ? "it sent the alert " : "", alert ? alert : ebuf,
		                alert ? "" : " (is it the node the job file names?)");
	else if (e == SSL_ERROR_ZERO_RETURN)
		err = mpc_error(MPC_ECRYPTO,
		                "%s closed its TLS channel at step %llu (round %llu) without "
		                "saying bye",
		                pr->name, step, round);
	else if (alert)
		err = mpc_error(MPC_ECRYPTO,
		                "%s refused a record from us at step %llu (round %llu; TLS alert: "
		                "%s): the link is being tampered with; the job is aborted",
		                pr->name, step, round, alert);
	else
		err = mpc_error(MPC_ECRYPTO,
		                "record from %s failed authentication at step %llu (round %llu; "
		                "%s): the link is being tampered with; the job is aborted",
		                pr->name, step, round, ebuf);
	ERR_clear_error();
	pr->tls_dead = 1;
	return err;
}

/* A frame that does not come from an authenticated peer: drop it, count it,
 * and warn at most once a second. It changes nothing; a peer that stops
 * sending valid frames times out as any silent peer. p: the peer it claims
 * to come from, -1 if none. */
static void drop_frame(mpc_net *net, int p, const char *fmt, ...) MPC_PRINTF(3, 4);
static void drop_frame(mpc_net *net, int p, const char *fmt, ...) {
	char why[REASON_MAX + 64];
	va_list ap;
	int64_t t = now_ms();

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	net->dropped++;
	if (p >= 0) {
		peer *pr = &net->peers[p];
		pr->dropped++;
		snprintf(pr->note, sizeof(pr->note),
		         "%llu frame%s claiming to come from %s dropped, the last one %s",
		         (ull)pr->dropped, pr->dropped > 1 ? "s" : "", pr->name, why);
	}
	if (t < net->next_drop_warn)
		return;
	net->next_drop_warn = t + DROP_WARN_MS;
	/* nanomsg does not tell a message's source: say how many connected */
	uint64_t conns = nn_get_statistic(net->pull, NN_STAT_CURRENT_CONNECTIONS);
	mpc_warn("net: dropped a frame%s%s that %s (%llu dropped so far; %lld connections to "
	         "our address %s, %d expected): someone who is not a party of this job "
	         "sends to us, or the link is tampered with; the job goes on",
	         p >= 0 ? " claiming to come from " : "", p >= 0 ? net->peers[p].name : "", why,
	         (ull)net->dropped, conns == (uint64_t)-1 ? -1LL : (long long)conns,
	         net->peers[net->id].addr, net->n - 1);
}

/* With TLS, a message in the clear: a HELLO from a peer of this session is
 * taken (it asks for a handshake, which proves who it is); anything else is
 * dropped. Takes ownership of msg. */
static void clear_in_tls(mpc_net *net, void *msg, size_t len, int64_t now) {
	const uint8_t *b = msg;
	wire_hdr h;
	peer *pr;

	if (net->closing)
		goto out;
	if (len < HDR_BYTES) {
		drop_frame(net, -1, "was %zu bytes, shorter than a header", len);
		goto out;
	}
	decode_hdr(&h, b);
	if (h.magic != WIRE_MAGIC || h.version != WIRE_VERSION) {
		drop_frame(net, -1, "was not ours (magic %08lx, version %u)",
		           (unsigned long)h.magic, h.version);
		goto out;
	}
	if (h.from >= net->n || h.from == net->id) {
		drop_frame(net, -1, "claimed to come from node %u", h.from);
		goto out;
	}
	pr = &net->peers[h.from];
	if (h.to != net->id) {
		drop_frame(net, h.from, "was meant for node %u", h.to);
	} else if (h.type == T_ABORT) {
		char why[REASON_MAX + 1];
		sanitize(why, sizeof(why), (const char *)b + HDR_BYTES,
		         len - HDR_BYTES < h.plen ? len - HDR_BYTES : h.plen);
		drop_frame(net, h.from, "was an abort in the clear, not authenticated: \"%s\"", why);
	} else if (h.type != T_HELLO) {
		drop_frame(net, h.from,
		           "came in the clear (type %u), where this job requires TLS (is %s "
		           "running with --insecure-plaintext?)",
		           h.type, pr->name);
	} else if (CRYPTO_memcmp(h.session, net->session, MPC_SESSION_BYTES) != 0) {
		drop_frame(net, h.from, "was a hello from another session (another job file?)");
	} else if (len != HDR_BYTES || h.step || h.offset || h.plen ||
	           h.total != (uint64_t)net->n) {
		drop_frame(net, h.from, "was a malformed hello (%llu nodes; we have %d)",
		           (ull)h.total, net->n);
	} else if (pr->hello) {
		drop_frame(net, h.from, "was a second hello");
	} else {
		pr->hello = 1;
		pr->last_heard = now;
	}
out:
	nn_freemsg(msg);
}

/* Whether the sealed message whose header was just opened can be decrypted
 * straight into the caller's buffer: exactly what handle() would deliver.
 * Should the frame then fail its tag, the bytes written there are
 * overwritten by the real chunk before the round can complete. */
static int direct_ok(const mpc_net *net, int p, const wire_hdr *h, size_t plen) {
	const peer *pr = &net->peers[p];
	return h->magic == WIRE_MAGIC && h->version == WIRE_VERSION && h->type == T_DATA &&
	       h->from == p && h->to == net->id && !net->closing && pr->hello && !pr->bye &&
	       CRYPTO_memcmp(h->session, net->session, MPC_SESSION_BYTES) == 0 && pr->want &&
	       pr->q_len == 0 && h->step == pr->rx_step && h->step == pr->consumed + 1 &&
	       h->offset == pr->rx_off && h->offset == pr->got &&
	       h->total == (h->offset == 0 ? pr->want_len : pr->rx_total) && h->plen > 0 &&
	       h->plen == plen && h->plen <= h->total - h->offset &&
	       h->plen <= pr->want_len - pr->got;
}

/* A T_SEC frame off the wire: open it in place (or its payload straight
 * into the caller's buffer) and act on the message inside. Takes ownership
 * of msg. */
static mpc_err sec_message(mpc_net *net, void *msg, size_t len, int64_t now) {
	uint8_t *m = msg, *in = m + SEC_HDR, *dst;
	unsigned from = mpc_get16(m + 6), to = mpc_get16(m + 8);
	uint64_t seq = mpc_get64(m + 10);
	size_t plen;
	wire_hdr h;
	peer *pr;

	if (!net->tls) {
		nn_freemsg(msg);
		if (net->closing || from >= (unsigned)net->n)
			return MPC_OK;
		return mpc_error(MPC_EPROTO,
		                 "%s (%s) speaks TLS, but this node runs without "
		                 "(--insecure-plaintext on one side only?)",
		                 net->peers[from].name, net->peers[from].addr);
	}
	if (from >= (unsigned)net->n || from == (unsigned)net->id) {
		drop_frame(net, -1, "claimed to come from node %u", from);
		goto drop;
	}
	pr = &net->peers[from];
	if (to != (unsigned)net->id) {
		drop_frame(net, (int)from, "was meant for node %u", to);
		goto drop;
	}
	if (!tls_usable(pr)) {
		drop_frame(net, (int)from, "came before its TLS channel was up");
		goto drop;
	}
	if (len < SEC_OVER + HDR_BYTES) {
		drop_frame(net, (int)from, "was %zu bytes, too short for a sealed message", len);
		goto drop;
	}
	if (seq < pr->rx_seq || seq == UINT64_MAX) {
		drop_frame(net, (int)from, "was a replay (counter %llu; %llu and up expected)",
		           (ull)seq, (ull)pr->rx_seq);
		goto drop;
	}
	/* one record: the header, split bytes of payload, a tag; two: then the
	 * rest of the payload and a second tag */
	size_t split = mpc_get32(m + 18), body = len - SEC_OVER - HDR_BYTES;
	int parts = 1;
	if (split > body || (split < body && (body - split <= MPC_FRAME_TAG ||
	                                      seq >= UINT64_MAX - 1))) {
		drop_frame(net, (int)from, "was a sealed message whose parts do not add up");
		goto drop;
	}
	if (split < body) {
		parts = 2;
		body -= MPC_FRAME_TAG;
	}
	plen = body;
	uint8_t *ct2 = in + SEC_INNER + split + MPC_FRAME_TAG, *out2;
	if (mpc_frame_begin(&pr->rx_key, 0, seq, m, SEC_HDR) != 0 ||
	    mpc_frame_update(&pr->rx_key, in, in, SEC_INNER) != SEC_INNER)
		goto crypto;
	decode_hdr(&h, in);
	dst = direct_ok(net, (int)from, &h, plen) ? pr->dst + pr->got : in + SEC_INNER;
	out2 = dst == in + SEC_INNER ? ct2 : dst + split; /* in place: moved up below */
	if (parts == 2 && net->worker)
		mpc_frame_worker_post(net->worker, 0, &pr->rx_key, seq + 1, m, SEC_HDR, out2, ct2,
		                      plen - split, ct2 + plen - split);
	long w = split > 0 ? mpc_frame_update(&pr->rx_key, dst, in + SEC_INNER, split) : 0;
	int ok = w >= 0 && mpc_frame_open_end(&pr->rx_key, dst + w, in + SEC_INNER + split) == 0;
	if (parts == 2) {
		int ok2 = net->worker ? mpc_frame_worker_wait(net->worker) == 0
		                      : mpc_frame_open_all(&pr->rx_key, 0, seq + 1, m, SEC_HDR, out2,
		                                           ct2, plen - split,
		                                           ct2 + plen - split) == 0;
		ok = ok && ok2;
	}
	if (w < 0)
		goto crypto;
	if (!ok) {
		/* tampered with: what it decrypted to may be close to the real data */
		mpc_wipe(in, SEC_INNER);
		mpc_wipe(dst, split);
		if (parts == 2)
			mpc_wipe(out2, plen - split);
		drop_frame(net, (int)from, "failed authentication (counter %llu)", (ull)seq);
		goto drop;
	}
	if (parts == 2 && dst == in + SEC_INNER) /* over the first tag: contiguous */
		memmove(in + SEC_INNER + split, ct2, plen - split);
	pr->rx_seq = seq + (uint64_t)parts;
	pr->tls_confirmed = 1;
	if (pr->ssl != NULL) { /* the peer accepted us: the handshake is over */
		SSL_free(pr->ssl);
		pr->ssl = NULL;
	}
	if (dst != in + SEC_INNER) {
		mpc_err err = handle(net, (int)from, NULL, in, dst, HDR_BYTES + plen, now);
		nn_freemsg(msg); /* ciphertext and a header */
		return err;
	}
	return handle(net, (int)from, msg, in, in + SEC_INNER, HDR_BYTES + plen, now);
crypto:
	ERR_clear_error();
	nn_freemsg(msg);
	return mpc_error(MPC_ECRYPTO, "cannot open a frame from %s", net->peers[from].name);
drop:
	nn_freemsg(msg);
	return MPC_OK;
}

/* How far attempt a is ahead of b, on the 16-bit wire (0x8000 and up:
 * behind). */
static unsigned ahead(unsigned a, unsigned b) {
	unsigned d = (a - b) & 0xffff;
	return d >= 0x8000 ? 0xffff : d;
}

/* Whether the handshake with p failed in a way an outsider could cause:
 * anything but a pin mismatch our own check saw (which needs the peer to
 * have done its key exchange with us) or a certificate alert it sent. */
static int forged_failure(const peer *pr) {
	unsigned long last = ERR_peek_last_error();
	if (pr->link.verified && !pr->link.pin_ok)
		return 0;
	return !(mpc_tls_peer_alert() != NULL && cert_alert(last));
}

static mpc_err tls_input(mpc_net *net, int p, const uint8_t *data, size_t len);

/* Start the handshake with p again as attempt gen: a fresh SSL object, no
 * frame keys, nothing of the old attempt left to send. broken: our attempt
 * failed (count it as a dropped frame). A client then sends its
 * ClientHello; a server with notice sends an empty T_TLS that asks for one. */
static mpc_err restart_handshake(mpc_net *net, int p, unsigned gen, int broken, int notice) {
	peer *pr = &net->peers[p];
	char why[256];
	mpc_err err;

	mpc_tls_last_error(why, sizeof(why));
	ERR_clear_error();
	if (broken)
		drop_frame(net, p, "broke the TLS handshake (%s); it starts again", why);
	if (++pr->hs_restarts >= HS_ATTEMPTS)
		return mpc_error(MPC_ECRYPTO,
		                 "the TLS handshake with %s at %s started again %u times, broken by "
		                 "records that were not its own (%s): someone floods our port",
		                 pr->name, pr->addr, pr->hs_restarts, pr->note);
	SSL_free(pr->ssl);
	pr->ssl = NULL;
	drop_queue(pr);
	mpc_frame_dir_free(&pr->tx_key);
	mpc_frame_dir_free(&pr->rx_key);
	pr->tls_done = pr->tls_dead = 0;
	pr->tx_seq = pr->rx_seq = 0;
	pr->link.verified = pr->link.pin_ok = 0;
	pr->hs_gen = gen;
	if ((err = mpc_tls_ssl_new(net->tls_ctx, net->id < p, &pr->link, &pr->ssl)) != MPC_OK)
		return err;
	if (net->id < p)
		return tls_input(net, p, NULL, 0);
	if (!notice)
		return MPC_OK;
	if (oq_reserve(pr) != 0 || (pr->ob = nn_allocmsg(TLS_HDR + 1, 0)) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory for a message to %s", pr->name);
	pr->ob_cap = TLS_HDR + 1;
	pr->ob_len = TLS_HDR + 1; /* seal() sends nothing shorter */
	pr->ob[TLS_HDR] = 0;      /* not a record: the receiver's SSL never sees it */
	return seal(pr) != 0 ? mpc_error(MPC_ENOMEM, "out of memory for a message to %s", pr->name)
	                     : MPC_OK;
}

/* Feed p's handshake len bytes of records (NULL, 0: just start it).
 * Replies (handshake, alerts) go out as the socket takes them. Once it is
 * done, the frame keys are exported; the SSL object stays until the peer's
 * first sealed frame, to read the alert of a peer that refuses us. */
static mpc_err tls_input(mpc_net *net, int p, const uint8_t *data, size_t len) {
	peer *pr = &net->peers[p];
	mpc_err err = MPC_OK, ferr;
	int progress = 0, sent;

	pr->link.in = data;
	pr->link.in_len = len;
	int r = SSL_do_handshake(pr->ssl);
	if (r != 1) {
		if (SSL_get_error(pr->ssl, r) == SSL_ERROR_WANT_READ)
			goto out;
		if (!forged_failure(pr))
			err = tls_fail(net, p, r);
		else
			err = restart_handshake(net, p, (pr->hs_gen + 1) & 0xffff, 1, 1);
		goto out;
	}
	mpc_debug("net: TLS with %s up (%s)", pr->name, SSL_get_cipher_name(pr->ssl));
	err = mpc_frame_keys(pr->ssl, net->id < p, net->session, MPC_SESSION_BYTES, &pr->tx_key,
	                     &pr->rx_key);
	pr->link.in = NULL;
	pr->link.in_len = 0;
	if (err != MPC_OK) {
		pr->tls_dead = 1;
		return err;
	}
	pr->tls_done = 1;
	/* Tell the peer that we accept it: a TLS 1.3 client finishes before
	 * the server has judged its certificate. */
	if ((err = send_ctl(net, p, T_KEEPALIVE, 0, 0, NULL, 0, &sent)) != MPC_OK)
		return err;
	return flush_peer(net, p, &progress);
out:
	pr->link.in = NULL;
	pr->link.in_len = 0;
	if (err == MPC_OK)
		return flush_peer(net, p, &progress);
	/* send the alert OpenSSL wrote, keeping our error's text */
	char keep[1024];
	snprintf(keep, sizeof(keep), "%s", mpc_error_detail());
	ferr = flush_peer(net, p, &progress);
	(void)ferr;
	return mpc_error(err, "%s", keep);
}

/* Records from p after our side of the handshake finished, before p's first
 * sealed frame: the alert of a peer that does not accept our certificate. */
static mpc_err tls_alert(mpc_net *net, int p, const uint8_t *data, size_t len) {
	peer *pr = &net->peers[p];
	uint8_t sink[64];
	int r;

	pr->link.in = data;
	pr->link.in_len = len;
	r = SSL_read(pr->ssl, sink, sizeof(sink));
	pr->link.in = NULL;
	pr->link.in_len = 0;
	if (r > 0) {
		mpc_wipe(sink, sizeof(sink));
		drop_frame(net, p, "was application data outside a sealed frame");
		return MPC_OK;
	}
	if (SSL_get_error(pr->ssl, r) == SSL_ERROR_WANT_READ)
		return MPC_OK;
	if (!forged_failure(pr))
		return tls_fail(net, p, r);
	/* records that are not the peer's: it can no longer tell us why it
	 * refuses us, but nothing else changes */
	char why[256];
	mpc_tls_last_error(why, sizeof(why));
	ERR_clear_error();
	SSL_free(pr->ssl);
	pr->ssl = NULL;
	drop_frame(net, p, "was a handshake record that did not open (%s)", why);
	return MPC_OK;
}

/* A T_TLS message off the wire: handshake records. Takes ownership. */
static mpc_err tls_message(mpc_net *net, void *msg, size_t len) {
	const uint8_t *b = msg;
	unsigned from = mpc_get16(b + 6), to = mpc_get16(b + 8);
	mpc_err err = MPC_OK;
	peer *pr;

	if (!net->tls) {
		if (!net->closing && from < (unsigned)net->n && from != (unsigned)net->id)
			err = mpc_error(MPC_EPROTO,
			                "%s (%s) speaks TLS, but this node runs without "
			                "(--insecure-plaintext on one side only?)",
			                net->peers[from].name, net->peers[from].addr);
	} else if (from >= (unsigned)net->n || from == (unsigned)net->id) {
		drop_frame(net, -1, "claimed to come from node %u", from);
	} else if ((pr = &net->peers[from]), to != (unsigned)net->id) {
		drop_frame(net, (int)from, "was meant for node %u", to);
	} else if (len < TLS_HDR) {
		drop_frame(net, (int)from, "was a handshake message of %zu bytes", len);
	} else if (!pr->hello) {
		drop_frame(net, (int)from, "was a handshake record before hello");
	} else if (pr->tls_confirmed || pr->tls_dead || net->closing) {
		drop_frame(net, (int)from, "was a handshake record after the handshake");
	} else if (ahead(mpc_get16(b + 10), pr->hs_gen) > HS_AHEAD) {
		drop_frame(net, (int)from, "was a handshake record of another attempt");
	} else if (mpc_get16(b + 10) != pr->hs_gen) {
		/* the peer started again (or someone says so): so do we. A
		 * client's ClientHello comes with it; an empty one from a client
		 * is no peer's, but answering it costs only a new attempt */
		int empty = len <= TLS_HDR + 1;
		err = restart_handshake(net, (int)from, mpc_get16(b + 10), 0, empty);
		if (err == MPC_OK && net->id > (int)from && !empty)
			err = tls_input(net, (int)from, b + TLS_HDR, len - TLS_HDR);
	} else if (len == TLS_HDR + 1) {
		/* an empty restart notice of this attempt: nothing to read */
	} else if (pr->tls_done && pr->ssl == NULL) {
		drop_frame(net, (int)from, "was a handshake record after the handshake");
	} else if (pr->tls_done) {
		err = tls_alert(net, (int)from, b + TLS_HDR, len - TLS_HDR);
	} else {
		err = tls_input(net, (int)from, b + TLS_HDR, len - TLS_HDR);
	}
	nn_freemsg(msg);
	return err;
}

/* One message off the wire. Takes ownership of msg. */
static mpc_err dispatch(mpc_net *net, void *msg, size_t len, int64_t now) {
	const uint8_t *b = msg;
	if (len >= SEC_HDR && mpc_get32(b) == WIRE_MAGIC && b[4] == WIRE_VERSION &&
	    b[5] == T_SEC)
		return sec_message(net, msg, len, now);
	if (len >= TLS_HDR && mpc_get32(b) == WIRE_MAGIC && b[4] == WIRE_VERSION && b[5] == T_TLS)
		return tls_message(net, msg, len);
	if (net->tls) {
		clear_in_tls(net, msg, len, now);
		return MPC_OK;
	}
	return handle(net, -1, msg, b, len >= HDR_BYTES ? b + HDR_BYTES : b, len, now);
}

/* Take what has arrived, without waiting. */
static mpc_err pull_all(mpc_net *net, int *progress) {
	for (int i = 0; i < RECV_BATCH; i++) {
		void *msg = NULL;
		int rc = nn_recv(net->pull, &msg, NN_MSG, NN_DONTWAIT);
		if (rc < 0) {
			int e = nn_errno();
			if (e == EAGAIN)
				return MPC_OK;
			if (e == EINTR)
				continue;
			return mpc_error(MPC_ENET, "cannot receive on %s: %s",
			                 net->peers[net->id].addr, nn_strerror(e));
		}
		*progress = 1;
		mpc_err err = dispatch(net, msg, (size_t)rc, now_ms());
		if (err != MPC_OK)
			return err;
	}
	return MPC_OK;
}

/* Sleep until something arrives, a socket in out_mask can take a message,
 * or ms pass. */
static mpc_err poll_wait(mpc_net *net, uint64_t out_mask, int64_t ms) {
	struct nn_pollfd fds[MPC_NET_MAX_NODES];
	int k = 0;

	fds[k].fd = net->pull;
	fds[k].events = NN_POLLIN;
	fds[k++].revents = 0;
	for (int p = 0; p < net->n; p++)
		if (out_mask >> p & 1) {
			fds[k].fd = net->peers[p].sock;
			fds[k].events = NN_POLLOUT;
			fds[k++].revents = 0;
		}
	if (ms < 0)
		ms = 0;
	if (ms > POLL_MAX_MS)
		ms = POLL_MAX_MS;
	if (nn_poll(fds, k, (int)ms) < 0 && nn_errno() != EINTR)
		return mpc_error(MPC_ENET, "nn_poll: %s", nn_strerror(nn_errno()));
	return MPC_OK;
}

static int64_t max64(int64_t a, int64_t b) {
	return a > b ? a : b;
}

/* Deadlines of one round; *next becomes the earliest one ahead. With
 * data_only, keepalives do not extend the wait (recv_wait's own deadline). */
static mpc_err check_deadlines(mpc_net *net, int64_t start, int64_t t, int recv_timeout_ms,
                               int data_only, int64_t *next) {
	for (int p = 0; p < net->n; p++) {
		peer *pr = &net->peers[p];
		if (p == net->id)
			continue;
		if (pr->want && recv_timeout_ms >= 0) {
			int64_t data = max64(pr->last_data, start);
			int64_t heard = data_only ? data : max64(pr->last_heard, start);
			if (t >= heard + recv_timeout_ms)
			{
				char note[sizeof(pr->note) + 4];
				return mpc_error(MPC_ETIMEDOUT,
				                 "no message from %s for %.1f s at "
				                 "step %llu (round %llu): is it running and "
				                 "reachable?%s",
				                 pr->name, (double)(t - heard) / 1000,
				                 (ull)pr->consumed + 1, (ull)net->rounds,
				                 drop_note(pr, note, sizeof(note)));
			}
			if (t >= data + (int64_t)KEEPALIVE_SPAN * recv_timeout_ms)
				return mpc_error(MPC_ETIMEDOUT,
				                 "no data from %s for %.1f s at step "
				                 "%llu (round %llu), only keepalives: it waits for "
				                 "someone else",
				                 pr->name, (double)(t - data) / 1000,
				                 (ull)pr->consumed + 1, (ull)net->rounds);
			if (heard + recv_timeout_ms < *next)
				*next = heard + recv_timeout_ms;
		}
		if (pr->tx_active) {
			int64_t acc = max64(pr->last_accept, start);
			if (t >= acc + net->timeout_ms)
				return mpc_error(MPC_ETIMEDOUT,
				                 "%s took no data from us for %.1f s at "
				                 "step %llu (round %llu): is it running and "
				                 "reachable?",
				                 pr->name, (double)(t - acc) / 1000,
				                 (ull)pr->tx_steps, (ull)net->rounds);
			if (acc + net->timeout_ms < *next)
				*next = acc + net->timeout_ms;
		}
	}
	return MPC_OK;
}

/* While we wait, tell idle peers that we are alive and what we wait for
 * from them, so that a peer that waits on us does not blame us for a third
 * node's silence. */
static mpc_err keepalives(mpc_net *net, int64_t t, int64_t *next) {
	for (int p = 0; p < net->n; p++) {
		peer *pr = &net->peers[p];
		int sent;
		if (p == net->id || pr->tx_active || pr->bye || pr->aborted)
			continue;
		/* with TLS a keepalive is queued at once: none while one waits */
		if (t >= pr->next_keepalive && pr->oq_len == 0) {
			mpc_err err = send_ctl(net, p, T_KEEPALIVE, pr->want ? pr->consumed + 1 : 0,
			                       0, NULL, 0, &sent);
			if (err != MPC_OK)
				return err;
			pr->next_keepalive = t + net->keepalive_ms;
		}
		if (pr->next_keepalive < *next)
			*next = pr->next_keepalive;
	}
	return MPC_OK;
}

static mpc_err check_peers(mpc_net *net) {
	for (int p = 0; p < net->n; p++) {
		peer *pr = &net->peers[p];
		if (p == net->id)
			continue;
		if (pr->aborted)
			return mpc_error(MPC_EPEER, "%s aborted: %s", pr->name, pr->reason);
		if (pr->want && pr->bye)
			return mpc_error(MPC_ECLOSED,
			                 "%s closed the session at step %llu (round %llu)",
			                 pr->name, (ull)pr->consumed + 1, (ull)net->rounds);
		if (pr->tx_active && pr->bye)
			return mpc_error(MPC_ECLOSED,
			                 "%s closed the session before taking step %llu "
			                 "(round %llu)",
			                 pr->name, (ull)pr->tx_steps, (ull)net->rounds);
	}
	return MPC_OK;
}

/* Run the started sends and requests to completion. */
static mpc_err run_round(mpc_net *net, int recv_timeout_ms, int data_only) {
	int64_t start = now_ms();
	mpc_err err;

	for (int p = 0; p < net->n; p++)
		net->peers[p].next_keepalive = start + net->keepalive_ms;
	for (;;) {
		int progress = 0, busy = 0;
		uint64_t out_mask = 0;
		for (int p = 0; p < net->n; p++)
			if (net->peers[p].tx_active && (err = pump_tx(net, p, &progress)) != MPC_OK)
				return err;
		if ((err = flush_all(net, &progress, &out_mask)) != MPC_OK)
			return err;
		if ((err = pull_all(net, &progress)) != MPC_OK)
			return err;
		if ((err = check_peers(net)) != MPC_OK || (err = check_stop(net)) != MPC_OK)
			return err;
		for (int p = 0; p < net->n; p++) {
			busy |= net->peers[p].want | net->peers[p].tx_active;
			if (net->peers[p].tx_active)
				out_mask |= (uint64_t)1 << p;
		}
		if (!busy)
			return MPC_OK;
		int64_t t = now_ms(), next = t + POLL_MAX_MS;
		err = check_deadlines(net, start, t, recv_timeout_ms, data_only, &next);
		if (err != MPC_OK)
			return err;
		if ((err = keepalives(net, t, &next)) != MPC_OK)
			return err;
		if (!progress && (err = poll_wait(net, out_mask, next - t)) != MPC_OK)
			return err;
	}
}

static mpc_err exchange(mpc_net *net, const void *const *send, const size_t *send_len,
                        void *const *recv, const size_t *recv_len, int recv_timeout_ms,
                        int data_only) {
	mpc_err err;

	if (net->failed)
		return mpc_error(net->failed, "the network failed earlier: %s", net->failed_detail);
	if ((err = check_stop(net)) != MPC_OK)
		return err;
	for (int p = 0; p < net->n; p++) {
		if (p == net->id)
			continue;
		if (send_len && send_len[p] > 0 && (send == NULL || send[p] == NULL))
			return mpc_error(MPC_EINVAL, "exchange: no buffer for %zu bytes to %s",
			                 send_len[p], net->peers[p].name);
		if (recv_len && recv_len[p] > 0 && (recv == NULL || recv[p] == NULL))
			return mpc_error(MPC_EINVAL, "exchange: no buffer for %zu bytes from %s",
			                 recv_len[p], net->peers[p].name);
	}
	for (int p = 0; p < net->n; p++) {
		peer *pr = &net->peers[p];
		if (p == net->id)
			continue;
		if (send_len && send_len[p] > 0)
			start_tx(net, p, send[p], send_len[p]);
		if (recv_len && recv_len[p] > 0) {
			pr->want = 1;
			pr->dst = recv[p];
			pr->want_len = recv_len[p];
			pr->got = 0;
			if ((err = drain_early(net, p)) != MPC_OK)
				return err;
		}
	}
	return run_round(net, recv_timeout_ms, data_only);
}

static void fail(mpc_net *net, mpc_err err) {
	net->failed = err;
	snprintf(net->failed_detail, sizeof(net->failed_detail), "%s", mpc_error_detail());
	mpc_debug("net: round %llu failed: %s: %s", (ull)net->rounds, mpc_strerror(err),
	          net->failed_detail);
}

static void destroy(mpc_net *net) {
	if (net->pull >= 0)
		nn_close(net->pull);
	for (int p = 0; p < net->n; p++) {
		peer *pr = &net->peers[p];
		if (pr->sock >= 0)
			nn_close(pr->sock);
		drop_tx(pr);
		for (size_t i = 0; i < pr->q_len; i++) {
			early_chunk *e = &pr->q[pr->q_head + i];
			if (net->tls) /* decrypted payload */
				mpc_wipe(e->data, e->plen);
			nn_freemsg(e->msg);
		}
		free(pr->q);
		SSL_free(pr->ssl); /* a handshake that never finished; wipes its keys */
		mpc_frame_dir_free(&pr->tx_key);
		mpc_frame_dir_free(&pr->rx_key);
		drop_queue(pr); /* ciphertext */
		free(pr->oq);
		free(pr->addr);
		free(pr->name);
	}
	free(net->peers);
	mpc_frame_worker_free(net->worker);
	SSL_CTX_free(net->tls_ctx);
	free(net);
}

static mpc_err open_sockets(mpc_net *net) {
	int maxsize = (int)(SEC_OVER + MPC_FRAME_TAG + HDR_BYTES + MAX_CHUNK), buf = SOCK_BUF;
	int ivl = 50, ivl_max = 1000;
	peer *self = &net->peers[net->id];

	if ((net->pull = nn_socket(AF_SP, NN_PULL)) < 0)
		return mpc_error(MPC_ENET, "nn_socket: %s", nn_strerror(nn_errno()));
	if (nn_setsockopt(net->pull, NN_SOL_SOCKET, NN_RCVMAXSIZE, &maxsize, sizeof(maxsize)) < 0 ||
	    nn_setsockopt(net->pull, NN_SOL_SOCKET, NN_RCVBUF, &buf, sizeof(buf)) < 0)
		return mpc_error(MPC_ENET, "nn_setsockopt: %s", nn_strerror(nn_errno()));
	if (nn_bind(net->pull, self->addr) < 0) {
		/* our own address: a configuration error, not the network's */
		int e = nn_errno();
		return mpc_error(
		    MPC_ECONFIG, "%s cannot listen on %s: %s%s", self->name, self->addr, nn_strerror(e),
		    e == EADDRINUSE ? " (another program, or another node on this machine, has this "
		                      "port)"
		    : e == EADDRNOTAVAIL || e == ENODEV
		        ? " (not an address or a network interface of this machine: a typo in the "
		          "job file? behind NAT, give --listen tcp://0.0.0.0:PORT)"
		    : e == ENOENT ? " (no such directory)"
		                  : "");
	}
	for (int p = 0; p < net->n; p++) {
		peer *pr = &net->peers[p];
		if (p == net->id)
			continue;
		if ((pr->sock = nn_socket(AF_SP, NN_PUSH)) < 0)
			return mpc_error(MPC_ENET, "nn_socket: %s", nn_strerror(nn_errno()));
		if (nn_setsockopt(pr->sock, NN_SOL_SOCKET, NN_SNDBUF, &buf, sizeof(buf)) < 0 ||
		    nn_setsockopt(pr->sock, NN_SOL_SOCKET, NN_RECONNECT_IVL, &ivl, sizeof(ivl)) <
		        0 ||
		    nn_setsockopt(pr->sock, NN_SOL_SOCKET, NN_RECONNECT_IVL_MAX, &ivl_max,
		                  sizeof(ivl_max)) < 0)
			return mpc_error(MPC_ENET, "nn_setsockopt: %s", nn_strerror(nn_errno()));
		/* Nagle plus the peer's delayed ACK hold a small message for ~40 ms:
		 * a latency-bound job of many short rounds would wait on it each time */
		int one = 1;
		if (strncmp(pr->addr, "tcp://", 6) == 0 &&
		    nn_setsockopt(pr->sock, NN_TCP, NN_TCP_NODELAY, &one, sizeof(one)) < 0)
			return mpc_error(MPC_ENET, "nn_setsockopt(NN_TCP_NODELAY): %s",
			                 nn_strerror(nn_errno()));
		if (nn_connect(pr->sock, pr->addr) < 0)
			return mpc_error(MPC_ENET, "cannot connect to %s at %s: %s", pr->name,
			                 pr->addr, nn_strerror(nn_errno()));
	}
	return MPC_OK;
}

/* For a set-up timeout: each peer not yet past HELLO (tls = 0) or not yet
 * through the TLS handshake (tls = 1), what we know of it, and what to
 * check; returns how many. An address nothing accepts connections at is
 * told apart from a node that is reached but never says hello. */
static int list_missing(mpc_net *net, int tls, char *list, size_t cap) {
	size_t len = 0;
	int missing = 0;
	list[0] = '\0';
	for (int p = 0; p < net->n; p++) {
		peer *pr = &net->peers[p];
		int ok = tls ? pr->tls_done && pr->tls_confirmed : pr->hello && pr->hello_sent;
		/* connections ever made to its address, not only those still up */
		uint64_t conns = nn_get_statistic(pr->sock, NN_STAT_ESTABLISHED_CONNECTIONS);
		int reached = conns != 0 && conns != (uint64_t)-1;
		int w = 0;
		if (p == net->id || ok)
			continue;
		if (len >= cap) {
			missing++;
			continue;
		}
		/* a hello in the clear proves nothing: without a connection to
		 * its address, the peer is unreachable whoever said hello */
		if (tls && reached)
			w = snprintf(list + len, cap - len,
			             "%s%s (%s) said hello but never completed the TLS handshake: "
			             "is it running with TLS on?",
			             missing ? "; " : "", pr->name, pr->addr);
		else if (!reached)
			w = snprintf(list + len, cap - len,
			             "%scannot reach %s at %s: nothing accepts connections there; "
			             "check that it is started, that the job file gives the right "
			             "host and port for it, and that no firewall is in the way",
			             missing ? "; " : "", pr->name, pr->addr);
		else
			w = snprintf(list + len, cap - len,
			             "%s%s at %s accepted our connection but never said hello: is it "
			             "started with the same job, and does its job file give %s as "
			             "our address?",
			             missing ? "; " : "", pr->name, pr->addr, net->peers[net->id].addr);
		len += w > 0 ? (size_t)w : 0;
		if (pr->dropped > 0 && len < cap) {
			w = snprintf(list + len, cap - len, " (%s)", pr->note);
			len += w > 0 ? (size_t)w : 0;
		}
		missing++;
	}
	return missing;
}

static mpc_err say_hello(mpc_net *net) {
	int64_t start = now_ms(), deadline = start + net->connect_timeout_ms;
	mpc_err err;

	for (;;) {
		int progress = 0, done = 1, sent;
		uint64_t out_mask = 0;
		for (int p = 0; p < net->n; p++) {
			peer *pr = &net->peers[p];
			if (p == net->id || pr->hello_sent)
				continue;
			err = send_ctl(net, p, T_HELLO, 0, (uint64_t)net->n, NULL, 0, &sent);
			if (err != MPC_OK)
				return err;
			pr->hello_sent = sent;
			progress |= sent;
			if (!sent)
				out_mask |= (uint64_t)1 << p;
		}
		if ((err = pull_all(net, &progress)) != MPC_OK || (err = check_stop(net)) != MPC_OK)
			return err;
		for (int p = 0; p < net->n; p++)
			if (p != net->id && !(net->peers[p].hello && net->peers[p].hello_sent))
				done = 0;
		if (done)
			return MPC_OK;
		int64_t t = now_ms();
		if (t >= deadline)
			break;
		if (!progress && (err = poll_wait(net, out_mask, deadline - t)) != MPC_OK)
			return err;
	}
	char list[900];
	(void)list_missing(net, 0, list, sizeof(list));
	return mpc_error(MPC_ETIMEDOUT, "waited %.1f s for the other nodes: %s",
	                 (double)net->connect_timeout_ms / 1000, list);
}

/* Every link's TLS handshake, all at once, within the connect timeout; then
 * wait for each peer's first message inside the channel, which says that it
 * accepted our certificate. */
static mpc_err tls_handshake(mpc_net *net) {
	int64_t start = now_ms(), deadline = start + net->connect_timeout_ms;
	mpc_err err;

	for (int p = 0; p < net->n; p++) /* clients say ClientHello */
		if (p != net->id && !net->peers[p].tls_done && !net->peers[p].tls_dead &&
		    (err = tls_input(net, p, NULL, 0)) != MPC_OK)
			return err;
	for (;;) {
		int progress = 0, done = 1;
		uint64_t out_mask = 0;
		if ((err = flush_all(net, &progress, &out_mask)) != MPC_OK)
			return err;
		if ((err = pull_all(net, &progress)) != MPC_OK || (err = check_stop(net)) != MPC_OK)
			return err;
		for (int p = 0; p < net->n; p++)
			if (p != net->id &&
			    !(net->peers[p].tls_done && net->peers[p].tls_confirmed))
				done = 0;
		if (done)
			return flush_all(net, &progress, &out_mask);
		int64_t t = now_ms();
		if (t >= deadline)
			break;
		if (!progress && (err = poll_wait(net, out_mask, deadline - t)) != MPC_OK)
			return err;
	}
	char list[900];
	(void)list_missing(net, 1, list, sizeof(list));
	return mpc_error(MPC_ETIMEDOUT, "waited %.1f s for the TLS handshakes: %s",
	                 (double)net->connect_timeout_ms / 1000, list);
}

static mpc_err setup_tls(mpc_net *net, const mpc_net_tls *tls, int cfg_threads) {
	mpc_err err;
	if (tls->key == NULL || tls->cert == NULL || tls->pins == NULL)
		return mpc_error(MPC_EINVAL,
		                 "mpc_net_open: TLS needs a key, a certificate and pins");
	if ((err = mpc_tls_ctx_new(tls->key, tls->cert, &net->tls_ctx)) != MPC_OK ||
	    (err = mpc_tls_fingerprint(tls->cert, net->tls_fp)) != MPC_OK)
		return err;
	net->tls = 1;
	/* a second thread for half of each large frame, where there are cores
	 * to spare (not when 3 parties share 2 cores) */
	int threads = cfg_threads;
	if (threads == 0)
		threads = sysconf(_SC_NPROCESSORS_ONLN) >= 4 ? 2 : 1;
	if (threads >= 2 && (err = mpc_frame_worker_new(&net->worker)) != MPC_OK)
		return err;
	for (int p = 0; p < net->n; p++) {
		peer *pr = &net->peers[p];
		if (p == net->id)
			continue;
		memcpy(pr->link.pin, tls->pins[p], MPC_TLS_FP_BYTES);
		pr->link.out = tls_out;
		pr->link.out_arg = pr;
		if ((err = mpc_tls_ssl_new(net->tls_ctx, net->id < p, &pr->link, &pr->ssl)) !=
		    MPC_OK)
			return err;
	}
	return MPC_OK;
}

/* Open failed after HELLO with TLS on. An abort counts only inside a
 * channel, so first let the handshakes under way finish (a short while),
 * then tell every peer whose channel is up why (best effort), and give the
 * frames and OpenSSL's alerts a moment to leave. */
/* Send reason as our abort to every peer whose channel is up and has not
 * had it yet; 1 if a peer that said hello is still without a channel. */
static int setup_aborts(mpc_net *net, const char *reason) {
	int waiting = 0, sent;
	for (int p = 0; p < net->n; p++) {
		peer *pr = &net->peers[p];
		if (p == net->id || pr->abort_sent || pr->aborted)
			continue;
		if (tls_usable(pr)) {
			if (send_ctl(net, p, T_ABORT, 0, strlen(reason), reason,
			             (uint32_t)strlen(reason), &sent) != MPC_OK ||
			    sent)
				pr->abort_sent = 1;
		} else if (pr->hello && !pr->tls_dead) {
			waiting = 1;
		}
	}
	return waiting;
}

static void open_failed(mpc_net *net, mpc_err err, int handshaking) {
	char keep[1024], reason[REASON_MAX + 1];
	int64_t t = now_ms(), deadline = t + SETUP_ABORT_MS;
	int pending = 1;

	snprintf(keep, sizeof(keep), "%s", mpc_error_detail());
	sanitize(reason, sizeof(reason), keep, strlen(keep));
	if (deadline > t + net->connect_timeout_ms)
		deadline = t + net->connect_timeout_ms;
	while (setup_aborts(net, reason) && handshaking && t < deadline) {
		int progress = 0;
		uint64_t out_mask = 0;
		if (flush_all(net, &progress, &out_mask) != MPC_OK)
			break;
		/* a peer's own failure or abort here changes nothing for us */
		(void)pull_all(net, &progress);
		t = now_ms();
		if (!progress && poll_wait(net, out_mask, 10) != MPC_OK)
			break;
	}
	(void)setup_aborts(net, reason); /* the channels the last pull brought up */
	net->closing = 1;
	deadline = now_ms() + ABORT_WAIT_MS;
	while (pending && now_ms() < deadline) {
		int progress = 0;
		uint64_t out_mask = 0;
		if (flush_all(net, &progress, &out_mask) != MPC_OK)
			break;
		pending = out_mask != 0;
		if (pending && poll_wait(net, out_mask, 10) != MPC_OK)
			break;
	}
	sleep_ms(FLUSH_PAUSE_MS);
	(void)mpc_error(err, "%s", keep);
}

static mpc_err copy_config(mpc_net *net, const mpc_net_config *cfg) {
	net->id = cfg->id;
	net->n = cfg->n_nodes;
	net->pull = -1;
	net->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : MPC_NET_DEFAULT_TIMEOUT_MS;
	net->connect_timeout_ms =
	    cfg->connect_timeout_ms ? cfg->connect_timeout_ms : MPC_NET_DEFAULT_CONNECT_TIMEOUT_MS;
	net->keepalive_ms = net->timeout_ms / 4;
	if (net->keepalive_ms < 20)
		net->keepalive_ms = 20;
	if (net->keepalive_ms > 5000)
		net->keepalive_ms = 5000;
	net->chunk = cfg->chunk_bytes ? cfg->chunk_bytes : DEFAULT_CHUNK;
	memcpy(net->session, cfg->session, MPC_SESSION_BYTES);
	net->peers = calloc((size_t)net->n, sizeof(*net->peers));
	if (net->peers == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory opening the network");
	for (int p = 0; p < net->n; p++) {
		peer *pr = &net->peers[p];
		char dflt[32];
		pr->sock = -1;
		pr->rx_step = 1;
		pr->net = net;
		pr->idx = p;
		snprintf(dflt, sizeof(dflt), "node %d", p);
		pr->addr = strdup(cfg->addrs[p]);
		pr->name = strdup(cfg->names && cfg->names[p] ? cfg->names[p] : dflt);
		if (pr->addr == NULL || pr->name == NULL)
			return mpc_error(MPC_ENOMEM, "out of memory opening the network");
	}
	return MPC_OK;
}

mpc_err mpc_net_open(mpc_net **out, const mpc_net_config *cfg) {
	mpc_net *net = NULL;
	mpc_err err;

	if (out == NULL)
		return mpc_error(MPC_EINVAL, "mpc_net_open: no place for the result");
	*out = NULL;
	if (cfg == NULL || cfg->n_nodes < 2 || cfg->n_nodes > MPC_NET_MAX_NODES || cfg->id < 0 ||
	    cfg->id >= cfg->n_nodes || cfg->addrs == NULL)
		return mpc_error(MPC_EINVAL, "mpc_net_open: need 2 to %d nodes and 0 <= id < nodes",
		                 MPC_NET_MAX_NODES);
	for (int p = 0; p < cfg->n_nodes; p++)
		if (cfg->addrs[p] == NULL || cfg->addrs[p][0] == '\0')
			return mpc_error(MPC_EINVAL, "mpc_net_open: no address for node %d", p);
	if (cfg->timeout_ms < 0 || cfg->connect_timeout_ms < 0 || cfg->chunk_bytes > MAX_CHUNK)
		return mpc_error(MPC_EINVAL,
		                 "mpc_net_open: negative timeout, or chunks over %zu MiB",
		                 MAX_CHUNK >> 20);
	if ((net = calloc(1, sizeof(*net))) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory opening the network");
	if ((err = copy_config(net, cfg)) != MPC_OK)
		goto out;
	if (cfg->tls && (err = setup_tls(net, cfg->tls, cfg->crypto_threads)) != MPC_OK)
		goto out;
	if ((err = open_sockets(net)) != MPC_OK)
		goto out;
	if ((err = say_hello(net)) != MPC_OK) {
		if (net->tls)
			open_failed(net, err, 0);
		goto out;
	}
	if (net->tls && (err = tls_handshake(net)) != MPC_OK) {
		open_failed(net, err, 1);
		goto out;
	}
	mpc_debug("net: %s up on %s, %d nodes%s", net->peers[net->id].name,
	          net->peers[net->id].addr, net->n, net->tls ? ", TLS 1.3" : " (plaintext)");
	net->opened = 1;
	*out = net;
	net = NULL;
out:
	if (net) {
		mpc_debug("net: open failed: %s", mpc_error_detail());
		destroy(net);
	}
	return err;
}

void mpc_net_close(mpc_net *net) {
	int64_t start, deadline;
	int done = 0;

	if (net == NULL)
		return;
	start = now_ms();
	deadline = start + (net->timeout_ms < CLOSE_WAIT_MS ? net->timeout_ms : CLOSE_WAIT_MS);
	net->closing = 1;
	for (int p = 0; p < net->n; p++)
		drop_tx(&net->peers[p]);
	while (!done) {
		int progress = 0, sent;
		uint64_t out_mask = 0;
		int64_t t = now_ms();
		done = 1;
		for (int p = 0; p < net->n; p++) {
			peer *pr = &net->peers[p];
			if (p == net->id)
				continue;
			if (!pr->bye_sent && !pr->aborted) {
				if (send_ctl(net, p, T_BYE, pr->tx_steps, 0, NULL, 0, &sent) !=
				    MPC_OK)
					pr->bye_sent = 1; /* a broken socket: nothing more to do */
				pr->bye_sent |= sent;
				progress |= sent;
				if (!pr->bye_sent)
					out_mask |= (uint64_t)1 << p;
			}
		}
		if (flush_all(net, &progress, &out_mask) != MPC_OK)
			out_mask = 0; /* a broken socket: nothing more to do */
		for (int p = 0; p < net->n; p++) {
			peer *pr = &net->peers[p];
			int gone = pr->bye_sent && !(out_mask >> p & 1); /* our bye has left */
			if (p == net->id)
				continue;
			/* a peer that already left only gets a short try of our bye */
			if (!(pr->bye || pr->aborted) ||
			    !(gone || pr->aborted || t - start >= 1000))
				done = 0;
		}
		/* garbage while closing: nothing to be done about it */
		(void)pull_all(net, &progress);
		if (done || t >= deadline)
			break;
		if (!progress && poll_wait(net, out_mask, deadline - t) != MPC_OK)
			break;
	}
	if (!done)
		for (int p = 0; p < net->n; p++)
			if (p != net->id && !net->peers[p].bye && !net->peers[p].aborted)
				mpc_debug("net: no bye from %s", net->peers[p].name);
	sleep_ms(FLUSH_PAUSE_MS);
	destroy(net);
}

void mpc_net_abort(mpc_net *net, mpc_err code, const char *reason) {
	char text[REASON_MAX + 1];
	int64_t deadline;
	int any = 0;

	if (net == NULL)
		return;
	if (reason == NULL || reason[0] == '\0')
		reason = mpc_strerror(code);
	sanitize(text, sizeof(text), reason, strlen(reason));
	net->closing = 1;
	for (int p = 0; p < net->n; p++)
		drop_tx(&net->peers[p]);
	deadline = now_ms() + ABORT_WAIT_MS;
	for (;;) {
		int pending = 0, sent, progress = 0;
		uint64_t out_mask = 0;
		for (int p = 0; p < net->n; p++) {
			peer *pr = &net->peers[p];
			if (p == net->id || pr->abort_sent)
				continue;
			if (send_ctl(net, p, T_ABORT, 0, strlen(text), text, (uint32_t)strlen(text),
			             &sent) != MPC_OK)
				sent = 1; /* broken socket: give up on this one */
			pr->abort_sent = sent;
			any |= sent;
			if (!sent) {
				pending = 1;
				out_mask |= (uint64_t)1 << p;
			}
		}
		if (flush_all(net, &progress, &out_mask) != MPC_OK)
			out_mask = 0;
		pending |= out_mask != 0;
		/* keep the peers' data flowing so that their sockets drain */
		(void)pull_all(net, &progress);
		int64_t t = now_ms();
		if (!pending || t >= deadline)
			break;
		if (poll_wait(net, out_mask, deadline - t < 10 ? deadline - t : 10) != MPC_OK)
			break;
	}
	mpc_debug("net: aborted (%s)", text);
	if (any)
		sleep_ms(FLUSH_PAUSE_MS);
	destroy(net);
}

int mpc_net_id(const mpc_net *net) {
	return net ? net->id : -1;
}

int mpc_net_size(const mpc_net *net) {
	return net ? net->n : 0;
}

const char *mpc_net_name(const mpc_net *net, int i) {
	if (net == NULL || i < 0 || i >= net->n)
		return "unknown node";
	return net->peers[i].name;
}

mpc_err mpc_net_exchange(mpc_net *net, const void *const *send, const size_t *send_len,
                         void *const *recv, const size_t *recv_len) {
	mpc_err err;
	if (net == NULL)
		return mpc_error(MPC_EINVAL, "mpc_net_exchange: no network");
	net->rounds++;
	err = exchange(net, send, send_len, recv, recv_len, net->timeout_ms, 0);
	if (err != MPC_OK && err != MPC_EINVAL && !net->failed)
		fail(net, err);
	return err;
}

mpc_err mpc_net_bcast(mpc_net *net, uint64_t to, const void *buf, uint64_t from, void *recv,
                      size_t len) {
	const void *sp[MPC_NET_MAX_NODES];
	void *rp[MPC_NET_MAX_NODES];
	size_t sl[MPC_NET_MAX_NODES], rl[MPC_NET_MAX_NODES];

	if (net == NULL)
		return mpc_error(MPC_EINVAL, "mpc_net_bcast: no network");
	if (net->n < 64 && ((to | from) >> net->n) != 0) {
		net->rounds++;
		return mpc_error(MPC_EINVAL, "mpc_net_bcast: node mask %llx/%llx beyond %d nodes",
		                 (ull)to, (ull)from, net->n);
	}
	for (int p = 0; p < net->n; p++) {
		sp[p] = buf;
		sl[p] = (to >> p & 1) && p != net->id ? len : 0;
		rp[p] = recv ? (uint8_t *)recv + (size_t)p * len : NULL;
		rl[p] = (from >> p & 1) && p != net->id ? len : 0;
	}
	return mpc_net_exchange(net, sp, sl, rp, rl);
}

static mpc_err one_way(mpc_net *net, int peer_id, const void *sbuf, void *rbuf, size_t len,
                       const char *what) {
	const void *sp[MPC_NET_MAX_NODES] = {0};
	void *rp[MPC_NET_MAX_NODES] = {0};
	size_t sl[MPC_NET_MAX_NODES] = {0}, rl[MPC_NET_MAX_NODES] = {0};

	if (net == NULL)
		return mpc_error(MPC_EINVAL, "%s: no network", what);
	if (peer_id < 0 || peer_id >= net->n || peer_id == net->id) {
		net->rounds++;
		return mpc_error(MPC_EINVAL, "%s: bad peer %d (we are node %d of %d)", what,
		                 peer_id, net->id, net->n);
	}
	sp[peer_id] = sbuf;
	sl[peer_id] = sbuf ? len : 0;
	rp[peer_id] = rbuf;
	rl[peer_id] = rbuf ? len : 0;
	return mpc_net_exchange(net, sp, sl, rp, rl);
}

mpc_err mpc_net_send(mpc_net *net, int peer_id, const void *buf, size_t len) {
	if (len > 0 && buf == NULL)
		return mpc_error(MPC_EINVAL, "mpc_net_send: no buffer");
	return one_way(net, peer_id, len ? buf : NULL, NULL, len, "mpc_net_send");
}

mpc_err mpc_net_recv(mpc_net *net, int peer_id, void *buf, size_t len) {
	if (len > 0 && buf == NULL)
		return mpc_error(MPC_EINVAL, "mpc_net_recv: no buffer");
	return one_way(net, peer_id, NULL, len ? buf : NULL, len, "mpc_net_recv");
}

mpc_err mpc_net_recv_wait(mpc_net *net, int peer_id, void *buf, size_t len, int timeout_ms) {
	void *rp[MPC_NET_MAX_NODES] = {0};
	size_t rl[MPC_NET_MAX_NODES] = {0};
	mpc_err err;

	if (net == NULL)
		return mpc_error(MPC_EINVAL, "mpc_net_recv_wait: no network");
	net->rounds++;
	if (peer_id < 0 || peer_id >= net->n || peer_id == net->id || (len > 0 && buf == NULL))
		return mpc_error(MPC_EINVAL, "mpc_net_recv_wait: bad peer %d or no buffer",
		                 peer_id);
	rp[peer_id] = buf;
	rl[peer_id] = len;
	err = exchange(net, NULL, NULL, rp, rl, timeout_ms < 0 ? -1 : timeout_ms, 1);
	/* A BYE ends the wait cleanly: nothing was half received (a BYE in
	 * the middle of a message is MPC_EPROTO), so the network stays usable. */
	if (err == MPC_ECLOSED && net->peers[peer_id].bye && !net->peers[peer_id].aborted) {
		net->peers[peer_id].want = 0;
		return err;
	}
	if (err != MPC_OK && err != MPC_EINVAL && !net->failed)
		fail(net, err);
	return err;
}

uint64_t mpc_net_bytes_sent(const mpc_net *net) {
	return net ? net->bytes_sent : 0;
}

uint64_t mpc_net_rounds(const mpc_net *net) {
	return net ? net->rounds : 0;
}

uint64_t mpc_net_step_with(const mpc_net *net, int peer_id) {
	if (net == NULL || peer_id < 0 || peer_id >= net->n || peer_id == net->id)
		return 0;
	const peer *pr = &net->peers[peer_id];
	return pr->tx_steps > pr->consumed ? pr->tx_steps : pr->consumed;
}

void mpc_net_set_fault(mpc_net *net, int peer_id, mpc_net_fault f) {
	if (net == NULL || peer_id < 0 || peer_id >= net->n || peer_id == net->id ||
	    (unsigned)f > MPC_FAULT_FLIP_RECORD)
		return;
	if (f == MPC_FAULT_FLIP_RECORD)
		net->peers[peer_id].flip_record = 1;
	else
		net->peers[peer_id].fault = f;
}

uint64_t mpc_net_dropped(const mpc_net *net) {
	return net ? net->dropped : 0;
}

int mpc_net_uses_tls(const mpc_net *net) {
	return net ? net->tls : 0;
}

/* Test-only (fuzzing, see mpc_net_fault.h): a 3-node plaintext network
 * without sockets, as node 0, fed the messages in data. */
int mpc_net_fuzz_messages(const uint8_t *data, size_t len) {
	static const char *const addrs[3] = {"ipc:///fuzz-0", "ipc:///fuzz-1", "ipc:///fuzz-2"};
	mpc_net_config cfg = {.id = 0, .n_nodes = 3, .addrs = addrs};
	mpc_net *net = calloc(1, sizeof(*net));
	int handled = 0;

	if (net == NULL)
		return 0;
	if (copy_config(net, &cfg) == MPC_OK) {
		while (len >= 2) {
			size_t m = (size_t)data[0] | (size_t)data[1] << 8;
			data += 2;
			len -= 2;
			if (m > len)
				m = len;
			void *msg = nn_allocmsg(m ? m : 1, 0);
			if (msg == NULL)
				break;
			memcpy(msg, data, m);
			data += m;
			len -= m;
			handled++;
			if (dispatch(net, msg, m, now_ms()) != MPC_OK)
				break;
		}
	}
	destroy(net);
	return handled;
}
