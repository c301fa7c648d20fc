/* Arithmetic circuits over Z_2^64 / Z_2^128: our own text format (".arc"),
 * its loader and writer, a C builder and a clear evaluator. Circuits are
 * data: this header depends on runtime/ only.
 *
 * A circuit is a list of definitions in topological order. Every wire is a
 * vector with a length (a batch: 10^4 transactions x 32 features is one wire
 * of 320,000 elements), a type (int: raw ring elements; fix: fixed point with
 * the circuit's `frac` fractional bits) and a visibility (secret, or public
 * when it is a constant or computed from constants only).
 *
 *   # comment (anywhere on a line)
 *   arith 1 ring 128 frac 16 parties 2     header: version, ring, F, parties
 *   party 0 bank                           optional names for parties
 *   input x bank 320 fix                   NAME PARTY LEN [int|fix] (int if absent)
 *   const w fix 32 0.5 -1.25 ...           NAME TYPE LEN v_1 [.. v_LEN] (1 value: all equal)
 *   s = DOT x w 32                         NAME = OP operands...
 *   output s all                           WIRE all|PARTY
 *
 * Operations (A, B, C wires; L, K positive integers; V a number):
 *   ADD A B, SUB A B, NEG A          same type; result length: see broadcasting
 *   MUL A B                          int*int: int; int*fix: fix; fix*fix: fix,
 *                                    product then truncation by F (probabilistic)
 *   DOT A B L                        sums of L products: A and B of length m*L,
 *                                    or one of them of length L (broadcast to every
 *                                    row); result length m; fix*fix truncates once
 *   SUM A L                          sums of groups of L: length m*L -> m
 *   CMUL A V                         V an integer: exact, type of A; V written with
 *                                    '.' or an exponent: fixed point, result fix,
 *                                    truncated by F if A is fix
 *   ADDC A V                         A + V (V in A's type; an int A needs an integer)
 *   TRUNC A K, TRUNC_EXACT A K       floor(A / 2^K): probabilistic (mpc_trunc: floor
 *                                    or floor + 1) or exact (mpc_trunc_exact)
 *   TOFIX A                          int -> fix (times 2^F, local)
 *   AS A int|fix                     reinterpret the ring elements, no computation
 *   LTZ A, LT A B, EQ A B            0/1 of type int (A, B of one type)
 *   SELECT C A B                     C ? A : B, C an int 0/1 (one Beaver product)
 *   RELU A                           max(A, 0)
 *   MAX A L, MIN A L                 per group of L; ARGMAX A L, ARGMIN A L: the
 *                                    smallest index in the group attaining it (int)
 *   RECIP A, DIV A B, SQRT A, EXP A, SIGMOID A    fix only (protocols/nonlinear/mpc_math.h)
 *
 * Broadcasting: the operands of ADD, SUB, MUL, LT, EQ, DIV and SELECT have one
 * length n or length 1 (a length-1 operand is repeated n times); the result
 * has length n. For DOT see above. Anything else is a length mismatch.
 *
 * Numbers: integers are decimal, signed, within the ring's signed range; a
 * fixed-point value is any decimal (with optional '.' and exponent), encoded
 * as round(v * 2^F) exactly (no double rounding), |v| < 2^(k-1-F).
 *
 * The evaluator under MPC (mpc_arith_run) is in circuits/eval/mpc_arith_eval.h;
 * mpc_arith_get_info counts the rounds and material it will cost. */
#ifndef MPC_ARITH_H
#define MPC_ARITH_H

#include "runtime/mpc_err.h"
#include "runtime/mpc_ring.h"
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MPC_ARITH_VERSION     1
#define MPC_ARITH_MAX_PARTIES 16
/* Largest length of one wire, and of one group (L). */
#define MPC_ARITH_MAX_LEN ((size_t)1 << 28)
/* Output target meaning every party. */
#define MPC_ARITH_ALL (-1)

typedef enum { MPC_ARITH_INT = 0, MPC_ARITH_FIX = 1 } mpc_arith_type;

