/* fed_avg: federated training of a logistic-regression fraud model with
 * secure aggregation. Each merchant is a forked party on loopback TCP (TLS
 * with --tls); it trains on its own DIR/merchant<i>.csv only, and the
 * merchants average their weight vectors through the runtime, round after
 * round, opening only the average. At the end each merchant compares, on
 * held-out data, the model it could have trained alone with the shared one.
 * How it works and what it reveals: protocols/apps/mpc_fedavg.h; the files:
 * jobs/mpc_fedavg_data.h. The parties run under the test library's fork
 * harness (tests/support/mpc_local.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobs/mpc_fedavg_data.h"
#include "protocols/apps/mpc_fedavg.h"
#include "tests/support/mpc_local.h"

/* The job, public and the same at every party. */
typedef struct {
	mpc_fedavg_params train;
	const char *dir;     /* DIR/merchant<i>.csv is party i's file */
	const char *holdout; /* held-out file every party evaluates on */
} fa_job;

/* The party body for mpc_local_run (arg: a const fa_job *): reads its files,
 * trains, and emits the shared model (d doubles) and its report. */
static mpc_err fa_party(mpc_party *p, void *arg) {
	const fa_job *job = arg;
	mpc_fedavg_data D, H;
	mpc_fedavg_report rep;
	double *w = NULL;
	mpc_err err;

	if ((err = mpc_fedavg_data_load(job->dir, mpc_party_id(p), job->holdout, &D, &H)) != MPC_OK)
		goto out;
	if ((w = calloc(D.d + 1, sizeof(double))) == NULL) {
		err = mpc_error(MPC_ENOMEM, "party %d: out of memory", mpc_party_id(p));
		goto out;
	}
	if ((err = mpc_fedavg_run(p, &job->train, &D, job->holdout ? &H : NULL, NULL, NULL, w,
	                          &rep)) != MPC_OK)
		goto out;
	if ((err = mpc_local_emit(w, D.d * sizeof(double))) == MPC_OK)
		err = mpc_local_emit(&rep, sizeof(rep));
out:
	free(w);
	mpc_fedavg_data_fini(&D);
	mpc_fedavg_data_fini(&H);
	return err;
}

static void usage(FILE *out) {
	fprintf(out,
	        "usage: fed_avg [--data DIR] [--merchants N] [--holdout FILE] [--rounds R]\n"
	        "               [--epochs E] [--lr ETA] [--l2 LAMBDA] [--batch B] [--noise SIGMA]\n"
	        "               [--weighted] [--frac F] [--tls] [--model FILE] [--reference]\n"
	        "       fed_avg --eval MODEL [--holdout FILE | --data DIR]\n"
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
	        "                  (what pooling all data would give; the merchants never do it)\n"
	        "  --eval MODEL    no training: AUC, log-loss and accuracy of the model file\n"
	        "                  MODEL (this --model's or mpc-party fed_train's --output) on\n"
	        "                  the held-out rows\n",
	        MPC_FEDAVG_MAX_PARTIES);
}

static void print_metrics(const mpc_fedavg_metrics *a, const mpc_fedavg_metrics *b) {
	printf("  %6.4f %8.4f %8.4f  | %6.4f %8.4f %8.4f\n", a->auc, a->logloss, a->accuracy,
	       b->auc, b->logloss, b->accuracy);
}

