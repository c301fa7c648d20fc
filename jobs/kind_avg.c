/* computation = model_average: secure aggregation of logistic-regression
 * models, the averaging step of federated training. Each contributor (an
 * input party with `mpc-party submit --input MODEL.csv`, or, in a job
 * without input parties, every party with `run --model MODEL.csv`) holds a
 * model in the scoring model format (CSV "input,weight": one line per
 * feature and an intercept; what fed_avg --model writes and fraud_score
 * reads). Its weights, clipped to the L2 bound `clip` by their owner when
 * one is given, are encoded in fixed point (the job's frac_bits) and shared
 * in Z_2^128; the compute parties add the shares and open only the sum. The
 * output is the plain average of the m models counted, in the same format,
 * so the model owner's node can serve it for scoring.
 *
 * [model_average]
 *   features = f0-f7, log_amount     the model's inputs (fraud_score's syntax)
 *   max_weight = 16                  bound on |weight| (refused beyond)
 *   clip = 10                        optional L2 bound of each model (clipped)
 *
 * What is revealed: the average (and m, the number of models) to the
 * compute parties and the recipients; no single model. With two
 * contributors each learns the other's model from the average and its own.
 * No noise is added (DP-FedAvg with noise made under MPC is the next step).
 * Accuracy: each weight is encoded with error at most 2^-(F+1), the sum is
 * exact, so the average is within 2^-(F+1) of the average of the (clipped)
 * models. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/kind_score.h"
#include "jobs/mpc_kind.h"
#include "protocols/apps/mpc_fedavg.h"
#include "protocols/core/mpc_share.h"
#include "runtime/mpc_file.h"
#include "runtime/mpc_fixed.h"
#include "runtime/mpc_log.h"
#include "runtime/mpc_wipe.h"

typedef struct {
	const mpc_job *job;
	mpc_score_job sc; /* the features, max_weight and the model reader's view */
	double clip;      /* 0: none */
	double w[MPC_SCORE_JOB_MAX_FEATURES + 1];   /* this party's model: d weights, intercept */
	size_t m;                                   /* models averaged */
	double avg[MPC_SCORE_JOB_MAX_FEATURES + 1]; /* the output */
} avg_state;

static void avg_free(void *st) {
	if (st)
		mpc_wipe(st, sizeof(avg_state));
	free(st);
}