typedef enum {
	MPC_A_INPUT,
	MPC_A_CONST,
	MPC_A_ADD,
	MPC_A_SUB,
	MPC_A_NEG,
	MPC_A_MUL,
	MPC_A_DOT,
	MPC_A_SUM,
	MPC_A_CMUL,
	MPC_A_ADDC,
	MPC_A_TRUNC,
	MPC_A_TRUNC_EXACT,
	MPC_A_TOFIX,
	MPC_A_AS,
	MPC_A_LTZ,
	MPC_A_LT,
	MPC_A_EQ,
	MPC_A_SELECT,
	MPC_A_RELU,
	MPC_A_MAX,
	MPC_A_MIN,
	MPC_A_ARGMAX,
	MPC_A_ARGMIN,
	MPC_A_RECIP,
	MPC_A_DIV,
	MPC_A_SQRT,
	MPC_A_EXP,
	MPC_A_SIGMOID,
	MPC_A_OP_COUNT
} mpc_arith_op;

typedef struct mpc_arith mpc_arith; /* opaque */

/* Load a circuit file. A malformed file is MPC_ECONFIG with the detail
 * "file:line: what was expected"; MPC_EIO if it cannot be read. Caller
 * frees with mpc_arith_free. */
mpc_err mpc_arith_load(const char *path, mpc_arith **out) MPC_MUST_CHECK;
/* The same from text; name is used in messages. */
mpc_err mpc_arith_parse(const char *name, const char *text, size_t len,
                        mpc_arith **out) MPC_MUST_CHECK;
/* NULL does nothing. */
void mpc_arith_free(mpc_arith *c);

/* Write the circuit in the text format (canonical: parsing it gives the
 * same circuit, writing that gives the same text). MPC_EIO on a write
 * error; the builder's sticky error if it has one. */
mpc_err mpc_arith_write(const mpc_arith *c, FILE *fp) MPC_MUST_CHECK;
/* The same into a fresh NUL-terminated string (caller frees). */
mpc_err mpc_arith_text(const mpc_arith *c, char **text, size_t *len) MPC_MUST_CHECK;

/* ---- builder ----
 * Each call appends one definition and returns its wire id (>= 0). A bad
 * call (unknown wire, length or type mismatch, bad party, name taken ...)
 * returns -1 and records the first such error in the circuit (sticky: later
 * calls on a failed circuit return -1 too); mpc_arith_check returns it, and
 * write and the evaluators refuse such a circuit. name may be NULL (a name
 * "_<id>" is made). The same checks as the loader. */
mpc_err mpc_arith_new(mpc_arith **out, mpc_ring r, unsigned frac, int parties) MPC_MUST_CHECK;
/* The builder's first error (MPC_OK if none), its detail set again. */
mpc_err mpc_arith_check(const mpc_arith *c) MPC_MUST_CHECK;
/* Name party i (used by the writer, and by files in input/output lines). */
mpc_err mpc_arith_name_party(mpc_arith *c, int party, const char *name) MPC_MUST_CHECK;
int mpc_arith_input(mpc_arith *c, const char *name, int party, size_t len, mpc_arith_type t);
/* A public constant of len elements from nv values (nv = 1: all equal, or
 * nv = len): raw integers, or reals encoded in fixed point (MPC_ERANGE-like
 * failure if one is out of range or not finite). */
int mpc_arith_const_int(mpc_arith *c, const char *name, size_t len, const int64_t *v, size_t nv);
int mpc_arith_const_fix(mpc_arith *c, const char *name, size_t len, const double *v, size_t nv);
int mpc_arith_add(mpc_arith *c, const char *name, int a, int b);
int mpc_arith_sub(mpc_arith *c, const char *name, int a, int b);
int mpc_arith_neg(mpc_arith *c, const char *name, int a);
int mpc_arith_mul(mpc_arith *c, const char *name, int a, int b);
int mpc_arith_dot(mpc_arith *c, const char *name, int a, int b, size_t L);
int mpc_arith_sum(mpc_arith *c, const char *name, int a, size_t L);
/* CMUL / ADDC by an integer or a fixed-point constant (see the format). */
int mpc_arith_cmul_int(mpc_arith *c, const char *name, int a, int64_t k);
int mpc_arith_cmul_fix(mpc_arith *c, const char *name, int a, double k);
int mpc_arith_addc_int(mpc_arith *c, const char *name, int a, int64_t k);
int mpc_arith_addc_fix(mpc_arith *c, const char *name, int a, double k);
int mpc_arith_trunc(mpc_arith *c, const char *name, int a, unsigned bits);
int mpc_arith_trunc_exact(mpc_arith *c, const char *name, int a, unsigned bits);
int mpc_arith_tofix(mpc_arith *c, const char *name, int a);
int mpc_arith_as(mpc_arith *c, const char *name, int a, mpc_arith_type t);
int mpc_arith_ltz(mpc_arith *c, const char *name, int a);
int mpc_arith_lt(mpc_arith *c, const char *name, int a, int b);
int mpc_arith_eq(mpc_arith *c, const char *name, int a, int b);
int mpc_arith_select(mpc_arith *c, const char *name, int cond, int a, int b);
int mpc_arith_relu(mpc_arith *c, const char *name, int a);
int mpc_arith_max(mpc_arith *c, const char *name, int a, size_t L);
int mpc_arith_min(mpc_arith *c, const char *name, int a, size_t L);
int mpc_arith_argmax(mpc_arith *c, const char *name, int a, size_t L);
int mpc_arith_argmin(mpc_arith *c, const char *name, int a, size_t L);
int mpc_arith_recip(mpc_arith *c, const char *name, int a);
int mpc_arith_div(mpc_arith *c, const char *name, int a, int b);
int mpc_arith_sqrt(mpc_arith *c, const char *name, int a);
int mpc_arith_exp(mpc_arith *c, const char *name, int a);
int mpc_arith_sigmoid(mpc_arith *c, const char *name, int a);
/* Output wire to every party (MPC_ARITH_ALL) or to one party only. */
mpc_err mpc_arith_output(mpc_arith *c, int wire, int party) MPC_MUST_CHECK;

