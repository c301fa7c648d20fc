/* The job layer's CSV reader (jobs/mpc_csv.h) and the transactions read with
 * it. The rows are secret: messages name file, line and column, never a
 * field, and every buffer that held a line is wiped before it is freed. */
#include "jobs/mpc_csv.h"

#include "runtime/mpc_file.h"
#include "runtime/mpc_wipe.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mpc_csv {
	char *name;         /* for messages */
	const char *text;   /* the file, text[0..len) */
	char *own;          /* the file's buffer when we read it (wiped at close) */
	size_t len, pos;    /* the text's length; where the next line starts */
	size_t line, lines; /* the current record's line; the file's lines */
	size_t max_line;
	int max_fields, n; /* fields a record may have; the current record's */
	char *buf;         /* the current record, split at its commas (wiped at close) */
	size_t buf_size;
	char **f;   /* max_fields: the current record's fields */
	char *hbuf; /* the header, split; hnames its ncols names */
	size_t hbuf_size;
	char **hnames;
	int ncols;
};

const char *mpc_csv_name(const mpc_csv *c) {
	return c->name;
}

size_t mpc_csv_line(const mpc_csv *c) {
	return c->line;
}

size_t mpc_csv_lines(const mpc_csv *c) {
	return c->lines;
}

mpc_err mpc_csv_error(const mpc_csv *c, mpc_err code, const char *fmt, ...) {
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (len < 0)
		msg[0] = '\0';
	return mpc_error(code, "%s:%zu: %s", c->name, c->line, msg);
}

/* Split the current record in buf at its commas into f[0..n). */
static mpc_err split(mpc_csv *c) {
	char *s = c->buf;
	c->n = 0;
	for (;;) {
		char *comma = strchr(s, ',');
		if (c->n == c->max_fields)
			return mpc_csv_error(c, MPC_EINVAL, "more than %d columns", c->max_fields);
		c->f[c->n++] = s;
		if (comma == NULL)
			return MPC_OK;
		*comma = '\0';
		s = comma + 1;
	}
}

mpc_err mpc_csv_next(mpc_csv *c, char ***f, int *n) {
	*f = c->f;
	*n = 0;
	c->n = 0;
	while (c->pos < c->len) {
		const char *s = c->text + c->pos;
		const char *nl = memchr(s, '\n', c->len - c->pos);
		size_t l = nl ? (size_t)(nl - s) : c->len - c->pos;
		c->pos += l + (nl != NULL);
		c->line++;
		if (l > 0 && s[l - 1] == '\r')
			l--;
		if (l == 0)
			continue;
		if (l > c->max_line)
			return mpc_csv_error(c, MPC_EINVAL, "line longer than %zu bytes",
			                     c->max_line);
		if (memchr(s, '\0', l) || memchr(s, '"', l))
			return mpc_csv_error(c, MPC_EINVAL, "quotes and NUL bytes are not allowed");
		memcpy(c->buf, s, l);
		c->buf[l] = '\0';
		mpc_err err = split(c);
		if (err != MPC_OK)
			return err;
		if (c->ncols > 0 && c->n != c->ncols)
			return mpc_csv_error(c, MPC_EINVAL, "%d fields, the header has %d", c->n,
			                     c->ncols);
		*n = c->n;
		return MPC_OK;
	}
	return MPC_OK;
}

/* The first record, kept as the header: names distinct (empty ones aside). */
static mpc_err read_header(mpc_csv *c, const char *expect) {
	char **f;
	int n;
	mpc_err err = mpc_csv_next(c, &f, &n);
	if (err != MPC_OK)
		return err;
	if (n == 0)
		return mpc_error(MPC_EINVAL, "%s: empty file: expected a header line%s%s", c->name,
		                 expect ? " " : "", expect ? expect : "");
	c->hbuf_size = (size_t)(f[n - 1] - c->buf) + strlen(f[n - 1]) + 1;
	c->hbuf = malloc(c->hbuf_size);
	c->hnames = malloc((size_t)n * sizeof(*c->hnames));
	if (c->hbuf == NULL || c->hnames == NULL)
		return mpc_error(MPC_ENOMEM, "%s: out of memory", c->name);
	memcpy(c->hbuf, c->buf, c->hbuf_size);
	for (int i = 0; i < n; i++) {
		c->hnames[i] = c->hbuf + (f[i] - c->buf);
		for (int j = 0; j < i; j++)
			if (c->hnames[i][0] != '\0' && strcmp(c->hnames[i], c->hnames[j]) == 0)
				return mpc_csv_error(c, MPC_EINVAL, "column '%s' appears twice",
				                     c->hnames[i]);
	}
	c->ncols = n;
	return MPC_OK;
}

