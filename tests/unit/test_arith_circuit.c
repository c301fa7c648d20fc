/* Arithmetic circuit format: every malformed file rejected with its name,
 * line and what was expected; exact number encoding; the builder (sticky
 * errors, round trip through the text); the clear evaluator against C; the
 * circuits under circuits/ load, round-trip and evaluate against a C model. */
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

#include "circuits/mpc_arith.h"
#include "runtime/mpc_fixed.h"

#define HDR "arith 1 ring 128 frac 16 parties 2\n"

static void bad(const char *text, const char *needle) {
	mpc_arith *c = (mpc_arith *)&c;
	mpc_err e = mpc_arith_parse("t.arc", text, strlen(text), &c);
	if (e != MPC_ECONFIG || !strstr(mpc_error_detail(), needle))
		fail_msg("wanted '%s', got %d: %s", needle, e, mpc_error_detail());
	assert_null(c);
}

static mpc_arith *good(const char *text) {
	mpc_arith *c = NULL;
	mpc_err e = mpc_arith_parse("t.arc", text, strlen(text), &c);
	if (e != MPC_OK)
		fail_msg("%s", mpc_error_detail());
	return c;
}

static void test_malformed(void **st) {
	(void)st;
	bad("", "t.arc:0: empty file: expected the header 'arith 1 ring 64|128 frac F parties N'");
	bad("# only a comment\n\n", "t.arc:2: empty file");
	bad("arith 1 ring 128 frac 16\n", "t.arc:1: expected the header 'arith 1 ring");
	bad("arith 2 ring 128 frac 16 parties 2\n", "t.arc:1: format version '2' is not supported: "
	                                            "expected 'arith 1'");
	bad("arith 1 ring 32 frac 16 parties 2\n", "t.arc:1: bad ring '32': expected 64 or 128");
	bad("arith 1 ring 64 frac 70 parties 2\n", "t.arc:1: frac 70 is not allowed in Z_2^64");
	bad("arith 1 ring 64 frac 16 parties 17\n", "t.arc:1: parties must be 1 .. 16");
	bad("arith 1 ring 64 frac 16 parties x\n", "t.arc:1: bad parties 'x'");
	bad(HDR "input x 0 4 fix\nfoo x\n", "t.arc:3: unknown statement 'foo': expected party, "
	                                    "input, const, output or 'NAME = OP operands'");
	bad(HDR "input x 0 4 fix\ny = FOO x\n", "t.arc:3: unknown operation 'FOO': expected one of "
	                                        "ADD SUB");
	bad(HDR "input x 0 4 fix\ny = ADD x z\n", "t.arc:3: wire 'z' is not defined: expected a "
	                                          "wire defined on an earlier line");
	bad(HDR "input x 0 4 fix\n# c\ninput x 1 4 fix\n", "t.arc:4: wire 'x' is already defined "
	                                                   "(line 2): expected a new name");
	bad(HDR "input x 0 4 fix\ny = NEG x\ny = NEG x\n", "t.arc:4: wire 'y' is already defined");
	bad(HDR "input x 0 4 fix\ninput y 1 3 fix\nz = ADD x y\n",
	    "t.arc:4: length mismatch: ADD of 'x' (length 4) and 'y' (length 3): expected equal "
	    "lengths or length 1");
	bad(HDR "input x 0 12 fix\ninput w 1 5 fix\nz = DOT x w 4\n",
	    "t.arc:4: DOT of 'x' (length 12) and 'w' (length 5) in groups of 4: expected lengths "
	    "m*L for both, or m*L and L");
	bad(HDR "input x 0 12 fix\nz = SUM x 5\n",
	    "t.arc:3: SUM of 'x' (length 12) in groups of 5");
	bad(HDR "input x 2 4 fix\n", "t.arc:2: bad party '2': expected a party index 0 .. 1 or a "
	                             "name declared with 'party'");
	bad(HDR "party 0 bank\ninput x shop 4 fix\n", "t.arc:3: bad party 'shop'");
	bad(HDR "party 2 bank\n", "t.arc:2: bad party index '2': expected 0 .. 1");
	bad(HDR "party 0 all\n", "t.arc:2: bad party name 'all'");
	bad(HDR "party 0 a\nparty 1 a\n", "t.arc:3: party name 'a' is taken");
	bad(HDR "input x 0 4 fix\noutput x bob\n", "t.arc:3: bad output party 'bob': expected all, "
	                                           "a party index 0 .. 1");
	bad(HDR "input x 0 4 fix\ny = CMUL x 12x\n", "t.arc:3: bad number '12x': expected a "
	                                             "decimal integer");
	bad(HDR "input x 0 4 fix\ny = CMUL x 1.5.2\n", "t.arc:3: bad number '1.5.2': expected a "
	                                               "decimal number");
	bad(HDR "input x 0 4 int\ny = ADDC x 0.5\n", "t.arc:3: bad number '0.5': expected an "
	                                             "integer (an int value)");
	bad(HDR "input x 0 4 fix\ny = ADD x x x\n",
	    "t.arc:3: unexpected 'x' after the statement: "
	    "expected 'NAME = ADD A B' and the end of the line");
	bad(HDR "input x 0 4 fix 7\n", "t.arc:2: unexpected '7' after the statement");
	bad(HDR "input x 0 4 fix\ny = DOT x x\n", "t.arc:3: too few operands: expected 'NAME = "
	                                          "DOT A B L'");
	bad(HDR "input x 0\n", "t.arc:2: too few operands: expected 'input NAME PARTY LEN");
	bad(HDR "const c fix 1 1e40\n", "t.arc:2: value '1e40' is too large: expected |v| < 2^111 "
	                                "(fixed point with 16 fractional bits in Z_2^128)");
	bad(HDR "const c fix 1 2596148429267413814265248164610048\n", "t.arc:2: value");
	bad("arith 1 ring 64 frac 0 parties 2\nconst c int 1 9223372036854775808\n",
	    "t.arc:2: value '9223372036854775808' is too large: expected -2^63 <= v < 2^63 in "
	    "Z_2^64");
	bad(HDR "input x 0 999999999999 fix\n", "t.arc:2: bad length '999999999999': expected "
	                                        "1 .. 2^28");
	bad(HDR "input x 0 0 fix\n", "t.arc:2: bad length '0'");
	bad(HDR "input x 0 4 real\n", "t.arc:2: bad type 'real': expected int or fix");
	bad(HDR "const c fix 3 1 2\n", "t.arc:2: 2 values for a constant of length 3: expected "
	                               "1 or 3");
	bad(HDR "input x 0 4 fix\ninput y 0 4 int\nz = ADD x y\n",
	    "t.arc:4: ADD of 'x' (fix) and 'y' (int): expected one type");
	bad(HDR "input x 0 4 fix\ny = TOFIX x\n", "t.arc:3: TOFIX of 'x', which is fix already");
	bad(HDR "input x 0 4 int\ny = SQRT x\n", "t.arc:3: SQRT of an int wire ('x'): expected "
	                                         "fix operands");
	bad(HDR "input x 0 4 fix\ny = TRUNC x 88\n", "t.arc:3: TRUNC by 88 bits: expected 1 .. 87");
	bad(HDR "input x 0 4 fix\ny = TRUNC_EXACT x 0\n", "t.arc:3: bad number '0': expected a "
	                                                  "positive integer");
	bad(HDR "input x 0 4 fix\ny = SELECT x x x\n", "t.arc:3: SELECT: the condition 'x' is fix");
	bad(HDR "input 9x 0 4 fix\n", "t.arc:2: bad wire name '9x'");
	bad(HDR "input x 0 4 fix\n", "t.arc:2: no output: expected at least one 'output WIRE");
	bad(HDR "input x 0 4 fix\noutput y all\n", "t.arc:3: wire 'y' is not defined");
	static const char nul[] = HDR "input x 0 4 fix\0\noutput x all\n";
	mpc_arith *c = (mpc_arith *)&c;
	assert_int_equal(mpc_arith_parse("t.arc", nul, sizeof(nul) - 1, &c), MPC_ECONFIG);
	assert_non_null(strstr(mpc_error_detail(), "t.arc:2: a NUL byte: expected text"));
	assert_null(c);
}

