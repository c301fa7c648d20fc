/* Differential privacy: discrete Laplace or discrete Gaussian noise generated
 * jointly inside the computation (no party, nor any coalition of up to N-1 semi-honest parties,
 * learns it), added to shared statistics before they are opened, and the
 * budget accounting that gives each released statistic its noise scale.
 *
 * Mechanism. Discrete Laplace with parameter T (in units of the value's last
 * place): P(Z = z) = (1-q)/(1+q) q^|z|, q = exp(-1/T), variance
 * 2q/(1-q)^2. Z = G1 - G2 for two independent geometric G (P(G = g) =
 * (1-q) q^g), and the binary digits of G are independent Bernoulli bits:
 * digit j is 1 with probability p_j = q^(2^j) / (1 + q^(2^j)). Each digit is
 * [u < c_j] for a uniform MPC_DP_PREC_BITS-bit u and the public threshold
 * c_j = round(p_j 2^m). u is XOR-shared: every party draws its share from its
 * own PRG stream, so u is uniform and unknown to any N-1 parties. The
 * comparisons run on bit planes with bit triples (a log-depth tree: 6 AND
 * rounds), the digits become arithmetic shares with random shared bits (one
 * round), and Z = sum_j 2^j (B1_j - B2_j) is a local sum. Only the noisy sum
 * is ever opened.
 *
 * Exactness. Digits j >= L are dropped (G mod 2^L instead of G: total
 * variation <= q^(2^L) per geometric) and p_j is rounded to m = 48 bits
 * (<= 2^-49 per digit). L is the smallest digit count with
 * 2 q^(2^L) <= 2^-43, so each sample is within total variation
 * 2^-43 + 2L 2^-49 < 2^-41.5 of the exact discrete Laplace (L <= 58;
 * mpc_dp_laplace_info gives the bound for T); n samples jointly within n
 * times that. |Z| < 2^L always. A mechanism within total variation d of an
 * epsilon-DP one is (epsilon, (1 + e^epsilon) d)-DP.
 *
 * The discrete Gaussian (P(Z = z) proportional to exp(-z^2 / (2 sigma^2))) is
 * sampled by inverse CDF: one uniform 60-bit u per sample against the 2K
 * public thresholds round(2^60 P(Z <= z)), z = -K..K-1 (the same tree, one
 * comparison per threshold, one round of conversion), Z = K - #{u below}.
 * K is the smallest with P(|Z| > K) <= 2^-44; total variation per sample
 * <= 2^-44 + (2K + 1) 2^-60. It costs ~2K comparisons per sample (K ~ 7.8
 * sigma in units), so it suits integer statistics with a moderate sigma;
 * sigma is limited to MPC_DP_GAUSS_MAX_K / 7 units. */
#ifndef MPC_DP_H
#define MPC_DP_H

#include "protocols/core/mpc_party.h"
#include "runtime/mpc_err.h"
#include "runtime/mpc_ring.h"
#include <stddef.h>
#include <stdint.h>

/* Bits of precision m of each digit's Bernoulli probability. */
#define MPC_DP_PREC_BITS 48
/* Largest digit count L (|noise| < 2^L): T up to about 2^53. */
#define MPC_DP_MAX_DIGITS 58
/* Bits of precision of the Gaussian's CDF thresholds. */
#define MPC_DP_GAUSS_PREC_BITS 60
/* Largest K (|Gaussian noise| <= K units). */
#define MPC_DP_GAUSS_MAX_K 8192
/* Longest printable line of mpc_dp_format, with the terminating NUL. */
#define MPC_DP_LINE_MAX 256

typedef enum { MPC_DP_LAPLACE = 1, MPC_DP_GAUSSIAN = 2 } mpc_dp_mech;

/* Parse a mechanism name from a job file: "laplace" / "discrete_laplace",
 * "gaussian" / "discrete_gaussian". MPC_ECONFIG otherwise. */
mpc_err mpc_dp_mech_parse(const char *s, mpc_dp_mech *out) MPC_MUST_CHECK;
/* "discrete Laplace", "discrete Gaussian" (or "?"). */
const char *mpc_dp_mech_name(mpc_dp_mech m);

