/* A node's local policy: the file's sections and keys (jobs/mpc_ini reads
 * the syntax), and the decisions a node asks of it. Every rule keeps the line
 * it was written on, so that a refusal can say which rule refused. The only
 * secret here is a dataset's conninfo (it may carry a password): no message
 * prints a conninfo or a query, not even a part of one, and the policy and
 * the file's bytes are wiped before they are freed. */
#include "node/mpc_policy.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jobs/mpc_ini.h"
#include "jobs/mpc_job.h"
#include "jobs/mpc_kind.h"
#include "runtime/mpc_file.h"
#include "runtime/mpc_wipe.h"

#define MAX_FILE_BYTES   (1 << 20)
#define MAX_COMPUTATIONS 32
#define QUOTA_MAX        1e15 /* the largest quota (a double holds it exactly) */

enum { L_PROPOSERS, L_RECIPIENTS, L_ASKERS, N_LISTS };
static const char *const list_keys[N_LISTS] = {"proposers", "recipients", "askers"};
static const char *const list_doing[N_LISTS] = {"propose jobs to this node", "receive outputs",
                                                "ask queries of this node's model"};

enum { D_CSV, D_POSTGRES, D_QUERY, D_MAX_AMOUNT, D_MAX_ROWS, D_BUDGET_EPS, D_BUDGET_DELTA, N_DS };
static const char *const ds_keys[N_DS] = {"csv",      "postgres",       "query",       "max_amount",
                                          "max_rows", "budget_epsilon", "budget_delta"};

enum { P_MAX_EPSILON, P_MAX_DELTA, P_REQUIRE, N_DP };
static const char *const dp_keys[N_DP] = {"max_epsilon", "max_delta", "require"};

static const char *const period_keys[MPC_POLICY_N_PERIODS] = {"per_minute", "per_day", "total"};
static const char *const period_words[MPC_POLICY_N_PERIODS] = {"per minute", "per day", "in total"};

typedef struct {
	int line; /* of the key; 0: not given */
	int any;  /* "*" */
	int n;
	char names[MPC_POLICY_MAX_PEERS][MPC_POLICY_NAME_MAX + 1];
} name_list;

typedef struct {
	char computation[MPC_POLICY_NAME_MAX + 1];
	char peer[MPC_POLICY_NAME_MAX + 1]; /* "" for the default */
	int line;
	uint64_t limit[MPC_POLICY_N_PERIODS];
	int limit_line[MPC_POLICY_N_PERIODS];
} quota_sec;

struct mpc_policy {
	char path[512];
	char node[MPC_POLICY_NAME_MAX + 1];
	int node_line, name_line;
	int computations_line;
	name_list allow;
	int peers_line;
	name_list lists[N_LISTS];
	int dp_line, dp_seen[N_DP];
	double max_epsilon, max_delta;
	int require;
	size_t n_datasets;
	mpc_policy_dataset_info ds[MPC_POLICY_MAX_DATASETS];
	size_t n_quotas;
	quota_sec quotas[MPC_POLICY_MAX_QUOTAS];
};

typedef enum {
	SEC_NONE,
	SEC_NODE,
	SEC_COMPUTATIONS,
	SEC_PEERS,
	SEC_DP,
	SEC_DATASET,
	SEC_QUOTA
} sec_kind;

typedef struct {
	mpc_policy *p;
	const char *name; /* file name for messages */
	int line;
	mpc_err err;
	sec_kind kind;
	char sec[2 * MPC_POLICY_NAME_MAX + 16]; /* the section, rebuilt from checked words */
	mpc_policy_dataset_info *ds;
	int ds_seen[N_DS];
	quota_sec *q;
} parser;

/* ---- small checks ---- */

/* 1..32 characters of [A-Za-z0-9._-] */
static int valid_name(const char *s) {
	return mpc_job_name_ok(s, MPC_POLICY_NAME_MAX);
}

/* A name from outside, for a message: itself if valid, else a placeholder
 * (it could be anything, and long). */
static const char *shown(const char *s) {
	return valid_name(s) ? s : "(not a valid name)";
}

/* A key for a message: only [a-z0-9_]{1,32} is echoed. Keys end at the first
 * '=' or ':', so no value can be in one; this also keeps them short. */
