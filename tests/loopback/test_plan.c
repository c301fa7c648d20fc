/* Material plans by simulation (protocols/preproc/mpc_plan.h): every party of a
 * computation run in its own process against the counting backend. A known
 * computation (n products in Z_2^64, m fixed-point truncations in Z_2^128,
 * k words of ANDs) yields exactly its requests at 2 and 3 parties; a failing
 * party's error comes back naming it; a planner forked ahead receives its
 * late shape; the one-line format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first */
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/core/mpc_beaver.h"
#include "protocols/core/mpc_party.h"
#include "protocols/nonlinear/mpc_bool.h"
#include "protocols/preproc/mpc_plan.h"

typedef struct {
	uint64_t n;   /* products in Z_2^64 */
	size_t m;     /* truncations in Z_2^128, f = 16 */
	size_t words; /* words of ANDs */
	int fail_at;  /* this party fails before asking (-1: none) */
} work;

static mpc_err compute(mpc_party *p, const mpc_cross *zc, void *arg) {
	const work *w = arg;
	uint64_t *x = calloc(w->n + 1, 8), *z = calloc(w->n + 1, 8);
	uint64_t *bx = calloc(w->words + 1, 8), *bz = calloc(w->words + 1, 8);
	_Alignas(16) uint8_t v[16 * 8] = {0}, o[16 * 8];
	mpc_err err = MPC_OK;
	(void)zc;
	if (!x || !z || !bx || !bz)
		err = mpc_error(MPC_ENOMEM, "out of memory");
	if (err == MPC_OK && mpc_party_id(p) == w->fail_at)
		err = mpc_error(MPC_ERANGE, "test: party %d refuses", w->fail_at);
	if (err == MPC_OK)
		err = mpc_beaver_mul(p, MPC_Z64, x, x, z, (size_t)w->n);
	if (err == MPC_OK && w->m)
		err = mpc_trunc(p, MPC_Z128, 16, v, o, w->m);
	if (err == MPC_OK && w->words)
		err = mpc_bool_and(p, bx, bx, bz, w->words);
	free(x);
	free(z);
	free(bx);
	free(bz);
	return err;
}

static void test_counts(void **state) {
	(void)state;
	for (int np = 2; np <= 3; np++) {
		work w = {.n = 1000, .m = 8, .words = 5, .fail_at = -1};
		mpc_pool_plan pl;
		assert_int_equal(mpc_plan_simulate(np, compute, &w, &pl), MPC_OK);
		assert_true(pl.triples[0] == 1000 && pl.triples[1] == 0);
		assert_int_equal(pl.bit_triple_words, 5);
		assert_int_equal(pl.n_trunc, 1);
		assert_true(pl.trunc[0].ring_bits == 128 && pl.trunc[0].f == 16 &&
		            pl.trunc[0].n == 8);
		char line[256];
		assert_string_equal(mpc_plan_format(&pl, line, sizeof(line)),
		                    "1,000 triples Z_2^64, 8 truncation pairs Z_2^128 f=16, "
		                    "5 bit-triple words");
		/* deterministic: a second simulation gives the same plan */
		mpc_pool_plan again;
		assert_int_equal(mpc_plan_simulate(np, compute, &w, &again), MPC_OK);
		assert_true(mpc_plan_equal(&pl, &again));
		/* and one more triple is another plan */
		again.triples[0]++;
		assert_false(mpc_plan_equal(&pl, &again));
	}
}

static void test_failure(void **state) {
	(void)state;
	work w = {.n = 10, .fail_at = 1};
	mpc_pool_plan pl;
	assert_int_equal(mpc_plan_simulate(3, compute, &w, &pl), MPC_ERANGE);
	assert_non_null(strstr(mpc_error_detail(), "simulated party 1"));
	assert_non_null(strstr(mpc_error_detail(), "party 1 refuses"));
	assert_int_equal(pl.triples[0], 0);
}

static void test_ahead(void **state) {
	(void)state;
	work w = {.n = 0, .fail_at = -1};
	mpc_plan_ahead h;
	mpc_pool_plan pl;
	assert_int_equal(mpc_plan_ahead_start(&h, 3, compute, &w, &w.n), MPC_OK);
	assert_int_equal(mpc_plan_ahead_get(&h, 1234567, &pl), MPC_OK);
	assert_int_equal(pl.triples[0], 1234567);
	assert_int_equal(w.n, 0); /* the planner's copy, not ours */
	/* a planner never asked ends cleanly */
	assert_int_equal(mpc_plan_ahead_start(&h, 2, compute, &w, &w.n), MPC_OK);
	mpc_plan_ahead_cancel(&h);
	assert_int_equal(h.pid, -1);
}

static void test_format(void **state) {
	(void)state;
	mpc_pool_plan pl = {0};
	char line[256];
	assert_string_equal(mpc_plan_format(&pl, line, sizeof(line)), "nothing");
	pl.triples[1] = 3000;
	pl.bits[0] = 81000;
	pl.bit_triple_words = 27376;
	pl.n_trunc = 1;
	pl.trunc[0].ring_bits = 64;
	pl.trunc[0].f = 16;
	pl.trunc[0].n = 1000;
	assert_string_equal(mpc_plan_format(&pl, line, sizeof(line)),
	                    "3,000 triples Z_2^128, 1,000 truncation pairs Z_2^64 f=16, "
	                    "81,000 bits Z_2^64, 27,376 bit-triple words");
	/* truncated, never overrun */
	char small[12];
	mpc_plan_format(&pl, small, sizeof(small));
	assert_int_equal(strlen(small), sizeof(small) - 1);
}

int main(void) {
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_counts),
	    cmocka_unit_test(test_failure),
	    cmocka_unit_test(test_ahead),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
