/* Federated averaging's CSV reader (jobs/mpc_fedavg_data.h). The rows are
 * secret: error texts name file, line and column, never a field's content,
 * and every buffer that held a field is wiped. */
#include "jobs/mpc_fedavg_data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/mpc_synth.h"
#include "runtime/mpc_file.h"
#include "runtime/mpc_wipe.h"

_Static_assert(MPC_FEDAVG_N_CATS == MPC_SYNTH_N_CATS,
               "the model's one-hot inputs are the generator's categories");

enum { AMOUNT, FRAUD, CATEGORY, HOUR, MERCHANT, NAMED };
static const char *const named[NAMED] = {"amount", "fraud", "category", "hour", "merchant"};

/* The reader's state: the file, one line's fields, the header's columns. */
typedef struct {
	const char *path;
	size_t line;
	const char **fld;
	size_t *flen;
	int n, ncols;   /* fields on this line; columns (the widest line, then the header's) */
	int col[NAMED]; /* column of each named field (-1: absent) */
	int *feat;      /* column of f<j> */
} reader;

static int field_is(const char *f, size_t len, const char *word) {
	return strlen(word) == len && strncmp(f, word, len) == 0;
}

/* A number from a field (no value in any message: the data is secret). */
static int number(const char *f, size_t len, double *out) {
	char buf[64], *end;
	if (len == 0 || len >= sizeof(buf))
		return 0;
	memcpy(buf, f, len);
	buf[len] = '\0';
	*out = strtod(buf, &end);
	int ok = end == buf + len && isfinite(*out);
	mpc_wipe(buf, sizeof(buf));
	return ok;
}

static int field_number(const reader *rd, int col, double *out) {
	return number(rd->fld[col], rd->flen[col], out);
}

/* Lines and the widest line's field count, for the room to allocate. */
static void measure(const char *buf, size_t len, size_t *rows, int *ncols) {
	*rows = 0;
	*ncols = 0;
	for (size_t i = 0, commas = 0; i <= len; i++) {
		if (i == len || buf[i] == '\n') {
			(*rows)++;
			*ncols = (int)commas + 1 > *ncols ? (int)commas + 1 : *ncols;
			commas = 0;
		} else
			commas += buf[i] == ',';
	}
}

/* Split line s[0..l) at commas into rd->fld / rd->flen. */
static mpc_err split(reader *rd, const char *s, size_t l) {
	size_t start = 0;
	rd->n = 0;
	for (size_t i = 0; i <= l; i++)
		if (i == l || s[i] == ',') {
			if (rd->n == rd->ncols)
				return mpc_error(MPC_EINVAL,
				                 "%s:%zu: more fields than the header has",
				                 rd->path, rd->line);
			rd->fld[rd->n] = s + start;
			rd->flen[rd->n++] = i - start;
			start = i + 1;
		}
	return MPC_OK;
}

/* The header line: the named columns and f0..f(F-1); then room for `rows`
 * rows in D. */
static mpc_err read_header(reader *rd, size_t rows, mpc_fedavg_data *D) {
	for (int i = 0; i < rd->n; i++) {
		for (int c = 0; c < NAMED; c++)
			if (field_is(rd->fld[i], rd->flen[i], named[c]))
				rd->col[c] = i;
		if (rd->flen[i] >= 2 && rd->fld[i][0] == 'f' && rd->fld[i][1] >= '0' &&
		    rd->fld[i][1] <= '9')
			D->F++;
	}
	for (int c = 0; c < MERCHANT; c++)
		if (rd->col[c] < 0)
			return mpc_error(MPC_EINVAL, "%s:%zu: header has no '%s' column", rd->path,
			                 rd->line, named[c]);
	for (int j = 0; j < D->F; j++) {
		char want[16];
		snprintf(want, sizeof(want), "f%d", j);
		rd->feat[j] = -1;
		for (int i = 0; i < rd->n; i++)
			if (field_is(rd->fld[i], rd->flen[i], want))
				rd->feat[j] = i;
		if (rd->feat[j] < 0)
			return mpc_error(MPC_EINVAL,
			                 "%s:%zu: header has %d feature columns but no %s",
			                 rd->path, rd->line, D->F, want);
	}
	rd->ncols = rd->n;
	D->d = MPC_FEDAVG_EXTRA + (size_t)D->F;
	D->x = calloc(rows * D->d + 1, sizeof(double));
	D->y = calloc(rows + 1, 1);
	D->merchant = calloc(rows + 1, sizeof(int));
	if (!D->x || !D->y || !D->merchant)
		return mpc_error(MPC_ENOMEM, "%s: out of memory for %zu rows", rd->path, rows);
	return MPC_OK;
}

