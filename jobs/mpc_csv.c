/* Strict CSV reader for transactions. */
#include "jobs/mpc_csv.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "runtime/mpc_file.h"
#include "runtime/mpc_wipe.h"

#define MAX_FIELDS 64

enum { COL_AMOUNT, COL_FRAUD, COL_CATEGORY, N_COLS };
static const char *const col_names[N_COLS] = {"amount", "fraud", "category"};

/* Split one line (not NUL-terminated, without its newline) into fields. */
static int split(const char *s, size_t len, const char **f, size_t *flen)
{
	int n = 0;
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == ',') {
			if (n == MAX_FIELDS)
				return -1;
			f[n] = s + start;
			flen[n] = i - start;
			n++;
			start = i + 1;
		}
	}
	return n;
}

static int field_is(const char *f, size_t len, const char *word)
{
	return strlen(word) == len && strncmp(f, word, len) == 0;
}

/* Allocate room for every row at once: realloc would leave copies of the
 * secret amounts in freed memory. */
static mpc_err alloc_rows(mpc_txns *t, const char *text, size_t len)
{
	size_t rows = 1;
	for (const char *p = text; (p = memchr(p, '\n', len - (size_t)(p - text))) != NULL; p++)
		rows++;
	t->amount = malloc(rows * sizeof(*t->amount));
	t->fraud = malloc(rows);
	t->category = malloc(rows * sizeof(*t->category));
	if (!t->amount || !t->fraud || !t->category)
		return mpc_error(MPC_ENOMEM, "out of memory for %zu rows", rows);
	return MPC_OK;
}

