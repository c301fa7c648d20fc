/* Loopback: the aggregate statistics library (protocols/apps/mpc_agg.h) on 3 (and
 * 2) real processes with OT-made preprocessing, against a plaintext
 * computation over the union of the parties' rows: every statistic, grouped
 * with suppression just below and at K, filters, quantiles of odd and even
 * counts with duplicates, histogram edges exactly at values; with
 * differential privacy: the noise of each budget item against the plan's
 * stddev (Laplace and Gaussian), exact values under a negligible noise; input
 * parties' contributions, shared among 3 compute parties, against the union. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first */
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "jobs/mpc_agg_io.h"
#include "tests/support/mpc_local.h"

#define MAXP 8 /* parties, or contributors (test_contrib_*) */
#define NCOL 4 /* x, y, fraud, z (a filter column) */

static const char *backend = "ot";

/* The job, made in the parent before fork: each party reads only its rows. */
static struct {
	mpc_agg_spec spec;
	int np;
	size_t n[MAXP];
	double *col[MAXP][NCOL];
	uint32_t *grp[MAXP];
} job;

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}
static double urand(void) {
	return (double)(rnd() >> 11) * 0x1p-53;
}

static void job_free(void) {
	for (int j = 0; j < MAXP; j++) {
		for (int c = 0; c < NCOL; c++)
			free(job.col[j][c]);
		free(job.grp[j]);
	}
	memset(&job, 0, sizeof(job));
}

static void job_new(int np, const size_t *n) {
	job_free();
	job.np = np;
	for (int j = 0; j < np; j++) {
		job.n[j] = n[j];
		for (int c = 0; c < NCOL; c++) {
			job.col[j][c] = calloc(n[j] + 1, sizeof(double));
			assert_non_null(job.col[j][c]);
		}
		job.grp[j] = calloc(n[j] + 1, sizeof(uint32_t));
		assert_non_null(job.grp[j]);
		for (size_t i = 0; i < n[j]; i++)
			job.grp[j][i] = MPC_AGG_NO_GROUP;
	}
}

/* doubles per cohort in the emitted result */
static size_t per_cohort(const mpc_agg_spec *s) {
	return 11 + ((s->stats & MPC_AGG_HIST) ? s->n_edges + 1 : 0) +
	       ((s->stats & MPC_AGG_QUANT) ? 3 * s->n_quant : 0);
}

static void pack(const mpc_agg_spec *s, const mpc_agg_stats *st, double *o) {
	double v[11] = {st->suppressed, st->count,  st->sum, st->mean,
	                st->variance,   st->stddev, st->min, st->max,
	                st->fraud_rate, st->cov,    st->corr};
	memcpy(o, v, sizeof(v));
	o += 11;
	if (s->stats & MPC_AGG_HIST)
		for (size_t h = 0; h <= s->n_edges; h++)
			*o++ = st->hist[h];
	if (s->stats & MPC_AGG_QUANT)
		for (size_t q = 0; q < s->n_quant; q++) {
			*o++ = st->quant[q];
			*o++ = st->quant_lo[q];
			*o++ = st->quant_hi[q];
		}
}

/* The DP plan of a result, in a form that compares byte for byte (no
 * padding of the parties' stacks); emitted after the cohorts. */
typedef struct {
	double n;
	struct {
		double kind, groups, grid, sensitivity, stddev;
		char line[MPC_DP_LINE_MAX];
	} it[MPC_AGG_DP_MAX];
} plan_rec;

static void plan_pack(const mpc_agg_dp_plan *pl, plan_rec *r) {
	memset(r, 0, sizeof(*r));
	r->n = (double)pl->n;
	for (size_t i = 0; i < pl->n && i < MPC_AGG_DP_MAX; i++) {
		const mpc_agg_dp_item *it = &pl->item[i];
		r->it[i].kind = it->kind;
		r->it[i].groups = it->groups;
		r->it[i].grid = it->grid;
		r->it[i].sensitivity = it->sensitivity;
		r->it[i].stddev = it->stddev;
		snprintf(r->it[i].line, sizeof(r->it[i].line), "%s", it->line);
	}
}

/* Bytes a party emits: the cohorts' doubles, then the plan. */
static size_t result_bytes(const mpc_agg_spec *s) {
	return per_cohort(s) * (1 + s->n_groups) * sizeof(double) + sizeof(plan_rec);
}

/* Emit res (then fini it): every cohort packed, then the plan. */
static mpc_err emit_result(const mpc_agg_spec *s, mpc_agg_result *res) {
	size_t pc = per_cohort(s), nc = 1 + s->n_groups;
	uint8_t *buf = calloc(1, result_bytes(s));
	double *o = (double *)buf;
	mpc_err err;
	if (!buf) {
		mpc_agg_result_fini(res);
		return MPC_ENOMEM;
	}
	pack(s, &res->all, o);
	for (size_t g = 0; g < s->n_groups; g++)
		pack(s, &res->group[g], o + (g + 1) * pc);
	plan_pack(&res->dp, (plan_rec *)(o + pc * nc));
	err = mpc_local_emit(buf, result_bytes(s));
	free(buf);
	mpc_agg_result_fini(res);
	return err;
}

static mpc_err body(mpc_party *p, void *arg) {
	int me = mpc_party_id(p);
	const mpc_agg_spec *s = &job.spec;
	mpc_agg_rows rows = {.n = job.n[me], .n_cols = NCOL, .group = job.grp[me]};
	mpc_agg_result res;
	mpc_err err;
	(void)arg;
	for (int c = 0; c < NCOL; c++)
		rows.col[c] = job.col[me][c];
	if ((err = mpc_agg_run(p, s, &rows, &res)) != MPC_OK)
		return err;
	return emit_result(s, &res);
}

/* Run fn at np parties; every party must succeed and give the same result
 * (returned: result_bytes(&job.spec)). */
static double *run_parties(int np, mpc_local_fn fn) {
	mpc_local_config cfg = {
	    .n_parties = np, .gen = backend, .timeout_ms = 30000, .watchdog_s = 120};
	mpc_local_result res[MAXP + 1];
	size_t bytes = result_bytes(&job.spec);
	assert_int_equal(mpc_local_run(&cfg, fn, NULL, res), MPC_OK);
	for (int i = 0; i < np; i++) {
		if (res[i].err != MPC_OK || !res[i].exited || res[i].exit_code != 0)
			print_error("party %d: exit %d, %s: %s\n", i, res[i].exit_code,
			            mpc_strerror(res[i].err), res[i].detail);
		assert_int_equal(res[i].err, MPC_OK);
		assert_int_equal(res[i].exit_code, 0);
		assert_int_equal(res[i].out_len, bytes);
		assert_memory_equal(res[i].out, res[0].out, bytes);
	}
	double *o = malloc(bytes);
	assert_non_null(o);
	memcpy(o, res[0].out, bytes);
	mpc_local_results_fini(res, np);
	return o;
}

/* Run mpc_agg_run at the job's parties. */
static double *run(void) {
	return run_parties(job.np, body);
}

/* ---- the plaintext reference over the union ---- */

