/* Helpers the kinds share: their parsers', and the no-preprocessing plan (jobs/mpc_kind.h). */
#include "jobs/mpc_kind.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const mpc_job_param *mpc_kind_param(const mpc_job *j, const char *key) {
	for (int i = 0; i < j->n_params; i++)
		if (strcmp(j->params[i].key, key) == 0)
			return &j->params[i];
	return NULL;
}

mpc_err mpc_kind_param_err(const mpc_job *j, const mpc_job_param *p, const char *fmt, ...) {
	char what[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return mpc_error(MPC_ECONFIG, "%s:%d: [%s] %s: %s", j->path, p->line, j->computation,
	                 p->key, what);
}

int mpc_kind_split(char *buf, char **items, int max) {
	int n = 0;
	for (char *s = buf;;) {
		char *c = strchr(s, ',');
		if (c)
			*c = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
		size_t len = strlen(s);
		while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			s[--len] = '\0';
		if (len == 0 || n == max)
			return -1;
		items[n++] = s;
		if (!c)
			return n;
		s = c + 1;
	}
}

int mpc_kind_number(const char *s, double *out) {
	char *end;
	if (s[strspn(s, "0123456789+-.eE")] != '\0')
		return 0;
	*out = strtod(s, &end);
	return end != s && *end == '\0' && isfinite(*out);
}

mpc_err mpc_kind_known_keys(const mpc_job *j, const char *const *known, size_t n) {
	for (int i = 0; i < j->n_params; i++) {
		size_t k = 0;
		while (k < n && strcmp(j->params[i].key, known[k]) != 0)
			k++;
		if (k < n)
			continue;
		char list[512] = "";
		for (size_t q = 0, len = 0; q < n && len < sizeof(list); q++)
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
			                        q ? ", " : "", known[q]);
		return mpc_kind_param_err(j, &j->params[i], "unknown parameter of %s (known: %s)",
		                          j->computation, list);
	}
	return MPC_OK;
}

mpc_err mpc_kind_plan_none(void *st, uint64_t rows, mpc_pool_plan *out, int *upper) {
	(void)st;
	(void)rows;
	*out = (mpc_pool_plan){0};
	*upper = 0;
	return MPC_OK;
}

mpc_err mpc_kind_prepare_none(void *st, const mpc_kind_io *io) {
	(void)st;
	(void)io;
	return MPC_OK;
}

mpc_err mpc_kind_param_count(const mpc_job *j, const char *key, double dflt, double lo, double hi,
                             double *out) {
	mpc_err err = mpc_job_param_double(j, key, dflt, lo, hi, out);
	if (err == MPC_OK && *out != floor(*out))
		return mpc_kind_param_err(j, mpc_kind_param(j, key), "expected a whole number");
	return err;
}
