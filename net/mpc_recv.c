/* The receive path of net/: messages taken off our PULL socket; with TLS,
 * T_SEC frames opened (the payload decrypted straight into the caller's
 * buffer where it is what the round waits for) and T_TLS records handed to
 * mpc_handshake.c; every message checked field by field against what its
 * sender may send now and acted on; DATA chunks delivered to the request or
 * queued until asked for; frames that do not come from an authenticated
 * peer dropped and counted. */
#include "net/mpc_net_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nanomsg/nn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "runtime/mpc_bytes.h"
#include "runtime/mpc_log.h"
#include "runtime/mpc_wipe.h"

/* Bytes one peer may send ahead of our requests. Our largest message is one
 * round of 2^21 Z_2^128 pairs (64 MiB); a peer is at most a round or two
 * ahead. With TLS only an authenticated peer gets this far. */
#define EARLY_MAX ((uint64_t)256 << 20)
/* What one queued chunk costs: the frame as received, and our entry. */
#define EARLY_COST(plen) ((uint64_t)(plen) + SEC_OVER + HDR_BYTES + sizeof(early_chunk) + 64)
/* Dropped frames: one warning a second at most. */
#define DROP_WARN_MS 1000
#define RECV_BATCH   16 /* messages taken before we look at our sends again */

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
mpc_err mpc_recv_drain_early(mpc_net *net, int p) {
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
const char *mpc_recv_drop_note(const peer *pr, char *buf, size_t cap) {
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
		                 mpc_recv_drop_note(pr, note, sizeof(note)));
	if (h->offset != pr->rx_off)
		return mpc_error(MPC_EPROTO,
		                 "%s sent a chunk at offset %llu of step %llu, "
		                 "expected offset %llu (round %llu): chunks lost or reordered%s",
		                 pr->name, (ull)h->offset, due, (ull)pr->rx_off, round,
		                 mpc_recv_drop_note(pr, note, sizeof(note)));
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

/* What every message must be before its type counts: a whole header of
 * ours, from a peer of this job (the one whose channel it came in, via >=
 * 0), meant for us. Decodes the header into h. */
static mpc_err check_origin(const mpc_net *net, int via, const uint8_t *b, size_t len,
                            wire_hdr *h) {
	if (len < HDR_BYTES)
		return mpc_error(MPC_EPROTO,
		                 "received a %zu-byte message, shorter than a header (round %llu)",
		                 len, (ull)net->rounds);
	decode_hdr(h, b);
	if (h->magic != WIRE_MAGIC || h->version != WIRE_VERSION)
		return mpc_error(MPC_EPROTO,
		                 "received a message that is not ours (magic %08lx, "
		                 "version %u; claims to be from node %u; round %llu)",
		                 (unsigned long)h->magic, h->version, h->from, (ull)net->rounds);
	if (h->from >= net->n || h->from == net->id)
		return mpc_error(MPC_EPROTO,
		                 "received a message from unknown node %u (we are node "
		                 "%d of %d; round %llu)",
		                 h->from, net->id, net->n, (ull)net->rounds);
	const peer *pr = &net->peers[h->from];
	if (via >= 0 && h->from != via)
		return mpc_error(MPC_EPROTO,
		                 "%s sent, inside its TLS channel, a message from %s (round %llu)",
		                 net->peers[via].name, pr->name, (ull)net->rounds);
	if (h->to != net->id)
		return mpc_error(MPC_EPROTO,
		                 "%s sent a message meant for node %u to us (node %d): "
		                 "different node list?",
		                 pr->name, h->to, net->id);
	return MPC_OK;
}

static mpc_err on_hello(mpc_net *net, peer *pr, const wire_hdr *h, size_t len, int64_t now) {
	mpc_err err = MPC_OK;
	if (len != HDR_BYTES || h->step > 1 || h->offset || h->plen)
		err = mpc_error(MPC_EPROTO, "%s sent a malformed hello", pr->name);
	else if (h->total != (uint64_t)net->n)
		err = mpc_error(MPC_EPROTO,
		                "%s has %llu nodes in its job, we have %d "
		                "(different node list?)",
		                pr->name, (ull)h->total, net->n);
	else if (pr->hello_acked && h->step == 0)
		/* its hellos come in order, and an earlier one said it had ours */
		err = mpc_error(MPC_EPROTO,
		                "%s said hello twice (restarted?) at step %llu "
		                "(round %llu)",
		                pr->name, (ull)pr->rx_step, (ull)net->rounds);
	if (err != MPC_OK || mpc_link_hello_done(pr))
		return err; /* a late repeat (sent until we said we have it): nothing */
	pr->hello = 1;
	pr->hello_acked |= h->step == 1;
	pr->last_heard = now;
	return err;
}

/* A DATA chunk in its place in p's stream: to the request, or into the
 * queue, which then owns *msg (set to NULL). */
static mpc_err on_data(mpc_net *net, int p, void **msg, const wire_hdr *h, const uint8_t *payload,
                       size_t len, int64_t now) {
	peer *pr = &net->peers[p];
	mpc_err err;

	if ((err = check_data(net, p, h, len)) != MPC_OK)
		return err;
	pr->rx_off += h->plen;
	if (pr->rx_off == h->total) {
		pr->rx_step++;
		pr->rx_off = 0;
	} else {
		pr->rx_total = h->total;
	}
	pr->last_heard = pr->last_data = now;
	if (pr->want && pr->q_len == 0 && h->step == pr->consumed + 1)
		return deliver(net, p, h->offset, h->total, payload, h->plen);
	if (*msg == NULL) /* our bug: a direct read is only chosen for delivery */
		abort();
	if ((err = enqueue(net, p, *msg, payload, h)) == MPC_OK)
		*msg = NULL; /* the queue owns it now */
	return err;
}

static mpc_err on_bye(mpc_net *net, peer *pr, const wire_hdr *h, size_t len, int64_t now) {
	mpc_err err = MPC_OK;
	if (len != HDR_BYTES || h->offset || h->plen || h->total)
		err = mpc_error(MPC_EPROTO, "%s sent a malformed bye", pr->name);
	else if (pr->rx_off != 0)
		err = mpc_error(MPC_EPROTO,
		                "%s closed the session in the middle of step %llu "
		                "(round %llu)",
		                pr->name, (ull)pr->rx_step, (ull)net->rounds);
	else if (h->step != pr->rx_step - 1) {
		char note[sizeof(pr->note) + 4];
		err = mpc_error(MPC_EPROTO,
		                "%s closed the session after sending %llu "
		                "messages, we received %llu (round %llu)%s",
		                pr->name, (ull)h->step, (ull)pr->rx_step - 1, (ull)net->rounds,
		                mpc_recv_drop_note(pr, note, sizeof(note)));
	}
	pr->bye = 1;
	pr->last_heard = now;
	return err;
}

static mpc_err on_abort(peer *pr, const wire_hdr *h, const uint8_t *payload, size_t len) {
	if (h->step || h->offset || h->plen > REASON_MAX || h->total != h->plen ||
	    len - HDR_BYTES != h->plen)
		sanitize(pr->reason, sizeof(pr->reason), "(malformed abort)", 17);
	else
		sanitize(pr->reason, sizeof(pr->reason), (const char *)payload, h->plen);
	pr->aborted = 1;
	return mpc_error(MPC_EPEER, "%s aborted: %s", pr->name, pr->reason);
}

static mpc_err on_keepalive(peer *pr, const wire_hdr *h, size_t len, int64_t now) {
	if (len != HDR_BYTES || h->offset || h->plen || h->total)
		return mpc_error(MPC_EPROTO, "%s sent a malformed keepalive", pr->name);
	/* A peer blocked on a message we have not started yet is no sign
	 * of progress: two nodes waiting on each other must time out. */
	if (h->step == 0 || h->step <= pr->tx_steps)
		pr->last_heard = now;
	return MPC_OK;
}

/* Check one message and act on it: b is its header, payload its payload,
 * len both together. via: -1 for a message off the wire without TLS; p for
 * a message that came in a sealed frame from p. Takes ownership of msg (the
 * nanomsg buffer holding them; with TLS the header and payload are wiped;
 * NULL if the payload was decrypted into place already). */
static mpc_err handle(mpc_net *net, int via, void *msg, const uint8_t *b, const uint8_t *payload,
                      size_t len, int64_t now) {
	mpc_err err;
	wire_hdr h;
	peer *pr;

	if ((err = check_origin(net, via, b, len, &h)) != MPC_OK)
		goto out;
	pr = &net->peers[h.from];
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
		err = on_hello(net, pr, &h, len, now);
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
		err = on_data(net, h.from, &msg, &h, payload, len, now);
		break;
	case T_BYE:
		err = on_bye(net, pr, &h, len, now);
		break;
	case T_ABORT:
		err = on_abort(pr, &h, payload, len);
		break;
	case T_KEEPALIVE:
		err = on_keepalive(pr, &h, len, now);
		break;
	default:
		err = mpc_error(MPC_EPROTO,
		                "%s sent a message of unknown type %u at step %llu (round %llu)",
		                pr->name, h.type, (ull)pr->rx_step, (ull)net->rounds);
		break;
	}
out:
	if (msg != NULL) {
		if (via >= 0 && len > HDR_BYTES) /* a decrypted payload */
			mpc_wipe((uint8_t *)payload, len - HDR_BYTES);
		nn_freemsg(msg);
	}
	return err;
}

