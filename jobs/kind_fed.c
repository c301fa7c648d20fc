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
 *
 * What is revealed: the averaged model after every round (and, weighted,
 * the total of rows), no party's own model or rows. No clipping and no noise
 * yet: this is not a differential-privacy release (see the README). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/mpc_fedavg_data.h"
#include "jobs/mpc_kind.h"
#include "runtime/mpc_log.h"

typedef struct {
	const mpc_job *job;
	mpc_fedavg_params fp;
	mpc_fedavg_data D; /* this party's rows in model layout */
	double *w;         /* the shared model (D.d) */
	mpc_fedavg_report rep;
} fed_state;

static void fed_free(void *st) {
	fed_state *s = st;
	if (s == NULL)
		return;
	mpc_fedavg_data_fini(&s->D);
	free(s->w);
	free(s);
}

static mpc_err fed_parse(const mpc_job *j, void **out) {
	static const char *const known[] = {"rounds", "epochs", "lr", "l2", "batch", "weighted"};
	fed_state *s = calloc(1, sizeof(*s));
	double rounds, epochs, batch;
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
	    (err = mpc_job_param_double(j, "l2", 1e-3, 0, 10, &s->fp.l2)) != MPC_OK)
		goto fail;
	const mpc_job_param *wp = mpc_kind_param(j, "weighted");
	if (wp && strcmp(wp->value, "yes") != 0 && strcmp(wp->value, "no") != 0) {
		err = mpc_kind_param_err(j, wp, "expected yes or no");
		goto fail;
	}
	s->fp.rounds = (int)rounds;
	s->fp.epochs = (int)epochs;
	s->fp.batch = (size_t)batch;
	s->fp.weighted = wp && strcmp(wp->value, "yes") == 0;
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
	if ((s->w = calloc(s->D.d + 1, sizeof(double))) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	mpc_info("read %zu transactions from %s (%zu model inputs)", s->D.n, io->input, s->D.d);
	sum->input_read = 1;
	sum->rows = s->D.n;
	return MPC_OK;
}

static mpc_err fed_run(void *st, mpc_kind_session *ks) {
	fed_state *s = st;
	mpc_party *p = NULL;
	mpc_err err;
	if (ks->io->is_dealer)
		return ks->start(ks, NULL, &p);
	if ((err = ks->start(ks, &(mpc_pool_plan){0}, &p)) != MPC_OK)
		return err;
	return mpc_fedavg_run(p, &s->fp, &s->D, NULL, NULL, NULL, s->w, &s->rep);
}

static mpc_err fed_write(void *st, const mpc_kind_io *io) {
	fed_state *s = st;
	if (!io->quiet)
		printf("job %s: federated training over %d parties (%s): %d rounds of %d local "
		       "epochs, %s averaging; the shared model has %zu inputs\n",
		       s->job->id, s->job->n_parties, io->party, s->fp.rounds, s->fp.epochs,
		       s->fp.weighted ? "row-weighted" : "plain", s->D.d);
	if (io->output == NULL)
		return MPC_OK;
	mpc_err err = mpc_fedavg_model_write(io->output, s->w, s->D.d);
	if (err == MPC_OK && !io->quiet)
		printf("the shared model written to %s (the fraud_score model format)\n",
		       io->output);
	return err;
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
    .privacy = NULL,
    .serve = NULL,
    .contrib_len = NULL,
    .contribute = NULL,
};
