/* Arithmetic circuits: the clear evaluator (see mpc_arith.h), and the gate
 * evaluator it shares with the MPC evaluator for the gates linear in their
 * secret operands. */
#include "circuits/mpc_arith_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---------- clear evaluation ---------- */

static mpc_u128 at(mpc_ring r, const mpc_vec *v, size_t i) {
	return mpc_arith_get(r, v->v, v->n == 1 ? 0 : i);
}

static mpc_u128 sar(mpc_ring r, mpc_u128 v, unsigned bits) {
	return (mpc_u128)(mpc_arith_signed(r, v) >> bits);
}

static double to_double(const mpc_arith *c, mpc_u128 v) {
	return ldexp((double)mpc_arith_signed(c->ring, v), -(int)c->frac);
}

/* The gates linear in their secret operands (and CONST, TRUNC): ring
 * arithmetic, a truncation the floor. 0 if w is none of them. */
static int clear_linear(const mpc_arith *c, const mpc_arith_wire *w, const mpc_vec *A,
                        const mpc_vec *B, void *o, int trunc) {
	mpc_ring r = c->ring;
	size_t n = w->len, L = w->L;
	unsigned F = c->frac;

	switch (w->op) {
	case MPC_A_CONST:
		for (size_t i = 0; i < n; i++)
			mpc_arith_put(r, o, i, w->val[w->nval == 1 ? 0 : i]);
		break;
	case MPC_A_ADD:
		for (size_t i = 0; i < n; i++)
			mpc_arith_put(r, o, i, at(r, A, i) + at(r, B, i));
		break;
	case MPC_A_SUB:
		for (size_t i = 0; i < n; i++)
			mpc_arith_put(r, o, i, at(r, A, i) - at(r, B, i));
		break;
	case MPC_A_NEG:
		for (size_t i = 0; i < n; i++)
			mpc_arith_put(r, o, i, (mpc_u128)0 - at(r, A, i));
		break;
	case MPC_A_MUL:
		for (size_t i = 0; i < n; i++) {
			mpc_u128 p = at(r, A, i) * at(r, B, i);
			mpc_arith_put(r, o, i, trunc ? sar(r, p, F) : p);
		}
		break;
	case MPC_A_DOT:
		for (size_t i = 0; i < n; i++) {
			mpc_u128 s = 0;
			for (size_t k = 0; k < L; k++)
				s += mpc_arith_get(r, A->v, A->n == L ? k : i * L + k) *
				     mpc_arith_get(r, B->v, B->n == L ? k : i * L + k);
			mpc_arith_put(r, o, i, trunc ? sar(r, s, F) : s);
		}
		break;
	case MPC_A_SUM:
		for (size_t i = 0; i < n; i++) {
			mpc_u128 s = 0;
			for (size_t k = 0; k < L; k++)
				s += mpc_arith_get(r, A->v, i * L + k);
			mpc_arith_put(r, o, i, s);
		}
		break;
	case MPC_A_CMUL:
		for (size_t i = 0; i < n; i++) {
			mpc_u128 p = at(r, A, i) * w->val[0];
			mpc_arith_put(r, o, i, trunc ? sar(r, p, F) : p);
		}
		break;
	case MPC_A_ADDC:
		for (size_t i = 0; i < n; i++)
			mpc_arith_put(r, o, i, at(r, A, i) + w->val[0]);
		break;
	case MPC_A_TRUNC:
	case MPC_A_TRUNC_EXACT:
		for (size_t i = 0; i < n; i++)
			mpc_arith_put(r, o, i, sar(r, at(r, A, i), w->L));
		break;
	case MPC_A_TOFIX:
		for (size_t i = 0; i < n; i++)
			mpc_arith_put(r, o, i, at(r, A, i) << F);
		break;
	case MPC_A_AS:
		for (size_t i = 0; i < n; i++)
			mpc_arith_put(r, o, i, at(r, A, i));
		break;
	default:
		return 0;
	}
	return 1;
}

/* Comparisons, SELECT, RELU and the group extrema: exact on the signed
 * values. 0 if w is none of them. */
