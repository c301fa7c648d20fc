/* bench_mpc's internal header: the rows (op kinds) of the table, what a
 * party reports about a timed part, and the functions the modules share.
 * bench_mpc.c holds main, the table and its JSON, and the options;
 * bench_ops.c the primitives' rows (multiplication .. sigmoid, the making of
 * material); bench_apps.c the merchant applications' rows. */
#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "circuits/mpc_bristol.h"
#include "protocols/core/mpc_party.h"
#include "runtime/mpc_ring.h"

typedef enum {
	OP_MUL,
	OP_MUL_A2A,  /* mpc_beaver_mul_with, every opening all-to-all (forced) */
	OP_MUL_KING, /* the same, every opening by the rotating king (forced) */
	OP_DOT,
	OP_FIXMUL,
	OP_TRIPLES,
	OP_OT_TRIPLES,
	OP_OT_BIT_TRIPLES,
	OP_OT_TRUNC,
	OP_PAILLIER_TRIPLES,
	OP_AES,
	OP_CMP,        /* mpc_cmp_ltz, online, material from a pool */
	OP_OT_CMP,     /* the making of that material by OT */
	OP_SIGMOID,    /* mpc_math_sigmoid, online, material from a pool */
	OP_OT_SIGMOID, /* the making of that material by OT */
	/* the merchant applications (bench_app), 3 parties, end to end unless noted */
	OP_AGG_STATS,     /* mpc_agg_run: count .. stddev, 16-bucket histogram */
	OP_AGG_MEDIAN,    /* mpc_agg_run: the median */
	OP_SCORE,         /* mpc_score_logreg, cross mode, 10^4 x 32 */
	OP_SCORE_ONLINE,  /* the same, material in stock, cross engine set up */
	OP_SCORE_LATENCY, /* one request (n = 1), material in stock: median */
	OP_SCORE_BEAVER,  /* online, Beaver mode, every triple in stock (dealer) */
} op_kind;

/* The op names, as the table and the JSON print them (bench_mpc.c). */
extern const char *const bench_op_names[];

/* What each party reports about the timed part. */
typedef struct {
	double seconds;
	uint64_t bytes, rounds;
	double peak_mib;
} bench_measure;

/* The AES-128 circuit, when ../shared is there (loaded by main). */
extern mpc_bristol *bench_aes_circuit;

/* The monotonic clock, in seconds. */
double bench_now(void);

/* Line the parties up so that nobody's clock starts early. */
mpc_err bench_line_up(mpc_party *p) MPC_MUST_CHECK;

/* Whether op is among the rows --only asks for (all without --only). */
int bench_selected(op_kind op);

/* One line of the table and of the JSON. */
void bench_print_row(op_kind op, int tls, mpc_ring r, int parties, size_t batch, double best,
                     uint64_t bytes, uint64_t rounds, double peak);

/* A primitive's row (op up to OP_OT_SIGMOID): run it `reps` times over
 * loopback tcp (TLS if tls), print the best time and the worst party's
 * bytes and memory. 0, or -1 after a message (and 0 without a line when op
 * is not selected). */
int bench_op(op_kind op, mpc_ring r, int parties, size_t batch, int reps, int tls);

/* An application's row (OP_AGG_STATS and after; OP_SCORE prints the
 * end-to-end and the online row). 0 or -1, as bench_op. */
int bench_app(op_kind op, int reps);

#endif
