/* The arithmetic circuit evaluator under MPC (see mpc_arith_eval.h): layer by
 * layer of interactive depth, every product of a layer in one Beaver
 * opening, every truncation of a layer in one opening, every nonlinear gate
 * of one kind in a layer in one call, every output in one round. */
#include "circuits/eval/mpc_arith_eval.h"

#include "circuits/mpc_arith_internal.h"

#include <stdlib.h>
#include <string.h>

#include "protocols/core/mpc_beaver.h"
#include "protocols/core/mpc_share.h"
#include "protocols/nonlinear/mpc_cmp.h"
#include "protocols/nonlinear/mpc_math.h"
#include "runtime/mpc_wipe.h"

typedef struct {
	mpc_party *p;
	const mpc_arith *c;
	mpc_ring r;
	size_t eb;
	int me;
	mpc_vec *val; /* per wire: this party's shares, or the clear value of a public wire */
	mpc_arith_run_stats st;
	size_t *order;  /* wire ids sorted by level (stable) */
	size_t *lstart; /* order[lstart[l] .. lstart[l+1]) are the wires of level l */
} run;

/* The wires of `level`, in definition order (the same at every party). */
#define FOR_LEVEL(i, cond)                                                                         \
	for (size_t q_ = R->lstart[level], i = 0;                                                  \
	     q_ < R->lstart[level + 1] && (cond) && ((i = R->order[q_]), 1); q_++)

#define AT(R, base, i) ((uint8_t *)(base) + (size_t)(i) * (R)->eb)

/* Write v broadcast to n elements at dst (v has 1 or n elements). */
static void expand(const run *R, const mpc_vec *v, size_t n, void *dst) {
	if (v->n == n) {
		memcpy(dst, v->v, n * R->eb);
		return;
	}
	for (size_t i = 0; i < n; i++)
		memcpy(AT(R, dst, i), v->v, R->eb);
}

/* DOT operand as m rows of L: v has m*L elements, or L (repeated per row). */
static void expand_rows(const run *R, const mpc_vec *v, size_t m, size_t L, void *dst) {
	if (v->n == m * L) {
		memcpy(dst, v->v, m * L * R->eb);
		return;
	}
	for (size_t i = 0; i < m; i++)
		memcpy(AT(R, dst, i * L), v->v, L * R->eb);
}

/* The operand as a share: a public wire becomes the trivial sharing (its
 * value at party 0, zero elsewhere) in *tmp. */
static mpc_err share_view(run *R, int32_t id, mpc_vec *tmp, const mpc_vec **out) {
	const mpc_arith_wire *w = &R->c->w[id];
	mpc_err err;
	if (!w->pub) {
		*out = &R->val[id];
		return MPC_OK;
	}
	if ((err = mpc_vec_init(tmp, R->r, R->val[id].n)) != MPC_OK)
		return err;
	if (R->me == 0)
		memcpy(tmp->v, R->val[id].v, R->val[id].n * R->eb);
	*out = tmp;
	return MPC_OK;
}

static int input_index(const mpc_arith *c, int32_t id) {
	for (size_t i = 0; i < c->n_in; i++)
		if (c->in[i] == id)
			return (int)i;
	return -1;
}