/* Fixed-point literals are encoded exactly: round(v * 2^F), ties away from 0. */
static void test_numbers(void **st) {
	(void)st;
	struct {
		const char *lit;
		mpc_i128 want;
	} cases[] = {
	    {"0.1", 6554}, /* 6553.6 */
	    {"-2.5e-1", -16384},
	    {"1e2", (mpc_i128)100 << 16},
	    {"0.00000762939453125", 1}, /* 2^-17: a tie, rounded up */
	    {"-0.00000762939453125", -1},
	    {"0.0000076293945312", 0},
	    {"3", (mpc_i128)3 << 16},
	    {"1234567.75", ((mpc_i128)1234567 << 16) + 49152},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[256];
		snprintf(text, sizeof(text), HDR "const c fix 1 %s\noutput c all\n", cases[i].lit);
		mpc_arith *c = good(text);
		mpc_u128 out = 0;
		void *o[1] = {&out};
		assert_int_equal(mpc_arith_eval_clear(c, NULL, o), MPC_OK);
		if ((mpc_i128)out != cases[i].want)
			fail_msg("%s: got %lld", cases[i].lit, (long long)(mpc_i128)out);
		mpc_arith_free(c);
	}
	/* integers keep their full range in Z_2^128 */
	mpc_arith *c = good(HDR "const c int 2 -170141183460469231731687303715884105728 "
	                        "170141183460469231731687303715884105727\noutput c all\n");
	mpc_u128 out[2];
	void *o[1] = {out};
	assert_int_equal(mpc_arith_eval_clear(c, NULL, o), MPC_OK);
	assert_true(out[0] == (mpc_u128)1 << 127);
	assert_true(out[1] == ((mpc_u128)1 << 127) - 1);
	mpc_arith_free(c);
}

