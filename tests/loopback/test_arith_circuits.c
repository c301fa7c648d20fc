/* Arithmetic circuits under MPC, 2 and 3 real processes with the dealer:
 * every output equals the clear evaluator's (exactly for integers and
 * comparisons, within a few units in the last place where mpc_trunc
 * rounds); outputs to one party reach only that party (the others' buffers
 * stay untouched); and a circuit of linear gates, products and truncations
 * costs exactly the rounds mpc_arith_get_info states (one per Beaver layer,
 * one per truncation layer, one for the outputs), measured both inside the
 * run and from mpc_local_result.rounds. Nonlinear gates of one kind in a
 * layer are one call. The example circuits under circuits/ run too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first */
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "circuits/eval/mpc_arith_eval.h"
#include "circuits/mpc_arith_internal.h"
#include "runtime/mpc_fixed.h"
#include "tests/support/mpc_local.h"

#define MAX_PORTS   32
#define SENTINEL    0xA5
#define STATS_BYTES 64

/* Made in the parent before fork: every process has the inputs, but each
 * party passes only its own to mpc_arith_run. */
static struct {
	mpc_arith *c;
	void *in[MAX_PORTS];
	int skip_run; /* 1: the body does nothing (a baseline for the set-up rounds) */
	/* a 0/1 output (flag_out) that may differ from the clear one where the
	 * clear fix output p_out is within p_tol of the threshold t */
	int flag_out, p_out;
	double t, p_tol;
	const char *loose_int; /* an int output of a probabilistic TRUNC: +-1 allowed */
} job = {.flag_out = -1, .p_out = -1};

static mpc_err body(mpc_party *p, void *arg) {
	const mpc_arith *c = job.c;
	int me = mpc_party_id(p);
	size_t eb = mpc_ring_bytes(mpc_arith_ring(c)), no = mpc_arith_n_outputs(c);
	const void *in[MAX_PORTS] = {0};
	void *out[MAX_PORTS] = {0};
	mpc_arith_run_stats st;
	mpc_err err = MPC_OK;
	(void)arg;
	if (job.skip_run)
		return MPC_OK;
	for (size_t i = 0; i < mpc_arith_n_inputs(c); i++)
		if (mpc_arith_input_at(c, i).party == me)
			in[i] = job.in[i];
	for (size_t j = 0; j < no; j++) {
		size_t bytes = mpc_arith_output_at(c, j).len * eb;
		if ((out[j] = malloc(bytes)) == NULL)
			return mpc_error(MPC_ENOMEM, "out of memory");
		memset(out[j], SENTINEL, bytes);
	}
	err = mpc_arith_run(p, c, in, out, &st);
	/* the stats in a block of STATS_BYTES, so that the outputs stay aligned */
	uint8_t block[STATS_BYTES] = {0};
	memcpy(block, &st, sizeof(st));
	if (err == MPC_OK)
		err = mpc_local_emit(block, sizeof(block));
	for (size_t j = 0; j < no && err == MPC_OK; j++)
		err = mpc_local_emit(out[j], mpc_arith_output_at(c, j).len * eb);
	for (size_t j = 0; j < no; j++)
		free(out[j]);
	return err;
}

static void load(const char *text) {
	if (mpc_arith_parse("test.arc", text, strlen(text), &job.c) != MPC_OK)
		fail_msg("%s", mpc_error_detail());
}

static const char *circuit_path(const char *name) {
	static char path[512];
	const char *dir = getenv("MPC_ARITH_DIR");
	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "circuits", name);
	return path;
}

