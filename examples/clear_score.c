/* clear_score: the demo's reference for computation = fraud_score. Reads
 * the job file's [fraud_score] section (jobs/kind_score.h), the model
 * owner's model file and the asker's transactions, scores them in double
 * precision (score = sigmoid(w.x + b), or base + the leaves reached for
 * model = tree; flag = score > threshold), and with
 * --compare RESULT.csv (the asker's mpc-party output) prints the first rows
 * side by side, the largest |difference| and how many flags agree, checking
 * each against mpc_score.h's tolerance: score within
 * MPC_SCORE_SIGMOID_ERR + (eps + 2^-16)/4, eps = 2^-17 L + (d+1) 2^-33
 * (L = |w|_1 + |x|_1 + |b|); flags equal unless |w.x + b - logit(t)| is
 * within eps + 2^-32; trees: score within (trees + 1) 2^-17 unless the path
 * passes within 2^-16 of a threshold. Exit 0 when everything agrees. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/kind_score.h"
#include "jobs/mpc_csv.h"
#include "jobs/mpc_kind.h"
#include "protocols/apps/mpc_score.h"

static int cmp_key(const void *a, const void *b) {
	return strcmp((const char *)a, (const char *)b);
}

/* Every feature of the asker's transactions, in the job's order: its own
 * columns and, vertically, each holder's joined by the key. */
static mpc_err read_all(const mpc_score_job *sc, const mpc_job *j, const char *input,
                        const char *const *hold, int nhold, double **x_out, size_t *n_out,
                        char (**ids_out)[40]) {
	double *xa = NULL;
	size_t n = 0;
	mpc_err err = mpc_score_job_read_features(input, sc, sc->asker, &xa, &n, ids_out);
	if (err != MPC_OK)
		return err;
	double *x = calloc(n * sc->d + 1, sizeof(double));
	if (x == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	/* the asker's columns, in increasing k */
	size_t qn = 0;
	for (size_t k = 0; k < sc->d; k++)
		qn += sc->holder[k] == sc->asker;
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0, kk = 0; k < sc->d; k++)
			if (sc->holder[k] == sc->asker)
				x[i * sc->d + k] = xa[i * qn + kk++];
	free(xa);
	for (int p = 0; p < j->n_parties; p++) {
		size_t q = 0;
		for (size_t k = 0; k < sc->d; k++)
			q += sc->holder[k] == p;
		if (p == sc->asker || q == 0)
			continue;
		const char *file = NULL;
		size_t nl = strlen(j->parties[p].name);
		for (int h = 0; h < nhold; h++)
			if (strncmp(hold[h], j->parties[p].name, nl) == 0 && hold[h][nl] == '=')
				file = hold[h] + nl + 1;
		if (file == NULL)
			return mpc_error(MPC_ECONFIG,
			                 "%s holds features: give --holder %s=FILE.csv",
			                 j->parties[p].name, j->parties[p].name);
		double *xh = NULL;
		char(*kh)[40] = NULL;
		size_t nh = 0;
		if ((err = mpc_score_job_read_features(file, sc, p, &xh, &nh, &kh)) != MPC_OK)
			return err;
		/* sort the holder's rows by key: (key, row) pairs */
		struct kr {
			char k[40];
			size_t r;
		} *idx = malloc((nh + 1) * sizeof(*idx));
		for (size_t i = 0; i < nh; i++) {
			memcpy(idx[i].k, kh[i], 40);
			idx[i].r = i;
		}
		qsort(idx, nh, sizeof(*idx), cmp_key);
		for (size_t i = 0; i < n; i++) {
			struct kr *hit = bsearch((*ids_out)[i], idx, nh, sizeof(*idx), cmp_key);
			if (hit == NULL)
				return mpc_error(MPC_EINVAL,
				                 "%s: the asker's transaction %zu has no row "
				                 "there",
				                 file, i + 1);
			for (size_t k = 0, kk = 0; k < sc->d; k++)
				if (sc->holder[k] == p)
					x[i * sc->d + k] = xh[hit->r * q + kk++];
		}
		free(idx);
		free(xh);
		free(kh);
	}
	*x_out = x;
	*n_out = n;
	return MPC_OK;
}

/* The command line. */
typedef struct {
	const char *job, *model, *input, *compare;
	const char *hold[MPC_SCORE_JOB_MAX_GROUPS]; /* --holder PARTY=FILE.csv */
	int nhold;
	int show; /* rows printed side by side */
} args;

