/* fedavg.h: federated averaging of logistic-regression fraud models with
 * secure aggregation. Header-only (every function static), shared by
 * examples/fed_avg.c and tests/loopback/test_fedavg.c.
 *
 * Each merchant (a party) reads its own CSV (gen_data's columns) and, round
 * after round, trains the current shared model for E epochs of mini-batch
 * gradient descent on its own rows (plain C, doubles), optionally adds
 * Gaussian noise to its weight vector, and inputs the vector as fixed-point
 * values in Z_2^128 to the runtime (mpc_input: additive shares, nothing
 * sent). The parties add the shares locally and open only the sum
 * (mpc_open, one round); the average (sum / N, or with weighting the sum of
 * rows_i * w_i over the opened total of rows) is the next shared model.
 *
 * What is revealed: the averaged model after every round (and, weighted, the
 * total number of rows). No merchant's own weight vector, rows or row count
 * is sent anywhere. As with any sum: with two merchants each can subtract its
 * own vector from the sum and so learns the other's; with three or more, a
 * merchant learns the sum of the others' vectors, not each. The noise option
 * is local noise that each merchant adds to its own vector before sharing
 * (so the opened average carries noise of spread SIGMA/sqrt(N)); it is not
 * the joint noise of the statistics job, and without clipping and an
 * accounting of rounds it is no formal differential-privacy guarantee.
 *
 * Accuracy: each weight is encoded with error at most 2^-(F+1), the sum is
 * exact after that, so the average is within 2^-(F+1) of the plaintext
 * average of what the merchants shared (weighted: N * 2^-(F+1) / total rows).
 *
 * The model: logit = w . [1, f0..f(F-1), (ln amount - 4)/1.5, hour < 6,
 * one-hot of the six gen_data categories (another category: all zero)]. */
#ifndef FEDAVG_H
#define FEDAVG_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/mpc_local.h"
#include "protocols/core/mpc_share.h"
#include "runtime/mpc_file.h"
#include "runtime/mpc_fixed.h"
#include "runtime/mpc_wipe.h"
#include "examples/synth.h"

#define FA_FN static __attribute__((unused))
/* model inputs besides the numeric features: intercept, amount, night,
 * categories */
#define FA_EXTRA (3 + SYNTH_N_CATS)
#define FA_MAX_PARTIES 16
#define FA_RING MPC_Z128

/* A data set in model layout: n rows of d = FA_EXTRA + F inputs. */
typedef struct {
	size_t n, d;
	int F;
	double *x;     /* n * d, row-major */
	uint8_t *y;    /* n */
	int *merchant; /* n: the merchant column (holdout.csv), or -1 */
} fa_data;

/* The job, public and the same at every party. */
typedef struct {
	const char *dir;     /* DIR/merchant<i>.csv is party i's file */
	const char *holdout; /* held-out file every party evaluates on (NULL: none) */
	int rounds, epochs;
	double lr, l2;
	size_t batch;
	double noise;   /* SIGMA of each merchant's local Gaussian noise (0: none) */
	int weighted;   /* weight the average by row counts */
	unsigned frac;  /* fixed-point fractional bits */
	int trace;      /* also emit every round's shared-in and opened vectors */
} fa_params;

FA_FN void fa_params_default(fa_params *fp)
{
	memset(fp, 0, sizeof(*fp));
	fp->dir = "examples/data";
	fp->rounds = 10;
	fp->epochs = 2;
	fp->lr = 0.1;
	fp->l2 = 1e-3;
	fp->batch = 32;
	fp->frac = 32;
}

typedef struct {
	double auc, logloss, accuracy;
	int64_t n; /* rows evaluated */
} fa_metrics;

/* What every party emits last. Before it: with trace, per round the d
 * doubles it shared (after noise, before weighting) and the d doubles of the
 * opened average; then the shared model (d doubles). */
typedef struct {
	int64_t d, rows, frauds, total_rows; /* total_rows: opened when weighted, else 0 */
	fa_metrics local_all, shared_all;    /* on the whole held-out file */
	fa_metrics local_own, shared_own;    /* on its rows from this merchant */
} fa_report;

