/* Paillier: round trips (0, 1, N-1), the homomorphisms the engine uses,
 * encryption by the owner (CRT) equal in law to public encryption, import
 * refusing malformed keys and ciphertexts, and the engine's masks: 80
 * statistical bits, with the fullest packing of the largest x y + mask still
 * below N and free of carries between slots. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first */
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "protocols/preproc/mpc_cross.h"
#include "protocols/preproc/mpc_paillier.h"

static mpc_paillier_key key;

static int setup(void **st) {
	(void)st;
	return mpc_paillier_keygen(&key, 2048) == MPC_OK ? 0 : -1;
}

static int teardown(void **st) {
	(void)st;
	mpc_paillier_key_clear(&key);
	return 0;
}

static void roundtrip(const mpz_t m, int own) {
	mpz_t c, d;
	mpz_inits(c, d, NULL);
	if (own)
		assert_int_equal(mpc_paillier_encrypt_own(&key, c, m), MPC_OK);
	else
		assert_int_equal(mpc_paillier_encrypt(&key.pub, c, m), MPC_OK);
	assert_true(mpz_cmp(c, key.pub.n2) < 0 && mpz_sgn(c) > 0);
	mpc_paillier_decrypt(&key, d, c);
	assert_int_equal(mpz_cmp(d, m), 0);
	mpz_clears(c, d, NULL);
}

static void test_roundtrip(void **st) {
	mpz_t m;
	(void)st;
	mpz_init(m);
	for (int own = 0; own < 2; own++) {
		mpz_set_ui(m, 0);
		roundtrip(m, own);
		mpz_set_ui(m, 1);
		roundtrip(m, own);
		mpz_sub_ui(m, key.pub.n, 1);
		roundtrip(m, own);
		for (int i = 0; i < 5; i++) {
			assert_int_equal(mpc_paillier_random_bits(m, 2047), MPC_OK);
			roundtrip(m, own);
		}
	}
	/* two encryptions of the same value differ */
	mpz_t c1, c2;
	mpz_inits(c1, c2, NULL);
	mpz_set_ui(m, 42);
	assert_int_equal(mpc_paillier_encrypt(&key.pub, c1, m), MPC_OK);
	assert_int_equal(mpc_paillier_encrypt(&key.pub, c2, m), MPC_OK);
	assert_int_not_equal(mpz_cmp(c1, c2), 0);
	mpz_clears(c1, c2, m, NULL);
}

/* Enc(a)^y * Enc(b) decrypts to a*y + b mod N, and slot packing: the
 * product of Enc(x_e 2^(w e))^(y_e) holds x_e y_e in slot e. */
static void test_homomorphic(void **st) {
	mpz_t a, b, y, ca, cb, d, want, t;
	(void)st;
	mpz_inits(a, b, y, ca, cb, d, want, t, NULL);
	unsigned w = 169;
	mpz_set_ui(want, 0);
	mpz_set_ui(d, 1);
	for (unsigned e = 0; e < 12; e++) {
		assert_int_equal(mpc_paillier_random_bits(a, 64), MPC_OK);
		assert_int_equal(mpc_paillier_random_bits(y, 64), MPC_OK);
		mpz_mul_2exp(t, a, w * e);
		assert_int_equal(mpc_paillier_encrypt_own(&key, ca, t), MPC_OK);
		mpz_powm(ca, ca, y, key.pub.n2);
		mpz_mul(d, d, ca);
		mpz_mod(d, d, key.pub.n2);
		mpz_mul(t, t, y);
		mpz_add(want, want, t);
	}
	assert_int_equal(mpc_paillier_random_bits(b, 2000), MPC_OK);
	assert_int_equal(mpc_paillier_encrypt(&key.pub, cb, b), MPC_OK);
	mpz_mul(d, d, cb);
	mpz_mod(d, d, key.pub.n2);
	mpz_add(want, want, b);
	mpz_mod(want, want, key.pub.n);
	mpc_paillier_decrypt(&key, t, d);
	assert_int_equal(mpz_cmp(t, want), 0);
	mpz_clears(a, b, y, ca, cb, d, want, t, NULL);
}