/* 0, or 1 after printing the usage. */
static int parse_args(int argc, char **argv, args *a) {
	memset(a, 0, sizeof(*a));
	a->show = 8;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--holder") == 0 && a->nhold < MPC_SCORE_JOB_MAX_GROUPS)
			a->hold[a->nhold++] = argv[i + 1];
		else if (strcmp(argv[i], "--job") == 0)
			a->job = argv[i + 1];
		else if (strcmp(argv[i], "--model") == 0)
			a->model = argv[i + 1];
		else if (strcmp(argv[i], "--input") == 0)
			a->input = argv[i + 1];
		else if (strcmp(argv[i], "--compare") == 0)
			a->compare = argv[i + 1];
		else if (strcmp(argv[i], "--show") == 0)
			a->show = atoi(argv[i + 1]);
		else
			break;
	}
	if (!a->job || !a->model || !a->input) {
		fprintf(stderr,
		        "usage: clear_score --job JOB.ini --model MODEL.csv --input TXNS.csv "
		        "[--holder PARTY=FILE.csv ...] [--compare RESULT.csv] [--show ROWS]\n"
		        "  --input is the asker's file; --holder the other holders' files "
		        "(layout = vertical)\n");
		return 1;
	}
	return 0;
}

/* The tree ensemble (model = tree): node features and thresholds, leaves. */
static uint32_t tf[MPC_SCORE_JOB_MAX_TREES << MPC_SCORE_JOB_MAX_DEPTH];
static double tthr[MPC_SCORE_JOB_MAX_TREES << MPC_SCORE_JOB_MAX_DEPTH],
    tleaf[MPC_SCORE_JOB_MAX_TREES << MPC_SCORE_JOB_MAX_DEPTH];

/* The job, the model and the transactions, and their scores in the clear. */
typedef struct {
	mpc_job *j;
	void *st;                                /* the scoring kind's state for the job */
	const mpc_score_job *sc;                 /* its section, in st */
	int tree;                                /* model = tree (tf, tthr, tleaf) */
	double w[MPC_SCORE_JOB_MAX_FEATURES], b; /* logreg */
	double *x;                               /* n x sc->d */
	size_t n;
	char (*ids)[40]; /* the asker's keys, or NULL */
	/* z: the linear part (logreg) or the score (trees); L: logreg's |w|_1 +
	 * |x|_1 + |b|, or 1 when a tree path passes within 2^-16 of a threshold */
	double *z, *L;
} clear;

/* The job's section through the registry: the job must be the scoring
 * kind's (compared by the kind, not its name). */
static mpc_err score_section(clear *c) {
	const mpc_kind *k = mpc_kind_find(c->j->computation);
	mpc_err err;
	if (k != &mpc_kind_score)
		return mpc_error(MPC_ECONFIG,
		                 "%s: computation = %s: clear_score is the reference "
		                 "of %s",
		                 c->j->path, c->j->computation, mpc_kind_score.name);
	if ((err = k->parse(c->j, &c->st)) != MPC_OK)
		return err;
	c->sc = mpc_score_job_of(c->st);
	c->tree = c->sc->model == MPC_SCORE_JOB_TREE;
	return MPC_OK;
}

/* The job, the model owner's model and every holder's features. 0, or 2
 * after printing the error. */
static int load(const args *a, clear *c) {
	if (mpc_job_load(a->job, &c->j) != MPC_OK || score_section(c) != MPC_OK ||
	    (c->tree ? mpc_score_job_read_tree(a->model, c->sc, tf, tthr, tleaf, &c->b)
	             : mpc_score_job_read_logreg(a->model, c->sc, c->w, &c->b)) != MPC_OK ||
	    read_all(c->sc, c->j, a->input, a->hold, a->nhold, &c->x, &c->n, &c->ids) != MPC_OK) {
		fprintf(stderr, "clear_score: %s\n", mpc_error_detail());
		return 2;
	}
	return 0;
}

/* z and L of every transaction; the number flagged (score > threshold), or
 * (size_t)-1 out of memory. */
static size_t clear_scores(clear *c) {
	const mpc_score_job *sc = c->sc;
	size_t flagged = 0;
	c->z = malloc((c->n + 1) * sizeof(double));
	c->L = malloc((c->n + 1) * sizeof(double));
	if (c->z == NULL || c->L == NULL)
		return (size_t)-1;
	for (size_t i = 0; i < c->n; i++) {
		double s = c->b, l = fabs(c->b);
		if (c->tree) {
			int near;
			s = mpc_score_job_tree_eval(sc, tf, tthr, tleaf, c->b, c->x + i * sc->d,
			                            &near);
			l = near;
		} else {
			for (size_t k = 0; k < sc->d; k++) {
				s += c->w[k] * c->x[i * sc->d + k];
				l += fabs(c->w[k]) + fabs(c->x[i * sc->d + k]);
			}
		}
		c->z[i] = s;
		c->L[i] = l;
		flagged += (c->tree ? s : 1 / (1 + exp(-s))) > sc->threshold;
	}
	return flagged;
}

