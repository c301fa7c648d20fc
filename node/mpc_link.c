/* The node's control links: a link set's life (start, stop), its server (an
 * accept loop and a thread per connection), calls, and a keep-alive thread
 * per peer. One connection per call keeps concurrent calls independent and
 * leaves no connection state to go stale; the connection's I/O is in
 * mpc_link_io.c. */
#include "node/mpc_link.h"
#include "node/mpc_link_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "net/mpc_tls.h"
#include "runtime/mpc_log.h"

#define DETAIL_MAX 1000 /* bytes of a handler's detail sent back */

static int name_ok(const char *s) {
	size_t n = s ? strlen(s) : 0;
	if (n < 1 || n > 32)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

static int find_peer(const mpc_links *l, const char *name) {
	for (int i = 0; name != NULL && i < l->n; i++)
		if (strcmp(l->peers[i].name, name) == 0)
			return i;
	return -1;
}

static void lock(mpc_links *l) {
	pthread_mutex_lock(&l->mu);
}
static void unlock(mpc_links *l) {
	pthread_mutex_unlock(&l->mu);
}

/* ---- calls ---- */

/* The answer's code and payload as the caller's result. */
static mpc_err answer(const char *peer, int code, char *body, size_t n, char **resp,
                      size_t *resp_len) {
	if (code == MPC_OK) {
		if (resp)
			*resp = body;
		else
			free(body);
		if (resp_len)
			*resp_len = n;
		return MPC_OK;
	}
	mpc_err err =
	    code > 0 && code < MPC_ERR_COUNT
	        ? mpc_error((mpc_err)code, "%s: %s", peer, body)
	        : mpc_error(MPC_EPROTO, "%s: an answer with the unknown code %d", peer, code);
	free(body);
	return err;
}

/* One request (or ping) to peer idx. why (may be NULL) gets what failed,
 * without the peer's name: a keep-alive's last_error. */
static mpc_err call(mpc_links *l, int idx, int kind, const void *req, size_t req_len, char **resp,
                    size_t *resp_len, int timeout_ms, char *why, size_t why_cap) {
	link_conn c = {.l = l, .fd = -1, .client = 1, .peer = idx, .timeout_ms = timeout_ms};
	char name[33], addr[MPC_LINK_ADDR_MAX];
	char *body = NULL;
	size_t n = 0;
	int code = 0;

	c.deadline = mpc_links_mono() + timeout_ms / 1000.0;
	lock(l);
	memcpy(name, l->peers[idx].name, sizeof(name));
	memcpy(addr, l->peers[idx].address, sizeof(addr));
	l->calling++;
	unlock(l);
	mpc_err err = mpc_links_dial(&c, addr);
	if (err == MPC_OK)
		err = mpc_links_send(&c, kind, req, req_len);
	if (err == MPC_OK)
		err = mpc_links_recv(&c, l->max_message > DETAIL_MAX ? l->max_message : DETAIL_MAX,
		                     &code, &body, &n);
	if (err) {
		if (why)
			snprintf(why, why_cap, "%s", mpc_error_detail());
		err = mpc_error(err, "link to %s (%s): %s", name, addr[0] ? addr : "no address",
		                mpc_error_detail());
	}
	mpc_links_close(&c, 0);
	lock(l);
	l->calling--;
	pthread_cond_broadcast(&l->cv);
	unlock(l); /* l is not touched after this: a stop may free it */
	if (err)
		return err;
	err = answer(name, code, body, n, resp, resp_len);
	if (err && why)
		snprintf(why, why_cap, "%s", mpc_error_detail());
	return err;
}

mpc_err mpc_links_call(mpc_links *l, const char *peer, const void *req, size_t req_len, char **resp,
                       size_t *resp_len, int timeout_ms) {
	if (resp)
		*resp = NULL;
	if (resp_len)
		*resp_len = 0;
	if (l == NULL || peer == NULL || (req == NULL && req_len > 0) || timeout_ms < 0)
		return mpc_error(MPC_EINVAL, "mpc_links_call: no link set, peer or request");
	int idx = find_peer(l, peer);
	if (idx < 0)
		return mpc_error(MPC_EINVAL, "links of %s: no peer named \"%s\"", l->self, peer);
	if (req_len > l->max_message)
		return mpc_error(MPC_EPROTO, "link to %s: a request of %zu bytes (at most %zu)",
		                 peer, req_len, l->max_message);
	if (atomic_load(&l->stopping))
		return mpc_error(MPC_ESTOPPED, "link to %s: the link set is stopping", peer);
	return call(l, idx, LINK_KIND_REQUEST, req, req_len, resp, resp_len,
	            timeout_ms ? timeout_ms : l->io_timeout_ms, NULL, 0);
}

/* ---- the server ---- */

static void reject(link_conn *c, const char *what, mpc_err err) {
	if (err == MPC_ESTOPPED)
		return; /* ours, not the peer's */
	atomic_fetch_add(&c->l->rejected, 1);
	mpc_log(c->verified && c->peer < 0 ? MPC_LOG_WARN : MPC_LOG_DEBUG,
	        "links of %s: dropped a connection from %s (%s): %s", c->l->self, c->from, what,
	        mpc_error_detail());
}

/* Run the handler on a request and send its answer. */
static mpc_err handle(link_conn *c, const char *req, size_t len) {
	mpc_links *l = c->l;
	const char *peer = l->peers[c->peer].name;
	char *resp = NULL;
	size_t resp_len = 0;
	mpc_err code;

	mpc_error_clear();
	if (l->handler == NULL)
		code = mpc_error(MPC_EINVAL, "%s serves no requests", l->self);
	else
		code = l->handler(l->handler_arg, peer, req, len, &resp, &resp_len);
	c->deadline = mpc_links_mono() + l->io_timeout_ms / 1000.0; /* to send the answer */
	if (code == MPC_OK && resp_len > l->max_message)
		code = mpc_error(MPC_EPROTO, "an answer of %zu bytes (at most %zu)", resp_len,
		                 l->max_message);
	if (code == MPC_OK && resp == NULL && resp_len > 0)
		code = mpc_error(MPC_EPROTO, "the handler answered %zu bytes at NULL", resp_len);
	if (code != MPC_OK) {
		char detail[DETAIL_MAX + 1];
		const char *d = mpc_error_detail();
		snprintf(detail, sizeof(detail), "%s", d[0] ? d : mpc_strerror(code));
		free(resp);
		return mpc_links_send(c, code >= 0 && code < MPC_ERR_COUNT ? (int)code : MPC_EPROTO,
		                      detail, strlen(detail));
	}
	mpc_err err = mpc_links_send(c, MPC_OK, resp, resp_len);
	free(resp);
	return err;
}

static void *serve(void *arg) {
	link_conn *c = arg;
	mpc_links *l = c->l;
	char *req = NULL;
	size_t len = 0;
	int kind = -1;

	c->deadline = mpc_links_mono() + l->io_timeout_ms / 1000.0;
	mpc_err err = mpc_links_accept(c);
	if (err) {
		reject(c, "handshake", err);
	} else {
		err = mpc_links_recv(c, l->max_message, &kind, &req, &len);
		if (err == MPC_OK && kind != LINK_KIND_REQUEST && kind != LINK_KIND_PING)
			err = mpc_error(MPC_EPROTO, "a frame of the unknown kind %d", kind);
		if (err)
			reject(c, "request", err);
		if (err == MPC_EPROTO) { /* tell the peer why, if it listens */
			char why[DETAIL_MAX + 1];
			snprintf(why, sizeof(why), "%s", mpc_error_detail());
			if (mpc_links_send(c, MPC_EPROTO, why, strlen(why)) != MPC_OK)
				mpc_error_clear(); /* it does not: no matter */
		}
	}
	if (err == MPC_OK) {
		err = kind == LINK_KIND_PING ? mpc_links_send(c, MPC_OK, NULL, 0)
		                             : handle(c, req, len);
		if (err)
			mpc_debug("links of %s: cannot answer %s: %s", l->self,
			          l->peers[c->peer].name, mpc_error_detail());
	}
	free(req);
	mpc_links_close(c, err != MPC_OK && err != MPC_ETIMEDOUT && err != MPC_ESTOPPED);
	free(c);
	lock(l);
	l->serving--;
	pthread_cond_broadcast(&l->cv);
	unlock(l);
	return NULL;
}

static void describe(const struct sockaddr_storage *ss, char *out, size_t cap) {
	char ip[INET6_ADDRSTRLEN] = "?";
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
		snprintf(out, cap, "[%s]:%u", ip, ntohs(a->sin6_port));
	} else {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
		snprintf(out, cap, "%s:%u", ip, ntohs(a->sin_port));
	}
}

