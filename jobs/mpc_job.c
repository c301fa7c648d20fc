/* Job files: parse, check, nodes. The syntax is
 * net/mpc_ini's (it numbers lines, sees sections without keys, refuses
 * control characters and over-long lines); this file gives the sections and
 * keys their meaning and names file:line, section and key in every error.
 * The canonical text, hash and diff are in jobs/mpc_job_text.c. */
#include "jobs/mpc_job.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobs/mpc_ini.h"
#include "jobs/mpc_kind.h"
#include "net/mpc_net.h"

#define MAX_FILE_BYTES (1 << 20)

/* The computations this version knows: the names of the kinds in the
 * registry (jobs/mpc_kinds.c). Each takes its parameters from the section
 * named after it. */
#define MAX_COMPUTATIONS 32

static size_t computation_names(const char **out) {
	size_t n = 0;
	for (const mpc_kind *k; n < MAX_COMPUTATIONS && (k = mpc_kind_at(n)) != NULL; n++)
		out[n] = k->name;
	return n;
}

enum {
	K_ID,
	K_COMPUTATION,
	K_RING,
	K_FRAC_BITS,
	K_PREPROCESSING,
	K_TIMEOUT,
	K_CONNECT_TIMEOUT,
	K_TRANSPORT,
	K_MIN_INPUTS,
	K_INPUT_DEADLINE,
	K_HOLD,
	K_RECIPIENTS,
	N_JOB_KEYS
};
static const char *const job_keys[N_JOB_KEYS] = {
    "id",      "computation",     "ring",      "frac_bits",  "preprocessing",
    "timeout", "connect_timeout", "transport", "min_inputs", "input_deadline",
    "hold",    "recipients"};

enum { K_ADDRESS, K_FINGERPRINT, K_SUBMIT, N_NODE_KEYS };
static const char *const node_keys[N_NODE_KEYS] = {"address", "fingerprint", "submit"};

static const char *const preproc_names[] = {"dealer", "ot", "paillier"};
static const char *const transport_names[] = {"tls", "plaintext"};

typedef enum { SEC_NONE, SEC_JOB, SEC_PARAMS, SEC_PARTY, SEC_DEALER, SEC_INPUT } sec_kind;

typedef struct {
	mpc_job *job;
	const char *name; /* file name for messages */
	int line;         /* the line being read */
	mpc_err err;      /* the first error, MPC_ECONFIG */
	/* the section being read */
	sec_kind kind;
	char sec[MPC_JOB_MAX_LINE + 1]; /* its name as written, for messages */
	mpc_job_node *node;             /* SEC_PARTY, SEC_DEALER */
	int *node_seen;
	/* lines where things were given; 0 = not given */
	int job_line, job_seen[N_JOB_KEYS];
	int params_line;
	char params_sec[MPC_JOB_MAX_LINE + 1];
	int dealer_seen[N_NODE_KEYS], party_seen[MPC_JOB_MAX_PARTIES][N_NODE_KEYS];
	int (*input_seen)[N_NODE_KEYS]; /* n_inputs of them */
	int inputs_cap;
	unsigned min_inputs;
	char recipients[MPC_JOB_MAX_LINE + 1]; /* [job] recipients as given */
} parser;

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

/* ---- small checks ---- */

int mpc_job_name_ok(const char *s, size_t max) {
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* 1..max characters of [a-z0-9_] */
static int valid_param_key(const char *s, size_t max) {
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '_')
			return 0;
	return 1;
}

/* 1 to 5 digits, 1..65535. */
static int valid_port(const char *s) {
	long port = 0;
	if (*s == '\0' || strlen(s) > 5)
		return 0;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return 0;
		port = port * 10 + (*s - '0');
	}
	return port > 0 && port < 65536;
}

/* mpc_nodes_parse's rule (tcp://HOST:PORT, ipc:///PATH), and no blanks or
 * commas, which no address needs and which would break a node list. */
static int valid_address(const char *s) {
	size_t n = strlen(s);
	if (n == 0 || n > 255 || strpbrk(s, " \t\r,") != NULL)
		return 0;
	if (strncmp(s, "ipc://", 6) == 0)
		return s[6] != '\0';
	if (strncmp(s, "tcp://", 6) != 0)
		return 0;
	const char *colon = strrchr(s + 6, ':');
	return colon != NULL && colon != s + 6 && valid_port(colon + 1);
}

/* HOST:PORT or [V6]:PORT for a TCP listener, port 1..65535, no blanks. */
static int valid_host_port(const char *s) {
	size_t n = strlen(s);
	const char *colon = strrchr(s, ':');
	if (n == 0 || n > 63 || strpbrk(s, " \t\r,/") != NULL || colon == NULL || colon == s)
		return 0;
	if (s[0] == '[' && colon[-1] != ']')
		return 0;
	return valid_port(colon + 1);
}