/* A frame that does not come from an authenticated peer: drop it, count it,
 * and warn at most once a second. It changes nothing; a peer that stops
 * sending valid frames times out as any silent peer. p: the peer it claims
 * to come from, -1 if none. */
void mpc_recv_drop_frame(mpc_net *net, int p, const char *fmt, ...) {
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
		mpc_recv_drop_frame(net, -1, "was %zu bytes, shorter than a header", len);
		goto out;
	}
	decode_hdr(&h, b);
	if (h.magic != WIRE_MAGIC || h.version != WIRE_VERSION) {
		mpc_recv_drop_frame(net, -1, "was not ours (magic %08lx, version %u)",
		                    (unsigned long)h.magic, h.version);
		goto out;
	}
	if (h.from >= net->n || h.from == net->id) {
		mpc_recv_drop_frame(net, -1, "claimed to come from node %u", h.from);
		goto out;
	}
	pr = &net->peers[h.from];
	if (h.to != net->id) {
		mpc_recv_drop_frame(net, h.from, "was meant for node %u", h.to);
	} else if (h.type == T_ABORT) {
		char why[REASON_MAX + 1];
		sanitize(why, sizeof(why), (const char *)b + HDR_BYTES,
		         len - HDR_BYTES < h.plen ? len - HDR_BYTES : h.plen);
		mpc_recv_drop_frame(net, h.from,
		                    "was an abort in the clear, not authenticated: \"%s\"", why);
	} else if (h.type != T_HELLO) {
		mpc_recv_drop_frame(
		    net, h.from,
		    "came in the clear (type %u), where this job requires TLS (is %s "
		    "running with --insecure-plaintext?)",
		    h.type, pr->name);
	} else if (CRYPTO_memcmp(h.session, net->session, MPC_SESSION_BYTES) != 0) {
		mpc_recv_drop_frame(net, h.from,
		                    "was a hello from another session (another job file?)");
	} else if (len != HDR_BYTES || h.step > 1 || h.offset || h.plen ||
	           h.total != (uint64_t)net->n) {
		mpc_recv_drop_frame(net, h.from, "was a malformed hello (%llu nodes; we have %d)",
		                    (ull)h.total, net->n);
	} else if (pr->hello_acked && h.step == 0) {
		/* its hellos come in order and an earlier one said it had ours */
		mpc_recv_drop_frame(net, h.from, "was a second hello");
	} else if (mpc_link_hello_done(pr)) {
		/* a late repeat (sent until we said we have it): nothing */
	} else { /* during set-up, repeated until we said we have it */
		pr->hello = 1;
		pr->hello_acked |= h.step == 1;
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
		mpc_recv_drop_frame(net, -1, "claimed to come from node %u", from);
		goto drop;
	}
	pr = &net->peers[from];
	if (to != (unsigned)net->id) {
		mpc_recv_drop_frame(net, (int)from, "was meant for node %u", to);
		goto drop;
	}
	if (!tls_usable(pr)) {
		mpc_recv_drop_frame(net, (int)from, "came before its TLS channel was up");
		goto drop;
	}
	if (len < SEC_OVER + HDR_BYTES) {
		mpc_recv_drop_frame(net, (int)from, "was %zu bytes, too short for a sealed message",
		                    len);
		goto drop;
	}
	if (seq < pr->rx_seq || seq == UINT64_MAX) {
		mpc_recv_drop_frame(net, (int)from,
		                    "was a replay (counter %llu; %llu and up expected)", (ull)seq,
		                    (ull)pr->rx_seq);
		goto drop;
	}
	/* one record: the header, split bytes of payload, a tag; two: then the
	 * rest of the payload and a second tag */
	size_t split = mpc_get32(m + 18), body = len - SEC_OVER - HDR_BYTES;
	int parts = 1;
	if (split > body ||
	    (split < body && (body - split <= MPC_FRAME_TAG || seq >= UINT64_MAX - 1))) {
		mpc_recv_drop_frame(net, (int)from,
		                    "was a sealed message whose parts do not add up");
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
		int ok2 = net->worker
		              ? mpc_frame_worker_wait(net->worker) == 0
		              : mpc_frame_open_all(&pr->rx_key, 0, seq + 1, m, SEC_HDR, out2, ct2,
		                                   plen - split, ct2 + plen - split) == 0;
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
		mpc_recv_drop_frame(net, (int)from, "failed authentication (counter %llu)",
		                    (ull)seq);
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

/* One message off the wire. Takes ownership of msg. */
mpc_err mpc_recv_dispatch(mpc_net *net, void *msg, size_t len, int64_t now) {
	const uint8_t *b = msg;
	if (len >= SEC_HDR && mpc_get32(b) == WIRE_MAGIC && b[4] == WIRE_VERSION && b[5] == T_SEC)
		return sec_message(net, msg, len, now);
	if (len >= TLS_HDR && mpc_get32(b) == WIRE_MAGIC && b[4] == WIRE_VERSION && b[5] == T_TLS)
		return mpc_handshake_message(net, msg, len);
	if (net->tls) {
		clear_in_tls(net, msg, len, now);
		return MPC_OK;
	}
	return handle(net, -1, msg, b, len >= HDR_BYTES ? b + HDR_BYTES : b, len, now);
}

/* Take what has arrived, without waiting. */
mpc_err mpc_recv_pull(mpc_net *net, int *progress) {
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
		mpc_err err = mpc_recv_dispatch(net, msg, (size_t)rc, now_ms());
		if (err != MPC_OK)
			return err;
	}
	return MPC_OK;
}
