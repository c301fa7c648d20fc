/* The local API server (node/mpc_http), driven by the real curl binary:
 * the bearer token (right, missing, wrong, a prefix, a longer one), the body
 * limit (exactly max_body, one more, with and without Content-Length), the
 * token file's rules and the listen address's, a port taken, the metrics
 * against the requests made, 50 requests at once, malformed HTTP on a raw
 * socket, a handler without a status, the error body's escaping, and a log
 * that holds neither the token nor a body. Skips when curl is absent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "node/mpc_http.h"
#include "runtime/mpc_log.h"
#include "tests/support/scratch.h"

#define TOKEN    "Zq3-tok_en.0123456789abcdefXYZ" /* 30 characters */
#define MAX_BODY 4096

static char dir[128], token_path[256];
static FILE *log_out;
static atomic_int handled; /* handler calls */

/* Echo method, path, query and body length as JSON; /slow sleeps 2 ms first;
 * /nostatus answers no status. */
static void handler(void *arg, const mpc_http_request *req, mpc_http_response *resp) {
	(void)arg;
	atomic_fetch_add(&handled, 1);
	if (strcmp(req->path, "/nostatus") == 0)
		return;
	if (strcmp(req->path, "/slow") == 0) {
		struct timespec ts = {0, 2000000};
		nanosleep(&ts, NULL);
	}
	json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "method", req->method, "path", req->path,
	                      "query", req->query, "len", (json_int_t)req->body_len);
	resp->body = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	resp->status = strlen(req->body) == req->body_len || req->body_len == 0 ? 200 : 500;
}