/* The asker's mpc-party output beside the clear scores, row by row, against
 * mpc_score.h's tolerance. The exit status: 0 agree, 1 disagree, 2 when the
 * file cannot be read or does not match the input. */
static int compare_rows(const args *a, const clear *c) {
	const mpc_score_job *sc = c->sc;
	double lt = c->tree ? sc->threshold : log(sc->threshold / (1 - sc->threshold));
	mpc_csv_opts o = {.max_fields = 4, .header = 1};
	mpc_csv *in = NULL;
	size_t row = 0, agree = 0, band = 0, bad = 0;
	double maxd = 0;
	char **f;
	int nf;
	if (mpc_csv_open(a->compare, &o, &in) != MPC_OK) {
		fprintf(stderr, "clear_score: cannot read %s: %s\n", a->compare,
		        mpc_error_detail());
		return 2;
	}
	printf("  %-6s %-16s %12s %12s %11s %5s %5s\n", "row", "txn_id", "clear score", "MPC score",
	       "difference", "clear", "MPC");
	for (;;) {
		if (mpc_csv_next(in, &f, &nf) != MPC_OK) {
			fprintf(stderr, "clear_score: %s\n", mpc_error_detail());
			mpc_csv_close(in);
			return 2;
		}
		if (nf == 0)
			break;
		if (nf < 3 || row >= c->n) {
			fprintf(stderr, "clear_score: %s: line %zu: unexpected\n", a->compare,
			        mpc_csv_line(in));
			mpc_csv_close(in);
			return 2;
		}
		double ms = strtod(f[nf - 2], NULL);
		int mf = atoi(f[nf - 1]);
		double cs = c->tree ? c->z[row] : 1 / (1 + exp(-c->z[row]));
		int cf = cs > sc->threshold;
		double eps = ldexp(c->L[row], -17) + (double)(sc->d + 1) * ldexp(1, -33);
		double tol = MPC_SCORE_SIGMOID_ERR + (eps + ldexp(1, -16)) / 4;
		if (c->tree) /* a path near a threshold may differ: no bound then */
			eps = tol = c->L[row] ? INFINITY : (double)(sc->trees + 1) * ldexp(1, -17);
		double d = ms - cs;
		maxd = fmax(maxd, fabs(d));
		int in_band = fabs(c->z[row] - lt) <= eps + ldexp(1, -32);
		agree += mf == cf;
		band += in_band && mf != cf;
		if (!(fabs(d) <= tol) || (mf != cf && !in_band))
			bad++;
		if ((int)row < a->show)
			printf("  %-6zu %-16s %12.6f %12.6f %11.2e %5d %5d\n", row + 1,
			       c->ids ? c->ids[row] : "-", cs, ms, d, cf, mf);
		row++;
	}
	mpc_csv_close(in);
	if (row != c->n) {
		fprintf(stderr, "clear_score: %s has %zu rows, the input %zu\n", a->compare, row,
		        c->n);
		return 2;
	}
	printf("  ...\n  %zu rows: max |MPC - clear| = %.3g; flags agree on %zu of %zu (%zu "
	       "differ within the fixed-point band at the threshold)\n",
	       c->n, maxd, agree, c->n, band);
	printf(bad ? "DISAGREE: %zu rows beyond mpc_score's tolerance\n"
	           : "AGREE: every score within mpc_score's fixed-point tolerance, every flag the "
	             "double one (%zu beyond)\n",
	       bad);
	return bad ? 1 : 0;
}

static void clear_fini(clear *c) {
	free(c->z);
	free(c->L);
	free(c->x);
	free(c->ids);
	if (c->st)
		mpc_kind_score.free(c->st);
	mpc_job_free(c->j);
}

int main(int argc, char **argv) {
	args a;
	clear c;
	memset(&c, 0, sizeof(c));
	if (parse_args(argc, argv, &a) != 0)
		return 1;
	int rc = load(&a, &c);
	if (rc == 0) {
		size_t flagged = clear_scores(&c);
		if (flagged == (size_t)-1) {
			fprintf(stderr, "clear_score: out of memory\n");
			rc = 2;
		} else {
			printf(
			    "in the clear (double precision): %zu transactions, %zu flagged (score "
			    "> %g)\n",
			    c.n, flagged, c.sc->threshold);
			rc = a.compare ? compare_rows(&a, &c) : 0;
		}
	}
	clear_fini(&c);
	return rc;
}
