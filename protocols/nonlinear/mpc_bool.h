/* Boolean (XOR) sharing, bit-sliced: a shared wire over a batch of B
 * instances is ceil(B/64) 64-bit words per party, instance i in bit i%64 of
 * word i/64; the XOR of the parties' words is the value. XOR and NOT are
 * local; AND uses a bit triple and one round, and all ANDs of one layer of a
 * circuit share that round (mpc_bool_and_layer). The Bristol circuit
 * evaluator built on these is circuits/eval/mpc_bool_eval.h. */
#ifndef MPC_BOOL_H
#define MPC_BOOL_H

#include "protocols/core/mpc_party.h"
#include "protocols/core/mpc_preproc.h"
#include "runtime/mpc_err.h"
#include <stddef.h>
#include <stdint.h>

/* Share `words` words owned by `owner` (in: its values; NULL elsewhere) into
 * out at every party. Sends nothing: the other parties draw their shares from
 * the pairwise streams. Collective. */
mpc_err mpc_bool_input(mpc_party *p, int owner, const uint64_t *in, uint64_t *out,
                       size_t words) MPC_MUST_CHECK;

/* XOR a fresh sharing of zero into `words` shared words in place: for every
 * other party j, the next words of the stream shared with j (the pair's two
 * draws cancel). The value is unchanged; call it before opening an output
 * whose shares may carry a party's partial result. Sends nothing;
 * collective (same words, same point, at every party). */
mpc_err mpc_bool_rerandomise(mpc_party *p, uint64_t *share, size_t words) MPC_MUST_CHECK;

/* Open shared words to every party (one round). Opens the shares as they
 * are: for masked values (AND, B2A); outputs go through
 * mpc_bool_open_output. */
mpc_err mpc_bool_open(mpc_party *p, const uint64_t *share, uint64_t *out,
                      size_t words) MPC_MUST_CHECK;

/* Open an output to all: mpc_bool_rerandomise on share (in place), then
 * mpc_bool_open into out (which may alias share). */
mpc_err mpc_bool_open_output(mpc_party *p, uint64_t *share, uint64_t *out,
                             size_t words) MPC_MUST_CHECK;

/* z = x AND y on `words` words with the bit triples t (words each), one round. */
mpc_err mpc_bool_and(mpc_party *p, const uint64_t *x, const uint64_t *y, uint64_t *z,
                     size_t words) MPC_MUST_CHECK;

/* n ANDs z[g] = x[g] AND y[g] (words words each) in one opening of
 * 2 * n * words words, however large (mpc_bool_and_layer splits it at
 * MPC_OPEN_MAX_ELEMS), with the bit triples a, b, c (n * words words each,
 * borrowed) and the scratch de (2 * n * words words; left holding the opened
 * masks). Every input is read before any output is written. Collective. */
mpc_err mpc_bool_and_many(mpc_party *p, const uint64_t *a, const uint64_t *b, const uint64_t *c,
                          const uint64_t *const *x, const uint64_t *const *y, uint64_t *const *z,
                          size_t n, size_t words, uint64_t *de) MPC_MUST_CHECK;

/* One AND of a layer for mpc_bool_and_layer: z = x AND y, or z ^= x AND y
 * when acc is set (words words each). */
typedef struct {
	const uint64_t *x, *y;
	uint64_t *z;
	int acc;
} mpc_bool_gate;

/* Append gate to the growing array *g of *n gates (capacity *cap, doubled
 * from 256 when full; free(*g) when done). MPC_OK, or MPC_ENOMEM with the
 * array unchanged and no error recorded: the caller names its step. */
mpc_err mpc_bool_gates_push(mpc_bool_gate **g, size_t *n, size_t *cap,
                            mpc_bool_gate gate) MPC_MUST_CHECK;

/* The layer queued in g[0..*ng-1] (words words a gate), for circuits built
 * gate by gate: unless counting, one mpc_bool_and_layer on the bit triples
 * of t from *off on, *off moved past them (also on an error); either way
 * *n_and grows by *ng and *ng becomes 0. Collective unless counting. */
mpc_err mpc_bool_gates_flush(mpc_party *p, const mpc_bit_triples *t, size_t *off,
                             const mpc_bool_gate *g, size_t *ng, size_t words, int counting,
                             size_t *n_and) MPC_MUST_CHECK;

/* n independent ANDs of `words` words each in one round (one per
 * MPC_OPEN_MAX_ELEMS words of 2 * n * words opened), with the bit
 * triples of t from word `off` on (n * words words of t are consumed;
 * borrowed). Every input is read before any output is written, so an output
 * may alias an input of another gate of the layer (two gates must not write
 * the same z). Collective; MPC_EINVAL if t is too short. */
mpc_err mpc_bool_and_layer(mpc_party *p, const mpc_bit_triples *t, size_t off,
                           const mpc_bool_gate *g, size_t n, size_t words) MPC_MUST_CHECK;

#endif