mpc_err mpc_csv_open_mem(const char *name, const char *text, size_t len, const mpc_csv_opts *o,
                         mpc_csv **out) {
	mpc_csv_opts def = {0};
	mpc_csv *c = calloc(1, sizeof(*c));
	mpc_err err = MPC_OK;

	*out = NULL;
	if (o == NULL)
		o = &def;
	if (c == NULL || (c->name = strdup(name)) == NULL) {
		free(c);
		return mpc_error(MPC_ENOMEM, "%s: out of memory", name);
	}
	c->text = text;
	c->len = len;
	c->max_fields = o->max_fields > 0 ? o->max_fields : MPC_CSV_MAX_FIELDS;
	c->max_line = o->max_line > 0 ? o->max_line : MPC_CSV_MAX_LINE;
	c->lines = 1;
	for (const char *p = text; (p = memchr(p, '\n', len - (size_t)(p - text))) != NULL; p++)
		c->lines++;
	c->buf_size = (c->max_line < len ? c->max_line : len) + 1;
	c->buf = malloc(c->buf_size);
	c->f = malloc((size_t)c->max_fields * sizeof(*c->f));
	if (c->buf == NULL || c->f == NULL)
		err = mpc_error(MPC_ENOMEM, "%s: out of memory", name);
	else if (o->header)
		err = read_header(c, o->expect);
	if (err != MPC_OK) {
		mpc_csv_close(c);
		return err;
	}
	*out = c;
	return MPC_OK;
}

mpc_err mpc_csv_open(const char *path, const mpc_csv_opts *o, mpc_csv **out) {
	char *text;
	size_t len;

	*out = NULL;
	mpc_err err = mpc_file_read_all(path, SIZE_MAX, &text, &len);
	if (err != MPC_OK)
		return err;
	if ((err = mpc_csv_open_mem(path, text, len, o, out)) != MPC_OK) {
		mpc_wipe_free(text, len);
		return err;
	}
	(*out)->own = text;
	return MPC_OK;
}

int mpc_csv_col(const mpc_csv *c, const char *name) {
	for (int i = 0; i < c->ncols; i++)
		if (strcmp(c->hnames[i], name) == 0)
			return i;
	return -1;
}

int mpc_csv_header(const mpc_csv *c, char *const **names) {
	*names = c->hnames;
	return c->ncols;
}

mpc_err mpc_csv_number(const mpc_csv *c, int col, double *out) {
	const char *s = col >= 0 && col < c->n ? c->f[col] : "";
	char *end;
	if (s[0] != '\0' && s[strspn(s, "0123456789+-.eE")] == '\0') {
		*out = strtod(s, &end);
		if (*end == '\0' && isfinite(*out))
			return MPC_OK;
	}
	if (col >= 0 && col < c->ncols)
		return mpc_csv_error(c, MPC_EINVAL, "column %s: expected a number", c->hnames[col]);
	return mpc_csv_error(c, MPC_EINVAL, "column %d: expected a number", col + 1);
}

void mpc_csv_close(mpc_csv *c) {
	if (c == NULL)
		return;
	if (c->own)
		mpc_wipe_free(c->own, c->len);
	mpc_wipe_free(c->buf, c->buf ? c->buf_size : 0);
	mpc_wipe_free(c->hbuf, c->hbuf ? c->hbuf_size : 0);
	free(c->f);
	free(c->hnames);
	free(c->name);
	free(c);
}

/* Transactions. */

enum { COL_AMOUNT, COL_FRAUD, COL_CATEGORY, N_COLS };
static const char *const col_names[N_COLS] = {"amount", "fraud", "category"};

/* Allocate room for every row at once: realloc would leave copies of the
 * secret amounts in freed memory. */
mpc_err mpc_txns_alloc(mpc_txns *t, size_t rows) {
	t->amount = malloc(rows * sizeof(*t->amount));
	t->fraud = malloc(rows);
	t->category = malloc(rows * sizeof(*t->category));
	if (!t->amount || !t->fraud || !t->category)
		return mpc_error(MPC_ENOMEM, "out of memory for %zu rows", rows);
	return MPC_OK;
}

