/* One control-link connection: addresses, sockets with deadlines, TLS with
 * pinned certificates over our own socket BIO, frames. Everything waits in
 * poll() on the socket and the stop pipe, never in a blocking call, so a
 * silent peer costs its deadline and a stop is seen at once. */
#include "node/mpc_link_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "net/mpc_tls.h"

#define LINGER_MS 200

double mpc_links_mono(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double mpc_links_wall(void) {
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

mpc_err mpc_links_addr_split(const char *addr, char host[MPC_LINK_ADDR_MAX], char port[8]) {
	const char *colon, *h = addr;
	size_t hl;

	if (addr == NULL || strlen(addr) >= MPC_LINK_ADDR_MAX)
		return mpc_error(MPC_ECONFIG,
		                 "address: expected HOST:PORT of at most %d characters",
		                 MPC_LINK_ADDR_MAX - 1);
	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');
		if (close == NULL || close[1] != ':')
			return mpc_error(MPC_ECONFIG, "address \"%s\": expected [IPV6]:PORT", addr);
		h = addr + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(addr, ':');
		if (colon == NULL || memchr(addr, ':', (size_t)(colon - addr)) != NULL)
			return mpc_error(MPC_ECONFIG,
			                 "address \"%s\": expected HOST:PORT "
			                 "([IPV6]:PORT for IPv6)",
			                 addr);
		hl = (size_t)(colon - addr);
	}
	const char *p = colon + 1;
	size_t pl = strlen(p);
	long v = 0;
	for (size_t i = 0; i < pl; i++)
		v = p[i] >= '0' && p[i] <= '9' && v <= 65535 ? v * 10 + (p[i] - '0') : 99999;
	if (hl == 0 || pl == 0 || pl > 5 || v > 65535)
		return mpc_error(MPC_ECONFIG,
		                 "address \"%s\": expected HOST:PORT with a port "
		                 "0..65535",
		                 addr);
	memcpy(host, h, hl);
	host[hl] = '\0';
	memcpy(port, p, pl + 1);
	return MPC_OK;
}

static mpc_err resolve(const char *addr, int passive, struct addrinfo **res) {
	char host[MPC_LINK_ADDR_MAX], port[8];
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	mpc_err err = mpc_links_addr_split(addr, host, port);
	if (err)
		return err;
	if (passive)
		hints.ai_flags |= AI_PASSIVE;
	int rc = getaddrinfo(host, port, &hints, res);
	if (rc != 0)
		return mpc_error(MPC_ENET, "cannot resolve %s: %s", addr, gai_strerror(rc));
	return MPC_OK;
}

static void tune(int fd) {
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

mpc_err mpc_links_listen(const char *addr, int *fd, uint16_t *port) {
	struct addrinfo *res = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int s = -1, one = 1, e = 0;
	mpc_err err = resolve(addr, 1, &res);

	*fd = -1;
	if (err)
		return err == MPC_ENET ? mpc_error(MPC_ECONFIG, "%s", mpc_error_detail()) : err;
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		s = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (s >= 0 && setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
		    bind(s, ai->ai_addr, ai->ai_addrlen) == 0 && listen(s, 128) == 0)
			break;
		e = errno;
		if (s >= 0)
			close(s);
		s = -1;
	}
	freeaddrinfo(res);
	if (s < 0)
		return mpc_error(MPC_ENET, "cannot listen on %s: %s", addr, strerror(e));
	if (getsockname(s, (struct sockaddr *)&ss, &sl) != 0) {
		e = errno;
		close(s);
		return mpc_error(MPC_ENET, "cannot listen on %s: %s", addr, strerror(e));
	}
	*port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
	                                       : ((struct sockaddr_in *)&ss)->sin_port);
	*fd = s;
	return MPC_OK;
}

/* ---- waiting ---- */

/* Wait until c->fd is ready for events, the deadline passes (MPC_ETIMEDOUT)
 * or the link set stops (MPC_ESTOPPED). */