/* A whole number in [lo, hi], digits only. */
static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out) {
	unsigned long v = 0;
	if (*s == '\0')
		return 0;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s) || v > hi)
			return 0;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v < lo || v > hi)
		return 0;
	*out = (unsigned)v;
	return 1;
}

/* Seconds with at most 3 decimals, in (0, 86400], as milliseconds. */
static int parse_ms(const char *s, int *ms) {
	long whole = 0, frac = 0;
	int digits = 0;
	for (; isdigit((unsigned char)*s); s++, digits++) {
		whole = whole * 10 + (*s - '0');
		if (whole > 86400)
			return 0;
	}
	if (digits == 0)
		return 0;
	if (*s == '.') {
		int d = 0;
		for (s++; isdigit((unsigned char)*s); s++, d++) {
			if (d == 3)
				return 0;
			frac = frac * 10 + (*s - '0');
		}
		if (d == 0)
			return 0;
		for (; d < 3; d++)
			frac *= 10;
	}
	if (*s != '\0')
		return 0;
	long v = whole * 1000 + frac;
	if (v < 1 || v > 86400L * 1000)
		return 0;
	*ms = (int)v;
	return 1;
}

static int lookup(const char *const *list, size_t n, const char *s) {
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return (int)i;
	return -1;
}

/* Levenshtein distance, ignoring case; strings are cut at 63 characters. */
static size_t distance(const char *a, const char *b) {
	size_t la = strnlen(a, 63), lb = strnlen(b, 63), row[64], prev;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost =
			    tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
			size_t best = prev + cost;
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			prev = row[j];
			row[j] = best;
		}
	}
	return row[lb];
}

/* The candidate a typo most likely meant, or NULL. */
static const char *suggest(const char *word, const char *const *cands, size_t n) {
	const char *best = NULL;
	size_t best_d = (size_t)-1;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(cands[i]), limit = len / 3;
		limit = limit < 1 ? 1 : limit > 3 ? 3 : limit;
		size_t d = distance(word, cands[i]);
		if (d <= limit && d < best_d) {
			best = cands[i];
			best_d = d;
		}
	}
	return best;
}

static int unknown_key(parser *ps, const char *key, const char *const *list, size_t n) {
	char known[256], hint[96] = "";
	const char *s = suggest(key, list, n);
	mpc_ini_join(known, sizeof(known), list, n);
	if (s)
		snprintf(hint, sizeof(hint), " (did you mean %s?)", s);
	return at(ps, ps->line, ps->sec, key, "unknown key%s; [%s] takes %s", hint, ps->sec, known);
}

/* ---- sections ---- */

static int open_party(parser *ps, const char *pname) {
	mpc_job *j = ps->job;
	int i = mpc_job_party_index(j, pname);
	if (!mpc_job_name_ok(pname, 32) || strcasecmp(pname, "dealer") == 0)
		return at(
		    ps, ps->line, ps->sec, NULL,
		    "party names are 1 to 32 characters of A-Z a-z 0-9 . _ - (and not 'dealer')");
	if (i < 0 && (i = mpc_job_input_index(j, pname)) >= 0)
		return at(ps, ps->line, ps->sec, NULL,
		          "name already given to an input party (line %d)", j->inputs[i].line);
	if (i >= 0)
		return at(ps, ps->line, ps->sec, NULL, "party name given twice (first on line %d)",
		          j->parties[i].line);
	if (j->n_parties == MPC_JOB_MAX_PARTIES)
		return at(ps, ps->line, ps->sec, NULL, "too many parties: at most %d",
		          MPC_JOB_MAX_PARTIES);
	i = j->n_parties++;
	snprintf(j->parties[i].name, sizeof(j->parties[i].name), "%s", pname);
	j->parties[i].line = ps->line;
	ps->kind = SEC_PARTY;
	ps->node = &j->parties[i];
	ps->node_seen = ps->party_seen[i];
	return 1;
}

