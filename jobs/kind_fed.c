/* computation = fed_train: federated training of a logistic-regression
 * fraud model between the parties, through mpc-party (the single-machine
 * example fed_avg runs the same protocol with forked parties). Each party
 * trains on its own --input (gen_data's columns: amount, fraud, category,
 * hour, f0..f(F-1)) for `epochs` local epochs a round; the models are
 * summed by secure aggregation (protocols/apps/mpc_fedavg.h: additive
 * shares, only the sum opened) and averaged, `rounds` times. Every party
 * writes the shared model to --output in the scoring model format, which
 * fraud_score takes as its --model.
 *
 * [fed_train]
 *   rounds = 10        rounds of local training and averaging (1..1000)
 *   epochs = 2         local epochs a round (1..100)
 *   lr = 0.1           learning rate; l2 = 0.001: L2 penalty (not on the intercept)
 *   batch = 32         mini-batch rows
 *   weighted = no      yes: weight by row counts (opens the total of rows)
 *   hidden = 0         H > 0: a network with one hidden layer of H tanh units
 *                      instead of logistic regression (the aggregation is the
 *                      same; its file is not a scoring model)
 *   dp = none          gaussian: DP-FedAvg (protocols/apps/mpc_fedavg_dp.h)
 *   epsilon, delta     with dp: the whole training's budget (delta 1e-6)
 *   clip = 1           with dp: L2 bound of each party's update per round
 *   clip_steps         with dp: grid steps in clip (max(16, 2 ceil(sqrt(d))))
 *   min_parties        parties that must remain (default: all); with dp the
 *                      budget is split over rounds + parties - min_parties
 *                      releases; not with weighted = yes
 *
 * What is revealed: without dp, the averaged model after every round (and,
 * weighted, the total of rows), no party's own model or rows. With dp, only
 * the noisy sum of the clipped updates each round, an (epsilon, delta)-DP
 * release about every party's data (the accountant is printed before and
 * after). MPC_TEST_FED_TRACE=FILE (a test hook) appends what this party
 * shares and what is opened each round to FILE. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/mpc_fedavg_data.h"
#include "jobs/mpc_kind.h"
#include "protocols/apps/mpc_dp.h"
#include "runtime/mpc_log.h"

typedef struct {
	const mpc_job *job;
	mpc_fedavg_params fp;
	int dp, min_parties;
	mpc_fedavg_dp acc; /* with dp: accounted once the model's d is known */
	mpc_fedavg_data D; /* this party's rows in model layout */
	double *w;         /* the shared model (D.d) */
	mpc_fedavg_report rep;
	int traced; /* MPC_TEST_FED_TRACE: lines written (share, open, share, ...) */
	mpc_kind_session *ks;
	uint64_t alive; /* the job's parties still in (bit i: party i) */
	int attempt;
} fed_state;

static void fed_free(void *st) {
	fed_state *s = st;
	if (s == NULL)
		return;
	mpc_fedavg_data_fini(&s->D);
	free(s->w);
	free(s);
}