static void write_file(const char *path, const char *text, mode_t mode) {
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static mpc_http *start(const char *listen) {
	mpc_http_config cfg = {.listen = listen,
	                       .token_file = token_path,
	                       .max_body = MAX_BODY,
	                       .threads = 4,
	                       .handler = handler};
	mpc_http *h = NULL;
	mpc_err e = mpc_http_start(&cfg, &h);
	if (e != MPC_OK)
		fail_msg("mpc_http_start(%s): %s", listen, mpc_error_detail());
	assert_non_null(h);
	assert_true(mpc_http_port(h) > 0);
	return h;
}

/* curl with args against the server's URL path; the status it saw (0: no
 * answer), the body in body (size n). */
static int curl(const mpc_http *h, const char *args, const char *path, char *body, size_t n) {
	char cmd[1024], out[300], code[16] = "";
	snprintf(out, sizeof(out), "%s/out", dir);
	unlink(out);
	snprintf(cmd, sizeof(cmd),
	         "curl -sS --max-time 20 -o %s -w '%%{http_code}' %s 'http://127.0.0.1:%u%s'", out,
	         args, (unsigned)mpc_http_port(h), path);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	if (fgets(code, sizeof(code), p) == NULL)
		code[0] = '\0';
	pclose(p);
	if (body != NULL) {
		body[0] = '\0';
		FILE *f = fopen(out, "r");
		if (f != NULL) {
			size_t got = fread(body, 1, n - 1, f);
			body[got] = '\0';
			fclose(f);
		}
	}
	return atoi(code);
}

#define AUTH "-H 'Authorization: Bearer " TOKEN "'"

static int have_curl(void) {
	if (system("command -v curl >/dev/null 2>&1") == 0)
		return 1;
	print_message("curl not found: skipping (install it: apt-get install curl)\n");
	return 0;
}

static void test_auth(void **s) {
	(void)s;
	if (!have_curl())
		skip();
	mpc_http *h = start("127.0.0.1:0");
	char body[4096];

	assert_int_equal(curl(h, AUTH, "/jobs/j1/result?x=1&y=%20", body, sizeof(body)), 200);
	assert_string_equal(body, "{\"method\":\"GET\",\"path\":\"/jobs/j1/result\",\"query\":"
	                          "\"x=1&y=%20\",\"len\":0}");
	assert_int_equal(curl(h, "-X DELETE -H 'authorization: bearer " TOKEN "'", "/jobs/j1", body,
	                      sizeof(body)),
	                 200); /* header name and scheme: any case */
	assert_non_null(strstr(body, "\"method\":\"DELETE\""));

	int before = atomic_load(&handled);
	assert_int_equal(curl(h, "", "/jobs", body, sizeof(body)), 401);
	assert_non_null(strstr(body, "{\"error\":\""));
	assert_non_null(strstr(body, "bearer token"));
	assert_int_equal(
	    curl(h, "-H 'Authorization: Bearer wrong-token-0123456789'", "/jobs", NULL, 0), 401);
	char prefix[128], longer[128];
	snprintf(prefix, sizeof(prefix), "-H 'Authorization: Bearer %.*s'", (int)strlen(TOKEN) - 1,
	         TOKEN);
	assert_int_equal(curl(h, prefix, "/jobs", NULL, 0), 401);
	snprintf(longer, sizeof(longer), "-H 'Authorization: Bearer %sx'", TOKEN);
	assert_int_equal(curl(h, longer, "/jobs", NULL, 0), 401);
	assert_int_equal(curl(h, "-H 'Authorization: Basic " TOKEN "'", "/jobs", NULL, 0), 401);
	assert_int_equal(curl(h, "-H 'Authorization: Bearer'", "/jobs", NULL, 0), 401);
	/* with a body: refused before it is read */
	assert_int_equal(curl(h, "--data-binary '{\"job\":\"x\"}'", "/jobs", NULL, 0), 401);
	assert_int_equal(atomic_load(&handled), before); /* the handler never saw them */

	/* the challenge header */
	char cmd[512], hdr[300];
	snprintf(hdr, sizeof(hdr), "%s/hdr", dir);
	snprintf(cmd, sizeof(cmd), "curl -sS -o /dev/null -D %s 'http://127.0.0.1:%u/'", hdr,
	         (unsigned)mpc_http_port(h));
	assert_int_equal(system(cmd), 0);
	FILE *f = fopen(hdr, "r");
	assert_non_null(f);
	size_t got = fread(body, 1, sizeof(body) - 1, f);
	body[got] = '\0';
	fclose(f);
	assert_non_null(strstr(body, "WWW-Authenticate: Bearer"));
	assert_non_null(strstr(body, "Content-Type: application/json"));
	mpc_http_stop(h);
}

static void test_body_limit(void **s) {
	(void)s;
	if (!have_curl())
		skip();
	mpc_http *h = start("127.0.0.1:0");
	char body[512], args[512], exact[300], over[300], big[300];

	snprintf(exact, sizeof(exact), "%s/exact", dir);
	snprintf(over, sizeof(over), "%s/over", dir);
	snprintf(big, sizeof(big), "%s/big", dir);
	FILE *f = fopen(exact, "w");
	for (int i = 0; i < MAX_BODY; i++)
		fputc('a' + i % 26, f);
	fclose(f);
	f = fopen(over, "w");
	for (int i = 0; i < MAX_BODY + 1; i++)
		fputc('b', f);
	fclose(f);
	f = fopen(big, "w");
	for (int i = 0; i < 200000; i++)
		fputc('c', f);
	fclose(f);

	snprintf(args, sizeof(args), AUTH " --data-binary @%s", exact);
	assert_int_equal(curl(h, args, "/jobs", body, sizeof(body)), 200);
	assert_non_null(strstr(body, "\"len\":4096"));
	snprintf(args, sizeof(args), AUTH " -H 'Transfer-Encoding: chunked' --data-binary @%s",
	         exact);
	assert_int_equal(curl(h, args, "/jobs", body, sizeof(body)), 200);
	assert_non_null(strstr(body, "\"len\":4096"));

	int before = atomic_load(&handled);
	const char *ways[] = {"",                                /* Expect: 100-continue */
	                      "-H 'Expect:'",                    /* the body sent at once */
	                      "-H 'Transfer-Encoding: chunked'", /* no length: counted */
	                      "-H 'Transfer-Encoding: chunked' -H 'Expect:'"};
	for (size_t w = 0; w < sizeof(ways) / sizeof(ways[0]); w++) {
		snprintf(args, sizeof(args), AUTH " %s --data-binary @%s", ways[w], over);
		int code = curl(h, args, "/jobs", body, sizeof(body));
		if (code != 413 || strstr(body, "over the limit of 4096 bytes") == NULL)
			fail_msg("%s: %d %s", ways[w], code, body);
		snprintf(args, sizeof(args), AUTH " %s --data-binary @%s", ways[w], big);
		assert_int_equal(curl(h, args, "/jobs", body, sizeof(body)), 413);
	}
	assert_int_equal(atomic_load(&handled), before);
	/* and the server goes on */
	assert_int_equal(curl(h, AUTH, "/", NULL, 0), 200);
	mpc_http_stop(h);
}

/* start with the token file holding text at mode: its error, or MPC_OK. */
static mpc_err start_with(const char *text, mode_t mode, const char *listen) {
	char path[300];
	snprintf(path, sizeof(path), "%s/tok-%d", dir, rand());
	write_file(path, text, mode);
	mpc_http_config cfg = {.listen = listen, .token_file = path, .handler = handler};
	mpc_http *h = (mpc_http *)&cfg;
	mpc_err e = mpc_http_start(&cfg, &h);
	if (e == MPC_OK)
		mpc_http_stop(h);
	else
		assert_null(h);
	return e;
}

static void test_token_file(void **s) {
	(void)s;
	char path[300];
	assert_int_equal(start_with(TOKEN "\n", 0600, "127.0.0.1:0"), MPC_OK);
	assert_int_equal(start_with(TOKEN, 0400, "127.0.0.1:0"), MPC_OK);
	assert_int_equal(start_with("0123456789abcdef\r\n", 0600, "127.0.0.1:0"), MPC_OK); /* 16 */

	assert_int_equal(start_with(TOKEN "\n", 0644, "127.0.0.1:0"), MPC_ECONFIG);
	scratch_detail_has(dir);
	scratch_detail_has("chmod 600 ");
	scratch_detail_has("0644");
	assert_int_equal(start_with(TOKEN "\n", 0640, "127.0.0.1:0"), MPC_ECONFIG);
	scratch_detail_has("chmod 600 ");

	assert_int_equal(start_with("0123456789abcde\n", 0600, "127.0.0.1:0"),
	                 MPC_ECONFIG); /* 15 */
	scratch_detail_has("too short");
	scratch_detail_has("16 to 256");
	assert_null(strstr(mpc_error_detail(), "0123456789abcde")); /* never the token */
	assert_int_equal(start_with("", 0600, "127.0.0.1:0"), MPC_ECONFIG);
	char lng[300];
	memset(lng, 'k', 257);
	lng[257] = '\0';
	assert_int_equal(start_with(lng, 0600, "127.0.0.1:0"), MPC_ECONFIG);
	scratch_detail_has("too long");
	lng[256] = '\0';
	assert_int_equal(start_with(lng, 0600, "127.0.0.1:0"), MPC_OK);
	assert_int_equal(start_with("0123456789 abcdefgh", 0600, "127.0.0.1:0"), MPC_ECONFIG);
	scratch_detail_has("space");
	assert_int_equal(start_with(TOKEN "\n\n", 0600, "127.0.0.1:0"), MPC_ECONFIG);

	/* missing, a directory */
	mpc_http *h = NULL;
	snprintf(path, sizeof(path), "%s/no-such-token", dir);
	mpc_http_config cfg = {.listen = "127.0.0.1:0", .token_file = path, .handler = handler};
	assert_int_equal(mpc_http_start(&cfg, &h), MPC_ECONFIG);
	scratch_detail_has(path);
	scratch_detail_has("No such file");
	cfg.token_file = dir;
	assert_int_equal(mpc_http_start(&cfg, &h), MPC_ECONFIG);
	scratch_detail_has("not a regular file");
	cfg.handler = NULL;
	cfg.token_file = token_path;
	assert_int_equal(mpc_http_start(&cfg, &h), MPC_EINVAL);
	assert_null(h);
	mpc_http_stop(NULL);
}

static void test_listen(void **s) {
	(void)s;
	const char *bad[] = {
	    "localhost:8701", "127.0.0.1",     "127.0.0.1:", "127.0.0.1:65536", ":8701",
	    "1.2.3:80",       "127.0.0.1:80x", "[::1]8701",  "[::1]",           "::1:8701",
	    "[127.0.0.1]:80", "127.0.0.1:-1",  "",           "[]:80",           "127.0.0.1:123456"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (start_with(TOKEN, 0600, bad[i]) != MPC_ECONFIG)
			fail_msg("listen \"%s\" accepted", bad[i]);
		scratch_detail_has("listen address");
		scratch_detail_has("127.0.0.1:8701"); /* the example */
	}
	mpc_http_config cfg = {.token_file = token_path, .handler = handler};
	mpc_http *h = NULL;
	assert_int_equal(mpc_http_start(&cfg, &h), MPC_ECONFIG); /* no listen */
	cfg.listen = "127.0.0.1:0";
	cfg.max_body = MPC_HTTP_MAX_BODY_LIMIT + 1;
	assert_int_equal(mpc_http_start(&cfg, &h), MPC_ECONFIG);
	scratch_detail_has("max_body");
	cfg.max_body = 0;
	cfg.threads = MPC_HTTP_MAX_THREADS + 1;
	assert_int_equal(mpc_http_start(&cfg, &h), MPC_ECONFIG);
	scratch_detail_has("threads");
	cfg.threads = 0;
	assert_null(h);

	/* IPv6 loopback, where the machine has it */
	cfg.listen = "[::1]:0";
	mpc_err e = mpc_http_start(&cfg, &h);
	if (e == MPC_OK) {
		assert_true(mpc_http_port(h) > 0);
		mpc_http_stop(h);
	} else {
		assert_int_equal(e, MPC_ENET);
		print_message("no IPv6 loopback here: %s\n", mpc_error_detail());
	}
}

static void test_port_taken(void **s) {
	(void)s;
	mpc_http *a = start("127.0.0.1:0"), *b = NULL;
	char addr[64], want[128];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)mpc_http_port(a));
	mpc_http_config cfg = {.listen = addr, .token_file = token_path, .handler = handler};
	assert_int_equal(mpc_http_start(&cfg, &b), MPC_ENET);
	assert_null(b);
	snprintf(want, sizeof(want), "cannot listen on %s: Address already in use", addr);
	scratch_detail_has(want);
	mpc_http_stop(a);
	/* free again once the first is gone */
	assert_int_equal(mpc_http_start(&cfg, &b), MPC_OK);
	mpc_http_stop(b);
}

