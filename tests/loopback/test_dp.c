/* Loopback: discrete Laplace noise made jointly by 3 real processes with
 * dealer-free (OT) preprocessing, checked against the exact mechanism:
 *  - one batch of 2*10^4 samples: mean ~ 0, variance 2q/(1-q)^2 within
 *    5 standard errors (computed from the pmf's fourth moment), a
 *    chi-square test of the histogram against the pmf, |Z| < 2^L;
 *  - 200 separate releases (shared clear values + noise, opened): the
 *    released value minus the clear one has the mechanism's spread, for one
 *    scale and for a mixed batch from a budget split (fixed point too);
 *  - no party's view determines the noise: each party's share (and the sum
 *    of any two parties' shares) looks uniform and uncorrelated with the
 *    noise, and a party's share of the noisy value is not the value;
 *  - the budget split: its errors, its numbers and its printed lines.
 * The noise is truly random (every party's own PRG is seeded from the OS),
 * so each statistical check fails by chance with probability ~10^-6. */
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
#include <time.h>

#include "protocols/apps/mpc_dp.h"
#include "protocols/core/mpc_share.h"
#include "protocols/preproc/mpc_gen.h"
#include "tests/support/cluster.h"
#include "tests/support/mpc_local.h"

#define NP      3 /* parties, except in test_parties */
#define MAXP    5
#define Z_BOUND 5.0  /* standard errors allowed */
#define CHI_Z   4.75 /* normal quantile for a 10^-6 one-sided chi-square tail */
#define MAX_N   20000

enum { OP_SAMPLE, OP_RELEASE };

/* The job, made in the parent before fork. */
static struct {
	int op;
	mpc_ring ring;
	size_t n;
	double T;  /* OP_SAMPLE: parameter in units */
	int gauss; /* OP_SAMPLE: the discrete Gaussian with sigma T */
	double t;  /* OP_SAMPLE with f > 0: mpc_dp_laplace(t, f) */
	unsigned f;
	int dealer;            /* 1: a dealer instead of the parties' OT generation */
	int np;                /* parties; 0 means NP */
	mpc_err expect;        /* what every party's body must return */
	double Tbad;           /* sample 3's parameter when an error is expected */
	mpc_dp_alloc a[MAX_N]; /* OP_RELEASE: per statistic */
	int64_t x[MAX_N];      /* OP_RELEASE: clear values (party 0's input) */
} job;

/* What each party reports after the body. */
typedef struct {
	double seconds;
	uint64_t rounds, bytes;
	uint64_t bit_triple_words, bits;
} meter;

static size_t eb(void) {
	return mpc_ring_bytes(job.ring);
}

static int64_t get_s(const uint8_t *buf, size_t i) {
	/* noise and values here are far below 2^63 */
	return (int64_t)cluster_get_s(job.ring, buf, i);
}

static mpc_u128 get_u(const uint8_t *buf, size_t i) {
	return cluster_get_u(job.ring, buf, i);
}

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- the parties ---- */

static mpc_err body(mpc_party *p, void *arg) {
	size_t n = job.n, e = eb();
	mpc_vec z = {0}, x = {0}, o = {0};
	const mpc_gen_stats *gs = mpc_gen_get_stats(mpc_party_preproc(p));
	mpc_gen_stats g0 = gs ? *gs : (mpc_gen_stats){0};
	uint64_t r0 = mpc_net_rounds(mpc_party_net(p)), b0 = mpc_net_bytes_sent(mpc_party_net(p));
	double t0 = now();
	meter mt = {0};
	mpc_err err;
	(void)arg;
	if ((err = mpc_vec_init(&z, job.ring, n)) || (err = mpc_vec_init(&x, job.ring, n)) ||
	    (err = mpc_vec_init(&o, job.ring, n)))
		goto out;
	if (job.op == OP_SAMPLE) {
		if (job.f > 0)
			err = mpc_dp_laplace(p, job.ring, job.t, job.f, z.v, n);
		else {
			double *T = malloc(n * sizeof(*T));
			if (T == NULL) {
				err = mpc_error(MPC_ENOMEM, "out of memory");
				goto out;
			}
			for (size_t i = 0; i < n; i++)
				T[i] = job.expect != MPC_OK && i == 3 ? job.Tbad : job.T;
			err = job.gauss ? mpc_dp_gauss_units(p, job.ring, T, z.v, n)
			                : mpc_dp_laplace_units(p, job.ring, T, z.v, n);
			free(T);
		}
		if (err != MPC_OK)
			goto out;
		mt.seconds = now() - t0;
		if ((err = mpc_local_emit(z.v, n * e)) != MPC_OK)
			goto out;
	} else {
		uint8_t *in = NULL;
		if (mpc_party_id(p) == 0) {
			in = calloc(n, e);
			if (in == NULL) {
				err = mpc_error(MPC_ENOMEM, "out of memory");
				goto out;
			}
			for (size_t i = 0; i < n; i++)
				mpc_ring_set_i64(job.ring, in, i, job.x[i]);
		}
		err = mpc_input(p, 0, job.ring, in, x.v, n);
		free(in);
		if (err != MPC_OK ||
		    (err = mpc_dp_add_noise(p, job.ring, job.a, x.v, n)) != MPC_OK ||
		    (err = mpc_open(p, job.ring, x.v, o.v, n)) != MPC_OK)
			goto out;
		mt.seconds = now() - t0;
		/* the released values, then this party's share of them */
		if ((err = mpc_local_emit(o.v, n * e)) != MPC_OK ||
		    (err = mpc_local_emit(x.v, n * e)) != MPC_OK)
			goto out;
	}
	mt.rounds = mpc_net_rounds(mpc_party_net(p)) - r0;
	mt.bytes = mpc_net_bytes_sent(mpc_party_net(p)) - b0;
	if (gs) {
		mt.bit_triple_words = gs->bit_triple_words - g0.bit_triple_words;
		mt.bits = gs->bits - g0.bits;
	}
	err = mpc_local_emit(&mt, sizeof(mt));
out:
	mpc_vec_fini(&z);
	mpc_vec_fini(&x);
	mpc_vec_fini(&o);
	return err;
}

