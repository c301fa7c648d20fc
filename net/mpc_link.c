/* The links of net/ brought up and down: the configuration copied, our
 * PULL socket bound and a PUSH socket connected to every peer, HELLO
 * exchanged with each, the wait on the sockets, and everything freed at the
 * end. Only net/ includes nanomsg. */
#include "net/mpc_net_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>
#include <nanomsg/tcp.h>
#include <openssl/ssl.h>

#include "runtime/mpc_wipe.h"

#define DEFAULT_CHUNK ((size_t)1 << 20)
#define SOCK_BUF      (4 << 20)

mpc_err mpc_link_config(mpc_net *net, const mpc_net_config *cfg) {
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

mpc_err mpc_link_open_sockets(mpc_net *net) {
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
		    MPC_ECONFIG, "%s cannot listen on %s: %s%s", self->name, self->addr,
		    nn_strerror(e),
		    e == EADDRINUSE
		        ? " (another program, or another node on this machine, has this "
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

int mpc_link_hello_done(const peer *pr) {
	return pr->hello && pr->hello_acked && pr->ack_final;
}

int mpc_link_setup_done(const peer *pr, int tls) {
	return tls ? pr->tls_done && pr->tls_confirmed : mpc_link_hello_done(pr);
}

/* Our HELLO to p when it is due: the first, one as soon as we have p's, one
 * every HELLO_RESEND_MS until p's says it has ours, and the last one once it
 * does. Its step field says whether we have p's (1) or not (0). */
static mpc_err hello_to(mpc_net *net, int p, int64_t t, int *progress, uint64_t *out_mask) {
	peer *pr = &net->peers[p];
	int sent, ack = pr->hello, final = pr->hello && pr->hello_acked;
	if (mpc_link_hello_done(pr) ||
	    (pr->hello_sent && t < pr->next_hello && !final && !(ack && !pr->ack_sent)))
		return MPC_OK;
	mpc_err err =
	    mpc_send_ctl(net, p, T_HELLO, (uint64_t)ack, (uint64_t)net->n, NULL, 0, &sent);
	if (err != MPC_OK)
		return err;
	if (!sent) {
		*out_mask |= (uint64_t)1 << p;
		return MPC_OK;
	}
	pr->hello_sent = 1;
	pr->ack_sent |= ack;
	pr->ack_final = final;
	pr->next_hello = t + HELLO_RESEND_MS;
	*progress = 1;
	return MPC_OK;
}

mpc_err mpc_link_hello(mpc_net *net) {
	int64_t start = now_ms(), deadline = start + net->connect_timeout_ms;
	mpc_err err;

	for (;;) {
		int progress = 0, done = 1;
		uint64_t out_mask = 0;
		int64_t t = now_ms(), wake = deadline;
		for (int p = 0; p < net->n; p++)
			if (p != net->id &&
			    (err = hello_to(net, p, t, &progress, &out_mask)) != MPC_OK)
				return err;
		if ((err = mpc_recv_pull(net, &progress)) != MPC_OK ||
		    (err = mpc_net_check_stop(net)) != MPC_OK)
			return err;
		for (int p = 0; p < net->n; p++) {
			const peer *pr = &net->peers[p];
			if (p == net->id || mpc_link_hello_done(pr))
				continue;
			done = 0;
			if (pr->hello_sent && pr->next_hello < wake)
				wake = pr->next_hello;
		}
		if (done)
			return MPC_OK;
		t = now_ms();
		if (t >= deadline)
			break;
		if (!progress &&
		    (err = mpc_link_poll(net, out_mask, (wake > t ? wake : t + 1) - t)) != MPC_OK)
			return err;
	}
	char list[900];
	(void)mpc_link_missing(net, 0, list, sizeof(list));
	return mpc_error(MPC_ETIMEDOUT, "waited %.1f s for the other nodes: %s",
	                 (double)net->connect_timeout_ms / 1000, list);
}

/* For a set-up timeout: each peer not yet past HELLO (tls = 0) or not yet
 * through the TLS handshake (tls = 1), what we know of it, and what to
 * check; returns how many. An address nothing accepts connections at is
 * told apart from a node that is reached but never says hello. */
int mpc_link_missing(mpc_net *net, int tls, char *list, size_t cap) {
	size_t len = 0;
	int missing = 0;
	list[0] = '\0';
	for (int p = 0; p < net->n; p++) {
		peer *pr = &net->peers[p];
		int ok = mpc_link_setup_done(pr, tls);
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
		else if (pr->hello)
			w = snprintf(
			    list + len, cap - len,
			    "%s%s (%s) said hello but never confirmed ours: did it stop, or "
			    "is it still closing an earlier session on that port?",
			    missing ? "; " : "", pr->name, pr->addr);
		else
			w = snprintf(
			    list + len, cap - len,
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

/* Sleep until something arrives, a socket in out_mask can take a message,
 * or ms pass. */
mpc_err mpc_link_poll(mpc_net *net, uint64_t out_mask, int64_t ms) {
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

void mpc_link_destroy(mpc_net *net) {
	if (net->pull >= 0)
		nn_close(net->pull);
	for (int p = 0; p < net->n; p++) {
		peer *pr = &net->peers[p];
		if (pr->sock >= 0)
			nn_close(pr->sock);
		mpc_send_drop(pr);
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
		mpc_send_drop_queue(pr); /* ciphertext */
		free(pr->oq);
		free(pr->addr);
		free(pr->name);
	}
	free(net->peers);
	mpc_frame_worker_free(net->worker);
	SSL_CTX_free(net->tls_ctx);
	free(net);
}
