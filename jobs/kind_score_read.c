/* The fraud_score kind's readers (jobs/kind_score.h): the features of a
 * party's transactions, the logistic regression and the tree ensemble, and
 * the trees' clear evaluation. Errors name file:line and the column, never a
 * value (the data is secret). */
#include "jobs/kind_score.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/mpc_csv.h"
#include "runtime/mpc_wipe.h"

/* The features reader's state: the file, where each of party `who`'s
 * features comes from, and the rows read so far. */
typedef struct {
	mpc_csv *c;
	const mpc_score_job *sc;
	int who;
	/* src[k] >= 0: that column; -1 log_amount, -2 night, -3 - k: category k */
	int src[MPC_SCORE_JOB_MAX_FEATURES];
	int c_amount, c_hour, c_cat, c_id;
	size_t q;        /* features per row */
	double *x;       /* cap x q */
	char (*ids)[40]; /* cap */
	size_t n, cap;
} feat_reader;

/* Where each of `who`'s features comes from, by the header. */
static mpc_err feature_sources(feat_reader *r) {
	const mpc_score_job *sc = r->sc;
	r->c_amount = mpc_csv_col(r->c, "amount");
	r->c_hour = mpc_csv_col(r->c, "hour");
	r->c_cat = mpc_csv_col(r->c, "category");
	r->c_id = mpc_csv_col(r->c, sc->key);
	if (sc->vertical && r->c_id < 0)
		return mpc_csv_error(r->c, MPC_EINVAL,
		                     "no key column %s (layout = vertical matches "
		                     "rows by it)",
		                     sc->key);
	for (size_t k = 0; k < sc->d; k++) {
		const char *nm = sc->feat[k];
		r->src[k] = INT32_MIN;
		if (sc->holder[k] != r->who)
			continue;
		r->q++;
		if ((r->src[k] = mpc_csv_col(r->c, nm)) >= 0)
			continue;
		if (strcmp(nm, "log_amount") == 0 && r->c_amount >= 0)
			r->src[k] = -1;
		else if (strcmp(nm, "night") == 0 && r->c_hour >= 0)
			r->src[k] = -2;
		else if (strncmp(nm, "category_", 9) == 0 && r->c_cat >= 0)
			r->src[k] = -3 - (int)k;
		else
			return mpc_csv_error(r->c, MPC_EINVAL,
			                     "feature %s: no such column (nor one "
			                     "to derive it from)",
			                     nm);
	}
	return MPC_OK;
}

/* Room for twice the rows. Not realloc: it may leave a copy of the features
 * unwiped. */
static mpc_err grow(feat_reader *r) {
	size_t old = r->cap, cap = old ? 2 * old : 1024, row = (r->q ? r->q : 1) * sizeof(double);
	double *nx = malloc(cap * row);
	char(*ni)[40] = malloc(cap * sizeof(*r->ids));
	if (!nx || !ni) {
		free(nx);
		free(ni);
		return mpc_error(MPC_ENOMEM, "%s: out of memory", mpc_csv_name(r->c));
	}
	if (old) {
		memcpy(nx, r->x, old * row);
		memcpy(ni, r->ids, old * sizeof(*r->ids));
	}
	mpc_wipe_free(r->x, old * row);
	mpc_wipe_free(r->ids, old * sizeof(*r->ids));
	r->x = nx;
	r->ids = ni;
	r->cap = cap;
	return MPC_OK;
}

/* The features party `who` holds of one row (fields f) into row, derived
 * ones computed. Errors name file:line and the column. */
static mpc_err row_values(const feat_reader *r, char **f, double *row) {
	const mpc_score_job *sc = r->sc;
	for (size_t k = 0, kk = 0; k < sc->d; k++) {
		double v = 0;
		int s = r->src[k];
		if (sc->holder[k] != r->who)
			continue;
		if (s >= 0 && mpc_csv_number(r->c, s, &v) != MPC_OK)
			return MPC_EINVAL; /* its message names the column */
		if (s == -1 && (mpc_csv_number(r->c, r->c_amount, &v) != MPC_OK || !(v > 0)))
			return mpc_csv_error(r->c, MPC_EINVAL,
			                     "column amount: expected a positive "
			                     "number (for log_amount)");
		if (s == -2 &&
		    (mpc_csv_number(r->c, r->c_hour, &v) != MPC_OK || !(v >= 0 && v < 24)))
			return mpc_csv_error(r->c, MPC_EINVAL, "column hour: expected 0..23");
		if (s == -1)
			v = (log(v) - 4) / 1.5;
		else if (s == -2)
			v = v < 6;
		else if (s <= -3)
			v = strcmp(f[r->c_cat], sc->feat[k] + 9) == 0;
		if (!(fabs(v) < sc->max_feature))
			return mpc_csv_error(r->c, MPC_ERANGE,
			                     "feature %s: beyond max_feature = %g", sc->feat[k],
			                     sc->max_feature);
		row[kk++] = v;
	}
	return MPC_OK;
}

