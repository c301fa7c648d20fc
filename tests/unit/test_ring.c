/* Unit tests: rings Z_2^64 and Z_2^128, vector arithmetic, mpc_vec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/mpc_ring.h"

#define N 1037 /* odd, so vectorized loops also run their tails */

static uint64_t rng_state = 0x853c49e6748fea9bULL;

/* splitmix64: deterministic test data */
static uint64_t rnd(void) {
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static const uint64_t special64[] = {0,
                                     1,
                                     2,
                                     UINT64_MAX,
                                     UINT64_MAX - 1,
                                     (uint64_t)1 << 63,
                                     ((uint64_t)1 << 63) - 1,
                                     ((uint64_t)1 << 63) + 1};

static void fill64(uint64_t *x, size_t n) {
	size_t ns = sizeof(special64) / sizeof(special64[0]);
	for (size_t i = 0; i < n; i++)
		x[i] = i < ns ? special64[i] : rnd();
}

static void fill128(mpc_u128 *x, size_t n, int shift) {
	const mpc_u128 top = (mpc_u128)1 << 127;
	const mpc_u128 specials[] = {0,   1,       2,       ~(mpc_u128)0, ~(mpc_u128)0 - 1,
	                             top, top - 1, top + 1, UINT64_MAX,   (mpc_u128)UINT64_MAX + 1};
	size_t ns = sizeof(specials) / sizeof(specials[0]);
	for (size_t i = 0; i < n; i++) {
		/* rotate the specials so that a and b pair them differently */
		size_t j = (i + (size_t)shift) % n;
		x[j] = i < ns ? specials[i] : ((mpc_u128)rnd() << 64) | rnd();
	}
}

static void test_check_parse(void **state) {
	(void)state;
	static const struct {
		const char *s;
		mpc_ring r;
	} good[] = {{"64", MPC_Z64},      {"128", MPC_Z128},     {"z64", MPC_Z64},
	            {"Z64", MPC_Z64},     {"z128", MPC_Z128},    {"Z128", MPC_Z128},
	            {"Z_2^64", MPC_Z64},  {"Z_2^128", MPC_Z128}, {"z_2^64", MPC_Z64},
	            {"z_2^128", MPC_Z128}};
	static const char *const bad[] = {"",       "32",      "z",    "Z_2^", "Z_2^32", "640",
	                                  "1280",   "64 ",     " 64",  "z_64", "Z2^64",  "x64",
	                                  "Z_3^64", "Z_2^64x", "0x40", "6"};
	mpc_ring r;

	assert_int_equal(mpc_ring_check(MPC_Z64), MPC_OK);
	assert_int_equal(mpc_ring_check(MPC_Z128), MPC_OK);
	assert_int_equal(mpc_ring_check((mpc_ring)0), MPC_EINVAL);
	assert_int_equal(mpc_ring_check((mpc_ring)32), MPC_EINVAL);
	assert_int_equal(mpc_ring_bytes(MPC_Z64), 8);
	assert_int_equal(mpc_ring_bytes(MPC_Z128), 16);
	assert_int_equal(mpc_ring_bits(MPC_Z64), 64);
	assert_int_equal(mpc_ring_bits(MPC_Z128), 128);

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		r = (mpc_ring)0;
		assert_int_equal(mpc_ring_parse(good[i].s, &r), MPC_OK);
		assert_int_equal(r, good[i].r);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(mpc_ring_parse(bad[i], &r), MPC_EINVAL);
	assert_int_equal(mpc_ring_parse(NULL, &r), MPC_EINVAL);
	assert_int_equal(mpc_ring_parse("64", NULL), MPC_EINVAL);
}

static void test_vec(void **state) {
	(void)state;
	static const mpc_ring rings[] = {MPC_Z64, MPC_Z128};
	static const size_t sizes[] = {0, 1, 2, 3, 1000, 4097};

	for (size_t ri = 0; ri < 2; ri++) {
		for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
			mpc_vec v;
			size_t n = sizes[si];
			memset(&v, 0xa5, sizeof(v));
			assert_int_equal(mpc_vec_init(&v, rings[ri], n), MPC_OK);
			assert_int_equal(v.ring, rings[ri]);
			assert_int_equal(v.n, n);
			if (n > 0) {
				const unsigned char *p = v.v;
				assert_non_null(v.v);
				assert_int_equal((uintptr_t)v.v % 16, 0);
				for (size_t i = 0; i < n * mpc_ring_bytes(v.ring); i++)
					assert_int_equal(p[i], 0);
				memset(v.v, 0xff, n * mpc_ring_bytes(v.ring));
			}
			/* operations on an empty vector are no-ops, even with v == NULL */
			mpc_ring_add(v.ring, v.v, v.v, v.v, v.n);
			mpc_vec_fini(&v);
			assert_null(v.v);
			assert_int_equal(v.n, 0);
			mpc_vec_fini(&v); /* twice is fine */
		}
	}
	mpc_vec z;
	memset(&z, 0, sizeof(z));
	mpc_vec_fini(&z); /* zeroed is fine */
	mpc_vec_fini(NULL);

	mpc_vec bad;
	assert_int_equal(mpc_vec_init(&bad, (mpc_ring)65, 4), MPC_EINVAL);
	assert_null(bad.v);
	mpc_vec_fini(&bad);
	assert_int_equal(mpc_vec_init(&bad, MPC_Z128, SIZE_MAX / 8), MPC_ENOMEM);
	assert_null(bad.v);
	assert_int_equal(mpc_vec_init(&bad, MPC_Z64, SIZE_MAX), MPC_ENOMEM);
	assert_null(bad.v);
	mpc_vec_fini(&bad);
}

