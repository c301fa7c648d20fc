/* Job files: parse, check, canonical text, diff. */
#include "mpc_job.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpc_net.h"

typedef struct {
	mpc_job *job;
	const char *name; /* file name for messages */
	const char *text;
	size_t len, pos;
	int line;
	mpc_err err;
	/* what [job] set, by key index, for required/duplicate checks */
	int job_line, job_seen[16];
	int params_line;
	char params_section[64];
	int dealer_seen[2], party_seen[MPC_JOB_MAX_PARTIES][2];
} parser;

static const char *const job_keys[] = {"id",       "computation",     "ring",     "frac_bits",
				       "preprocessing", "timeout", "connect_timeout", "transport"};
#define N_JOB_KEYS (sizeof(job_keys) / sizeof(job_keys[0]))

/* fgets over the in-memory text, counting lines */
static char *reader(char *str, int num, void *stream)
{
	parser *ps = stream;
	if (ps->pos >= ps->len || num < 2)
		return NULL;
	int k = 0;
	while (ps->pos < ps->len && k < num - 1) {
		char c = ps->text[ps->pos++];
		str[k++] = c == '\0' ? ' ' : c;
		if (c == '\n')
			break;
	}
	str[k] = '\0';
	ps->line++;
	return str;
}

static int fail(parser *ps, const char *section, const char *key, const char *what)
{
	if (ps->err == MPC_OK)
		ps->err = mpc_error(MPC_ECONFIG, "%s:%d: [%s]%s%s: %s", ps->name, ps->line, section,
				    key ? " " : "", key ? key : "", what);
	return 0;
}

static int valid_token(const char *s, size_t max, int allow_upper)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!(islower(c) || isdigit(c) || c == '_' || c == '.' || c == '-' ||
		      (allow_upper && isupper(c))))
			return 0;
	}
	return 1;
}

static int valid_address(const char *s)
{
	mpc_nodes n;
	char two[600];
	snprintf(two, sizeof(two), "%s,%s", s, s);
	if (strlen(s) >= 256 || mpc_nodes_parse(&n, two, 0) != MPC_OK)
		return 0;
	mpc_nodes_fini(&n);
	return 1;
}

mpc_err mpc_fingerprint_parse(const char *s, uint8_t fp[32])
{
	int k = 0, half = -1;
	if (strncasecmp(s, "sha256:", 7) == 0)
		s += 7;
	for (; *s; s++) {
		int v;
		if (*s == ':')
			continue;
		if (isdigit((unsigned char)*s))
			v = *s - '0';
		else if (isxdigit((unsigned char)*s))
			v = tolower((unsigned char)*s) - 'a' + 10;
		else
			return mpc_error(MPC_ECONFIG, "fingerprint: unexpected character");
		if (k == 32)
			return mpc_error(MPC_ECONFIG, "fingerprint: more than 64 hex digits");
		if (half < 0) {
			half = v;
		} else {
			fp[k++] = (uint8_t)(half << 4 | v);
			half = -1;
		}
	}
	if (k != 32 || half >= 0)
		return mpc_error(MPC_ECONFIG, "fingerprint: expected 64 hex digits");
	return MPC_OK;
}

static int node_key(parser *ps, const char *section, mpc_job_node *nd, int seen[2],
		    const char *key, const char *value)
{
	int which = strcmp(key, "address") == 0 ? 0 : strcmp(key, "fingerprint") == 0 ? 1 : -1;
	if (which < 0)
		return fail(ps, section, key, "unknown key (expected address or fingerprint)");
	if (seen[which])
		return fail(ps, section, key, "given twice");
	seen[which] = ps->line;
	if (which == 0) {
		if (!valid_address(value))
			return fail(ps, section, key, "expected tcp://HOST:PORT or ipc:///PATH");
		snprintf(nd->address, sizeof(nd->address), "%s", value);
	} else {
		if (mpc_fingerprint_parse(value, nd->fingerprint) != MPC_OK)
			return fail(ps, section, key, "expected 64 hex digits (SHA-256 of the "
				    "certificate, as mpc-party keygen prints it), colons optional");
		nd->has_fingerprint = 1;
	}
	return 1;
}