FA_FN void fa_data_fini(fa_data *D)
{
	if (D->x)
		mpc_wipe(D->x, D->n * D->d * sizeof(double));
	if (D->y)
		mpc_wipe(D->y, D->n);
	free(D->x);
	free(D->y);
	free(D->merchant);
	memset(D, 0, sizeof(*D));
}

FA_FN int fa_field_is(const char *f, size_t len, const char *word)
{
	return strlen(word) == len && strncmp(f, word, len) == 0;
}

/* A number from a field (no value in any message: the data is secret). */
FA_FN int fa_number(const char *f, size_t len, double *out)
{
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

/* Read a gen_data CSV into model layout. MPC_EIO if unreadable, MPC_EINVAL
 * naming file:line and column for bad content. Caller calls fa_data_fini. */
FA_FN mpc_err fa_data_read(const char *path, fa_data *D)
{
	enum { AMOUNT, FRAUD, CATEGORY, HOUR, MERCHANT, NAMED };
	static const char *const named[NAMED] = {"amount", "fraud", "category", "hour",
						 "merchant"};
	char *buf = NULL;
	const char **fld = NULL;
	size_t *flen = NULL;
	int *feat = NULL; /* column of f<j> */
	int col[NAMED] = {-1, -1, -1, -1, -1}, ncols = 0;
	size_t len = 0, rows = 0, pos = 0, line = 0;
	mpc_err err;

	memset(D, 0, sizeof(*D));
	if ((err = mpc_file_read_all(path, SIZE_MAX, &buf, &len)) != MPC_OK)
		return err;
	/* room for the widest line */
	for (size_t i = 0, commas = 0; i <= len; i++) {
		if (i == len || buf[i] == '\n') {
			rows++;
			ncols = (int)commas + 1 > ncols ? (int)commas + 1 : ncols;
			commas = 0;
		} else
			commas += buf[i] == ',';
	}
	fld = calloc((size_t)ncols, sizeof(*fld));
	flen = calloc((size_t)ncols, sizeof(*flen));
	feat = calloc((size_t)ncols, sizeof(*feat));
	if (!fld || !flen || !feat) {
		err = mpc_error(MPC_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	while (pos < len) {
		char *s = buf + pos, *nl = memchr(s, '\n', len - pos);
		size_t l = nl ? (size_t)(nl - s) : len - pos, start = 0;
		int n = 0;
		pos += l + (nl != NULL);
		line++;
		if (l > 0 && s[l - 1] == '\r')
			l--;
		if (l == 0)
			continue;
		for (size_t i = 0; i <= l; i++)
			if (i == l || s[i] == ',') {
				if (n == ncols) {
					err = mpc_error(MPC_EINVAL, "%s:%zu: more fields than the "
								    "header has", path, line);
					goto out;
				}
				fld[n] = s + start;
				flen[n++] = i - start;
				start = i + 1;
			}
		if (D->x == NULL) { /* the header */
			for (int i = 0; i < n; i++) {
				for (int c = 0; c < NAMED; c++)
					if (fa_field_is(fld[i], flen[i], named[c]))
						col[c] = i;
				if (flen[i] >= 2 && fld[i][0] == 'f' && fld[i][1] >= '0' &&
				    fld[i][1] <= '9')
					D->F++;
			}
			for (int c = 0; c < MERCHANT; c++)
				if (col[c] < 0) {
					err = mpc_error(MPC_EINVAL, "%s:%zu: header has no '%s' "
								    "column", path, line, named[c]);
					goto out;
				}
			for (int j = 0; j < D->F; j++) {
				char want[16];
				snprintf(want, sizeof(want), "f%d", j);
				feat[j] = -1;
				for (int i = 0; i < n; i++)
					if (fa_field_is(fld[i], flen[i], want))
						feat[j] = i;
				if (feat[j] < 0) {
					err = mpc_error(MPC_EINVAL, "%s:%zu: header has %d feature "
								    "columns but no %s", path, line, D->F,
							want);
					goto out;
				}
			}
			ncols = n;
			D->d = FA_EXTRA + (size_t)D->F;
			D->x = calloc(rows * D->d + 1, sizeof(double));
			D->y = calloc(rows + 1, 1);
			D->merchant = calloc(rows + 1, sizeof(int));
			if (!D->x || !D->y || !D->merchant) {
				err = mpc_error(MPC_ENOMEM, "%s: out of memory for %zu rows", path,
						rows);
				goto out;
			}
			continue;
		}
		if (n != ncols) {
			err = mpc_error(MPC_EINVAL, "%s:%zu: %d fields, the header has %d", path, line,
					n, ncols);
			goto out;
		}
		double *x = D->x + D->n * D->d, v;
		x[0] = 1;
		for (int j = 0; j < D->F; j++)
			if (!fa_number(fld[feat[j]], flen[feat[j]], &x[1 + j])) {
				err = mpc_error(MPC_EINVAL, "%s:%zu: column f%d: expected a number",
						path, line, j);
				goto out;
			}
		if (!fa_number(fld[col[AMOUNT]], flen[col[AMOUNT]], &v) || !(v > 0)) {
			err = mpc_error(MPC_EINVAL, "%s:%zu: column amount: expected a positive "
						    "number", path, line);
			goto out;
		}
		x[1 + D->F] = (log(v) - 4) / 1.5;
		if (!fa_number(fld[col[HOUR]], flen[col[HOUR]], &v) || !(v >= 0 && v < 24)) {
			err = mpc_error(MPC_EINVAL, "%s:%zu: column hour: expected 0..23", path, line);
			goto out;
		}
		x[2 + D->F] = v < 6;
		for (int c = 0; c < SYNTH_N_CATS; c++)
			x[3 + D->F + c] = fa_field_is(fld[col[CATEGORY]], flen[col[CATEGORY]],
						      synth_cats[c].name);
		const char *fr = fld[col[FRAUD]];
		if (flen[col[FRAUD]] != 1 || (fr[0] != '0' && fr[0] != '1')) {
			err = mpc_error(MPC_EINVAL, "%s:%zu: column fraud: expected 0 or 1", path, line);
			goto out;
		}
		D->y[D->n] = (uint8_t)(fr[0] - '0');
		D->merchant[D->n] = -1;
		if (col[MERCHANT] >= 0) {
			if (!fa_number(fld[col[MERCHANT]], flen[col[MERCHANT]], &v) ||
			    !(v >= 0 && v < 1e6) || v != floor(v)) {
				err = mpc_error(MPC_EINVAL, "%s:%zu: column merchant: expected a "
							    "merchant number", path, line);
				goto out;
			}
			D->merchant[D->n] = (int)v;
		}
		D->n++;
	}
	if (D->x == NULL)
		err = mpc_error(MPC_EINVAL, "%s: empty file: expected a header line", path);
out:
	if (buf) {
		mpc_wipe(buf, len);
		free(buf);
	}
	free(fld);
	free(flen);
	free(feat);
	if (err != MPC_OK)
		fa_data_fini(D);
	return err;
}

/* out = the rows of a[0..k-1] (the same layout), for a reference trained in
 * the clear on the union. MPC_EINVAL if layouts differ, MPC_ENOMEM. */
FA_FN mpc_err fa_data_concat(const fa_data *a, int k, fa_data *out)
{
	size_t n = 0;
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < k; i++) {
		if (a[i].d != a[0].d)
			return mpc_error(MPC_EINVAL, "file %d has %d features, file 0 has %d", i,
					 a[i].F, a[0].F);
		n += a[i].n;
	}
	out->d = a[0].d;
	out->F = a[0].F;
	out->x = malloc((n * out->d + 1) * sizeof(double));
	out->y = malloc(n + 1);
	out->merchant = malloc((n + 1) * sizeof(int));
	if (!out->x || !out->y || !out->merchant) {
		fa_data_fini(out);
		return mpc_error(MPC_ENOMEM, "out of memory for %zu rows", n);
	}
	for (int i = 0; i < k; i++) {
		memcpy(out->x + out->n * out->d, a[i].x, a[i].n * a[i].d * sizeof(double));
		memcpy(out->y + out->n, a[i].y, a[i].n);
		for (size_t r = 0; r < a[i].n; r++)
			out->merchant[out->n + r] = i;
		out->n += a[i].n;
	}
	return MPC_OK;
}

FA_FN double fa_sigmoid(double z)
{
	return z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z));
}