/* A gate with no communication (or an input: sends nothing either). */
static mpc_err local_gate(run *R, int32_t id, const void *const *in) {
	const mpc_arith *c = R->c;
	const mpc_arith_wire *w = &c->w[id];
	mpc_vec *o = &R->val[id], ta = {0}, tb = {0}, tc = {0};
	const mpc_vec *A = w->a >= 0 ? &R->val[w->a] : NULL, *B = w->b >= 0 ? &R->val[w->b] : NULL,
	              *C = w->c >= 0 ? &R->val[w->c] : NULL;
	mpc_err err;

	if ((err = mpc_vec_init(o, R->r, w->len)) != MPC_OK)
		return err;
	if (w->op == MPC_A_INPUT) {
		int k = input_index(c, id);
		const void *src = w->party == R->me ? (in ? in[k] : NULL) : NULL;
		if (w->party == R->me && src == NULL)
			return mpc_error(MPC_EINVAL,
			                 "arith: party %d has no values for its input '%s'", R->me,
			                 w->name);
		return mpc_input(R->p, w->party, R->r, src, o->v, w->len);
	}
	if (w->pub || w->op == MPC_A_CONST)
		return mpc_arith_clear_gate(c, w, A, B, C, o, 0);
	switch (w->op) {
	case MPC_A_ADD:
	case MPC_A_SUB:
		if ((err = share_view(R, w->a, &ta, &A)) == MPC_OK &&
		    (err = share_view(R, w->b, &tb, &B)) == MPC_OK)
			err = mpc_arith_clear_gate(c, w, A, B, NULL, o, 0);
		break;
	case MPC_A_ADDC:
		if (R->me == 0)
			err = mpc_arith_clear_gate(c, w, A, NULL, NULL, o, 0);
		else
			memcpy(o->v, A->v, w->len * R->eb);
		break;
	case MPC_A_SELECT:
		if (c->w[w->a].pub) { /* linear in the shares of the two choices */
			if ((err = share_view(R, w->b, &tb, &B)) == MPC_OK &&
			    (err = share_view(R, w->c, &tc, &C)) == MPC_OK)
				err = mpc_arith_clear_gate(c, w, A, B, C, o, 0);
		} else { /* secret condition, public choices: c*(x - y) + y */
			for (size_t i = 0; i < w->len; i++) {
				mpc_u128 x = mpc_arith_get(R->r, B->v, B->n == 1 ? 0 : i);
				mpc_u128 y = mpc_arith_get(R->r, C->v, C->n == 1 ? 0 : i);
				mpc_u128 s = mpc_arith_get(R->r, A->v, A->n == 1 ? 0 : i) * (x - y);
				mpc_arith_put(R->r, o->v, i, s + (R->me == 0 ? y : 0));
			}
		}
		break;
	default: /* NEG, SUM, TOFIX, AS, CMUL, MUL/DOT by a public operand: linear */
		err = mpc_arith_clear_gate(c, w, A, B, C, o, 0);
	}
	mpc_vec_fini(&ta);
	mpc_vec_fini(&tb);
	mpc_vec_fini(&tc);
	return err;
}

/* Products of the layer: one fetch of triples, one opening. The results
 * (untruncated) land in val[]. */