/* [input NAME]: an input party (grown one at a time, up to MPC_JOB_MAX_INPUTS). */
static int open_input(parser *ps, const char *iname) {
	mpc_job *j = ps->job;
	int i = mpc_job_input_index(j, iname), p = mpc_job_party_index(j, iname);
	if (!mpc_job_name_ok(iname, 32) || strcasecmp(iname, "dealer") == 0)
		return at(ps, ps->line, ps->sec, NULL,
		          "input party names are 1 to 32 characters of A-Z a-z 0-9 . _ - (and not "
		          "'dealer')");
	if (i >= 0 || p >= 0)
		return at(ps, ps->line, ps->sec, NULL, "name given twice (first on line %d)",
		          i >= 0 ? j->inputs[i].line : j->parties[p].line);
	if (j->n_inputs == MPC_JOB_MAX_INPUTS)
		return at(ps, ps->line, ps->sec, NULL, "too many input parties: at most %d",
		          MPC_JOB_MAX_INPUTS);
	if (j->n_inputs == ps->inputs_cap) {
		int cap = ps->inputs_cap ? 2 * ps->inputs_cap : 16;
		mpc_job_node *ni = realloc(j->inputs, (size_t)cap * sizeof(*ni));
		int(*ns)[N_NODE_KEYS] =
		    ni ? realloc(ps->input_seen, (size_t)cap * sizeof(*ns)) : NULL;
		if (ni)
			j->inputs = ni;
		if (ns == NULL)
			return at(ps, ps->line, ps->sec, NULL, "out of memory");
		ps->input_seen = ns;
		ps->inputs_cap = cap;
	}
	i = j->n_inputs++;
	memset(&j->inputs[i], 0, sizeof(j->inputs[i]));
	memset(ps->input_seen[i], 0, sizeof(ps->input_seen[i]));
	snprintf(j->inputs[i].name, sizeof(j->inputs[i].name), "%s", iname);
	j->inputs[i].line = ps->line;
	ps->kind = SEC_INPUT;
	ps->node = &j->inputs[i];
	ps->node_seen = ps->input_seen[i];
	return 1;
}

static int unknown_section(parser *ps, const char *s) {
	const char *cands[2 + MAX_COMPUTATIONS], *computations[MAX_COMPUTATIONS];
	char hint[MPC_JOB_MAX_LINE + 32] = "", comps[128];
	size_t n = 0, n_comps = computation_names(computations);
	cands[n++] = "job";
	cands[n++] = "dealer";
	for (size_t i = 0; i < n_comps; i++)
		cands[n++] = computations[i];
	const char *sp = strpbrk(s, " \t");
	const char *best = suggest(s, cands, n);
	if (best) {
		snprintf(hint, sizeof(hint), " (did you mean [%s]?)", best);
	} else if (sp) {
		char first[64];
		snprintf(first, sizeof(first), "%.*s", (int)(sp - s), s);
		const char *party[] = {"party"};
		if (suggest(first, party, 1))
			snprintf(hint, sizeof(hint), " (did you mean [party%s]?)", sp);
	}
	mpc_ini_join(comps, sizeof(comps), computations, n_comps);
	return at(
	    ps, ps->line, ps->sec, NULL,
	    "unknown section%s; expected [job], the computation's ([%s]), [party NAME], [input "
	    "NAME] or [dealer]",
	    hint, comps);
}

/* A header "[name]" on the current line (name trimmed). */
static int open_section(parser *ps, const char *sname) {
	mpc_job *j = ps->job;
	snprintf(ps->sec, sizeof(ps->sec), "%s", sname);
	ps->kind = SEC_NONE;
	ps->node = NULL;
	ps->node_seen = NULL;
	const char *name = ps->sec;
	if (strcmp(name, "job") == 0) {
		if (ps->job_line)
			return at(ps, ps->line, name, NULL,
			          "section given twice (first on line %d)", ps->job_line);
		ps->job_line = ps->line;
		ps->kind = SEC_JOB;
		return 1;
	}
	if (strcmp(name, "dealer") == 0) {
		if (j->has_dealer)
			return at(ps, ps->line, name, NULL,
			          "section given twice (first on line %d)", j->dealer.line);
		j->has_dealer = 1;
		snprintf(j->dealer.name, sizeof(j->dealer.name), "dealer");
		j->dealer.line = ps->line;
		ps->kind = SEC_DEALER;
		ps->node = &j->dealer;
		ps->node_seen = ps->dealer_seen;
		return 1;
	}
	if (strncmp(name, "party", 5) == 0 &&
	    (name[5] == '\0' || isspace((unsigned char)name[5]))) {
		const char *p = name + 5;
		while (isspace((unsigned char)*p))
			p++;
		return open_party(ps, p);
	}
	if (strncmp(name, "input", 5) == 0 && isspace((unsigned char)name[5])) {
		const char *p = name + 5;
		while (isspace((unsigned char)*p))
			p++;
		return open_input(ps, p);
	}
	if (mpc_kind_find(name) != NULL) {
		if (ps->params_line)
			return at(ps, ps->line, name, NULL, "%s (first [%s] on line %d)",
			          strcmp(ps->params_sec, name) == 0
			              ? "section given twice"
			              : "a second computation's parameters",
			          ps->params_sec, ps->params_line);
		snprintf(ps->params_sec, sizeof(ps->params_sec), "%s", name);
		ps->params_line = ps->line;
		ps->kind = SEC_PARAMS;
		return 1;
	}
	return unknown_section(ps, name);
}

/* ---- keys ---- */

