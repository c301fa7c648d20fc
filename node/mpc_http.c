/* The local API server on libmicrohttpd. We bind the listen socket ourselves
 * and hand it to MHD (MHD_OPTION_LISTEN_SOCKET): that binds exactly the
 * address given, like MHD_OPTION_SOCK_ADDR, and lets a failed bind say its
 * errno (MHD_start_daemon only answers NULL). The raw request URI comes from
 * MHD's URI log callback, which also creates each request's state: MHD passes
 * the access handler a percent-decoded path and no raw query.
 *
 * A request goes through the access handler several times: once when its
 * headers are in (authorization, Content-Length), once per piece of body
 * (appended up to max_body), and once at the end (the handler runs). Secrets:
 * the token (wiped on stop) and the body (wiped when the request is done). */
#include "node/mpc_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/crypto.h>

#include "runtime/mpc_log.h"
#include "runtime/mpc_wipe.h"

#define LISTEN_BACKLOG 128
#define SHOWN_MAX      120 /* characters of a path or method in the log */

/* Histogram bounds (seconds), Prometheus' usual spread from 0.5 ms to 10 s. */
static const double bucket_le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                   0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define N_BUCKETS (sizeof(bucket_le) / sizeof(bucket_le[0]))
static const char *const code_class[] = {"2xx", "3xx", "4xx", "5xx"};
#define N_CLASSES 4

struct mpc_http {
	struct MHD_Daemon *d;
	uint16_t port;
	char listen[64];
	unsigned char token[MPC_HTTP_TOKEN_MAX]; /* zero-padded */
	size_t token_len;
	size_t max_body;
	mpc_http_handler handler;
	void *arg;
	pthread_mutex_t mu;             /* guards the metrics below */
	uint64_t bucket[N_BUCKETS + 1]; /* not cumulative; the last is +Inf */
	uint64_t count, by_class[N_CLASSES];
	double sum;
};

/* One request's state, from the URI callback to the completed callback. */
typedef struct {
	mpc_http *h;
	char *path, *query; /* one allocation: "path\0query\0" */
	int started;        /* the access handler has seen its headers */
	int too_big;        /* 413 owed: the rest of the body is dropped */
	int answered;       /* a response is queued: nothing more reaches the handler */
	struct timespec t0;
	char *body;
	size_t len, cap;
} request;

/* ---- small things ---- */

static double since(const struct timespec *t0) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* s for a log line: printable ASCII only, at most SHOWN_MAX characters. */
static void shown(char *out, size_t size, const char *s) {
	size_t i = 0;
	for (; s != NULL && s[i] != '\0' && i + 1 < size && i < SHOWN_MAX; i++)
		out[i] = (s[i] > 0x20 && s[i] < 0x7f) ? s[i] : '?';
	out[i] = '\0';
}