static mpc_err beaver_layer(run *R, uint32_t level) {
	const mpc_arith *c = R->c;
	mpc_ring r = R->r;
	size_t P = 0, off = 0;
	mpc_vec X = {0}, Y = {0}, Z = {0}, de = {0}, t1 = {0};
	mpc_triples t;
	int have_t = 0;
	mpc_err err = MPC_OK;

	FOR_LEVEL(i, 1) {
		const mpc_arith_wire *w = &c->w[i];
		if (w->level == level && mpc_arith_kind(c, w) == MPC_ARITH_K_BEAVER)
			P += w->op == MPC_A_DOT ? w->len * w->L : w->len;
	}
	if (P == 0)
		return MPC_OK;
	if ((err = mpc_vec_init(&X, r, P)) || (err = mpc_vec_init(&Y, r, P)) ||
	    (err = mpc_vec_init(&Z, r, P)) || (err = mpc_vec_init(&de, r, 2 * P)))
		goto out;
	FOR_LEVEL(i, 1) {
		const mpc_arith_wire *w = &c->w[i];
		if (w->level != level || mpc_arith_kind(c, w) != MPC_ARITH_K_BEAVER)
			continue;
		if (w->op == MPC_A_MUL) {
			expand(R, &R->val[w->a], w->len, AT(R, X.v, off));
			expand(R, &R->val[w->b], w->len, AT(R, Y.v, off));
			off += w->len;
		} else if (w->op == MPC_A_DOT) {
			expand_rows(R, &R->val[w->a], w->len, w->L, AT(R, X.v, off));
			expand_rows(R, &R->val[w->b], w->len, w->L, AT(R, Y.v, off));
			off += w->len * w->L;
		} else { /* SELECT: cond * (x - y), then + y */
			const mpc_vec *x, *y;
			mpc_vec tx = {0}, ty = {0};
			if ((err = share_view(R, w->b, &tx, &x)) == MPC_OK &&
			    (err = share_view(R, w->c, &ty, &y)) == MPC_OK &&
			    (err = mpc_vec_init(&t1, r, w->len)) == MPC_OK) {
				expand(R, &R->val[w->a], w->len, AT(R, X.v, off));
				expand(R, x, w->len, t1.v);
				expand(R, y, w->len, AT(R, Y.v, off));
				mpc_ring_sub(r, AT(R, Y.v, off), t1.v, AT(R, Y.v, off), w->len);
			}
			mpc_vec_fini(&t1);
			mpc_vec_fini(&tx);
			mpc_vec_fini(&ty);
			if (err != MPC_OK)
				goto out;
			off += w->len;
		}
	}
	if ((err = mpc_triples_get(R->p, r, P, &t)) != MPC_OK)
		goto out;
	have_t = 1;
	R->st.preproc_calls++;
	mpc_beaver_prepare(r, &t, X.v, Y.v, de.v, P);
	if ((err = mpc_open(R->p, r, de.v, de.v, 2 * P)) != MPC_OK)
		goto out;
	R->st.beaver_openings++;
	mpc_beaver_finalize(R->p, r, &t, de.v, Z.v, P);
	off = 0;
	FOR_LEVEL(i, err == MPC_OK) {
		const mpc_arith_wire *w = &c->w[i];
		if (w->level != level || mpc_arith_kind(c, w) != MPC_ARITH_K_BEAVER)
			continue;
		mpc_vec *o = &R->val[i];
		if ((err = mpc_vec_init(o, r, w->len)) != MPC_OK)
			break;
		if (w->op == MPC_A_DOT) {
			for (size_t k = 0; k < w->len; k++)
				mpc_ring_sum(r, AT(R, o->v, k), AT(R, Z.v, off + k * w->L), w->L);
			off += w->len * w->L;
			continue;
		}
		memcpy(o->v, AT(R, Z.v, off), w->len * R->eb);
		if (w->op == MPC_A_SELECT) {
			const mpc_vec *y;
			mpc_vec ty = {0};
			if ((err = share_view(R, w->c, &ty, &y)) == MPC_OK &&
			    (err = mpc_vec_init(&t1, r, w->len)) == MPC_OK) {
				expand(R, y, w->len, t1.v);
				mpc_ring_add(r, o->v, o->v, t1.v, w->len);
			}
			mpc_vec_fini(&t1);
			mpc_vec_fini(&ty);
		}
		off += w->len;
	}
out:
	if (have_t)
		mpc_triples_fini(&t);
	mpc_vec_fini(&X);
	mpc_vec_fini(&Y);
	mpc_vec_fini(&Z);
	mpc_vec_fini(&de);
	return err;
}

/* Bits a wire of the layer is truncated by, 0 if none. */
static unsigned trunc_bits(const mpc_arith *c, const mpc_arith_wire *w) {
	int k = mpc_arith_kind(c, w);
	if (k == MPC_ARITH_K_TRUNC)
		return w->op == MPC_A_TRUNC ? w->L : c->frac;
	if (k == MPC_ARITH_K_BEAVER && mpc_arith_truncates(c, w))
		return c->frac;
	return 0;
}

#define MAX_TGROUPS 8

/* Every truncation of the layer in one opening: c = x + 2^l + r, then
 * (c >> f) - 2^(l-f) - (r >> f), with l = k - 41 (mpc_trunc's bound). The
 * raw values are in val[] (products from beaver_layer) or made here. */