static int job_key(parser *ps, const char *key, const char *value) {
	mpc_job *j = ps->job;
	int k = lookup(job_keys, N_JOB_KEYS, key);
	if (k < 0)
		return unknown_key(ps, key, job_keys, N_JOB_KEYS);
	if (ps->job_seen[k])
		return at(ps, ps->line, ps->sec, key, "given twice (first on line %d)",
		          ps->job_seen[k]);
	ps->job_seen[k] = ps->line;
	switch (k) {
	case K_ID:
		if (!mpc_job_name_ok(value, 64))
			return at(ps, ps->line, ps->sec, key,
			          "expected 1 to 64 characters of A-Z a-z 0-9 . _ -");
		snprintf(j->id, sizeof(j->id), "%s", value);
		break;
	case K_COMPUTATION: {
		if (mpc_kind_find(value) == NULL) {
			const char *computations[MAX_COMPUTATIONS];
			size_t n_comps = computation_names(computations);
			char known[128], hint[96] = "";
			const char *s = suggest(value, computations, n_comps);
			if (s)
				snprintf(hint, sizeof(hint), " (did you mean %s?)", s);
			mpc_ini_join(known, sizeof(known), computations, n_comps);
			return at(ps, ps->line, ps->sec, key,
			          "unknown computation%s; this version knows %s", hint, known);
		}
		snprintf(j->computation, sizeof(j->computation), "%s", value);
		break;
	}
	case K_RING:
		if (mpc_ring_parse(value, &j->ring) != MPC_OK)
			return at(ps, ps->line, ps->sec, key, "expected 64 or 128 (bits)");
		break;
	case K_FRAC_BITS:
		if (!parse_uint(value, 0, 40, &j->frac_bits))
			return at(ps, ps->line, ps->sec, key,
			          "expected a whole number from 0 to 40");
		break;
	case K_PREPROCESSING: {
		int p = lookup(preproc_names, 3, value);
		if (p < 0)
			return at(ps, ps->line, ps->sec, key, "expected dealer, ot or paillier");
		j->preprocessing = (mpc_job_preproc)p;
		break;
	}
	case K_MIN_INPUTS:
		if (!parse_uint(value, 1, MPC_JOB_MAX_INPUTS, &ps->min_inputs))
			return at(ps, ps->line, ps->sec, key,
			          "expected a whole number from 1 to the number of [input NAME] "
			          "sections");
		break;
	case K_RECIPIENTS:
		snprintf(ps->recipients, sizeof(ps->recipients), "%s", value);
		break;
	case K_TIMEOUT:
	case K_CONNECT_TIMEOUT:
	case K_INPUT_DEADLINE:
	case K_HOLD: {
		int *ms = k == K_TIMEOUT           ? &j->timeout_ms
		          : k == K_CONNECT_TIMEOUT ? &j->connect_timeout_ms
		          : k == K_INPUT_DEADLINE  ? &j->input_deadline_ms
		                                   : &j->hold_ms;
		if (!parse_ms(value, ms))
			return at(ps, ps->line, ps->sec, key,
			          "expected seconds, more than 0 and at most 86400, with at most 3 "
			          "decimals");
		break;
	}
	default: {
		int t = lookup(transport_names, 2, value);
		if (t < 0)
			return at(ps, ps->line, ps->sec, key, "expected tls or plaintext");
		j->transport = (mpc_job_transport)t;
	}
	}
	return 1;
}

/* The line and description of another node whose key k (K_ADDRESS or
 * K_FINGERPRINT) equals this one's, or 0. One key behind two entries (a
 * party that is also the dealer, or two parties) would hand one holder more
 * than the job lets any single node see. */
static int same_value(const mpc_job_node *nd, int k, const char *addr, const uint8_t *fp) {
	if (k == K_ADDRESS)
		return strcmp(nd->address, addr) == 0;
	return nd->has_fingerprint && memcmp(nd->fingerprint, fp, 32) == 0;
}

static int node_taken(parser *ps, int k, const char *addr, const uint8_t *fp, char *who,
                      size_t size) {
	mpc_job *j = ps->job;
	for (int i = 0; i < j->n_parties; i++) {
		if (&j->parties[i] != ps->node && ps->party_seen[i][k] &&
		    same_value(&j->parties[i], k, addr, fp)) {
			snprintf(who, size, "party %s's", j->parties[i].name);
			return ps->party_seen[i][k];
		}
	}
	for (int i = 0; i < j->n_inputs; i++) {
		if (&j->inputs[i] != ps->node && ps->input_seen[i][k] &&
		    same_value(&j->inputs[i], k, addr, fp)) {
			snprintf(who, size, "input party %s's", j->inputs[i].name);
			return ps->input_seen[i][k];
		}
	}
	if (&j->dealer != ps->node && ps->dealer_seen[k] && same_value(&j->dealer, k, addr, fp)) {
		snprintf(who, size, "the dealer's");
		return ps->dealer_seen[k];
	}
	return 0;
}

