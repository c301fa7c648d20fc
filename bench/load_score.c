/* load_score: a bounded, open-loop load generator for the node's real-time
 * scoring API (POST /score on the local API, bearer token). Request i is
 * scheduled at start + i / rate and sent then, or as soon as one of the
 * --connections keep-alive connections is free if the generator is behind;
 * its latency runs from the scheduled time to the whole answer, so queueing
 * in the generator counts (no coordinated omission). Requests still waiting
 * for a connection when the duration ends are not sent and are reported.
 *
 * Every wait is bounded: a request has 10 s from its sending (connection
 * included) and is then an error and its connection reopened; none is sent
 * after the duration, so the run ends by duration + 10 s. Memory is bounded:
 * at most MAX_ROWS feature rows (used in order, wrapping around), a
 * histogram for latencies (exact below 1 ms, 0.1% buckets above), answers of
 * at most 4 MiB per connection; --out is streamed.
 *
 * This file: options, the feature rows, the workers, the report; the HTTP
 * client is bench/load_http.c. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/load_http.h"
#include "runtime/mpc_err.h"
#include "runtime/mpc_wipe.h"

#define MAX_ROWS        (1u << 20)   /* feature rows kept */
#define MAX_ARENA       (256u << 20) /* bytes of their JSON text */
#define MAX_COLUMNS     1024
#define MAX_DURATION    600.0
#define REQ_TIMEOUT     10.0 /* seconds a request may go unanswered (load_http: "deadline") */
#define CONNECT_TIMEOUT 5.0  /* the first connection, before the run */
#define HIST_EXACT      1000 /* 1 us buckets below 1 ms */
#define HIST_STEP       1.001
#define HIST_N          (HIST_EXACT + 11600) /* up to about 109 s */

static const char usage_text[] =
    "usage: load_score --url http://127.0.0.1:PORT --token-file FILE --service ID\n"
    "                  --features FILE.csv [--columns f0-f7 | --columns a,b,c]\n"
    "                  --rate R --duration S [--max-requests N] [--per-request K]\n"
    "                  [--connections C] [--pid PID] [--json FILE] [--out FILE.csv]\n"
    "  POST /score to the node's local API, open loop: request i is due at\n"
    "  start + i/R whether or not earlier ones have answered.\n"
    "  --url          the API, http://IPv4:PORT (or localhost)\n"
    "  --token-file   the bearer token (the node's token_file)\n"
    "  --service      the scoring service's id, sent as \"service\"\n"
    "  --features     CSV with a header; rows used in order, wrapping around\n"
    "  --columns      feature columns in order: a range fA-fB or a comma list\n"
    "                 (default f0, f1, ... as far as the header has them)\n"
    "  --rate         requests per second (> 0)\n"
    "  --duration     seconds, at most 600; nothing is sent after it\n"
    "  --max-requests at most N requests\n"
    "  --per-request  K transactions per request (default 1, at most 1000)\n"
    "  --connections  C keep-alive connections, one thread each (default 8, at most 256)\n"
    "  --pid          sample the node's VmRSS (/proc/PID/status) every second\n"
    "  --json         write the figures as one JSON object\n"
    "  --out          write row,score,flag for every answered transaction\n"
    "  Latency: from the scheduled send time to the whole answer (200s only);\n"
    "  a request unanswered for 10 s is an error. Exit 0: the run completed (429s\n"
    "  included), 1: usage or input error, 2: over 1% of requests failed (not 429),\n"
    "  3: could not connect.\n";

typedef struct {
	const char *url, *token_file, *service, *features, *columns, *json, *out;
	double rate, duration;
	uint64_t max_requests;
	int per_request, connections;
	long pid;
} options;

/* The feature rows as JSON arrays "[x0,x1,...]", one after another. */
typedef struct {
	char *text;
	size_t *off; /* row r is text[off[r] .. off[r+1]) */
	size_t n, len;
} rows;

typedef struct {
	pthread_t th;
	int started;
	load_conn conn;
	char *req;
	size_t req_cap;
} worker;