static mpc_err trunc_layer(run *R, uint32_t level) {
	const mpc_arith *c = R->c;
	mpc_ring r = R->r;
	unsigned k = mpc_ring_bits(r), l = k - 41;
	unsigned fs[MAX_TGROUPS];
	size_t cnt[MAX_TGROUPS] = {0}, used[MAX_TGROUPS] = {0}, T = 0, off = 0;
	int ng = 0;
	mpc_truncpairs tp[MAX_TGROUPS];
	int have = 0;
	mpc_vec cb = {0};
	mpc_err err = MPC_OK;

	FOR_LEVEL(i, 1) {
		const mpc_arith_wire *w = &c->w[i];
		unsigned f;
		if (w->level != level || (f = trunc_bits(c, w)) == 0)
			continue;
		int g = 0;
		while (g < ng && fs[g] != f)
			g++;
		if (g == ng) {
			if (ng == MAX_TGROUPS)
				return mpc_error(MPC_EINVAL,
				                 "arith: more than %d truncation widths in "
				                 "one layer",
				                 MAX_TGROUPS);
			if (f > l)
				return mpc_error(MPC_EINVAL,
				                 "arith: '%s' truncates by %u bits: at most "
				                 "%u in Z_2^%u",
				                 w->name, f, l, k);
			fs[ng++] = f;
		}
		cnt[g] += w->len;
		T += w->len;
		/* raw value of a truncation-only gate */
		if (mpc_arith_kind(c, w) == MPC_ARITH_K_TRUNC) {
			mpc_vec *o = &R->val[i];
			if ((err = mpc_vec_init(o, r, w->len)) != MPC_OK)
				return err;
			if (w->op == MPC_A_TRUNC)
				memcpy(o->v, R->val[w->a].v, w->len * R->eb);
			else
				err = mpc_arith_clear_gate(c, w, &R->val[w->a],
				                           w->b >= 0 ? &R->val[w->b] : NULL, NULL,
				                           o, 1);
			if (err != MPC_OK)
				return err;
		}
	}
	if (T == 0)
		return MPC_OK;
	for (have = 0; have < ng; have++) {
		if ((err = mpc_truncpairs_get(R->p, r, fs[have], cnt[have], &tp[have])) != MPC_OK)
			goto out;
		R->st.preproc_calls++;
	}
	if ((err = mpc_vec_init(&cb, r, T)) != MPC_OK)
		goto out;
	mpc_u128 big = (mpc_u128)1 << l;
	FOR_LEVEL(i, 1) {
		const mpc_arith_wire *w = &c->w[i];
		unsigned f;
		if (w->level != level || (f = trunc_bits(c, w)) == 0)
			continue;
		int g = 0;
		while (fs[g] != f)
			g++;
		for (size_t e = 0; e < w->len; e++)
			mpc_arith_put(r, cb.v, off + e,
			              mpc_arith_get(r, R->val[i].v, e) +
			                  mpc_arith_get(r, tp[g].r.v, used[g] + e) +
			                  (R->me == 0 ? big : 0));
		used[g] += w->len;
		off += w->len;
	}
	if ((err = mpc_open(R->p, r, cb.v, cb.v, T)) != MPC_OK)
		goto out;
	R->st.trunc_calls++;
	memset(used, 0, sizeof(used));
	off = 0;
	FOR_LEVEL(i, 1) {
		const mpc_arith_wire *w = &c->w[i];
		unsigned f;
		if (w->level != level || (f = trunc_bits(c, w)) == 0)
			continue;
		int g = 0;
		while (fs[g] != f)
			g++;
		mpc_u128 sub = (mpc_u128)1 << (l - f);
		for (size_t e = 0; e < w->len; e++) {
			mpc_u128 v = 0;
			if (R->me == 0) {
				mpc_u128 cv = mpc_arith_get(r, cb.v, off + e);
				v = (r == MPC_Z64 ? (mpc_u128)((uint64_t)cv >> f) : cv >> f) - sub;
			}
			mpc_arith_put(r, R->val[i].v, e,
			              v - mpc_arith_get(r, tp[g].r_hi.v, used[g] + e));
		}
		used[g] += w->len;
		off += w->len;
	}
out:
	for (int g = 0; g < have; g++)
		mpc_truncpairs_fini(&tp[g]);
	mpc_vec_fini(&cb);
	return err;
}

