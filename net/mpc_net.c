/* Rounds of messages over a nanomsg mesh: one PULL socket per node, one PUSH
 * socket per peer, logical messages cut into chunks that each carry a header
 * checked field by field on arrival (mpc_wire.h). This file is the public
 * API: opening and closing the network, aborting, the rounds with their
 * deadlines and keepalives, the stop signal. The links, the TLS handshakes
 * and the send and receive paths live in the files mpc_net_internal.h
 * lists. */
#include "net/mpc_net.h"
#include "net/mpc_net_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/mpc_log.h"

/* nanomsg has no working linger: a message handed over just before nn_close
 * may never leave, and over ipc:// a receiver that is not reading when the
 * sender closes loses what it had not taken yet (tcp:// keeps it in the
 * kernel). Hence the BYE handshake and a short pause before nn_close. */
#define CLOSE_WAIT_MS 5000
#define ABORT_WAIT_MS 200
/* Set-up failed: how long the handshakes under way may take to finish, so
 * that our abort can reach those peers authenticated. */
#define SETUP_ABORT_MS 1000
#define FLUSH_PAUSE_MS 50
/* A peer that only sends keepalives (it waits for someone else) holds us at
 * most this many timeouts before we give up on it. */
#define KEEPALIVE_SPAN 4

/* mpc_net_stop: the signal that asked this process to stop, 0 if none. */
static volatile sig_atomic_t stop_signo;

void mpc_net_stop(int signo) {
	stop_signo = signo > 0 ? signo : -1;
}

int mpc_net_stop_signal(void) {
	return stop_signo;
}

/* MPC_ESTOPPED once a stop was asked for, naming the signal. */
mpc_err mpc_net_check_stop(const mpc_net *net) {
	int s = stop_signo;
	if (s == 0)
		return MPC_OK;
	return mpc_error(MPC_ESTOPPED, "%s stopped by %s (round %llu)", net->peers[net->id].name,
	                 s == SIGTERM  ? "SIGTERM"
	                 : s == SIGINT ? "SIGINT"
	                               : "a signal",
	                 (ull)net->rounds);
}

static void sleep_ms(int ms) {
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
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
			if (t >= heard + recv_timeout_ms) {
				char note[sizeof(pr->note) + 4];
				return mpc_error(MPC_ETIMEDOUT,
				                 "no message from %s for %.1f s at "
				                 "step %llu (round %llu): is it running and "
				                 "reachable?%s",
				                 pr->name, (double)(t - heard) / 1000,
				                 (ull)pr->consumed + 1, (ull)net->rounds,
				                 mpc_recv_drop_note(pr, note, sizeof(note)));
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
			mpc_err err =
			    mpc_send_ctl(net, p, T_KEEPALIVE, pr->want ? pr->consumed + 1 : 0, 0,
			                 NULL, 0, &sent);
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
			if (net->peers[p].tx_active &&
			    (err = mpc_send_pump(net, p, &progress)) != MPC_OK)
				return err;
		if ((err = mpc_send_flush_all(net, &progress, &out_mask)) != MPC_OK)
			return err;
		if ((err = mpc_recv_pull(net, &progress)) != MPC_OK)
			return err;
		if ((err = check_peers(net)) != MPC_OK || (err = mpc_net_check_stop(net)) != MPC_OK)
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
		if (!progress && (err = mpc_link_poll(net, out_mask, next - t)) != MPC_OK)
			return err;
	}
}

