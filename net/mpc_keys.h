/* A party's long-lived key and self-signed certificate on disk
 * (DIR/key.pem, mode 0600, and DIR/cert.pem), made by `mpc-party keygen`. */
#ifndef MPC_KEYS_H
#define MPC_KEYS_H

#include <stdint.h>
#include <openssl/types.h>
#include "../runtime/mpc_err.h"

/* Make an EC P-256 key and a certificate (CN = name) valid for `days`, write
 * them atomically (the key with mode 0600), and return the certificate's
 * SHA-256 fingerprint. Refuses to replace an existing key unless force.
 * MPC_EIO naming the path, MPC_ECONFIG for an existing key. */
mpc_err mpc_keys_generate(const char *dir, const char *name, int days, int force,
			  uint8_t fp[32]) MPC_MUST_CHECK;

/* Load DIR/key.pem and DIR/cert.pem and check that they belong together and
 * that the key is not readable by others (MPC_ECONFIG otherwise, saying how
 * to fix it). Caller frees with EVP_PKEY_free and X509_free. */
mpc_err mpc_keys_load(const char *dir, EVP_PKEY **key, X509 **cert) MPC_MUST_CHECK;

#endif
