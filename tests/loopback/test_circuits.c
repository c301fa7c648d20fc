/* Bristol circuits under XOR sharing, 2 and 3 real processes, bit triples
 * from OT: adder64, sub64 and mult64 against C arithmetic, aes_128 against
 * OpenSSL with the key from one party and the blocks from another,
 * sha256 with the block and the chaining value from different parties. */
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

#include "circuits/eval/mpc_bool_eval.h"
#include "tests/support/bristol_files.h"
#include "tests/support/mpc_local.h"

#define MAX_BATCH 256

static struct {
	mpc_bristol *c;
	size_t batch;
	int owner[4];
	/* per input value: width wires x W words (wire-major) */
	uint64_t *in[4];
} job;

static size_t words(void) {
	return (job.batch + 63) / 64;
}

static mpc_err body(mpc_party *p, void *arg) {
	int me = mpc_party_id(p);
	const uint64_t *in[4];
	uint64_t *out[4] = {0};
	size_t W = words();
	mpc_err err;
	(void)arg;
	for (uint32_t v = 0; v < job.c->n_in; v++)
		in[v] = job.owner[v] == me ? job.in[v] : NULL; /* only the owner reads it */
	for (uint32_t v = 0; v < job.c->n_out; v++)
		if ((out[v] = calloc((size_t)job.c->out_width[v] * W, 8)) == NULL)
			return mpc_error(MPC_ENOMEM, "out of memory");
	uint64_t r0 = mpc_net_rounds(mpc_party_net(p));
	err = mpc_bool_run(p, job.c, job.batch, job.owner, in, out);
	/* rounds: one per AND layer, one to open, plus the preprocessing's */
	if (err == MPC_OK && mpc_net_rounds(mpc_party_net(p)) - r0 < job.c->depth + 1)
		err = mpc_error(MPC_ECHEAT, "too few rounds");
	for (uint32_t v = 0; v < job.c->n_out && err == MPC_OK; v++)
		err = mpc_local_emit(out[v], (size_t)job.c->out_width[v] * W * 8);
	for (uint32_t v = 0; v < job.c->n_out; v++)
		free(out[v]);
	return err;
}

/* Bit `wire` of instance i in a wire-major value. */
static int bit_at(const uint64_t *val, size_t wire, size_t i) {
	return (int)((val[wire * words() + i / 64] >> (i % 64)) & 1);
}

static void set_bit(uint64_t *val, size_t wire, size_t i, int b) {
	if (b)
		val[wire * words() + i / 64] |= 1ull << (i % 64);
}

/* Run the job on n parties; out gets output value 0 (as every party sees it). */
static uint64_t *run(int parties) {
	mpc_local_result res[4];
	mpc_local_config cfg = {.n_parties = parties, .use_tcp = 1, .gen = "ot", .watchdog_s = 120};
	assert_int_equal(mpc_local_run(&cfg, body, NULL, res), MPC_OK);
	for (int i = 0; i < parties; i++)
		if (res[i].err != MPC_OK)
			fail_msg("party %d: %s", i, res[i].detail);
	size_t bytes = (size_t)job.c->out_width[0] * words() * 8;
	for (int i = 1; i < parties; i++)
		assert_memory_equal(res[i].out, res[0].out, res[0].out_len);
	assert_true(res[0].out_len >= bytes);
	uint64_t *o = malloc(bytes);
	memcpy(o, res[0].out, bytes);
	mpc_local_results_fini(res, parties);
	return o;
}

static void set_values(size_t batch) {
	job.batch = batch;
	for (uint32_t v = 0; v < job.c->n_in; v++) {
		free(job.in[v]);
		job.in[v] = calloc((size_t)job.c->in_width[v] * words(), 8);
	}
}

static uint64_t value64(const uint64_t *val, size_t i) {
	uint64_t x = 0;
	for (int b = 0; b < 64; b++)
		x |= (uint64_t)bit_at(val, (size_t)b, i) << b;
	return x;
}

static void check_arith(const char *name, int parties) {
	const char *path = bristol_path(name);
	if (path == NULL)
		skip();
	assert_int_equal(mpc_bristol_load(path, &job.c), MPC_OK);
	set_values(150);
	job.owner[0] = 0;
	job.owner[1] = parties - 1; /* a from the first party, b from the last */
	uint64_t a[MAX_BATCH], b[MAX_BATCH];
	assert_int_equal(RAND_bytes((uint8_t *)a, sizeof(a)), 1);
	assert_int_equal(RAND_bytes((uint8_t *)b, sizeof(b)), 1);
	a[0] = 1, b[0] = 2;
	for (size_t i = 0; i < job.batch; i++)
		for (int k = 0; k < 64; k++) {
			set_bit(job.in[0], (size_t)k, i, (int)((a[i] >> k) & 1));
			set_bit(job.in[1], (size_t)k, i, (int)((b[i] >> k) & 1));
		}
	uint64_t *o = run(parties);
	for (size_t i = 0; i < job.batch; i++) {
		uint64_t want = !strcmp(name, "adder64.txt") ? a[i] + b[i]
		                : !strcmp(name, "sub64.txt") ? a[i] - b[i]
		                                             : a[i] * b[i];
		assert_true(value64(o, i) == want);
	}
	free(o);
	mpc_bristol_free(job.c);
}