static int clear_compare(const mpc_arith *c, const mpc_arith_wire *w, const mpc_vec *A,
                         const mpc_vec *B, const mpc_vec *C, void *o) {
	mpc_ring r = c->ring;
	size_t n = w->len, L = w->L;

	switch (w->op) {
	case MPC_A_LTZ:
		for (size_t i = 0; i < n; i++)
			mpc_arith_put(r, o, i, mpc_arith_signed(r, at(r, A, i)) < 0);
		break;
	case MPC_A_LT:
		for (size_t i = 0; i < n; i++)
			mpc_arith_put(r, o, i,
			              mpc_arith_signed(r, at(r, A, i)) <
			                  mpc_arith_signed(r, at(r, B, i)));
		break;
	case MPC_A_EQ:
		for (size_t i = 0; i < n; i++)
			mpc_arith_put(r, o, i,
			              mpc_arith_signed(r, at(r, A, i)) ==
			                  mpc_arith_signed(r, at(r, B, i)));
		break;
	case MPC_A_SELECT:
		for (size_t i = 0; i < n; i++) {
			mpc_u128 x = at(r, B, i), y = at(r, C, i);
			mpc_arith_put(r, o, i, y + at(r, A, i) * (x - y));
		}
		break;
	case MPC_A_RELU:
		for (size_t i = 0; i < n; i++) {
			mpc_u128 x = at(r, A, i);
			mpc_arith_put(r, o, i, mpc_arith_signed(r, x) < 0 ? 0 : x);
		}
		break;
	case MPC_A_MAX:
	case MPC_A_MIN:
	case MPC_A_ARGMAX:
	case MPC_A_ARGMIN: {
		int want_max = w->op == MPC_A_MAX || w->op == MPC_A_ARGMAX;
		int arg = w->op == MPC_A_ARGMAX || w->op == MPC_A_ARGMIN;
		for (size_t i = 0; i < n; i++) {
			size_t best = 0;
			mpc_i128 bv = mpc_arith_signed(r, mpc_arith_get(r, A->v, i * L));
			for (size_t k = 1; k < L; k++) {
				mpc_i128 v = mpc_arith_signed(r, mpc_arith_get(r, A->v, i * L + k));
				if (want_max ? v > bv : v < bv)
					bv = v, best = k;
			}
			mpc_arith_put(r, o, i, arg ? (mpc_u128)best : (mpc_u128)bv);
		}
		break;
	}
	default:
		return 0;
	}
	return 1;
}

/* RECIP, DIV, SQRT, EXP and SIGMOID in double precision, rounded to the
 * nearest fixed-point value; MPC_ERANGE names the gate and the element. */
static mpc_err clear_real(const mpc_arith *c, const mpc_arith_wire *w, const mpc_vec *A,
                          const mpc_vec *B, void *o) {
	mpc_ring r = c->ring;
	size_t n = w->len;
	mpc_err err = MPC_OK;

	for (size_t i = 0; i < n && err == MPC_OK; i++) {
		double x = to_double(c, at(r, A, i)), y = 0, v = 0;
		const char *why = NULL;
		if (w->op == MPC_A_DIV)
			y = to_double(c, at(r, B, i));
		switch (w->op) {
		case MPC_A_RECIP:
			if (x == 0)
				why = "reciprocal of 0";
			v = 1 / x;
			break;
		case MPC_A_DIV:
			if (y == 0)
				why = "division by 0";
			v = x / y;
			break;
		case MPC_A_SQRT:
			if (x < 0)
				why = "square root of a negative number";
			v = sqrt(x);
			break;
		case MPC_A_EXP:
			v = exp(x);
			break;
		default:
			v = 1 / (1 + exp(-x));
			break;
		}
		mpc_u128 e = 0;
		if (why == NULL && !mpc_arith_encode_fix(c, v, &e))
			why = "result out of the fixed-point range";
		if (why)
			err = mpc_error(MPC_ERANGE, "%s '%s'%s%.0u: %s at element %zu",
			                mpc_arith_ops[w->op].name, w->name,
			                w->line ? " on line " : "", w->line, why, i);
		else
			mpc_arith_put(r, o, i, e);
	}
	return err;
}