/* "NAME VALUE" line of the metrics text: VALUE, or -1 if absent. */
static long long metric(const char *text, const char *name) {
	char want[200];
	snprintf(want, sizeof(want), "\n%s ", name);
	const char *p = strstr(text, want);
	return p ? atoll(p + strlen(want)) : -1;
}

static void test_metrics(void **s) {
	(void)s;
	if (!have_curl())
		skip();
	mpc_http *h = start("127.0.0.1:0");
	int n = 0;
	for (int i = 0; i < 5; i++, n++)
		assert_int_equal(curl(h, AUTH, "/slow", NULL, 0), 200);
	for (int i = 0; i < 3; i++, n++)
		assert_int_equal(curl(h, AUTH, "/jobs", NULL, 0), 200);
	assert_int_equal(curl(h, "", "/jobs", NULL, 0), 401), n++;
	assert_int_equal(curl(h, AUTH, "/nostatus", NULL, 0), 500), n++;

	char *buf = strdup("# before\n");
	size_t len = strlen(buf);
	assert_int_equal(mpc_http_metrics(h, &buf, &len), MPC_OK);
	assert_int_equal(strlen(buf), len);
	assert_int_equal(strncmp(buf, "# before\n", 9), 0); /* appended */
	assert_non_null(strstr(buf, "# TYPE mpc_api_request_seconds histogram\n"));
	assert_non_null(strstr(buf, "\nmpc_api_request_seconds_bucket{le=\"0.0005\"} "));
	assert_non_null(strstr(buf, "\nmpc_api_request_seconds_bucket{le=\"10\"} "));
	assert_int_equal(metric(buf, "mpc_api_request_seconds_bucket{le=\"+Inf\"}"), n);
	assert_int_equal(metric(buf, "mpc_api_request_seconds_count"), n);
	/* five slept 2 ms: none is under 1 ms */
	assert_true(metric(buf, "mpc_api_request_seconds_bucket{le=\"0.001\"}") <= n - 5);
	const char *sum = strstr(buf, "\nmpc_api_request_seconds_sum ");
	assert_non_null(sum);
	assert_true(atof(sum + 29) >= 0.010);
	assert_non_null(strstr(buf, "# TYPE mpc_api_requests_total counter\n"));
	assert_int_equal(metric(buf, "mpc_api_requests_total{code=\"2xx\"}"), 8);
	assert_int_equal(metric(buf, "mpc_api_requests_total{code=\"4xx\"}"), 1);
	assert_int_equal(metric(buf, "mpc_api_requests_total{code=\"5xx\"}"), 1);
	/* buckets are cumulative */
	long long prev = 0;
	for (const char *p = strstr(buf, "_bucket{"); p; p = strstr(p + 1, "_bucket{")) {
		long long v = atoll(strchr(p, '}') + 2);
		assert_true(v >= prev);
		prev = v;
	}
	free(buf);
	mpc_http_stop(h);
}

