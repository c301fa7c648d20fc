/* AES-128-CTR keystream through OpenSSL EVP. The key is the seed and the
 * initial counter block is zero, so the stream is AES_k(0) || AES_k(1) || ...
 * with the whole 16-byte block as a big-endian counter. EVP keeps the position
 * inside a partial block between calls, so the stream is continuous however it
 * is split into fills. */
#include "runtime/mpc_prg.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

struct mpc_prg {
	EVP_CIPHER_CTX *ctx;
};

mpc_err mpc_prg_new(mpc_prg **out, const uint8_t seed[MPC_SEED_BYTES]) {
	static const uint8_t iv[16] = {0};
	mpc_prg *prg = NULL;
	mpc_err e = MPC_OK;

	if (out)
		*out = NULL;
	if (!out || !seed)
		return mpc_error(MPC_EINVAL, "mpc_prg_new: NULL argument");
	prg = calloc(1, sizeof(*prg));
	if (!prg)
		return mpc_error(MPC_ENOMEM, "mpc_prg_new: out of memory");
	prg->ctx = EVP_CIPHER_CTX_new();
	if (!prg->ctx) {
		e = mpc_error(MPC_ENOMEM, "mpc_prg_new: EVP_CIPHER_CTX_new failed");
		goto out;
	}
	if (EVP_EncryptInit_ex(prg->ctx, EVP_aes_128_ctr(), NULL, seed, iv) != 1) {
		e = mpc_error(MPC_ECRYPTO, "mpc_prg_new: EVP_EncryptInit_ex(aes-128-ctr) failed");
		goto out;
	}
	*out = prg;
	prg = NULL;
out:
	mpc_prg_free(prg);
	return e;
}

void mpc_prg_free(mpc_prg *prg) {
	if (!prg)
		return;
	EVP_CIPHER_CTX_free(prg->ctx); /* cleanses the key schedule */
	free(prg);
}

mpc_err mpc_prg_fill(mpc_prg *prg, void *out, size_t len) {
	uint8_t *p = out;
	const size_t total = len;

	if (len == 0)
		return MPC_OK;
	if (!prg || !out)
		return mpc_error(MPC_EINVAL, "mpc_prg_fill: NULL argument");
	/* CTR mode XORs the keystream into its input: encrypting zeros yields
	 * the keystream itself (read from a constant block, so the output
	 * needs no clearing pass first) */
	static const uint8_t zeros[16384];
	while (len > 0) {
		size_t chunk = len < sizeof(zeros) ? len : sizeof(zeros);
		int outl = 0;

		if (EVP_EncryptUpdate(prg->ctx, p, &outl, zeros, (int)chunk) != 1 ||
		    (size_t)outl != chunk) {
			/* Do not hand back a half-written stream that a caller might use. */
			OPENSSL_cleanse(out, total);
			return mpc_error(MPC_ECRYPTO, "mpc_prg_fill: EVP_EncryptUpdate failed");
		}
		p += chunk;
		len -= chunk;
	}
	return MPC_OK;
}

mpc_err mpc_seed_random(uint8_t seed[MPC_SEED_BYTES]) {
	if (!seed)
		return mpc_error(MPC_EINVAL, "mpc_seed_random: NULL seed");
	if (RAND_bytes(seed, MPC_SEED_BYTES) != 1)
		return mpc_error(MPC_ECRYPTO, "mpc_seed_random: RAND_bytes failed");
	return MPC_OK;
}