static struct {
	options o;
	rows r;
	char host[128], *token, *service_json;
	struct sockaddr_in addr;
	double t0, t_stop, t_end;
	uint64_t scheduled; /* requests due before the duration ends */
	pthread_mutex_t mu; /* guards everything below */
	uint64_t next, sent, ok, refused, errors, retries;
	char first_error[512];
	uint64_t hist[HIST_N];
	double max_us;
	int running;
	FILE *out;
} g = {.mu = PTHREAD_MUTEX_INITIALIZER};

static volatile sig_atomic_t stopping;

static void on_signal(int sig) {
	(void)sig;
	stopping = 1;
}

/* ---- options ---- */

static int number(const char *name, const char *s, double lo, double hi, double *v) {
	char *e;
	errno = 0;
	*v = strtod(s, &e);
	if (e == s || *e || errno || !(*v >= lo && *v <= hi)) {
		fprintf(stderr, "load_score: %s: expected a number from %g to %g\n", name, lo, hi);
		return -1;
	}
	return 0;
}

static int parse_args(int argc, char **argv, options *o) {
	double v;
	*o = (options){.per_request = 1, .connections = 8, .pid = -1, .max_requests = UINT64_MAX};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || val == NULL)
			return -1;
		i++;
		if (strcmp(a, "--url") == 0)
			o->url = val;
		else if (strcmp(a, "--token-file") == 0)
			o->token_file = val;
		else if (strcmp(a, "--service") == 0)
			o->service = val;
		else if (strcmp(a, "--features") == 0)
			o->features = val;
		else if (strcmp(a, "--columns") == 0)
			o->columns = val;
		else if (strcmp(a, "--json") == 0)
			o->json = val;
		else if (strcmp(a, "--out") == 0)
			o->out = val;
		else if (strcmp(a, "--rate") == 0) {
			if (number(a, val, 1e-3, 1e6, &o->rate))
				return -1;
		} else if (strcmp(a, "--duration") == 0) {
			if (number(a, val, 1e-3, MAX_DURATION, &o->duration))
				return -1;
		} else if (strcmp(a, "--max-requests") == 0) {
			if (number(a, val, 1, 1e12, &v) || v != floor(v))
				return -1;
			o->max_requests = (uint64_t)v;
		} else if (strcmp(a, "--per-request") == 0) {
			if (number(a, val, 1, 1000, &v) || v != floor(v))
				return -1;
			o->per_request = (int)v;
		} else if (strcmp(a, "--connections") == 0) {
			if (number(a, val, 1, 256, &v) || v != floor(v))
				return -1;
			o->connections = (int)v;
		} else if (strcmp(a, "--pid") == 0) {
			if (number(a, val, 1, 4194304, &v) || v != floor(v))
				return -1;
			o->pid = (long)v;
		} else {
			fprintf(stderr, "load_score: unknown option %s\n", a);
			return -1;
		}
	}
	if (!o->url || !o->token_file || !o->service || !o->features || o->rate <= 0 ||
	    o->duration <= 0) {
		fprintf(stderr, "load_score: --url, --token-file, --service, --features, --rate "
		                "and --duration are needed\n");
		return -1;
	}
	return 0;
}

/* The token: the file's first line, without trailing blanks. */
static int read_token(const char *path, char **token) {
	char buf[1024];
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "load_score: %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	n = strcspn(buf, "\r\n");
	while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	buf[n] = '\0';
	int bad = n == 0 || n > 512 || strpbrk(buf, " \t") != NULL;
	if (!bad)
		*token = strdup(buf);
	mpc_wipe(buf, sizeof(buf));
	if (bad || *token == NULL) {
		fprintf(stderr, "load_score: %s: no usable token on its first line\n", path);
		return -1;
	}
	return 0;
}

/* The service id as a JSON string (quotes included); NULL if it has control
 * characters. */
static char *quote_json(const char *s) {
	char *q = malloc(2 * strlen(s) + 3), *p = q;
	if (q == NULL)
		return NULL;
	*p++ = '"';
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20) {
			free(q);
			return NULL;
		}
		if (*s == '"' || *s == '\\')
			*p++ = '\\';
		*p++ = *s;
	}
	*p++ = '"';
	*p = '\0';
	return q;
}

/* ---- the feature rows ---- */

/* Split a CSV line in place at commas (no quoting: the merchant files have
 * none); returns the number of fields, at most max. */