static void test_concurrent(void **s) {
	(void)s;
	if (!have_curl())
		skip();
	mpc_http *h = start("127.0.0.1:0");
	char cmd[1024], path[300];
	snprintf(cmd, sizeof(cmd),
	         "cd %s && for i in $(seq 1 50); do curl -sS --max-time 30 -o body.$i -w "
	         "'%%{http_code}' " AUTH " 'http://127.0.0.1:%u/slow?n='$i >code.$i 2>err.$i & "
	         "done; wait",
	         dir, (unsigned)mpc_http_port(h));
	assert_int_equal(system(cmd), 0);
	for (int i = 1; i <= 50; i++) {
		char code[16] = "", body[512] = "", want[32];
		snprintf(path, sizeof(path), "%s/code.%d", dir, i);
		FILE *f = fopen(path, "r");
		assert_non_null(f);
		if (fgets(code, sizeof(code), f) == NULL)
			code[0] = '\0';
		fclose(f);
		snprintf(path, sizeof(path), "%s/body.%d", dir, i);
		f = fopen(path, "r");
		if (f != NULL) {
			body[fread(body, 1, sizeof(body) - 1, f)] = '\0';
			fclose(f);
		}
		snprintf(want, sizeof(want), "\"query\":\"n=%d\"", i);
		if (strcmp(code, "200") != 0 || strstr(body, want) == NULL)
			fail_msg("request %d: %s %s", i, code, body);
	}
	char *buf = NULL;
	size_t len = 0;
	assert_int_equal(mpc_http_metrics(h, &buf, &len), MPC_OK);
	assert_int_equal(metric(buf, "mpc_api_request_seconds_count"), 50);
	free(buf);
	mpc_http_stop(h);
}

