/* aggregate_stats: merchants compute the joint count, total, mean and
 * variance of their transaction amounts and the joint fraud rate, without
 * showing each other their transactions.
 *
 * Each merchant sums its own rows locally (n_i, frauds_i, A_i = sum of
 * amounts, Q_i = sum of squared amounts, in fixed point as exact integers),
 * secret-shares those four numbers, and the parties add the shares. The
 * variance's numerator n*Q - A^2 is computed on shares with Beaver
 * multiplication, exactly (integers in Z_2^128, no rounding), so Q itself is
 * never opened. Opened: n, frauds, A and n*Q - A^2; these are exactly what the
 * outputs (count, total, mean, variance, fraud rate) determine, so opening
 * them reveals nothing beyond the outputs. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/mpc_peer.h"
#include "protocols/mpc_beaver.h"
#include "protocols/mpc_dealer.h"
#include "protocols/mpc_share.h"
#include "runtime/mpc_csv.h"
#include "runtime/mpc_fixed.h"
#include "runtime/mpc_wipe.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: aggregate_stats --party I --nodes A0,A1,... --session JOB --input FILE.csv "
		"[options]\n\n"
		"Joint count, total, mean, variance of amounts and fraud rate over every "
		"party's\ntransactions (CSV with columns amount,fraud,category).\n\noptions:\n%s"
		"  --input FILE           this party's transactions\n"
		"  --output FILE          write the results as CSV (statistic,value), atomically\n"
		"  --frac F               fixed-point fractional bits (default 16)\n"
		"  --max-amount A         largest |amount| allowed (default 1000000)\n"
		"  --max-rows R           most rows a party may have (default 1000000)\n",
		mpc_peer_usage);
}

typedef struct {
	const char *input, *output;
	unsigned frac;
	double max_amount, max_rows;
} opts;

/* Local sums in Z_2^128: count, frauds, sum of encoded amounts, sum of squares. */
static mpc_err local_sums(const mpc_txns *t, const opts *op, mpc_u128 out[4])
{
	mpc_u128 enc;
	mpc_err err = MPC_OK;

	memset(out, 0, 4 * sizeof(mpc_u128));
	out[0] = t->n;
	for (size_t i = 0; i < t->n && err == MPC_OK; i++) {
		/* the bound was checked on reading; encode refuses anything else */
		err = mpc_fixed_encode(MPC_Z128, op->frac, op->max_amount * (1 + 1e-12) + 1,
				       &t->amount[i], &enc, 1);
		out[1] += t->fraud[i];
		out[2] += enc;
		out[3] += enc * enc;
	}
	return err;
}

/* The public bounds must keep n*Q - A^2 inside Z_2^128 as a signed number. */
static mpc_err check_bounds(const opts *op, int np)
{
	long double a = (long double)np * op->max_rows * op->max_amount * ldexpl(1, (int)op->frac);
	if (!(a < ldexpl(1, 62)))
		return mpc_error(MPC_ERANGE, "%d parties x %.0f rows x amounts up to %g with %u "
				 "fractional bits overflow Z_2^128 in the variance; lower "
				 "--max-rows, --max-amount or --frac", np, op->max_rows,
				 op->max_amount, op->frac);
	return MPC_OK;
}

static double ring_to_double(mpc_u128 v, int frac_bits)
{
	return ldexp((double)(long double)(mpc_i128)v, -frac_bits);
}

