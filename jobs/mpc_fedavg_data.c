/* Federated averaging's CSV reader (jobs/mpc_fedavg_data.h), over the job
 * layer's CSV reader (jobs/mpc_csv.h). The rows are secret: error texts name
 * file, line and column, never a field's content, and every buffer that held
 * a field is wiped. */
#include "jobs/mpc_fedavg_data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/mpc_csv.h"
#include "jobs/mpc_synth.h"
#include "runtime/mpc_file.h"
#include "runtime/mpc_wipe.h"

_Static_assert(MPC_FEDAVG_N_CATS == MPC_SYNTH_N_CATS,
               "the model's one-hot inputs are the generator's categories");

enum { AMOUNT, FRAUD, CATEGORY, HOUR, MERCHANT, NAMED };
static const char *const named[NAMED] = {"amount", "fraud", "category", "hour", "merchant"};

/* The reader's state: the file, the header's columns. */
typedef struct {
	mpc_csv *c;
	int col[NAMED]; /* column of each named field (-1: absent) */
	int *feat;      /* column of f<j> */
} reader;

/* The header: the named columns and f0..f(F-1); then room for every line's
 * row in D. */
static mpc_err read_header(reader *rd, mpc_fedavg_data *D) {
	char *const *names;
	int n = mpc_csv_header(rd->c, &names);
	for (int c = 0; c < NAMED; c++)
		rd->col[c] = mpc_csv_col(rd->c, named[c]);
	for (int i = 0; i < n; i++)
		D->F += names[i][0] == 'f' && names[i][1] >= '0' && names[i][1] <= '9';
	for (int c = 0; c < MERCHANT; c++)
		if (rd->col[c] < 0)
			return mpc_csv_error(rd->c, MPC_EINVAL, "header has no '%s' column",
			                     named[c]);
	if ((rd->feat = calloc((size_t)D->F + 1, sizeof(*rd->feat))) == NULL)
		return mpc_error(MPC_ENOMEM, "%s: out of memory", mpc_csv_name(rd->c));
	for (int j = 0; j < D->F; j++) {
		char want[16];
		snprintf(want, sizeof(want), "f%d", j);
		if ((rd->feat[j] = mpc_csv_col(rd->c, want)) < 0)
			return mpc_csv_error(rd->c, MPC_EINVAL,
			                     "header has %d feature columns but no %s", D->F, want);
	}
	size_t rows = mpc_csv_lines(rd->c);
	D->d = MPC_FEDAVG_EXTRA + (size_t)D->F;
	D->x = calloc(rows * D->d + 1, sizeof(double));
	D->y = calloc(rows + 1, 1);
	D->merchant = calloc(rows + 1, sizeof(int));
	if (!D->x || !D->y || !D->merchant)
		return mpc_error(MPC_ENOMEM, "%s: out of memory for %zu rows", mpc_csv_name(rd->c),
		                 rows);
	return MPC_OK;
}

/* The label and the merchant column of row D->n (fields f). */
static mpc_err read_label(const reader *rd, char **f, mpc_fedavg_data *D) {
	const char *fr = f[rd->col[FRAUD]];
	double v;
	if ((fr[0] != '0' && fr[0] != '1') || fr[1] != '\0')
		return mpc_csv_error(rd->c, MPC_EINVAL, "column fraud: expected 0 or 1");
	D->y[D->n] = (uint8_t)(fr[0] - '0');
	D->merchant[D->n] = -1;
	if (rd->col[MERCHANT] >= 0) {
		if (mpc_csv_number(rd->c, rd->col[MERCHANT], &v) != MPC_OK ||
		    !(v >= 0 && v < 1e6) || v != floor(v))
			return mpc_csv_error(rd->c, MPC_EINVAL,
			                     "column merchant: expected a merchant number");
		D->merchant[D->n] = (int)v;
	}
	return MPC_OK;
}

/* A data line (fields f) into row D->n (model layout). */
static mpc_err read_row(const reader *rd, char **f, mpc_fedavg_data *D) {
	double *x = D->x + D->n * D->d, v;
	mpc_err err;
	x[0] = 1;
	for (int j = 0; j < D->F; j++)
		if ((err = mpc_csv_number(rd->c, rd->feat[j], &x[1 + j])) != MPC_OK)
			return err; /* "column fJ: expected a number" */
	if (mpc_csv_number(rd->c, rd->col[AMOUNT], &v) != MPC_OK || !(v > 0))
		return mpc_csv_error(rd->c, MPC_EINVAL,
		                     "column amount: expected a positive number");
	x[1 + D->F] = (log(v) - 4) / 1.5;
	if (mpc_csv_number(rd->c, rd->col[HOUR], &v) != MPC_OK || !(v >= 0 && v < 24))
		return mpc_csv_error(rd->c, MPC_EINVAL, "column hour: expected 0..23");
	x[2 + D->F] = v < 6;
	for (int c = 0; c < MPC_FEDAVG_N_CATS; c++)
		x[3 + D->F + c] = strcmp(f[rd->col[CATEGORY]], mpc_synth_category(c)) == 0;
	return read_label(rd, f, D);
}