static int split(char *line, char **f, int max) {
	int n = 0;
	line[strcspn(line, "\r\n")] = '\0';
	for (char *p = line; n < max;) {
		f[n++] = p;
		p = strchr(p, ',');
		if (p == NULL)
			break;
		*p++ = '\0';
	}
	return n;
}

static int find_column(char **head, int nh, const char *name) {
	for (int i = 0; i < nh; i++)
		if (strcmp(head[i], name) == 0)
			return i;
	return -1;
}

/* --columns ("fA-fB", "fA-B" or "a,b,c"; default f0, f1, ...) as indices
 * into the header. Returns the count, or -1 with a message. */
static int pick_columns(const char *spec, char **head, int nh, int *idx) {
	char name[128], prefix[64];
	int n = 0, a, b, used = 0;
	if (spec == NULL) {
		for (; n < MAX_COLUMNS; n++) {
			snprintf(name, sizeof(name), "f%d", n);
			if ((idx[n] = find_column(head, nh, name)) < 0)
				break;
		}
		if (n == 0)
			fprintf(stderr, "load_score: --features: no column f0; name them with "
			                "--columns\n");
		return n ? n : -1;
	}
	if (strchr(spec, ',') == NULL &&
	    sscanf(spec, "%63[A-Za-z_]%d-%n", prefix, &a, &used) == 2 && used > 0) {
		size_t pl = strlen(prefix);
		const char *r = spec + used;
		if (strncmp(r, prefix, pl) == 0)
			r += pl;
		char *e;
		b = (int)strtol(r, &e, 10);
		if (e == r || *e || a < 0 || b < a || b - a >= MAX_COLUMNS) {
			fprintf(stderr, "load_score: --columns %s: bad range\n", spec);
			return -1;
		}
		for (int k = a; k <= b; k++) {
			snprintf(name, sizeof(name), "%s%d", prefix, k);
			if ((idx[n++] = find_column(head, nh, name)) < 0) {
				fprintf(stderr, "load_score: --features: no column %s\n", name);
				return -1;
			}
		}
		return n;
	}
	char *copy = strdup(spec), *save = NULL;
	for (char *w = strtok_r(copy, ",", &save); w && n < MAX_COLUMNS;
	     w = strtok_r(NULL, ",", &save))
		if ((idx[n++] = find_column(head, nh, w)) < 0) {
			fprintf(stderr, "load_score: --features: no column %s\n", w);
			free(copy);
			return -1;
		}
	free(copy);
	return n ? n : -1;
}

/* Append s to the rows' text. */
static int put(rows *r, const char *s, size_t n, size_t *cap) {
	if (r->len + n + 1 > *cap) {
		size_t c = *cap ? *cap * 2 : 1 << 16;
		while (c < r->len + n + 1)
			c *= 2;
		char *t = realloc(r->text, c);
		if (t == NULL)
			return -1;
		r->text = t;
		*cap = c;
	}
	memcpy(r->text + r->len, s, n);
	r->len += n;
	return 0;
}

/* One data line as "[x0,...]": each value checked (finite) and written in
 * the shortest form that reads back the same double. */
static int add_row(rows *r, char **f, int nf, const int *idx, int d, size_t *cap, long line) {
	char num[40];
	if (put(r, "[", 1, cap))
		return -1;
	for (int k = 0; k < d; k++) {
		char *e;
		double x = idx[k] < nf ? strtod(f[idx[k]], &e) : NAN;
		if (idx[k] >= nf || e == f[idx[k]] || *e || !isfinite(x)) {
			fprintf(stderr,
			        "load_score: --features line %ld: column %d of --columns is "
			        "not a number\n",
			        line, k + 1);
			return -1;
		}
		for (int prec = 15; prec <= 17; prec++) {
			snprintf(num, sizeof(num), "%.*g", prec, x);
			if (strtod(num, NULL) == x)
				break;
		}
		if ((k && put(r, ",", 1, cap)) || put(r, num, strlen(num), cap))
			return -1;
	}
	return put(r, "]", 1, cap);
}

