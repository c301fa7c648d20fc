/* Unit tests: AES-128-CTR PRG. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "runtime/mpc_err.h"
#include "runtime/mpc_prg.h"

static const uint8_t seed_a[MPC_SEED_BYTES] = {0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6,
                                               0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c};

/* Reference: AES-128-ECB of the big-endian counter blocks first..first+nblocks-1. */
static void ecb_counter_stream(const uint8_t key[16], uint64_t first, uint8_t *out,
                               size_t nblocks) {
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	uint8_t *in = calloc(nblocks, 16);
	int outl = 0;

	assert_non_null(ctx);
	assert_non_null(in);
	for (size_t b = 0; b < nblocks; b++) {
		uint64_t c = first + b;
		for (int j = 0; j < 8; j++)
			in[b * 16 + 15 - (size_t)j] = (uint8_t)(c >> (8 * j));
	}
	assert_int_equal(EVP_EncryptInit_ex(ctx, EVP_aes_128_ecb(), NULL, key, NULL), 1);
	EVP_CIPHER_CTX_set_padding(ctx, 0);
	assert_int_equal(EVP_EncryptUpdate(ctx, out, &outl, in, (int)(nblocks * 16)), 1);
	assert_int_equal(outl, (int)(nblocks * 16));
	EVP_CIPHER_CTX_free(ctx);
	free(in);
}

static void test_known_answer(void **state) {
	(void)state;
	mpc_prg *prg = NULL;
	uint8_t got[48], want[48];

	assert_int_equal(mpc_prg_new(&prg, seed_a), MPC_OK);
	assert_non_null(prg);
	assert_int_equal(mpc_prg_fill(prg, got, sizeof(got)), MPC_OK);
	ecb_counter_stream(seed_a, 0, want, 3);
	assert_memory_equal(got, want, sizeof(got));

	/* and the stream goes on with counter block 3 */
	assert_int_equal(mpc_prg_fill(prg, got, 16), MPC_OK);
	ecb_counter_stream(seed_a, 3, want, 1);
	assert_memory_equal(got, want, 16);
	mpc_prg_free(prg);

	/* a fixed vector, independent of the reference code above:
	 * AES-128 with the all-zero key on the all-zero block (FIPS-197 style KAT) */
	static const uint8_t zero_key[16] = {0};
	static const uint8_t kat0[16] = {0x66, 0xe9, 0x4b, 0xd4, 0xef, 0x8a, 0x2c, 0x3b,
	                                 0x88, 0x4c, 0xfa, 0x59, 0xca, 0x34, 0x2b, 0x2e};
	assert_int_equal(mpc_prg_new(&prg, zero_key), MPC_OK);
	assert_int_equal(mpc_prg_fill(prg, got, 16), MPC_OK);
	assert_memory_equal(got, kat0, 16);
	mpc_prg_free(prg);
}

