/* fed_avg: federated training of a logistic-regression fraud model with
 * secure aggregation. Each merchant is a forked party on loopback TCP (TLS
 * with --tls); it trains on its own DIR/merchant<i>.csv only, and the
 * merchants average their weight vectors through the runtime, round after
 * round, opening only the average. At the end each merchant compares, on
 * held-out data, the model it could have trained alone with the shared one.
 * How it works and what it reveals: fedavg.h. */
#include "examples/fedavg.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: fed_avg [--data DIR] [--merchants N] [--holdout FILE] [--rounds R]\n"
		"               [--epochs E] [--lr ETA] [--l2 LAMBDA] [--batch B] [--noise SIGMA]\n"
		"               [--weighted] [--frac F] [--tls] [--model FILE] [--reference]\n"
		"Merchant i trains on DIR/merchant<i>.csv (gen_data's columns) and the\n"
		"merchants average their models by secure aggregation; only the average is\n"
		"opened. Options:\n"
		"  --data DIR      the merchants' files (default examples/data)\n"
		"  --merchants N   how many (default: every DIR/merchant<i>.csv, 2..%d)\n"
		"  --holdout FILE  held-out rows to compare models on (default DIR/holdout.csv;\n"
		"                  make it with gen_data --holdout)\n"
		"  --rounds R      averaging rounds (default 10)\n"
		"  --epochs E      local epochs per round (default 2); the local-only model\n"
		"                  gets R*E epochs\n"
		"  --lr ETA, --l2 LAMBDA, --batch B   gradient descent (default 0.1, 0.001, 32)\n"
		"  --noise SIGMA   each merchant adds N(0, SIGMA^2) to every weight it shares\n"
		"                  (local noise; default 0)\n"
		"  --weighted      average weighted by row counts (also opens the total count)\n"
		"  --frac F        fixed-point fractional bits in Z_2^128 (default 32)\n"
		"  --tls           TLS 1.3 on every link (ephemeral pinned keys)\n"
		"  --model FILE    write the shared model as CSV (input,weight)\n"
		"  --reference     also train one model in the clear on the union of the files\n"
		"                  (what pooling all data would give; the merchants never do it)\n",
		FA_MAX_PARTIES);
}

static void print_metrics(const fa_metrics *a, const fa_metrics *b)
{
	printf("  %6.4f %8.4f %8.4f  | %6.4f %8.4f %8.4f\n", a->auc, a->logloss, a->accuracy,
	       b->auc, b->logloss, b->accuracy);
}