/* Send raw bytes on a fresh connection; read what comes back (up to n-1
 * bytes, for at most wait_ms) into out. */
static void raw(const mpc_http *h, const char *data, size_t len, int wait_ms, char *out, size_t n) {
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(mpc_http_port(h))};
	struct timeval tv = {wait_ms / 1000, (wait_ms % 1000) * 1000};
	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	for (size_t off = 0; off < len;) {
		ssize_t k = send(fd, data + off, len - off, MSG_NOSIGNAL);
		if (k <= 0)
			break; /* the server may close early */
		off += (size_t)k;
	}
	shutdown(fd, SHUT_WR);
	size_t got = 0;
	for (ssize_t k; got + 1 < n && (k = recv(fd, out + got, n - 1 - got, 0)) > 0;)
		got += (size_t)k;
	out[got] = '\0';
	close(fd);
}

/* A string literal, NULs included: an answer is expected (5 s at most), or
 * not (MHD may keep a connection it cannot parse until its timeout: 300 ms,
 * then we go). */
#define ANSWERED(h, lit) raw(h, lit, sizeof(lit) - 1, 5000, out, sizeof(out))
#define DROPPED(h, lit)  raw(h, lit, sizeof(lit) - 1, 300, out, sizeof(out))

static void test_malformed(void **s) {
	(void)s;
	if (!have_curl())
		skip();
	mpc_http *h = start("127.0.0.1:0");
	char out[4096];
	int before = atomic_load(&handled);

	DROPPED(h, "GARBAGE\r\n\r\n");
	DROPPED(h, "\x00\x01\x02\xff\r\n\r\n");
	ANSWERED(h, "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n");
	assert_null(strstr(out, " 200 "));
	ANSWERED(h, "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n");
	assert_null(strstr(out, " 200 "));
	ANSWERED(h, "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
	            "\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n");
	assert_null(strstr(out, " 200 "));
	ANSWERED(h, "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
	            "\r\nContent-Length: 5\r\nContent-Length: 9\r\n\r\n12345");
	assert_non_null(strstr(out, "HTTP/1.1 400 "));
	assert_non_null(strstr(out, "{\"error\":\"ambiguous body length"));
	ANSWERED(
	    h,
	    "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
	    "\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n0\r\n\r\n");
	assert_non_null(strstr(out, "HTTP/1.1 400 "));
	DROPPED(h, "GET / HTTP/1.1\r\nHost: x\r\n"); /* cut short */
	/* a header far over MHD's memory limit */
	size_t big = 200000;
	char *huge = malloc(big);
	assert_non_null(huge);
	memcpy(huge, "GET / HTTP/1.1\r\nX-A: ", 21);
	memset(huge + 21, 'a', big - 21);
	raw(h, huge, big, 5000, out, sizeof(out));
	assert_null(strstr(out, " 200 "));
	free(huge);
	/* a request without a token on a raw socket: 401 */
	ANSWERED(h, "GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_int_equal(strncmp(out, "HTTP/1.1 401", 12), 0);
	assert_int_equal(atomic_load(&handled), before);
	/* the server still serves */
	assert_int_equal(curl(h, AUTH, "/after", NULL, 0), 200);
	mpc_http_stop(h);
}

static void test_no_status(void **s) {
	(void)s;
	if (!have_curl())
		skip();
	mpc_http *h = start("127.0.0.1:0");
	char body[512];
	assert_int_equal(curl(h, AUTH, "/nostatus", body, sizeof(body)), 500);
	assert_non_null(strstr(body, "{\"error\":"));
	mpc_http_stop(h);
}

static void test_error_json(void **s) {
	(void)s;
	char *j = mpc_http_error_json("bad \"key\"\n\\ \x01");
	assert_non_null(j);
	assert_string_equal(j, "{\"error\":\"bad \\\"key\\\"\\n\\\\ \\u0001\"}");
	free(j);
	j = mpc_http_error_json("caf\xc3\xa9 \xff\xfe");
	assert_non_null(j);
	json_error_t je;
	json_t *o = json_loads(j, 0, &je); /* valid JSON all the same */
	assert_non_null(o);
	assert_true(json_is_string(json_object_get(o, "error")));
	json_decref(o);
	free(j);
}

/* The log: one line per request, no token, no body. */
static void test_log(void **s) {
	(void)s;
	if (!have_curl())
		skip();
	mpc_http *h = start("127.0.0.1:0");
	assert_int_equal(curl(h, AUTH " --data-binary 'secret-body-text'", "/logged", NULL, 0),
	                 200);
	assert_int_equal(
	    curl(h, "-H 'Authorization: Bearer not-the-token-but-long'", "/x", NULL, 0), 401);
	mpc_http_stop(h);
	fflush(log_out);
	long n = ftell(log_out);
	char *text = calloc(1, (size_t)n + 1);
	assert_non_null(text);
	rewind(log_out);
	assert_int_equal(fread(text, 1, (size_t)n, log_out), (size_t)n);
	fseek(log_out, 0, SEEK_END);
	assert_non_null(strstr(text, "DEBUG: http: POST /logged 200 "));
	assert_non_null(strstr(text, "DEBUG: http: GET /x 401 "));
	assert_null(strstr(text, TOKEN));
	assert_null(strstr(text, "not-the-token"));
	assert_null(strstr(text, "secret-body-text"));
	free(text);
}

static int setup(void **s) {
	(void)s;
	scratch_dir(dir, sizeof(dir), "http");
	snprintf(token_path, sizeof(token_path), "%s/token", dir);
	write_file(token_path, TOKEN "\n", 0600);
	return 0;
}

static int teardown(void **s) {
	(void)s;
	return scratch_remove(dir);
}

int main(void) {
	log_out = tmpfile();
	if (log_out == NULL)
		return 1;
	mpc_log_init("test", MPC_LOG_DEBUG, log_out);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_auth),       cmocka_unit_test(test_body_limit),
	    cmocka_unit_test(test_token_file), cmocka_unit_test(test_listen),
	    cmocka_unit_test(test_port_taken), cmocka_unit_test(test_metrics),
	    cmocka_unit_test(test_concurrent), cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_no_status),  cmocka_unit_test(test_error_json),
	    cmocka_unit_test(test_log),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
