/* bench_mpc's rows of the merchant applications: statistics, median,
 * scoring.
 *
 * 3 parties over loopback tcp, no dealer (but for score_online_beaver, whose
 * stock comes from one), and no preprocessing installed at start. The
 * end-to-end rows start the clock (after a line-up) before setting up the
 * dealer-free OT backend (mpc_gen_install: base OTs between every pair), so
 * they time everything after the connections are made: the OT set-up, the
 * making of every triple, bit and truncation pair by OT, and the computation
 * itself, up to the result at every party (statistics) or at the asker
 * (scores). The data are made in the parent before the fork; each party
 * reads only its own rows (or the features, or the model). Every row checks
 * its result after the clock against a plaintext computation; a wrong result
 * fails the row (and bench_mpc's exit status). Best of the runs, as the
 * other rows. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench/bench.h"
#include "protocols/apps/mpc_agg.h"
#include "protocols/apps/mpc_score.h"
#include "protocols/preproc/mpc_cross.h"
#include "protocols/preproc/mpc_gen.h"
#include "protocols/preproc/mpc_pool.h"
#include "tests/support/mpc_local.h"

/* The row being run (set by bench_app before the fork). */
static op_kind app_op;

#define APP_NP      3
#define STATS_ROWS  1000000
#define MEDIAN_ROWS 100000
#define SCORE_N     10000
#define SCORE_D     32
#define LAT_REQS    20
#define HIST_EDGES  15 /* 16 buckets */

/* The rows of the statistics: transaction amounts, exponential with mean 50
 * and below 10^4, on multiples of 2^-8, so that their encoding (F = 16) is
 * exact: count, histogram and median are compared exactly, the sum and the
 * ratios within mpc_agg.h's bounds. Party
 * j holds rows [off[j], off[j + 1]). The reference is made in the parent. */
static struct {
	size_t n, off[APP_NP + 1];
	double *x;
	double edges[HIST_EDGES];
	double sum, mean, var, std, maxdev, med_lo, med_hi;
	uint64_t hist[HIST_EDGES + 1];
} agg;

/* The scoring job, as in tests/loopback/test_score.c: features multiples of
 * 2^-10 in [-4, 4] at party 0 (the asker), weights in [-0.5, 0.5] and the
 * bias at party 1, threshold 0.6; every 50th transaction within about 1e-6
 * of the threshold (the flag there is checked on the encoded values). */
static struct {
	size_t n;
	double *x; /* n x SCORE_D */
	double w[SCORE_D], b, thr;
} sj;

/* What each party emits from an application row. */
typedef struct {
	bench_measure row[2]; /* OP_SCORE: [0] end to end, [1] online */
	double lat[LAT_REQS]; /* OP_SCORE_LATENCY: each request's time */
} app_out;

static uint64_t app_rng = 0x9e3779b97f4a7c15ull;
static double app_urand(void) {
	app_rng ^= app_rng << 13;
	app_rng ^= app_rng >> 7;
	app_rng ^= app_rng << 17;
	return ((double)(app_rng >> 11) + 1) * 0x1p-53; /* (0, 1] */
}