static mpc_err exchange(mpc_net *net, const void *const *send, const size_t *send_len,
                        void *const *recv, const size_t *recv_len, int recv_timeout_ms,
                        int data_only) {
	mpc_err err;

	if (net->failed)
		return mpc_error(net->failed, "the network failed earlier: %s", net->failed_detail);
	if ((err = mpc_net_check_stop(net)) != MPC_OK)
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
			mpc_send_start(net, p, send[p], send_len[p]);
		if (recv_len && recv_len[p] > 0) {
			pr->want = 1;
			pr->dst = recv[p];
			pr->want_len = recv_len[p];
			pr->got = 0;
			if ((err = mpc_recv_drain_early(net, p)) != MPC_OK)
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

/* Send reason as our abort to every peer whose channel is up and has not
 * had it yet; 1 if a peer that said hello is still without a channel. */
static int setup_aborts(mpc_net *net, const char *reason) {
	int waiting = 0, sent;
	for (int p = 0; p < net->n; p++) {
		peer *pr = &net->peers[p];
		if (p == net->id || pr->abort_sent || pr->aborted)
			continue;
		if (tls_usable(pr)) {
			if (mpc_send_ctl(net, p, T_ABORT, 0, strlen(reason), reason,
			                 (uint32_t)strlen(reason), &sent) != MPC_OK ||
			    sent)
				pr->abort_sent = 1;
		} else if (pr->hello && !pr->tls_dead) {
			waiting = 1;
		}
	}
	return waiting;
}

/* cfg->missing after a set-up timeout: the peers not past HELLO (tls = 0)
 * or the TLS handshake (tls = 1). */
static void note_missing(mpc_net *net, const mpc_net_config *cfg, mpc_err err, int tls) {
	if (cfg->missing == NULL || err != MPC_ETIMEDOUT)
		return;
	for (int p = 0; p < net->n; p++)
		if (p != net->id && !mpc_link_setup_done(&net->peers[p], tls))
			*cfg->missing |= (uint64_t)1 << p;
}

/* Open failed after HELLO with TLS on. An abort counts only inside a
 * channel, so first let the handshakes under way finish (a short while),
 * then tell every peer whose channel is up why (best effort), and give the
 * frames and OpenSSL's alerts a moment to leave. */
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
		if (mpc_send_flush_all(net, &progress, &out_mask) != MPC_OK)
			break;
		/* a peer's own failure or abort here changes nothing for us */
		(void)mpc_recv_pull(net, &progress);
		t = now_ms();
		if (!progress && mpc_link_poll(net, out_mask, 10) != MPC_OK)
			break;
	}
	(void)setup_aborts(net, reason); /* the channels the last pull brought up */
	net->closing = 1;
	deadline = now_ms() + ABORT_WAIT_MS;
	while (pending && now_ms() < deadline) {
		int progress = 0;
		uint64_t out_mask = 0;
		if (mpc_send_flush_all(net, &progress, &out_mask) != MPC_OK)
			break;
		pending = out_mask != 0;
		if (pending && mpc_link_poll(net, out_mask, 10) != MPC_OK)
			break;
	}
	sleep_ms(FLUSH_PAUSE_MS);
	(void)mpc_error(err, "%s", keep);
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
	if ((err = mpc_link_config(net, cfg)) != MPC_OK)
		goto out;
	if (cfg->tls && (err = mpc_handshake_setup(net, cfg->tls, cfg->crypto_threads)) != MPC_OK)
		goto out;
	if ((err = mpc_link_open_sockets(net)) != MPC_OK)
		goto out;
	if (cfg->missing)
		*cfg->missing = 0;
	if ((err = mpc_link_hello(net)) != MPC_OK) {
		note_missing(net, cfg, err, 0);
		if (net->tls)
			open_failed(net, err, 0);
		goto out;
	}
	if (net->tls && (err = mpc_handshake_run(net)) != MPC_OK) {
		note_missing(net, cfg, err, 1);
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
		mpc_link_destroy(net);
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
		mpc_send_drop(&net->peers[p]);
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
				if (mpc_send_ctl(net, p, T_BYE, pr->tx_steps, 0, NULL, 0, &sent) !=
				    MPC_OK)
					pr->bye_sent = 1; /* a broken socket: nothing more to do */
				pr->bye_sent |= sent;
				progress |= sent;
				if (!pr->bye_sent)
					out_mask |= (uint64_t)1 << p;
			}
		}
		if (mpc_send_flush_all(net, &progress, &out_mask) != MPC_OK)
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
		(void)mpc_recv_pull(net, &progress);
		if (done || t >= deadline)
			break;
		if (!progress && mpc_link_poll(net, out_mask, deadline - t) != MPC_OK)
			break;
	}
	if (!done)
		for (int p = 0; p < net->n; p++)
			if (p != net->id && !net->peers[p].bye && !net->peers[p].aborted)
				mpc_debug("net: no bye from %s", net->peers[p].name);
	sleep_ms(FLUSH_PAUSE_MS);
	mpc_link_destroy(net);
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
		mpc_send_drop(&net->peers[p]);
	deadline = now_ms() + ABORT_WAIT_MS;
	for (;;) {
		int pending = 0, sent, progress = 0;
		uint64_t out_mask = 0;
		for (int p = 0; p < net->n; p++) {
			peer *pr = &net->peers[p];
			if (p == net->id || pr->abort_sent)
				continue;
			if (mpc_send_ctl(net, p, T_ABORT, 0, strlen(text), text,
			                 (uint32_t)strlen(text), &sent) != MPC_OK)
				sent = 1; /* broken socket: give up on this one */
			pr->abort_sent = sent;
			any |= sent;
			if (!sent) {
				pending = 1;
				out_mask |= (uint64_t)1 << p;
			}
		}
		if (mpc_send_flush_all(net, &progress, &out_mask) != MPC_OK)
			out_mask = 0;
		pending |= out_mask != 0;
		/* keep the peers' data flowing so that their sockets drain */
		(void)mpc_recv_pull(net, &progress);
		int64_t t = now_ms();
		if (!pending || t >= deadline)
			break;
		if (mpc_link_poll(net, out_mask, deadline - t < 10 ? deadline - t : 10) != MPC_OK)
			break;
	}
	mpc_debug("net: aborted (%s)", text);
	if (any)
		sleep_ms(FLUSH_PAUSE_MS);
	mpc_link_destroy(net);
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

uint64_t mpc_net_dropped(const mpc_net *net) {
	return net ? net->dropped : 0;
}

int mpc_net_uses_tls(const mpc_net *net) {
	return net ? net->tls : 0;
}