/* Read at most `need` rows of the chosen columns. */
static int load_rows(const char *path, const char *spec, size_t need, rows *r) {
	static char *f[MAX_COLUMNS * 4];
	int idx[MAX_COLUMNS], d = -1, nf, ret = -1;
	size_t cap = 0, lcap = 0;
	char *line = NULL;
	long ln = 1;
	FILE *fp = fopen(path, "r");
	if (fp == NULL) {
		fprintf(stderr, "load_score: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (getline(&line, &lcap, fp) < 0) {
		fprintf(stderr, "load_score: %s: empty\n", path);
		goto out;
	}
	nf = split(line, f, MAX_COLUMNS * 4);
	if ((d = pick_columns(spec, f, nf, idx)) < 0)
		goto out;
	r->off = malloc((need + 1) * sizeof(size_t));
	if (r->off == NULL)
		goto out;
	while (r->n < need && r->len < MAX_ARENA && getline(&line, &lcap, fp) >= 0) {
		ln++;
		if (line[strspn(line, " \t\r\n")] == '\0')
			continue;
		nf = split(line, f, MAX_COLUMNS * 4);
		r->off[r->n] = r->len;
		if (add_row(r, f, nf, idx, d, &cap, ln))
			goto out;
		r->n++;
	}
	r->off[r->n] = r->len;
	if (r->n == 0)
		fprintf(stderr, "load_score: %s: no data rows\n", path);
	else
		printf("features: %zu rows x %d columns from %s\n", r->n, d, (ret = 0, path));
out:
	free(line);
	fclose(fp);
	return ret;
}

/* ---- the run ---- */

static int take_ticket(uint64_t *i) {
	int ok = 0;
	pthread_mutex_lock(&g.mu);
	if (!stopping && g.next < g.scheduled) {
		*i = g.next++;
		ok = 1;
	}
	pthread_mutex_unlock(&g.mu);
	return ok;
}

/* Sleep until t, in steps of at most 100 ms so that a signal stops it. */
static void sleep_until(double t) {
	for (double now = load_now(); now < t && !stopping; now = load_now()) {
		double s = t - now < 0.1 ? t - now : 0.1;
		struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)(s * 1e9)};
		nanosleep(&ts, NULL);
	}
}

/* Request i's whole text in w->req; returns its length, 0 if out of memory. */
static size_t build_request(worker *w, uint64_t i) {
	size_t body = strlen(g.service_json) + 40, k = (size_t)g.o.per_request;
	for (size_t j = 0; j < k; j++) {
		size_t r = (size_t)((i * k + j) % g.r.n);
		body += g.r.off[r + 1] - g.r.off[r] + 1;
	}
	size_t need = body + strlen(g.token) + strlen(g.host) + 200;
	if (need > w->req_cap) {
		char *p = realloc(w->req, need);
		if (p == NULL)
			return 0;
		w->req = p;
		w->req_cap = need;
	}
	char *b = w->req + need - body; /* the body, at the buffer's end, then moved */
	size_t n = (size_t)sprintf(b, "{\"service\":%s,\"transactions\":[", g.service_json);
	for (size_t j = 0; j < k; j++) {
		size_t r = (size_t)((i * k + j) % g.r.n), len = g.r.off[r + 1] - g.r.off[r];
		if (j)
			b[n++] = ',';
		memcpy(b + n, g.r.text + g.r.off[r], len);
		n += len;
	}
	n += (size_t)sprintf(b + n, "]}");
	int h = snprintf(w->req, need - body,
	                 "POST /score HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
	                 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
	                 g.host, g.token, n);
	memmove(w->req + h, b, n);
	return (size_t)h + n;
}

/* Record an error (under g.mu); the first one's text is kept. */
static void error_locked(uint64_t i, const char *what) {
	g.errors++;
	if (g.first_error[0] == '\0')
		snprintf(g.first_error, sizeof(g.first_error), "request %llu: %s",
		         (unsigned long long)i, what);
}

static void hist_add(double us) {
	size_t b = us < HIST_EXACT ? (size_t)(us < 0 ? 0 : us)
	                           : HIST_EXACT + (size_t)(log(us / HIST_EXACT) / log(HIST_STEP));
	g.hist[b < HIST_N ? b : HIST_N - 1]++;
	if (us > g.max_us)
		g.max_us = us;
}

