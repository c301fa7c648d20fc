/* DP-FedAvg's grid, clipping and accountant (see mpc_fedavg_dp.h). */
#include "protocols/apps/mpc_fedavg_dp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "protocols/apps/mpc_dp.h"
#include "runtime/mpc_wipe.h"

#define DRAWS 20

mpc_err mpc_fedavg_dp_account(mpc_fedavg_dp *a) {
	if (!isfinite(a->epsilon) || !(a->epsilon > 0))
		return mpc_error(MPC_ECONFIG, "dp: epsilon must be a finite number > 0 (got %g)",
		                 a->epsilon);
	if (!(a->delta > 0 && a->delta < 1))
		return mpc_error(MPC_ECONFIG, "dp: the Gaussian needs 0 < delta < 1 (got %g)",
		                 a->delta);
	if (!isfinite(a->clip) || !(a->clip > 0))
		return mpc_error(MPC_ECONFIG, "dp: clip must be a finite number > 0 (got %g)",
		                 a->clip);
	if (a->releases < 1 || a->d == 0)
		return mpc_error(MPC_ECONFIG, "dp: %d releases of %zu coordinates", a->releases,
		                 a->d);
	if (a->steps == 0)
		a->steps = fmax(16, 2 * ceil(sqrt((double)a->d)));
	if (!isfinite(a->steps) || a->steps < 1 || a->steps > 1e6)
		return mpc_error(MPC_ECONFIG, "dp: clip_steps must be 1 to 10^6 (got %g)",
		                 a->steps);
	double S = a->steps, d = (double)a->d;
	double rho_total = mpc_dp_zcdp_rho(a->epsilon, a->delta);
	a->gamma = a->clip / S;
	a->bound = sqrt(S * S + d / 4 + 2 * S);
	a->rho = rho_total / a->releases;
	a->sigma = a->bound / sqrt(2 * a->rho);
	double tv;
	if (mpc_dp_gauss_info(a->sigma, &a->K, &tv) != MPC_OK)
		return mpc_error(MPC_ECONFIG,
		                 "dp: noise sigma %.6g grid units (epsilon %g over %d releases, "
		                 "%g steps in clip) is beyond the sampler (%.0f units at most): "
		                 "raise epsilon, lower rounds, or lower clip_steps",
		                 a->sigma, a->epsilon, a->releases, S,
		                 (double)MPC_DP_GAUSS_MAX_K / 7);
	a->tv = tv * d;
	a->stddev = mpc_dp_gauss_stddev(a->sigma) * a->gamma;
	return MPC_OK;
}

void mpc_fedavg_dp_spent(const mpc_fedavg_dp *a, int n, double *epsilon, double *delta,
                         double *epsilon_row, double *delta_row) {
	double rho = a->rho * n;
	*epsilon = n > 0 ? mpc_dp_zcdp_epsilon(rho, a->delta) : 0;
	*epsilon_row = mpc_fedavg_dp_row_epsilon(rho, a->delta);
	*delta = n > 0 ? a->delta + (1 + exp(*epsilon)) * a->tv * n : 0;
	*delta_row = n > 0 ? a->delta + (1 + exp(*epsilon_row)) * a->tv * n : 0;
}

double mpc_fedavg_dp_row_epsilon(double rho, double delta) {
	return rho > 0 ? mpc_dp_zcdp_epsilon(4 * rho, delta) : 0;
}

int mpc_fedavg_dp_format(const mpc_fedavg_dp *a, char *buf, size_t len) {
	return snprintf(buf, len,
	                "zCDP accountant: up to %d releases of %zu coordinates, each rho %.6g "
	                "(total %.6g: epsilon %.6g at delta %.3g); clip %g in %g grid steps "
	                "(step %.6g), shared updates within %.6g steps; discrete Gaussian "
	                "sigma %.6g steps (stddev %.6g on each coordinate of the sum, "
	                "|noise| <= %u steps)",
	                a->releases, a->d, a->rho, a->rho * a->releases,
	                mpc_dp_zcdp_epsilon(a->rho * a->releases, a->delta), a->delta, a->clip,
	                a->steps, a->gamma, a->bound, a->sigma, a->stddev, a->K);
}

static double norm2(const double *v, size_t d) {
	double s = 0;
	for (size_t k = 0; k < d; k++)
		s += v[k] * v[k];
	return s;
}

mpc_err mpc_fedavg_dp_quantize(mpc_party *p, const mpc_fedavg_dp *a, const double *u, double *q,
                               int *clipped) {
	size_t d = a->d;
	uint64_t *r = malloc(d * sizeof(uint64_t) + 1);
	double n = sqrt(norm2(u, d)), scale = 1 / a->gamma;
	mpc_err err = MPC_OK;
	if (r == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	*clipped = n > a->clip;
	if (*clipped)
		scale *= a->clip / n;
	for (int t = 0; t <= DRAWS; t++) {
		if (t < DRAWS && (err = mpc_party_prg_own(p, r, d * sizeof(uint64_t))) != MPC_OK)
			break;
		for (size_t k = 0; k < d; k++) {
			double x = u[k] * scale, f = floor(x);
			/* the last resort: toward zero, never longer than x */
			q[k] = t == DRAWS ? trunc(x) : f + ((double)(r[k] >> 11) * 0x1p-53 < x - f);
		}
		if (norm2(q, d) <= a->bound * a->bound)
			break;
	}
	mpc_wipe(r, d * sizeof(uint64_t));
	free(r);
	return err;
}