static int job_key(parser *ps, const char *key, const char *value)
{
	mpc_job *j = ps->job;
	size_t k = 0;
	char *end;
	while (k < N_JOB_KEYS && strcmp(job_keys[k], key) != 0)
		k++;
	if (k == N_JOB_KEYS)
		return fail(ps, "job", key, "unknown key (expected id, computation, ring, frac_bits, "
			    "preprocessing, timeout, connect_timeout or transport)");
	if (ps->job_seen[k])
		return fail(ps, "job", key, "given twice");
	ps->job_seen[k] = ps->line;
	switch (k) {
	case 0:
		if (!valid_token(value, 64, 1))
			return fail(ps, "job", key, "expected 1 to 64 characters of A-Z a-z 0-9 . _ -");
		snprintf(j->id, sizeof(j->id), "%s", value);
		break;
	case 1:
		if (strcmp(value, "aggregate_stats") != 0)
			return fail(ps, "job", key, "expected aggregate_stats (the computations "
				    "this version knows)");
		snprintf(j->computation, sizeof(j->computation), "%s", value);
		break;
	case 2:
		if (mpc_ring_parse(value, &j->ring) != MPC_OK)
			return fail(ps, "job", key, "expected 64 or 128");
		break;
	case 3: {
		long f = strtol(value, &end, 10);
		if (*end || f < 0 || f > 40)
			return fail(ps, "job", key, "expected a whole number from 0 to 40");
		j->frac_bits = (unsigned)f;
		break;
	}
	case 4:
		if (strcmp(value, "dealer") == 0)
			j->preprocessing = MPC_JOB_DEALER;
		else if (strcmp(value, "ot") == 0)
			j->preprocessing = MPC_JOB_OT;
		else if (strcmp(value, "paillier") == 0)
			j->preprocessing = MPC_JOB_PAILLIER;
		else
			return fail(ps, "job", key, "expected dealer, ot or paillier");
		break;
	case 5:
	case 6: {
		double d = strtod(value, &end);
		if (*end || !(d > 0 && d <= 86400))
			return fail(ps, "job", key, "expected seconds, more than 0 and at most 86400");
		*(k == 5 ? &j->timeout_s : &j->connect_timeout_s) = d;
		break;
	}
	default:
		if (strcmp(value, "tls") == 0)
			j->transport = MPC_JOB_TLS;
		else if (strcmp(value, "plaintext") == 0)
			j->transport = MPC_JOB_PLAINTEXT;
		else
			return fail(ps, "job", key, "expected tls or plaintext");
	}
	return 1;
}