/* Nonlinear family of an op: MAX and ARGMAX share calls, so do MIN and ARGMIN. */
static int family(int op) {
	return op == MPC_A_ARGMAX ? MPC_A_MAX : op == MPC_A_ARGMIN ? MPC_A_MIN : op;
}

static int has_param(int fam) {
	return fam == MPC_A_MAX || fam == MPC_A_MIN || fam == MPC_A_TRUNC_EXACT;
}

/* One call for every gate of family fam (and parameter L) in the layer. */
static mpc_err nl_group(run *R, uint32_t level, int fam, uint32_t L) {
	const mpc_arith *c = R->c;
	mpc_ring r = R->r;
	unsigned F = c->frac;
	size_t n_in = 0, n_out = 0, oi = 0, oo = 0;
	int binary = fam == MPC_A_LT || fam == MPC_A_EQ || fam == MPC_A_DIV;
	int grouped = fam == MPC_A_MAX || fam == MPC_A_MIN, want_arg = 0;
	mpc_vec X = {0}, Y = {0}, O = {0}, AO = {0};
	mpc_err err;

#define IN_GROUP(w)                                                                                \
	((w)->level == level && mpc_arith_kind(c, (w)) == MPC_ARITH_K_NL &&                        \
	 family((w)->op) == fam && (!has_param(fam) || (w)->L == L))
	FOR_LEVEL(i, 1) {
		const mpc_arith_wire *w = &c->w[i];
		if (!IN_GROUP(w))
			continue;
		n_out += w->len;
		n_in += grouped ? w->len * w->L : w->len;
		want_arg |= w->op == MPC_A_ARGMAX || w->op == MPC_A_ARGMIN;
	}
	if ((err = mpc_vec_init(&X, r, n_in)) || (binary && (err = mpc_vec_init(&Y, r, n_in))) ||
	    (err = mpc_vec_init(&O, r, n_out)) || (want_arg && (err = mpc_vec_init(&AO, r, n_out))))
		goto out;
	FOR_LEVEL(i, err == MPC_OK) {
		const mpc_arith_wire *w = &c->w[i];
		if (!IN_GROUP(w))
			continue;
		const mpc_vec *a, *b;
		mpc_vec ta = {0}, tb = {0};
		size_t m = grouped ? w->len * w->L : w->len;
		if ((err = share_view(R, w->a, &ta, &a)) == MPC_OK) {
			expand(R, a, m, AT(R, X.v, oi));
			if (binary && (err = share_view(R, w->b, &tb, &b)) == MPC_OK)
				expand(R, b, m, AT(R, Y.v, oi));
		}
		mpc_vec_fini(&ta);
		mpc_vec_fini(&tb);
		oi += m;
	}
	if (err != MPC_OK)
		goto out;
	switch (fam) {
	case MPC_A_LTZ:
		err = mpc_cmp_ltz(R->p, r, X.v, O.v, n_in);
		break;
	case MPC_A_LT:
		err = mpc_cmp_lt(R->p, r, X.v, Y.v, O.v, n_in);
		break;
	case MPC_A_EQ:
		err = mpc_cmp_eq(R->p, r, X.v, Y.v, O.v, n_in);
		break;
	case MPC_A_RELU:
		err = mpc_cmp_relu(R->p, r, X.v, O.v, n_in);
		break;
	case MPC_A_MAX:
		err = mpc_cmp_max(R->p, r, X.v, n_out, L, O.v, want_arg ? AO.v : NULL);
		break;
	case MPC_A_MIN:
		err = mpc_cmp_min(R->p, r, X.v, n_out, L, O.v, want_arg ? AO.v : NULL);
		break;
	case MPC_A_TRUNC_EXACT:
		err = mpc_trunc_exact(R->p, r, L, X.v, O.v, n_in);
		break;
	case MPC_A_RECIP:
		err = mpc_math_recip(R->p, r, F, X.v, O.v, n_in);
		break;
	case MPC_A_DIV:
		err = mpc_math_div(R->p, r, F, X.v, Y.v, O.v, n_in);
		break;
	case MPC_A_SQRT:
		err = mpc_math_sqrt(R->p, r, F, X.v, O.v, n_in);
		break;
	case MPC_A_EXP:
		err = mpc_math_exp(R->p, r, F, X.v, O.v, n_in);
		break;
	case MPC_A_SIGMOID:
		err = mpc_math_sigmoid(R->p, r, F, X.v, O.v, n_in);
		break;
	default:
		err = mpc_error(MPC_EINVAL, "arith: %s is not a nonlinear gate",
		                mpc_arith_op_name(fam));
	}
	if (err != MPC_OK)
		goto out;
	R->st.nonlinear_calls++;
	FOR_LEVEL(i, err == MPC_OK) {
		const mpc_arith_wire *w = &c->w[i];
		if (!IN_GROUP(w))
			continue;
		if ((err = mpc_vec_init(&R->val[i], r, w->len)) != MPC_OK)
			break;
		int arg = w->op == MPC_A_ARGMAX || w->op == MPC_A_ARGMIN;
		memcpy(R->val[i].v, AT(R, arg ? AO.v : O.v, oo), w->len * R->eb);
		oo += w->len;
	}
#undef IN_GROUP
out:
	mpc_vec_fini(&X);
	mpc_vec_fini(&Y);
	mpc_vec_fini(&O);
	mpc_vec_fini(&AO);
	return err;
}