static char *text_of(const mpc_arith *c) {
	char *t = NULL;
	size_t n;
	assert_int_equal(mpc_arith_text(c, &t, &n), MPC_OK);
	assert_int_equal(strlen(t), n);
	return t;
}

/* write(parse(write(c))) == write(c) */
static void round_trip(const mpc_arith *c) {
	char *t1 = text_of(c);
	mpc_arith *d = good(t1);
	char *t2 = text_of(d);
	assert_string_equal(t1, t2);
	mpc_arith_info a, b;
	mpc_arith_get_info(c, &a);
	mpc_arith_get_info(d, &b);
	assert_memory_equal(&a, &b, sizeof(a));
	free(t1);
	free(t2);
	mpc_arith_free(d);
}

static void test_builder(void **st) {
	(void)st;
	mpc_arith *c;
	assert_int_equal(mpc_arith_new(&c, MPC_Z128, 16, 2), MPC_OK);
	assert_int_equal(mpc_arith_name_party(c, 0, "merchant"), MPC_OK);
	int x = mpc_arith_input(c, "x", 0, 12, MPC_ARITH_FIX);
	int w = mpc_arith_input(c, "w", 1, 4, MPC_ARITH_FIX);
	double wv[4] = {0.5, -0.25, 1e-3, 3};
	int k = mpc_arith_const_fix(c, NULL, 4, wv, 4);
	int s = mpc_arith_dot(c, "s", x, w, 4);
	int s2 = mpc_arith_dot(c, NULL, x, k, 4);
	int e = mpc_arith_add(c, NULL, s, s2);
	int g = mpc_arith_cmul_fix(c, NULL, e, 0.1);
	int h = mpc_arith_addc_fix(c, NULL, g, -1.5);
	int bit = mpc_arith_lt(c, "bit", h, s);
	int sel = mpc_arith_select(c, NULL, bit, s, s2);
	int i = mpc_arith_input(c, "i", 1, 3, MPC_ARITH_INT);
	int ic = mpc_arith_cmul_int(c, NULL, i, -3);
	int ia = mpc_arith_addc_int(c, NULL, ic, 7);
	int ifx = mpc_arith_tofix(c, NULL, ia);
	int m = mpc_arith_mul(c, NULL, ifx, sel);
	int r = mpc_arith_sigmoid(c, "r", m);
	int am = mpc_arith_argmax(c, NULL, x, 4);
	assert_true(x >= 0 && w >= 0 && k >= 0 && s >= 0 && s2 >= 0 && e >= 0 && g >= 0 && h >= 0 &&
	            bit >= 0 && sel >= 0 && ic >= 0 && ia >= 0 && ifx >= 0 && m >= 0 && r >= 0 &&
	            am >= 0);
	assert_int_equal(mpc_arith_output(c, r, MPC_ARITH_ALL), MPC_OK);
	assert_int_equal(mpc_arith_output(c, am, 0), MPC_OK);
	assert_int_equal(mpc_arith_output(c, bit, 1), MPC_OK);
	assert_int_equal(mpc_arith_check(c), MPC_OK);
	assert_int_equal(mpc_arith_n_inputs(c), 3);
	assert_int_equal(mpc_arith_n_outputs(c), 3);
	assert_int_equal(mpc_arith_find_input(c, "i"), 2);
	assert_int_equal(mpc_arith_output_at(c, 1).party, 0);
	assert_int_equal(mpc_arith_output_at(c, 1).len, 3);
	assert_int_equal(mpc_arith_output_at(c, 1).type, MPC_ARITH_INT);
	char *t = text_of(c);
	assert_non_null(strstr(t, "input x merchant 12 fix\n"));
	/* 1e-3 is encoded as 66 / 2^16, written exactly */
	assert_non_null(strstr(t, "const _2 fix 4 0.5 -0.25 0.001007080078125 3.0\n"));
	assert_non_null(strstr(t, "_6 = CMUL _5 0.100006103515625\n"));
	assert_non_null(strstr(t, "_16 = ARGMAX x 4\n"));
	assert_non_null(strstr(t, "output _16 merchant\n"));
	free(t);
	round_trip(c);
	mpc_arith_info info;
	mpc_arith_get_info(c, &info);
	/* layers: 1 DOTs (Beaver, truncations) and ARGMAX; 2 CMUL by 0.1 (truncation);
	 * 3 LT; 4 SELECT (Beaver); 5 MUL fix*fix (Beaver, truncation); 6 SIGMOID */
	assert_int_equal(info.depth, 6);
	assert_int_equal(info.beaver_layers, 3);
	assert_int_equal(info.trunc_layers, 3);
	assert_int_equal(info.nonlinear_calls, 3);
	assert_int_equal(info.output_rounds, 1);
	assert_int_equal(info.products, 12 + 3 + 3);
	assert_int_equal(info.truncations, 3 + 3 + 3 + 3);

	/* errors are sticky, named, and stop the writer */
	int bad1 = mpc_arith_add(c, NULL, s, i); /* fix + int */
	assert_int_equal(bad1, -1);
	assert_int_equal(mpc_arith_check(c), MPC_EINVAL);
	assert_non_null(
	    strstr(mpc_error_detail(), "arith builder: ADD of 's' (fix) and 'i' (int)"));
	assert_int_equal(mpc_arith_neg(c, NULL, x), -1);
	char *tt = NULL;
	assert_int_equal(mpc_arith_text(c, &tt, NULL), MPC_EINVAL);
	assert_null(tt);
	mpc_arith_free(c);

	assert_int_equal(mpc_arith_new(&c, MPC_Z64, 0, 3), MPC_OK);
	assert_int_equal(mpc_arith_input(c, "a", 3, 1, MPC_ARITH_INT), -1);
	assert_non_null(strstr(mpc_error_detail(), "input party 3: expected 0 .. 2"));
	mpc_arith_free(c);
	assert_int_equal(mpc_arith_new(&c, MPC_Z64, 0, 3), MPC_OK);
	int a = mpc_arith_input(c, "a", 0, 6, MPC_ARITH_INT);
	assert_int_equal(mpc_arith_input(c, "a", 1, 6, MPC_ARITH_INT), -1);
	assert_non_null(strstr(mpc_error_detail(), "wire 'a' is already defined"));
	mpc_arith_free(c);
	assert_int_equal(mpc_arith_new(&c, MPC_Z64, 0, 3), MPC_OK);
	a = mpc_arith_input(c, "a", 0, 6, MPC_ARITH_INT);
	assert_int_equal(mpc_arith_max(c, NULL, a, 4), -1);
	assert_non_null(strstr(mpc_error_detail(), "MAX of 'a' (length 6) in groups of 4"));
	mpc_arith_free(c);
	assert_int_equal(mpc_arith_new(&c, MPC_Z64, 70, 3), MPC_EINVAL);
	assert_null(c);
}

