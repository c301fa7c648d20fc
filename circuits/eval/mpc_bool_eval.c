/* The Bristol circuit evaluator under MPC (see mpc_bool_eval.h): the ANDs of
 * one AND depth in one opening, then that layer's local gates in file
 * order; the outputs rerandomised and opened in one round. */
#include "circuits/eval/mpc_bool_eval.h"

#include <stdlib.h>
#include <string.h>

#include "protocols/core/mpc_preproc.h"
#include "protocols/nonlinear/mpc_bool.h"
#include "runtime/mpc_wipe.h"

/* The state of one run: the shared wires (W words each) and the scratch of
 * one AND layer (room for every AND of the circuit). */
typedef struct {
	mpc_party *p;
	const mpc_bristol *c;
	size_t W;
	int king;
	uint64_t *wire;
	const uint64_t **xs, **ys;
	uint64_t **zs;
	uint64_t *de;
	mpc_bit_triples t;
	size_t used; /* triples consumed, in gates */
} bool_run;

/* The ANDs of layer L together (their inputs are all below L). */
static mpc_err and_layer(bool_run *R, uint32_t L) {
	const mpc_bristol *c = R->c;
	size_t W = R->W, n = 0;
	mpc_err err;

	for (uint32_t i = 0; i < c->n_gates; i++) {
		const mpc_gate *g = &c->gates[i];
		if (g->op == MPC_G_AND && g->level == L) {
			R->xs[n] = R->wire + (size_t)g->a * W;
			R->ys[n] = R->wire + (size_t)g->b * W;
			R->zs[n] = R->wire + (size_t)g->out * W;
			n++;
		}
	}
	if (n == 0)
		return MPC_OK;
	err = mpc_bool_and_many(R->p, R->t.a + R->used * W, R->t.b + R->used * W,
	                        R->t.c + R->used * W, R->xs, R->ys, R->zs, n, W, R->de);
	R->used += n;
	return err;
}

/* The local gates of layer L, in file order: XOR, INV and constants (party 0
 * flips or sets), EQW (a copy). */
static void local_gates(bool_run *R, uint32_t L) {
	const mpc_bristol *c = R->c;
	size_t W = R->W;

	for (uint32_t i = 0; i < c->n_gates; i++) {
		const mpc_gate *g = &c->gates[i];
		if (g->level != L || g->op == MPC_G_AND)
			continue;
		uint64_t *o = R->wire + (size_t)g->out * W;
		const uint64_t *a = R->wire + (size_t)(g->op == MPC_G_EQ ? 0 : g->a) * W;
		const uint64_t *b = R->wire + (size_t)g->b * W;
		for (size_t w = 0; w < W; w++) {
			switch (g->op) {
			case MPC_G_XOR:
				o[w] = a[w] ^ b[w];
				break;
			case MPC_G_INV:
				o[w] = R->king ? ~a[w] : a[w];
				break;
			case MPC_G_EQW:
				o[w] = a[w];
				break;
			case MPC_G_EQ:
				o[w] = R->king && g->a ? ~0ull : 0;
				break;
			}
		}
	}
}

/* Open the output wires in one round into out[]. An output wire may be an
 * XOR of one party's own input shares: fresh shares first. */
static mpc_err open_outputs(bool_run *R, uint64_t *const *out) {
	const mpc_bristol *c = R->c;
	size_t W = R->W;
	uint32_t first = mpc_bristol_out_wire(c, 0);
	size_t ow = (size_t)(c->n_wires - first) * W;
	uint64_t *res = malloc(ow * 8);
	mpc_err err;

	if (res == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	if ((err = mpc_bool_open_output(R->p, R->wire + (size_t)first * W, res, ow)) == MPC_OK)
		for (uint32_t v = 0; v < c->n_out; v++)
			memcpy(out[v], res + (size_t)(mpc_bristol_out_wire(c, v) - first) * W,
			       (size_t)c->out_width[v] * W * 8);
	free(res);
	return err;
}

mpc_err mpc_bool_run(mpc_party *p, const mpc_bristol *c, size_t batch, const int *owner,
                     const uint64_t *const *in, uint64_t *const *out) {
	bool_run R = {.p = p, .c = c, .W = (batch + 63) / 64, .king = mpc_party_id(p) == 0};
	size_t W = R.W, nw = c->n_wires, max_layer = c->n_and ? c->n_and : 1;
	mpc_err err = MPC_OK;

	if (batch == 0)
		return MPC_OK;
	if ((R.wire = calloc(nw * W, 8)) == NULL) {
		err = mpc_error(MPC_ENOMEM, "out of memory: %zu wires x %zu words", nw, W);
		goto out;
	}
	/* inputs */
	for (uint32_t v = 0; v < c->n_in && err == MPC_OK; v++)
		err = mpc_bool_input(p, owner[v], in[v],
		                     R.wire + (size_t)mpc_bristol_in_wire(c, v) * W,
		                     (size_t)c->in_width[v] * W);
	if (err != MPC_OK)
		goto out;
	/* all bit triples at once */
	if ((err = mpc_bit_triples_get(p, (size_t)c->n_and * W, &R.t)) != MPC_OK)
		goto out;
	R.xs = malloc(max_layer * sizeof(*R.xs));
	R.ys = malloc(max_layer * sizeof(*R.ys));
	R.zs = malloc(max_layer * sizeof(*R.zs));
	R.de = malloc(2 * max_layer * W * 8);
	if (!R.xs || !R.ys || !R.zs || !R.de) {
		err = mpc_error(MPC_ENOMEM, "out of memory");
		goto out;
	}
	for (uint32_t L = 0; L <= c->depth && err == MPC_OK; L++)
		if ((err = and_layer(&R, L)) == MPC_OK)
			local_gates(&R, L);
	if (err == MPC_OK)
		err = open_outputs(&R, out);
out:
	if (R.wire) {
		mpc_wipe(R.wire, nw * W * 8);
		free(R.wire);
	}
	if (R.de) {
		mpc_wipe(R.de, 2 * max_layer * W * 8);
		free(R.de);
	}
	free(R.xs);
	free(R.ys);
	free(R.zs);
	mpc_bit_triples_fini(&R.t);
	return err;
}