/* Hand an accepted socket to a thread of its own, unless too many run. */
static void dispatch(mpc_links *l, int fd, const struct sockaddr_storage *ss) {
	link_conn *c = calloc(1, sizeof(*c));
	pthread_attr_t attr;
	pthread_t t;
	int ok = 0;

	if (c != NULL) {
		*c = (link_conn){.l = l, .fd = fd, .peer = -1, .timeout_ms = l->io_timeout_ms};
		describe(ss, c->from, sizeof(c->from));
	}
	lock(l);
	if (c != NULL && l->serving < MPC_LINK_MAX_CONNS && pthread_attr_init(&attr) == 0) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		ok = pthread_create(&t, &attr, serve, c) == 0;
		pthread_attr_destroy(&attr);
		if (ok)
			l->serving++;
	}
	unlock(l);
	if (!ok) {
		atomic_fetch_add(&l->rejected, 1);
		mpc_debug("links of %s: dropped a connection at once: %d connections served",
		          l->self, MPC_LINK_MAX_CONNS);
		free(c);
		close(fd);
	}
}

static void *accept_loop(void *arg) {
	mpc_links *l = arg;
	while (!atomic_load(&l->stopping)) {
		struct pollfd p[2] = {{.fd = l->lfd, .events = POLLIN},
		                      {.fd = l->stop_pipe[0], .events = POLLIN}};
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(l->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				poll(p + 1, 1, 50); /* out of something: do not spin */
			continue;
		}
		dispatch(l, fd, &ss);
	}
	return NULL;
}