/* Every operation in the clear against C on the same numbers. */
static void test_clear_eval(void **st) {
	(void)st;
	mpc_arith *c =
	    good(HDR "input x 0 6 fix\n"
	             "input y 1 6 fix\n"
	             "input k 1 1 fix\n"
	             "input n 0 6 int\n"
	             "add = ADD x y\nsub = SUB x k\nmul = MUL x y\nneg = NEG x\n"
	             "dot = DOT x y 3\ndotb = DOT x y 6\nsum = SUM n 2\n"
	             "cm = CMUL x 0.5\ncmi = CMUL n -3\nci = CMUL n 0.25\nad = ADDC x 1.25\n"
	             "tr = TRUNC n 1\nte = TRUNC_EXACT n 2\ntf = TOFIX n\nas = AS n fix\n"
	             "ltz = LTZ x\nlt = LT x y\neq = EQ n n\nsel = SELECT ltz x y\n"
	             "relu = RELU x\nmx = MAX x 3\nmn = MIN x 3\namx = ARGMAX x 3\n"
	             "amn = ARGMIN x 3\nrc = RECIP y\ndv = DIV x y\nsq = SQRT y\n"
	             "ex = EXP x\nsg = SIGMOID x\nmi = MUL n x\n"
	             "output add all\noutput sub all\noutput mul all\noutput neg all\n"
	             "output dot all\noutput dotb all\noutput sum all\noutput cm all\n"
	             "output cmi all\noutput ci all\noutput ad all\noutput tr all\n"
	             "output te all\noutput tf all\noutput as all\noutput ltz all\n"
	             "output lt all\noutput eq all\noutput sel all\noutput relu all\n"
	             "output mx all\noutput mn all\noutput amx all\noutput amn all\n"
	             "output rc all\noutput dv all\noutput sq all\noutput ex all\n"
	             "output sg all\noutput mi 1\n");
	double x[6] = {1.5, -2.25, 0.75, 3, -0.5, 2}, y[6] = {2, 0.5, 4, 1.25, 3, 0.25}, k = -1;
	int64_t n[6] = {5, -7, 12, 0, 3, 9};
	mpc_u128 ex[6], ey[6], ek, en[6];
	assert_int_equal(mpc_fixed_encode(MPC_Z128, 16, 1e6, x, ex, 6), MPC_OK);
	assert_int_equal(mpc_fixed_encode(MPC_Z128, 16, 1e6, y, ey, 6), MPC_OK);
	assert_int_equal(mpc_fixed_encode(MPC_Z128, 16, 1e6, &k, &ek, 1), MPC_OK);
	for (int i = 0; i < 6; i++)
		en[i] = (mpc_u128)(mpc_i128)n[i];
	const void *in[4] = {ex, ey, &ek, en};
	size_t no = mpc_arith_n_outputs(c);
	mpc_u128 res[32][6];
	void *out[32];
	for (size_t j = 0; j < no; j++)
		out[j] = res[j];
	assert_int_equal(mpc_arith_eval_clear(c, in, out), MPC_OK);
#define D(name, i) (ldexp((double)(mpc_i128)res[mpc_arith_find_output(c, name)][i], -16))
#define I(name, i) ((long long)(mpc_i128)res[mpc_arith_find_output(c, name)][i])
	for (int i = 0; i < 6; i++) {
		assert_true(D("add", i) == x[i] + y[i]);
		assert_true(D("sub", i) == x[i] - k);
		assert_true(D("mul", i) == x[i] * y[i]); /* exact in 16 bits here */
		assert_true(D("neg", i) == -x[i]);
		assert_true(D("cm", i) == x[i] * 0.5);
		assert_int_equal(I("cmi", i), -3 * n[i]);
		assert_true(D("ci", i) == n[i] * 0.25);
		assert_true(D("ad", i) == x[i] + 1.25);
		assert_int_equal(I("tr", i), n[i] >> 1);
		assert_int_equal(I("te", i), n[i] >> 2);
		assert_true(D("tf", i) == (double)n[i]);
		assert_int_equal(I("as", i), n[i]);
		assert_int_equal(I("ltz", i), x[i] < 0);
		assert_int_equal(I("lt", i), x[i] < y[i]);
		assert_int_equal(I("eq", i), 1);
		assert_true(D("sel", i) == (x[i] < 0 ? x[i] : y[i]));
		assert_true(D("relu", i) == (x[i] < 0 ? 0 : x[i]));
		assert_true(fabs(D("rc", i) - 1 / y[i]) <= ldexp(1, -17));
		assert_true(fabs(D("dv", i) - x[i] / y[i]) <= ldexp(1, -17));
		assert_true(fabs(D("sq", i) - sqrt(y[i])) <= ldexp(1, -17));
		assert_true(fabs(D("ex", i) - exp(x[i])) <= ldexp(1, -17));
		assert_true(fabs(D("sg", i) - 1 / (1 + exp(-x[i]))) <= ldexp(1, -17));
		assert_true(D("mi", i) == n[i] * x[i]);
	}
	for (int i = 0; i < 2; i++) {
		double d = 0, mx = -1e9, mn = 1e9;
		int amx = 0, amn = 0;
		for (int j = 0; j < 3; j++) {
			d += x[3 * i + j] * y[3 * i + j];
			if (x[3 * i + j] > mx)
				mx = x[3 * i + j], amx = j;
			if (x[3 * i + j] < mn)
				mn = x[3 * i + j], amn = j;
		}
		assert_true(D("dot", i) == d);
		assert_true(D("mx", i) == mx);
		assert_true(D("mn", i) == mn);
		assert_int_equal(I("amx", i), amx);
		assert_int_equal(I("amn", i), amn);
	}
	for (int i = 0; i < 3; i++)
		assert_int_equal(I("sum", i), n[2 * i] + n[2 * i + 1]);
	double db = 0;
	for (int j = 0; j < 6; j++)
		db += x[j] * y[j];
	assert_true(D("dotb", 0) == db);
	round_trip(c);

	/* a reciprocal of 0 is an error naming the gate and the element, not the value */
	y[2] = 0;
	assert_int_equal(mpc_fixed_encode(MPC_Z128, 16, 1e6, y, ey, 6), MPC_OK);
	assert_int_equal(mpc_arith_eval_clear(c, in, out), MPC_ERANGE);
	assert_non_null(strstr(mpc_error_detail(), "RECIP 'rc' on line"));
	assert_non_null(strstr(mpc_error_detail(), "element 2"));
	mpc_arith_free(c);
}

