/* load_score's HTTP/1.1 client: one keep-alive connection over plain TCP to
 * an IPv4 address, one request at a time (no pipelining), Content-Length
 * bodies, every wait bounded by a deadline. Only load_score uses it; the
 * node's API is loopback, so there is no TLS here. */
#ifndef LOAD_HTTP_H
#define LOAD_HTTP_H

#include <netinet/in.h>
#include <stddef.h>

#include "runtime/mpc_err.h"

/* The most an answer may take, headers and body: a bigger one is an error. */
#define LOAD_HTTP_MAX_ANSWER (4u << 20)

typedef struct {
	struct sockaddr_in addr; /* where to connect */
	int fd;                  /* -1 while closed */
	int used;                /* requests answered on this fd (a stale keep-alive is retried) */
	unsigned long retries;   /* requests sent again after a stale keep-alive */
	char *buf;               /* the answer being read; owned */
	size_t cap, len;
} load_conn;

/* An answer: status code and body, borrowed from the connection's buffer
 * (valid until its next request or close). */
typedef struct {
	int status;
	const char *body;
	size_t body_len;
} load_answer;

/* Seconds on the monotonic clock. */
double load_now(void);

/* Parse "http://HOST:PORT" (a trailing "/" allowed; HOST an IPv4 address or
 * "localhost") into addr, and write "HOST:PORT" into host (the Host header).
 * MPC_EINVAL with a detail on anything else. */
mpc_err load_http_parse_url(const char *url, struct sockaddr_in *addr, char *host,
                            size_t host_len) MPC_MUST_CHECK;

/* A closed connection to addr. Caller calls load_http_fini. */
void load_http_init(load_conn *c, const struct sockaddr_in *addr);
void load_http_close(load_conn *c);
void load_http_fini(load_conn *c);

/* Open the connection if it is closed, waiting at most until deadline
 * (load_now seconds). MPC_ENET (refused, unreachable) or MPC_ETIMEDOUT. */
mpc_err load_http_connect(load_conn *c, double deadline) MPC_MUST_CHECK;

/* Send req (the whole request: head and body) and read the answer, all
 * before deadline; connects first if needed, and retries once on a fresh
 * connection when a kept-alive one turns out closed by the server before any
 * byte of the answer. On any error the connection is closed, and so it is
 * after an answer with "Connection: close" or HTTP/1.0. Errors: MPC_ENET,
 * MPC_ETIMEDOUT, MPC_ECLOSED (closed mid-answer), MPC_EPROTO (malformed,
 * chunked, too big). */
mpc_err load_http_request(load_conn *c, const char *req, size_t req_len, double deadline,
                          load_answer *ans) MPC_MUST_CHECK;

#endif