/* dp, epsilon, delta, clip, clip_steps (after min_parties) */
static mpc_err parse_dp(const mpc_job *j, fed_state *s) {
	const mpc_job_param *dp = mpc_kind_param(j, "dp");
	const char *const only[] = {"epsilon", "delta", "clip", "clip_steps"};
	mpc_err err;
	s->dp = dp && strcmp(dp->value, "none") != 0;
	if (dp && s->dp && strcmp(dp->value, "gaussian") != 0)
		return mpc_kind_param_err(j, dp,
		                          "expected none or gaussian (the discrete Gaussian "
		                          "made under MPC)");
	for (size_t i = 0; i < sizeof(only) / sizeof(only[0]) && !s->dp; i++) {
		const mpc_job_param *q = mpc_kind_param(j, only[i]);
		if (q)
			return mpc_kind_param_err(j, q, "given, but there is no 'dp = gaussian'");
	}
	if (!s->dp)
		return MPC_OK;
	const mpc_job_param *wp = mpc_kind_param(j, "weighted");
	if (wp && strcmp(wp->value, "yes") == 0)
		return mpc_kind_param_err(j, wp,
		                          "with dp, averaging is unweighted (row-count weights "
		                          "would make the sensitivity depend on the data)");
	if (mpc_kind_param(j, "epsilon") == NULL)
		return mpc_kind_param_err(j, dp,
		                          "needs 'epsilon = ...' (the whole training's budget)");
	if ((err = mpc_job_param_double(j, "epsilon", 1, 1e-6, 1e6, &s->acc.epsilon)) != MPC_OK ||
	    (err = mpc_job_param_double(j, "delta", 1e-6, 1e-300, 0.5, &s->acc.delta)) != MPC_OK ||
	    (err = mpc_job_param_double(j, "clip", 1, 1e-12, 1e12, &s->acc.clip)) != MPC_OK ||
	    (err = mpc_kind_param_count(j, "clip_steps", 0, 0, 1e6, &s->acc.steps)) != MPC_OK)
		return err;
	s->acc.releases = s->fp.rounds + j->n_parties - s->min_parties;
	return MPC_OK;
}