static int cmp_double(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* n rows split over the parties, and their plaintext statistics. 0 or -1. */
static int agg_make(size_t n) {
	free(agg.x);
	memset(&agg, 0, sizeof(agg));
	if ((agg.x = malloc(n * sizeof(double))) == NULL)
		return -1;
	agg.n = n;
	for (int j = 0; j <= APP_NP; j++)
		agg.off[j] = n * (size_t)j / APP_NP;
	for (int k = 0; k < HIST_EDGES; k++)
		agg.edges[k] = 10.0 * (k + 1); /* hit exactly by some rows */
	int64_t S = 0;
	mpc_i128 Q = 0;
	for (size_t i = 0; i < n; i++) {
		double v = floor(-50 * log(app_urand()) * 256);
		if (v > 9999 * 256.0)
			v = 9999 * 256.0;
		S += (int64_t)v;
		Q += (mpc_i128)v * (mpc_i128)v;
		agg.x[i] = v / 256;
		int b = 0;
		while (b < HIST_EDGES && agg.x[i] >= agg.edges[b])
			b++;
		agg.hist[b]++;
	}
	/* n Q - S^2 is exact in 128 bits; in units of 2^-16 */
	mpc_i128 num = (mpc_i128)n * Q - (mpc_i128)S * S;
	agg.sum = (double)S / 256;
	agg.mean = (double)((long double)S / 256 / (long double)n);
	agg.var = (double)((long double)num / ((long double)n * (long double)n * 65536.0L));
	agg.std = sqrt(agg.var);
	for (size_t i = 0; i < n; i++)
		if (fabs(agg.x[i] - agg.mean) > agg.maxdev)
			agg.maxdev = fabs(agg.x[i] - agg.mean);
	double *s = malloc(n * sizeof(double));
	if (s == NULL)
		return -1;
	memcpy(s, agg.x, n * sizeof(double));
	qsort(s, n, sizeof(double), cmp_double);
	/* mpc_agg.h: v_ceil(n/2) and v_(floor(n/2)+1), 1-based */
	agg.med_lo = s[(n + 1) / 2 - 1];
	agg.med_hi = s[n / 2];
	free(s);
	return 0;
}

static double logit(double t) {
	return log(t / (1 - t));
}

/* n transactions and the model. 0 or -1. */
static int score_make(size_t n) {
	size_t d = SCORE_D;
	free(sj.x);
	memset(&sj, 0, sizeof(sj));
	if ((sj.x = malloc(n * d * sizeof(double))) == NULL)
		return -1;
	sj.n = n;
	for (size_t e = 0; e < n * d; e++)
		sj.x[e] = ldexp(floor((app_urand() * 8 - 4) * 1024), -10);
	for (size_t k = 0; k < d; k++)
		sj.w[k] = app_urand() - 0.5;
	sj.b = 0.1;
	sj.thr = 0.6;
	for (size_t i = 0; i < n; i += 50) {
		double z = sj.b;
		for (size_t k = 0; k + 1 < d; k++)
			z += sj.w[k] * sj.x[i * d + k];
		double v = (logit(sj.thr) - z + 1e-6 * ((double)(i / 50 % 3) - 1)) / sj.w[d - 1];
		if (fabs(v) < 15)
			sj.x[i * d + d - 1] = v;
	}
	return 0;
}

/* The asker's scores and flags of transactions [off, off + n) against the
 * double model, within mpc_score.h's tolerance; flags exact on the encoded
 * values (and equal to the double flag outside the tolerance band). */
static mpc_err score_check(size_t off, size_t n, const double *score, const uint8_t *flag) {
	size_t d = SCORE_D;
	for (size_t t = 0; t < n; t++) {
		const double *x = sj.x + (off + t) * d;
		double z = sj.b, l1 = fabs(sj.b);
		mpc_i128 L = (mpc_i128)round(ldexp(sj.b, 32));
		for (size_t k = 0; k < d; k++) {
			z += sj.w[k] * x[k];
			l1 += fabs(sj.w[k]) + fabs(x[k]);
			L += (mpc_i128)round(ldexp(sj.w[k], 16)) * (mpc_i128)round(ldexp(x[k], 16));
		}
		double eps = ldexp(l1, -17) + (double)(d + 1) * ldexp(1, -33);
		double tol = MPC_SCORE_SIGMOID_ERR + (eps + ldexp(1, -16)) / 4;
		int want = L > (mpc_i128)llround(ldexp(logit(sj.thr), 32));
		if (!(fabs(score[t] - 1 / (1 + exp(-z))) <= tol) || flag[t] != want ||
		    (fabs(z - logit(sj.thr)) > eps + ldexp(1, -32) && want != (z > logit(sj.thr))))
			return mpc_error(MPC_ECHEAT,
			                 "%s: wrong score or flag of transaction %zu "
			                 "(checked in the clear after the run)",
			                 bench_op_names[app_op], off + t);
	}
	return MPC_OK;
}

/* The statistics at a party against the plaintext ones (the bounds of
 * mpc_agg.h, plus 1e-12 relative for the double arithmetic around them). */
static mpc_err agg_check(const mpc_agg_stats *st) {
	const char *bad = NULL;
	double n = (double)agg.n, rel = 1e-12;
	double tsum = n * 0x1p-17 + rel * agg.sum, tmean = 0x1p-17 + rel * agg.mean;
	double tvar = 0x1p-16 * agg.maxdev + 0x1p-32 + 1e-9 * agg.var;
	double tstd = tvar / agg.std + rel * agg.std;
	if (st->suppressed)
		bad = "suppressed";
	else if (app_op == OP_AGG_MEDIAN) {
		if (st->quant == NULL || st->quant_lo[0] != agg.med_lo ||
		    st->quant_hi[0] != agg.med_hi || st->quant[0] != (agg.med_lo + agg.med_hi) / 2)
			bad = "median";
	} else if (st->count != n)
		bad = "count";
	else if (!(fabs(st->sum - agg.sum) <= tsum))
		bad = "sum";
	else if (!(fabs(st->mean - agg.mean) <= tmean))
		bad = "mean";
	else if (!(fabs(st->variance - agg.var) <= tvar))
		bad = "variance";
	else if (!(fabs(st->stddev - agg.std) <= tstd))
		bad = "stddev";
	else if (st->hist == NULL)
		bad = "histogram";
	else
		for (int k = 0; k <= HIST_EDGES && bad == NULL; k++)
			if (st->hist[k] != (double)agg.hist[k])
				bad = "histogram";
	if (bad)
		return mpc_error(MPC_ECHEAT, "%s: wrong %s (checked in the clear after the run)",
		                 bench_op_names[app_op], bad);
	return MPC_OK;
}

static void clock_start(mpc_party *p, double *t0, uint64_t *b0, uint64_t *r0) {
	*b0 = mpc_net_bytes_sent(mpc_party_net(p));
	*r0 = mpc_net_rounds(mpc_party_net(p));
	*t0 = bench_now();
}

static void clock_stop(mpc_party *p, double t0, uint64_t b0, uint64_t r0, bench_measure *m) {
	m->seconds = bench_now() - t0;
	m->bytes = mpc_net_bytes_sent(mpc_party_net(p)) - b0;
	m->rounds = mpc_net_rounds(mpc_party_net(p)) - r0;
}

/* Statistics or median, end to end. */
static mpc_err agg_row(mpc_party *p, app_out *o) {
	static const double half = 0.5;
	int me = mpc_party_id(p);
	mpc_agg_spec s;
	mpc_agg_result res;
	double t0;
	uint64_t b0, r0;
	mpc_err err;

	memset(&res, 0, sizeof(res));
	mpc_agg_spec_default(&s);
	s.max_abs = 1e5;
	s.max_rows = 1e6;
	if (app_op == OP_AGG_STATS) {
		s.stats = MPC_AGG_COUNT | MPC_AGG_SUM | MPC_AGG_MEAN | MPC_AGG_VAR | MPC_AGG_STD |
		          MPC_AGG_HIST;
		s.edges = agg.edges;
		s.n_edges = HIST_EDGES;
	} else {
		s.stats = MPC_AGG_QUANT;
		s.quant = &half;
		s.n_quant = 1;
	}
	mpc_agg_rows rows = {.n = agg.off[me + 1] - agg.off[me], .n_cols = 1};
	rows.col[0] = agg.x + agg.off[me];
	if ((err = bench_line_up(p)) != MPC_OK)
		return err;
	clock_start(p, &t0, &b0, &r0);
	if ((err = mpc_gen_install(p, "ot", 0)) == MPC_OK)
		err = mpc_agg_run(p, &s, &rows, &res);
	clock_stop(p, t0, b0, r0, &o->row[0]);
	if (err == MPC_OK)
		err = agg_check(&res.all);
	mpc_agg_result_fini(&res);
	return err;
}

/* Score sj's transactions [off, off + n) in cross mode: features at party
 * 0, which asks; the model at party 1. */
static mpc_err score_call(mpc_party *p, const mpc_cross *eng, size_t off, size_t n, double *score,
                          uint8_t *flag) {
	int me = mpc_party_id(p);
	mpc_score_opts o = {.asker = 0, .cross = eng};
	mpc_score_data d = {.n = n,
	                    .d = SCORE_D,
	                    .holder = 0,
	                    .x_max = 16,
	                    .x = me == 0 ? sj.x + off * SCORE_D : NULL};
	mpc_score_logreg_model m = {.owner = 1,
	                            .w = me == 1 ? sj.w : NULL,
	                            .b = me == 1 ? sj.b : 0,
	                            .w_max = 4,
	                            .threshold = sj.thr};
	return mpc_score_logreg(p, &o, &d, &m, me == 0 ? score : NULL, me == 0 ? flag : NULL);
}

static mpc_err no_misses(mpc_party *p) {
	const mpc_pool_stats *st = mpc_pool_get_stats(mpc_party_preproc(p));
	if (st->misses)
		return mpc_error(MPC_EINVAL,
		                 "%s: the recorded plan did not cover the run (%llu "
		                 "elements fetched on %llu misses)",
		                 bench_op_names[app_op], (unsigned long long)st->missed,
		                 (unsigned long long)st->misses);
	return MPC_OK;
}

/* Scoring: end to end through a recording pool (row[0]); then the pool is
 * filled with what that run consumed, and the same job runs again with the
 * cross engine already set up (row[1], online). */
static mpc_err score_rows(mpc_party *p, app_out *o) {
	int me = mpc_party_id(p);
	size_t n = sj.n;
	mpc_cross eng = {0};
	mpc_pool_plan plan;
	double *score = calloc(n, sizeof(double)), t0;
	uint8_t *flag = calloc(n, 1);
	uint64_t b0, r0;
	mpc_err err;

	if (score == NULL || flag == NULL) {
		err = mpc_error(MPC_ENOMEM, "out of memory");
		goto out;
	}
	if ((err = bench_line_up(p)) != MPC_OK)
		goto out;
	clock_start(p, &t0, &b0, &r0);
	if ((err = mpc_gen_install(p, "ot", 0)) == MPC_OK &&
	    (err = mpc_pool_install(p)) == MPC_OK && (err = mpc_cross_ot_new(&eng, p)) == MPC_OK)
		err = score_call(p, &eng, 0, n, score, flag);
	clock_stop(p, t0, b0, r0, &o->row[0]);
	if (err != MPC_OK || (me == 0 && (err = score_check(0, n, score, flag)) != MPC_OK))
		goto out;
	memset(score, 0, n * sizeof(double));
	memset(flag, 0, n);
	if ((err = mpc_pool_plan_get(mpc_party_preproc(p), &plan)) != MPC_OK ||
	    (err = mpc_pool_fill(p, &plan)) != MPC_OK || (err = bench_line_up(p)) != MPC_OK)
		goto out;
	clock_start(p, &t0, &b0, &r0);
	err = score_call(p, &eng, 0, n, score, flag);
	clock_stop(p, t0, b0, r0, &o->row[1]);
	if (err == MPC_OK && (err = no_misses(p)) == MPC_OK && me == 0)
		err = score_check(0, n, score, flag);
out:
	mpc_cross_free(&eng);
	free(score);
	free(flag);
	return err;
}

/* One request at a time (n = 1), material in stock: an untimed request on
 * transaction LAT_REQS records the plan, the pool is filled with LAT_REQS
 * times it, then requests 0 .. LAT_REQS - 1 each after a line-up. row[0]
 * adds up the requests' bytes and rounds. */
static mpc_err latency_rows(mpc_party *p, app_out *o) {
	int me = mpc_party_id(p);
	mpc_cross eng = {0};
	mpc_pool_plan plan;
	double score[LAT_REQS + 1], t0;
	uint8_t flag[LAT_REQS + 1];
	uint64_t b0, r0;
	mpc_err err;

	if ((err = mpc_gen_install(p, "ot", 0)) != MPC_OK ||
	    (err = mpc_pool_install(p)) != MPC_OK || (err = mpc_cross_ot_new(&eng, p)) != MPC_OK ||
	    (err = score_call(p, &eng, LAT_REQS, 1, score + LAT_REQS, flag + LAT_REQS)) != MPC_OK ||
	    (err = mpc_pool_plan_get(mpc_party_preproc(p), &plan)) != MPC_OK ||
	    (err = mpc_pool_plan_scale(&plan, LAT_REQS)) != MPC_OK ||
	    (err = mpc_pool_fill(p, &plan)) != MPC_OK)
		goto out;
	for (int k = 0; k < LAT_REQS && err == MPC_OK; k++) {
		bench_measure m;
		if ((err = bench_line_up(p)) != MPC_OK)
			break;
		clock_start(p, &t0, &b0, &r0);
		err = score_call(p, &eng, (size_t)k, 1, score + k, flag + k);
		clock_stop(p, t0, b0, r0, &m);
		o->lat[k] = m.seconds;
		o->row[0].seconds += m.seconds;
		o->row[0].bytes += m.bytes;
		o->row[0].rounds += m.rounds;
	}
	if (err == MPC_OK && (err = no_misses(p)) == MPC_OK && me == 0)
		err = score_check(0, LAT_REQS + 1, score, flag);
out:
	mpc_cross_free(&eng);
	return err;
}

/* Beaver mode online: every product's triple in stock as well. The
 * material comes from the dealer (what the online phase does is the same
 * whoever made it): an untimed run records the plan, the pool is filled,
 * the timed run follows. */
static mpc_err beaver_row(mpc_party *p, app_out *o) {
	int me = mpc_party_id(p);
	size_t n = sj.n;
	mpc_pool_plan plan;
	double *score = calloc(n, sizeof(double)), t0;
	uint8_t *flag = calloc(n, 1);
	uint64_t b0, r0;
	mpc_err err;

	if (score == NULL || flag == NULL) {
		err = mpc_error(MPC_ENOMEM, "out of memory");
		goto out;
	}
	if ((err = mpc_pool_install(p)) != MPC_OK ||
	    (err = score_call(p, NULL, 0, n, score, flag)) != MPC_OK ||
	    (err = mpc_pool_plan_get(mpc_party_preproc(p), &plan)) != MPC_OK ||
	    (err = mpc_pool_fill(p, &plan)) != MPC_OK || (err = bench_line_up(p)) != MPC_OK)
		goto out;
	memset(score, 0, n * sizeof(double));
	memset(flag, 0, n);
	clock_start(p, &t0, &b0, &r0);
	err = score_call(p, NULL, 0, n, score, flag);
	clock_stop(p, t0, b0, r0, &o->row[0]);
	if (err == MPC_OK && (err = no_misses(p)) == MPC_OK && me == 0)
		err = score_check(0, n, score, flag);
out:
	free(score);
	free(flag);
	return err;
}

static mpc_err app_timed(mpc_party *p, void *arg) {
	app_out o;
	mpc_err err;
	(void)arg;
	memset(&o, 0, sizeof(o));
	if (app_op == OP_AGG_STATS || app_op == OP_AGG_MEDIAN)
		err = agg_row(p, &o);
	else if (app_op == OP_SCORE)
		err = score_rows(p, &o);
	else if (app_op == OP_SCORE_BEAVER)
		err = beaver_row(p, &o);
	else
		err = latency_rows(p, &o);
	if (err != MPC_OK)
		return err;
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	o.row[0].peak_mib = o.row[1].peak_mib = ru.ru_maxrss / 1024.0;
	return mpc_local_emit(&o, sizeof(o));
}

/* Run an application row (OP_SCORE: the end-to-end and the online row)
 * `reps` times: per run, the worst party's time, bytes, rounds and memory
 * (latency: per request the slowest party, then the median of the
 * requests); the best run is reported. 0 or -1. */
int bench_app(op_kind op, int reps) {
	mpc_local_config cfg = {.n_parties = APP_NP,
	                        .use_tcp = 1,
	                        .timeout_ms = 60000,
	                        .watchdog_s = 600,
	                        .with_dealer = op == OP_SCORE_BEAVER};
	mpc_local_result res[APP_NP + 1];
	app_out best;
	double lat[LAT_REQS], best_lat[LAT_REQS] = {0};
	int mk = 0;

	if (!bench_selected(op) && !(op == OP_SCORE && bench_selected(OP_SCORE_ONLINE)))
		return 0;
	if (op == OP_AGG_STATS || op == OP_AGG_MEDIAN)
		mk = agg_make(op == OP_AGG_STATS ? STATS_ROWS : MEDIAN_ROWS);
	else
		mk = score_make(op == OP_SCORE_LATENCY ? LAT_REQS + 1 : SCORE_N);
	if (mk != 0) {
		fprintf(stderr, "bench: %s: out of memory\n", bench_op_names[op]);
		return -1;
	}
	app_op = op;
	memset(&best, 0, sizeof(best));
	for (int rep = 0; rep < reps; rep++) {
		app_out w;
		int ok = 1;
		if (mpc_local_run(&cfg, app_timed, NULL, res) != MPC_OK) {
			fprintf(stderr, "bench: %s\n", mpc_error_detail());
			return -1;
		}
		memset(&w, 0, sizeof(w));
		for (int k = 0; k < LAT_REQS; k++)
			lat[k] = 0;
		for (int i = 0; i < APP_NP; i++) {
			app_out o;
			if (res[i].err != MPC_OK || res[i].out_len != sizeof(o)) {
				fprintf(stderr, "bench: %s: party %d: %s: %s\n", bench_op_names[op],
				        i, mpc_strerror(res[i].err), res[i].detail);
				ok = 0;
				continue;
			}
			memcpy(&o, res[i].out, sizeof(o));
			for (int r = 0; r < 2; r++) {
				bench_measure *a = &w.row[r], *b = &o.row[r];
				a->seconds = b->seconds > a->seconds ? b->seconds : a->seconds;
				a->bytes = b->bytes > a->bytes ? b->bytes : a->bytes;
				a->rounds = b->rounds > a->rounds ? b->rounds : a->rounds;
				a->peak_mib = b->peak_mib > a->peak_mib ? b->peak_mib : a->peak_mib;
			}
			/* a request takes as long as its slowest party */
			for (int k = 0; k < LAT_REQS; k++)
				lat[k] = o.lat[k] > lat[k] ? o.lat[k] : lat[k];
		}
		mpc_local_results_fini(res, APP_NP + cfg.with_dealer);
		if (!ok)
			return -1;
		if (op == OP_SCORE_LATENCY) {
			qsort(lat, LAT_REQS, sizeof(double), cmp_double);
			/* row[0].seconds: the median request of this run */
			w.row[0].seconds = (lat[LAT_REQS / 2 - 1] + lat[LAT_REQS / 2]) / 2;
		}
		for (int r = 0; r < 2; r++)
			if (rep == 0 || w.row[r].seconds < best.row[r].seconds) {
				best.row[r] = w.row[r];
				if (r == 0)
					memcpy(best_lat, lat, sizeof(lat));
			}
	}
	const bench_measure *m0 = &best.row[0], *m1 = &best.row[1];
	if (op == OP_AGG_STATS || op == OP_AGG_MEDIAN) {
		bench_print_row(op, 0, MPC_Z128, APP_NP, agg.n, m0->seconds, m0->bytes, m0->rounds,
		                m0->peak_mib);
	} else if (op == OP_SCORE_BEAVER) {
		bench_print_row(op, 0, MPC_Z128, APP_NP, sj.n, m0->seconds, m0->bytes, m0->rounds,
		                m0->peak_mib);
	} else if (op == OP_SCORE) {
		if (bench_selected(OP_SCORE))
			bench_print_row(OP_SCORE, 0, MPC_Z128, APP_NP, sj.n, m0->seconds, m0->bytes,
			                m0->rounds, m0->peak_mib);
		if (bench_selected(OP_SCORE_ONLINE))
			bench_print_row(OP_SCORE_ONLINE, 0, MPC_Z128, APP_NP, sj.n, m1->seconds,
			                m1->bytes, m1->rounds, m1->peak_mib);
	} else {
		/* batch 1: one request; bytes and rounds per request */
		bench_print_row(op, 0, MPC_Z128, APP_NP, 1, m0->seconds, m0->bytes / LAT_REQS,
		                m0->rounds / LAT_REQS, m0->peak_mib);
		printf("  %d requests (slowest party each): median %.2f ms, min %.2f ms, "
		       "max %.2f ms\n",
		       LAT_REQS, 1e3 * m0->seconds, 1e3 * best_lat[0],
		       1e3 * best_lat[LAT_REQS - 1]);
	}
	return 0;
}
