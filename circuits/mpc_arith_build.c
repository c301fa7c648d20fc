/* Arithmetic circuits: the C builder (see mpc_arith.h), one call per
 * definition, with the loader's checks and a sticky first error. */
#include "circuits/mpc_arith_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------- the builder ---------- */

mpc_err mpc_arith_check(const mpc_arith *c) {
	if (c == NULL)
		return mpc_error(MPC_EINVAL, "no circuit");
	if (c->err != MPC_OK)
		return mpc_error(c->err, "arith builder: %s", c->err_text);
	return MPC_OK;
}

static int built(mpc_arith *c, int id, const char *msg) {
	if (id < 0 && c->err == MPC_OK) {
		c->err = strcmp(msg, "out of memory") == 0 ? MPC_ENOMEM : MPC_EINVAL;
		snprintf(c->err_text, sizeof(c->err_text), "%s", msg);
		mpc_error(c->err, "arith builder: %s", c->err_text);
	}
	return id;
}

static int gate(mpc_arith *c, const char *name, int op, int a, int b, int cc, uint64_t L, int cfix,
                mpc_u128 cval, int as_type) {
	char msg[256];
	int nops =
	    (int)strlen(mpc_arith_ops[op].sig) - (strpbrk(mpc_arith_ops[op].sig, "nvt") != NULL);
	if (c->err != MPC_OK)
		return -1;
	if (a < 0 || (nops > 1 && b < 0) || (nops > 2 && cc < 0))
		return built(c, -1, "an operand is not a wire (an earlier call failed?)");
	return built(c,
	             mpc_arith_make_gate(c, name, 0, op, a, nops > 1 ? b : -1, nops > 2 ? cc : -1,
	                                 L, cfix, cval, as_type, msg, sizeof(msg)),
	             msg);
}