FA_FN double fa_score(const double *w, const double *x, size_t d)
{
	double z = 0;
	for (size_t k = 0; k < d; k++)
		z += w[k] * x[k];
	return z;
}

/* `epochs` passes of mini-batch gradient descent on the log-loss plus
 * l2/2 |w|^2 (not on the intercept), from w, in place. The batch order is
 * shuffled with a public seed (it tells nothing about the rows). MPC_ENOMEM. */
FA_FN mpc_err fa_train(const fa_data *D, double *w, const fa_params *fp, int epochs,
		       uint64_t seed)
{
	size_t *idx = malloc((D->n + 1) * sizeof(size_t));
	double *g = malloc(D->d * sizeof(double));
	synth_rng r = synth_stream(seed, 99, 0);
	if (!idx || !g) {
		free(idx);
		free(g);
		return mpc_error(MPC_ENOMEM, "out of memory training on %zu rows", D->n);
	}
	for (size_t i = 0; i < D->n; i++)
		idx[i] = i;
	for (int e = 0; e < epochs; e++) {
		for (size_t i = D->n; i > 1; i--) {
			size_t j = (size_t)(synth_next(&r) % i), t = idx[i - 1];
			idx[i - 1] = idx[j];
			idx[j] = t;
		}
		for (size_t b = 0; b < D->n; b += fp->batch) {
			size_t end = b + fp->batch < D->n ? b + fp->batch : D->n;
			memset(g, 0, D->d * sizeof(double));
			for (size_t t = b; t < end; t++) {
				const double *x = D->x + idx[t] * D->d;
				double e_ = fa_sigmoid(fa_score(w, x, D->d)) - D->y[idx[t]];
				for (size_t k = 0; k < D->d; k++)
					g[k] += e_ * x[k];
			}
			for (size_t k = 0; k < D->d; k++)
				w[k] -= fp->lr * (g[k] / (double)(end - b) + (k ? fp->l2 * w[k] : 0));
		}
	}
	mpc_wipe(g, D->d * sizeof(double));
	free(idx);
	free(g);
	return MPC_OK;
}