/* A 200's body: {"scores": [K numbers], "flags": [K of 0|1]}. */
static const char *check_scores(json_t *root, size_t k) {
	json_t *s = json_object_get(root, "scores"), *f = json_object_get(root, "flags");
	if (!json_is_array(s) || !json_is_array(f))
		return "200 without \"scores\" and \"flags\" arrays";
	if (json_array_size(s) != k || json_array_size(f) != k)
		return "200 with a count of scores or flags other than the transactions sent";
	for (size_t j = 0; j < k; j++) {
		json_t *fj = json_array_get(f, j);
		if (!json_is_number(json_array_get(s, j)))
			return "200 with a score that is not a number";
		if (!json_is_integer(fj) ||
		    (json_integer_value(fj) != 0 && json_integer_value(fj) != 1))
			return "200 with a flag other than 0 or 1";
	}
	return NULL;
}

static void handle_answer(uint64_t i, const load_answer *a, double latency) {
	char what[400];
	size_t k = (size_t)g.o.per_request;
	json_t *root = NULL;
	const char *bad = NULL;
	if (a->status == 200) {
		root = json_loadb(a->body, a->body_len, 0, NULL);
		bad = root ? check_scores(root, k) : "200 with a body that is not JSON";
	}
	pthread_mutex_lock(&g.mu);
	if (a->status == 429) {
		g.refused++;
	} else if (a->status != 200 || bad) {
		if (bad == NULL) {
			snprintf(what, sizeof(what), "HTTP %d: %.300s", a->status, a->body);
			what[strcspn(what, "\r\n")] = '\0';
		}
		error_locked(i, bad ? bad : what);
	} else {
		g.ok++;
		hist_add(latency * 1e6);
		for (size_t j = 0; g.out && j < k; j++)
			fprintf(
			    g.out, "%zu,%.17g,%d\n", (size_t)((i * k + j) % g.r.n),
			    json_number_value(json_array_get(json_object_get(root, "scores"), j)),
			    (int)json_integer_value(
			        json_array_get(json_object_get(root, "flags"), j)));
	}
	pthread_mutex_unlock(&g.mu);
	json_decref(root);
}

static void *work(void *arg) {
	worker *w = arg;
	uint64_t i;
	while (take_ticket(&i)) {
		double due = g.t0 + (double)i / g.o.rate;
		sleep_until(due);
		if (stopping || load_now() >= g.t_stop)
			break; /* behind at the end: not sent */
		size_t n = build_request(w, i);
		load_answer a;
		pthread_mutex_lock(&g.mu);
		g.sent++;
		pthread_mutex_unlock(&g.mu);
		mpc_err e = n ? load_http_request(&w->conn, w->req, n, load_now() + REQ_TIMEOUT, &a)
		              : mpc_error(MPC_ENOMEM, "building the request");
		double done = load_now();
		if (e == MPC_OK) {
			handle_answer(i, &a, done - due);
		} else {
			pthread_mutex_lock(&g.mu);
			error_locked(i, mpc_error_detail());
			pthread_mutex_unlock(&g.mu);
		}
	}
	load_http_close(&w->conn);
	pthread_mutex_lock(&g.mu);
	g.retries += w->conn.retries;
	if (--g.running == 0)
		g.t_end = load_now();
	pthread_mutex_unlock(&g.mu);
	return NULL;
}

/* ---- the node's memory ---- */

