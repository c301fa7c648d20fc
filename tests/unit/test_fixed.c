/* Unit tests: fixed-point encoding and decoding. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/mpc_err.h"
#include "runtime/mpc_fixed.h"

static uint64_t rng_state = 0x1234567890abcdefULL;

static uint64_t rnd(void) {
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* uniform in [0, 1) with 53 random bits */
static double unit(void) {
	return (double)(rnd() >> 11) * 0x1p-53;
}

/* The signed integer in element i, as a long double (exact up to 64 bits). */
static long double elem(mpc_ring r, const void *x, size_t i) {
	if (r == MPC_Z64)
		return (long double)(int64_t)((const uint64_t *)x)[i];
	return (long double)(mpc_i128)((const mpc_u128 *)x)[i];
}

static void test_check_frac_limit(void **state) {
	(void)state;
	assert_int_equal(mpc_fixed_check_frac(MPC_Z64, 0), MPC_OK);
	assert_int_equal(mpc_fixed_check_frac(MPC_Z64, 16), MPC_OK);
	assert_int_equal(mpc_fixed_check_frac(MPC_Z64, 60), MPC_OK);
	assert_int_equal(mpc_fixed_check_frac(MPC_Z64, 61), MPC_EINVAL);
	assert_int_equal(mpc_fixed_check_frac(MPC_Z64, 64), MPC_EINVAL);
	assert_int_equal(mpc_fixed_check_frac(MPC_Z128, 100), MPC_OK);
	assert_int_equal(mpc_fixed_check_frac(MPC_Z128, 101), MPC_EINVAL);
	assert_int_equal(mpc_fixed_check_frac((mpc_ring)32, 8), MPC_EINVAL);

	assert_true(mpc_fixed_limit(MPC_Z64, 16) == 0x1p47);
	assert_true(mpc_fixed_limit(MPC_Z64, 0) == 0x1p63);
	assert_true(mpc_fixed_limit(MPC_Z64, 60) == 8.0);
	assert_true(mpc_fixed_limit(MPC_Z128, 16) == 0x1p111);
	assert_true(mpc_fixed_limit(MPC_Z128, 100) == 0x1p27);
	assert_true(mpc_fixed_limit(MPC_Z64, 61) == 0.0);
}

/* Random values of all magnitudes below lim, both signs, plus edge cases;
 * checks encoding error <= 2^-(F+1), exact integer results and the round trip. */
static void roundtrip(mpc_ring r, unsigned f) {
	enum { N = 4001 };
	const double lim = mpc_fixed_limit(r, f);
	const double ulp = ldexp(1.0, -(int)f);
	double *in = malloc(N * sizeof(double)), *back = malloc(N * sizeof(double));
	void *enc = malloc(N * 16);
	size_t n = 0;

	assert_non_null(in);
	assert_non_null(back);
	assert_non_null(enc);
	in[n++] = 0.0;
	in[n++] = -0.0;
	in[n++] = 1.0;
	in[n++] = -1.0;
	in[n++] = 0.5 * ulp; /* ties round away from zero */
	in[n++] = -0.5 * ulp;
	in[n++] = 1.5 * ulp;
	in[n++] = 0.49 * ulp;
	in[n++] = ulp;
	in[n++] = -ulp;
	in[n++] = nextafter(lim, 0.0); /* largest value below the limit */
	in[n++] = -nextafter(lim, 0.0);
	in[n++] = 5e-324; /* subnormal */
	while (n < N) {
		/* log-uniform magnitude between 2^-F-8 and the limit */
		int e = (int)(rnd() % (uint64_t)(mpc_ring_bits(r) - 1 + 8)) - (int)f - 8;
		double v = ldexp(1.0 + unit(), e);
		if (!(v < lim))
			v = ldexp(unit(), (int)(mpc_ring_bits(r) - 1 - f));
		in[n++] = (rnd() & 1) ? -v : v;
	}

	assert_int_equal(mpc_fixed_encode(r, f, lim, in, enc, N), MPC_OK);
	mpc_fixed_decode(r, f, enc, back, N);
	for (size_t i = 0; i < N; i++) {
		/* encoding error, measured on the integer: |enc - v*2^F| <= 1/2 */
		long double x = elem(r, enc, i);
		long double want = (long double)in[i] * ldexpl(1.0L, (int)f);
		long double d = fabsl(x - want);
		if (!(d <= 0.5L))
			fail_msg("F=%u ring=%u i=%zu: encoding error %Lg units", f,
			         mpc_ring_bits(r), i, d);
		/* sign and rounding direction: round half away from zero */
		if (d == 0.5L)
			assert_true(fabsl(x) > fabsl(want));
		/* decoding is the signed value / 2^F, correctly rounded to double */
		double dec = back[i];
		double err = fabs(dec - in[i]);
		double tol = ulp / 2 + ldexp(fabs(in[i]), -52);
		if (!(err <= tol))
			fail_msg("F=%u ring=%u i=%zu: round-trip error %g > %g", f,
			         mpc_ring_bits(r), i, err, tol);
	}
	/* exact cases */
	assert_true(back[0] == 0.0);
	assert_true(back[2] == 1.0);
	assert_true(back[3] == -1.0);
	assert_true(back[4] == ulp);
	assert_true(back[5] == -ulp);
	assert_true(back[6] == 2 * ulp);
	assert_true(back[7] == 0.0);
	assert_true(back[8] == ulp);
	assert_true(back[9] == -ulp);
	/* the extreme values survive (they are integers times 2^-F and exact) */
	assert_true(back[10] == in[10]);
	assert_true(back[11] == in[11]);

	free(in);
	free(back);
	free(enc);
}

