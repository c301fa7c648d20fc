/* Federated averaging's inputs: gen_data's CSV files (jobs/mpc_synth.h)
 * read into the model layout of protocols/apps/mpc_fedavg.h with the job
 * layer's CSV reader (jobs/mpc_csv.h): only the columns the model uses; every
 * other column is ignored. */
#ifndef MPC_FEDAVG_DATA_H
#define MPC_FEDAVG_DATA_H

#include "protocols/apps/mpc_fedavg.h"
#include "runtime/mpc_err.h"

/* Read a CSV with columns amount, fraud, category, hour, f0..f(F-1) and
 * optionally merchant (any order, others ignored) into model layout.
 * MPC_EIO if unreadable, MPC_EINVAL naming file:line and the column (never a
 * value) for bad content, MPC_ENOMEM. Caller calls mpc_fedavg_data_fini (D is
 * empty on error). */
mpc_err mpc_fedavg_data_read(const char *path, mpc_fedavg_data *D) MPC_MUST_CHECK;

/* Party `me`'s inputs: DIR/merchant<me>.csv into D and, if holdout is not
 * NULL, that file into H. MPC_ECONFIG if the two have other feature columns;
 * the errors of mpc_fedavg_data_read. Caller calls mpc_fedavg_data_fini on
 * both, also on error. */
mpc_err mpc_fedavg_data_load(const char *dir, int me, const char *holdout, mpc_fedavg_data *D,
                             mpc_fedavg_data *H) MPC_MUST_CHECK;

/* Write the model w (d doubles, model layout) as the scoring model file
 * (CSV "input,weight": intercept, f0..f(F-1), log_amount, night,
 * category_NAME), atomically. What fraud_score's --model reads. MPC_EIO,
 * MPC_ENOMEM. */
mpc_err mpc_fedavg_model_write(const char *path, const double *w, size_t d) MPC_MUST_CHECK;

/* Write a model with `hidden` units (mpc_fedavg_nparams(hidden, d)
 * doubles) as CSV "parameter,weight", in layout order: hJ.INPUT (unit J's
 * weight on INPUT, hJ.intercept its bias), out.hJ, out.bias. Not a scoring
 * model (fraud_score takes logistic regression and trees); MPC_EIO,
 * MPC_ENOMEM. */
mpc_err mpc_fedavg_mlp_write(const char *path, const double *w, size_t d,
                             int hidden) MPC_MUST_CHECK;

/* The model file of a model of d inputs (what mpc_fedavg_model_write
 * writes, the lines in any order) into w (d doubles). MPC_EIO if
 * unreadable, MPC_EINVAL naming file:line for a line that is not one of the
 * d inputs, given twice, or not a number, and for an input missing;
 * MPC_ENOMEM. */
mpc_err mpc_fedavg_model_read(const char *path, double *w, size_t d) MPC_MUST_CHECK;

#endif