static int handler(void *user, const char *section, const char *key, const char *value)
{
	parser *ps = user;
	mpc_job *j = ps->job;
	if (ps->err != MPC_OK)
		return 0;
	if (key == NULL || *value == '\0')
		return key ? fail(ps, section, key, "has no value") : 1;
	if (strcmp(section, "job") == 0) {
		if (!ps->job_line)
			ps->job_line = ps->line;
		return job_key(ps, key, value);
	}
	if (strcmp(section, "dealer") == 0) {
		j->has_dealer = 1;
		if (!j->dealer.line)
			j->dealer.line = ps->line;
		snprintf(j->dealer.name, sizeof(j->dealer.name), "dealer");
		return node_key(ps, section, &j->dealer, ps->dealer_seen, key, value);
	}
	if (strncmp(section, "party ", 6) == 0) {
		const char *name = section + 6;
		int i = mpc_job_party_index(j, name);
		if (i < 0) {
			if (!valid_token(name, 32, 1) || strcmp(name, "dealer") == 0)
				return fail(ps, section, NULL, "party names are 1 to 32 characters of "
					    "A-Z a-z 0-9 . _ - (and not 'dealer')");
			if (j->n_parties == MPC_JOB_MAX_PARTIES)
				return fail(ps, section, NULL, "more than 16 parties");
			i = j->n_parties++;
			snprintf(j->parties[i].name, sizeof(j->parties[i].name), "%s", name);
			j->parties[i].line = ps->line;
		}
		return node_key(ps, section, &j->parties[i], ps->party_seen[i], key, value);
	}
	/* the computation's parameters */
	if (ps->params_section[0] && strcmp(ps->params_section, section) != 0)
		return fail(ps, section, NULL, "unknown section (expected [job], the computation's "
			    "section, [party NAME] or [dealer])");
	if (!ps->params_section[0]) {
		snprintf(ps->params_section, sizeof(ps->params_section), "%s", section);
		ps->params_line = ps->line;
	}
	if (!valid_token(key, 63, 0) || strlen(value) >= 256)
		return fail(ps, section, key, "parameter names are a-z 0-9 _ and values under 256 "
			    "characters");
	if (mpc_job_param_get(j, key))
		return fail(ps, section, key, "given twice");
	if (j->n_params == MPC_JOB_MAX_PARAMS)
		return fail(ps, section, key, "too many parameters");
	mpc_job_param *pa = &j->params[j->n_params++];
	snprintf(pa->key, sizeof(pa->key), "%s", key);
	snprintf(pa->value, sizeof(pa->value), "%s", value);
	pa->line = ps->line;
	return 1;
}

/* Checks that need the whole file. */
static mpc_err finish(parser *ps)
{
	mpc_job *j = ps->job;
	const char *f = ps->name;
	if (!ps->job_line)
		return mpc_error(MPC_ECONFIG, "%s: no [job] section (with id and computation)", f);
	if (!ps->job_seen[0] || !ps->job_seen[1])
		return mpc_error(MPC_ECONFIG, "%s:%d: [job] needs %s", f, ps->job_line,
				 !ps->job_seen[0] ? "id" : "computation");
	if (ps->params_section[0] && strcmp(ps->params_section, j->computation) != 0)
		return mpc_error(MPC_ECONFIG, "%s:%d: [%s]: unknown section (the computation is "
				 "%s, so its parameters go in [%s])", f, ps->params_line,
				 ps->params_section, j->computation, j->computation);
	if (j->n_parties < 2)
		return mpc_error(MPC_ECONFIG, "%s: %d [party NAME] section%s: a job needs 2 to %d "
				 "parties", f, j->n_parties, j->n_parties == 1 ? "" : "s",
				 MPC_JOB_MAX_PARTIES);
	if (j->preprocessing == MPC_JOB_DEALER && !j->has_dealer)
		return mpc_error(MPC_ECONFIG, "%s:%d: [job] preprocessing = dealer needs a [dealer] "
				 "section", f, ps->job_seen[4] ? ps->job_seen[4] : ps->job_line);
	for (int i = 0; i <= j->n_parties; i++) {
		mpc_job_node *nd = i < j->n_parties ? &j->parties[i] : &j->dealer;
		int *seen = i < j->n_parties ? ps->party_seen[i] : ps->dealer_seen;
		if (i == j->n_parties && !j->has_dealer)
			break;
		char sec[48];
		snprintf(sec, sizeof(sec), i < j->n_parties ? "party %s" : "%s", nd->name);
		if (!seen[0])
			return mpc_error(MPC_ECONFIG, "%s:%d: [%s] needs an address", f, nd->line, sec);
		if (!seen[1] && j->transport == MPC_JOB_TLS)
			return mpc_error(MPC_ECONFIG, "%s:%d: [%s] needs a fingerprint (transport = "
					 "tls): ask its operator for the output of mpc-party "
					 "keygen", f, nd->line, sec);
		for (int k = 0; k < i; k++)
			if (strcmp(j->parties[k].address, nd->address) == 0)
				return mpc_error(MPC_ECONFIG, "%s:%d: [%s] address: the same as party "
						 "%s's", f, seen[0], sec, j->parties[k].name);
	}
	return MPC_OK;
}