static mpc_err nl_layer(run *R, uint32_t level) {
	const mpc_arith *c = R->c;
	size_t nk = 0, cap = 0;
	struct key {
		int fam;
		uint32_t L;
	} *keys = NULL;
	mpc_err err = MPC_OK;
	/* groups in the order of their first gate, the same at every party */
	FOR_LEVEL(i, err == MPC_OK) {
		const mpc_arith_wire *w = &c->w[i];
		if (mpc_arith_kind(c, w) != MPC_ARITH_K_NL)
			continue;
		int fam = family(w->op);
		uint32_t L = has_param(fam) ? w->L : 0;
		size_t k = 0;
		while (k < nk && (keys[k].fam != fam || keys[k].L != L))
			k++;
		if (k < nk)
			continue;
		if (nk == cap) {
			struct key *nkeys =
			    realloc(keys, (cap = cap ? 2 * cap : 16) * sizeof(*keys));
			if (nkeys == NULL) {
				err = mpc_error(MPC_ENOMEM, "arith: out of memory");
				break;
			}
			keys = nkeys;
		}
		keys[nk].fam = fam;
		keys[nk++].L = L;
	}
	for (size_t k = 0; k < nk && err == MPC_OK; k++)
		err = nl_group(R, level, keys[k].fam, keys[k].L);
	free(keys);
	return err;
}

/* Every output in one round: to each peer, our shares of the outputs for
 * all and of those for that peer, one message. */
