/* The TLS handshake of each link: set up (context, pins, one SSL object
 * per peer), run all at once during mpc_net_open, fed the T_TLS records
 * that arrive, started again as a new attempt when records that are not the
 * peer's break it, and, when it fails in a way only the peer can cause
 * (a pin mismatch, a certificate alert), named in an MPC_ECRYPTO. Once it is
 * done, the frame keys are exported (mpc_frame.h) and every message travels
 * sealed (mpc_send.c, mpc_recv.c). */
#include "net/mpc_net_internal.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <nanomsg/nn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "runtime/mpc_bytes.h"
#include "runtime/mpc_log.h"
#include "runtime/mpc_wipe.h"

/* A handshake broken this often by records that are not the peer's ends
 * the set-up (someone floods the port). A peer's attempts only move one at
 * a time; one further ahead than HS_AHEAD is no peer's. */
#define HS_ATTEMPTS 1000
#define HS_AHEAD    16

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
		mpc_recv_drop_frame(net, p, "broke the TLS handshake (%s); it starts again", why);
	if (++pr->hs_restarts >= HS_ATTEMPTS)
		return mpc_error(
		    MPC_ECRYPTO,
		    "the TLS handshake with %s at %s started again %u times, broken by "
		    "records that were not its own (%s): someone floods our port",
		    pr->name, pr->addr, pr->hs_restarts, pr->note);
	SSL_free(pr->ssl);
	pr->ssl = NULL;
	mpc_send_drop_queue(pr);
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
	return mpc_send_restart_notice(pr);
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
	if ((err = mpc_send_ctl(net, p, T_KEEPALIVE, 0, 0, NULL, 0, &sent)) != MPC_OK)
		return err;
	return mpc_send_flush(net, p, &progress);
out:
	pr->link.in = NULL;
	pr->link.in_len = 0;
	if (err == MPC_OK)
		return mpc_send_flush(net, p, &progress);
	/* send the alert OpenSSL wrote, keeping our error's text */
	char keep[1024];
	snprintf(keep, sizeof(keep), "%s", mpc_error_detail());
	ferr = mpc_send_flush(net, p, &progress);
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
		mpc_recv_drop_frame(net, p, "was application data outside a sealed frame");
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
	mpc_recv_drop_frame(net, p, "was a handshake record that did not open (%s)", why);
	return MPC_OK;
}

/* A T_TLS message off the wire: handshake records. Takes ownership. */
mpc_err mpc_handshake_message(mpc_net *net, void *msg, size_t len) {
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
		mpc_recv_drop_frame(net, -1, "claimed to come from node %u", from);
	} else if ((pr = &net->peers[from]), to != (unsigned)net->id) {
		mpc_recv_drop_frame(net, (int)from, "was meant for node %u", to);
	} else if (len < TLS_HDR) {
		mpc_recv_drop_frame(net, (int)from, "was a handshake message of %zu bytes", len);
	} else if (!pr->hello) {
		mpc_recv_drop_frame(net, (int)from, "was a handshake record before hello");
	} else if (pr->tls_confirmed || pr->tls_dead || net->closing) {
		mpc_recv_drop_frame(net, (int)from, "was a handshake record after the handshake");
	} else if (ahead(mpc_get16(b + 10), pr->hs_gen) > HS_AHEAD) {
		mpc_recv_drop_frame(net, (int)from, "was a handshake record of another attempt");
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
		mpc_recv_drop_frame(net, (int)from, "was a handshake record after the handshake");
	} else if (pr->tls_done) {
		err = tls_alert(net, (int)from, b + TLS_HDR, len - TLS_HDR);
	} else {
		err = tls_input(net, (int)from, b + TLS_HDR, len - TLS_HDR);
	}
	nn_freemsg(msg);
	return err;
}

/* Every link's TLS handshake, all at once, within the connect timeout; then
 * wait for each peer's first message inside the channel, which says that it
 * accepted our certificate. */
mpc_err mpc_handshake_run(mpc_net *net) {
	int64_t start = now_ms(), deadline = start + net->connect_timeout_ms;
	mpc_err err;

	for (int p = 0; p < net->n; p++) /* clients say ClientHello */
		if (p != net->id && !net->peers[p].tls_done && !net->peers[p].tls_dead &&
		    (err = tls_input(net, p, NULL, 0)) != MPC_OK)
			return err;
	for (;;) {
		int progress = 0, done = 1;
		uint64_t out_mask = 0;
		if ((err = mpc_send_flush_all(net, &progress, &out_mask)) != MPC_OK)
			return err;
		if ((err = mpc_recv_pull(net, &progress)) != MPC_OK ||
		    (err = mpc_net_check_stop(net)) != MPC_OK)
			return err;
		for (int p = 0; p < net->n; p++)
			if (p != net->id && !mpc_link_setup_done(&net->peers[p], 1))
				done = 0;
		if (done)
			return mpc_send_flush_all(net, &progress, &out_mask);
		int64_t t = now_ms();
		if (t >= deadline)
			break;
		if (!progress && (err = mpc_link_poll(net, out_mask, deadline - t)) != MPC_OK)
			return err;
	}
	char list[900];
	(void)mpc_link_missing(net, 1, list, sizeof(list));
	return mpc_error(MPC_ETIMEDOUT, "waited %.1f s for the TLS handshakes: %s",
	                 (double)net->connect_timeout_ms / 1000, list);
}

mpc_err mpc_handshake_setup(mpc_net *net, const mpc_net_tls *tls, int cfg_threads) {
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
		pr->link.out = mpc_send_tls_out;
		pr->link.out_arg = pr;
		if ((err = mpc_tls_ssl_new(net->tls_ctx, net->id < p, &pr->link, &pr->ssl)) !=
		    MPC_OK)
			return err;
	}
	return MPC_OK;
}