/* Broadcasting: length-1 operands and a weight row across a DOT, in Z_2^64. */
static void test_broadcast(void **st) {
	(void)st;
	bad("arith 1 ring 64 frac 0 parties 3\ninput a 0 8 int\nc = CONST a\n",
	    "t.arc:3: unknown operation 'CONST'");
	mpc_arith *c = good("arith 1 ring 64 frac 0 parties 3\n"
	                    "input a 0 8 int\ninput b 2 1 int\ninput w 1 4 int\n"
	                    "s = ADD a b\nd = SUB b a\nm = MUL b a\nt = DOT w a 4\n"
	                    "output s all\noutput d 0\noutput m 1\noutput t 2\n");
	uint64_t a[8] = {1, 2, 3, 4, 5, 6, 7, (uint64_t)-8}, b = 10, w[4] = {1, 10, 100, 1000};
	uint64_t s[8], d[8], m[8], t[2];
	const void *in[3] = {a, &b, w};
	void *out[4] = {s, d, m, t};
	assert_int_equal(mpc_arith_eval_clear(c, in, out), MPC_OK);
	for (int i = 0; i < 8; i++) {
		assert_true(s[i] == a[i] + b);
		assert_true(d[i] == b - a[i]);
		assert_true(m[i] == b * a[i]);
	}
	assert_true(t[0] == 4321);
	assert_true(t[1] == (uint64_t)(5 + 60 + 700 - 8000));
	mpc_arith_info info;
	mpc_arith_get_info(c, &info);
	assert_int_equal(info.depth, 1); /* MUL b a and DOT w a: both in layer 1 */
	assert_int_equal(info.beaver_layers, 1);
	assert_int_equal(info.products, 16);
	assert_int_equal(info.rounds, 2);
	mpc_arith_free(c);
}