static mpc_err outputs(run *R, void *const *out) {
	const mpc_arith *c = R->c;
	mpc_net *net = mpc_party_net(R->p);
	int np = mpc_party_size(R->p), nodes = mpc_net_size(net);
	const void *send[MPC_NET_MAX_NODES] = {0};
	void *recv[MPC_NET_MAX_NODES] = {0};
	size_t slen[MPC_NET_MAX_NODES] = {0}, rlen[MPC_NET_MAX_NODES] = {0};
	uint8_t *sbuf[MPC_NET_MAX_NODES] = {0}, *rbuf = NULL;
	size_t mine = 0;
	int any = 0;
	mpc_err err = MPC_OK;

	for (size_t j = 0; j < c->n_out; j++) {
		const mpc_arith_wire *w = &c->w[c->out[j].wire];
		int to = c->out[j].party;
		if (w->pub) {
			if ((to == MPC_ARITH_ALL || to == R->me) && out && out[j])
				memcpy(out[j], R->val[c->out[j].wire].v, w->len * R->eb);
			continue;
		}
		any = 1;
		for (int q = 0; q < np && q < nodes; q++)
			if (q != R->me && (to == MPC_ARITH_ALL || to == q))
				slen[q] += w->len * R->eb;
		if (to == MPC_ARITH_ALL || to == R->me) {
			if (out == NULL || out[j] == NULL)
				return mpc_error(MPC_EINVAL,
				                 "arith: party %d has no room for output '%s'",
				                 R->me, w->name);
			mine += w->len * R->eb;
		}
	}
	if (!any)
		return MPC_OK;
	/* A wire's share may be a local function of a party's own inputs (an
	 * input, a sum of them, a product by a public value): re-randomise every
	 * shared output, at every party and in the same order (the pairwise
	 * streams stay in step), so its recipients see only fresh shares. An
	 * output listed twice gets two zero-sharings: still the same value. */
	for (size_t j = 0; j < c->n_out && err == MPC_OK; j++) {
		const mpc_arith_wire *w = &c->w[c->out[j].wire];
		if (!w->pub)
			err = mpc_share_rerandomise(R->p, R->r, R->val[c->out[j].wire].v, w->len);
	}
	if (err != MPC_OK)
		return err;
	if (mine && (rbuf = malloc((size_t)np * mine)) == NULL)
		return mpc_error(MPC_ENOMEM, "arith: out of memory for the outputs");
	for (int q = 0; q < np && err == MPC_OK; q++) {
		if (q == R->me)
			continue;
		if (slen[q] && (sbuf[q] = malloc(slen[q])) == NULL) {
			err = mpc_error(MPC_ENOMEM, "arith: out of memory for the outputs");
			break;
		}
		size_t off = 0;
		for (size_t j = 0; j < c->n_out; j++) {
			const mpc_arith_wire *w = &c->w[c->out[j].wire];
			int to = c->out[j].party;
			if (w->pub || !(to == MPC_ARITH_ALL || to == q))
				continue;
			memcpy(sbuf[q] + off, R->val[c->out[j].wire].v, w->len * R->eb);
			off += w->len * R->eb;
		}
		send[q] = sbuf[q];
		if (mine) {
			recv[q] = rbuf + (size_t)q * mine;
			rlen[q] = mine;
		}
	}
	if (err == MPC_OK)
		err = mpc_net_exchange(net, send, slen, recv, rlen);
	if (err == MPC_OK && mine) {
		size_t off = 0;
		for (size_t j = 0; j < c->n_out; j++) {
			const mpc_arith_wire *w = &c->w[c->out[j].wire];
			int to = c->out[j].party;
			if (w->pub || !(to == MPC_ARITH_ALL || to == R->me))
				continue;
			memcpy(out[j], R->val[c->out[j].wire].v, w->len * R->eb);
			for (int q = 0; q < np; q++)
				if (q != R->me)
					mpc_ring_add(R->r, out[j], out[j],
					             rbuf + (size_t)q * mine + off, w->len);
			off += w->len * R->eb;
		}
	}
	for (int q = 0; q < np; q++)
		if (sbuf[q]) {
			mpc_wipe(sbuf[q], slen[q]);
			free(sbuf[q]);
		}
	if (rbuf) {
		mpc_wipe(rbuf, (size_t)np * mine); /* shares of outputs only we may see */
		free(rbuf);
	}
	return err;
}

