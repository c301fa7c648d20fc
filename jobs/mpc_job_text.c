/* Job files: the canonical text all parties must agree on, its hash, and
 * the diff that names the first field two texts differ in (see
 * jobs/mpc_job.h). Parsing is in jobs/mpc_job.c. */
#include "jobs/mpc_job.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define CANON_FORMAT "mpc-job-1"

/* ---- canonical text ---- */

typedef struct {
	char *b;
	size_t n, cap;
	int oom;
} sbuf;

static void put(sbuf *s, const char *fmt, ...) MPC_PRINTF(2, 3);
static void put(sbuf *s, const char *fmt, ...) {
	va_list ap;
	for (;;) {
		if (s->oom)
			return;
		va_start(ap, fmt);
		int w = vsnprintf(s->b ? s->b + s->n : NULL, s->b ? s->cap - s->n : 0, fmt, ap);
		va_end(ap);
		if (w < 0) {
			s->oom = 1;
			return;
		}
		if (s->b && (size_t)w < s->cap - s->n) {
			s->n += (size_t)w;
			return;
		}
		size_t cap = (s->cap ? s->cap * 2 : 2048) + (size_t)w;
		char *nb = realloc(s->b, cap);
		if (nb == NULL) {
			s->oom = 1;
			return;
		}
		s->b = nb;
		s->cap = cap;
	}
}

static void put_seconds(sbuf *s, const char *key, int ms) {
	if (ms % 1000 == 0) {
		put(s, "%s=%d\n", key, ms / 1000);
	} else {
		char frac[8];
		snprintf(frac, sizeof(frac), "%03d", ms % 1000);
		for (int k = 2; k > 0 && frac[k] == '0'; k--)
			frac[k] = '\0';
		put(s, "%s=%d.%s\n", key, ms / 1000, frac);
	}
}

static void put_node(sbuf *s, const char *prefix, const mpc_job_node *nd) {
	char h[65] = "none";
	if (nd->has_fingerprint)
		for (int i = 0; i < 32; i++)
			snprintf(h + 2 * i, 3, "%02x", nd->fingerprint[i]);
	put(s, "%s.address=%s\n%s.fingerprint=%s\n", prefix, nd->address, prefix, h);
}

/* Only what a job gives: a job without input parties or recipients keeps
 * the canonical text (and hash) it always had. */
static void put_roles(sbuf *s, const mpc_job *j) {
	if (j->n_inputs > 0) {
		put(s, "job.min_inputs=%d\n", j->min_inputs);
		put_seconds(s, "job.input_deadline", j->input_deadline_ms);
		put_seconds(s, "job.hold", j->hold_ms);
		for (int i = 0; i < j->n_parties; i++)
			put(s, "party.%d.submit=%s\n", i, j->parties[i].submit);
		put(s, "inputs=%d\n", j->n_inputs);
		for (int i = 0; i < j->n_inputs; i++) {
			char prefix[32];
			snprintf(prefix, sizeof(prefix), "input.%d", i);
			put(s, "%s.name=%s\n", prefix, j->inputs[i].name);
			put_node(s, prefix, &j->inputs[i]);
		}
	}
	if (j->has_recipients) {
		put(s, "recipients=");
		for (int i = 0, first = 1; i < j->n_parties + j->n_inputs; i++) {
			const mpc_job_node *nd =
			    i < j->n_parties ? &j->parties[i] : &j->inputs[i - j->n_parties];
			if (nd->recipient) {
				put(s, "%s%s", first ? "" : ",", nd->name);
				first = 0;
			}
		}
		put(s, "\n");
	}
}

mpc_err mpc_job_canonical(const mpc_job *j, char **text, size_t *len) {
	sbuf s = {0};
	int order[MPC_JOB_MAX_PARAMS];

	if (j == NULL || text == NULL || len == NULL)
		return mpc_error(MPC_EINVAL, "mpc_job_canonical: missing argument");
	*text = NULL;
	*len = 0;
	put(&s, "format=%s\n", CANON_FORMAT);
	put(&s, "job.id=%s\njob.computation=%s\njob.ring=%u\njob.frac_bits=%u\n", j->id,
	    j->computation, mpc_ring_bits(j->ring), j->frac_bits);
	put(&s, "job.preprocessing=%s\n", mpc_job_preproc_name(j->preprocessing));
	put_seconds(&s, "job.timeout", j->timeout_ms);
	put_seconds(&s, "job.connect_timeout", j->connect_timeout_ms);
	put(&s, "job.transport=%s\n", mpc_job_transport_name(j->transport));
	/* by key: the order of parameters in the file means nothing */
	int np = j->n_params < 0                    ? 0
	         : j->n_params > MPC_JOB_MAX_PARAMS ? MPC_JOB_MAX_PARAMS
	                                            : j->n_params;
	for (int i = 0; i < np; i++) {
		int k = i;
		while (k > 0 && strcmp(j->params[order[k - 1]].key, j->params[i].key) > 0) {
			order[k] = order[k - 1];
			k--;
		}
		order[k] = i;
	}
	for (int i = 0; i < np; i++)
		put(&s, "param.%s=%s\n", j->params[order[i]].key, j->params[order[i]].value);
	put(&s, "parties=%d\n", j->n_parties);
	for (int i = 0; i < j->n_parties && i < MPC_JOB_MAX_PARTIES; i++) {
		char prefix[32];
		snprintf(prefix, sizeof(prefix), "party.%d", i);
		put(&s, "%s.name=%s\n", prefix, j->parties[i].name);
		put_node(&s, prefix, &j->parties[i]);
	}
	if (j->has_dealer)
		put_node(&s, "dealer", &j->dealer);
	put_roles(&s, j);
	if (s.oom) {
		free(s.b);
		return mpc_error(MPC_ENOMEM, "out of memory");
	}
	*text = s.b;
	*len = s.n;
	return MPC_OK;
}

