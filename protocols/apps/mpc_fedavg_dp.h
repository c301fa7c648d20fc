/* Differential privacy for federated averaging (DP-FedAvg) with noise that
 * no party knows: each merchant clips its round's update (its local model
 * minus the shared one) to a public L2 bound C and rounds it onto a public
 * grid; the parties sum the updates as additive shares, add discrete
 * Gaussian noise made jointly under MPC (protocols/apps/mpc_dp.h:
 * mpc_dp_gauss_units; no party, nor any N-1 semi-honest parties, learns
 * it) and open only the noisy sum. No merchant and no server sees an
 * un-noised update or sum.
 *
 * The grid. The update u (real units) is clipped to ||u|| <= C and divided
 * by the step gamma = C / S (S = `steps`, the grid steps in C), then each
 * coordinate is rounded up or down at random (up with probability its
 * fraction: unbiased), from the merchant's own stream. A rounding whose
 * vector is longer than B = sqrt(S^2 + d/4 + 2 S) is drawn again (its
 * squared length exceeds ||x||^2 by d/6 on average, d/4 at most in
 * expectation, with a spread below S); after 20 draws the coordinates are
 * rounded toward zero, which never lengthens the vector. So every shared
 * update q is an integer vector with ||q|| <= B, always: the sum's L2
 * sensitivity to one merchant's update (present or replaced by zeros) is B
 * units, exactly.
 *
 * The accounting (zCDP, Bun and Steinke 2016; the discrete Gaussian's
 * guarantee is Canonne, Kamath and Steinke 2020): the d-dimensional discrete
 * Gaussian with parameter sigma per coordinate added to a sum of L2
 * sensitivity B is B^2 / (2 sigma^2)-zCDP; rho adds up over the releases;
 * rho-zCDP gives (rho + 2 sqrt(rho ln(1/delta)), delta)-DP. From the job's
 * (epsilon, delta) the total rho = mpc_dp_zcdp_rho(epsilon, delta) is split
 * equally over the `releases` sums that may be opened (the rounds, plus one
 * per merchant that may drop out, whose round is redone), so sigma =
 * B sqrt(releases / (2 rho)). The sampler is within total variation tv of
 * the exact discrete Gaussian per sample (mpc_dp_gauss_info), so n releases
 * are (epsilon_n, delta + (1 + e^epsilon_n) n d tv)-DP.
 *
 * The neighbouring relation of the job's epsilon: one merchant's update
 * present or replaced by zeros in every round (its data added or removed).
 * A change to some of one merchant's rows (one row, or all of them,
 * replaced) moves its update by up to 2B: 4 rho, reported beside it as
 * epsilon_row, which is what a node's ledger charges (it counts rows). Noise on the average
 * is sigma gamma / N per coordinate (N merchants): with few merchants,
 * merchant-level privacy costs accuracy; the README's table says how much. */
#ifndef MPC_FEDAVG_DP_H
#define MPC_FEDAVG_DP_H

#include <stddef.h>

#include "protocols/core/mpc_party.h"
#include "runtime/mpc_err.h"

#define MPC_FEDAVG_DP_LINE_MAX 512

typedef struct {
	/* given */
	double epsilon, delta; /* the whole training's budget */
	double clip;           /* C: L2 bound of each merchant's update, real units */
	double steps;          /* S: grid steps in C; 0: max(16, 2 ceil(sqrt(d))) */
	int releases;          /* sums that may be opened */
	size_t d;              /* coordinates of the model */
	/* derived by mpc_fedavg_dp_account */
	double gamma;  /* grid step, real units: C / S */
	double bound;  /* B: L2 bound of a shared update, grid units */
	double rho;    /* of one release: B^2 / (2 sigma^2) */
	double sigma;  /* the discrete Gaussian's parameter, grid units */
	double stddev; /* of the noise on one coordinate of the sum, real units */
	unsigned K;    /* |noise| <= K units */
	double tv;     /* the sampler's total variation for one release (d samples) */
} mpc_fedavg_dp;

/* Fill in the derived fields. MPC_ECONFIG with what to change for epsilon
 * or delta out of range, clip <= 0, steps < 1, releases < 1, d == 0, or a
 * sigma the sampler cannot take. */
mpc_err mpc_fedavg_dp_account(mpc_fedavg_dp *a) MPC_MUST_CHECK;

/* What n releases spent: epsilon at the job's delta for one party's update
 * present or replaced by zeros (the job's epsilon after every release);
 * epsilon_row for any change to one party's rows, one row included (its
 * update moves by up to 2B: 4 rho, mpc_fedavg_dp_row_epsilon); each with its
 * delta, the sampler's deviation (1 + e^epsilon) n d tv added to the job's. */
void mpc_fedavg_dp_spent(const mpc_fedavg_dp *a, int n, double *epsilon, double *delta,
                         double *epsilon_row, double *delta_row);
/* The epsilon at delta of rho-zCDP against one party's update present or
 * absent, for a change to any of that party's rows: 4 rho-zCDP. */
double mpc_fedavg_dp_row_epsilon(double rho, double delta);

/* One printable line (no newline): the accountant's parameters. */
int mpc_fedavg_dp_format(const mpc_fedavg_dp *a, char *buf, size_t len);

/* The update u (d doubles, real units) clipped and rounded on the grid into
 * q (d doubles holding integers, grid units; ||q|| <= B). *clipped: whether
 * ||u|| exceeded C. Randomness from the party's own stream. */
mpc_err mpc_fedavg_dp_quantize(mpc_party *p, const mpc_fedavg_dp *a, const double *u, double *q,
                               int *clipped) MPC_MUST_CHECK;

#endif