static const char *shown_key(const char *s) {
	size_t n = strlen(s);
	if (n == 0 || n > 32 || s[strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_")] != '\0')
		return NULL;
	return s;
}

static int lookup(const char *const *list, size_t n, const char *s) {
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return (int)i;
	return -1;
}

/* A whole number of digits in [lo, hi]. */
static int whole(const char *s, double lo, double hi, uint64_t *out) {
	uint64_t v = 0;
	if (*s == '\0' || strlen(s) > 16)
		return 0;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return 0;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if ((double)v < lo || (double)v > hi)
		return 0;
	*out = v;
	return 1;
}

/* A finite decimal number in [lo, hi], lo excluded if lo_open, hi if
 * hi_open. */
static int real(const char *s, double lo, int lo_open, double hi, int hi_open, double *out) {
	double v;
	if (!mpc_kind_number(s, &v) || v < lo || (lo_open && v == lo) || v > hi ||
	    (hi_open && v == hi))
		return 0;
	*out = v;
	return 1;
}

/* ---- messages ---- */

/* Record the first error: "FILE:LINE: [sec] key: what" (parts left out when
 * line is 0, sec or key NULL). Returns 0, "stop". */
static int at(parser *ps, int line, const char *sec, const char *key, const char *fmt, ...)
    MPC_PRINTF(5, 6);
static int at(parser *ps, int line, const char *sec, const char *key, const char *fmt, ...) {
	va_list ap;

	if (ps->err != MPC_OK)
		return 0;
	va_start(ap, fmt);
	ps->err = mpc_ini_verror(ps->name, line, sec, key, fmt, ap);
	va_end(ap);
	return 0;
}

mpc_err mpc_policy_refuse(const mpc_policy *p, int line, const char *rule, const char *fmt, ...) {
	char why[512], where[600];
	va_list ap;

	if (p == NULL || rule == NULL || fmt == NULL)
		return mpc_error(MPC_EINVAL, "mpc_policy_refuse: no policy, rule or text");
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(where, sizeof(where), "%s:%d", p->path, line);
	else
		snprintf(where, sizeof(where), "%s", p->path);
	return mpc_error(MPC_EREFUSED, "policy of %s (%s): %s: %s", p->node, where, rule, why);
}

static int unknown_key(parser *ps, const char *key, const char *const *list, size_t n) {
	char known[256];
	mpc_ini_join(known, sizeof(known), list, n);
	return at(ps, ps->line, ps->sec, shown_key(key), "unknown key; [%s] takes %s", ps->sec,
	          known);
}

static int twice(parser *ps, const char *key, int first) {
	return at(ps, ps->line, ps->sec, key, "given twice (first on line %d)", first);
}

/* ---- lists of names ---- */

static void known_computations(char *out, size_t size) {
	const char *names[MAX_COMPUTATIONS];
	size_t n = 0;
	for (const mpc_kind *k; n < MAX_COMPUTATIONS && (k = mpc_kind_at(n)) != NULL; n++)
		names[n] = k->name;
	mpc_ini_join(out, size, names, n);
}

static int list_has(const name_list *l, const char *name) {
	for (int i = 0; i < l->n; i++)
		if (strcmp(l->names[i], name) == 0)
			return 1;
	return 0;
}

/* One item of a list, trimmed; computations: a kind's name, else a peer's
 * or "*". */
static int list_item(parser *ps, const char *key, name_list *l, const char *item, int nth,
                     int computations) {
	if (*item == '\0')
		return at(ps, ps->line, ps->sec, key,
		          "item %d is empty (two commas, or a comma at an end)", nth);
	if (strcmp(item, "*") == 0) {
		if (computations)
			return at(ps, ps->line, ps->sec, key,
			          "'*' is not allowed here: name each computation this node runs");
		l->any = 1;
		return 1;
	}
	if (!valid_name(item))
		return at(ps, ps->line, ps->sec, key,
		          "item %d: expected a name of 1 to %d characters of A-Z a-z 0-9 . _ -%s",
		          nth, MPC_POLICY_NAME_MAX, computations ? "" : " (or '*' alone)");
	if (computations && mpc_kind_find(item) == NULL) {
		char known[128];
		known_computations(known, sizeof(known));
		return at(ps, ps->line, ps->sec, key,
		          "unknown computation %s; this version knows %s", item, known);
	}
	if (list_has(l, item))
		return at(ps, ps->line, ps->sec, key, "%s listed twice", item);
	if (l->n == MPC_POLICY_MAX_PEERS)
		return at(ps, ps->line, ps->sec, key, "more than %d names", MPC_POLICY_MAX_PEERS);
	snprintf(l->names[l->n++], sizeof(l->names[0]), "%s", item);
	return 1;
}

static int parse_list(parser *ps, const char *key, const char *value, name_list *l,
                      int computations) {
	char buf[MPC_POLICY_MAX_TEXT + 1];
	int nth = 0;

	if (l->line)
		return twice(ps, key, l->line);
	l->line = ps->line;
	snprintf(buf, sizeof(buf), "%s", value);
	for (char *s = buf;;) {
		char *c = strchr(s, ',');
		if (c)
			*c = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
		size_t len = strlen(s);
		while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			s[--len] = '\0';
		if (!list_item(ps, key, l, s, ++nth, computations))
			return 0;
		if (!c)
			break;
		s = c + 1;
	}
	if (l->any && nth > 1)
		return at(ps, ps->line, ps->sec, key, "'*' (any peer) stands alone");
	return 1;
}

/* ---- sections ---- */

/* Checks a section needs once all its keys are read. */
static int close_dataset(parser *ps) {
	mpc_policy_dataset_info *d = ps->ds;
	const int *seen = ps->ds_seen;
	if (!seen[D_CSV] && !seen[D_POSTGRES])
		return at(ps, d->line, ps->sec, NULL,
		          "no source: give csv = PATH, or postgres = CONNINFO with query = SELECT "
		          "...");
	if (seen[D_POSTGRES] && !seen[D_QUERY])
		return at(ps, d->line, ps->sec, "query",
		          "missing: postgres needs query = SELECT ... (the rows to read)");
	if (seen[D_CSV] && seen[D_QUERY])
		return at(ps, seen[D_QUERY], ps->sec, "query",
		          "only with postgres (this dataset is the CSV file of line %d)",
		          seen[D_CSV]);
	for (int k = D_MAX_AMOUNT; k <= D_BUDGET_EPS; k++)
		if (!seen[k])
			return at(ps, d->line, ps->sec, ds_keys[k], "missing (required)");
	return 1;
}

static int close_section(parser *ps) {
	if (ps->kind == SEC_DATASET)
		return close_dataset(ps);
	if (ps->kind == SEC_QUOTA) {
		for (int k = 0; k < MPC_POLICY_N_PERIODS; k++)
			if (ps->q->limit_line[k])
				return 1;
		return at(ps, ps->q->line, ps->sec, NULL,
		          "sets no limit (per_minute, per_day or "
		          "total)");
	}
	return 1;
}

static int once(parser *ps, int *line) {
	if (*line)
		return at(ps, ps->line, ps->sec, NULL, "section given twice (first on line %d)",
		          *line);
	*line = ps->line;
	return 1;
}

static int open_dataset(parser *ps, char **w, int nw) {
	mpc_policy *p = ps->p;
	if (nw != 2 || !valid_name(w[1]))
		return at(ps, ps->line, "dataset NAME", NULL,
		          "expected one name of 1 to %d characters of A-Z a-z 0-9 . _ -",
		          MPC_POLICY_NAME_MAX);
	snprintf(ps->sec, sizeof(ps->sec), "dataset %s", w[1]);
	for (size_t i = 0; i < p->n_datasets; i++)
		if (strcmp(p->ds[i].name, w[1]) == 0)
			return at(ps, ps->line, ps->sec, NULL,
			          "section given twice (first on line %d)", p->ds[i].line);
	if (p->n_datasets == MPC_POLICY_MAX_DATASETS)
		return at(ps, ps->line, ps->sec, NULL, "too many datasets: at most %d",
		          MPC_POLICY_MAX_DATASETS);
	ps->ds = &p->ds[p->n_datasets++];
	snprintf(ps->ds->name, sizeof(ps->ds->name), "%s", w[1]);
	ps->ds->line = ps->line;
	memset(ps->ds_seen, 0, sizeof(ps->ds_seen));
	ps->kind = SEC_DATASET;
	return 1;
}

static int open_quota(parser *ps, char **w, int nw) {
	mpc_policy *p = ps->p;
	if (nw < 2 || nw > 3)
		return at(ps, ps->line, "quota COMPUTATION [PEER]", NULL,
		          "expected a computation's name, and a peer's for an override");
	if (!valid_name(w[1]) || mpc_kind_find(w[1]) == NULL) {
		char known[128];
		known_computations(known, sizeof(known));
		return at(ps, ps->line, "quota COMPUTATION [PEER]", NULL,
		          "unknown computation %s; this version knows %s", shown(w[1]), known);
	}
	if (nw == 3 && !valid_name(w[2]))
		return at(ps, ps->line, "quota COMPUTATION [PEER]", NULL,
		          "expected a peer's name of 1 to %d characters of A-Z a-z 0-9 . _ -",
		          MPC_POLICY_NAME_MAX);
	const char *peer = nw == 3 ? w[2] : "";
	snprintf(ps->sec, sizeof(ps->sec), "quota %s%s%s", w[1], *peer ? " " : "", peer);
	for (size_t i = 0; i < p->n_quotas; i++)
		if (strcmp(p->quotas[i].computation, w[1]) == 0 &&
		    strcmp(p->quotas[i].peer, peer) == 0)
			return at(ps, ps->line, ps->sec, NULL,
			          "section given twice (first on line %d)", p->quotas[i].line);
	if (p->n_quotas == MPC_POLICY_MAX_QUOTAS)
		return at(ps, ps->line, ps->sec, NULL, "too many quota sections: at most %d",
		          MPC_POLICY_MAX_QUOTAS);
	ps->q = &p->quotas[p->n_quotas++];
	snprintf(ps->q->computation, sizeof(ps->q->computation), "%s", w[1]);
	snprintf(ps->q->peer, sizeof(ps->q->peer), "%s", peer);
	ps->q->line = ps->line;
	ps->kind = SEC_QUOTA;
	return 1;
}

/* A header on the current line: its words split at blanks. */
static int open_section(parser *ps, const char *header) {
	char buf[MPC_POLICY_MAX_TEXT + 1], *w[4];
	int nw = 0;
	mpc_policy *p = ps->p;

	if (!close_section(ps))
		return 0;
	ps->kind = SEC_NONE;
	snprintf(buf, sizeof(buf), "%s", header);
	for (char *s = buf; *s && nw < 4;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0')
			break;
		w[nw++] = s;
		s += strcspn(s, " \t");
		if (*s)
			*s++ = '\0';
	}
	static const char *const plain[] = {"node", "computations", "peers", "dp"};
	static const sec_kind kinds[] = {SEC_NODE, SEC_COMPUTATIONS, SEC_PEERS, SEC_DP};
	int *const lines[] = {&p->node_line, &p->computations_line, &p->peers_line, &p->dp_line};
	int i = nw > 0 ? lookup(plain, 4, w[0]) : -1;
	if (i >= 0) {
		snprintf(ps->sec, sizeof(ps->sec), "%s", plain[i]);
		if (nw > 1)
			return at(ps, ps->line, ps->sec, NULL, "takes no name after %s", plain[i]);
		if (!once(ps, lines[i]))
			return 0;
		ps->kind = kinds[i];
		return 1;
	}
	if (nw > 0 && strcmp(w[0], "dataset") == 0)
		return open_dataset(ps, w, nw);
	if (nw > 0 && strcmp(w[0], "quota") == 0)
		return open_quota(ps, w, nw);
	return at(ps, ps->line, NULL, NULL,
	          "unknown section; expected [node], [computations], [peers], [dp], "
	          "[dataset NAME] or [quota COMPUTATION [PEER]]");
}

/* ---- keys ---- */

static int node_key(parser *ps, const char *key, const char *value) {
	mpc_policy *p = ps->p;
	const char *const keys[] = {"name"};
	if (strcmp(key, "name") != 0)
		return unknown_key(ps, key, keys, 1);
	if (p->name_line)
		return twice(ps, key, p->name_line);
	p->name_line = ps->line;
	if (!valid_name(value))
		return at(
		    ps, ps->line, ps->sec, key,
		    "expected this node's party name: 1 to %d characters of A-Z a-z 0-9 . _ -",
		    MPC_POLICY_NAME_MAX);
	snprintf(p->node, sizeof(p->node), "%s", value);
	return 1;
}

static int dp_key(parser *ps, const char *key, const char *value) {
	mpc_policy *p = ps->p;
	int k = lookup(dp_keys, N_DP, key);
	if (k < 0)
		return unknown_key(ps, key, dp_keys, N_DP);
	if (p->dp_seen[k])
		return twice(ps, key, p->dp_seen[k]);
	p->dp_seen[k] = ps->line;
	if (k == P_MAX_EPSILON && !real(value, 0, 1, 1e6, 0, &p->max_epsilon))
		return at(ps, ps->line, ps->sec, key,
		          "expected a number more than 0 and at most 1e6");
	if (k == P_MAX_DELTA && !real(value, 0, 0, 1, 1, &p->max_delta))
		return at(ps, ps->line, ps->sec, key, "expected a number from 0 to less than 1");
	if (k == P_REQUIRE) {
		if (strcmp(value, "yes") != 0 && strcmp(value, "no") != 0)
			return at(ps, ps->line, ps->sec, key,
			          "expected yes (a release must carry DP noise) or no");
		p->require = strcmp(value, "yes") == 0;
	}
	return 1;
}

/* The source keys: csv, postgres, query. No message shows the value. */
static int ds_source(parser *ps, int k, const char *value) {
	mpc_policy_dataset_info *d = ps->ds;
	const char *key = ds_keys[k];
	if (k == D_CSV || k == D_POSTGRES) {
		int other = k == D_CSV ? D_POSTGRES : D_CSV;
		if (ps->ds_seen[other])
			return at(ps, ps->line, ps->sec, key,
			          "%s is given too (line %d): a dataset has one source, csv or "
			          "postgres",
			          ds_keys[other], ps->ds_seen[other]);
		d->source = k == D_CSV ? MPC_POLICY_CSV : MPC_POLICY_POSTGRES;
		d->source_line = ps->line;
	}
	if (k == D_CSV) {
		if (value[0] != '/')
			return at(ps, ps->line, ps->sec, key,
			          "expected an absolute path (a node does not read files relative "
			          "to its working directory)");
		snprintf(d->csv, sizeof(d->csv), "%s", value);
	} else if (k == D_POSTGRES) {
		if (strncmp(value, "postgresql://", 13) != 0 &&
		    strncmp(value, "postgres://", 11) != 0 && strchr(value, '=') == NULL)
			return at(
			    ps, ps->line, ps->sec, key,
			    "expected a libpq conninfo: key=value words (host=... dbname=...) "
			    "or a postgresql:// URI");
		snprintf(d->conninfo, sizeof(d->conninfo), "%s", value);
	} else {
		size_t w = strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
		if (!((w == 6 && strncasecmp(value, "select", 6) == 0) ||
		      (w == 4 && strncasecmp(value, "with", 4) == 0)))
			return at(
			    ps, ps->line, ps->sec, key,
			    "expected a query that reads: SELECT ... (or WITH ... SELECT ...)");
		snprintf(d->query, sizeof(d->query), "%s", value);
		d->query_line = ps->line;
	}
	return 1;
}

static int ds_key(parser *ps, const char *key, const char *value) {
	mpc_policy_dataset_info *d = ps->ds;
	int k = lookup(ds_keys, N_DS, key);
	if (k < 0)
		return unknown_key(ps, key, ds_keys, N_DS);
	if (ps->ds_seen[k])
		return twice(ps, key, ps->ds_seen[k]);
	ps->ds_seen[k] = ps->line;
	switch (k) {
	case D_MAX_AMOUNT:
		d->max_amount_line = ps->line;
		if (!real(value, 1e-9, 0, 1e15, 0, &d->max_amount))
			return at(ps, ps->line, ps->sec, key,
			          "expected a number from 1e-9 to 1e15");
		return 1;
	case D_MAX_ROWS:
		d->max_rows_line = ps->line;
		if (!whole(value, 1, 1e12, &d->max_rows))
			return at(ps, ps->line, ps->sec, key,
			          "expected a whole number from 1 to 1000000000000");
		return 1;
	case D_BUDGET_EPS:
		d->budget_epsilon_line = ps->line;
		if (!real(value, 0, 1, 1e6, 0, &d->budget_epsilon))
			return at(ps, ps->line, ps->sec, key,
			          "expected a number more than 0 and at most 1e6");
		return 1;
	case D_BUDGET_DELTA:
		d->budget_delta_line = ps->line;
		if (!real(value, 0, 0, 1, 1, &d->budget_delta))
			return at(ps, ps->line, ps->sec, key,
			          "expected a number from 0 to less than 1");
		return 1;
	default:
		return ds_source(ps, k, value);
	}
}

static int quota_key(parser *ps, const char *key, const char *value) {
	quota_sec *q = ps->q;
	int k = lookup(period_keys, MPC_POLICY_N_PERIODS, key);
	if (k < 0)
		return unknown_key(ps, key, period_keys, MPC_POLICY_N_PERIODS);
	if (q->limit_line[k])
		return twice(ps, key, q->limit_line[k]);
	q->limit_line[k] = ps->line;
	if (strcmp(value, "unlimited") == 0) {
		q->limit[k] = 0;
		return 1;
	}
	if (strcmp(value, "0") == 0)
		return at(ps, ps->line, ps->sec, key,
		          "0 is no quota: write 'unlimited', or leave the peer out of [peers] to "
		          "refuse it");
	if (!whole(value, 1, QUOTA_MAX, &q->limit[k]))
		return at(ps, ps->line, ps->sec, key,
		          "expected a whole number from 1 to 1000000000000000, or unlimited");
	return 1;
}

static int pair(parser *ps, const char *key, const char *value) {
	mpc_policy *p = ps->p;
	if (ps->kind == SEC_NONE)
		return at(ps, ps->line, NULL, NULL,
		          "a key before any section: the file starts "
		          "with [node]");
	if (*key == '\0')
		return at(ps, ps->line, ps->sec, NULL,
		          "syntax error: expected key = value (no key before the =)");
	if (*value == '\0')
		return at(ps, ps->line, ps->sec, shown_key(key), "no value after the =");
	switch (ps->kind) {
	case SEC_NODE:
		return node_key(ps, key, value);
	case SEC_COMPUTATIONS: {
		const char *const keys[] = {"allow"};
		if (strcmp(key, "allow") != 0)
			return unknown_key(ps, key, keys, 1);
		return parse_list(ps, key, value, &p->allow, 1);
	}
	case SEC_PEERS: {
		int k = lookup(list_keys, N_LISTS, key);
		if (k < 0)
			return unknown_key(ps, key, list_keys, N_LISTS);
		return parse_list(ps, key, value, &p->lists[k], 0);
	}
	case SEC_DP:
		return dp_key(ps, key, value);
	case SEC_DATASET:
		return ds_key(ps, key, value);
	case SEC_QUOTA:
		return quota_key(ps, key, value);
	default:
		return 0; /* a bad header stopped the reading already */
	}
}

/* mpc_ini's callbacks: 1 from the helpers goes on, 0 stops with ps->err. */
static mpc_err on_section(void *user, int line, const char *name) {
	parser *ps = user;
	ps->line = line;
	return open_section(ps, name) ? MPC_OK : ps->err;
}

static mpc_err on_pair(void *user, int line, const char *key, const char *value) {
	parser *ps = user;
	ps->line = line;
	return pair(ps, key, value) ? MPC_OK : ps->err;
}

/* Checks that need the whole file. */
static int finish(parser *ps) {
	mpc_policy *p = ps->p;
	if (!close_section(ps))
		return 0;
	if (!p->node_line)
		return at(ps, 0, NULL, NULL, "no [node] section (it names this node)");
	if (!p->name_line)
		return at(ps, p->node_line, "node", "name", "missing (required)");
	/* an override for a peer no list names is a typo, or dead */
	for (size_t i = 0; i < p->n_quotas; i++) {
		const quota_sec *q = &p->quotas[i];
		const name_list *a = &p->lists[L_ASKERS], *r = &p->lists[L_PROPOSERS];
		if (q->peer[0] == '\0' || a->any || r->any || list_has(a, q->peer) ||
		    list_has(r, q->peer))
			continue;
		snprintf(ps->sec, sizeof(ps->sec), "quota %s %s", q->computation, q->peer);
		return at(ps, q->line, ps->sec, NULL,
		          "%s is named in neither [peers] askers nor [peers] proposers", q->peer);
	}
	return 1;
}

mpc_err mpc_policy_parse(const char *name, const char *text, size_t len, mpc_policy **out) {
	parser ps = {.name = name ? name : "policy"};

	if (out == NULL || (text == NULL && len > 0))
		return mpc_error(MPC_EINVAL,
		                 "mpc_policy_parse: no text or no place for the result");
	*out = NULL;
	if ((ps.p = calloc(1, sizeof(mpc_policy))) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	snprintf(ps.p->path, sizeof(ps.p->path), "%s", ps.name);
	ps.p->require = 1; /* a release carries DP noise unless the policy says otherwise */

	const mpc_ini_reader rd = {.section = on_section,
	                           .pair = on_pair,
	                           .user = &ps,
	                           .max_line = MPC_POLICY_MAX_TEXT,
	                           .what = "policy file"};
	mpc_err err = mpc_ini_parse(ps.name, text, len, &rd);
	if (err != MPC_OK)
		ps.err = err; /* mpc_ini's, or the one a callback recorded */
	else if (!finish(&ps))
		err = ps.err;
	if (err != MPC_OK) {
		mpc_policy_free(ps.p);
		return err;
	}
	*out = ps.p;
	return MPC_OK;
}

mpc_err mpc_policy_load(const char *path, mpc_policy **out) {
	char *buf = NULL;
	size_t len = 0;
	mpc_err err;

	if (out == NULL || path == NULL)
		return mpc_error(MPC_EINVAL, "mpc_policy_load: no path or no place for the result");
	*out = NULL;
	if ((err = mpc_file_read_all(path, MAX_FILE_BYTES, &buf, &len)) != MPC_OK)
		return err;
	err = mpc_policy_parse(path, buf, len, out);
	mpc_wipe_free(buf, len + 1);
	return err;
}

void mpc_policy_free(mpc_policy *p) {
	mpc_wipe_free(p, p ? sizeof(*p) : 0);
}

/* ---- decisions ---- */

const char *mpc_policy_node(const mpc_policy *p) {
	return p ? p->node : NULL;
}

const char *mpc_policy_path(const mpc_policy *p) {
	return p ? p->path : NULL;
}

/* The line to cite for a list: its key's, else its section's (0: neither). */
static int list_line(const name_list *l, int section_line) {
	return l->line ? l->line : section_line;
}

mpc_err mpc_policy_allow_computation(const mpc_policy *p, const char *computation) {
	const char *rule = "[computations] allow";
	if (p == NULL || computation == NULL)
		return mpc_error(MPC_EINVAL, "mpc_policy_allow_computation: no policy or name");
	if (!p->allow.line)
		return mpc_policy_refuse(p, p->computations_line, rule,
		                         "not given, so this node runs no computation");
	if (!list_has(&p->allow, computation))
		return mpc_policy_refuse(p, p->allow.line, rule,
		                         "%s is not a computation this node runs",
		                         shown(computation));
	return MPC_OK;
}

static mpc_err allow_peer(const mpc_policy *p, int which, const char *peer) {
	char rule[32];
	if (p == NULL || peer == NULL)
		return mpc_error(MPC_EINVAL, "mpc_policy_allow_%.*s: no policy or peer",
		                 (int)strlen(list_keys[which]) - 1, list_keys[which]);
	const name_list *l = &p->lists[which];
	int line = list_line(l, p->peers_line);
	snprintf(rule, sizeof(rule), "[peers] %s", list_keys[which]);
	if (!l->line)
		return mpc_policy_refuse(p, line, rule, "not given, so no peer may %s",
		                         list_doing[which]);
	if (!valid_name(peer))
		return mpc_policy_refuse(p, line, rule,
		                         "a peer without a valid party name may not %s",
		                         list_doing[which]);
	if (!l->any && !list_has(l, peer))
		return mpc_policy_refuse(p, line, rule, "%s may not %s", peer, list_doing[which]);
	return MPC_OK;
}

mpc_err mpc_policy_allow_proposer(const mpc_policy *p, const char *peer) {
	return allow_peer(p, L_PROPOSERS, peer);
}

mpc_err mpc_policy_allow_recipient(const mpc_policy *p, const char *peer) {
	return allow_peer(p, L_RECIPIENTS, peer);
}

mpc_err mpc_policy_allow_asker(const mpc_policy *p, const char *peer) {
	return allow_peer(p, L_ASKERS, peer);
}

mpc_err mpc_policy_dataset(const mpc_policy *p, const char *name,
                           const mpc_policy_dataset_info **out) {
	char rule[MPC_POLICY_NAME_MAX + 16];
	if (p == NULL || name == NULL || out == NULL)
		return mpc_error(MPC_EINVAL, "mpc_policy_dataset: no policy, name or place for it");
	*out = NULL;
	for (size_t i = 0; i < p->n_datasets; i++) {
		if (strcmp(p->ds[i].name, name) == 0) {
			*out = &p->ds[i];
			return MPC_OK;
		}
	}
	snprintf(rule, sizeof(rule), "[dataset %s]", shown(name));
	return mpc_policy_refuse(p, 0, rule, "no such dataset (this policy names %zu)",
	                         p->n_datasets);
}

const mpc_policy_dataset_info *mpc_policy_dataset_at(const mpc_policy *p, size_t i) {
	return p && i < p->n_datasets ? &p->ds[i] : NULL;
}

size_t mpc_policy_dataset_count(const mpc_policy *p) {
	return p ? p->n_datasets : 0;
}

mpc_err mpc_policy_check_dp(const mpc_policy *p, const char *dataset, double epsilon,
                            double delta) {
	const mpc_policy_dataset_info *d;
	mpc_err err;
	if (p == NULL || dataset == NULL)
		return mpc_error(MPC_EINVAL, "mpc_policy_check_dp: no policy or dataset");
	if (!isfinite(epsilon) || !isfinite(delta) || epsilon < 0 || delta < 0 || delta >= 1 ||
	    (epsilon == 0 && delta > 0))
		return mpc_error(MPC_EINVAL,
		                 "mpc_policy_check_dp: epsilon must be finite and >= 0, delta in "
		                 "[0, 1), and delta 0 without epsilon");
	if ((err = mpc_policy_dataset(p, dataset, &d)) != MPC_OK)
		return err;
	if (epsilon == 0) {
		if (!p->require)
			return MPC_OK;
		if (!p->dp_seen[P_REQUIRE])
			return mpc_policy_refuse(
			    p, p->dp_line, "[dp] require",
			    "not given, so a release from dataset %s must carry "
			    "DP noise (write require = no to allow exact ones)",
			    d->name);
		return mpc_policy_refuse(p, p->dp_seen[P_REQUIRE], "[dp] require",
		                         "a release from dataset %s must carry DP noise", d->name);
	}
	if (!p->dp_seen[P_MAX_EPSILON])
		return mpc_policy_refuse(p, p->dp_line, "[dp] max_epsilon",
		                         "not given, so no DP release is allowed");
	if (epsilon > p->max_epsilon)
		return mpc_policy_refuse(p, p->dp_seen[P_MAX_EPSILON], "[dp] max_epsilon",
		                         "epsilon %g is more than %g, the most one job may spend",
		                         epsilon, p->max_epsilon);
	if (delta > p->max_delta)
		return mpc_policy_refuse(
		    p, p->dp_seen[P_MAX_DELTA] ? p->dp_seen[P_MAX_DELTA] : p->dp_line,
		    "[dp] max_delta", "delta %g is more than %g, the most one job may spend%s",
		    delta, p->max_delta, p->dp_seen[P_MAX_DELTA] ? "" : " (not given: 0)");
	return MPC_OK;
}

mpc_err mpc_policy_quota_get(const mpc_policy *p, const char *computation, const char *peer,
                             mpc_policy_quota *out) {
	if (p == NULL || out == NULL || !valid_name(computation) || !valid_name(peer))
		return mpc_error(
		    MPC_EINVAL, "mpc_policy_quota_get: no policy or no place for the quota, or not "
		                "a valid computation or peer name");
	memset(out, 0, sizeof(*out));
	snprintf(out->computation, sizeof(out->computation), "%s", computation);
	snprintf(out->peer, sizeof(out->peer), "%s", peer);
	/* the default first, then the override over it */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < p->n_quotas; i++) {
			const quota_sec *q = &p->quotas[i];
			if (strcmp(q->computation, computation) != 0 ||
			    strcmp(q->peer, pass ? peer : "") != 0)
				continue;
			for (int k = 0; k < MPC_POLICY_N_PERIODS; k++) {
				if (!q->limit_line[k])
					continue;
				out->limit[k] = q->limit[k];
				out->line[k] = q->limit_line[k];
				out->overridden[k] = pass;
			}
		}
	}
	return MPC_OK;
}

mpc_err mpc_policy_quota_refuse(const mpc_policy *p, const mpc_policy_quota *q,
                                mpc_policy_period period) {
	char rule[2 * MPC_POLICY_NAME_MAX + 40];
	if (p == NULL || q == NULL || (unsigned)period >= MPC_POLICY_N_PERIODS ||
	    q->limit[period] == 0 || !valid_name(q->computation) || !valid_name(q->peer))
		return mpc_error(MPC_EINVAL, "mpc_policy_quota_refuse: no policy or quota, or an "
		                             "unlimited one");
	snprintf(rule, sizeof(rule), "[quota %s%s%s] %s", q->computation,
	         q->overridden[period] ? " " : "", q->overridden[period] ? q->peer : "",
	         period_keys[period]);
	return mpc_policy_refuse(p, q->line[period], rule, "%s has used its %llu %s", q->peer,
	                         (unsigned long long)q->limit[period], period_words[period]);
}
