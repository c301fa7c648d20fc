/* clear_stats: the demo's reference. Computes the same statistics as
 * aggregate_stats in the clear from the union of the CSV files, and with
 * --compare checks an aggregate_stats output against them within the
 * fixed-point tolerance. With --job JOB.ini it reads the job's
 * [aggregate_stats] parameters (statistics, groups, histogram, filter,
 * min_cohort, dp: jobs/kind_stats.h) and prints every released figure of
 * every cohort beside the MPC one (noisy ones: within 12 noise stddevs of
 * the clear value for counts, sums and buckets). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/mpc_csv.h"
#include "jobs/kind_stats.h"
#include "jobs/mpc_kind.h"

static const char *const names[6] = {"count", "total", "mean", "variance", "stddev",
				     "fraud_rate"};

static int read_result(const char *path, double v[6])
{
	char line[256], key[64];
	double x;
	int seen = 0;
	FILE *fp = fopen(path, "r");
	if (fp == NULL) {
		fprintf(stderr, "clear_stats: cannot open %s\n", path);
		return -1;
	}
	while (fgets(line, sizeof(line), fp))
		if (sscanf(line, "%63[^,],%lf", key, &x) == 2)
			for (int i = 0; i < 6; i++)
				if (strcmp(key, names[i]) == 0) {
					v[i] = x;
					seen |= 1 << i;
				}
	fclose(fp);
	if (seen != 63) {
		fprintf(stderr, "clear_stats: %s lacks some statistics\n", path);
		return -1;
	}
	return 0;
}

/* ---- --job: the statistics of an aggregate_stats job with mpc_agg
 * parameters (jobs/kind_stats.h), per cohort, beside the MPC output ---- */

typedef struct {
	char cohort[40], stat[48];
	double v;
} rline;

static int read_lines(const char *path, rline **out, size_t *n)
{
	char line[256];
	size_t cap = 0;
	FILE *fp = fopen(path, "r");
	*out = NULL;
	*n = 0;
	if (fp == NULL) {
		fprintf(stderr, "clear_stats: cannot open %s\n", path);
		return -1;
	}
	while (fgets(line, sizeof(line), fp)) {
		rline r;
		char val[64];
		if (sscanf(line, "%39[^,],%47[^,],%63s", r.cohort, r.stat, val) != 3)
			continue;
		r.v = strcmp(val, "suppressed") == 0 ? -1 : strcmp(val, "ok") == 0 ? 1 : strtod(val, NULL);
		if (*n == cap) {
			cap = cap ? 2 * cap : 64;
			rline *nb = realloc(*out, cap * sizeof(rline));
			if (!nb) {
				fclose(fp);
				return -1;
			}
			*out = nb;
		}
		(*out)[(*n)++] = r;
	}
	fclose(fp);
	return 0;
}

static const rline *find_line(const rline *l, size_t n, const char *cohort, const char *stat)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(l[i].cohort, cohort) == 0 && strcmp(l[i].stat, stat) == 0)
			return &l[i];
	return NULL;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int agg_keep(const mpc_agg_spec *s, double amount, double fraud)
{
	if (s->filter_col < 0)
		return 1;
	double v = s->filter_col == 0 ? amount : fraud, c = s->filter_value;
	switch (s->filter_op) {
	case MPC_AGG_LT: return v < c;
	case MPC_AGG_LE: return v <= c;
	case MPC_AGG_GT: return v > c;
	case MPC_AGG_GE: return v >= c;
	case MPC_AGG_EQ: return v == c;
	case MPC_AGG_NE: return v != c;
	default: return 1;
	}
}

static int failures;

/* One statistic: clear value, the MPC one (if any) and whether they agree. */
static void show(const rline *l, size_t nl, const char *cohort, const char *stat, double ref,
		 double tol, int dp)
{
	const rline *m = l ? find_line(l, nl, cohort, stat) : NULL;
	if (!m) {
		printf("  %-12s %-16s %16.6f\n", cohort, stat, ref);
		return;
	}
	double d = m->v - ref;
	int ok = tol < 0 || fabs(d) <= tol;
	if (!ok)
		failures++;
	printf("  %-12s %-16s %16.6f %16.6f %12.3g%s\n", cohort, stat, ref, m->v, d,
	       ok ? "" : dp ? "  (beyond 12 noise stddevs)" : "  MISMATCH");
}

