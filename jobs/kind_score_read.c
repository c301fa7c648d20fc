/* The fraud_score kind's readers (jobs/kind_score.h): the features of a
 * party's transactions, the logistic regression and the tree ensemble, and
 * the trees' clear evaluation. Errors name file:line and the column, never a
 * value (the data is secret). */
#include "jobs/kind_score.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/mpc_csv.h"
#include "jobs/mpc_kind.h"
#include "runtime/mpc_wipe.h"

/* The features party `who` holds of one row (fields f), derived ones
 * computed: src[k] >= 0 a column, -1 log_amount, -2 night, <= -3 a category
 * indicator. Errors name path:ln and the column. */
static mpc_err row_values(const char *path, size_t ln, const mpc_score_job *sc, int who,
                          const int *src, char **f, int c_amount, int c_hour, int c_cat,
                          const char (*names)[64], double *row)
{
	mpc_err err = MPC_OK;
	for (size_t k = 0, kk = 0; k < sc->d; k++) {
		double v = 0;
		if (sc->holder[k] != who)
			continue;
		const char *col = src[k] >= 0 ? names[src[k]] : src[k] == -1 ? "amount"
							  : src[k] == -2 ? "hour" : "category";
		if (src[k] >= 0 && !mpc_kind_number(f[src[k]], &v))
			err = mpc_error(MPC_EINVAL, "%s:%zu: column %s: expected a number", path,
					ln, col);
		else if (src[k] == -1 && (!mpc_kind_number(f[c_amount], &v) || !(v > 0)))
			err = mpc_error(MPC_EINVAL, "%s:%zu: column amount: expected a positive "
					"number (for log_amount)", path, ln);
		else if (src[k] == -2 && (!mpc_kind_number(f[c_hour], &v) || !(v >= 0 && v < 24)))
			err = mpc_error(MPC_EINVAL, "%s:%zu: column hour: expected 0..23", path, ln);
		if (err != MPC_OK)
			return err;
		if (src[k] == -1)
			v = (log(v) - 4) / 1.5;
		else if (src[k] == -2)
			v = v < 6;
		else if (src[k] <= -3)
			v = strcmp(f[c_cat], sc->feat[k] + 9) == 0;
		if (!(fabs(v) < sc->max_feature)) {
			err = mpc_error(MPC_ERANGE, "%s:%zu: feature %s: beyond max_feature = %g",
					path, ln, sc->feat[k], sc->max_feature);
			return err;
		}
		row[kk++] = v;
	}
	return MPC_OK;
}