static void test_roundtrip64(void **state) {
	(void)state;
	static const unsigned fs[] = {0, 8, 16, 30, 60};
	for (size_t i = 0; i < sizeof(fs) / sizeof(fs[0]); i++)
		roundtrip(MPC_Z64, fs[i]);
}

static void test_roundtrip128(void **state) {
	(void)state;
	static const unsigned fs[] = {0, 8, 16, 30, 60, 100};
	for (size_t i = 0; i < sizeof(fs) / sizeof(fs[0]); i++)
		roundtrip(MPC_Z128, fs[i]);
}

static void test_known_encodings(void **state) {
	(void)state;
	const double in[] = {1.5, -1.5, -0.25, 3.0};
	uint64_t e64[4];
	mpc_u128 e128[4];

	assert_int_equal(mpc_fixed_encode(MPC_Z64, 16, 100.0, in, e64, 4), MPC_OK);
	assert_true(e64[0] == 3 << 15);
	assert_true(e64[1] == (uint64_t) - (3 << 15));
	assert_true(e64[2] == (uint64_t) - (1 << 14));
	assert_true(e64[3] == 3 << 16);
	assert_int_equal(mpc_fixed_encode(MPC_Z128, 60, 100.0, in, e128, 4), MPC_OK);
	assert_true(e128[0] == (mpc_u128)3 << 59);
	assert_true(e128[1] == -((mpc_u128)3 << 59));
	assert_true(e128[2] == -((mpc_u128)1 << 58));
	assert_true(e128[3] == (mpc_u128)3 << 60);

	/* values above 2^63 in Z_2^128: 2^100 at F = 16 is 2^116 */
	const double big[] = {0x1p100, -0x1p100, 0x1.fffffffffffffp110};
	assert_int_equal(mpc_fixed_encode(MPC_Z128, 16, 0x1p111, big, e128, 3), MPC_OK);
	assert_true(e128[0] == (mpc_u128)1 << 116);
	assert_true(e128[1] == -((mpc_u128)1 << 116));
	assert_true(e128[2] == (((mpc_u128)1 << 53) - 1) << 74);
	double out[3];
	mpc_fixed_decode(MPC_Z128, 16, e128, out, 3);
	assert_true(out[0] == big[0] && out[1] == big[1] && out[2] == big[2]);

	/* n = 0 is fine, with or without arrays */
	assert_int_equal(mpc_fixed_encode(MPC_Z64, 16, 1.0, NULL, NULL, 0), MPC_OK);
	mpc_fixed_decode(MPC_Z64, 16, NULL, NULL, 0);
}