/* ---- keep-alives ---- */

/* Wait on the condition until `until` (monotonic seconds), a kick or a stop. */
static void wait_until(mpc_links *l, link_peer *p, double until) {
	while (!atomic_load(&l->stopping) && !p->kick) {
		double now = mpc_links_mono();
		if (now >= until)
			return;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		double t = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 + (until - now);
		ts.tv_sec = (time_t)t;
		ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
		pthread_cond_timedwait(&l->cv, &l->mu, &ts);
	}
}

/* Record one keep-alive's outcome (under mu): the new state if it changed,
 * else -1; *next is when to ping again. While up, every ping_ms, and once a
 * ping failed, no later than down_after_ms after the last success (so a
 * refused peer is down on time); while down, after back-off periods doubling
 * from ping_ms. */
static int record(mpc_links *l, link_peer *p, mpc_err err, double t0, const char *why,
                  double *next) {
	double now = mpc_links_mono(), ping = l->ping_ms / 1000.0;
	int was = p->up;
	int cap = l->ping_ms > MPC_LINK_BACKOFF_MAX_MS ? l->ping_ms : MPC_LINK_BACKOFF_MAX_MS;

	if (err == MPC_OK) {
		p->ok++;
		p->rtt_ms = (now - t0) * 1000;
		p->last_ok = now;
		p->up = 1;
		p->backoff_ms = l->ping_ms;
		p->why[0] = '\0';
		*next = t0 + ping;
	} else {
		p->failed++;
		snprintf(p->why, sizeof(p->why), "%s", why);
		if (p->up && (now - p->last_ok) * 1000 >= l->down_after_ms) {
			p->up = 0;
			p->backoff_ms = 0; /* the first retry after ping_ms */
		}
		if (p->up) {
			double down_at = p->last_ok + l->down_after_ms / 1000.0;
			*next = t0 + ping < down_at ? t0 + ping : down_at;
		} else {
			p->backoff_ms = p->backoff_ms == 0        ? l->ping_ms
			                : p->backoff_ms * 2 > cap ? cap
			                                          : p->backoff_ms * 2;
			*next = now + p->backoff_ms / 1000.0;
		}
	}
	if (p->up == was)
		return -1;
	p->since = mpc_links_wall();
	return p->up;
}

static void *keepalive(void *arg) {
	link_peer *p = arg;
	mpc_links *l = p->l;
	int timeout = l->io_timeout_ms < l->down_after_ms ? l->io_timeout_ms : l->down_after_ms;
	double next = mpc_links_mono();
	char why[200];

	lock(l);
	for (;;) {
		wait_until(l, p, next);
		if (atomic_load(&l->stopping))
			break;
		if (p->kick) {
			p->kick = 0;
			if (!p->up)
				p->backoff_ms = 0;
		}
		unlock(l);
		double t0 = mpc_links_mono();
		mpc_err err =
		    call(l, p->idx, LINK_KIND_PING, NULL, 0, NULL, NULL, timeout, why, sizeof(why));
		lock(l);
		if (err == MPC_ESTOPPED || atomic_load(&l->stopping))
			break;
		int state = record(l, p, err, t0, why, &next);
		if (state >= 0) {
			unlock(l);
			mpc_info("links of %s: %s is %s%s%s", l->self, p->name,
			         state ? "up" : "down", state ? "" : ": ", state ? "" : why);
			if (l->on_state)
				l->on_state(l->state_arg, p->name, state);
			lock(l);
		}
	}
	unlock(l);
	return NULL;
}

/* ---- the link set ---- */

