/* load_score's HTTP/1.1 client (bench/load_http.h). Sockets are non-blocking
 * and every wait is a poll() bounded by the caller's deadline, so a server
 * that never answers costs at most that deadline. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench/load_http.h"

double load_now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

mpc_err load_http_parse_url(const char *url, struct sockaddr_in *addr, char *host,
                            size_t host_len) {
	char name[64];
	const char *p = url, *colon, *end;
	if (strncmp(p, "http://", 7) != 0)
		return mpc_error(MPC_EINVAL, "--url: must start with http:// (no TLS)");
	p += 7;
	colon = strchr(p, ':');
	if (colon == NULL || colon == p || (size_t)(colon - p) >= sizeof(name))
		return mpc_error(MPC_EINVAL, "--url: expected http://HOST:PORT");
	memcpy(name, p, (size_t)(colon - p));
	name[colon - p] = '\0';
	errno = 0;
	char *e;
	long port = strtol(colon + 1, &e, 10);
	end = e;
	if (end == colon + 1 || errno || port < 1 || port > 65535 || (*end && strcmp(end, "/")))
		return mpc_error(MPC_EINVAL, "--url: bad port (expected http://HOST:PORT)");
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_port = htons((uint16_t)port);
	const char *ip = strcmp(name, "localhost") == 0 ? "127.0.0.1" : name;
	if (inet_pton(AF_INET, ip, &addr->sin_addr) != 1)
		return mpc_error(MPC_EINVAL, "--url: host must be an IPv4 address or localhost");
	if ((size_t)snprintf(host, host_len, "%s:%ld", name, port) >= host_len)
		return mpc_error(MPC_EINVAL, "--url: too long");
	return MPC_OK;
}

void load_http_init(load_conn *c, const struct sockaddr_in *addr) {
	memset(c, 0, sizeof(*c));
	c->addr = *addr;
	c->fd = -1;
}

void load_http_close(load_conn *c) {
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->used = 0;
}

void load_http_fini(load_conn *c) {
	load_http_close(c);
	free(c->buf);
	c->buf = NULL;
	c->cap = c->len = 0;
}

/* Wait for events on fd until deadline: 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, double deadline) {
	for (;;) {
		double left = deadline - load_now();
		if (left <= 0)
			return 0;
		struct pollfd p = {.fd = fd, .events = events};
		int ms = left > 1e6 ? INT_MAX / 2 : (int)(left * 1000.0) + 1;
		int r = poll(&p, 1, ms);
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

mpc_err load_http_connect(load_conn *c, double deadline) {
	char ip[INET_ADDRSTRLEN];
	if (c->fd >= 0)
		return MPC_OK;
	inet_ntop(AF_INET, &c->addr.sin_addr, ip, sizeof(ip));
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return mpc_error(MPC_ENET, "socket: %s", strerror(errno));
	if (connect(fd, (const struct sockaddr *)&c->addr, sizeof(c->addr)) != 0) {
		int err = errno;
		if (err == EINPROGRESS) {
			int w = wait_fd(fd, POLLOUT, deadline);
			socklen_t len = sizeof(err);
			if (w == 0) {
				close(fd);
				return mpc_error(MPC_ETIMEDOUT, "connect %s:%u: no answer in time",
				                 ip, ntohs(c->addr.sin_port));
			}
			if (w < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
				err = errno;
		}
		if (err != 0) {
			close(fd);
			return mpc_error(MPC_ENET, "connect %s:%u: %s", ip, ntohs(c->addr.sin_port),
			                 strerror(err));
		}
	}
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	c->used = 0;
	return MPC_OK;
}

static mpc_err send_all(load_conn *c, const char *p, size_t n, double deadline) {
	while (n > 0) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int r = wait_fd(c->fd, POLLOUT, deadline);
			if (r == 0)
				return mpc_error(MPC_ETIMEDOUT, "sending the request: timed out");
			if (r < 0)
				return mpc_error(MPC_ENET, "poll: %s", strerror(errno));
			continue;
		}
		return mpc_error(MPC_ENET, "sending the request: %s", strerror(errno));
	}
	return MPC_OK;
}

/* What the head says about the body: its length (-1: until the connection
 * closes), whether the connection closes after it. */
typedef struct {
	int status;
	size_t head_len;
	long long body_len;
	int close;
} head_info;

/* The value of header `name` in head (lines end with \r\n), or NULL; *len
 * set to its length without surrounding blanks. */
static const char *header(const char *head, size_t n, const char *name, size_t *len) {
	size_t nl = strlen(name);
	const char *p = memchr(head, '\n', n), *end = head + n;
	while (p != NULL && p + 1 < end) {
		const char *line = p + 1;
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		if (eol == NULL)
			break;
		if ((size_t)(eol - line) > nl && strncasecmp(line, name, nl) == 0 &&
		    line[nl] == ':') {
			const char *v = line + nl + 1, *ve = eol;
			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			*len = (size_t)(ve - v);
			return v;
		}
		p = eol;
	}
	return NULL;
}