typedef struct {
	double s;
	uint8_t y;
} fa_scored;

FA_FN int fa_cmp_scored(const void *a, const void *b)
{
	double x = ((const fa_scored *)a)->s, y = ((const fa_scored *)b)->s;
	return (x > y) - (x < y);
}

/* AUC (ties counted half), mean log-loss and accuracy at 1/2 of w on the rows
 * of D from `merchant` (-1: all). NaN AUC if a class is missing. */
FA_FN fa_metrics fa_eval(const fa_data *D, const double *w, int merchant)
{
	fa_metrics m = {NAN, NAN, NAN, 0};
	fa_scored *s = malloc((D->n + 1) * sizeof(*s));
	double ll = 0, pos = 0, ranks = 0;
	size_t n = 0, right = 0;
	if (s == NULL)
		return m;
	for (size_t i = 0; i < D->n; i++) {
		if (merchant >= 0 && D->merchant[i] != merchant)
			continue;
		double z = fa_score(w, D->x + i * D->d, D->d);
		/* log(1 + e^z) - y z, stably */
		ll += (z > 0 ? z + log1p(exp(-z)) : log1p(exp(z))) - D->y[i] * z;
		right += (z > 0) == (D->y[i] == 1);
		s[n].s = z;
		s[n++].y = D->y[i];
		pos += D->y[i];
	}
	qsort(s, n, sizeof(*s), fa_cmp_scored);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && s[j].s == s[i].s)
			j++;
		double rank = (double)(i + j + 1) / 2; /* ranks i+1..j, averaged */
		for (size_t k = i; k < j; k++)
			ranks += s[k].y ? rank : 0;
		i = j;
	}
	free(s);
	m.n = (int64_t)n;
	if (n == 0)
		return m;
	m.logloss = ll / (double)n;
	m.accuracy = (double)right / (double)n;
	double neg = (double)n - pos;
	if (pos > 0 && neg > 0)
		m.auc = (ranks - pos * (pos + 1) / 2) / (pos * neg);
	return m;
}