/* Write the results through a temporary file and rename(2): no half file. */
static mpc_err write_output(const char *path, const double *val, const char *const *name, int k)
{
	char tmp[4096];
	FILE *fp;
	int ok;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return mpc_error(MPC_EIO, "%s: path too long", path);
	if ((fp = fopen(tmp, "w")) == NULL)
		return mpc_error(MPC_EIO, "%s: cannot create: %s", tmp, strerror(errno));
	ok = fprintf(fp, "statistic,value\n") > 0;
	for (int i = 0; i < k; i++)
		ok = ok && fprintf(fp, "%s,%.17g\n", name[i], val[i]) > 0;
	ok = (fflush(fp) == 0) & ok & (fsync(fileno(fp)) == 0);
	ok = (fclose(fp) == 0) & ok;
	if (!ok || rename(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		return mpc_error(MPC_EIO, "%s: cannot write: %s", path, strerror(e));
	}
	return MPC_OK;
}

static mpc_err run(mpc_party *p, const opts *op, const mpc_txns *t, double res[6])
{
	int np = mpc_party_size(p);
	mpc_u128 mine[4], sum[4] = {0}, share[4], x[2], y[2], z[2], open[4];
	mpc_err err;

	if ((err = local_sums(t, op, mine)) != MPC_OK)
		return err;
	/* every party's four sums, shared without sending anything */
	for (int owner = 0; owner < np; owner++) {
		err = mpc_input(p, owner, MPC_Z128, owner == mpc_party_id(p) ? mine : NULL, share, 4);
		if (err != MPC_OK)
			goto out;
		mpc_share_add(MPC_Z128, sum, sum, share, 4);
	}
	/* [n*Q, A*A] in one round */
	x[0] = sum[0], y[0] = sum[3];
	x[1] = sum[2], y[1] = sum[2];
	if ((err = mpc_beaver_mul(p, MPC_Z128, x, y, z, 2)) != MPC_OK)
		goto out;
	open[0] = sum[0];
	open[1] = sum[1];
	open[2] = sum[2];
	open[3] = z[0] - z[1];
	if ((err = mpc_open(p, MPC_Z128, open, open, 4)) != MPC_OK)
		goto out;
	double n = (double)open[0];
	if (open[0] == 0 || open[0] > (mpc_u128)(np * op->max_rows)) {
		err = mpc_error(MPC_ECHEAT, "the joint count %.0f is impossible", n);
		goto out;
	}
	res[0] = n;
	res[1] = ring_to_double(open[2], (int)op->frac);
	res[2] = res[1] / n;
	res[3] = ring_to_double(open[3], 2 * (int)op->frac) / (n * n);
	res[4] = sqrt(res[3] > 0 ? res[3] : 0);
	res[5] = (double)open[1] / n;
out:
	mpc_wipe(mine, sizeof(mine));
	mpc_wipe(sum, sizeof(sum));
	mpc_wipe(share, sizeof(share));
	mpc_wipe(x, sizeof(x));
	mpc_wipe(y, sizeof(y));
	mpc_wipe(z, sizeof(z));
	return err;
}

int main(int argc, char **argv)
{
	static const char *const names[6] = {"count", "total", "mean", "variance", "stddev",
					     "fraud_rate"};
	opts op = {.frac = MPC_FIXED_DEFAULT_FRAC, .max_amount = 1e6, .max_rows = 1e6};
	mpc_peer_opts o;
	mpc_txns t = {0};
	mpc_net *net = NULL;
	mpc_party *p = NULL;
	double res[6];
	mpc_err err;
	int code = 0;

	mpc_peer_opts_init(&o);
	for (int i = 1; i < argc; i++) {
		int r = mpc_peer_opt(&o, argc, argv, &i);
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (r < 0)
			return MPC_EXIT_USAGE;
		if (r > 0)
			continue;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		}
		char *end = NULL;
		if (strcmp(argv[i], "--input") == 0 && v)
			op.input = v;
		else if (strcmp(argv[i], "--output") == 0 && v)
			op.output = v;
		else if (strcmp(argv[i], "--frac") == 0 && v)
			op.frac = (unsigned)strtoul(v, &end, 10);
		else if (strcmp(argv[i], "--max-amount") == 0 && v)
			op.max_amount = strtod(v, &end);
		else if (strcmp(argv[i], "--max-rows") == 0 && v)
			op.max_rows = strtod(v, &end);
		else {
			fprintf(stderr, "aggregate_stats: unknown option or missing value '%s' "
					"(see --help)\n", argv[i]);
			return MPC_EXIT_USAGE;
		}
		if (end && *end != '\0') {
			fprintf(stderr, "aggregate_stats: %s: expected a number\n", argv[i]);
			return MPC_EXIT_USAGE;
		}
		i++;
	}
	char who[32];
	snprintf(who, sizeof(who), "party %d", o.id);
	mpc_log_init(who, o.level, NULL);
	err = mpc_peer_opts_finish(&o, "party");
	if (err == MPC_OK && op.input == NULL)
		err = mpc_error(MPC_ECONFIG, "--input is required");
	if (err == MPC_OK && (op.frac > 40 || !(op.max_amount > 0) || !(op.max_rows >= 1)))
		err = mpc_error(MPC_ECONFIG, "--frac must be 0..40, --max-amount and --max-rows "
				"positive");
	if (err == MPC_OK)
		err = check_bounds(&op, o.parsed.n_parties);
	if (err != MPC_OK) {
		fprintf(stderr, "aggregate_stats: %s\n", mpc_error_detail());
		code = MPC_EXIT_USAGE;
		goto out;
	}
	/* all input is checked before the first byte moves */
	if ((err = mpc_txns_read(op.input, op.max_amount, &t)) != MPC_OK ||
	    (t.n > op.max_rows && (err = mpc_error(MPC_ERANGE, "%s: %zu rows, more than "
						   "--max-rows %.0f", op.input, t.n,
						   op.max_rows)) != MPC_OK)) {
		code = mpc_peer_fail(NULL, err, "reading input");
		goto out;
	}
	mpc_info("read %zu transactions from %s", t.n, op.input);
	if ((err = mpc_peer_open(&o, &net)) != MPC_OK) {
		code = mpc_peer_fail(NULL, err, "connecting");
		net = NULL;
		goto out;
	}
	if ((err = mpc_party_new(&p, net, o.parsed.n_parties)) != MPC_OK ||
	    (o.parsed.dealer >= 0 && (err = mpc_dealer_connect(p, o.parsed.dealer)) != MPC_OK)) {
		code = mpc_peer_fail(net, err, "setting up");
		net = NULL;
		goto out;
	}
	if (o.parsed.dealer < 0) {
		code = mpc_peer_fail(net, mpc_error(MPC_ECONFIG, "no preprocessing: give a dealer "
						     "(--dealer)"), "setting up");
		net = NULL;
		goto out;
	}
	if ((err = run(p, &op, &t, res)) != MPC_OK) {
		code = mpc_peer_fail(net, err, "computing");
		net = NULL;
		goto out;
	}
	printf("joint statistics over %d merchants (party %d)\n", o.parsed.n_parties, o.id);
	for (int i = 0; i < 6; i++)
		printf("  %-11s %.6f\n", names[i], res[i]);
	fflush(stdout);
	if (op.output && (err = write_output(op.output, res, names, 6)) != MPC_OK) {
		code = mpc_peer_fail(NULL, err, "writing output");
		goto out;
	}
out:
	mpc_party_free(p);
	if (net)
		mpc_net_close(net);
	mpc_txns_fini(&t);
	mpc_peer_opts_fini(&o);
	return code;
}