static mpc_err parse_head(const char *buf, size_t head_len, head_info *h) {
	size_t vl;
	const char *v;
	int minor;
	char sp;
	if (sscanf(buf, "HTTP/1.%d %3d%c", &minor, &h->status, &sp) != 3 || sp != ' ' ||
	    h->status < 100 || h->status > 599)
		return mpc_error(MPC_EPROTO, "answer: not an HTTP/1.x status line");
	h->head_len = head_len;
	h->close = minor == 0;
	if ((v = header(buf, head_len, "Connection", &vl)) != NULL) {
		if (vl == 5 && strncasecmp(v, "close", 5) == 0)
			h->close = 1;
		else if (vl == 10 && strncasecmp(v, "keep-alive", 10) == 0)
			h->close = 0;
	}
	if (header(buf, head_len, "Transfer-Encoding", &vl) != NULL)
		return mpc_error(MPC_EPROTO, "answer: Transfer-Encoding is not supported");
	h->body_len = -1;
	if ((v = header(buf, head_len, "Content-Length", &vl)) != NULL) {
		char num[24], *e;
		if (vl == 0 || vl >= sizeof(num))
			return mpc_error(MPC_EPROTO, "answer: bad Content-Length");
		memcpy(num, v, vl);
		num[vl] = '\0';
		h->body_len = strtoll(num, &e, 10);
		if (*e != '\0' || h->body_len < 0)
			return mpc_error(MPC_EPROTO, "answer: bad Content-Length");
	} else if (h->status == 204 || h->status == 304 || h->status < 200) {
		h->body_len = 0;
	} else if (!h->close) {
		return mpc_error(MPC_EPROTO,
		                 "answer: no Content-Length on a kept-alive connection");
	}
	if (h->body_len > (long long)(LOAD_HTTP_MAX_ANSWER - head_len))
		return mpc_error(MPC_EPROTO, "answer: body over %u bytes", LOAD_HTTP_MAX_ANSWER);
	return MPC_OK;
}

/* Read more of the answer into c->buf; *eof set at the end of the stream. */
static mpc_err read_some(load_conn *c, double deadline, int *eof) {
	if (c->len == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16384;
		if (cap > LOAD_HTTP_MAX_ANSWER)
			cap = LOAD_HTTP_MAX_ANSWER;
		if (cap == c->len)
			return mpc_error(MPC_EPROTO, "answer: over %u bytes", LOAD_HTTP_MAX_ANSWER);
		char *b = realloc(c->buf, cap + 1);
		if (b == NULL)
			return mpc_error(MPC_ENOMEM, "answer buffer");
		c->buf = b;
		c->cap = cap;
	}
	for (;;) {
		ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
		if (r > 0) {
			c->len += (size_t)r;
			*eof = 0;
			return MPC_OK;
		}
		if (r == 0) {
			*eof = 1;
			return MPC_OK;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return mpc_error(MPC_ENET, "reading the answer: %s", strerror(errno));
		int w = wait_fd(c->fd, POLLIN, deadline);
		if (w == 0)
			return mpc_error(MPC_ETIMEDOUT, "no answer before the deadline");
		if (w < 0)
			return mpc_error(MPC_ENET, "poll: %s", strerror(errno));
	}
}

/* Read one whole answer. *stale: the server closed before any byte. */
static mpc_err read_answer(load_conn *c, double deadline, load_answer *ans, int *stale) {
	head_info h = {0};
	int have_head = 0, eof = 0;
	mpc_err e;
	c->len = 0;
	*stale = 0;
	for (;;) {
		if ((e = read_some(c, deadline, &eof)) != MPC_OK)
			return e;
		c->buf[c->len] = '\0';
		if (!have_head) {
			char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
			if (end != NULL) {
				if ((e = parse_head(c->buf, (size_t)(end + 4 - c->buf), &h)) !=
				    MPC_OK)
					return e;
				have_head = 1;
			}
		}
		size_t body = have_head ? c->len - h.head_len : 0;
		if (have_head && h.body_len >= 0 && body >= (size_t)h.body_len) {
			body = (size_t)h.body_len;
		} else if (!eof) {
			continue;
		} else if (!have_head || h.body_len >= 0) {
			*stale = c->len == 0;
			return mpc_error(MPC_ECLOSED, "the server closed the connection %s",
			                 c->len ? "mid-answer" : "without answering");
		}
		ans->status = h.status;
		ans->body = c->buf + h.head_len;
		ans->body_len = body;
		c->buf[h.head_len + body] = '\0';
		if (h.close || eof)
			load_http_close(c);
		return MPC_OK;
	}
}

mpc_err load_http_request(load_conn *c, const char *req, size_t req_len, double deadline,
                          load_answer *ans) {
	for (int attempt = 0;; attempt++) {
		int reused, stale = 0;
		mpc_err e = load_http_connect(c, deadline);
		if (e != MPC_OK)
			return e;
		reused = c->used > 0;
		c->len = 0;
		e = send_all(c, req, req_len, deadline);
		if (e == MPC_OK)
			e = read_answer(c, deadline, ans, &stale);
		if (e == MPC_OK) {
			if (c->fd >= 0)
				c->used++;
			return MPC_OK;
		}
		stale = stale || (e == MPC_ENET && c->len == 0);
		load_http_close(c);
		/* a kept-alive connection the server had already closed: the
		 * request never reached it, so send it once more on a new one */
		if (!(reused && attempt == 0 && stale))
			return e;
		c->retries++;
	}
}