static mpc_err wait_fd(link_conn *c, short events, const char *step) {
	for (;;) {
		double left = c->deadline - mpc_links_mono();
		if (atomic_load(&c->l->stopping))
			return mpc_error(MPC_ESTOPPED, "the link set is stopping (%s)", step);
		if (left <= 0)
			return mpc_error(MPC_ETIMEDOUT, "silent for %d ms (%s)", c->timeout_ms,
			                 step);
		struct pollfd p[2] = {{.fd = c->fd, .events = events},
		                      {.fd = c->l->stop_pipe[0], .events = POLLIN}};
		int n = poll(p, 2, (int)(left * 1000) + 1);
		if (n < 0 && errno != EINTR)
			return mpc_error(MPC_ENET, "poll: %s", strerror(errno));
		if (n > 0 && p[1].revents)
			continue; /* reported above */
		if (n > 0 && p[0].revents)
			return MPC_OK; /* ready, or an error the next call reports */
	}
}

/* ---- our socket BIO: send with MSG_NOSIGNAL, never SIGPIPE ---- */

static BIO_METHOD *sock_method;
static pthread_once_t sock_once = PTHREAD_ONCE_INIT;

static int sock_write(BIO *b, const char *buf, int len) {
	int fd = (int)(intptr_t)BIO_get_data(b);
	BIO_clear_retry_flags(b);
	if (len <= 0)
		return 0;
	ssize_t n = send(fd, buf, (size_t)len, MSG_NOSIGNAL);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_write(b);
	return (int)n;
}

static int sock_read(BIO *b, char *buf, int len) {
	int fd = (int)(intptr_t)BIO_get_data(b);
	BIO_clear_retry_flags(b);
	if (len <= 0)
		return 0;
	ssize_t n = recv(fd, buf, (size_t)len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_read(b);
	return (int)n;
}

static long sock_ctrl(BIO *b, int cmd, long num, void *ptr) {
	(void)b;
	(void)num;
	(void)ptr;
	return cmd == BIO_CTRL_FLUSH || cmd == BIO_CTRL_DUP ? 1 : 0;
}

static int sock_create(BIO *b) {
	BIO_set_init(b, 1);
	return 1;
}

static void make_sock_method(void) {
	BIO_METHOD *m =
	    BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "mpc control link");
	if (m == NULL || BIO_meth_set_write(m, sock_write) != 1 ||
	    BIO_meth_set_read(m, sock_read) != 1 || BIO_meth_set_ctrl(m, sock_ctrl) != 1 ||
	    BIO_meth_set_create(m, sock_create) != 1) {
		BIO_meth_free(m);
		return;
	}
	sock_method = m;
}

/* ---- TLS ---- */

static mpc_err ossl(mpc_err code, const char *what) {
	char buf[256];
	mpc_err err = mpc_error(code, "%s: %s", what, mpc_tls_last_error(buf, sizeof(buf)));
	ERR_clear_error();
	return err;
}

/* The whole certificate check (self-signed certificates, pinned): a client
 * wants its dialled peer's pin, a server any peer's pin, which identifies the
 * peer. The handshake itself proves that the peer holds the key. */
static int verify_pin(X509_STORE_CTX *xs, void *arg) {
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	link_conn *c = ssl ? SSL_get_app_data(ssl) : NULL;
	X509 *leaf = X509_STORE_CTX_get0_cert(xs);
	unsigned int len = 0;
	(void)arg;
	if (c == NULL || leaf == NULL || X509_digest(leaf, EVP_sha256(), c->seen, &len) != 1 ||
	    len != 32) {
		X509_STORE_CTX_set_error(xs, X509_V_ERR_UNSPECIFIED);
		return 0;
	}
	c->verified = 1;
	if (c->client) {
		if (CRYPTO_memcmp(c->seen, c->l->peers[c->peer].pin, 32) == 0)
			return 1;
	} else {
		for (int i = 0; i < c->l->n; i++)
			if (CRYPTO_memcmp(c->seen, c->l->peers[i].pin, 32) == 0) {
				c->peer = i;
				return 1;
			}
	}
	X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_REJECTED);
	return 0;
}

mpc_err mpc_links_ctx(struct mpc_links *l, EVP_PKEY *key, X509 *cert) {
	mpc_err err = mpc_tls_ctx_new(key, cert, &l->ctx);
	if (err)
		return err;
	/* our check instead of net/'s (which wants an mpc_tls_link) */
	SSL_CTX_set_cert_verify_callback(l->ctx, verify_pin, NULL);
	SSL_CTX_set_read_ahead(l->ctx, 0);
	pthread_once(&sock_once, make_sock_method);
	if (sock_method == NULL)
		return ossl(MPC_ECRYPTO, "TLS: cannot make a BIO method");
	return MPC_OK;
}