mpc_err mpc_job_parse(const char *name, const char *text, size_t len, mpc_job **out)
{
	parser ps = {.name = name, .text = text, .len = len};
	mpc_err err;

	*out = NULL;
	if ((ps.job = calloc(1, sizeof(mpc_job))) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	snprintf(ps.job->path, sizeof(ps.job->path), "%s", name);
	ps.job->ring = MPC_Z128;
	ps.job->frac_bits = 16;
	ps.job->timeout_s = MPC_NET_DEFAULT_TIMEOUT_MS / 1000.0;
	ps.job->connect_timeout_s = MPC_NET_DEFAULT_CONNECT_TIMEOUT_MS / 1000.0;
	int rc = ini_parse_stream(reader, &ps, handler, &ps);
	if (ps.err != MPC_OK)
		err = ps.err;
	else if (rc > 0)
		err = mpc_error(MPC_ECONFIG, "%s:%d: syntax error: expected [section], key = value, "
				"or a ; comment (no indentation)", name, rc);
	else if (rc < 0)
		err = mpc_error(MPC_ENOMEM, "%s: out of memory", name);
	else
		err = finish(&ps);
	if (err != MPC_OK) {
		mpc_job_free(ps.job);
		return err;
	}
	*out = ps.job;
	return MPC_OK;
}

mpc_err mpc_job_load(const char *path, mpc_job **out)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long size;
	mpc_err err;

	*out = NULL;
	if (fp == NULL)
		return mpc_error(MPC_EIO, "%s: cannot open: %s", path, strerror(errno));
	if (fseek(fp, 0, SEEK_END) != 0 || (size = ftell(fp)) < 0 || size > (1 << 20) ||
	    fseek(fp, 0, SEEK_SET) != 0) {
		fclose(fp);
		return mpc_error(MPC_ECONFIG, "%s: not a regular file under 1 MiB", path);
	}
	if ((buf = malloc((size_t)size + 1)) == NULL) {
		fclose(fp);
		return mpc_error(MPC_ENOMEM, "out of memory");
	}
	size_t got = fread(buf, 1, (size_t)size, fp);
	fclose(fp);
	if (got != (size_t)size)
		err = mpc_error(MPC_EIO, "%s: read error", path);
	else
		err = mpc_job_parse(path, buf, got, out);
	free(buf);
	return err;
}

void mpc_job_free(mpc_job *job) { free(job); }

int mpc_job_party_index(const mpc_job *job, const char *name)
{
	for (int i = 0; i < job->n_parties; i++)
		if (strcmp(job->parties[i].name, name) == 0)
			return i;
	return -1;
}

const char *mpc_job_param_get(const mpc_job *job, const char *key)
{
	for (int i = 0; i < job->n_params; i++)
		if (strcmp(job->params[i].key, key) == 0)
			return job->params[i].value;
	return NULL;
}

mpc_err mpc_job_param_double(const mpc_job *job, const char *key, double dflt, double lo, double hi,
			     double *out)
{
	for (int i = 0; i < job->n_params; i++) {
		if (strcmp(job->params[i].key, key) != 0)
			continue;
		char *end;
		double d = strtod(job->params[i].value, &end);
		if (*end || !(d >= lo && d <= hi))
			return mpc_error(MPC_ECONFIG, "%s:%d: [%s] %s: expected a number from %g to %g",
					 job->path, job->params[i].line, job->computation, key, lo, hi);
		*out = d;
		return MPC_OK;
	}
	*out = dflt;
	return MPC_OK;
}

static void hex(char *out, const uint8_t *fp)
{
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", fp[i]);
}