static void test_import(void **st) {
	size_t pb = mpc_paillier_pub_bytes(2048), cb = mpc_paillier_ct_bytes(2048);
	uint8_t *buf = malloc(pb), *ct = malloc(cb);
	mpc_paillier_pub pk;
	mpz_t c;
	(void)st;
	mpz_init(c);
	mpc_paillier_pub_export(&key.pub, buf);
	assert_int_equal(mpc_paillier_pub_import(&pk, 2048, buf), MPC_OK);
	assert_int_equal(mpz_cmp(pk.n, key.pub.n), 0);
	assert_int_equal(mpz_cmp(pk.h, key.pub.h), 0);
	/* the ciphertext round trip through bytes, and its range checks */
	mpz_set_ui(c, 7);
	assert_int_equal(mpc_paillier_encrypt(&pk, c, c), MPC_OK);
	mpc_paillier_ct_export(&pk, c, ct);
	mpz_t c2;
	mpz_init(c2);
	assert_int_equal(mpc_paillier_ct_import(&pk, c2, ct), MPC_OK);
	assert_int_equal(mpz_cmp(c, c2), 0);
	memset(ct, 0, cb);
	assert_int_equal(mpc_paillier_ct_import(&pk, c2, ct), MPC_EPROTO); /* zero */
	memset(ct, 0xff, cb);
	assert_int_equal(mpc_paillier_ct_import(&pk, c2, ct), MPC_EPROTO); /* >= N^2 */
	mpc_paillier_ct_export(&pk, pk.n, ct);
	assert_int_equal(mpc_paillier_ct_import(&pk, c2, ct), MPC_EPROTO); /* not invertible */
	mpc_paillier_pub_clear(&pk);
	/* a key with an even or short modulus */
	buf[cb - 1] &= 0xfe;
	assert_int_equal(mpc_paillier_pub_import(&pk, 2048, buf), MPC_EPROTO);
	memset(buf, 0, cb / 2);
	assert_int_equal(mpc_paillier_pub_import(&pk, 2048, buf), MPC_EPROTO);
	mpz_clears(c, c2, NULL);
	free(buf);
	free(ct);
}

/* The cross-product engine's slot count at 2048 bits: with slots of
 * xbits + k + sigma + 1 bits, each of which holds the largest x y + rho
 * (x < 2^xbits, y < 2^k, rho < 2^(xbits + k + sigma)), the packed plaintext
 * of that many slots stays below N and survives encryption. The packing
 * itself is the test's: mpc_cross_paillier_slots is the engine's only part
 * here. */
static void test_mask_width(void **st) {
	static const struct {
		mpc_ring r;
		unsigned xbits, slots;
	} cases[] = {{MPC_Z64, 64, 9}, {MPC_Z64, 1, 14}, {MPC_Z128, 128, 6}, {MPC_Z128, 1, 9}};
	mpz_t v, t, packed, c, d;
	(void)st;
	assert_true(MPC_CROSS_PAILLIER_SIGMA >= 80);
	mpz_inits(v, t, packed, c, d, NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned K = mpc_ring_bits(cases[i].r), xb = cases[i].xbits;
		unsigned w = xb + K + MPC_CROSS_PAILLIER_SIGMA + 1;
		unsigned s = mpc_cross_paillier_slots(2048, cases[i].r, xb);
		assert_int_equal(s, cases[i].slots);
		/* v = (2^xb - 1)(2^K - 1) + 2^(xb + K + sigma) - 1 < 2^w */
		mpz_set_ui(v, 1);
		mpz_mul_2exp(v, v, xb);
		mpz_sub_ui(v, v, 1);
		mpz_set_ui(t, 1);
		mpz_mul_2exp(t, t, K);
		mpz_sub_ui(t, t, 1);
		mpz_mul(v, v, t);
		mpz_set_ui(t, 1);
		mpz_mul_2exp(t, t, xb + K + MPC_CROSS_PAILLIER_SIGMA);
		mpz_sub_ui(t, t, 1);
		mpz_add(v, v, t);
		mpz_set_ui(packed, 0);
		for (unsigned e = 0; e < s; e++) {
			mpz_mul_2exp(t, v, (mp_bitcnt_t)w * e);
			mpz_add(packed, packed, t);
		}
		assert_true(mpz_cmp(packed, key.pub.n) < 0);
		assert_int_equal(mpc_paillier_encrypt(&key.pub, c, packed), MPC_OK);
		mpc_paillier_decrypt(&key, d, c);
		assert_int_equal(mpz_cmp(d, packed), 0);
		/* x wider than the ring, or no ring: nothing fits */
		assert_int_equal(mpc_cross_paillier_slots(2048, cases[i].r, K + 1), 0);
	}
	assert_int_equal(mpc_cross_paillier_slots(2048, (mpc_ring)99, 1), 0);
	mpz_clears(v, t, packed, c, d, NULL);
}

static void test_keygen_args(void **st) {
	mpc_paillier_key k;
	(void)st;
	assert_int_equal(mpc_paillier_keygen(&k, 1024), MPC_EINVAL);
	assert_int_equal(mpc_paillier_keygen(&k, 2050), MPC_EINVAL);
}

int main(void) {
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip),   cmocka_unit_test(test_homomorphic),
	    cmocka_unit_test(test_import),      cmocka_unit_test(test_mask_width),
	    cmocka_unit_test(test_keygen_args),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