static mpc_err tls_new(link_conn *c) {
	BIO *bio;
	if ((c->ssl = SSL_new(c->l->ctx)) == NULL)
		return ossl(MPC_ECRYPTO, "TLS: cannot make a connection");
	if ((bio = BIO_new(sock_method)) == NULL)
		return ossl(MPC_ECRYPTO, "TLS: cannot make a BIO");
	BIO_set_data(bio, (void *)(intptr_t)c->fd);
	SSL_set_bio(c->ssl, bio, bio);
	SSL_set_app_data(c->ssl, c);
	if (c->client)
		SSL_set_connect_state(c->ssl);
	else
		SSL_set_accept_state(c->ssl);
	return MPC_OK;
}

/* Name a failed SSL call: a pin mismatch, an alert from the peer, a
 * closed or broken socket, another TLS failure. */
static mpc_err tls_fail(link_conn *c, int e, int sys_errno, const char *step) {
	char pinned[MPC_TLS_FP_TEXT], seen[MPC_TLS_FP_TEXT];
	const char *alert = e == SSL_ERROR_SSL ? mpc_tls_peer_alert() : NULL;
	mpc_err err;

	if (c->verified && c->client && c->peer >= 0 &&
	    CRYPTO_memcmp(c->seen, c->l->peers[c->peer].pin, 32) != 0) {
		mpc_tls_fingerprint_format(c->l->peers[c->peer].pin, pinned);
		mpc_tls_fingerprint_format(c->seen, seen);
		err = mpc_error(MPC_ECRYPTO, "certificate mismatch: pinned %s, presented %s",
		                pinned, seen);
	} else if (c->verified && !c->client && c->peer < 0) {
		mpc_tls_fingerprint_format(c->seen, seen);
		err = mpc_error(MPC_ECRYPTO, "certificate %s is pinned for no peer", seen);
	} else if (alert != NULL) {
		err =
		    mpc_error(MPC_ECRYPTO, "%s TLS alert \"%s\" (%s)%s",
		              c->client ? "the peer refused us:" : "refused by the client:", alert,
		              step, c->client ? ": is our certificate pinned there?" : "");
	} else if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && sys_errno == 0)) {
		err = mpc_error(MPC_ENET, "connection closed (%s)", step);
	} else if (e == SSL_ERROR_SYSCALL) {
		err = mpc_error(MPC_ENET, "%s (%s)", strerror(sys_errno), step);
	} else {
		char buf[256];
		err = mpc_error(MPC_ECRYPTO, "TLS failure (%s): %s", step,
		                mpc_tls_last_error(buf, sizeof(buf)));
	}
	ERR_clear_error();
	return err;
}

enum { OP_HANDSHAKE, OP_READ, OP_WRITE };

/* Run one SSL operation to its end, waiting on the socket as it asks. */
static mpc_err tls_op(link_conn *c, int op, void *buf, size_t len, size_t *done, const char *step) {
	for (;;) {
		size_t n = 0;
		int r;
		ERR_clear_error();
		errno = 0;
		if (op == OP_HANDSHAKE)
			r = SSL_do_handshake(c->ssl);
		else if (op == OP_READ)
			r = SSL_read_ex(c->ssl, buf, len, &n);
		else
			r = SSL_write_ex(c->ssl, buf, len, &n);
		if (r == 1) {
			if (done)
				*done = n;
			return MPC_OK;
		}
		int sys_errno = errno;
		int e = SSL_get_error(c->ssl, r);
		short ev;
		if (e == SSL_ERROR_WANT_READ)
			ev = POLLIN;
		else if (e == SSL_ERROR_WANT_WRITE)
			ev = POLLOUT;
		else
			return tls_fail(c, e, sys_errno, step);
		mpc_err err = wait_fd(c, ev, step);
		if (err) {
			ERR_clear_error();
			return err;
		}
	}
}

static mpc_err read_all(link_conn *c, void *buf, size_t len, const char *step) {
	size_t got = 0;
	while (got < len) {
		size_t n = 0;
		mpc_err err = tls_op(c, OP_READ, (char *)buf + got, len - got, &n, step);
		if (err)
			return err;
		got += n;
	}
	return MPC_OK;
}