/* The union of the files in the clear, trained for the same epochs. */
static int clear_reference(const fa_job *job, int N) {
	const mpc_fedavg_params *fp = &job->train;
	mpc_fedavg_data D[MPC_FEDAVG_MAX_PARTIES], U = {0}, H = {0};
	double *w = NULL;
	int rc = -1, got = 0;
	mpc_err err = MPC_OK;
	memset(D, 0, sizeof(D));
	for (; got < N && err == MPC_OK; got++) {
		char path[4200];
		snprintf(path, sizeof(path), "%s/merchant%d.csv", job->dir, got);
		err = mpc_fedavg_data_read(path, &D[got]);
	}
	if (err == MPC_OK && (err = mpc_fedavg_data_concat(D, N, &U)) == MPC_OK &&
	    (err = mpc_fedavg_data_read(job->holdout, &H)) == MPC_OK) {
		if ((w = calloc(U.d, sizeof(double))) == NULL)
			err = mpc_error(MPC_ENOMEM, "out of memory");
		else if ((err = mpc_fedavg_train(&U, w, fp, fp->rounds * fp->epochs, 7)) ==
		         MPC_OK) {
			mpc_fedavg_metrics m = mpc_fedavg_eval(&H, w, -1);
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
		mpc_fedavg_data_fini(&D[i]);
	mpc_fedavg_data_fini(&U);
	mpc_fedavg_data_fini(&H);
	return rc;
}

/* --eval: the model file op->eval on the held-out rows. 0, or 1 after a
 * message. */
static int eval_model(const char *path, const char *holdout) {
	mpc_fedavg_data H;
	double *w = NULL;
	mpc_err err = mpc_fedavg_data_read(holdout, &H);
	if (err == MPC_OK && (w = calloc(H.d, sizeof(double))) == NULL)
		err = mpc_error(MPC_ENOMEM, "out of memory");
	if (err == MPC_OK && (err = mpc_fedavg_model_read(path, w, H.d)) == MPC_OK) {
		mpc_fedavg_metrics m = mpc_fedavg_eval(&H, w, -1);
		printf("model %s on %s (%lld rows): AUC %.4f, log-loss %.4f, accuracy %.4f\n", path,
		       holdout, (long long)m.n, m.auc, m.logloss, m.accuracy);
	}
	if (err != MPC_OK)
		fprintf(stderr, "fed_avg: --eval: %s\n", mpc_error_detail());
	free(w);
	mpc_fedavg_data_fini(&H);
	return err == MPC_OK ? 0 : 1;
}

/* The command line. */
typedef struct {
	fa_job job;
	mpc_local_config cfg;
	const char *model, *eval;
	char holdout[4200];
	int N, reference;
} options;

/* A valued option into o. 0, or 2 after a message. */
static int parse_value(options *op, const char *o, const char *v) {
	mpc_fedavg_params *fp = &op->job.train;
	char *end = NULL;
	if (strcmp(o, "--data") == 0)
		op->job.dir = v;
	else if (strcmp(o, "--holdout") == 0)
		snprintf(op->holdout, sizeof(op->holdout), "%s", v);
	else if (strcmp(o, "--model") == 0)
		op->model = v;
	else if (strcmp(o, "--eval") == 0)
		op->eval = v;
	else if (strcmp(o, "--merchants") == 0)
		op->N = (int)strtol(v, &end, 10);
	else if (strcmp(o, "--rounds") == 0)
		fp->rounds = (int)strtol(v, &end, 10);
	else if (strcmp(o, "--epochs") == 0)
		fp->epochs = (int)strtol(v, &end, 10);
	else if (strcmp(o, "--lr") == 0)
		fp->lr = strtod(v, &end);
	else if (strcmp(o, "--l2") == 0)
		fp->l2 = strtod(v, &end);
	else if (strcmp(o, "--batch") == 0)
		fp->batch = (size_t)strtoul(v, &end, 10);
	else if (strcmp(o, "--noise") == 0)
		fp->noise = strtod(v, &end);
	else if (strcmp(o, "--frac") == 0)
		fp->frac = (unsigned)strtoul(v, &end, 10);
	else {
		fprintf(stderr, "fed_avg: unknown option '%s' (see --help)\n", o);
		return 2;
	}
	if (end && (*end != '\0' || end == v)) {
		fprintf(stderr, "fed_avg: %s: expected a number\n", o);
		return 2;
	}
	return 0;
}

/* argv into op. -1 to go on, else the exit code (0 after --help). */
static int parse_args(options *op, int argc, char **argv) {
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(o, "--weighted") == 0)
			op->job.train.weighted = 1;
		else if (strcmp(o, "--reference") == 0)
			op->reference = 1;
		else if (strcmp(o, "--tls") == 0)
			op->cfg.use_tls = 1;
		else if (v == NULL) {
			fprintf(stderr,
			        "fed_avg: unknown option or missing value '%s' (see --help)\n", o);
			return 2;
		} else if (i++, parse_value(op, o, v) != 0)
			return 2;
	}
	return -1;
}

/* The options' ranges, the merchant count and the held-out file. 0, or 2
 * after a message. */
static int check_options(options *op) {
	const mpc_fedavg_params *fp = &op->job.train;
	if (fp->rounds < 1 || fp->rounds > 100000 || fp->epochs < 0 || fp->epochs > 100000 ||
	    fp->batch < 1 || !(fp->lr > 0) || !(fp->l2 >= 0) || !(fp->noise >= 0) ||
	    fp->frac > 64) {
		fprintf(stderr, "fed_avg: need rounds >= 1, epochs >= 0, batch >= 1, lr > 0, "
		                "l2 >= 0, noise >= 0, frac <= 64\n");
		return 2;
	}
	if (op->N == 0) /* every merchant file there is */
		for (char path[4200];; op->N++) {
			snprintf(path, sizeof(path), "%s/merchant%d.csv", op->job.dir, op->N);
			if (access(path, R_OK) != 0 || op->N == MPC_FEDAVG_MAX_PARTIES)
				break;
		}
	if (op->N < 2 || op->N > MPC_FEDAVG_MAX_PARTIES) {
		fprintf(stderr,
		        "fed_avg: need 2..%d merchants (%s/merchant0.csv, ...; make them "
		        "with gen_data)\n",
		        MPC_FEDAVG_MAX_PARTIES, op->job.dir);
		return 2;
	}
	if (op->holdout[0] == '\0')
		snprintf(op->holdout, sizeof(op->holdout), "%s/holdout.csv", op->job.dir);
	if (access(op->holdout, R_OK) != 0) {
		fprintf(stderr, "fed_avg: %s: %s (make it with gen_data --holdout ROWS)\n",
		        op->holdout, strerror(errno));
		return 2;
	}
	op->job.holdout = op->holdout;
	op->cfg.n_parties = op->N;
	return 0;
}

