/* The send path of net/: DATA messages cut into chunks and pumped into each
 * peer's socket as fast as it takes them; control messages (HELLO, BYE,
 * ABORT, KEEPALIVE); with TLS, the outgoing queue of each peer, where the
 * handshake records OpenSSL writes (T_TLS) and the sealed frames (T_SEC) wait
 * in order for the socket. The fault injection of the tests hooks in at the
 * points marked MPC_TEST_HOOKS (net/mpc_net_hooks.c). */
#include "net/mpc_net_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <nanomsg/nn.h>
#include <openssl/err.h>

#include "runtime/mpc_bytes.h"
#include "runtime/mpc_wipe.h"

/* Payloads from this size are sealed as two records, one by the worker. */
#define SPLIT_MIN ((size_t)64 << 10)

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

void mpc_send_drop_queue(peer *pr) {
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
	encode_frame_start(pr->ob, T_TLS, pr->net->id, pr->idx);
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
int mpc_send_tls_out(void *arg, const void *buf, size_t len) {
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

mpc_err mpc_send_restart_notice(peer *pr) {
	if (oq_reserve(pr) != 0 || (pr->ob = nn_allocmsg(TLS_HDR + 1, 0)) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory for a message to %s", pr->name);
	pr->ob_cap = TLS_HDR + 1;
	pr->ob_len = TLS_HDR + 1; /* seal() sends nothing shorter */
	pr->ob[TLS_HDR] = 0;      /* not a record: the receiver's SSL never sees it */
	return seal(pr) != 0 ? mpc_error(MPC_ENOMEM, "out of memory for a message to %s", pr->name)
	                     : MPC_OK;
}

/* Seal what OpenSSL wrote for p and hand the socket what it takes now.
 * Nothing goes before our HELLO. */
mpc_err mpc_send_flush(mpc_net *net, int p, int *progress) {
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

mpc_err mpc_send_flush_all(mpc_net *net, int *progress, uint64_t *out_mask) {
	mpc_err err;
	if (!net->tls)
		return MPC_OK;
	for (int p = 0; p < net->n; p++) {
		if (p == net->id)
			continue;
		if ((err = mpc_send_flush(net, p, progress)) != MPC_OK)
			return err;
		if (net->peers[p].oq_len > 0)
			*out_mask |= (uint64_t)1 << p;
	}
	return MPC_OK;
}

/* Seal one message for p (its header, then plen bytes of payload, each
 * encrypted straight from where it is) as one T_SEC frame at the end of p's
 * queue, behind the handshake records still there. */
mpc_err mpc_send_seal(mpc_net *net, int p, const uint8_t *hdr, const uint8_t *payload,
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
	encode_frame_start(m, T_SEC, net->id, p);
	mpc_put64(m + 10, pr->tx_seq);
	mpc_put32(m + 18, (uint32_t)split);
	memcpy(inner, hdr, HDR_BYTES);
	rec2 = m + SEC_HDR + SEC_INNER + split + MPC_FRAME_TAG;
	if (parts == 2) /* the second half on the worker, meanwhile the first here */
		mpc_frame_worker_post(net->worker, 1, &pr->tx_key, pr->tx_seq + 1, m, SEC_HDR, rec2,
		                      payload + split, plen - split, rec2 + plen - split);
	ok = mpc_frame_begin(&pr->tx_key, 1, pr->tx_seq, m, SEC_HDR) == 0 &&
	     mpc_frame_update(&pr->tx_key, m + SEC_HDR, inner, SEC_INNER) == SEC_INNER &&
	     (w = split > 0 ? mpc_frame_update(&pr->tx_key, m + SEC_HDR + SEC_INNER, payload, split)
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
#ifdef MPC_TEST_HOOKS
	mpc_fault_flip_record(pr, hdr, m, len); /* test hook: FLIP_RECORD */
#endif
	pr->oq[pr->oq_head + pr->oq_len++] = (out_msg){m, len};
	return MPC_OK;
}

/* HELLO, BYE, ABORT, KEEPALIVE: small, rebuilt on every attempt (plaintext);
 * with TLS (all but HELLO), sealed and queued at once: *sent = 1. */
mpc_err mpc_send_ctl(mpc_net *net, int p, int type, uint64_t step, uint64_t total,
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
		if ((err = mpc_send_seal(net, p, b, (const uint8_t *)payload, plen)) != MPC_OK)
			return err;
		*sent = 1;
		return mpc_send_flush(net, p, &progress);
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

void mpc_send_start(mpc_net *net, int p, const void *buf, size_t len) {
	peer *pr = &net->peers[p];
#ifdef MPC_TEST_HOOKS
	mpc_fault_start(net, pr); /* test hook: the armed fault applies to this message */
#endif
	pr->tx_steps++;
	pr->tx_active = 1;
	pr->tx_buf = buf;
	pr->tx_len = len;
	pr->tx_off = 0;
}

/* Build the next chunk to p in a nanomsg buffer (plaintext). */
static mpc_err build_chunk(mpc_net *net, int p) {
	peer *pr = &net->peers[p];
	wire_hdr h;
	uint8_t *msg;

#ifdef MPC_TEST_HOOKS
	if (mpc_fault_due(pr)) /* test hook: a chunk with a fault */
		return mpc_fault_build_chunk(net, p);
#endif
	size_t plen = chunk_len(net, pr);
	data_hdr(net, p, plen, &h);
	msg = nn_allocmsg(HDR_BYTES + plen, 0);
	if (msg == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory for a message to %s", pr->name);
	encode_hdr(msg, &h);
	memcpy(msg + HDR_BYTES, pr->tx_buf + pr->tx_off, plen);
	pr->tx_msg = msg;
	pr->tx_msg_bytes = HDR_BYTES + plen;
	pr->tx_msg_plen = plen;
	return MPC_OK;
}

/* With TLS: seal the next chunk only when the previous one has left, so
 * that at most about a chunk of ciphertext waits in memory. The header and
 * the payload are encrypted straight from their buffers. The message is
 * done when its last frame has left. */
static mpc_err pump_tx_tls(mpc_net *net, int p, int *progress) {
	peer *pr = &net->peers[p];
	mpc_err err;

	for (;;) {
		if ((err = mpc_send_flush(net, p, progress)) != MPC_OK)
			return err;
		if (pr->oq_len > 0)
			return MPC_OK; /* the socket is full */
		if (pr->tx_off == pr->tx_len) {
			pr->tx_active = 0;
			return MPC_OK;
		}
#ifdef MPC_TEST_HOOKS
		if (mpc_fault_due(pr)) { /* test hook: a chunk with a fault, sealed */
			if ((err = mpc_fault_seal_chunk(net, p)) != MPC_OK)
				return err;
			continue;
		}
#endif
		wire_hdr h;
		uint8_t hb[HDR_BYTES];
		size_t plen = chunk_len(net, pr);
		data_hdr(net, p, plen, &h);
		encode_hdr(hb, &h);
		if ((err = mpc_send_seal(net, p, hb, pr->tx_buf + pr->tx_off, plen)) != MPC_OK)
			return err;
		pr->tx_off += plen;
	}
}

mpc_err mpc_send_pump(mpc_net *net, int p, int *progress) {
	peer *pr = &net->peers[p];
	mpc_err err;
	int sent;

	if (net->tls)
		return pump_tx_tls(net, p, progress);
	while (pr->tx_active) {
		if (pr->tx_msg == NULL && (err = build_chunk(net, p)) != MPC_OK)
			return err;
		if ((err = push_msg(net, p, &pr->tx_msg, pr->tx_msg_bytes, &sent)) != MPC_OK ||
		    !sent)
			return err;
		*progress = 1;
		pr->tx_off += pr->tx_msg_plen;
		if (pr->tx_off == pr->tx_len)
			pr->tx_active = 0;
	}
	return MPC_OK;
}

void mpc_send_drop(peer *pr) {
	if (pr->tx_msg) {
		mpc_wipe(pr->tx_msg, pr->tx_msg_bytes);
		nn_freemsg(pr->tx_msg);
	}
	pr->tx_msg = NULL;
	pr->tx_active = 0;
}
