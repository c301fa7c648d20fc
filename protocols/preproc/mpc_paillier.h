/* Paillier encryption with libgmp, for the Paillier preprocessing engine
 * (mpc_cross_paillier.c).
 *
 * Keys: N = pq with p, q random primes of equal size (modulus_bits >= 2048,
 * default 2048), g = N + 1, so Enc(m) = (1 + mN) * s mod N^2 with s a random
 * N-th residue. Decryption uses CRT (mod p^2 and q^2).
 *
 * Randomness: s = h^a mod N^2, with h = (y^2)^N mod N^2 (y a random unit)
 * published with the key and a a fresh random exponent of
 * MPC_PAILLIER_ALPHA_BITS bits, the low one forced to 1 (the
 * Damgard-Jurik-Nielsen variant; its security rests on the assumption that
 * such short exponents give N-th residues indistinguishable from uniform
 * ones, as in DJN10 section 4). It makes an encryption a 512-bit
 * exponentiation instead of a 2048-bit one.
 *
 * Constant time: exponentiations with secret exponents or bases (decryption,
 * the randomness a, the sender's multiplier y) use mpz_powm_sec; the
 * squarings that pack slots use mpz_powm with the public exponent 2^w.
 * Additions and multiplications of secret values by GMP's mpz functions are
 * not constant-time in the size of their operands. */
#ifndef MPC_PAILLIER_H
#define MPC_PAILLIER_H

#include "runtime/mpc_err.h"
#include <gmp.h>
#include <stddef.h>
#include <stdint.h>

#define MPC_PAILLIER_ALPHA_BITS 512

typedef struct {
	unsigned bits; /* of N */
	mpz_t n, n2, h;
} mpc_paillier_pub;

typedef struct {
	mpc_paillier_pub pub;
	mpz_t p, q, p2, q2, hp, hq, pinv_q, p2inv_q2; /* CRT data */
	mpz_t h_p2, h_q2;                             /* h mod p^2, q^2 */
	mpz_t pm1, qm1;
} mpc_paillier_key;

mpc_err mpc_paillier_keygen(mpc_paillier_key *k, unsigned modulus_bits) MPC_MUST_CHECK;
void mpc_paillier_key_clear(mpc_paillier_key *k);
void mpc_paillier_pub_clear(mpc_paillier_pub *pk);

/* Public key as bytes: N then h, each 2*bits/8 bytes big-endian (N padded). */
size_t mpc_paillier_pub_bytes(unsigned bits);
void mpc_paillier_pub_export(const mpc_paillier_pub *pk, uint8_t *out);
/* Import (bits known from the job); MPC_EPROTO on a malformed key. */
mpc_err mpc_paillier_pub_import(mpc_paillier_pub *pk, unsigned bits,
                                const uint8_t *in) MPC_MUST_CHECK;

/* Ciphertexts: 2*bits/8 bytes big-endian. */
size_t mpc_paillier_ct_bytes(unsigned bits);
void mpc_paillier_ct_export(const mpc_paillier_pub *pk, const mpz_t c, uint8_t *out);
/* MPC_EPROTO unless 0 < c < N^2 and gcd(c, N) = 1. */
mpc_err mpc_paillier_ct_import(const mpc_paillier_pub *pk, mpz_t c,
                               const uint8_t *in) MPC_MUST_CHECK;

/* c = Enc(m), 0 <= m < N, with the public key only. */
mpc_err mpc_paillier_encrypt(const mpc_paillier_pub *pk, mpz_t c, const mpz_t m) MPC_MUST_CHECK;
/* The same, faster, by the key's owner (CRT). */
mpc_err mpc_paillier_encrypt_own(const mpc_paillier_key *k, mpz_t c, const mpz_t m) MPC_MUST_CHECK;
void mpc_paillier_decrypt(const mpc_paillier_key *k, mpz_t m, const mpz_t c);

/* x = a uniformly random number below 2^bits (bits <= 8192). */
mpc_err mpc_paillier_random_bits(mpz_t x, unsigned bits) MPC_MUST_CHECK;

/* Overwrite an mpz's limbs with zeros (then it is 0). */
void mpc_mpz_wipe(mpz_t x);

#endif