/* Run the job on np() parties. shares[k] gets party k's first emitted
 * block (n elements), shares2[k] the second (OP_RELEASE), meters[k] its
 * meter. */
static int np(void) {
	return job.np ? job.np : NP;
}

static void run(uint8_t *shares[MAXP], uint8_t *shares2[MAXP], meter meters[MAXP]) {
	mpc_local_config cfg = {.n_parties = np(),
	                        .with_dealer = job.dealer,
	                        .gen = job.dealer ? NULL : "ot",
	                        .timeout_ms = 60000,
	                        .watchdog_s = 300};
	mpc_local_result res[MAXP + 1];
	size_t blk = job.n * eb(), want = blk * (job.op == OP_RELEASE ? 2 : 1) + sizeof(meter);
	assert_int_equal(mpc_local_run(&cfg, body, NULL, res), MPC_OK);
	if (job.expect != MPC_OK) {
		/* every party refuses by itself; one that is told of another's
		 * abort first (the harness relays it) may report that instead */
		int own = -1;
		for (int i = 0; i < np(); i++) {
			if (res[i].err == MPC_EPEER)
				continue;
			assert_int_equal(res[i].err, job.expect);
			assert_non_null(strstr(res[i].detail, "sample 3"));
			own = i;
		}
		assert_true(own >= 0);
		print_message("    refused as expected: %s\n", res[own].detail);
		mpc_local_results_fini(res, np() + job.dealer);
		return;
	}
	for (int i = 0; i < np(); i++) {
		if (res[i].err != MPC_OK || !res[i].exited || res[i].exit_code != 0)
			print_error("party %d: exit %d, %s: %s\n", i, res[i].exit_code,
			            mpc_strerror(res[i].err), res[i].detail);
		assert_int_equal(res[i].err, MPC_OK);
		assert_int_equal(res[i].exit_code, 0);
		assert_int_equal(res[i].out_len, want);
		shares[i] = malloc(blk);
		assert_non_null(shares[i]);
		memcpy(shares[i], res[i].out, blk);
		if (shares2) {
			shares2[i] = malloc(blk);
			assert_non_null(shares2[i]);
			memcpy(shares2[i], res[i].out + blk, blk);
		}
		memcpy(&meters[i], res[i].out + want - sizeof(meter), sizeof(meter));
	}
	if (job.dealer) {
		assert_int_equal(res[np()].err, MPC_OK);
		assert_int_equal(res[np()].exit_code, 0);
	}
	mpc_local_results_fini(res, np() + job.dealer);
}

/* Run an OP_SAMPLE job; z gets the noise (units), sh the parties' shares
 * (caller frees both). */
static double *sample(uint8_t *sh[MAXP], meter mt[MAXP]) {
	size_t n = job.n;
	double *z = malloc(n * sizeof(double));
	uint8_t *sum = calloc(n, eb());
	assert_non_null(z);
	assert_non_null(sum);
	run(sh, NULL, mt);
	for (int k = 0; k < np(); k++)
		mpc_ring_add(job.ring, sum, sum, sh[k], n);
	for (size_t i = 0; i < n; i++)
		z[i] = (double)get_s(sum, i);
	free(sum);
	return z;
}

/* ---- the exact mechanisms ---- */

/* a discrete Laplace with parameter par, or a discrete Gaussian with sigma par */
typedef struct {
	int gauss;
	double par;
} dist;

static dist LAP(double T) {
	return (dist){0, T};
}
static dist GAU(double sigma) {
	return (dist){1, sigma};
}

/* P(Z = z) */
static double pmf(dist D, long z) {
	if (!D.gauss) {
		double q = exp(-1.0 / D.par);
		return (1 - q) / (1 + q) * pow(q, (double)labs(z));
	}
	static double last_s = -1, norm;
	if (D.par != last_s) {
		norm = 1;
		for (long k = 1; k < (long)(40 * D.par) + 10; k++)
			norm += 2 * exp(-0.5 * (double)k * (double)k / (D.par * D.par));
		last_s = D.par;
	}
	return exp(-0.5 * (double)z * (double)z / (D.par * D.par)) / norm;
}

/* E[Z^2] and E[Z^4], by summing the pmf */
static void moments(dist D, double *m2, double *m4) {
	double s2 = 0, s4 = 0;
	long K = (long)((D.gauss ? 40 : 60) * D.par) + 10;
	for (long z = 1; z <= K; z++) {
		double pz = 2 * pmf(D, z), zz = (double)z * (double)z;
		s2 += pz * zz;
		s4 += pz * zz * zz;
	}
	*m2 = s2;
	*m4 = s4;
}

/* log P(X = x) for X ~ Binomial(n, p) */
static double lbinom(size_t n, size_t x, double p) {
	double lc = lgamma((double)n + 1) - lgamma((double)x + 1) - lgamma((double)(n - x) + 1);
	return lc + (double)x * log(p) + (double)(n - x) * log1p(-p);
}