/* Digit count L and total-variation bound (per sample, against the exact
 * discrete Laplace) of the sampler for parameter T (in units). MPC_EINVAL
 * for T not finite or <= 0, MPC_ERANGE when T needs more than
 * MPC_DP_MAX_DIGITS digits. Either out-pointer may be NULL. */
mpc_err mpc_dp_laplace_info(double T, unsigned *digits, double *tv_bound) MPC_MUST_CHECK;

/* Standard deviation sqrt(2q)/(1-q) of the discrete Laplace with parameter
 * T (q = exp(-1/T)); 0 for T <= 0. */
double mpc_dp_laplace_stddev(double T);

/* n samples of discrete Laplace noise, sample i with parameter T[i] in units
 * (the last place of the value it will be added to), as arithmetic shares in
 * ring r (noise: n elements). Collective: every party passes the same T.
 * Consumes at most 2 L n * 88 bit triples (one fetch) and 2 L n random shared
 * bits, L the largest digit count of the batch (samples with fewer digits
 * still pay for L); 7 rounds online (6 AND layers, 1 conversion) whatever n,
 * up to a chunk of 2^22 / (48 L) * 32 samples (over 60000 even at L = 44),
 * 7 per chunk beyond. MPC_EINVAL/MPC_ERANGE as mpc_dp_laplace_info, naming
 * the sample, before any message. */
mpc_err mpc_dp_laplace_units(mpc_party *p, mpc_ring r, const double *T, void *noise,
                             size_t n) MPC_MUST_CHECK;

/* The preprocessing mpc_dp_laplace_units(T, n) consumes: words of 64 bit
 * triples and random shared bits (for budgeting a pool or a store). -1 if
 * a parameter is invalid (as mpc_dp_laplace_info), 0 otherwise. */
int mpc_dp_laplace_cost(const double *T, size_t n, uint64_t *bit_triple_words, uint64_t *bits);

/* n samples of scale t (real units) for values in fixed point with f
 * fractional bits: parameter T = t 2^f in units of 2^-f (for counts, f = 0).
 * The noise has the value's own granularity 2^-f: for a statistic whose
 * encoded value moves by at most D units between neighbouring data sets,
 * t 2^f = D / epsilon gives epsilon-DP exactly on the grid. Collective. */
mpc_err mpc_dp_laplace(mpc_party *p, mpc_ring r, double t, unsigned f, void *noise,
                       size_t n) MPC_MUST_CHECK;

/* The discrete Gaussian's K and per-sample total-variation bound for sigma
 * (units). MPC_EINVAL for sigma not finite or <= 0, MPC_ERANGE when K would
 * exceed MPC_DP_GAUSS_MAX_K. Either out-pointer may be NULL. */
mpc_err mpc_dp_gauss_info(double sigma, unsigned *K, double *tv_bound) MPC_MUST_CHECK;
/* Standard deviation of the discrete Gaussian with parameter sigma (slightly
 * below sigma when sigma < 1); 0 for sigma <= 0. */
double mpc_dp_gauss_stddev(double sigma);
/* n samples of discrete Gaussian noise, sample i with parameter sigma[i] in
 * units, as arithmetic shares in ring r. Collective (same sigma at every
 * party). Consumes 2K random shared bits and up to 2K * 112 bit triples per
 * sample; 7 rounds online up to 2^20 thresholds in all, 7 per chunk of that
 * beyond. Errors as mpc_dp_gauss_info, naming the sample, before any
 * message. */
mpc_err mpc_dp_gauss_units(mpc_party *p, mpc_ring r, const double *sigma, void *noise,
                           size_t n) MPC_MUST_CHECK;
/* The preprocessing mpc_dp_gauss_units(sigma, n) consumes; -1 if a
 * parameter is invalid. */
int mpc_dp_gauss_cost(const double *sigma, size_t n, uint64_t *bit_triple_words, uint64_t *bits);

