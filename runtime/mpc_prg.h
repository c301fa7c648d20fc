/* Pseudorandom generator: AES-128 in counter mode (OpenSSL EVP), keyed with a
 * 128-bit seed, counter starting at zero. Two generators with the same seed
 * produce the same stream; that is how parties derive correlated randomness
 * without talking. */
#ifndef MPC_PRG_H
#define MPC_PRG_H

#include "runtime/mpc_err.h"
#include <stddef.h>
#include <stdint.h>

#define MPC_SEED_BYTES 16

typedef struct mpc_prg mpc_prg; /* opaque */

/* New generator from a seed (copied; the caller wipes its own copy).
 * MPC_ENOMEM, MPC_ECRYPTO. Caller frees with mpc_prg_free. */
mpc_err mpc_prg_new(mpc_prg **out, const uint8_t seed[MPC_SEED_BYTES]) MPC_MUST_CHECK;
/* Wipe the key schedule and free; NULL does nothing. */
void mpc_prg_free(mpc_prg *prg);
/* Write the next len bytes of the stream to out. MPC_ECRYPTO. */
mpc_err mpc_prg_fill(mpc_prg *prg, void *out, size_t len) MPC_MUST_CHECK;
/* Fresh seed from the operating system's generator (RAND_bytes). MPC_ECRYPTO. */
mpc_err mpc_seed_random(uint8_t seed[MPC_SEED_BYTES]) MPC_MUST_CHECK;

#endif