mpc_err mpc_job_hash(const mpc_job *job, uint8_t out[32]) {
	char *text = NULL;
	size_t len = 0;
	unsigned int mdlen = 0;
	mpc_err err = mpc_job_canonical(job, &text, &len);
	if (err != MPC_OK)
		return err;
	if (EVP_Digest(text, len, out, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		err = mpc_error(MPC_ECRYPTO, "SHA-256 failed");
	free(text);
	return err;
}

/* ---- diff ---- */

typedef struct {
	const char *k, *v;
	size_t kl, vl;
} kv;

/* The line at *pos: 1, 0 at the end, -1 if it is not "key=value\n" with a
 * key of [A-Za-z0-9._-]. */
static int next_kv(const char *t, size_t len, size_t *pos, kv *out) {
	if (*pos >= len)
		return 0;
	const char *s = t + *pos, *nl = memchr(s, '\n', len - *pos);
	if (nl == NULL)
		return -1;
	const char *eq = memchr(s, '=', (size_t)(nl - s));
	if (eq == NULL || eq == s)
		return -1;
	for (const char *c = s; c < eq; c++)
		if (!isalnum((unsigned char)*c) && (*c == '\0' || !strchr("._-", *c)))
			return -1;
	out->k = s;
	out->kl = (size_t)(eq - s);
	out->v = eq + 1;
	out->vl = (size_t)(nl - eq - 1);
	*pos = (size_t)(nl + 1 - t);
	return 1;
}

static int count_kv(const char *t, size_t len, size_t *n) {
	size_t pos = 0;
	kv x;
	int r;
	*n = 0;
	while ((r = next_kv(t, len, &pos, &x)) == 1)
		(*n)++;
	return r;
}

/* The value of key k in t (already checked), or NULL. */
static const kv *find_kv(const char *t, size_t len, const char *k, size_t kl, kv *out) {
	size_t pos = 0;
	while (next_kv(t, len, &pos, out) == 1)
		if (out->kl == kl && memcmp(out->k, k, kl) == 0)
			return out;
	return NULL;
}

/* The first key of a that b lacks or holds with another value, or NULL. */
static const kv *first_missing(const char *a, size_t al, const char *b, size_t bl, int values,
                               kv *out) {
	size_t pos = 0;
	kv other;
	while (next_kv(a, al, &pos, out) == 1) {
		const kv *o = find_kv(b, bl, out->k, out->kl, &other);
		if (o == NULL || (values && (o->vl != out->vl || memcmp(o->v, out->v, o->vl) != 0)))
			return out;
	}
	return NULL;
}

mpc_err mpc_job_diff(const char *mine, size_t mine_len, const char *theirs, size_t theirs_len,
                     char *field, size_t field_size) {
	size_t na, nb;
	kv x;

	if (field == NULL || field_size == 0 || (mine == NULL && mine_len) ||
	    (theirs == NULL && theirs_len))
		return mpc_error(MPC_EINVAL, "mpc_job_diff: missing argument");
	field[0] = '\0';
	if (count_kv(mine, mine_len, &na) < 0 || count_kv(theirs, theirs_len, &nb) < 0) {
		snprintf(field, field_size, "(malformed job text)");
		return mpc_error(MPC_EPROTO, "a job text is not key=value lines");
	}
	if (first_missing(mine, mine_len, theirs, theirs_len, 1, &x) ||
	    first_missing(theirs, theirs_len, mine, mine_len, 0, &x)) {
		snprintf(field, field_size, "%.*s",
		         (int)(x.kl < field_size ? x.kl : field_size - 1), x.k);
		return MPC_OK;
	}
	if (mine_len == theirs_len && (mine_len == 0 || memcmp(mine, theirs, mine_len) == 0))
		return MPC_OK;
	snprintf(field, field_size, "%s",
	         na != nb ? "(fields differ in number)" : "(fields differ in order)");
	return MPC_OK;
}