int mpc_links_status(mpc_links *l, mpc_link_status *out, int max) {
	if (l == NULL)
		return 0;
	lock(l);
	for (int i = 0; out != NULL && i < l->n && i < max; i++) {
		const link_peer *p = &l->peers[i];
		mpc_link_status *s = &out[i];
		memset(s, 0, sizeof(*s));
		memcpy(s->name, p->name, sizeof(s->name));
		s->up = p->up;
		s->since = p->since;
		s->rtt_ms = p->rtt_ms;
		s->pings_ok = p->ok;
		s->pings_failed = p->failed;
		s->backoff_ms = p->up || p->backoff_ms == 0 ? l->ping_ms : p->backoff_ms;
		snprintf(s->last_error, sizeof(s->last_error), "%s", p->up ? "" : p->why);
	}
	unlock(l);
	return l->n;
}

uint16_t mpc_links_port(const mpc_links *l) {
	return l ? l->port : 0;
}

uint64_t mpc_links_rejected(const mpc_links *l) {
	return l ? atomic_load(&((mpc_links *)l)->rejected) : 0;
}

mpc_err mpc_links_set_address(mpc_links *l, const char *peer, const char *address) {
	char host[MPC_LINK_ADDR_MAX], port[8];
	int idx = l ? find_peer(l, peer) : -1;
	if (idx < 0)
		return mpc_error(MPC_EINVAL, "links: no peer named \"%s\"", peer ? peer : "(null)");
	if (address != NULL && address[0] != '\0' &&
	    mpc_links_addr_split(address, host, port) != MPC_OK)
		return mpc_error(MPC_ECONFIG, "peer %s: %s", peer, mpc_error_detail());
	lock(l);
	snprintf(l->peers[idx].address, MPC_LINK_ADDR_MAX, "%s", address ? address : "");
	l->peers[idx].kick = 1;
	pthread_cond_broadcast(&l->cv);
	unlock(l);
	return MPC_OK;
}

/* Check and copy the configuration into l. */
static mpc_err configure(mpc_links *l, const mpc_links_config *cfg) {
	char host[MPC_LINK_ADDR_MAX], port[8];
	double wall = mpc_links_wall();

	if (!name_ok(cfg->self))
		return mpc_error(MPC_ECONFIG, "links: our name: expected [A-Za-z0-9._-]{1,32}");
	snprintf(l->self, sizeof(l->self), "%s", cfg->self);
	int max_peers = cfg->no_keepalive ? MPC_LINK_MAX_QUIET_PEERS : MPC_LINK_MAX_PEERS;
	if (cfg->n_peers < 1 || cfg->n_peers > max_peers || cfg->peers == NULL)
		return mpc_error(MPC_ECONFIG, "links of %s: %d peers (expected 1..%d)", l->self,
		                 cfg->n_peers, max_peers);
	if (cfg->ping_ms < 0 || cfg->down_after_ms < 0 || cfg->io_timeout_ms < 0)
		return mpc_error(MPC_ECONFIG, "links of %s: a negative period", l->self);
	l->ping_ms = cfg->ping_ms ? cfg->ping_ms : 250;
	l->down_after_ms = cfg->down_after_ms ? cfg->down_after_ms : 1000;
	l->io_timeout_ms = cfg->io_timeout_ms ? cfg->io_timeout_ms : 5000;
	l->max_message = cfg->max_message ? cfg->max_message : (size_t)1 << 20;
	if (l->max_message > UINT32_MAX - 1)
		return mpc_error(MPC_ECONFIG, "links of %s: max_message over 4 GiB", l->self);
	l->handler = cfg->handler;
	l->handler_arg = cfg->handler_arg;
	l->on_state = cfg->on_state;
	l->state_arg = cfg->state_arg;
	if ((l->peers = calloc((size_t)cfg->n_peers, sizeof(*l->peers))) == NULL)
		return mpc_error(MPC_ENOMEM, "links of %s", l->self);
	l->n = cfg->n_peers;
	for (int i = 0; i < l->n; i++) {
		const mpc_link_peer *c = &cfg->peers[i];
		link_peer *p = &l->peers[i];
		if (!name_ok(c->name) || strcmp(c->name, l->self) == 0)
			return mpc_error(MPC_ECONFIG,
			                 "links of %s: peer %d: a name [A-Za-z0-9._-]{1,32}"
			                 " other than ours",
			                 l->self, i + 1);
		if (c->address && c->address[0] && mpc_links_addr_split(c->address, host, port))
			return mpc_error(MPC_ECONFIG, "links of %s: peer %s: %s", l->self, c->name,
			                 mpc_error_detail());
		for (int j = 0; j < i; j++)
			if (strcmp(l->peers[j].name, c->name) == 0 ||
			    CRYPTO_memcmp(l->peers[j].pin, c->pin, 32) == 0)
				return mpc_error(
				    MPC_ECONFIG, "links of %s: peers %s and %s have the same %s",
				    l->self, l->peers[j].name, c->name,
				    strcmp(l->peers[j].name, c->name) ? "pin" : "name");
		*p = (link_peer){.l = l, .idx = i, .since = wall};
		snprintf(p->name, sizeof(p->name), "%s", c->name);
		memcpy(p->pin, c->pin, 32);
		snprintf(p->address, sizeof(p->address), "%s", c->address ? c->address : "");
	}
	return MPC_OK;
}