static mpc_err category_index(mpc_txns *t, const char *f, uint32_t *idx) {
	for (size_t i = 0; i < t->n_cats; i++)
		if (strcmp(f, t->cats[i]) == 0) {
			*idx = (uint32_t)i;
			return MPC_OK;
		}
	char **nc = realloc(t->cats, (t->n_cats + 1) * sizeof(*nc));
	if (nc == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	t->cats = nc;
	if ((t->cats[t->n_cats] = strdup(f)) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	*idx = (uint32_t)t->n_cats++;
	return MPC_OK;
}

static int valid_category(const char *f) {
	size_t len = strlen(f);
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

/* digits, one optional sign and one optional point; no hex, exponents, inf, nan */
static int parse_amount(const char *f, double *out) {
	char *end;
	size_t len = strlen(f);
	if (len == 0 || len >= 64)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((f[i] >= '0' && f[i] <= '9') || f[i] == '.' || (i == 0 && f[i] == '-') ||
		      (i == 0 && f[i] == '+')))
			return 0;
	errno = 0;
	*out = strtod(f, &end);
	return end == f + len && errno == 0 && isfinite(*out);
}

/* One transaction into row t->n; `where` starts every message. */
static mpc_err txn_row(const char *where, const char *amount, const char *fr, const char *cat,
                       double max_abs, mpc_txns *t) {
	if (!parse_amount(amount, &t->amount[t->n]))
		return mpc_error(MPC_EINVAL,
		                 "%s: column amount: expected a decimal number "
		                 "such as 12.50",
		                 where);
	if (fabs(t->amount[t->n]) > max_abs)
		return mpc_error(MPC_ERANGE,
		                 "%s: column amount: outside the job's range "
		                 "[-%g, %g]",
		                 where, max_abs, max_abs);
	if ((fr[0] != '0' && fr[0] != '1') || fr[1] != '\0')
		return mpc_error(MPC_EINVAL, "%s: column fraud: expected 0 or 1", where);
	t->fraud[t->n] = (uint8_t)(fr[0] - '0');
	if (!valid_category(cat))
		return mpc_error(MPC_EINVAL,
		                 "%s: column category: expected 1 to %d "
		                 "characters of A-Z a-z 0-9 _ . -",
		                 where, MPC_CSV_MAX_CATEGORY);
	return category_index(t, cat, &t->category[t->n]);
}

mpc_err mpc_txns_add(const char *where, const char *amount, const char *fraud, const char *category,
                     double max_abs, mpc_txns *t) {
	mpc_err err = txn_row(where, amount, fraud, category, max_abs, t);
	if (err != MPC_OK) {
		/* the row in progress is not counted in t->n: wipe it here */
		mpc_wipe(&t->amount[t->n], sizeof(*t->amount));
		return err;
	}
	t->n++;
	return MPC_OK;
}

/* Every transaction of an open reader (its header read). */
static mpc_err txns_from(mpc_csv *c, double max_abs, mpc_txns *t) {
	int col[N_COLS], n;
	char **f;
	mpc_err err;

	for (int k = 0; k < N_COLS; k++)
		if ((col[k] = mpc_csv_col(c, col_names[k])) < 0)
			return mpc_csv_error(c, MPC_EINVAL,
			                     "header has no '%s' column (expected "
			                     "amount,fraud,category)",
			                     col_names[k]);
	if ((err = mpc_txns_alloc(t, mpc_csv_lines(c))) != MPC_OK)
		return err;
	while ((err = mpc_csv_next(c, &f, &n)) == MPC_OK && n > 0) {
		/* "file:line", as mpc_csv_error writes it (the detail is cut at the
		 * same length either way) */
		char where[1024];
		snprintf(where, sizeof(where), "%s:%zu", mpc_csv_name(c), mpc_csv_line(c));
		if ((err = mpc_txns_add(where, f[col[COL_AMOUNT]], f[col[COL_FRAUD]],
		                        f[col[COL_CATEGORY]], max_abs, t)) != MPC_OK)
			return err;
	}
	return err;
}

static const mpc_csv_opts txn_opts = {.header = 1, .expect = "amount,fraud,category"};

mpc_err mpc_txns_parse(const char *name, const char *text, size_t len, double max_abs,
                       mpc_txns *t) {
	mpc_csv *c;
	memset(t, 0, sizeof(*t));
	mpc_err err = mpc_csv_open_mem(name, text, len, &txn_opts, &c);
	if (err == MPC_OK)
		err = txns_from(c, max_abs, t);
	mpc_csv_close(c);
	if (err != MPC_OK)
		mpc_txns_fini(t);
	return err;
}

mpc_err mpc_txns_read(const char *path, double max_abs, mpc_txns *t) {
	mpc_csv *c;
	memset(t, 0, sizeof(*t));
	mpc_err err = mpc_csv_open(path, &txn_opts, &c);
	if (err == MPC_OK)
		err = txns_from(c, max_abs, t);
	mpc_csv_close(c);
	if (err != MPC_OK)
		mpc_txns_fini(t);
	return err;
}

void mpc_txns_fini(mpc_txns *t) {
	if (t->amount)
		mpc_wipe(t->amount, t->n * sizeof(*t->amount));
	if (t->fraud)
		mpc_wipe(t->fraud, t->n);
	if (t->category) /* which row is in which category is private too */
		mpc_wipe(t->category, t->n * sizeof(*t->category));
	free(t->amount);
	free(t->fraud);
	free(t->category);
	for (size_t i = 0; i < t->n_cats; i++)
		free(t->cats[i]);
	free(t->cats);
	memset(t, 0, sizeof(*t));
}