/* The detail text must not contain the secret value in any common rendering. */
static void assert_detail_clean(const char *const *forbidden, size_t nf) {
	const char *d = mpc_error_detail();
	assert_true(d[0] != '\0');
	for (size_t i = 0; i < nf; i++)
		if (strstr(d, forbidden[i]))
			fail_msg("error detail \"%s\" reveals \"%s\"", d, forbidden[i]);
}

static void test_range(void **state) {
	(void)state;
	static const mpc_ring rings[] = {MPC_Z64, MPC_Z128};
	uint64_t out64[4];
	mpc_u128 out128[4];

	for (size_t ri = 0; ri < 2; ri++) {
		mpc_ring r = rings[ri];
		void *out = r == MPC_Z64 ? (void *)out64 : (void *)out128;
		const unsigned f = 16;
		const double lim = mpc_fixed_limit(r, f);
		double in[3] = {1.0, 2.0, 0.0};

		/* at the limit and beyond, both signs, as max_abs and as the limit */
		const double bad[] = {
		    lim,      -lim,      2 * lim, -2 * lim, nextafter(lim, INFINITY),
		    INFINITY, -INFINITY, NAN,     -NAN,     1e308};
		for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
			in[2] = bad[k];
			mpc_error_clear();
			assert_int_equal(mpc_fixed_encode(r, f, lim, in, out, 3), MPC_ERANGE);
			assert_non_null(strstr(mpc_error_detail(), "index 2"));
		}
		/* a user bound: exactly max_abs is out, just below is in */
		in[2] = 1000.0;
		assert_int_equal(mpc_fixed_encode(r, f, 1000.0, in, out, 3), MPC_ERANGE);
		in[2] = -1000.0;
		assert_int_equal(mpc_fixed_encode(r, f, 1000.0, in, out, 3), MPC_ERANGE);
		in[2] = nextafter(1000.0, 0.0);
		assert_int_equal(mpc_fixed_encode(r, f, 1000.0, in, out, 3), MPC_OK);

		/* the first offender is named, and only by index */
		const double secret[] = {1.0, 12345.678, -98765.4321};
		mpc_error_clear();
		assert_int_equal(mpc_fixed_encode(r, f, 1000.0, secret, out, 3), MPC_ERANGE);
		assert_non_null(strstr(mpc_error_detail(), "index 1"));
		static const char *const forbidden[] = {"12345", "1.23",  "2345", "98765",
		                                        "9.87",  "12346", "e+04", "0x"};
		assert_detail_clean(forbidden, sizeof(forbidden) / sizeof(forbidden[0]));
		/* nothing of the partial encoding is left behind */
		if (r == MPC_Z64)
			assert_true(out64[0] == 0);
		else
			assert_true(out128[0] == 0);

		/* bad parameters */
		assert_int_equal(mpc_fixed_encode(r, f, 2 * lim, in, out, 1), MPC_EINVAL);
		assert_int_equal(mpc_fixed_encode(r, f, NAN, in, out, 1), MPC_EINVAL);
		assert_int_equal(mpc_fixed_encode(r, f, 0.0, in, out, 1), MPC_EINVAL);
		assert_int_equal(mpc_fixed_encode(r, f, -1.0, in, out, 1), MPC_EINVAL);
		assert_int_equal(mpc_fixed_encode(r, 101, 1.0, in, out, 1), MPC_EINVAL);
		assert_int_equal(mpc_fixed_encode(r, f, 1.0, NULL, out, 1), MPC_EINVAL);
	}
	double one = 1.0;
	uint64_t o;
	assert_int_equal(mpc_fixed_encode(MPC_Z64, 61, 1.0, &one, &o, 1), MPC_EINVAL);
	assert_int_equal(mpc_fixed_encode((mpc_ring)32, 8, 1.0, &one, &o, 1), MPC_EINVAL);
}

int main(void) {
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_check_frac_limit),
	    cmocka_unit_test(test_roundtrip64),
	    cmocka_unit_test(test_roundtrip128),
	    cmocka_unit_test(test_known_encodings),
	    cmocka_unit_test(test_range),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