mpc_err mpc_arith_name_party(mpc_arith *c, int party, const char *name) {
	if (party < 0 || party >= c->parties || !mpc_arith_valid_name(name) ||
	    strcmp(name, "all") == 0)
		return mpc_error(MPC_EINVAL, "arith builder: bad party %d or name", party);
	for (int i = 0; i < c->parties; i++)
		if (i != party && c->party_name[i] && strcmp(c->party_name[i], name) == 0)
			return mpc_error(MPC_EINVAL, "arith builder: party name '%s' is taken",
			                 name);
	char *d = strdup(name);
	if (d == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	free(c->party_name[party]);
	c->party_name[party] = d;
	return MPC_OK;
}

int mpc_arith_input(mpc_arith *c, const char *name, int party, size_t len, mpc_arith_type t) {
	char msg[256];
	if (c->err != MPC_OK)
		return -1;
	return built(
	    c, mpc_arith_make_input(c, name, 0, party, len, t == MPC_ARITH_FIX, msg, sizeof(msg)),
	    msg);
}

int mpc_arith_const_int(mpc_arith *c, const char *name, size_t len, const int64_t *v, size_t nv) {
	char msg[256];
	if (c->err != MPC_OK)
		return -1;
	mpc_u128 *vals = malloc((nv ? nv : 1) * sizeof(*vals));
	if (vals == NULL)
		return built(c, -1, "out of memory");
	for (size_t i = 0; i < nv; i++)
		vals[i] = (mpc_u128)(mpc_i128)v[i];
	if (c->ring == MPC_Z64)
		for (size_t i = 0; i < nv; i++)
			vals[i] = (uint64_t)vals[i];
	return built(
	    c, mpc_arith_make_const(c, name, 0, MPC_ARITH_INT, len, vals, nv, msg, sizeof(msg)),
	    msg);
}

int mpc_arith_const_fix(mpc_arith *c, const char *name, size_t len, const double *v, size_t nv) {
	char msg[256];
	if (c->err != MPC_OK)
		return -1;
	mpc_u128 *vals = malloc((nv ? nv : 1) * sizeof(*vals));
	if (vals == NULL)
		return built(c, -1, "out of memory");
	for (size_t i = 0; i < nv; i++)
		if (!mpc_arith_encode_fix(c, v[i], &vals[i])) {
			free(vals);
			snprintf(msg, sizeof(msg),
			         "constant value %zu is not finite or out of the "
			         "fixed-point range",
			         i);
			return built(c, -1, msg);
		}
	return built(
	    c, mpc_arith_make_const(c, name, 0, MPC_ARITH_FIX, len, vals, nv, msg, sizeof(msg)),
	    msg);
}

int mpc_arith_add(mpc_arith *c, const char *n, int a, int b) {
	return gate(c, n, MPC_A_ADD, a, b, -1, 0, 0, 0, 0);
}
int mpc_arith_sub(mpc_arith *c, const char *n, int a, int b) {
	return gate(c, n, MPC_A_SUB, a, b, -1, 0, 0, 0, 0);
}
int mpc_arith_neg(mpc_arith *c, const char *n, int a) {
	return gate(c, n, MPC_A_NEG, a, -1, -1, 0, 0, 0, 0);
}
int mpc_arith_mul(mpc_arith *c, const char *n, int a, int b) {
	return gate(c, n, MPC_A_MUL, a, b, -1, 0, 0, 0, 0);
}
int mpc_arith_dot(mpc_arith *c, const char *n, int a, int b, size_t L) {
	return gate(c, n, MPC_A_DOT, a, b, -1, L, 0, 0, 0);
}
int mpc_arith_sum(mpc_arith *c, const char *n, int a, size_t L) {
	return gate(c, n, MPC_A_SUM, a, -1, -1, L, 0, 0, 0);
}
int mpc_arith_trunc(mpc_arith *c, const char *n, int a, unsigned bits) {
	return gate(c, n, MPC_A_TRUNC, a, -1, -1, bits, 0, 0, 0);
}
int mpc_arith_trunc_exact(mpc_arith *c, const char *n, int a, unsigned bits) {
	return gate(c, n, MPC_A_TRUNC_EXACT, a, -1, -1, bits, 0, 0, 0);
}
int mpc_arith_tofix(mpc_arith *c, const char *n, int a) {
	return gate(c, n, MPC_A_TOFIX, a, -1, -1, 0, 0, 0, 0);
}
int mpc_arith_as(mpc_arith *c, const char *n, int a, mpc_arith_type t) {
	return gate(c, n, MPC_A_AS, a, -1, -1, 0, 0, 0, t == MPC_ARITH_FIX);
}
int mpc_arith_ltz(mpc_arith *c, const char *n, int a) {
	return gate(c, n, MPC_A_LTZ, a, -1, -1, 0, 0, 0, 0);
}
int mpc_arith_lt(mpc_arith *c, const char *n, int a, int b) {
	return gate(c, n, MPC_A_LT, a, b, -1, 0, 0, 0, 0);
}
int mpc_arith_eq(mpc_arith *c, const char *n, int a, int b) {
	return gate(c, n, MPC_A_EQ, a, b, -1, 0, 0, 0, 0);
}
int mpc_arith_select(mpc_arith *c, const char *n, int cond, int a, int b) {
	return gate(c, n, MPC_A_SELECT, cond, a, b, 0, 0, 0, 0);
}
int mpc_arith_relu(mpc_arith *c, const char *n, int a) {
	return gate(c, n, MPC_A_RELU, a, -1, -1, 0, 0, 0, 0);
}
int mpc_arith_max(mpc_arith *c, const char *n, int a, size_t L) {
	return gate(c, n, MPC_A_MAX, a, -1, -1, L, 0, 0, 0);
}
int mpc_arith_min(mpc_arith *c, const char *n, int a, size_t L) {
	return gate(c, n, MPC_A_MIN, a, -1, -1, L, 0, 0, 0);
}
int mpc_arith_argmax(mpc_arith *c, const char *n, int a, size_t L) {
	return gate(c, n, MPC_A_ARGMAX, a, -1, -1, L, 0, 0, 0);
}
int mpc_arith_argmin(mpc_arith *c, const char *n, int a, size_t L) {
	return gate(c, n, MPC_A_ARGMIN, a, -1, -1, L, 0, 0, 0);
}
int mpc_arith_recip(mpc_arith *c, const char *n, int a) {
	return gate(c, n, MPC_A_RECIP, a, -1, -1, 0, 0, 0, 0);
}
int mpc_arith_div(mpc_arith *c, const char *n, int a, int b) {
	return gate(c, n, MPC_A_DIV, a, b, -1, 0, 0, 0, 0);
}
int mpc_arith_sqrt(mpc_arith *c, const char *n, int a) {
	return gate(c, n, MPC_A_SQRT, a, -1, -1, 0, 0, 0, 0);
}
int mpc_arith_exp(mpc_arith *c, const char *n, int a) {
	return gate(c, n, MPC_A_EXP, a, -1, -1, 0, 0, 0, 0);
}
int mpc_arith_sigmoid(mpc_arith *c, const char *n, int a) {
	return gate(c, n, MPC_A_SIGMOID, a, -1, -1, 0, 0, 0, 0);
}

int mpc_arith_cmul_int(mpc_arith *c, const char *n, int a, int64_t k) {
	mpc_u128 v = (mpc_u128)(mpc_i128)k;
	return gate(c, n, MPC_A_CMUL, a, -1, -1, 0, 0, c->ring == MPC_Z64 ? (uint64_t)v : v, 0);
}

int mpc_arith_cmul_fix(mpc_arith *c, const char *n, int a, double k) {
	mpc_u128 v = 0;
	if (c->err == MPC_OK && !mpc_arith_encode_fix(c, k, &v))
		return built(c, -1,
		             "CMUL: the constant is not finite or out of the fixed-point range");
	return gate(c, n, MPC_A_CMUL, a, -1, -1, 0, 1, v, 0);
}

int mpc_arith_addc_int(mpc_arith *c, const char *n, int a, int64_t k) {
	if (c->err == MPC_OK && a >= 0 && (size_t)a < c->n_w && c->w[a].type == MPC_ARITH_FIX)
		return built(c, -1,
		             "ADDC of an integer constant to a fix wire: use "
		             "mpc_arith_addc_fix");
	mpc_u128 v = (mpc_u128)(mpc_i128)k;
	return gate(c, n, MPC_A_ADDC, a, -1, -1, 0, 0, c->ring == MPC_Z64 ? (uint64_t)v : v, 0);
}

int mpc_arith_addc_fix(mpc_arith *c, const char *n, int a, double k) {
	mpc_u128 v = 0;
	if (c->err != MPC_OK)
		return -1;
	if (a >= 0 && (size_t)a < c->n_w && c->w[a].type != MPC_ARITH_FIX)
		return built(c, -1,
		             "ADDC of a fixed-point constant to an int wire: expected a fix "
		             "wire");
	if (!mpc_arith_encode_fix(c, k, &v))
		return built(c, -1,
		             "ADDC: the constant is not finite or out of the fixed-point range");
	return gate(c, n, MPC_A_ADDC, a, -1, -1, 0, 1, v, 0);
}

mpc_err mpc_arith_output(mpc_arith *c, int wire, int party) {
	char msg[256];
	if (c->err != MPC_OK)
		return mpc_arith_check(c);
	if (mpc_arith_make_output(c, wire, party, msg, sizeof(msg)) < 0) {
		built(c, -1, msg);
		return mpc_arith_check(c);
	}
	return MPC_OK;
}