/* Exact binomial test of the mass P(|Z| <= k) at a few k around the
 * standard deviation: both tails of the observed count must be above
 * 10^-7 (the normal approximation to E[Z^2] is too optimistic for a few
 * hundred samples: its skew puts ~10^-4 beyond 5 standard errors). */
static void check_mass(const double *d, size_t n, dist D, const char *what) {
	double sd, m4;
	moments(D, &sd, &m4);
	sd = sqrt(sd);
	long ks[4] = {0, (long)ceil(sd / 2), (long)ceil(sd), (long)ceil(2 * sd)};
	for (int a = 0; a < 4; a++) {
		double pk = 0, lo = 0, hi = 0;
		size_t c = 0;
		for (long z = -ks[a]; z <= ks[a]; z++)
			pk += pmf(D, z);
		for (size_t i = 0; i < n; i++)
			c += fabs(d[i]) <= (double)ks[a];
		if (pk >= 1 - 1e-12) {
			assert_true(c == n);
			continue;
		}
		for (size_t x = 0; x <= n; x++) {
			double v = exp(lbinom(n, x, pk));
			if (x <= c)
				lo += v;
			if (x >= c)
				hi += v;
		}
		print_message("    %s: P(|Z| <= %ld) = %.4f, observed %.4f (tails %.2g, %.2g)\n",
		              what, ks[a], pk, (double)c / (double)n, lo, hi);
		if (lo < 1e-7 || hi < 1e-7)
			fail_msg("%s: %zu of %zu within %ld, expected %.4f", what, c, n, ks[a], pk);
	}
}

/* Mean ~ 0 within Z_BOUND standard errors; with enough samples for the
 * normal approximation (n >= 5000 for the Laplace, 1000 for the light-tailed
 * Gaussian), E[Z^2] against the exact second moment (and for the Laplace
 * the closed form 2q/(1-q)^2) within Z_BOUND standard errors from the
 * fourth moment; and the exact binomial tests of check_mass. d: n samples
 * (units). */
static void check_spread(const double *d, size_t n, dist D, const char *what) {
	double m2, m4, q = exp(-1.0 / D.par), s1 = 0, s2 = 0;
	int big = n >= (D.gauss ? 1000u : 5000u);
	moments(D, &m2, &m4);
	if (!D.gauss) {
		assert_true(fabs(m2 - 2 * q / ((1 - q) * (1 - q))) < 1e-9 * m2);
		assert_true(fabs(sqrt(m2) - mpc_dp_laplace_stddev(D.par)) < 1e-9 * sqrt(m2));
	} else {
		assert_true(fabs(sqrt(m2) - mpc_dp_gauss_stddev(D.par)) < 1e-9 * sqrt(m2));
	}
	for (size_t i = 0; i < n; i++) {
		s1 += d[i];
		s2 += d[i] * d[i];
	}
	double mean = s1 / (double)n, ms = s2 / (double)n;
	double se_mean = sqrt(m2 / (double)n), se_var = sqrt((m4 - m2 * m2) / (double)n);
	print_message("    %s: n %zu %s %g: mean %.4f (tolerance %.4f), E[Z^2] %.4f vs %.4f "
	              "(%s %.4f)\n",
	              what, n, D.gauss ? "sigma" : "T", D.par, mean, Z_BOUND * se_mean, ms, m2,
	              big ? "tolerance" : "5 s.e., not asserted:", Z_BOUND * se_var);
	if (fabs(mean) > Z_BOUND * se_mean)
		fail_msg("%s: mean %g beyond %g", what, mean, Z_BOUND * se_mean);
	if (big && fabs(ms - m2) > Z_BOUND * se_var)
		fail_msg("%s: E[Z^2] %g vs %g beyond %g", what, ms, m2, Z_BOUND * se_var);
	check_mass(d, n, D, what);
}

/* Chi-square of the histogram against the pmf: bins of width w (1 for
 * small T) centred on 0, as many as have an expected count >= 20, and the
 * two tails. */
static void check_chi2(const double *d, size_t n, dist D) {
	long w = D.par < 8 ? 1 : (long)(D.par / 8), K = 0;
	/* bin b (|b| <= K) holds z in [b*w - w/2, b*w - w/2 + w) */
#define LO(b) ((b)*w - w / 2)
	for (;;) {
		double pb = 0;
		for (long z = LO(K + 1); z < LO(K + 1) + w; z++)
			pb += pmf(D, z);
		if (pb * (double)n < 20 || K >= 200)
			break;
		K++;
	}
	size_t nb = (size_t)(2 * K + 3);
	double *obs = calloc(nb, sizeof(double)), chi = 0, mass = 0;
	assert_non_null(obs);
	for (size_t i = 0; i < n; i++) {
		long z = (long)d[i];
		long lo = LO(-K), hi = LO(K) + w;
		size_t b = z < lo ? 0 : z >= hi ? nb - 1 : (size_t)((z - lo) / w + 1);
		obs[b]++;
	}
	for (long b = -K; b <= K; b++) {
		double pb = 0, o = obs[b + K + 1];
		for (long z = LO(b); z < LO(b) + w; z++)
			pb += pmf(D, z);
		chi += (o - pb * (double)n) * (o - pb * (double)n) / (pb * (double)n);
		mass += pb;
	}
#undef LO
	double ext = (1 - mass) / 2 * (double)n;
	chi +=
	    (obs[0] - ext) * (obs[0] - ext) / ext + (obs[nb - 1] - ext) * (obs[nb - 1] - ext) / ext;
	double df = (double)nb - 1, h = 2 / (9 * df);
	double crit = df * pow(1 - h + CHI_Z * sqrt(h), 3); /* Wilson-Hilferty */
	print_message("    chi-square over %zu bins of width %ld: %.2f (critical %.2f at 10^-6)\n",
	              nb, w, chi, crit);
	free(obs);
	if (chi > crit)
		fail_msg("chi-square %g > %g", chi, crit);
}