static int64_t enc(double v) {
	return (int64_t)llround(ldexp(v, (int)job.spec.frac));
}
static double dec(int64_t v) {
	return ldexp((double)v, -(int)job.spec.frac);
}

static int keep(const mpc_agg_spec *s, int j, size_t i) {
	if (s->filter_col < 0)
		return 1;
	double v = job.col[j][s->filter_col][i], c = s->filter_value;
	switch (s->filter_op) {
	case MPC_AGG_LT:
		return v < c;
	case MPC_AGG_LE:
		return v <= c;
	case MPC_AGG_GT:
		return v > c;
	case MPC_AGG_GE:
		return v >= c;
	case MPC_AGG_EQ:
		return v == c;
	case MPC_AGG_NE:
		return v != c;
	default:
		return 1;
	}
}

static int cmp_i64(const void *a, const void *b) {
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static void check_cohort(const double *o, long g, int *suppressed_out);

static void near(double got, double want, double tol, const char *what, long cohort) {
	if (!(fabs(got - want) <= tol))
		fail_msg("cohort %ld: %s = %.17g, want %.17g (tolerance %g)", cohort, what, got,
		         want, tol);
}

static mpc_i128 floordiv(mpc_i128 a, mpc_i128 b) {
	mpc_i128 q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Divided under MPC: the ratios are floor(exact ratio of the encoded sums * 2^F)
 * exactly; stddev within mpc_math_sqrt's bound of the variance's root. The
 * rest is as in the clear mode (count, sum, min, max, histogram, quantiles
 * checked by the caller's other paths). */
static void check_inside(const double *o, long g, const double *x, const double *y,
                         const double *fr, size_t n) {
	const mpc_agg_spec *s = &job.spec;
	unsigned F = s->frac, st = s->stats;
	mpc_i128 sx = 0, sy = 0, qx = 0, sxy = 0, frauds = 0, nn = (mpc_i128)n;
	for (size_t i = 0; i < n; i++) {
		mpc_i128 a = enc(x[i]), b = enc(y[i]);
		sx += a, sy += b, qx += a * a, sxy += a * b;
		frauds += fr[i] != 0;
	}
	mpc_i128 vx = nn * qx - sx * sx, cxy = nn * sxy - sx * sy,
	         d2 = nn * nn * ((mpc_i128)1 << F);
	double ulp = ldexp(1, -(int)F);
	if (st & MPC_AGG_COUNT)
		assert_true(o[1] == (double)n);
	if (st & MPC_AGG_MEAN)
		assert_true(o[3] == (double)floordiv(sx, nn) * ulp);
	double var = (double)floordiv(vx, d2) * ulp;
	if (st & MPC_AGG_VAR)
		assert_true(o[4] == var);
	if (st & MPC_AGG_STD)
		near(o[5], sqrt(var), 2 * ulp + ldexp(sqrt(var), -30), "stddev (inside)", g);
	if (st & MPC_AGG_FRAUD)
		assert_true(o[8] == (double)floordiv(frauds << F, nn) * ulp);
	if (st & MPC_AGG_COV)
		assert_true(o[9] == (double)floordiv(cxy, d2) * ulp);
	/* the clear checks for everything else */
	mpc_agg_spec save = job.spec;
	job.spec.divide = MPC_AGG_DIV_CLEAR;
	job.spec.stats &=
	    ~(unsigned)(MPC_AGG_MEAN | MPC_AGG_VAR | MPC_AGG_STD | MPC_AGG_FRAUD | MPC_AGG_COV);
	double *o2 = malloc(per_cohort(&job.spec) * sizeof(double));
	assert_non_null(o2);
	memcpy(o2, o, per_cohort(&job.spec) * sizeof(double));
	/* fields not asked for must be NaN in the clear check: blank them */
	o2[3] = o2[4] = o2[5] = o2[8] = o2[9] = NAN;
	int supp;
	check_cohort(o2, g, &supp);
	free(o2);
	job.spec = save;
}

/* Check one cohort (-1: all rows; g: group g) of the output o. */
static void check_cohort(const double *o, long g, int *suppressed_out) {
	const mpc_agg_spec *s = &job.spec;
	size_t n = 0, cap = 0;
	for (int j = 0; j < job.np; j++)
		cap += job.n[j];
	double *x = calloc(cap + 1, 8), *y = calloc(cap + 1, 8), *fr = calloc(cap + 1, 8);
	assert_true(x && y && fr);
	for (int j = 0; j < job.np; j++)
		for (size_t i = 0; i < job.n[j]; i++)
			if (keep(s, j, i) && (g < 0 || job.grp[j][i] == (uint32_t)g)) {
				x[n] = job.col[j][s->col][i];
				y[n] = s->col_y >= 0 ? job.col[j][s->col_y][i] : 0;
				fr[n] = s->fraud_col >= 0 ? job.col[j][s->fraud_col][i] : 0;
				n++;
			}
	uint64_t K = s->min_cohort > 1 ? s->min_cohort : 1;
	int supp = n < K;
	*suppressed_out = supp;
	assert_int_equal((int)o[0], supp);
	size_t pc = per_cohort(s);
	if (supp) { /* nothing but the flag */
		for (size_t i = 1; i < pc; i++)
			assert_true(isnan(o[i]));
		goto done;
	}
	unsigned st = s->stats;
	double F = ldexp(1, -(int)s->frac), dn = (double)n;
	long double sx = 0, sy = 0, frauds = 0;
	for (size_t i = 0; i < n; i++) {
		sx += x[i];
		sy += y[i];
		frauds += fr[i] != 0;
	}
	long double mx = sx / n, my = sy / n, vx = 0, vy = 0, cxy = 0, dx = 0, dy = 0;
	for (size_t i = 0; i < n; i++) {
		vx += (x[i] - mx) * (x[i] - mx);
		vy += (y[i] - my) * (y[i] - my);
		cxy += (x[i] - mx) * (y[i] - my);
		if (fabsl(x[i] - mx) > dx)
			dx = fabsl(x[i] - mx);
		if (fabsl(y[i] - my) > dy)
			dy = fabsl(y[i] - my);
	}
	vx /= n, vy /= n, cxy /= n;
	/* the documented bounds: encoding error 2^-(F+1) per value, then exact */
	double tvar = F * (double)dx + F * F + 1e-12 * (double)vx;
	double tcov = F * (double)(dx + dy) / 2 + F * F + 1e-12 * fabs((double)cxy);
	if (mpc_agg_divides_inside(s)) {
		check_inside(o, g, x, y, fr, n);
		goto done;
	}
	if (st & MPC_AGG_COUNT)
		assert_true(o[1] == dn);
	else
		assert_true(isnan(o[1]));
	if (st & MPC_AGG_SUM)
		near(o[2], (double)sx, dn * F / 2 + 1e-12 * fabsl(sx), "sum", g);
	if (st & MPC_AGG_MEAN)
		near(o[3], (double)mx, F / 2 + 1e-12 * fabsl(mx), "mean", g);
	if (st & MPC_AGG_VAR)
		near(o[4], (double)vx, tvar, "variance", g);
	if (st & MPC_AGG_STD)
		near(o[5] * o[5], (double)vx, tvar, "stddev^2", g);
	/* min, max, quantiles: exactly the encoded data values */
	int64_t *ev = calloc(n + 1, 8);
	assert_non_null(ev);
	for (size_t i = 0; i < n; i++)
		ev[i] = enc(x[i]);
	qsort(ev, n, 8, cmp_i64);
	if (st & MPC_AGG_MIN)
		assert_true(o[6] == dec(ev[0]));
	if (st & MPC_AGG_MAX)
		assert_true(o[7] == dec(ev[n - 1]));
	if (st & MPC_AGG_FRAUD)
		assert_true(o[8] == (double)frauds / dn);
	if (st & MPC_AGG_COV)
		near(o[9], (double)cxy, tcov, "cov", g);
	if (st & MPC_AGG_CORR) {
		/* first order: relative errors of cov and of half each variance */
		double corr = (double)(cxy / sqrtl(vx * vy)), tvy = F * (double)dy + F * F;
		double tc = fabs(corr) *
		                (tcov / fabs((double)cxy) + tvar / (2 * (double)vx) +
		                 tvy / (2 * (double)vy)) *
		                1.01 +
		            1e-12;
		near(o[10], corr, tc, "corr", g);
	}
	const double *t = o + 11;
	if (st & MPC_AGG_HIST) {
		for (size_t h = 0; h <= s->n_edges; h++) {
			size_t c = 0;
			for (size_t i = 0; i < n; i++)
				c += (h == 0 || x[i] >= s->edges[h - 1]) &&
				     (h == s->n_edges || x[i] < s->edges[h]);
			if (t[h] != (double)c)
				fail_msg("cohort %ld: bucket %zu = %g, want %zu", g, h, t[h], c);
		}
		t += s->n_edges + 1;
	}
	if (st & MPC_AGG_QUANT)
		for (size_t q = 0; q < s->n_quant; q++) {
			uint64_t qd = (uint64_t)llround(s->quant[q] * (1 << MPC_AGG_QBITS));
			/* lower: rank ceil(qd n / D); upper: rank floor(qd n / D) + 1 (1-based) */
			uint64_t prod = qd * n, D = 1u << MPC_AGG_QBITS;
			size_t lo = (size_t)((prod + D - 1) / D), hi = (size_t)(prod / D + 1);
			double wlo = dec(ev[lo - 1]), whi = s->quant_lower ? NAN : dec(ev[hi - 1]);
			double want = s->quant_lower ? wlo : (wlo + whi) / 2;
			const double *r = t + 3 * q;
			if (r[0] != want || r[1] != wlo ||
			    (s->quant_lower ? !isnan(r[2]) : r[2] != whi))
				fail_msg(
				    "cohort %ld: quantile %g = %.17g (%.17g, %.17g), want %.17g "
				    "(%.17g, %.17g)",
				    g, s->quant[q], r[0], r[1], r[2], want, wlo, whi);
		}
	free(ev);
done:
	free(x);
	free(y);
	free(fr);
}

/* Run the job and check every cohort; returns how many were suppressed. */
static int run_and_check(void) {
	double *o = run();
	size_t pc = per_cohort(&job.spec);
	int supp, total = 0;
	check_cohort(o, -1, &supp);
	total += supp;
	for (size_t g = 0; g < job.spec.n_groups; g++) {
		check_cohort(o + (g + 1) * pc, (long)g, &supp);
		total += supp;
	}
	free(o);
	return total;
}

static const unsigned ALL_STATS = MPC_AGG_COUNT | MPC_AGG_SUM | MPC_AGG_MEAN | MPC_AGG_VAR |
                                  MPC_AGG_STD | MPC_AGG_MIN | MPC_AGG_MAX | MPC_AGG_HIST |
                                  MPC_AGG_QUANT | MPC_AGG_COV | MPC_AGG_CORR | MPC_AGG_FRAUD;

static const double edges[] = {-100, 0, 10, 100, 250.5, 1000, 5000};
static const double quants[] = {0.5, 0.1, 0.25, 0.9, 0.75};

static void spec_all(void) {
	mpc_agg_spec_default(&job.spec);
	job.spec.stats = ALL_STATS;
	job.spec.col = 0;
	job.spec.col_y = 1;
	job.spec.fraud_col = 2;
	job.spec.max_abs = 1e5;
	job.spec.edges = edges;
	job.spec.n_edges = sizeof(edges) / sizeof(edges[0]);
	job.spec.quant = quants;
	job.spec.n_quant = sizeof(quants) / sizeof(quants[0]);
}

/* amounts: fractional, some exactly at edges, some negative; y correlated */
static void fill_rows(int ties) {
	for (int j = 0; j < job.np; j++)
		for (size_t i = 0; i < job.n[j]; i++) {
			double v;
			uint64_t r = rnd() % 10;
			if (r == 0)
				v = edges[rnd() % (sizeof(edges) / sizeof(edges[0]))];
			else if (r == 1)
				v = -urand() * 500;
			else if (ties)
				v = (double)(rnd() % 20) * 50;
			else
				v = urand() * urand() * 8000;
			job.col[j][0][i] = v;
			job.col[j][1][i] = 0.3 * v + urand() * 200 - 100;
			job.col[j][2][i] = (rnd() % 7) == 0;
			job.col[j][3][i] = urand() * 2000 - 500;
		}
}

static void test_all_stats(void **st) {
	(void)st;
	size_t n[] = {501, 300, 200}; /* odd total */
	job_new(3, n);
	fill_rows(0);
	spec_all();
	assert_int_equal(run_and_check(), 0);
}

static void test_all_stats_even_ties(void **st) {
	(void)st;
	size_t n[] = {250, 0, 150}; /* even total, a party without rows, many duplicates */
	job_new(3, n);
	fill_rows(1);
	spec_all();
	job.spec.frac = 8;
	assert_int_equal(run_and_check(), 0);
	job.spec.quant_lower = 1; /* one search per level: the lower quantiles only */
	assert_int_equal(run_and_check(), 0);
}

static void test_two_parties(void **st) {
	(void)st;
	size_t n[] = {40, 61};
	job_new(2, n);
	fill_rows(0);
	spec_all();
	assert_int_equal(run_and_check(), 0);
}

/* Integer amounts: count, sum, mean, histogram and fraud rate exact. */
static void test_integers_exact(void **st) {
	(void)st;
	size_t n[] = {1000, 999, 1};
	job_new(3, n);
	for (int j = 0; j < 3; j++)
		for (size_t i = 0; i < n[j]; i++) {
			job.col[j][0][i] = (double)(rnd() % 20001) - 10000;
			job.col[j][2][i] = rnd() % 3 == 0;
		}
	job.col[2][0][0] = 100; /* exactly at an edge */
	mpc_agg_spec_default(&job.spec);
	job.spec.stats = MPC_AGG_COUNT | MPC_AGG_SUM | MPC_AGG_MEAN | MPC_AGG_HIST | MPC_AGG_FRAUD |
	                 MPC_AGG_MIN | MPC_AGG_MAX;
	job.spec.fraud_col = 2;
	job.spec.edges = edges;
	job.spec.n_edges = sizeof(edges) / sizeof(edges[0]);
	double *o = run();
	long double sum = 0;
	for (int j = 0; j < 3; j++)
		for (size_t i = 0; i < n[j]; i++)
			sum += job.col[j][0][i];
	assert_true(o[1] == 2000 && o[2] == (double)sum && o[3] == (double)(sum / 2000));
	free(o);
	assert_int_equal(run_and_check(), 0);
}

/* Groups: sizes K - 1, K, 0, large, 1; rows of no listed group. */
static void test_groups_suppression(void **st) {
	(void)st;
	enum { K = 10, G = 5 };
	size_t want[G] = {K - 1, K, 0, 200, 1};
	size_t n[] = {150, 60, 50};
	job_new(3, n);
	fill_rows(0);
	/* spread each group's rows over the parties */
	size_t j = 0, i[3] = {0, 0, 0};
	for (int g = 0; g < G; g++)
		for (size_t k = 0; k < want[g]; k++) {
			while (i[j] >= n[j])
				j = (j + 1) % 3;
			job.grp[j][i[j]++] = (uint32_t)g;
			j = (j + 1) % 3;
		}
	spec_all();
	job.spec.n_groups = G;
	job.spec.min_cohort = K;
	/* suppressed: K - 1, 0 and 1 */
	assert_int_equal(run_and_check(), 3);
	/* the same with only count asked for */
	job.spec.stats = MPC_AGG_COUNT;
	assert_int_equal(run_and_check(), 3);
}

/* Filters on the value column (amount > 1000) and on another column. */
static void test_filter(void **st) {
	(void)st;
	size_t n[] = {300, 301, 99};
	job_new(3, n);
	fill_rows(0);
	spec_all();
	job.spec.filter_col = 0;
	job.spec.filter_op = MPC_AGG_GT;
	job.spec.filter_value = 1000;
	job.spec.n_groups = 0;
	assert_int_equal(run_and_check(), 0);
	job.spec.filter_col = 3;
	job.spec.filter_op = MPC_AGG_LE;
	job.spec.filter_value = 250.5;
	for (int j = 0; j < 3; j++)
		for (size_t i = 0; i < n[j]; i++)
			job.grp[j][i] = (uint32_t)(rnd() % 3);
	job.spec.n_groups = 3;
	job.spec.min_cohort = 50;
	(void)run_and_check();
	/* nothing passes: everything suppressed */
	job.spec.filter_op = MPC_AGG_EQ;
	job.spec.filter_value = 1e9;
	assert_int_equal(run_and_check(), 4);
}

/* Ratios divided under MPC: only the requested outputs are opened. */
static void test_divide_inside(void **st) {
	(void)st;
	size_t n[] = {200, 151, 90};
	job_new(3, n);
	fill_rows(0);
	for (int j = 0; j < 3; j++)
		for (size_t i = 0; i < n[j]; i++)
			job.grp[j][i] = i % 17 == 0 ? 1 : i % 5 == 0 ? 2 : 0;
	spec_all();
	job.spec.divide = MPC_AGG_DIV_INSIDE;
	job.spec.n_groups = 3;
	job.spec.min_cohort = 20;
	assert_int_equal(run_and_check(), 0);
	/* mean and stddev without count: AUTO divides under MPC */
	job.spec.divide = MPC_AGG_DIV_AUTO;
	job.spec.stats = MPC_AGG_MEAN | MPC_AGG_STD;
	assert_true(mpc_agg_divides_inside(&job.spec));
	job.spec.frac = 12;
	job.spec.n_groups = 0;
	assert_int_equal(run_and_check(), 0);
}

/* Medians of small odd and even counts with duplicates and negatives. */
static void test_median_small(void **st) {
	(void)st;
	static const double q[] = {0.5};
	for (int t = 0; t < 6; t++) {
		size_t n[] = {(size_t)t, 1, (size_t)(t % 3)};
		job_new(3, n);
		for (int j = 0; j < 3; j++)
			for (size_t i = 0; i < n[j]; i++)
				job.col[j][0][i] = (double)(int)(rnd() % 7) - 3 + (t & 1) * 0.25;
		mpc_agg_spec_default(&job.spec);
		job.spec.stats = MPC_AGG_QUANT | MPC_AGG_COUNT;
		job.spec.quant = q;
		job.spec.n_quant = 1;
		job.spec.max_abs = 10;
		double *o = run();
		size_t tot = n[0] + n[1] + n[2];
		double *v = calloc(tot, 8);
		for (int j = 0, k = 0; j < 3; j++)
			for (size_t i = 0; i < n[j]; i++)
				v[k++] = job.col[j][0][i];
		for (size_t a = 0; a < tot; a++)
			for (size_t b = a + 1; b < tot; b++)
				if (v[b] < v[a]) {
					double w = v[a];
					v[a] = v[b];
					v[b] = w;
				}
		/* the textbook median */
		double med = tot % 2 ? v[tot / 2] : (v[tot / 2 - 1] + v[tot / 2]) / 2;
		assert_true(o[1] == (double)tot);
		if (o[11] != med)
			fail_msg("n=%zu: median %g, want %g", tot, o[11], med);
		free(v);
		free(o);
	}
}

/* Bad specs are refused before anything is sent. */
static void test_bad_spec(void **st) {
	(void)st;
	mpc_agg_spec s;
	double bad_edges[] = {1, 1};
	double bad_q[] = {0};
	spec_all();
	assert_int_equal(mpc_agg_check_spec(&job.spec, 3), MPC_OK);
	s = job.spec;
	s.edges = bad_edges;
	s.n_edges = 2;
	assert_int_equal(mpc_agg_check_spec(&s, 3), MPC_ECONFIG);
	s = job.spec;
	s.quant = bad_q;
	s.n_quant = 1;
	assert_int_equal(mpc_agg_check_spec(&s, 3), MPC_ECONFIG);
	s = job.spec;
	s.max_abs = 1e9;
	s.max_rows = 1e9;
	assert_int_equal(mpc_agg_check_spec(&s, 3), MPC_ECONFIG);
	s = job.spec;
	s.col_y = -1;
	assert_int_equal(mpc_agg_check_spec(&s, 3), MPC_ECONFIG);
	s = job.spec;
	s.stats = 0;
	assert_int_equal(mpc_agg_check_spec(&s, 3), MPC_ECONFIG);
	s = job.spec;
	s.filter_col = 0;
	s.filter_op = MPC_AGG_NONE;
	assert_int_equal(mpc_agg_check_spec(&s, 3), MPC_ECONFIG);
	/* rows out of range */
	double v[2] = {1, 2e5}, f[2] = {0, 1};
	mpc_agg_rows r = {.n = 2, .n_cols = 3, .col = {v, v, f}};
	assert_int_equal(mpc_agg_check_rows(&job.spec, &r, "t"), MPC_ERANGE);
	v[1] = NAN;
	assert_int_equal(mpc_agg_check_rows(&job.spec, &r, "t"), MPC_ERANGE);
	v[1] = 3;
	assert_int_equal(mpc_agg_check_rows(&job.spec, &r, "t"), MPC_OK);
	r.n_cols = 2;
	assert_int_equal(mpc_agg_check_rows(&job.spec, &r, "t"), MPC_ERANGE);
}

/* Transactions as rows (groups by category name), and the result writers. */
static void test_txns_and_write(void **st) {
	(void)st;
	const char *csv = "amount,fraud,category\n12.5,0,food\n-3,1,travel\n7,0,other\n1,1,food\n";
	const char *names[] = {"travel", "food", "absent"};
	mpc_txns t = {0};
	assert_int_equal(mpc_txns_parse("t.csv", csv, strlen(csv), 100, &t), MPC_OK);
	double fraud[4];
	uint32_t grp[4];
	mpc_agg_rows r;
	mpc_agg_rows_from_txns(&t, names, 3, fraud, grp, &r);
	assert_int_equal(r.n, 4);
	assert_true(r.col[0][0] == 12.5 && r.col[0][1] == -3 && r.col[1][1] == 1 &&
	            r.col[1][2] == 0);
	assert_int_equal(grp[0], 1);
	assert_int_equal(grp[1], 0);
	assert_int_equal(grp[2], MPC_AGG_NO_GROUP);
	assert_int_equal(grp[3], 1);
	mpc_txns_fini(&t);

	/* a result with one open group and one suppressed */
	static const double e[] = {0, 10}, q[] = {0.5};
	double h[2][3] = {{1, 2, 3}, {4, 5, 6}}, qv[2][3] = {{2.5, 2, 3}, {7, 7, 7}};
	mpc_agg_spec s;
	mpc_agg_spec_default(&s);
	s.stats = MPC_AGG_COUNT | MPC_AGG_MEAN | MPC_AGG_HIST | MPC_AGG_QUANT;
	s.edges = e, s.n_edges = 2, s.quant = q, s.n_quant = 1, s.n_groups = 2;
	mpc_agg_stats g[2] = {{.suppressed = 0,
	                       .count = 6,
	                       .mean = 1.5,
	                       .hist = h[1],
	                       .quant = &qv[1][0],
	                       .quant_lo = &qv[1][1],
	                       .quant_hi = &qv[1][2]},
	                      {.suppressed = 1}};
	mpc_agg_result res = {.all = {.count = 6,
	                              .mean = 1.5,
	                              .hist = h[0],
	                              .quant = &qv[0][0],
	                              .quant_lo = &qv[0][1],
	                              .quant_hi = &qv[0][2]},
	                      .n_groups = 2,
	                      .group = g};
	const char *gn[] = {"food", "travel"};
	char path[] = "/tmp/test_agg_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	char buf[4096];
	assert_int_equal(mpc_agg_write(path, 0, &s, gn, &res), MPC_OK);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t len = fread(buf, 1, sizeof(buf) - 1, f);
	buf[len] = 0;
	fclose(f);
	assert_non_null(
	    strstr(buf, "cohort,statistic,value\nall,status,ok\nall,count,6\nall,mean,1.5\n"));
	assert_non_null(strstr(buf, "all,bucket_2,3\n"));
	assert_non_null(
	    strstr(buf, "all,quantile_0.5,2.5\nall,quantile_lo_0.5,2\nall,quantile_hi_0.5,3\n"));
	assert_non_null(strstr(buf, "food,count,6\n"));
	assert_non_null(strstr(buf, "travel,status,suppressed\n"));
	assert_null(strstr(buf, "travel,count"));
	assert_int_equal(mpc_agg_write(path, 1, &s, gn, &res), MPC_OK);
	f = fopen(path, "r");
	assert_non_null(f);
	len = fread(buf, 1, sizeof(buf) - 1, f);
	buf[len] = 0;
	fclose(f);
	unlink(path);
	assert_non_null(
	    strstr(buf, "{\"all\": {\"status\": \"ok\", \"count\": 6, \"mean\": 1.5, "
	                "\"histogram\": [1, 2, 3], \"quantiles\": {\"0.5\": 2.5, \"lo_0.5\": 2, "
	                "\"hi_0.5\": 3}}, \"groups\": {\"food\": {\"status\": \"ok\""));
	assert_non_null(strstr(buf, "\"travel\": {\"status\": \"suppressed\"}}}\n"));
}

/* ---- differential privacy ---- */

/* The exact aggregates of cohort g (-1: all), for the DP checks. */
static void exact_cohort(long g, double *n, double *sum, double *frauds) {
	const mpc_agg_spec *s = &job.spec;
	*n = *sum = *frauds = 0;
	for (int j = 0; j < job.np; j++)
		for (size_t i = 0; i < job.n[j]; i++)
			if (keep(s, j, i) && (g < 0 || job.grp[j][i] == (uint32_t)g)) {
				*n += 1;
				*sum += job.col[j][s->col][i];
				*frauds += job.col[j][s->fraud_col][i] != 0;
			}
}

/* 3 parties, G groups of about 12 rows per party: the noisy counts and sums
 * of the groups give G samples each of the noise of one budget item, whose
 * mean square must match the plan's stddev (loosely: 0.4 to 2.0 times the
 * variance; G = 200 Laplace samples have a relative spread of ~0.16). The
 * "all" cohort is within 12 stddevs. Every party gets the same result (run). */
static void dp_case(int mech, double eps, double delta, size_t G) {
	size_t n[3] = {12 * G, 12 * G + 5, 12 * G - 3};
	job_new(3, n);
	for (int j = 0; j < 3; j++)
		for (size_t i = 0; i < n[j]; i++) {
			job.col[j][0][i] = round(urand() * 100000) / 100; /* 0 .. 1000 */
			job.col[j][2][i] = urand() < 0.1;
			job.grp[j][i] = (uint32_t)(i % G);
		}
	mpc_agg_spec_default(&job.spec);
	job.spec.stats = MPC_AGG_COUNT | MPC_AGG_SUM | MPC_AGG_MEAN | MPC_AGG_FRAUD;
	job.spec.fraud_col = 2;
	job.spec.max_abs = 1000;
	job.spec.max_rows = 1e5;
	job.spec.n_groups = G;
	job.spec.dp = mech;
	job.spec.dp_epsilon = eps;
	job.spec.dp_delta = delta;
	mpc_agg_dp_plan plan;
	assert_int_equal(mpc_agg_dp_plan_make(&job.spec, &plan), MPC_OK);
	assert_int_equal(plan.n, 6); /* count, sum, fraud_count x (all, groups) */
	double sd_n = NAN, sd_s = NAN, sd_ng = NAN, sd_sg = NAN;
	for (size_t i = 0; i < plan.n; i++) {
		const mpc_agg_dp_item *it = &plan.item[i];
		print_message("   %s\n", it->line);
		if (strncmp(it->label, "count", 5) == 0)
			*(it->groups ? &sd_ng : &sd_n) = it->stddev;
		if (strncmp(it->label, "sum", 3) == 0)
			*(it->groups ? &sd_sg : &sd_s) = it->stddev;
		assert_true(it->stddev > 0);
	}
	if (mech == MPC_DP_LAPLACE) {
		/* count: discrete Laplace of parameter 1/(eps/6) */
		double q = exp(-eps / 6);
		near(sd_n, sqrt(2 * q) / (1 - q), 1e-9 * sd_n, "count noise stddev", -1);
	}
	double *o = run();
	size_t pc = per_cohort(&job.spec);
	double en, es, ef, ss_n = 0, ss_s = 0;
	exact_cohort(-1, &en, &es, &ef);
	assert_true(o[0] == 0);
	near(o[1], en, 12 * sd_n, "noisy count", -1);
	near(o[2], es, 12 * sd_s + en * ldexp(1, -17), "noisy sum", -1);
	assert_true(o[1] == round(o[1])); /* a count: on the integer grid */
	near(o[3], o[2] / o[1], 1e-9 * fabs(o[3]), "mean = noisy sum / noisy count", -1);
	assert_true(o[8] >= 0 && o[8] <= 1);
	for (size_t g = 0; g < G; g++) {
		const double *c = o + (g + 1) * pc;
		exact_cohort((long)g, &en, &es, &ef);
		assert_true(c[0] == 0); /* noisy counts of ~36 never fall below 1 here */
		ss_n += (c[1] - en) * (c[1] - en);
		ss_s += (c[2] - es) * (c[2] - es);
	}
	ss_n /= (double)G;
	ss_s /= (double)G;
	print_message(
	    "   group counts: mean square noise %.4g (plan %.4g); sums %.4g (plan %.4g)\n", ss_n,
	    sd_ng * sd_ng, ss_s, sd_sg * sd_sg);
	assert_true(ss_n > 0.4 * sd_ng * sd_ng && ss_n < 2.0 * sd_ng * sd_ng);
	assert_true(ss_s > 0.4 * sd_sg * sd_sg && ss_s < 2.0 * sd_sg * sd_sg);
	free(o);
}

static void test_dp_laplace(void **st) {
	(void)st;
	dp_case(MPC_DP_LAPLACE, 2.0, 0, 200);
}

static void test_dp_gaussian(void **st) {
	(void)st;
	dp_case(MPC_DP_GAUSSIAN, 2.0, 1e-6, 100);
}

/* A budget large enough that the noise is far below a unit: the exact
 * values (counts and histogram exactly, sums within rounding); variance
 * from the noisy sum of squares; suppression by the (noise-free) count. */
static void test_dp_tiny_noise(void **st) {
	(void)st;
	size_t n[3] = {40, 25, 9};
	static const double dp_edges[] = {100, 500};
	job_new(3, n);
	for (int j = 0; j < 3; j++)
		for (size_t i = 0; i < n[j]; i++) {
			job.col[j][0][i] = (double)((i * 37 + (size_t)j * 11) % 1000);
			job.col[j][2][i] = i % 5 == 0;
			job.grp[j][i] = j == 2 ? 1 : 0; /* group 1: 9 rows */
		}
	spec_all();
	job.spec.stats = MPC_AGG_COUNT | MPC_AGG_SUM | MPC_AGG_MEAN | MPC_AGG_VAR | MPC_AGG_STD |
	                 MPC_AGG_HIST | MPC_AGG_FRAUD;
	job.spec.col_y = -1;
	job.spec.fraud_col = 2;
	job.spec.filter_col = -1;
	job.spec.edges = dp_edges;
	job.spec.n_edges = 2;
	job.spec.max_abs = 1000;
	job.spec.n_groups = 2;
	job.spec.min_cohort = 10;
	job.spec.dp = MPC_DP_LAPLACE;
	job.spec.dp_epsilon = 1e5;
	mpc_agg_dp_plan plan;
	double sd_s = 0, sd_q = 0;
	assert_int_equal(mpc_agg_dp_plan_make(&job.spec, &plan), MPC_OK);
	assert_int_equal(plan.n, 10);
	for (size_t i = 0; i < plan.n; i++) {
		const mpc_agg_dp_item *it = &plan.item[i];
		if (strncmp(it->label, "sum (", 5) == 0)
			sd_s = fmax(sd_s, it->stddev);
		else if (strncmp(it->label, "sum_squares", 11) == 0)
			sd_q = fmax(sd_q, it->stddev);
		else /* counts: a parameter of 10^-4 units: no noise at all */
			assert_true(it->stddev < 1e-100);
	}
	double *o = run();
	size_t pc = per_cohort(&job.spec);
	/* the exact checks of the clear mode, with the tolerances of the noise
	 * (below 2^-20 of a unit with probability 1 - 2^-40 or so) */
	for (long g = -1; g < 2; g++) {
		const double *c = o + (size_t)(g + 1) * pc;
		double en, es, ef;
		exact_cohort(g, &en, &es, &ef);
		if (g == 1) {
			assert_true(c[0] == 1);
			continue;
		}
		assert_true(c[0] == 0);
		assert_true(c[1] == en);
		near(c[2], es, en * ldexp(1, -17) + 12 * sd_s, "sum", g);
		near(c[8], ef / en, 1e-12, "fraud rate", g);
		for (size_t h = 0; h < 3; h++) {
			double want = 0;
			for (int j = 0; j < 3; j++)
				for (size_t i = 0; i < job.n[j]; i++) {
					double x = job.col[j][0][i];
					size_t b = x < 100 ? 0 : x < 500 ? 1 : 2;
					want += b == h && (g < 0 || job.grp[j][i] == (uint32_t)g);
				}
			assert_true(c[11 + h] == want);
		}
		double mu = es / en, q = 0;
		for (int j = 0; j < 3; j++)
			for (size_t i = 0; i < job.n[j]; i++)
				if (g < 0 || job.grp[j][i] == (uint32_t)g)
					q += job.col[j][0][i] * job.col[j][0][i];
		double tq = 12 * sd_q + en * ldexp(1, -33), ts = 12 * sd_s + en * ldexp(1, -17);
		near(c[4], q / en - mu * mu, tq / en + 2 * fabs(mu) * ts / en + ts * ts / (en * en),
		     "variance", g);
		near(c[5], sqrt(fmax(0, c[4])), 1e-9 * c[5], "stddev", g);
	}
	free(o);
}

/* Refused DP specs. */
static void test_dp_bad_spec(void **st) {
	(void)st;
	mpc_agg_spec s;
	mpc_agg_dp_plan plan;
	mpc_agg_spec_default(&s);
	s.dp = MPC_DP_LAPLACE;
	s.dp_epsilon = 1;
	assert_int_equal(mpc_agg_check_spec(&s, 3), MPC_OK);
	assert_int_equal(mpc_agg_dp_plan_make(&s, &plan), MPC_OK);
	assert_int_equal(plan.n, 3); /* count, sum, sum_squares */
	s.stats |= MPC_AGG_MIN;
	assert_int_equal(mpc_agg_check_spec(&s, 3), MPC_ECONFIG);
	s.stats &= ~(unsigned)MPC_AGG_MIN;
	s.dp_epsilon = 0;
	assert_int_equal(mpc_agg_check_spec(&s, 3), MPC_ECONFIG);
	s.dp_epsilon = 1;
	s.dp_delta = 1e-6; /* Laplace takes no delta */
	assert_int_equal(mpc_agg_check_spec(&s, 3), MPC_ECONFIG);
	s.dp = MPC_DP_GAUSSIAN;
	assert_int_equal(mpc_agg_check_spec(&s, 3), MPC_OK);
	s.dp_delta = 0;
	assert_int_equal(mpc_agg_check_spec(&s, 3), MPC_ECONFIG);
	s.dp = 7;
	assert_int_equal(mpc_agg_check_spec(&s, 3), MPC_ECONFIG);
}

/* ---- input parties' contributions ---- */

/* KCOMP compute parties hold additive shares of the contributions of the
 * job's np contributors (made in the parent before fork). */
#define KCOMP 3
static struct {
	size_t m, len;
	mpc_u128 *sh[KCOMP]; /* m * len each */
} cjob;

static void cjob_free(void) {
	for (int k = 0; k < KCOMP; k++)
		if (cjob.sh[k]) {
			memset(cjob.sh[k], 0, cjob.m * cjob.len * 16 + 16);
			free(cjob.sh[k]);
		}
	memset(&cjob, 0, sizeof(cjob));
}

/* Each contributor's contribution (mpc_agg_contrib over its own rows),
 * split into KCOMP random additive shares mod 2^128. */
static void contrib_share(void) {
	const mpc_agg_spec *s = &job.spec;
	cjob_free();
	cjob.m = (size_t)job.np;
	cjob.len = mpc_agg_contrib_len(s);
	mpc_u128 *x = calloc(cjob.len + 1, 16);
	assert_non_null(x);
	for (int k = 0; k < KCOMP; k++) {
		cjob.sh[k] = calloc(cjob.m * cjob.len + 1, 16);
		assert_non_null(cjob.sh[k]);
	}
	for (size_t i = 0; i < cjob.m; i++) {
		mpc_agg_rows rows = {.n = job.n[i], .n_cols = NCOL, .group = job.grp[i]};
		for (int c = 0; c < NCOL; c++)
			rows.col[c] = job.col[i][c];
		assert_int_equal(mpc_agg_contrib(s, &rows, "merchant", x), MPC_OK);
		mpc_u128 *last = cjob.sh[KCOMP - 1] + i * cjob.len;
		memcpy(last, x, cjob.len * 16);
		for (int k = 0; k < KCOMP - 1; k++) {
			mpc_u128 *r = cjob.sh[k] + i * cjob.len;
			assert_int_equal(RAND_bytes((uint8_t *)r, (int)(cjob.len * 16)), 1);
			for (size_t e = 0; e < cjob.len; e++)
				last[e] -= r[e];
		}
	}
	memset(x, 0, cjob.len * 16);
	free(x);
}

static mpc_err body_contrib(mpc_party *p, void *arg) {
	int me = mpc_party_id(p);
	mpc_agg_result res;
	mpc_err err;
	(void)arg;
	if ((err = mpc_agg_run_contribs(p, &job.spec, cjob.sh[me], cjob.m, &res)) != MPC_OK)
		return err;
	return emit_result(&job.spec, &res);
}

/* Run over the contributions at the KCOMP compute parties and check every
 * cohort against the clear statistics over the union of the contributors'
 * rows; returns how many were suppressed. */
static int contrib_run_and_check(void) {
	contrib_share();
	double *o = run_parties(KCOMP, body_contrib);
	size_t pc = per_cohort(&job.spec);
	int supp, total = 0;
	for (long g = -1; g < (long)job.spec.n_groups; g++) {
		check_cohort(o + (size_t)(g + 1) * pc, g, &supp);
		total += supp;
	}
	free(o);
	return total;
}

/* 7 contributors (one without rows, one with a single row), 3 compute
 * parties: every statistic but quantiles, grouped (group 3 below K), filtered
 * on another column, against the clear values over the union. The union has
 * more rows than 3 x max_rows: the count check must count contributors. */
static void test_contrib_exact(void **st) {
	(void)st;
	enum { M = 7, G = 4, K = 5 };
	size_t n[M] = {150, 0, 149, 150, 77, 150, 1};
	job_new(M, n);
	fill_rows(0);
	for (int j = 0; j < M; j++)
		for (size_t i = 0; i < n[j]; i++)
			job.grp[j][i] = j == 6   ? 3
			                : j == 3 ? MPC_AGG_NO_GROUP
			                         : (uint32_t)(rnd() % 3);
	job.col[6][3][0] = 0; /* passes the filter: group 3 has 1 row */
	spec_all();
	job.spec.stats &= ~(unsigned)MPC_AGG_QUANT;
	job.spec.quant = NULL;
	job.spec.n_quant = 0;
	job.spec.n_groups = G;
	job.spec.min_cohort = K;
	job.spec.max_rows = 150;
	job.spec.filter_col = 3;
	job.spec.filter_op = MPC_AGG_LE;
	job.spec.filter_value = 1200;
	size_t passing = 0;
	for (int j = 0; j < M; j++)
		for (size_t i = 0; i < n[j]; i++)
			passing += job.col[j][3][i] <= 1200;
	assert_true((double)passing > KCOMP * job.spec.max_rows);
	assert_int_equal(mpc_agg_contrib_len(&job.spec), (1 + G) * (7 + 8) + 2 * (1 + G));
	assert_int_equal(contrib_run_and_check(), 1);
	/* ratios divided under MPC */
	job.spec.divide = MPC_AGG_DIV_INSIDE;
	assert_int_equal(contrib_run_and_check(), 1);
	/* the extremes alone (no histogram, no groups) */
	job.spec.divide = MPC_AGG_DIV_AUTO;
	job.spec.stats = MPC_AGG_MIN | MPC_AGG_MAX | MPC_AGG_COUNT;
	job.spec.n_groups = 0;
	assert_int_equal(mpc_agg_contrib_len(&job.spec), 7 + 2);
	assert_int_equal(contrib_run_and_check(), 0);
	/* no contributor: every cohort suppressed */
	job_new(0, n);
	spec_all();
	job.spec.stats &= ~(unsigned)MPC_AGG_QUANT;
	job.spec.n_groups = 2;
	assert_int_equal(contrib_run_and_check(), 3);
	cjob_free();
}

/* DP over contributions (Gaussian): the run succeeds at every compute party
 * alike, the plan is mpc_agg_dp_plan_make's, the noisy counts, sums (plus
 * the grid's rounding) and buckets are within 12 noise stddevs of the union's,
 * which is tighter than any contributor's share (30 rows or none). */
static void test_contrib_dp(void **st) {
	(void)st;
	enum { M = 7, G = 3 };
	static const double dp_edges[] = {100, 500};
	size_t n[M] = {40, 35, 0, 60, 30, 41, 32};
	job_new(M, n);
	for (int j = 0; j < M; j++)
		for (size_t i = 0; i < n[j]; i++) {
			job.col[j][0][i] = round(urand() * 100000) / 100; /* 0 .. 1000 */
			job.col[j][2][i] = urand() < 0.1;
			job.grp[j][i] = (uint32_t)(rnd() % G);
		}
	mpc_agg_spec_default(&job.spec);
	job.spec.stats =
	    MPC_AGG_COUNT | MPC_AGG_SUM | MPC_AGG_MEAN | MPC_AGG_VAR | MPC_AGG_HIST | MPC_AGG_FRAUD;
	job.spec.fraud_col = 2;
	job.spec.edges = dp_edges;
	job.spec.n_edges = 2;
	job.spec.max_abs = 1000;
	job.spec.max_rows = 1000;
	job.spec.n_groups = G;
	job.spec.dp = MPC_DP_GAUSSIAN;
	job.spec.dp_epsilon = 50; /* count noise stddev 0.5: a lost contribution shows */
	job.spec.dp_delta = 1e-6;
	mpc_agg_dp_plan plan;
	plan_rec want;
	assert_int_equal(mpc_agg_dp_plan_make(&job.spec, &plan), MPC_OK);
	plan_pack(&plan, &want);
	assert_int_equal(mpc_agg_contrib_len(&job.spec), (1 + G) * (4 + 3));
	double sd_n[2] = {NAN, NAN}, sd_s[2] = {NAN, NAN}, sd_h[2] = {NAN, NAN};
	int grid_s[2] = {0, 0};
	for (size_t i = 0; i < plan.n; i++) {
		const mpc_agg_dp_item *it = &plan.item[i];
		const char *k = mpc_agg_dp_kind_name(it->kind);
		if (strcmp(k, "count") == 0)
			sd_n[it->groups] = it->stddev;
		else if (strcmp(k, "sum") == 0) {
			sd_s[it->groups] = it->stddev;
			grid_s[it->groups] = it->grid;
		} else if (strcmp(k, "histogram") == 0)
			sd_h[it->groups] = it->stddev;
	}
	contrib_share();
	double *o = run_parties(KCOMP, body_contrib);
	size_t pc = per_cohort(&job.spec);
	assert_memory_equal(o + pc * (1 + G), &want, sizeof(want));
	for (long g = -1; g < G; g++) {
		const double *c = o + (size_t)(g + 1) * pc;
		int sc = g >= 0;
		double en, es, ef;
		exact_cohort(g, &en, &es, &ef);
		assert_true(c[0] == 0);
		near(c[1], en, 12 * sd_n[sc] + 1, "noisy count (contributions)", g);
		/* each row rounds its value to the grid: 2^-(grid + 1) at most */
		near(c[2], es, 12 * sd_s[sc] + en * ldexp(1, -grid_s[sc] - 1),
		     "noisy sum (contributions)", g);
		for (size_t h = 0; h < 3; h++) {
			double b = 0;
			for (int j = 0; j < M; j++)
				for (size_t i = 0; i < n[j]; i++) {
					double x = job.col[j][0][i];
					b += (x < 100   ? 0u
					      : x < 500 ? 1u
					                : 2u) == h &&
					     (g < 0 || job.grp[j][i] == (uint32_t)g);
				}
			near(c[11 + h], b, 12 * sd_h[sc] + 1, "noisy bucket (contributions)", g);
		}
	}
	free(o);
	cjob_free();
}

/* What contributions cannot compute is refused, saying why; contributions
 * check their rows like mpc_agg_check_rows. */
static void test_contrib_check(void **st) {
	(void)st;
	mpc_agg_spec s;
	mpc_u128 out[64];
	spec_all(); /* quantiles among the statistics */
	s = job.spec;
	assert_int_equal(mpc_agg_contrib_check(&s, 7), MPC_ECONFIG);
	assert_non_null(strstr(mpc_error_detail(), "quantiles"));
	s.stats = MPC_AGG_QUANT | MPC_AGG_COUNT; /* the median alone too */
	assert_int_equal(mpc_agg_contrib_check(&s, 1), MPC_ECONFIG);
	assert_non_null(strstr(mpc_error_detail(), "quantiles"));
	double v[2] = {1, 2}, f[2] = {0, 1};
	mpc_agg_rows r = {.n = 2, .n_cols = 4, .col = {v, v, f, v}};
	assert_int_equal(mpc_agg_contrib(&s, &r, "merchant 4", out), MPC_ECONFIG);
	/* without quantiles: the bounds with m_max contributors */
	s = job.spec;
	s.stats &= ~(unsigned)MPC_AGG_QUANT;
	s.max_rows = 1e6; /* 1e6 x 1e5 x 2^16 per contributor: 703 fit below 2^62, 704 do not */
	assert_true(mpc_agg_contrib_len(&s) <= 64);
	assert_int_equal(mpc_agg_contrib_check(&s, 0), MPC_OK);
	assert_int_equal(mpc_agg_contrib_check(&s, 703), MPC_OK);
	assert_int_equal(mpc_agg_check_spec(&s, 3), MPC_OK);
	assert_int_equal(mpc_agg_contrib_check(&s, 1000), MPC_ECONFIG);
	assert_non_null(strstr(mpc_error_detail(), "1000 contributors"));
	assert_int_equal(mpc_agg_contrib_check(&s, 704), MPC_ECONFIG);
	/* a contribution's rows: out of range, named by the contributor and row */
	v[1] = 2e5;
	assert_int_equal(mpc_agg_contrib(&s, &r, "merchant 4", out), MPC_ERANGE);
	assert_non_null(strstr(mpc_error_detail(), "merchant 4: row 2"));
	v[1] = 2;
	assert_int_equal(mpc_agg_contrib(&s, &r, "merchant 4", out), MPC_OK);
	/* the extremes close the contribution: max, then -min, sign-extended */
	s.stats = MPC_AGG_COUNT | MPC_AGG_MIN | MPC_AGG_MAX;
	assert_int_equal(mpc_agg_contrib_len(&s), 7 + 2);
	assert_int_equal(mpc_agg_contrib(&s, &r, "merchant 4", out), MPC_OK);
	assert_true((mpc_i128)out[7] == 2 << 16 && (mpc_i128)out[8] == -(1 << 16));
	v[0] = -1, v[1] = -2;
	assert_int_equal(mpc_agg_contrib(&s, &r, "merchant 4", out), MPC_OK);
	assert_true((mpc_i128)out[7] == -(1 << 16) && (mpc_i128)out[8] == 2 << 16);
	/* a DP spec with min is refused as mpc_agg_check_spec refuses it */
	s.dp = MPC_DP_LAPLACE;
	s.dp_epsilon = 1;
	assert_int_equal(mpc_agg_contrib_check(&s, 7), MPC_ECONFIG);
}

int main(void) {
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad_spec),           cmocka_unit_test(test_txns_and_write),
	    cmocka_unit_test(test_all_stats),          cmocka_unit_test(test_all_stats_even_ties),
	    cmocka_unit_test(test_two_parties),        cmocka_unit_test(test_integers_exact),
	    cmocka_unit_test(test_groups_suppression), cmocka_unit_test(test_filter),
	    cmocka_unit_test(test_divide_inside),      cmocka_unit_test(test_median_small),
	    cmocka_unit_test(test_dp_bad_spec),        cmocka_unit_test(test_dp_tiny_noise),
	    cmocka_unit_test(test_dp_laplace),         cmocka_unit_test(test_dp_gaussian),
	    cmocka_unit_test(test_contrib_check),      cmocka_unit_test(test_contrib_exact),
	    cmocka_unit_test(test_contrib_dp),
	};
	if (getenv("MPC_TEST_FILTER"))
		cmocka_set_test_filter(getenv("MPC_TEST_FILTER"));
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	job_free();
	cjob_free();
	return failed ? 1 : 0;
}