/* VmRSS of pid in kB, or -1. */
static long rss_kb(long pid) {
	char path[64], line[256];
	long kb = -1;
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

/* ---- the report ---- */

/* The latency (ms) at quantile q of the answered requests, -1 if none. */
static double quantile_ms(double q) {
	uint64_t want = (uint64_t)ceil(q * (double)g.ok), seen = 0;
	if (g.ok == 0)
		return -1;
	if (want == 0)
		want = 1;
	for (size_t b = 0; b < HIST_N; b++) {
		seen += g.hist[b];
		if (seen >= want) {
			double us =
			    b < HIST_EXACT
			        ? (double)b + 0.5
			        : HIST_EXACT * pow(HIST_STEP, (double)(b - HIST_EXACT) + 0.5);
			return (us < g.max_us ? us : g.max_us) / 1000.0;
		}
	}
	return g.max_us / 1000.0;
}

static json_t *num_or_null(double v) {
	return v < 0 ? json_null() : json_real(v);
}
static json_t *int_or_null(long v) {
	return v < 0 ? json_null() : json_integer(v);
}

static int write_json(const char *path, double secs, const double *q, const long *rss) {
	json_t *o = json_object();
	json_object_set_new(o, "requests", json_integer((json_int_t)g.sent));
	json_object_set_new(o, "ok", json_integer((json_int_t)g.ok));
	json_object_set_new(o, "refused", json_integer((json_int_t)g.refused));
	json_object_set_new(o, "errors", json_integer((json_int_t)g.errors));
	json_object_set_new(o, "seconds", json_real(secs));
	json_object_set_new(o, "throughput", json_real(secs > 0 ? (double)g.ok / secs : 0));
	json_object_set_new(o, "p50_ms", num_or_null(q[0]));
	json_object_set_new(o, "p90_ms", num_or_null(q[1]));
	json_object_set_new(o, "p99_ms", num_or_null(q[2]));
	json_object_set_new(o, "max_ms", num_or_null(g.ok ? g.max_us / 1000.0 : -1));
	json_object_set_new(o, "rss_start_kb", int_or_null(rss[0]));
	json_object_set_new(o, "rss_end_kb", int_or_null(rss[1]));
	json_object_set_new(o, "rss_max_kb", int_or_null(rss[2]));
	json_object_set_new(o, "not_sent", json_integer((json_int_t)(g.scheduled - g.sent)));
	json_object_set_new(o, "retries", json_integer((json_int_t)g.retries));
	json_object_set_new(o, "first_error",
	                    g.first_error[0] ? json_string(g.first_error) : json_null());
	int r = json_dump_file(o, path, JSON_INDENT(0) | JSON_REAL_PRECISION(6));
	json_decref(o);
	if (r != 0)
		fprintf(stderr, "load_score: --json %s: cannot write\n", path);
	return r;
}

static void report(const long *rss) {
	double secs = g.t_end - g.t0,
	       q[3] = {quantile_ms(0.5), quantile_ms(0.9), quantile_ms(0.99)};
	printf("requests sent   %llu (due %llu; not sent, behind at the end: %llu)\n",
	       (unsigned long long)g.sent, (unsigned long long)g.scheduled,
	       (unsigned long long)(g.scheduled - g.sent));
	if (stopping)
		printf("stopped by a signal after %.2f s\n", secs);
	printf("answered OK     %llu\n", (unsigned long long)g.ok);
	printf("refused (429)   %llu\n", (unsigned long long)g.refused);
	printf("errors          %llu%s%s\n", (unsigned long long)g.errors,
	       g.first_error[0] ? "; first: " : "", g.first_error);
	if (g.retries)
		printf("sent again      %llu (the server had closed a kept-alive connection "
		       "without answering; counted once)\n",
		       (unsigned long long)g.retries);
	printf("throughput      %.1f answered/s over %.2f s\n", secs > 0 ? (double)g.ok / secs : 0,
	       secs);
	if (g.ok)
		printf("latency ms      median %.3f  p90 %.3f  p99 %.3f  max %.3f (from the "
		       "scheduled send)\n",
		       q[0], q[1], q[2], g.max_us / 1000.0);
	else
		printf("latency ms      - (nothing answered OK)\n");
	if (g.o.pid > 0)
		printf("node RSS kB     start %ld  end %ld  max %ld\n", rss[0], rss[1], rss[2]);
	if (g.o.json)
		(void)write_json(g.o.json, secs, q, rss);
}

/* ---- main ---- */

/* Start the workers, sample the node's memory every second until they are
 * done (or duration + 11 s, which they never pass), then the last sample. */
static void run(worker *w, long *rss) {
	int n = g.o.connections;
	double hard = g.t_stop + REQ_TIMEOUT + 1, next_sample = g.t0 + 1;
	g.running = n;
	for (int k = 0; k < n; k++) {
		load_http_init(&w[k].conn, &g.addr);
		w[k].started = pthread_create(&w[k].th, NULL, work, &w[k]) == 0;
		if (!w[k].started) {
			pthread_mutex_lock(&g.mu);
			g.running--;
			pthread_mutex_unlock(&g.mu);
		}
	}
	for (;;) {
		pthread_mutex_lock(&g.mu);
		int left = g.running;
		pthread_mutex_unlock(&g.mu);
		double now = load_now();
		if (left == 0 || now > hard)
			break;
		if (g.o.pid > 0 && now >= next_sample) {
			long kb = rss_kb(g.o.pid);
			if (kb > rss[2])
				rss[2] = kb;
			next_sample += 1;
		}
		struct timespec ts = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (g.running == 0) {
		for (int k = 0; k < n; k++)
			if (w[k].started)
				pthread_join(w[k].th, NULL);
	} else {
		/* never expected: every wait has a deadline. Keep the lock so that
		 * no late answer changes the figures while they are reported. */
		pthread_mutex_lock(&g.mu);
		fprintf(stderr,
		        "load_score: %d connections still waiting at duration + 11 s; "
		        "reporting without them\n",
		        g.running);
		g.t_end = load_now();
	}
	if (g.o.pid > 0) {
		rss[1] = rss_kb(g.o.pid);
		if (rss[1] > rss[2])
			rss[2] = rss[1];
	}
}

/* Everything before the run: the token, the rows, the files, the first
 * connection. Returns the exit code, or -1 to go on. */
static int prepare(long *rss) {
	struct sockaddr_in a;
	double due = ceil(g.o.duration * g.o.rate - 1e-9);
	g.scheduled = (uint64_t)(due < 1 ? 1 : due);
	if (g.scheduled > g.o.max_requests)
		g.scheduled = g.o.max_requests;
	size_t need = g.scheduled * (uint64_t)g.o.per_request;
	if (load_http_parse_url(g.o.url, &a, g.host, sizeof(g.host)) != MPC_OK) {
		fprintf(stderr, "load_score: %s\n", mpc_error_detail());
		return 1;
	}
	g.addr = a;
	if ((g.service_json = quote_json(g.o.service)) == NULL) {
		fprintf(stderr, "load_score: --service: control characters\n");
		return 1;
	}
	if (read_token(g.o.token_file, &g.token) ||
	    load_rows(g.o.features, g.o.columns, need < MAX_ROWS ? need : MAX_ROWS, &g.r))
		return 1;
	if (g.o.out &&
	    ((g.out = fopen(g.o.out, "w")) == NULL || fputs("row,score,flag\n", g.out) < 0)) {
		fprintf(stderr, "load_score: --out %s: %s\n", g.o.out, strerror(errno));
		return 1;
	}
	if (g.o.pid > 0 && (rss[0] = rss[2] = rss_kb(g.o.pid)) < 0) {
		fprintf(stderr, "load_score: --pid %ld: no VmRSS in /proc/%ld/status\n", g.o.pid,
		        g.o.pid);
		return 1;
	}
	load_conn c;
	load_http_init(&c, &g.addr);
	mpc_err e = load_http_connect(&c, load_now() + CONNECT_TIMEOUT);
	load_http_fini(&c);
	if (e != MPC_OK) {
		fprintf(stderr, "load_score: could not connect: %s\n", mpc_error_detail());
		return 3;
	}
	return -1;
}

int main(int argc, char **argv) {
	long rss[3] = {-1, -1, -1};
	int code;
	if (parse_args(argc, argv, &g.o)) {
		fputs(usage_text, stderr);
		return 1;
	}
	if ((code = prepare(rss)) >= 0)
		goto out;
	worker *w = calloc((size_t)g.o.connections, sizeof(worker));
	if (w == NULL) {
		code = 1;
		goto out;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	printf("POST http://%s/score: %.6g requests/s for %.6g s (%llu due), %d connections, %d "
	       "transaction(s) each\n",
	       g.host, g.o.rate, g.o.duration, (unsigned long long)g.scheduled, g.o.connections,
	       g.o.per_request);
	fflush(stdout);
	g.t0 = load_now();
	g.t_stop = g.t0 + g.o.duration;
	run(w, rss);
	if (g.out && fclose(g.out) != 0)
		fprintf(stderr, "load_score: --out %s: %s\n", g.o.out, strerror(errno));
	g.out = NULL;
	report(rss);
	code = g.errors * 100 > g.sent ? 2 : 0;
	if (g.running == 0) {
		for (int k = 0; k < g.o.connections; k++) {
			load_http_fini(&w[k].conn);
			mpc_wipe_free(w[k].req, w[k].req_cap);
		}
		free(w);
	}
out:
	if (g.out)
		fclose(g.out);
	if (g.token)
		mpc_wipe_free(g.token, strlen(g.token));
	free(g.service_json);
	free(g.r.text);
	free(g.r.off);
	return code;
}