mpc_err mpc_score_job_read_features(const char *path, const mpc_score_job *sc, int who, double **x_out,
			       size_t *n_out, char (**ids_out)[40])
{
	enum { MAXC = 256 };
	FILE *fp = fopen(path, "r");
	char line[8192], *f[MAXC];
	int ncol, src[MPC_SCORE_JOB_MAX_FEATURES], c_amount = -1, c_hour = -1, c_cat = -1, c_id = -1;
	char names[MAXC][64];
	double *x = NULL;
	char(*ids)[40] = NULL;
	size_t n = 0, cap = 0, ln = 1;
	mpc_err err = MPC_OK;

	*x_out = NULL;
	*ids_out = NULL;
	*n_out = 0;
	if (fp == NULL)
		return mpc_error(MPC_EIO, "%s: cannot open", path);
	if (!fgets(line, sizeof(line), fp)) {
		fclose(fp);
		return mpc_error(MPC_EINVAL, "%s:1: no header line", path);
	}
	line[strcspn(line, "\r\n")] = '\0';
	if ((ncol = mpc_csv_fields(line, f, MAXC)) < 0) {
		fclose(fp);
		return mpc_error(MPC_EINVAL, "%s:1: more than %d columns", path, MAXC);
	}
	for (int c = 0; c < ncol; c++) {
		snprintf(names[c], sizeof(names[c]), "%s", f[c]);
		c_amount = strcmp(f[c], "amount") == 0 ? c : c_amount;
		c_hour = strcmp(f[c], "hour") == 0 ? c : c_hour;
		c_cat = strcmp(f[c], "category") == 0 ? c : c_cat;
		c_id = strcmp(f[c], sc->key) == 0 ? c : c_id;
	}
	size_t q = 0;
	for (size_t k = 0; k < sc->d; k++)
		q += sc->holder[k] == who;
	if (sc->vertical && c_id < 0) {
		fclose(fp);
		return mpc_error(MPC_EINVAL, "%s:1: no key column %s (layout = vertical matches rows "
				 "by it)", path, sc->key);
	}
	/* src >= 0: that column; -1 log_amount, -2 night, -3 - k: category k */
	for (size_t k = 0; k < sc->d; k++) {
		const char *nm = sc->feat[k];
		src[k] = INT32_MIN;
		if (sc->holder[k] != who)
			continue;
		for (int c = 0; c < ncol; c++)
			if (strcmp(names[c], nm) == 0)
				src[k] = c;
		if (src[k] != INT32_MIN)
			continue;
		if (strcmp(nm, "log_amount") == 0 && c_amount >= 0)
			src[k] = -1;
		else if (strcmp(nm, "night") == 0 && c_hour >= 0)
			src[k] = -2;
		else if (strncmp(nm, "category_", 9) == 0 && c_cat >= 0)
			src[k] = -3 - (int)k;
		else {
			fclose(fp);
			return mpc_error(MPC_EINVAL, "%s:1: feature %s: no such column (nor one to "
					 "derive it from)", path, nm);
		}
	}
	while (fgets(line, sizeof(line), fp)) {
		ln++;
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		if (mpc_csv_fields(line, f, MAXC) != ncol) {
			err = mpc_error(MPC_EINVAL, "%s:%zu: not %d fields as the header", path, ln, ncol);
			goto out;
		}
		if ((double)n + 1 > sc->max_rows) {
			err = mpc_error(MPC_ERANGE, "%s:%zu: more than max_rows = %.0f transactions",
					path, ln, sc->max_rows);
			goto out;
		}
		if (n == cap) {
			size_t old = cap, row = (q ? q : 1) * sizeof(double);
			cap = cap ? 2 * cap : 1024;
			/* not realloc: it may leave a copy of the features unwiped */
			double *nx = malloc(cap * row);
			char(*ni)[40] = malloc(cap * sizeof(*ids));
			if (!nx || !ni) {
				free(nx);
				free(ni);
				cap = old;
				err = mpc_error(MPC_ENOMEM, "%s: out of memory", path);
				goto out;
			}
			if (old) {
				memcpy(nx, x, old * row);
				memcpy(ni, ids, old * sizeof(*ids));
			}
			mpc_wipe_free(x, old * row);
			mpc_wipe_free(ids, old * sizeof(*ids));
			x = nx;
			ids = ni;
		}
		if (c_id >= 0 && strlen(f[c_id]) >= 40) {
			err = mpc_error(MPC_EINVAL, "%s:%zu: column %s: a key has at most 39 characters",
					path, ln, sc->key);
			goto out;
		}
		snprintf(ids[n], 40, "%s", c_id >= 0 ? f[c_id] : "");
		if ((err = row_values(path, ln, sc, who, src, f, c_amount, c_hour, c_cat,
		                      (const char(*)[64])names, x + n * q)) != MPC_OK)
			goto out;
		n++;
	}
out:
	fclose(fp);
	mpc_wipe(line, sizeof(line));
	if (err != MPC_OK) {
		if (x)
			mpc_wipe(x, cap * (q ? q : 1) * sizeof(double));
		free(x);
		free(ids);
		return err;
	}
	if (c_id < 0) {
		free(ids);
		ids = NULL;
	}
	*x_out = x;
	*ids_out = ids;
	*n_out = n;
	return MPC_OK;
}

mpc_err mpc_score_job_read_logreg(const char *path, const mpc_score_job *sc, double *w, double *b)
{
	FILE *fp = fopen(path, "r");
	char line[512], *f[4];
	int seen[MPC_SCORE_JOB_MAX_FEATURES + 1] = {0};
	size_t ln = 0;
	mpc_err err = MPC_OK;

	if (fp == NULL)
		return mpc_error(MPC_EIO, "%s: cannot open", path);
	while (err == MPC_OK && fgets(line, sizeof(line), fp)) {
		ln++;
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0' || (ln == 1 && strcmp(line, "input,weight") == 0))
			continue;
		double v;
		if (mpc_csv_fields(line, f, 4) != 2 || !mpc_kind_number(f[1], &v)) {
			err = mpc_error(MPC_EINVAL, "%s:%zu: expected 'input,weight'", path, ln);
			break;
		}
		if (!(fabs(v) < sc->max_weight)) {
			err = mpc_error(MPC_ERANGE, "%s:%zu: weight of %s beyond max_weight = %g", path,
					ln, f[0], sc->max_weight);
			break;
		}
		size_t k = 0;
		if (strcmp(f[0], "intercept") == 0)
			k = sc->d;
		else
			while (k < sc->d && strcmp(f[0], sc->feat[k]) != 0)
				k++;
		if (k == sc->d && strcmp(f[0], "intercept") != 0)
			err = mpc_error(MPC_EINVAL, "%s:%zu: input %s is not among the job's features",
					path, ln, f[0]);
		else if (seen[k]++)
			err = mpc_error(MPC_EINVAL, "%s:%zu: input %s given twice", path, ln, f[0]);
		else if (k == sc->d)
			*b = v;
		else
			w[k] = v;
	}
	fclose(fp);
	mpc_wipe(line, sizeof(line));
	for (size_t k = 0; err == MPC_OK && k <= sc->d; k++)
		if (!seen[k])
			err = mpc_error(MPC_EINVAL, "%s: no weight for %s", path,
					k < sc->d ? sc->feat[k] : "intercept");
	return err;
}

