/* Joint fraud scoring of a batch of transactions: logistic regression, a
 * linear scorecard, and a secret decision tree or small tree ensemble.
 *
 * Parties are merchants; one of them (or all together, as shares) owns the
 * model. The features of each transaction are held in the clear by
 * merchants: all columns by one merchant (horizontal), or split by column
 * (vertical, rows matched by the public transaction keys of the job). The
 * merchant that asks (opts.asker) gets, for every transaction, the score and
 * the flag score > threshold; every other party gets nothing, and nobody
 * learns anything else: features stay with their holder, the model with its
 * owner (see each model for what is public). Semi-honest security, as the
 * rest of the library.
 *
 * Arithmetic: Z_2^128, fixed point with MPC_SCORE_F = 16 fractional bits.
 * A product of one party's private value with another party's private (or
 * shared) value goes through the cross-product engine given in opts.cross
 * (Gilboa products over OT: one OT per bit of the narrower factor, no
 * triple), or, when opts.cross is NULL, through Beaver triples from the
 * installed preprocessing backend. The threshold comparison and the sigmoid
 * run on the installed backend in both cases.
 *
 * Every function is collective (same public arguments at every party), scores
 * n transactions at once, and needs a number of rounds that does not grow
 * with n: in Beaver mode exactly (up to the memory chunks of 2^20 products);
 * in cross mode the OT engine adds 2 rounds per 2^16 OTs per pair
 * (mpc_cross_ot.c), which grows with n. */
#ifndef MPC_SCORE_H
#define MPC_SCORE_H

#include "protocols/core/mpc_party.h"
#include "protocols/preproc/mpc_cross.h"
#include "runtime/mpc_err.h"
#include <stddef.h>
#include <stdint.h>

#define MPC_SCORE_F 16
/* model owner value: the model is secret-shared among all parties */
#define MPC_SCORE_SHARED (-1)
/* default bound on |feature| when mpc_score_data.x_max is 0 */
#define MPC_SCORE_X_MAX_DEFAULT 1048576.0
/* default bound on |weight|, |points|, |leaf value| when the model's is 0 */
#define MPC_SCORE_V_MAX_DEFAULT 1048576.0

/* Who receives, and how private products are made. */
typedef struct {
	int asker;              /* the party that receives scores and flags */
	const mpc_cross *cross; /* borrowed engine (mpc_cross_ot_new), or NULL: Beaver */
} mpc_score_opts;

/* The features: n transactions of d features (both public). Column k is held
 * by col_holder[k] (public; NULL: every column by `holder`). Each party
 * passes only ITS columns, in increasing k, one row per transaction:
 *  - keys == NULL: x has n rows, in the job's order;
 *  - keys != NULL (vertical matching): keys are the n public job keys (the
 *    same list at every party, in order), my_keys this party's my_n distinct
 *    record keys, and x has my_n rows in that order. Each holder looks every
 *    job key up in its own records; a missing key fails the run at every
 *    party (the holder's error names the first missing job index and the
 *    count, never a key; the others learn only which party failed).
 * |x| < x_max (public; 0: MPC_SCORE_X_MAX_DEFAULT); a larger value fails
 * the run (the holder's error names its index). Borrowed. */
typedef struct {
	size_t n, d;
	const int *col_holder;
	int holder;
	const double *x;
	const char *const *keys;
	const char *const *my_keys;
	size_t my_n;
	double x_max;
} mpc_score_data;

/* Logistic regression: score = sigmoid(w . x + b), flag = score > threshold,
 * computed exactly as w . x + b > logit(threshold) on the linear part (never
 * on the sigmoid's approximation). owner: the party holding w (d values) and
 * b, or MPC_SCORE_SHARED: every party passes `shares`, its additive shares
 * of round(w * 2^16) (d elements) then round(b * 2^16), Z_2^128. threshold
 * (public) in (0, 1); |w|, |b| < w_max (public, 0: default). */