static void load_file(const char *name) {
	if (mpc_arith_load(circuit_path(name), &job.c) != MPC_OK)
		fail_msg("%s", mpc_error_detail());
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next(void) {
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Random inputs: fix uniform in (-lim, lim), int in [lo, hi]. */
static void fill_inputs(double lim, int64_t lo, int64_t hi) {
	mpc_ring r = mpc_arith_ring(job.c);
	unsigned f = mpc_arith_frac(job.c);
	for (size_t i = 0; i < mpc_arith_n_inputs(job.c); i++) {
		mpc_arith_port pt = mpc_arith_input_at(job.c, i);
		free(job.in[i]);
		job.in[i] = calloc(pt.len, 16);
		for (size_t k = 0; k < pt.len; k++) {
			if (pt.type == MPC_ARITH_FIX) {
				double v =
				    ((double)(next() >> 11) / 9007199254740992.0 * 2 - 1) * lim;
				assert_int_equal(
				    mpc_fixed_encode(r, f, lim + 1, &v,
				                     (uint8_t *)job.in[i] + k * mpc_ring_bytes(r),
				                     1),
				    MPC_OK);
			} else {
				int64_t v = lo + (int64_t)(next() % (uint64_t)(hi - lo + 1));
				mpc_ring_set_i64(r, job.in[i], k, v);
			}
		}
	}
}

static void set_input_i64(const char *name, size_t k, int64_t v) {
	int i = mpc_arith_find_input(job.c, name);
	assert_true(i >= 0);
	mpc_ring_set_i64(mpc_arith_ring(job.c), job.in[i], k, v);
}

static void set_input_fix(const char *name, size_t k, double v) {
	int i = mpc_arith_find_input(job.c, name);
	mpc_ring r = mpc_arith_ring(job.c);
	assert_true(i >= 0);
	assert_int_equal(mpc_fixed_encode(r, mpc_arith_frac(job.c), 1e6, &v,
	                                  (uint8_t *)job.in[i] + k * mpc_ring_bytes(r), 1),
	                 MPC_OK);
}

static void finish(void) {
	for (int i = 0; i < MAX_PORTS; i++) {
		free(job.in[i]);
		job.in[i] = NULL;
	}
	mpc_arith_free(job.c);
	job.c = NULL;
}

/* Rounds of the set-up alone (party_new, the dealer's seeds) at party 0. */
static uint64_t baseline_rounds(int parties) {
	mpc_local_result res[5];
	mpc_local_config cfg = {.n_parties = parties, .with_dealer = 1, .watchdog_s = 120};
	job.skip_run = 1;
	assert_int_equal(mpc_local_run(&cfg, body, NULL, res), MPC_OK);
	job.skip_run = 0;
	for (int i = 0; i < parties; i++)
		if (res[i].err != MPC_OK)
			fail_msg("party %d: %s", i, res[i].detail);
	uint64_t r = res[0].rounds;
	mpc_local_results_fini(res, parties + 1);
	return r;
}

/* Run at `parties`; every output checked against the clear evaluator
 * (tol_ulps: allowed difference on fix outputs); outputs to one party
 * reach only it. exact_rounds: party 0's rounds must equal the stated ones.
 * Returns party 0's stats. */
static mpc_arith_run_stats check_run(int parties, int64_t tol_ulps, int exact_rounds) {
	const mpc_arith *c = job.c;
	mpc_ring r = mpc_arith_ring(c);
	size_t eb = mpc_ring_bytes(r), no = mpc_arith_n_outputs(c);
	void *ref[MAX_PORTS];
	mpc_local_result res[5];
	mpc_arith_info info;
	mpc_arith_run_stats st0;

	mpc_arith_get_info(c, &info);
	for (size_t j = 0; j < no; j++)
		ref[j] = malloc(mpc_arith_output_at(c, j).len * eb);
	if (mpc_arith_eval_clear(c, (const void *const *)job.in, ref) != MPC_OK)
		fail_msg("clear: %s", mpc_error_detail());
	uint64_t base = exact_rounds ? baseline_rounds(parties) : 0;
	mpc_local_config cfg = {.n_parties = parties, .with_dealer = 1, .watchdog_s = 120};
	assert_int_equal(mpc_local_run(&cfg, body, NULL, res), MPC_OK);
	for (int i = 0; i < parties; i++)
		if (res[i].err != MPC_OK)
			fail_msg("party %d: %s", i, res[i].detail);
	for (int i = 0; i < parties; i++) {
		const uint8_t *o = res[i].out;
		mpc_arith_run_stats st;
		memcpy(&st, o, sizeof(st));
		o += STATS_BYTES;
		if (i == 0)
			st0 = st;
		/* every party makes the same calls */
		assert_int_equal(st.beaver_openings, info.beaver_layers);
		assert_int_equal(st.trunc_calls, info.trunc_layers);
		assert_int_equal(st.nonlinear_calls, info.nonlinear_calls);
		for (size_t j = 0; j < no; j++) {
			mpc_arith_port pt = mpc_arith_output_at(c, j);
			size_t bytes = pt.len * eb;
			if (pt.party != MPC_ARITH_ALL && pt.party != i) {
				for (size_t b = 0; b < bytes; b++)
					if (o[b] != SENTINEL)
						fail_msg("party %d got something of output '%s', "
						         "which is "
						         "for party %d only",
						         i, pt.name, pt.party);
				o += bytes;
				continue;
			}
			mpc_i128 worst = 0;
			for (size_t k = 0; k < pt.len; k++) {
				mpc_i128 got = mpc_arith_signed(r, mpc_arith_get(r, o, k));
				mpc_i128 want = mpc_arith_signed(r, mpc_arith_get(r, ref[j], k));
				mpc_i128 d = got > want ? got - want : want - got;
				if (d > worst && (int)j != job.flag_out)
					worst = d;
				if (d > 0 && (int)j == job.flag_out) {
					unsigned f = mpc_arith_frac(c);
					double pc =
					    ldexp((double)mpc_arith_signed(
					              r, mpc_arith_get(r, ref[job.p_out], k)),
					          -(int)f);
					if (fabs(pc - job.t) <= job.p_tol)
						continue;
				}
				if (d > (pt.type == MPC_ARITH_FIX ? tol_ulps
				         : job.loose_int && !strcmp(pt.name, job.loose_int) ? 1
				                                                            : 0))
					fail_msg(
					    "%d parties: party %d, output '%s'[%zu]: got %lld, "
					    "clear %lld",
					    parties, i, pt.name, k, (long long)got,
					    (long long)want);
			}
			if (i == 0 && pt.type == MPC_ARITH_FIX && worst > 0)
				print_message(
				    "%d parties: output '%s': at most %lld units in the last "
				    "place from the clear evaluator\n",
				    parties, pt.name, (long long)worst);
			o += bytes;
		}
	}
	print_message("%d parties: %llu rounds at party 0 (stated without nonlinear calls: %u), "
	              "%.3f s\n",
	              parties, (unsigned long long)st0.rounds, info.rounds, res[0].seconds);
	if (exact_rounds) {
		/* party 0 asks the dealer nothing: its rounds are the circuit's */
		assert_int_equal(st0.rounds, info.rounds);
		assert_int_equal(res[0].rounds - base, info.rounds);
	}
	mpc_local_results_fini(res, parties + 1);
	for (size_t j = 0; j < no; j++)
		free(ref[j]);
	return st0;
}

/* Linear gates, products, DOT with a broadcast weight row, SELECT, CMUL by
 * fixed-point constants, TRUNC, public operands, outputs to all and to one
 * party. Layers: 1 DOT, MUL n n (Beaver; DOT's truncation); 2 MUL z v,
 * MUL n z (Beaver; z*v's and TRUNC m's truncations); 3 SELECT (Beaver);
 * 4 CMUL by 0.5 (truncation); 5 MUL by a public fix (truncation); outputs. */
static const char *layered = "arith 1 ring 128 frac 16 parties 2\n"
                             "party 0 merchant\n"
                             "party 1 bank\n"
                             "input x merchant 96 fix\n"
                             "input w bank 3 fix\n"
                             "input v bank 32 fix\n"
                             "input n merchant 32 int\n"
                             "input bit bank 32 int\n"
                             "const half fix 1 0.5\n"
                             "const pub fix 3 0.25 -1.5 2\n"
                             "z = DOT x w 3\n"
                             "zp = DOT x pub 3\n"
                             "zz = MUL z v\n"
                             "m = MUL n n\n"
                             "mz = MUL n z\n"
                             "s = SELECT bit zz z\n"
                             "h = CMUL s 0.5\n"
                             "g = MUL h half\n"
                             "t = TRUNC m 2\n"
                             "a = ADDC g 1.5\n"
                             "d = SUB a zp\n"
                             "tot = SUM n 32\n"
                             "ng = NEG tot\n"
                             "output d all\n"
                             "output m merchant\n"
                             "output t bank\n"
                             "output ng all\n"
                             "output mz bank\n"
                             "output half all\n";

static void test_layers(void **st) {
	(void)st;
	load(layered);
	mpc_arith_info info;
	mpc_arith_get_info(job.c, &info);
	assert_int_equal(info.depth, 5);
	assert_int_equal(info.beaver_layers, 3);
	assert_int_equal(info.trunc_layers, 4);
	assert_int_equal(info.nonlinear_calls, 0);
	assert_int_equal(info.rounds, 8);
	fill_inputs(2, -20, 20);
	for (int k = 0; k < 32; k++)
		set_input_i64("bit", (size_t)k, k % 3 == 0);
	job.loose_int = "t";
	check_run(2, 64, 1);
	check_run(3, 64, 1);
	job.loose_int = NULL;
	finish();
}

/* The same circuit in Z_2^64 with integers only (exact everywhere). */
static void test_integers_z64(void **st) {
	(void)st;
	load("arith 1 ring 64 frac 0 parties 3\n"
	     "input a 0 64 int\ninput b 1 64 int\ninput c 2 8 int\ninput k 2 1 int\n"
	     "ab = MUL a b\nd = DOT a c 8\ne = DOT ab c 8\nf = MUL d e\ng = CMUL f -3\n"
	     "h = ADD g k\nsel = SELECT k a b\nss = SUM sel 64\n"
	     "output h all\noutput ab 0\noutput ss 2\n");
	mpc_arith_info info;
	mpc_arith_get_info(job.c, &info);
	assert_int_equal(info.rounds, 3 + 0 + 1); /* layers: ab, d, sel | e | f */
	fill_inputs(0, -1000, 1000);
	set_input_i64("k", 0, 1);
	check_run(3, 0, 1);
	finish();
}

/* Comparisons and the other mpc_cmp gates: exact against the clear
 * evaluator; two gates of one kind in one layer make one call. */
static void test_comparisons(void **st) {
	(void)st;
	load("arith 1 ring 64 frac 8 parties 2\n"
	     "input x 0 24 fix\ninput y 1 24 fix\ninput i 1 24 int\n"
	     "l1 = LT x y\nl2 = LT y x\nz = LTZ x\ne = EQ i i\nr = RELU y\n"
	     "mx = MAX x 6\namx = ARGMAX x 6\nmn = MIN y 4\namn = ARGMIN y 4\n"
	     "te = TRUNC_EXACT i 3\nsel = SELECT l1 x y\nsm = ADD l1 l2\n"
	     "e2 = EQ sm e\n"
	     "output l1 all\noutput l2 0\noutput z 1\noutput e all\noutput r all\n"
	     "output mx all\noutput amx all\noutput mn all\noutput amn 1\noutput te all\n"
	     "output sel all\noutput e2 all\n");
	mpc_arith_info info;
	mpc_arith_get_info(job.c, &info);
	/* layer 1: LT (one call for l1 and l2), LTZ, EQ, RELU, MAX+ARGMAX, MIN+ARGMIN,
	 * TRUNC_EXACT; layer 2: SELECT (Beaver), EQ */
	assert_int_equal(info.nonlinear_calls, 8);
	assert_int_equal(info.depth, 2);
	fill_inputs(50, -100000, 100000);
	set_input_fix("y", 3, 0); /* equal values and ties */
	set_input_fix("x", 3, 0);
	mpc_arith_run_stats s = check_run(2, 0, 0);
	assert_int_equal(s.nonlinear_calls, 8);
	check_run(3, 0, 0);
	finish();
}

static void test_scorecard(void **st) {
	(void)st;
	load_file("scorecard.arc");
	fill_inputs(0, 0, 9);
	check_run(2, 0, 0);
	check_run(3, 0, 0);
	finish();
}

static void test_fraud_score(void **st) {
	(void)st;
	load_file("fraud_score.arc");
	/* for the test, the probabilities go to every party too */
	assert_int_equal(mpc_arith_output(job.c, mpc_arith_find_wire(job.c, "p"), MPC_ARITH_ALL),
	                 MPC_OK);
	fill_inputs(1.5, 0, 0);
	set_input_fix("t", 0, 0.45);
	/* a flag may differ only where the probability is within the sigmoid's
	 * error of the threshold */
	job.flag_out = mpc_arith_find_output(job.c, "flag");
	job.p_out = mpc_arith_find_output(job.c, "p");
	job.t = 0.45;
	job.p_tol = 1.0 / 1024;
	check_run(2, 64, 0);
	check_run(3, 64, 0);
	job.flag_out = job.p_out = -1;
	finish();
}

static void test_stats(void **st) {
	(void)st;
	load_file("stats.arc");
	fill_inputs(1000, 0, 1);
	for (int m = 0; m < 3; m++)
		for (int k = 0; k < 900; k++) { /* amounts 0 .. 1000 */
			char a[8];
			snprintf(a, sizeof(a), "a%d", m);
			set_input_fix(a, (size_t)k, (double)(next() % 100000) / 100);
		}
	for (int m = 0; m < 3; m++)
		for (int k = 900; k < 1000; k++) { /* padding rows */
			char a[8], v[8], f[8];
			snprintf(a, sizeof(a), "a%d", m);
			snprintf(v, sizeof(v), "v%d", m);
			snprintf(f, sizeof(f), "f%d", m);
			set_input_fix(a, (size_t)k, 0);
			set_input_i64(v, (size_t)k, 0);
			set_input_i64(f, (size_t)k, 0);
		}
	for (int m = 0; m < 3; m++)
		for (int k = 0; k < 900; k++) {
			char v[8];
			snprintf(v, sizeof(v), "v%d", m);
			set_input_i64(v, (size_t)k, 1);
		}
	check_run(3, 256, 0);
	finish();
}

int main(void) {
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_layers),      cmocka_unit_test(test_integers_z64),
	    cmocka_unit_test(test_comparisons), cmocka_unit_test(test_scorecard),
	    cmocka_unit_test(test_fraud_score), cmocka_unit_test(test_stats),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
