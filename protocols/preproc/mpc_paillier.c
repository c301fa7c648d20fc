/* Paillier with libgmp (see mpc_paillier.h). */
#include "protocols/preproc/mpc_paillier.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "runtime/mpc_wipe.h"

void mpc_mpz_wipe(mpz_t x) {
	size_t n = mpz_size(x);
	if (n > 0)
		mpc_wipe(mpz_limbs_modify(x, (mp_size_t)n), n * sizeof(mp_limb_t));
	mpz_set_ui(x, 0);
}

/* x = a uniformly random number of `bits` bits (top bit not forced). */
mpc_err mpc_paillier_random_bits(mpz_t x, unsigned bits) {
	size_t len = (bits + 7) / 8;
	uint8_t buf[1024];
	if (len > sizeof(buf) || RAND_bytes(buf, (int)len) != 1)
		return mpc_error(MPC_ECRYPTO, "Paillier: RAND_bytes failed");
	if (bits % 8)
		buf[0] &= (uint8_t)((1u << (bits % 8)) - 1);
	mpz_import(x, len, 1, 1, 1, 0, buf);
	mpc_wipe(buf, len);
	return MPC_OK;
}

static mpc_err random_prime(mpz_t p, unsigned bits) {
	for (int tries = 0; tries < 1000; tries++) {
		mpc_err err = mpc_paillier_random_bits(p, bits);
		if (err != MPC_OK)
			return err;
		mpz_setbit(p, bits - 1);
		mpz_setbit(p, bits - 2); /* so that pq has exactly 2*bits bits */
		mpz_nextprime(p, p);
		if (mpz_sizeinbase(p, 2) == bits && mpz_probab_prime_p(p, 40) > 0)
			return MPC_OK;
	}
	return mpc_error(MPC_ECRYPTO, "Paillier: no prime found");
}

static void init_key(mpc_paillier_key *k) {
	mpz_inits(k->pub.n, k->pub.n2, k->pub.h, k->p, k->q, k->p2, k->q2, k->hp, k->hq, k->pinv_q,
	          k->p2inv_q2, k->h_p2, k->h_q2, k->pm1, k->qm1, NULL);
}

void mpc_paillier_key_clear(mpc_paillier_key *k) {
	mpz_ptr secret[] = {k->p,      k->q,        k->p2,   k->q2,   k->hp,  k->hq,
	                    k->pinv_q, k->p2inv_q2, k->h_p2, k->h_q2, k->pm1, k->qm1};
	for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++) {
		mpc_mpz_wipe(secret[i]);
		mpz_clear(secret[i]);
	}
	mpc_paillier_pub_clear(&k->pub);
}

void mpc_paillier_pub_clear(mpc_paillier_pub *pk) {
	mpz_clears(pk->n, pk->n2, pk->h, NULL);
}