/* Each party's share, and the sum of every two parties' shares, against the
 * noise: the top bit is a fair coin and the low 32 bits are uncorrelated
 * with the noise; and no share equals the noise. */
static void check_views(uint8_t *sh[MAXP], const double *z, size_t n) {
	double zm = 0, zv = 0;
	for (size_t i = 0; i < n; i++)
		zm += z[i];
	zm /= (double)n;
	for (size_t i = 0; i < n; i++)
		zv += (z[i] - zm) * (z[i] - zm);
	for (int v = 0; v < 2 * NP; v++) {
		/* views 0..NP-1: one party; NP..2NP-1: parties v-NP and v-NP+1 */
		double top = 0, sxy = 0, sx = 0, sxx = 0;
		size_t equal = 0;
		unsigned k = mpc_ring_bits(job.ring);
		for (size_t i = 0; i < n; i++) {
			mpc_u128 s = get_u(sh[v % NP], i);
			if (v >= NP)
				s += get_u(sh[(v + 1) % NP], i);
			if (k == 64)
				s = (uint64_t)s;
			top += (double)(s >> (k - 1) & 1);
			double lo = (double)(uint32_t)s / 4294967296.0;
			sx += lo;
			sxx += lo * lo;
			sxy += lo * (z[i] - zm);
			mpc_u128 zz = (mpc_u128)(mpc_i128)(int64_t)z[i];
			if (k == 64)
				zz = (uint64_t)zz;
			equal += s == zz;
		}
		double frac = top / (double)n, mx = sx / (double)n;
		double corr = sxy / sqrt((sxx - (double)n * mx * mx) * zv);
		if (fabs(frac - 0.5) > Z_BOUND * 0.5 / sqrt((double)n))
			fail_msg("view %d: top bit set in %g of the shares", v, frac);
		if (fabs(corr) > Z_BOUND / sqrt((double)n))
			fail_msg("view %d: share correlates with the noise (%g)", v, corr);
		assert_true(equal <= 1);
	}
}

/* The preprocessing the run consumed is what mpc_dp_laplace_cost predicts. */
static void check_cost(const meter *mt, const double *T, size_t n) {
	uint64_t words, bits;
	assert_int_equal(job.gauss ? mpc_dp_gauss_cost(T, n, &words, &bits)
	                           : mpc_dp_laplace_cost(T, n, &words, &bits),
	                 0);
	if (mt->bit_triple_words != words || mt->bits != bits)
		fail_msg("consumed %llu bit-triple words and %llu bits, predicted %llu and %llu",
		         (unsigned long long)mt->bit_triple_words, (unsigned long long)mt->bits,
		         (unsigned long long)words, (unsigned long long)bits);
}

static void check_cost_same(const meter *mt, double T, size_t n) {
	double *Ts = malloc(n * sizeof(double));
	assert_non_null(Ts);
	for (size_t i = 0; i < n; i++)
		Ts[i] = T;
	check_cost(mt, Ts, n);
	free(Ts);
}

static void print_meter(const meter *mt, size_t n, const char *what) {
	print_message("    %s: %zu samples in %.2f s (%.0f samples/s, preprocessing made inside "
	              "the run); per sample %.0f bit triples, %.1f random bits; %llu rounds, "
	              "%.0f bytes sent per sample (party 0)\n",
	              what, n, mt->seconds, (double)n / mt->seconds,
	              64.0 * (double)mt->bit_triple_words / (double)n, (double)mt->bits / (double)n,
	              (unsigned long long)mt->rounds, (double)mt->bytes / (double)n);
}

/* ---- tests ---- */

static void new_sample_job(mpc_ring r, size_t n, double T, int parties) {
	memset(&job, 0, sizeof(job));
	job.op = OP_SAMPLE;
	job.ring = r;
	job.n = n;
	job.T = T;
	job.np = parties;
}

/* every |z| < 2^L for the parameter's digit count L (Laplace), |z| <= K
 * (Gaussian) */
static void check_bound(const double *z, size_t n, double T) {
	unsigned L;
	if (job.gauss) {
		assert_int_equal(mpc_dp_gauss_info(T, &L, NULL), MPC_OK);
		for (size_t i = 0; i < n; i++)
			assert_true(fabs(z[i]) <= (double)L);
		return;
	}
	assert_int_equal(mpc_dp_laplace_info(T, &L, NULL), MPC_OK);
	for (size_t i = 0; i < n; i++)
		assert_true(fabs(z[i]) < ldexp(1, (int)L));
}

static void free_shares(uint8_t *sh[MAXP]) {
	for (int k = 0; k < np(); k++)
		free(sh[k]);
}