/* ---- what a circuit has ---- */
typedef struct {
	const char *name; /* borrowed from the circuit */
	int party;        /* input: owner; output: receiver or MPC_ARITH_ALL */
	size_t len;
	mpc_arith_type type;
	int wire;
} mpc_arith_port;

mpc_ring mpc_arith_ring(const mpc_arith *c);
unsigned mpc_arith_frac(const mpc_arith *c);
/* Parties the circuit needs (it runs on this many or more). */
int mpc_arith_parties(const mpc_arith *c);
size_t mpc_arith_n_inputs(const mpc_arith *c);
size_t mpc_arith_n_outputs(const mpc_arith *c);
/* Input / output i (i below the count; abort() otherwise: a caller's bug). */
mpc_arith_port mpc_arith_input_at(const mpc_arith *c, size_t i);
mpc_arith_port mpc_arith_output_at(const mpc_arith *c, size_t i);
/* Index of the input / output named `name` (output: the first), -1 if none. */
int mpc_arith_find_input(const mpc_arith *c, const char *name);
int mpc_arith_find_output(const mpc_arith *c, const char *name);
/* Wire id of a name, -1 if none. */
int mpc_arith_find_wire(const mpc_arith *c, const char *name);

typedef struct {
	uint32_t wires, gates;    /* definitions; those that are not inputs or constants */
	uint32_t depth;           /* interactive layers */
	uint32_t beaver_layers;   /* layers with secret x secret products: 1 opening each */
	uint32_t trunc_layers;    /* layers with probabilistic truncations: 1 round each */
	uint32_t nonlinear_calls; /* calls into mpc_cmp/mpc_math (one per kind per layer) */
	uint32_t output_rounds;   /* 1 if a secret wire is an output, else 0 */
	uint64_t products;        /* Beaver triples used */
	uint64_t truncations;     /* truncation pairs used */
	uint64_t elements;        /* sum of all wire lengths (memory: at most this many
	                             ring elements live at once, usually far fewer) */
	/* online rounds when nonlinear_calls == 0, every opening fits in
	 * MPC_OPEN_MAX_ELEMS and mpc_open opens it all-to-all (mpc_open_choice;
	 * the king takes two): beaver_layers + trunc_layers + output_rounds */
	uint32_t rounds;
} mpc_arith_info;

void mpc_arith_get_info(const mpc_arith *c, mpc_arith_info *info);

/* ---- evaluation ----
 * in[i]: the values of input i (mpc_arith_input_at(c, i).len ring elements
 * of the circuit's ring, raw: fixed-point values already encoded with
 * runtime/mpc_fixed.h). out[j]: room for output j's elements. */

/* Evaluate in the clear: ring arithmetic for the linear gates and products
 * (a truncation is the floor, as an exact shift), exact comparisons, and
 * libm in double precision for RECIP, DIV, SQRT, EXP and SIGMOID (rounded to
 * nearest). MPC_ERANGE names the gate (never the value) for a division by
 * zero, the root of a negative number or a result out of range. Every in[]
 * and out[] is needed. */
mpc_err mpc_arith_eval_clear(const mpc_arith *c, const void *const *in,
                             void *const *out) MPC_MUST_CHECK;

/* Name of an operation as written in files ("ADD"), or "?" */
const char *mpc_arith_op_name(mpc_arith_op op);

#endif
