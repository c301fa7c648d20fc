/* The node's configuration file (see mpc_node_cfg.h). */
#include "node/mpc_node_cfg.h"

#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/mpc_ini.h"
#include "jobs/mpc_job.h"
#include "net/mpc_keys.h"
#include "runtime/mpc_file.h"
#include "runtime/mpc_wipe.h"

typedef struct {
	const char *name, *dir;
	mpc_node_cfg *c;
	int in_node, peer; /* in [node]; index of the [peer] we are in, or -1 */
	int seen_node;
	unsigned seen; /* bits of [node] keys given */
	int peer_addr_seen, peer_fp_seen;
	mpc_err err;
} reader;

static const char *const node_keys[] = {"name",        "keys",       "policy",      "state",
                                        "api",         "token_file", "listen",      "party_program",
                                        "job_timeout", "api_remote", "score_stock", "score_window"};
#define N_NODE_KEYS        (sizeof(node_keys) / sizeof(node_keys[0]))
#define REQUIRED_NODE_KEYS 0x7fu /* name .. listen */

static mpc_err bad(reader *r, int line, const char *sec, const char *key, const char *fmt, ...)
    MPC_PRINTF(5, 6);
static mpc_err bad(reader *r, int line, const char *sec, const char *key, const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	r->err = mpc_ini_verror(r->name, line, sec, key, fmt, ap);
	va_end(ap);
	return r->err;
}

/* HOST:PORT, HOST an IPv4 literal, [IPv6] or a name; PORT 1..65535. */
static int hostport_ok(const char *s) {
	const char *colon = strrchr(s, ':');
	if (colon == NULL || colon == s || strlen(s) > 255)
		return 0;
	if (s[0] == '[' && colon[-1] != ']')
		return 0;
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || port < 1 || port > 65535)
		return 0;
	for (const char *p = s; p < colon; p++)
		if (*p <= ' ' || *p == '/' || *p == '@')
			return 0;
	return 1;
}

static int loopback(const char *hostport) {
	return strncmp(hostport, "127.", 4) == 0 || strncmp(hostport, "[::1]:", 6) == 0 ||
	       strncmp(hostport, "localhost:", 10) == 0;
}

static mpc_err set_path(reader *r, int line, const char *key, const char *v, char *out) {
	if (v[0] == '\0')
		return bad(r, line, "node", key, "expected a path");
	int n = v[0] == '/' ? snprintf(out, MPC_NODE_PATH_MAX, "%s", v)
	                    : snprintf(out, MPC_NODE_PATH_MAX, "%s/%s", r->dir, v);
	if (n < 0 || n >= MPC_NODE_PATH_MAX)
		return bad(r, line, "node", key, "path longer than %d characters",
		           MPC_NODE_PATH_MAX - 1);
	return MPC_OK;
}

static mpc_err on_section(void *user, int line, const char *name) {
	reader *r = user;
	mpc_node_cfg *c = r->c;
	if (r->peer >= 0 && (!r->peer_addr_seen || !r->peer_fp_seen))
		return bad(r, c->peers[r->peer].line, NULL, NULL, "[peer %s] needs %s",
		           c->peers[r->peer].name, r->peer_addr_seen ? "fingerprint" : "address");
	r->in_node = 0;
	r->peer = -1;
	if (strcmp(name, "node") == 0) {
		if (r->seen_node)
			return bad(r, line, "node", NULL, "the section appears twice");
		r->seen_node = r->in_node = 1;
		return MPC_OK;
	}
	if (strncmp(name, "peer ", 5) == 0) {
		const char *pn = name + 5;
		while (*pn == ' ')
			pn++;
		if (!mpc_job_name_ok(pn, 32))
			return bad(r, line, NULL, NULL,
			           "[peer NAME]: NAME must be 1 to 32 of A-Z a-z 0-9 . _ -");
		if (mpc_node_cfg_peer(c, pn) >= 0)
			return bad(r, line, NULL, NULL, "[peer %s] appears twice", pn);
		if (c->n_peers == MPC_NODE_MAX_PEERS)
			return bad(r, line, NULL, NULL, "more than %d peers", MPC_NODE_MAX_PEERS);
		r->peer = c->n_peers++;
		snprintf(c->peers[r->peer].name, sizeof(c->peers[r->peer].name), "%s", pn);
		c->peers[r->peer].line = line;
		r->peer_addr_seen = r->peer_fp_seen = 0;
		return MPC_OK;
	}
	return bad(r, line, NULL, NULL, "unknown section [%s] (expected [node] or [peer NAME])",
	           name);
}