char *mpc_http_error_json(const char *msg) {
	json_t *s = json_string(msg ? msg : "");
	if (s == NULL && msg != NULL) {
		/* not UTF-8: keep the ASCII, replace the rest */
		char *copy = strdup(msg);
		if (copy == NULL)
			return NULL;
		for (char *p = copy; *p; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
		s = json_string(copy);
		free(copy);
	}
	json_t *o = json_object();
	char *text = NULL;
	if (s != NULL && o != NULL && json_object_set_new(o, "error", s) == 0) {
		s = NULL;
		text = json_dumps(o, JSON_COMPACT);
	}
	json_decref(s);
	json_decref(o);
	return text;
}

/* ---- metrics ---- */

static void record(mpc_http *h, int status, double secs) {
	size_t b = 0;
	while (b < N_BUCKETS && secs > bucket_le[b])
		b++;
	int cls = status >= 500 ? 3 : status >= 400 ? 2 : status >= 300 ? 1 : 0;
	pthread_mutex_lock(&h->mu);
	h->bucket[b]++;
	h->count++;
	h->sum += secs;
	h->by_class[cls]++;
	pthread_mutex_unlock(&h->mu);
}

/* Append printf text to *buf (NUL-terminated, *len characters, *cap bytes). */
static int append(char **buf, size_t *len, size_t *cap, const char *fmt, ...) MPC_PRINTF(4, 5);
static int append(char **buf, size_t *len, size_t *cap, const char *fmt, ...) {
	va_list ap;
	for (;;) {
		size_t room = *cap - *len;
		va_start(ap, fmt);
		int n = vsnprintf(*buf + *len, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			return 0;
		if ((size_t)n < room) {
			*len += (size_t)n;
			return 1;
		}
		size_t ncap = *cap * 2 + (size_t)n + 1;
		char *nb = realloc(*buf, ncap);
		if (nb == NULL)
			return 0;
		*buf = nb;
		*cap = ncap;
	}
}

mpc_err mpc_http_metrics(mpc_http *h, char **buf, size_t *len) {
	uint64_t bucket[N_BUCKETS + 1], count, by_class[N_CLASSES];
	double sum;

	if (h == NULL || buf == NULL || len == NULL || (*buf == NULL && *len != 0))
		return mpc_error(MPC_EINVAL, "mpc_http_metrics: no server or buffer");
	pthread_mutex_lock(&h->mu);
	memcpy(bucket, h->bucket, sizeof(bucket));
	memcpy(by_class, h->by_class, sizeof(by_class));
	count = h->count;
	sum = h->sum;
	pthread_mutex_unlock(&h->mu);

	/* work on a copy, so that *buf is untouched on ENOMEM */
	size_t n = *len, cap = n + 2048;
	char *out = malloc(cap);
	if (out == NULL)
		return mpc_error(MPC_ENOMEM, "mpc_http_metrics: out of memory");
	if (n > 0)
		memcpy(out, *buf, n);
	out[n] = '\0';
	int ok = append(&out, &n, &cap,
	                "# HELP mpc_api_request_seconds Local API requests, from headers read to "
	                "response queued.\n# TYPE mpc_api_request_seconds histogram\n");
	uint64_t cum = 0;
	for (size_t b = 0; ok && b <= N_BUCKETS; b++) {
		cum += bucket[b];
		if (b < N_BUCKETS)
			ok = append(&out, &n, &cap,
			            "mpc_api_request_seconds_bucket{le=\"%g\"} %llu\n",
			            bucket_le[b], (unsigned long long)cum);
		else
			ok = append(&out, &n, &cap,
			            "mpc_api_request_seconds_bucket{le=\"+Inf\"} %llu\n",
			            (unsigned long long)cum);
	}
	ok = ok && append(&out, &n, &cap,
	                  "mpc_api_request_seconds_sum %.9g\nmpc_api_request_seconds_count %llu\n"
	                  "# HELP mpc_api_requests_total Local API responses by status class.\n"
	                  "# TYPE mpc_api_requests_total counter\n",
	                  sum, (unsigned long long)count);
	for (size_t c = 0; ok && c < N_CLASSES; c++)
		ok = append(&out, &n, &cap, "mpc_api_requests_total{code=\"%s\"} %llu\n",
		            code_class[c], (unsigned long long)by_class[c]);
	if (!ok) {
		free(out);
		return mpc_error(MPC_ENOMEM, "mpc_http_metrics: out of memory");
	}
	free(*buf);
	*buf = out;
	*len = n;
	return MPC_OK;
}

/* ---- answering ---- */

/* Queue status with body (taken; NULL: empty), count it and log it. */
static enum MHD_Result reply(request *r, struct MHD_Connection *c, const char *method, int status,
                             char *body, const char *ctype) {
	mpc_http *h = r->h;
	struct MHD_Response *resp;
	char m[SHOWN_MAX + 1], p[SHOWN_MAX + 1];

	if (body != NULL)
		resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	else
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (resp == NULL) {
		free(body);
		mpc_debug("http: cannot make a response (out of memory): connection closed");
		return MHD_NO;
	}
	int ok =
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	                            ctype ? ctype : "application/json") == MHD_YES &&
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") == MHD_YES;
	if (ok && status == MHD_HTTP_UNAUTHORIZED)
		ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer") ==
		     MHD_YES;
	enum MHD_Result ret = ok ? MHD_queue_response(c, (unsigned)status, resp) : MHD_NO;
	MHD_destroy_response(resp);
	double secs = since(&r->t0);
	if (ret == MHD_YES) {
		r->answered = 1;
		record(h, status, secs);
	}
	shown(m, sizeof(m), method);
	shown(p, sizeof(p), r->path);
	mpc_debug("http: %s %s %d %.1f ms%s", m, p, status, secs * 1e3,
	          ret == MHD_YES ? "" : " (not sent: connection closed)");
	return ret;
}

static enum MHD_Result reply_error(request *r, struct MHD_Connection *c, const char *method,
                                   int status, const char *msg) {
	return reply(r, c, method, status, mpc_http_error_json(msg), NULL);
}

/* Does the request carry "Authorization: Bearer TOKEN" with our token?
 * Constant time in the token's bytes: both sides are compared over the
 * whole padded buffer. */
static int authorized(const mpc_http *h, struct MHD_Connection *c) {
	unsigned char given[MPC_HTTP_TOKEN_MAX];
	const char *v =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);

	if (v == NULL || strncasecmp(v, "Bearer ", 7) != 0)
		return 0;
	v += 7;
	while (*v == ' ')
		v++;
	size_t n = strlen(v);
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n == 0 || n > sizeof(given))
		return 0;
	memset(given, 0, sizeof(given));
	memcpy(given, v, n);
	int same = CRYPTO_memcmp(given, h->token, sizeof(given)) == 0;
	mpc_wipe(given, sizeof(given));
	return same && n == h->token_len;
}