/* (1) one large batch, integers; (3) the parties' views of it */
static void test_batch(void **s) {
	(void)s;
	uint8_t *sh[MAXP];
	meter mt[MAXP];
	new_sample_job(MPC_Z64, MAX_N, 4.0, 0);
	double *z = sample(sh, mt);
	check_bound(z, job.n, job.T);
	check_spread(z, job.n, LAP(job.T), "batch");
	check_chi2(z, job.n, LAP(job.T));
	check_views(sh, z, job.n);
	check_cost_same(&mt[0], job.T, job.n);
	print_meter(&mt[0], job.n, "batch T=4");
	free_shares(sh);
	free(z);
}

/* (1) fixed point in Z_2^128: t = 0.75 at f = 3 is T = 6 units of 1/8 */
static void test_fixed(void **s) {
	(void)s;
	uint8_t *sh[MAXP];
	meter mt[MAXP];
	new_sample_job(MPC_Z128, 3000, 0, 0);
	job.t = 0.75;
	job.f = 3;
	double *z = sample(sh, mt);
	check_bound(z, job.n, 6.0);
	check_spread(z, job.n, LAP(6.0), "fixed Z_2^128");
	check_chi2(z, job.n, LAP(6.0));
	check_views(sh, z, job.n);
	check_cost_same(&mt[0], 6.0, job.n);
	print_meter(&mt[0], job.n, "fixed T=6");
	free_shares(sh);
	free(z);
}

/* (1) a large parameter: 16 digits, the high ones with tiny probabilities */
static void test_large_scale(void **s) {
	(void)s;
	uint8_t *sh[MAXP];
	meter mt[MAXP];
	new_sample_job(MPC_Z64, 5000, 1500.0, 0);
	double *z = sample(sh, mt);
	check_bound(z, job.n, job.T);
	check_spread(z, job.n, LAP(job.T), "T=1500");
	check_chi2(z, job.n, LAP(job.T));
	check_cost_same(&mt[0], job.T, job.n);
	print_meter(&mt[0], job.n, "T=1500");
	free_shares(sh);
	free(z);
}

/* 2 and 5 parties: the same mechanism */
static void test_parties(void **s) {
	(void)s;
	int ps[2] = {2, 5};
	for (int k = 0; k < 2; k++) {
		uint8_t *sh[MAXP];
		meter mt[MAXP];
		char what[32];
		new_sample_job(k ? MPC_Z128 : MPC_Z64, 1500, 3.0, ps[k]);
		double *z = sample(sh, mt);
		snprintf(what, sizeof(what), "%d parties", ps[k]);
		check_bound(z, job.n, job.T);
		check_spread(z, job.n, LAP(job.T), what);
		check_chi2(z, job.n, LAP(job.T));
		free_shares(sh);
		free(z);
	}
}

/* (1) the discrete Gaussian: sigma 2.5 (integers, Z_2^64) and sigma 0.6 (in
 * Z_2^128, where it is narrower than its parameter); (3) the views */
static void test_gauss(void **s) {
	(void)s;
	double sg[2] = {2.5, 0.6};
	size_t ns[2] = {1200, 1000};
	for (int k = 0; k < 2; k++) {
		uint8_t *sh[MAXP];
		meter mt[MAXP];
		char what[48];
		new_sample_job(k ? MPC_Z128 : MPC_Z64, ns[k], sg[k], 0);
		job.gauss = 1;
		double *z = sample(sh, mt);
		snprintf(what, sizeof(what), "Gaussian sigma %g", sg[k]);
		check_bound(z, job.n, job.T);
		check_spread(z, job.n, GAU(job.T), what);
		check_chi2(z, job.n, GAU(job.T));
		check_views(sh, z, job.n);
		check_cost_same(&mt[0], job.T, job.n);
		print_meter(&mt[0], job.n, what);
		free_shares(sh);
		free(z);
	}
}

/* One run: share job.x, add the noise of job.a, open. Every party must
 * open the same values, and no party's share of the noisy values may equal
 * them. d (n entries) gets released minus clear. */
static void release(double *d, meter *mt) {
	uint8_t *op[MAXP], *sh[MAXP];
	meter m[MAXP];
	size_t n = job.n;
	run(op, sh, m);
	for (int k = 1; k < NP; k++)
		assert_memory_equal(op[0], op[k], n * eb());
	for (size_t i = 0; i < n; i++) {
		d[i] = (double)(get_s(op[0], i) - job.x[i]);
		for (int k = 0; k < NP; k++)
			assert_true(get_u(sh[k], i) != get_u(op[0], i));
	}
	*mt = m[0];
	for (int k = 0; k < NP; k++) {
		free(op[k]);
		free(sh[k]);
	}
}

/* A bad parameter is refused by every party alike, before any message,
 * naming the sample. */
static void test_refuse(void **s) {
	(void)s;
	double bad[3] = {NAN, -1, 1e30};
	mpc_err want[3] = {MPC_EINVAL, MPC_EINVAL, MPC_ERANGE};
	for (int k = 0; k < 3; k++) {
		new_sample_job(MPC_Z64, 10, 4.0, 0);
		job.expect = want[k];
		job.Tbad = bad[k];
		run(NULL, NULL, NULL);
	}
	new_sample_job(MPC_Z64, 10, 2.0, 0);
	job.gauss = 1;
	job.expect = MPC_ERANGE;
	job.Tbad = 1e5; /* K > MPC_DP_GAUSS_MAX_K */
	run(NULL, NULL, NULL);
}

/* Rounds do not depend on the number of samples: with a dealer (one fetch
 * of bit triples, one of random bits) 100 and 6000 samples take the same
 * rounds, 6 AND layers + 1 conversion online. */
