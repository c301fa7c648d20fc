/* Bristol Fashion loader and clear evaluator: malformed files rejected with
 * their line; the public circuits against C arithmetic, OpenSSL's AES-128
 * (FIPS-197 C.1) and the SHA-256 compression of "abc". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first */
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "circuits/mpc_bristol.h"
#include "tests/support/bristol_files.h"

static void bad(const char *text, const char *needle) {
	mpc_bristol *c = (mpc_bristol *)&c;
	mpc_err e = mpc_bristol_parse("t.txt", text, strlen(text), &c);
	if (e != MPC_ECONFIG || !strstr(mpc_error_detail(), needle))
		fail_msg("wanted '%s', got %d: %s", needle, e, mpc_error_detail());
	assert_null(c);
}

static void test_malformed(void **st) {
	(void)st;
	bad("", "t.txt:0: expected 'ngates nwires'");
	bad("1 3\n1 1\n1 1\n2 1 0 5 2 XOR\n", "t.txt:4: a wire number out of range");
	bad("1 3\n1 1\n1 1\n2 1 0 1 2 XOR\n", "t.txt:4: wire 1 is read before it is written");
	bad("1 3\n2 1 1\n1 1\n2 1 0 1 2 NAND\n", "t.txt:4: unknown gate 'NAND'");
	bad("2 3\n2 1 1\n1 1\n2 1 0 1 2 XOR\n2 1 0 1 2 AND\n", "t.txt:5: wire 2 is written twice");
	bad("2 3\n2 1 1\n1 1\n2 1 0 1 2 XOR\n", "the header says 2 gates, the file has 1");
	bad("1 3\n2 1 x\n1 1\n2 1 0 1 2 XOR\n", "t.txt:2: width 2 of the input values");
	bad("1 4\n2 1 1\n1 1\n2 1 0 1 2 XOR\n", "output wire 3 is never written");
	bad("1 3\n2 1 1\n1 1\n2 1 0 1 XOR\n", "t.txt:4: expected 'nin nout in... out... OP'");
}

/* EQ, EQW, INV and MAND by hand: out = (a AND b, NOT a, 1, b) */
static void test_extended(void **st) {
	const char *text = "6 10\n2 1 1\n1 4\n"
	                   "4 2 0 1 1 0 4 5 MAND\n" /* 4 = a&b, 5 = b&a */
	                   "1 1 0 7 INV\n"
	                   "1 1 1 8 EQ\n"
	                   "1 1 1 9 EQW\n"
	                   "2 1 4 5 6 XOR\n" /* 6 = 0 */
	                   "1 1 6 2 EQW\n";  /* wire 2: not an output; outputs are 6..9 */
	mpc_bristol *c;
	(void)st;
	assert_int_equal(mpc_bristol_parse("x", text, strlen(text), &c), MPC_OK);
	assert_int_equal(c->n_and, 2);
	assert_int_equal(c->depth, 1);
	for (int a = 0; a < 2; a++)
		for (int b = 0; b < 2; b++) {
			uint8_t in[2] = {(uint8_t)a, (uint8_t)b}, out[4];
			assert_int_equal(mpc_bristol_eval_clear(c, in, out), MPC_OK);
			assert_int_equal(out[0], 0);
			assert_int_equal(out[1], !a);
			assert_int_equal(out[2], 1);
			assert_int_equal(out[3], b);
		}
	mpc_bristol_free(c);
}

static mpc_bristol *load(const char *name) {
	const char *path = bristol_path(name);
	mpc_bristol *c;
	if (path == NULL)
		return NULL;
	if (mpc_bristol_load(path, &c) != MPC_OK)
		fail_msg("%s", mpc_error_detail());
	return c;
}

static uint64_t run2(const mpc_bristol *c, uint64_t a, uint64_t b, int two) {
	uint8_t in[128], out[128];
	for (int i = 0; i < 64; i++) {
		in[i] = (uint8_t)((a >> i) & 1);
		in[64 + i] = (uint8_t)((b >> i) & 1);
	}
	(void)two;
	assert_int_equal(mpc_bristol_eval_clear(c, in, out), MPC_OK);
	uint64_t v = 0;
	for (int i = 0; i < 64; i++)
		v |= (uint64_t)out[i] << i;
	return v;
}

static uint64_t rnd64(void) {
	uint64_t v;
	assert_int_equal(RAND_bytes((uint8_t *)&v, 8), 1);
	return v;
}

