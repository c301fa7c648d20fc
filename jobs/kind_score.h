/* computation = fraud_score (jobs/kind_score.c): its section's parameters
 * and its readers of features and models, shared by mpc-party (through the
 * registry) and the clear-text reference (examples/clear_score.c).
 *
 * [fraud_score]
 *   model = logreg|tree            logistic regression (a fed_avg model file),
 *                                  or an ensemble of complete decision trees
 *   trees = 1, depth = 3           tree: the public shape (1..16 trees, depth 1..8)
 *   model_owner = NAME             the party that supplies --model FILE
 *   asker = NAME                   the party that supplies --input FILE and
 *                                  alone receives the scores and flags
 *   features = f0-f7, log_amount, night, categories
 *                                  the model's inputs in order: columns of
 *                                  the asker's CSV, fA-fB ranges, and the
 *                                  derived log_amount = (ln amount - 4)/1.5,
 *                                  night = [hour < 6], category_NAME =
 *                                  [category == NAME], categories = the six
 *                                  gen_data categories (fed_avg's layout)
 *   threshold = 0.5                flag = score > threshold: in (0, 1) for
 *                                  logreg, any number for trees
 *   layout = horizontal            every feature at the asker, or vertical:
 *   holders = f4-f7 @ merchant2 | night @ merchant0
 *                                  (vertical) features held by other parties
 *                                  than the asker (which holds the rest); rows
 *                                  matched by the key column:
 *   key = txn_id                   the asker's keys, in its order, are the
 *                                  job's public transaction list
 *   max_rows = 1000000             bound on the asker's transactions
 *   max_feature = 1024             public bound on |feature|
 *   max_weight = 1024              public bound on |weight|, |intercept|
 *                                  (trees: |leaf value|, |base|) */
#ifndef KIND_SCORE_H
#define KIND_SCORE_H

#include <stddef.h>
#include <stdint.h>

#include "jobs/mpc_job.h"
#include "runtime/mpc_err.h"

#define MPC_SCORE_JOB_MAX_FEATURES 64
#define MPC_SCORE_JOB_MAX_GROUPS   16
#define MPC_SCORE_JOB_FEAT_NAME    40

enum { MPC_SCORE_JOB_LOGREG = 0, MPC_SCORE_JOB_TREE = 1 };
#define MPC_SCORE_JOB_MAX_DEPTH 8
#define MPC_SCORE_JOB_MAX_TREES 16

typedef struct {
	int owner, asker;
	int model;           /* MPC_SCORE_JOB_LOGREG or MPC_SCORE_JOB_TREE */
	size_t trees, depth; /* tree: public shape (complete trees) */
	double threshold, max_rows, max_feature, max_weight;
	size_t d;
	char feat[MPC_SCORE_JOB_MAX_FEATURES][MPC_SCORE_JOB_FEAT_NAME];
	int vertical;                           /* layout = vertical */
	int holder[MPC_SCORE_JOB_MAX_FEATURES]; /* party holding feature k (horizontal: the asker)
	                                         */
	char key[64];                           /* the column matching rows (vertical; and the id
	                                           written beside the scores): default txn_id */
} mpc_score_job;

/* The six gen_data categories (features = categories). */
extern const char *const mpc_score_job_categories[6];

/* Read the job's [fraud_score] section. MPC_ECONFIG "FILE:LINE:
 * [fraud_score] key: what". */
mpc_err mpc_score_job_parse(const mpc_job *j, mpc_score_job *sc) MPC_MUST_CHECK;
/* The job section's `features` (names, fA-fB ranges, categories) into
 * sc->feat and sc->d, for fraud_score and model_average. MPC_ECONFIG naming
 * the line. */
mpc_err mpc_score_job_parse_features(const mpc_job *j, mpc_score_job *sc) MPC_MUST_CHECK;
/* The spec of a state the kind's parse made (mpc_kind_find("fraud_score")). */
const mpc_score_job *mpc_score_job_of(const void *kind_state);

/* The features party `who` holds (all of them, horizontally, at the asker):
 * x (n x q, row-major, q = its features, caller wipes and frees) in the
 * job's order, and its key column (sc->key) if present (ids: n strings of
 * 40, or NULL; required in the vertical layout). Errors name file:line and
 * the column, never a value. */
mpc_err mpc_score_job_read_features(const char *path, const mpc_score_job *sc, int who,
                                    double **x_out, size_t *n_out,
                                    char (**ids_out)[40]) MPC_MUST_CHECK;
/* The model owner's file: CSV "input,weight", an "intercept" line and one
 * line per feature of the job (any order; fed_avg --model writes it). w: d. */
mpc_err mpc_score_job_read_logreg(const char *path, const mpc_score_job *sc, double *w,
                                  double *b) MPC_MUST_CHECK;
/* A tree ensemble (model = tree): CSV "kind,tree,index,feature,value" with
 *   base,,,,B                  the score's constant
 *   node,T,J,FEATURE,THRESHOLD internal node J (heap order, 0..2^depth-2) of
 *                              tree T: go to 2J+1 if x[FEATURE] < THRESHOLD
 *   leaf,T,L,,VALUE            leaf L (0..2^depth-1, left to right)
 * every node and leaf exactly once. feature: trees * (2^depth-1) indices,
 * thr the same, leaf trees * 2^depth. Errors name the file and line, never
 * a value. */
mpc_err mpc_score_job_read_tree(const char *path, const mpc_score_job *sc, uint32_t *feature,
                                double *thr, double *leaf, double *base) MPC_MUST_CHECK;
/* The double evaluation of a tree ensemble on one transaction; *near: some
 * node on the path compares a feature within 2^-16 of its threshold. */
double mpc_score_job_tree_eval(const mpc_score_job *sc, const uint32_t *feature, const double *thr,
                               const double *leaf, double base, const double *x, int *near);

#endif
