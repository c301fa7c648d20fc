/* The Bristol Fashion circuit evaluator under MPC: a boolean circuit of
 * circuits/mpc_bristol.h on XOR shares, bit-sliced over a batch of
 * instances, with the AND layers of protocols/nonlinear/mpc_bool.h. */
#ifndef MPC_BOOL_EVAL_H
#define MPC_BOOL_EVAL_H

#include "circuits/mpc_bristol.h"
#include "protocols/core/mpc_party.h"
#include "runtime/mpc_err.h"
#include <stddef.h>
#include <stdint.h>

/* Evaluate circuit c on `batch` instances and open its outputs to everyone.
 * Input value v is owned by party owner[v], which passes in[v]: width(v)
 * wires of ceil(batch/64) words each (wire-major; NULL at the other parties).
 * out[v] (every party) gets output value v in the same layout. Rounds: one
 * per AND layer plus one to open; bit triples: n_and * ceil(batch/64) words,
 * fetched in one call before the first layer. Collective. */
mpc_err mpc_bool_run(mpc_party *p, const mpc_bristol *c, size_t batch, const int *owner,
                     const uint64_t *const *in, uint64_t *const *out) MPC_MUST_CHECK;

#endif
