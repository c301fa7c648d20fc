/* clear_stats: the demo's reference. Computes the same statistics as
 * aggregate_stats in the clear from the union of the CSV files, and with
 * --compare checks an aggregate_stats output against them within the
 * fixed-point tolerance. With --job JOB.ini it reads the job's
 * [aggregate_stats] parameters (statistics, groups, histogram, filter,
 * min_cohort, dp: jobs/kind_stats.h) and prints every released figure of
 * every cohort beside the MPC one (noisy ones: within 12 noise stddevs of
 * the clear value for counts, sums and buckets). A selection (select) is a
 * random draw: it prints the clear scores and accepts any group's name. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/kind_stats.h"
#include "jobs/mpc_csv.h"
#include "jobs/mpc_kind.h"

static const char *const names[6] = {"count", "total", "mean", "variance", "stddev", "fraud_rate"};

static int read_result(const char *path, double v[6]) {
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
	char cohort[40], stat[48], text[64]; /* text: the value as written */
	double v;
} rline;

static int read_lines(const char *path, rline **out, size_t *n) {
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
		snprintf(r.text, sizeof(r.text), "%s", val);
		r.v = strcmp(val, "suppressed") == 0 ? -1
		      : strcmp(val, "ok") == 0       ? 1
		                                     : strtod(val, NULL);
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

static const rline *find_line(const rline *l, size_t n, const char *cohort, const char *stat) {
	for (size_t i = 0; i < n; i++)
		if (strcmp(l[i].cohort, cohort) == 0 && strcmp(l[i].stat, stat) == 0)
			return &l[i];
	return NULL;
}

static int cmp_d(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int agg_keep(const mpc_agg_spec *s, double amount, double fraud) {
	if (s->filter_col < 0)
		return 1;
	return mpc_agg_filter_pass(s, s->filter_col == 0 ? amount : fraud);
}

static int failures;

/* One statistic: clear value, the MPC one (if any) and whether they agree. */
static void show(const rline *l, size_t nl, const char *cohort, const char *stat, double ref,
                 double tol, int dp) {
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
	       ok   ? ""
	       : dp ? "  (beyond 12 noise stddevs)"
	            : "  MISMATCH");
}

/* The job's section through the registry: the job must be the statistics
 * kind's (compared by the kind, not its name). */
static mpc_err stats_section(const mpc_job *j, void **st) {
	const mpc_kind *k = mpc_kind_find(j->computation);
	if (k != &mpc_kind_stats)
		return mpc_error(MPC_ECONFIG,
		                 "%s: computation = %s: clear_stats --job is the "
		                 "reference of %s",
		                 j->path, j->computation, mpc_kind_stats.name);
	return k->parse(j, st);
}

/* The union of the files' rows that pass the filter, with their cohort (-1:
 * in none of the groups). */
typedef struct {
	size_t n;
	double *x, *fr;
	long *grp;
} rows_t;

/* 0, or -1 (the error printed when a file cannot be read). */
static int read_union(const mpc_stats_job *a, int nfiles, char **files, rows_t *r) {
	const mpc_agg_spec *s = &a->spec;
	size_t cap = 0;
	for (int f = 0; f < nfiles; f++) {
		mpc_txns t;
		if (mpc_txns_read(files[f], a->max_amount, &t) != MPC_OK) {
			fprintf(stderr, "clear_stats: %s\n", mpc_error_detail());
			return -1;
		}
		cap += t.n;
		r->x = realloc(r->x, cap * sizeof(double));
		r->fr = realloc(r->fr, cap * sizeof(double));
		r->grp = realloc(r->grp, cap * sizeof(long));
		if (!r->x || !r->fr || !r->grp)
			return -1;
		for (size_t i = 0; i < t.n; i++) {
			if (!agg_keep(s, t.amount[i], t.fraud[i]))
				continue;
			long g = -1;
			for (size_t k = 0; k < s->n_groups; k++)
				if (strcmp(t.cats[t.category[i]], a->groups[k]) == 0)
					g = (long)k;
			r->x[r->n] = t.amount[i];
			r->fr[r->n] = t.fraud[i];
			r->grp[r->n++] = g;
		}
		mpc_txns_fini(&t);
	}
	return 0;
}

/* What the clear figures are compared with, and how closely. */
typedef struct {
	rline *l; /* the MPC output (--compare), or NULL */
	size_t nl;
	int dp;          /* the job adds noise */
	double sd[2][5]; /* noise stddev per scope: count, sum, sum_squares, fraud, hist */
	int grid[2];     /* the sums' grids */
	double u, ulp;   /* the fixed-point encoding's error bound and unit */
} against;

/* The noise of a dp job, from its plan (printed). 0, or -1 after printing
 * the error. */
static int dp_noise(const mpc_agg_spec *s, against *ms) {
	mpc_agg_dp_plan plan;
	if (mpc_agg_dp_plan_make(s, &plan) != MPC_OK) {
		fprintf(stderr, "clear_stats: %s\n", mpc_error_detail());
		return -1;
	}
	printf("differential privacy (%s, epsilon %g): the MPC figures carry noise; the "
	       "counts, sums and buckets must lie within 12 noise stddevs\n",
	       mpc_dp_mech_name((mpc_dp_mech)s->dp), s->dp_epsilon);
	for (size_t i = 0; i < plan.n; i++) {
		if (mpc_agg_dp_item_is_select(&plan.item[i]))
			continue; /* no noise: see show_select */
		ms->sd[plan.item[i].groups][plan.item[i].kind] = plan.item[i].stddev;
		if (plan.item[i].kind == 1)
			ms->grid[plan.item[i].groups] = plan.item[i].grid;
	}
	return 0;
}

/* One cohort's rows, summed in long double. */
typedef struct {
	size_t m;
	long double s1, s2, nf; /* sum, sum of squares, fraud rows */
	double *v;              /* its amounts (sorted by cohort_show) */
	double *h;              /* histogram buckets */
} cohort_sums;

static void cohort_gather(const mpc_agg_spec *s, const rows_t *r, long g, cohort_sums *c) {
	for (size_t i = 0; i < r->n; i++)
		if (g < 0 || r->grp[i] == g) {
			c->v[c->m++] = r->x[i];
			c->s1 += r->x[i];
			c->s2 += (long double)r->x[i] * r->x[i];
			c->nf += r->fr[i] != 0;
			if (s->stats & MPC_AGG_HIST) {
				size_t b = 0;
				while (b < s->n_edges && s->edges[b] <= r->x[i])
					b++;
				c->h[b]++;
			}
		}
}

/* Whether the cohort is suppressed, in the clear (fewer than min_cohort rows,
 * without dp) or by the MPC: prints it, and counts a disagreement. */
static int cohort_suppressed(const mpc_agg_spec *s, const against *ms, const char *name, size_t m) {
	uint64_t K = s->min_cohort > 1 ? s->min_cohort : 1;
	const rline *st = ms->l ? find_line(ms->l, ms->nl, name, "status") : NULL;
	if (!ms->dp && m < K) {
		printf("  %-12s suppressed (%zu rows < %llu)%s\n", name, m, (unsigned long long)K,
		       st && st->v > 0 ? "  MISMATCH: MPC released it" : "");
		failures += st && st->v > 0;
		return 1;
	}
	if (st && st->v < 0) {
		printf("  %-12s %zu rows; MPC: suppressed%s\n", name, m,
		       ms->dp ? " (by its noisy count)" : "  MISMATCH");
		failures += !ms->dp;
		return 1;
	}
	return 0;
}

/* The quantiles and the histogram buckets (c->v sorted); sc: the scope
 * (0 every row, 1 a group). */
static void cohort_show_shape(const mpc_agg_spec *s, const against *ms, const char *name, int sc,
                              const cohort_sums *c) {
	size_t m = c->m;
	const double *v = c->v;
	if (s->stats & MPC_AGG_QUANT)
		for (size_t q = 0; q < s->n_quant; q++) {
			/* as mpc_agg: lower v_ceil(q'n), upper v_(floor(q'n)+1), midpoint */
			long double qq =
			    roundl(s->quant[q] * (1 << MPC_AGG_QBITS)) / (1 << MPC_AGG_QBITS);
			long double r = qq * m;
			size_t lo = (size_t)ceill(r), hi = (size_t)floorl(r) + 1;
			lo = lo < 1 ? 1 : lo > m ? m : lo;
			hi = hi < 1 ? 1 : hi > m ? m : hi;
			double val = s->quant_lower ? v[lo - 1] : (v[lo - 1] + v[hi - 1]) / 2;
			char key[48];
			snprintf(key, sizeof(key), "quantile_%.17g", s->quant[q]);
			show(ms->l, ms->nl, name, key, val, ms->u, ms->dp);
		}
	if (s->stats & MPC_AGG_HIST)
		for (size_t b = 0; b <= s->n_edges; b++) {
			char key[32];
			snprintf(key, sizeof(key), "bucket_%zu", b);
			show(ms->l, ms->nl, name, key, c->h[b], ms->dp ? 12 * ms->sd[sc][4] : 0,
			     ms->dp);
		}
}

/* The cohort's statistics in the clear, each beside the MPC figure with its
 * tolerance. */
static void cohort_show(const mpc_agg_spec *s, const against *ms, const char *name, int sc,
                        cohort_sums *c) {
	size_t m = c->m;
	long double s1 = c->s1, s2 = c->s2, nf = c->nf;
	double *v = c->v, u = ms->u, ulp = ms->ulp;
	int dp = ms->dp;
	double mean = m ? (double)(s1 / m) : NAN;
	double var = m ? (double)(s2 / m - (s1 / m) * (s1 / m)) : NAN;
	double maxdev = 0;
	for (size_t i = 0; i < m; i++)
		maxdev = fmax(maxdev, fabs(v[i] - mean));
	qsort(v, m, sizeof(double), cmp_d);
	double vt = 2 * u * maxdev + u * u + ulp;
	double tn = dp ? 12 * ms->sd[sc][0] : 0;
	/* noisy sums: the noise, and each row rounded to the grid 2^-grid */
	double ts =
	    dp ? 12 * ms->sd[sc][1] + (double)m * ldexp(1, -ms->grid[sc] - 1) : (double)m * u;
	if (s->stats & MPC_AGG_COUNT)
		show(ms->l, ms->nl, name, "count", (double)m, tn, dp);
	if (s->stats & MPC_AGG_SUM)
		show(ms->l, ms->nl, name, "sum", (double)s1, ts + 1e-9 * fabs((double)s1), dp);
	if (s->stats & MPC_AGG_MEAN)
		show(ms->l, ms->nl, name, "mean", mean, dp ? -1 : u + ulp + 1e-9 * fabs(mean), dp);
	if (s->stats & MPC_AGG_VAR)
		show(ms->l, ms->nl, name, "variance", var, dp ? -1 : vt + 1e-9 * var, dp);
	if (s->stats & MPC_AGG_STD)
		show(ms->l, ms->nl, name, "stddev", sqrt(var),
		     dp ? -1
		        : (var > 0 ? vt / (2 * sqrt(var)) : sqrt(vt)) + 2 * ulp + 1e-8 * sqrt(var),
		     dp);
	if (s->stats & MPC_AGG_MIN)
		show(ms->l, ms->nl, name, "min", m ? v[0] : NAN, u, dp);
	if (s->stats & MPC_AGG_MAX)
		show(ms->l, ms->nl, name, "max", m ? v[m - 1] : NAN, u, dp);
	if (s->stats & MPC_AGG_FRAUD)
		show(ms->l, ms->nl, name, "fraud_rate", (double)(nf / m), dp ? -1 : ulp + 1e-12,
		     dp);
	cohort_show_shape(s, ms, name, sc, c);
}

/* One cohort (g < 0: every row) in the clear beside the MPC's, or why it is
 * suppressed. v: room for every row. */
static void cohort(const mpc_stats_job *a, const rows_t *r, const against *ms, long g, double *v) {
	const mpc_agg_spec *s = &a->spec;
	const char *name = g < 0 ? "all" : a->groups[g];
	cohort_sums c = {.m = 0, .s1 = 0, .s2 = 0, .nf = 0, .v = v};
	c.h = calloc(s->n_edges + 1, sizeof(double));
	cohort_gather(s, r, g, &c);
	if (!cohort_suppressed(s, ms, name, c.m))
		cohort_show(s, ms, name, g >= 0, &c);
	free(c.h);
}

/* select: a random draw the clear reference cannot reproduce. Prints each
 * group's clear score and the accuracy bound at the observed gap; the MPC
 * line must name one of the groups. */
static void show_select(const mpc_stats_job *a, const rows_t *r, const against *ms) {
	const mpc_agg_spec *s = &a->spec;
	const char *stat = mpc_agg_select_name(s->select);
	mpc_agg_dp_plan plan;
	double best = -1, second = -1;
	long top = -1;
	if (!stat || mpc_agg_dp_plan_make(s, &plan) != MPC_OK)
		return;
	printf("  select: the group with the highest %s, drawn under MPC by the exponential "
	       "mechanism (epsilon %g): random, not reproduced here\n",
	       stat, plan.select_epsilon);
	for (size_t g = 0; g < s->n_groups; g++) {
		double sc = 0;
		for (size_t i = 0; i < r->n; i++)
			sc += r->grp[i] == (long)g &&
			      (s->select == MPC_AGG_SEL_COUNT || r->fr[i] != 0);
		printf("  %-12s %-16s %16.0f\n", a->groups[g], stat, sc);
		if (sc > best) {
			second = best;
			best = sc;
			top = (long)g;
		} else if (sc > second)
			second = sc;
	}
	double gap = best - second, k = (double)s->n_groups;
	printf("  clear top: %s (gap %.0f to the next): chosen with probability >= %.6g\n",
	       a->groups[top], gap, fmax(0, 1 - (k - 1) * exp(-plan.select_epsilon * gap / 2)));
	if (!ms->l)
		return;
	char key[64];
	snprintf(key, sizeof(key), "select_max_%s", stat);
	const rline *m = find_line(ms->l, ms->nl, "dp", key);
	long got = -1;
	for (size_t g = 0; m && g < s->n_groups; g++)
		if (strcmp(m->text, a->groups[g]) == 0)
			got = (long)g;
	printf("  MPC selected: %s%s\n", m ? m->text : "(no dp,select line)",
	       got < 0 ? "  MISMATCH: not one of the groups" : "");
	failures += got < 0;
}

static void print_verdict(const mpc_agg_spec *s, int dp) {
	if (dp)
		printf(
		    failures
		        ? "DISAGREE: %d figures beyond 12 noise stddevs\n"
		        : "AGREE: every noisy count, sum and bucket within 12 noise stddevs of the "
		          "clear value (%d beyond)\n",
		    failures);
	else
		printf(
		    failures
		        ? "DISAGREE: %d mismatches above (F = %u)\n"
		        : "AGREE: the MPC results match the clear-text ones within the fixed-point "
		          "tolerance (%d mismatches, F = %u)\n",
		    failures, s->frac);
}

static int run_job(const char *job_path, const char *compare, int nfiles, char **files) {
	mpc_job *j = NULL;
	void *st = NULL;
	against ms;
	rows_t r = {0, NULL, NULL, NULL};
	memset(&ms, 0, sizeof(ms));
	if (mpc_job_load(job_path, &j) != MPC_OK || stats_section(j, &st) != MPC_OK) {
		fprintf(stderr, "clear_stats: %s\n", mpc_error_detail());
		mpc_job_free(j);
		return 1;
	}
	const mpc_stats_job *a = mpc_stats_job_of(st);
	const mpc_agg_spec *s = &a->spec;
	if (compare && read_lines(compare, &ms.l, &ms.nl) != 0)
		return 2;
	if (read_union(a, nfiles, files, &r) != 0)
		return 2;
	ms.dp = s->dp != 0;
	if (ms.dp && dp_noise(s, &ms) != 0)
		return 1;
	printf("in the clear, from the union of %d files%s\n", nfiles,
	       compare ? "; beside the MPC result" : "");
	printf("  %-12s %-16s %16s%s\n", "cohort", "statistic", "clear",
	       compare ? "              MPC   difference" : "");
	ms.u = ldexp(1, -(int)s->frac - 1);
	ms.ulp = 2 * ms.u;
	double *v = malloc((r.n + 1) * sizeof(double));
	for (long g = -1; g < (long)s->n_groups; g++)
		cohort(a, &r, &ms, g, v);
	show_select(a, &r, &ms);
	if (compare)
		print_verdict(s, ms.dp);
	free(v);
	free(r.x);
	free(r.fr);
	free(r.grp);
	free(ms.l);
	mpc_kind_stats.free(st);
	mpc_job_free(j);
	return compare && failures ? 1 : 0;
}

int main(int argc, char **argv) {
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
				fprintf(stderr,
				        "usage: clear_stats --job JOB.ini [--compare RESULT.csv] "
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
		fprintf(stderr,
		        "usage: clear_stats [--frac F] [--compare RESULT.csv] FILE.csv...\n");
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
			       "%.3g\n",
			       names[i], got[i], ref[i], d, t);
			ok = 0;
		}
	}
	printf(ok ? "AGREE: the MPC results match the clear-text ones within the fixed-point "
	            "tolerance (F = %u)\n"
	          : "DISAGREE: see the mismatches above (F = %u)\n",
	       frac);
	return ok ? 0 : 1;
}