static void test_ops64(void **state) {
	(void)state;
	uint64_t *a = malloc(N * 8), *b = malloc(N * 8), *o = malloc(N * 8);
	uint64_t *t = malloc(N * 8);
	uint64_t c = rnd(), s, ref;
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(o);
	assert_non_null(t);
	fill64(a, N);
	fill64(b, N);
	for (size_t i = 0; i < N / 2; i++) { /* pair specials differently */
		uint64_t x = b[i];
		b[i] = b[N - 1 - i];
		b[N - 1 - i] = x;
	}

	mpc_ring_add(MPC_Z64, o, a, b, N);
	for (size_t i = 0; i < N; i++)
		assert_true(o[i] == a[i] + b[i]);
	mpc_ring_sub(MPC_Z64, o, a, b, N);
	for (size_t i = 0; i < N; i++)
		assert_true(o[i] == a[i] - b[i]);
	mpc_ring_neg(MPC_Z64, o, a, N);
	for (size_t i = 0; i < N; i++)
		assert_true(o[i] == 0 - a[i]);
	mpc_ring_mul(MPC_Z64, o, a, b, N);
	for (size_t i = 0; i < N; i++)
		assert_true(o[i] == a[i] * b[i]);
	mpc_ring_scale(MPC_Z64, o, a, &c, N);
	for (size_t i = 0; i < N; i++)
		assert_true(o[i] == a[i] * c);
	mpc_ring_add_const(MPC_Z64, o, a, &c, N);
	for (size_t i = 0; i < N; i++)
		assert_true(o[i] == a[i] + c);

	/* wrap-around */
	uint64_t m = UINT64_MAX, one = 1, two = 2;
	mpc_ring_add(MPC_Z64, &s, &m, &one, 1);
	assert_true(s == 0);
	mpc_ring_sub(MPC_Z64, &s, &one, &two, 1);
	assert_true(s == UINT64_MAX);
	mpc_ring_mul(MPC_Z64, &s, &m, &m, 1);
	assert_true(s == 1);

	/* aliasing: out == a, out == b, all three the same */
	memcpy(t, a, N * 8);
	mpc_ring_add(MPC_Z64, t, t, b, N);
	for (size_t i = 0; i < N; i++)
		assert_true(t[i] == a[i] + b[i]);
	memcpy(t, b, N * 8);
	mpc_ring_sub(MPC_Z64, t, a, t, N);
	for (size_t i = 0; i < N; i++)
		assert_true(t[i] == a[i] - b[i]);
	memcpy(t, a, N * 8);
	mpc_ring_mul(MPC_Z64, t, t, t, N);
	for (size_t i = 0; i < N; i++)
		assert_true(t[i] == a[i] * a[i]);
	memcpy(t, a, N * 8);
	mpc_ring_neg(MPC_Z64, t, t, N);
	for (size_t i = 0; i < N; i++)
		assert_true(t[i] == 0 - a[i]);
	memcpy(t, a, N * 8);
	mpc_ring_scale(MPC_Z64, t, t, &t[5], N); /* the constant is read before it is overwritten */
	for (size_t i = 0; i < N; i++)
		assert_true(t[i] == a[i] * a[5]);
	memcpy(t, a, N * 8);
	mpc_ring_add_const(MPC_Z64, t, t, &t[0], N);
	for (size_t i = 0; i < N; i++)
		assert_true(t[i] == a[i] + a[0]);

	/* shifts */
	for (unsigned sh = 0; sh < 64; sh += 7) {
		mpc_ring_shr(MPC_Z64, o, a, sh, N);
		for (size_t i = 0; i < N; i++)
			assert_true(o[i] == a[i] >> sh);
		memcpy(t, a, N * 8);
		mpc_ring_sar(MPC_Z64, t, t, sh, N);
		for (size_t i = 0; i < N; i++) {
			uint64_t r = a[i] >> sh;
			if ((a[i] >> 63) && sh > 0)
				r |= ~(UINT64_MAX >>
				       sh); /* sign fill, computed without signed shifts */
			assert_true(t[i] == r);
		}
	}
	uint64_t neg = (uint64_t)-1000, pos = 1000;
	mpc_ring_sar(MPC_Z64, &s, &neg, 3, 1);
	assert_true((int64_t)s == -125);
	mpc_ring_sar(MPC_Z64, &s, &neg, 63, 1);
	assert_true(s == UINT64_MAX);
	mpc_ring_sar(MPC_Z64, &s, &pos, 63, 1);
	assert_true(s == 0);
	mpc_ring_shr(MPC_Z64, &s, &neg, 3, 1);
	assert_true(s == ((uint64_t)-1000) >> 3);
	mpc_ring_shr(MPC_Z64, &s, &neg, 63, 1);
	assert_true(s == 1);

	/* sum, dot */
	ref = 0;
	for (size_t i = 0; i < N; i++)
		ref += a[i];
	mpc_ring_sum(MPC_Z64, &s, a, N);
	assert_true(s == ref);
	ref = 0;
	for (size_t i = 0; i < N; i++)
		ref += a[i] * b[i];
	mpc_ring_dot(MPC_Z64, &s, a, b, N);
	assert_true(s == ref);
	s = 77;
	mpc_ring_sum(MPC_Z64, &s, a, 0);
	assert_true(s == 0);
	s = 77;
	mpc_ring_dot(MPC_Z64, &s, a, b, 0);
	assert_true(s == 0);
	uint64_t w[3] = {UINT64_MAX, UINT64_MAX, 3};
	mpc_ring_sum(MPC_Z64, &s, w, 3);
	assert_true(s == 1);

	/* set / get */
	mpc_ring_set_i64(MPC_Z64, o, 3, -5);
	assert_true(o[3] == (uint64_t)-5);
	assert_true(mpc_ring_get_i64(MPC_Z64, o, 3) == -5);
	mpc_ring_set_i64(MPC_Z64, o, 4, INT64_MIN);
	assert_true(mpc_ring_get_i64(MPC_Z64, o, 4) == INT64_MIN);
	mpc_ring_set_i64(MPC_Z64, o, 5, INT64_MAX);
	assert_true(mpc_ring_get_i64(MPC_Z64, o, 5) == INT64_MAX);

	free(a);
	free(b);
	free(o);
	free(t);
}

