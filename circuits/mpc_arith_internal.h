/* Internals of the arithmetic circuit shared by the loader, writer, builder
 * and clear evaluator (circuits/mpc_arith*.c) and the MPC evaluator
 * (circuits/eval/mpc_arith_eval.c). Not installed, not for callers. */
#ifndef MPC_ARITH_INTERNAL_H
#define MPC_ARITH_INTERNAL_H

#include "circuits/mpc_arith.h"
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* One wire: the definition that writes it (an input, a constant or a gate). */
typedef struct {
	uint8_t op;      /* mpc_arith_op */
	uint8_t type;    /* mpc_arith_type of the result */
	uint8_t pub;     /* 1: the value is public (a constant or computed from constants only) */
	uint8_t cfix;    /* CMUL/ADDC: the constant was written in fixed point */
	int32_t a, b, c; /* operand wires, -1 if unused */
	uint32_t L;      /* group length (DOT, SUM, MAX, MIN, ARGMAX, ARGMIN) or bits (TRUNC*) */
	int party;       /* INPUT: owner */
	size_t len;      /* elements of the result */
	size_t nval;     /* CONST: values stored (1: every element equal, or len) */
	mpc_u128 *val;   /* CONST: nval encoded values; CMUL/ADDC: one encoded constant */
	char *name;
	uint32_t level; /* interactive layer: 0 for inputs, constants and local gates on them */
	uint32_t line;  /* where it was defined in the file (0: built) */
} mpc_arith_wire;

typedef struct {
	int32_t wire;
	int party; /* MPC_ARITH_ALL or a party */
} mpc_arith_out;

struct mpc_arith {
	mpc_ring ring;
	unsigned frac;
	int parties;
	char *party_name[MPC_ARITH_MAX_PARTIES];
	mpc_arith_wire *w;
	size_t n_w, cap_w;
	int32_t *in; /* wire ids of the inputs, in order */
	size_t n_in, cap_in;
	mpc_arith_out *out;
	size_t n_out, cap_out;
	/* name -> wire id (open addressing, ids + 1, 0 empty) */
	int32_t *hash;
	size_t hash_cap;
	uint32_t depth;
	mpc_err err; /* sticky builder error */
	char err_text[256];
};

/* Element i of a ring array, and storing one (by memcpy: callers' buffers
 * need not be aligned). */
static inline mpc_u128 mpc_arith_get(mpc_ring r, const void *a, size_t i) {
	if (r == MPC_Z64) {
		uint64_t v;
		memcpy(&v, (const uint8_t *)a + 8 * i, 8);
		return v;
	}
	mpc_u128 v;
	memcpy(&v, (const uint8_t *)a + 16 * i, 16);
	return v;
}

static inline void mpc_arith_put(mpc_ring r, void *a, size_t i, mpc_u128 v) {
	if (r == MPC_Z64) {
		uint64_t w = (uint64_t)v;
		memcpy((uint8_t *)a + 8 * i, &w, 8);
	} else {
		memcpy((uint8_t *)a + 16 * i, &v, 16);
	}
}

/* The signed value of a ring element (Z_2^64 sign-extended). */
static inline mpc_i128 mpc_arith_signed(mpc_ring r, mpc_u128 v) {
	return r == MPC_Z64 ? (mpc_i128)(int64_t)(uint64_t)v : (mpc_i128)v;
}

/* Interactive kind of a wire under MPC. */
enum {
	MPC_ARITH_K_LOCAL,  /* no communication */
	MPC_ARITH_K_BEAVER, /* secret x secret products (MUL, DOT, SELECT), maybe then a truncation
	                     */
	MPC_ARITH_K_TRUNC,  /* a probabilistic truncation only */
	MPC_ARITH_K_NL      /* a call into protocols/nonlinear/mpc_cmp.h or mpc_math.h */
};
int mpc_arith_kind(const mpc_arith *c, const mpc_arith_wire *w);
/* 1 if a Beaver or local product of this wire is followed by a truncation by frac. */
int mpc_arith_truncates(const mpc_arith *c, const mpc_arith_wire *w);

/* Compute wire w from its operand values A, B, C (NULL if unused) into out
 * (w->len elements, allocated). On clear values this is the clear evaluator;
 * the MPC evaluator uses it on shares for the gates that are linear in their
 * secret operands. notrunc: leave a fixed-point product untruncated. */
mpc_err mpc_arith_clear_gate(const mpc_arith *c, const mpc_arith_wire *w, const mpc_vec *A,
                             const mpc_vec *B, const mpc_vec *C, mpc_vec *out,
                             int notrunc) MPC_MUST_CHECK;

/* ---- shared by the loader, the builder, the writer and the evaluators
 * (circuits/mpc_arith.c) ---- */

/* An operation as written in files: its name, its operand signature (w a
 * wire, n a positive integer, v a number, t a type) and its usage line. */
typedef struct {
	const char *name, *sig, *usage;
} mpc_arith_op_desc;

extern const mpc_arith_op_desc mpc_arith_ops[MPC_A_OP_COUNT];

static inline const char *mpc_arith_type_name(int t) {
	return t == MPC_ARITH_FIX ? "fix" : "int";
}

/* Double the array *p of *cap elements of elem bytes (first: the first
 * capacity). 0, or -1 out of memory with *p untouched. */
int mpc_arith_grow(void **p, size_t *cap, size_t elem, size_t first);

/* A wire or party name: a letter or '_' then letters, digits, '_' or '.'. */
int mpc_arith_valid_name(const char *s);

/* A fresh empty circuit after checking ring, frac and parties; on failure
 * MPC_EINVAL or MPC_ENOMEM with what was wrong in msg (no error recorded:
 * the caller names the file or the call). */
mpc_err mpc_arith_new_circuit(mpc_arith **out, mpc_ring r, unsigned frac, int parties, char *msg,
                              size_t msz);

/* Append one definition after every check of the format (names, lengths,
 * types, parties); line is where the file defines it (0: built). The wire id,
 * or -1 with what was wrong in msg (no error recorded). vals (CONST) is taken
 * over, freed on failure. The output: 0 or -1 the same way. */
int mpc_arith_make_gate(mpc_arith *c, const char *name, uint32_t line, int op, int32_t a, int32_t b,
                        int32_t cc, uint64_t L, int cfix, mpc_u128 cval, int as_type, char *msg,
                        size_t msz);
int mpc_arith_make_input(mpc_arith *c, const char *name, uint32_t line, int party, size_t len,
                         int t, char *msg, size_t msz);
int mpc_arith_make_const(mpc_arith *c, const char *name, uint32_t line, int t, size_t len,
                         mpc_u128 *vals, size_t nv, char *msg, size_t msz);
int mpc_arith_make_output(mpc_arith *c, int32_t wire, int party, char *msg, size_t msz);

/* A real in the circuit's fixed point, rounded to nearest: 1, or 0 if it
 * is not finite or out of range. */
int mpc_arith_encode_fix(const mpc_arith *c, double v, mpc_u128 *out);

#endif