/* Every row after the header. */
static mpc_err read_rows(feat_reader *r) {
	char **f;
	int nf;
	mpc_err err;
	while ((err = mpc_csv_next(r->c, &f, &nf)) == MPC_OK && nf > 0) {
		if ((double)r->n + 1 > r->sc->max_rows)
			return mpc_csv_error(r->c, MPC_ERANGE,
			                     "more than max_rows = %.0f "
			                     "transactions",
			                     r->sc->max_rows);
		if (r->n == r->cap && (err = grow(r)) != MPC_OK)
			return err;
		if (r->c_id >= 0 && strlen(f[r->c_id]) >= 40)
			return mpc_csv_error(r->c, MPC_EINVAL,
			                     "column %s: a key has at most 39 "
			                     "characters",
			                     r->sc->key);
		snprintf(r->ids[r->n], 40, "%s", r->c_id >= 0 ? f[r->c_id] : "");
		if ((err = row_values(r, f, r->x + r->n * r->q)) != MPC_OK)
			return err;
		r->n++;
	}
	return err;
}

mpc_err mpc_score_job_read_features(const char *path, const mpc_score_job *sc, int who,
                                    double **x_out, size_t *n_out, char (**ids_out)[40]) {
	const mpc_csv_opts opts = {.header = 1, .max_fields = 256};
	feat_reader r = {.sc = sc, .who = who};

	*x_out = NULL;
	*ids_out = NULL;
	*n_out = 0;
	mpc_err err = mpc_csv_open(path, &opts, &r.c);
	if (err == MPC_OK && (err = feature_sources(&r)) == MPC_OK)
		err = read_rows(&r);
	mpc_csv_close(r.c);
	if (err != MPC_OK) {
		mpc_wipe_free(r.x, r.cap * (r.q ? r.q : 1) * sizeof(double));
		mpc_wipe_free(r.ids, r.cap * sizeof(*r.ids));
		return err;
	}
	if (r.c_id < 0) {
		free(r.ids);
		r.ids = NULL;
	}
	*x_out = r.x;
	*ids_out = r.ids;
	*n_out = r.n;
	return MPC_OK;
}

static int is_number(const mpc_csv *c, int col, double *v) {
	return mpc_csv_number(c, col, v) == MPC_OK;
}

/* One "input,weight" line into w, b and seen. */
static mpc_err logreg_line(const mpc_csv *c, const mpc_score_job *sc, char **f, int n, int *seen,
                           double *w, double *b) {
	double v;
	if (n != 2 || !is_number(c, 1, &v))
		return mpc_csv_error(c, MPC_EINVAL, "expected 'input,weight'");
	if (!(fabs(v) < sc->max_weight))
		return mpc_csv_error(c, MPC_ERANGE, "weight of %s beyond max_weight = %g", f[0],
		                     sc->max_weight);
	size_t k = 0;
	if (strcmp(f[0], "intercept") == 0)
		k = sc->d;
	else
		while (k < sc->d && strcmp(f[0], sc->feat[k]) != 0)
			k++;
	if (k == sc->d && strcmp(f[0], "intercept") != 0)
		return mpc_csv_error(c, MPC_EINVAL, "input %s is not among the job's features",
		                     f[0]);
	if (seen[k]++)
		return mpc_csv_error(c, MPC_EINVAL, "input %s given twice", f[0]);
	if (k == sc->d)
		*b = v;
	else
		w[k] = v;
	return MPC_OK;
}

mpc_err mpc_score_job_read_logreg(const char *path, const mpc_score_job *sc, double *w, double *b) {
	const mpc_csv_opts opts = {.max_fields = 8};
	int seen[MPC_SCORE_JOB_MAX_FEATURES + 1] = {0}, n;
	char **f;
	mpc_csv *c;

	mpc_err err = mpc_csv_open(path, &opts, &c);
	while (err == MPC_OK && (err = mpc_csv_next(c, &f, &n)) == MPC_OK && n > 0) {
		/* an optional header on the first line */
		if (mpc_csv_line(c) == 1 && n == 2 && strcmp(f[0], "input") == 0 &&
		    strcmp(f[1], "weight") == 0)
			continue;
		err = logreg_line(c, sc, f, n, seen, w, b);
	}
	mpc_csv_close(c);
	for (size_t k = 0; err == MPC_OK && k <= sc->d; k++)
		if (!seen[k])
			err = mpc_error(MPC_EINVAL, "%s: no weight for %s", path,
			                k < sc->d ? sc->feat[k] : "intercept");
	return err;
}

/* The tree reader's state: the shape, the outputs, which slots were given. */
typedef struct {
	const mpc_score_job *sc;
	size_t nodes, leaves, tot; /* per tree; all slots with the base */
	unsigned char *seen;       /* tot: node slots, leaf slots, the base */
	uint32_t *feature;
	double *thr, *leaf, *base;
} tree_reader;