static mpc_err on_node_pair(reader *r, int line, int k, const char *v) {
	mpc_node_cfg *c = r->c;
	const char *key = node_keys[k];
	switch (k) {
	case 0:
		if (!mpc_job_name_ok(v, 32))
			return bad(r, line, "node", key, "expected 1 to 32 of A-Z a-z 0-9 . _ -");
		snprintf(c->name, sizeof(c->name), "%s", v);
		return MPC_OK;
	case 1:
		return set_path(r, line, key, v, c->keys);
	case 2:
		return set_path(r, line, key, v, c->policy);
	case 3:
		return set_path(r, line, key, v, c->state);
	case 5:
		return set_path(r, line, key, v, c->token_file);
	case 7:
		return set_path(r, line, key, v, c->party_program);
	case 4:
	case 6:
		if (!hostport_ok(v))
			return bad(
			    r, line, "node", key,
			    "expected HOST:PORT (127.0.0.1:8701, [::1]:8701), port 1..65535");
		snprintf(k == 4 ? c->api : c->listen, sizeof(c->api), "%s", v);
		return MPC_OK;
	case 8: {
		char *end;
		double d = strtod(v, &end);
		if (v[0] == '\0' || *end != '\0' || !isfinite(d) || d <= 0 || d > 86400)
			return bad(r, line, "node", key, "expected seconds in (0, 86400]");
		c->job_timeout_s = d;
		return MPC_OK;
	}
	case 10:
	case 11: {
		char *end;
		unsigned long long x = strtoull(v, &end, 10);
		if (v[0] < '0' || v[0] > '9' || *end != '\0' || x > 1000000)
			return bad(r, line, "node", key,
			           "expected a whole number of rows, 0..1000000");
		*(k == 10 ? &c->score_stock : &c->score_window) = x;
		return MPC_OK;
	}
	default:
		if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0)
			return bad(r, line, "node", key, "expected yes or no");
		c->api_remote = strcmp(v, "yes") == 0;
		return MPC_OK;
	}
}

static mpc_err on_pair(void *user, int line, const char *key, const char *value) {
	reader *r = user;
	if (r->in_node) {
		for (size_t k = 0; k < N_NODE_KEYS; k++) {
			if (strcmp(key, node_keys[k]) != 0)
				continue;
			if (r->seen & (1u << k))
				return bad(r, line, "node", key, "given twice");
			r->seen |= 1u << k;
			return on_node_pair(r, line, (int)k, value);
		}
		char known[256];
		mpc_ini_join(known, sizeof(known), node_keys, N_NODE_KEYS);
		return bad(r, line, "node", key, "unknown key (known: %s)", known);
	}
	if (r->peer < 0)
		return bad(r, line, NULL, key, "outside a section");
	mpc_node_peer_cfg *p = &r->c->peers[r->peer];
	char sec[64];
	snprintf(sec, sizeof(sec), "peer %s", p->name);
	if (strcmp(key, "address") == 0) {
		if (r->peer_addr_seen++)
			return bad(r, line, sec, key, "given twice");
		if (!hostport_ok(value))
			return bad(r, line, sec, key, "expected HOST:PORT, port 1..65535");
		snprintf(p->address, sizeof(p->address), "%s", value);
		return MPC_OK;
	}
	if (strcmp(key, "fingerprint") == 0) {
		if (r->peer_fp_seen++)
			return bad(r, line, sec, key, "given twice");
		if (mpc_fingerprint_parse(value, p->fingerprint) != MPC_OK)
			return bad(r, line, sec, key, "%s", mpc_error_detail());
		return MPC_OK;
	}
	return bad(r, line, sec, key, "unknown key (known: address, fingerprint)");
}