static mpc_u128 sar128_ref(mpc_u128 x, unsigned sh) {
	mpc_u128 r = x >> sh;
	if ((x >> 127) && sh > 0)
		r |= ~(~(mpc_u128)0 >> sh);
	return r;
}

static void test_ops128(void **state) {
	(void)state;
	mpc_vec va, vb, vo, vt;
	assert_int_equal(mpc_vec_init(&va, MPC_Z128, N), MPC_OK);
	assert_int_equal(mpc_vec_init(&vb, MPC_Z128, N), MPC_OK);
	assert_int_equal(mpc_vec_init(&vo, MPC_Z128, N), MPC_OK);
	assert_int_equal(mpc_vec_init(&vt, MPC_Z128, N), MPC_OK);
	mpc_u128 *a = va.v, *b = vb.v, *o = vo.v, *t = vt.v;
	mpc_u128 c = ((mpc_u128)rnd() << 64) | rnd(), s, ref;
	const mpc_u128 max = ~(mpc_u128)0;
	fill128(a, N, 0);
	fill128(b, N, 5);

	mpc_ring_add(MPC_Z128, o, a, b, N);
	for (size_t i = 0; i < N; i++)
		assert_true(o[i] == a[i] + b[i]);
	mpc_ring_sub(MPC_Z128, o, a, b, N);
	for (size_t i = 0; i < N; i++)
		assert_true(o[i] == a[i] - b[i]);
	mpc_ring_neg(MPC_Z128, o, a, N);
	for (size_t i = 0; i < N; i++)
		assert_true(o[i] == 0 - a[i]);
	mpc_ring_mul(MPC_Z128, o, a, b, N);
	for (size_t i = 0; i < N; i++)
		assert_true(o[i] == a[i] * b[i]);
	mpc_ring_scale(MPC_Z128, o, a, &c, N);
	for (size_t i = 0; i < N; i++)
		assert_true(o[i] == a[i] * c);
	mpc_ring_add_const(MPC_Z128, o, a, &c, N);
	for (size_t i = 0; i < N; i++)
		assert_true(o[i] == a[i] + c);

	/* wrap-around, and carries across the 64-bit halves */
	mpc_u128 one = 1, two = 2, lo = UINT64_MAX, m = max;
	mpc_ring_add(MPC_Z128, &s, &m, &one, 1);
	assert_true(s == 0);
	mpc_ring_add(MPC_Z128, &s, &lo, &one, 1);
	assert_true(s == (mpc_u128)1 << 64);
	mpc_ring_sub(MPC_Z128, &s, &one, &two, 1);
	assert_true(s == max);
	mpc_ring_mul(MPC_Z128, &s, &m, &m, 1);
	assert_true(s == 1);
	mpc_ring_mul(MPC_Z128, &s, &lo, &lo, 1);
	assert_true(s == ((mpc_u128)UINT64_MAX * UINT64_MAX));
	assert_true((uint64_t)(s >> 64) == UINT64_MAX - 1 && (uint64_t)s == 1);

	/* aliasing */
	memcpy(t, a, N * 16);
	mpc_ring_add(MPC_Z128, t, t, b, N);
	for (size_t i = 0; i < N; i++)
		assert_true(t[i] == a[i] + b[i]);
	memcpy(t, b, N * 16);
	mpc_ring_sub(MPC_Z128, t, a, t, N);
	for (size_t i = 0; i < N; i++)
		assert_true(t[i] == a[i] - b[i]);
	memcpy(t, a, N * 16);
	mpc_ring_mul(MPC_Z128, t, t, t, N);
	for (size_t i = 0; i < N; i++)
		assert_true(t[i] == a[i] * a[i]);
	memcpy(t, a, N * 16);
	mpc_ring_neg(MPC_Z128, t, t, N);
	for (size_t i = 0; i < N; i++)
		assert_true(t[i] == 0 - a[i]);
	memcpy(t, a, N * 16);
	mpc_ring_scale(MPC_Z128, t, t, &t[20], N);
	for (size_t i = 0; i < N; i++)
		assert_true(t[i] == a[i] * a[20]);
	memcpy(t, a, N * 16);
	mpc_ring_add_const(MPC_Z128, t, t, &t[0], N);
	for (size_t i = 0; i < N; i++)
		assert_true(t[i] == a[i] + a[0]);

	/* shifts */
	for (unsigned sh = 0; sh < 128; sh += 9) {
		mpc_ring_shr(MPC_Z128, o, a, sh, N);
		for (size_t i = 0; i < N; i++)
			assert_true(o[i] == a[i] >> sh);
		memcpy(t, a, N * 16);
		mpc_ring_sar(MPC_Z128, t, t, sh, N);
		for (size_t i = 0; i < N; i++)
			assert_true(t[i] == sar128_ref(a[i], sh));
	}
	mpc_u128 neg = (mpc_u128)(mpc_i128)-1000, pos = 1000;
	mpc_ring_sar(MPC_Z128, &s, &neg, 3, 1);
	assert_true((mpc_i128)s == -125);
	mpc_ring_sar(MPC_Z128, &s, &neg, 64, 1);
	assert_true(s == max);
	mpc_ring_sar(MPC_Z128, &s, &neg, 127, 1);
	assert_true(s == max);
	mpc_ring_sar(MPC_Z128, &s, &pos, 127, 1);
	assert_true(s == 0);
	mpc_ring_shr(MPC_Z128, &s, &neg, 127, 1);
	assert_true(s == 1);
	mpc_ring_shr(MPC_Z128, &s, &neg, 64, 1);
	assert_true(s == UINT64_MAX);

	/* sum, dot */
	ref = 0;
	for (size_t i = 0; i < N; i++)
		ref += a[i];
	mpc_ring_sum(MPC_Z128, &s, a, N);
	assert_true(s == ref);
	ref = 0;
	for (size_t i = 0; i < N; i++)
		ref += a[i] * b[i];
	mpc_ring_dot(MPC_Z128, &s, a, b, N);
	assert_true(s == ref);
	s = 77;
	mpc_ring_sum(MPC_Z128, &s, a, 0);
	assert_true(s == 0);
	mpc_u128 w[3] = {max, max, 3};
	mpc_ring_sum(MPC_Z128, &s, w, 3);
	assert_true(s == 1);

	/* set / get: sign extension to 128 bits, low 64 bits read back */
	mpc_ring_set_i64(MPC_Z128, o, 3, -5);
	assert_true(o[3] == max - 4);
	assert_true(mpc_ring_get_i64(MPC_Z128, o, 3) == -5);
	mpc_ring_set_i64(MPC_Z128, o, 4, INT64_MIN);
	assert_true((mpc_i128)o[4] == (mpc_i128)INT64_MIN);
	assert_true(mpc_ring_get_i64(MPC_Z128, o, 4) == INT64_MIN);
	mpc_ring_set_i64(MPC_Z128, o, 5, 7);
	assert_true(o[5] == 7);
	o[6] = ((mpc_u128)1 << 100) | 0xffffffffffffffffULL; /* low 64 bits are -1 */
	assert_true(mpc_ring_get_i64(MPC_Z128, o, 6) == -1);

	mpc_vec_fini(&va);
	mpc_vec_fini(&vb);
	mpc_vec_fini(&vo);
	mpc_vec_fini(&vt);
}

int main(void) {
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_check_parse),
	    cmocka_unit_test(test_vec),
	    cmocka_unit_test(test_ops64),
	    cmocka_unit_test(test_ops128),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