/* One "kind,tree,index,feature,value" line. */
static mpc_err tree_line(const mpc_csv *c, tree_reader *t, char **f, int n) {
	const mpc_score_job *sc = t->sc;
	double v, tr = 0, idx = 0;
	if (n != 5 || !is_number(c, 4, &v))
		return mpc_csv_error(c, MPC_EINVAL, "expected 'kind,tree,index,feature,value'");
	int is_base = strcmp(f[0], "base") == 0, is_node = strcmp(f[0], "node") == 0,
	    is_leaf = strcmp(f[0], "leaf") == 0;
	size_t count = is_node ? t->nodes : t->leaves;
	if (!is_base && !is_node && !is_leaf)
		return mpc_csv_error(c, MPC_EINVAL, "kind must be base, node or leaf");
	if (!is_base && (!is_number(c, 1, &tr) || !is_number(c, 2, &idx) || tr != floor(tr) ||
	                 idx != floor(idx) || tr < 0 || tr >= (double)sc->trees || idx < 0 ||
	                 idx >= (double)count))
		return mpc_csv_error(c, MPC_EINVAL, "tree 0..%zu and %s index 0..%zu expected",
		                     sc->trees - 1, is_node ? "node" : "leaf", count - 1);
	size_t ti = (size_t)tr, ii = (size_t)idx;
	size_t slot = is_base   ? t->tot - 1
	              : is_node ? ti * t->nodes + ii
	                        : sc->trees * t->nodes + ti * t->leaves + ii;
	if (t->seen[slot]++)
		return mpc_csv_error(c, MPC_EINVAL, "given twice");
	if (is_node) {
		size_t k = 0;
		while (k < sc->d && strcmp(f[3], sc->feat[k]) != 0)
			k++;
		if (k == sc->d)
			return mpc_csv_error(c, MPC_EINVAL, "feature %s is not among the job's",
			                     f[3]);
		if (!(fabs(v) < sc->max_feature))
			return mpc_csv_error(c, MPC_ERANGE, "threshold beyond max_feature = %g",
			                     sc->max_feature);
		t->feature[slot] = (uint32_t)k;
		t->thr[slot] = v;
	} else if (!(fabs(v) < sc->max_weight)) {
		return mpc_csv_error(c, MPC_ERANGE, "value beyond max_weight = %g", sc->max_weight);
	} else if (is_base) {
		*t->base = v;
	} else {
		t->leaf[ti * t->leaves + ii] = v;
	}
	return MPC_OK;
}

/* The first slot no line gave, as an error (MPC_OK if every one was). */
static mpc_err tree_missing(const char *path, const tree_reader *t) {
	size_t all_nodes = t->sc->trees * t->nodes;
	for (size_t k = 0; k < t->tot; k++)
		if (!t->seen[k])
			return k == t->tot - 1 ? mpc_error(MPC_EINVAL, "%s: no base line", path)
			       : k < all_nodes
			           ? mpc_error(MPC_EINVAL, "%s: tree %zu has no node %zu", path,
			                       k / t->nodes, k % t->nodes)
			           : mpc_error(MPC_EINVAL, "%s: tree %zu has no leaf %zu", path,
			                       (k - all_nodes) / t->leaves,
			                       (k - all_nodes) % t->leaves);
	return MPC_OK;
}

mpc_err mpc_score_job_read_tree(const char *path, const mpc_score_job *sc, uint32_t *feature,
                                double *thr, double *leaf, double *base) {
	const mpc_csv_opts opts = {.max_fields = 8};
	tree_reader t = {.sc = sc, .feature = feature, .thr = thr, .leaf = leaf, .base = base};
	char **f;
	int n;
	mpc_csv *c = NULL;

	t.nodes = ((size_t)1 << sc->depth) - 1;
	t.leaves = (size_t)1 << sc->depth;
	t.tot = sc->trees * (t.nodes + t.leaves) + 1;
	if ((t.seen = calloc(t.tot, 1)) == NULL)
		return mpc_error(MPC_ENOMEM, "%s: out of memory", path);
	mpc_err err = mpc_csv_open(path, &opts, &c);
	while (err == MPC_OK && (err = mpc_csv_next(c, &f, &n)) == MPC_OK && n > 0) {
		/* an optional header on the first line */
		if (mpc_csv_line(c) == 1 && n >= 2 && strcmp(f[0], "kind") == 0)
			continue;
		err = tree_line(c, &t, f, n);
	}
	mpc_csv_close(c);
	if (err == MPC_OK)
		err = tree_missing(path, &t);
	free(t.seen);
	return err;
}

double mpc_score_job_tree_eval(const mpc_score_job *sc, const uint32_t *feature, const double *thr,
                               const double *leaf, double base, const double *x, int *near) {
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