/* The locks, the stop pipe, the context and the listener. */
static mpc_err open_links(mpc_links *l, const mpc_links_config *cfg) {
	pthread_condattr_t ca;
	if (pthread_condattr_init(&ca) != 0 ||
	    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&l->cv, &ca) != 0)
		return mpc_error(MPC_ENOMEM, "links of %s: a condition variable", l->self);
	pthread_condattr_destroy(&ca);
	if (pipe2(l->stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		return mpc_error(MPC_ENET, "links of %s: pipe: %s", l->self, strerror(errno));
	mpc_err err = mpc_links_ctx(l, cfg->key, cfg->cert);
	if (err)
		return mpc_error(err, "links of %s: %s", l->self, mpc_error_detail());
	if (cfg->listen != NULL &&
	    (err = mpc_links_listen(cfg->listen, &l->lfd, &l->port)) != MPC_OK)
		return mpc_error(err, "links of %s: %s", l->self, mpc_error_detail());
	return MPC_OK;
}

mpc_err mpc_links_start(const mpc_links_config *cfg, mpc_links **out) {
	mpc_links *l;
	mpc_err err;

	if (out != NULL)
		*out = NULL;
	if (cfg == NULL || out == NULL || cfg->key == NULL || cfg->cert == NULL)
		return mpc_error(MPC_EINVAL,
		                 "mpc_links_start: no configuration, key or certificate");
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return mpc_error(MPC_ENOMEM, "mpc_links_start");
	l->lfd = l->stop_pipe[0] = l->stop_pipe[1] = -1;
	atomic_init(&l->stopping, 0);
	atomic_init(&l->rejected, 0);
	pthread_mutex_init(&l->mu, NULL);
	if ((err = configure(l, cfg)) != MPC_OK || (err = open_links(l, cfg)) != MPC_OK)
		goto out;
	if (l->lfd >= 0 && pthread_create(&l->acceptor, NULL, accept_loop, l) != 0) {
		err = mpc_error(MPC_ENOMEM, "links of %s: cannot start a thread", l->self);
		goto out;
	}
	l->accepting = l->lfd >= 0;
	for (int i = 0; i < l->n && !cfg->no_keepalive; i++) {
		if (pthread_create(&l->peers[i].thread, NULL, keepalive, &l->peers[i]) != 0) {
			err = mpc_error(MPC_ENOMEM, "links of %s: cannot start a thread", l->self);
			goto out;
		}
		l->peers[i].started = 1;
	}
	if (l->lfd >= 0)
		mpc_info("links of %s: listening on port %u, %d peers", l->self, l->port, l->n);
	*out = l;
	return MPC_OK;
out:
	mpc_links_stop(l);
	return err;
}

void mpc_links_stop(mpc_links *l) {
	if (l == NULL)
		return;
	atomic_store(&l->stopping, 1);
	if (l->stop_pipe[1] >= 0)
		(void)!write(l->stop_pipe[1], "s", 1);
	if (l->stop_pipe[0] >= 0) { /* the condition exists once the pipe does */
		lock(l);
		pthread_cond_broadcast(&l->cv);
		unlock(l);
	}
	if (l->accepting)
		pthread_join(l->acceptor, NULL);
	for (int i = 0; i < l->n && l->peers; i++)
		if (l->peers[i].started)
			pthread_join(l->peers[i].thread, NULL);
	if (l->stop_pipe[0] >= 0) {
		lock(l);
		while (l->serving > 0 || l->calling > 0)
			pthread_cond_wait(&l->cv, &l->mu);
		unlock(l);
		pthread_cond_destroy(&l->cv);
	}
	if (l->lfd >= 0)
		close(l->lfd);
	for (int i = 0; i < 2; i++)
		if (l->stop_pipe[i] >= 0)
			close(l->stop_pipe[i]);
	SSL_CTX_free(l->ctx);
	pthread_mutex_destroy(&l->mu);
	free(l->peers);
	free(l);
}