/* Counts Content-Length (n[0]) and Transfer-Encoding (n[1]) headers. */
static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value) {
	int *n = cls;
	(void)kind, (void)value;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
		n[0]++;
	else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0)
		n[1]++;
	return MHD_YES;
}

/* The first call, headers read: authorization, then the body's framing
 * (libmicrohttpd 0.9.75 takes two Content-Lengths, or one with chunked, and
 * picks one: a proxy in front might pick the other), then a declared
 * length. */
static enum MHD_Result headers_in(request *r, struct MHD_Connection *c, const char *method) {
	mpc_http *h = r->h;
	char msg[128];

	r->started = 1;
	clock_gettime(CLOCK_MONOTONIC, &r->t0);
	if (!authorized(h, c))
		return reply_error(r, c, method, MHD_HTTP_UNAUTHORIZED,
		                   "missing or wrong bearer token (Authorization: Bearer TOKEN)");
	int framing[2] = {0, 0};
	MHD_get_connection_values(c, MHD_HEADER_KIND, count_framing, framing);
	if (framing[0] > 1 || (framing[0] > 0 && framing[1] > 0))
		return reply_error(r, c, method, MHD_HTTP_BAD_REQUEST,
		                   "ambiguous body length: Content-Length given twice, or with "
		                   "Transfer-Encoding");
	const char *cl =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl != NULL) {
		char *end;
		errno = 0;
		unsigned long long n = strtoull(cl, &end, 10);
		/* MHD has checked the syntax; a number beyond ULLONG_MAX is too big */
		if (errno == ERANGE || n > h->max_body) {
			snprintf(msg, sizeof(msg), "request body over the limit of %zu bytes",
			         h->max_body);
			return reply_error(r, c, method, MHD_HTTP_CONTENT_TOO_LARGE, msg);
		}
		if (n > 0 && (r->body = malloc((size_t)n + 1)) != NULL)
			r->cap = (size_t)n + 1;
	}
	return MHD_YES;
}

/* A piece of body: append it, or (past max_body) drop it and owe a 413.
 * libmicrohttpd 0.9.75 takes no response in the middle of an upload
 * (MHD_queue_response answers MHD_NO until the whole request is in), so the
 * rest is read and dropped, never kept, and the 413 goes at the end. A
 * declared Content-Length over the limit was answered before any of it. */
static enum MHD_Result body_in(request *r, const char *data, size_t n) {
	mpc_http *h = r->h;

	if (r->too_big)
		return MHD_YES;
	if (n > h->max_body - r->len) {
		r->too_big = 1;
		mpc_wipe_free(r->body, r->cap);
		r->body = NULL;
		r->len = r->cap = 0;
		return MHD_YES;
	}
	if (r->len + n + 1 > r->cap) {
		size_t ncap = r->cap ? r->cap : 4096;
		while (ncap < r->len + n + 1)
			ncap *= 2;
		if (ncap > h->max_body + 1)
			ncap = h->max_body + 1;
		char *nb = malloc(ncap);
		if (nb == NULL)
			return MHD_NO; /* closes the connection */
		if (r->len > 0)
			memcpy(nb, r->body, r->len);
		mpc_wipe_free(r->body, r->cap);
		r->body = nb;
		r->cap = ncap;
	}
	memcpy(r->body + r->len, data, n);
	r->len += n;
	return MHD_YES;
}