static int node_key(parser *ps, const char *key, const char *value) {
	mpc_job_node *nd = ps->node;
	int k = lookup(node_keys, N_NODE_KEYS, key), other;
	char who[64];
	if (ps->kind == SEC_INPUT && k != K_FINGERPRINT)
		return at(ps, ps->line, ps->sec, key,
		          "%s; [input NAME] takes only fingerprint (an input party connects "
		          "out to the compute parties' submit addresses)",
		          k < 0 ? "unknown key" : "not for an input party");
	if (k == K_SUBMIT && ps->kind == SEC_DEALER)
		return at(ps, ps->line, ps->sec, key, "not for the dealer (only compute parties)");
	if (k < 0)
		return unknown_key(ps, key, node_keys, N_NODE_KEYS);
	if (ps->node_seen[k])
		return at(ps, ps->line, ps->sec, key, "given twice (first on line %d)",
		          ps->node_seen[k]);
	ps->node_seen[k] = ps->line;
	if (k == K_ADDRESS) {
		if (!valid_address(value))
			return at(ps, ps->line, ps->sec, key,
			          "expected tcp://HOST:PORT or ipc:///PATH (at most 255 "
			          "characters, no blanks or commas)");
		if ((other = node_taken(ps, K_ADDRESS, value, NULL, who, sizeof(who))) != 0)
			return at(ps, ps->line, ps->sec, key,
			          "the same as %s (line %d); every node needs its own address", who,
			          other);
		snprintf(nd->address, sizeof(nd->address), "%s", value);
	} else if (k == K_SUBMIT) {
		if (!valid_host_port(value))
			return at(ps, ps->line, ps->sec, key,
			          "expected HOST:PORT ([V6]:PORT; at most 63 characters, port 1 to "
			          "65535)");
		snprintf(nd->submit, sizeof(nd->submit), "%s", value);
	} else {
		if (mpc_fingerprint_parse(value, nd->fingerprint) != MPC_OK)
			return at(ps, ps->line, ps->sec, key, "%s", mpc_error_detail());
		other = node_taken(ps, K_FINGERPRINT, NULL, nd->fingerprint, who, sizeof(who));
		if (other != 0)
			return at(ps, ps->line, ps->sec, key,
			          "the same as %s (line %d); every node needs its own key (one "
			          "key behind two entries sees what each of them sees)",
			          who, other);
		nd->has_fingerprint = 1;
	}
	return 1;
}

static int param_key(parser *ps, const char *key, const char *value) {
	mpc_job *j = ps->job;
	if (!valid_param_key(key, sizeof(j->params[0].key) - 1))
		return at(ps, ps->line, ps->sec, key,
		          "expected a parameter name of a-z, 0-9 and _ (at most %zu characters)",
		          sizeof(j->params[0].key) - 1);
	for (int i = 0; i < j->n_params; i++)
		if (strcmp(j->params[i].key, key) == 0)
			return at(ps, ps->line, ps->sec, key, "given twice (first on line %d)",
			          j->params[i].line);
	if (j->n_params == MPC_JOB_MAX_PARAMS)
		return at(ps, ps->line, ps->sec, key, "too many parameters (at most %d)",
		          MPC_JOB_MAX_PARAMS);
	if (strlen(value) >= sizeof(j->params[0].value))
		return at(ps, ps->line, ps->sec, key, "value too long");
	mpc_job_param *pa = &j->params[j->n_params++];
	snprintf(pa->key, sizeof(pa->key), "%s", key);
	snprintf(pa->value, sizeof(pa->value), "%s", value);
	pa->line = ps->line;
	return 1;
}

/* mpc_ini's callbacks: 1 from the helpers goes on, 0 stops with ps->err. */
static mpc_err on_section(void *user, int line, const char *name) {
	parser *ps = user;
	ps->line = line;
	return open_section(ps, name) ? MPC_OK : ps->err;
}

static int pair(parser *ps, const char *key, const char *value) {
	if (ps->kind == SEC_NONE)
		return at(ps, ps->line, NULL, NULL,
		          "key '%s' before any section: the file starts with [job]", key);
	if (*key == '\0')
		return at(ps, ps->line, ps->sec, NULL,
		          "syntax error: expected key = value (no key before the =)");
	if (*value == '\0')
		return at(ps, ps->line, ps->sec, key, "no value after the =");
	switch (ps->kind) {
	case SEC_JOB:
		return job_key(ps, key, value);
	case SEC_PARAMS:
		return param_key(ps, key, value);
	default:
		return node_key(ps, key, value);
	}
}