static void test_determinism_and_split(void **state) {
	(void)state;
	enum { LEN = 10007 };
	static const size_t splits[] = {0, 1, 5, 15, 16, 17, 31, 33, 100, 4096, 10000, LEN};
	uint8_t *ref = malloc(LEN), *buf = malloc(LEN);
	mpc_prg *p1 = NULL, *p2 = NULL;

	assert_non_null(ref);
	assert_non_null(buf);
	assert_int_equal(mpc_prg_new(&p1, seed_a), MPC_OK);
	assert_int_equal(mpc_prg_new(&p2, seed_a), MPC_OK);
	assert_int_equal(mpc_prg_fill(p1, ref, LEN), MPC_OK);
	assert_int_equal(mpc_prg_fill(p2, buf, LEN), MPC_OK);
	assert_memory_equal(ref, buf, LEN);
	mpc_prg_free(p1);
	mpc_prg_free(p2);

	/* fill(a); fill(b) == fill(a + b), for splits inside and across blocks */
	for (size_t i = 0; i < sizeof(splits) / sizeof(splits[0]); i++) {
		size_t a = splits[i];
		memset(buf, 0xcc, LEN);
		assert_int_equal(mpc_prg_new(&p1, seed_a), MPC_OK);
		assert_int_equal(mpc_prg_fill(p1, buf, a), MPC_OK);
		assert_int_equal(mpc_prg_fill(p1, buf + a, LEN - a), MPC_OK);
		assert_memory_equal(ref, buf, LEN);
		mpc_prg_free(p1);
	}

	/* many small odd-sized fills, and zero-length fills in between */
	assert_int_equal(mpc_prg_new(&p1, seed_a), MPC_OK);
	size_t off = 0, step = 1;
	while (off < LEN) {
		size_t k = step < LEN - off ? step : LEN - off;
		assert_int_equal(mpc_prg_fill(p1, buf + off, 0), MPC_OK);
		assert_int_equal(mpc_prg_fill(p1, buf + off, k), MPC_OK);
		off += k;
		step = step * 3 % 37 + 1;
	}
	assert_memory_equal(ref, buf, LEN);
	assert_int_equal(mpc_prg_fill(p1, NULL, 0), MPC_OK);
	mpc_prg_free(p1);

	/* the output does not depend on what was in the buffer */
	memset(buf, 0x5a, LEN);
	assert_int_equal(mpc_prg_new(&p1, seed_a), MPC_OK);
	assert_int_equal(mpc_prg_fill(p1, buf, LEN), MPC_OK);
	assert_memory_equal(ref, buf, LEN);
	mpc_prg_free(p1);

	free(ref);
	free(buf);
}

static void test_seeds_differ(void **state) {
	(void)state;
	uint8_t s1[MPC_SEED_BYTES], s2[MPC_SEED_BYTES], x[64], y[64];
	mpc_prg *p1 = NULL, *p2 = NULL;

	assert_int_equal(mpc_seed_random(s1), MPC_OK);
	assert_int_equal(mpc_seed_random(s2), MPC_OK);
	assert_memory_not_equal(s1, s2, MPC_SEED_BYTES);

	/* seeds differing in one bit give unrelated streams */
	memcpy(s2, s1, sizeof(s1));
	s2[15] ^= 1;
	assert_int_equal(mpc_prg_new(&p1, s1), MPC_OK);
	assert_int_equal(mpc_prg_new(&p2, s2), MPC_OK);
	assert_int_equal(mpc_prg_fill(p1, x, sizeof(x)), MPC_OK);
	assert_int_equal(mpc_prg_fill(p2, y, sizeof(y)), MPC_OK);
	for (size_t b = 0; b < sizeof(x); b += 16)
		assert_memory_not_equal(x + b, y + b, 16);
	mpc_prg_free(p1);
	mpc_prg_free(p2);

	/* the seed is copied: changing the caller's copy does not matter */
	assert_int_equal(mpc_prg_new(&p1, s1), MPC_OK);
	memset(s1, 0, sizeof(s1));
	assert_int_equal(mpc_prg_fill(p1, y, sizeof(y)), MPC_OK);
	assert_memory_equal(x, y, sizeof(x));
	mpc_prg_free(p1);
}

static void test_args(void **state) {
	(void)state;
	mpc_prg *p = (mpc_prg *)&p;
	uint8_t b[4];

	mpc_prg_free(NULL);
	assert_int_equal(mpc_prg_new(&p, NULL), MPC_EINVAL);
	assert_null(p);
	assert_int_equal(mpc_prg_new(NULL, seed_a), MPC_EINVAL);
	assert_int_equal(mpc_prg_fill(NULL, b, sizeof(b)), MPC_EINVAL);
	assert_int_equal(mpc_seed_random(NULL), MPC_EINVAL);
}

int main(void) {
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_known_answer),
	    cmocka_unit_test(test_determinism_and_split),
	    cmocka_unit_test(test_seeds_differ),
	    cmocka_unit_test(test_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