/* The last call: the whole request is in; the handler answers. */
static enum MHD_Result request_in(request *r, struct MHD_Connection *c, const char *method) {
	mpc_http *h = r->h;
	mpc_http_response resp = {0};
	char msg[128];

	if (r->too_big) {
		snprintf(msg, sizeof(msg), "request body over the limit of %zu bytes", h->max_body);
		return reply_error(r, c, method, MHD_HTTP_CONTENT_TOO_LARGE, msg);
	}
	if (r->body != NULL)
		r->body[r->len] = '\0';
	mpc_http_request req = {.method = method,
	                        .path = r->path,
	                        .query = r->query,
	                        .body = r->body ? r->body : "",
	                        .body_len = r->len};
	h->handler(h->arg, &req, &resp);
	int status = resp.status;
	if (status < 100 || status > 599) {
		char p[SHOWN_MAX + 1];
		shown(p, sizeof(p), r->path);
		mpc_logerr("http: the handler answered %s with status %d: 500 instead", p, status);
		free(resp.body);
		return reply_error(r, c, method, MHD_HTTP_INTERNAL_SERVER_ERROR,
		                   "internal error: no valid status");
	}
	return reply(r, c, method, status, resp.body, resp.content_type);
}

/* ---- MHD callbacks ---- */

static request *request_new(mpc_http *h, const char *uri) {
	size_t n = strlen(uri);
	request *r = calloc(1, sizeof(*r));
	char *p = malloc(n + 2);
	if (r == NULL || p == NULL) {
		free(r);
		free(p);
		return NULL;
	}
	memcpy(p, uri, n + 1);
	char *q = strchr(p, '?');
	if (q != NULL)
		*q++ = '\0';
	else {
		q = p + n + 1;
		*q = '\0';
	}
	r->h = h;
	r->path = p;
	r->query = q;
	return r;
}

static void *uri_seen(void *cls, const char *uri, struct MHD_Connection *c) {
	(void)c;
	return request_new(cls, uri ? uri : "");
}

static void request_done(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode why) {
	(void)cls, (void)c, (void)why;
	request *r = *con_cls;
	if (r == NULL)
		return;
	mpc_wipe_free(r->body, r->cap);
	free(r->path);
	free(r);
	*con_cls = NULL;
}

static enum MHD_Result serve(void *cls, struct MHD_Connection *c, const char *url,
                             const char *method, const char *version, const char *data,
                             size_t *size, void **con_cls) {
	(void)version;
	request *r = *con_cls;
	if (r == NULL) { /* no URI callback (it always runs; just in case) */
		if ((r = request_new(cls, url ? url : "")) == NULL)
			return MHD_NO;
		*con_cls = r;
	}
	if (!r->started)
		return headers_in(r, c, method);
	if (r->answered) { /* 401 or 413 at the headers: drop whatever follows */
		*size = 0;
		return MHD_YES;
	}
	if (*size > 0) {
		size_t n = *size;
		*size = 0;
		return body_in(r, data, n);
	}
	return request_in(r, c, method);
}

/* MHD's own messages (a client's bad request, a failure to start) go to the
 * debug log; the last one of this thread is kept for mpc_http_start. */
static _Thread_local char mhd_last[256];

static void mhd_log(void *cls, const char *fmt, va_list ap) {
	(void)cls;
	vsnprintf(mhd_last, sizeof(mhd_last), fmt, ap);
	size_t n = strlen(mhd_last);
	while (n > 0 && (mhd_last[n - 1] == '\n' || mhd_last[n - 1] == '\r'))
		mhd_last[--n] = '\0';
	mpc_debug("http: libmicrohttpd: %s", mhd_last);
}

/* ---- starting ---- */