mpc_err mpc_fedavg_data_read(const char *path, mpc_fedavg_data *D) {
	/* gen_data writes up to MPC_SYNTH_MAX_FEATURES feature columns */
	const mpc_csv_opts opts = {.header = 1, .max_fields = 4096, .max_line = 1 << 20};
	reader rd = {.c = NULL};
	char **f;
	int n;

	memset(D, 0, sizeof(*D));
	mpc_err err = mpc_csv_open(path, &opts, &rd.c);
	if (err == MPC_OK)
		err = read_header(&rd, D);
	while (err == MPC_OK && (err = mpc_csv_next(rd.c, &f, &n)) == MPC_OK && n > 0)
		if ((err = read_row(&rd, f, D)) == MPC_OK)
			D->n++;
	mpc_csv_close(rd.c);
	free(rd.feat);
	if (err != MPC_OK) {
		/* a row in progress is not counted in D->n: wipe it too */
		if (D->x)
			mpc_wipe(D->x + D->n * D->d, D->d * sizeof(double));
		mpc_fedavg_data_fini(D);
	}
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

/* The name of model input k of d (F = d - MPC_FEDAVG_EXTRA features) in the
 * model file: intercept, f0..f(F-1), log_amount, night, category_NAME. */
static void input_name(size_t k, size_t d, char *buf, size_t len) {
	size_t F = d - MPC_FEDAVG_EXTRA;
	if (k == 0)
		snprintf(buf, len, "intercept");
	else if (k <= F)
		snprintf(buf, len, "f%zu", k - 1);
	else if (k <= F + 2)
		snprintf(buf, len, "%s", k == F + 1 ? "log_amount" : "night");
	else
		snprintf(buf, len, "category_%s", mpc_synth_category((int)(k - 3 - F)));
}

mpc_err mpc_fedavg_model_write(const char *path, const double *w, size_t d) {
	size_t cap = 64 + d * 48, len = 0;
	char *t = malloc(cap), name[32];
	if (t == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	len += (size_t)snprintf(t + len, cap - len, "input,weight\n");
	for (size_t k = 0; k < d; k++) {
		input_name(k, d, name, sizeof(name));
		len += (size_t)snprintf(t + len, cap - len, "%s,%.10g\n", name, w[k]);
	}
	mpc_err err = mpc_file_write_atomic(path, t, len, 0644);
	free(t);
	return err;
}

mpc_err mpc_fedavg_mlp_write(const char *path, const double *w, size_t d, int hidden) {
	size_t H = (size_t)hidden, P = mpc_fedavg_nparams(hidden, d), cap = 64 + P * 64, len = 0;
	char *t = malloc(cap), name[32];
	if (t == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	len += (size_t)snprintf(t + len, cap - len, "parameter,weight\n");
	for (size_t k = 0; k < P; k++) {
		if (k < H * d) { /* unit k / d's weight on input k % d */
			input_name(k % d, d, name, sizeof(name));
			len += (size_t)snprintf(t + len, cap - len, "h%zu.%s,%.10g\n", k / d, name,
			                        w[k]);
		} else if (k < P - 1) {
			len += (size_t)snprintf(t + len, cap - len, "out.h%zu,%.10g\n", k - H * d,
			                        w[k]);
		} else {
			len += (size_t)snprintf(t + len, cap - len, "out.bias,%.10g\n", w[k]);
		}
	}
	mpc_err err = mpc_file_write_atomic(path, t, len, 0644);
	free(t);
	return err;
}

/* The model input a model file's line names (d inputs), or d. */
static size_t input_index(const char *name, size_t d) {
	size_t F = d - MPC_FEDAVG_EXTRA, k = 0, end = 1;
	char want[32];
	if (name[0] == 'f' && name[1] >= '0' && name[1] <= '9') {
		k = (size_t)strtoul(name + 1, NULL, 10) + 1;
		end = k + 1;
	} else if (strcmp(name, "intercept") != 0) { /* log_amount, night, categories */
		k = F + 1;
		end = d;
	}
	for (; k < end && k < d; k++) {
		input_name(k, d, want, sizeof(want));
		if (strcmp(name, want) == 0)
			return k;
	}
	return d;
}

mpc_err mpc_fedavg_model_read(const char *path, double *w, size_t d) {
	const mpc_csv_opts opts = {.header = 1, .max_fields = 8};
	unsigned char *seen = calloc(d + 1, 1);
	char **f;
	int n;
	mpc_csv *c = NULL;
	if (seen == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	mpc_err err = mpc_csv_open(path, &opts, &c);
	if (err == MPC_OK && (mpc_csv_col(c, "input") != 0 || mpc_csv_col(c, "weight") != 1))
		err = mpc_csv_error(c, MPC_EINVAL, "expected the header 'input,weight'");
	while (err == MPC_OK && (err = mpc_csv_next(c, &f, &n)) == MPC_OK && n > 0) {
		size_t k = input_index(f[0], d);
		if (n != 2 || k == d)
			err = mpc_csv_error(c, MPC_EINVAL, "not an input of a model of %zu inputs",
			                    d);
		else if (seen[k]++)
			err = mpc_csv_error(c, MPC_EINVAL, "input %s given twice", f[0]);
		else
			err = mpc_csv_number(c, 1, &w[k]);
	}
	mpc_csv_close(c);
	for (size_t k = 0; err == MPC_OK && k < d; k++)
		if (!seen[k]) {
			char name[32];
			input_name(k, d, name, sizeof(name));
			err = mpc_error(MPC_EINVAL, "%s: no weight for %s", path, name);
		}
	free(seen);
	return err;
}