/* One Gaussian N(0, 1) from the party's own (cryptographic) stream. */
FA_FN mpc_err fa_gauss(mpc_party *p, double *out)
{
	uint64_t u[2];
	mpc_err err = mpc_party_prg_own(p, u, sizeof(u));
	if (err != MPC_OK)
		return err;
	double a = ((double)(u[0] >> 11) + 0.5) * 0x1p-53, b = (double)(u[1] >> 11) * 0x1p-53;
	*out = sqrt(-2 * log(a)) * cos(2 * M_PI * b);
	mpc_wipe(u, sizeof(u));
	return MPC_OK;
}

/* Every party inputs its n values v (fixed point, F bits); all learn only
 * the sum, in out (doubles). Collective. MPC_ERANGE if a value is too large
 * to add up without wrapping. */
FA_FN mpc_err fa_secure_sum(mpc_party *p, unsigned frac, const double *v, double *out, size_t n)
{
	int N = mpc_party_size(p), me = mpc_party_id(p);
	size_t bytes = n * sizeof(mpc_u128);
	mpc_u128 *enc = calloc(n + 1, sizeof(mpc_u128));
	mpc_u128 *sum = calloc(n + 1, sizeof(mpc_u128));
	mpc_u128 *sh = calloc(n + 1, sizeof(mpc_u128));
	mpc_err err;
	if (!enc || !sum || !sh) {
		err = mpc_error(MPC_ENOMEM, "party %d: out of memory", me);
		goto out;
	}
	/* N values below limit / (2N) add up inside the ring */
	if ((err = mpc_fixed_encode(FA_RING, frac, mpc_fixed_limit(FA_RING, frac) / (2.0 * N), v,
				    enc, n)) != MPC_OK)
		goto out;
	for (int j = 0; j < N; j++) {
		if ((err = mpc_input(p, j, FA_RING, j == me ? enc : NULL, sh, n)) != MPC_OK)
			goto out;
		mpc_share_add(FA_RING, sum, sum, sh, n);
	}
	/* fresh shares of the sum before it is opened (the library's rule for
	 * every output) */
	if ((err = mpc_open_output(p, FA_RING, sum, sum, n)) != MPC_OK)
		goto out;
	mpc_fixed_decode(FA_RING, frac, sum, out, n);
out:
	if (enc)
		mpc_wipe(enc, bytes);
	if (sh)
		mpc_wipe(sh, bytes);
	if (sum)
		mpc_wipe(sum, bytes);
	free(enc);
	free(sum);
	free(sh);
	return err;
}

/* The party body for mpc_local_run (arg: a const fa_params *). Emits
 * the rounds (with trace), the shared model and an fa_report (see there). */