/* "A.B.C.D:PORT" or "[IPV6]:PORT", numeric; port 0..65535. */
static mpc_err parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *sl) {
	char host[64];
	const char *colon;
	size_t hn;

	memset(ss, 0, sizeof(*ss));
	if (s != NULL && s[0] == '[') {
		const char *close = strchr(s, ']');
		colon = close ? close + 1 : NULL;
		if (colon == NULL || *colon != ':')
			colon = NULL;
		hn = close ? (size_t)(close - s - 1) : 0;
		if (colon != NULL && hn < sizeof(host))
			memcpy(host, s + 1, hn);
	} else {
		colon = s ? strrchr(s, ':') : NULL;
		hn = colon ? (size_t)(colon - s) : 0;
		if (colon != NULL && hn < sizeof(host))
			memcpy(host, s, hn);
	}
	const char *port = colon ? colon + 1 : "";
	size_t pn = strlen(port);
	unsigned long pv =
	    pn > 0 && pn <= 5 && strspn(port, "0123456789") == pn ? strtoul(port, NULL, 10) : 70000;
	int ok = colon != NULL && hn > 0 && hn < sizeof(host) && pv <= 65535;
	if (ok) {
		host[hn] = '\0';
		struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
		struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
		if (s[0] != '[' && inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
			v4->sin_family = AF_INET;
			v4->sin_port = htons((uint16_t)pv);
			*sl = sizeof(*v4);
		} else if (s[0] == '[' && inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
			v6->sin6_family = AF_INET6;
			v6->sin6_port = htons((uint16_t)pv);
			*sl = sizeof(*v6);
		} else
			ok = 0;
	}
	if (!ok)
		return mpc_error(
		    MPC_ECONFIG,
		    "listen address \"%.80s\": expected a numeric IPV4:PORT or [IPV6]:PORT "
		    "with a port 0..65535 (0: any free port), e.g. 127.0.0.1:8701",
		    s ? s : "(none)");
	return MPC_OK;
}

/* Read the token file (see the header for the rules) into h. */
static mpc_err read_token(mpc_http *h, const char *path) {
	unsigned char buf[MPC_HTTP_TOKEN_MAX + 4];
	struct stat st;
	size_t n = 0;
	mpc_err err = MPC_OK;

	/* O_NONBLOCK: a FIFO must not hang us (it is refused below) */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return mpc_error(
		    MPC_ECONFIG,
		    "token file %s: cannot open it: %s (make one with: openssl rand -hex 32 "
		    "> %s && chmod 600 %s)",
		    path, strerror(errno), path, path);
	if (fstat(fd, &st) != 0) {
		err = mpc_error(MPC_ECONFIG, "token file %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err = mpc_error(MPC_ECONFIG, "token file %s: not a regular file", path);
		goto out;
	}
	if (st.st_uid != geteuid()) {
		err =
		    mpc_error(MPC_ECONFIG,
		              "token file %s: owned by uid %u, not by this user (uid %u): chown it",
		              path, (unsigned)st.st_uid, (unsigned)geteuid());
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		err =
		    mpc_error(MPC_ECONFIG,
		              "token file %s: mode %04o lets group or others read it: chmod 600 %s",
		              path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	for (ssize_t got; n < sizeof(buf); n += (size_t)got) {
		got = read(fd, buf + n, sizeof(buf) - n);
		if (got < 0 && errno == EINTR) {
			got = 0;
			continue;
		}
		if (got < 0) {
			err = mpc_error(MPC_ECONFIG, "token file %s: cannot read it: %s", path,
			                strerror(errno));
			goto out;
		}
		if (got == 0)
			break;
	}
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	size_t bad = 0;
	while (bad < n && buf[bad] > 0x20 && buf[bad] < 0x7f)
		bad++;
	if (n < MPC_HTTP_TOKEN_MIN || n > MPC_HTTP_TOKEN_MAX || bad < n) {
		err = mpc_error(
		    MPC_ECONFIG,
		    "token file %s: %s; the token must be %d to %d printable characters "
		    "without spaces, on one line (e.g. openssl rand -hex 32 > %s)",
		    path,
		    bad < n && n <= MPC_HTTP_TOKEN_MAX ? "holds a space or a control character"
		    : n < MPC_HTTP_TOKEN_MIN           ? "the token is too short"
		                                       : "the token is too long",
		    MPC_HTTP_TOKEN_MIN, MPC_HTTP_TOKEN_MAX, path);
		goto out;
	}
	memcpy(h->token, buf, n);
	h->token_len = n;
out:
	mpc_wipe(buf, sizeof(buf));
	close(fd);
	return err;
}

/* A socket bound to addr and listening, non-blocking, or -1 (the error
 * recorded). */
static int bind_listen(const char *shown_addr, const struct sockaddr_storage *ss, socklen_t sl,
                       uint16_t *port) {
	int one = 1;
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		mpc_error(MPC_ENET, "cannot listen on %s: socket: %s", shown_addr, strerror(errno));
		return -1;
	}
	/* SO_REUSEADDR lets a restarted node bind while old connections are in
	 * TIME_WAIT; it never lets two servers listen on one port (Linux) */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, sl) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
		mpc_error(MPC_ENET, "cannot listen on %s: %s", shown_addr, strerror(errno));
		close(fd);
		return -1;
	}
	struct sockaddr_storage got;
	socklen_t gl = sizeof(got);
	if (getsockname(fd, (struct sockaddr *)&got, &gl) != 0) {
		mpc_error(MPC_ENET, "cannot listen on %s: getsockname: %s", shown_addr,
		          strerror(errno));
		close(fd);
		return -1;
	}
	*port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
	                                        : ((struct sockaddr_in *)&got)->sin_port);
	return fd;
}