static void test_rounds(void **s) {
	(void)s;
	uint64_t rounds[2];
	size_t ns[2] = {100, 6000};
	for (int k = 0; k < 2; k++) {
		uint8_t *sh[MAXP];
		meter mt[MAXP];
		memset(&job, 0, sizeof(job));
		job.op = OP_SAMPLE;
		job.ring = MPC_Z64;
		job.n = ns[k];
		job.T = 100;
		job.dealer = 1;
		run(sh, NULL, mt);
		rounds[k] = mt[0].rounds;
		print_message(
		    "    dealer, T=100, %zu samples: %llu rounds, %.2f s (%.0f samples/s)\n", ns[k],
		    (unsigned long long)rounds[k], mt[0].seconds, (double)ns[k] / mt[0].seconds);
		for (int i = 0; i < NP; i++)
			free(sh[i]);
	}
	assert_true(rounds[0] == rounds[1]);
}

/* (2) 200 releases of a count at epsilon 0.5 over 5 separate runs (40
 * statistics each), then one run of 300 releases of three statistics whose
 * scales come from a budget split (one of them in fixed point). */
static void test_releases(void **s) {
	(void)s;
	mpc_dp_stat one = {"count", 1.0, 0, 0};
	mpc_dp_alloc a;
	meter mt;
	double d[300];
	assert_int_equal(mpc_dp_budget_split(MPC_DP_LAPLACE, 0.5, 0, &one, 1, &a), MPC_OK);
	assert_true(a.scale == 2.0 && a.units == 2.0);
	for (int r = 0; r < 5; r++) {
		memset(&job, 0, sizeof(job));
		job.op = OP_RELEASE;
		job.ring = MPC_Z64;
		job.n = 40;
		for (size_t i = 0; i < job.n; i++) {
			job.a[i] = a;
			job.x[i] = (int64_t)((r * 40 + i) * 7919 % 100000);
		}
		release(d + 40 * r, &mt);
	}
	check_spread(d, 200, LAP(a.units), "200 releases in 5 runs, eps 0.5");
	print_meter(&mt, 40, "one run of 40 releases");

	/* count (1), total of amounts in [0, 20] at 2 fractional bits (20),
	 * frauds (1), weights 2:1:1 of epsilon 3 */
	mpc_dp_stat st[3] = {{"count", 1, 2, 0}, {"total", 20, 1, 2}, {"frauds", 1, 1, 0}};
	mpc_dp_alloc al[3];
	assert_int_equal(mpc_dp_budget_split(MPC_DP_LAPLACE, 3.0, 0, st, 3, al), MPC_OK);
	memset(&job, 0, sizeof(job));
	job.op = OP_RELEASE;
	job.ring = MPC_Z128;
	job.n = 300;
	for (size_t i = 0; i < job.n; i++) {
		job.a[i] = al[i % 3];
		job.x[i] = (int64_t)(i * 104729 % 1000000) - 500000;
	}
	release(d, &mt);
	for (int k = 0; k < 3; k++) {
		double g[100];
		char what[64];
		for (int i = 0; i < 100; i++)
			g[i] = d[3 * i + k];
		snprintf(what, sizeof(what), "mixed releases: %s", st[k].name);
		check_spread(g, 100, LAP(al[k].units), what);
	}
	double Ts[300];
	for (int i = 0; i < 300; i++)
		Ts[i] = al[i % 3].units;
	check_cost(&mt, Ts, 300);
	print_meter(&mt, 300, "mixed run of 300 releases");

	/* both mechanisms in one call: 60 counts with Laplace (epsilon 1) and
	 * 60 with the Gaussian (epsilon 1, delta 10^-6), interleaved */
	mpc_dp_alloc lg[2];
	assert_int_equal(mpc_dp_budget_split(MPC_DP_LAPLACE, 1.0, 0, &one, 1, &lg[0]), MPC_OK);
	assert_int_equal(mpc_dp_budget_split(MPC_DP_GAUSSIAN, 1.0, 1e-6, &one, 1, &lg[1]), MPC_OK);
	memset(&job, 0, sizeof(job));
	job.op = OP_RELEASE;
	job.ring = MPC_Z64;
	job.n = 120;
	for (size_t i = 0; i < job.n; i++) {
		job.a[i] = lg[i % 2];
		job.x[i] = (int64_t)(i * 31337 % 5000);
	}
	release(d, &mt);
	for (int k = 0; k < 2; k++) {
		double g[60];
		for (int i = 0; i < 60; i++)
			g[i] = d[2 * i + k];
		check_spread(g, 60, k ? GAU(lg[1].units) : LAP(lg[0].units),
		             k ? "Gaussian releases" : "Laplace releases");
	}
	print_meter(&mt, 120, "run of 60 Laplace + 60 Gaussian releases");
}