FA_FN mpc_err fa_party(mpc_party *p, void *arg)
{
	const fa_params *fp = arg;
	int me = mpc_party_id(p), N = mpc_party_size(p);
	fa_data D = {0}, H = {0};
	fa_report rep;
	double *w = NULL, *wl = NULL, *v = NULL, *avg = NULL;
	char path[4200];
	mpc_err err;

	memset(&rep, 0, sizeof(rep));
	snprintf(path, sizeof(path), "%s/merchant%d.csv", fp->dir, me);
	if ((err = fa_data_read(path, &D)) != MPC_OK)
		goto out;
	if (fp->holdout && (err = fa_data_read(fp->holdout, &H)) != MPC_OK)
		goto out;
	if (fp->holdout && H.d != D.d) {
		err = mpc_error(MPC_ECONFIG, "party %d: %s has %d features, the held-out file %d",
				me, path, D.F, H.F);
		goto out;
	}
	/* everyone must have the same model layout (public: the column count) */
	{
		int64_t mine = (int64_t)D.d, theirs[FA_MAX_PARTIES];
		if (N > FA_MAX_PARTIES) {
			err = mpc_error(MPC_EINVAL, "fed_avg: at most %d parties", FA_MAX_PARTIES);
			goto out;
		}
		if ((err = mpc_party_bcast(p, &mine, theirs, sizeof(mine))) != MPC_OK)
			goto out;
		for (int j = 0; j < N; j++)
			if (j != me && theirs[j] != mine) {
				err = mpc_error(MPC_ECONFIG, "party %d: %zu model inputs, party %d "
							     "has %lld: the files' feature "
							     "columns differ", me, D.d, j,
						(long long)theirs[j]);
				goto out;
			}
	}
	size_t d = D.d;
	rep.d = (int64_t)d;
	rep.rows = (int64_t)D.n;
	for (size_t i = 0; i < D.n; i++)
		rep.frauds += D.y[i];
	w = calloc(d, sizeof(double));
	wl = calloc(d, sizeof(double));
	v = calloc(d, sizeof(double));
	avg = calloc(d, sizeof(double));
	if (!w || !wl || !v || !avg) {
		err = mpc_error(MPC_ENOMEM, "party %d: out of memory", me);
		goto out;
	}
	if (fp->weighted) { /* open the total of rows (only the total) */
		double n = (double)D.n, tot;
		if ((err = fa_secure_sum(p, 0, &n, &tot, 1)) != MPC_OK)
			goto out;
		rep.total_rows = (int64_t)llround(tot);
		if (rep.total_rows <= 0) {
			err = mpc_error(MPC_EINVAL, "party %d: no rows at any party", me);
			goto out;
		}
	}
	/* the local-only model: the same training budget, own rows only */
	if ((err = fa_train(&D, wl, fp, fp->rounds * fp->epochs, 1000 + (uint64_t)me)) != MPC_OK)
		goto out;
	for (int r = 0; r < fp->rounds; r++) {
		memcpy(v, w, d * sizeof(double));
		if ((err = fa_train(&D, v, fp, fp->epochs, (uint64_t)r * 64 + (uint64_t)me)) != MPC_OK)
			goto out;
		for (size_t k = 0; k < d && fp->noise > 0; k++) {
			double z;
			if ((err = fa_gauss(p, &z)) != MPC_OK)
				goto out;
			v[k] += fp->noise * z;
		}
		if (fp->trace && (err = mpc_local_emit(v, d * sizeof(double))) != MPC_OK)
			goto out;
		for (size_t k = 0; k < d && fp->weighted; k++)
			v[k] *= (double)D.n;
		if ((err = fa_secure_sum(p, fp->frac, v, avg, d)) != MPC_OK)
			goto out;
		for (size_t k = 0; k < d; k++)
			w[k] = avg[k] / (fp->weighted ? (double)rep.total_rows : (double)N);
		if (fp->trace && (err = mpc_local_emit(w, d * sizeof(double))) != MPC_OK)
			goto out;
	}
	if (fp->holdout) {
		rep.local_all = fa_eval(&H, wl, -1);
		rep.shared_all = fa_eval(&H, w, -1);
		rep.local_own = fa_eval(&H, wl, me);
		rep.shared_own = fa_eval(&H, w, me);
	}
	if ((err = mpc_local_emit(w, d * sizeof(double))) == MPC_OK)
		err = mpc_local_emit(&rep, sizeof(rep));
out:
	if (v)
		mpc_wipe(v, D.d * sizeof(double));
	if (wl)
		mpc_wipe(wl, D.d * sizeof(double));
	free(w);
	free(wl);
	free(v);
	free(avg);
	fa_data_fini(&D);
	fa_data_fini(&H);
	return err;
}

#endif