static mpc_err on_pair(void *user, int line, const char *key, const char *value) {
	parser *ps = user;
	ps->line = line;
	return pair(ps, key, value) ? MPC_OK : ps->err;
}

/* at() for finish(): returns the error. */
#define fail_at(...) (at(__VA_ARGS__), ps->err)

/* The input parties against the compute parties and the [job] keys that
 * only a job with input parties takes. */
static mpc_err finish_inputs(parser *ps) {
	mpc_job *j = ps->job;
	static const int only[] = {K_MIN_INPUTS, K_INPUT_DEADLINE, K_HOLD};
	if (j->n_inputs == 0) {
		for (size_t k = 0; k < sizeof(only) / sizeof(only[0]); k++)
			if (ps->job_seen[only[k]])
				return fail_at(ps, ps->job_seen[only[k]], "job", job_keys[only[k]],
				               "only for a job with input parties ([input NAME] "
				               "sections)");
		for (int i = 0; i < j->n_parties; i++)
			if (ps->party_seen[i][K_SUBMIT])
				return fail_at(
				    ps, ps->party_seen[i][K_SUBMIT], NULL, "submit",
				    "[party %s]: only for a job with input parties ([input "
				    "NAME] sections)",
				    j->parties[i].name);
		return MPC_OK;
	}
	const mpc_kind *kind = mpc_kind_find(j->computation);
	if (kind && kind->contribute == NULL)
		return fail_at(ps, j->inputs[0].line, NULL, NULL,
		               "[input %s]: computation %s takes no input parties (aggregate_stats "
		               "and model_average do)",
		               j->inputs[0].name, j->computation);
	if (j->n_parties > MPC_JOB_MAX_COMPUTE)
		return fail_at(ps, j->parties[MPC_JOB_MAX_COMPUTE].line, NULL, NULL,
		               "%d [party NAME] sections: a job with input parties has 2 to %d "
		               "compute parties",
		               j->n_parties, MPC_JOB_MAX_COMPUTE);
	for (int i = 0; i < j->n_inputs; i++)
		if (!ps->input_seen[i][K_FINGERPRINT])
			return fail_at(ps, j->inputs[i].line, NULL, "fingerprint",
			               "[input %s]: missing (required: an input party submits over "
			               "TLS with its key, pinned by this fingerprint)",
			               j->inputs[i].name);
	for (int i = 0; i < j->n_parties; i++) {
		if (!ps->party_seen[i][K_SUBMIT])
			return fail_at(ps, j->parties[i].line, NULL, "submit",
			               "[party %s]: missing (required with input parties): the "
			               "HOST:PORT where it takes submissions",
			               j->parties[i].name);
		for (int k = 0; k < i; k++)
			if (strcmp(j->parties[k].submit, j->parties[i].submit) == 0)
				return fail_at(ps, ps->party_seen[i][K_SUBMIT], NULL, "submit",
				               "[party %s]: the same as party %s's (line %d)",
				               j->parties[i].name, j->parties[k].name,
				               ps->party_seen[k][K_SUBMIT]);
	}
	if (ps->min_inputs > (unsigned)j->n_inputs)
		return fail_at(ps, ps->job_seen[K_MIN_INPUTS], "job", "min_inputs",
		               "%u, but the job has %d input part%s", ps->min_inputs, j->n_inputs,
		               j->n_inputs == 1 ? "y" : "ies");
	j->min_inputs = ps->min_inputs ? (int)ps->min_inputs : j->n_inputs;
	return MPC_OK;
}

/* [job] recipients: names of parties or input parties, each once; default
 * every compute party. */
static mpc_err finish_recipients(parser *ps) {
	mpc_job *j = ps->job;
	char buf[MPC_JOB_MAX_LINE + 1], *item[MPC_JOB_MAX_PARTIES + MPC_JOB_MAX_INPUTS];
	int line = ps->job_seen[K_RECIPIENTS];
	if (!line) {
		for (int i = 0; i < j->n_parties; i++)
			j->parties[i].recipient = 1;
		return MPC_OK;
	}
	j->has_recipients = 1;
	snprintf(buf, sizeof(buf), "%s", ps->recipients);
	int n = mpc_kind_split(buf, item, MPC_JOB_MAX_PARTIES + MPC_JOB_MAX_INPUTS);
	if (n <= 0)
		return fail_at(ps, line, "job", "recipients",
		               "expected NAME, NAME, ...: parties or input parties of the job");
	for (int k = 0; k < n; k++) {
		int p = mpc_job_party_index(j, item[k]), in = mpc_job_input_index(j, item[k]);
		mpc_job_node *nd = p >= 0 ? &j->parties[p] : in >= 0 ? &j->inputs[in] : NULL;
		if (nd == NULL)
			return fail_at(
			    ps, line, "job", "recipients",
			    "'%s' is neither a [party NAME] nor an [input NAME] of the job",
			    item[k]);
		if (nd->recipient)
			return fail_at(ps, line, "job", "recipients", "'%s' named twice", item[k]);
		nd->recipient = 1;
	}
	return MPC_OK;
}