static int run_job(const char *job_path, const char *compare, int nfiles, char **files)
{
	mpc_job *j = NULL;
	static mpc_stats_job a;
	rline *l = NULL;
	size_t nl = 0;
	if (mpc_job_load(job_path, &j) != MPC_OK || mpc_stats_job_parse(j, &a) != MPC_OK) {
		fprintf(stderr, "clear_stats: %s\n", mpc_error_detail());
		mpc_job_free(j);
		return 1;
	}
	const mpc_agg_spec *s = &a.spec;
	if (compare && read_lines(compare, &l, &nl) != 0)
		return 2;
	/* the union of the rows, with their cohort */
	size_t cap = 0, n = 0;
	double *x = NULL, *fr = NULL;
	long *grp = NULL;
	for (int f = 0; f < nfiles; f++) {
		mpc_txns t;
		if (mpc_txns_read(files[f], a.max_amount, &t) != MPC_OK) {
			fprintf(stderr, "clear_stats: %s\n", mpc_error_detail());
			return 2;
		}
		cap += t.n;
		x = realloc(x, cap * sizeof(double));
		fr = realloc(fr, cap * sizeof(double));
		grp = realloc(grp, cap * sizeof(long));
		if (!x || !fr || !grp)
			return 2;
		for (size_t i = 0; i < t.n; i++) {
			if (!agg_keep(s, t.amount[i], t.fraud[i]))
				continue;
			long g = -1;
			for (size_t k = 0; k < s->n_groups; k++)
				if (strcmp(t.cats[t.category[i]], a.groups[k]) == 0)
					g = (long)k;
			x[n] = t.amount[i];
			fr[n] = t.fraud[i];
			grp[n++] = g;
		}
		mpc_txns_fini(&t);
	}
	int dp = s->dp != 0;
	double sd[2][5] = {{0}}; /* noise stddev per scope: count, sum, sum_squares, fraud, hist */
	int grid[2] = {0, 0};    /* the sums' grids */
	if (dp) {
		mpc_agg_dp_plan plan;
		if (mpc_agg_dp_plan_make(s, &plan) != MPC_OK) {
			fprintf(stderr, "clear_stats: %s\n", mpc_error_detail());
			return 1;
		}
		printf("differential privacy (%s, epsilon %g): the MPC figures carry noise; the "
		       "counts, sums and buckets must lie within 12 noise stddevs\n",
		       mpc_dp_mech_name((mpc_dp_mech)s->dp), s->dp_epsilon);
		for (size_t i = 0; i < plan.n; i++) {
			sd[plan.item[i].groups][plan.item[i].kind] = plan.item[i].stddev;
			if (plan.item[i].kind == 1)
				grid[plan.item[i].groups] = plan.item[i].grid;
		}
	}
	printf("in the clear, from the union of %d files%s\n", nfiles,
	       compare ? "; beside the MPC result" : "");
	printf("  %-12s %-16s %16s%s\n", "cohort", "statistic", "clear",
	       compare ? "              MPC   difference" : "");
	double u = ldexp(1, -(int)s->frac - 1), ulp = 2 * u;
	double *v = malloc((n + 1) * sizeof(double));
	for (long g = -1; g < (long)s->n_groups; g++) {
		const char *name = g < 0 ? "all" : a.groups[g];
		size_t m = 0;
		long double s1 = 0, s2 = 0, nf = 0;
		double *h = calloc(s->n_edges + 1, sizeof(double));
		for (size_t i = 0; i < n; i++)
			if (g < 0 || grp[i] == g) {
				v[m++] = x[i];
				s1 += x[i];
				s2 += (long double)x[i] * x[i];
				nf += fr[i] != 0;
				if (s->stats & MPC_AGG_HIST) {
					size_t b = 0;
					while (b < s->n_edges && s->edges[b] <= x[i])
						b++;
					h[b]++;
				}
			}
		uint64_t K = s->min_cohort > 1 ? s->min_cohort : 1;
		const rline *st = l ? find_line(l, nl, name, "status") : NULL;
		if (!dp && m < K) {
			printf("  %-12s suppressed (%zu rows < %llu)%s\n", name, m, (unsigned long long)K,
			       st && st->v > 0 ? "  MISMATCH: MPC released it" : "");
			failures += st && st->v > 0;
			free(h);
			continue;
		}
		if (st && st->v < 0) {
			printf("  %-12s %zu rows; MPC: suppressed%s\n", name, m,
			       dp ? " (by its noisy count)" : "  MISMATCH");
			failures += !dp;
			free(h);
			continue;
		}
		int sc = g >= 0;
		double mean = m ? (double)(s1 / m) : NAN;
		double var = m ? (double)(s2 / m - (s1 / m) * (s1 / m)) : NAN;
		double maxdev = 0;
		for (size_t i = 0; i < m; i++)
			maxdev = fmax(maxdev, fabs(v[i] - mean));
		qsort(v, m, sizeof(double), cmp_d);
		double vt = 2 * u * maxdev + u * u + ulp;
		double tn = dp ? 12 * sd[sc][0] : 0;
		/* noisy sums: the noise, and each row rounded to the grid 2^-grid */
		double ts = dp ? 12 * sd[sc][1] + (double)m * ldexp(1, -grid[sc] - 1) : (double)m * u;
		if (s->stats & MPC_AGG_COUNT)
			show(l, nl, name, "count", (double)m, tn, dp);
		if (s->stats & MPC_AGG_SUM)
			show(l, nl, name, "sum", (double)s1, ts + 1e-9 * fabs((double)s1), dp);
		if (s->stats & MPC_AGG_MEAN)
			show(l, nl, name, "mean", mean, dp ? -1 : u + ulp + 1e-9 * fabs(mean), dp);
		if (s->stats & MPC_AGG_VAR)
			show(l, nl, name, "variance", var, dp ? -1 : vt + 1e-9 * var, dp);
		if (s->stats & MPC_AGG_STD)
			show(l, nl, name, "stddev", sqrt(var),
			     dp ? -1 : (var > 0 ? vt / (2 * sqrt(var)) : sqrt(vt)) + 2 * ulp + 1e-8 * sqrt(var),
			     dp);
		if (s->stats & MPC_AGG_MIN)
			show(l, nl, name, "min", m ? v[0] : NAN, u, dp);
		if (s->stats & MPC_AGG_MAX)
			show(l, nl, name, "max", m ? v[m - 1] : NAN, u, dp);
		if (s->stats & MPC_AGG_FRAUD)
			show(l, nl, name, "fraud_rate", (double)(nf / m), dp ? -1 : ulp + 1e-12, dp);
		if (s->stats & MPC_AGG_QUANT)
			for (size_t q = 0; q < s->n_quant; q++) {
				/* as mpc_agg: lower v_ceil(q'n), upper v_(floor(q'n)+1), midpoint */
				long double qq = roundl(s->quant[q] * (1 << MPC_AGG_QBITS)) /
						 (1 << MPC_AGG_QBITS);
				long double r = qq * m;
				size_t lo = (size_t)ceill(r), hi = (size_t)floorl(r) + 1;
				lo = lo < 1 ? 1 : lo > m ? m : lo;
				hi = hi < 1 ? 1 : hi > m ? m : hi;
				double val = s->quant_lower ? v[lo - 1] : (v[lo - 1] + v[hi - 1]) / 2;
				char key[48];
				snprintf(key, sizeof(key), "quantile_%.17g", s->quant[q]);
				show(l, nl, name, key, val, u, dp);
			}
		if (s->stats & MPC_AGG_HIST)
			for (size_t b = 0; b <= s->n_edges; b++) {
				char key[32];
				snprintf(key, sizeof(key), "bucket_%zu", b);
				show(l, nl, name, key, h[b], dp ? 12 * sd[sc][4] : 0, dp);
			}
		free(h);
	}
	free(v);
	free(x);
	free(fr);
	free(grp);
	free(l);
	mpc_job_free(j);
	if (!compare)
		return 0;
	if (dp)
		printf(failures ? "DISAGREE: %d figures beyond 12 noise stddevs\n"
				: "AGREE: every noisy count, sum and bucket within 12 noise stddevs of the "
				  "clear value (%d beyond)\n", failures);
	else
		printf(failures ? "DISAGREE: %d mismatches above (F = %u)\n"
				: "AGREE: the MPC results match the clear-text ones within the fixed-point "
				  "tolerance (%d mismatches, F = %u)\n", failures, s->frac);
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *compare = NULL;
	unsigned frac = 16;
	long double n = 0, fraud = 0, s1 = 0, s2 = 0;
	double maxdev = 0, lo = INFINITY, hi = -INFINITY;
	int nfiles = 0;

	const char *job = NULL;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--job") == 0 && i + 1 < argc) {
			job = argv[i + 1];
			/* the rest: [--compare RESULT.csv] FILE.csv... */
			const char *cmp = NULL;
			char *files[256];
			int nf = 0;
			for (int k = 1; k < argc; k++) {
				if (k == i || k == i + 1)
					continue;
				if (strcmp(argv[k], "--compare") == 0 && k + 1 < argc) {
					cmp = argv[++k];
					continue;
				}
				if (nf < 256)
					files[nf++] = argv[k];
			}
			if (nf == 0) {
				fprintf(stderr, "usage: clear_stats --job JOB.ini [--compare RESULT.csv] "
					"FILE.csv...\n");
				return 1;
			}
			return run_job(job, cmp, nf, files);
		}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--compare") == 0 && i + 1 < argc) {
			compare = argv[++i];
			continue;
		}
		if (strcmp(argv[i], "--frac") == 0 && i + 1 < argc) {
			frac = (unsigned)strtoul(argv[++i], NULL, 10);
			continue;
		}
		mpc_txns t;
		if (mpc_txns_read(argv[i], 1e15, &t) != MPC_OK) {
			fprintf(stderr, "clear_stats: %s\n", mpc_error_detail());
			return 2;
		}
		for (size_t k = 0; k < t.n; k++) {
			n += 1;
			fraud += t.fraud[k];
			s1 += t.amount[k];
			s2 += (long double)t.amount[k] * t.amount[k];
			lo = fmin(lo, t.amount[k]);
			hi = fmax(hi, t.amount[k]);
		}
		mpc_txns_fini(&t);
		nfiles++;
	}
	if (nfiles == 0 || n == 0) {
		fprintf(stderr, "usage: clear_stats [--frac F] [--compare RESULT.csv] FILE.csv...\n");
		return 1;
	}
	double ref[6];
	ref[0] = (double)n;
	ref[1] = (double)s1;
	ref[2] = (double)(s1 / n);
	ref[3] = (double)(s2 / n - (s1 / n) * (s1 / n));
	ref[4] = sqrt(ref[3]);
	ref[5] = (double)(fraud / n);
	maxdev = fmax(fabs(hi - ref[2]), fabs(lo - ref[2]));
	/* Tolerance: each amount is encoded with error at most u = 2^-(F+1); the
	 * sums are exact after that. So the total is off by at most n*u, the mean
	 * by u, the variance by 2*u*max|a - mean| + u^2, the standard deviation
	 * by that over (2 * stddev); the long double reference adds ~1e-12
	 * relative. Count and fraud rate are exact. */
	double u = ldexp(1, -(int)frac - 1);
	double tol[6] = {0, (double)n * u, u, 2 * u * maxdev + u * u, 0, 0};
	tol[4] = ref[4] > 0 ? tol[3] / (2 * ref[4]) : sqrt(tol[3]);
	printf("in the clear, from the union of %d files\n", nfiles);
	for (int i = 0; i < 6; i++)
		printf("  %-11s %.6f\n", names[i], ref[i]);
	if (compare == NULL)
		return 0;
	double got[6];
	if (read_result(compare, got) != 0)
		return 2;
	int ok = 1;
	for (int i = 0; i < 6; i++) {
		double t = tol[i] + 1e-12 * fabs(ref[i]);
		double d = fabs(got[i] - ref[i]);
		if (!(d <= t)) {
			printf("  MISMATCH %s: MPC %.9g, clear %.9g, differ by %.3g > tolerance "
			       "%.3g\n", names[i], got[i], ref[i], d, t);
			ok = 0;
		}
	}
	printf(ok ? "AGREE: the MPC results match the clear-text ones within the fixed-point "
		    "tolerance (F = %u)\n"
		  : "DISAGREE: see the mismatches above (F = %u)\n", frac);
	return ok ? 0 : 1;
}