static mpc_err category_index(mpc_txns *t, const char *f, size_t len, uint32_t *idx)
{
	for (size_t i = 0; i < t->n_cats; i++)
		if (field_is(f, len, t->cats[i])) {
			*idx = (uint32_t)i;
			return MPC_OK;
		}
	char **nc = realloc(t->cats, (t->n_cats + 1) * sizeof(*nc));
	if (nc == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	t->cats = nc;
	if ((t->cats[t->n_cats] = strndup(f, len)) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	*idx = (uint32_t)t->n_cats++;
	return MPC_OK;
}

static int valid_category(const char *f, size_t len)
{
	if (len == 0 || len > MPC_CSV_MAX_CATEGORY)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = f[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

static int parse_amount(const char *f, size_t len, double *out)
{
	char buf[64];
	char *end;
	if (len == 0 || len >= sizeof(buf))
		return 0;
	memcpy(buf, f, len);
	buf[len] = '\0';
	/* digits, one optional sign and one optional point; no hex, exponents, inf, nan */
	for (size_t i = 0; i < len; i++)
		if (!((buf[i] >= '0' && buf[i] <= '9') || buf[i] == '.' || (i == 0 && buf[i] == '-') ||
		      (i == 0 && buf[i] == '+')))
			return 0;
	errno = 0;
	*out = strtod(buf, &end);
	mpc_wipe(buf, sizeof(buf));
	return end == buf + len && errno == 0 && isfinite(*out);
}

mpc_err mpc_txns_parse(const char *name, const char *text, size_t len, double max_abs,
		       mpc_txns *t)
{
	const char *f[MAX_FIELDS];
	size_t flen[MAX_FIELDS], pos = 0, line = 0;
	int col[N_COLS] = {-1, -1, -1}, nfields = 0;
	mpc_err err = MPC_OK;

	memset(t, 0, sizeof(*t));
	if ((err = alloc_rows(t, text, len)) != MPC_OK)
		goto fail;
	while (pos < len) {
		const char *s = text + pos;
		const char *nl = memchr(s, '\n', len - pos);
		size_t l = nl ? (size_t)(nl - s) : len - pos;
		pos += l + (nl != NULL);
		line++;
		if (l > 0 && s[l - 1] == '\r')
			l--;
		if (l == 0)
			continue;
		if (memchr(s, '\0', l) || memchr(s, '"', l)) {
			err = mpc_error(MPC_EINVAL, "%s:%zu: quotes and NUL bytes are not allowed", name,
					line);
			goto fail;
		}
		int n = split(s, l, f, flen);
		if (n < 0) {
			err = mpc_error(MPC_EINVAL, "%s:%zu: more than %d columns", name, line,
					MAX_FIELDS);
			goto fail;
		}
		if (nfields == 0) { /* header */
			for (int i = 0; i < n; i++)
				for (int c = 0; c < N_COLS; c++)
					if (field_is(f[i], flen[i], col_names[c])) {
						if (col[c] >= 0) {
							err = mpc_error(MPC_EINVAL, "%s:%zu: column '%s' "
									"appears twice", name, line,
									col_names[c]);
							goto fail;
						}
						col[c] = i;
					}
			for (int c = 0; c < N_COLS; c++)
				if (col[c] < 0) {
					err = mpc_error(MPC_EINVAL, "%s:%zu: header has no '%s' column "
							"(expected amount,fraud,category)", name, line,
							col_names[c]);
					goto fail;
				}
			nfields = n;
			continue;
		}
		if (n != nfields) {
			err = mpc_error(MPC_EINVAL, "%s:%zu: %d fields, the header has %d", name, line, n,
					nfields);
			goto fail;
		}
		int a = col[COL_AMOUNT], fr = col[COL_FRAUD], c = col[COL_CATEGORY];
		if (!parse_amount(f[a], flen[a], &t->amount[t->n])) {
			err = mpc_error(MPC_EINVAL, "%s:%zu: column amount: expected a decimal number "
					"such as 12.50", name, line);
			goto fail;
		}
		if (fabs(t->amount[t->n]) > max_abs) {
			err = mpc_error(MPC_ERANGE, "%s:%zu: column amount: outside the job's range "
					"[-%g, %g]", name, line, max_abs, max_abs);
			goto fail;
		}
		if (flen[fr] != 1 || (f[fr][0] != '0' && f[fr][0] != '1')) {
			err = mpc_error(MPC_EINVAL, "%s:%zu: column fraud: expected 0 or 1", name, line);
			goto fail;
		}
		t->fraud[t->n] = (uint8_t)(f[fr][0] - '0');
		if (!valid_category(f[c], flen[c])) {
			err = mpc_error(MPC_EINVAL, "%s:%zu: column category: expected 1 to %d "
					"characters of A-Z a-z 0-9 _ . -", name, line,
					MPC_CSV_MAX_CATEGORY);
			goto fail;
		}
		if ((err = category_index(t, f[c], flen[c], &t->category[t->n])) != MPC_OK)
			goto fail;
		t->n++;
	}
	if (nfields == 0) {
		err = mpc_error(MPC_EINVAL, "%s: empty file: expected a header line "
				"amount,fraud,category", name);
		goto fail;
	}
	return MPC_OK;
fail:
	mpc_txns_fini(t);
	return err;
}

mpc_err mpc_txns_read(const char *path, double max_abs, mpc_txns *out)
{
	char *buf;
	size_t len;

	memset(out, 0, sizeof(*out));
	/* the reader leaves no unwiped copy of the amounts behind */
	mpc_err err = mpc_file_read_all(path, SIZE_MAX, &buf, &len);
	if (err != MPC_OK)
		return err;
	err = mpc_txns_parse(path, buf, len, max_abs, out);
	mpc_wipe(buf, len);
	free(buf);
	return err;
}

void mpc_txns_fini(mpc_txns *t)
{
	if (t->amount)
		mpc_wipe(t->amount, t->n * sizeof(*t->amount));
	if (t->fraud)
		mpc_wipe(t->fraud, t->n);
	free(t->amount);
	free(t->fraud);
	free(t->category);
	for (size_t i = 0; i < t->n_cats; i++)
		free(t->cats[i]);
	free(t->cats);
	memset(t, 0, sizeof(*t));
}

int mpc_csv_fields(char *line, char **f, int max) {
	int n = 0;
	for (char *s = line;;) {
		char *c = strchr(s, ',');
		if (n == max)
			return -1;
		f[n++] = s;
		if (!c)
			return n;
		*c = '\0';
		s = c + 1;
	}
}