mpc_err mpc_paillier_keygen(mpc_paillier_key *k, unsigned bits) {
	mpz_t y, t;
	mpc_err err;

	if (bits < 2048 || bits % 64 != 0 || bits > 8192)
		return mpc_error(MPC_EINVAL,
		                 "Paillier: modulus of %u bits (2048..8192, a multiple "
		                 "of 64)",
		                 bits);
	init_key(k);
	k->pub.bits = bits;
	mpz_inits(y, t, NULL);
	do {
		if ((err = random_prime(k->p, bits / 2)) != MPC_OK ||
		    (err = random_prime(k->q, bits / 2)) != MPC_OK)
			goto out;
	} while (mpz_cmp(k->p, k->q) == 0);
	mpz_mul(k->pub.n, k->p, k->q);
	mpz_mul(k->pub.n2, k->pub.n, k->pub.n);
	mpz_mul(k->p2, k->p, k->p);
	mpz_mul(k->q2, k->q, k->q);
	mpz_sub_ui(k->pm1, k->p, 1);
	mpz_sub_ui(k->qm1, k->q, 1);
	/* hp = L_p(g^(p-1) mod p^2)^-1 mod p, g = N + 1: g^(p-1) = 1 + (p-1)N mod p^2 */
	mpz_mul(t, k->pm1, k->pub.n);
	mpz_mod(t, t, k->p2);
	mpz_divexact(t, t, k->p);
	mpz_invert(k->hp, t, k->p);
	mpz_mul(t, k->qm1, k->pub.n);
	mpz_mod(t, t, k->q2);
	mpz_divexact(t, t, k->q);
	mpz_invert(k->hq, t, k->q);
	mpz_invert(k->pinv_q, k->p, k->q);
	mpz_invert(k->p2inv_q2, k->p2, k->q2);
	/* h = (y^2)^N mod N^2: a random N-th residue that is a square */
	do {
		if ((err = mpc_paillier_random_bits(y, bits)) != MPC_OK)
			goto out;
		mpz_gcd(t, y, k->pub.n);
	} while (mpz_cmp_ui(y, 1) <= 0 || mpz_cmp_ui(t, 1) != 0);
	mpz_mul(y, y, y);
	mpz_powm(k->pub.h, y, k->pub.n, k->pub.n2);
	mpz_mod(k->h_p2, k->pub.h, k->p2);
	mpz_mod(k->h_q2, k->pub.h, k->q2);
	err = MPC_OK;
out:
	mpc_mpz_wipe(y);
	mpz_clears(y, t, NULL);
	if (err != MPC_OK)
		mpc_paillier_key_clear(k);
	return err;
}

size_t mpc_paillier_ct_bytes(unsigned bits) {
	return 2 * (size_t)bits / 8;
}
size_t mpc_paillier_pub_bytes(unsigned bits) {
	return 2 * mpc_paillier_ct_bytes(bits);
}

static void export_fixed(const mpz_t x, uint8_t *out, size_t len) {
	size_t n = (mpz_sizeinbase(x, 2) + 7) / 8, w = 0;
	memset(out, 0, len);
	if (mpz_sgn(x) != 0 && n <= len)
		mpz_export(out + (len - n), &w, 1, 1, 1, 0, x);
}

void mpc_paillier_pub_export(const mpc_paillier_pub *pk, uint8_t *out) {
	size_t cl = mpc_paillier_ct_bytes(pk->bits);
	export_fixed(pk->n, out, cl);
	export_fixed(pk->h, out + cl, cl);
}

mpc_err mpc_paillier_pub_import(mpc_paillier_pub *pk, unsigned bits, const uint8_t *in) {
	size_t cl = mpc_paillier_ct_bytes(bits);
	mpz_inits(pk->n, pk->n2, pk->h, NULL);
	pk->bits = bits;
	mpz_import(pk->n, cl, 1, 1, 1, 0, in);
	mpz_import(pk->h, cl, 1, 1, 1, 0, in + cl);
	mpz_mul(pk->n2, pk->n, pk->n);
	if (mpz_sizeinbase(pk->n, 2) != bits || mpz_even_p(pk->n) || mpz_sgn(pk->h) <= 0 ||
	    mpz_cmp(pk->h, pk->n2) >= 0) {
		mpc_paillier_pub_clear(pk);
		return mpc_error(MPC_EPROTO,
		                 "malformed Paillier public key (modulus of %zu bits, "
		                 "expected %u)",
		                 mpz_sizeinbase(pk->n, 2), bits);
	}
	return MPC_OK;
}

void mpc_paillier_ct_export(const mpc_paillier_pub *pk, const mpz_t c, uint8_t *out) {
	export_fixed(c, out, mpc_paillier_ct_bytes(pk->bits));
}