/* The label and the merchant column of row D->n. */
static mpc_err read_label(const reader *rd, mpc_fedavg_data *D) {
	const char *fr = rd->fld[rd->col[FRAUD]];
	double v;
	if (rd->flen[rd->col[FRAUD]] != 1 || (fr[0] != '0' && fr[0] != '1'))
		return mpc_error(MPC_EINVAL, "%s:%zu: column fraud: expected 0 or 1", rd->path,
		                 rd->line);
	D->y[D->n] = (uint8_t)(fr[0] - '0');
	D->merchant[D->n] = -1;
	if (rd->col[MERCHANT] >= 0) {
		if (!field_number(rd, rd->col[MERCHANT], &v) || !(v >= 0 && v < 1e6) ||
		    v != floor(v))
			return mpc_error(MPC_EINVAL,
			                 "%s:%zu: column merchant: expected a merchant "
			                 "number",
			                 rd->path, rd->line);
		D->merchant[D->n] = (int)v;
	}
	return MPC_OK;
}

/* A data line into row D->n (model layout). */
static mpc_err read_row(const reader *rd, mpc_fedavg_data *D) {
	if (rd->n != rd->ncols)
		return mpc_error(MPC_EINVAL, "%s:%zu: %d fields, the header has %d", rd->path,
		                 rd->line, rd->n, rd->ncols);
	double *x = D->x + D->n * D->d, v;
	x[0] = 1;
	for (int j = 0; j < D->F; j++)
		if (!field_number(rd, rd->feat[j], &x[1 + j]))
			return mpc_error(MPC_EINVAL, "%s:%zu: column f%d: expected a number",
			                 rd->path, rd->line, j);
	if (!field_number(rd, rd->col[AMOUNT], &v) || !(v > 0))
		return mpc_error(MPC_EINVAL, "%s:%zu: column amount: expected a positive number",
		                 rd->path, rd->line);
	x[1 + D->F] = (log(v) - 4) / 1.5;
	if (!field_number(rd, rd->col[HOUR], &v) || !(v >= 0 && v < 24))
		return mpc_error(MPC_EINVAL, "%s:%zu: column hour: expected 0..23", rd->path,
		                 rd->line);
	x[2 + D->F] = v < 6;
	for (int c = 0; c < MPC_FEDAVG_N_CATS; c++)
		x[3 + D->F + c] = field_is(rd->fld[rd->col[CATEGORY]], rd->flen[rd->col[CATEGORY]],
		                           mpc_synth_category(c));
	return read_label(rd, D);
}

/* Every line of buf[0..len): the header, then the rows. */
static mpc_err read_lines(reader *rd, const char *buf, size_t len, size_t rows,
                          mpc_fedavg_data *D) {
	mpc_err err;
	for (size_t pos = 0; pos < len;) {
		const char *s = buf + pos, *nl = memchr(s, '\n', len - pos);
		size_t l = nl ? (size_t)(nl - s) : len - pos;
		pos += l + (nl != NULL);
		rd->line++;
		if (l > 0 && s[l - 1] == '\r')
			l--;
		if (l == 0)
			continue;
		if ((err = split(rd, s, l)) != MPC_OK)
			return err;
		if (D->x == NULL)
			err = read_header(rd, rows, D);
		else if ((err = read_row(rd, D)) == MPC_OK)
			D->n++;
		if (err != MPC_OK)
			return err;
	}
	if (D->x == NULL)
		return mpc_error(MPC_EINVAL, "%s: empty file: expected a header line", rd->path);
	return MPC_OK;
}

mpc_err mpc_fedavg_data_read(const char *path, mpc_fedavg_data *D) {
	reader rd = {.path = path, .col = {-1, -1, -1, -1, -1}};
	char *buf = NULL;
	size_t len = 0, rows = 0;
	mpc_err err;

	memset(D, 0, sizeof(*D));
	if ((err = mpc_file_read_all(path, SIZE_MAX, &buf, &len)) != MPC_OK)
		return err;
	measure(buf, len, &rows, &rd.ncols);
	rd.fld = calloc((size_t)rd.ncols, sizeof(*rd.fld));
	rd.flen = calloc((size_t)rd.ncols, sizeof(*rd.flen));
	rd.feat = calloc((size_t)rd.ncols, sizeof(*rd.feat));
	if (!rd.fld || !rd.flen || !rd.feat)
		err = mpc_error(MPC_ENOMEM, "%s: out of memory", path);
	else
		err = read_lines(&rd, buf, len, rows, D);
	if (buf) {
		mpc_wipe(buf, len);
		free(buf);
	}
	free(rd.fld);
	free(rd.flen);
	free(rd.feat);
	if (err != MPC_OK)
		mpc_fedavg_data_fini(D);
	return err;
}

mpc_err mpc_fedavg_data_load(const char *dir, int me, const char *holdout, mpc_fedavg_data *D,
                             mpc_fedavg_data *H) {
	char path[4200];
	mpc_err err;

	memset(D, 0, sizeof(*D));
	memset(H, 0, sizeof(*H));
	snprintf(path, sizeof(path), "%s/merchant%d.csv", dir, me);
	if ((err = mpc_fedavg_data_read(path, D)) != MPC_OK)
		return err;
	if (holdout && (err = mpc_fedavg_data_read(holdout, H)) != MPC_OK)
		return err;
	if (holdout && H->d != D->d)
		return mpc_error(MPC_ECONFIG, "party %d: %s has %d features, the held-out file %d",
		                 me, path, D->F, H->F);
	return MPC_OK;
}