static mpc_err avg_parse(const mpc_job *j, void **out) {
	static const char *const known[] = {"features", "max_weight", "clip"};
	avg_state *s = calloc(1, sizeof(*s));
	mpc_err err;
	*out = NULL;
	if (s == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	s->job = j;
	if ((err = mpc_kind_known_keys(j, known, 3)) != MPC_OK ||
	    (err = mpc_score_job_parse_features(j, &s->sc)) != MPC_OK ||
	    (err = mpc_job_param_double(j, "max_weight", 1024, 1e-6, 1048576, &s->sc.max_weight)) !=
	        MPC_OK ||
	    (err = mpc_job_param_double(j, "clip", 0, 0, 1e9, &s->clip)) != MPC_OK) {
		avg_free(s);
		return err;
	}
	*out = s;
	return MPC_OK;
}

/* A model file into s->w, clipped to the L2 bound. */
static mpc_err read_model(avg_state *s, const char *path, int *bad_input) {
	size_t d = s->sc.d;
	mpc_err err = mpc_score_job_read_logreg(path, &s->sc, s->w, &s->w[d]);
	if (err != MPC_OK) {
		*bad_input = err != MPC_ENOMEM;
		return err;
	}
	double norm = 0;
	for (size_t k = 0; k <= d; k++)
		norm += s->w[k] * s->w[k];
	norm = sqrt(norm);
	if (s->clip > 0 && norm > s->clip) {
		for (size_t k = 0; k <= d; k++)
			s->w[k] *= s->clip / norm;
		mpc_info("%s: the model's L2 norm %.4g clipped to %g", path, norm, s->clip);
	}
	return MPC_OK;
}

static mpc_err avg_load_input(void *st, const mpc_kind_io *io, mpc_kind_summary *sum,
                              int *bad_input) {
	avg_state *s = st;
	const mpc_job *j = s->job;
	if (io->is_dealer)
		return MPC_OK;
	if (j->n_inputs > 0) {
		if (io->model || io->input)
			return mpc_error(
			    MPC_ECONFIG,
			    "job %s takes its models from its input parties: a compute party "
			    "has no --model (submit one with `mpc-party submit --input "
			    "MODEL.csv` as an [input NAME])",
			    j->id);
		return MPC_OK;
	}
	if (io->model == NULL) {
		if (io->dry)
			return MPC_OK;
		return mpc_error(MPC_ECONFIG, "--model MODEL.csv (input,weight) is required for %s",
		                 j->computation);
	}
	mpc_err err = read_model(s, io->model, bad_input);
	if (err == MPC_OK) {
		sum->model_read = 1;
		snprintf(sum->model, sizeof(sum->model), "logistic regression, %zu inputs",
		         s->sc.d);
	}
	return err;
}

static mpc_err avg_run(void *st, mpc_kind_session *ks) {
	avg_state *s = st;
	size_t n = s->sc.d + 1;
	unsigned f = s->job->frac_bits;
	const mpc_kind_contribs *kc = ks->io->contribs;
	mpc_party *p = NULL;
	mpc_u128 sum[MPC_SCORE_JOB_MAX_FEATURES + 1] = {0};
	mpc_err err;

	if (ks->io->is_dealer)
		return ks->start(ks, NULL, &p);
	if ((err = ks->start(ks, &(mpc_pool_plan){0}, &p)) != MPC_OK)
		return err;
	if (kc == NULL) { /* every party's own model: the secure sum of fed_avg */
		s->m = (size_t)mpc_party_size(p);
		err = mpc_fedavg_secure_sum(p, f, s->w, s->avg, n);
	} else if ((s->m = kc->m) > 0) { /* the input parties' models: add the shares */
		const mpc_u128 *sh = kc->shares;
		for (size_t c = 0; c < kc->m; c++)
			mpc_ring_add(MPC_Z128, sum, sum, sh + c * n, n);
		if ((err = mpc_open_output(p, MPC_Z128, sum, sum, n)) == MPC_OK)
			mpc_fixed_decode(MPC_Z128, f, sum, s->avg, n);
		mpc_wipe(sum, sizeof(sum));
	}
	for (size_t k = 0; err == MPC_OK && s->m > 0 && k < n; k++)
		s->avg[k] /= (double)s->m;
	return err;
}

static mpc_err avg_write(void *st, const mpc_kind_io *io) {
	avg_state *s = st;
	size_t d = s->sc.d, cap = 64 + (d + 1) * 64, len = 0;
	char *text = malloc(cap);
	mpc_err err = MPC_OK;
	if (text == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	len += (size_t)snprintf(text, cap, "input,weight\n");
	for (size_t k = 0; k <= d; k++)
		len += (size_t)snprintf(text + len, cap - len, "%s,%.17g\n",
		                        k < d ? s->sc.feat[k] : "intercept", s->avg[k]);
	if (!io->quiet) {
		printf("job %s: the average of %zu models (%s)\n", s->job->id, s->m, io->party);
		fputs(text, stdout);
	}
	if (io->output)
		err = mpc_file_write_atomic(io->output, text, len, 0644);
	free(text);
	return err;
}

static mpc_err avg_contrib_len(void *st, mpc_ring *ring, size_t *n) {
	*ring = MPC_Z128;
	*n = ((avg_state *)st)->sc.d + 1;
	return MPC_OK;
}

/* An input party's model (its --input), clipped and encoded. */
static mpc_err avg_contribute(void *st, const mpc_kind_io *io, void **vec, size_t *n,
                              int *bad_input) {
	avg_state *s = st;
	mpc_u128 *v;
	mpc_err err;
	*vec = NULL;
	*n = 0;
	if ((err = read_model(s, io->input, bad_input)) != MPC_OK)
		return err;
	if ((v = calloc(s->sc.d + 1, sizeof(*v))) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	/* |w| < max_weight (the reader's check; clipping only shrinks) */
	if ((err = mpc_fixed_encode(MPC_Z128, s->job->frac_bits, s->sc.max_weight, s->w, v,
	                            s->sc.d + 1)) != MPC_OK) {
		free(v);
		return err;
	}
	*vec = v;
	*n = s->sc.d + 1;
	return MPC_OK;
}

const mpc_kind mpc_kind_avg = {
    .name = "model_average",
    .doing = "averaging",
    .flags = 0,
    .parse = avg_parse,
    .plan = mpc_kind_plan_none,
    .input_rows = NULL,
    .load_input = avg_load_input,
    .prepare = mpc_kind_prepare_none,
    .run = avg_run,
    .write = avg_write,
    .free = avg_free,
    .privacy = NULL,
    .serve = NULL,
    .contrib_len = avg_contrib_len,
    .contribute = avg_contribute,
};
