/* Federated averaging of logistic-regression fraud models with secure
 * aggregation: rows in memory in, the averaged model and a report out. The
 * files (gen_data's CSV) are read by jobs/mpc_fedavg_data.h.
 *
 * Each merchant (a party) holds its own rows and, round after round, trains
 * the current shared model for E epochs of mini-batch gradient descent on
 * them (plain C, doubles), optionally adds Gaussian noise to its weight
 * vector, and inputs the vector as fixed-point values in Z_2^128 to the
 * runtime (mpc_input: additive shares, nothing sent). The parties add the
 * shares locally and open only the sum (mpc_open_output, one round); the
 * average (sum / N, or with weighting the sum of rows_i * w_i over the
 * opened total of rows) is the next shared model.
 *
 * What is revealed: the averaged model after every round (and, weighted, the
 * total number of rows). No merchant's own weight vector, rows or row count
 * is sent anywhere. As with any sum: with two merchants each can subtract its
 * own vector from the sum and so learns the other's; with three or more, a
 * merchant learns the sum of the others' vectors, not each. The noise option
 * is local noise that each merchant adds to its own vector before sharing
 * (so the opened average carries noise of spread SIGMA/sqrt(N)); it is not
 * the joint noise of the statistics job, and without clipping and an
 * accounting of rounds it is no formal differential-privacy guarantee.
 *
 * Accuracy: each weight is encoded with error at most 2^-(F+1), the sum is
 * exact after that, so the average is within 2^-(F+1) of the plaintext
 * average of what the merchants shared (weighted: N * 2^-(F+1) / total rows).
 *
 * The model: logit = w . [1, f0..f(F-1), (ln amount - 4)/1.5, hour < 6,
 * one-hot of the MPC_FEDAVG_N_CATS categories (another category: all zero)];
 * or, with `hidden` units, a network with one hidden layer on the same
 * inputs (mpc_fedavg_nparams). */
#ifndef MPC_FEDAVG_H
#define MPC_FEDAVG_H

#include <stddef.h>
#include <stdint.h>

#include "protocols/apps/mpc_fedavg_dp.h"
#include "protocols/core/mpc_party.h"
#include "runtime/mpc_err.h"

/* the categories of the one-hot inputs (the generator's, jobs/mpc_synth.h) */
#define MPC_FEDAVG_N_CATS 6
/* model inputs besides the numeric features: intercept, amount, night,
 * categories */
#define MPC_FEDAVG_EXTRA       (3 + MPC_FEDAVG_N_CATS)
#define MPC_FEDAVG_MAX_PARTIES 16

/* A data set in model layout: n rows of d = MPC_FEDAVG_EXTRA + F inputs.
 * Owns its arrays; mpc_fedavg_data_fini wipes and frees them. */
typedef struct {
	size_t n, d;
	int F;
	double *x;     /* n * d, row-major */
	uint8_t *y;    /* n */
	int *merchant; /* n: the merchant column (held-out rows), or -1 */
} mpc_fedavg_data;

/* The training, public and the same at every party. */
typedef struct {
	int rounds, epochs;
	double lr, l2;
	size_t batch;
	double noise;  /* SIGMA of each merchant's local Gaussian noise (0: none) */
	int weighted;  /* weight the average by row counts */
	int hidden;    /* 0: logistic regression; H: one hidden layer of H tanh units */
	unsigned frac; /* fixed-point fractional bits */
	/* NULL: the average is opened exactly. Else DP-FedAvg
	 * (protocols/apps/mpc_fedavg_dp.h): each party's update clipped and
	 * rounded on the grid, the sum opened with discrete Gaussian noise made
	 * under MPC, the model moved by the noisy sum / N. Needs weighted = 0
	 * and noise = 0. Borrowed; accounted (mpc_fedavg_dp_account). */
	const mpc_fedavg_dp *dp;
	/* Dropouts (NULL: a failed round fails the run). After a round fails
	 * on a peer (timed out, aborted, gone), regroup gives a new party among
	 * the parties left in *p (freeing the old one) or an error; the parties
	 * then go back to the last model all of them hold, say so, and redo the
	 * round without the missing. At most `rounds` + MPC_FEDAVG_MAX_PARTIES
	 * regroups. With dp, no more than dp->releases sums are ever opened. */
	mpc_err (*regroup)(void *arg, mpc_party **p);
	void *regroup_arg;
} mpc_fedavg_params;

/* 10 rounds of 2 epochs, lr 0.1, l2 0.001, batches of 32, 32 fractional
 * bits, no noise, unweighted. */
void mpc_fedavg_params_default(mpc_fedavg_params *fp);

typedef struct {
	double auc, logloss, accuracy;
	int64_t n; /* rows evaluated */
} mpc_fedavg_metrics;