mpc_err mpc_arith_run(mpc_party *p, const mpc_arith *c, const void *const *in, void *const *out,
                      mpc_arith_run_stats *st) {
	run R;
	uint32_t *last = NULL;
	mpc_err err;

	memset(&R, 0, sizeof(R));
	if ((err = mpc_arith_check(c)) != MPC_OK)
		return err;
	if (mpc_party_size(p) < c->parties)
		return mpc_error(MPC_EINVAL,
		                 "arith: the circuit needs %d parties, the cluster has %d",
		                 c->parties, mpc_party_size(p));
	R.p = p;
	R.c = c;
	R.r = c->ring;
	R.eb = mpc_ring_bytes(c->ring);
	R.me = mpc_party_id(p);
	uint64_t r0 = mpc_net_rounds(mpc_party_net(p));
	R.val = calloc(c->n_w ? c->n_w : 1, sizeof(*R.val));
	last = calloc(c->n_w ? c->n_w : 1, sizeof(*last));
	if (R.val == NULL || last == NULL) {
		err = mpc_error(MPC_ENOMEM, "arith: out of memory");
		goto out;
	}
	/* the last layer that reads each wire: free it after that layer */
	for (size_t i = 0; i < c->n_w; i++) {
		const mpc_arith_wire *w = &c->w[i];
		int32_t o[3] = {w->a, w->b, w->c};
		for (int k = 0; k < 3; k++)
			if (o[k] >= 0 && last[o[k]] < w->level)
				last[o[k]] = w->level;
	}
	for (size_t j = 0; j < c->n_out; j++)
		last[c->out[j].wire] = UINT32_MAX;
	R.order = malloc((c->n_w ? c->n_w : 1) * sizeof(*R.order));
	R.lstart = calloc((size_t)c->depth + 2, sizeof(*R.lstart));
	if (R.order == NULL || R.lstart == NULL) {
		err = mpc_error(MPC_ENOMEM, "arith: out of memory");
		goto out;
	}
	for (size_t i = 0; i < c->n_w; i++)
		R.lstart[c->w[i].level + 1]++;
	for (uint32_t l = 0; l <= c->depth; l++)
		R.lstart[l + 1] += R.lstart[l];
	{
		size_t *fill = calloc((size_t)c->depth + 1, sizeof(*fill));
		if (fill == NULL) {
			err = mpc_error(MPC_ENOMEM, "arith: out of memory");
			goto out;
		}
		for (size_t i = 0; i < c->n_w; i++)
			R.order[R.lstart[c->w[i].level] + fill[c->w[i].level]++] = i;
		free(fill);
	}
	for (uint32_t level = 0; level <= c->depth; level++) {
		if (level > 0 && ((err = beaver_layer(&R, level)) != MPC_OK ||
		                  (err = trunc_layer(&R, level)) != MPC_OK ||
		                  (err = nl_layer(&R, level)) != MPC_OK))
			goto out;
		for (size_t q = R.lstart[level]; q < R.lstart[level + 1]; q++) {
			size_t i = R.order[q];
			if (mpc_arith_kind(c, &c->w[i]) == MPC_ARITH_K_LOCAL &&
			    (err = local_gate(&R, (int32_t)i, in)) != MPC_OK)
				goto out;
		}
		for (size_t i = 0; i < c->n_w; i++)
			if (last[i] == level && c->w[i].level <= level)
				mpc_vec_fini(&R.val[i]);
	}
	err = outputs(&R, out);
out:
	if (R.val)
		for (size_t i = 0; i < c->n_w; i++)
			mpc_vec_fini(&R.val[i]);
	free(R.val);
	free(R.order);
	free(R.lstart);
	free(last);
	R.st.rounds = mpc_net_rounds(mpc_party_net(p)) - r0;
	if (st)
		*st = R.st;
	return err;
}