/* One gate on clear values (or, for the linear gates, on shares: the MPC
 * evaluator calls this for its local gates). A, B, C: operand values (NULL
 * if unused). notrunc: leave a fix product untruncated (the MPC evaluator
 * truncates). */
mpc_err mpc_arith_clear_gate(const mpc_arith *c, const mpc_arith_wire *w, const mpc_vec *A,
                             const mpc_vec *B, const mpc_vec *C, mpc_vec *out, int notrunc) {
	int trunc = !notrunc && mpc_arith_truncates(c, w);

	if (clear_linear(c, w, A, B, out->v, trunc) || clear_compare(c, w, A, B, C, out->v))
		return MPC_OK;
	switch (w->op) {
	case MPC_A_RECIP:
	case MPC_A_DIV:
	case MPC_A_SQRT:
	case MPC_A_EXP:
	case MPC_A_SIGMOID:
		return clear_real(c, w, A, B, out->v);
	default:
		return mpc_error(MPC_EINVAL, "arith: wire '%s' is not a gate", w->name);
	}
}

mpc_err mpc_arith_eval_clear(const mpc_arith *c, const void *const *in, void *const *out) {
	mpc_vec *val = NULL;
	size_t *last = NULL, eb = mpc_ring_bytes(c->ring);
	mpc_err err;

	if ((err = mpc_arith_check(c)) != MPC_OK)
		return err;
	val = calloc(c->n_w ? c->n_w : 1, sizeof(*val));
	last = calloc(c->n_w ? c->n_w : 1, sizeof(*last));
	if (val == NULL || last == NULL) {
		err = mpc_error(MPC_ENOMEM, "out of memory");
		goto out;
	}
	/* last reader of each wire, so a batch's intermediate vectors go early */
	for (size_t i = 0; i < c->n_w; i++) {
		const mpc_arith_wire *w = &c->w[i];
		int32_t o[3] = {w->a, w->b, w->c};
		for (int k = 0; k < 3; k++)
			if (o[k] >= 0)
				last[o[k]] = i;
	}
	for (size_t j = 0; j < c->n_out; j++)
		last[c->out[j].wire] = SIZE_MAX;
	size_t next_in = 0;
	for (size_t i = 0; i < c->n_w; i++) {
		const mpc_arith_wire *w = &c->w[i];
		if ((err = mpc_vec_init(&val[i], c->ring, w->len)) != MPC_OK)
			goto out;
		if (w->op == MPC_A_INPUT) {
			if (in == NULL || in[next_in] == NULL) {
				err = mpc_error(MPC_EINVAL, "arith: no values for input '%s'",
				                w->name);
				goto out;
			}
			memcpy(val[i].v, in[next_in++], w->len * eb);
		} else {
			err = mpc_arith_clear_gate(c, w, w->a >= 0 ? &val[w->a] : NULL,
			                           w->b >= 0 ? &val[w->b] : NULL,
			                           w->c >= 0 ? &val[w->c] : NULL, &val[i], 0);
			if (err != MPC_OK)
				goto out;
		}
		int32_t o[3] = {w->a, w->b, w->c};
		for (int k = 0; k < 3; k++)
			if (o[k] >= 0 && last[o[k]] == i)
				mpc_vec_fini(&val[o[k]]);
		if (last[i] == 0 && i > 0)
			mpc_vec_fini(&val[i]); /* never read */
	}
	for (size_t j = 0; j < c->n_out; j++) {
		const mpc_arith_wire *w = &c->w[c->out[j].wire];
		if (out == NULL || out[j] == NULL) {
			err =
			    mpc_error(MPC_EINVAL, "arith: no room for output %zu '%s'", j, w->name);
			goto out;
		}
		memcpy(out[j], val[c->out[j].wire].v, w->len * eb);
	}
out:
	if (val)
		for (size_t i = 0; i < c->n_w; i++)
			mpc_vec_fini(&val[i]);
	free(val);
	free(last);
	return err;
}