static int write_model(const char *path, const double *w, size_t d, int F)
{
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *fp = fopen(tmp, "w");
	if (fp == NULL)
		return -1;
	fprintf(fp, "input,weight\nintercept,%.10g\n", w[0]);
	for (int j = 0; j < F; j++)
		fprintf(fp, "f%d,%.10g\n", j, w[1 + j]);
	fprintf(fp, "log_amount,%.10g\nnight,%.10g\n", w[1 + F], w[2 + F]);
	for (size_t c = 0; c < SYNTH_N_CATS && 3 + (size_t)F + c < d; c++)
		fprintf(fp, "category_%s,%.10g\n", synth_cats[c].name, w[3 + (size_t)F + c]);
	int bad = ferror(fp);
	if (fclose(fp) != 0 || bad || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* The union of the files in the clear, trained for the same epochs. */
static int clear_reference(const fa_params *fp, int N)
{
	fa_data D[FA_MAX_PARTIES], U = {0}, H = {0};
	double *w = NULL;
	int rc = -1, got = 0;
	mpc_err err = MPC_OK;
	memset(D, 0, sizeof(D));
	for (; got < N && err == MPC_OK; got++) {
		char path[4200];
		snprintf(path, sizeof(path), "%s/merchant%d.csv", fp->dir, got);
		err = fa_data_read(path, &D[got]);
	}
	if (err == MPC_OK && (err = fa_data_concat(D, N, &U)) == MPC_OK &&
	    (err = fa_data_read(fp->holdout, &H)) == MPC_OK) {
		if ((w = calloc(U.d, sizeof(double))) == NULL)
			err = mpc_error(MPC_ENOMEM, "out of memory");
		else if ((err = fa_train(&U, w, fp, fp->rounds * fp->epochs, 7)) == MPC_OK) {
			fa_metrics m = fa_eval(&H, w, -1);
			printf("reference, in the clear on the union of the files (%zu rows): AUC "
			       "%.4f, log-loss %.4f, accuracy %.4f\n",
			       U.n, m.auc, m.logloss, m.accuracy);
			rc = 0;
		}
	}
	if (err != MPC_OK)
		fprintf(stderr, "fed_avg: reference: %s\n", mpc_error_detail());
	free(w);
	for (int i = 0; i < got; i++)
		fa_data_fini(&D[i]);
	fa_data_fini(&U);
	fa_data_fini(&H);
	return rc;
}

int main(int argc, char **argv)
{
	fa_params fp;
	mpc_local_config cfg = {.use_tcp = 1, .timeout_ms = 120000, .watchdog_s = 3600};
	mpc_local_result res[FA_MAX_PARTIES + 1];
	const char *model = NULL;
	char holdout[4200];
	int N = 0, code = 0, reference = 0;

	fa_params_default(&fp);
	holdout[0] = '\0';
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end = NULL;
		if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(o, "--weighted") == 0) {
			fp.weighted = 1;
			continue;
		}
		if (strcmp(o, "--reference") == 0) {
			reference = 1;
			continue;
		}
		if (strcmp(o, "--tls") == 0) {
			cfg.use_tls = 1;
			continue;
		}
		if (v == NULL) {
			fprintf(stderr, "fed_avg: unknown option or missing value '%s' (see --help)\n", o);
			return 2;
		}
		i++;
		if (strcmp(o, "--data") == 0)
			fp.dir = v;
		else if (strcmp(o, "--holdout") == 0)
			snprintf(holdout, sizeof(holdout), "%s", v);
		else if (strcmp(o, "--model") == 0)
			model = v;
		else if (strcmp(o, "--merchants") == 0)
			N = (int)strtol(v, &end, 10);
		else if (strcmp(o, "--rounds") == 0)
			fp.rounds = (int)strtol(v, &end, 10);
		else if (strcmp(o, "--epochs") == 0)
			fp.epochs = (int)strtol(v, &end, 10);
		else if (strcmp(o, "--lr") == 0)
			fp.lr = strtod(v, &end);
		else if (strcmp(o, "--l2") == 0)
			fp.l2 = strtod(v, &end);
		else if (strcmp(o, "--batch") == 0)
			fp.batch = (size_t)strtoul(v, &end, 10);
		else if (strcmp(o, "--noise") == 0)
			fp.noise = strtod(v, &end);
		else if (strcmp(o, "--frac") == 0)
			fp.frac = (unsigned)strtoul(v, &end, 10);
		else {
			fprintf(stderr, "fed_avg: unknown option '%s' (see --help)\n", o);
			return 2;
		}
		if (end && (*end != '\0' || end == v)) {
			fprintf(stderr, "fed_avg: %s: expected a number\n", o);
			return 2;
		}
	}
	if (fp.rounds < 1 || fp.rounds > 100000 || fp.epochs < 0 || fp.epochs > 100000 ||
	    fp.batch < 1 || !(fp.lr > 0) || !(fp.l2 >= 0) || !(fp.noise >= 0) ||
	    fp.frac > 64) {
		fprintf(stderr, "fed_avg: need rounds >= 1, epochs >= 0, batch >= 1, lr > 0, "
				"l2 >= 0, noise >= 0, frac <= 64\n");
		return 2;
	}
	if (N == 0) /* every merchant file there is */
		for (char path[4200];; N++) {
			snprintf(path, sizeof(path), "%s/merchant%d.csv", fp.dir, N);
			if (access(path, R_OK) != 0 || N == FA_MAX_PARTIES)
				break;
		}
	if (N < 2 || N > FA_MAX_PARTIES) {
		fprintf(stderr, "fed_avg: need 2..%d merchants (%s/merchant0.csv, ...; make them "
				"with gen_data)\n", FA_MAX_PARTIES, fp.dir);
		return 2;
	}
	if (holdout[0] == '\0')
		snprintf(holdout, sizeof(holdout), "%s/holdout.csv", fp.dir);
	if (access(holdout, R_OK) != 0) {
		fprintf(stderr, "fed_avg: %s: %s (make it with gen_data --holdout ROWS)\n", holdout,
			strerror(errno));
		return 2;
	}
	fp.holdout = holdout;
	cfg.n_parties = N;

	printf("federated averaging: %d merchants, %d rounds of %d local epochs, secure sum in "
	       "Z_2^128 (%u fractional bits)%s%s\n",
	       N, fp.rounds, fp.epochs, fp.frac, fp.weighted ? ", weighted by row counts" : "",
	       cfg.use_tls ? ", TLS 1.3" : "");
	if (fp.noise > 0)
		printf("each merchant adds its own Gaussian noise (sigma %g) to the weights it "
		       "shares\n", fp.noise);
	printf("each merchant trains on its own file; opened: only the averaged model after "
	       "each round%s\n", fp.weighted ? " and the total row count" : "");
	fflush(stdout);

	mpc_err err = mpc_local_run(&cfg, fa_party, &fp, res);
	if (err != MPC_OK) {
		fprintf(stderr, "fed_avg: %s: %s\n", mpc_strerror(err), mpc_error_detail());
		return 1;
	}
	fa_report rep[FA_MAX_PARTIES];
	for (int i = 0; i < N; i++) {
		if (res[i].err != MPC_OK || res[i].out_len < sizeof(fa_report)) {
			fprintf(stderr, "fed_avg: merchant %d: %s: %s\n", i, mpc_strerror(res[i].err),
				res[i].detail);
			code = 1;
			continue;
		}
		memcpy(&rep[i], res[i].out + res[i].out_len - sizeof(fa_report), sizeof(fa_report));
	}
	if (code != 0)
		goto out;
	size_t d = (size_t)rep[0].d;
	int F = (int)(d - FA_EXTRA);
	printf("held-out: %s (%lld rows from every merchant's customers)\n", holdout,
	       (long long)rep[0].local_all.n);
	printf("\n(each merchant's line is what it sees at home: the others learn neither its "
	       "rows nor its model)\n");
	printf("on the whole held-out set   | local-only model          | shared model\n");
	printf("merchant   rows  fraud rate | AUC    log-loss accuracy  | AUC    log-loss "
	       "accuracy\n");
	for (int i = 0; i < N; i++) {
		printf("%8d %6lld %11.4f", i, (long long)rep[i].rows,
		       rep[i].rows ? (double)rep[i].frauds / (double)rep[i].rows : 0.0);
		print_metrics(&rep[i].local_all, &rep[i].shared_all);
	}
	printf("on its own customers (the held-out rows from that merchant)\n");
	for (int i = 0; i < N; i++) {
		printf("%8d %6lld %11s", i, (long long)rep[i].local_own.n, "");
		print_metrics(&rep[i].local_own, &rep[i].shared_own);
	}
	if (reference && clear_reference(&fp, N) != 0)
		code = 1;
	printf("network: %llu bytes sent by merchant 0 in %llu rounds\n",
	       (unsigned long long)res[0].bytes_sent, (unsigned long long)res[0].rounds);
	if (model) {
		const double *w = (const double *)(res[0].out + res[0].out_len - sizeof(fa_report) -
						   d * sizeof(double));
		double *wc = malloc(d * sizeof(double));
		if (wc == NULL || (memcpy(wc, w, d * sizeof(double)), write_model(model, wc, d, F)) != 0) {
			fprintf(stderr, "fed_avg: cannot write %s\n", model);
			code = 1;
		} else
			printf("shared model written to %s\n", model);
		free(wc);
	}
out:
	mpc_local_results_fini(res, N);
	return code;
}