static mpc_err finish(reader *r) {
	mpc_node_cfg *c = r->c;
	if (r->peer >= 0 && (!r->peer_addr_seen || !r->peer_fp_seen))
		return bad(r, c->peers[r->peer].line, NULL, NULL, "[peer %s] needs %s",
		           c->peers[r->peer].name, r->peer_addr_seen ? "fingerprint" : "address");
	if (!r->seen_node)
		return bad(r, 0, NULL, NULL, "no [node] section");
	for (size_t k = 0; k < N_NODE_KEYS; k++)
		if ((REQUIRED_NODE_KEYS & (1u << k)) && !(r->seen & (1u << k)))
			return bad(r, 0, "node", node_keys[k], "required");
	if (c->n_peers == 0)
		return bad(r, 0, NULL, NULL, "no [peer NAME] section: a node needs its peers");
	if (!c->api_remote && !loopback(c->api))
		return bad(r, 0, "node", "api",
		           "%s is not a loopback address: the API is for this machine's systems "
		           "(set api_remote = yes to expose it, behind a firewall)",
		           c->api);
	for (int i = 0; i < c->n_peers; i++) {
		if (strcmp(c->peers[i].name, c->name) == 0)
			return bad(r, c->peers[i].line, NULL, NULL,
			           "[peer %s] is this node's own name", c->name);
		for (int j = 0; j < i; j++)
			if (memcmp(c->peers[i].fingerprint, c->peers[j].fingerprint, 32) == 0)
				return bad(r, c->peers[i].line, NULL, NULL,
				           "[peer %s] has the fingerprint of [peer %s]",
				           c->peers[i].name, c->peers[j].name);
	}
	return MPC_OK;
}

mpc_err mpc_node_cfg_parse(const char *name, const char *dir, const char *text, size_t len,
                           mpc_node_cfg *out) {
	if (out == NULL || dir == NULL || (text == NULL && len > 0))
		return mpc_error(MPC_EINVAL, "mpc_node_cfg_parse: bad arguments");
	memset(out, 0, sizeof(*out));
	reader r = {.name = name ? name : "node config", .dir = dir, .c = out, .peer = -1};
	snprintf(out->path, sizeof(out->path), "%s", r.name);
	out->job_timeout_s = 3600;
	out->score_stock = 2000;
	const mpc_ini_reader rd = {
	    .section = on_section, .pair = on_pair, .user = &r, .what = "node configuration"};
	mpc_err err = mpc_ini_parse(r.name, text, len, &rd);
	if (err == MPC_OK)
		err = finish(&r);
	if (err != MPC_OK) {
		memset(out, 0, sizeof(*out));
		return err;
	}
	return MPC_OK;
}

mpc_err mpc_node_cfg_load(const char *path, mpc_node_cfg *out) {
	char *text = NULL, dirbuf[MPC_NODE_PATH_MAX];
	size_t len = 0;
	if (path == NULL || out == NULL)
		return mpc_error(MPC_EINVAL, "mpc_node_cfg_load: bad arguments");
	mpc_err err = mpc_file_read_all(path, 1 << 20, &text, &len);
	if (err != MPC_OK)
		return err;
	snprintf(dirbuf, sizeof(dirbuf), "%s", path);
	err = mpc_node_cfg_parse(path, dirname(dirbuf), text, len, out);
	mpc_wipe_free(text, len);
	return err;
}

int mpc_node_cfg_peer(const mpc_node_cfg *c, const char *name) {
	for (int i = 0; c && name && i < c->n_peers; i++)
		if (strcmp(c->peers[i].name, name) == 0)
			return i;
	return -1;
}