/* Checks that need the whole file. */
static mpc_err finish(parser *ps) {
	mpc_job *j = ps->job;
	int tls = j->transport == MPC_JOB_TLS;
	mpc_err err;

	if (!ps->job_line)
		return fail_at(ps, 0, NULL, NULL,
		               "no [job] section (it names the job's id and computation)");
	for (int k = K_ID; k <= K_COMPUTATION; k++)
		if (!ps->job_seen[k])
			return fail_at(ps, ps->job_line, "job", job_keys[k], "missing (required)");
	if (ps->params_line && strcmp(ps->params_sec, j->computation) != 0)
		return fail_at(
		    ps, ps->params_line, ps->params_sec, NULL,
		    "parameters of %s, but the job computes %s ([job] computation, line %d)",
		    ps->params_sec, j->computation, ps->job_seen[K_COMPUTATION]);
	if (j->n_parties < 2)
		return fail_at(ps, 0, NULL, NULL,
		               "%d [party NAME] section%s: a job needs 2 to %d parties",
		               j->n_parties, j->n_parties == 1 ? "" : "s", MPC_JOB_MAX_PARTIES);
	for (int i = 0; i <= j->n_parties; i++) {
		int dealer = i == j->n_parties;
		if (dealer && !j->has_dealer)
			break;
		mpc_job_node *nd = dealer ? &j->dealer : &j->parties[i];
		int *seen = dealer ? ps->dealer_seen : ps->party_seen[i];
		char sec[48];
		snprintf(sec, sizeof(sec), dealer ? "%s" : "party %s", nd->name);
		if (!seen[K_ADDRESS])
			return fail_at(ps, nd->line, sec, "address", "missing (required)");
		if (!seen[K_FINGERPRINT] && tls)
			return fail_at(ps, nd->line, sec, "fingerprint",
			               "missing (required with transport = tls): the SHA-256 "
			               "fingerprint that `mpc-party keygen` printed for this node");
	}
	if ((err = finish_inputs(ps)) != MPC_OK || (err = finish_recipients(ps)) != MPC_OK)
		return err;
	if (j->preprocessing == MPC_JOB_DEALER && !j->has_dealer)
		return fail_at(ps, ps->job_seen[K_PREPROCESSING], "job", "preprocessing",
		               "dealer needs a [dealer] section with its address%s",
		               tls ? " and fingerprint" : "");
	if (j->preprocessing != MPC_JOB_DEALER && j->has_dealer) {
		if (!ps->job_seen[K_PREPROCESSING])
			return fail_at(
			    ps, j->dealer.line, "dealer", NULL,
			    "only for preprocessing = dealer; [job] has no preprocessing "
			    "line, so it is ot (made among the parties): add "
			    "'preprocessing = dealer' to use the dealer");
		return fail_at(
		    ps, j->dealer.line, "dealer", NULL,
		    "only for preprocessing = dealer, but [job] preprocessing = %s (line %d)",
		    preproc_names[j->preprocessing], ps->job_seen[K_PREPROCESSING]);
	}
	return MPC_OK;
}