static const char *circuit_path(const char *name) {
	static char path[512];
	const char *dir = getenv("MPC_ARITH_DIR");
	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "circuits", name);
	return path;
}

static void test_files(void **st) {
	(void)st;
	const char *names[] = {"fraud_score.arc", "scorecard.arc", "stats.arc"};
	for (size_t i = 0; i < 3; i++) {
		mpc_arith *c = NULL;
		if (mpc_arith_load(circuit_path(names[i]), &c) != MPC_OK)
			fail_msg("%s", mpc_error_detail());
		round_trip(c);
		mpc_arith_free(c);
	}
	mpc_arith *c = (mpc_arith *)&c;
	assert_int_equal(mpc_arith_load("/nonexistent/x.arc", &c), MPC_EIO);
	assert_null(c);
}

static uint64_t rng = 88172645463325252ull;
static double uniform(void) {
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

/* fraud_score.arc in the clear against logistic regression in double. */
static void test_fraud_clear(void **st) {
	(void)st;
	mpc_arith *c = NULL;
	if (mpc_arith_load(circuit_path("fraud_score.arc"), &c) != MPC_OK)
		fail_msg("%s", mpc_error_detail());
	size_t rows = 256, F = 8;
	assert_int_equal(mpc_arith_input_at(c, 0).len, rows * F);
	double *x = malloc(rows * F * sizeof(double)), w[8], b = 0.25, t = 0.4;
	mpc_u128 *ex = malloc(rows * F * 16), ew[8], eb, et, flag[256];
	for (size_t i = 0; i < rows * F; i++)
		x[i] = uniform() * 4 - 2;
	for (size_t k = 0; k < F; k++)
		w[k] = uniform() * 2 - 1;
	assert_int_equal(mpc_fixed_encode(MPC_Z128, 16, 100, x, ex, rows * F), MPC_OK);
	assert_int_equal(mpc_fixed_encode(MPC_Z128, 16, 100, w, ew, F), MPC_OK);
	assert_int_equal(mpc_fixed_encode(MPC_Z128, 16, 100, &b, &eb, 1), MPC_OK);
	assert_int_equal(mpc_fixed_encode(MPC_Z128, 16, 100, &t, &et, 1), MPC_OK);
	const void *in[4] = {ex, ew, &eb, &et};
	void *out[1] = {flag};
	assert_int_equal(mpc_arith_eval_clear(c, in, out), MPC_OK);
	int flagged = 0;
	for (size_t i = 0; i < rows; i++) {
		double z = b;
		for (size_t k = 0; k < F; k++)
			z += x[i * F + k] * w[k];
		double p = 1 / (1 + exp(-z));
		if (fabs(p - t) > 1e-3)
			assert_int_equal((int)flag[i], p > t);
		flagged += (int)flag[i];
	}
	assert_true(flagged > 0 && flagged < (int)rows);
	free(x);
	free(ex);
	mpc_arith_free(c);
}

int main(void) {
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_malformed),   cmocka_unit_test(test_numbers),
	    cmocka_unit_test(test_builder),     cmocka_unit_test(test_clear_eval),
	    cmocka_unit_test(test_broadcast),   cmocka_unit_test(test_files),
	    cmocka_unit_test(test_fraud_clear),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
