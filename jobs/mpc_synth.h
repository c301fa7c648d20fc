/* The synthetic merchant-transaction generator: a deterministic input source
 * for gen_data, fed_avg's demo data and the tests that make their own data.
 * The same parameters (seed included) give byte-identical files.
 *
 * The model. A hidden weight vector w (one weight per numeric feature f0..),
 * category risks and an intercept, all drawn from the seed, define one
 * logistic pattern for every merchant:
 *   P(fraud | row) = sigmoid(bias + w.x + risk[category]
 *                            + W_AMOUNT * (ln amount - 4) / 1.5 + W_NIGHT * [hour < 6])
 * Merchants share that pattern but not their customers (covariate shift):
 * each has its own category mix, share of night-time sales, spending level,
 * and per-feature mean and spread; on about a third of the features its
 * customers barely vary (spread 0.15), so that merchant alone cannot learn
 * those weights, and its base fraud rate follows from its mix. Card ids come
 * from one pool shared by every merchant (a few cards shop a lot), and
 * transaction ids are unique over everything one run writes, except the
 * overlap rows, which are the same transaction (same key, same record) in
 * every merchant's file: a join key for the vertical setting.
 *
 * Randomness: splitmix64 streams derived from the seed, one per purpose and
 * merchant: the hidden pattern and a merchant's customers depend only on the
 * seed and the feature count, and a merchant's rows do not depend on the
 * other merchants (its first k rows are the same for any row count, but for
 * the card and transaction ids, which depend on the pool size and on the row
 * counts). */
#ifndef MPC_SYNTH_H
#define MPC_SYNTH_H

#include <stdint.h>
#include <stdio.h>

#include "runtime/mpc_err.h"

#define MPC_SYNTH_MAX_MERCHANTS 64
#define MPC_SYNTH_MAX_FEATURES  1024
/* the categories: grocery, fuel, restaurant, electronics, travel, online */
#define MPC_SYNTH_N_CATS 6
/* mpc_csv (aggregate_stats, mpc-party) reads at most 64 columns: 6 + F in a
 * merchant's file, 7 + F in the held-out file */
#define MPC_SYNTH_CSV_FEATURES_OK 57

/* What mpc_synth_write writes. */
typedef struct {
	int merchants;  /* 1..MPC_SYNTH_MAX_MERCHANTS */
	long rows;      /* per merchant, plus 0..20% more (each merchant its own) */
	int features;   /* numeric columns f0..f(F-1), 0..MPC_SYNTH_MAX_FEATURES */
	long holdout;   /* rows of DIR/holdout.csv (0: none) */
	double overlap; /* fraction of rows that are the same transactions in every file */
	long cards;     /* card pool (0: merchants*rows/4, at least 1) */
	unsigned long long seed;
	FILE *log; /* a line per file written (rows, fraud rate) goes here; NULL: none */
} mpc_synth_params;

/* 3 merchants of 1000 rows, 8 features, seed 1, no holdout, no log. */
void mpc_synth_params_default(mpc_synth_params *sp);

/* The name of category c (0..MPC_SYNTH_N_CATS-1), as the files spell it;
 * static storage. */
const char *mpc_synth_category(int c);

/* Write DIR/merchant0.csv ... (and DIR/holdout.csv if sp->holdout > 0),
 * each atomically; DIR is made if missing. Columns:
 *   amount,fraud,category,txn_id,card_id,hour,f0,...,f(F-1)[,merchant]
 * MPC_EINVAL for bad parameters, MPC_EIO naming the path, MPC_ENOMEM. */
mpc_err mpc_synth_write(const mpc_synth_params *sp, const char *dir) MPC_MUST_CHECK;

#endif