mpc_err mpc_job_parse(const char *name, const char *text, size_t len, mpc_job **out) {
	parser ps = {.name = name ? name : "job"};

	if (out == NULL || (text == NULL && len > 0))
		return mpc_error(MPC_EINVAL, "mpc_job_parse: no text or no place for the result");
	*out = NULL;
	if ((ps.job = calloc(1, sizeof(mpc_job))) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	mpc_job *j = ps.job;
	snprintf(j->path, sizeof(j->path), "%s", ps.name);
	j->ring = MPC_Z128;
	j->frac_bits = 16;
	j->preprocessing = MPC_JOB_OT; /* dealer-free unless the job says otherwise */
	j->transport = MPC_JOB_TLS;
	j->timeout_ms = MPC_NET_DEFAULT_TIMEOUT_MS;
	j->connect_timeout_ms = MPC_NET_DEFAULT_CONNECT_TIMEOUT_MS;
	j->input_deadline_ms = 600 * 1000;
	j->hold_ms = 3600 * 1000;

	const mpc_ini_reader rd = {.section = on_section,
	                           .pair = on_pair,
	                           .user = &ps,
	                           .max_line = MPC_JOB_MAX_LINE,
	                           .what = "job file"};
	mpc_err err = mpc_ini_parse(ps.name, text, len, &rd);
	if (err != MPC_OK)
		ps.err = err; /* mpc_ini's, or the one a callback recorded */
	else
		ps.err = finish(&ps);
	free(ps.input_seen);
	if (ps.err != MPC_OK) {
		mpc_job_free(j);
		return ps.err;
	}
	j->timeout_s = j->timeout_ms / 1000.0;
	j->connect_timeout_s = j->connect_timeout_ms / 1000.0;
	*out = j;
	return MPC_OK;
}

mpc_err mpc_job_load(const char *path, mpc_job **out) {
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	mpc_err err;
	int fd;

	if (out == NULL || path == NULL)
		return mpc_error(MPC_EINVAL, "mpc_job_load: no path or no place for the result");
	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return mpc_error(MPC_EIO, "%s: cannot open: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		err = mpc_error(MPC_EIO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err = mpc_error(MPC_EIO, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_size > MAX_FILE_BYTES) {
		err = mpc_error(MPC_ECONFIG, "%s: larger than %d bytes: not a job file", path,
		                MAX_FILE_BYTES);
		goto out;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		err = mpc_error(MPC_ENOMEM, "out of memory");
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = mpc_error(MPC_EIO, "%s: cannot read: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break; /* shrank meanwhile: parse what is there */
		got += (size_t)r;
	}
	err = mpc_job_parse(path, buf, got, out);
out:
	free(buf);
	close(fd);
	return err;
}

void mpc_job_free(mpc_job *job) {
	if (job)
		free(job->inputs);
	free(job);
}

int mpc_job_input_index(const mpc_job *job, const char *name) {
	if (job == NULL || name == NULL)
		return -1;
	for (int i = 0; i < job->n_inputs; i++)
		if (strcmp(job->inputs[i].name, name) == 0)
			return i;
	return -1;
}

int mpc_job_party_index(const mpc_job *job, const char *name) {
	if (job == NULL || name == NULL)
		return -1;
	for (int i = 0; i < job->n_parties; i++)
		if (strcmp(job->parties[i].name, name) == 0)
			return i;
	return -1;
}

const char *mpc_job_preproc_name(mpc_job_preproc p) {
	return (unsigned)p < 3 ? preproc_names[p] : "?";
}

const char *mpc_job_transport_name(mpc_job_transport t) {
	return (unsigned)t < 2 ? transport_names[t] : "?";
}

static const mpc_job_param *find_param(const mpc_job *job, const char *key) {
	for (int i = 0; i < job->n_params; i++)
		if (strcmp(job->params[i].key, key) == 0)
			return &job->params[i];
	return NULL;
}

const char *mpc_job_param_get(const mpc_job *job, const char *key) {
	const mpc_job_param *p = find_param(job, key);
	return p ? p->value : NULL;
}

mpc_err mpc_job_param_double(const mpc_job *job, const char *key, double dflt, double lo, double hi,
                             double *out) {
	const mpc_job_param *p = find_param(job, key);
	char *end;
	if (p == NULL) {
		*out = dflt;
		return MPC_OK;
	}
	/* decimal only: no hex, inf or nan from strtod */
	errno = 0;
	double d = strtod(p->value, &end);
	if (p->value[strspn(p->value, "0123456789+-.eE")] != '\0' || *end != '\0' || errno != 0 ||
	    !isfinite(d) || !(d >= lo && d <= hi))
		return mpc_error(MPC_ECONFIG, "%s:%d: [%s] %s: expected a number from %g to %g",
		                 job->path, p->line, job->computation, key, lo, hi);
	*out = d;
	return MPC_OK;
}

/* ---- nodes ---- */

mpc_err mpc_job_nodes(const mpc_job *j, mpc_nodes *out) {
	int n = j->n_parties + (j->has_dealer != 0);
	memset(out, 0, sizeof(*out));
	out->dealer = -1;
	if (j->n_parties < 2 || n > MPC_NET_MAX_NODES)
		return mpc_error(MPC_EINVAL, "mpc_job_nodes: %d parties", j->n_parties);
	out->addrs = calloc((size_t)n, sizeof(char *));
	out->names = calloc((size_t)n, sizeof(char *));
	out->n = n;
	if (out->addrs == NULL || out->names == NULL)
		goto oom;
	for (int i = 0; i < n; i++) {
		const mpc_job_node *nd = i < j->n_parties ? &j->parties[i] : &j->dealer;
		char name[64];
		if (i < j->n_parties)
			snprintf(name, sizeof(name), "%s (party %d)", nd->name, i);
		else
			snprintf(name, sizeof(name), "dealer");
		if ((out->addrs[i] = strdup(nd->address)) == NULL ||
		    (out->names[i] = strdup(name)) == NULL)
			goto oom;
	}
	out->n_parties = j->n_parties;
	out->dealer = j->has_dealer ? j->n_parties : -1;
	return MPC_OK;
oom:
	mpc_nodes_fini(out);
	return mpc_error(MPC_ENOMEM, "out of memory");
}
