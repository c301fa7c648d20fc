/* The node's local API server, where the merchant's own systems talk to
 * mpc-node in HTTP/JSON: GNU libmicrohttpd with a thread pool.
 *
 * The server owns transport and the rules every route shares; the handler
 * owns routing:
 *   - every request needs "Authorization: Bearer TOKEN", compared in
 *     constant time with the token file's; else 401 with a JSON error and
 *     "WWW-Authenticate: Bearer", before any body is read and before the
 *     handler is called;
 *   - a body longer than max_body gets 413 with a JSON error naming the
 *     limit: at once when Content-Length says so; a chunked body is counted
 *     as it comes, dropped once past the limit, and answered 413 when it
 *     ends (libmicrohttpd 0.9.75 takes no response in the middle of an
 *     upload). No more than max_body bytes are ever kept. Two
 *     Content-Lengths, or one with Transfer-Encoding, get 400;
 *   - the handler is called once per request, with the whole body, from one
 *     of the pool's threads (several at a time: it must be thread-safe). It
 *     answers every method and path itself (404, 405 included). A status
 *     outside 100..599 (or 0, not set) is answered as 500;
 *   - connections idle for MPC_HTTP_TIMEOUT_S seconds are closed; at most
 *     MPC_HTTP_MAX_CONNECTIONS are open at once (the others wait in the
 *     listen backlog); malformed HTTP is answered by libmicrohttpd itself
 *     (400, 431 with its own small HTML body) or the connection dropped,
 *     never reaching the handler;
 *   - one debug line per request: method, path, status, milliseconds; never
 *     a body, a query value or the token.
 * The server listens on the one address given, nowhere else. */
#ifndef MPC_HTTP_H
#define MPC_HTTP_H

#include "runtime/mpc_err.h"
#include <stddef.h>
#include <stdint.h>

#define MPC_HTTP_DEFAULT_MAX_BODY ((size_t)1 << 20) /* max_body 0 */
#define MPC_HTTP_MAX_BODY_LIMIT   ((size_t)1 << 30) /* the largest max_body */
#define MPC_HTTP_DEFAULT_THREADS  4                 /* threads 0 */
#define MPC_HTTP_MAX_THREADS      64
#define MPC_HTTP_TIMEOUT_S        10 /* idle seconds before a connection is closed */
#define MPC_HTTP_MAX_CONNECTIONS  64
#define MPC_HTTP_TOKEN_MIN        16 /* characters of the bearer token */
#define MPC_HTTP_TOKEN_MAX        256

typedef struct mpc_http mpc_http;

/* One request, borrowed for the handler's call only. */
typedef struct {
	const char *method; /* "GET", "POST", "DELETE", ... */
	const char *path;   /* URL path without the query string, e.g. "/jobs/j1/result",
	                       as sent (not percent-decoded) */
	const char *query;  /* raw query string after '?', or "" (not decoded either) */
	const char *body;   /* NUL-terminated copy of the body ("" when none) */
	size_t body_len;    /* bytes of body (it may hold NULs of its own) */
} mpc_http_request;

/* What the handler answers. The server zeroes it before the call. */
typedef struct {
	int status;               /* set by the handler */
	char *body;               /* malloc'd by the handler; the server frees it (NULL: empty) */
	const char *content_type; /* NULL: "application/json"; must outlive the server
	                             (a string literal) */
} mpc_http_response;

typedef void (*mpc_http_handler)(void *arg, const mpc_http_request *req, mpc_http_response *resp);

typedef struct {
	const char *listen;     /* "127.0.0.1:8701", "[::1]:8701" or "127.0.0.1:0" (any free port):
	                           numeric addresses only */
	const char *token_file; /* the bearer token: a regular file owned by this user, no group or
	                           other permission bits (chmod 600), holding 16..256 printable
	                           non-space characters (one trailing newline is dropped) */
	size_t max_body;        /* 0: MPC_HTTP_DEFAULT_MAX_BODY; at most MPC_HTTP_MAX_BODY_LIMIT */
	unsigned threads;       /* 0: MPC_HTTP_DEFAULT_THREADS; at most MPC_HTTP_MAX_THREADS */
	mpc_http_handler handler;
	void *arg; /* passed to handler; borrowed */
} mpc_http_config;

/* Read the token, bind cfg->listen and start serving. MPC_ECONFIG for a bad
 * listen address or token file (the message names the file and what to do,
 * e.g. "chmod 600 FILE"; a missing or unreadable one too), or max_body or
 * threads over their limits; MPC_ENET if the address cannot be bound ("cannot
 * listen on ADDRESS: strerror"); MPC_EINVAL for a NULL argument or no
 * handler; MPC_ENOMEM. On error *out is
 * NULL. Copies what it needs of cfg. Caller stops with mpc_http_stop. */
mpc_err mpc_http_start(const mpc_http_config *cfg, mpc_http **out) MPC_MUST_CHECK;

/* The bound port (useful with port 0). */
uint16_t mpc_http_port(const mpc_http *h);

/* Stop listening, wait for running handlers, wipe the token, free. NULL does
 * nothing. */
void mpc_http_stop(mpc_http *h);

/* The server's own metrics in Prometheus text (exposition format 0.0.4),
 * appended to *buf (malloc'd or NULL, grown with realloc as needed; *len is
 * its text's length and is updated; the text stays NUL-terminated):
 *   mpc_api_request_seconds  histogram, buckets 0.0005 .. 10 s and +Inf, _sum,
 *                            _count: for every answered request (401 and 413
 *                            included), from its headers being read to its
 *                            response being queued (the handler's time, and
 *                            the body's upload);
 *   mpc_api_requests_total   counter by code="2xx", "3xx", "4xx", "5xx".
 * A request is counted before its response is sent. MPC_ENOMEM (*buf and
 * *len as they were). Thread-safe. */
mpc_err mpc_http_metrics(mpc_http *h, char **buf, size_t *len) MPC_MUST_CHECK;

/* The JSON error body of every 4xx/5xx: {"error": msg} (encoded by jansson,
 * so any text is escaped; text that is not UTF-8 is replaced). Caller frees;
 * NULL on ENOMEM. */
char *mpc_http_error_json(const char *msg);

#endif