static void print_intro(const options *op) {
	const mpc_fedavg_params *fp = &op->job.train;
	printf("federated averaging: %d merchants, %d rounds of %d local epochs, secure sum in "
	       "Z_2^128 (%u fractional bits)%s%s\n",
	       op->N, fp->rounds, fp->epochs, fp->frac,
	       fp->weighted ? ", weighted by row counts" : "", op->cfg.use_tls ? ", TLS 1.3" : "");
	if (fp->noise > 0)
		printf("each merchant adds its own Gaussian noise (sigma %g) to the weights it "
		       "shares\n",
		       fp->noise);
	printf("each merchant trains on its own file; opened: only the averaged model after "
	       "each round%s\n",
	       fp->weighted ? " and the total row count" : "");
	fflush(stdout);
}

/* Every merchant's report, the last bytes it emitted. 0, or 1 after a
 * message per failed merchant. */
static int collect_reports(const mpc_local_result *res, int N, mpc_fedavg_report *rep) {
	int code = 0;
	for (int i = 0; i < N; i++) {
		if (res[i].err != MPC_OK || res[i].out_len < sizeof(*rep)) {
			fprintf(stderr, "fed_avg: merchant %d: %s: %s\n", i,
			        mpc_strerror(res[i].err), res[i].detail);
			code = 1;
			continue;
		}
		memcpy(&rep[i], res[i].out + res[i].out_len - sizeof(*rep), sizeof(*rep));
	}
	return code;
}

static void print_table(const options *op, const mpc_fedavg_report *rep) {
	printf("held-out: %s (%lld rows from every merchant's customers)\n", op->holdout,
	       (long long)rep[0].local_all.n);
	printf("\n(each merchant's line is what it sees at home: the others learn neither its "
	       "rows nor its model)\n");
	printf("on the whole held-out set   | local-only model          | shared model\n");
	printf("merchant   rows  fraud rate | AUC    log-loss accuracy  | AUC    log-loss "
	       "accuracy\n");
	for (int i = 0; i < op->N; i++) {
		printf("%8d %6lld %11.4f", i, (long long)rep[i].rows,
		       rep[i].rows ? (double)rep[i].frauds / (double)rep[i].rows : 0.0);
		print_metrics(&rep[i].local_all, &rep[i].shared_all);
	}
	printf("on its own customers (the held-out rows from that merchant)\n");
	for (int i = 0; i < op->N; i++) {
		printf("%8d %6lld %11s", i, (long long)rep[i].local_own.n, "");
		print_metrics(&rep[i].local_own, &rep[i].shared_own);
	}
}

/* The shared model merchant 0 emitted (d doubles before its report), as CSV. */
static int save_model(const char *path, const mpc_local_result *res0, size_t d) {
	const uint8_t *w =
	    res0->out + res0->out_len - sizeof(mpc_fedavg_report) - d * sizeof(double);
	double *wc = malloc(d * sizeof(double));
	int rc = 0;
	if (wc == NULL ||
	    (memcpy(wc, w, d * sizeof(double)), mpc_fedavg_model_write(path, wc, d)) != MPC_OK) {
		fprintf(stderr, "fed_avg: cannot write %s\n", path);
		rc = 1;
	} else
		printf("shared model written to %s\n", path);
	free(wc);
	return rc;
}

int main(int argc, char **argv) {
	options op = {.cfg = {.use_tcp = 1, .timeout_ms = 120000, .watchdog_s = 3600}};
	mpc_local_result res[MPC_FEDAVG_MAX_PARTIES + 1];
	mpc_fedavg_report rep[MPC_FEDAVG_MAX_PARTIES];
	int code;

	mpc_fedavg_params_default(&op.job.train);
	op.job.dir = "examples/data";
	if ((code = parse_args(&op, argc, argv)) >= 0)
		return code;
	if (op.eval) {
		if (op.holdout[0] == '\0')
			snprintf(op.holdout, sizeof(op.holdout), "%s/holdout.csv", op.job.dir);
		return eval_model(op.eval, op.holdout);
	}
	if ((code = check_options(&op)) != 0)
		return code;
	print_intro(&op);
	mpc_err err = mpc_local_run(&op.cfg, fa_party, &op.job, res);
	if (err != MPC_OK) {
		fprintf(stderr, "fed_avg: %s: %s\n", mpc_strerror(err), mpc_error_detail());
		return 1;
	}
	if ((code = collect_reports(res, op.N, rep)) != 0)
		goto out;
	print_table(&op, rep);
	if (op.reference && clear_reference(&op.job, op.N) != 0)
		code = 1;
	printf("network: %llu bytes sent by merchant 0 in %llu rounds\n",
	       (unsigned long long)res[0].bytes_sent, (unsigned long long)res[0].rounds);
	if (op.model && save_model(op.model, &res[0], (size_t)rep[0].d) != 0)
		code = 1;
out:
	mpc_local_results_fini(res, op.N);
	return code;
}