/* (4) the split: numbers, errors, printing; the sampler's parameters */
static void test_budget(void **s) {
	(void)s;
	char line[MPC_DP_LINE_MAX];
	mpc_dp_stat st[3] = {{"count", 1, 0, 0}, {"total", 1000, 0, 16}, {"frauds", 1, 0, 0}};
	mpc_dp_alloc a[3];
	mpc_dp_mech mech;
	unsigned L;
	double tv;

	assert_int_equal(mpc_dp_budget_split(MPC_DP_LAPLACE, 1.5, 0, st, 3, a), MPC_OK);
	for (int i = 0; i < 3; i++) {
		assert_true(fabs(a[i].epsilon - 0.5) < 1e-15);
		assert_true(fabs(a[i].scale - st[i].sensitivity / 0.5) < 1e-9);
		assert_true(fabs(a[i].units - ldexp(a[i].scale, (int)st[i].frac)) < 1e-6);
		assert_true(fabs(a[i].stddev - ldexp(mpc_dp_laplace_stddev(a[i].units),
		                                     -(int)st[i].frac)) < 1e-9 * a[i].stddev);
		assert_true(a[i].tv_bound < ldexp(1, -40));
		int len = mpc_dp_format(&st[i], &a[i], line, sizeof(line));
		assert_true(len > 0 && (size_t)len < sizeof(line));
		print_message("    %s\n", line);
		assert_non_null(strstr(line, st[i].name));
		assert_non_null(strstr(line, "epsilon 0.5"));
	}
	assert_non_null(strstr(line, "scale t 2 "));
	/* the scale of a large-T statistic is close to its stddev / sqrt 2 */
	assert_true(fabs(a[1].stddev / (sqrt(2) * a[1].scale) - 1) < 1e-3);
	/* weights */
	st[0].weight = 3;
	st[1].weight = 1;
	st[2].weight = 0; /* counts as 1 */
	assert_int_equal(mpc_dp_budget_split(MPC_DP_LAPLACE, 1.0, 0, st, 3, a), MPC_OK);
	assert_true(fabs(a[0].epsilon - 0.6) < 1e-12 && fabs(a[1].epsilon - 0.2) < 1e-12 &&
	            fabs(a[2].epsilon - 0.2) < 1e-12);
	assert_true(fabs(a[0].epsilon + a[1].epsilon + a[2].epsilon - 1.0) < 1e-12);
	mpc_dp_format(&st[0], &a[0], line, sizeof(line));
	assert_non_null(strstr(line, "epsilon 0.6"));

	/* refusals, with the reason and the statistic's name */
	double bad_eps[] = {0, -1, NAN, INFINITY};
	for (int i = 0; i < 4; i++) {
		assert_int_equal(mpc_dp_budget_split(MPC_DP_LAPLACE, bad_eps[i], 0, st, 3, a),
		                 MPC_ECONFIG);
		assert_non_null(strstr(mpc_error_detail(), "epsilon"));
	}
	double bad_sens[] = {0, -2, NAN, INFINITY};
	for (int i = 0; i < 4; i++) {
		st[1].sensitivity = bad_sens[i];
		assert_int_equal(mpc_dp_budget_split(MPC_DP_LAPLACE, 1.0, 0, st, 3, a),
		                 MPC_ECONFIG);
		assert_non_null(strstr(mpc_error_detail(), "sensitivity"));
		assert_non_null(strstr(mpc_error_detail(), "total"));
	}
	st[1].sensitivity = 1000;
	st[2].weight = -1;
	assert_int_equal(mpc_dp_budget_split(MPC_DP_LAPLACE, 1.0, 0, st, 3, a), MPC_ECONFIG);
	assert_non_null(strstr(mpc_error_detail(), "weight"));
	st[2].weight = NAN;
	assert_int_equal(mpc_dp_budget_split(MPC_DP_LAPLACE, 1.0, 0, st, 3, a), MPC_ECONFIG);
	st[2].weight = 0;
	assert_int_equal(mpc_dp_budget_split(MPC_DP_LAPLACE, 1.0, 0, st, 0, a), MPC_ECONFIG);
	/* a scale the sampler cannot take */
	assert_int_equal(mpc_dp_budget_split(MPC_DP_LAPLACE, 1e-12, 0, st, 3, a), MPC_ECONFIG);
	assert_non_null(strstr(mpc_error_detail(), "range"));
	assert_int_equal(mpc_dp_budget_split(MPC_DP_LAPLACE, 1.0, 0, st, 3, a), MPC_OK);

	/* mechanisms */
	assert_int_equal(mpc_dp_mech_parse("laplace", &mech), MPC_OK);
	assert_int_equal(mech, MPC_DP_LAPLACE);
	assert_int_equal(mpc_dp_mech_parse("gaussian", &mech), MPC_OK);
	assert_int_equal(mech, MPC_DP_GAUSSIAN);
	assert_int_equal(mpc_dp_mech_parse("discrete_laplace", &mech), MPC_OK);
	assert_int_equal(mech, MPC_DP_LAPLACE);
	assert_int_equal(mpc_dp_mech_parse("uniform", &mech), MPC_ECONFIG);

	/* the Gaussian: zCDP split, sigma = D / sqrt(2 rho), rho + 2 sqrt(rho
	 * ln(1/delta)) = epsilon in total */
	st[0].weight = 2;
	st[1].weight = 1;
	st[2].weight = 1;
	st[1].frac = 0;
	st[1].sensitivity = 5;
	assert_int_equal(mpc_dp_budget_split(MPC_DP_GAUSSIAN, 2.0, 1e-6, st, 3, a), MPC_OK);
	double rho = a[0].rho + a[1].rho + a[2].rho, lnd = log(1e6);
	assert_true(fabs(rho + 2 * sqrt(rho * lnd) - 2.0) < 1e-9);
	assert_true(fabs(a[0].rho - rho / 2) < 1e-12 && fabs(a[1].rho - rho / 4) < 1e-12);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(a[i].mech, MPC_DP_GAUSSIAN);
		assert_true(fabs(a[i].scale - st[i].sensitivity / sqrt(2 * a[i].rho)) < 1e-9);
		assert_true(fabs(a[i].epsilon - (a[i].rho + 2 * sqrt(a[i].rho * lnd))) < 1e-12);
		assert_true(a[i].delta == 1e-6);
		assert_true(fabs(a[i].stddev - mpc_dp_gauss_stddev(a[i].units)) < 1e-9);
		assert_true(a[i].tv_bound < ldexp(1, -40));
		mpc_dp_format(&st[i], &a[i], line, sizeof(line));
		print_message("    %s\n", line);
		assert_non_null(strstr(line, "rho"));
		assert_non_null(strstr(line, "sigma"));
		assert_non_null(strstr(line, st[i].name));
	}
	double bad_delta[] = {0, 1, -1e-6, NAN};
	for (int i = 0; i < 4; i++) {
		assert_int_equal(mpc_dp_budget_split(MPC_DP_GAUSSIAN, 1.0, bad_delta[i], st, 3, a),
		                 MPC_ECONFIG);
		assert_non_null(strstr(mpc_error_detail(), "delta"));
	}
	assert_int_equal(mpc_dp_budget_split(MPC_DP_LAPLACE, 1.0, 1e-6, st, 3, a), MPC_ECONFIG);
	assert_non_null(strstr(mpc_error_detail(), "delta"));
	assert_int_equal(mpc_dp_budget_split((mpc_dp_mech)7, 1.0, 0, st, 3, a), MPC_ECONFIG);
	/* a fixed-point total with the Gaussian is out of range (K > 8192) */
	st[1].frac = 16;
	assert_int_equal(mpc_dp_budget_split(MPC_DP_GAUSSIAN, 1.0, 1e-6, st, 3, a), MPC_ECONFIG);
	assert_non_null(strstr(mpc_error_detail(), "range"));
	st[1].frac = 0;
	/* K: the smallest with P(|Z| > K) <= 2^-44; stddev ~ sigma for sigma >= 2 */
	double sgs[] = {0.01, 0.6, 1, 2.5, 10, 100, 1000};
	for (int i = 0; i < 7; i++) {
		unsigned K;
		assert_int_equal(mpc_dp_gauss_info(sgs[i], &K, &tv), MPC_OK);
		assert_true(tv < ldexp(1, -40));
		assert_true(K >= 1 && K <= MPC_DP_GAUSS_MAX_K);
		assert_true(K == 1 || (double)K >= 7.0 * sgs[i] - 1); /* sqrt(2 ln 2^44) = 7.8 */
		assert_true((double)K <= 8.0 * sgs[i] + 2);
		if (sgs[i] >= 2)
			assert_true(fabs(mpc_dp_gauss_stddev(sgs[i]) / sgs[i] - 1) < 1e-6);
	}
	assert_true(mpc_dp_gauss_stddev(0.6) < 0.6);
	assert_int_equal(mpc_dp_gauss_info(0, &L, &tv), MPC_EINVAL);
	assert_int_equal(mpc_dp_gauss_info(NAN, &L, &tv), MPC_EINVAL);
	assert_int_equal(mpc_dp_gauss_info(5000, &L, &tv), MPC_ERANGE);

	/* digits and deviation: 2^L >= 44 ln2 T, and the bound < 2^-40 */
	double Ts[] = {1e-3, 0.5, 1, 4, 6, 100, 65536e3, 1e12};
	for (int i = 0; i < 8; i++) {
		assert_int_equal(mpc_dp_laplace_info(Ts[i], &L, &tv), MPC_OK);
		assert_true(ldexp(1, (int)L) >= 44 * log(2) * Ts[i]);
		assert_true(L == 1 || ldexp(1, (int)L - 1) < 44 * log(2) * Ts[i]);
		assert_true(tv < ldexp(1, -40));
	}
	assert_int_equal(mpc_dp_laplace_info(4, &L, NULL), MPC_OK);
	assert_int_equal(L, 7);
	assert_int_equal(mpc_dp_laplace_info(0, &L, &tv), MPC_EINVAL);
	assert_int_equal(mpc_dp_laplace_info(-1, &L, &tv), MPC_EINVAL);
	assert_int_equal(mpc_dp_laplace_info(NAN, &L, &tv), MPC_EINVAL);
	assert_int_equal(mpc_dp_laplace_info(1e20, &L, &tv), MPC_ERANGE);

	/* cost: at most 88 AND planes per digit and instance, 2L bits per sample */
	uint64_t words, bits;
	double T4[100];
	for (int i = 0; i < 100; i++)
		T4[i] = 4;
	assert_int_equal(mpc_dp_laplace_cost(T4, 100, &words, &bits), 0);
	assert_true(bits == 2 * 7 * 100);
	assert_true(words > 0 && words <= 7 * 88 * 4); /* 200 instances: 4 words a plane */
	T4[50] = -1;
	assert_int_equal(mpc_dp_laplace_cost(T4, 100, &words, &bits), -1);
}

int main(void) {
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_budget),   cmocka_unit_test(test_batch),
	    cmocka_unit_test(test_fixed),    cmocka_unit_test(test_large_scale),
	    cmocka_unit_test(test_parties),  cmocka_unit_test(test_gauss),
	    cmocka_unit_test(test_releases), cmocka_unit_test(test_rounds),
	    cmocka_unit_test(test_refuse),
	};
	if (getenv("MPC_TEST_FILTER"))
		cmocka_set_test_filter(getenv("MPC_TEST_FILTER"));
	return cmocka_run_group_tests_name("dp", tests, NULL, NULL);
}