static void test_arith_circuits(void **st) {
	(void)st;
	mpc_bristol *add = load("adder64.txt"), *sub = load("sub64.txt"), *mul = load("mult64.txt");
	mpc_bristol *div = load("divide64.txt"), *zero = load("zero_equal.txt");
	if (!add || !sub || !mul || !div || !zero)
		skip();
	assert_int_equal(run2(add, 1, 2, 1), 3); /* the bit order */
	for (int k = 0; k < 200; k++) {
		uint64_t a = rnd64(), b = rnd64() >> (k % 60);
		assert_true(run2(add, a, b, 1) == a + b);
		assert_true(run2(sub, a, b, 1) == a - b);
		assert_true(run2(mul, a, b, 1) == a * b);
		if (b != 0 && !((int64_t)a == INT64_MIN && (int64_t)b == -1))
			assert_true((int64_t)run2(div, a, b, 1) == (int64_t)a / (int64_t)b);
		uint8_t in[64], out[1];
		uint64_t z = k % 3 == 0 ? 0 : a;
		for (int i = 0; i < 64; i++)
			in[i] = (uint8_t)((z >> i) & 1);
		assert_int_equal(mpc_bristol_eval_clear(zero, in, out), MPC_OK);
		assert_int_equal(out[0], z == 0);
	}
	mpc_bristol_free(add), mpc_bristol_free(sub), mpc_bristol_free(mul);
	mpc_bristol_free(div), mpc_bristol_free(zero);
}

static void aes_ref(const uint8_t key[16], const uint8_t pt[16], uint8_t ct[16]) {
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	int l;
	assert_int_equal(EVP_EncryptInit_ex(x, EVP_aes_128_ecb(), NULL, key, NULL), 1);
	EVP_CIPHER_CTX_set_padding(x, 0);
	assert_int_equal(EVP_EncryptUpdate(x, ct, &l, pt, 16), 1);
	EVP_CIPHER_CTX_free(x);
}

static void test_aes(void **st) {
	(void)st;
	mpc_bristol *c = load("aes_128.txt");
	if (!c)
		skip();
	/* FIPS-197 appendix C.1 */
	uint8_t key[16], pt[16], ct[16], bits[256], out[128];
	static const uint8_t want[16] = {0x69, 0xc4, 0xe0, 0xd8, 0x6a, 0x7b, 0x04, 0x30,
	                                 0xd8, 0xcd, 0xb7, 0x80, 0x70, 0xb4, 0xc5, 0x5a};
	for (int i = 0; i < 16; i++) {
		key[i] = (uint8_t)i;
		pt[i] = (uint8_t)(i * 0x11);
	}
	for (int k = 0; k < 20; k++) {
		be_to_bits(key, 16, bits);
		be_to_bits(pt, 16, bits + 128);
		assert_int_equal(mpc_bristol_eval_clear(c, bits, out), MPC_OK);
		bits_to_be(out, 16, ct);
		uint8_t ref[16];
		aes_ref(key, pt, ref);
		assert_memory_equal(ct, ref, 16);
		if (k == 0)
			assert_memory_equal(ct, want, 16);
		assert_int_equal(RAND_bytes(key, 16), 1);
		assert_int_equal(RAND_bytes(pt, 16), 1);
	}
	mpc_bristol_free(c);
}

/* One SHA-256 compression from the standard IV on the padded block of "abc"
 * gives the digest of "abc". */
static void test_sha256(void **st) {
	(void)st;
	mpc_bristol *c = load("sha256.txt");
	if (!c)
		skip();
	uint8_t block[64] = {'a', 'b', 'c', 0x80}, iv[32], bits[768], out[256], got[32];
	static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	block[63] = 24; /* length in bits */
	for (int i = 0; i < 8; i++)
		for (int b = 0; b < 4; b++)
			iv[4 * i + b] = (uint8_t)(h0[i] >> (24 - 8 * b));
	uint8_t want[32];
	unsigned wl;
	assert_int_equal(EVP_Digest("abc", 3, want, &wl, EVP_sha256(), NULL), 1);
	be_to_bits(block, 64, bits);
	be_to_bits(iv, 32, bits + 512);
	assert_int_equal(mpc_bristol_eval_clear(c, bits, out), MPC_OK);
	bits_to_be(out, 32, got);
	assert_memory_equal(got, want, 32);
	mpc_bristol_free(c);
}

int main(void) {
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_malformed),      cmocka_unit_test(test_extended),
	    cmocka_unit_test(test_arith_circuits), cmocka_unit_test(test_aes),
	    cmocka_unit_test(test_sha256),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