mpc_err mpc_paillier_ct_import(const mpc_paillier_pub *pk, mpz_t c, const uint8_t *in) {
	mpz_t g;
	mpz_import(c, mpc_paillier_ct_bytes(pk->bits), 1, 1, 1, 0, in);
	if (mpz_sgn(c) <= 0 || mpz_cmp(c, pk->n2) >= 0)
		return mpc_error(MPC_EPROTO, "a Paillier ciphertext out of range");
	mpz_init(g);
	mpz_gcd(g, c, pk->n);
	int ok = mpz_cmp_ui(g, 1) == 0;
	mpz_clear(g);
	return ok ? MPC_OK : mpc_error(MPC_EPROTO, "a Paillier ciphertext not invertible mod N");
}

mpc_err mpc_paillier_encrypt(const mpc_paillier_pub *pk, mpz_t c, const mpz_t m) {
	mpz_t a, s;
	mpc_err err;
	mpz_inits(a, s, NULL);
	if ((err = mpc_paillier_random_bits(a, MPC_PAILLIER_ALPHA_BITS)) == MPC_OK) {
		mpz_setbit(a, 0); /* powm_sec wants a positive exponent */
		mpz_powm_sec(s, pk->h, a, pk->n2);
		/* (1 + mN) s */
		mpz_mul(c, m, pk->n);
		mpz_add_ui(c, c, 1);
		mpz_mul(c, c, s);
		mpz_mod(c, c, pk->n2);
	}
	mpc_mpz_wipe(a);
	mpc_mpz_wipe(s);
	mpz_clears(a, s, NULL);
	return err;
}

mpc_err mpc_paillier_encrypt_own(const mpc_paillier_key *k, mpz_t c, const mpz_t m) {
	mpz_t a, cp, cq, t;
	mpc_err err;
	mpz_inits(a, cp, cq, t, NULL);
	if ((err = mpc_paillier_random_bits(a, MPC_PAILLIER_ALPHA_BITS)) == MPC_OK) {
		mpz_setbit(a, 0);
		/* mod p^2 and q^2, then CRT */
		mpz_mul(t, m, k->pub.n);
		mpz_add_ui(t, t, 1);
		mpz_powm_sec(cp, k->h_p2, a, k->p2);
		mpz_mul(cp, cp, t);
		mpz_mod(cp, cp, k->p2);
		mpz_powm_sec(cq, k->h_q2, a, k->q2);
		mpz_mul(cq, cq, t);
		mpz_mod(cq, cq, k->q2);
		/* c = cp + p^2 ((cq - cp) (p^2)^-1 mod q^2) */
		mpz_sub(t, cq, cp);
		mpz_mul(t, t, k->p2inv_q2);
		mpz_mod(t, t, k->q2);
		mpz_mul(t, t, k->p2);
		mpz_add(c, cp, t);
	}
	mpc_mpz_wipe(a);
	mpz_clears(a, cp, cq, t, NULL);
	return err;
}

void mpc_paillier_decrypt(const mpc_paillier_key *k, mpz_t m, const mpz_t c) {
	mpz_t mp, mq, t;
	mpz_inits(mp, mq, t, NULL);
	/* m_p = L_p(c^(p-1) mod p^2) hp mod p */
	mpz_mod(t, c, k->p2);
	mpz_powm_sec(t, t, k->pm1, k->p2);
	mpz_sub_ui(t, t, 1);
	mpz_divexact(t, t, k->p);
	mpz_mul(t, t, k->hp);
	mpz_mod(mp, t, k->p);
	mpz_mod(t, c, k->q2);
	mpz_powm_sec(t, t, k->qm1, k->q2);
	mpz_sub_ui(t, t, 1);
	mpz_divexact(t, t, k->q);
	mpz_mul(t, t, k->hq);
	mpz_mod(mq, t, k->q);
	/* m = mp + p ((mq - mp) p^-1 mod q) */
	mpz_sub(t, mq, mp);
	mpz_mul(t, t, k->pinv_q);
	mpz_mod(t, t, k->q);
	mpz_mul(t, t, k->p);
	mpz_add(m, mp, t);
	mpc_mpz_wipe(mp);
	mpc_mpz_wipe(mq);
	mpc_mpz_wipe(t);
	mpz_clears(mp, mq, t, NULL);
}
