/* A node's long-lived key and self-signed certificate on disk (DIR/key.pem,
 * mode 0600, and DIR/cert.pem, 0644), made by `mpc-party keygen`, and the
 * text form of certificate fingerprints. Hashing and printing a fingerprint:
 * mpc_tls_fingerprint and mpc_tls_fingerprint_format (mpc_tls.h). */
#ifndef MPC_KEYS_H
#define MPC_KEYS_H

#include "runtime/mpc_err.h"
#include <openssl/types.h>
#include <stdint.h>

#define MPC_KEYS_DEFAULT_DAYS 3650

/* Make an EC P-256 key and a self-signed X.509 v3 certificate (CN = name:
 * 1 to 64 printable ASCII characters; random serial; valid from an hour ago
 * for `days` days, 1..36500, 0 meaning MPC_KEYS_DEFAULT_DAYS; SHA-256;
 * basicConstraints CA:FALSE), write DIR/key.pem (0600) and DIR/cert.pem
 * (0644), each through a synced temporary file renamed into place, and
 * return the certificate's SHA-256 fingerprint. DIR is created (0700) if it
 * does not exist. Refuses to replace an existing key.pem unless force (also
 * when another process creates one meanwhile). MPC_ECONFIG for a bad
 * argument or an existing key (saying --force), MPC_EIO naming the path,
 * MPC_ECRYPTO. */
mpc_err mpc_keys_generate(const char *dir, const char *name, int days, int force,
                          uint8_t fp[32]) MPC_MUST_CHECK;

/* Load DIR/key.pem and DIR/cert.pem. Refuses (MPC_ECONFIG, saying how to fix
 * it) a key file that is not a regular file or that its group or others may
 * read or write (like ssh), a file that is not PEM, and a key that does not
 * match the certificate; MPC_EIO if a file cannot be read. A certificate
 * outside its validity period is only a warning in the log: peers pin the
 * fingerprint, not the dates. Caller frees with EVP_PKEY_free and X509_free;
 * on error both are NULL. */
mpc_err mpc_keys_load(const char *dir, EVP_PKEY **key, X509 **cert) MPC_MUST_CHECK;

/* Parse a SHA-256 fingerprint: 64 hex digits, any case, either without
 * colons or with one between every pair, optionally after "sha256:" or
 * OpenSSL's "sha256 Fingerprint=" (any case). MPC_ECONFIG with what was
 * expected (no file name: callers add where). */
mpc_err mpc_fingerprint_parse(const char *s, uint8_t fp[32]) MPC_MUST_CHECK;

#endif