static int is_loopback(const struct sockaddr_storage *ss) {
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

mpc_err mpc_http_start(const mpc_http_config *cfg, mpc_http **out) {
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	mpc_err err;

	if (out != NULL)
		*out = NULL;
	if (cfg == NULL || out == NULL || cfg->handler == NULL || cfg->token_file == NULL)
		return mpc_error(MPC_EINVAL,
		                 "mpc_http_start: no config, handler, token file or out");
	if (cfg->max_body > MPC_HTTP_MAX_BODY_LIMIT)
		return mpc_error(MPC_ECONFIG, "HTTP server: max_body %zu bytes; at most %zu",
		                 cfg->max_body, (size_t)MPC_HTTP_MAX_BODY_LIMIT);
	if (cfg->threads > MPC_HTTP_MAX_THREADS)
		return mpc_error(MPC_ECONFIG, "HTTP server: %u threads; at most %d", cfg->threads,
		                 MPC_HTTP_MAX_THREADS);
	if ((err = parse_listen(cfg->listen, &ss, &sl)) != MPC_OK)
		return err;
	mpc_http *h = calloc(1, sizeof(*h));
	if (h == NULL)
		return mpc_error(MPC_ENOMEM, "mpc_http_start: out of memory");
	snprintf(h->listen, sizeof(h->listen), "%s", cfg->listen);
	h->max_body = cfg->max_body ? cfg->max_body : MPC_HTTP_DEFAULT_MAX_BODY;
	h->handler = cfg->handler;
	h->arg = cfg->arg;
	if ((err = read_token(h, cfg->token_file)) != MPC_OK) {
		mpc_wipe_free(h, sizeof(*h));
		return err;
	}
	pthread_mutex_init(&h->mu, NULL);
	int fd = bind_listen(h->listen, &ss, sl, &h->port);
	if (fd < 0) {
		mpc_http_stop(h);
		return MPC_ENET;
	}
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	mhd_last[0] = '\0';
	h->d =
	    MHD_start_daemon(flags, 0, NULL, NULL, serve, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
	                     MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_THREAD_POOL_SIZE,
	                     (unsigned)(cfg->threads ? cfg->threads : MPC_HTTP_DEFAULT_THREADS),
	                     MHD_OPTION_CONNECTION_LIMIT, (unsigned)MPC_HTTP_MAX_CONNECTIONS,
	                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)MPC_HTTP_TIMEOUT_S,
	                     MHD_OPTION_URI_LOG_CALLBACK, uri_seen, h, MHD_OPTION_NOTIFY_COMPLETED,
	                     request_done, h, MHD_OPTION_END);
	if (h->d == NULL) {
		/* MHD may or may not have closed it on its way out */
		if (fcntl(fd, F_GETFD) != -1)
			close(fd);
		err =
		    mpc_error(MPC_ENET, "cannot serve HTTP on %s: libmicrohttpd did not start (%s)",
		              h->listen, mhd_last[0] ? mhd_last : "no reason given");
		mpc_http_stop(h);
		return err;
	}
	if (!is_loopback(&ss))
		mpc_warn("http: the local API listens on %s, not a loopback address: its token "
		         "and bodies travel in clear text there",
		         h->listen);
	mpc_info("http: local API on %s (port %u)", h->listen, (unsigned)h->port);
	*out = h;
	return MPC_OK;
}

uint16_t mpc_http_port(const mpc_http *h) {
	return h ? h->port : 0;
}

void mpc_http_stop(mpc_http *h) {
	if (h == NULL)
		return;
	if (h->d != NULL)
		MHD_stop_daemon(h->d); /* waits for the pool; closes the listen socket */
	pthread_mutex_destroy(&h->mu);
	mpc_wipe_free(h, sizeof(*h)); /* the token with it */
}