/* zCDP (Bun, Steinke 2016): rho-zCDP gives (rho + 2 sqrt(rho ln(1/delta)),
 * delta)-DP, and mpc_dp_zcdp_rho is its inverse, the largest rho whose
 * epsilon at delta is `epsilon`: (sqrt(ln(1/delta) + epsilon) -
 * sqrt(ln(1/delta)))^2. rho adds up over releases (composition). For
 * epsilon > 0 and 0 < delta < 1; the caller checks. */
double mpc_dp_zcdp_rho(double epsilon, double delta);
double mpc_dp_zcdp_epsilon(double rho, double delta);

/* A statistic to be released. */
typedef struct {
	const char *name;   /* borrowed; printed */
	double sensitivity; /* in real units, between neighbouring data sets (one
	                       row added or removed): a count 1, a sum of amounts
	                       clipped to [0, M] M, ... (> 0). L1 for Laplace, L2
	                       for the Gaussian: the same for one number. */
	double weight;      /* relative share of the budget; 0 means 1 */
	unsigned frac;      /* fractional bits of the released value (0: integer) */
} mpc_dp_stat;

/* What the split gives a statistic. */
typedef struct {
	mpc_dp_mech mech;
	double epsilon;  /* Laplace: its share of epsilon. Gaussian: the epsilon
	                    its rho alone gives at the job's delta (shares of
	                    rho add up, these do not) */
	double delta;    /* Gaussian: the job's delta; Laplace: 0 */
	double rho;      /* Gaussian: its share of the zCDP budget; Laplace: 0 */
	double scale;    /* Laplace t = sensitivity / epsilon; Gaussian
	                    sigma = sensitivity / sqrt(2 rho); real units */
	double units;    /* scale 2^frac: the sampler's parameter */
	double stddev;   /* of the noise, real units */
	unsigned digits; /* Laplace: L (|noise| < 2^L units); Gaussian: K
	                    (|noise| <= K units) */
	double tv_bound; /* per-sample deviation from the exact mechanism */
} mpc_dp_alloc;

/* Split the budget over n statistics in proportion to their weights (equal
 * when all are 0) and give each its noise scale.
 *  - Laplace: sequential composition, the epsilon shares add up to epsilon;
 *    delta must be 0.
 *  - Gaussian: the discrete Gaussian with sigma is (D^2 / (2 sigma^2))-zCDP
 *    for L2 sensitivity D (Canonne, Kamath, Steinke 2020); rho-zCDP gives
 *    (rho + 2 sqrt(rho ln(1/delta)), delta)-DP (Bun, Steinke 2016), so the
 *    total rho = (sqrt(ln(1/delta) + epsilon) - sqrt(ln(1/delta)))^2 is
 *    split, shares of rho adding up. 0 < delta < 1.
 * MPC_ECONFIG, naming the statistic, for epsilon <= 0, infinite or NaN, a
 * bad delta, a sensitivity <= 0 or NaN, a weight < 0 or NaN, n == 0, or a
 * scale the sampler cannot take. out: n entries. */
mpc_err mpc_dp_budget_split(mpc_dp_mech mech, double epsilon, double delta, const mpc_dp_stat *s,
                            size_t n, mpc_dp_alloc *out) MPC_MUST_CHECK;

/* One printable line (no newline) for statistic s and its share a: name,
 * epsilon share (and rho, delta for the Gaussian), sensitivity, noise scale
 * (t or sigma), standard deviation, granularity. Returns what snprintf
 * returns. */
int mpc_dp_format(const mpc_dp_stat *s, const mpc_dp_alloc *a, char *buf, size_t len);

/* x[i] += noise of mechanism a[i].mech with parameter a[i].units, for n
 * shared values of ring r (x[i] in the units of statistic i). The caller
 * opens x afterwards; |x| plus the noise bound (2^digits, or K) must stay
 * below 2^(k-1) so the sum does not wrap. One batch per mechanism present.
 * Collective. */
mpc_err mpc_dp_add_noise(mpc_party *p, mpc_ring r, const mpc_dp_alloc *a, void *x,
                         size_t n) MPC_MUST_CHECK;

#endif