/* Connect to one resolved address by the deadline. */
static mpc_err connect_one(link_conn *c, const struct addrinfo *ai) {
	int e = 0;
	socklen_t el = sizeof(e);
	c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return mpc_error(MPC_ENET, "socket: %s", strerror(errno));
	tune(c->fd);
	if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return MPC_OK;
	if (errno != EINPROGRESS)
		return mpc_error(MPC_ENET, "connect: %s", strerror(errno));
	mpc_err err = wait_fd(c, POLLOUT, "connect");
	if (err)
		return err;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0)
		e = errno;
	if (e != 0)
		return mpc_error(MPC_ENET, "connect: %s", strerror(e));
	return MPC_OK;
}

mpc_err mpc_links_dial(link_conn *c, const char *address) {
	struct addrinfo *res = NULL;
	mpc_err err;

	if (address == NULL || address[0] == '\0')
		return mpc_error(MPC_ENET, "no address");
	if ((err = resolve(address, 0, &res)) != MPC_OK)
		return err;
	err = mpc_error(MPC_ENET, "cannot resolve %s", address);
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
		err = connect_one(c, ai);
		if (err != MPC_ENET)
			break; /* connected, timed out or stopping */
	}
	freeaddrinfo(res);
	if (err == MPC_OK && (err = tls_new(c)) == MPC_OK)
		err = tls_op(c, OP_HANDSHAKE, NULL, 0, NULL, "TLS handshake");
	return err;
}

mpc_err mpc_links_accept(link_conn *c) {
	tune(c->fd);
	mpc_err err = tls_new(c);
	if (err == MPC_OK)
		err = tls_op(c, OP_HANDSHAKE, NULL, 0, NULL, "TLS handshake");
	return err;
}

/* ---- frames ---- */

mpc_err mpc_links_send(link_conn *c, int kind, const void *payload, size_t len) {
	size_t n = 4 + 1 + len;
	uint8_t *buf;
	if (len > UINT32_MAX - 1)
		return mpc_error(MPC_EPROTO, "a frame of %zu bytes", len);
	if ((buf = malloc(n)) == NULL)
		return mpc_error(MPC_ENOMEM, "a frame of %zu bytes", len);
	uint32_t fl = (uint32_t)(len + 1);
	buf[0] = (uint8_t)(fl >> 24);
	buf[1] = (uint8_t)(fl >> 16);
	buf[2] = (uint8_t)(fl >> 8);
	buf[3] = (uint8_t)fl;
	buf[4] = (uint8_t)kind;
	if (len)
		memcpy(buf + 5, payload, len);
	mpc_err err = tls_op(c, OP_WRITE, buf, n, NULL,
	                     c->client ? "sending the request" : "sending the answer");
	free(buf);
	return err;
}

mpc_err mpc_links_recv(link_conn *c, size_t max, int *kind, char **payload, size_t *len) {
	const char *step = c->client ? "waiting for the answer" : "reading the request";
	uint8_t hdr[5];
	mpc_err err;

	*payload = NULL;
	*len = 0;
	if ((err = read_all(c, hdr, 5, step)) != MPC_OK)
		return err;
	uint32_t fl =
	    (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
	if (fl == 0 || fl - 1 > max)
		return mpc_error(MPC_EPROTO, "a frame of %u bytes (at most %zu)", fl ? fl - 1 : 0,
		                 max);
	size_t n = fl - 1;
	char *p = malloc(n + 1);
	if (p == NULL)
		return mpc_error(MPC_ENOMEM, "a frame of %zu bytes", n);
	if ((err = read_all(c, p, n, step)) != MPC_OK) {
		free(p);
		return err;
	}
	p[n] = '\0';
	*kind = hdr[4];
	*payload = p;
	*len = n;
	return MPC_OK;
}

void mpc_links_close(link_conn *c, int linger) {
	SSL_free(c->ssl);
	c->ssl = NULL;
	if (c->fd < 0)
		return;
	if (linger && shutdown(c->fd, SHUT_WR) == 0) {
		double end = mpc_links_mono() + LINGER_MS / 1000.0, left;
		char buf[512];
		while (!atomic_load(&c->l->stopping) && (left = end - mpc_links_mono()) > 0) {
			struct pollfd p[2] = {{.fd = c->fd, .events = POLLIN},
			                      {.fd = c->l->stop_pipe[0], .events = POLLIN}};
			if (poll(p, 2, (int)(left * 1000) + 1) < 0 && errno != EINTR)
				break;
			ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				break;
		}
	}
	close(c->fd);
	c->fd = -1;
}
