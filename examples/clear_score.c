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

#include "protocols/apps/mpc_score.h"
#include "jobs/kind_score.h"
#include "jobs/mpc_csv.h"
#include "jobs/mpc_kind.h"

static int cmp_key(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/* Every feature of the asker's transactions, in the job's order: its own
 * columns and, vertically, each holder's joined by the key. */
static mpc_err read_all(const mpc_score_job *sc, const mpc_job *j, const char *input,
			const char *const *hold, int nhold, double **x_out, size_t *n_out,
			char (**ids_out)[40])
{
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
			return mpc_error(MPC_ECONFIG, "%s holds features: give --holder %s=FILE.csv",
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
				return mpc_error(MPC_EINVAL, "%s: the asker's transaction %zu has no row "
						 "there", file, i + 1);
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

int main(int argc, char **argv)
{
	const char *job_path = NULL, *model = NULL, *input = NULL, *compare = NULL;
	const char *hold[MPC_SCORE_JOB_MAX_GROUPS];
	int nhold = 0;
	int show = 8;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--holder") == 0 && nhold < MPC_SCORE_JOB_MAX_GROUPS)
			hold[nhold++] = argv[i + 1];
		else if (strcmp(argv[i], "--job") == 0)
			job_path = argv[i + 1];
		else if (strcmp(argv[i], "--model") == 0)
			model = argv[i + 1];
		else if (strcmp(argv[i], "--input") == 0)
			input = argv[i + 1];
		else if (strcmp(argv[i], "--compare") == 0)
			compare = argv[i + 1];
		else if (strcmp(argv[i], "--show") == 0)
			show = atoi(argv[i + 1]);
		else
			break;
	}
	if (!job_path || !model || !input) {
		fprintf(stderr, "usage: clear_score --job JOB.ini --model MODEL.csv --input TXNS.csv "
			"[--holder PARTY=FILE.csv ...] [--compare RESULT.csv] [--show ROWS]\n"
			"  --input is the asker's file; --holder the other holders' files "
			"(layout = vertical)\n");
		return 1;
	}
	mpc_job *j = NULL;
	mpc_score_job sc;
	double *x = NULL, w[MPC_SCORE_JOB_MAX_FEATURES], b = 0;
	static uint32_t tf[MPC_SCORE_JOB_MAX_TREES << MPC_SCORE_JOB_MAX_DEPTH];
	static double tthr[MPC_SCORE_JOB_MAX_TREES << MPC_SCORE_JOB_MAX_DEPTH], tleaf[MPC_SCORE_JOB_MAX_TREES << MPC_SCORE_JOB_MAX_DEPTH];
	char(*ids)[40] = NULL;
	size_t n = 0;
	if (mpc_job_load(job_path, &j) != MPC_OK || mpc_score_job_parse(j, &sc) != MPC_OK ||
	    (sc.model == MPC_SCORE_JOB_TREE ? mpc_score_job_read_tree(model, &sc, tf, tthr, tleaf, &b)
				 : mpc_score_job_read_logreg(model, &sc, w, &b)) != MPC_OK ||
	    read_all(&sc, j, input, hold, nhold, &x, &n, &ids) != MPC_OK) {
		fprintf(stderr, "clear_score: %s\n", mpc_error_detail());
		return 2;
	}
	int tree = sc.model == MPC_SCORE_JOB_TREE;
	double lt = tree ? sc.threshold : log(sc.threshold / (1 - sc.threshold));
	size_t flagged = 0;
	/* z: the linear part (logreg) or the score (trees); L: logreg's |w|_1 +
	 * |x|_1 + |b|, or 1 when a tree path passes within 2^-16 of a threshold */
	double *z = malloc((n + 1) * sizeof(double)), *L = malloc((n + 1) * sizeof(double));
	for (size_t i = 0; i < n; i++) {
		double s = b, l = fabs(b);
		if (tree) {
			int near;
			s = mpc_score_job_tree_eval(&sc, tf, tthr, tleaf, b, x + i * sc.d, &near);
			l = near;
		} else {
			for (size_t k = 0; k < sc.d; k++) {
				s += w[k] * x[i * sc.d + k];
				l += fabs(w[k]) + fabs(x[i * sc.d + k]);
			}
		}
		z[i] = s;
		L[i] = l;
		flagged += (tree ? s : 1 / (1 + exp(-s))) > sc.threshold;
	}
	printf("in the clear (double precision): %zu transactions, %zu flagged (score > %g)\n", n,
	       flagged, sc.threshold);
	if (!compare)
		return 0;
	FILE *fp = fopen(compare, "r");
	char line[256];
	size_t row = 0, agree = 0, band = 0, bad = 0;
	double maxd = 0;
	if (fp == NULL || !fgets(line, sizeof(line), fp)) {
		fprintf(stderr, "clear_score: cannot read %s\n", compare);
		return 2;
	}
	printf("  %-6s %-16s %12s %12s %11s %5s %5s\n", "row", "txn_id", "clear score", "MPC score",
	       "difference", "clear", "MPC");
	while (fgets(line, sizeof(line), fp)) {
		char *f[4];
		line[strcspn(line, "\r\n")] = '\0';
		int nf = mpc_csv_fields(line, f, 4);
		if (nf < 3 || row >= n) {
			fprintf(stderr, "clear_score: %s: line %zu: unexpected\n", compare, row + 2);
			return 2;
		}
		double ms = strtod(f[nf - 2], NULL);
		int mf = atoi(f[nf - 1]);
		double cs = tree ? z[row] : 1 / (1 + exp(-z[row]));
		int cf = cs > sc.threshold;
		double eps = ldexp(L[row], -17) + (double)(sc.d + 1) * ldexp(1, -33);
		double tol = MPC_SCORE_SIGMOID_ERR + (eps + ldexp(1, -16)) / 4;
		if (tree) /* a path near a threshold may differ: no bound then */
			eps = tol = L[row] ? INFINITY : (double)(sc.trees + 1) * ldexp(1, -17);
		double d = ms - cs;
		maxd = fmax(maxd, fabs(d));
		int in_band = fabs(z[row] - lt) <= eps + ldexp(1, -32);
		agree += mf == cf;
		band += in_band && mf != cf;
		if (!(fabs(d) <= tol) || (mf != cf && !in_band))
			bad++;
		if ((int)row < show)
			printf("  %-6zu %-16s %12.6f %12.6f %11.2e %5d %5d\n", row + 1,
			       ids ? ids[row] : "-", cs, ms, d, cf, mf);
		row++;
	}
	fclose(fp);
	if (row != n) {
		fprintf(stderr, "clear_score: %s has %zu rows, the input %zu\n", compare, row, n);
		return 2;
	}
	printf("  ...\n  %zu rows: max |MPC - clear| = %.3g; flags agree on %zu of %zu (%zu "
	       "differ within the fixed-point band at the threshold)\n", n, maxd, agree, n, band);
	printf(bad ? "DISAGREE: %zu rows beyond mpc_score's tolerance\n"
		   : "AGREE: every score within mpc_score's fixed-point tolerance, every flag the "
		     "double one (%zu beyond)\n", bad);
	free(z);
	free(L);
	free(x);
	free(ids);
	mpc_job_free(j);
	return bad ? 1 : 0;
}
