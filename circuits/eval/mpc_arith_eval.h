/* The arithmetic circuit evaluator under MPC (additive shares over the
 * circuit's ring, protocols/): a circuit of circuits/mpc_arith.h run by a
 * connected party. The circuit itself (format, loader, builder, clear
 * evaluator) is in circuits/mpc_arith.h.
 *
 * Rounds: gates are grouped in layers of interactive depth (level = max
 * over operands + 1 for an interactive gate).
 * Per layer: one round opening the masked values of every secret x secret
 * product of the layer (MUL, DOT, SELECT), one round for all its
 * probabilistic truncations (fix products, CMUL by a fixed-point constant,
 * TRUNC), and one call per nonlinear kind (LTZ, LT, EQ, RELU, MAX/MIN and
 * their arg versions per group length, TRUNC_EXACT per K, RECIP, DIV, SQRT,
 * EXP, SIGMOID) with all of that layer's gates of that kind concatenated,
 * costing that function's rounds. Then one round delivers every output (to
 * all or to one party). Inputs send nothing. So a circuit of only linear
 * gates, MUL, DOT, SELECT and truncations costs
 *   beaver_layers + trunc_layers + output_rounds
 * online rounds (mpc_arith_info), each opening split into rounds of
 * MPC_OPEN_MAX_ELEMS elements when larger, and two rounds where mpc_open
 * picks the rotating king (mpc_open_choice: N >= 3 and a large opening;
 * protocols/core/mpc_share.h); the preprocessing for each layer
 * (triples, truncation pairs) is fetched in one call per kind, which costs
 * no round at parties 0..N-2 with the dealer. */
#ifndef MPC_ARITH_EVAL_H
#define MPC_ARITH_EVAL_H

#include "circuits/mpc_arith.h"
#include "protocols/core/mpc_party.h"
#include "runtime/mpc_err.h"
#include <stdint.h>

/* in[] and out[] as for mpc_arith_eval_clear (circuits/mpc_arith.h). */
typedef struct {
	uint64_t rounds;          /* network rounds at this party during the run */
	uint32_t beaver_openings; /* mpc_open calls for products */
	uint32_t trunc_calls;     /* truncation rounds */
	uint32_t nonlinear_calls; /* calls into mpc_cmp / mpc_math */
	uint32_t preproc_calls;   /* fetches of triples / truncation pairs */
} mpc_arith_run_stats;

/* Evaluate under MPC at party p (collective: every party of p's cluster calls
 * it with the same circuit; the cluster has at least mpc_arith_parties(c)
 * parties). in[i] is read at input i's owner only (others may pass NULL
 * or NULL entries). out[j] is written at the parties that receive output j
 * (every party for `all`) and untouched elsewhere; entries elsewhere may be
 * NULL. st (may be NULL) gets what the run cost. Fixed-point products and
 * TRUNC have the error and range of mpc_trunc; nonlinear gates those of
 * protocols/nonlinear/mpc_cmp.h and mpc_math.h. */
mpc_err mpc_arith_run(mpc_party *p, const mpc_arith *c, const void *const *in, void *const *out,
                      mpc_arith_run_stats *st) MPC_MUST_CHECK;

#endif