static void test_adder(void **s) {
	(void)s;
	check_arith("adder64.txt", 2);
	check_arith("adder64.txt", 3);
}
static void test_sub(void **s) {
	(void)s;
	check_arith("sub64.txt", 3);
}
static void test_mult(void **s) {
	(void)s;
	check_arith("mult64.txt", 2);
	check_arith("mult64.txt", 3);
}

static void check_aes(int parties) {
	const char *path = bristol_path("aes_128.txt");
	if (path == NULL)
		skip();
	assert_int_equal(mpc_bristol_load(path, &job.c), MPC_OK);
	set_values(100);
	job.owner[0] = 0;           /* the key */
	job.owner[1] = parties - 1; /* the blocks */
	uint8_t key[16], pt[MAX_BATCH][16], bits[128];
	for (int i = 0; i < 16; i++) {
		key[i] = (uint8_t)i;
		pt[0][i] = (uint8_t)(i * 0x11); /* FIPS-197 C.1 in instance 0 */
	}
	assert_int_equal(RAND_bytes(pt[1], (int)(sizeof(pt) - 16)), 1);
	/* one key for every instance: the key owner's value repeated */
	be_to_bits(key, 16, bits);
	for (size_t i = 0; i < job.batch; i++)
		for (int k = 0; k < 128; k++)
			set_bit(job.in[0], (size_t)k, i, bits[k]);
	for (size_t i = 0; i < job.batch; i++) {
		be_to_bits(pt[i], 16, bits);
		for (int k = 0; k < 128; k++)
			set_bit(job.in[1], (size_t)k, i, bits[k]);
	}
	uint64_t *o = run(parties);
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	int l;
	assert_int_equal(EVP_EncryptInit_ex(x, EVP_aes_128_ecb(), NULL, key, NULL), 1);
	EVP_CIPHER_CTX_set_padding(x, 0);
	for (size_t i = 0; i < job.batch; i++) {
		uint8_t want[16], got[16];
		assert_int_equal(EVP_EncryptUpdate(x, want, &l, pt[i], 16), 1);
		for (int k = 0; k < 128; k++)
			bits[k] = (uint8_t)bit_at(o, (size_t)k, i);
		bits_to_be(bits, 16, got);
		assert_memory_equal(got, want, 16);
	}
	EVP_CIPHER_CTX_free(x);
	free(o);
	mpc_bristol_free(job.c);
}

static void test_aes_2(void **s) {
	(void)s;
	check_aes(2);
}
static void test_aes_3(void **s) {
	(void)s;
	check_aes(3);
}

static void test_sha256(void **s) {
	(void)s;
	const char *path = bristol_path("sha256.txt");
	if (path == NULL)
		skip();
	assert_int_equal(mpc_bristol_load(path, &job.c), MPC_OK);
	set_values(8);
	job.owner[0] = 1; /* the block */
	job.owner[1] = 0; /* the chaining value */
	uint8_t block[64] = {'a', 'b', 'c', 0x80}, iv[32], bits[512], want[32], got[32];
	static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	unsigned wl;
	block[63] = 24;
	for (int i = 0; i < 8; i++)
		for (int b = 0; b < 4; b++)
			iv[4 * i + b] = (uint8_t)(h0[i] >> (24 - 8 * b));
	be_to_bits(block, 64, bits);
	for (size_t i = 0; i < job.batch; i++)
		for (int k = 0; k < 512; k++)
			set_bit(job.in[0], (size_t)k, i, bits[k]);
	be_to_bits(iv, 32, bits);
	for (size_t i = 0; i < job.batch; i++)
		for (int k = 0; k < 256; k++)
			set_bit(job.in[1], (size_t)k, i, bits[k]);
	uint64_t *o = run(3);
	assert_int_equal(EVP_Digest("abc", 3, want, &wl, EVP_sha256(), NULL), 1);
	for (size_t i = 0; i < job.batch; i++) {
		for (int k = 0; k < 256; k++)
			bits[k] = (uint8_t)bit_at(o, (size_t)k, i);
		bits_to_be(bits, 32, got);
		assert_memory_equal(got, want, 32);
	}
	free(o);
	mpc_bristol_free(job.c);
}

int main(void) {
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_adder), cmocka_unit_test(test_sub),
	    cmocka_unit_test(test_mult),  cmocka_unit_test(test_aes_2),
	    cmocka_unit_test(test_aes_3), cmocka_unit_test(test_sha256),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	for (int v = 0; v < 4; v++)
		free(job.in[v]);
	return failed;
}
