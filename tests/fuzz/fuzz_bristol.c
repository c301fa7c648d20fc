/* libFuzzer target: the Bristol Fashion loader (circuits/mpc_bristol). A file
 * that parses must have consistent counts and evaluate in the clear (when
 * small) on patterned inputs without crashing; one that fails must leave
 * nothing behind. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "circuits/mpc_bristol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
	mpc_bristol *c = (mpc_bristol *)&c;

	if (mpc_bristol_parse("fuzz.txt", (const char *)data, len, &c) != MPC_OK) {
		if (c != NULL)
			abort(); /* nothing half-made on error */
		return 0;
	}
	uint64_t in_wires = 0, out_wires = 0, ands = 0;
	for (uint32_t v = 0; v < c->n_in; v++)
		in_wires += c->in_width[v];
	for (uint32_t v = 0; v < c->n_out; v++)
		out_wires += c->out_width[v];
	for (uint32_t i = 0; i < c->n_gates; i++) {
		const mpc_gate *g = &c->gates[i];
		if (g->out >= c->n_wires || g->level > c->depth)
			abort();
		ands += g->op == MPC_G_AND;
	}
	if (in_wires > c->n_wires || out_wires > c->n_wires || ands != c->n_and)
		abort();
	if (c->n_wires <= 1u << 16) {
		uint8_t *in = malloc(in_wires + 1), *out = malloc(out_wires + 1);
		if (in != NULL && out != NULL) {
			for (uint64_t w = 0; w < in_wires; w++)
				in[w] = (uint8_t)((len ? data[w % len] : 0) >> (w % 8) & 1);
			(void)!mpc_bristol_eval_clear(c, in, out);
		}
		free(in);
		free(out);
	}
	mpc_bristol_free(c);
	return 0;
}