mpc_err mpc_score_job_read_tree(const char *path, const mpc_score_job *sc, uint32_t *feature, double *thr,
			   double *leaf, double *base)
{
	size_t nodes = ((size_t)1 << sc->depth) - 1, leaves = (size_t)1 << sc->depth;
	size_t tot = sc->trees * (nodes + leaves) + 1;
	unsigned char *seen = calloc(tot, 1);
	FILE *fp = fopen(path, "r");
	char line[512], *f[6];
	size_t ln = 0;
	mpc_err err = MPC_OK;

	if (fp == NULL || seen == NULL) {
		if (fp)
			fclose(fp);
		free(seen);
		return mpc_error(fp ? MPC_ENOMEM : MPC_EIO, "%s: cannot open", path);
	}
	while (err == MPC_OK && fgets(line, sizeof(line), fp)) {
		ln++;
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0' || (ln == 1 && strncmp(line, "kind,", 5) == 0))
			continue;
		double v, t = 0, idx = 0;
		if (mpc_csv_fields(line, f, 6) != 5 || !mpc_kind_number(f[4], &v)) {
			err = mpc_error(MPC_EINVAL, "%s:%zu: expected 'kind,tree,index,feature,value'",
					path, ln);
			break;
		}
		int is_base = strcmp(f[0], "base") == 0, is_node = strcmp(f[0], "node") == 0,
		    is_leaf = strcmp(f[0], "leaf") == 0;
		if (!is_base && !is_node && !is_leaf) {
			err = mpc_error(MPC_EINVAL, "%s:%zu: kind must be base, node or leaf", path, ln);
			break;
		}
		if (!is_base && (!mpc_kind_number(f[1], &t) || !mpc_kind_number(f[2], &idx) || t != floor(t) ||
				 idx != floor(idx) || t < 0 || t >= (double)sc->trees || idx < 0 ||
				 idx >= (double)(is_node ? nodes : leaves))) {
			err = mpc_error(MPC_EINVAL, "%s:%zu: tree 0..%zu and %s index 0..%zu expected",
					path, ln, sc->trees - 1, is_node ? "node" : "leaf",
					(is_node ? nodes : leaves) - 1);
			break;
		}
		size_t ti = (size_t)t, ii = (size_t)idx;
		size_t slot = is_base ? tot - 1 : is_node ? ti * nodes + ii
						    : sc->trees * nodes + ti * leaves + ii;
		if (seen[slot]++) {
			err = mpc_error(MPC_EINVAL, "%s:%zu: given twice", path, ln);
			break;
		}
		if (is_node) {
			size_t k = 0;
			while (k < sc->d && strcmp(f[3], sc->feat[k]) != 0)
				k++;
			if (k == sc->d) {
				err = mpc_error(MPC_EINVAL, "%s:%zu: feature %s is not among the job's",
						path, ln, f[3]);
				break;
			}
			if (!(fabs(v) < sc->max_feature)) {
				err = mpc_error(MPC_ERANGE, "%s:%zu: threshold beyond max_feature = %g",
						path, ln, sc->max_feature);
				break;
			}
			feature[slot] = (uint32_t)k;
			thr[slot] = v;
		} else if (!(fabs(v) < sc->max_weight)) {
			err = mpc_error(MPC_ERANGE, "%s:%zu: value beyond max_weight = %g", path, ln,
					sc->max_weight);
		} else if (is_base) {
			*base = v;
		} else {
			leaf[ti * leaves + ii] = v;
		}
	}
	fclose(fp);
	mpc_wipe(line, sizeof(line));
	for (size_t k = 0; err == MPC_OK && k < tot; k++)
		if (!seen[k])
			err = k == tot - 1 ? mpc_error(MPC_EINVAL, "%s: no base line", path)
			      : k < sc->trees * nodes
				? mpc_error(MPC_EINVAL, "%s: tree %zu has no node %zu", path, k / nodes,
					    k % nodes)
				: mpc_error(MPC_EINVAL, "%s: tree %zu has no leaf %zu", path,
					    (k - sc->trees * nodes) / leaves,
					    (k - sc->trees * nodes) % leaves);
	free(seen);
	return err;
}

double mpc_score_job_tree_eval(const mpc_score_job *sc, const uint32_t *feature, const double *thr,
			  const double *leaf, double base, const double *x, int *near)
{
	size_t nodes = ((size_t)1 << sc->depth) - 1, leaves = (size_t)1 << sc->depth;
	double s = base;
	*near = 0;
	for (size_t t = 0; t < sc->trees; t++) {
		size_t j = 0;
		while (j < nodes) {
			double v = x[feature[t * nodes + j]], c = thr[t * nodes + j];
			*near |= fabs(v - c) <= ldexp(1, -16);
			j = v < c ? 2 * j + 1 : 2 * j + 2;
		}
		s += leaf[t * leaves + (j - nodes)];
	}
	(void)leaves;
	return s;
}