/* What a party learns about its run. */
typedef struct {
	int64_t d, rows, frauds, total_rows;      /* total_rows: opened when weighted, else 0 */
	mpc_fedavg_metrics local_all, shared_all; /* on the whole held-out set */
	mpc_fedavg_metrics local_own, shared_own; /* on its rows from this merchant */
	int releases;                             /* sums opened (DP: what was spent) */
	int clipped;                              /* DP: rounds whose update was clipped */
	int parties;                              /* at the end (fewer after dropouts) */
	int redone;                               /* rounds redone after a dropout */
} mpc_fedavg_report;

/* Called twice a round when given: with the d doubles the party shares
 * (after noise, before weighting; DP: its clipped update in grid units),
 * then with the d doubles opened (the average; DP: the noisy sum of the
 * updates in grid units). An error stops the run. */
typedef mpc_err (*mpc_fedavg_trace_fn)(void *arg, const double *v, size_t d);

void mpc_fedavg_data_fini(mpc_fedavg_data *D);

/* out = the rows of a[0..k-1] (the same layout), merchant i for a[i]'s rows,
 * for a reference trained in the clear on the union. MPC_EINVAL if layouts
 * differ, MPC_ENOMEM. Caller calls mpc_fedavg_data_fini. */
mpc_err mpc_fedavg_data_concat(const mpc_fedavg_data *a, int k,
                               mpc_fedavg_data *out) MPC_MUST_CHECK;

/* `epochs` passes of mini-batch gradient descent on the log-loss plus
 * l2/2 |w|^2 (not on the biases), from w (mpc_fedavg_nparams doubles), in
 * place. The batch
 * order is shuffled with a public seed (it tells nothing about the rows).
 * MPC_ENOMEM. */
mpc_err mpc_fedavg_train(const mpc_fedavg_data *D, double *w, const mpc_fedavg_params *fp,
                         int epochs, uint64_t seed) MPC_MUST_CHECK;

/* AUC (ties counted half), mean log-loss and accuracy at 1/2 of w on the rows
 * of D from `merchant` (-1: all). NaN AUC if a class is missing. */
mpc_fedavg_metrics mpc_fedavg_eval(const mpc_fedavg_data *D, const double *w, int merchant);
/* The same for a model with `hidden` units (0: logistic regression). */
mpc_fedavg_metrics mpc_fedavg_eval_model(const mpc_fedavg_data *D, int hidden, const double *w,
                                         int merchant);

/* The model's parameters for d inputs: d (logistic regression), or with H
 * hidden units H (d + 1) + 1, laid out as the H units' weights on the d
 * inputs (the first input is the constant 1: each unit's bias), the output's
 * H weights, and its bias. The model is logit = sum_j v_j tanh(W_j . x) + b:
 * the aggregation does not depend on what the vector means. */
size_t mpc_fedavg_nparams(int hidden, size_t d);
/* The starting model, the same at every party: zeros (logistic
 * regression), or W and v drawn uniformly in +-1/sqrt(d) and +-1/sqrt(H)
 * from a public seed (a hidden layer needs asymmetry). */
void mpc_fedavg_init(int hidden, size_t d, double *w);

/* Every party inputs its n values v (fixed point, `frac` bits); all learn
 * only the sum, in out (doubles). Collective. MPC_ERANGE if a value is too
 * large to add up without wrapping. */
mpc_err mpc_fedavg_secure_sum(mpc_party *p, unsigned frac, const double *v, double *out,
                              size_t n) MPC_MUST_CHECK;
/* The same with discrete Gaussian noise of parameter sigma units of 2^-frac
 * added to every element under MPC before the sum is opened (sigma 0: none).
 * Its material (bit triples, random bits) is fetched from the party's
 * backend; the errors of mpc_dp_gauss_units too. *opening (may be NULL) is
 * set to 1 once the opening starts: from then on a peer may have seen the
 * sum, even if this call fails (a DP release to count). */
mpc_err mpc_fedavg_noisy_sum(mpc_party *p, unsigned frac, const double *v, double sigma,
                             double *out, size_t n, int *opening) MPC_MUST_CHECK;

/* The whole training at one party (collective): its rows D, the held-out
 * rows H (NULL: no evaluation), the shared model out in w
 * (mpc_fedavg_nparams doubles, caller storage) and the report in rep. Every party checks that all
 * have the same model layout (MPC_ECONFIG naming the mismatch). trace may be NULL. Borrows
 * everything. */
mpc_err mpc_fedavg_run(mpc_party *p, const mpc_fedavg_params *fp, const mpc_fedavg_data *D,
                       const mpc_fedavg_data *H, mpc_fedavg_trace_fn trace, void *trace_arg,
                       double *w, mpc_fedavg_report *rep) MPC_MUST_CHECK;

#endif