static mpc_err fed_parse(const mpc_job *j, void **out) {
	static const char *const known[] = {
	    "rounds",  "epochs", "lr",   "l2",         "batch",       "weighted", "dp",
	    "epsilon", "delta",  "clip", "clip_steps", "min_parties", "hidden"};
	fed_state *s = calloc(1, sizeof(*s));
	double rounds, epochs, batch, minp, hidden;
	mpc_err err;
	*out = NULL;
	if (s == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	s->job = j;
	mpc_fedavg_params_default(&s->fp);
	if ((err = mpc_kind_known_keys(j, known, sizeof(known) / sizeof(known[0]))) != MPC_OK ||
	    (err = mpc_kind_param_count(j, "rounds", 10, 1, 1000, &rounds)) != MPC_OK ||
	    (err = mpc_kind_param_count(j, "epochs", 2, 1, 100, &epochs)) != MPC_OK ||
	    (err = mpc_kind_param_count(j, "batch", 32, 1, 1e6, &batch)) != MPC_OK ||
	    (err = mpc_job_param_double(j, "lr", 0.1, 1e-9, 10, &s->fp.lr)) != MPC_OK ||
	    (err = mpc_job_param_double(j, "l2", 1e-3, 0, 10, &s->fp.l2)) != MPC_OK ||
	    (err = mpc_kind_param_count(j, "hidden", 0, 0, 256, &hidden)) != MPC_OK)
		goto fail;
	s->fp.hidden = (int)hidden;
	const mpc_job_param *wp = mpc_kind_param(j, "weighted");
	if (wp && strcmp(wp->value, "yes") != 0 && strcmp(wp->value, "no") != 0) {
		err = mpc_kind_param_err(j, wp, "expected yes or no");
		goto fail;
	}
	s->fp.rounds = (int)rounds;
	s->fp.epochs = (int)epochs;
	s->fp.batch = (size_t)batch;
	s->fp.weighted = wp && strcmp(wp->value, "yes") == 0;
	if ((err = mpc_kind_param_count(j, "min_parties", j->n_parties, 2, j->n_parties, &minp)) !=
	    MPC_OK)
		goto fail;
	s->min_parties = (int)minp;
	if (s->min_parties < j->n_parties && s->fp.weighted) {
		err = mpc_kind_param_err(j, wp,
		                         "with min_parties, averaging is unweighted (the totals of "
		                         "rows opened before and after a dropout would give away "
		                         "the dropped party's row count)");
		goto fail;
	}
	if (s->min_parties < j->n_parties && j->has_dealer) {
		err = mpc_kind_param_err(j, mpc_kind_param(j, "min_parties"),
		                         "needs preprocessing among the parties (ot or paillier): "
		                         "a dealer's material is for every party");
		goto fail;
	}
	if ((err = parse_dp(j, s)) != MPC_OK)
		goto fail;
	*out = s;
	return MPC_OK;
fail:
	fed_free(s);
	return err;
}

static mpc_err fed_load_input(void *st, const mpc_kind_io *io, mpc_kind_summary *sum,
                              int *bad_input) {
	fed_state *s = st;
	if (io->is_dealer || (io->dry && io->input == NULL))
		return MPC_OK;
	if (io->input == NULL)
		return mpc_error(MPC_ECONFIG,
		                 "--input FILE.csv (this party's rows) is required for %s",
		                 s->job->computation);
	mpc_err err = mpc_fedavg_data_read(io->input, &s->D);
	if (err != MPC_OK) {
		*bad_input = err != MPC_ENOMEM;
		return err;
	}
	size_t P = mpc_fedavg_nparams(s->fp.hidden, s->D.d);
	if ((s->w = calloc(P + 1, sizeof(double))) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	mpc_info("read %zu transactions from %s (%zu model inputs)", s->D.n, io->input, s->D.d);
	if (s->dp) {
		s->acc.d = P;
		if ((err = mpc_fedavg_dp_account(&s->acc)) != MPC_OK)
			return mpc_error(MPC_ECONFIG, "%s: [%s]: %s", s->job->path,
			                 s->job->computation, mpc_error_detail());
		s->fp.dp = &s->acc;
	}
	sum->input_read = 1;
	sum->rows = s->D.n;
	return MPC_OK;
}

/* Test hooks. MPC_TEST_FED_TRACE: "share v..." and "open v..." lines.
 * MPC_TEST_FED_KILL_ROUND=R: SIGKILL this process in round R, once its update
 * is made, before it is shared. */
static mpc_err trace_line(void *arg, const double *v, size_t d) {
	fed_state *s = arg;
	const char *path = getenv("MPC_TEST_FED_TRACE"), *kill = getenv("MPC_TEST_FED_KILL_ROUND");
	if (kill && s->traced % 2 == 0 && s->traced / 2 + 1 == atoi(kill)) {
		mpc_warn("MPC_TEST_FED_KILL_ROUND: killing this party in round %d (test hook)",
		         atoi(kill));
		raise(SIGKILL);
	}
	if (path == NULL) {
		s->traced++;
		return MPC_OK;
	}
	FILE *f = fopen(path, "a");
	if (f == NULL)
		return mpc_error(MPC_EIO, "MPC_TEST_FED_TRACE %s: cannot append", path);
	fprintf(f, "%s", s->traced++ % 2 ? "open" : "share");
	for (size_t k = 0; k < d; k++)
		fprintf(f, " %.17g", v[k]);
	fprintf(f, "\n");
	return fclose(f) == 0 ? MPC_OK : mpc_error(MPC_EIO, "MPC_TEST_FED_TRACE %s: write", path);
}

/* mpc_fedavg_params.regroup: the host's, with the job's min_parties. */
static mpc_err fed_regroup(void *arg, mpc_party **p) {
	fed_state *s = arg;
	return s->ks->regroup(s->ks, &s->alive, ++s->attempt, s->min_parties, p);
}

static mpc_err fed_run(void *st, mpc_kind_session *ks) {
	fed_state *s = st;
	mpc_party *p = NULL;
	mpc_err err;
	char line[MPC_FEDAVG_DP_LINE_MAX];
	if (ks->io->is_dealer)
		return ks->start(ks, NULL, &p);
	if (s->dp && !ks->io->quiet) {
		mpc_fedavg_dp_format(&s->acc, line, sizeof(line));
		printf("job %s: before training: %s\n", s->job->id, line);
		fflush(stdout);
	}
	if ((err = ks->start(ks, &(mpc_pool_plan){0}, &p)) != MPC_OK)
		return err;
	s->ks = ks;
	s->alive = (1ull << s->job->n_parties) - 1;
	if (s->min_parties < s->job->n_parties && ks->regroup) {
		s->fp.regroup = fed_regroup;
		s->fp.regroup_arg = s;
	}
	int hooks = getenv("MPC_TEST_FED_TRACE") || getenv("MPC_TEST_FED_KILL_ROUND");
	return mpc_fedavg_run(p, &s->fp, &s->D, NULL, hooks ? trace_line : NULL, s, s->w, &s->rep);
}

static mpc_err fed_write(void *st, const mpc_kind_io *io) {
	fed_state *s = st;
	if (!io->quiet)
		printf("job %s: federated training over %d parties (%s): %d rounds of %d local "
		       "epochs, %s averaging; the shared model has %zu inputs (%zu parameters%s)\n",
		       s->job->id, s->job->n_parties, io->party, s->fp.rounds, s->fp.epochs,
		       s->fp.weighted ? "row-weighted" : "plain", s->D.d,
		       mpc_fedavg_nparams(s->fp.hidden, s->D.d),
		       s->fp.hidden ? ", one hidden layer" : "");
	if (s->rep.redone && !io->quiet) {
		printf("dropouts: %d round(s) redone; the model was trained to the end by",
		       s->rep.redone);
		for (int i = 0; i < s->job->n_parties; i++)
			if (s->alive >> i & 1)
				printf(" %s", s->job->parties[i].name);
		printf(" (%d of %d parties); the rows of", s->rep.parties, s->job->n_parties);
		for (int i = 0; i < s->job->n_parties; i++)
			if (!(s->alive >> i & 1))
				printf(" %s", s->job->parties[i].name);
		printf(" count only through the rounds before they dropped out\n");
	}
	if (s->dp && !io->quiet) {
		double eps, delta, eps_row, delta_row;
		mpc_fedavg_dp_spent(&s->acc, s->rep.releases, &eps, &delta, &eps_row, &delta_row);
		printf("after training: %d noisy sums opened (%d of them with this party's update "
		       "clipped to %g): epsilon %.6g, delta %.3g for one party's data added or "
		       "removed; epsilon %.6g, delta %.3g for any change to one party's rows (one "
		       "row included); deltas with the sampler's deviation; the job's budget: "
		       "epsilon %g, delta %g\n",
		       s->rep.releases, s->rep.clipped, s->acc.clip, eps, delta, eps_row, delta_row,
		       s->acc.epsilon, s->acc.delta);
	}
	if (io->output == NULL)
		return MPC_OK;
	mpc_err err = s->fp.hidden ? mpc_fedavg_mlp_write(io->output, s->w, s->D.d, s->fp.hidden)
	                           : mpc_fedavg_model_write(io->output, s->w, s->D.d);
	if (err == MPC_OK && !io->quiet)
		printf("the shared model written to %s (%s)\n", io->output,
		       s->fp.hidden ? "a network with one hidden layer: parameter,weight"
		                    : "the fraud_score model format");
	return err;
}

/* The ledger's charge: the whole budget (every release that may be opened,
 * redone rounds included) as epsilon for a change to any of the dataset's
 * rows (4 rho: the ledger counts rows, the job's epsilon one party's data
 * added or removed), and the job's delta (the sampler's deviation, which
 * depends on d, is printed by the run, not charged); 0 and 0 without dp (an
 * exact model: the node's policy decides whether a dataset may give one). */
static mpc_err fed_privacy(void *st, double *epsilon, double *delta) {
	const fed_state *s = st;
	double rho = s->dp ? mpc_dp_zcdp_rho(s->acc.epsilon, s->acc.delta) : 0;
	*epsilon = s->dp ? mpc_fedavg_dp_row_epsilon(rho, s->acc.delta) : 0;
	*delta = s->dp ? s->acc.delta : 0;
	return MPC_OK;
}

const mpc_kind mpc_kind_fed = {
    .name = "fed_train",
    .doing = "training",
    .flags = 0,
    .parse = fed_parse,
    .plan = mpc_kind_plan_none,
    .input_rows = NULL,
    .load_input = fed_load_input,
    .prepare = mpc_kind_prepare_none,
    .run = fed_run,
    .write = fed_write,
    .free = fed_free,
    .privacy = fed_privacy,
    .serve = NULL,
    .contrib_len = NULL,
    .contribute = NULL,
};
