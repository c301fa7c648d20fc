/* libFuzzer target: the arithmetic circuit loader (circuits/mpc_arith). A
 * file that parses must write a canonical text that parses again to the same
 * text, and (when small) evaluate in the clear on zero and on patterned
 * inputs without crashing; one that fails must leave nothing behind. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "circuits/mpc_arith.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
	mpc_arith *c = (mpc_arith *)&c, *d = NULL;
	char *t1 = NULL, *t2 = NULL;
	size_t n1 = 0, n2 = 0;

	if (mpc_arith_parse("fuzz.arc", (const char *)data, len, &c) != MPC_OK) {
		if (c != NULL)
			abort(); /* nothing half-made on error */
		return 0;
	}
	if (mpc_arith_text(c, &t1, &n1) != MPC_OK ||
	    mpc_arith_parse("w.arc", t1, n1, &d) != MPC_OK ||
	    mpc_arith_text(d, &t2, &n2) != MPC_OK || n1 != n2 || memcmp(t1, t2, n1) != 0)
		abort(); /* the writer's text must parse back to itself */
	mpc_arith_info info;
	mpc_arith_get_info(c, &info);
	/* evaluate when the wires are small: every wire at most 4096 elements */
	size_t total = 0, ni = mpc_arith_n_inputs(c), no = mpc_arith_n_outputs(c);
	int small = ni <= 64 && no <= 64;
	for (size_t i = 0; i < ni && small; i++)
		small = mpc_arith_input_at(c, i).len <= 4096;
	for (size_t j = 0; j < no && small; j++)
		small = (total += mpc_arith_output_at(c, j).len) <= 65536;
	if (small && info.wires <= 256 && info.elements <= 1u << 20) {
		void *in[64] = {0}, *out[64] = {0};
		int ok = 1;
		for (size_t i = 0; i < ni; i++) {
			size_t bytes = mpc_arith_input_at(c, i).len * 16;
			if ((in[i] = malloc(bytes)) == NULL)
				ok = 0;
			else
				for (size_t b = 0; b < bytes; b++)
					((uint8_t *)in[i])[b] =
					    (uint8_t)(b * 37 + i + (len ? data[b % len] : 0));
		}
		for (size_t j = 0; j < no; j++)
			if ((out[j] = malloc(mpc_arith_output_at(c, j).len * 16)) == NULL)
				ok = 0;
		if (ok)
			(void)!mpc_arith_eval_clear(c, (const void *const *)in, out);
		for (size_t i = 0; i < ni; i++)
			free(in[i]);
		for (size_t j = 0; j < no; j++)
			free(out[j]);
	}
	free(t1);
	free(t2);
	mpc_arith_free(d);
	mpc_arith_free(c);
	return 0;
}
