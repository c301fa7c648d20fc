/* Boolean circuits in Bristol Fashion (basic and extended):
 *
 *   ngates nwires
 *   niv n_1 ... n_niv          input values and their widths in wires
 *   nov m_1 ... m_nov          output values and their widths
 *   nin nout in... out... OP   one gate a line, in topological order; OP is
 *                              XOR, AND (2 in, 1 out), INV, EQW (1 in, 1 out),
 *                              EQ (1 1 c w: w = constant c), MAND (2n in, n out)
 *
 * Inputs are the first wires, value after value; outputs the last wires. Within
 * a value, wire i is bit i (least significant first), as adder64 on 1 + 2
 * shows. MAND is expanded into ANDs at load. The loader rejects a malformed
 * file with its name and line: a bad count, an unknown operation, a wire out
 * of range, a wire read before it is written or written twice. */
#ifndef MPC_BRISTOL_H
#define MPC_BRISTOL_H

#include "runtime/mpc_err.h"
#include <stddef.h>
#include <stdint.h>

typedef enum { MPC_G_XOR, MPC_G_AND, MPC_G_INV, MPC_G_EQ, MPC_G_EQW } mpc_gate_op;

typedef struct {
	uint32_t a, b, out; /* EQ: a is the constant; INV/EQW: b unused */
	uint8_t op;
	uint32_t level; /* AND depth: ANDs on the longest path to this gate's output */
} mpc_gate;

typedef struct {
	uint32_t n_wires, n_gates; /* n_gates after MAND expansion */
	uint32_t n_in, n_out;
	uint32_t *in_width, *out_width;
	mpc_gate *gates;
	uint32_t n_and, depth; /* AND gates, AND depth */
} mpc_bristol;

mpc_err mpc_bristol_load(const char *path, mpc_bristol **out) MPC_MUST_CHECK;
/* The same from text; name is used in messages. */
mpc_err mpc_bristol_parse(const char *name, const char *text, size_t len,
                          mpc_bristol **out) MPC_MUST_CHECK;
void mpc_bristol_free(mpc_bristol *c);

/* First wire of input value v / output value v. */
uint32_t mpc_bristol_in_wire(const mpc_bristol *c, uint32_t v);
uint32_t mpc_bristol_out_wire(const mpc_bristol *c, uint32_t v);

/* Evaluate in the clear on one instance: in holds every input wire's bit
 * (one byte each, 0 or 1, values one after another); out gets every output
 * wire's bit. For tests and references. */
mpc_err mpc_bristol_eval_clear(const mpc_bristol *c, const uint8_t *in,
                               uint8_t *out) MPC_MUST_CHECK;

#endif