mpc_err mpc_job_canonical(const mpc_job *j, char **text, size_t *len)
{
	static const char *const pre[] = {"dealer", "ot", "paillier"};
	size_t cap = 4096 + (size_t)(j->n_parties + 1) * 512 + (size_t)j->n_params * 400;
	char *b = malloc(cap), h[65];
	size_t n = 0;
	if (b == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
#define PUT(...) n += (size_t)snprintf(b + n, cap - n, __VA_ARGS__)
	PUT("job.id=%s\njob.computation=%s\njob.ring=%u\njob.frac_bits=%u\n", j->id,
	    j->computation, mpc_ring_bits(j->ring), j->frac_bits);
	PUT("job.preprocessing=%s\njob.timeout=%.17g\njob.connect_timeout=%.17g\n",
	    pre[j->preprocessing], j->timeout_s, j->connect_timeout_s);
	PUT("job.transport=%s\n", j->transport == MPC_JOB_TLS ? "tls" : "plaintext");
	for (int i = 0; i < j->n_params; i++)
		PUT("param.%s=%s\n", j->params[i].key, j->params[i].value);
	for (int i = 0; i < j->n_parties; i++) {
		hex(h, j->parties[i].fingerprint);
		PUT("party.%d.name=%s\nparty.%d.address=%s\nparty.%d.fingerprint=%s\n", i,
		    j->parties[i].name, i, j->parties[i].address, i,
		    j->parties[i].has_fingerprint ? h : "none");
	}
	if (j->has_dealer) {
		hex(h, j->dealer.fingerprint);
		PUT("dealer.address=%s\ndealer.fingerprint=%s\n", j->dealer.address,
		    j->dealer.has_fingerprint ? h : "none");
	}
#undef PUT
	*text = b;
	*len = n;
	return MPC_OK;
}

mpc_err mpc_job_diff(const char *a, size_t alen, const char *b, size_t blen, char *field,
		     size_t size)
{
	size_t i = 0, j = 0;
	while (i < alen || j < blen) {
		const char *ea = memchr(a + i, '\n', alen - i), *eb = memchr(b + j, '\n', blen - j);
		size_t la = ea ? (size_t)(ea - a) - i : alen - i, lb = eb ? (size_t)(eb - b) - j : blen - j;
		if (i >= alen || j >= blen) {
			snprintf(field, size, "(the number of fields)");
			return MPC_OK;
		}
		if (la != lb || memcmp(a + i, b + j, la) != 0) {
			const char *eq = memchr(a + i, '=', la);
			size_t kl = eq ? (size_t)(eq - (a + i)) : la;
			snprintf(field, size, "%.*s", (int)(kl < size ? kl : size - 1), a + i);
			return MPC_OK;
		}
		i += la + 1;
		j += lb + 1;
	}
	snprintf(field, size, "(nothing)");
	return MPC_OK;
}

mpc_err mpc_job_nodes(const mpc_job *j, mpc_nodes *out)
{
	char *list;
	size_t cap = (size_t)(j->n_parties + 1) * 260, n = 0;
	mpc_err err;
	if ((list = malloc(cap)) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	for (int i = 0; i < j->n_parties; i++)
		n += (size_t)snprintf(list + n, cap - n, "%s%s", i ? "," : "", j->parties[i].address);
	if (j->has_dealer)
		snprintf(list + n, cap - n, ",%s", j->dealer.address);
	err = mpc_nodes_parse(out, list, j->has_dealer);
	free(list);
	if (err != MPC_OK)
		return err;
	for (int i = 0; i < j->n_parties; i++) {
		char buf[64];
		snprintf(buf, sizeof(buf), "%s (party %d)", j->parties[i].name, i);
		char *nm = strdup(buf);
		if (nm == NULL) {
			mpc_nodes_fini(out);
			return mpc_error(MPC_ENOMEM, "out of memory");
		}
		free(out->names[i]);
		out->names[i] = nm;
	}
	return MPC_OK;
}
