/* clear_stats: the demo's reference. Computes the same statistics as
 * aggregate_stats in the clear from the union of the CSV files, and with
 * --compare checks an aggregate_stats output against them within the
 * fixed-point tolerance. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/mpc_csv.h"

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

int main(int argc, char **argv)
{
	const char *compare = NULL;
	unsigned frac = 16;
	long double n = 0, fraud = 0, s1 = 0, s2 = 0;
	double maxdev = 0, lo = INFINITY, hi = -INFINITY;
	int nfiles = 0;

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