typedef struct {
	int owner;
	const double *w;
	double b;
	const void *shares;
	double w_max;
	double threshold;
} mpc_score_logreg_model;

/* Linear scorecard: feature k falls in bin b = number of its cuts <= x
 * (n_bins[k] - 1 increasing cuts, so b in 0..n_bins[k]-1); score = base +
 * sum_k points[k][b_k], flag = score > threshold. n_bins, cuts and threshold
 * are public (the holders bin their own features locally); points (sum of
 * n_bins, concatenated by feature) and base are secret to the owner (a
 * single party). |points|, |base| < p_max (public, 0: default). */
typedef struct {
	int owner;
	const size_t *n_bins;
	const double *cuts;
	const double *points;
	double base;
	double p_max;
	double threshold;
} mpc_score_card_model;

/* A secret ensemble of n_trees complete trees of depth `depth` (1..10):
 * score = base + sum of the leaves reached, flag = score > threshold.
 * Internal nodes in heap order (node j has children 2j+1 and 2j+2), 2^depth
 * - 1 per tree: the transaction goes to 2j+1 if x[feature[j]] < thr[j], to
 * 2j+2 otherwise; leaves 0..2^depth-1 per tree, left to right. Secret to the
 * owner (a single party): feature indices, thresholds, leaf values, base.
 * Public: n_trees, depth, d, threshold, the bounds (|leaf|, |base| < v_max;
 * thresholds < x_max of the data). */
typedef struct {
	int owner;
	size_t n_trees, depth;
	const uint32_t *feature;
	const double *thr;
	const double *leaf;
	double base;
	double v_max;
	double threshold;
} mpc_score_tree_model;

/* Score x with the model. At the asker, score[n] and flag[n] (0/1) are
 * written; elsewhere they may be NULL and are never written. Errors:
 * MPC_EINVAL (inconsistent public arguments, a missing key at some holder),
 * MPC_ERANGE (a value beyond its bound), network and preprocessing errors.
 *
 * Tolerance of logreg (per transaction; L = |w|_1 + |x|_1 + |b|):
 *   linear part:  |z - (w.x + b)| <= eps = 2^-17 L + (d + 1) 2^-33;
 *   flag:         exact for the encoded values; equal to the double-precision
 *                 flag whenever |w.x + b - logit(threshold)| > eps + 2^-32;
 *   score:        |score - sigmoid(w.x + b)| <= MPC_SCORE_SIGMOID_ERR +
 *                 (eps + 2^-16) / 4. */
mpc_err mpc_score_logreg(mpc_party *p, const mpc_score_opts *o, const mpc_score_data *x,
                         const mpc_score_logreg_model *m, double *score,
                         uint8_t *flag) MPC_MUST_CHECK;
/* Scorecard: bins as in the double evaluation (same comparisons); score
 * within (d + 1) 2^-17 of the double sum; flag exact on the encoded sum,
 * hence equal to the double flag outside that band around threshold. */
mpc_err mpc_score_scorecard(mpc_party *p, const mpc_score_opts *o, const mpc_score_data *x,
                            const mpc_score_card_model *m, double *score,
                            uint8_t *flag) MPC_MUST_CHECK;
/* Trees: the comparisons are exact on the encoded values (round(v 2^16)), so
 * the path equals the double one unless a feature is within 2^-16 of a
 * threshold it meets; score within (n_trees + 1) 2^-17 of the double sum;
 * flag exact on the encoded sum. */
mpc_err mpc_score_tree(mpc_party *p, const mpc_score_opts *o, const mpc_score_data *x,
                       const mpc_score_tree_model *m, double *score, uint8_t *flag) MPC_MUST_CHECK;

/* Bound on the sigmoid's own error (mpc_math_sigmoid at f = 16, including
 * the output rounding), used in the logreg tolerance above. */
#define MPC_SCORE_SIGMOID_ERR (5.0 / 262144)

#endif
